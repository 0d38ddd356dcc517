//! Training the continuation transformer: AdamW with warm-up and exponential decay, gradient
//! clipping, validation NLL on a fixed set of held-out sequences, checkpoints and resume.

use std::path::Path;

use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::dataset::{GridWork, SequenceSampler, load_split};
use super::model::{ContinuationConfig, ContinuationModel};
use super::vocab::Token;
use crate::checkpoint::{self, CheckpointError};
use crate::data::{Corpus, Split};
use crate::training::{Clock, TrainingRun, train_until};

#[derive(Debug, Error)]
pub enum TrainError {
    #[error("the {0:?} split has no readable works; is the corpus converted?")]
    NoWorks(Split),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOptions {
    pub batch: usize,
    pub steps: usize,
    pub learning_rate: f64,
    pub warmup_steps: usize,
    /// After warm-up, lr = learning_rate · decay^(step − warm-up), at least min_learning_rate.
    pub decay: f64,
    pub min_learning_rate: f64,
    pub weight_decay: f32,
    pub validate_every: usize,
    pub validation_sequences: usize,
    pub seed: u64,
    /// The fraction of training sequences asked for "any" style instead of their own.
    #[serde(default)]
    pub style_dropout: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            batch: 16,
            steps: 4_000,
            learning_rate: 1e-3,
            warmup_steps: 200,
            decay: 0.9995,
            min_learning_rate: 5e-5,
            weight_decay: 0.01,
            validate_every: 250,
            validation_sequences: 192,
            seed: 17,
            style_dropout: 0.1,
        }
    }
}

impl TrainOptions {
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.learning_rate * (step + 1) as f64 / self.warmup_steps as f64;
        }
        crate::training::decayed_learning_rate(
            self.learning_rate,
            self.decay,
            self.min_learning_rate,
            step - self.warmup_steps,
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidationPoint {
    pub step: usize,
    pub seconds: f64,
    /// Mean training NLL per token since the previous validation (nats).
    pub train_nll: f64,
    pub valid_nll: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingState {
    pub config: ContinuationConfig,
    pub options: TrainOptions,
    pub manifest_sha256: String,
    pub train_works: usize,
    pub train_notes: usize,
    pub step: usize,
    pub seconds: f64,
    pub tokens_per_second: f64,
    pub history: Vec<ValidationPoint>,
    /// The step at which the weights were moved from the first (per-composer) style
    /// vocabulary to the current one (see [`super::regroup`]); None if trained on it throughout.
    #[serde(default)]
    pub regrouped_at: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub step: usize,
    pub total_steps: usize,
    pub nll: f64,
    pub learning_rate: f64,
    pub tokens_per_second: f64,
}

/// Sequences [B, context] of token ids, `Pad` after each sequence's end.
pub fn ids_tensor(sequences: &[Vec<Token>], context: usize, device: &Device) -> Tensor<2, Int> {
    let mut ids = Vec::with_capacity(sequences.len() * context);
    for sequence in sequences {
        ids.extend(sequence.iter().take(context).map(|t| i64::from(t.id())));
        ids.extend(std::iter::repeat_n(i64::from(Token::Pad.id()), context.saturating_sub(sequence.len())));
    }
    Tensor::from_data(TensorData::new(ids, [sequences.len(), context]), device)
}

/// A fixed, reproducible set of held-out sequences (no augmentation), for comparing runs and
/// models on the same tokens.
pub fn evaluation_sequences(works: Vec<GridWork>, count: usize, context: usize, seed: u64) -> Vec<Vec<Token>> {
    let mut sampler = SequenceSampler::new(works);
    sampler.max_transpose = 0;
    sampler.max_velocity_shift = 0;
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count).filter_map(|_| sampler.draw(&mut rng, context)).collect()
}

/// Mean NLL per token (nats) of `model` on `sequences`, in batches.
pub fn mean_nll(model: &ContinuationModel, sequences: &[Vec<Token>], batch: usize, device: &Device) -> f64 {
    let (mut total, mut count) = (0.0, 0usize);
    for chunk in sequences.chunks(batch.max(1)) {
        let (loss, n) = model.loss(ids_tensor(chunk, model.context + 1, device));
        total += f64::from(loss.into_scalar::<f32>()) * n as f64;
        count += n;
    }
    total / count.max(1) as f64
}

/// Trains into `out_dir` on `device` (its autodiff twin), resuming from a checkpoint there
/// (with the same config).
pub fn train(
    corpus: &Corpus,
    config: ContinuationConfig,
    options: TrainOptions,
    out_dir: &Path,
    device: &Device,
    on_progress: impl FnMut(Progress),
    on_validation: impl FnMut(&ValidationPoint),
) -> Result<TrainingState, TrainError> {
    let train_works = load_split(corpus, Split::Train);
    if train_works.is_empty() {
        return Err(TrainError::NoWorks(Split::Train));
    }
    let valid_works = load_split(corpus, Split::Valid);
    if valid_works.is_empty() {
        return Err(TrainError::NoWorks(Split::Valid));
    }
    // Sequences are one longer than the context: inputs and next-token targets.
    let length = config.context + 1;
    let valid_set = evaluation_sequences(valid_works, options.validation_sequences, length, options.seed);
    let train_notes = train_works.iter().map(|w| w.notes.len()).sum();
    let mut sampler = SequenceSampler::new(train_works);
    sampler.style_dropout = options.style_dropout;

    let plain = device.clone();
    let device = plain.clone().autodiff();
    let mut model = config.init(&device);
    let mut optimizer: ModuleOptimizer = AdamWConfig::new()
        .with_weight_decay(options.weight_decay)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let mut state = TrainingState {
        config: config.clone(),
        options: options.clone(),
        manifest_sha256: corpus.manifest_sha256.clone(),
        train_works: sampler.works().len(),
        train_notes,
        step: 0,
        seconds: 0.0,
        tokens_per_second: 0.0,
        history: Vec::new(),
        regrouped_at: None,
    };
    if let Some((m, optimizer_record, saved)) =
        checkpoint::resume(out_dir, model.clone(), |s: &TrainingState| s.config == config)?
    {
        model = m;
        optimizer = optimizer.load_record(optimizer_record);
        state.step = saved.step;
        state.seconds = saved.seconds;
        state.history = saved.history;
        state.regrouped_at = saved.regrouped_at;
    }

    // The seed and the step fix the batches, so a resumed run continues the same stream.
    let rng = StdRng::seed_from_u64(options.seed ^ (state.step as u64).wrapping_mul(0x9E37_79B9));
    let clock = Clock { step: state.step, seconds: state.seconds, items_per_second: 0.0 };
    let mut run = ContinuationRun {
        state,
        out_dir,
        sampler,
        rng,
        length,
        valid_set,
        device,
        plain,
        last_nll: 0.0,
        nll_since_validation: (0.0, 0),
        on_progress,
        on_validation,
    };
    train_until(&mut run, model, &mut optimizer, clock, options.steps, options.validate_every)?;
    Ok(run.state)
}

/// The continuation transformer's side of the shared training loop.
struct ContinuationRun<'a, P, V> {
    state: TrainingState,
    out_dir: &'a Path,
    sampler: SequenceSampler,
    rng: StdRng,
    /// Tokens per training sequence: the context and one more (inputs and next-token targets).
    length: usize,
    valid_set: Vec<Vec<Token>>,
    device: Device,
    plain: Device,
    last_nll: f64,
    /// The sum of step NLLs since the last validation, and how many steps.
    nll_since_validation: (f64, usize),
    on_progress: P,
    on_validation: V,
}

impl<P: FnMut(Progress), V: FnMut(&ValidationPoint)> TrainingRun for ContinuationRun<'_, P, V> {
    type Model = ContinuationModel;

    fn batch_loss(&mut self, model: &ContinuationModel, _step: usize) -> (Tensor<1>, usize) {
        let batch: Vec<Vec<Token>> =
            (0..self.state.options.batch).filter_map(|_| self.sampler.draw(&mut self.rng, self.length)).collect();
        let (loss, counted) = model.loss(ids_tensor(&batch, self.length, &self.device));
        self.last_nll = f64::from(loss.clone().into_scalar::<f32>());
        self.nll_since_validation.0 += self.last_nll;
        self.nll_since_validation.1 += 1;
        (loss, counted)
    }

    fn learning_rate(&self, step: usize) -> f64 {
        self.state.options.learning_rate_at(step)
    }

    fn stepped(&mut self, clock: Clock, learning_rate: f64) {
        self.state.step = clock.step;
        self.state.seconds = clock.seconds;
        self.state.tokens_per_second = clock.items_per_second;
        (self.on_progress)(Progress {
            step: clock.step,
            total_steps: self.state.options.steps,
            nll: self.last_nll,
            learning_rate,
            tokens_per_second: clock.items_per_second,
        });
    }

    fn validate(&mut self, model: &ContinuationModel, clock: Clock) {
        let (sum, steps) = std::mem::take(&mut self.nll_since_validation);
        let point = ValidationPoint {
            step: clock.step,
            seconds: clock.seconds,
            train_nll: sum / steps.max(1) as f64,
            valid_nll: mean_nll(model, &self.valid_set, 16, &self.plain),
        };
        (self.on_validation)(&point);
        self.state.history.push(point);
    }

    fn save(&self, model: &ContinuationModel, optimizer: &ModuleOptimizer) -> Result<(), CheckpointError> {
        checkpoint::save(self.out_dir, model, optimizer, &self.state, &self.state.config)
    }
}
