//! Cutting audio into model windows and stitching the windows' frames back together.
//!
//! basic-pitch 0.4.0 (spec §1) puts 3,840 zeros before the audio, starts a window every 36,164
//! samples, drops 15 frames at each side of every window and cuts the result to
//! ⌊samples · 86 / 22050⌋ frames. Its windows advance 141.27 frames but contribute 142, so the
//! stitched frames drift against the audio (a sawtooth in the reported times) and the last
//! ~0.7 % of every file is cut off. [`Mode::Compatible`] keeps all of that.
//!
//! [`Mode::Cadenza`] advances windows by exactly 142 frames (36,352 samples): every window keeps
//! the same 15 frames of context on each side as upstream, but stitched frame n is then centred
//! on sample 256·n, and frames run to the end of the audio. Windows that are near-silent skip
//! the model and give zeros: the per-window normalisation would otherwise stretch their noise
//! into confident false notes (spec §2.3).

use burn::tensor::{Device, Tensor, TensorData};

use super::notes::Matrix;
use super::{BasicPitch, CONTOUR_BINS, FRAMES_PER_WINDOW, HOP, Mode, NOTE_BINS, SAMPLE_RATE, WINDOW_SAMPLES};

pub const PRE_PAD: usize = 3_840;
/// Frames dropped at each side of a window.
pub const EDGE_FRAMES: usize = 15;
/// Frames each window contributes.
pub const KEPT_FRAMES: usize = FRAMES_PER_WINDOW - 2 * EDGE_FRAMES;
/// Windows quieter than this (RMS, −60 dBFS) are silence in Cadenza mode.
pub const SILENCE_RMS: f32 = 1e-3;

/// Samples between window starts.
pub fn window_hop(mode: Mode) -> usize {
    match mode {
        Mode::Compatible => 36_164,
        Mode::Cadenza => KEPT_FRAMES * HOP,
    }
}

/// Window start offsets (in the pre-padded signal) for `samples` of audio.
pub fn window_starts(samples: usize, mode: Mode) -> Vec<usize> {
    let count = match mode {
        Mode::Compatible => (samples + PRE_PAD).div_ceil(window_hop(mode)),
        Mode::Cadenza => kept_frames(samples, mode).div_ceil(KEPT_FRAMES),
    };
    (0..count).map(|w| w * window_hop(mode)).collect()
}

/// One window of the pre-padded signal, zero-filled past the end.
pub fn window(audio: &[f32], start: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; WINDOW_SAMPLES];
    for (i, slot) in out.iter_mut().enumerate() {
        let padded_index = start + i;
        if padded_index >= PRE_PAD
            && let Some(&v) = audio.get(padded_index - PRE_PAD)
        {
            *slot = v;
        }
    }
    out
}

/// Frames of output for `samples` of audio.
pub fn kept_frames(samples: usize, mode: Mode) -> usize {
    match mode {
        Mode::Compatible => samples * 86 / 22_050,
        // Every frame whose centre lies inside the audio.
        Mode::Cadenza => samples.div_ceil(HOP),
    }
}

/// Time of a stitched frame's centre, in seconds. Compatible mode reports what basic-pitch
/// reports, with its sawtooth error (spec §1.1, §3.6).
pub fn frame_to_seconds(frame: usize, mode: Mode) -> f64 {
    match mode {
        Mode::Compatible => {
            let original = frame as f64 * 256.0 / 22050.0;
            let window_offset = (256.0 / 22050.0) * (172.0 - 43844.0 / 256.0) + 0.0018;
            original - window_offset * (frame / 172) as f64
        }
        Mode::Cadenza => (frame * HOP) as f64 / f64::from(SAMPLE_RATE),
    }
}

/// The stitched posteriorgrams of a whole signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Stitched {
    pub note: Matrix,
    pub onset: Matrix,
    pub contour: Matrix,
}

impl Stitched {
    fn empty() -> Self {
        Self {
            note: Matrix::new(0, NOTE_BINS, Vec::new()),
            onset: Matrix::new(0, NOTE_BINS, Vec::new()),
            contour: Matrix::new(0, CONTOUR_BINS, Vec::new()),
        }
    }
}

/// Runs the model over `audio` (22,050 Hz mono) in batches of `batch` windows and stitches the
/// outputs. The model's working memory is bounded by the batch, not the length.
pub fn posteriorgrams(model: &BasicPitch, audio: &[f32], batch: usize, mode: Mode, device: &Device) -> Stitched {
    let mut never_cancel = |_| true;
    posteriorgrams_with_progress(model, audio, batch, mode, device, &mut never_cancel).unwrap_or_else(Stitched::empty)
}

/// As [`posteriorgrams`], telling `progress` the fraction done after each batch; it returns
/// false to cancel (then `None`).
pub fn posteriorgrams_with_progress(
    model: &BasicPitch,
    audio: &[f32],
    batch: usize,
    mode: Mode,
    device: &Device,
    progress: &mut dyn FnMut(f32) -> bool,
) -> Option<Stitched> {
    let starts = window_starts(audio.len(), mode);
    let mut stitcher = Stitcher::new(kept_frames(audio.len(), mode));
    for (done, chunk) in starts.chunks(batch.max(1)).enumerate() {
        if !progress((done * batch.max(1)) as f32 / starts.len().max(1) as f32) {
            return None;
        }
        let windows: Vec<Vec<f32>> = chunk.iter().map(|&s| window(audio, s)).collect();
        for frames in run_windows(model, &windows, KEPT, mode, device) {
            stitcher.push(&frames);
        }
    }
    progress(1.0);
    Some(stitcher.finish())
}

/// The posteriorgrams of one window, [172 × bins] each, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFrames {
    pub note: Vec<f32>,
    pub onset: Vec<f32>,
    pub contour: Vec<f32>,
}

impl WindowFrames {
    fn silent() -> Self {
        Self {
            note: vec![0.0; FRAMES_PER_WINDOW * NOTE_BINS],
            onset: vec![0.0; FRAMES_PER_WINDOW * NOTE_BINS],
            contour: vec![0.0; FRAMES_PER_WINDOW * CONTOUR_BINS],
        }
    }
}

fn rms(samples: &[f32]) -> f32 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len().max(1) as f64).sqrt() as f32
}

/// The frames of a window that stitching keeps.
pub const KEPT: std::ops::Range<usize> = EDGE_FRAMES..EDGE_FRAMES + KEPT_FRAMES;

/// Runs the model on whole windows (batched), in order, exact at least in the window frames
/// `frames` (the CPU kernels compute only what those need). In Cadenza mode silent windows are
/// not run: they come back as zeros. On the CPU the windows go through [`CpuBasicPitch`]'s
/// kernels, elsewhere through the Burn module.
///
/// [`CpuBasicPitch`]: super::cpu::CpuBasicPitch
pub fn run_windows(
    model: &BasicPitch,
    windows: &[Vec<f32>],
    frames: std::ops::Range<usize>,
    mode: Mode,
    device: &Device,
) -> Vec<WindowFrames> {
    let audible: Vec<bool> = windows.iter().map(|w| mode == Mode::Compatible || rms(w) >= SILENCE_RMS).collect();
    let audible_windows: Vec<&[f32]> =
        windows.iter().zip(&audible).filter(|(_, a)| **a).map(|(w, _)| w.as_slice()).collect();
    let mut computed = if *device == Device::flex() {
        // One window per core at a time (rayon's threads live on, and with them each thread's
        // working memory); a single window (the live path) stays on this thread.
        use rayon::prelude::*;
        let cpu = model.cpu();
        if audible_windows.len() == 1 {
            audible_windows.iter().map(|w| cpu.forward_frames(w, frames.clone())).collect()
        } else {
            audible_windows.par_iter().map(|w| cpu.forward_frames(w, frames.clone())).collect()
        }
    } else {
        run_burn(model, &audible_windows, device)
    }
    .into_iter();
    audible
        .iter()
        .map(|&a| if a { computed.next().unwrap_or_else(WindowFrames::silent) } else { WindowFrames::silent() })
        .collect()
}

/// The Burn module on a batch of windows.
fn run_burn(model: &BasicPitch, windows: &[&[f32]], device: &Device) -> Vec<WindowFrames> {
    let data: Vec<f32> = windows.concat();
    let count = data.len() / WINDOW_SAMPLES;
    if count == 0 {
        return Vec::new();
    }
    let input = Tensor::<2>::from_data(TensorData::new(data, [count, WINDOW_SAMPLES]), device);
    let out = model.forward(input);
    let values = |t: Tensor<3>| t.into_data().try_to_vec::<f32>().unwrap_or_default();
    let (note, onset, contour) = (values(out.note), values(out.onset), values(out.contour));
    let per = |v: &[f32], w: usize, bins: usize| {
        let size = FRAMES_PER_WINDOW * bins;
        v.get(w * size..(w + 1) * size).map_or_else(|| vec![0.0; size], <[f32]>::to_vec)
    };
    (0..count)
        .map(|w| WindowFrames {
            note: per(&note, w, NOTE_BINS),
            onset: per(&onset, w, NOTE_BINS),
            contour: per(&contour, w, CONTOUR_BINS),
        })
        .collect()
}

/// Collects the kept middle frames of consecutive windows.
#[derive(Debug)]
pub struct Stitcher {
    frames: usize,
    note: Vec<f32>,
    onset: Vec<f32>,
    contour: Vec<f32>,
}

impl Stitcher {
    /// Stitches up to `frames` frames.
    pub fn new(frames: usize) -> Self {
        Self { frames, note: Vec::new(), onset: Vec::new(), contour: Vec::new() }
    }

    pub fn push(&mut self, window: &WindowFrames) {
        for (target, values, bins) in [
            (&mut self.note, &window.note, NOTE_BINS),
            (&mut self.onset, &window.onset, NOTE_BINS),
            (&mut self.contour, &window.contour, CONTOUR_BINS),
        ] {
            // The frames `run_windows` is asked to make exact.
            target.extend_from_slice(&values[KEPT.start * bins..KEPT.end * bins]);
        }
    }

    pub fn finish(mut self) -> Stitched {
        let frames = self.frames.min(self.note.len() / NOTE_BINS);
        self.note.truncate(frames * NOTE_BINS);
        self.onset.truncate(frames * NOTE_BINS);
        self.contour.truncate(frames * CONTOUR_BINS);
        Stitched {
            note: Matrix::new(frames, NOTE_BINS, self.note),
            onset: Matrix::new(frames, NOTE_BINS, self.onset),
            contour: Matrix::new(frames, CONTOUR_BINS, self.contour),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadenza_frames_sit_on_the_hop_grid_and_cover_the_whole_file() {
        let samples = 60 * 22_050;
        let frames = kept_frames(samples, Mode::Cadenza);
        // The last frame is centred inside the audio, the one after it would not be.
        assert!((frames - 1) * HOP < samples && frames * HOP >= samples);
        let windows = window_starts(samples, Mode::Cadenza);
        assert!(windows.len() * KEPT_FRAMES >= frames);
        // Window w's first kept frame is centred on sample 256·142·w of the audio.
        for (w, &start) in windows.iter().enumerate() {
            let centre_of_first_kept = start + EDGE_FRAMES * HOP;
            assert_eq!(centre_of_first_kept - PRE_PAD, w * KEPT_FRAMES * HOP);
        }
        assert!((frame_to_seconds(frames - 1, Mode::Cadenza) - 59.99).abs() < 0.02);
        // Upstream stops 0.4 s early on a minute of audio.
        let compat = kept_frames(samples, Mode::Compatible);
        assert!(frame_to_seconds(compat - 1, Mode::Compatible) < 59.6);
    }
}
