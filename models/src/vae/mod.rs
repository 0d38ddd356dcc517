//! MusicVAE for melodies: the encoding, the corpus windows, the model and its uses.

pub mod conductor;
#[cfg(feature = "train")]
pub mod conductor_train;
pub mod cpu_decode;
pub mod dataset;
pub mod evaluate;
pub mod fitted_prior;
pub mod latent;
pub mod lstm;
pub mod melody;
pub mod melody_model;
pub mod model;
mod sampling;
pub mod shipped;
#[cfg(feature = "train")]
pub mod train;

pub use melody::{Melody, TimedNote};
pub use melody_model::{InputNotice, MelodyVae, PreparedMelody, VaeError};
pub use model::{MusicVae, MusicVaeConfig};
