//! What a transcription is asked for and what it answers: the options of a file
//! transcription, a file's posteriorgrams kept for editing, and the notes of a live take.

use std::path::PathBuf;

use cadenza_models::basic_pitch::stitch::{self, Stitched};
use cadenza_models::basic_pitch::{HOP, SAMPLE_RATE, notes};
pub use cadenza_models::basic_pitch::{Mode, NoteEvent, NoteSettings};

use crate::song::Note;

/// How pitch bends reach the MIDI file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PitchBends {
    /// No bends.
    None,
    /// One track; notes that overlap another note lose their bends (one channel has one bend).
    #[default]
    Single,
    /// Every note keeps its bends: notes are spread over up to 15 channels, one track each, so
    /// no two sounding notes share a channel.
    Multi,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TranscribeOptions {
    pub notes: NoteSettings,
    /// Shortest note kept, in milliseconds (basic-pitch's default is 127.7).
    pub min_note_ms: f64,
    /// Tempo of the song the notes are written into.
    pub tempo_bpm: f64,
    pub mode: Mode,
    pub pitch_bends: PitchBends,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        Self {
            notes: NoteSettings::default(),
            min_note_ms: 127.70,
            tempo_bpm: 120.0,
            mode: Mode::Cadenza,
            pitch_bends: PitchBends::Single,
        }
    }
}

impl TranscribeOptions {
    /// Note settings with the minimum length in frames.
    pub fn note_settings(&self) -> NoteSettings {
        NoteSettings { min_note_frames: min_note_frames(self.min_note_ms), ..self.notes }
    }
}

/// An audio file's posteriorgrams: notes can be created from them again and again with other
/// settings without running the model (what the app's sliders do).
#[derive(Debug, Clone)]
pub struct Listened {
    pub source: PathBuf,
    pub mode: Mode,
    pub posteriorgrams: Stitched,
    pub seconds: f64,
}

impl Listened {
    pub fn notes(&self, settings: &NoteSettings) -> Vec<NoteEvent> {
        let p = &self.posteriorgrams;
        notes(&p.note, &p.onset, &p.contour, settings, self.mode)
    }

    pub fn frame_seconds(&self, frame: usize) -> f64 {
        stitch::frame_to_seconds(frame, self.mode)
    }
}

/// basic-pitch's rounding of the minimum note length to frames.
pub fn min_note_frames(ms: f64) -> usize {
    (ms / 1000.0 * f64::from(SAMPLE_RATE) / HOP as f64).round().max(0.0) as usize
}

/// Notes of the take so far, in song ticks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveNotes {
    /// Notes that are final, added since the last update.
    pub committed: Vec<Note>,
    /// Notes still sounding: they replace the previous update's.
    pub provisional: Vec<Note>,
}
