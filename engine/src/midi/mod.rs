//! Standard MIDI Files: import (types 0, 1 and 2) and export (type 1).

mod error;
mod export;
mod import;

pub use error::{MidiError, MidiErrorKind};
pub use export::{song_to_bytes, write_song};
pub use import::{MAX_FILE_BYTES, MAX_SONG_HOURS, parse_song, read_song};
