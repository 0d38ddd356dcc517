//! Training MusicVAE on the corpus: Adam with an exponentially decaying learning rate and
//! gradient-norm clipping (as MusicVAE trains), periodic validation, checkpoints that a later run
//! resumes from, and the shipped files (weights, config, model card facts).

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::dataset::{Batcher, load_windows, spread};
use super::evaluate::{Reconstruction, reconstruction};
use super::melody::Melody;
use super::model::{MusicVae, MusicVaeConfig};
use crate::checkpoint::{self, CheckpointError};
use crate::data::{Corpus, ManifestError, Split};

#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("the {0:?} split has no windows of this length; is the corpus converted?")]
    NoWindows(Split),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("cannot start from {0}: {1}")]
    Source(String, String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOptions {
    pub batch: usize,
    /// Stop after this many optimiser steps in total (a resumed run counts the earlier ones).
    pub steps: usize,
    pub learning_rate: f64,
    /// lr = max(min_lr, learning_rate · decay^step).
    pub decay: f64,
    pub min_learning_rate: f64,
    pub validate_every: usize,
    /// How many validation windows each validation reads.
    pub validation_windows: usize,
    pub max_transpose: i32,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            batch: 64,
            steps: 5_000,
            learning_rate: 1e-3,
            decay: 0.9995,
            min_learning_rate: 1e-5,
            validate_every: 250,
            validation_windows: 512,
            max_transpose: 5,
            seed: 7,
        }
    }
}

/// One validation: where training stood and what it scored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidationPoint {
    pub step: usize,
    pub seconds: f64,
    pub train_reconstruction: f64,
    pub train_kl: f64,
    pub valid: Reconstruction,
}

/// What a checkpoint and the final model record: enough to resume, and the model card's facts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingState {
    pub config: MusicVaeConfig,
    pub options: TrainOptions,
    pub manifest_sha256: String,
    pub train_windows: usize,
    pub validation_windows: usize,
    pub step: usize,
    /// Training time over all runs, seconds.
    pub seconds: f64,
    pub windows_per_second: f64,
    pub history: Vec<ValidationPoint>,
    /// Each time a resumed run changed the KL settings: from which step, and to what.
    #[serde(default)]
    pub objective_changes: Vec<ObjectiveChange>,
    /// Set when training started from another run's weights (with a fresh optimiser), e.g. a
    /// model trained on an earlier conversion of the corpus, fine-tuned on the current one.
    #[serde(default)]
    pub initialised_from: Option<InitialisedFrom>,
}

/// Where a run's starting weights came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InitialisedFrom {
    /// The corpus manifest those weights were trained on.
    pub manifest_sha256: String,
    /// The step they had reached; this run counts on from it.
    pub step: usize,
    /// Their training time, seconds (included in this run's `seconds`).
    pub seconds: f64,
}

/// A resumed run's new KL settings (free bits and weight), from `step` on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectiveChange {
    pub step: usize,
    pub free_bits: f64,
    pub max_beta: f64,
    pub beta_rate: f64,
}

/// What the progress callback sees after each step.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub step: usize,
    pub total_steps: usize,
    pub reconstruction: f64,
    pub kl: f64,
    pub accuracy: f64,
    pub windows_per_second: f64,
}

/// Trains into `out_dir`, resuming from the checkpoint there if one exists. Each validation
/// writes a checkpoint (atomically: a crash leaves the previous one).
pub fn train(
    corpus: &Corpus,
    config: MusicVaeConfig,
    options: TrainOptions,
    out_dir: &Path,
    mut on_progress: impl FnMut(Progress),
    mut on_validation: impl FnMut(&ValidationPoint),
) -> Result<TrainingState, TrainError> {
    let train_set = load_windows(corpus, Split::Train, config.bars).windows;
    if train_set.is_empty() {
        return Err(TrainError::NoWindows(Split::Train));
    }
    let valid_set = load_windows(corpus, Split::Valid, config.bars).windows;
    if valid_set.is_empty() {
        return Err(TrainError::NoWindows(Split::Valid));
    }
    // A fixed, spread-out sample of the validation windows, so validations compare.
    let valid_set = spread(valid_set, options.validation_windows);

    let device = Device::flex().autodiff();
    let plain = Device::flex();
    let mut model = config.init(&device);
    let mut optimizer: ModuleOptimizer =
        AdamConfig::new().with_grad_clipping(Some(GradientClippingConfig::Norm(1.0))).init();
    let mut state = TrainingState {
        config: config.clone(),
        options: options.clone(),
        manifest_sha256: corpus.manifest_sha256.clone(),
        train_windows: train_set.len(),
        validation_windows: valid_set.len(),
        step: 0,
        seconds: 0.0,
        windows_per_second: 0.0,
        history: Vec::new(),
        objective_changes: Vec::new(),
        initialised_from: None,
    };
    // A checkpoint of the same network resumes even if the KL settings changed (a run can
    // be given a larger latent budget once it has learnt to use the one it had).
    let resumable = |s: &TrainingState| s.config.same_network(&config);
    if let Some((m, o, s)) = checkpoint::resume(out_dir, model.clone(), resumable)? {
        model = m;
        optimizer = optimizer.load_record(o);
        state.step = s.step;
        state.seconds = s.seconds;
        state.history = s.history;
        state.objective_changes = s.objective_changes;
        state.initialised_from = s.initialised_from;
        if s.config != config {
            state.objective_changes.push(ObjectiveChange {
                step: s.step,
                free_bits: config.free_bits,
                max_beta: config.max_beta,
                beta_rate: config.beta_rate,
            });
        }
    }
    std::fs::create_dir_all(out_dir).map_err(|e| checkpoint::write_error(out_dir, e))?;

    // Reproducible order: the seed and the step fix which batches come next after a resume.
    let mut batcher = Batcher::new(options.seed ^ state.step as u64, options.max_transpose);
    let mut order = batcher.epoch_order(train_set.len());
    let mut cursor = 0;
    let started = Instant::now();
    let seconds_before = state.seconds;
    let steps_before = state.step;
    let (mut recon_sum, mut kl_sum, mut seen) = (0.0, 0.0, 0usize);
    while state.step < options.steps {
        if cursor + options.batch > order.len() {
            order = batcher.epoch_order(train_set.len());
            cursor = 0;
        }
        let picked: Vec<&Melody> = order[cursor..cursor + options.batch].iter().map(|&i| &train_set[i]).collect();
        cursor += options.batch;
        let tokens = batcher.batch(&picked, &device);
        let losses = model.losses(tokens.clone(), &config, state.step);
        let accuracy = step_accuracy(&losses.predicted, &tokens);
        let reconstruction_nats = f64::from(losses.reconstruction.clone().into_scalar::<f32>());
        let kl = f64::from(losses.kl.clone().into_scalar::<f32>());
        let gradients = GradientsParams::from_grads(losses.total.backward(), &model);
        let lr = (options.learning_rate * options.decay.powi(state.step as i32)).max(options.min_learning_rate);
        model = optimizer.step(lr, model, gradients);
        state.step += 1;
        recon_sum += reconstruction_nats;
        kl_sum += kl;
        seen += 1;
        let elapsed = started.elapsed().as_secs_f64();
        state.seconds = seconds_before + elapsed;
        state.windows_per_second = ((state.step - steps_before) * options.batch) as f64 / elapsed.max(1e-9);
        on_progress(Progress {
            step: state.step,
            total_steps: options.steps,
            reconstruction: reconstruction_nats,
            kl,
            accuracy,
            windows_per_second: state.windows_per_second,
        });
        if state.step.is_multiple_of(options.validate_every.max(1)) || state.step == options.steps {
            let scored = model.valid();
            let valid = reconstruction(&scored, &valid_set, 128, &plain);
            let point = ValidationPoint {
                step: state.step,
                seconds: state.seconds,
                train_reconstruction: recon_sum / seen.max(1) as f64,
                train_kl: kl_sum / seen.max(1) as f64,
                valid,
            };
            (recon_sum, kl_sum, seen) = (0.0, 0.0, 0);
            on_validation(&point);
            state.history.push(point);
            checkpoint::save(out_dir, &model, &optimizer, &state, &state.config)?;
        }
    }
    Ok(state)
}

/// Starts a run in `out_dir` from the weights of the trained model in `from_dir` (its
/// `model.bpk` and `training.json`) with a fresh optimiser; [`train`] then resumes from it on
/// whatever corpus it is given. The run keeps the source's step count, time and history, so the
/// learning-rate schedule carries on, and records where it started.
pub fn start_from(from_dir: &Path, out_dir: &Path) -> Result<TrainingState, TrainError> {
    let source = |e: String| TrainError::Source(from_dir.display().to_string(), e);
    let mut state: TrainingState = checkpoint::read_state(from_dir).map_err(source)?;
    let model =
        load_record_file(&from_dir.join(checkpoint::MODEL_FILE), &state.config, &Device::flex()).map_err(source)?;
    state.initialised_from = Some(InitialisedFrom {
        manifest_sha256: state.manifest_sha256.clone(),
        step: state.step,
        seconds: state.seconds,
    });
    let optimizer: ModuleOptimizer = AdamConfig::new().init();
    checkpoint::save(out_dir, &model, &optimizer, &state, &state.config)?;
    Ok(state)
}

/// Fraction of steps the teacher-forced argmax got right.
fn step_accuracy(
    predicted: &burn::tensor::Tensor<2, burn::tensor::Int>,
    targets: &burn::tensor::Tensor<2, burn::tensor::Int>,
) -> f64 {
    let right = predicted.clone().equal(targets.clone()).int().sum().into_scalar::<i64>();
    right as f64 / targets.dims().iter().product::<usize>().max(1) as f64
}

/// Loads weights written by [`train`] into a model of `config`.
pub fn load_record_file(path: &Path, config: &MusicVaeConfig, device: &Device) -> Result<MusicVae, String> {
    checkpoint::with_record_file(config.init(device), path)
}

/// The held-out figures of a trained model (the test split).
pub fn test_reconstruction(
    corpus: &Corpus,
    model: &MusicVae,
    bars: usize,
    limit: usize,
    device: &Device,
) -> Result<(Reconstruction, Vec<Melody>), TrainError> {
    let windows = load_windows(corpus, Split::Test, bars).windows;
    if windows.is_empty() {
        return Err(TrainError::NoWindows(Split::Test));
    }
    let sample = spread(windows, limit);
    Ok((reconstruction(model, &sample, 128, device), sample))
}
