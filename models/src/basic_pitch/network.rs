//! The three branches after the front end (spec §2.5): contour, note (from the contour), onset
//! (from the harmonic stack and the note probabilities).

use burn::module::{Module, Param};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use std::sync::{Arc, OnceLock};

use super::cpu::CpuBasicPitch;
use super::front::Front;
use super::{CONTOUR_BINS, FRAMES_PER_WINDOW, NOTE_BINS};

/// Stride and symmetric padding (time, frequency) of one layer, from the spec's layer table
/// (§2.5); the Burn module and the CPU kernels both read them from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Geometry {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

pub(super) const CONTOUR1: Geometry = Geometry { stride: [1, 1], padding: [1, 19] };
pub(super) const CONTOUR2: Geometry = Geometry { stride: [1, 1], padding: [2, 2] };
pub(super) const NOTE1: Geometry = Geometry { stride: [1, 3], padding: [3, 2] };
pub(super) const NOTE2: Geometry = Geometry { stride: [1, 1], padding: [3, 1] };
pub(super) const ONSET1: Geometry = Geometry { stride: [1, 3], padding: [2, 1] };
pub(super) const ONSET2: Geometry = Geometry { stride: [1, 1], padding: [1, 1] };

/// A convolution with its (batch-norm-folded) bias.
#[derive(Module, Debug)]
pub struct Conv {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
}

impl Conv {
    fn zeros(out: usize, input: usize, kernel: [usize; 2], device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::zeros([out, input, kernel[0], kernel[1]], device)),
            bias: Param::from_tensor(Tensor::zeros([out], device)),
        }
    }

    /// Cross-correlation over [B, C, time, freq] with symmetric padding.
    fn forward(&self, x: Tensor<4>, layer: Geometry) -> Tensor<4> {
        let options = ConvOptions::new(layer.stride, layer.padding, [1, 1], 1);
        conv2d(x, self.weight.val(), Some(self.bias.val()), options)
    }
}

/// The three posteriorgrams of a batch of windows (probabilities in 0..1).
#[derive(Debug, Clone)]
pub struct Posteriorgrams {
    /// [B, 172, 88]
    pub note: Tensor<3>,
    /// [B, 172, 88]
    pub onset: Tensor<3>,
    /// [B, 172, 264]
    pub contour: Tensor<3>,
}

#[derive(Module, Debug)]
pub struct BasicPitch {
    pub front: Front,
    pub contour1: Conv,
    pub contour2: Conv,
    pub note1: Conv,
    pub note2: Conv,
    pub onset1: Conv,
    pub onset2: Conv,
    /// The same weights laid out for the CPU kernels, made on first use (after loading).
    #[module(skip)]
    pub(super) cpu: OnceLock<Arc<CpuBasicPitch>>,
}

impl BasicPitch {
    /// The architecture with zero weights: load a record into it.
    pub fn zeros(device: &Device) -> Self {
        Self {
            front: Front::zeros(device),
            contour1: Conv::zeros(8, 8, [3, 39], device),
            contour2: Conv::zeros(1, 8, [5, 5], device),
            note1: Conv::zeros(32, 1, [7, 7], device),
            note2: Conv::zeros(1, 32, [7, 3], device),
            onset1: Conv::zeros(32, 8, [5, 5], device),
            onset2: Conv::zeros(1, 33, [3, 3], device),
            cpu: OnceLock::new(),
        }
    }

    /// The model for [`CpuBasicPitch`]'s kernels (the weights are copied once).
    pub fn cpu(&self) -> Arc<CpuBasicPitch> {
        Arc::clone(self.cpu.get_or_init(|| Arc::new(CpuBasicPitch::new(self))))
    }

    /// Audio windows [B, 43844] at 22,050 Hz → posteriorgrams.
    pub fn forward(&self, audio: Tensor<2>) -> Posteriorgrams {
        let batch = audio.dims()[0];
        let harmonics = self.front.forward(audio); // [B, 8, 172, 264]
        let contour_features = relu(self.contour1.forward(harmonics.clone(), CONTOUR1));
        let contour = sigmoid(self.contour2.forward(contour_features, CONTOUR2)); // [B,1,172,264]
        let note_features = relu(self.note1.forward(contour.clone(), NOTE1)); // [B,32,172,88]
        let note = sigmoid(self.note2.forward(note_features, NOTE2)); // [B,1,172,88]
        let onset_features = relu(self.onset1.forward(harmonics, ONSET1)); // [B,32,172,88]
        // The onset head sees the note probabilities first, then its own features.
        let onset_input = Tensor::cat(vec![note.clone(), onset_features], 1);
        let onset = sigmoid(self.onset2.forward(onset_input, ONSET2));
        Posteriorgrams {
            note: note.reshape([batch, FRAMES_PER_WINDOW, NOTE_BINS]),
            onset: onset.reshape([batch, FRAMES_PER_WINDOW, NOTE_BINS]),
            contour: contour.reshape([batch, FRAMES_PER_WINDOW, CONTOUR_BINS]),
        }
    }
}
