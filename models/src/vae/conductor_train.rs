//! Training the 16-bar conductor in the 2-bar model's latent space.
//!
//! The frozen 2-bar encoder reads every distinct segment of the training windows once
//! (windows start on every bar, so most segments recur in several windows), and of transposed
//! copies of them (one shift per copy, so the copies' segments recur too); the codes are cached
//! beside the checkpoint. After that a training step touches no tokens: the conductor is scored
//! on how likely its codes are under the segments' posteriors. Validation decodes for real
//! (per-step accuracy, as the whole models are scored).

use std::collections::HashMap;
use std::path::Path;

use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::conductor::{BOUNDARY_FEATURES, ConductorVae, ConductorVaeConfig, boundary, segments};
use super::dataset::{load_windows, spread, tokens_tensor};
use super::evaluate::{Reconstruction, conducted_reconstruction};
use super::melody::Melody;
use super::melody_model::{MelodyVae, rows};
use super::train::TrainError;
use crate::checkpoint::{self, CheckpointError};
use crate::data::{Corpus, Split};
use crate::training::{Clock, TrainingRun, train_until};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConductorOptions {
    pub batch: usize,
    /// Stop after this many optimiser steps in total (a resumed run counts the earlier ones).
    pub steps: usize,
    pub learning_rate: f64,
    /// lr = max(min_lr, learning_rate · decay^step).
    pub decay: f64,
    pub min_learning_rate: f64,
    pub validate_every: usize,
    pub validation_windows: usize,
    /// Transposed copies of the training windows, besides the windows themselves (each copy
    /// moves every window by one shift).
    pub transpositions: usize,
    pub max_transpose: i32,
    pub seed: u64,
}

impl Default for ConductorOptions {
    fn default() -> Self {
        Self {
            batch: 128,
            steps: 6_000,
            learning_rate: 1e-3,
            decay: 0.9995,
            min_learning_rate: 1e-5,
            validate_every: 500,
            validation_windows: 512,
            transpositions: 1,
            max_transpose: 5,
            seed: 7,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConductorValidation {
    pub step: usize,
    pub seconds: f64,
    /// Mean code NLL per training window since the last validation (nats).
    pub train_codes: f64,
    pub train_kl: f64,
    pub valid: Reconstruction,
}

/// A checkpoint's state and the model card's facts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConductorState {
    pub config: ConductorVaeConfig,
    pub options: ConductorOptions,
    pub manifest_sha256: String,
    /// The 2-bar model the codes came from (its training.json's step and corpus): a new
    /// 2-bar model means training the conductor again.
    pub segment_model: SegmentModel,
    pub train_windows: usize,
    /// Training windows with their transposed copies.
    pub train_examples: usize,
    pub distinct_segments: usize,
    /// Time the 2-bar encoder took over the training segments (not in `seconds`).
    pub encode_seconds: f64,
    pub validation_windows: usize,
    pub step: usize,
    pub seconds: f64,
    pub windows_per_second: f64,
    /// Where it trained (the device choice's reason).
    pub device: String,
    pub history: Vec<ConductorValidation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SegmentModel {
    pub manifest_sha256: String,
    pub step: usize,
}

/// The segments' codes of a set of windows, encoded once: row-major arrays of
/// [windows, segments, latent (+ boundary features for the inputs)].
pub struct EncodedWindows {
    pub inputs: Vec<f32>,
    pub mu: Vec<f32>,
    pub sigma: Vec<f32>,
    pub count: usize,
    pub segments: usize,
    pub latent: usize,
    pub distinct_segments: usize,
}

impl EncodedWindows {
    fn rows(&self, picked: &[usize], values: &[f32], width: usize, device: &Device) -> Tensor<3> {
        let per_window = self.segments * width;
        let mut out = Vec::with_capacity(picked.len() * per_window);
        for &i in picked {
            out.extend_from_slice(&values[i * per_window..(i + 1) * per_window]);
        }
        Tensor::<1>::from_floats(out.as_slice(), device).reshape([picked.len(), self.segments, width])
    }
}

impl EncodedWindows {
    /// Writes the codes to `path` (atomically), so a resumed or re-tuned run skips the encoding.
    fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let mut bytes = Vec::with_capacity(32 + 4 * (self.inputs.len() + self.mu.len() + self.sigma.len()));
        for n in [self.count, self.segments, self.latent, self.distinct_segments] {
            bytes.extend_from_slice(&(n as u64).to_le_bytes());
        }
        for values in [&self.inputs, &self.mu, &self.sigma] {
            bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        }
        checkpoint::atomically(path, |p| std::fs::write(p, &bytes).map_err(|e| e.to_string()))
    }

    /// Codes written by [`Self::save`]; `None` if the file is missing or not whole.
    fn load(path: &Path) -> Option<Self> {
        let bytes = std::fs::read(path).ok()?;
        let header: Vec<usize> = bytes
            .get(..32)?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()) as usize)
            .collect();
        let [count, segments, latent, distinct_segments] = header[..] else { return None };
        let floats: Vec<f32> =
            bytes[32..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap_or_default())).collect();
        let code_len = count.checked_mul(segments)?.checked_mul(latent)?;
        let input_len = count.checked_mul(segments)?.checked_mul(latent + BOUNDARY_FEATURES)?;
        if floats.len() != input_len + 2 * code_len {
            return None;
        }
        let (inputs, rest) = floats.split_at(input_len);
        let (mu, sigma) = rest.split_at(code_len);
        Some(Self {
            inputs: inputs.to_vec(),
            mu: mu.to_vec(),
            sigma: sigma.to_vec(),
            count,
            segments,
            latent,
            distinct_segments,
        })
    }
}

/// Where a run keeps its training windows' codes, and what they were computed from.
const CODES_FILE: &str = "segment_codes.bin";
const CODES_KEY_FILE: &str = "segment_codes.key";

/// Encodes the segments of `windows` with the 2-bar model, each distinct segment once.
pub fn encode_windows(segment: &MelodyVae, windows: &[Melody], device: &Device) -> Result<EncodedWindows, TrainError> {
    let model =
        segment.model().ok_or_else(|| TrainError::Source("the segment model".into(), "not a 2-bar MusicVAE".into()))?;
    let split: Vec<Vec<Melody>> = windows.iter().map(segments).collect();
    let count_per = split.first().map_or(0, Vec::len);
    let mut index: HashMap<&[u32], usize> = HashMap::new();
    let mut distinct: Vec<&Melody> = Vec::new();
    for part in split.iter().flatten() {
        index.entry(part.tokens.as_slice()).or_insert_with(|| {
            distinct.push(part);
            distinct.len() - 1
        });
    }
    let latent = segment.latent_size();
    // One chunk per core at a time: Flex runs these small matmuls on one thread.
    // μ and σ rows of each chunk.
    type Codes = (Vec<Vec<f32>>, Vec<Vec<f32>>);
    let encoded: Vec<Codes> = distinct
        .par_chunks(256)
        .map(|chunk| {
            let posterior = model.encode(tokens_tensor(chunk, device));
            (rows(posterior.mu), rows(posterior.sigma))
        })
        .collect();
    let (mut mu, mut sigma) = (Vec::with_capacity(distinct.len()), Vec::with_capacity(distinct.len()));
    for (m, s) in encoded {
        mu.extend(m);
        sigma.extend(s);
    }
    let width = latent + BOUNDARY_FEATURES;
    let mut out = EncodedWindows {
        inputs: Vec::with_capacity(windows.len() * count_per * width),
        mu: Vec::with_capacity(windows.len() * count_per * latent),
        sigma: Vec::with_capacity(windows.len() * count_per * latent),
        count: windows.len(),
        segments: count_per,
        latent,
        distinct_segments: distinct.len(),
    };
    for (window, parts) in windows.iter().zip(&split) {
        for (s, part) in parts.iter().enumerate() {
            let i = index[part.tokens.as_slice()];
            out.inputs.extend_from_slice(&mu[i]);
            out.inputs.extend_from_slice(&boundary(window, s));
            out.mu.extend_from_slice(&mu[i]);
            out.sigma.extend_from_slice(&sigma[i]);
        }
    }
    Ok(out)
}

/// The shifts of the transposed copies, in the order copies are added: the same shift for
/// every window of a copy, so the copies' segments recur across windows as the originals do
/// (a random shift per window would make every segment new and the encoding eight times longer).
const COPY_SHIFTS: [i32; 10] = [-3, 2, 5, -5, 4, -2, 1, -4, 3, -1];

/// The windows and `copies` transposed copies of them (those that stay on the piano), each
/// copy moved by at most `max` semitones.
fn with_transpositions(windows: &[Melody], copies: usize, max: i32) -> Vec<Melody> {
    let mut out = windows.to_vec();
    for &shift in COPY_SHIFTS.iter().filter(|s| s.abs() <= max).take(copies) {
        out.extend(windows.iter().filter_map(|w| w.transposed(shift)));
    }
    out
}

/// Trains a conductor over `segment` (a 2-bar model) into `out_dir`, resuming from the
/// checkpoint there. `device` is where the steps run (its autodiff twin is made here).
#[allow(clippy::too_many_arguments)]
pub fn train_conductor(
    corpus: &Corpus,
    segment: &MelodyVae,
    segment_model: SegmentModel,
    config: ConductorVaeConfig,
    options: ConductorOptions,
    out_dir: &Path,
    device: (&Device, String),
    mut log: impl FnMut(String),
    on_progress: impl FnMut(Clock, f64, f64),
) -> Result<ConductorState, TrainError> {
    let (plain, device_reason) = device;
    let train_set = load_windows(corpus, Split::Train, config.bars()).windows;
    if train_set.is_empty() {
        return Err(TrainError::NoWindows(Split::Train));
    }
    let valid_set = spread(load_windows(corpus, Split::Valid, config.bars()).windows, options.validation_windows);
    if valid_set.is_empty() {
        return Err(TrainError::NoWindows(Split::Valid));
    }
    let examples = with_transpositions(&train_set, options.transpositions, options.max_transpose);
    let started = std::time::Instant::now();
    // The codes depend on the corpus, the 2-bar model and the transpositions drawn; a run with
    // the same ones reads them back instead of encoding again.
    let key = format!(
        "corpus {} | 2-bar model {} step {} | {} windows, {} transpositions up to {}",
        corpus.manifest_sha256,
        segment_model.manifest_sha256,
        segment_model.step,
        examples.len(),
        options.transpositions,
        options.max_transpose
    );
    let cached = (std::fs::read_to_string(out_dir.join(CODES_KEY_FILE)).ok().as_deref() == Some(key.as_str()))
        .then(|| EncodedWindows::load(&out_dir.join(CODES_FILE)))
        .flatten()
        .filter(|e| e.count == examples.len());
    let encoded = match cached {
        Some(encoded) => {
            log(format!("read the codes of {} windows from {}", encoded.count, out_dir.join(CODES_FILE).display()));
            encoded
        }
        None => {
            log(format!("encoding the segments of {} windows with the 2-bar model…", examples.len()));
            // The codes are computed on the CPU: the 2-bar model runs there, and this is inference.
            let encoded = encode_windows(segment, &examples, &Device::flex())?;
            std::fs::create_dir_all(out_dir).map_err(|e| checkpoint::write_error(out_dir, e))?;
            encoded.save(&out_dir.join(CODES_FILE))?;
            checkpoint::atomically(&out_dir.join(CODES_KEY_FILE), |p| {
                std::fs::write(p, &key).map_err(|e| e.to_string())
            })?;
            encoded
        }
    };
    let encode_seconds = started.elapsed().as_secs_f64();
    log(format!(
        "{} windows ({} with transpositions, {} distinct segments) ready in {encode_seconds:.0} s",
        train_set.len(),
        examples.len(),
        encoded.distinct_segments
    ));

    let autodiff = plain.clone().autodiff();
    let mut model = config.init(&autodiff);
    let mut optimizer: ModuleOptimizer = AdamConfig::new().init();
    let mut state = ConductorState {
        config: config.clone(),
        options: options.clone(),
        manifest_sha256: corpus.manifest_sha256.clone(),
        segment_model,
        train_windows: train_set.len(),
        train_examples: examples.len(),
        distinct_segments: encoded.distinct_segments,
        encode_seconds,
        validation_windows: valid_set.len(),
        step: 0,
        seconds: 0.0,
        windows_per_second: 0.0,
        device: device_reason,
        history: Vec::new(),
    };
    let resumable = |s: &ConductorState| s.config.same_network(&config) && s.segment_model == state.segment_model;
    if let Some((m, o, s)) = checkpoint::resume(out_dir, model.clone(), resumable)? {
        model = m;
        optimizer = optimizer.load_record(o);
        state.step = s.step;
        state.seconds = s.seconds;
        state.history = s.history;
    }
    std::fs::create_dir_all(out_dir).map_err(|e| checkpoint::write_error(out_dir, e))?;
    let mut order: Vec<usize> = (0..encoded.count).collect();
    let mut shuffler = StdRng::seed_from_u64(options.seed ^ state.step as u64);
    order.shuffle(&mut shuffler);
    let clock = Clock { step: state.step, seconds: state.seconds, items_per_second: 0.0 };
    let mut run = ConductorRun {
        state,
        out_dir,
        encoded,
        segment,
        valid_set,
        order,
        cursor: 0,
        shuffler,
        device: autodiff,
        plain: plain.clone(),
        last: (0.0, 0.0),
        since_validation: (0.0, 0.0, 0),
        log: &mut log,
        on_progress,
    };
    train_until(&mut run, model, &mut optimizer, clock, options.steps, options.validate_every)?;
    Ok(run.state)
}

struct ConductorRun<'a, L, P> {
    state: ConductorState,
    out_dir: &'a Path,
    encoded: EncodedWindows,
    segment: &'a MelodyVae,
    valid_set: Vec<Melody>,
    order: Vec<usize>,
    cursor: usize,
    shuffler: StdRng,
    device: Device,
    plain: Device,
    /// The last step's code NLL and KL.
    last: (f64, f64),
    /// Sums of both since the last validation, and the steps counted.
    since_validation: (f64, f64, usize),
    log: &'a mut L,
    on_progress: P,
}

impl<L: FnMut(String), P: FnMut(Clock, f64, f64)> TrainingRun for ConductorRun<'_, L, P> {
    type Model = ConductorVae;

    fn batch_loss(&mut self, model: &ConductorVae, step: usize) -> (Tensor<1>, usize) {
        let batch = self.state.options.batch.min(self.order.len());
        if self.cursor + batch > self.order.len() {
            self.order.shuffle(&mut self.shuffler);
            self.cursor = 0;
        }
        let picked = &self.order[self.cursor..self.cursor + batch];
        self.cursor += batch;
        let e = &self.encoded;
        let inputs = e.rows(picked, &e.inputs, e.latent + BOUNDARY_FEATURES, &self.device);
        let mu = e.rows(picked, &e.mu, e.latent, &self.device);
        let sigma = e.rows(picked, &e.sigma, e.latent, &self.device);
        let losses = model.losses(inputs, mu, sigma, &self.state.config, step);
        self.last =
            (f64::from(losses.codes.clone().into_scalar::<f32>()), f64::from(losses.kl.clone().into_scalar::<f32>()));
        self.since_validation.0 += self.last.0;
        self.since_validation.1 += self.last.1;
        self.since_validation.2 += 1;
        (losses.total, batch)
    }

    fn learning_rate(&self, step: usize) -> f64 {
        let o = &self.state.options;
        crate::training::decayed_learning_rate(o.learning_rate, o.decay, o.min_learning_rate, step)
    }

    fn stepped(&mut self, clock: Clock, _learning_rate: f64) {
        self.state.step = clock.step;
        self.state.seconds = clock.seconds;
        self.state.windows_per_second = clock.items_per_second;
        (self.on_progress)(clock, self.last.0, self.last.1);
    }

    fn validate(&mut self, model: &ConductorVae, clock: Clock) {
        let seen = self.since_validation.2.max(1) as f64;
        let valid = conducted_reconstruction(self.segment, model, &self.valid_set, 128, &self.plain);
        let point = ConductorValidation {
            step: clock.step,
            seconds: clock.seconds,
            train_codes: self.since_validation.0 / seen,
            train_kl: self.since_validation.1 / seen,
            valid,
        };
        self.since_validation = (0.0, 0.0, 0);
        (self.log)(format!(
            "step {:>6} ({:>5.0} s): train code NLL {:.1} KL {:.1} | valid teacher-forced {:.4} sampled {:.4} KL {:.1}",
            point.step,
            point.seconds,
            point.train_codes,
            point.train_kl,
            point.valid.teacher_forced,
            point.valid.sampled,
            point.valid.kl
        ));
        self.state.history.push(point);
    }

    fn save(&self, model: &ConductorVae, optimizer: &ModuleOptimizer) -> Result<(), CheckpointError> {
        checkpoint::save(self.out_dir, model, optimizer, &self.state, &self.state.config)?;
        // The names the app loads a conductor by, beside the checkpoint's own.
        let dir = self.out_dir;
        let copy = |from: &str, to: &str| {
            checkpoint::atomically(&dir.join(to), |p| {
                std::fs::copy(dir.join(from), p).map(|_| ()).map_err(|e| e.to_string())
            })
        };
        copy(checkpoint::MODEL_FILE, super::melody_model::CONDUCTOR_RECORD)?;
        copy(checkpoint::CONFIG_FILE, super::melody_model::CONDUCTOR_CONFIG)
    }
}
