//! Moves a model trained on the first style vocabulary (one style token per composer, nine in
//! all) onto the current one, where composers with too little music are grouped into their
//! period. Every other token keeps its embedding; a grouped style starts from the mean of its
//! composers' embeddings. Training then resumes from the moved checkpoint with the new labels,
//! which costs a fraction of training again from nothing.

use std::path::Path;

use burn::optim::AdamWConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::tensor::Device;
use thiserror::Error;

use super::train::TrainingState;
use super::vocab::{STYLES, Token, VOCAB_SIZE, style_index};
use crate::checkpoint::{self, CheckpointError};

/// The first vocabulary's styles, in token order (the models shipped until December 2026).
pub const V1_STYLES: [&str; 9] =
    ["traditional", "bach", "beethoven", "haydn", "mozart", "schumann", "monteverdi", "trecento", "other"];

const V1_VOCAB_SIZE: usize = VOCAB_SIZE - STYLES.len() + V1_STYLES.len();

#[derive(Debug, Error)]
pub enum RegroupError {
    #[error("{0}: not a checkpoint of the first style vocabulary ({1})")]
    Source(String, String),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// For each token id of the current vocabulary, the first vocabulary's ids it starts from.
pub fn v1_sources() -> Vec<Vec<usize>> {
    let style_base = Token::Style(0).id() as usize;
    let shift = V1_STYLES.len() - STYLES.len();
    (0..VOCAB_SIZE as u32)
        .map(|id| match Token::from_id(id) {
            Some(Token::Style(style)) => V1_STYLES
                .iter()
                .enumerate()
                .filter(|(_, name)| style_index(name) == Some(style))
                .map(|(i, _)| style_base + i)
                .collect(),
            _ if (id as usize) < style_base => vec![id as usize],
            _ => vec![id as usize + shift],
        })
        .collect()
}

/// Reads the first-vocabulary checkpoint in `v1_dir` and writes it, moved to the current
/// vocabulary, as a checkpoint in `out_dir` that training resumes from (with a fresh
/// optimiser: the old one's moments belong to the old embedding).
pub fn regroup_v1_checkpoint(v1_dir: &Path, out_dir: &Path) -> Result<TrainingState, RegroupError> {
    let source = |e: String| RegroupError::Source(v1_dir.display().to_string(), e);
    let mut state: TrainingState = checkpoint::read_state(v1_dir).map_err(source)?;
    let device = Device::flex();
    let v1 = state.config.init_with_vocabulary(&device, V1_VOCAB_SIZE);
    let v1 = checkpoint::with_record_file(v1, &v1_dir.join(checkpoint::MODEL_FILE)).map_err(source)?;
    let model = v1.with_vocabulary_from(&v1_sources());
    let optimizer = AdamWConfig::new()
        .with_weight_decay(state.options.weight_decay)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    state.regrouped_at = Some(state.step);
    checkpoint::save(out_dir, &model, &optimizer, &state, &state.config)?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Int, Tensor, TensorData};

    use super::*;
    use crate::continuation::model::ContinuationConfig;
    use crate::continuation::vocab::{ANY_STYLE, Instrument};

    #[test]
    fn grouped_styles_start_from_their_composers() {
        let sources = v1_sources();
        assert_eq!(sources.len(), VOCAB_SIZE);
        let v1_id = |name: &str| {
            Token::Style(0).id() as usize + V1_STYLES.iter().position(|s| *s == name).unwrap_or(usize::MAX)
        };
        let classical = style_index("classical").unwrap() as usize;
        assert_eq!(
            sources[Token::Style(classical as u8).id() as usize],
            ["beethoven", "haydn", "mozart", "schumann"].map(v1_id)
        );
        assert_eq!(sources[Token::Style(ANY_STYLE).id() as usize], [v1_id("other")]);
        assert_eq!(sources[Token::Style(1).id() as usize], [v1_id("bach")]);
        // Every token after the styles moves down by the three styles that went.
        let pitch = Token::Pitch(60).id() as usize;
        assert_eq!(sources[pitch], [pitch + 3]);
        assert!(sources.iter().flatten().all(|&id| id < V1_VOCAB_SIZE));
        assert!(sources.iter().all(|from| !from.is_empty()), "every token starts from something");
    }

    #[test]
    fn moved_model_scores_every_kept_token_as_before() {
        let device = Device::flex();
        let config = ContinuationConfig::new().with_d_model(32).with_layers(1).with_heads(2).with_d_ff(64);
        let v1 = config.init_with_vocabulary(&device, V1_VOCAB_SIZE);
        let sources = v1_sources();
        let moved = v1.clone().with_vocabulary_from(&sources);
        let tokens =
            [Token::Style(1), Token::Instrument(Instrument::Organ), Token::Start, Token::Pitch(60), Token::Duration(3)];
        let ids_of = |ids: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(ids, [1, tokens.len()]), &device);
        let new_ids: Vec<i64> = tokens.iter().map(|t| i64::from(t.id())).collect();
        let old_ids: Vec<i64> = new_ids.iter().map(|&id| sources[id as usize][0] as i64).collect();
        let new_logits = moved.forward(ids_of(new_ids)).into_data().try_to_vec::<f32>().unwrap_or_default();
        let old_logits = v1.forward(ids_of(old_ids)).into_data().try_to_vec::<f32>().unwrap_or_default();
        assert_eq!(new_logits.len(), tokens.len() * VOCAB_SIZE);
        for position in 0..tokens.len() {
            for (id, from) in sources.iter().enumerate().filter(|(_, from)| from.len() == 1) {
                let new = new_logits[position * VOCAB_SIZE + id];
                let old = old_logits[position * V1_VOCAB_SIZE + from[0]];
                assert!((new - old).abs() < 1e-5, "token {id} at {position}: {new} against {old}");
            }
        }
    }
}
