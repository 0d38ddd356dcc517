//! A continuation as the Continue panel asks for it, and the notes it streams back.

pub use cadenza_models::continuation::generate::GenerationOptions;
pub use cadenza_models::continuation::vocab::Instrument;

use super::job_id::JobId;
use crate::song::{Note, Track};

/// What to continue and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuationRequest {
    /// The prompt: these tracks' notes starting in `from..to` (song ticks, on bar lines).
    /// The continuation starts at `to`.
    pub from: u64,
    pub to: u64,
    pub tracks: Vec<usize>,
    pub style: u8,
    /// Up to 10 instruments to play; empty takes the prompt's own.
    pub instruments: Vec<Instrument>,
    pub variations: usize,
    pub options: GenerationOptions,
}

/// One continuation: a track per instrument, named and with its GM program.
pub type Variation = Vec<Track>;

/// Streamed while a continuation job runs: one note of one variation, in song ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamedNote {
    pub id: JobId,
    pub variation: usize,
    pub instrument: Instrument,
    pub note: Note,
}
