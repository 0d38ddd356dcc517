//! A decoder-only transformer over the continuation vocabulary: pre-norm blocks, rotary
//! position encoding (relative, so a sliding window can continue past the training context),
//! tied input and output embeddings, and a key/value cache for generation.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::tensor::activation::{gelu, log_softmax};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::vocab::{Token, VOCAB_SIZE};

#[derive(Config, Debug, PartialEq)]
pub struct ContinuationConfig {
    #[config(default = 128)]
    pub d_model: usize,
    #[config(default = 4)]
    pub heads: usize,
    #[config(default = 4)]
    pub layers: usize,
    #[config(default = 512)]
    pub d_ff: usize,
    /// Training sequence length; generation slides a window of this size.
    #[config(default = 256)]
    pub context: usize,
    #[config(default = 0.1)]
    pub dropout: f64,
}

impl ContinuationConfig {
    pub fn init(&self, device: &Device) -> ContinuationModel {
        self.init_with_vocabulary(device, VOCAB_SIZE)
    }

    /// A model over a vocabulary of another size: only to read weights trained on an older
    /// vocabulary (see [`super::regroup`]).
    pub(crate) fn init_with_vocabulary(&self, device: &Device, vocabulary: usize) -> ContinuationModel {
        let blocks = (0..self.layers)
            .map(|_| Block {
                attention_norm: LayerNormConfig::new(self.d_model).init(device),
                qkv: LinearConfig::new(self.d_model, 3 * self.d_model).init(device),
                attention_out: LinearConfig::new(self.d_model, self.d_model).init(device),
                ff_norm: LayerNormConfig::new(self.d_model).init(device),
                ff_in: LinearConfig::new(self.d_model, self.d_ff).init(device),
                ff_out: LinearConfig::new(self.d_ff, self.d_model).init(device),
                dropout: DropoutConfig::new(self.dropout).init(),
                heads: self.heads,
            })
            .collect();
        ContinuationModel {
            // Small, as in GPT-2: the embedding is also the output layer, and unit-variance rows
            // would start every logit at a spread of √d.
            embedding: EmbeddingConfig::new(vocabulary, self.d_model)
                .with_initializer(Initializer::Normal { mean: 0.0, std: 0.02 })
                .init(device),
            blocks,
            norm: LayerNormConfig::new(self.d_model).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            context: self.context,
        }
    }
}

#[derive(Module, Debug)]
pub struct Block {
    attention_norm: LayerNorm,
    qkv: Linear,
    attention_out: Linear,
    ff_norm: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
    dropout: Dropout,
    heads: usize,
}

#[derive(Module, Debug)]
pub struct ContinuationModel {
    embedding: Embedding,
    blocks: Vec<Block>,
    norm: LayerNorm,
    dropout: Dropout,
    pub context: usize,
}

/// One layer's keys and values so far (none before the first token).
type KeysValues = Option<(Tensor<4>, Tensor<4>)>;

/// Keys and values of the positions seen so far, per layer, each [1, heads, t, head_dim].
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<KeysValues>,
    pub length: usize,
}

/// Rotary position encoding (rotate-half form) for positions start..start+T, computed once
/// per pass and applied to every layer's queries and keys [B, H, T, Dh].
struct Rotation {
    cos: Tensor<4>,
    sin: Tensor<4>,
}

impl Rotation {
    fn new(start: usize, steps: usize, head_dim: usize, device: &Device) -> Self {
        let half = head_dim / 2;
        let (mut cos, mut sin) = (Vec::with_capacity(steps * half), Vec::with_capacity(steps * half));
        for t in start..start + steps {
            for i in 0..half {
                let angle = t as f64 / 10_000f64.powf(2.0 * i as f64 / head_dim as f64);
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        let table = |values: Vec<f32>| {
            Tensor::<2>::from_data(TensorData::new(values, [steps, half]), device).reshape([1, 1, steps, half])
        };
        Self { cos: table(cos), sin: table(sin) }
    }

    fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let half = x.dims()[3] / 2;
        let first = x.clone().narrow(3, 0, half);
        let second = x.narrow(3, half, half);
        let (cos, sin) = (self.cos.clone(), self.sin.clone());
        Tensor::cat(vec![first.clone() * cos.clone() - second.clone() * sin.clone(), first * sin + second * cos], 3)
    }
}

impl Block {
    /// x [B, T, d] → [B, T, d]; with a cache, T new positions after the cached ones.
    fn forward(&self, x: Tensor<3>, rotation: &Rotation, cache: Option<&mut KeysValues>) -> Tensor<3> {
        let [batch, steps, d] = x.dims();
        let head_dim = d / self.heads;
        let qkv = self.qkv.forward(self.attention_norm.forward(x.clone()));
        let split =
            |i: usize| qkv.clone().narrow(2, i * d, d).reshape([batch, steps, self.heads, head_dim]).swap_dims(1, 2);
        let (q, mut k, mut v) = (rotation.apply(split(0)), rotation.apply(split(1)), split(2));
        if let Some(past) = cache {
            if let Some((past_k, past_v)) = past.take() {
                k = Tensor::cat(vec![past_k, k], 2);
                v = Tensor::cat(vec![past_v, v], 2);
            }
            *past = Some((k.clone(), v.clone()));
        }
        // Causal within the new positions; every cached position is in the past.
        let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: steps > 1 };
        let attended = attention(q, k, v, None, None, options).swap_dims(1, 2).reshape([batch, steps, d]);
        let x = x + self.dropout.forward(self.attention_out.forward(attended));
        let ff = self.ff_out.forward(gelu(self.ff_in.forward(self.ff_norm.forward(x.clone()))));
        x + self.dropout.forward(ff)
    }
}

impl ContinuationModel {
    /// The same network over a new vocabulary: row i of the new token embedding (which is
    /// also the output layer) is the mean of the old rows `sources[i]`.
    #[cfg(feature = "train")]
    pub(crate) fn with_vocabulary_from(mut self, sources: &[Vec<usize>]) -> Self {
        let old = self.embedding.weight.val();
        let device = old.device();
        let rows: Vec<Tensor<2>> = sources
            .iter()
            .map(|from| {
                let ids: Vec<i64> = from.iter().map(|&i| i as i64).collect();
                let count = ids.len();
                let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [count]), &device);
                old.clone().select(0, ids).mean_dim(0)
            })
            .collect();
        self.embedding.weight = burn::module::Param::from_tensor(Tensor::cat(rows, 0));
        self
    }

    /// Logits [B, T, VOCAB] for token ids [B, T] (each position sees itself and the past).
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [_, steps] = ids.dims();
        let rotation = self.rotation(0, steps, &ids.device());
        let mut x = self.dropout.forward(self.embedding.forward(ids));
        for block in &self.blocks {
            x = block.forward(x, &rotation, None);
        }
        self.logits(x)
    }

    fn rotation(&self, start: usize, steps: usize, device: &Device) -> Rotation {
        let heads = self.blocks.first().map_or(1, |b| b.heads);
        Rotation::new(start, steps, self.embedding.weight.dims()[1] / heads, device)
    }

    fn logits(&self, x: Tensor<3>) -> Tensor<3> {
        // The output layer is the embedding, transposed (tied weights).
        let [batch, steps, d] = x.dims();
        let weights = self.embedding.weight.val();
        let vocabulary = weights.dims()[0];
        self.norm.forward(x).reshape([batch * steps, d]).matmul(weights.transpose()).reshape([batch, steps, vocabulary])
    }

    /// Mean negative log-likelihood per predicted token (nats) of sequences [B, T]: each
    /// position predicts the next; `Pad` targets are not counted.
    pub fn loss(&self, ids: Tensor<2, Int>) -> (Tensor<1>, usize) {
        let [batch, steps] = ids.dims();
        let inputs = ids.clone().narrow(1, 0, steps - 1);
        let targets = ids.narrow(1, 1, steps - 1);
        let log_probs = log_softmax(self.forward(inputs), 2);
        let picked = log_probs.gather(2, targets.clone().reshape([batch, steps - 1, 1])).reshape([batch, steps - 1]);
        let counted = targets.not_equal_elem(Token::Pad.id() as i64).float();
        let count = counted.clone().sum().into_scalar::<f32>().max(1.0);
        ((picked * counted).sum().neg() / count, count as usize)
    }

    /// Feeds `ids` after whatever the cache holds and returns the logits of the last one.
    pub fn step(&self, ids: &[u32], cache: &mut KvCache, device: &Device) -> Vec<f32> {
        if ids.is_empty() {
            return Vec::new();
        }
        if cache.length > 0 && ids.len() > 1 {
            // The causal mask lines up only when queries and keys start together: after a
            // prefill, later tokens go one at a time.
            let mut last = Vec::new();
            for &id in ids {
                last = self.step(&[id], cache, device);
            }
            return last;
        }
        let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        let steps = ids.len();
        let mut x = self.embedding.forward(Tensor::from_data(TensorData::new(ids, [1, steps]), device));
        let rotation = self.rotation(cache.length, steps, device);
        cache.layers.resize(self.blocks.len(), None);
        for (block, past) in self.blocks.iter().zip(cache.layers.iter_mut()) {
            x = block.forward(x, &rotation, Some(past));
        }
        cache.length += steps;
        let last = self.logits(x.narrow(1, steps - 1, 1));
        last.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
    }
}
