//! Understanding: a MidiBERT-style encoder over compound note tokens, pre-trained by restoring
//! hidden notes (chosen at random or by an adversarial masker, after Adversarial-MidiBERT) and
//! fine-tuned to name a passage's style.

pub mod dataset;
pub mod evaluate;
pub mod masking;
pub mod model;
pub mod octuple;
pub mod styles;
#[cfg(feature = "train")]
pub mod train;

pub use model::{UnderstandingConfig, UnderstandingModel};
pub use styles::{STYLE_CLASSES, style_class};
