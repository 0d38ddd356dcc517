//! The model jobs: one folder per model, each the engine-side twin of its folder in
//! `cadenza-models`, owning its jobs or worker thread and its tests. The messages a model job
//! exchanges with the app are in [`crate::protocol`], so the app names them without the job code.
//!
//! A new model is a new folder here, its messages in the protocol, and a line in the engine's
//! dispatcher.

pub mod continuation;
pub mod latent;
pub mod runtime_slot;
pub mod transcription;
