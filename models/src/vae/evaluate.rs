//! Quality measures of a trained MusicVAE, as the paper's Table 1 reports them: per-step
//! reconstruction accuracy teacher-forced and sampled, the KL, and how smoothly it interpolates.

use burn::tensor::{Device, Tensor, TensorData};

use super::dataset::tokens_tensor;
use super::latent::slerp;
use super::melody::Melody;
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
    let (mut forced_right, mut sampled_right, mut steps, mut kl_sum) = (0usize, 0usize, 0usize, 0.0f64);
    for chunk in windows.chunks(batch.max(1)) {
        let refs: Vec<&Melody> = chunk.iter().collect();
        let tokens = tokens_tensor(&refs, device);
        let posterior = model.encode(tokens.clone());
        kl_sum += f64::from(posterior.kl().sum().into_scalar::<f32>());
        let forced = model.teacher_forced_logits(posterior.mu.clone(), tokens).argmax(2);
        let forced: Vec<i64> = forced.into_data().convert::<i64>().try_into_vec::<i64>().unwrap_or_default();
        let sampled = model.decode(posterior.mu, 0.0, &mut greedy());
        for (i, melody) in chunk.iter().enumerate() {
            let t = melody.tokens.len();
            steps += t;
            forced_right +=
                melody.tokens.iter().zip(&forced[i * t..(i + 1) * t]).filter(|(a, b)| i64::from(**a) == **b).count();
            sampled_right += melody.tokens.iter().zip(&sampled[i]).filter(|(a, b)| a == b).count();
        }
    }
    let steps = steps.max(1) as f64;
    Reconstruction {
        teacher_forced: forced_right as f64 / steps,
        sampled: sampled_right as f64 / steps,
        kl: kl_sum / windows.len().max(1) as f64,
        windows: windows.len(),
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

/// How smooth interpolations between consecutive pairs of `windows` are.
pub fn smoothness(model: &MusicVae, windows: &[Melody], points: usize, device: &Device) -> Smoothness {
    let (mut neighbour, mut ends, mut fresh, mut pairs) = (0.0, 0.0, 0usize, 0usize);
    let points = points.max(2);
    for pair in windows.chunks_exact(2) {
        let refs: Vec<&Melody> = pair.iter().collect();
        let mu = model.encode(tokens_tensor(&refs, device)).mu;
        let latent = mu.dims()[1];
        let values: Vec<f32> = mu.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
        let (a, b) = values.split_at(latent);
        let path: Vec<f32> = (0..points).flat_map(|i| slerp(a, b, i as f32 / (points - 1) as f32)).collect();
        let z = Tensor::<2>::from_data(TensorData::new(path, [points, latent]), device);
        let decoded = model.decode(z, 0.0, &mut greedy());
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
    Smoothness {
        latent_neighbour_change: neighbour / n,
        endpoint_change: ends / n,
        new_melodies: fresh as f64 / (n * (points - 2).max(1) as f64),
        pairs,
    }
}

/// Greedy decoding draws nothing; any generator will do.
fn greedy() -> rand::rngs::StdRng {
    rand::SeedableRng::seed_from_u64(0)
}
