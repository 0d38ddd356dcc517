//! Cutting audio into model windows and stitching the windows' frames back together, as
//! basic-pitch 0.4.0 does (spec §1): 3,840 zeros before the audio, windows every 36,164
//! samples, 15 frames dropped at each side of every window, the result cut to
//! ⌊samples · 86 / 22050⌋ frames. (That keeps upstream's faults, drift and the dropped tail;
//! this is the compatible mode.)

use burn::tensor::{Device, Tensor, TensorData};

use super::notes::Matrix;
use super::{BasicPitch, CONTOUR_BINS, FRAMES_PER_WINDOW, NOTE_BINS, WINDOW_SAMPLES};

pub const PRE_PAD: usize = 3_840;
pub const WINDOW_HOP: usize = 36_164;
/// Frames dropped at each side of a window.
pub const EDGE_FRAMES: usize = 15;

/// Window start offsets (in the pre-padded signal) for `samples` of audio.
pub fn window_starts(samples: usize) -> impl Iterator<Item = usize> {
    (0..samples + PRE_PAD).step_by(WINDOW_HOP)
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

/// Frames basic-pitch keeps for `samples` of audio.
pub fn kept_frames(samples: usize) -> usize {
    samples * 86 / 22_050
}

/// The stitched posteriorgrams of a whole signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Stitched {
    pub note: Matrix,
    pub onset: Matrix,
    pub contour: Matrix,
}

/// Runs the model over `audio` (22,050 Hz mono) in batches of `batch` windows and stitches the
/// outputs. The model's working memory is bounded by the batch, not the length.
pub fn posteriorgrams(model: &BasicPitch, audio: &[f32], batch: usize, device: &Device) -> Stitched {
    let mut never_cancel = |_| true;
    posteriorgrams_with_progress(model, audio, batch, device, &mut never_cancel).unwrap_or_else(|| Stitched {
        note: Matrix::new(0, NOTE_BINS, Vec::new()),
        onset: Matrix::new(0, NOTE_BINS, Vec::new()),
        contour: Matrix::new(0, CONTOUR_BINS, Vec::new()),
    })
}

/// As [`posteriorgrams`], telling `progress` the fraction done after each batch; it returns
/// false to cancel (then `None`).
pub fn posteriorgrams_with_progress(
    model: &BasicPitch,
    audio: &[f32],
    batch: usize,
    device: &Device,
    progress: &mut dyn FnMut(f32) -> bool,
) -> Option<Stitched> {
    let starts: Vec<usize> = window_starts(audio.len()).collect();
    let keep = FRAMES_PER_WINDOW - 2 * EDGE_FRAMES;
    let (mut note, mut onset, mut contour) = (Vec::new(), Vec::new(), Vec::new());
    for (done, chunk) in starts.chunks(batch.max(1)).enumerate() {
        if !progress((done * batch.max(1)) as f32 / starts.len().max(1) as f32) {
            return None;
        }
        let data: Vec<f32> = chunk.iter().flat_map(|&s| window(audio, s)).collect();
        let input = Tensor::<2>::from_data(TensorData::new(data, [chunk.len(), WINDOW_SAMPLES]), device);
        let out = model.forward(input);
        for (target, tensor, bins) in [
            (&mut note, out.note, NOTE_BINS),
            (&mut onset, out.onset, NOTE_BINS),
            (&mut contour, out.contour, CONTOUR_BINS),
        ] {
            let values: Vec<f32> = tensor.into_data().try_to_vec::<f32>().unwrap_or_default();
            for w in 0..chunk.len() {
                let base = w * FRAMES_PER_WINDOW * bins;
                let from = base + EDGE_FRAMES * bins;
                target.extend_from_slice(&values[from..from + keep * bins]);
            }
        }
    }
    let frames = kept_frames(audio.len()).min(note.len() / NOTE_BINS);
    note.truncate(frames * NOTE_BINS);
    onset.truncate(frames * NOTE_BINS);
    contour.truncate(frames * CONTOUR_BINS);
    progress(1.0);
    Some(Stitched {
        note: Matrix::new(frames, NOTE_BINS, note),
        onset: Matrix::new(frames, NOTE_BINS, onset),
        contour: Matrix::new(frames, CONTOUR_BINS, contour),
    })
}
