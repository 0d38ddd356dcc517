//! Note creation from the posteriorgrams, as basic-pitch 0.4.0's `note_creation.py` does it
//! (spec §3): inferred onsets, onset-driven notes walked latest first, the "melodia trick" for
//! notes without an onset, and pitch bends from the contour. It reproduces upstream's numbers
//! (f64 where numpy promotes to f64, the same tie-breaking and iteration order) so the same
//! posteriorgrams give the same notes in [`Mode::Compatible`]. [`Mode::Cadenza`] fixes two
//! faults: pitch bends are measured from the contour bin where an in-tune note actually peaks
//! (upstream's is one bin low, so in-tune notes bend +1/3 semitone, spec §2.6), and notes found
//! by the melodia pass keep their last frame (upstream ends them one frame early, §3.4).

use super::Mode;

/// A [frames × bins] matrix, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub frames: usize,
    pub bins: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn new(frames: usize, bins: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), frames * bins, "matrix data does not match its shape");
        Self { frames, bins, data }
    }
    fn at(&self, t: usize, f: usize) -> f32 {
        self.data[t * self.bins + f]
    }
}

/// Note creation settings; the defaults are basic-pitch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoteSettings {
    pub onset_threshold: f64,
    pub frame_threshold: f64,
    /// Notes must be longer than this many frames.
    pub min_note_frames: usize,
    /// Frames below the frame threshold that end a note.
    pub energy_tolerance: usize,
    pub infer_onsets: bool,
    pub melodia_trick: bool,
    pub min_hz: Option<f64>,
    pub max_hz: Option<f64>,
}

impl Default for NoteSettings {
    fn default() -> Self {
        Self {
            onset_threshold: 0.5,
            frame_threshold: 0.3,
            min_note_frames: 11,
            energy_tolerance: 11,
            infer_onsets: true,
            melodia_trick: true,
            min_hz: None,
            max_hz: None,
        }
    }
}

/// A note in frames: `end` is exclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteEvent {
    pub start: usize,
    pub end: usize,
    /// MIDI pitch.
    pub pitch: u8,
    /// Mean note probability over the note, 0..1.
    pub amplitude: f32,
    /// Per frame, in thirds of a semitone.
    pub bends: Vec<i32>,
}

const MIDI_OFFSET: usize = 21;
const MAX_FREQ_IDX: usize = 87;
const BEND_TOLERANCE: usize = 25;

fn hz_to_midi(hz: f64) -> f64 {
    12.0 * (hz.log2() - 440f64.log2()) + 69.0
}

/// The notes basic-pitch finds in these posteriorgrams with these settings.
pub fn notes_compat(note: &Matrix, onset: &Matrix, contour: &Matrix, settings: &NoteSettings) -> Vec<NoteEvent> {
    notes(note, onset, contour, settings, Mode::Compatible)
}

/// The notes in these posteriorgrams, in either mode.
pub fn notes(note: &Matrix, onset: &Matrix, contour: &Matrix, settings: &NoteSettings, mode: Mode) -> Vec<NoteEvent> {
    if note.frames == 0 {
        return Vec::new();
    }
    let events = polyphonic_notes(note, onset, settings, mode);
    // An in-tune note peaks one contour bin above 3·(pitch − 21).
    let centre_offset = if mode == Mode::Cadenza { 1 } else { 0 };
    events
        .into_iter()
        .map(|(start, end, pitch, amplitude)| {
            let bends = pitch_bends(contour, start, end, pitch, centre_offset);
            NoteEvent { start, end, pitch, amplitude, bends }
        })
        .collect()
}

fn polyphonic_notes(note: &Matrix, onset: &Matrix, s: &NoteSettings, mode: Mode) -> Vec<(usize, usize, u8, f32)> {
    let (frames_n, bins) = (note.frames, note.bins);
    let mut frames = note.clone();
    let mut onsets: Vec<f64> = onset.data.iter().map(|&v| f64::from(v)).collect();
    // Frequency limits zero whole bands of both matrices.
    let zero_band = |range: std::ops::Range<usize>, frames: &mut Matrix, onsets: &mut [f64]| {
        for t in 0..frames_n {
            for f in range.clone() {
                frames.data[t * bins + f] = 0.0;
                onsets[t * bins + f] = 0.0;
            }
        }
    };
    if let Some(max_hz) = s.max_hz {
        let idx = ((hz_to_midi(max_hz) - MIDI_OFFSET as f64).round().max(0.0) as usize).min(bins);
        zero_band(idx..bins, &mut frames, &mut onsets);
    }
    if let Some(min_hz) = s.min_hz {
        let idx = ((hz_to_midi(min_hz) - MIDI_OFFSET as f64).round().max(0.0) as usize).min(bins);
        zero_band(0..idx, &mut frames, &mut onsets);
    }
    if s.infer_onsets {
        onsets = inferred_onsets(&onsets, &frames);
    }

    // Strict local maxima in time at or above the threshold, latest frame (then highest
    // pitch) first.
    let mut peaks = Vec::new();
    for t in 1..frames_n.saturating_sub(1) {
        for f in 0..bins {
            let v = onsets[t * bins + f];
            if v > onsets[(t - 1) * bins + f] && v > onsets[(t + 1) * bins + f] && v >= s.onset_threshold {
                peaks.push((t, f));
            }
        }
    }
    let mut remaining: Vec<f64> = frames.data.iter().map(|&v| f64::from(v)).collect();
    let below = |remaining: &[f64], t: usize, f: usize| remaining[t * bins + f] < s.frame_threshold;
    let amplitude = |start: usize, end: usize, f: usize| {
        let sum: f64 = (start..end).map(|t| f64::from(frames.at(t, f))).sum();
        (sum / (end - start) as f64) as f32
    };
    let mut events = Vec::new();
    for &(start, f) in peaks.iter().rev() {
        if start >= frames_n - 1 {
            continue;
        }
        let (mut i, mut k) = (start + 1, 0);
        while i < frames_n - 1 && k < s.energy_tolerance {
            k = if below(&remaining, i, f) { k + 1 } else { 0 };
            i += 1;
        }
        i -= k;
        if i - start <= s.min_note_frames {
            continue;
        }
        for t in start..i {
            for g in neighbours(f) {
                remaining[t * bins + g] = 0.0;
            }
        }
        events.push((start, i, (f + MIDI_OFFSET) as u8, amplitude(start, i, f)));
    }

    if s.melodia_trick {
        // Upstream takes numpy's argmax (the first maximum in row-major order) of what remains,
        // again and again. Values only ever drop to zero, so visiting the cells above the
        // threshold once, largest first and earliest first among equals, and skipping those
        // zeroed meanwhile, gives the same sequence in O(n log n) instead of O(n · notes).
        let threshold = s.frame_threshold.max(0.0);
        let mut candidates: Vec<(f64, usize)> =
            remaining.iter().enumerate().filter(|(_, v)| **v > threshold).map(|(j, &v)| (v, j)).collect();
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (value, at) in candidates {
            if remaining[at] != value {
                continue;
            }
            let (mid, f) = (at / bins, at % bins);
            remaining[at] = 0.0;
            let (mut i, mut k) = (mid + 1, 0);
            while i < frames_n - 1 && k < s.energy_tolerance {
                k = if below(&remaining, i, f) { k + 1 } else { 0 };
                for g in neighbours(f) {
                    remaining[i * bins + g] = 0.0;
                }
                i += 1;
            }
            // Upstream's end is the last frame above threshold, used as an exclusive end.
            let end = if mode == Mode::Cadenza { i - k } else { i - 1 - k };
            let (mut i, mut k) = (mid as isize - 1, 0usize);
            while i > 0 && k < s.energy_tolerance {
                let t = i as usize;
                k = if below(&remaining, t, f) { k + 1 } else { 0 };
                for g in neighbours(f) {
                    remaining[t * bins + g] = 0.0;
                }
                i -= 1;
            }
            let start = (i + 1) as usize + k;
            if end <= start || end - start <= s.min_note_frames {
                continue;
            }
            events.push((start, end, (f + MIDI_OFFSET) as u8, amplitude(start, end, f)));
        }
    }
    events
}

fn neighbours(f: usize) -> impl Iterator<Item = usize> {
    let low = f.saturating_sub(1);
    let high = (f + 1).min(MAX_FREQ_IDX);
    low..=high
}

/// Onsets raised where the note probability jumps (min of the 1- and 2-frame differences),
/// rescaled to the onsets' maximum.
fn inferred_onsets(onsets: &[f64], frames: &Matrix) -> Vec<f64> {
    let (n, bins) = (frames.frames, frames.bins);
    let value = |t: isize, f: usize| if t < 0 { 0.0 } else { f64::from(frames.at(t as usize, f)) };
    let mut diff = vec![0.0f64; n * bins];
    for t in 2..n {
        for f in 0..bins {
            let now = value(t as isize, f);
            let d1 = now - value(t as isize - 1, f);
            let d2 = now - value(t as isize - 2, f);
            diff[t * bins + f] = d1.min(d2).max(0.0);
        }
    }
    let max_onset = onsets.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let max_diff = diff.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Upstream divides 0 by 0 here when no frame rises, and the NaN then hides every onset;
    // Cadenza keeps the model's onsets instead (the one deliberate difference of this mode).
    onsets
        .iter()
        .zip(&diff)
        .map(|(&o, &d)| {
            let scaled = max_onset * d / max_diff;
            if scaled.is_nan() { o } else { o.max(scaled) }
        })
        .collect()
}

/// Per frame of the note, the contour's peak near the note's pitch (Gaussian-weighted, ±25
/// bins), in thirds of a semitone from the note's centre bin.
fn pitch_bends(contour: &Matrix, start: usize, end: usize, pitch: u8, centre_offset: usize) -> Vec<i32> {
    let bins = contour.bins;
    let centre = 3 * (usize::from(pitch) - MIDI_OFFSET) + centre_offset;
    let window = 2 * BEND_TOLERANCE + 1;
    let gaussian: Vec<f64> =
        (0..window).map(|n| (-0.5 * ((n as f64 - BEND_TOLERANCE as f64) / 5.0).powi(2)).exp()).collect();
    let low = centre.saturating_sub(BEND_TOLERANCE);
    let high = bins.min(centre + BEND_TOLERANCE + 1);
    let g_start = BEND_TOLERANCE.saturating_sub(centre);
    let shift = (BEND_TOLERANCE - g_start) as i32;
    (start..end)
        .map(|t| {
            let (mut best, mut at) = (f64::NEG_INFINITY, 0usize);
            for (j, f) in (low..high).enumerate() {
                let v = f64::from(contour.at(t, f)) * gaussian[g_start + j];
                if v > best {
                    best = v;
                    at = j;
                }
            }
            at as i32 - shift
        })
        .collect()
}
