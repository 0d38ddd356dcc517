//! `cadenza transcribe DIR -o OUT/` end to end: a library of short recordings (bars of the
//! corpus fixtures rendered through Cadenza's synth, in nested folders) transcribed as a batch,
//! the real binary SIGKILLed half-way, and a rerun that finishes the rest without redoing a file.
//!
//! `CADENZA_BATCH_FILES` sets the library's size (default 48; the measurement used 1,000).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use cadenza_engine::midi::read_song;
use cadenza_engine::song::{Song, Track};
use cadenza_engine::synth::{BuiltinSynth, RenderOptions, render_to_wav};
use cadenza_tests::{cadenza_binary, fixture, stderr};

fn library_size() -> usize {
    std::env::var("CADENZA_BATCH_FILES").ok().and_then(|n| n.parse().ok()).unwrap_or(48)
}

/// One bar (four beats) of `song` from `bar` on, every track, as a song of its own.
fn one_bar(song: &Song, bar: u64) -> Song {
    let span = u64::from(song.ppq) * 4;
    let (start, end) = (bar * span, (bar + 1) * span);
    let mut out = Song::new(song.ppq);
    out.tempos = vec![cadenza_engine::TempoChange { tick: 0, micros_per_quarter: 600_000 }];
    for track in &song.tracks {
        let mut part = Track::new(track.name.clone(), track.program, track.channel);
        for note in track.notes.iter().filter(|n| n.start >= start && n.start < end) {
            let mut note = note.clone();
            note.start -= start;
            note.length = note.length.min(span - note.start).max(1);
            part.insert_note(note);
        }
        if !part.notes.is_empty() {
            out.tracks.push(part);
        }
    }
    out
}

/// `count` WAV files of one bar each, cut from the corpus fixtures in turn, spread over nested
/// folders (`piece/groupN/bar-K.wav`).
fn write_library(root: &Path, count: usize) -> Vec<PathBuf> {
    let pieces =
        ["bach_bwv66.6", "beethoven_op18no1_2", "joplin_maple_leaf_rag", "monteverdi_madrigal_3_1", "mozart_k80_1"];
    let songs: Vec<Song> = pieces.iter().map(|p| read_song(&fixture(&format!("corpus/{p}.mid"))).unwrap()).collect();
    let mut files = Vec::new();
    let mut bar = 0u64;
    while files.len() < count {
        for (piece, song) in pieces.iter().zip(&songs) {
            if files.len() == count {
                break;
            }
            let clip = one_bar(song, bar % 16);
            if clip.note_count() == 0 {
                continue;
            }
            let path = root.join(piece).join(format!("group{}", bar / 8)).join(format!("bar-{bar}.wav"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let mut synth = BuiltinSynth::new(22_050);
            render_to_wav(&clip, &mut synth, &path, RenderOptions { tail_seconds: 0.3 }, |_| true).unwrap();
            files.push(path);
        }
        bar += 1;
    }
    files
}

/// Every MIDI file under `out`, with its modification time.
fn written(out: &Path) -> BTreeMap<PathBuf, SystemTime> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![out.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "mid") {
                found.insert(path, entry.metadata().unwrap().modified().unwrap());
            }
        }
    }
    found
}

fn transcribe_library(library: &Path, out: &Path) -> Command {
    let mut command = Command::new(cadenza_binary());
    command
        .args(["transcribe", library.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .env("CADENZA_BACKEND", "cpu")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn summary_line(text: &str) -> &str {
    text.lines().find(|l| l.starts_with("cadenza: batch:")).unwrap_or_else(|| panic!("no summary in:\n{text}"))
}

#[test]
fn a_library_killed_half_way_finishes_on_a_rerun_without_redoing_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (library, out) = (dir.path().join("library"), dir.path().join("midi"));
    let count = library_size();
    let started = Instant::now();
    let recordings = write_library(&library, count);
    println!("{count} recordings rendered in {:.1} s", started.elapsed().as_secs_f64());

    // Killed once about half the MIDI files are there.
    let started = Instant::now();
    let mut first = transcribe_library(&library, &out).spawn().unwrap();
    while written(&out).len() < count / 2 {
        assert!(first.try_wait().unwrap().is_none(), "the batch ended before it was killed");
        assert!(started.elapsed() < Duration::from_secs(600), "the batch made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let before = written(&out);
    println!("killed after {:.1} s with {} of {count} written", started.elapsed().as_secs_f64(), before.len());
    assert!(before.len() < count, "everything was done before the kill");
    for path in before.keys() {
        // Atomic writes: whatever exists is a whole MIDI file.
        read_song(path).unwrap_or_else(|e| panic!("{} is damaged after the kill: {e}", path.display()));
    }

    let started = Instant::now();
    let rerun = transcribe_library(&library, &out).output().unwrap();
    let text = stderr(&rerun);
    assert!(rerun.status.success(), "{text}");
    println!("rerun in {:.1} s: {}", started.elapsed().as_secs_f64(), summary_line(&text));
    let left = count - before.len();
    assert!(
        summary_line(&text).contains(&format!("{left} written, {} skipped (done before), 0 failed", before.len())),
        "{}",
        summary_line(&text)
    );
    let after = written(&out);
    assert_eq!(after.len(), count, "one MIDI file per recording");
    for (path, modified) in &before {
        assert_eq!(after.get(path), Some(modified), "{} was redone", path.display());
    }
    // The folder structure is kept, and each file holds the notes of its bar.
    for recording in &recordings {
        let midi = out.join(recording.strip_prefix(&library).unwrap()).with_extension("mid");
        let song = read_song(&midi).unwrap_or_else(|e| panic!("{}: {e}", midi.display()));
        assert!(song.note_count() > 0, "{} has no notes", midi.display());
    }
    // Nothing left to do: a third run skips everything.
    let third = transcribe_library(&library, &out).output().unwrap();
    assert!(third.status.success());
    assert!(
        stderr(&third).contains(&format!("{count} recordings: 0 to transcribe, {count} done before")),
        "{}",
        stderr(&third)
    );
}

#[test]
fn a_bad_file_in_a_library_is_reported_and_the_rest_still_finish() {
    let dir = tempfile::tempdir().unwrap();
    let (library, out) = (dir.path().join("library"), dir.path().join("midi"));
    let recordings = write_library(&library, 3);
    std::fs::write(library.join("broken.wav"), b"RIFF\x10\0\0\0WAVEnot audio at all").unwrap();
    // A recording cut short: its notes are written, and the damage is named.
    let bytes = std::fs::read(&recordings[2]).unwrap();
    std::fs::write(&recordings[2], &bytes[..bytes.len() * 2 / 3]).unwrap();
    let run = transcribe_library(&library, &out).output().unwrap();
    let text = stderr(&run);
    assert!(!run.status.success(), "{text}");
    assert!(summary_line(&text).contains("3 written, 0 skipped (done before), 1 failed, 1 damaged"), "{text}");
    assert!(text.contains("failed: ") && text.contains("broken.wav"), "{text}");
    let damaged = format!("damaged: {}: damaged audio", recordings[2].display());
    assert!(text.contains(&damaged), "{text}");
    assert!(text.lines().last().unwrap().contains("1 of 4 files could not be transcribed"), "{text}");
    assert_eq!(written(&out).len(), 3);
}
