//! Files Cadenza writes read the same in pretty_midi and mido, and files they write read the
//! same in Cadenza (times within one tick). Needs Python with pretty_midi and mido
//! (scripts/test.sh makes that environment).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;
use std::process::Command;

use cadenza_engine::midi::{read_song, write_song};
use cadenza_engine::song::{Note, Song, TempoChange, Track};
use cadenza_tests::{python, repo_root};
use serde_json::Value;

fn run_python(command: &str, path: &Path) -> Value {
    let script = repo_root().join("tests/python/interop.py");
    let out = Command::new(python()).arg(&script).arg(command).arg(path).output().unwrap_or_else(|e| {
        panic!("cannot run {} ({e}); run scripts/test.sh, which installs pretty_midi and mido", python())
    });
    assert!(out.status.success(), "interop.py {command} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (start, end, pitch, velocity) of every note, sorted.
type Notes = Vec<(i64, i64, i64, i64)>;

fn python_notes(list: &Value) -> Notes {
    let mut notes: Notes = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let n: Vec<i64> = n.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
            (n[3], n[4], n[5], n[6])
        })
        .collect();
    notes.sort();
    notes
}

fn cadenza_notes(song: &Song) -> Notes {
    let mut notes: Notes = song
        .tracks
        .iter()
        .flat_map(|t| &t.notes)
        .map(|n| (n.start as i64, n.end() as i64, i64::from(n.pitch), i64::from(n.velocity)))
        .collect();
    notes.sort();
    notes
}

fn assert_within_one_tick(ours: &Notes, theirs: &Notes, who: &str) {
    assert_eq!(ours.len(), theirs.len(), "{who} sees {} notes, Cadenza {}", theirs.len(), ours.len());
    for (a, b) in ours.iter().zip(theirs) {
        assert!(
            (a.0 - b.0).abs() <= 1 && (a.1 - b.1).abs() <= 1 && a.2 == b.2 && a.3 == b.3,
            "{who}: {b:?} vs Cadenza {a:?}"
        );
    }
}

fn song_with_tempo_changes() -> Song {
    let mut song = Song::new(480);
    song.tempos = vec![
        TempoChange { tick: 0, micros_per_quarter: 500_000 },
        TempoChange { tick: 1920, micros_per_quarter: 750_000 },
        TempoChange { tick: 3840, micros_per_quarter: 400_000 },
    ];
    for (i, (program, channel)) in [(0u8, 0u8), (40, 1), (0, 9)].into_iter().enumerate() {
        let mut track = Track::new(format!("part {i}"), program, channel);
        for k in 0..40u64 {
            // Off-grid starts, chords, repeated pitches that touch.
            let start = k * 170 + (k % 3) * 7;
            track.insert_note(Note::new(
                start,
                170 + (k % 2) * 55,
                40 + (i as u8) * 12 + (k % 7) as u8,
                20 + k as u8 * 2,
            ));
        }
        song.tracks.push(track);
    }
    song
}

#[test]
fn pretty_midi_and_mido_read_what_cadenza_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cadenza.mid");
    let song = song_with_tempo_changes();
    write_song(&song, &path).unwrap();
    let read = run_python("read", &path);
    let ours = cadenza_notes(&song);
    assert_eq!(read["pretty_midi"]["resolution"], 480);
    assert_within_one_tick(&ours, &python_notes(&read["pretty_midi"]["notes"]), "pretty_midi");
    assert_within_one_tick(&ours, &python_notes(&read["mido"]["notes"]), "mido");
    assert_eq!(read["mido"]["type"], 1);
    // Programs and the drum channel come through too.
    let pm = read["pretty_midi"]["notes"].as_array().unwrap();
    assert!(pm.iter().any(|n| n[1] == 9), "pretty_midi saw no drum notes");
    assert!(pm.iter().any(|n| n[2] == 40), "pretty_midi lost the violin program");
}

#[test]
fn cadenza_reads_what_pretty_midi_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pretty_midi.mid");
    let written = run_python("write-pm", &path);
    let song = read_song(&path).unwrap();
    assert_eq!(song.ppq, 384);
    assert!((song.tempos[0].bpm() - 96.0).abs() < 0.01);
    assert_within_one_tick(&cadenza_notes(&song), &python_notes(&written["notes"]), "pretty_midi");
    let drums: Vec<_> = song.tracks.iter().filter(|t| t.is_drum).collect();
    assert_eq!(drums.len(), 1);
    assert_eq!(song.tracks.iter().filter(|t| t.program == 40).count(), 1);
}

#[test]
fn cadenza_reads_what_mido_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mido.mid");
    let written = run_python("write-mido", &path);
    let song = read_song(&path).unwrap();
    assert_eq!(song.ppq, 96);
    assert_eq!(song.tempos[0].micros_per_quarter, 600_000);
    assert_within_one_tick(&cadenza_notes(&song), &python_notes(&written["notes"]), "mido");
    // A type-0 file with two channels becomes two tracks; channel 3 keeps its clarinet.
    assert_eq!(song.tracks.len(), 2);
    assert!(song.tracks.iter().any(|t| t.channel == 2 && t.program == 71));
}
