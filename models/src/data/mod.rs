//! Reading the symbolic corpus: its manifest and its MIDI files.

pub mod manifest;
pub mod midi_notes;

pub use manifest::{Corpus, ManifestError, Split, Work};
pub use midi_notes::{MidiNotesError, Part, read_parts};
