//! The continuation model shipped in `assets/models/continuation/`, inside the binary.
//! `scripts/train_continuation.sh` trains it.

use burn::module::Module;
use burn::tensor::Device;

use super::model::{ContinuationConfig, ContinuationModel};

const RECORD: &[u8] = include_bytes!("../../../assets/models/continuation/model.bpk");
const CONFIG: &str = include_str!("../../../assets/models/continuation/config.json");

/// Loads a model from its record bytes and config JSON.
pub fn from_bytes(record: &[u8], config_json: &str, device: &Device) -> Result<ContinuationModel, String> {
    let config: ContinuationConfig = serde_json::from_str(config_json).map_err(|e| format!("config: {e}"))?;
    let bytes = burn::tensor::Bytes::from_bytes_vec(record.to_vec());
    let record = burn::store::ModuleRecord::from_bytes(bytes).map_err(|e| e.to_string())?;
    config.init(device).try_load_record(record).map_err(|e| e.to_string())
}

pub fn model(device: &Device) -> Result<ContinuationModel, String> {
    from_bytes(RECORD, CONFIG, device)
}
