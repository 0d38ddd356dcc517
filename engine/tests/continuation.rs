//! The continuation job with the shipped model, through the engine thread: a real chorale's
//! last bars continue in streamed notes that match the finished tracks, seeds reproduce,
//! requested instruments are the ones that play, cancelling stops it, and an empty prompt
//! starts from the style alone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;
use std::time::{Duration, Instant};

use cadenza_engine::midi::read_song;
use cadenza_engine::ml::continuation::{
    ContinuationRequest, GenerationOptions, Instrument, StreamedNote, Variation, bar_length, continuation_job,
    parse_instruments, parse_style, prompt_of,
};
use cadenza_engine::song::Song;
use cadenza_engine::{Engine, EngineConfig, EngineHandle, Event, JobId, JobOutput};

const CHORALE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/bach_bwv7.7.mid");

/// Streamed notes and the job's end (the variations, or None if cancelled).
fn run(engine: &EngineHandle, id: JobId) -> (Vec<StreamedNote>, Option<Vec<Variation>>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut streamed = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match engine.events().recv_timeout(left).expect("the job ends") {
            Event::ContinuationNote(note) if note.id == id => streamed.push(note),
            Event::JobFinished { id: job, output: JobOutput::Continued { variations, .. } } if job == id => {
                return (streamed, Some(variations));
            }
            Event::JobCancelled { id: job } if job == id => return (streamed, None),
            Event::JobFailed { id: job, message } if job == id => panic!("continuation failed: {message}"),
            _ => {}
        }
    }
}

fn request(song: &Song, bars_in: u64, instruments: Vec<Instrument>, seed: u64) -> ContinuationRequest {
    let bar = bar_length(song, 0);
    ContinuationRequest {
        from: 0,
        to: bars_in * bar,
        tracks: (0..song.tracks.len()).collect(),
        style: parse_style("bach").unwrap(),
        instruments,
        variations: 2,
        options: GenerationOptions { bars: 2, seed, ..GenerationOptions::default() },
    }
}

#[test]
fn a_chorale_continues_in_streamed_notes_reproducibly_on_the_requested_instruments() {
    let state = tempfile::tempdir().unwrap();
    let engine = Engine::spawn(EngineConfig::silent(state.path().to_path_buf())).unwrap();
    let song = Arc::new(read_song(std::path::Path::new(CHORALE)).unwrap());
    let bar = bar_length(&song, 0);
    let prompt = prompt_of(&song, &request(&song, 2, Vec::new(), 0));
    assert_eq!(prompt.bars, 2);
    assert!(prompt.notes.len() > 20, "two bars of four voices: {} notes", prompt.notes.len());

    let strings = parse_instruments("violin, viola, cello").unwrap();
    let id = engine.submit(continuation_job(Arc::clone(&song), request(&song, 2, strings.clone(), 7)));
    let (streamed, variations) = run(&engine, id);
    let variations = variations.expect("finished");
    assert_eq!(variations.len(), 2);
    // Every streamed note is in its variation's tracks, and nothing else is.
    for (v, tracks) in variations.iter().enumerate() {
        let mut finished: Vec<_> = tracks.iter().flat_map(|t| t.notes.iter().cloned()).collect();
        let mut heard: Vec<_> = streamed.iter().filter(|n| n.variation == v).map(|n| n.note.clone()).collect();
        finished.sort();
        heard.sort();
        assert!(!finished.is_empty(), "variation {v} is empty");
        assert_eq!(heard, finished, "variation {v}: streamed and finished notes differ");
        // Placed after the prompt, within the two bars asked for.
        assert!(finished.iter().all(|n| n.start >= 2 * bar && n.end() <= 4 * bar), "variation {v} spills out");
        for track in tracks {
            assert!(
                strings.iter().any(|i| i.program() == track.program),
                "{} is not a requested instrument",
                track.name
            );
        }
    }
    assert_ne!(variations[0], variations[1], "two seeds gave the same continuation");

    // The same seed gives the same notes.
    let again = engine.submit(continuation_job(Arc::clone(&song), request(&song, 2, strings, 7)));
    let (_, repeated) = run(&engine, again);
    assert_eq!(repeated.unwrap()[0], variations[0]);

    // An empty prompt starts from the style and instruments alone, at the start of the song.
    let empty = Arc::new(Song::new(480));
    let request = ContinuationRequest { to: 0, tracks: Vec::new(), ..request(&empty, 0, vec![Instrument::Flute], 3) };
    let id = engine.submit(continuation_job(empty, request));
    let (_, variations) = run(&engine, id);
    let first = &variations.unwrap()[0];
    assert!(first.iter().all(|t| t.program == Instrument::Flute.program()) && !first.is_empty());
}

#[test]
fn cancelling_stops_a_long_continuation() {
    let state = tempfile::tempdir().unwrap();
    let engine = Engine::spawn(EngineConfig::silent(state.path().to_path_buf())).unwrap();
    let song = Arc::new(read_song(std::path::Path::new(CHORALE)).unwrap());
    let mut long = request(&song, 2, Vec::new(), 1);
    long.options.bars = 64;
    long.variations = 8;
    let id = engine.submit(continuation_job(song, long));
    // Cancel once the first note is out.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match engine.events().recv_timeout(deadline.saturating_duration_since(Instant::now())).unwrap() {
            Event::ContinuationNote(note) if note.id == id => break,
            _ => {}
        }
    }
    engine.cancel(id);
    let (_, finished) = run(&engine, id);
    assert!(finished.is_none(), "a cancelled job must not finish");
}

#[test]
fn unknown_names_list_the_valid_ones() {
    let style = parse_style("jazz").unwrap_err();
    assert!(style.contains("traditional") && style.contains("bach"), "{style}");
    let instrument = parse_instruments("piano, kazoo").unwrap_err();
    assert!(instrument.contains("kazoo") && instrument.contains("violin"), "{instrument}");
    assert!(parse_instruments("piano,organ,guitar,bass,violin,viola,cello,contrabass,strings,harp,choir").is_err());
}

/// New tracks get channels no track uses; once all fifteen are taken, a channel that already
/// plays the same instrument, and only then the least shared one.
#[test]
fn new_tracks_take_free_channels_then_share_one_playing_the_same_program() {
    use cadenza_engine::ml::continuation::channels_for;
    use cadenza_engine::song::Track;
    let mut song = Song::new(480);
    song.tracks.push(Track::new("piano", 0, 0));
    song.tracks.push(Track::new("drums", 0, 9));
    let channels = channels_for(&song, &[40, 41]);
    assert_eq!(channels, vec![15, 14], "free channels, from the top");
    // Every melodic channel taken: channel c plays program 10 + c.
    let mut full = Song::new(480);
    for c in (0..16u8).filter(|&c| c != 9) {
        full.tracks.push(Track::new(format!("t{c}"), 10 + c, c));
    }
    full.tracks.push(Track::new("second on 3", 13, 3));
    let channels = channels_for(&full, &[10 + 5, 99, 99]);
    assert_eq!(channels[0], 5, "the channel already playing program 15");
    assert_ne!(channels[1], 3, "not the channel that already has two tracks");
    assert_eq!(channels[2], channels[1], "the second program-99 track joins the first");
}
