//! The baseline the transformer must beat: an interpolated n-gram model over the same tokens,
//! smoothed by Witten-Bell (each order backs off to the next shorter context in proportion to
//! how many different tokens followed it), down to an add-one unigram.

use std::collections::HashMap;

use super::vocab::{Token, VOCAB_SIZE};

/// Contexts are hashed to 64 bits (collisions at this corpus size are negligible).
fn context_key(context: &[u32]) -> u64 {
    // FNV-1a over the ids and the length, so contexts of different orders never share a key.
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ context.len() as u64;
    for &id in context {
        hash ^= u64::from(id);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[derive(Debug, Default, Clone)]
struct ContextCounts {
    total: u32,
    next: HashMap<u32, u32>,
}

#[derive(Debug, Clone)]
pub struct NgramModel {
    order: usize,
    /// Per context (of length 1..order), how often each token followed it.
    contexts: HashMap<u64, ContextCounts>,
    unigram: Vec<u32>,
    tokens: u64,
}

impl NgramModel {
    /// Counts every n-gram up to `order` tokens in `sequences`.
    pub fn train<'a>(order: usize, sequences: impl IntoIterator<Item = &'a [Token]>) -> Self {
        let order = order.max(1);
        let mut model = Self { order, contexts: HashMap::new(), unigram: vec![0; VOCAB_SIZE], tokens: 0 };
        for sequence in sequences {
            let ids: Vec<u32> = sequence.iter().map(|t| t.id()).collect();
            for (i, &id) in ids.iter().enumerate() {
                model.unigram[id as usize] += 1;
                model.tokens += 1;
                for length in 1..order.min(i + 1) {
                    let entry = model.contexts.entry(context_key(&ids[i - length..i])).or_default();
                    entry.total += 1;
                    *entry.next.entry(id).or_default() += 1;
                }
            }
        }
        model
    }

    /// P(next | the tokens before it), with the longest context the model has.
    pub fn probability(&self, history: &[u32], next: u32) -> f64 {
        let vocabulary = VOCAB_SIZE as f64;
        let mut p = (f64::from(self.unigram.get(next as usize).copied().unwrap_or(0)) + 1.0)
            / (self.tokens as f64 + vocabulary);
        for length in 1..self.order.min(history.len() + 1) {
            let Some(counts) = self.contexts.get(&context_key(&history[history.len() - length..])) else { break };
            let seen = f64::from(counts.next.get(&next).copied().unwrap_or(0));
            let distinct = counts.next.len() as f64;
            p = (seen + distinct * p) / (f64::from(counts.total) + distinct);
        }
        p
    }

    /// Mean NLL per token (nats) over sequences, each token after the first predicted from the
    /// ones before it in its sequence (`Pad` not counted) — as the transformer is scored.
    pub fn mean_nll(&self, sequences: &[Vec<Token>]) -> f64 {
        let (mut total, mut count) = (0.0, 0usize);
        for sequence in sequences {
            let ids: Vec<u32> = sequence.iter().map(|t| t.id()).collect();
            for i in 1..ids.len() {
                if ids[i] == Token::Pad.id() {
                    continue;
                }
                total -= self.probability(&ids[..i], ids[i]).ln();
                count += 1;
            }
        }
        total / count.max(1) as f64
    }
}
