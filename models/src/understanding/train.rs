//! Training the understanding encoder: pre-training (restoring hidden notes, chosen at random
//! or by an adversarial masker) and fine-tuning on the style task (with or without mask
//! fine-tuning), both through the shared training loop with checkpoints and resume.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::dataset::{CorpusSampler, StyleSampler, labelled_passages, load_works};
use super::evaluate::{StyleScores, style_scores};
use super::masking::{corrupt, mask_for_fine_tuning, masked_count, random_positions, sampled_positions};
use super::model::{Masker, NoteBatch, UnderstandingConfig, UnderstandingModel};
use super::octuple::{FIELDS, Octuple};
use crate::checkpoint::{self, CheckpointError};
use crate::data::{Corpus, Split};
use crate::training::{Clock, TrainingRun, train_until};

/// The encoder's own weights in a pre-training checkpoint (fine-tuning starts from them).
pub const ENCODER_FILE: &str = "encoder.bpk";
/// Passages of the style task, in bars (what the Analyse panel and the evaluation score).
pub const PASSAGE_BARS: u32 = 16;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error("the {0:?} split has no readable works; is the corpus converted?")]
    NoWorks(Split),
    #[error("cannot read the pre-trained encoder {path}: {message}")]
    Pretrained { path: PathBuf, message: String },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// How pre-training chooses the notes to hide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Masking {
    Random,
    Adversarial,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    pub batch: usize,
    pub steps: usize,
    pub learning_rate: f64,
    pub warmup_steps: usize,
    pub min_learning_rate: f64,
    pub validate_every: usize,
    pub seed: u64,
    pub max_transpose: i32,
}

impl Schedule {
    /// Linear warm-up, then cosine decay to the floor at the last step.
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.learning_rate * (step + 1) as f64 / self.warmup_steps.max(1) as f64;
        }
        let span = self.steps.saturating_sub(self.warmup_steps).max(1) as f64;
        let t = ((step - self.warmup_steps) as f64 / span).min(1.0);
        self.min_learning_rate + (self.learning_rate - self.min_learning_rate) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PretrainOptions {
    pub schedule: Schedule,
    pub masking: Masking,
    /// The fraction of each window's notes hidden (fixed, whoever chooses them).
    pub mask_fraction: f64,
    /// The weight of the masker's entropy in its loss (keeps it from settling on one pattern).
    pub masker_entropy: f64,
    pub validation_windows: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PretrainPoint {
    pub step: usize,
    pub seconds: f64,
    /// Mean training restoration NLL since the previous validation (nats per field).
    pub train_nll: f64,
    /// Restoration NLL of randomly hidden notes in held-out windows, drawn as the corpus is.
    pub valid_nll: f64,
    /// The same on windows drawn class by class (where the majority's bias shows).
    pub valid_nll_balanced: f64,
    /// Fields of hidden notes restored exactly, held-out, class by class.
    pub valid_field_accuracy_balanced: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PretrainState {
    pub config: UnderstandingConfig,
    pub options: PretrainOptions,
    pub manifest_sha256: String,
    pub train_works: usize,
    pub step: usize,
    pub seconds: f64,
    pub notes_per_second: f64,
    pub history: Vec<PretrainPoint>,
}

/// The encoder and, in adversarial pre-training, its masker: one module, one optimiser. The
/// restoring loss does not reach the masker (its choice is discrete) and the masker's loss
/// does not reach the encoder (its reward is a number), so each learns only its own goal.
#[derive(Module, Debug)]
pub struct Pretraining {
    pub encoder: UnderstandingModel,
    pub masker: Option<Masker>,
}

fn optimizer() -> ModuleOptimizer {
    AdamWConfig::new().with_weight_decay(0.01).with_grad_clipping(Some(GradientClippingConfig::Norm(1.0))).init()
}

/// A mask tensor [B, T]: 1 at the chosen positions.
fn chosen_tensor(chosen: &[Vec<usize>], steps: usize, device: &Device) -> Tensor<2> {
    let mut values = vec![0.0f32; chosen.len() * steps];
    for (b, positions) in chosen.iter().enumerate() {
        for &p in positions {
            values[b * steps + p] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(values, [chosen.len(), steps]), device)
}

fn rows(tensor: Tensor<2>) -> Vec<Vec<f32>> {
    let [_, steps] = tensor.dims();
    let values = tensor.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
    values.chunks(steps.max(1)).map(<[f32]>::to_vec).collect()
}

/// Mean restoration NLL and exact field accuracy of hidden notes, with positions chosen at
/// random from a fixed seed (the same for every model compared).
pub fn restoration_scores(
    model: &UnderstandingModel,
    windows: &[Vec<Octuple>],
    fraction: f64,
    seed: u64,
    device: &Device,
) -> (f64, f64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut nll_sum, mut hits, mut count) = (0.0f64, 0usize, 0usize);
    for chunk in windows.chunks(16) {
        let chosen: Vec<Vec<usize>> =
            chunk.iter().map(|w| random_positions(&mut rng, w.len(), masked_count(w.len(), fraction))).collect();
        let corrupted: Vec<Vec<Octuple>> =
            chunk.iter().zip(&chosen).map(|(w, c)| corrupt(&mut rng, w, c)).collect();
        let clean = NoteBatch::new(chunk, device);
        let hidden = model.encode(&NoteBatch::new(&corrupted, device));
        let nll = rows(model.restoration_nll(hidden.clone(), clean.tokens.clone()));
        let restored = model.restored(hidden).into_data().convert::<i64>().try_into_vec::<i64>().unwrap_or_default();
        let steps = clean.present.dims()[1];
        for (b, positions) in chosen.iter().enumerate() {
            for &p in positions {
                nll_sum += f64::from(nll[b][p]);
                count += 1;
                for f in 0..FIELDS {
                    hits += usize::from(restored[(b * steps + p) * FIELDS + f] == i64::from(chunk[b][p][f]));
                }
            }
        }
    }
    (nll_sum / count.max(1) as f64, hits as f64 / (count * FIELDS).max(1) as f64)
}

/// Pre-trains into `out_dir`, resuming from a checkpoint there (same config and masking).
pub fn pretrain(
    corpus: &Corpus,
    config: UnderstandingConfig,
    options: PretrainOptions,
    out_dir: &Path,
    device: &Device,
    on_step: impl FnMut(Clock, f64),
    on_validation: impl FnMut(&PretrainPoint),
) -> Result<PretrainState, TrainError> {
    let train_works = load_works(corpus, Split::Train);
    if train_works.is_empty() {
        return Err(TrainError::NoWorks(Split::Train));
    }
    let valid_works = load_works(corpus, Split::Valid);
    if valid_works.is_empty() {
        return Err(TrainError::NoWorks(Split::Valid));
    }
    let mut rng = StdRng::seed_from_u64(options.schedule.seed);
    let count = options.validation_windows;
    let valid_sampler = CorpusSampler::new(valid_works.clone());
    let valid_corpus: Vec<Vec<Octuple>> =
        (0..count).filter_map(|_| valid_sampler.draw(&mut rng, None, config.max_notes, 0)).collect();
    let valid_styles = StyleSampler::new(&valid_works);
    let valid_balanced: Vec<Vec<Octuple>> =
        (0..count).filter_map(|_| valid_styles.draw(&mut rng, None, config.max_notes, 0).map(|(w, _)| w)).collect();

    let plain = device.clone();
    let device = plain.clone().autodiff();
    let adversarial = options.masking == Masking::Adversarial;
    let mut model =
        Pretraining { encoder: config.init(&device), masker: adversarial.then(|| config.init_masker(&device)) };
    let mut optimizer = optimizer();
    let mut state = PretrainState {
        config: config.clone(),
        options: options.clone(),
        manifest_sha256: corpus.manifest_sha256.clone(),
        train_works: train_works.len(),
        step: 0,
        seconds: 0.0,
        notes_per_second: 0.0,
        history: Vec::new(),
    };
    let masking = options.masking;
    if let Some((m, record, saved)) = checkpoint::resume(out_dir, model.clone(), |s: &PretrainState| {
        s.config == config && s.options.masking == masking
    })? {
        model = m;
        optimizer = optimizer.load_record(record);
        state.step = saved.step;
        state.seconds = saved.seconds;
        state.history = saved.history;
    }
    let clock = Clock { step: state.step, seconds: state.seconds, items_per_second: 0.0 };
    let rng = StdRng::seed_from_u64(options.schedule.seed ^ (state.step as u64).wrapping_mul(0x9E37_79B9));
    let mut run = PretrainRun {
        state,
        out_dir,
        sampler: CorpusSampler::new(train_works),
        rng,
        device,
        plain,
        valid_corpus,
        valid_balanced,
        nll_since_validation: (0.0, 0),
        on_step,
        on_validation,
    };
    let steps = options.schedule.steps;
    train_until(&mut run, model, &mut optimizer, clock, steps, options.schedule.validate_every)?;
    Ok(run.state)
}

struct PretrainRun<'a, S, V> {
    state: PretrainState,
    out_dir: &'a Path,
    sampler: CorpusSampler,
    rng: StdRng,
    device: Device,
    plain: Device,
    valid_corpus: Vec<Vec<Octuple>>,
    valid_balanced: Vec<Vec<Octuple>>,
    nll_since_validation: (f64, usize),
    on_step: S,
    on_validation: V,
}

impl<S: FnMut(Clock, f64), V: FnMut(&PretrainPoint)> TrainingRun for PretrainRun<'_, S, V> {
    type Model = Pretraining;

    fn batch_loss(&mut self, model: &Pretraining, _step: usize) -> (Tensor<1>, usize) {
        let options = &self.state.options;
        let max_notes = self.state.config.max_notes;
        let windows: Vec<Vec<Octuple>> = (0..options.schedule.batch)
            .filter_map(|_| self.sampler.draw(&mut self.rng, None, max_notes, options.schedule.max_transpose))
            .collect();
        let clean = NoteBatch::new(&windows, &self.device);
        let steps = clean.present.dims()[1];
        let scores = model.masker.as_ref().map(|m| m.scores(&clean));
        let score_rows = scores.as_ref().map(|s| rows(s.clone()));
        let chosen: Vec<Vec<usize>> = windows
            .iter()
            .enumerate()
            .map(|(b, w)| {
                let k = masked_count(w.len(), options.mask_fraction);
                match &score_rows {
                    Some(s) => sampled_positions(&mut self.rng, &s[b][..w.len()], k),
                    None => random_positions(&mut self.rng, w.len(), k),
                }
            })
            .collect();
        let corrupted: Vec<Vec<Octuple>> =
            windows.iter().zip(&chosen).map(|(w, c)| corrupt(&mut self.rng, w, c)).collect();
        let hidden = model.encoder.encode(&NoteBatch::new(&corrupted, &self.device));
        let nll = model.encoder.restoration_nll(hidden, clean.tokens.clone());
        let selected = chosen_tensor(&chosen, steps, &self.device);
        let hidden_notes: usize = chosen.iter().map(Vec::len).sum();
        let restoring = (nll.clone() * selected.clone()).sum() / hidden_notes.max(1) as f32;
        let restoring_value = f64::from(restoring.clone().into_scalar::<f32>());
        self.nll_since_validation.0 += restoring_value;
        self.nll_since_validation.1 += 1;
        let loss = match scores {
            Some(scores) => {
                restoring + adversary_loss(scores, &nll, &chosen, &clean, options.masker_entropy, &self.device)
            }
            None => restoring,
        };
        (loss, windows.iter().map(Vec::len).sum())
    }

    fn learning_rate(&self, step: usize) -> f64 {
        self.state.options.schedule.learning_rate_at(step)
    }

    fn stepped(&mut self, clock: Clock, learning_rate: f64) {
        self.state.step = clock.step;
        self.state.seconds = clock.seconds;
        self.state.notes_per_second = clock.items_per_second;
        (self.on_step)(clock, learning_rate);
    }

    fn validate(&mut self, model: &Pretraining, clock: Clock) {
        let (sum, steps) = std::mem::take(&mut self.nll_since_validation);
        let fraction = self.state.options.mask_fraction;
        let seed = self.state.options.schedule.seed;
        let (valid_nll, _) = restoration_scores(&model.encoder, &self.valid_corpus, fraction, seed, &self.plain);
        let (valid_nll_balanced, valid_field_accuracy_balanced) =
            restoration_scores(&model.encoder, &self.valid_balanced, fraction, seed, &self.plain);
        let point = PretrainPoint {
            step: clock.step,
            seconds: clock.seconds,
            train_nll: sum / steps.max(1) as f64,
            valid_nll,
            valid_nll_balanced,
            valid_field_accuracy_balanced,
        };
        (self.on_validation)(&point);
        self.state.history.push(point);
    }

    fn save(&self, model: &Pretraining, optimizer: &ModuleOptimizer) -> Result<(), CheckpointError> {
        checkpoint::save(self.out_dir, model, optimizer, &self.state, &self.state.config)?;
        let path = self.out_dir.join(ENCODER_FILE);
        checkpoint::atomically(&path, |p| {
            model.encoder.valid().into_record().save(p).map_err(|e| e.to_string())
        })
    }
}

/// The masker's REINFORCE loss: the log-probability of each note it hid, weighted by how much
/// harder than average that note was to restore (the encoder's NLL, a number here), minus an
/// entropy bonus over the window's notes.
fn adversary_loss(
    scores: Tensor<2>,
    nll: &Tensor<2>,
    chosen: &[Vec<usize>],
    clean: &NoteBatch,
    entropy_weight: f64,
    device: &Device,
) -> Tensor<1> {
    let [batch, steps] = scores.dims();
    let nll_rows = rows(nll.clone());
    let rewards: Vec<f32> = chosen.iter().enumerate().flat_map(|(b, c)| c.iter().map(|&p| nll_rows[b][p]).collect::<Vec<_>>()).collect();
    let mean = rewards.iter().sum::<f32>() / rewards.len().max(1) as f32;
    let spread = (rewards.iter().map(|r| (r - mean).powi(2)).sum::<f32>() / rewards.len().max(1) as f32).sqrt().max(1e-3);
    let mut advantage = vec![0.0f32; batch * steps];
    for (b, positions) in chosen.iter().enumerate() {
        for &p in positions {
            advantage[b * steps + p] = (nll_rows[b][p] - mean) / spread;
        }
    }
    let advantage = Tensor::<2>::from_data(TensorData::new(advantage, [batch, steps]), device);
    // Padding can never be chosen: a score far below the rest.
    let padding = clean.present.clone().equal_elem(0.0);
    let log_p = log_softmax(scores.mask_fill(padding, -1e4), 1);
    let hidden = rewards.len().max(1) as f32;
    let reinforce = (log_p.clone() * advantage).sum().neg() / hidden;
    let entropy = (log_p.clone().exp() * log_p * clean.present.clone()).sum().neg() / batch as f32;
    reinforce - entropy * entropy_weight as f32
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FineTuneOptions {
    pub schedule: Schedule,
    /// The fraction of input notes set to `Mask` while fine-tuning (0 = no mask fine-tuning).
    pub mask_fraction: f64,
    /// Where the pre-trained encoder came from (None = trained from scratch).
    pub pretrained: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FineTunePoint {
    pub step: usize,
    pub seconds: f64,
    pub train_loss: f64,
    /// On the validation split's 16-bar passages.
    pub valid: StyleScores,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FineTuneState {
    pub config: UnderstandingConfig,
    pub options: FineTuneOptions,
    pub manifest_sha256: String,
    pub works_per_class: Vec<usize>,
    pub step: usize,
    pub seconds: f64,
    pub notes_per_second: f64,
    pub history: Vec<FineTunePoint>,
}

/// The encoder of a pre-training checkpoint.
pub fn pretrained_encoder(config: &UnderstandingConfig, dir: &Path, device: &Device) -> Result<UnderstandingModel, TrainError> {
    let path = dir.join(ENCODER_FILE);
    checkpoint::with_record_file(config.init(device), &path).map_err(|message| TrainError::Pretrained { path, message })
}

/// Fine-tunes the style task into `out_dir`, from the pre-trained encoder in
/// `options.pretrained` (or from scratch), resuming from a checkpoint there.
pub fn fine_tune_style(
    corpus: &Corpus,
    config: UnderstandingConfig,
    options: FineTuneOptions,
    out_dir: &Path,
    device: &Device,
    on_step: impl FnMut(Clock, f64),
    on_validation: impl FnMut(&FineTunePoint),
) -> Result<FineTuneState, TrainError> {
    let train_works = load_works(corpus, Split::Train);
    let valid_works = load_works(corpus, Split::Valid);
    if valid_works.is_empty() {
        return Err(TrainError::NoWorks(Split::Valid));
    }
    let sampler = StyleSampler::new(&train_works);
    if sampler.counts().iter().all(|&c| c == 0) {
        return Err(TrainError::NoWorks(Split::Train));
    }
    let valid_set: Vec<(Vec<Octuple>, usize)> = labelled_passages(&valid_works, PASSAGE_BARS, config.max_notes, 200)
        .into_iter()
        .map(|p| (p.tokens, p.class))
        .collect();
    let plain = device.clone();
    let device = plain.clone().autodiff();
    let mut model = match &options.pretrained {
        Some(dir) => pretrained_encoder(&config, dir, &device)?,
        None => config.init(&device),
    };
    let mut optimizer = optimizer();
    let mut state = FineTuneState {
        config: config.clone(),
        options: options.clone(),
        manifest_sha256: corpus.manifest_sha256.clone(),
        works_per_class: sampler.counts(),
        step: 0,
        seconds: 0.0,
        notes_per_second: 0.0,
        history: Vec::new(),
    };
    if let Some((m, record, saved)) =
        checkpoint::resume(out_dir, model.clone(), |s: &FineTuneState| s.config == config)?
    {
        model = m;
        optimizer = optimizer.load_record(record);
        state.step = saved.step;
        state.seconds = saved.seconds;
        state.history = saved.history;
    }
    let clock = Clock { step: state.step, seconds: state.seconds, items_per_second: 0.0 };
    let rng = StdRng::seed_from_u64(options.schedule.seed ^ (state.step as u64).wrapping_mul(0x9E37_79B9));
    let mut run = StyleRun {
        state,
        out_dir,
        sampler,
        rng,
        device,
        plain,
        valid_set,
        loss_since_validation: (0.0, 0),
        on_step,
        on_validation,
    };
    let steps = options.schedule.steps;
    train_until(&mut run, model, &mut optimizer, clock, steps, options.schedule.validate_every)?;
    Ok(run.state)
}

struct StyleRun<'a, S, V> {
    state: FineTuneState,
    out_dir: &'a Path,
    sampler: StyleSampler,
    rng: StdRng,
    device: Device,
    plain: Device,
    valid_set: Vec<(Vec<Octuple>, usize)>,
    loss_since_validation: (f64, usize),
    on_step: S,
    on_validation: V,
}

impl<S: FnMut(Clock, f64), V: FnMut(&FineTunePoint)> TrainingRun for StyleRun<'_, S, V> {
    type Model = UnderstandingModel;

    fn batch_loss(&mut self, model: &UnderstandingModel, _step: usize) -> (Tensor<1>, usize) {
        let options = &self.state.options;
        let max_notes = self.state.config.max_notes;
        let drawn: Vec<(Vec<Octuple>, usize)> = (0..options.schedule.batch)
            .filter_map(|_| {
                self.sampler.draw(&mut self.rng, Some(PASSAGE_BARS), max_notes, options.schedule.max_transpose)
            })
            .collect();
        let inputs: Vec<Vec<Octuple>> =
            drawn.iter().map(|(w, _)| mask_for_fine_tuning(&mut self.rng, w, options.mask_fraction)).collect();
        let labels: Vec<i64> = drawn.iter().map(|(_, c)| *c as i64).collect();
        let count = labels.len();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [count]), &self.device);
        let log_p = log_softmax(model.style_logits(&NoteBatch::new(&inputs, &self.device)), 1);
        let loss = log_p.gather(1, labels.reshape([count, 1])).mean().neg();
        self.loss_since_validation.0 += f64::from(loss.clone().into_scalar::<f32>());
        self.loss_since_validation.1 += 1;
        (loss.reshape([1]), inputs.iter().map(Vec::len).sum())
    }

    fn learning_rate(&self, step: usize) -> f64 {
        self.state.options.schedule.learning_rate_at(step)
    }

    fn stepped(&mut self, clock: Clock, learning_rate: f64) {
        self.state.step = clock.step;
        self.state.seconds = clock.seconds;
        self.state.notes_per_second = clock.items_per_second;
        (self.on_step)(clock, learning_rate);
    }

    fn validate(&mut self, model: &UnderstandingModel, clock: Clock) {
        let (sum, steps) = std::mem::take(&mut self.loss_since_validation);
        let valid = style_scores(&self.valid_set, |windows| super::evaluate::style_probabilities(model, windows, &self.plain));
        let point = FineTunePoint { step: clock.step, seconds: clock.seconds, train_loss: sum / steps.max(1) as f64, valid };
        (self.on_validation)(&point);
        self.state.history.push(point);
    }

    fn save(&self, model: &UnderstandingModel, optimizer: &ModuleOptimizer) -> Result<(), CheckpointError> {
        checkpoint::save(self.out_dir, model, optimizer, &self.state, &self.state.config)
    }
}
