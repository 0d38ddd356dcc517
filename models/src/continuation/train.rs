//! Training the continuation transformer: AdamW with warm-up and exponential decay, gradient
//! clipping, validation NLL on a fixed set of held-out sequences, checkpoints and resume.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
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
        let decayed = self.learning_rate * self.decay.powi((step - self.warmup_steps).min(i32::MAX as usize) as i32);
        decayed.max(self.min_learning_rate)
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

/// Trains into `out_dir`, resuming from a checkpoint there (with the same config).
pub fn train(
    corpus: &Corpus,
    config: ContinuationConfig,
    options: TrainOptions,
    out_dir: &Path,
    mut on_progress: impl FnMut(Progress),
    mut on_validation: impl FnMut(&ValidationPoint),
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

    let device = Device::flex().autodiff();
    let plain = Device::flex();
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
    let mut rng = StdRng::seed_from_u64(options.seed ^ (state.step as u64).wrapping_mul(0x9E37_79B9));
    let started = Instant::now();
    let seconds_before = state.seconds;
    let (mut nll_sum, mut seen, mut tokens_seen) = (0.0, 0usize, 0usize);
    while state.step < options.steps {
        let batch: Vec<Vec<Token>> = (0..options.batch).filter_map(|_| sampler.draw(&mut rng, length)).collect();
        let (loss, counted) = model.loss(ids_tensor(&batch, length, &device));
        let nll = f64::from(loss.clone().into_scalar::<f32>());
        let gradients = GradientsParams::from_grads(loss.backward(), &model);
        let lr = options.learning_rate_at(state.step);
        model = optimizer.step(lr, model, gradients);
        state.step += 1;
        nll_sum += nll;
        seen += 1;
        tokens_seen += counted;
        let elapsed = started.elapsed().as_secs_f64();
        state.seconds = seconds_before + elapsed;
        state.tokens_per_second = tokens_seen as f64 / elapsed.max(1e-9);
        on_progress(Progress {
            step: state.step,
            total_steps: options.steps,
            nll,
            learning_rate: lr,
            tokens_per_second: state.tokens_per_second,
        });
        if state.step.is_multiple_of(options.validate_every.max(1)) || state.step == options.steps {
            let scored = model.valid();
            let point = ValidationPoint {
                step: state.step,
                seconds: state.seconds,
                train_nll: nll_sum / seen.max(1) as f64,
                valid_nll: mean_nll(&scored, &valid_set, 16, &plain),
            };
            (nll_sum, seen) = (0.0, 0);
            on_validation(&point);
            state.history.push(point);
            checkpoint::save(out_dir, &model, &optimizer, &state, &state.config)?;
        }
    }
    Ok(state)
}
