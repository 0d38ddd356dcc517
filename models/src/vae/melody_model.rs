//! A trained melody VAE ready for the app: latent codes as plain vectors, inputs prepared the
//! way musicians hand them over (any length, polyphonic, unquantised), and every operation of
//! the Interpolate tab and `cadenza vae`.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use thiserror::Error;

use super::conductor::{BOUNDARY_FEATURES, ConductorVae, ConductorVaeConfig, CpuConductor, boundary, segments};
use super::cpu_decode::CpuDecoder;
use super::dataset::tokens_tensor;
use super::fitted_prior::{FittedPrior, standard_normal};
use super::latent::{Attribute, bilinear, shifted, slerp};
use super::melody::{Melody, STEPS_PER_BAR, TimedNote};
use super::model::{MusicVae, MusicVaeConfig};

#[derive(Debug, Error)]
pub enum VaeError {
    #[error("the clip has no notes to encode")]
    Empty,
    #[error("the model files are unreadable: {0}")]
    Model(String),
    #[error("this model has no attribute vector {0:?} (it knows {1})")]
    UnknownAttribute(String, String),
}

/// Something changed about an input on its way into the model, worth telling the user.
#[derive(Debug, Clone, PartialEq)]
pub enum InputNotice {
    /// Notes were moved to the 16th-note grid (by up to this many quarters).
    Quantised {
        largest_shift: f64,
    },
    /// Several notes sounded at once; the top line was used.
    TopLine {
        dropped: usize,
    },
    Trimmed {
        from_bars: f64,
        to_bars: usize,
    },
    Padded {
        from_bars: f64,
        to_bars: usize,
    },
}

impl std::fmt::Display for InputNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Quantised { largest_shift } => {
                write!(f, "quantised to 16th notes (moved by up to {:.2} beats)", largest_shift)
            }
            Self::TopLine { dropped } => write!(f, "polyphonic: used the top line ({dropped} lower notes left out)"),
            Self::Trimmed { from_bars, to_bars } => write!(f, "{from_bars:.1} bars trimmed to the model's {to_bars}"),
            Self::Padded { from_bars, to_bars } => {
                write!(f, "{from_bars:.1} bars padded with rests to the model's {to_bars}")
            }
        }
    }
}

/// A melody ready for the model and what was done to get it there.
#[derive(Debug, Clone)]
pub struct PreparedMelody {
    pub melody: Melody,
    pub notices: Vec<InputNotice>,
}

/// A trained melody model: one MusicVAE for the whole length, or a conductor over the 2-bar
/// model's latent space (the 16-bar model, see [`super::conductor`]).
pub struct MelodyVae {
    network: Network,
    bars: usize,
    latent: usize,
    attributes: BTreeMap<String, Vec<f32>>,
    /// Where new melodies are drawn from, when N(0, I) is not where the codes lie.
    prior: Option<FittedPrior>,
    device: Device,
}

enum Network {
    Whole {
        model: Box<MusicVae>,
        /// Decodes the points the app and CLI ask for (one at a time, on the CPU, fast).
        decoder: CpuDecoder,
    },
    Conducted {
        /// The 2-bar model whose latent space the conductor writes in.
        segment: Box<MelodyVae>,
        conductor: Box<ConductorVae>,
        cpu: CpuConductor,
    },
}

impl MelodyVae {
    pub fn from_bytes(
        record: &[u8],
        config_json: &str,
        attributes_json: Option<&str>,
        device: &Device,
    ) -> Result<Self, VaeError> {
        let config: MusicVaeConfig =
            serde_json::from_str(config_json).map_err(|e| VaeError::Model(format!("config: {e}")))?;
        let model = crate::checkpoint::with_record_bytes(config.init(device), record).map_err(VaeError::Model)?;
        let attributes = parse_attributes(attributes_json)?;
        let decoder = model.cpu_decoder().map_err(|e| VaeError::Model(e.to_string()))?;
        Ok(Self {
            network: Network::Whole { model: Box::new(model), decoder },
            bars: config.bars,
            latent: config.latent,
            attributes,
            prior: None,
            device: device.clone(),
        })
    }

    /// A conductor (`conductor.bpk`, `conductor.json`) over the 2-bar model `segment`.
    pub fn conducted(
        segment: MelodyVae,
        record: &[u8],
        config_json: &str,
        attributes_json: Option<&str>,
    ) -> Result<Self, VaeError> {
        let config: ConductorVaeConfig =
            serde_json::from_str(config_json).map_err(|e| VaeError::Model(format!("conductor config: {e}")))?;
        if segment.bars() != super::conductor::SEGMENT_BARS || segment.latent_size() != config.segment_latent {
            return Err(VaeError::Model(format!(
                "the conductor needs a {}-bar model with {} latent dimensions; got {} bars and {}",
                super::conductor::SEGMENT_BARS,
                config.segment_latent,
                segment.bars(),
                segment.latent_size()
            )));
        }
        let device = segment.device.clone();
        let conductor = crate::checkpoint::with_record_bytes(config.init(&device), record).map_err(VaeError::Model)?;
        let attributes = parse_attributes(attributes_json)?;
        let cpu = conductor.cpu_conductor().map_err(|e| VaeError::Model(e.to_string()))?;
        Ok(Self {
            network: Network::Conducted { segment: Box::new(segment), conductor: Box::new(conductor), cpu },
            bars: config.bars(),
            latent: config.latent,
            attributes,
            prior: None,
            device,
        })
    }

    /// A trained model's directory: `model.bpk` and `config.json` for a whole model, or
    /// `conductor.bpk` and `conductor.json` for a conductor, whose 2-bar model is then read
    /// from `segment_dir`. `attributes.json` and `prior.json` are read when there.
    pub fn from_dir(dir: &Path, segment_dir: Option<&Path>, device: &Device) -> Result<Self, VaeError> {
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| VaeError::Model(format!("{}: {e}", dir.join(name).display())))
        };
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
        let attributes = read("attributes.json").ok().map(text);
        if dir.join(CONDUCTOR_CONFIG).exists() {
            let segment_dir = segment_dir.ok_or_else(|| {
                VaeError::Model(format!("{} is a conductor; it needs its 2-bar model's directory", dir.display()))
            })?;
            let segment = Self::from_dir(segment_dir, None, device)?;
            let vae = Self::conducted(
                segment,
                &read(CONDUCTOR_RECORD)?,
                &text(read(CONDUCTOR_CONFIG)?),
                attributes.as_deref(),
            )?;
            return vae.with_prior_file(dir);
        }
        Self::from_bytes(&read("model.bpk")?, &text(read("config.json")?), attributes.as_deref(), device)?
            .with_prior_file(dir)
    }

    pub fn bars(&self) -> usize {
        self.bars
    }

    pub fn steps(&self) -> usize {
        self.bars * STEPS_PER_BAR
    }

    pub fn latent_size(&self) -> usize {
        self.latent
    }

    /// What the model is (evaluation.json records it).
    pub fn design(&self) -> &'static str {
        match &self.network {
            Network::Whole { .. } => "MusicVAE",
            Network::Conducted { .. } => "conductor over the 2-bar MusicVAE",
        }
    }

    pub fn attribute_names(&self) -> Vec<String> {
        self.attributes.keys().cloned().collect()
    }

    /// Turns notes (times in quarters from the clip's start) into a melody of the model's
    /// length, saying what had to change.
    pub fn prepare(&self, notes: &[TimedNote]) -> Result<PreparedMelody, VaeError> {
        if notes.is_empty() {
            return Err(VaeError::Empty);
        }
        let mut notices = Vec::new();
        let grid = 1.0 / super::melody::STEPS_PER_QUARTER as f64;
        let largest_shift = notes
            .iter()
            .flat_map(|n| [n.start, n.end])
            .map(|t| (t - (t / grid).round() * grid).abs())
            .fold(0.0, f64::max);
        if largest_shift > 1e-6 {
            notices.push(InputNotice::Quantised { largest_shift });
        }
        let melody = Melody::top_line(notes);
        let dropped = notes.len().saturating_sub(melody.note_count());
        if dropped > 0 {
            notices.push(InputNotice::TopLine { dropped });
        }
        if melody.note_count() == 0 {
            return Err(VaeError::Empty);
        }
        let steps = self.steps();
        let length = melody.tokens.len();
        // A clip shorter than the model is measured in whole bars it would start.
        let from_bars = length as f64 / STEPS_PER_BAR as f64;
        if length > steps {
            notices.push(InputNotice::Trimmed { from_bars, to_bars: self.bars() });
        } else if length.div_ceil(STEPS_PER_BAR) < self.bars() {
            notices.push(InputNotice::Padded { from_bars, to_bars: self.bars() });
        }
        Ok(PreparedMelody { melody: melody.fitted(steps), notices })
    }

    /// The posterior means of melodies of the model's length.
    pub fn encode(&self, melodies: &[&Melody]) -> Vec<Vec<f32>> {
        if melodies.is_empty() {
            return Vec::new();
        }
        match &self.network {
            Network::Whole { model, .. } => rows(model.encode(tokens_tensor(melodies, &self.device)).mu),
            Network::Conducted { segment, conductor, .. } => {
                let inputs = conductor_inputs(segment, melodies, &self.device);
                rows(conductor.encode(inputs).mu)
            }
        }
    }

    /// Decodes latent codes; `temperature` 0 plays the most likely step each time, above 0
    /// the steps are drawn (reproducibly for one `seed`).
    pub fn decode(&self, codes: &[Vec<f32>], temperature: f64, seed: u64) -> Vec<Melody> {
        if codes.is_empty() {
            return Vec::new();
        }
        match &self.network {
            Network::Whole { decoder, .. } => {
                let mut rng = StdRng::seed_from_u64(seed);
                decoder.decode(codes, temperature, &mut rng).into_iter().map(|tokens| Melody { tokens }).collect()
            }
            Network::Conducted { segment, cpu, .. } => {
                let per_segment: Vec<Vec<f32>> = codes.iter().flat_map(|z| cpu.codes(z)).collect();
                join_segments(segment.decode(&per_segment, temperature, seed), codes.len())
            }
        }
    }

    /// The 2-bar codes the conductor emits for each of `codes` (the picture of a 16-bar point
    /// as eight 2-bar ones); empty for a whole model.
    pub fn segment_codes(&self, codes: &[Vec<f32>]) -> Vec<Vec<Vec<f32>>> {
        match &self.network {
            Network::Whole { .. } => Vec::new(),
            Network::Conducted { cpu, .. } => codes.iter().map(|z| cpu.codes(z)).collect(),
        }
    }

    /// Draws new melodies come from: the fitted prior when the model has one (see
    /// [`FittedPrior`]), else N(0, I).
    pub fn with_prior(mut self, prior_json: &str) -> Result<Self, VaeError> {
        let prior: FittedPrior =
            serde_json::from_str(prior_json).map_err(|e| VaeError::Model(format!("prior: {e}")))?;
        if !prior.is_whole() || prior.mean.len() != self.latent {
            return Err(VaeError::Model(format!(
                "prior: fitted to {} dimensions, the model has {}",
                prior.mean.len(),
                self.latent
            )));
        }
        self.prior = Some(prior);
        Ok(self)
    }

    /// The fitted prior in `dir`'s `prior.json`, when there is one.
    fn with_prior_file(self, dir: &Path) -> Result<Self, VaeError> {
        match std::fs::read_to_string(dir.join(PRIOR_FILE)) {
            Ok(text) => self.with_prior(&text),
            Err(_) => Ok(self),
        }
    }

    /// Whether new melodies are drawn from a fitted prior rather than N(0, I).
    pub fn has_fitted_prior(&self) -> bool {
        self.prior.is_some()
    }

    /// `count` codes of new melodies, the same ones for one `seed`: from the fitted prior, or
    /// N(0, I).
    pub fn prior_codes(&self, count: usize, seed: u64) -> Vec<Vec<f32>> {
        match &self.prior {
            Some(prior) => {
                let mut rng = StdRng::seed_from_u64(seed);
                (0..count).map(|_| prior.sample(&mut rng, 1.0)).collect()
            }
            None => self.standard_codes(count, seed),
        }
    }

    /// `count` draws from N(0, I) (the model's own prior, and the noise of `similar`).
    pub fn standard_codes(&self, count: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..count).map(|_| (0..self.latent_size()).map(|_| standard_normal(&mut rng)).collect()).collect()
    }

    /// `steps` codes from `a` to `b`, both ends included, along the great circle.
    pub fn interpolate(a: &[f32], b: &[f32], steps: usize) -> Vec<Vec<f32>> {
        let steps = steps.max(2);
        (0..steps).map(|i| slerp(a, b, i as f32 / (steps - 1) as f32)).collect()
    }

    /// The four-corner pad's code at (x, y).
    pub fn mix(corners: [&[f32]; 4], x: f32, y: f32) -> Vec<f32> {
        bilinear(corners, x.clamp(0.0, 1.0), y.clamp(0.0, 1.0))
    }

    /// `count` variations near `z`: Gaussian noise of standard deviation `spread` added.
    pub fn similar(&self, z: &[f32], count: usize, spread: f32, seed: u64) -> Vec<Vec<f32>> {
        self.standard_codes(count, seed).into_iter().map(|noise| shifted(z, &noise, spread)).collect()
    }

    /// `z` moved `amount` times along an attribute vector.
    pub fn with_attribute(&self, z: &[f32], name: &str, amount: f32) -> Result<Vec<f32>, VaeError> {
        let direction = self.attributes.get(name).ok_or_else(|| {
            VaeError::UnknownAttribute(name.to_string(), self.attributes.keys().cloned().collect::<Vec<_>>().join(", "))
        })?;
        Ok(shifted(z, direction, amount))
    }

    /// How an attribute measures on a melody (for showing what a slider did).
    pub fn measure(attribute: &str, melody: &Melody) -> Option<f32> {
        Attribute::from_name(attribute).and_then(|a| a.measure(melody))
    }

    /// The underlying MusicVAE of a whole model, for benchmarks and evaluation.
    pub fn model(&self) -> Option<&MusicVae> {
        match &self.network {
            Network::Whole { model, .. } => Some(model),
            Network::Conducted { .. } => None,
        }
    }

    /// The 2-bar model under a conductor, and the conductor.
    pub fn conductor(&self) -> Option<(&MelodyVae, &ConductorVae)> {
        match &self.network {
            Network::Whole { .. } => None,
            Network::Conducted { segment, conductor, .. } => Some((segment, conductor)),
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A copy on another device.
    pub fn to_device(&self, device: &Device) -> Self {
        let network = match &self.network {
            Network::Whole { model, decoder } => {
                Network::Whole { model: Box::new((**model).clone().to_device(device)), decoder: decoder.clone() }
            }
            Network::Conducted { segment, conductor, cpu } => Network::Conducted {
                segment: Box::new(segment.to_device(device)),
                conductor: Box::new((**conductor).clone().to_device(device)),
                cpu: cpu.clone(),
            },
        };
        Self {
            network,
            bars: self.bars,
            latent: self.latent,
            attributes: self.attributes.clone(),
            prior: self.prior.clone(),
            device: device.clone(),
        }
    }
}

/// Attribute vectors by name, from `attributes.json`; none without one.
fn parse_attributes(json: Option<&str>) -> Result<BTreeMap<String, Vec<f32>>, VaeError> {
    match json {
        Some(text) => serde_json::from_str(text).map_err(|e| VaeError::Model(format!("attributes: {e}"))),
        None => Ok(BTreeMap::new()),
    }
}

/// The files of a conductor in a model directory.
pub const CONDUCTOR_RECORD: &str = "conductor.bpk";
pub const CONDUCTOR_CONFIG: &str = "conductor.json";
/// A fitted prior (see [`FittedPrior`]), written by evaluation.
pub const PRIOR_FILE: &str = "prior.json";

/// The conductor's encoder input for melodies of its length: each segment's 2-bar code (μ)
/// and its boundary features, [B, segments, latent + BOUNDARY_FEATURES].
pub fn conductor_inputs(segment: &MelodyVae, melodies: &[&Melody], device: &Device) -> Tensor<3> {
    let parts: Vec<Vec<Melody>> = melodies.iter().map(|m| segments(m)).collect();
    let count = parts.first().map_or(0, Vec::len);
    let flat: Vec<&Melody> = parts.iter().flatten().collect();
    let codes = segment.encode(&flat);
    let width = segment.latent_size() + BOUNDARY_FEATURES;
    let mut values = Vec::with_capacity(melodies.len() * count * width);
    for (m, melody) in melodies.iter().enumerate() {
        for s in 0..count {
            values.extend_from_slice(&codes[m * count + s]);
            values.extend_from_slice(&boundary(melody, s));
        }
    }
    Tensor::<1>::from_floats(values.as_slice(), device).reshape([melodies.len(), count, width])
}

/// Decoded segments, `count` melodies' worth in order, joined into whole melodies.
fn join_segments(parts: Vec<Melody>, count: usize) -> Vec<Melody> {
    let per = parts.len() / count.max(1);
    parts
        .chunks(per.max(1))
        .map(|chunk| Melody { tokens: chunk.iter().flat_map(|p| p.tokens.clone()).collect() })
        .collect()
}

/// The rows of a [N, d] tensor as vectors (latent codes).
pub fn rows(t: Tensor<2>) -> Vec<Vec<f32>> {
    let width = t.dims()[1].max(1);
    let values: Vec<f32> = t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
    values.chunks(width).map(<[f32]>::to_vec).collect()
}
