//! Cadenza's engine: the song model and its edits, MIDI files, the synth, and the background
//! engine thread that the GUI and the CLI drive through commands and events.

pub mod audio_file;
mod audio_probe;
pub mod dc;
pub mod devices;
pub mod edit;
pub mod engine;
mod flac_claims;
pub mod fsutil;
pub mod gm;
pub mod history;
pub mod instrument_range;
pub mod midi;
#[cfg(feature = "ml")]
pub mod ml;
mod ogg_claims;
pub mod playback;
pub mod project;
pub mod protocol;
pub mod quiet_panic;
pub mod song;
pub mod studio;
pub mod synth;
pub mod timing;

#[cfg(feature = "ml")]
pub use cadenza_models::{BackendKind, BackendPreference, MlRuntime};
pub use edit::{Edit, EditError, TrackProps};
pub use engine::{Engine, EngineConfig, EngineHandle};
pub use history::{GestureId, History};
pub use protocol::{Audition, Command, Event, Job, JobContext, JobError, JobId, JobOutput};
pub use song::{BendPoint, KeySignatureChange, Note, Song, TempoChange, TimeSignatureChange, Track};
pub use timing::{BarBeat, TempoMap};
