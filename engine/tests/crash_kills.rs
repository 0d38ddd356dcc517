#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Kills at random moments (SIGKILL: no destructor, no clean shutdown) of a process running the
//! real engine — this test binary re-run in a child mode — while it saves a project, while it
//! autosaves edits, and while it records audio; then a new engine starts on what was left.
//!
//! - save: the project on disk is the old or the new version, never a mix;
//! - autosave: the recovery file is offered and holds the edits up to its last write;
//! - recording: the recovery file offers the take, which loses at most the last second.
//!
//! `CADENZA_CRASH_KILLS` sets the kills per case (default 7: 21 in all); each case prints what
//! was lost.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cadenza_engine::project::{self, ProjectData};
use cadenza_engine::song::{Note, Song, Track};
use cadenza_engine::{Command, Edit, Engine, EngineConfig, EngineHandle, Event};

const CHILD_MODE: &str = "CADENZA_CRASH_KILL_MODE";
const CHILD_DIR: &str = "CADENZA_CRASH_KILL_DIR";
const INPUT_RATE: u32 = 8000;

fn kills() -> usize {
    std::env::var("CADENZA_CRASH_KILLS").ok().and_then(|n| n.parse().ok()).unwrap_or(7)
}

fn config(state: &Path) -> EngineConfig {
    EngineConfig { autosave_every: Duration::from_millis(50), ..EngineConfig::silent(state.to_path_buf()) }
}

/// A seeded xorshift, so a failing run can be repeated (the seed is printed).
struct Moments(u64);

impl Moments {
    fn between(&mut self, low: Duration, high: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + (high - low).mul_f64((self.0 % 10_000) as f64 / 10_000.0)
    }
}

fn moments(case: &str) -> Moments {
    let seed = std::env::var("CADENZA_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_u64);
    println!("crash kills ({case}): seed {seed}");
    Moments((seed ^ (case.len() as u64 * 0x9E37_79B9)).max(1))
}

fn wait_for(engine: &EngineHandle, what: &str, mut matches: impl FnMut(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match engine.events().recv_timeout(left) {
            Ok(event) if matches(&event) => return event,
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// Version `n` of the saved song: large enough that writing it takes a while.
fn song_version(n: u64) -> Song {
    let mut song = Song::new(480);
    let mut track = Track::new(format!("version {n}"), 0, 0);
    for i in 0..(4000 + n) {
        track.insert_note(Note::new(i * 120, 100, 40 + (i % 40) as u8, 60 + (n % 60) as u8));
    }
    song.tracks.push(track);
    song
}

/// The note the autosave child adds with its `n`th edit.
fn edit_note(n: u64) -> Note {
    Note::new(n * 120, 100, 48 + (n % 36) as u8, 90)
}

fn input_sample(i: usize) -> f32 {
    (i % 1000) as f32 / 1000.0
}

/// The child's work, by mode; it prints one line per step and runs until it is killed.
#[test]
fn crash_kill_child() {
    let (Some(mode), Some(dir)) = (std::env::var_os(CHILD_MODE), std::env::var_os(CHILD_DIR)) else { return };
    let dir = PathBuf::from(dir);
    match mode.to_str() {
        Some("save") => save_forever(&dir),
        Some("autosave") => edit_forever(&dir),
        Some("record") => record_forever(&dir),
        other => panic!("unknown child mode {other:?}"),
    }
}

fn save_forever(dir: &Path) {
    let engine = Engine::spawn(EngineConfig { live: false, ..config(&dir.join("state")) }).unwrap();
    for n in 1.. {
        engine.send(Command::SetSong(song_version(n)));
        let id = engine.save_project(Some(dir.join("song.cadenza")));
        wait_for(&engine, "the save", |e| matches!(e, Event::JobFinished { id: job, .. } if *job == id));
        println!("saved {n}");
    }
}

fn edit_forever(dir: &Path) {
    let engine = Engine::spawn(config(dir)).unwrap();
    let mut song = Song::new(480);
    song.tracks.push(Track::new("Piano", 0, 0));
    engine.send(Command::SetSong(song));
    for n in 0.. {
        engine.send(Command::Edit(Edit::AddNotes { track: 0, notes: vec![edit_note(n)] }));
        wait_for(&engine, "the edit", |e| matches!(e, Event::SongChanged { .. }));
        println!("edited {}", n + 1);
        std::thread::sleep(Duration::from_millis(3));
    }
}

fn record_forever(dir: &Path) {
    let engine = Engine::spawn(config(dir)).unwrap();
    let input = format!("file:{}", dir.join("input.wav").display());
    engine.send(Command::RecordAudio { device: Some(input) });
    let started = wait_for(&engine, "the recording", |e| matches!(e, Event::RecordingStarted { .. }));
    let Event::RecordingStarted { meter, .. } = started else { unreachable!() };
    loop {
        println!("frames {}", meter.frames());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the child in `mode`, kills it after `after` (counted from its first line), and
/// returns the last number it printed (`None` when it printed none).
fn run_and_kill(mode: &str, dir: &Path, after: Duration) -> Option<u64> {
    let mut child = Process::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_kill_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_MODE, mode)
        .env(CHILD_DIR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let last = Arc::new(Mutex::new(None::<u64>));
    let (first_tx, first_rx) = crossbeam_channel::bounded(1);
    let stdout = child.stdout.take().unwrap();
    let reader = {
        let last = Arc::clone(&last);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let number = line.rsplit(' ').next().and_then(|n| n.parse().ok());
                if let (Some(number), true) =
                    (number, ["saved ", "edited ", "frames "].iter().any(|p| line.starts_with(p)))
                {
                    *last.lock().unwrap() = Some(number);
                    let _ = first_tx.try_send(());
                }
            }
        })
    };
    // Count from the child's first step, so its start-up is not what is measured.
    let _ = first_rx.recv_timeout(Duration::from_secs(60));
    std::thread::sleep(after);
    // The last number is read at the moment of the kill: what the child had done by then.
    let at_kill = *last.lock().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    at_kill
}

#[test]
fn a_project_killed_while_saving_is_the_old_or_the_new_one() {
    let mut moments = moments("save");
    let (mut old, mut new, mut later) = (0, 0, 0);
    for kill in 0..kills() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("song.cadenza");
        project::save_project(&project, &ProjectData::new(song_version(0), Vec::new())).unwrap();
        let printed = run_and_kill("save", dir.path(), moments.between(Duration::ZERO, Duration::from_millis(1500)));
        let last = printed.unwrap_or(0);
        let (_, data) = project::load_project(&project)
            .unwrap_or_else(|err| panic!("kill {kill}: the project is unreadable after the kill: {err}"));
        let name = &data.song.tracks[0].name;
        let version: u64 = name.trim_start_matches("version ").parse().unwrap();
        assert_eq!(data.song.tracks, song_version(version).tracks, "kill {kill}: a mix of versions ({name})");
        // The save in flight at the kill may or may not have landed: either is whole.
        assert!(version == last || version == last + 1, "kill {kill}: saved {last} then found version {version}");
        if version == last {
            old += 1
        } else {
            new += 1
        }
        if version > 0 {
            later += 1;
        }
        let stray: Vec<_> = std::fs::read_dir(&project)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        // A kill mid-write leaves the temporary file; never in place of the project.
        assert!(stray.len() <= 1, "kill {kill}: {} temporary files", stray.len());
    }
    println!(
        "crash kills (save): {} kills; project = last finished save {old}, save in flight {new}; mixed 0; {later} after at least one save",
        kills()
    );
}

#[test]
fn a_session_killed_while_autosaving_offers_its_edits() {
    let mut moments = moments("autosave");
    let mut losses = Vec::new();
    for kill in 0..kills() {
        let state = tempfile::tempdir().unwrap();
        let after = moments.between(Duration::from_millis(200), Duration::from_millis(1500));
        let done = run_and_kill("autosave", state.path(), after).unwrap_or(0);
        let engine = Engine::spawn(config(state.path())).unwrap();
        let offer = wait_for(&engine, "the recovery offer", |e| matches!(e, Event::RecoveryAvailable { .. }));
        let Event::RecoveryAvailable { notes, .. } = offer else { unreachable!() };
        engine.send(Command::RestoreRecovery);
        let restored = wait_for(&engine, "the restored song", |e| matches!(e, Event::SongChanged { .. }));
        let Event::SongChanged { song, .. } = restored else { unreachable!() };
        let kept = song.tracks[0].notes.clone();
        assert_eq!(kept.len(), notes, "kill {kill}: the offer and the restored song disagree");
        let expected: Vec<Note> = (0..kept.len() as u64).map(edit_note).collect();
        assert_eq!(kept, expected, "kill {kill}: the recovered edits are not the first {} made", kept.len());
        // The edit in flight at the kill may have been autosaved too.
        assert!(kept.len() as u64 <= done + 1, "kill {kill}: {} notes recovered, {done} edits made", kept.len());
        losses.push(done.saturating_sub(kept.len() as u64));
    }
    println!(
        "crash kills (autosave every 50 ms, an edit every ~4 ms): {} kills; edits lost: max {}, mean {:.1}",
        kills(),
        losses.iter().max().unwrap_or(&0),
        losses.iter().sum::<u64>() as f64 / losses.len().max(1) as f64
    );
}

#[test]
fn a_take_killed_while_recording_loses_at_most_a_second() {
    let mut moments = moments("record");
    let mut losses = Vec::new();
    for kill in 0..kills() {
        let state = tempfile::tempdir().unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: INPUT_RATE,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut input = hound::WavWriter::create(state.path().join("input.wav"), spec).unwrap();
        for i in 0..(INPUT_RATE as usize * 30) {
            input.write_sample(input_sample(i)).unwrap();
        }
        input.finalize().unwrap();

        let after = moments.between(Duration::from_millis(100), Duration::from_millis(3000));
        let captured = run_and_kill("record", state.path(), after).unwrap_or(0);
        let engine = Engine::spawn(config(state.path())).unwrap();
        wait_for(&engine, "the recovery offer", |e| matches!(e, Event::RecoveryAvailable { .. }));
        engine.send(Command::RestoreRecovery);
        let mut notices = Vec::new();
        let takes = wait_for(&engine, "the restored takes", |e| {
            if let Event::Notice(text) = e {
                notices.push(text.clone());
            }
            matches!(e, Event::Takes { .. })
        });
        let Event::Takes { takes, root } = takes else { unreachable!() };
        assert_eq!(takes.len(), 1, "kill {kill} after {after:?}: the take in progress is not offered ({notices:?})");
        let file = root.join(&takes[0].file);
        let samples: Vec<f32> = hound::WavReader::open(&file)
            .unwrap_or_else(|err| panic!("kill {kill}: {}: {err}", file.display()))
            .samples::<f32>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(samples.len() as u64, takes[0].frames, "kill {kill}: the take's length is not its audio's");
        assert!(
            samples.iter().enumerate().all(|(i, s)| *s == input_sample(i)),
            "kill {kill}: the recovered audio is not what was played in"
        );
        let lost = captured.saturating_sub(samples.len() as u64) as f64 / f64::from(INPUT_RATE);
        assert!(lost <= 1.0, "kill {kill}: {captured} frames captured, {} recovered ({lost:.2} s lost)", samples.len());
        losses.push(lost);
        drop(engine);
    }
    println!(
        "crash kills (record): {} kills; audio lost: max {:.3} s, mean {:.3} s",
        kills(),
        losses.iter().copied().fold(0.0, f64::max),
        losses.iter().sum::<f64>() / losses.len().max(1) as f64
    );
}
