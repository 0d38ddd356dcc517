//! A trained melody VAE ready for the app: latent codes as plain vectors, inputs prepared the
//! way musicians hand them over (any length, polyphonic, unquantised), and every operation of
//! the Interpolate tab and `cadenza vae`.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use thiserror::Error;

use super::cpu_decode::CpuDecoder;
use super::dataset::tokens_tensor;
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

/// Files of one trained model: `model.bpk`, `config.json`, and (after evaluation)
/// `attributes.json`.
pub struct MelodyVae {
    model: MusicVae,
    /// Decodes the points the app and CLI ask for (one at a time, on the CPU, fast).
    decoder: CpuDecoder,
    pub config: MusicVaeConfig,
    attributes: BTreeMap<String, Vec<f32>>,
    device: Device,
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
        let attributes = match attributes_json {
            Some(text) => serde_json::from_str(text).map_err(|e| VaeError::Model(format!("attributes: {e}")))?,
            None => BTreeMap::new(),
        };
        let decoder = model.cpu_decoder().map_err(|e| VaeError::Model(e.to_string()))?;
        Ok(Self { model, decoder, config, attributes, device: device.clone() })
    }

    pub fn from_dir(dir: &Path, device: &Device) -> Result<Self, VaeError> {
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| VaeError::Model(format!("{}: {e}", dir.join(name).display())))
        };
        let record = read("model.bpk")?;
        let config = String::from_utf8_lossy(&read("config.json")?).into_owned();
        let attributes = read("attributes.json").ok().map(|b| String::from_utf8_lossy(&b).into_owned());
        Self::from_bytes(&record, &config, attributes.as_deref(), device)
    }

    pub fn bars(&self) -> usize {
        self.config.bars
    }

    pub fn steps(&self) -> usize {
        self.config.steps()
    }

    pub fn latent_size(&self) -> usize {
        self.config.latent
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
        let mu = self.model.encode(tokens_tensor(melodies, &self.device)).mu;
        rows(mu)
    }

    /// Decodes latent codes; `temperature` 0 plays the most likely step each time, above 0
    /// the steps are drawn (reproducibly for one `seed`).
    pub fn decode(&self, codes: &[Vec<f32>], temperature: f64, seed: u64) -> Vec<Melody> {
        if codes.is_empty() {
            return Vec::new();
        }
        let mut rng = StdRng::seed_from_u64(seed);
        self.decoder.decode(codes, temperature, &mut rng).into_iter().map(|tokens| Melody { tokens }).collect()
    }

    /// `count` codes drawn from the prior N(0, I), the same ones for one `seed`.
    pub fn prior_codes(&self, count: usize, seed: u64) -> Vec<Vec<f32>> {
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
        self.prior_codes(count, seed).into_iter().map(|noise| shifted(z, &noise, spread)).collect()
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

    /// The underlying model, for benchmarks and evaluation.
    pub fn model(&self) -> &MusicVae {
        &self.model
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A copy on another device.
    pub fn to_device(&self, device: &Device) -> Self {
        Self {
            model: self.model.clone().to_device(device),
            decoder: self.decoder.clone(),
            config: self.config.clone(),
            attributes: self.attributes.clone(),
            device: device.clone(),
        }
    }
}

/// The rows of a [N, d] tensor as vectors (latent codes).
pub fn rows(t: Tensor<2>) -> Vec<Vec<f32>> {
    let width = t.dims()[1].max(1);
    let values: Vec<f32> = t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
    values.chunks(width).map(<[f32]>::to_vec).collect()
}

/// A draw from N(0, 1) (Box–Muller).
fn standard_normal(rng: &mut StdRng) -> f32 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}
