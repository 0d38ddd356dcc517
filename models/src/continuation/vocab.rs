//! The continuation model's event vocabulary.
//!
//! Every sequence opens with a style token and the piece's instruments (as MuseNet prepends
//! composer and instrument tokens), then `Start`, then events:
//! `Bar` (go to the next bar line), `Shift(n)` (advance n ticks of 1/12 quarter from the bar line
//! or the previous event), and per note `Instrument` / `Velocity` when they change, `Pitch`,
//! `Duration`. `End` closes a piece.
//!
//! Pitch, velocity and instrument are factored into separate tokens, not combined into one as
//! MuseNet does: its combined vocabulary (pitch × volume × instrument) has thousands of
//! entries, most of which never occur in a corpus of 1.2 M notes of mostly unaccompanied
//! tunes with no dynamics; separate tokens keep the vocabulary at a few hundred, each seen
//! often enough to learn, at the cost of about one extra token per note (instrument and
//! velocity are only written when they change, and again after each bar line so that any
//! window starting at a bar reads on its own). Durations instead of note-offs mean a sampled
//! note can never be left hanging.

/// Ticks per quarter note of the token grid: 16ths (3 ticks) and 8th-note triplets (4).
pub const TICKS_PER_QUARTER: u32 = 12;
/// The longest single shift (one 4/4 bar); longer gaps use several.
pub const MAX_SHIFT: u32 = 48;
pub const LOWEST_PITCH: u8 = 21;
pub const HIGHEST_PITCH: u8 = 108;
pub const VELOCITY_BUCKETS: u8 = 8;

/// Styles to condition on: each one a body of music the corpus holds enough of to learn from
/// and to test on held-out works. A composer with a handful of works (Haydn has seven, none in
/// the test split) is grouped with his period, since a token trained on so little is a
/// placebo. "any" asks for no style: the odd works of other composers carry it, and so does a
/// tenth of every style's training sequences, which is what style guidance steers away from.
pub const STYLES: [&str; 6] = ["traditional", "bach", "classical", "monteverdi", "trecento", "any"];

/// What each style is, in the corpus's terms (for lists and tooltips).
pub const STYLE_DESCRIPTIONS: [&str; 6] = [
    "folk tunes: the Essen, O'Neill, Ryan and Aird collections, and the other tune books",
    "J. S. Bach's four-part chorales",
    "string quartets and piano music of Haydn, Mozart, Beethoven, Schubert, Weber and the Schumanns",
    "Monteverdi's madrigals",
    "fourteenth-century Italian songs: ballate, madrigals and cacce",
    "no particular style",
];

/// The style asked for when no style is: the contrast of style guidance.
pub const ANY_STYLE: u8 = STYLES.len() as u8 - 1;

/// Composers the corpus has too little of for a style of their own, and the style they are
/// part of (accepted as style names too, so `--style mozart` does what it says).
const GROUPED_COMPOSERS: [(&str, &str); 8] = [
    ("haydn", "classical"),
    ("mozart", "classical"),
    ("beethoven", "classical"),
    ("schubert", "classical"),
    ("weber", "classical"),
    ("schumann", "classical"),
    ("schumann_robert", "classical"),
    ("schumann_clara", "classical"),
];

/// Instrument families (GM programs grouped), each played back with one GM program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Instrument {
    Piano,
    Organ,
    Guitar,
    Bass,
    Violin,
    Viola,
    Cello,
    Contrabass,
    Strings,
    Harp,
    Choir,
    Trumpet,
    Trombone,
    Horn,
    Saxophone,
    Oboe,
    Bassoon,
    Clarinet,
    Flute,
}

impl Instrument {
    pub const ALL: [Instrument; 19] = [
        Self::Piano,
        Self::Organ,
        Self::Guitar,
        Self::Bass,
        Self::Violin,
        Self::Viola,
        Self::Cello,
        Self::Contrabass,
        Self::Strings,
        Self::Harp,
        Self::Choir,
        Self::Trumpet,
        Self::Trombone,
        Self::Horn,
        Self::Saxophone,
        Self::Oboe,
        Self::Bassoon,
        Self::Clarinet,
        Self::Flute,
    ];

    pub fn index(self) -> usize {
        Self::ALL.iter().position(|&i| i == self).unwrap_or(0)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Piano => "piano",
            Self::Organ => "organ",
            Self::Guitar => "guitar",
            Self::Bass => "bass",
            Self::Violin => "violin",
            Self::Viola => "viola",
            Self::Cello => "cello",
            Self::Contrabass => "contrabass",
            Self::Strings => "strings",
            Self::Harp => "harp",
            Self::Choir => "choir",
            Self::Trumpet => "trumpet",
            Self::Trombone => "trombone",
            Self::Horn => "horn",
            Self::Saxophone => "saxophone",
            Self::Oboe => "oboe",
            Self::Bassoon => "bassoon",
            Self::Clarinet => "clarinet",
            Self::Flute => "flute",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|i| i.name() == name)
    }

    /// The GM program notes of this family are played with.
    pub fn program(self) -> u8 {
        match self {
            Self::Piano => 0,
            Self::Organ => 19,
            Self::Guitar => 24,
            Self::Bass => 32,
            Self::Violin => 40,
            Self::Viola => 41,
            Self::Cello => 42,
            Self::Contrabass => 43,
            Self::Strings => 48,
            Self::Harp => 46,
            Self::Choir => 52,
            Self::Trumpet => 56,
            Self::Trombone => 57,
            Self::Horn => 60,
            Self::Saxophone => 65,
            Self::Oboe => 68,
            Self::Bassoon => 70,
            Self::Clarinet => 71,
            Self::Flute => 73,
        }
    }

    /// The family of a GM program (0-based). Sounds with no family here play as piano.
    pub fn of_program(program: u8) -> Self {
        match program {
            16..=23 => Self::Organ,
            24..=31 => Self::Guitar,
            32..=39 => Self::Bass,
            40 => Self::Violin,
            41 => Self::Viola,
            42 => Self::Cello,
            43 => Self::Contrabass,
            44 | 45 | 48..=51 => Self::Strings,
            46 => Self::Harp,
            52..=55 => Self::Choir,
            56 | 59 | 61..=63 => Self::Trumpet,
            57 | 58 => Self::Trombone,
            60 => Self::Horn,
            64..=67 => Self::Saxophone,
            68 | 69 => Self::Oboe,
            70 => Self::Bassoon,
            71 => Self::Clarinet,
            72..=79 => Self::Flute,
            _ => Self::Piano,
        }
    }
}

/// One token of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Token {
    Pad,
    End,
    Start,
    Bar,
    Style(u8),
    Instrument(Instrument),
    Velocity(u8),
    /// 1..=MAX_SHIFT ticks.
    Shift(u32),
    Pitch(u8),
    /// An index into [`DURATIONS`].
    Duration(u8),
}

/// Durations a note can have, in ticks: every tick up to a 4/4 bar, then steps of an eighth
/// (6 ticks) up to four quarters more (192 ticks, two 4/4 bars).
pub const DURATIONS: [u32; 72] = {
    let mut table = [0u32; 72];
    let mut i = 0;
    while i < 48 {
        table[i] = i as u32 + 1;
        i += 1;
    }
    while i < 72 {
        table[i] = 48 + 6 * (i as u32 - 47);
        i += 1;
    }
    table
};

const SPECIALS: usize = 4;
const STYLE_BASE: usize = SPECIALS;
const INSTRUMENT_BASE: usize = STYLE_BASE + STYLES.len();
const VELOCITY_BASE: usize = INSTRUMENT_BASE + Instrument::ALL.len();
const SHIFT_BASE: usize = VELOCITY_BASE + VELOCITY_BUCKETS as usize;
const PITCH_BASE: usize = SHIFT_BASE + MAX_SHIFT as usize;
const DURATION_BASE: usize = PITCH_BASE + (HIGHEST_PITCH - LOWEST_PITCH + 1) as usize;
/// The number of token ids.
pub const VOCAB_SIZE: usize = DURATION_BASE + DURATIONS.len();

impl Token {
    pub fn id(self) -> u32 {
        let id = match self {
            Self::Pad => 0,
            Self::End => 1,
            Self::Start => 2,
            Self::Bar => 3,
            Self::Style(s) => STYLE_BASE + usize::from(s),
            Self::Instrument(i) => INSTRUMENT_BASE + i.index(),
            Self::Velocity(v) => VELOCITY_BASE + usize::from(v),
            Self::Shift(n) => SHIFT_BASE + n as usize - 1,
            Self::Pitch(p) => PITCH_BASE + usize::from(p - LOWEST_PITCH),
            Self::Duration(d) => DURATION_BASE + usize::from(d),
        };
        id as u32
    }

    pub fn from_id(id: u32) -> Option<Self> {
        let id = id as usize;
        Some(match id {
            0 => Self::Pad,
            1 => Self::End,
            2 => Self::Start,
            3 => Self::Bar,
            _ if id < INSTRUMENT_BASE => Self::Style((id - STYLE_BASE) as u8),
            _ if id < VELOCITY_BASE => Self::Instrument(Instrument::ALL[id - INSTRUMENT_BASE]),
            _ if id < SHIFT_BASE => Self::Velocity((id - VELOCITY_BASE) as u8),
            _ if id < PITCH_BASE => Self::Shift((id - SHIFT_BASE) as u32 + 1),
            _ if id < DURATION_BASE => Self::Pitch((id - PITCH_BASE) as u8 + LOWEST_PITCH),
            _ if id < VOCAB_SIZE => Self::Duration((id - DURATION_BASE) as u8),
            _ => return None,
        })
    }
}

/// The style of a name: a style's own, or a composer grouped into one ("mozart" is
/// "classical"; "other" is the old name of "any").
pub fn style_index(name: &str) -> Option<u8> {
    let name = name.trim().to_ascii_lowercase();
    let name = if name == "other" { "any" } else { grouped_into(&name).unwrap_or(&name) };
    STYLES.iter().position(|s| *s == name).map(|i| i as u8)
}

/// The style a name is grouped into, when it is a composer's name rather than a style's.
pub fn grouped_into(name: &str) -> Option<&'static str> {
    let name = name.trim().to_ascii_lowercase();
    GROUPED_COMPOSERS.iter().find(|(composer, _)| *composer == name).map(|(_, style)| *style)
}

/// The style token of a corpus work, from the manifest's style (its composer, such as
/// "schumann_clara", or "traditional"): its style, or "any" for composers without one.
pub fn style_of_work(style: &str) -> u8 {
    style_index(style).unwrap_or(ANY_STYLE)
}

/// The velocity bucket (0..8) of a MIDI velocity, and the velocity a bucket plays at.
pub fn velocity_bucket(velocity: u8) -> u8 {
    (velocity.min(127) / 16).min(VELOCITY_BUCKETS - 1)
}

pub fn bucket_velocity(bucket: u8) -> u8 {
    bucket.min(VELOCITY_BUCKETS - 1) * 16 + 8
}

/// The nearest duration token of a length in ticks.
pub fn duration_index(ticks: u32) -> u8 {
    DURATIONS.iter().enumerate().min_by_key(|(_, d)| d.abs_diff(ticks.max(1))).map_or(0, |(i, _)| i as u8)
}
