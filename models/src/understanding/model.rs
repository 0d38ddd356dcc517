//! A BERT encoder over compound note tokens (MidiBERT with Octuple input): each field embedded
//! and the embeddings summed with a learned position, pre-norm bidirectional blocks, and heads
//! for pre-training (one per field, to restore masked notes) and for the tasks (the style of a
//! passage; melody or accompaniment and a velocity class per note).
//!
//! The masker of adversarial pre-training is a smaller encoder of the same kind scoring each
//! note: how much it wants that note hidden.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, log_softmax};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use super::octuple::{FIELDS, Octuple, vocabulary};
use super::styles::STYLE_CLASSES;

/// Velocity classes of the velocity task (pp, p, mp, mf, f, ff).
pub const VELOCITY_CLASSES: usize = 6;

#[derive(Config, Debug, PartialEq)]
pub struct UnderstandingConfig {
    #[config(default = 128)]
    pub d_model: usize,
    #[config(default = 4)]
    pub heads: usize,
    #[config(default = 4)]
    pub layers: usize,
    #[config(default = 512)]
    pub d_ff: usize,
    /// The longest window in notes (learned positions).
    #[config(default = 256)]
    pub max_notes: usize,
    #[config(default = 0.1)]
    pub dropout: f64,
}

impl UnderstandingConfig {
    pub fn init(&self, device: &Device) -> UnderstandingModel {
        let linear = |from: usize, to: usize| LinearConfig::new(from, to).init(device);
        UnderstandingModel {
            input: NoteEmbedding::new(self.d_model, self.max_notes, device),
            blocks: (0..self.layers).map(|_| EncoderBlock::new(self.d_model, self.heads, self.d_ff, self.dropout, device)).collect(),
            norm: LayerNormConfig::new(self.d_model).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            field_heads: (0..FIELDS).map(|f| linear(self.d_model, vocabulary(f))).collect(),
            style_head: linear(self.d_model, STYLE_CLASSES.len()),
            melody_head: linear(self.d_model, 2),
            velocity_head: linear(self.d_model, VELOCITY_CLASSES),
            max_notes: self.max_notes,
        }
    }

    /// The masker for adversarial pre-training: a quarter of the encoder's width, one block.
    pub fn init_masker(&self, device: &Device) -> Masker {
        let d = (self.d_model / 4).max(16);
        Masker {
            input: NoteEmbedding::new(d, self.max_notes, device),
            block: EncoderBlock::new(d, 2, 2 * d, 0.0, device),
            norm: LayerNormConfig::new(d).init(device),
            score: LinearConfig::new(d, 1).init(device),
        }
    }
}

/// The fields' embeddings summed, plus the note's place in the window.
#[derive(Module, Debug)]
pub struct NoteEmbedding {
    fields: Vec<Embedding>,
    position: Embedding,
}

impl NoteEmbedding {
    fn new(d_model: usize, max_notes: usize, device: &Device) -> Self {
        Self {
            fields: (0..FIELDS).map(|f| EmbeddingConfig::new(vocabulary(f), d_model).init(device)).collect(),
            position: EmbeddingConfig::new(max_notes, d_model).init(device),
        }
    }

    /// tokens [B, T, FIELDS] → [B, T, d]
    fn forward(&self, tokens: Tensor<3, Int>) -> Tensor<3> {
        let [batch, steps, _] = tokens.dims();
        let device = tokens.device();
        let positions: Vec<i64> = (0..batch).flat_map(|_| 0..steps as i64).collect();
        let positions = Tensor::<2, Int>::from_data(TensorData::new(positions, [batch, steps]), &device);
        let mut x = self.position.forward(positions);
        for (f, embedding) in self.fields.iter().enumerate() {
            x = x + embedding.forward(tokens.clone().narrow(2, f, 1).reshape([batch, steps]));
        }
        x
    }
}

/// A pre-norm transformer block attending in both directions, padding left out.
#[derive(Module, Debug)]
pub struct EncoderBlock {
    attention_norm: LayerNorm,
    qkv: Linear,
    attention_out: Linear,
    ff_norm: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
    dropout: Dropout,
    heads: usize,
}

impl EncoderBlock {
    fn new(d_model: usize, heads: usize, d_ff: usize, dropout: f64, device: &Device) -> Self {
        Self {
            attention_norm: LayerNormConfig::new(d_model).init(device),
            qkv: LinearConfig::new(d_model, 3 * d_model).init(device),
            attention_out: LinearConfig::new(d_model, d_model).init(device),
            ff_norm: LayerNormConfig::new(d_model).init(device),
            ff_in: LinearConfig::new(d_model, d_ff).init(device),
            ff_out: LinearConfig::new(d_ff, d_model).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            heads,
        }
    }

    /// x [B, T, d]; `padding` [B, H, T, T], true where the key is padding.
    fn forward(&self, x: Tensor<3>, padding: Option<Tensor<4, Bool>>) -> Tensor<3> {
        let [batch, steps, d] = x.dims();
        let head_dim = d / self.heads;
        let qkv = self.qkv.forward(self.attention_norm.forward(x.clone()));
        let split =
            |i: usize| qkv.clone().narrow(2, i * d, d).reshape([batch, steps, self.heads, head_dim]).swap_dims(1, 2);
        let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: false };
        let attended =
            attention(split(0), split(1), split(2), padding, None, options).swap_dims(1, 2).reshape([batch, steps, d]);
        let x = x + self.dropout.forward(self.attention_out.forward(attended));
        let ff = self.ff_out.forward(gelu(self.ff_in.forward(self.ff_norm.forward(x.clone()))));
        x + self.dropout.forward(ff)
    }
}

/// A batch of windows as tensors: the tokens and which positions are notes.
#[derive(Debug, Clone)]
pub struct NoteBatch {
    /// [B, T, FIELDS]
    pub tokens: Tensor<3, Int>,
    /// [B, T]: 1 where a note is, 0 at padding.
    pub present: Tensor<2>,
    /// Notes per window.
    pub lengths: Vec<usize>,
}

impl NoteBatch {
    /// Windows padded to the longest (all non-empty, none longer than the model's max_notes).
    pub fn new(windows: &[Vec<Octuple>], device: &Device) -> Self {
        let steps = windows.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut ids = Vec::with_capacity(windows.len() * steps * FIELDS);
        let mut present = Vec::with_capacity(windows.len() * steps);
        for w in windows {
            for t in 0..steps {
                let token = w.get(t).copied().unwrap_or(super::octuple::PADDING);
                ids.extend(token.iter().map(|&v| i64::from(v)));
                present.push(if t < w.len() { 1.0f32 } else { 0.0 });
            }
        }
        let batch = windows.len();
        Self {
            tokens: Tensor::from_data(TensorData::new(ids, [batch, steps, FIELDS]), device),
            present: Tensor::from_data(TensorData::new(present, [batch, steps]), device),
            lengths: windows.iter().map(Vec::len).collect(),
        }
    }

    /// [B, H, T, T], true at padded keys; None when no window is padded.
    fn padding_mask(&self, heads: usize) -> Option<Tensor<4, Bool>> {
        let [batch, steps] = self.present.dims();
        if self.lengths.iter().all(|&l| l == steps) {
            return None;
        }
        Some(self.present.clone().equal_elem(0.0).reshape([batch, 1, 1, steps]).expand([batch, heads, steps, steps]))
    }
}

#[derive(Module, Debug)]
pub struct UnderstandingModel {
    input: NoteEmbedding,
    blocks: Vec<EncoderBlock>,
    norm: LayerNorm,
    dropout: Dropout,
    field_heads: Vec<Linear>,
    style_head: Linear,
    melody_head: Linear,
    velocity_head: Linear,
    pub max_notes: usize,
}

impl UnderstandingModel {
    /// The encoder's output [B, T, d].
    pub fn encode(&self, batch: &NoteBatch) -> Tensor<3> {
        let heads = self.blocks.first().map_or(1, |b| b.heads);
        let padding = batch.padding_mask(heads);
        let mut x = self.dropout.forward(self.input.forward(batch.tokens.clone()));
        for block in &self.blocks {
            x = block.forward(x, padding.clone());
        }
        self.norm.forward(x)
    }

    /// Per position, the mean over fields of the negative log-likelihood of `targets`
    /// [B, T, FIELDS] under the pre-training heads: [B, T].
    pub fn restoration_nll(&self, hidden: Tensor<3>, targets: Tensor<3, Int>) -> Tensor<2> {
        let [batch, steps, _] = hidden.dims();
        let mut total: Option<Tensor<2>> = None;
        for (f, head) in self.field_heads.iter().enumerate() {
            let log_probs = log_softmax(head.forward(hidden.clone()), 2);
            let target = targets.clone().narrow(2, f, 1);
            let nll = log_probs.gather(2, target).reshape([batch, steps]).neg();
            total = Some(match total {
                Some(t) => t + nll,
                None => nll,
            });
        }
        total.map_or_else(|| Tensor::zeros([batch, steps], &hidden.device()), |t| t / FIELDS as f32)
    }

    /// The restored fields' most likely values [B, T, FIELDS] (for accuracy).
    pub fn restored(&self, hidden: Tensor<3>) -> Tensor<3, Int> {
        let fields: Vec<Tensor<3, Int>> = self.field_heads.iter().map(|h| h.forward(hidden.clone()).argmax(2)).collect();
        Tensor::cat(fields, 2)
    }

    /// Style logits [B, classes]: the mean of the notes' outputs, classified.
    pub fn style_logits(&self, batch: &NoteBatch) -> Tensor<2> {
        let hidden = self.encode(batch);
        let [b, t, d] = hidden.dims();
        let present = batch.present.clone().reshape([b, t, 1]);
        let count = present.clone().sum_dim(1).clamp_min(1.0).reshape([b, 1]);
        let pooled = (hidden * present).sum_dim(1).reshape([b, d]) / count;
        self.style_head.forward(pooled)
    }

    /// Per note, melody-vs-accompaniment logits [B, T, 2].
    pub fn melody_logits(&self, batch: &NoteBatch) -> Tensor<3> {
        self.melody_head.forward(self.encode(batch))
    }

    /// Per note, velocity-class logits [B, T, 6].
    pub fn velocity_logits(&self, batch: &NoteBatch) -> Tensor<3> {
        self.velocity_head.forward(self.encode(batch))
    }
}

/// Adversarial pre-training's masker: a score per note, higher for notes it would rather hide.
#[derive(Module, Debug)]
pub struct Masker {
    input: NoteEmbedding,
    block: EncoderBlock,
    norm: LayerNorm,
    score: Linear,
}

impl Masker {
    /// Scores [B, T]; padding is not scored (callers leave it out).
    pub fn scores(&self, batch: &NoteBatch) -> Tensor<2> {
        let padding = batch.padding_mask(self.block.heads);
        let x = self.block.forward(self.input.forward(batch.tokens.clone()), padding);
        let [b, t, _] = x.dims();
        self.score.forward(self.norm.forward(x)).reshape([b, t])
    }
}
