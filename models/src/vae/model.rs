//! MusicVAE (Roberts et al. 2018) for melodies: a bidirectional LSTM encoder gives μ and σ of
//! the latent code z; a decoder rebuilds the melody from z, either flat (one LSTM over every
//! step) or hierarchical (a "conductor" LSTM emits one embedding per bar and a bar decoder
//! plays each bar from its embedding).
//!
//! Sized for training on a 2-core CPU. Long inputs are encoded hierarchically (a BiLSTM over
//! each bar, then a BiLSTM over the bars, as MusicVAE's `HierarchicalLstmEncoder` does): the
//! bars run as one batch, so a 16-bar melody costs 32 sequential steps instead of 256.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::{log_softmax, softplus, tanh};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

use super::cpu_decode::{CpuDecoder, WeightsError};
use super::lstm::{FusedLstm, State};
use super::melody::{CLASSES, STEPS_PER_BAR};
pub use super::sampling::START;
use super::sampling::choose;

#[derive(Config, Debug, PartialEq)]
pub struct MusicVaeConfig {
    /// Length of the melodies in bars of 16 steps.
    pub bars: usize,
    /// A conductor and bar decoder (true) or one flat LSTM decoder (false).
    pub hierarchical: bool,
    #[config(default = 64)]
    pub embedding: usize,
    #[config(default = 256)]
    pub encoder_hidden: usize,
    #[config(default = 256)]
    pub conductor_hidden: usize,
    #[config(default = 256)]
    pub decoder_hidden: usize,
    #[config(default = 128)]
    pub latent: usize,
    /// KL below this many nats per melody costs nothing (free bits).
    #[config(default = 48.0)]
    pub free_bits: f64,
    /// Weight of the KL term once annealed.
    #[config(default = 0.5)]
    pub max_beta: f64,
    /// β = max_beta · (1 − rate^step), as MusicVAE anneals it.
    #[config(default = 0.9995)]
    pub beta_rate: f64,
}

impl MusicVaeConfig {
    pub fn steps(&self) -> usize {
        self.bars * STEPS_PER_BAR
    }

    /// The same network, whatever the KL settings: weights trained under one config load into
    /// the other, so a run can resume with a new KL budget.
    pub fn same_network(&self, other: &Self) -> bool {
        let network = |c: &Self| {
            (c.bars, c.hierarchical, c.embedding, c.encoder_hidden, c.conductor_hidden, c.decoder_hidden, c.latent)
        };
        network(self) == network(other)
    }

    /// Whether the encoder reads bar by bar (for inputs longer than 2 bars).
    fn hierarchical_encoder(&self) -> bool {
        self.bars > 2
    }

    pub fn beta(&self, step: usize) -> f64 {
        self.max_beta * (1.0 - self.beta_rate.powi(step.min(i32::MAX as usize) as i32))
    }

    pub fn init(&self, device: &Device) -> MusicVae {
        let e = self.encoder_hidden;
        let bar_encoder = self.hierarchical_encoder().then(|| BiLstm::new(2 * e, e, device));
        let decoder_input = self.embedding + if self.hierarchical { self.conductor_hidden } else { self.latent };
        MusicVae {
            embedding: EmbeddingConfig::new(CLASSES + 1, self.embedding).init(device),
            encoder: BiLstm::new(self.embedding, e, device),
            bar_encoder,
            mu: LinearConfig::new(2 * e, self.latent).init(device),
            sigma: LinearConfig::new(2 * e, self.latent).init(device),
            conductor: self.hierarchical.then(|| Conductor {
                init: LinearConfig::new(self.latent, 2 * self.conductor_hidden).init(device),
                lstm: FusedLstm::new(self.latent, self.conductor_hidden, device),
            }),
            decoder_init: LinearConfig::new(
                if self.hierarchical { self.conductor_hidden } else { self.latent },
                2 * self.decoder_hidden,
            )
            .init(device),
            decoder: FusedLstm::new(decoder_input, self.decoder_hidden, device),
            output: LinearConfig::new(self.decoder_hidden, CLASSES).init(device),
            bars: self.bars,
            hierarchical: self.hierarchical,
        }
    }
}

#[derive(Module, Debug)]
pub struct BiLstm {
    forward: FusedLstm,
    backward: FusedLstm,
}

impl BiLstm {
    pub(super) fn new(d_input: usize, d_hidden: usize, device: &Device) -> Self {
        Self { forward: FusedLstm::new(d_input, d_hidden, device), backward: FusedLstm::new(d_input, d_hidden, device) }
    }

    /// [B, T, in] → both directions' hidden state at every step, in time order, [B, T, 2·hidden].
    pub(super) fn outputs(&self, x: Tensor<3>) -> Tensor<3> {
        let device = x.device();
        let batch = x.dims()[0];
        let forward = self.forward.forward(x.clone(), self.forward.zero_state(batch, &device), false).0;
        let backward = self.backward.forward(x, self.backward.zero_state(batch, &device), true).0;
        Tensor::cat(vec![forward, backward], 2)
    }

    /// [B, T, in] → the final hidden states of both directions, [B, 2·hidden].
    pub(super) fn summary(&self, x: Tensor<3>) -> Tensor<2> {
        let device = x.device();
        let batch = x.dims()[0];
        let forward = self.forward.final_state(x.clone(), self.forward.zero_state(batch, &device), false);
        let backward = self.backward.final_state(x, self.backward.zero_state(batch, &device), true);
        Tensor::cat(vec![forward.hidden, backward.hidden], 1)
    }
}

#[derive(Module, Debug)]
pub struct Conductor {
    init: Linear,
    lstm: FusedLstm,
}

#[derive(Module, Debug)]
pub struct MusicVae {
    embedding: Embedding,
    encoder: BiLstm,
    bar_encoder: Option<BiLstm>,
    mu: Linear,
    sigma: Linear,
    conductor: Option<Conductor>,
    decoder_init: Linear,
    decoder: FusedLstm,
    output: Linear,
    pub bars: usize,
    pub hierarchical: bool,
}

/// The posterior of a batch: mean and standard deviation, each [B, latent].
#[derive(Debug, Clone)]
pub struct Posterior {
    pub mu: Tensor<2>,
    pub sigma: Tensor<2>,
}

impl Posterior {
    /// z = μ + σ·ε.
    pub fn sample(&self) -> Tensor<2> {
        let noise = self.mu.random_like(Distribution::Normal(0.0, 1.0));
        self.mu.clone() + self.sigma.clone() * noise
    }

    /// KL(q(z|x) ‖ N(0, I)) per melody, [B].
    pub fn kl(&self) -> Tensor<1> {
        let variance = self.sigma.clone().powi_scalar(2);
        let per_dim = (self.mu.clone().powi_scalar(2) + variance.clone() - variance.log() - 1.0) * 0.5;
        per_dim.sum_dim(1).squeeze_dim(1)
    }
}

/// What one training batch gives.
#[derive(Debug, Clone)]
pub struct Losses {
    /// Mean of reconstruction cross-entropy + β·max(KL − free bits, 0) per melody.
    pub total: Tensor<1>,
    /// Mean reconstruction cross-entropy per melody (nats).
    pub reconstruction: Tensor<1>,
    /// Mean KL per melody (nats).
    pub kl: Tensor<1>,
    /// Teacher-forced predictions [B, T] (argmax of the logits).
    pub predicted: Tensor<2, Int>,
}

impl MusicVae {
    pub fn steps(&self) -> usize {
        self.bars * STEPS_PER_BAR
    }

    fn latent(&self) -> usize {
        self.mu.weight.dims()[1]
    }

    /// Encodes melodies [B, T] (token ids).
    pub fn encode(&self, tokens: Tensor<2, Int>) -> Posterior {
        let [batch, steps] = tokens.dims();
        let embedded = self.embedding.forward(tokens);
        let summary = match &self.bar_encoder {
            None => self.encoder.summary(embedded),
            Some(bar_level) => {
                let bars = steps / STEPS_PER_BAR;
                let per_bar = embedded.reshape([batch * bars, STEPS_PER_BAR, self.embedding.weight.dims()[1]]);
                let bar_summaries = self.encoder.summary(per_bar);
                let width = bar_summaries.dims()[1];
                bar_level.summary(bar_summaries.reshape([batch, bars, width]))
            }
        };
        let mu = self.mu.forward(summary.clone());
        let sigma = softplus(self.sigma.forward(summary), 1.0) + 1e-4;
        Posterior { mu, sigma }
    }

    /// The initial decoder state from a conditioning vector [N, d].
    fn decoder_state(&self, conditioning: Tensor<2>) -> State {
        let h = self.decoder.d_hidden;
        let both = tanh(self.decoder_init.forward(conditioning));
        State { hidden: both.clone().narrow(1, 0, h), cell: both.narrow(1, h, h) }
    }

    /// The conductor's per-bar embeddings [B, bars, conductor_hidden].
    fn conduct(&self, conductor: &Conductor, z: Tensor<2>) -> Tensor<3> {
        let [batch, latent] = z.dims();
        let h = conductor.lstm.d_hidden;
        let both = tanh(conductor.init.forward(z.clone()));
        let state = State { hidden: both.clone().narrow(1, 0, h), cell: both.narrow(1, h, h) };
        let inputs = z.reshape([batch, 1, latent]).repeat_dim(1, self.bars);
        conductor.lstm.forward(inputs, state, false).0
    }

    /// Teacher-forced logits [B, T, CLASSES] for targets [B, T] given z [B, latent].
    pub fn teacher_forced_logits(&self, z: Tensor<2>, targets: Tensor<2, Int>) -> Tensor<3> {
        let [batch, steps] = targets.dims();
        let device = targets.device();
        // Inputs are the targets shifted right by one, starting from START.
        let start = Tensor::<2, Int>::full([batch, 1], START as i64, &device);
        let previous = Tensor::cat(vec![start, targets.narrow(1, 0, steps - 1)], 1);
        let embedded = self.embedding.forward(previous);
        let hidden = match &self.conductor {
            None => {
                let conditioning = z.clone().reshape([batch, 1, self.latent()]).repeat_dim(1, steps);
                let inputs = Tensor::cat(vec![embedded, conditioning], 2);
                self.decoder.forward(inputs, self.decoder_state(z), false).0
            }
            Some(conductor) => {
                // Bars are independent given their embeddings, so all bars decode as one batch.
                let bars = self.bars;
                let embeddings = self.conduct(conductor, z);
                let width = embeddings.dims()[2];
                let per_bar = embeddings.reshape([batch * bars, width]);
                let conditioning = per_bar.clone().reshape([batch * bars, 1, width]).repeat_dim(1, STEPS_PER_BAR);
                let embedded = embedded.reshape([batch * bars, STEPS_PER_BAR, self.embedding.weight.dims()[1]]);
                let inputs = Tensor::cat(vec![embedded, conditioning], 2);
                let out = self.decoder.forward(inputs, self.decoder_state(per_bar), false).0;
                out.reshape([batch, steps, self.decoder.d_hidden])
            }
        };
        self.output.forward(hidden)
    }

    /// The training objective on a batch of melodies [B, T].
    pub fn losses(&self, tokens: Tensor<2, Int>, config: &MusicVaeConfig, step: usize) -> Losses {
        let [batch, steps] = tokens.dims();
        let posterior = self.encode(tokens.clone());
        let z = posterior.sample();
        let logits = self.teacher_forced_logits(z, tokens.clone());
        let predicted = logits.clone().argmax(2).reshape([batch, steps]);
        let log_probs = log_softmax(logits, 2);
        let picked = log_probs.gather(2, tokens.reshape([batch, steps, 1])).reshape([batch, steps]);
        let reconstruction = picked.sum_dim(1).squeeze_dim::<1>(1).neg();
        let kl = posterior.kl();
        let kl_cost = (kl.clone() - config.free_bits).clamp_min(0.0) * config.beta(step);
        let total = (reconstruction.clone() + kl_cost).mean();
        Losses { total, reconstruction: reconstruction.mean(), kl: kl.mean(), predicted }
    }

    /// The decoder's weights copied out for `CpuDecoder`, which decodes one point at a time
    /// faster than these tensor operations can on the CPU.
    pub fn cpu_decoder(&self) -> Result<CpuDecoder, WeightsError> {
        CpuDecoder::new(
            self.bars,
            self.embedding.weight.val(),
            &self.decoder_init,
            &self.decoder,
            self.conductor.as_ref().map(|c| (&c.init, &c.lstm)),
            &self.output,
        )
    }

    /// Decodes z [B, latent] step by step, each step fed the previous output: greedy when
    /// `temperature` is 0, else sampled from the softmax at that temperature with `rng`.
    pub fn decode(&self, z: Tensor<2>, temperature: f64, rng: &mut impl rand::Rng) -> Vec<Vec<u32>> {
        let [batch, _] = z.dims();
        let device = z.device();
        let mut tokens: Vec<Vec<u32>> = vec![Vec::with_capacity(self.steps()); batch];
        let mut previous = vec![START; batch];
        let mut play = |conditioning: Tensor<2>,
                        state: State,
                        steps: usize,
                        previous: &mut Vec<u32>,
                        tokens: &mut Vec<Vec<u32>>| {
            let mut state = state;
            let width = conditioning.dims()[1];
            let conditioning = conditioning.reshape([batch, 1, width]);
            for _ in 0..steps {
                let ids: Vec<i64> = previous.iter().map(|&t| i64::from(t)).collect();
                let embedded = self.embedding.forward(Tensor::from_data(TensorData::new(ids, [batch, 1]), &device));
                let input = Tensor::cat(vec![embedded, conditioning.clone()], 2);
                let gates = self.decoder.project(input).reshape([batch, 4 * self.decoder.d_hidden]);
                state = self.decoder.step(gates, state);
                let logits: Vec<f32> = self
                    .output
                    .forward(state.hidden.clone())
                    .into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .unwrap_or_default();
                for ((row, prev), out) in logits.chunks(CLASSES).zip(previous.iter_mut()).zip(tokens.iter_mut()) {
                    let chosen = choose(row, temperature, rng);
                    *prev = chosen;
                    out.push(chosen);
                }
            }
        };
        match &self.conductor {
            None => play(z.clone(), self.decoder_state(z), self.steps(), &mut previous, &mut tokens),
            Some(conductor) => {
                let embeddings = self.conduct(conductor, z);
                for bar in 0..self.bars {
                    let embedding = embeddings.clone().narrow(1, bar, 1).reshape([batch, embeddings.dims()[2]]);
                    play(embedding.clone(), self.decoder_state(embedding), STEPS_PER_BAR, &mut previous, &mut tokens);
                }
            }
        }
        tokens
    }
}
