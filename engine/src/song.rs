//! The song model: what Cadenza edits, plays, renders and saves.
//!
//! Times are in ticks (pulses per quarter note, `ppq`). Notes of a track are kept sorted so
//! edits can find them by value with a binary search and the renderer can stream them.

use serde::{Deserialize, Serialize};

/// Default MIDI tempo: 120 BPM.
pub const DEFAULT_MICROS_PER_QUARTER: u32 = 500_000;
/// The PPQ Cadenza uses for new songs (divisible by 3 for triplets and by 2^5 for 1/128ths).
pub const DEFAULT_PPQ: u16 = 480;
/// MIDI channel 10 (0-based 9) is the General MIDI drum channel.
pub const DRUM_CHANNEL: u8 = 9;

/// A pitch-bend point, relative to the start of its note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BendPoint {
    /// Ticks after the note's start.
    pub offset: u64,
    /// 14-bit bend value centred on zero: -8192 ..= 8191.
    pub value: i16,
}

/// One note. Field order is the sort order inside a track.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Note {
    pub start: u64,
    pub pitch: u8,
    pub length: u64,
    pub velocity: u8,
    /// Optional pitch-bend curve; empty for most notes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bend: Vec<BendPoint>,
}

impl Note {
    pub fn new(start: u64, length: u64, pitch: u8, velocity: u8) -> Self {
        Self { start, pitch, length, velocity, bend: Vec::new() }
    }

    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.length)
    }
}

/// A track: one instrument on one MIDI channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    pub name: String,
    /// General MIDI program, 0-based (0 = Acoustic Grand Piano).
    pub program: u8,
    /// 0-based MIDI channel.
    pub channel: u8,
    pub is_drum: bool,
    pub muted: bool,
    pub solo: bool,
    /// MIDI volume (CC 7), 0..=127.
    pub volume: u8,
    /// MIDI pan (CC 10), 0..=127, 64 is centre.
    pub pan: u8,
    /// Colour in the editor (RGB); `None` takes the palette colour of the track's position.
    #[serde(default)]
    pub colour: Option<[u8; 3]>,
    /// Sorted by `Note`'s ordering.
    pub notes: Vec<Note>,
}

impl Track {
    pub fn new(name: impl Into<String>, program: u8, channel: u8) -> Self {
        Self {
            name: name.into(),
            program,
            channel,
            is_drum: channel == DRUM_CHANNEL,
            muted: false,
            solo: false,
            volume: 100,
            pan: 64,
            colour: None,
            notes: Vec::new(),
        }
    }

    /// Inserts a note keeping the track sorted.
    pub fn insert_note(&mut self, note: Note) {
        let at = self.notes.partition_point(|n| n <= &note);
        self.notes.insert(at, note);
    }

    /// Removes one note equal to `note`; returns whether one was found.
    pub fn remove_note(&mut self, note: &Note) -> bool {
        match self.notes.binary_search(note) {
            Ok(at) => {
                self.notes.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    pub fn contains_note(&self, note: &Note) -> bool {
        self.notes.binary_search(note).is_ok()
    }

    pub fn sort_notes(&mut self) {
        self.notes.sort();
    }

    /// Tick just after the last note ends.
    pub fn end_tick(&self) -> u64 {
        self.notes.iter().map(Note::end).max().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TempoChange {
    pub tick: u64,
    pub micros_per_quarter: u32,
}

impl TempoChange {
    pub fn bpm(&self) -> f64 {
        60_000_000.0 / f64::from(self.micros_per_quarter.max(1))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSignatureChange {
    pub tick: u64,
    pub numerator: u8,
    /// The note value of one beat: 1, 2, 4, 8, 16, 32 …
    pub denominator: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySignatureChange {
    pub tick: u64,
    /// Number of sharps (positive) or flats (negative), -7..=7.
    pub sharps: i8,
    pub minor: bool,
}

impl KeySignatureChange {
    /// A readable name such as "Eb major" or "F# minor" (ASCII, so every font can show it).
    pub fn name(&self) -> String {
        const MAJOR: [&str; 15] = ["Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#"];
        const MINOR: [&str; 15] = ["Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#", "G#", "D#", "A#"];
        let index = usize::try_from(i16::from(self.sharps.clamp(-7, 7)) + 7).unwrap_or(7);
        if self.minor { format!("{} minor", MINOR[index]) } else { format!("{} major", MAJOR[index]) }
    }
}

/// A song: timing maps plus tracks.
///
/// Invariants kept by the importer and by edits: `tempos` and `time_signatures` are sorted by
/// tick, have unique ticks and start at tick 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Song {
    pub ppq: u16,
    pub tempos: Vec<TempoChange>,
    pub time_signatures: Vec<TimeSignatureChange>,
    pub key_signatures: Vec<KeySignatureChange>,
    pub tracks: Vec<Track>,
}

impl Default for Song {
    fn default() -> Self {
        Self::new(DEFAULT_PPQ)
    }
}

impl Song {
    pub fn new(ppq: u16) -> Self {
        Self {
            ppq: ppq.max(1),
            tempos: vec![TempoChange { tick: 0, micros_per_quarter: DEFAULT_MICROS_PER_QUARTER }],
            time_signatures: vec![TimeSignatureChange { tick: 0, numerator: 4, denominator: 4 }],
            key_signatures: Vec::new(),
            tracks: Vec::new(),
        }
    }

    pub fn note_count(&self) -> usize {
        self.tracks.iter().map(|t| t.notes.len()).sum()
    }

    /// Tick just after the last note of any track ends.
    pub fn end_tick(&self) -> u64 {
        self.tracks.iter().map(Track::end_tick).max().unwrap_or(0)
    }

    /// Length of the song in seconds, through the tempo map.
    pub fn duration_seconds(&self) -> f64 {
        self.tick_to_seconds(self.end_tick())
    }

    /// The key signature in force at tick 0, if any.
    pub fn key_signature(&self) -> Option<KeySignatureChange> {
        self.key_signatures.first().copied()
    }

    /// Tracks that sound: not muted, and soloed when any track is soloed.
    pub fn audible_tracks(&self) -> impl Iterator<Item = (usize, &Track)> {
        let any_solo = self.tracks.iter().any(|t| t.solo);
        self.tracks.iter().enumerate().filter(move |(_, t)| !t.muted && (!any_solo || t.solo))
    }

    /// Restores the map invariants (sorted, unique ticks, an entry at tick 0).
    pub fn normalize_maps(&mut self) {
        normalize_map(
            &mut self.tempos,
            |t| t.tick,
            TempoChange { tick: 0, micros_per_quarter: DEFAULT_MICROS_PER_QUARTER },
        );
        normalize_map(
            &mut self.time_signatures,
            |t| t.tick,
            TimeSignatureChange { tick: 0, numerator: 4, denominator: 4 },
        );
        self.key_signatures.sort_by_key(|k| k.tick);
        dedup_keep_last(&mut self.key_signatures, |k| k.tick);
    }
}

/// Sorts by tick, keeps the last entry of each tick (as a file read in order would) and makes
/// sure the map starts at tick 0 (the default applies until the first change).
fn normalize_map<T: Copy>(map: &mut Vec<T>, tick: impl Fn(&T) -> u64, default_at_zero: T) {
    map.sort_by_key(|e| tick(e));
    dedup_keep_last(map, &tick);
    if map.first().is_none_or(|e| tick(e) != 0) {
        map.insert(0, default_at_zero);
    }
}

fn dedup_keep_last<T>(map: &mut Vec<T>, tick: impl Fn(&T) -> u64) {
    let mut i = 0;
    while i + 1 < map.len() {
        if tick(&map[i]) == tick(&map[i + 1]) {
            map.remove(i);
        } else {
            i += 1;
        }
    }
}
