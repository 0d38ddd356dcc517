//! The latent worker with the shipped melody models, through the engine thread: clips from a
//! real MIDI file encode, points between them decode, a burst of slider moves decodes only the
//! newest points (never a queue of stale ones), and bad input gets a clear reply.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use cadenza_engine::midi::read_song;
use cadenza_engine::ml::latent::{LatentPoint, LatentReply, LatentRequest, Slot, VaeSize, clip_notes};
use cadenza_engine::{Command, Engine, EngineConfig, Event};

const CHORALE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/bach_bwv7.7.mid");

fn next_reply(events: &crossbeam_channel::Receiver<Event>) -> LatentReply {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left).expect("the latent worker answers") {
            Event::Latent(reply) => return reply,
            _ => continue,
        }
    }
}

fn point(along: f32) -> LatentPoint {
    LatentPoint { size: VaeSize::TwoBar, along, pad: None, attributes: Vec::new(), temperature: 0.0, seed: 1 }
}

#[test]
fn clips_encode_points_decode_and_a_burst_of_moves_decodes_only_the_newest() {
    let state = tempfile::tempdir().unwrap();
    let engine = Engine::spawn(EngineConfig::silent(state.path().to_path_buf())).unwrap();
    let song = read_song(std::path::Path::new(CHORALE)).unwrap();
    let bar = 4 * u64::from(song.ppq);
    // Soprano, bars 1–2 and bars 5–6.
    for (slot, from) in [(Slot::A, 0), (Slot::B, 4 * bar)] {
        let notes = clip_notes(&song, 0, from, from + 2 * bar);
        assert!(!notes.is_empty());
        engine.send(Command::Latent(LatentRequest::Encode { size: VaeSize::TwoBar, slot, notes }));
        match next_reply(engine.events()) {
            LatentReply::Encoded { code, reconstruction, .. } => {
                assert_eq!(code.len(), 128);
                assert!(!reconstruction.is_empty());
            }
            other => panic!("expected a code, got {other:?}"),
        }
    }
    // 40 moves sent at once, as a fast drag would.
    for i in 1..=40u64 {
        engine.send(Command::Latent(LatentRequest::Decode { request: i, point: point(i as f32 / 40.0) }));
    }
    let mut answered = Vec::new();
    while answered.last() != Some(&40) {
        match next_reply(engine.events()) {
            LatentReply::Decoded { request, notes, milliseconds, .. } => {
                assert!(!notes.is_empty());
                assert!(milliseconds > 0.0);
                answered.push(request);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    println!("decoded {} of 40 moves: {answered:?}", answered.len());
    assert!(answered.len() < 40, "stale points were decoded: {answered:?}");
    assert!(answered.windows(2).all(|w| w[0] < w[1]), "answers out of order: {answered:?}");

    // Empty input, and a point before any clip of the 16-bar model, say what is wrong.
    engine.send(Command::Latent(LatentRequest::Encode { size: VaeSize::TwoBar, slot: Slot::C, notes: Vec::new() }));
    match next_reply(engine.events()) {
        LatentReply::Failed(message) => assert!(message.contains("no notes"), "{message}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    engine.send(Command::Latent(LatentRequest::Decode {
        request: 41,
        point: LatentPoint { size: VaeSize::SixteenBar, ..point(0.5) },
    }));
    match next_reply(engine.events()) {
        LatentReply::Failed(message) => assert!(message.contains("clip A"), "{message}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}
