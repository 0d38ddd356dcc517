//! Removing DC offset before the model (Cadenza mode). basic-pitch feeds audio as it is: a DC
//! offset (a cheap interface, a badly biased recording) leaks into the lowest constant-Q bins,
//! and the per-window normalisation then rescales everything else against it, so harmonics
//! turn into false notes (measured: +0.4 DC on three tones gave five extra notes). A one-pole
//! high-pass at 5 Hz removes it and costs the lowest note, A0 at 27.5 Hz, 0.14 dB.

use super::SAMPLE_RATE;

const CUTOFF_HZ: f32 = 5.0;

#[derive(Debug, Clone)]
pub struct DcBlocker {
    /// The previous input (`None` before the first: the filter starts settled on it, so a
    /// file that begins off zero gives no step).
    previous_in: Option<f32>,
    previous_out: f32,
    pole: f32,
}

impl Default for DcBlocker {
    fn default() -> Self {
        Self { previous_in: None, previous_out: 0.0, pole: 1.0 - std::f32::consts::TAU * CUTOFF_HZ / SAMPLE_RATE as f32 }
    }
}

impl DcBlocker {
    /// Filters the next samples of the stream in place.
    pub fn process(&mut self, samples: &mut [f32]) {
        for s in samples {
            let previous = self.previous_in.unwrap_or(*s);
            let out = *s - previous + self.pole * self.previous_out;
            self.previous_in = Some(*s);
            self.previous_out = out;
            *s = out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_an_offset_and_keeps_the_lowest_note() {
        let rate = SAMPLE_RATE as f32;
        let tone = |i: usize| (i as f32 / rate * 27.5 * std::f32::consts::TAU).sin();
        let mut x: Vec<f32> = (0..SAMPLE_RATE as usize * 4).map(|i| 0.5 + 0.3 * tone(i)).collect();
        DcBlocker::default().process(&mut x);
        let settled = &x[SAMPLE_RATE as usize..];
        let mean = settled.iter().sum::<f32>() / settled.len() as f32;
        let peak = settled.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        // (A sine's own mean over 82.5 periods is up to 1.2e-3.)
        assert!(mean.abs() < 3e-3, "offset left: {mean}");
        assert!((peak - 0.3).abs() < 0.3 * 0.03, "A0 lost level: {peak}");
    }

    #[test]
    fn streaming_in_pieces_equals_one_pass() {
        let x: Vec<f32> = (0..5000).map(|i| ((i * 7919) % 200) as f32 / 100.0 - 0.7).collect();
        let mut whole = x.clone();
        DcBlocker::default().process(&mut whole);
        let mut pieces = x;
        let mut blocker = DcBlocker::default();
        for chunk in pieces.chunks_mut(333) {
            blocker.process(chunk);
        }
        assert_eq!(whole, pieces);
    }
}
