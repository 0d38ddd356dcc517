//! Notes ↔ tokens for the continuation model (the vocabulary is described in `vocab`).
//!
//! Times are quantised to 1/12 quarter, durations to the `DURATIONS` table, velocities to
//! 8 buckets, pitches folded by octaves into the piano range. Within one instant notes are
//! ordered by instrument, then from the highest pitch down, so a chord reads top to bottom.

use super::vocab::{
    DURATIONS, HIGHEST_PITCH, Instrument, LOWEST_PITCH, MAX_SHIFT, TICKS_PER_QUARTER, Token, bucket_velocity,
    duration_index, velocity_bucket,
};

/// A note on the token grid: times in ticks of 1/12 quarter from the piece's first bar line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridNote {
    pub start: u32,
    pub duration: u32,
    pub pitch: u8,
    pub velocity: u8,
    pub instrument: Instrument,
}

/// What a sequence is conditioned on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub style: u8,
    /// Sorted, without repeats.
    pub instruments: Vec<Instrument>,
}

impl Header {
    pub fn new(style: u8, instruments: impl IntoIterator<Item = Instrument>) -> Self {
        let mut instruments: Vec<Instrument> = instruments.into_iter().collect();
        instruments.sort();
        instruments.dedup();
        Self { style, instruments }
    }

    /// Style, instruments, `Start`.
    pub fn tokens(&self) -> Vec<Token> {
        let mut tokens = vec![Token::Style(self.style)];
        tokens.extend(self.instruments.iter().map(|&i| Token::Instrument(i)));
        tokens.push(Token::Start);
        tokens
    }
}

/// Quantises a time in quarters to ticks of the token grid.
pub fn to_ticks(quarters: f64) -> u32 {
    (quarters.max(0.0) * f64::from(TICKS_PER_QUARTER)).round() as u32
}

/// A pitch moved by octaves into the vocabulary's range.
pub fn fold_pitch(pitch: u8) -> u8 {
    let mut p = pitch;
    while p < LOWEST_PITCH {
        p += 12;
    }
    while p > HIGHEST_PITCH {
        p -= 12;
    }
    p
}

/// The event tokens of `notes` (no header), bar lines every `bar_ticks`. Notes must be on
/// the grid (use [`GridNote`] from [`to_ticks`]); they are sorted here.
pub fn encode_events(notes: &[GridNote], bar_ticks: u32) -> Vec<Token> {
    let bar_ticks = bar_ticks.max(1);
    let mut notes = notes.to_vec();
    notes.sort_by(|a, b| a.start.cmp(&b.start).then(a.instrument.cmp(&b.instrument)).then(b.pitch.cmp(&a.pitch)));
    let mut tokens = Vec::with_capacity(notes.len() * 3);
    let (mut bar_start, mut now) = (0u32, 0u32);
    let (mut instrument, mut velocity): (Option<Instrument>, Option<u8>) = (None, None);
    for note in &notes {
        while note.start >= bar_start + bar_ticks {
            tokens.push(Token::Bar);
            bar_start += bar_ticks;
            now = bar_start;
            // Each bar restates instrument and velocity, so a window from any bar line reads alone.
            (instrument, velocity) = (None, None);
        }
        let mut gap = note.start - now;
        while gap > 0 {
            let step = gap.min(MAX_SHIFT);
            tokens.push(Token::Shift(step));
            gap -= step;
        }
        now = note.start;
        if instrument != Some(note.instrument) {
            tokens.push(Token::Instrument(note.instrument));
            instrument = Some(note.instrument);
        }
        let bucket = velocity_bucket(note.velocity);
        if velocity != Some(bucket) {
            tokens.push(Token::Velocity(bucket));
            velocity = Some(bucket);
        }
        tokens.push(Token::Pitch(fold_pitch(note.pitch)));
        tokens.push(Token::Duration(duration_index(note.duration)));
    }
    tokens
}

/// A whole sequence: header, events, `End`.
pub fn encode(header: &Header, notes: &[GridNote], bar_ticks: u32) -> Vec<Token> {
    let mut tokens = header.tokens();
    tokens.extend(encode_events(notes, bar_ticks));
    tokens.push(Token::End);
    tokens
}

/// Reads tokens back into notes and the position after the last token.
///
/// A decoder that is fed tokens one at a time (generation) keeps one of these; tokens out of
/// place (a duration with no pitch, a header token among events) are skipped, so whatever a
/// model samples decodes to valid notes.
#[derive(Debug, Clone)]
pub struct EventReader {
    bar_ticks: u32,
    bar_start: u32,
    pub now: u32,
    instrument: Instrument,
    velocity: u8,
    pitch: Option<u8>,
    /// Whole bar lines passed.
    pub bars: u32,
}

impl EventReader {
    pub fn new(bar_ticks: u32, default_instrument: Instrument) -> Self {
        Self {
            bar_ticks: bar_ticks.max(1),
            bar_start: 0,
            now: 0,
            instrument: default_instrument,
            velocity: bucket_velocity(5),
            pitch: None,
            bars: 0,
        }
    }

    /// The instrument the next pitch would play.
    pub fn instrument(&self) -> Instrument {
        self.instrument
    }

    /// A pitch was read and its duration has not come yet.
    pub fn awaiting_duration(&self) -> bool {
        self.pitch.is_some()
    }

    /// The length of a bar in ticks.
    pub fn bar_ticks(&self) -> u32 {
        self.bar_ticks
    }

    /// Ticks from now to the next bar line (a shift never crosses one: `Bar` does that).
    pub fn room_in_bar(&self) -> u32 {
        (self.bar_start + self.bar_ticks).saturating_sub(self.now)
    }

    /// Reads one token; returns the note it completes, if any.
    pub fn read(&mut self, token: Token) -> Option<GridNote> {
        match token {
            Token::Bar => {
                self.bar_start += self.bar_ticks;
                self.now = self.bar_start;
                self.bars += 1;
                self.pitch = None;
            }
            Token::Shift(n) => {
                self.now += n;
                self.pitch = None;
            }
            Token::Instrument(i) => self.instrument = i,
            Token::Velocity(v) => self.velocity = bucket_velocity(v),
            Token::Pitch(p) => self.pitch = Some(p),
            Token::Duration(d) => {
                let pitch = self.pitch.take()?;
                return Some(GridNote {
                    start: self.now,
                    duration: DURATIONS[usize::from(d).min(DURATIONS.len() - 1)],
                    pitch,
                    velocity: self.velocity,
                    instrument: self.instrument,
                });
            }
            Token::Pad | Token::End | Token::Start | Token::Style(_) => {}
        }
        None
    }
}

/// The header and notes of a whole token sequence.
pub fn decode(tokens: &[Token], bar_ticks: u32) -> (Header, Vec<GridNote>) {
    let start = tokens.iter().position(|&t| t == Token::Start);
    let (head, events) = match start {
        Some(i) => (&tokens[..i], &tokens[i + 1..]),
        None => (&[][..], tokens),
    };
    let style = head.iter().find_map(|t| if let Token::Style(s) = t { Some(*s) } else { None }).unwrap_or(0);
    let instruments: Vec<Instrument> =
        head.iter().filter_map(|t| if let Token::Instrument(i) = t { Some(*i) } else { None }).collect();
    let header = Header::new(style, instruments.iter().copied());
    let mut reader = EventReader::new(bar_ticks, instruments.first().copied().unwrap_or(Instrument::Piano));
    let notes = events.iter().take_while(|&&t| t != Token::End).filter_map(|&t| reader.read(t)).collect();
    (header, notes)
}

/// Ticks per bar of a time signature such as "3/4" (4/4 when missing or unreadable).
pub fn bar_ticks_of(time_signature: Option<&str>) -> u32 {
    let parsed = time_signature.and_then(|ts| {
        let (n, d) = ts.split_once('/')?;
        let (n, d): (u32, u32) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
        (n > 0 && d > 0 && d.is_power_of_two() && d <= 32).then(|| n * 4 * TICKS_PER_QUARTER / d)
    });
    parsed.filter(|&t| t > 0).unwrap_or(4 * TICKS_PER_QUARTER)
}
