//! The continuation model shipped in `assets/models/continuation/`, inside the binary.
//! `scripts/train_continuation.sh` trains it.

use burn::tensor::Device;

use super::model::{ContinuationConfig, ContinuationModel};

const RECORD: &[u8] = include_bytes!("../../../assets/models/continuation/model.bpk");
const CONFIG: &str = include_str!("../../../assets/models/continuation/config.json");

/// Loads a model from its record bytes and config JSON.
pub fn from_bytes(record: &[u8], config_json: &str, device: &Device) -> Result<ContinuationModel, String> {
    let config: ContinuationConfig = serde_json::from_str(config_json).map_err(|e| format!("config: {e}"))?;
    crate::checkpoint::with_record_bytes(config.init(device), record)
}

pub fn model(device: &Device) -> Result<ContinuationModel, String> {
    from_bytes(RECORD, CONFIG, device)
}
