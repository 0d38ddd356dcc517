//! Loading Basic Pitch's weights: from the safetensors file `scripts/basic_pitch/convert_weights.py`
//! extracts from the published wheel (used once, by the converter), and from the Burn record
//! shipped in `assets/models/basic_pitch/` (used at run time; no network).

use std::cell::Cell;

use burn::module::{Param, ParamId};
use burn::tensor::{Device, Tensor, TensorData};
use thiserror::Error;

use super::layers::Conv;
use super::network::BasicPitch;

#[derive(Debug, Error)]
pub enum WeightsError {
    #[error("the weights file is not valid safetensors: {0}")]
    Format(String),
    #[error("the weights file has no tensor {0:?}")]
    Missing(String),
    #[error("tensor {name:?} has shape {found:?}, the model needs {expected:?}")]
    Shape { name: String, found: Vec<usize>, expected: Vec<usize> },
    #[error("the Basic Pitch record does not fit the model: {0}")]
    Record(String),
}

/// A float32 tensor of a safetensors file: its values and shape (the weights, and the parity
/// fixtures the tests read).
pub fn read_f32(st: &safetensors::SafeTensors<'_>, name: &str) -> Result<(Vec<f32>, Vec<usize>), WeightsError> {
    let view = st.tensor(name).map_err(|_| WeightsError::Missing(name.to_string()))?;
    if view.dtype() != safetensors::Dtype::F32 {
        return Err(WeightsError::Format(format!("tensor {name:?} is {:?}, not F32", view.dtype())));
    }
    let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Ok((values, view.shape().to_vec()))
}

fn tensor<const D: usize>(
    st: &safetensors::SafeTensors<'_>,
    name: &str,
    expected: [usize; D],
    device: &Device,
) -> Result<Tensor<D>, WeightsError> {
    let (values, shape) = read_f32(st, name)?;
    if shape != expected {
        return Err(WeightsError::Shape { name: name.into(), found: shape, expected: expected.to_vec() });
    }
    Ok(Tensor::from_data(TensorData::new(values, expected), device))
}

/// Numbers parameters in load order, so converting the same weights twice writes the same
/// record bytes (Burn would otherwise give each parameter a random id).
struct Ids(Cell<u64>);

impl Ids {
    fn param<const D: usize>(&self, tensor: Tensor<D>) -> Param<Tensor<D>> {
        let id = self.0.get() + 1;
        self.0.set(id);
        Param::initialized(ParamId::from(id), tensor)
    }
}

fn conv(
    st: &safetensors::SafeTensors<'_>,
    ids: &Ids,
    name: &str,
    like: &Conv,
    device: &Device,
) -> Result<Conv, WeightsError> {
    let shape = like.weight.val().dims();
    Ok(Conv {
        weight: ids.param(tensor(st, &format!("{name}.weight"), shape, device)?),
        bias: ids.param(tensor(st, &format!("{name}.bias"), [shape[0]], device)?),
    })
}

/// Builds the model from the converter's safetensors file.
pub fn load_safetensors(bytes: &[u8], device: &Device) -> Result<BasicPitch, WeightsError> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Format(e.to_string()))?;
    let zeros = BasicPitch::zeros(device);
    let ids = Ids(Cell::new(0));
    let mut front = zeros.front;
    front.kernel_real = ids.param(tensor(&st, "front.kernel_real", [36, 256], device)?);
    front.kernel_imag = ids.param(tensor(&st, "front.kernel_imag", [36, 256], device)?);
    front.lowpass = ids.param(tensor(&st, "front.lowpass", [256], device)?);
    front.sqrt_lengths = ids.param(tensor(&st, "front.sqrt_lengths", [309], device)?);
    front.bn_scale = ids.param(tensor(&st, "front.bn_scale", [1], device)?);
    front.bn_shift = ids.param(tensor(&st, "front.bn_shift", [1], device)?);
    Ok(BasicPitch {
        cpu: zeros.cpu,
        front,
        contour1: conv(&st, &ids, "contour1", &zeros.contour1, device)?,
        contour2: conv(&st, &ids, "contour2", &zeros.contour2, device)?,
        note1: conv(&st, &ids, "note1", &zeros.note1, device)?,
        note2: conv(&st, &ids, "note2", &zeros.note2, device)?,
        onset1: conv(&st, &ids, "onset1", &zeros.onset1, device)?,
        onset2: conv(&st, &ids, "onset2", &zeros.onset2, device)?,
    })
}

impl BasicPitch {
    /// Loads the Burn record (burnpack) written by the converter.
    pub fn from_record_file(path: &std::path::Path, device: &Device) -> Result<Self, WeightsError> {
        crate::checkpoint::with_record_file(BasicPitch::zeros(device), path).map_err(WeightsError::Record)
    }
}

/// The record shipped in `assets/models/basic_pitch/`, inside the binary: no path to find, no
/// download.
const SHIPPED_RECORD: &[u8] = include_bytes!("../../../assets/models/basic_pitch/nmp_icassp2022.bpk");

impl BasicPitch {
    /// The published weights (basic-pitch 0.4.0), as shipped with Cadenza.
    pub fn shipped(device: &Device) -> Result<Self, WeightsError> {
        crate::checkpoint::with_record_bytes(BasicPitch::zeros(device), SHIPPED_RECORD).map_err(WeightsError::Record)
    }
}
