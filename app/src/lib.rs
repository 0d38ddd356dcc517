//! Cadenza's application: the window (`gui`) and the headless jobs (`cli`), over the engine.
//! A library so benchmarks and tests can drive the same code the binary runs.

pub mod batch_cli;
pub mod cli;
pub mod continue_cli;
pub mod demo;
pub mod gui;
pub mod record_cli;
pub mod serve_cli;
pub mod vae_cli;
