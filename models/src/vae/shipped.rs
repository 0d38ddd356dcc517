//! The melody models shipped in `assets/models/musicvae/`, inside the binary: no path to find,
//! no download. `scripts/train_musicvae.sh` trains and evaluates them.

use burn::tensor::Device;

use super::melody_model::{MelodyVae, VaeError};

macro_rules! shipped {
    ($dir:literal) => {
        (
            include_bytes!(concat!("../../../assets/models/musicvae/", $dir, "/model.bpk")).as_slice(),
            include_str!(concat!("../../../assets/models/musicvae/", $dir, "/config.json")),
            include_str!(concat!("../../../assets/models/musicvae/", $dir, "/attributes.json")),
        )
    };
}

/// The 2-bar melody model (flat decoder).
pub fn two_bar(device: &Device) -> Result<MelodyVae, VaeError> {
    let (record, config, attributes) = shipped!("mel_2bar");
    MelodyVae::from_bytes(record, config, Some(attributes), device)
}

/// The 16-bar melody model (hierarchical decoder).
pub fn sixteen_bar(device: &Device) -> Result<MelodyVae, VaeError> {
    let (record, config, attributes) = shipped!("mel_16bar");
    MelodyVae::from_bytes(record, config, Some(attributes), device)
}

/// The latent maps written by `train-musicvae evaluate` (JSON).
pub const TWO_BAR_MAP: &str = include_str!("../../../assets/models/musicvae/mel_2bar/map.json");
pub const SIXTEEN_BAR_MAP: &str = include_str!("../../../assets/models/musicvae/mel_16bar/map.json");
