use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// What was wrong with a MIDI file. Offsets are bytes from the start of the file.
#[derive(Debug, Error)]
pub enum MidiErrorKind {
    #[error("could not read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file is {size} bytes; Cadenza reads MIDI files up to {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("not a Standard MIDI File (it does not start with an MThd header)")]
    NotMidi,
    #[error("the header chunk is {length} bytes long; it must be at least 6")]
    HeaderTooShort { length: u32 },
    #[error("the file ends inside {what}: {needed} bytes needed, {available} left")]
    Truncated { what: &'static str, needed: u64, available: u64 },
    #[error("the header gives zero ticks per quarter note (PPQ 0)")]
    ZeroPpq,
    #[error("the header gives an invalid SMPTE time division ({fps} frames/s, {subframes} ticks per frame)")]
    BadTimecode { fps: i8, subframes: u8 },
    #[error("unknown SMF format {0} (only 0, 1 and 2 exist)")]
    UnsupportedFormat(u16),
    #[error("the header declares {declared} tracks but the file holds {found}")]
    MissingTracks { declared: u16, found: usize },
    #[error("track {track}: malformed or truncated event")]
    MalformedEvent { track: usize },
    #[error(
        "track {track}: an event lies {hours:.1} hours into the song (the limit is {limit_hours} hours); the delta times are corrupt"
    )]
    AbsurdTime { track: usize, hours: f64, limit_hours: u32 },
    #[error("the song has more than {limit} events")]
    TooManyEvents { limit: usize },
    #[error("track {track}: a gap of {ticks} ticks cannot be written (the SMF limit is 268435455)")]
    GapTooLong { track: usize, ticks: u64 },
}

/// A MIDI read or write error with where it happened.
#[derive(Debug)]
pub struct MidiError {
    pub file: Option<PathBuf>,
    pub offset: Option<u64>,
    pub kind: MidiErrorKind,
}

impl MidiError {
    pub fn new(kind: MidiErrorKind) -> Self {
        Self { file: None, offset: None, kind }
    }

    pub fn at(offset: u64, kind: MidiErrorKind) -> Self {
        Self { file: None, offset: Some(offset), kind }
    }

    pub fn in_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }
}

impl fmt::Display for MidiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(offset) = self.offset {
            write!(f, "at byte {offset}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for MidiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.kind.source()
    }
}

impl From<MidiErrorKind> for MidiError {
    fn from(kind: MidiErrorKind) -> Self {
        Self::new(kind)
    }
}
