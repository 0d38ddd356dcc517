//! Live transcription through the real recorder: a WAV file plays as the microphone at
//! real-time pace (`file:` input), the engine transcribes it while it records, notes arrive
//! before the take ends, and stopping the take puts them in a new track at the take's place.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use cadenza_engine::song::Song;
use cadenza_engine::{Command, Engine, EngineConfig, Event, TempoMap};

const RATE: u32 = 44_100;
/// (start s, length s, MIDI pitch): three held notes, C4 E4 G4, then A4.
const TONES: [(f32, f32, u8); 4] = [(0.5, 0.6, 60), (1.3, 0.6, 64), (2.1, 0.6, 67), (2.9, 0.8, 69)];
const SECONDS: f32 = 4.5;

fn write_tones(path: &std::path::Path) {
    let spec =
        hound::WavSpec { channels: 2, sample_rate: RATE, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(SECONDS * RATE as f32) as usize {
        let t = i as f32 / RATE as f32;
        let mut s = 0.0f32;
        for (start, length, pitch) in TONES {
            if t >= start && t < start + length {
                let f = 440.0 * 2f32.powf((f32::from(pitch) - 69.0) / 12.0);
                // A plucked envelope with a few harmonics, like an instrument.
                let env = (-(t - start) * 3.0).exp() * ((t - start) * 200.0).min(1.0);
                s += env
                    * (0.4 * (t * f * std::f32::consts::TAU).sin()
                        + 0.15 * (2.0 * t * f * std::f32::consts::TAU).sin());
            }
        }
        let v = (s * 20_000.0) as i16;
        w.write_sample(v).unwrap();
        w.write_sample(v).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn a_take_is_transcribed_while_it_records_and_lands_in_a_new_track() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("played.wav");
    write_tones(&wav);
    let engine = Engine::spawn(EngineConfig::silent(dir.path().join("state"))).unwrap();
    let mut song = Song::new(480);
    song.tracks.push(cadenza_engine::Track::new("Piano", 0, 0));
    engine.send(Command::SetSong(song));
    engine.send(Command::RecordAudio { device: Some(format!("file:{}", wav.display())) });

    let started = Instant::now();
    let mut meter = None;
    let mut first_live: Option<Duration> = None;
    let mut live_committed = Vec::new();
    let deadline = started + Duration::from_secs(120);
    // Until the file has played out.
    while meter
        .as_ref()
        .is_none_or(|m: &std::sync::Arc<cadenza_engine::devices::recorder::RecordingMeter>| !m.is_finished())
    {
        assert!(Instant::now() < deadline, "the take never ended");
        match engine.events().recv_timeout(Duration::from_millis(50)) {
            Ok(Event::RecordingStarted { meter: m, .. }) => meter = Some(m),
            Ok(Event::LiveNotes(notes)) => {
                if !notes.committed.is_empty() && first_live.is_none() {
                    first_live = Some(started.elapsed());
                }
                live_committed.extend(notes.committed);
            }
            Ok(Event::CommandFailed(message)) => panic!("{message}"),
            _ => {}
        }
    }
    let played_for = started.elapsed();
    let first_live = first_live.expect("no note arrived while recording");
    println!("first committed note after {first_live:?}; the file played for {played_for:?}");
    // Notes come while the take records, not only at its end.
    assert!(first_live < played_for - Duration::from_millis(1000), "notes came only at the end");

    engine.send(Command::StopRecordAudio);
    let song = loop {
        match engine.events().recv_timeout(Duration::from_secs(60)).expect("no song after the take") {
            Event::SongChanged { song, .. } if song.tracks.len() == 2 => break song,
            _ => {}
        }
    };
    let track = &song.tracks[1];
    assert_eq!(track.name, "take-001 (live)");
    let tempo = TempoMap::for_song(&song);
    let found: Vec<(f64, u8)> = track.notes.iter().map(|n| (tempo.tick_to_seconds(n.start), n.pitch)).collect();
    println!("live notes: {found:?}");
    for (start, _, pitch) in TONES {
        assert!(
            found.iter().any(|&(s, p)| p == pitch && (s - f64::from(start)).abs() < 0.06),
            "missing {pitch} at {start} s: {found:?}"
        );
    }
    // The track holds what was shown live, and nothing far from the played notes.
    assert!(live_committed.len() <= track.notes.len());
    assert!(found.len() <= TONES.len() + 2, "too many notes: {found:?}");
}

/// An offline transcription that starts while the ML backend is still being chosen does not
/// wait for it: it runs on the CPU meanwhile, with the same notes as with its device at once.
#[test]
fn transcribing_while_the_backend_is_chosen_does_not_wait_and_gives_the_same_notes() {
    use cadenza_engine::ml::runtime_slot::RuntimeSlot;
    use cadenza_engine::ml::transcription::{DeviceChoice, TranscribeOptions, transcribe_file, transcribe_on};
    use cadenza_models::{BackendPreference, Device, select_backend};
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tones.wav");
    write_tones(&wav);
    let options = TranscribeOptions::default();
    let ready = transcribe_file(&wav, &options, &Device::flex(), &mut |_, _| true).unwrap().song;
    // Drivers that answer only when the test lets them.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let slot = RuntimeSlot::default();
    slot.choose(move || {
        let _ = released.recv();
        select_backend(BackendPreference::Cpu, &[])
    });
    let pending = transcribe_on(&wav, &options, DeviceChoice::Pending(&slot), &mut |_, _| true).unwrap().song;
    assert!(slot.get().is_none(), "the transcription finished while the backend was still being chosen");
    release.send(()).unwrap();
    let notes = |song: &Song| song.tracks.iter().flat_map(|t| t.notes.clone()).collect::<Vec<_>>();
    assert!(!notes(&ready).is_empty());
    assert_eq!(notes(&ready), notes(&pending));
    assert_eq!(slot.wait().kind, cadenza_models::BackendKind::Cpu);
}
