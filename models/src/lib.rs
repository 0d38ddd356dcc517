//! Cadenza's machine-learning side: Burn modules, their codecs, and the runtime that picks
//! where they run. Nothing here depends on the GUI, so GUI edits never rebuild Burn.

pub mod basic_pitch;
pub mod checkpoint;
pub mod continuation;
pub mod data;
pub mod kernels;
#[cfg(feature = "train")]
pub mod progress;
pub mod remote;
pub mod runtime;
#[cfg(feature = "train")]
pub mod training;
pub mod understanding;
pub mod vae;

/// The device models run on (re-exported so the engine needs no direct Burn dependency).
pub use burn::tensor::Device;
pub use runtime::{AdapterInfo, BackendKind, BackendPreference, MlRuntime, probe_adapters, select_backend};
