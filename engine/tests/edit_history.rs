//! Random sequences of edits, gestures, undo and redo through the song model and its history,
//! checked against a model that keeps every version of the song: an undo gives back exactly
//! the version before, a redo exactly the one after, undoing everything gives the original,
//! a failed edit changes nothing, and saving the project and loading it again at any step gives
//! the same song.
//!
//! `CADENZA_EDIT_STEPS` sets the number of steps (3,000 by default; the note on reliability
//! quotes a run of 100,000: `CADENZA_EDIT_STEPS=100000 cargo test -p cadenza-engine --test
//! edit_history -- --nocapture`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::VecDeque;

use cadenza_engine::project::{ProjectData, load_project, save_project};
use cadenza_engine::{
    Edit, GestureId, History, KeySignatureChange, Note, Song, TempoChange, TimeSignatureChange, Track, TrackProps,
};

/// Undo steps the history keeps (the engine keeps 1,000); the model forgets the same.
const LIMIT: usize = 200;

/// SplitMix64: a seeded generator, so a failing run can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn start_song() -> Song {
    let mut song = Song::new(480);
    for (t, program) in [0u8, 40].into_iter().enumerate() {
        let mut track = Track::new(format!("Track {t}"), program, t as u8);
        for i in 0..12u64 {
            track.insert_note(Note::new(i * 240, 200, 60 + (i % 7) as u8 + t as u8 * 7, 80 + t as u8));
        }
        song.tracks.push(track);
    }
    song
}

/// Some of a track's notes (possibly none).
fn pick_notes(rng: &mut Rng, track: &Track) -> Vec<Note> {
    let mut notes: Vec<Note> = track.notes.iter().filter(|_| rng.chance(30)).cloned().collect();
    notes.dedup();
    notes
}

fn random_note(rng: &mut Rng) -> Note {
    let mut note = Note::new(rng.below(8 * 480), 1 + rng.below(960), rng.below(128) as u8, 1 + rng.below(127) as u8);
    if rng.chance(10) {
        note.bend = vec![cadenza_engine::BendPoint { offset: 0, value: rng.below(16_384) as i16 - 8192 }];
    }
    note
}

/// An edit that may or may not apply to `song` (some name notes or tracks that are not there:
/// those must fail and change nothing).
fn random_edit(rng: &mut Rng, song: &Song) -> Edit {
    let tracks = song.tracks.len();
    let track = rng.below(tracks as u64 + 1) as usize; // now and then one past the end
    let notes = song.tracks.get(track).map(|t| pick_notes(rng, t)).unwrap_or_default();
    match rng.below(16) {
        0 => Edit::AddNotes { track, notes: (0..1 + rng.below(4)).map(|_| random_note(rng)).collect() },
        1 => Edit::RemoveNotes { track, notes },
        2 => Edit::ReplaceNotes { track, old: notes, new: (0..rng.below(3)).map(|_| random_note(rng)).collect() },
        3 => Edit::MoveNotes {
            track,
            notes,
            delta_ticks: rng.below(2000) as i64 - 1000,
            delta_pitch: rng.below(49) as i16 - 24,
        },
        4 => Edit::ResizeNotes { track, notes, delta_ticks: rng.below(1000) as i64 - 500 },
        5 => Edit::SetVelocity { track, notes, velocity: rng.below(128) as u8 },
        6 => Edit::Quantise {
            track,
            notes,
            grid: [0, 1, 60, 120, 160, 240][rng.below(6) as usize],
            strength: rng.below(101) as f32 / 100.0,
            ends: rng.chance(50),
        },
        7 => Edit::Transpose { track, notes, semitones: rng.below(25) as i16 - 12 },
        8 => {
            let mut new = Track::new(format!("New {}", rng.below(100)), rng.below(128) as u8, rng.below(16) as u8);
            for _ in 0..rng.below(5) {
                new.insert_note(random_note(rng));
            }
            Edit::AddTrack { index: rng.below(tracks as u64 + 2) as usize, track: new }
        }
        9 if tracks > 1 => Edit::RemoveTrack { index: track },
        10 => {
            let props = song.tracks.get(track).map_or_else(|| TrackProps::of(&Track::new("x", 0, 0)), TrackProps::of);
            Edit::SetTrackProps {
                index: track,
                props: TrackProps {
                    volume: rng.below(128) as u8,
                    muted: rng.chance(20),
                    name: format!("T{}", rng.below(9)),
                    ..props
                },
            }
        }
        11 => Edit::MoveTrack { from: track, to: rng.below(tracks as u64 + 1) as usize },
        12 => {
            let mut tempos = vec![TempoChange { tick: 0, micros_per_quarter: 300_000 + rng.below(700_000) as u32 }];
            if rng.chance(50) {
                tempos.push(TempoChange { tick: 480 * (1 + rng.below(8)), micros_per_quarter: 400_000 });
            }
            if rng.chance(5) {
                tempos.remove(0); // a map without a start: refused
            }
            Edit::SetTempos(tempos)
        }
        13 => Edit::SetTimeSignatures(vec![TimeSignatureChange {
            tick: 0,
            numerator: 1 + rng.below(12) as u8,
            denominator: [2, 4, 8][rng.below(3) as usize],
        }]),
        14 => Edit::SetKeySignatures(vec![KeySignatureChange {
            tick: 0,
            sharps: rng.below(15) as i8 - 7,
            minor: rng.chance(50),
        }]),
        _ => Edit::AddNotes { track, notes: vec![random_note(rng)] },
    }
}

/// Every version of the song the history can reach, as the history should see them.
struct Model {
    undo: VecDeque<Song>,
    redo: Vec<Song>,
    /// Whether the oldest versions were let go (past the limit).
    forgot: bool,
}

impl Model {
    fn applied(&mut self, before: Song) {
        self.undo.push_back(before);
        if self.undo.len() > LIMIT {
            self.undo.pop_front();
            self.forgot = true;
        }
        self.redo.clear();
    }
}

fn reloaded(song: &Song, dir: &std::path::Path, n: usize) -> Song {
    let path = dir.join(format!("step{}.cadenza", n % 4));
    let saved = save_project(&path, &ProjectData::new(song.clone(), Vec::new())).expect("the project saves");
    load_project(&saved).expect("the project loads").1.song
}

fn run(seed: u64, steps: usize) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut rng = Rng(seed);
    let original = start_song();
    let mut song = original.clone();
    let mut history = History::with_limit(LIMIT);
    let mut model = Model { undo: VecDeque::new(), redo: Vec::new(), forgot: false };
    let (mut applied, mut failed, mut undone, mut redone, mut saved) = (0, 0, 0, 0, 0);
    let mut gesture = 0u64;
    for step in 0..steps {
        let what = rng.below(100);
        if what < 55 {
            let before = song.clone();
            let edit = random_edit(&mut rng, &song);
            match history.apply(&mut song, edit) {
                Ok(()) => {
                    model.applied(before);
                    applied += 1;
                }
                Err(_) => {
                    assert_eq!(song, before, "seed {seed} step {step}: a failed edit changed the song");
                    failed += 1;
                }
            }
        } else if what < 62 {
            // A drag: several moves of the same notes, one undo step.
            gesture += 1;
            let before = song.clone();
            let mut any = false;
            for _ in 0..1 + rng.below(5) {
                let track = rng.below(song.tracks.len() as u64) as usize;
                let notes = pick_notes(&mut rng, &song.tracks[track]);
                let edit = Edit::MoveNotes { track, notes, delta_ticks: rng.below(241) as i64 - 120, delta_pitch: 1 };
                any |= history.apply_in_gesture(&mut song, edit, GestureId(gesture)).is_ok();
            }
            history.end_gesture();
            if any {
                model.applied(before);
            }
        } else if what < 82 {
            let expected = model.undo.pop_back();
            let before = song.clone();
            let did = history.undo(&mut song).expect("undo applies");
            assert_eq!(did, expected.is_some(), "seed {seed} step {step}: undo disagrees about having a step");
            if let Some(expected) = expected {
                assert_eq!(song, expected, "seed {seed} step {step}: undo did not restore the song");
                model.redo.push(before);
                undone += 1;
            }
        } else {
            let expected = model.redo.pop();
            let before = song.clone();
            let did = history.redo(&mut song).expect("redo applies");
            assert_eq!(did, expected.is_some(), "seed {seed} step {step}: redo disagrees about having a step");
            if let Some(expected) = expected {
                assert_eq!(song, expected, "seed {seed} step {step}: redo did not replay the edit");
                model.undo.push_back(before);
                redone += 1;
            }
        }
        if step % 50 == 0 {
            assert_eq!(
                reloaded(&song, dir.path(), step),
                song,
                "seed {seed} step {step}: save and load changed the song"
            );
            saved += 1;
        }
    }
    // Undo everything: back to the oldest version the history still holds.
    let oldest = model.undo.front().cloned().unwrap_or_else(|| song.clone());
    while history.undo(&mut song).expect("undo applies") {}
    assert_eq!(song, oldest, "seed {seed}: undoing everything did not give the oldest kept version");
    if !model.forgot {
        assert_eq!(song, original, "seed {seed}: undoing everything did not give the original song");
    }
    eprintln!(
        "seed {seed}: {steps} steps: {applied} edits, {failed} refused, {undone} undone, {redone} redone, {saved} saved and reloaded"
    );
}

fn steps() -> usize {
    std::env::var("CADENZA_EDIT_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(3000)
}

#[test]
fn random_edits_undo_and_redo_exactly() {
    for seed in [1, 2, 3] {
        run(seed, steps().div_ceil(3));
    }
}
