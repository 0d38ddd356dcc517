//! Removing DC offset from audio before transcription (Cadenza mode). basic-pitch feeds audio
//! as it is: a DC offset (a cheap interface, a biased recording) leaks into the lowest
//! constant-Q bins, and the per-window normalisation rescales everything else against it, so
//! harmonics turn into false notes (measured: +0.29 DC on three plucked tones gives basic-pitch
//! 7 notes instead of 5; with the offset removed Cadenza's notes are identical either way). A
//! one-pole high-pass at 5 Hz removes it and costs the lowest note, A0 at 27.5 Hz, 0.14 dB.
//! It runs where audio comes in, at the source's rate and before resampling: the resampler
//! would turn a file that starts off zero into a step that no high-pass can remove.

const CUTOFF_HZ: f32 = 5.0;

#[derive(Debug, Clone)]
pub struct DcBlocker {
    /// The previous input (`None` before the first: the filter starts settled on it, so a
    /// file that begins off zero gives no step).
    previous_in: Option<f32>,
    previous_out: f32,
    pole: f32,
}

impl DcBlocker {
    pub fn new(sample_rate: u32) -> Self {
        let pole = 1.0 - std::f32::consts::TAU * CUTOFF_HZ / sample_rate.max(1) as f32;
        Self { previous_in: None, previous_out: 0.0, pole: pole.max(0.0) }
    }

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

    const RATE: u32 = 44_100;

    #[test]
    fn removes_an_offset_and_keeps_the_lowest_note() {
        let rate = RATE as f32;
        let tone = |i: usize| (i as f32 / rate * 27.5 * std::f32::consts::TAU).sin();
        let mut x: Vec<f32> = (0..RATE as usize * 4).map(|i| 0.5 + 0.3 * tone(i)).collect();
        DcBlocker::new(RATE).process(&mut x);
        let settled = &x[RATE as usize..];
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
        DcBlocker::new(RATE).process(&mut whole);
        let mut pieces = x;
        let mut blocker = DcBlocker::new(RATE);
        for chunk in pieces.chunks_mut(333) {
            blocker.process(chunk);
        }
        assert_eq!(whole, pieces);
    }
}
