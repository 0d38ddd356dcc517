//! Audio file → notes with Basic Pitch: decode and resample piece by piece, run the model window
//! by window, create notes, and place them in a new song at a tempo (with pitch bends).

use std::path::Path;

use cadenza_models::Device;
use cadenza_models::basic_pitch::{BasicPitch, HOP, NoteEvent, SAMPLE_RATE, stitch, stream::StreamingTranscriber};
pub use cadenza_models::basic_pitch::{Mode, NoteSettings};
use thiserror::Error;

use crate::audio_file::{AudioFileError, AudioStream};
use crate::song::{BendPoint, DRUM_CHANNEL, Note, Song, TempoChange, Track};
use crate::timing::TempoMap;

/// Windows per model call: enough to keep the CPU busy, small enough for flat memory.
const BATCH: usize = 4;

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

#[derive(Debug, Error)]
pub enum TranscribeError {
    #[error(transparent)]
    Audio(#[from] AudioFileError),
    #[error("the transcription model cannot be loaded: {0}")]
    Model(String),
    #[error("cancelled")]
    Cancelled,
}

/// Transcribes one file; `progress` gets the fraction done and returns false to cancel. The
/// file streams through: memory stays flat however long it is.
pub fn transcribe_file(
    path: &Path,
    options: &TranscribeOptions,
    device: &Device,
    progress: &mut dyn FnMut(f32, &str) -> bool,
) -> Result<Song, TranscribeError> {
    if !progress(0.0, "reading audio") {
        return Err(TranscribeError::Cancelled);
    }
    let mut audio = AudioStream::open(path, SAMPLE_RATE)?;
    let model = BasicPitch::shipped(device).map_err(|e| TranscribeError::Model(e.to_string()))?;
    let mut transcriber = StreamingTranscriber::new(&model, device, options.mode, options.note_settings(), BATCH);
    let mut samples = 0usize;
    while let Some(piece) = audio.next_piece()? {
        samples += piece.len();
        transcriber.push(&piece);
        if !progress(0.95 * audio.fraction_read(), "listening") {
            return Err(TranscribeError::Cancelled);
        }
    }
    if samples == 0 {
        return Err(AudioFileError::Empty { path: path.to_path_buf() }.into());
    }
    let events = transcriber.finish();
    progress(1.0, "notes");
    let name = path.file_stem().map_or_else(|| "Transcription".into(), |s| s.to_string_lossy().into_owned());
    Ok(song_from_events(&events, options, &name))
}

/// basic-pitch's rounding of the minimum note length to frames.
pub fn min_note_frames(ms: f64) -> usize {
    (ms / 1000.0 * f64::from(SAMPLE_RATE) / HOP as f64).round().max(0.0) as usize
}

/// A new song at the options' tempo holding the notes.
pub fn song_from_events(events: &[NoteEvent], options: &TranscribeOptions, name: &str) -> Song {
    let mut song = Song::new(crate::song::DEFAULT_PPQ);
    let micros = (60_000_000.0 / options.tempo_bpm.clamp(20.0, 400.0)).round() as u32;
    song.tempos = vec![TempoChange { tick: 0, micros_per_quarter: micros }];
    let map = TempoMap::for_song(&song);
    song.tracks = tracks_from_events(events, options, &map, name);
    song
}

/// The notes as tracks of a song with this tempo map: one track, or one per channel for
/// [`PitchBends::Multi`].
pub fn tracks_from_events(events: &[NoteEvent], options: &TranscribeOptions, map: &TempoMap, name: &str) -> Vec<Track> {
    let tick = |frame: usize| map.seconds_to_tick(stitch::frame_to_seconds(frame, options.mode).max(0.0));
    let notes: Vec<Note> = events
        .iter()
        .map(|e| {
            let start = tick(e.start);
            let end = tick(e.end).max(start + 1);
            let velocity = (127.0 * e.amplitude).round().clamp(1.0, 127.0) as u8;
            let mut note = Note::new(start, end - start, e.pitch, velocity);
            if options.pitch_bends != PitchBends::None {
                note.bend = bend_points(e, start, &tick);
            }
            note
        })
        .collect();
    match options.pitch_bends {
        PitchBends::None | PitchBends::Single => {
            let mut track = Track::new(name, 0, 0);
            let mut notes = notes;
            drop_overlapping_bends(&mut notes);
            for note in notes {
                track.insert_note(note);
            }
            vec![track]
        }
        PitchBends::Multi => voices(notes, name),
    }
}

/// Bends (thirds of a semitone per frame) as points where the value changes, in the 14-bit
/// units of a ±2-semitone bend range.
fn bend_points(e: &NoteEvent, start_tick: u64, tick: &dyn Fn(usize) -> u64) -> Vec<BendPoint> {
    let mut points: Vec<BendPoint> = Vec::new();
    let mut last = 0i16;
    for (i, &b) in e.bends.iter().enumerate() {
        let value = (f64::from(b) * 4096.0 / 3.0).round().clamp(-8192.0, 8191.0) as i16;
        if value != last {
            points.push(BendPoint { offset: tick(e.start + i).saturating_sub(start_tick), value });
            last = value;
        }
    }
    points
}

/// Notes that sound together cannot each have their own bend on one channel.
fn drop_overlapping_bends(notes: &mut [Note]) {
    notes.sort();
    let mut latest_end = 0u64;
    let mut latest_index: Option<usize> = None;
    for i in 0..notes.len() {
        if latest_index.is_some() && notes[i].start < latest_end {
            notes[i].bend.clear();
            if let Some(j) = latest_index {
                notes[j].bend.clear();
            }
        }
        if notes[i].end() > latest_end {
            latest_end = notes[i].end();
            latest_index = Some(i);
        }
    }
    // Any earlier note a note overlaps either is the latest-ending one so far or was itself
    // overlapped (and cleared) when it came.
}

/// Spreads notes over channels so no two sounding notes share one (at most 15; the drum
/// channel is skipped). A note that finds no free channel goes to the one freed first and loses
/// its bends there.
fn voices(mut notes: Vec<Note>, name: &str) -> Vec<Track> {
    let channels: Vec<u8> = (0..16u8).filter(|&c| c != DRUM_CHANNEL).collect();
    notes.sort();
    let mut tracks: Vec<Track> = Vec::new();
    let mut busy_until: Vec<u64> = Vec::new();
    for mut note in notes {
        let free = busy_until.iter().position(|&end| end <= note.start);
        let voice = match free {
            Some(v) => v,
            None if tracks.len() < channels.len() => {
                let v = tracks.len();
                tracks.push(Track::new(format!("{name} · voice {}", v + 1), 0, channels[v]));
                busy_until.push(0);
                v
            }
            None => {
                note.bend.clear();
                (0..busy_until.len()).min_by_key(|&v| busy_until[v]).unwrap_or(0)
            }
        };
        busy_until[voice] = busy_until[voice].max(note.end());
        tracks[voice].insert_note(note);
    }
    if tracks.len() == 1 {
        tracks[0].name = name.to_string();
    }
    tracks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_length_rounds_as_upstream() {
        assert_eq!(min_note_frames(127.70), 11);
        assert_eq!(min_note_frames(58.0), 5);
    }

    fn event(start: usize, end: usize, pitch: u8, bend: i32) -> NoteEvent {
        NoteEvent { start, end, pitch, amplitude: 0.5, bends: vec![bend; end - start] }
    }

    #[test]
    fn bends_become_points_where_they_change() {
        let mut e = event(0, 6, 60, 0);
        e.bends = vec![0, 0, 1, 1, -1, 0];
        let options = TranscribeOptions::default();
        let song = song_from_events(&[e], &options, "t");
        let bend: Vec<i16> = song.tracks[0].notes[0].bend.iter().map(|p| p.value).collect();
        assert_eq!(bend, vec![1365, -1365, 0]);
        assert!(song.tracks[0].notes[0].bend.windows(2).all(|w| w[0].offset < w[1].offset));
    }

    #[test]
    fn overlapping_notes_lose_bends_on_one_channel_and_keep_them_on_many() {
        let events = [event(0, 100, 60, 1), event(50, 150, 64, -1), event(200, 300, 67, 1)];
        let single = song_from_events(&events, &TranscribeOptions::default(), "t");
        assert_eq!(single.tracks.len(), 1);
        let with_bends: Vec<u8> =
            single.tracks[0].notes.iter().filter(|n| !n.bend.is_empty()).map(|n| n.pitch).collect();
        assert_eq!(with_bends, vec![67]);

        let multi = TranscribeOptions { pitch_bends: PitchBends::Multi, ..Default::default() };
        let song = song_from_events(&events, &multi, "t");
        assert_eq!(song.tracks.len(), 2, "two voices for two overlapping notes");
        assert!(song.tracks.iter().all(|t| t.notes.iter().all(|n| !n.bend.is_empty())));
        assert_ne!(song.tracks[0].channel, song.tracks[1].channel);

        let none = TranscribeOptions { pitch_bends: PitchBends::None, ..Default::default() };
        assert!(song_from_events(&events, &none, "t").tracks[0].notes.iter().all(|n| n.bend.is_empty()));
    }
}
