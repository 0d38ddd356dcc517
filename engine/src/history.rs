//! Undo/redo over [`Edit`]s, with coalescing so one gesture (a whole drag) is one undo step.

use crate::edit::{Edit, EditError};
use crate::song::Song;

/// Identifies a gesture: consecutive edits applied with the same key form one undo step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GestureId(pub u64);

#[derive(Debug, Clone)]
struct Step {
    gesture: Option<GestureId>,
    /// Inverses in the order they were produced; undo applies them in reverse.
    inverses: Vec<Edit>,
}

#[derive(Debug, Clone, Default)]
pub struct History {
    undo: Vec<Step>,
    redo: Vec<Step>,
    limit: Option<usize>,
}

impl History {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps at most `limit` undo steps (the oldest are dropped).
    pub fn with_limit(limit: usize) -> Self {
        Self { limit: Some(limit.max(1)), ..Self::default() }
    }

    /// Applies an edit as its own undo step.
    pub fn apply(&mut self, song: &mut Song, edit: Edit) -> Result<(), EditError> {
        self.apply_in(song, edit, None)
    }

    /// Applies an edit as part of a gesture: consecutive edits of the same gesture undo together.
    pub fn apply_in_gesture(&mut self, song: &mut Song, edit: Edit, gesture: GestureId) -> Result<(), EditError> {
        self.apply_in(song, edit, Some(gesture))
    }

    fn apply_in(&mut self, song: &mut Song, edit: Edit, gesture: Option<GestureId>) -> Result<(), EditError> {
        let inverse = edit.apply(song)?;
        self.redo.clear();
        match self.undo.last_mut() {
            Some(step) if gesture.is_some() && step.gesture == gesture => step.inverses.push(inverse),
            _ => {
                self.undo.push(Step { gesture, inverses: vec![inverse] });
                if let Some(limit) = self.limit
                    && self.undo.len() > limit
                {
                    self.undo.remove(0);
                }
            }
        }
        Ok(())
    }

    /// Ends the current gesture so the next edit with the same id starts a new step.
    pub fn end_gesture(&mut self) {
        if let Some(step) = self.undo.last_mut() {
            step.gesture = None;
        }
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Undoes one step; returns false when there was nothing to undo.
    pub fn undo(&mut self, song: &mut Song) -> Result<bool, EditError> {
        let Some(step) = self.undo.pop() else {
            return Ok(false);
        };
        let redo = run_reversed(song, step.inverses)?;
        self.redo.push(Step { gesture: None, inverses: redo });
        Ok(true)
    }

    /// Redoes one step; returns false when there was nothing to redo.
    pub fn redo(&mut self, song: &mut Song) -> Result<bool, EditError> {
        let Some(step) = self.redo.pop() else {
            return Ok(false);
        };
        let undo = run_reversed(song, step.inverses)?;
        self.undo.push(Step { gesture: None, inverses: undo });
        Ok(true)
    }

    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
    }
}

/// Applies edits last-first; returns their inverses in the order that undoes them again.
/// A failure part-way re-applies what was done, leaving the song as it was.
fn run_reversed(song: &mut Song, edits: Vec<Edit>) -> Result<Vec<Edit>, EditError> {
    let mut inverses = Vec::with_capacity(edits.len());
    for edit in edits.into_iter().rev() {
        match edit.apply(song) {
            Ok(inverse) => inverses.push(inverse),
            Err(err) => {
                for done in inverses.into_iter().rev() {
                    let _ = done.apply(song);
                }
                return Err(err);
            }
        }
    }
    Ok(inverses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::song::{Note, Track};

    fn one_note_song() -> Song {
        let mut song = Song::new(480);
        let mut track = Track::new("Lead", 80, 0);
        track.insert_note(Note::new(0, 240, 60, 100));
        song.tracks.push(track);
        song
    }

    #[test]
    fn a_drag_is_one_undo_step() {
        let original = one_note_song();
        let mut song = original.clone();
        let mut history = History::new();
        let drag = GestureId(7);
        let mut note = song.tracks[0].notes[0].clone();
        for _ in 0..10 {
            history
                .apply_in_gesture(
                    &mut song,
                    Edit::MoveNotes { track: 0, notes: vec![note.clone()], delta_ticks: 30, delta_pitch: 1 },
                    drag,
                )
                .unwrap();
            note.start += 30;
            note.pitch += 1;
        }
        history.end_gesture();
        assert_eq!(song.tracks[0].notes[0].start, 300);
        assert!(history.undo(&mut song).unwrap());
        assert_eq!(song, original);
        assert!(!history.undo(&mut song).unwrap());
        assert!(history.redo(&mut song).unwrap());
        assert_eq!(song.tracks[0].notes[0], Note::new(300, 240, 70, 100));
    }

    #[test]
    fn separate_edits_undo_separately_and_new_edit_clears_redo() {
        let original = one_note_song();
        let mut song = original.clone();
        let mut history = History::new();
        history.apply(&mut song, Edit::AddNotes { track: 0, notes: vec![Note::new(480, 240, 62, 90)] }).unwrap();
        history.apply(&mut song, Edit::AddNotes { track: 0, notes: vec![Note::new(960, 240, 64, 90)] }).unwrap();
        assert_eq!(song.note_count(), 3);
        history.undo(&mut song).unwrap();
        assert_eq!(song.note_count(), 2);
        history.apply(&mut song, Edit::RemoveTrack { index: 0 }).unwrap();
        assert!(!history.can_redo());
        history.undo(&mut song).unwrap();
        history.undo(&mut song).unwrap();
        assert_eq!(song, original);
    }

    #[test]
    fn limit_drops_oldest_steps() {
        let mut song = one_note_song();
        let mut history = History::with_limit(2);
        for i in 1..=3u64 {
            history.apply(&mut song, Edit::AddNotes { track: 0, notes: vec![Note::new(i * 480, 10, 60, 90)] }).unwrap();
        }
        assert!(history.undo(&mut song).unwrap());
        assert!(history.undo(&mut song).unwrap());
        assert!(!history.undo(&mut song).unwrap());
        assert_eq!(song.note_count(), 2);
    }
}
