//! The melody models shipped in `assets/models/musicvae/`, inside the binary: no path to find,
//! no download. `scripts/train_musicvae.sh` trains and evaluates them.

use burn::tensor::Device;

use super::melody_model::{MelodyVae, VaeError};

const TWO_BAR: (&[u8], &str, &str) = (
    include_bytes!("../../../assets/models/musicvae/mel_2bar/model.bpk"),
    include_str!("../../../assets/models/musicvae/mel_2bar/config.json"),
    include_str!("../../../assets/models/musicvae/mel_2bar/attributes.json"),
);

const SIXTEEN_BAR: (&[u8], &str, &str) = (
    include_bytes!("../../../assets/models/musicvae/mel_16bar/conductor.bpk"),
    include_str!("../../../assets/models/musicvae/mel_16bar/conductor.json"),
    include_str!("../../../assets/models/musicvae/mel_16bar/attributes.json"),
);

/// The 2-bar melody model (flat decoder).
pub fn two_bar(device: &Device) -> Result<MelodyVae, VaeError> {
    let (record, config, attributes) = TWO_BAR;
    MelodyVae::from_bytes(record, config, Some(attributes), device)
}

/// Where the 16-bar model's codes lie (its new melodies are drawn from here).
const SIXTEEN_BAR_PRIOR: &str = include_str!("../../../assets/models/musicvae/mel_16bar/prior.json");

/// The 16-bar melody model: a conductor over the 2-bar model's latent space (it decodes
/// through the 2-bar model, so the two ship and change together).
pub fn sixteen_bar(device: &Device) -> Result<MelodyVae, VaeError> {
    let (record, config, attributes) = SIXTEEN_BAR;
    MelodyVae::conducted(two_bar(device)?, record, config, Some(attributes))?.with_prior(SIXTEEN_BAR_PRIOR)
}

/// The latent maps written by `train-musicvae evaluate` (JSON).
pub const TWO_BAR_MAP: &str = include_str!("../../../assets/models/musicvae/mel_2bar/map.json");
pub const SIXTEEN_BAR_MAP: &str = include_str!("../../../assets/models/musicvae/mel_16bar/map.json");
