//! Song → SMF → Song is the identity on everything a Standard MIDI File can carry.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use cadenza_engine::midi::{parse_song, song_to_bytes};
use cadenza_engine::song::{BendPoint, KeySignatureChange, Note, Song, TempoChange, TimeSignatureChange, Track};
use proptest::collection::vec;
use proptest::prelude::*;

fn unique_ticks(max: usize) -> impl Strategy<Value = Vec<u64>> {
    vec(1u64..40_000, 0..max).prop_map(|mut ticks| {
        ticks.sort_unstable();
        ticks.dedup();
        ticks
    })
}

fn tempos() -> impl Strategy<Value = Vec<TempoChange>> {
    (200_000u32..2_000_000, unique_ticks(5), vec(200_000u32..2_000_000, 5)).prop_map(|(first, ticks, micros)| {
        let mut map = vec![TempoChange { tick: 0, micros_per_quarter: first }];
        map.extend(ticks.iter().zip(micros).map(|(&tick, m)| TempoChange { tick, micros_per_quarter: m }));
        map
    })
}

fn time_signatures() -> impl Strategy<Value = Vec<TimeSignatureChange>> {
    let sig = (1u8..17, 0u32..6).prop_map(|(numerator, pow)| (numerator, 1u8 << pow));
    (sig.clone(), unique_ticks(4), vec(sig, 4)).prop_map(|((n, d), ticks, rest)| {
        let mut map = vec![TimeSignatureChange { tick: 0, numerator: n, denominator: d }];
        map.extend(ticks.iter().zip(rest).map(|(&tick, (numerator, denominator))| TimeSignatureChange {
            tick,
            numerator,
            denominator,
        }));
        map
    })
}

fn key_signatures() -> impl Strategy<Value = Vec<KeySignatureChange>> {
    (proptest::option::of(any::<bool>()), unique_ticks(3), vec((-7i8..=7, any::<bool>()), 4)).prop_map(
        |(at_zero, ticks, keys)| {
            let starts = at_zero.map(|_| 0u64).into_iter().chain(ticks);
            starts.zip(keys).map(|(tick, (sharps, minor))| KeySignatureChange { tick, sharps, minor }).collect()
        },
    )
}

/// Polyphonic notes. Same-pitch notes never overlap: a file cannot say which note-off ends
/// which of two sounding notes of one pitch.
fn polyphonic_notes() -> impl Strategy<Value = Vec<Note>> {
    vec((0u64..30_000, 0u64..2_000, 0u8..128, 1u8..128), 0..60).prop_map(|raw| {
        let mut notes: Vec<Note> = raw.into_iter().map(|(s, l, p, v)| Note::new(s, l, p, v)).collect();
        notes.sort();
        let mut free_from = [0u64; 128];
        notes.retain(|n| {
            let ok = n.start >= free_from[usize::from(n.pitch)];
            if ok {
                free_from[usize::from(n.pitch)] = n.end().max(n.start);
            }
            ok
        });
        notes
    })
}

/// A monophonic line with pitch-bend curves: bends are per channel in MIDI, so a curve only
/// belongs to one note when no other note of the track sounds meanwhile.
fn bent_line() -> impl Strategy<Value = Vec<Note>> {
    vec((0u64..500, 1u64..1_000, 0u8..128, 1u8..128, vec((0u64..1_000, -8192i16..=8191), 0..5)), 0..20).prop_map(
        |raw| {
            let mut tick = 0;
            raw.into_iter()
                .map(|(gap, length, pitch, velocity, points)| {
                    tick += gap;
                    let mut note = Note::new(tick, length, pitch, velocity);
                    let mut points: Vec<BendPoint> = points
                        .into_iter()
                        .filter(|(o, _)| *o < length)
                        .map(|(offset, value)| BendPoint { offset, value })
                        .collect();
                    points.sort_by_key(|p| p.offset);
                    points.dedup_by_key(|p| p.offset);
                    note.bend = points;
                    tick += length;
                    note
                })
                .collect()
        },
    )
}

fn track() -> impl Strategy<Value = Track> {
    ("\\PC{0,12}", 0u8..128, 0u8..16, 0u8..128, 0u8..128, prop_oneof![polyphonic_notes(), bent_line()]).prop_map(
        |(name, program, channel, volume, pan, notes)| {
            let mut track = Track::new(name, program, channel);
            track.volume = volume;
            track.pan = pan;
            track.notes = notes;
            track.sort_notes();
            track
        },
    )
}

fn song() -> impl Strategy<Value = Song> {
    (24u16..=9600, tempos(), time_signatures(), key_signatures(), vec(track(), 0..6)).prop_map(
        |(ppq, tempos, sigs, keys, tracks)| {
            let mut song = Song::new(ppq);
            song.tempos = tempos;
            song.time_signatures = sigs;
            song.key_signatures = keys;
            song.tracks = tracks;
            song
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn song_smf_song_is_identity(song in song()) {
        let bytes = song_to_bytes(&song).unwrap();
        let back = parse_song(&bytes).unwrap();
        prop_assert_eq!(back, song);
    }

    #[test]
    fn export_is_stable(song in song()) {
        let once = song_to_bytes(&song).unwrap();
        let twice = song_to_bytes(&parse_song(&once).unwrap()).unwrap();
        prop_assert_eq!(once, twice);
    }
}
