#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Autosave and recovery across a real crash: a child process (this test binary, re-run in a
//! child mode) edits a song until the engine autosaves, then is killed with SIGKILL before it
//! saves. A new engine on the same state folder offers the work, and restoring it gives the
//! same song.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use cadenza_engine::song::{Note, Song, Track};
use cadenza_engine::{Command, Edit, Engine, EngineConfig, EngineHandle, Event};

const CHILD_ENV: &str = "CADENZA_TEST_CRASH_CHILD";

fn config(state: &Path) -> EngineConfig {
    EngineConfig { autosave_every: Duration::from_millis(200), ..EngineConfig::silent(state.to_path_buf()) }
}

fn start_song() -> Song {
    let mut song = Song::new(480);
    let mut track = Track::new("Piano", 0, 0);
    track.insert_note(Note::new(0, 480, 60, 90));
    song.tracks.push(track);
    song
}

fn edits() -> Vec<Edit> {
    vec![
        Edit::AddNotes { track: 0, notes: vec![Note::new(480, 480, 64, 80), Note::new(960, 240, 67, 70)] },
        Edit::Transpose { track: 0, notes: vec![Note::new(0, 480, 60, 90)], semitones: -12 },
    ]
}

fn expected_song() -> Song {
    let mut song = start_song();
    for edit in edits() {
        edit.apply(&mut song).unwrap();
    }
    song
}

fn wait_for(engine: &EngineHandle, what: &str, mut matches: impl FnMut(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match engine.events().recv_timeout(left) {
            Ok(event) if matches(&event) => return event,
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// The child: runs only when the parent starts this binary with the child variable set.
#[test]
fn crash_child() {
    let Some(state) = std::env::var_os(CHILD_ENV) else { return };
    let engine = Engine::spawn(config(Path::new(&state))).unwrap();
    engine.send(Command::SetSong(start_song()));
    for edit in edits() {
        engine.send(Command::Edit(edit));
    }
    wait_for(&engine, "the autosave", |e| matches!(e, Event::Autosaved));
    println!("autosaved");
    // Never saves: the parent kills this process here.
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn work_survives_a_kill_between_autosave_and_save() {
    let state = tempfile::tempdir().unwrap();
    let mut child = Process::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, state.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let autosaved = BufReader::new(stdout).lines().map_while(Result::ok).any(|line| line.contains("autosaved"));
    child.kill().unwrap(); // SIGKILL: no destructor, no clean shutdown
    child.wait().unwrap();
    assert!(autosaved, "the child never autosaved");

    let engine = Engine::spawn(config(state.path())).unwrap();
    let offer = wait_for(&engine, "the recovery offer", |e| matches!(e, Event::RecoveryAvailable { .. }));
    let Event::RecoveryAvailable { notes, .. } = offer else { unreachable!() };
    assert_eq!(notes, 3);
    engine.send(Command::RestoreRecovery);
    let restored = wait_for(&engine, "the restored song", |e| matches!(e, Event::SongChanged { .. }));
    let Event::SongChanged { song, .. } = restored else { unreachable!() };
    assert_eq!(*song, expected_song());
}

#[test]
fn clean_exit_after_saving_leaves_no_recovery() {
    let state = tempfile::tempdir().unwrap();
    let project = state.path().join("song");
    {
        let engine = Engine::spawn(config(state.path())).unwrap();
        engine.send(Command::SetSong(start_song()));
        engine.send(Command::Edit(edits().remove(0)));
        wait_for(&engine, "the autosave", |e| matches!(e, Event::Autosaved));
        assert!(cadenza_engine::project::find_recovery(state.path()).is_some());
        engine.save_project(Some(project.clone()));
        wait_for(&engine, "the save", |e| matches!(e, Event::ProjectSaved { .. }));
    }
    assert!(cadenza_engine::project::find_recovery(state.path()).is_none(), "saved work left a recovery file");
    assert!(project.with_extension("cadenza").join("project.json").is_file());
}
