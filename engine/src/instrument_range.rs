//! Where each General MIDI instrument can play: the sounding range (MIDI keys) a player of that
//! instrument covers, from the usual orchestration tables (a professional's range, not the
//! extreme notes a soloist may reach). The continuation model keeps its notes inside it and the
//! roll shades the keys outside it for the selected track.

use std::ops::RangeInclusive;

/// The sounding range of a GM program (0-based); `None` on the drum channel, where a key names
/// a drum, not a pitch.
pub fn playable_range(program: u8, is_drum: bool) -> Option<RangeInclusive<u8>> {
    if is_drum {
        return None;
    }
    let (low, high) = program_range(program & 0x7F);
    Some(low..=high)
}

/// Whether `pitch` is inside `program`'s range (always on drums).
pub fn is_playable(program: u8, is_drum: bool, pitch: u8) -> bool {
    playable_range(program, is_drum).is_none_or(|range| range.contains(&pitch))
}

/// The program's own range where it differs from its family's, else the family's.
fn program_range(program: u8) -> (u8, u8) {
    match program {
        // Piano family: harpsichord and clavinet have five-octave keyboards (F1–F6).
        6 | 7 => (29, 89),
        // Chromatic percussion.
        8 => (60, 108),  // celesta C4–C8
        9 => (79, 108),  // glockenspiel G5–C8
        11 => (53, 89),  // vibraphone F3–F6
        12 => (45, 96),  // marimba A2–C7
        13 => (65, 108), // xylophone F4–C8
        14 => (60, 77),  // tubular bells C4–F5
        // Organ: church organ with its pedals from C1; harmonica C4–C7.
        19 => (24, 96),
        22 => (60, 96),
        // Strings, each its own range.
        40 => (55, 103), // violin G3–G7
        41 => (48, 91),  // viola C3–G6
        42 => (36, 81),  // cello C2–A5
        43 => (28, 67),  // contrabass E1–G4 (sounding)
        44 | 45 => (28, 103),
        46 => (24, 103), // harp C1–G7
        47 => (38, 57),  // timpani D2–A3
        // Ensemble: choirs from a bass's E2 to a soprano's A5.
        52..=54 => (40, 81),
        // Brass.
        56 | 59 => (54, 82), // trumpet F#3–A#5
        57 => (40, 77),      // trombone E2–F5
        58 => (26, 58),      // tuba D1–A#3
        60 => (34, 77),      // horn A#1–F5
        61 => (34, 82),      // brass section
        // Reeds.
        64 => (56, 88), // soprano sax G#3–E6
        65 => (49, 81), // alto sax C#3–A5
        66 => (44, 76), // tenor sax G#2–E5
        67 => (36, 69), // baritone sax C2–A4
        68 => (58, 91), // oboe A#3–G6
        69 => (52, 81), // english horn E3–A5
        70 => (34, 75), // bassoon A#1–D#5
        71 => (50, 94), // clarinet D3–A#6
        // Pipes.
        72 => (74, 108), // piccolo D5–C8
        73 => (60, 96),  // flute C4–C7
        74 => (65, 98),  // recorder (alto and soprano) F4–D7
        _ => family_range(program / 8),
    }
}

/// A range for each of GM's sixteen families of eight programs.
fn family_range(family: u8) -> (u8, u8) {
    match family {
        0 => (21, 108),       // piano: the 88 keys
        1 => (48, 108),       // chromatic percussion
        2 => (36, 96),        // organ, accordion
        3 => (40, 88),        // guitar E2–E6
        4 => (28, 67),        // bass E1–G4
        5 => (28, 103),       // strings
        6 => (28, 103),       // ensembles
        7 => (36, 84),        // brass and synth brass
        8 => (36, 94),        // reeds
        9 => (60, 96),        // pipes
        10..=12 => (24, 108), // synth leads, pads and effects
        13 => (40, 88),       // ethnic (sitar, banjo, shamisen, koto, kalimba, bagpipe, fiddle, shanai)
        14 => (36, 84),       // percussive (tinkle bell, steel drums, wood block, taiko, toms)
        _ => (21, 108),       // sound effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_have_their_own_ranges_and_drums_none() {
        assert_eq!(playable_range(40, false), Some(55..=103));
        assert_eq!(playable_range(42, false), Some(36..=81));
        assert!(!is_playable(40, false, 43), "a violin has no G2");
        assert!(is_playable(42, false, 43));
        assert_eq!(playable_range(40, true), None);
        assert!(is_playable(0, true, 0));
    }

    #[test]
    fn every_program_has_a_range_a_player_can_read() {
        for program in 0..128 {
            let range = playable_range(program, false).unwrap_or(0..=0);
            assert!(range.start() < range.end(), "program {program}");
            assert!(*range.end() <= 108 && *range.start() >= 21, "program {program}: {range:?}");
            assert!(range.end() - range.start() >= 12, "program {program} has less than an octave");
        }
    }
}
