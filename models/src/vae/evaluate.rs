//! Quality measures of a trained MusicVAE, as the paper's Table 1 reports them: per-step
//! reconstruction accuracy teacher-forced and sampled, the KL, and how smoothly it interpolates.

use burn::tensor::Device;

use super::conductor::{ConductorVae, segments};
use super::dataset::tokens_tensor;
use super::latent::slerp;
use super::melody::{Melody, pitch_of};
use super::melody_model::{MelodyVae, conductor_inputs, rows};
use super::model::MusicVae;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reconstruction {
    /// Fraction of steps whose teacher-forced argmax is the target (z = μ).
    pub teacher_forced: f64,
    /// Fraction of steps right when the decoder runs on its own greedy outputs (z = μ).
    pub sampled: f64,
    /// Mean KL(q(z|x) ‖ N(0, I)) in nats per melody.
    pub kl: f64,
    pub windows: usize,
}

/// Reconstruction accuracy over `windows` (all the same length), `batch` at a time.
pub fn reconstruction(model: &MusicVae, windows: &[Melody], batch: usize, device: &Device) -> Reconstruction {
    let mut tally = Tally::default();
    for chunk in windows.chunks(batch.max(1)) {
        let refs: Vec<&Melody> = chunk.iter().collect();
        let tokens = tokens_tensor(&refs, device);
        let posterior = model.encode(tokens.clone());
        tally.kl += f64::from(posterior.kl().sum().into_scalar::<f32>());
        let forced = model.teacher_forced_logits(posterior.mu.clone(), tokens).argmax(2);
        let sampled = model.decode(posterior.mu, 0.0, &mut greedy());
        tally.add(chunk, &ids(forced), &sampled);
    }
    tally.finish(windows.len())
}

/// Right steps counted over a set of melodies, and their summed KL.
#[derive(Default)]
struct Tally {
    forced: usize,
    sampled: usize,
    steps: usize,
    kl: f64,
}

impl Tally {
    /// `targets` against their teacher-forced argmax (row after row, flat) and sampled tokens.
    fn add(&mut self, targets: &[Melody], forced: &[i64], sampled: &[Vec<u32>]) {
        for (i, target) in targets.iter().enumerate() {
            let t = target.tokens.len();
            self.steps += t;
            let row = forced.get(i * t..(i + 1) * t).unwrap_or_default();
            self.forced += target.tokens.iter().zip(row).filter(|(a, b)| i64::from(**a) == **b).count();
            self.sampled += sampled.get(i).map_or(0, |s| target.tokens.iter().zip(s).filter(|(a, b)| a == b).count());
        }
    }

    fn finish(self, windows: usize) -> Reconstruction {
        let steps = self.steps.max(1) as f64;
        Reconstruction {
            teacher_forced: self.forced as f64 / steps,
            sampled: self.sampled as f64 / steps,
            kl: self.kl / windows.max(1) as f64,
            windows,
        }
    }
}

fn ids(t: burn::tensor::Tensor<3, burn::tensor::Int>) -> Vec<i64> {
    t.into_data().convert::<i64>().try_into_vec::<i64>().unwrap_or_default()
}

/// The same figures for a conductor over the 2-bar model `segment`: z = μ of the 16-bar
/// posterior, the conductor's codes, then the 2-bar decoder on each segment (teacher-forced
/// from each segment's own tokens, or greedy on its own outputs).
pub fn conducted_reconstruction(
    segment: &MelodyVae,
    conductor: &ConductorVae,
    windows: &[Melody],
    batch: usize,
    device: &Device,
) -> Reconstruction {
    let Some(two_bar) = segment.model() else {
        return Reconstruction { teacher_forced: 0.0, sampled: 0.0, kl: 0.0, windows: 0 };
    };
    let mut tally = Tally::default();
    for chunk in windows.chunks(batch.max(1)) {
        let refs: Vec<&Melody> = chunk.iter().collect();
        let posterior = conductor.encode(conductor_inputs(segment, &refs, device));
        tally.kl += f64::from(posterior.kl().sum().into_scalar::<f32>());
        let codes = conductor.conduct(posterior.mu);
        let [b, s, latent] = codes.dims();
        let codes = codes.reshape([b * s, latent]);
        let parts: Vec<Melody> = chunk.iter().flat_map(segments).collect();
        let part_refs: Vec<&Melody> = parts.iter().collect();
        let forced = two_bar.teacher_forced_logits(codes.clone(), tokens_tensor(&part_refs, device)).argmax(2);
        let sampled: Vec<Vec<u32>> = segment.decode(&rows(codes), 0.0, 0).into_iter().map(|m| m.tokens).collect();
        tally.add(&parts, &ids(forced), &sampled);
    }
    tally.finish(windows.len())
}

/// Whether a melody's pitch classes all fit one diatonic scale (any key, any mode).
pub fn in_one_key(melody: &Melody) -> bool {
    const MAJOR: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
    let classes: u16 = melody.tokens.iter().filter_map(|&t| pitch_of(t)).fold(0, |set, p| set | 1 << (p % 12));
    (0..12u8).any(|key| {
        let scale: u16 = MAJOR.iter().fold(0, |set, d| set | 1 << ((d + key) % 12));
        classes & !scale == 0
    })
}

/// The share of a melody's note onsets on the 8th-note grid (even 16th steps).
pub fn onsets_on_eighths(melody: &Melody) -> Option<f64> {
    let onsets: Vec<usize> =
        melody.tokens.iter().enumerate().filter(|(_, t)| pitch_of(**t).is_some()).map(|(i, _)| i).collect();
    (!onsets.is_empty()).then(|| onsets.iter().filter(|&&i| i % 2 == 0).count() as f64 / onsets.len() as f64)
}

/// How plausible a set of melodies looks: the share in one key, the mean share of onsets on
/// the 8th-note grid, and the mean number of notes (an empty or one-note melody is no tune).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Plausibility {
    pub in_one_key: f64,
    pub onsets_on_eighths: f64,
    pub notes: f64,
    pub melodies: usize,
}

pub fn plausibility(melodies: &[Melody]) -> Plausibility {
    let n = melodies.len().max(1) as f64;
    let grid: Vec<f64> = melodies.iter().filter_map(onsets_on_eighths).collect();
    Plausibility {
        in_one_key: melodies.iter().filter(|m| in_one_key(m)).count() as f64 / n,
        onsets_on_eighths: grid.iter().sum::<f64>() / grid.len().max(1) as f64,
        notes: melodies.iter().map(|m| m.note_count() as f64).sum::<f64>() / n,
        melodies: melodies.len(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Smoothness {
    /// Mean fraction of steps that change between neighbouring points of a latent
    /// interpolation (spherical, `points` points from A to B).
    pub latent_neighbour_change: f64,
    /// The same for the two ends themselves (how different A and B are): the latent path
    /// spreads this change over its points instead of jumping.
    pub endpoint_change: f64,
    /// Fraction of decoded points that equal neither end (the path passes through new melodies).
    pub new_melodies: f64,
    pub pairs: usize,
}

/// How smooth interpolations between consecutive pairs of `windows` are, and how plausible
/// the inner points are.
pub fn smoothness(vae: &MelodyVae, windows: &[Melody], points: usize) -> (Smoothness, Plausibility) {
    let (mut neighbour, mut ends, mut fresh, mut pairs) = (0.0, 0.0, 0usize, 0usize);
    let mut inner = Vec::new();
    let points = points.max(2);
    for pair in windows.chunks_exact(2) {
        let codes = vae.encode(&[&pair[0], &pair[1]]);
        let path: Vec<Vec<f32>> =
            (0..points).map(|i| slerp(&codes[0], &codes[1], i as f32 / (points - 1) as f32)).collect();
        let decoded: Vec<Vec<u32>> = vae.decode(&path, 0.0, 0).into_iter().map(|m| m.tokens).collect();
        inner.extend(decoded[1..points - 1].iter().map(|tokens| Melody { tokens: tokens.clone() }));
        let changed =
            |x: &[u32], y: &[u32]| x.iter().zip(y).filter(|(p, q)| p != q).count() as f64 / x.len().max(1) as f64;
        neighbour += decoded.windows(2).map(|w| changed(&w[0], &w[1])).sum::<f64>() / (points - 1) as f64;
        ends += changed(&pair[0].tokens, &pair[1].tokens);
        fresh += decoded[1..points - 1]
            .iter()
            .filter(|d| d.as_slice() != decoded[0].as_slice() && d.as_slice() != decoded[points - 1].as_slice())
            .count();
        pairs += 1;
    }
    let n = pairs.max(1) as f64;
    let smooth = Smoothness {
        latent_neighbour_change: neighbour / n,
        endpoint_change: ends / n,
        new_melodies: fresh as f64 / (n * (points - 2).max(1) as f64),
        pairs,
    };
    (smooth, plausibility(&inner))
}

/// Greedy decoding draws nothing; any generator will do.
fn greedy() -> rand::rngs::StdRng {
    rand::SeedableRng::seed_from_u64(0)
}
