//! The engine thread through its public commands and events only.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use cadenza_engine::song::{Note, Song, Track};
use cadenza_engine::synth::SoundFontChoice;
use cadenza_engine::{
    BackendKind, Command, Edit, Engine, EngineConfig, EngineHandle, Event, Job, JobError, JobId, JobOutput,
};

const TIMEOUT: Duration = Duration::from_secs(120);

fn engine() -> EngineHandle {
    Engine::spawn(EngineConfig { soundfont: SoundFontChoice::Builtin, ..EngineConfig::default() }).unwrap()
}

/// Collects events until `stop` says so, failing after a generous timeout.
fn until(engine: &EngineHandle, mut stop: impl FnMut(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let event =
            engine.events().recv_timeout(TIMEOUT).unwrap_or_else(|_| panic!("engine went quiet; saw {seen:#?}"));
        let done = stop(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

fn job_end(id: JobId) -> impl FnMut(&Event) -> bool {
    move |e| matches!(e, Event::JobFinished { id: j, .. } | Event::JobFailed { id: j, .. } | Event::JobCancelled { id: j } if *j == id)
}

fn small_song() -> Song {
    let mut song = Song::new(480);
    let mut track = Track::new("Lead", 0, 0);
    for i in 0..8u64 {
        track.insert_note(Note::new(i * 480, 400, 60 + (i as u8 % 5), 100));
    }
    song.tracks.push(track);
    song
}

#[test]
fn reports_the_backend_it_chose() {
    let engine = engine();
    let events = until(&engine, |e| matches!(e, Event::Backend { .. }));
    let Some(Event::Backend { kind, reason, .. }) = events.last() else { unreachable!() };
    let gpus = cadenza_models::probe_adapters().into_iter().filter(|a| !a.is_software()).count();
    if gpus == 0 {
        assert_eq!(*kind, BackendKind::Cpu, "{reason}");
        assert!(reason.contains("CPU"), "{reason}");
    }
}

#[test]
fn backend_override_to_cpu() {
    let engine =
        Engine::spawn(EngineConfig { backend: cadenza_engine::BackendPreference::Cpu, ..EngineConfig::default() })
            .unwrap();
    let events = until(&engine, |e| matches!(e, Event::Backend { .. }));
    assert!(
        matches!(events.last(), Some(Event::Backend { kind: BackendKind::Cpu, reason, .. }) if reason == "CPU requested")
    );
}

#[test]
fn a_panicking_job_fails_and_the_engine_keeps_serving() {
    let engine = engine();
    let bad = engine.submit(Job::new("explodes", |_| panic!("boom in a job")));
    let events = until(&engine, job_end(bad));
    match events.last() {
        Some(Event::JobFailed { message, .. }) => {
            assert!(message.contains("boom in a job"), "{message}")
        }
        other => panic!("expected JobFailed, got {other:?}"),
    }
    // Both workers still run jobs, and the song side still answers.
    for n in 0..3 {
        let ok = engine.submit(Job::new("fine", move |_| Ok(JobOutput::Message(format!("ok {n}")))));
        let events = until(&engine, job_end(ok));
        assert!(
            matches!(events.last(), Some(Event::JobFinished { output: JobOutput::Message(m), .. }) if *m == format!("ok {n}"))
        );
    }
    engine.send(Command::SetSong(small_song()));
    until(&engine, |e| matches!(e, Event::SongChanged { .. }));
}

#[test]
fn jobs_can_be_cancelled() {
    let engine = engine();
    let id = engine.submit(Job::new("forever", |ctx| {
        loop {
            ctx.check_cancelled()?;
            ctx.progress(0.5, "spinning");
            std::thread::sleep(Duration::from_millis(5));
        }
    }));
    until(&engine, |e| matches!(e, Event::JobProgress { id: j, .. } if *j == id));
    engine.cancel(id);
    let events = until(&engine, job_end(id));
    assert!(matches!(events.last(), Some(Event::JobCancelled { .. })));
    let failing = engine.submit(Job::new("fails", |_| Err(JobError::Failed("disk full".into()))));
    let events = until(&engine, job_end(failing));
    assert!(matches!(events.last(), Some(Event::JobFailed { message, .. }) if message == "disk full"));
}

#[test]
fn render_round_trip_with_progress() {
    let engine = engine();
    engine.send(Command::SetSong(small_song()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("song.wav");
    let id = engine.render(&path, None);
    let events = until(&engine, job_end(id));
    let fractions: Vec<f32> = events
        .iter()
        .filter_map(|e| match e {
            Event::JobProgress { id: j, fraction, .. } if *j == id => Some(*fraction),
            _ => None,
        })
        .collect();
    assert!(fractions.len() >= 3, "too little progress: {fractions:?}");
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]), "progress went backwards: {fractions:?}");
    assert_eq!(fractions.last().copied(), Some(1.0));
    let Some(Event::JobFinished { output: JobOutput::Rendered { seconds, synth, .. }, .. }) = events.last() else {
        panic!("render failed: {:?}", events.last());
    };
    assert_eq!(synth, "built-in synth");
    // The last note ends at 7 beats + 400 ticks (120 BPM, PPQ 480), plus the 1.5 s tail.
    assert!((seconds - (3.5 + 400.0 / 960.0 + 1.5)).abs() < 0.001, "{seconds}");
    let reader = hound::WavReader::open(&path).unwrap();
    assert_eq!(reader.spec().channels, 2);
    let samples: Vec<i16> = reader.into_samples::<i16>().map(Result::unwrap).collect();
    assert!(samples.iter().any(|s| s.abs() > 1000), "rendered audio is silent");
}

#[test]
fn edits_undo_and_redo_through_the_engine() {
    let engine = engine();
    engine.send(Command::SetSong(small_song()));
    until(&engine, |e| matches!(e, Event::SongChanged { .. }));
    engine.send(Command::Edit(Edit::AddNotes { track: 0, notes: vec![Note::new(5000, 100, 72, 90)] }));
    let events = until(&engine, |e| matches!(e, Event::SongChanged { .. }));
    assert!(matches!(events.last(), Some(Event::SongChanged { song, can_undo: true, .. }) if song.note_count() == 9));
    engine.send(Command::Undo);
    let events = until(&engine, |e| matches!(e, Event::SongChanged { .. }));
    assert!(matches!(events.last(), Some(Event::SongChanged { song, can_redo: true, .. }) if song.note_count() == 8));
    engine.send(Command::Edit(Edit::RemoveTrack { index: 4 }));
    let events = until(&engine, |e| matches!(e, Event::CommandFailed(_)));
    assert!(matches!(events.last(), Some(Event::CommandFailed(m)) if m.contains("no track 4")));
}

#[test]
fn opening_a_broken_file_fails_the_job_and_keeps_the_song() {
    let engine = engine();
    engine.send(Command::SetSong(small_song()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.mid");
    std::fs::write(&path, b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x10\x00").unwrap();
    let id = engine.open_midi(&path);
    let events = until(&engine, job_end(id));
    match events.last() {
        Some(Event::JobFailed { message, .. }) => {
            assert!(message.contains("broken.mid") && message.contains("at byte 18"), "{message}")
        }
        other => panic!("expected failure, got {other:?}"),
    }
    let out = dir.path().join("still.mid");
    let id = engine.export_midi(&out);
    until(&engine, job_end(id));
    assert_eq!(cadenza_engine::midi::read_song(&out).unwrap(), small_song());
}
