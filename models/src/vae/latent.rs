//! Moving around the latent space: spherical interpolation, four-corner mixing, attribute
//! vectors and the melody measures they are built from.

use super::melody::{Melody, STEPS_PER_BAR, pitch_of};

/// Spherical interpolation from `a` (t = 0) to `b` (t = 1); linear when they are (anti)parallel.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    let cos = if na > 0.0 && nb > 0.0 {
        (a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / (na * nb)).clamp(-1.0, 1.0)
    } else {
        1.0
    };
    let omega = cos.acos();
    if omega.sin().abs() < 1e-4 {
        return lerp(a, b, t);
    }
    let (wa, wb) = (((1.0 - t) * omega).sin() / omega.sin(), (t * omega).sin() / omega.sin());
    a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
}

pub fn lerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
}

/// Bilinear mixing of four corners (top-left, top-right, bottom-left, bottom-right) at
/// (x, y) in the unit square, as magenta.js interpolates four inputs.
pub fn bilinear(corners: [&[f32]; 4], x: f32, y: f32) -> Vec<f32> {
    let top = lerp(corners[0], corners[1], x);
    let bottom = lerp(corners[2], corners[3], x);
    lerp(&top, &bottom, y)
}

/// `z + amount · direction`.
pub fn shifted(z: &[f32], direction: &[f32], amount: f32) -> Vec<f32> {
    z.iter().zip(direction).map(|(a, d)| a + amount * d).collect()
}

/// Measures of a melody that attribute vectors steer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    /// Note onsets per bar.
    Density,
    /// Mean MIDI pitch of the onsets.
    AveragePitch,
    /// Highest minus lowest pitch.
    PitchRange,
    /// Fraction of onsets off the eighth-note grid.
    Syncopation,
}

impl Attribute {
    pub const ALL: [Attribute; 4] = [Self::Density, Self::AveragePitch, Self::PitchRange, Self::Syncopation];

    pub fn name(self) -> &'static str {
        match self {
            Self::Density => "density",
            Self::AveragePitch => "pitch",
            Self::PitchRange => "range",
            Self::Syncopation => "syncopation",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The measure of `melody`, `None` when it has no notes.
    pub fn measure(self, melody: &Melody) -> Option<f32> {
        let onsets: Vec<(usize, u8)> =
            melody.tokens.iter().enumerate().filter_map(|(i, &t)| pitch_of(t).map(|p| (i, p))).collect();
        if onsets.is_empty() {
            return None;
        }
        let n = onsets.len() as f32;
        Some(match self {
            Self::Density => n / (melody.tokens.len() as f32 / STEPS_PER_BAR as f32).max(1.0),
            Self::AveragePitch => onsets.iter().map(|&(_, p)| f32::from(p)).sum::<f32>() / n,
            Self::PitchRange => {
                let (lo, hi) = onsets.iter().fold((u8::MAX, 0), |(lo, hi), &(_, p)| (lo.min(p), hi.max(p)));
                f32::from(hi - lo)
            }
            Self::Syncopation => onsets.iter().filter(|&&(i, _)| i % 2 == 1).count() as f32 / n,
        })
    }
}

/// An attribute vector: the mean latent code of the melodies in the top quarter of the
/// attribute minus that of the bottom quarter (MusicVAE §5.3).
pub fn attribute_vector(attribute: Attribute, melodies: &[Melody], codes: &[Vec<f32>]) -> Option<Vec<f32>> {
    let mut scored: Vec<(f32, &Vec<f32>)> =
        melodies.iter().zip(codes).filter_map(|(m, z)| attribute.measure(m).map(|v| (v, z))).collect();
    if scored.len() < 8 {
        return None;
    }
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let quarter = scored.len() / 4;
    let mean = |items: &[(f32, &Vec<f32>)]| -> Vec<f32> {
        let mut sum = vec![0.0; items[0].1.len()];
        for (_, z) in items {
            for (s, v) in sum.iter_mut().zip(z.iter()) {
                *s += v;
            }
        }
        sum.iter().map(|s| s / items.len() as f32).collect()
    };
    let low = mean(&scored[..quarter]);
    let high = mean(&scored[scored.len() - quarter..]);
    Some(high.iter().zip(&low).map(|(h, l)| h - l).collect())
}

/// A 2-D picture of the latent space: the first two principal axes of a sample of training
/// codes, and those codes projected on them (the latent map the Interpolate tab draws).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatentMap {
    pub mean: Vec<f32>,
    pub axes: [Vec<f32>; 2],
    /// Projected training codes, with the style of the work each came from.
    pub points: Vec<MapPoint>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MapPoint {
    pub x: f32,
    pub y: f32,
    pub style: String,
}

impl LatentMap {
    /// Principal axes by power iteration on the covariance (deflating after the first).
    pub fn fit(codes: &[Vec<f32>], styles: &[String]) -> Option<Self> {
        let n = codes.len();
        let d = codes.first()?.len();
        if n < 3 || d < 2 {
            return None;
        }
        let mut mean = vec![0.0f32; d];
        for c in codes {
            for (m, v) in mean.iter_mut().zip(c) {
                *m += v / n as f32;
            }
        }
        let mut cov = vec![0.0f64; d * d];
        for c in codes {
            let centred: Vec<f64> = c.iter().zip(&mean).map(|(v, m)| f64::from(v - m)).collect();
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] += centred[i] * centred[j] / n as f64;
                }
            }
        }
        let mut axes: Vec<Vec<f32>> = Vec::new();
        for k in 0..2 {
            let mut v: Vec<f64> = (0..d).map(|i| if i == k { 1.0 } else { 0.1 }).collect();
            let mut eigenvalue = 0.0;
            for _ in 0..200 {
                let mut next: Vec<f64> = (0..d).map(|i| (0..d).map(|j| cov[i * d + j] * v[j]).sum()).collect();
                eigenvalue = next.iter().map(|x| x * x).sum::<f64>().sqrt();
                if eigenvalue <= 1e-12 {
                    break;
                }
                next.iter_mut().for_each(|x| *x /= eigenvalue);
                v = next;
            }
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] -= eigenvalue * v[i] * v[j];
                }
            }
            axes.push(v.iter().map(|&x| x as f32).collect());
        }
        let [first, second]: [Vec<f32>; 2] = axes.try_into().ok()?;
        let mut map = Self { mean, axes: [first, second], points: Vec::new() };
        map.points = codes
            .iter()
            .zip(styles)
            .map(|(c, style)| {
                let [x, y] = map.project(c);
                MapPoint { x, y, style: style.clone() }
            })
            .collect();
        Some(map)
    }

    pub fn project(&self, code: &[f32]) -> [f32; 2] {
        let along = |axis: &[f32]| code.iter().zip(&self.mean).zip(axis).map(|((c, m), a)| (c - m) * a).sum::<f32>();
        [along(&self.axes[0]), along(&self.axes[1])]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vae::melody::{HOLD, OFF, note_on};

    #[test]
    fn slerp_keeps_the_ends_and_the_norm_between_equal_norms() {
        let a = [1.0, 0.0];
        let b = [0.0, 1.0];
        assert_eq!(slerp(&a, &b, 0.0), vec![1.0, 0.0]);
        let mid = slerp(&a, &b, 0.5);
        assert!((mid[0] - mid[1]).abs() < 1e-6);
        assert!(((mid[0] * mid[0] + mid[1] * mid[1]).sqrt() - 1.0).abs() < 1e-5);
        let end = slerp(&a, &b, 1.0);
        assert!(end[0].abs() < 1e-6 && (end[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn the_map_finds_the_direction_codes_spread_along() {
        // Codes spread mostly along (1, 1, 0), a little along (0, 0, 1).
        let codes: Vec<Vec<f32>> = (0..50)
            .map(|i| {
                let t = i as f32 - 25.0;
                vec![t, t, 0.1 * (i % 7) as f32]
            })
            .collect();
        let styles = vec!["x".to_string(); codes.len()];
        let map = LatentMap::fit(&codes, &styles).unwrap();
        let first = &map.axes[0];
        let half = std::f32::consts::FRAC_1_SQRT_2;
        assert!((first[0].abs() - half).abs() < 1e-3 && (first[1].abs() - half).abs() < 1e-3, "{first:?}");
        assert!(map.axes[1][2].abs() > 0.99, "{:?}", map.axes[1]);
        assert_eq!(map.points.len(), 50);
    }

    #[test]
    fn measures_of_a_melody() {
        let melody = Melody { tokens: vec![note_on(60), HOLD, note_on(67), OFF, HOLD, note_on(64), HOLD, HOLD] };
        assert_eq!(Attribute::Density.measure(&melody), Some(3.0));
        assert_eq!(Attribute::PitchRange.measure(&melody), Some(7.0));
        assert!((Attribute::Syncopation.measure(&melody).unwrap_or(0.0) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(Attribute::AveragePitch.measure(&Melody { tokens: vec![HOLD; 4] }), None);
    }
}
