//! A simple style classifier, trained on the corpus, to check that continuations sound like
//! the style they were asked for: pitch-class (relative to the estimated key), interval,
//! duration and onset-position histograms plus a few texture figures, and multinomial
//! logistic regression on them.

use super::codec::GridNote;
use super::vocab::ANY_STYLE;

/// Krumhansl-Kessler key profiles (major, minor), from C.
const MAJOR_PROFILE: [f64; 12] = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88];
const MINOR_PROFILE: [f64; 12] = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17];

/// A key: tonic pitch class and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub tonic: u8,
    pub minor: bool,
}

impl Key {
    /// The key's scale: the diatonic notes, and for minor also the raised 6th and 7th
    /// (melodic and harmonic minor are as much "in key" as the natural form).
    pub fn contains(self, pitch: u8) -> bool {
        let degree = (pitch + 12 - self.tonic % 12) % 12;
        let scale: &[u8] = if self.minor { &[0, 2, 3, 5, 7, 8, 9, 10, 11] } else { &[0, 2, 4, 5, 7, 9, 11] };
        scale.contains(&degree)
    }
}

fn pitch_class_weights(notes: &[GridNote]) -> [f64; 12] {
    let mut weights = [0.0; 12];
    for n in notes {
        weights[usize::from(n.pitch % 12)] += f64::from(n.duration.max(1));
    }
    weights
}

fn correlation(a: &[f64; 12], b: &[f64]) -> f64 {
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let (ma, mb) = (mean(a), mean(b));
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        num += (x - ma) * (y - mb);
        da += (x - ma) * (x - ma);
        db += (y - mb) * (y - mb);
    }
    num / (da * db).sqrt().max(1e-12)
}

/// The best-correlating key (Krumhansl-Schmuckler), or None with no notes.
pub fn estimate_key(notes: &[GridNote]) -> Option<Key> {
    if notes.is_empty() {
        return None;
    }
    let weights = pitch_class_weights(notes);
    let mut best = (f64::MIN, Key { tonic: 0, minor: false });
    for tonic in 0..12u8 {
        for (minor, profile) in [(false, MAJOR_PROFILE), (true, MINOR_PROFILE)] {
            let rotated: Vec<f64> = (0..12).map(|i| profile[(i + 12 - usize::from(tonic)) % 12]).collect();
            let r = correlation(&weights, &rotated);
            if r > best.0 {
                best = (r, Key { tonic, minor });
            }
        }
    }
    Some(best.1)
}

/// Melodic and rhythmic histograms, then texture: register, chord sizes, vertical intervals.
const MELODIC_FEATURES: usize = 12 + 25 + 9 + 12 + 5;
const REGISTERS: usize = 7;
const CHORD_SIZES: usize = 5;
pub const FEATURES: usize = MELODIC_FEATURES + REGISTERS + CHORD_SIZES + 12 + 2;

/// The feature vector of a passage.
pub fn features(notes: &[GridNote], bar_ticks: u32) -> [f64; FEATURES] {
    let mut f = [0.0; FEATURES];
    if notes.is_empty() {
        return f;
    }
    let count = notes.len() as f64;
    // Pitch classes relative to the tonic, duration-weighted.
    let tonic = estimate_key(notes).map_or(0, |k| k.tonic);
    let weights = pitch_class_weights(notes);
    let total: f64 = weights.iter().sum::<f64>().max(1e-9);
    for pc in 0..12 {
        f[pc] = weights[(pc + usize::from(tonic)) % 12] / total;
    }
    // Intervals of each instrument's top line, −12..=12.
    let mut sorted = notes.to_vec();
    sorted.sort_by_key(|n| (n.instrument, n.start, std::cmp::Reverse(n.pitch)));
    let mut intervals = 0.0f64;
    for pair in sorted.windows(2) {
        if pair[0].instrument == pair[1].instrument && pair[1].start > pair[0].start {
            let step = (i32::from(pair[1].pitch) - i32::from(pair[0].pitch)).clamp(-12, 12);
            f[12 + (step + 12) as usize] += 1.0;
            intervals += 1.0;
        }
    }
    for v in &mut f[12..37] {
        *v /= intervals.max(1.0);
    }
    // Durations: 32nd, 16th, triplet 8th, 8th, dotted 8th, quarter, dotted quarter, half, longer.
    for n in notes {
        let bin = [1, 3, 4, 6, 9, 12, 18, 24].iter().position(|&limit| n.duration <= limit).unwrap_or(8);
        f[37 + bin] += 1.0 / count;
    }
    // Onset within the beat (12 ticks a quarter).
    for n in notes {
        f[46 + (n.start % 12) as usize] += 1.0 / count;
    }
    // Sorted first: a work's notes come part by part, a continuation's in time order.
    let mut onsets: Vec<u32> = notes.iter().map(|n| n.start).collect();
    onsets.sort_unstable();
    onsets.dedup();
    let mut instruments: Vec<_> = notes.iter().map(|n| n.instrument).collect();
    instruments.sort();
    instruments.dedup();
    let mean_pitch = notes.iter().map(|n| f64::from(n.pitch)).sum::<f64>() / count;
    let spread = (notes.iter().map(|n| (f64::from(n.pitch) - mean_pitch).powi(2)).sum::<f64>() / count).sqrt();
    let span_bars =
        (f64::from(notes.iter().map(|n| n.start).max().unwrap_or(0)) / f64::from(bar_ticks.max(1))).floor() + 1.0;
    f[58] = count / onsets.len().max(1) as f64 / 4.0;
    f[59] = instruments.len() as f64 / 4.0;
    f[60] = mean_pitch / 127.0;
    f[61] = spread / 24.0;
    f[62] = count / span_bars / 16.0;
    texture(notes, &mut f[MELODIC_FEATURES..]);
    f
}

/// What the voices do together, which the melodic histograms miss (a quartet and a piano
/// piece can share a tune): the register each note sounds in, how many notes start together,
/// and the intervals above the bass of those that do.
fn texture(notes: &[GridNote], f: &mut [f64]) {
    let total_duration: f64 = notes.iter().map(|n| f64::from(n.duration.max(1))).sum::<f64>().max(1.0);
    for n in notes {
        // Octaves from below C2 up to C7 and above.
        let register = (usize::from(n.pitch) / 12).saturating_sub(2).min(REGISTERS - 1);
        f[register] += f64::from(n.duration.max(1)) / total_duration;
    }
    let mut by_onset = notes.to_vec();
    by_onset.sort_by_key(|n| (n.start, n.pitch));
    let (chords, intervals) = (REGISTERS, REGISTERS + CHORD_SIZES);
    let (mut onsets, mut above_bass, mut lowest_sum) = (0.0f64, 0.0f64, 0.0f64);
    for chord in by_onset.chunk_by(|a, b| a.start == b.start) {
        onsets += 1.0;
        f[chords + (chord.len() - 1).min(CHORD_SIZES - 1)] += 1.0;
        let bass = chord[0].pitch;
        lowest_sum += f64::from(bass);
        for n in &chord[1..] {
            f[intervals + usize::from((n.pitch - bass) % 12)] += 1.0;
            above_bass += 1.0;
        }
    }
    for v in &mut f[chords..intervals] {
        *v /= onsets.max(1.0);
    }
    for v in &mut f[intervals..intervals + 12] {
        *v /= above_bass.max(1.0);
    }
    let (low, high) = notes.iter().fold((u8::MAX, 0), |(lo, hi), n| (lo.min(n.pitch), hi.max(n.pitch)));
    f[intervals + 12] = f64::from(high.saturating_sub(low)) / 48.0;
    f[intervals + 13] = lowest_sum / onsets.max(1.0) / 127.0;
}

/// Multinomial logistic regression over standardised features.
#[derive(Debug, Clone)]
pub struct StyleClassifier {
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// [style][feature + bias]
    weights: Vec<Vec<f64>>,
}

impl StyleClassifier {
    /// Fits on (features, style) examples, each style weighted equally (the folk tunes
    /// outnumber everything else).
    pub fn fit(examples: &[([f64; FEATURES], u8)], iterations: usize) -> Self {
        // Every style but "any", which is the absence of one.
        Self::fit_classes(examples, usize::from(ANY_STYLE), iterations)
    }

    /// Fits on examples labelled 0..`classes` (another model's classes: the understanding
    /// model's eight styles), each class weighted equally.
    pub fn fit_classes(examples: &[([f64; FEATURES], u8)], classes: usize, iterations: usize) -> Self {
        let classes = classes.max(1);
        let n = examples.len().max(1) as f64;
        let mut mean = vec![0.0; FEATURES];
        let mut scale = vec![0.0; FEATURES];
        for (x, _) in examples {
            for (m, v) in mean.iter_mut().zip(x) {
                *m += v / n;
            }
        }
        for (x, _) in examples {
            for ((s, v), m) in scale.iter_mut().zip(x).zip(&mean) {
                *s += (v - m).powi(2) / n;
            }
        }
        let scale: Vec<f64> = scale.iter().map(|s| 1.0 / s.sqrt().max(1e-6)).collect();
        let mut per_class = vec![0.0f64; classes];
        for (_, y) in examples {
            per_class[usize::from(*y).min(classes - 1)] += 1.0;
        }
        let mut model = Self { mean, scale, weights: vec![vec![0.0; FEATURES + 1]; classes] };
        let standardised: Vec<Vec<f64>> = examples.iter().map(|(x, _)| model.standardise(x)).collect();
        let (rate, l2) = (0.5, 1e-3);
        for _ in 0..iterations {
            let mut gradient = vec![vec![0.0; FEATURES + 1]; classes];
            let mut weight_total = 0.0;
            for (x, (_, y)) in standardised.iter().zip(examples) {
                let y = usize::from(*y).min(classes - 1);
                let weight = 1.0 / per_class[y].max(1.0);
                weight_total += weight;
                let p = model.probabilities_of(x);
                for c in 0..classes {
                    let error = p[c] - if c == y { 1.0 } else { 0.0 };
                    for (g, v) in gradient[c].iter_mut().zip(x.iter().chain(std::iter::once(&1.0))) {
                        *g += weight * error * v;
                    }
                }
            }
            for (w, g) in model.weights.iter_mut().zip(&gradient) {
                for (wi, gi) in w.iter_mut().zip(g) {
                    *wi -= rate * (gi / weight_total.max(1e-12) + l2 * *wi);
                }
            }
        }
        model
    }

    fn standardise(&self, x: &[f64; FEATURES]) -> Vec<f64> {
        x.iter().zip(&self.mean).zip(&self.scale).map(|((v, m), s)| (v - m) * s).collect()
    }

    fn probabilities_of(&self, x: &[f64]) -> Vec<f64> {
        let scores: Vec<f64> = self
            .weights
            .iter()
            .map(|w| w.iter().zip(x.iter().chain(std::iter::once(&1.0))).map(|(a, b)| a * b).sum())
            .collect();
        let top = scores.iter().copied().fold(f64::MIN, f64::max);
        let exp: Vec<f64> = scores.iter().map(|s| (s - top).exp()).collect();
        let sum: f64 = exp.iter().sum();
        exp.iter().map(|e| e / sum).collect()
    }

    /// The probability of each style for a passage.
    pub fn probabilities(&self, x: &[f64; FEATURES]) -> Vec<f64> {
        self.probabilities_of(&self.standardise(x))
    }

    /// The most likely style of a passage.
    pub fn classify(&self, x: &[f64; FEATURES]) -> u8 {
        let p = self.probabilities(x);
        p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i as u8)
    }
}
