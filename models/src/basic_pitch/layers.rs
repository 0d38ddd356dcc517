//! The layers both forward passes are built from: each convolution's stride and padding
//! (spec §2.5), the convolution with its folded bias, and the six branch convolutions as a
//! set, so the Burn module and the CPU kernels read the same geometry and weights.

use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

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
    pub(super) fn zeros(out: usize, input: usize, kernel: [usize; 2], device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::zeros([out, input, kernel[0], kernel[1]], device)),
            bias: Param::from_tensor(Tensor::zeros([out], device)),
        }
    }

    /// Cross-correlation over [B, C, time, freq] with symmetric padding.
    pub(super) fn forward(&self, x: Tensor<4>, layer: Geometry) -> Tensor<4> {
        let options = ConvOptions::new(layer.stride, layer.padding, [1, 1], 1);
        conv2d(x, self.weight.val(), Some(self.bias.val()), options)
    }
}

/// The branch convolutions of a loaded model, borrowed (the CPU kernels copy them).
#[derive(Debug, Clone, Copy)]
pub(super) struct Branches<'a> {
    pub contour1: &'a Conv,
    pub contour2: &'a Conv,
    pub note1: &'a Conv,
    pub note2: &'a Conv,
    pub onset1: &'a Conv,
    pub onset2: &'a Conv,
}
