//! The three branches after the front end (spec §2.5): contour, note (from the contour), onset
//! (from the harmonic stack and the note probabilities).

use burn::module::Module;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

use std::sync::{Arc, OnceLock};

use super::cpu::CpuBasicPitch;
use super::front::Front;
use super::layers::{Branches, CONTOUR1, CONTOUR2, Conv, NOTE1, NOTE2, ONSET1, ONSET2};
use super::{CONTOUR_BINS, FRAMES_PER_WINDOW, NOTE_BINS};

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
        Arc::clone(self.cpu.get_or_init(|| Arc::new(CpuBasicPitch::new(&self.front, self.branches()))))
    }

    fn branches(&self) -> Branches<'_> {
        Branches {
            contour1: &self.contour1,
            contour2: &self.contour2,
            note1: &self.note1,
            note2: &self.note2,
            onset1: &self.onset1,
            onset2: &self.onset2,
        }
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
