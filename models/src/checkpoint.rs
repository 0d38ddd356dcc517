//! Training checkpoints shared by every training loop: the weights, the optimiser state and a
//! JSON state file, each written atomically (a crash mid-write leaves the previous checkpoint),
//! and read back to resume.

use std::path::{Path, PathBuf};

use burn::module::Module;
#[cfg(feature = "train")]
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::ModuleRecord;
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

pub const MODEL_FILE: &str = "model.bpk";
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
pub const STATE_FILE: &str = "training.json";
pub const CONFIG_FILE: &str = "config.json";

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("cannot resume from {path}: {message}")]
    Resume { path: PathBuf, message: String },
}

pub fn write_error(path: &Path, e: impl std::fmt::Display) -> CheckpointError {
    CheckpointError::Write { path: path.to_path_buf(), message: e.to_string() }
}

/// Writes to a temporary name beside `path`, then renames over it.
pub fn atomically(path: &Path, write: impl FnOnce(&Path) -> Result<(), String>) -> Result<(), CheckpointError> {
    let tmp = path.with_extension("partial");
    write(&tmp).map_err(|e| write_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| write_error(path, e))
}

/// Pretty JSON of `value`, written atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), CheckpointError> {
    let json = serde_json::to_string_pretty(value).map_err(|e| write_error(path, e))?;
    atomically(path, |p| std::fs::write(p, json).map_err(|e| e.to_string()))
}

/// Saves model (inference weights), optimiser, training state and config into `dir`.
#[cfg(feature = "train")]
pub fn save<M: Module>(
    dir: &Path,
    model: &M,
    optimizer: &ModuleOptimizer,
    state: &impl Serialize,
    config: &impl Serialize,
) -> Result<(), CheckpointError> {
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    atomically(&dir.join(MODEL_FILE), |p| model.valid().into_record().save(p).map_err(|e| e.to_string()))?;
    atomically(&dir.join(OPTIMIZER_FILE), |p| optimizer.to_record().save(p).map_err(|e| e.to_string()))?;
    write_json(&dir.join(STATE_FILE), state)?;
    write_json(&dir.join(CONFIG_FILE), config)
}

/// The training state a checkpoint directory holds (its `training.json`).
pub fn read_state<S: DeserializeOwned>(dir: &Path) -> Result<S, String> {
    let text = std::fs::read_to_string(dir.join(STATE_FILE)).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// The training state in `dir`, if a checkpoint is there.
#[cfg(feature = "train")]
fn saved_state<S: DeserializeOwned>(dir: &Path) -> Result<Option<S>, CheckpointError> {
    let path = dir.join(STATE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    read_state(dir).map(Some).map_err(|message| CheckpointError::Resume { path, message })
}

/// `model` with the weights of a record file (as [`save`] writes them).
pub fn with_record_file<M: Module>(model: M, path: &Path) -> Result<M, String> {
    let record = ModuleRecord::load(path).map_err(|e| e.to_string())?;
    model.try_load_record(record).map_err(|e| e.to_string())
}

/// `model` with the weights of a record file's bytes (a record built into the binary).
pub fn with_record_bytes<M: Module>(model: M, bytes: &[u8]) -> Result<M, String> {
    let record =
        ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| e.to_string())?;
    model.try_load_record(record).map_err(|e| e.to_string())
}

/// Picks up the checkpoint in `dir`, if there is one: its training state, `model` with its
/// weights, and the optimiser's record. A checkpoint whose state `same_config` rejects (trained
/// with another model configuration) is refused.
#[cfg(feature = "train")]
pub fn resume<M: Module, S: DeserializeOwned>(
    dir: &Path,
    model: M,
    same_config: impl FnOnce(&S) -> bool,
) -> Result<Option<(M, OptimizerRecord, S)>, CheckpointError> {
    let Some(state) = saved_state::<S>(dir)? else { return Ok(None) };
    let fail = |path: PathBuf, message: String| CheckpointError::Resume { path, message };
    if !same_config(&state) {
        return Err(fail(dir.join(STATE_FILE), "the checkpoint was trained with another model configuration".into()));
    }
    let model_path = dir.join(MODEL_FILE);
    let model = with_record_file(model, &model_path).map_err(|e| fail(model_path.clone(), e))?;
    let optimizer_path = dir.join(OPTIMIZER_FILE);
    let optimizer = OptimizerRecord::load(&optimizer_path).map_err(|e| fail(optimizer_path.clone(), e.to_string()))?;
    Ok(Some((model, optimizer, state)))
}
