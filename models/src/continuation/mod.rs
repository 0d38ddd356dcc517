//! Continuation: a MuseNet-style transformer conditioned on style and instruments.

pub mod codec;
pub mod dataset;
pub mod generate;
pub mod model;
pub mod shipped;
pub mod train;
pub mod vocab;

pub use codec::{GridNote, Header};
pub use model::{ContinuationConfig, ContinuationModel, KvCache};
pub use vocab::{Instrument, STYLES, Token};
