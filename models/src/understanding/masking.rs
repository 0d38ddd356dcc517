//! Which notes pre-training hides, and how.
//!
//! A fixed fraction of each window's notes is chosen, at random or by the masker, so the
//! masker cannot win by hiding everything. A chosen note is hidden as BERT does: 80 % become
//! `Mask` in every field, 10 % a random note, 10 % stay as they were (the encoder must restore
//! all of them; the last two keep it from learning that only `Mask` needs restoring).
//!
//! The masker chooses by sampling without replacement from the softmax of its scores (Gumbel
//! top-k), so it explores, and its choice has a log-probability to reinforce.

use rand::Rng;
use rand::rngs::StdRng;

use super::octuple::{FIELD_VALUES, FIELDS, MASKED, Octuple};

/// How many of `length` notes are hidden: the fraction, at least one.
pub fn masked_count(length: usize, fraction: f64) -> usize {
    ((length as f64 * fraction).round() as usize).clamp(1, length.max(1))
}

/// `count` distinct positions below `length`, uniformly.
pub fn random_positions(rng: &mut StdRng, length: usize, count: usize) -> Vec<usize> {
    rand::seq::index::sample(rng, length, count.min(length)).into_vec()
}

/// `count` positions sampled without replacement from softmax(`scores`) (Gumbel top-k).
pub fn sampled_positions(rng: &mut StdRng, scores: &[f32], count: usize) -> Vec<usize> {
    let mut keyed: Vec<(f32, usize)> = scores
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let u: f32 = rng.random_range(f32::EPSILON..1.0);
            (s - (-u.ln()).ln(), i)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    keyed.into_iter().take(count).map(|(_, i)| i).collect()
}

/// `window` with the notes at `positions` hidden (80 % `Mask`, 10 % random, 10 % kept).
pub fn corrupt(rng: &mut StdRng, window: &[Octuple], positions: &[usize]) -> Vec<Octuple> {
    let mut out = window.to_vec();
    for &p in positions {
        let roll: f64 = rng.random();
        if roll < 0.8 {
            out[p] = MASKED;
        } else if roll < 0.9 {
            for f in 0..FIELDS {
                out[p][f] = rng.random_range(0..FIELD_VALUES[f]);
            }
        }
    }
    out
}

/// Mask fine-tuning: `window` with a random `fraction` of its notes set to `Mask` (no
/// restoring asked), so fine-tuning inputs look like pre-training's.
pub fn mask_for_fine_tuning(rng: &mut StdRng, window: &[Octuple], fraction: f64) -> Vec<Octuple> {
    let mut out = window.to_vec();
    if fraction <= 0.0 || window.len() < 2 {
        return out;
    }
    for p in random_positions(rng, window.len(), masked_count(window.len(), fraction)) {
        out[p] = MASKED;
    }
    out
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn a_fixed_fraction_is_hidden_however_the_positions_are_chosen() {
        let mut rng = StdRng::seed_from_u64(3);
        assert_eq!(masked_count(100, 0.15), 15);
        assert_eq!(masked_count(3, 0.15), 1);
        let positions = random_positions(&mut rng, 100, 15);
        let mut unique = positions.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 15);
        let scores: Vec<f32> = (0..100).map(|i| if i < 20 { 8.0 } else { 0.0 }).collect();
        let chosen = sampled_positions(&mut rng, &scores, 15);
        assert_eq!(chosen.len(), 15);
        // exp(8) ≈ 3000: the masker's favourites are nearly always what it gets.
        assert!(chosen.iter().filter(|&&p| p < 20).count() >= 13, "{chosen:?}");
    }

    #[test]
    fn hidden_notes_are_mostly_masked_and_the_rest_untouched() {
        let mut rng = StdRng::seed_from_u64(5);
        let window: Vec<Octuple> = (0..1000).map(|i| [0, 0, 60 + (i % 12), 5, 4, 0, 15, 3]).collect();
        let positions = random_positions(&mut rng, 1000, 500);
        let out = corrupt(&mut rng, &window, &positions);
        let masked = out.iter().filter(|t| **t == MASKED).count();
        assert!((350..450).contains(&masked), "{masked} of 500 chosen became Mask");
        let chosen: std::collections::HashSet<usize> = positions.into_iter().collect();
        for (i, (a, b)) in window.iter().zip(&out).enumerate() {
            if !chosen.contains(&i) {
                assert_eq!(a, b);
            }
        }
    }
}
