//! Audio file → notes with Basic Pitch: decode and resample, run the model window by window,
//! create notes (basic-pitch's compatible mode), and place them in a new song at a tempo.

use std::path::Path;

use cadenza_models::Device;
pub use cadenza_models::basic_pitch::NoteSettings;
use cadenza_models::basic_pitch::{BasicPitch, HOP, SAMPLE_RATE, frame_to_seconds_compat, notes_compat, stitch};
use thiserror::Error;

use crate::audio_file::{AudioFileError, read_mono};
use crate::song::{Note, Song, TempoChange, Track};
use crate::timing::TempoMap;

/// Windows per model call: enough to keep the CPU busy, small enough for flat memory.
const BATCH: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct TranscribeOptions {
    pub notes: NoteSettings,
    /// Shortest note kept, in milliseconds (basic-pitch's default is 127.7).
    pub min_note_ms: f64,
    /// Tempo of the song the notes are written into.
    pub tempo_bpm: f64,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        Self { notes: NoteSettings::default(), min_note_ms: 127.70, tempo_bpm: 120.0 }
    }
}

#[derive(Debug, Error)]
pub enum TranscribeError {
    #[error(transparent)]
    Audio(#[from] AudioFileError),
    #[error("the transcription model cannot be loaded: {0}")]
    Model(String),
    #[error("cancelled")]
    Cancelled,
}

/// Transcribes one file; `progress` gets the fraction done and returns false to cancel.
pub fn transcribe_file(
    path: &Path,
    options: &TranscribeOptions,
    device: &Device,
    progress: &mut dyn FnMut(f32, &str) -> bool,
) -> Result<Song, TranscribeError> {
    if !progress(0.0, "reading audio") {
        return Err(TranscribeError::Cancelled);
    }
    let audio = read_mono(path, SAMPLE_RATE)?;
    let model = BasicPitch::shipped(device).map_err(|e| TranscribeError::Model(e.to_string()))?;
    let mut model_progress = |f: f32| progress(0.05 + 0.9 * f, "listening");
    let stitched = stitch::posteriorgrams_with_progress(&model, &audio, BATCH, device, &mut model_progress)
        .ok_or(TranscribeError::Cancelled)?;
    let settings = NoteSettings { min_note_frames: min_note_frames(options.min_note_ms), ..options.notes };
    let events = notes_compat(&stitched.note, &stitched.onset, &stitched.contour, &settings);
    progress(1.0, "notes");
    Ok(song_from_events(&events, options.tempo_bpm, path))
}

/// basic-pitch's rounding of the minimum note length to frames.
fn min_note_frames(ms: f64) -> usize {
    (ms / 1000.0 * f64::from(SAMPLE_RATE) / HOP as f64).round().max(0.0) as usize
}

fn song_from_events(events: &[cadenza_models::basic_pitch::NoteEvent], bpm: f64, path: &Path) -> Song {
    let mut song = Song::new(crate::song::DEFAULT_PPQ);
    let micros = (60_000_000.0 / bpm.clamp(20.0, 400.0)).round() as u32;
    song.tempos = vec![TempoChange { tick: 0, micros_per_quarter: micros }];
    let map = TempoMap::for_song(&song);
    let name = path.file_stem().map_or_else(|| "Transcription".into(), |s| s.to_string_lossy().into_owned());
    let mut track = Track::new(name, 0, 0);
    for e in events {
        let start = map.seconds_to_tick(frame_to_seconds_compat(e.start).max(0.0));
        let end = map.seconds_to_tick(frame_to_seconds_compat(e.end).max(0.0));
        let velocity = (f32::from(127u8) * e.amplitude).round().clamp(1.0, 127.0) as u8;
        track.insert_note(Note::new(start, end.saturating_sub(start).max(1), e.pitch, velocity));
    }
    song.tracks.push(track);
    song
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_length_rounds_as_upstream() {
        assert_eq!(min_note_frames(127.70), 11);
        assert_eq!(min_note_frames(58.0), 5);
    }
}
