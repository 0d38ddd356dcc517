//! Notes as compound tokens, one per note (Octuple, as Adversarial-MidiBERT uses): bar, position
//! in the bar, pitch, duration, velocity, instrument, time signature and tempo, each a field of
//! its own small vocabulary. The grid is the continuation codec's (1/12 quarter, its duration
//! table, its velocity buckets, its instrument families), so both models read a corpus work the
//! same way.
//!
//! Every field's vocabulary ends with two specials: `Mask` (hidden for the encoder to restore)
//! and `Pad` (no note).

use crate::continuation::codec::GridNote;
use crate::continuation::vocab::{DURATIONS, Instrument, TICKS_PER_QUARTER, VELOCITY_BUCKETS, duration_index, velocity_bucket};

/// The fields of a compound token, in order.
pub const FIELDS: usize = 8;
pub const FIELD_NAMES: [&str; FIELDS] =
    ["bar", "position", "pitch", "duration", "velocity", "instrument", "time signature", "tempo"];
/// Bars from the window's first (a window of 512 notes spans fewer in all but the sparsest music).
pub const MAX_BARS: u32 = 64;
/// Positions in a bar: 1/12 quarter up to an 8/4 bar.
pub const MAX_POSITION: u32 = 8 * TICKS_PER_QUARTER;
/// Bar lengths in 16ths (1/16 … 32/16).
pub const TIME_SIGNATURES: u32 = 32;
/// Tempo buckets. The corpus's files carry no tempo the reader keeps, so its works all sit in
/// the 120 bpm bucket; the field is there for performed MIDI.
pub const TEMPO_BUCKETS: u32 = 8;

/// The number of real values of each field (the specials follow them).
pub const FIELD_VALUES: [u32; FIELDS] = [
    MAX_BARS,
    MAX_POSITION,
    128,
    DURATIONS.len() as u32,
    VELOCITY_BUCKETS as u32,
    Instrument::ALL.len() as u32,
    TIME_SIGNATURES,
    TEMPO_BUCKETS,
];

/// One note, each field an id into its vocabulary.
pub type Octuple = [u32; FIELDS];

/// The `Mask` id of field `f`.
pub const fn mask_id(f: usize) -> u32 {
    FIELD_VALUES[f]
}

/// The `Pad` id of field `f`.
pub const fn pad_id(f: usize) -> u32 {
    FIELD_VALUES[f] + 1
}

/// The size of field `f`'s vocabulary, specials included.
pub const fn vocabulary(f: usize) -> usize {
    FIELD_VALUES[f] as usize + 2
}

pub const MASKED: Octuple = {
    let mut t = [0; FIELDS];
    let mut f = 0;
    while f < FIELDS {
        t[f] = mask_id(f);
        f += 1;
    }
    t
};

pub const PADDING: Octuple = {
    let mut t = [0; FIELDS];
    let mut f = 0;
    while f < FIELDS {
        t[f] = pad_id(f);
        f += 1;
    }
    t
};

/// The tempo bucket of a tempo in beats per minute: 8 steps from below 60 to above 180.
pub fn tempo_bucket(bpm: f64) -> u32 {
    (((bpm - 45.0) / 20.0).floor().max(0.0) as u32).min(TEMPO_BUCKETS - 1)
}

/// `notes` (on the grid, times from a bar line) as compound tokens in time order, chords from
/// the lowest note up. Bars past [`MAX_BARS`] stay in the last bar id (a window is cut before
/// that). The returned order is the order of `sorted_notes`, which callers use to map
/// predictions back to notes.
pub fn encode(notes: &[GridNote], bar_ticks: u32, bpm: f64) -> (Vec<Octuple>, Vec<usize>) {
    let bar_ticks = bar_ticks.max(1);
    let mut order: Vec<usize> = (0..notes.len()).collect();
    order.sort_by_key(|&i| (notes[i].start, notes[i].pitch, notes[i].instrument));
    let signature = (bar_ticks / 3).clamp(1, TIME_SIGNATURES) - 1;
    let tempo = tempo_bucket(bpm);
    let tokens = order
        .iter()
        .map(|&i| {
            let n = &notes[i];
            [
                (n.start / bar_ticks).min(MAX_BARS - 1),
                (n.start % bar_ticks).min(MAX_POSITION - 1),
                u32::from(n.pitch.min(127)),
                u32::from(duration_index(n.duration)),
                u32::from(velocity_bucket(n.velocity)),
                n.instrument.index() as u32,
                signature,
                tempo,
            ]
        })
        .collect();
    (tokens, order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(start: u32, pitch: u8) -> GridNote {
        GridNote { start, duration: 12, pitch, velocity: 80, instrument: Instrument::Piano }
    }

    #[test]
    fn notes_become_one_token_each_in_time_order_with_bar_and_position() {
        let notes = [note(60, 64), note(0, 67), note(0, 60)];
        let (tokens, order) = encode(&notes, 48, 120.0);
        assert_eq!(order, vec![2, 1, 0]);
        assert_eq!(tokens[0][0..3], [0, 0, 60]);
        assert_eq!(tokens[1][2], 67);
        // Tick 60 of a 48-tick bar: bar 1, position 12.
        assert_eq!(tokens[2][0..3], [1, 12, 64]);
        assert_eq!(tokens[2][6], 15, "a 4/4 bar is 16 sixteenths");
        for t in &tokens {
            for f in 0..FIELDS {
                assert!(t[f] < FIELD_VALUES[f], "field {} out of range: {}", FIELD_NAMES[f], t[f]);
            }
        }
    }

    #[test]
    fn the_specials_follow_each_fields_values() {
        for f in 0..FIELDS {
            assert_eq!(MASKED[f], FIELD_VALUES[f]);
            assert_eq!(PADDING[f], FIELD_VALUES[f] + 1);
            assert_eq!(vocabulary(f), FIELD_VALUES[f] as usize + 2);
        }
        assert_eq!(tempo_bucket(120.0), 3);
        assert_eq!(tempo_bucket(20.0), 0);
        assert_eq!(tempo_bucket(400.0), TEMPO_BUCKETS - 1);
    }
}
