//! Continuation: a MuseNet-style transformer conditioned on style and instruments.

pub mod codec;
pub mod dataset;
#[cfg(feature = "train")]
pub mod evaluate;
pub mod generate;
pub mod model;
pub mod ngram;
pub mod recognise;
#[cfg(feature = "train")]
pub mod regroup;
pub mod shipped;
pub mod style_classifier;
#[cfg(feature = "train")]
pub mod train;
pub mod vocab;

pub use codec::{GridNote, Header};
pub use model::{ContinuationConfig, ContinuationModel, KvCache};
pub use vocab::{ANY_STYLE, Instrument, STYLE_DESCRIPTIONS, STYLES, Token};
