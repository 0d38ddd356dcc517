//! Edits are values: applying one to a song returns the edit that undoes it.
//!
//! Notes are named by value (a track's notes are sorted, so finding one is a binary search).
//! An edit that cannot apply (missing track or note) fails and leaves the song untouched.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::song::{KeySignatureChange, Note, Song, TempoChange, TimeSignatureChange, Track};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EditError {
    #[error("there is no track {index} (the song has {count})")]
    NoSuchTrack { index: usize, count: usize },
    #[error("track {track} has no note {pitch} at tick {start}")]
    NoSuchNote { track: usize, start: u64, pitch: u8 },
    #[error("a song needs a tempo at tick 0")]
    MapWithoutStart,
    #[error("quantise grid must be at least one tick")]
    ZeroGrid,
}

/// Track properties that a single edit can change together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackProps {
    pub name: String,
    pub program: u8,
    pub channel: u8,
    pub is_drum: bool,
    pub muted: bool,
    pub solo: bool,
    pub volume: u8,
    pub pan: u8,
    pub colour: Option<[u8; 3]>,
}

impl TrackProps {
    pub fn of(track: &Track) -> Self {
        Self {
            name: track.name.clone(),
            program: track.program,
            channel: track.channel,
            is_drum: track.is_drum,
            muted: track.muted,
            solo: track.solo,
            volume: track.volume,
            pan: track.pan,
            colour: track.colour,
        }
    }

    fn apply_to(self, track: &mut Track) {
        track.name = self.name;
        track.program = self.program;
        track.channel = self.channel.min(15);
        track.is_drum = self.is_drum;
        track.muted = self.muted;
        track.solo = self.solo;
        track.volume = self.volume.min(127);
        track.pan = self.pan.min(127);
        track.colour = self.colour;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Edit {
    AddNotes {
        track: usize,
        notes: Vec<Note>,
    },
    RemoveNotes {
        track: usize,
        notes: Vec<Note>,
    },
    /// The general form the note edits below undo to.
    ReplaceNotes {
        track: usize,
        old: Vec<Note>,
        new: Vec<Note>,
    },
    /// Moves notes in time and pitch (clamped at tick 0 and to the MIDI pitch range).
    MoveNotes {
        track: usize,
        notes: Vec<Note>,
        delta_ticks: i64,
        delta_pitch: i16,
    },
    /// Changes note lengths (never below one tick).
    ResizeNotes {
        track: usize,
        notes: Vec<Note>,
        delta_ticks: i64,
    },
    SetVelocity {
        track: usize,
        notes: Vec<Note>,
        velocity: u8,
    },
    /// Pulls note starts (and optionally ends) towards the grid by `strength` (0..=1).
    Quantise {
        track: usize,
        notes: Vec<Note>,
        grid: u64,
        strength: f32,
        ends: bool,
    },
    Transpose {
        track: usize,
        notes: Vec<Note>,
        semitones: i16,
    },
    AddTrack {
        index: usize,
        track: Track,
    },
    RemoveTrack {
        index: usize,
    },
    SetTrackProps {
        index: usize,
        props: TrackProps,
    },
    MoveTrack {
        from: usize,
        to: usize,
    },
    SetTempos(Vec<TempoChange>),
    SetTimeSignatures(Vec<TimeSignatureChange>),
    SetKeySignatures(Vec<KeySignatureChange>),
}

impl Edit {
    /// The track whose notes this edit changes (`None` for track and map edits).
    pub fn note_track(&self) -> Option<usize> {
        match self {
            Edit::AddNotes { track, .. }
            | Edit::RemoveNotes { track, .. }
            | Edit::ReplaceNotes { track, .. }
            | Edit::MoveNotes { track, .. }
            | Edit::ResizeNotes { track, .. }
            | Edit::SetVelocity { track, .. }
            | Edit::Quantise { track, .. }
            | Edit::Transpose { track, .. } => Some(*track),
            _ => None,
        }
    }

    /// Applies the edit and returns its inverse. On error the song is unchanged.
    pub fn apply(self, song: &mut Song) -> Result<Edit, EditError> {
        match self {
            Edit::AddNotes { track, notes } => {
                let t = track_mut(song, track)?;
                for note in &notes {
                    t.insert_note(note.clone());
                }
                Ok(Edit::RemoveNotes { track, notes })
            }
            Edit::RemoveNotes { track, notes } => {
                replace_notes(song, track, notes.clone(), Vec::new())?;
                Ok(Edit::AddNotes { track, notes })
            }
            Edit::ReplaceNotes { track, old, new } => {
                replace_notes(song, track, old.clone(), new.clone())?;
                Ok(Edit::ReplaceNotes { track, old: new, new: old })
            }
            Edit::MoveNotes { track, notes, delta_ticks, delta_pitch } => map_notes(song, track, notes, |n| {
                n.start = offset_tick(n.start, delta_ticks);
                n.pitch = offset_pitch(n.pitch, delta_pitch);
            }),
            Edit::ResizeNotes { track, notes, delta_ticks } => map_notes(song, track, notes, |n| {
                n.length = offset_tick(n.length, delta_ticks).max(1);
                n.bend.retain(|p| p.offset < n.length);
            }),
            Edit::SetVelocity { track, notes, velocity } => {
                map_notes(song, track, notes, |n| n.velocity = velocity.clamp(1, 127))
            }
            Edit::Quantise { track, notes, grid, strength, ends } => {
                if grid == 0 {
                    return Err(EditError::ZeroGrid);
                }
                let strength = f64::from(strength.clamp(0.0, 1.0));
                map_notes(song, track, notes, |n| {
                    let end = n.end();
                    n.start = pull_to_grid(n.start, grid, strength);
                    if ends {
                        n.length = pull_to_grid(end, grid, strength).saturating_sub(n.start).max(1);
                    }
                })
            }
            Edit::Transpose { track, notes, semitones } => {
                map_notes(song, track, notes, |n| n.pitch = offset_pitch(n.pitch, semitones))
            }
            Edit::AddTrack { index, track } => {
                let index = index.min(song.tracks.len());
                song.tracks.insert(index, track);
                Ok(Edit::RemoveTrack { index })
            }
            Edit::RemoveTrack { index } => {
                check_track(song, index)?;
                let track = song.tracks.remove(index);
                Ok(Edit::AddTrack { index, track })
            }
            Edit::SetTrackProps { index, props } => {
                let t = track_mut(song, index)?;
                let old = TrackProps::of(t);
                props.apply_to(t);
                Ok(Edit::SetTrackProps { index, props: old })
            }
            Edit::MoveTrack { from, to } => {
                check_track(song, from)?;
                check_track(song, to)?;
                let track = song.tracks.remove(from);
                song.tracks.insert(to, track);
                Ok(Edit::MoveTrack { from: to, to: from })
            }
            Edit::SetTempos(tempos) => {
                if tempos.first().is_none_or(|t| t.tick != 0) {
                    return Err(EditError::MapWithoutStart);
                }
                let old = std::mem::replace(&mut song.tempos, tempos);
                song.normalize_maps();
                Ok(Edit::SetTempos(old))
            }
            Edit::SetTimeSignatures(sigs) => {
                if sigs.first().is_none_or(|t| t.tick != 0) {
                    return Err(EditError::MapWithoutStart);
                }
                let old = std::mem::replace(&mut song.time_signatures, sigs);
                song.normalize_maps();
                Ok(Edit::SetTimeSignatures(old))
            }
            Edit::SetKeySignatures(keys) => {
                let old = std::mem::replace(&mut song.key_signatures, keys);
                song.normalize_maps();
                Ok(Edit::SetKeySignatures(old))
            }
        }
    }
}

fn check_track(song: &Song, index: usize) -> Result<(), EditError> {
    if index < song.tracks.len() { Ok(()) } else { Err(EditError::NoSuchTrack { index, count: song.tracks.len() }) }
}

fn track_mut(song: &mut Song, index: usize) -> Result<&mut Track, EditError> {
    let count = song.tracks.len();
    song.tracks.get_mut(index).ok_or(EditError::NoSuchTrack { index, count })
}

/// Removes `old` and inserts `new`, checking first that every old note exists (counting
/// duplicates) so a failed edit changes nothing.
fn replace_notes(song: &mut Song, track: usize, old: Vec<Note>, new: Vec<Note>) -> Result<(), EditError> {
    let t = track_mut(song, track)?;
    let mut wanted = old.clone();
    wanted.sort();
    let mut i = 0;
    while i < wanted.len() {
        let run = wanted[i..].iter().take_while(|n| **n == wanted[i]).count();
        let first = t.notes.partition_point(|n| n < &wanted[i]);
        let present = t.notes[first..].iter().take_while(|n| **n == wanted[i]).count();
        if present < run {
            return Err(EditError::NoSuchNote { track, start: wanted[i].start, pitch: wanted[i].pitch });
        }
        i += run;
    }
    for note in &old {
        t.remove_note(note);
    }
    for note in new {
        t.insert_note(note);
    }
    Ok(())
}

/// Replaces `notes` by their images under `change`; the inverse is the exact reverse replace.
fn map_notes(song: &mut Song, track: usize, notes: Vec<Note>, change: impl Fn(&mut Note)) -> Result<Edit, EditError> {
    let new: Vec<Note> = notes
        .iter()
        .cloned()
        .map(|mut n| {
            change(&mut n);
            n
        })
        .collect();
    replace_notes(song, track, notes.clone(), new.clone())?;
    Ok(Edit::ReplaceNotes { track, old: new, new: notes })
}

fn offset_tick(tick: u64, delta: i64) -> u64 {
    tick.saturating_add_signed(delta)
}

fn offset_pitch(pitch: u8, delta: i16) -> u8 {
    u8::try_from((i16::from(pitch) + delta).clamp(0, 127)).unwrap_or(pitch)
}

fn pull_to_grid(tick: u64, grid: u64, strength: f64) -> u64 {
    let nearest = (tick + grid / 2) / grid * grid;
    let pulled = tick as f64 + (nearest as f64 - tick as f64) * strength;
    pulled.round().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song_with_notes() -> Song {
        let mut song = Song::new(480);
        let mut track = Track::new("Piano", 0, 0);
        for (i, pitch) in [60u8, 64, 67].into_iter().enumerate() {
            track.insert_note(Note::new(i as u64 * 470 + 7, 400, pitch, 90));
        }
        song.tracks.push(track);
        song
    }

    fn assert_undoes(edit: Edit) {
        let original = song_with_notes();
        let mut song = original.clone();
        let inverse = edit.clone().apply(&mut song).unwrap();
        assert_ne!(song, original, "{edit:?} changed nothing");
        let redo = inverse.apply(&mut song).unwrap();
        assert_eq!(song, original, "inverse of {edit:?} did not restore the song");
        redo.apply(&mut song).unwrap();
        let mut again = original.clone();
        edit.apply(&mut again).unwrap();
        assert_eq!(song, again);
    }

    #[test]
    fn every_edit_has_an_exact_inverse() {
        let notes = song_with_notes().tracks[0].notes.clone();
        let edits = vec![
            Edit::AddNotes { track: 0, notes: vec![Note::new(0, 10, 40, 50)] },
            Edit::RemoveNotes { track: 0, notes: vec![notes[1].clone()] },
            Edit::MoveNotes { track: 0, notes: notes.clone(), delta_ticks: -100, delta_pitch: 70 },
            Edit::ResizeNotes { track: 0, notes: notes.clone(), delta_ticks: -1000 },
            Edit::SetVelocity { track: 0, notes: notes.clone(), velocity: 127 },
            Edit::Quantise { track: 0, notes: notes.clone(), grid: 120, strength: 1.0, ends: true },
            Edit::Transpose { track: 0, notes: notes.clone(), semitones: -12 },
            Edit::AddTrack { index: 0, track: Track::new("Drums", 0, 9) },
            Edit::RemoveTrack { index: 0 },
            Edit::SetTrackProps {
                index: 0,
                props: TrackProps { muted: true, name: "Keys".into(), ..TrackProps::of(&Track::new("", 4, 1)) },
            },
            Edit::SetTempos(vec![TempoChange { tick: 0, micros_per_quarter: 400_000 }]),
            Edit::SetTimeSignatures(vec![TimeSignatureChange { tick: 0, numerator: 3, denominator: 4 }]),
            Edit::SetKeySignatures(vec![KeySignatureChange { tick: 0, sharps: -3, minor: true }]),
        ];
        for edit in edits {
            assert_undoes(edit);
        }
    }

    #[test]
    fn quantise_pulls_to_grid() {
        let mut song = song_with_notes();
        let notes = song.tracks[0].notes.clone();
        Edit::Quantise { track: 0, notes, grid: 120, strength: 1.0, ends: false }.apply(&mut song).unwrap();
        let starts: Vec<u64> = song.tracks[0].notes.iter().map(|n| n.start).collect();
        assert_eq!(starts, vec![0, 480, 960]);
        let mut half = song_with_notes();
        let notes = half.tracks[0].notes.clone();
        Edit::Quantise { track: 0, notes, grid: 120, strength: 0.5, ends: false }.apply(&mut half).unwrap();
        assert_eq!(half.tracks[0].notes[0].start, 4); // 7 → halfway to 0, rounded
    }

    #[test]
    fn failed_edit_changes_nothing() {
        let original = song_with_notes();
        let mut song = original.clone();
        let present = song.tracks[0].notes[0].clone();
        let missing = Note::new(1, 1, 1, 1);
        let err = Edit::RemoveNotes { track: 0, notes: vec![present, missing] }.apply(&mut song);
        assert!(matches!(err, Err(EditError::NoSuchNote { .. })));
        assert_eq!(song, original);
        assert!(matches!(
            Edit::RemoveTrack { index: 3 }.apply(&mut song),
            Err(EditError::NoSuchTrack { index: 3, count: 1 })
        ));
    }
}
