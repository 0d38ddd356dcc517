//! Basic Pitch's forward pass on the CPU with Cadenza's SIMD convolution kernels: the same
//! arithmetic as the Burn module (spec §2), one window at a time, about an order of magnitude
//! faster than Burn's generic CPU convolutions on these shapes. The Burn module stays the
//! reference and the GPU path; `tests/basic_pitch_parity.rs` holds both to onnxruntime.

use std::cell::RefCell;
use std::ops::Range;

use super::front::{BINS_PER_OCTAVE, CENTRE_PAD, CQT_BINS, Front, HARMONIC_SHIFTS, LOWPASS_PAD, OCTAVES};
use super::layers::{Branches, CONTOUR1, CONTOUR2, Conv, Geometry, NOTE1, NOTE2, ONSET1, ONSET2};
use super::stitch::WindowFrames;
use super::{CONTOUR_BINS, FRAMES_PER_WINDOW, HOP, NOTE_BINS, WINDOW_SAMPLES};
use crate::kernels::{Conv2d, ConvScratch, ConvShape, Region};

/// The model's weights laid out for the CPU kernels.
#[derive(Debug, Clone)]
pub struct CpuBasicPitch {
    /// The 36 real then 36 imaginary top-octave kernels as one 72-channel 1×256 convolution
    /// per hop (256 at the top octave, halving below).
    cqt: Vec<Conv2d>,
    lowpass: Conv2d,
    sqrt_lengths: Vec<f32>,
    bn_scale: f32,
    bn_shift: f32,
    /// The first contour convolution over the harmonic stack, for its edge columns.
    contour1: Conv2d,
    /// The same convolution folded onto the spectrum, for its other columns.
    contour1_folded: Conv2d,
    contour2: Conv2d,
    note1: Conv2d,
    note2: Conv2d,
    onset1: Conv2d,
    onset2: Conv2d,
}

fn values<const D: usize>(tensor: burn::tensor::Tensor<D>) -> Vec<f32> {
    tensor.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default()
}

fn conv(layer: &Conv, geometry: Geometry) -> Conv2d {
    let [out_channels, in_channels, kr, kc] = layer.weight.val().dims();
    // The kernels step one frame at a time, as every Basic Pitch layer does.
    debug_assert_eq!(geometry.stride[0], 1);
    let shape = ConvShape {
        in_channels,
        out_channels,
        kernel: [kr, kc],
        column_stride: geometry.stride[1],
        padding: geometry.padding,
    };
    Conv2d::new(shape, &values(layer.weight.val()), &values(layer.bias.val()))
}

impl CpuBasicPitch {
    /// Copies the weights out of a loaded model's front end and branches (whatever device
    /// they live on).
    pub(super) fn new(front: &Front, model: Branches<'_>) -> Self {
        let mut kernels = values(front.kernel_real.val());
        kernels.extend(values(front.kernel_imag.val()));
        let cqt = (0..OCTAVES)
            .map(|octave| {
                let shape = ConvShape {
                    in_channels: 1,
                    out_channels: 2 * BINS_PER_OCTAVE,
                    kernel: [1, 256],
                    column_stride: HOP >> octave,
                    padding: [0, 0],
                };
                Conv2d::new(shape, &kernels, &[0.0; 2 * BINS_PER_OCTAVE])
            })
            .collect();
        let lowpass_shape = ConvShape {
            in_channels: 1,
            out_channels: 1,
            kernel: [1, 256],
            column_stride: 2,
            padding: [0, LOWPASS_PAD],
        };
        let scalar = |t| values(t).first().copied().unwrap_or(0.0);
        Self {
            cqt,
            lowpass: Conv2d::new(lowpass_shape, &values(front.lowpass.val()), &[0.0]),
            sqrt_lengths: values(front.sqrt_lengths.val()),
            bn_scale: scalar(front.bn_scale.val()),
            bn_shift: scalar(front.bn_shift.val()),
            contour1: conv(model.contour1, CONTOUR1),
            contour1_folded: fold_harmonics(model.contour1),
            contour2: conv(model.contour2, CONTOUR2),
            note1: conv(model.note1, NOTE1),
            note2: conv(model.note2, NOTE2),
            onset1: conv(model.onset1, ONSET1),
            onset2: conv(model.onset2, ONSET2),
        }
    }

    /// One window of 43,844 samples → its posteriorgrams.
    pub fn forward(&self, window: &[f32]) -> WindowFrames {
        WORKSPACE.with_borrow_mut(|ws| self.forward_with(window, 0..FRAMES_PER_WINDOW, ws))
    }

    /// As [`CpuBasicPitch::forward`], exact only in the frames `wanted` (zero elsewhere):
    /// stitching keeps the middle 142 of a window's 172 frames, and the layers after the
    /// front end then need only the rows those depend on.
    pub fn forward_frames(&self, window: &[f32], wanted: Range<usize>) -> WindowFrames {
        WORKSPACE.with_borrow_mut(|ws| self.forward_with(window, wanted, ws))
    }

    fn forward_with(&self, window: &[f32], wanted: Range<usize>, ws: &mut Workspace) -> WindowFrames {
        assert_eq!(window.len(), WINDOW_SAMPLES, "a Basic Pitch window");
        let frames = FRAMES_PER_WINDOW;
        // Each layer's rows: what the next reads (its kernel's reach in time) around its own.
        let widen_rows = |rows: &Range<usize>, layer: Geometry| {
            rows.start.saturating_sub(layer.padding[0])..(rows.end + layer.padding[0]).min(frames)
        };
        let onset_rows = wanted.start.min(frames)..wanted.end.min(frames);
        let note_rows = widen_rows(&onset_rows, ONSET2); // the onset head reads the notes too
        let note1_rows = widen_rows(&note_rows, NOTE2);
        let contour_rows = widen_rows(&note1_rows, NOTE1);
        let contour1_rows = widen_rows(&contour_rows, CONTOUR2);
        let onset1_rows = widen_rows(&onset_rows, ONSET2);
        self.normalised_cqt(window, ws);
        harmonic_stack(&ws.cqt, &mut ws.harmonics); // [8][172][264]
        widen(&ws.cqt, FOLDED_INPUT_BINS, &mut ws.widened);
        let Workspace { conv, harmonics, widened, features, onset_input, .. } = ws;
        let (mut contour, mut note, mut onset) = (Vec::new(), Vec::new(), Vec::new());
        self.first_contour_layer(harmonics, widened, contour1_rows, conv, features);
        relu(features);
        self.contour2.forward_rows_into(features, frames, CONTOUR_BINS, contour_rows, conv, &mut contour);
        sigmoid(&mut contour);
        self.note1.forward_rows_into(&contour, frames, CONTOUR_BINS, note1_rows, conv, features);
        relu(features);
        self.note2.forward_rows_into(features, frames, NOTE_BINS, note_rows, conv, &mut note);
        sigmoid(&mut note);
        self.onset1.forward_rows_into(harmonics, frames, CONTOUR_BINS, onset1_rows, conv, features);
        relu(features);
        // The onset head sees the note probabilities first, then its own features.
        onset_input.clear();
        onset_input.extend_from_slice(&note);
        onset_input.extend_from_slice(features);
        self.onset2.forward_rows_into(onset_input, frames, NOTE_BINS, onset_rows, conv, &mut onset);
        sigmoid(&mut onset);
        WindowFrames { note, onset, contour }
    }

    /// The 3×39 convolution over the harmonic stack: folded onto the spectrum where that is
    /// exact, over the harmonic channels at the edges.
    fn first_contour_layer(
        &self,
        harmonics: &[f32],
        widened: &[f32],
        rows: Range<usize>,
        conv: &mut ConvScratch,
        out: &mut Vec<f32>,
    ) {
        let frames = FRAMES_PER_WINDOW;
        out.clear();
        out.resize(self.contour1.shape().out_channels * frames * CONTOUR_BINS, 0.0);
        let edge = CONTOUR1.padding[1];
        let middle = edge..CONTOUR_BINS - edge;
        let edges = [0..edge, CONTOUR_BINS - edge..CONTOUR_BINS];
        let region = Region { rows: rows.clone(), columns: std::slice::from_ref(&middle) };
        self.contour1_folded.forward_region_into(widened, frames, FOLDED_INPUT_BINS, region, conv, out);
        let region = Region { rows, columns: &edges };
        self.contour1.forward_region_into(harmonics, frames, CONTOUR_BINS, region, conv, out);
    }

    /// The constant-Q power of every frame, log-normalised over the window and batch-normed,
    /// into `ws.cqt`: `[172 frames][309 bins]`.
    fn normalised_cqt(&self, window: &[f32], ws: &mut Workspace) {
        let frames = FRAMES_PER_WINDOW;
        let Workspace { conv, signal, centred, octaves, cqt, .. } = ws;
        signal.clear();
        signal.extend_from_slice(window);
        // octaves[o] is [72][172]: 36 real then 36 imaginary rows, top octave first.
        octaves.resize_with(OCTAVES, Vec::new);
        for (octave, (kernels, bins)) in self.cqt.iter().zip(octaves.iter_mut()).enumerate() {
            if octave > 0 {
                // Low-pass and halve into `centred`, then make that the signal.
                self.lowpass.forward_into(signal, 1, signal.len(), conv, centred);
                std::mem::swap(signal, centred);
            }
            reflect_pad(signal, CENTRE_PAD, centred);
            kernels.forward_into(centred, 1, centred.len(), conv, bins);
            debug_assert_eq!(bins.len(), 2 * BINS_PER_OCTAVE * frames);
        }
        // Lowest octave first, the top 309 of the 324 bins; |·|² of the length-scaled bins.
        let first = OCTAVES * BINS_PER_OCTAVE - CQT_BINS;
        cqt.clear();
        cqt.resize(frames * CQT_BINS, 0.0);
        for (stacked, bin) in (first..OCTAVES * BINS_PER_OCTAVE).enumerate() {
            let octave = &octaves[OCTAVES - 1 - bin / BINS_PER_OCTAVE];
            let k = bin % BINS_PER_OCTAVE;
            let scale = self.sqrt_lengths[stacked];
            let (real, imag) = (&octave[k * frames..][..frames], &octave[(k + BINS_PER_OCTAVE) * frames..][..frames]);
            for t in 0..frames {
                let (re, im) = (real[t] * scale, imag[t] * scale);
                cqt[t * CQT_BINS + stacked] = re * re + im * im;
            }
        }
        // 10·log10(P + 1e-10), shifted to start at 0 and scaled to end at 1 over the window.
        let to_db = 10.0 / std::f32::consts::LN_10;
        for p in cqt.iter_mut() {
            *p = (*p + 1e-10).ln() * to_db;
        }
        let low = cqt.iter().copied().fold(f32::INFINITY, f32::min);
        let high = cqt.iter().map(|p| p - low).fold(0.0f32, f32::max).max(f32::MIN_POSITIVE);
        for p in cqt.iter_mut() {
            *p = (*p - low) / high * self.bn_scale + self.bn_shift;
        }
    }
}

/// Working memory of one forward pass, kept per thread from window to window: a pass touches
/// about 10 MB, and fresh allocations of that size cost page faults on every window.
#[derive(Debug, Default)]
struct Workspace {
    conv: ConvScratch,
    signal: Vec<f32>,
    centred: Vec<f32>,
    octaves: Vec<Vec<f32>>,
    cqt: Vec<f32>,
    harmonics: Vec<f32>,
    widened: Vec<f32>,
    features: Vec<f32>,
    onset_input: Vec<f32>,
}

thread_local! {
    static WORKSPACE: RefCell<Workspace> = RefCell::default();
}

/// numpy/ONNX "reflect" padding (the edge sample is not repeated).
fn reflect_pad(x: &[f32], pad: usize, out: &mut Vec<f32>) {
    let n = x.len();
    out.clear();
    out.extend((1..=pad).rev().map(|i| x[i.min(n - 1)]));
    out.extend_from_slice(x);
    out.extend((0..pad).map(|i| x[n.saturating_sub(2 + i)]));
}

/// The folded contour convolution reads this many bins a frame: the spectrum, then zeros.
const FOLDED_INPUT_BINS: usize = CONTOUR_BINS + FOLDED_TAPS - 1 - 2 * (CONTOUR1.padding[1] + FOLD_SHIFT);
/// The lowest harmonic shift is negative: the folded kernel starts that many bins lower.
const FOLD_SHIFT: usize = HARMONIC_SHIFTS[0].unsigned_abs();
/// Taps of the folded kernel: the layer's 39, spread over the span of the shifts.
const FOLDED_TAPS: usize = 39 + (HARMONIC_SHIFTS[HARMONIC_SHIFTS.len() - 1] - HARMONIC_SHIFTS[0]) as usize;

/// The first contour convolution (3×39 over the eight harmonic channels, 65 % of the model's
/// work) folded into one 3×176 convolution over the spectrum itself. Channel c is the
/// spectrum shifted by `HARMONIC_SHIFTS[c]`, so its tap j at output bin f reads spectrum bin
/// f + j − 19 + shift: the same bin for every (c, j) with the same j + shift, whose weights can
/// be summed first (936 multiply-adds an output become 528). Exact wherever the layer's own
/// zero padding is not read, i.e. away from the 19 bins at either edge.
fn fold_harmonics(layer: &Conv) -> Conv2d {
    let [out_channels, in_channels, kr, kc] = layer.weight.val().dims();
    debug_assert_eq!((in_channels, kc), (HARMONIC_SHIFTS.len(), 39));
    let weight = values(layer.weight.val());
    let mut folded = vec![0.0f32; out_channels * kr * FOLDED_TAPS];
    for o in 0..out_channels {
        for (c, &shift) in HARMONIC_SHIFTS.iter().enumerate() {
            for dr in 0..kr {
                for j in 0..kc {
                    let u = (j as isize + shift + FOLD_SHIFT as isize) as usize;
                    folded[(o * kr + dr) * FOLDED_TAPS + u] += weight[((o * in_channels + c) * kr + dr) * kc + j];
                }
            }
        }
    }
    let shape = ConvShape {
        in_channels: 1,
        out_channels,
        kernel: [kr, FOLDED_TAPS],
        column_stride: 1,
        padding: [CONTOUR1.padding[0], CONTOUR1.padding[1] + FOLD_SHIFT],
    };
    Conv2d::new(shape, &folded, &values(layer.bias.val()))
}

/// `[frames][309]` → `[frames][bins]`, zero-filled on the right.
fn widen(x: &[f32], bins: usize, out: &mut Vec<f32>) {
    out.clear();
    for row in x.chunks_exact(CQT_BINS) {
        out.extend_from_slice(row);
        out.resize(out.len() + bins - CQT_BINS, 0.0);
    }
}

/// `[172][309]` → `[8][172][264]`: each channel the spectrum shifted by a harmonic's bin offset
/// (zero-filled), cut to the 264 contour bins.
fn harmonic_stack(x: &[f32], out: &mut Vec<f32>) {
    let frames = FRAMES_PER_WINDOW;
    out.clear();
    out.resize(HARMONIC_SHIFTS.len() * frames * CONTOUR_BINS, 0.0);
    for (c, &shift) in HARMONIC_SHIFTS.iter().enumerate() {
        // Contour bin f holds CQT bin f + shift where that exists.
        let first = shift.unsigned_abs() * usize::from(shift < 0);
        let last = (CQT_BINS as isize - shift).clamp(0, CONTOUR_BINS as isize) as usize;
        for t in 0..frames {
            let source = &x[t * CQT_BINS..][..CQT_BINS];
            let target = &mut out[(c * frames + t) * CONTOUR_BINS..][..CONTOUR_BINS];
            let from = (first as isize + shift) as usize;
            target[first..last].copy_from_slice(&source[from..from + (last - first)]);
        }
    }
}

fn relu(x: &mut [f32]) {
    for v in x {
        *v = v.max(0.0);
    }
}

fn sigmoid(x: &mut [f32]) {
    for v in x {
        *v = 1.0 / (1.0 + (-*v).exp());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_padding_does_not_repeat_the_edge() {
        let mut out = Vec::new();
        reflect_pad(&[1.0, 2.0, 3.0, 4.0], 2, &mut out);
        assert_eq!(out, vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]);
    }
}
