//! The front end: nnAudio's CQT2010v2 as basic-pitch froze it into its graph (9 octaves of 36
//! complex kernels applied to a signal low-passed and halved per octave), then the per-window
//! log normalisation and batch norm, then the harmonic stack (spec §2.2–2.4).

use burn::module::{Module, Param};
use burn::tensor::module::conv1d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Tensor};

use super::{CONTOUR_BINS, FRAMES_PER_WINDOW, HOP};

pub(super) const OCTAVES: usize = 9;
pub(super) const BINS_PER_OCTAVE: usize = 36;
pub(super) const CQT_BINS: usize = 309;
/// Half-window reflect padding that centres frame t on sample 256·t.
pub(super) const CENTRE_PAD: usize = 128;
/// Zero padding of the even-length anti-alias filter (it delays each stage half a sample, as
/// upstream does).
pub(super) const LOWPASS_PAD: usize = 127;
/// Bin shifts of harmonics 0.5, 1, 2 … 7 (round(36·log2 h)).
pub(super) const HARMONIC_SHIFTS: [isize; 8] = [-36, 0, 36, 57, 72, 84, 93, 101];

/// The DSP constants and the front-end batch norm, loaded with the weights (they are
/// initializers of the published graph, so loading them keeps parity exact).
#[derive(Module, Debug)]
pub struct Front {
    /// Real and imaginary parts of the top-octave kernels, [36, 256] each.
    pub kernel_real: Param<Tensor<2>>,
    pub kernel_imag: Param<Tensor<2>>,
    /// Anti-alias low-pass before each halving, [256].
    pub lowpass: Param<Tensor<1>>,
    /// sqrt(kernel length) per CQT bin, [309].
    pub sqrt_lengths: Param<Tensor<1>>,
    pub bn_scale: Param<Tensor<1>>,
    pub bn_shift: Param<Tensor<1>>,
}

impl Front {
    pub fn zeros(device: &Device) -> Self {
        Self {
            kernel_real: Param::from_tensor(Tensor::zeros([BINS_PER_OCTAVE, 256], device)),
            kernel_imag: Param::from_tensor(Tensor::zeros([BINS_PER_OCTAVE, 256], device)),
            lowpass: Param::from_tensor(Tensor::zeros([256], device)),
            sqrt_lengths: Param::from_tensor(Tensor::zeros([CQT_BINS], device)),
            bn_scale: Param::from_tensor(Tensor::zeros([1], device)),
            bn_shift: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }

    /// Audio windows [B, 43844] → harmonic CQT [B, 8, 172, 264].
    pub fn forward(&self, audio: Tensor<2>) -> Tensor<4> {
        let power = self.cqt_power(audio);
        let normalised = normalised_log(power);
        let scaled = normalised * self.bn_scale.val().reshape([1, 1, 1]) + self.bn_shift.val().reshape([1, 1, 1]);
        harmonic_stack(scaled.swap_dims(1, 2))
    }

    /// |CQT|² · length, [B, 309 bins, 172 frames].
    fn cqt_power(&self, audio: Tensor<2>) -> Tensor<3> {
        // Real and imaginary kernels as one conv: 72 output channels.
        let kernels = Tensor::cat(vec![self.kernel_real.val(), self.kernel_imag.val()], 0).unsqueeze_dim::<3>(1);
        let lowpass = self.lowpass.val().reshape([1, 1, 256]);
        let mut x = audio.unsqueeze_dim::<3>(1);
        let mut hop = HOP;
        let mut octaves = Vec::with_capacity(OCTAVES);
        for octave in 0..OCTAVES {
            if octave > 0 {
                hop /= 2;
                x = conv1d(x, lowpass.clone(), None, ConvOptions::new([2], [LOWPASS_PAD], [1], 1));
            }
            let centred = x.clone().pad([(CENTRE_PAD, CENTRE_PAD)], PadMode::Reflect);
            let bins = conv1d(centred, kernels.clone(), None, ConvOptions::new([hop], [0], [1], 1));
            octaves.push(bins); // [B, 72, 172]: 36 real then 36 imaginary
        }
        let [batch, _, frames] = octaves[0].dims();
        debug_assert_eq!(frames, FRAMES_PER_WINDOW);
        // Lowest octave first; keep the top 309 of the 324 bins.
        let real: Vec<_> = octaves.iter().rev().map(|o| o.clone().slice([0..batch, 0..36, 0..frames])).collect();
        let imag: Vec<_> = octaves.iter().rev().map(|o| o.clone().slice([0..batch, 36..72, 0..frames])).collect();
        let first = OCTAVES * BINS_PER_OCTAVE - CQT_BINS;
        let all = OCTAVES * BINS_PER_OCTAVE;
        let real = Tensor::cat(real, 1).slice([0..batch, first..all, 0..frames]);
        let imag = Tensor::cat(imag, 1).slice([0..batch, first..all, 0..frames]);
        let scale = self.sqrt_lengths.val().reshape([1, CQT_BINS, 1]);
        let (real, imag) = (real * scale.clone(), imag * scale);
        real.clone() * real + imag.clone() * imag
    }
}

/// 10·log10(P + 1e-10), shifted to start at 0 and scaled to end at 1, over each whole window
/// (not per frame, not per file: that is what the model was trained on).
fn normalised_log(power: Tensor<3>) -> Tensor<3> {
    let db = (power + 1e-10).log() * (10.0 / std::f32::consts::LN_10);
    let [batch, _, _] = db.dims();
    let low = db.clone().min_dim(2).min_dim(1);
    let shifted = db - low;
    let high = shifted.clone().max_dim(2).max_dim(1);
    // A window whose max is 0 is all zeros already; dividing by a tiny number keeps it so.
    debug_assert_eq!(high.dims()[0], batch);
    shifted / high.clamp_min(f32::MIN_POSITIVE)
}

/// [B, 172, 309] → [B, 8, 172, 264]: each channel the spectrum shifted down by a harmonic's
/// bin offset (zero-filled), cut to the 264 contour bins.
fn harmonic_stack(x: Tensor<3>) -> Tensor<4> {
    let [batch, frames, bins] = x.dims();
    let channels = HARMONIC_SHIFTS
        .iter()
        .map(|&shift| {
            let shifted = if shift >= 0 {
                let s = shift as usize;
                let end = (s + CONTOUR_BINS).min(bins);
                let part = x.clone().slice([0..batch, 0..frames, s..end]);
                part.pad([(0, CONTOUR_BINS - (end - s))], PadMode::Constant(0.0))
            } else {
                let s = shift.unsigned_abs();
                let part = x.clone().slice([0..batch, 0..frames, 0..CONTOUR_BINS - s]);
                part.pad([(s, 0)], PadMode::Constant(0.0))
            };
            shifted.unsqueeze_dim::<4>(1)
        })
        .collect();
    Tensor::cat(channels, 1)
}
