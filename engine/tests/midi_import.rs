//! Import of hand-built files: every feature the importer claims, and every kind of damage.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use cadenza_engine::midi::{MidiErrorKind, parse_song, read_song};
use common::*;
use proptest::prelude::*;

fn notes_of(song: &cadenza_engine::Song, track: usize) -> Vec<(u64, u64, u8, u8)> {
    song.tracks[track].notes.iter().map(|n| (n.start, n.length, n.pitch, n.velocity)).collect()
}

#[test]
fn type1_tempo_map_names_programs_and_running_status() {
    let conductor = events(&[
        (0, &tempo(500_000)),
        (0, &[0xFF, 0x58, 0x04, 0x03, 0x02, 0x18, 0x08]), // 3/4
        (0, &[0xFF, 0x59, 0x02, 0xFE, 0x01]),             // 2 flats, minor: G minor
        (960, &tempo(1_000_000)),
    ]);
    let melody = events(&[
        (0, &track_name(b"Flute")),
        (0, &[0xC1, 73]),
        (0, &[0xB1, 7, 90]),
        (0, &[0x91, 60, 100]),
        (480, &[62, 80]),      // running status: note-on 62
        (0, &[60, 0]),         // velocity 0 = note-off for 60
        (480, &[0x81, 62, 0]), // explicit note-off
    ]);
    let song = parse_song(&smf(1, 480, &[conductor, melody])).unwrap();
    assert_eq!(song.ppq, 480);
    assert_eq!(song.tempos.len(), 2);
    assert!((song.tick_to_seconds(1440) - 2.0).abs() < 1e-9, "tempo change at 960 not applied");
    assert_eq!((song.time_signatures[0].numerator, song.time_signatures[0].denominator), (3, 4));
    assert_eq!(song.key_signature().unwrap().name(), "G minor");
    assert_eq!(song.tracks.len(), 1, "the conductor track has no notes and is not a track");
    let track = &song.tracks[0];
    assert_eq!((track.name.as_str(), track.program, track.channel, track.volume), ("Flute", 73, 1, 90));
    assert_eq!(notes_of(&song, 0), vec![(0, 480, 60, 100), (480, 480, 62, 80)]);
}

#[test]
fn type0_is_split_by_channel_and_channel_10_is_drums() {
    let track = events(&[
        (0, &track_name(b"Song")),
        (0, &[0xC0, 33]),
        (0, &[0x90, 40, 90]),
        (0, &[0x99, 36, 127]),
        (240, &[0x89, 36, 0]),
        (240, &[0x80, 40, 0]),
    ]);
    let song = parse_song(&smf(0, 480, &[track])).unwrap();
    assert_eq!(song.tracks.len(), 2);
    assert_eq!(song.tracks[0].name, "Song · Electric Bass (finger)");
    assert!(!song.tracks[0].is_drum);
    assert!(song.tracks[1].is_drum);
    assert_eq!(song.tracks[1].channel, 9);
    assert_eq!(notes_of(&song, 1), vec![(0, 240, 36, 127)]);
}

#[test]
fn type2_patterns_play_in_sequence() {
    let a = events(&[(0, &[0x90, 60, 100]), (480, &[0x80, 60, 0])]);
    let b = events(&[(0, &[0x90, 64, 100]), (480, &[0x80, 64, 0])]);
    let song = parse_song(&smf(2, 480, &[a, b])).unwrap();
    assert_eq!(notes_of(&song, 0), vec![(0, 480, 60, 100)]);
    assert_eq!(notes_of(&song, 1), vec![(480, 480, 64, 100)]);
}

#[test]
fn overlapping_same_pitch_notes_close_first_in_first_out() {
    let track = events(&[(0, &[0x90, 60, 100]), (100, &[0x90, 60, 50]), (100, &[0x80, 60, 0]), (100, &[0x80, 60, 0])]);
    let song = parse_song(&smf(1, 480, &[track])).unwrap();
    assert_eq!(notes_of(&song, 0), vec![(0, 200, 60, 100), (100, 200, 60, 50)]);
}

#[test]
fn notes_left_open_end_at_the_end_of_their_track() {
    let track = events(&[(0, &[0x90, 60, 100]), (300, &[0xFF, 0x01, 0x00])]);
    let song = parse_song(&smf(1, 480, &[track])).unwrap();
    assert_eq!(notes_of(&song, 0), vec![(0, 300, 60, 100)]);
}

#[test]
fn pitch_bend_goes_to_the_sounding_note() {
    // Bend before the note starts (channel bent), during it, and the reset after it.
    let track = events(&[
        (0, &[0xE0, 0x00, 0x50]), // +2048
        (10, &[0x90, 60, 100]),
        (20, &[0xE0, 0x00, 0x60]), // +4096
        (30, &[0x80, 60, 0]),
        (0, &[0xE0, 0x00, 0x40]), // centre
        (10, &[0x90, 62, 100]),
        (10, &[0x80, 62, 0]),
    ]);
    let song = parse_song(&smf(1, 480, &[track])).unwrap();
    let bent = &song.tracks[0].notes[0];
    let bends: Vec<(u64, i16)> = bent.bend.iter().map(|p| (p.offset, p.value)).collect();
    assert_eq!(bends, vec![(0, 2048), (20, 4096)]);
    assert!(song.tracks[0].notes[1].bend.is_empty(), "the reset must not bend the next note");
}

#[test]
fn smpte_division_becomes_ppq_with_the_same_times() {
    // 25 fps × 40 ticks per frame = 1000 ticks per second.
    let division = ((-25i8 as u8 as u16) << 8) | 40;
    let track = events(&[(0, &tempo(300_000)), (0, &[0x90, 60, 100]), (1000, &[0x80, 60, 0])]);
    let song = parse_song(&smf(1, division, &[track])).unwrap();
    assert_eq!(song.ppq, 1000);
    let note = &song.tracks[0].notes[0];
    assert!((song.tick_to_seconds(note.end()) - 1.0).abs() < 1e-9, "timecode ticks lost their time");
}

#[test]
fn latin1_track_names_are_decoded() {
    let track = events(&[(0, &track_name(b"Ch\xe9rubin")), (0, &[0x90, 60, 1]), (1, &[0x80, 60, 0])]);
    let song = parse_song(&smf(1, 96, &[track])).unwrap();
    assert_eq!(song.tracks[0].name, "Chérubin");
}

#[test]
fn unknown_chunks_and_trailing_padding_are_skipped() {
    let mut file = header(1, 1, 96);
    file.extend(b"XFIH\x00\x00\x00\x03abc");
    file.extend(chunk(&events(&[(0, &[0x90, 60, 1]), (1, &[0x80, 60, 0])])));
    file.extend([0, 0, 0]);
    assert_eq!(parse_song(&file).unwrap().note_count(), 1);
}

fn error_of(bytes: &[u8]) -> (Option<u64>, MidiErrorKind, String) {
    let err = parse_song(bytes).unwrap_err();
    let text = err.to_string();
    (err.offset, err.kind, text)
}

#[test]
fn not_midi_and_empty_files() {
    assert!(matches!(error_of(b"").1, MidiErrorKind::NotMidi));
    assert!(matches!(error_of(b"RIFF....WAVEfmt ").1, MidiErrorKind::NotMidi));
    let (offset, kind, text) = error_of(b"MThd");
    assert!(matches!(kind, MidiErrorKind::Truncated { .. }), "{text}");
    assert_eq!(offset, Some(4));
}

#[test]
fn zero_ppq_and_bad_header() {
    let (offset, kind, text) = error_of(&smf(1, 0, &[]));
    assert!(matches!(kind, MidiErrorKind::ZeroPpq));
    assert_eq!(offset, Some(12));
    assert_eq!(text, "at byte 12: the header gives zero ticks per quarter note (PPQ 0)");
    assert!(matches!(error_of(&header(7, 0, 96)).1, MidiErrorKind::UnsupportedFormat(7)));
    let mut short = b"MThd\x00\x00\x00\x02\x00\x01".to_vec();
    short.extend([0; 8]);
    assert!(matches!(error_of(&short).1, MidiErrorKind::HeaderTooShort { length: 2 }));
    let bad_timecode = ((-26i8 as u8 as u16) << 8) | 40;
    assert!(matches!(error_of(&smf(1, bad_timecode, &[])).1, MidiErrorKind::BadTimecode { .. }));
}

#[test]
fn truncated_file_names_the_chunk_and_offset() {
    let full = smf(1, 96, &[events(&[(0, &[0x90, 60, 100]), (96, &[0x80, 60, 0])])]);
    let cut = &full[..full.len() - 5];
    let (offset, kind, text) = error_of(cut);
    assert_eq!(offset, Some(18), "{text}");
    assert!(matches!(kind, MidiErrorKind::Truncated { what: "a track chunk", .. }), "{text}");
    assert!(text.contains("needs") || text.contains("needed"), "{text}");
}

#[test]
fn wrong_chunk_length_is_caught() {
    let mut file = smf(1, 96, &[events(&[(0, &[0x90, 60, 100]), (96, &[0x80, 60, 0])])]);
    file[21] = 0x40; // the MTrk length now claims 64 more bytes than exist
    assert!(matches!(error_of(&file).1, MidiErrorKind::Truncated { .. }));
    // A length that is too short cuts an event in half: the rest reads as a garbage chunk.
    let mut file = smf(1, 96, &[events(&[(0, &[0x90, 60, 100]), (96, &[0x80, 60, 0])])]);
    file[21] -= 2;
    let (_, kind, text) = error_of(&file);
    assert!(matches!(kind, MidiErrorKind::MalformedEvent { .. } | MidiErrorKind::Truncated { .. }), "{text}");
}

#[test]
fn garbage_inside_a_track_is_a_malformed_event_with_its_offset() {
    // A data byte with no running status to apply to.
    let track = vec![0x00, 0x90, 60, 100, 0x10, 0x45, 0x20, 0x00, 0xFF, 0x2F, 0x00];
    let mut bad = track.clone();
    bad[4] = 0x00;
    bad[5] = 0xF4; // undefined system common status byte
    let (offset, kind, text) = error_of(&smf(1, 96, &[bad]));
    assert!(matches!(kind, MidiErrorKind::MalformedEvent { track: 0 }), "{text}");
    assert_eq!(offset, Some(14 + 8 + 4), "{text}");
}

#[test]
fn absurd_track_count_is_an_error_not_an_allocation() {
    let mut file = smf(1, 96, &[events(&[])]);
    file[10] = 0xFF;
    file[11] = 0xFF;
    let (_, kind, text) = error_of(&file);
    assert!(matches!(kind, MidiErrorKind::MissingTracks { declared: 65535, found: 1 }), "{text}");
}

#[test]
fn absurd_delta_times_are_an_error() {
    // 200 deltas of 2^28-1 ticks at PPQ 96, 120 BPM ≈ 97 000 hours.
    let list: Vec<(u32, &[u8])> = (0..200).map(|_| (0x0FFF_FFFF, &[0xFF, 0x01, 0x00][..])).collect();
    let (offset, kind, text) = error_of(&smf(1, 96, &[events(&list)]));
    assert!(matches!(kind, MidiErrorKind::AbsurdTime { track: 0, .. }), "{text}");
    assert!(offset.is_some());
}

#[test]
fn read_song_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.mid");
    std::fs::write(&path, b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x00").unwrap();
    let text = read_song(&path).unwrap_err().to_string();
    assert!(text.starts_with(&path.display().to_string()), "{text}");
    assert!(text.contains("at byte 12"), "{text}");
    let missing = read_song(&dir.path().join("nope.mid")).unwrap_err().to_string();
    assert!(missing.contains("nope.mid") && missing.contains("could not read"), "{missing}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_song(&bytes);
    }

    #[test]
    fn damaged_real_files_never_panic(flips in proptest::collection::vec((0usize..4000, any::<u8>()), 1..8), cut in 0usize..4000) {
        let mut bytes = std::fs::read(std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../assets/demo/bach_bwv7.7.mid")).unwrap();
        for (at, value) in flips {
            let len = bytes.len();
            bytes[at % len] = value;
        }
        bytes.truncate(bytes.len() - cut % bytes.len());
        let _ = parse_song(&bytes);
    }
}
