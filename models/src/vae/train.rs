//! Training MusicVAE on the corpus: Adam with an exponentially decaying learning rate and
//! gradient-norm clipping (as MusicVAE trains), periodic validation, checkpoints that a later run
//! resumes from, and the shipped files (weights, config, model card facts).

use std::path::Path;

use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::dataset::{Batcher, load_windows, spread};
use super::evaluate::{Reconstruction, reconstruction};
use super::melody::Melody;
use super::model::{MusicVae, MusicVaeConfig};
use crate::checkpoint::{self, CheckpointError};
use crate::data::{Corpus, ManifestError, Split};
use crate::training::{Clock, TrainingRun, train_until};

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

/// Trains into `out_dir` on `device` (its autodiff twin), resuming from the checkpoint there if
/// one exists. Each validation writes a checkpoint (atomically: a crash leaves the previous one).
pub fn train(
    corpus: &Corpus,
    config: MusicVaeConfig,
    options: TrainOptions,
    out_dir: &Path,
    device: &Device,
    on_progress: impl FnMut(Progress),
    on_validation: impl FnMut(&ValidationPoint),
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

    let plain = device.clone();
    let device = plain.clone().autodiff();
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
    let order = batcher.epoch_order(train_set.len());
    let clock = Clock { step: state.step, seconds: state.seconds, items_per_second: 0.0 };
    let mut run = VaeRun {
        state,
        out_dir,
        train_set,
        valid_set,
        batcher,
        order,
        cursor: 0,
        device,
        plain,
        last: StepFigures::default(),
        since_validation: StepFigures::default(),
        on_progress,
        on_validation,
    };
    train_until(&mut run, model, &mut optimizer, clock, options.steps, options.validate_every)?;
    Ok(run.state)
}

/// One step's figures, or their sums since the last validation (with `steps` counting them).
#[derive(Debug, Default, Clone, Copy)]
struct StepFigures {
    reconstruction: f64,
    kl: f64,
    accuracy: f64,
    steps: usize,
}

/// MusicVAE's side of the shared training loop.
struct VaeRun<'a, P, V> {
    state: TrainingState,
    out_dir: &'a Path,
    train_set: Vec<Melody>,
    valid_set: Vec<Melody>,
    batcher: Batcher,
    /// This epoch's order of the training windows, and how far into it training is.
    order: Vec<usize>,
    cursor: usize,
    device: Device,
    plain: Device,
    last: StepFigures,
    since_validation: StepFigures,
    on_progress: P,
    on_validation: V,
}

impl<P: FnMut(Progress), V: FnMut(&ValidationPoint)> TrainingRun for VaeRun<'_, P, V> {
    type Model = MusicVae;

    fn batch_loss(&mut self, model: &MusicVae, step: usize) -> (Tensor<1>, usize) {
        let batch = self.state.options.batch;
        if self.cursor + batch > self.order.len() {
            self.order = self.batcher.epoch_order(self.train_set.len());
            self.cursor = 0;
        }
        let picked: Vec<&Melody> =
            self.order[self.cursor..self.cursor + batch].iter().map(|&i| &self.train_set[i]).collect();
        self.cursor += batch;
        let tokens = self.batcher.batch(&picked, &self.device);
        let losses = model.losses(tokens.clone(), &self.state.config, step);
        self.last = StepFigures {
            reconstruction: f64::from(losses.reconstruction.clone().into_scalar::<f32>()),
            kl: f64::from(losses.kl.clone().into_scalar::<f32>()),
            accuracy: step_accuracy(&losses.predicted, &tokens),
            steps: 1,
        };
        self.since_validation.reconstruction += self.last.reconstruction;
        self.since_validation.kl += self.last.kl;
        self.since_validation.steps += 1;
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
        (self.on_progress)(Progress {
            step: clock.step,
            total_steps: self.state.options.steps,
            reconstruction: self.last.reconstruction,
            kl: self.last.kl,
            accuracy: self.last.accuracy,
            windows_per_second: clock.items_per_second,
        });
    }

    fn validate(&mut self, model: &MusicVae, clock: Clock) {
        let seen = self.since_validation.steps.max(1) as f64;
        let point = ValidationPoint {
            step: clock.step,
            seconds: clock.seconds,
            train_reconstruction: self.since_validation.reconstruction / seen,
            train_kl: self.since_validation.kl / seen,
            valid: reconstruction(model, &self.valid_set, 128, &self.plain),
        };
        self.since_validation = StepFigures::default();
        (self.on_validation)(&point);
        self.state.history.push(point);
    }

    fn save(&self, model: &MusicVae, optimizer: &ModuleOptimizer) -> Result<(), CheckpointError> {
        checkpoint::save(self.out_dir, model, optimizer, &self.state, &self.state.config)
    }
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
