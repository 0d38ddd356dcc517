//! What the Burn decoder and the plain-Rust CPU decoder share: the token a melody starts
//! from, and how a step's class is chosen from its logits.

use super::melody::CLASSES;

/// The decoder's input before the first step (an extra embedding row).
pub const START: u32 = CLASSES as u32;

/// The most likely class at temperature 0, else a draw from softmax(logits / temperature).
pub(super) fn choose(logits: &[f32], temperature: f64, rng: &mut impl rand::Rng) -> u32 {
    let best = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
    if temperature <= 0.0 {
        return best as u32;
    }
    let top = logits[best];
    let weights: Vec<f64> = logits.iter().map(|&l| ((f64::from(l - top)) / temperature).exp()).collect();
    let mut draw = rng.random::<f64>() * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        draw -= w;
        if draw <= 0.0 {
            return i as u32;
        }
    }
    best as u32
}
