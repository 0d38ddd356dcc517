//! Which style a passage sounds like, asked of the continuation model itself: the passage's
//! events are scored after each style token, and the style under which they are most likely
//! is the guess (Bayes with a flat prior over styles). The panel uses it to start from the
//! style of the music being continued.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::generate::{Prompt, prompt_tokens, restyled};
use super::model::ContinuationModel;
use super::vocab::ANY_STYLE;

/// For each style but "any", the mean negative log-likelihood (nats per token) of the
/// prompt's events under it, in style order. Empty when the prompt has no notes.
pub fn style_nll(model: &ContinuationModel, prompt: &Prompt, device: &Device) -> Vec<f64> {
    if prompt.notes.is_empty() {
        return Vec::new();
    }
    let (tokens, _, _) = prompt_tokens(prompt, model.context.max(16));
    let header = prompt.header.tokens().len();
    if tokens.len() <= header {
        return Vec::new();
    }
    let steps = tokens.len();
    let ids: Vec<u32> = tokens.iter().map(|t| t.id()).collect();
    let sequences: Vec<i64> = (0..ANY_STYLE).flat_map(|style| restyled(&ids, style)).map(i64::from).collect();
    let styles = usize::from(ANY_STYLE);
    let ids = Tensor::<2, Int>::from_data(TensorData::new(sequences, [styles, steps]), device);
    let inputs = ids.clone().narrow(1, 0, steps - 1);
    // Only the events are scored: the header's own tokens (the instruments) would make the
    // guess follow the instrumentation rather than the music.
    let targets = ids.narrow(1, header, steps - header);
    let log_probs = log_softmax(model.forward(inputs), 2).narrow(1, header - 1, steps - header);
    let picked = log_probs.gather(2, targets.reshape([styles, steps - header, 1])).reshape([styles, steps - header]);
    let mean = picked.mean_dim(1).neg().reshape([styles]);
    mean.into_data().try_to_vec::<f32>().unwrap_or_default().into_iter().map(f64::from).collect()
}

/// The style the prompt is most likely in, if it has notes.
pub fn likely_style(model: &ContinuationModel, prompt: &Prompt, device: &Device) -> Option<u8> {
    let nll = style_nll(model, prompt, device);
    nll.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u8)
}
