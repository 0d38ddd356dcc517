//! The engine under load: thousands of commands — note drags with undo and redo, latent slider
//! moves, transport and previews — while transcriptions and continuations run on the workers
//! and some of them are cancelled. Every edit is answered with the song it made, and every job
//! ends exactly once, with a result, an error or a cancel: none is lost. The reply times of the
//! edits are printed (p50, p99, max): timing targets live in benches, not in tests.
//!
//! `CADENZA_LOAD_STEPS` sets the number of drag steps (default 3,000).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cadenza_engine::midi::read_song;
use cadenza_engine::ml::continuation::{
    ContinuationRequest, GenerationOptions, bar_length, continuation_job, parse_style,
};
use cadenza_engine::ml::latent::{LatentPoint, LatentReply, LatentRequest, Slot, VaeSize, clip_notes};
use cadenza_engine::ml::transcription::TranscribeOptions;
use cadenza_engine::playback::TransportSettings;
use cadenza_engine::song::{Note, Song, Track};
use cadenza_engine::{Command, Edit, Engine, EngineConfig, EngineHandle, Event, GestureId, JobId};

const CHORALE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/bach_bwv7.7.mid");
const DRAG_LENGTH: u64 = 40;

fn steps() -> u64 {
    std::env::var("CADENZA_LOAD_STEPS").ok().and_then(|n| n.parse().ok()).unwrap_or(3000)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Transcription,
    Continuation,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Finished,
    Failed,
    Cancelled,
}

/// What the test has asked for and what has come back.
#[derive(Default)]
struct Ledger {
    jobs: HashMap<JobId, (Kind, bool)>,
    ends: HashMap<JobId, End>,
    latent_answered: Option<u64>,
    latent_failed: Vec<String>,
    other_events: usize,
}

impl Ledger {
    /// Files one event; the song it carries when it is a `SongChanged`.
    fn file(&mut self, event: Event) -> Option<Arc<Song>> {
        let (id, end) = match event {
            Event::SongChanged { song, .. } => return Some(song),
            Event::JobFinished { id, .. } => (id, End::Finished),
            Event::JobFailed { id, .. } => (id, End::Failed),
            Event::JobCancelled { id } => (id, End::Cancelled),
            Event::Latent(LatentReply::Decoded { request, .. }) => {
                self.latent_answered = self.latent_answered.max(Some(request));
                return None;
            }
            Event::Latent(LatentReply::Failed(message)) => {
                self.latent_failed.push(message);
                return None;
            }
            _ => {
                self.other_events += 1;
                return None;
            }
        };
        if self.jobs.contains_key(&id) {
            assert!(self.ends.insert(id, end).is_none(), "job {id:?} ended twice");
        }
        None
    }

    fn next(&mut self, engine: &EngineHandle, within: Duration) -> Option<Arc<Song>> {
        let event = engine.events().recv_timeout(within).expect("the engine stopped answering");
        self.file(event)
    }

    fn open_jobs(&self) -> usize {
        self.jobs.keys().filter(|id| !self.ends.contains_key(id)).count()
    }
}

/// The chorale with one more track holding the note the test drags (a pitch no voice uses).
fn song_with_handle() -> (Song, Note) {
    let mut song = read_song(Path::new(CHORALE)).unwrap();
    let handle = Note::new(960, 240, 110, 90);
    let mut track = Track::new("drag", 0, 15);
    track.insert_note(handle.clone());
    song.tracks.push(track);
    (song, handle)
}

fn tone_wav(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..22050 * 2 {
        let t = f64::from(i) / 22050.0;
        let pitch = if t < 1.0 { 440.0 } else { 554.37 };
        wav.write_sample(((2.0 * std::f64::consts::PI * pitch * t).sin() * 12000.0) as i16).unwrap();
    }
    wav.finalize().unwrap();
}

fn continuation(song: &Arc<Song>, seed: u64) -> ContinuationRequest {
    let bar = bar_length(song, 0);
    ContinuationRequest {
        from: 0,
        to: 2 * bar,
        tracks: (0..4).collect(),
        style: parse_style("bach").unwrap(),
        instruments: Vec::new(),
        variations: 1,
        options: GenerationOptions { bars: 1, seed, ..GenerationOptions::default() },
    }
}

fn point(along: f32) -> LatentPoint {
    LatentPoint { size: VaeSize::TwoBar, along, pad: None, attributes: Vec::new(), temperature: 0.0, seed: 1 }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn thousands_of_commands_while_jobs_run_are_answered_and_no_job_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::spawn(EngineConfig::silent(dir.path().join("state"))).unwrap();
    let audio = dir.path().join("tone.wav");
    tone_wav(&audio);
    let (song, handle) = song_with_handle();
    let drag_track = song.tracks.len() - 1;
    let song = Arc::new(song);
    let mut ledger = Ledger::default();
    engine.send(Command::SetSong((*song).clone()));
    while ledger.next(&engine, Duration::from_secs(30)).is_none() {}
    for (slot, from) in [(Slot::A, 0), (Slot::B, 8 * u64::from(song.ppq))] {
        let notes = clip_notes(&song, 0, from, from + 8 * u64::from(song.ppq));
        engine.send(Command::Latent(LatentRequest::Encode { size: VaeSize::TwoBar, slot, notes }));
    }

    let started = Instant::now();
    let (mut commands, mut latent_request) = (0u64, 0u64);
    let mut replies = Vec::new();
    // Where the dragged note is; where it was before each finished drag (for undo).
    let mut note = handle.clone();
    let mut before_drags: Vec<Note> = Vec::new();
    let mut undone: Vec<Note> = Vec::new();
    let mut cancel_later: Vec<(u64, JobId)> = Vec::new();
    for step in 0..steps() {
        // Jobs: a transcription every 400 steps (every fourth cancelled 200 steps in), a
        // continuation every 250 (every third cancelled at once, the one after it 100 steps in).
        if step % 400 == 0 {
            let id = engine.transcribe(&audio, TranscribeOptions::default());
            ledger.jobs.insert(id, (Kind::Transcription, false));
            if (step / 400) % 4 == 3 {
                cancel_later.push((step + 200, id));
            }
        }
        if step % 250 == 100 {
            let id = engine.submit(continuation_job(Arc::clone(&song), continuation(&song, step)));
            let cancel = (step / 250) % 3 == 0;
            if cancel {
                engine.cancel(id);
                commands += 1;
            } else if (step / 250) % 3 == 1 {
                cancel_later.push((step + 100, id));
            }
            ledger.jobs.insert(id, (Kind::Continuation, cancel));
        }
        for (_, id) in cancel_later.extract_if(.., |(at, _)| *at == step) {
            engine.cancel(id);
            ledger.jobs.entry(id).and_modify(|(_, cancelled)| *cancelled = true);
            commands += 1;
        }
        // Side traffic that expects no reply: a latent slider, the transport, previews.
        if step % 5 == 0 {
            latent_request += 1;
            let along = (latent_request % 50) as f32 / 50.0;
            engine.send(Command::Latent(LatentRequest::Decode { request: latent_request, point: point(along) }));
            commands += 1;
        }
        if step % 7 == 0 {
            engine.send(Command::Seek(step * 10));
            let loop_ticks = (step % 2 == 0).then_some((0, 1920 + step));
            engine.send(Command::SetTransport(TransportSettings {
                loop_ticks,
                metronome: step % 3 == 0,
                ..TransportSettings::default()
            }));
            engine.send(Command::Preview { track: 0, pitch: 60 + (step % 12) as u8, velocity: 80 });
            commands += 3;
        }

        // The drag: one move per step, forward on even drags and back on odd ones; every fifth
        // drag is undone and redone.
        let drag = step / DRAG_LENGTH;
        let delta: i64 = if drag.is_multiple_of(2) { 1 } else { -1 };
        if step % DRAG_LENGTH == 0 {
            before_drags.push(note.clone());
        }
        let moved = Note { start: note.start.saturating_add_signed(delta), ..note.clone() };
        let edit = Edit::MoveNotes { track: drag_track, notes: vec![note.clone()], delta_ticks: delta, delta_pitch: 0 };
        let mut expectations = vec![moved.clone()];
        let sent = Instant::now();
        engine.send(Command::EditInGesture(edit, GestureId(drag)));
        commands += 1;
        note = moved;
        if step % DRAG_LENGTH == DRAG_LENGTH - 1 {
            engine.send(Command::EndGesture);
            commands += 1;
            if drag % 5 == 4 {
                let before = before_drags.last().unwrap().clone();
                engine.send(Command::Undo);
                engine.send(Command::Redo);
                commands += 2;
                undone.push(before.clone());
                expectations.extend([before, note.clone()]);
            }
        }
        // Each edit (and undo, and redo) is answered by the song it made, in order.
        for expected in expectations {
            loop {
                let left = Duration::from_secs(60).saturating_sub(sent.elapsed());
                if let Some(song) = ledger.next(&engine, left) {
                    if song.tracks.get(drag_track).is_some_and(|t| t.notes == [expected.clone()]) {
                        break;
                    }
                    panic!(
                        "step {step}: the song answered holds {:?}, expected {expected:?}",
                        song.tracks.get(drag_track).map(|t| &t.notes)
                    );
                }
            }
            replies.push(sent.elapsed());
        }
    }
    let sending = started.elapsed();

    // Every job ends.
    let deadline = Instant::now() + Duration::from_secs(600);
    while ledger.open_jobs() > 0 || ledger.latent_answered < Some(latent_request) && ledger.latent_failed.is_empty() {
        ledger.next(&engine, deadline.saturating_duration_since(Instant::now()));
    }
    assert!(ledger.latent_failed.is_empty(), "the latent worker failed: {:?}", ledger.latent_failed);
    let count = |kind: Kind, end: End| {
        ledger.jobs.iter().filter(|(id, (k, _))| *k == kind && ledger.ends.get(id) == Some(&end)).count()
    };
    for (id, (kind, cancelled)) in &ledger.jobs {
        let end = ledger.ends[id];
        // A cancel may come after the job finished; a job nobody cancelled must not say it was.
        assert!(*cancelled || end == End::Finished, "{kind:?} job {id:?} ended {end:?} without a cancel");
    }
    assert!(count(Kind::Transcription, End::Finished) > 0 && count(Kind::Continuation, End::Finished) > 0);
    assert!(count(Kind::Continuation, End::Cancelled) > 0, "no cancel took effect");

    replies.sort();
    println!(
        "engine under load: {commands} commands in {:.1} s ({} edits, undos and redos answered; {} latent moves, the newest decoded), \
         {} jobs: transcriptions {} finished / {} cancelled, continuations {} finished / {} cancelled; \
         edit reply p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        sending.as_secs_f64(),
        replies.len(),
        latent_request,
        ledger.jobs.len(),
        count(Kind::Transcription, End::Finished),
        count(Kind::Transcription, End::Cancelled),
        count(Kind::Continuation, End::Finished),
        count(Kind::Continuation, End::Cancelled),
        percentile(&replies, 0.5).as_secs_f64() * 1e3,
        percentile(&replies, 0.99).as_secs_f64() * 1e3,
        replies.last().unwrap().as_secs_f64() * 1e3,
    );
    assert!(ledger.jobs.values().all(|(kind, _)| matches!(kind, Kind::Transcription | Kind::Continuation)));
    assert!(!undone.is_empty());
}
