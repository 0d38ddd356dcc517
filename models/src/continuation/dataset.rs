//! Corpus works as token sequences for training, with MuseNet's augmentations.
//!
//! A training sequence is a work's header (style, instruments, `Start`) and its events from a
//! random bar line, up to the context length. Each draw transposes the whole work (within the
//! piano range) and shifts every velocity by the same number of buckets. MuseNet also
//! stretched tempo slightly; these tokens count time in beats, not seconds, so tempo does not
//! appear in them and there is nothing to stretch.

use rand::Rng;
use rand::rngs::StdRng;

use super::codec::{GridNote, Header, bar_ticks_of, encode_events, to_ticks};
use super::vocab::{ANY_STYLE, HIGHEST_PITCH, Instrument, LOWEST_PITCH, STYLES, Token, style_of_work};
use crate::data::midi_notes::read_parts;
use crate::data::{Corpus, Split, Work};

/// One work on the token grid.
#[derive(Debug, Clone)]
pub struct GridWork {
    pub header: Header,
    pub notes: Vec<GridNote>,
    pub bar_ticks: u32,
    pub bars: u32,
}

/// The family a corpus part plays. Most encodings carry no instrument (program 0), so a
/// program of 0 is read from what the collection is: chorales and the vocal collections are
/// sung, fiddle-tune collections are fiddled, Essen's songs are sung; other program-0 parts
/// (sonatas, piano pieces) stay piano.
pub fn instrument_of_part(work: &Work, program: u8) -> Instrument {
    if program != 0 {
        return Instrument::of_program(program);
    }
    match work.collection.as_str() {
        "bach" | "monteverdi" | "trecento" | "palestrina" | "josquin" | "ciconia" | "luca" | "lusitano" => {
            Instrument::Choir
        }
        "essenFolksong" => Instrument::Choir,
        "oneills1850" | "ryansMammoth" | "airdsAirs" | "nottingham-dataset" | "miscFolk" => Instrument::Violin,
        _ => Instrument::Piano,
    }
}

/// Reads one work's MIDI file onto the grid.
pub fn grid_work(corpus: &Corpus, work: &Work) -> Option<GridWork> {
    let bytes = std::fs::read(corpus.midi_path(work)).ok()?;
    let parts = read_parts(&bytes).ok()?;
    let mut notes = Vec::new();
    for part in &parts {
        let instrument = instrument_of_part(work, part.program);
        for n in &part.notes {
            let start = to_ticks(n.start);
            let end = to_ticks(n.end).max(start + 1);
            notes.push(GridNote { start, duration: end - start, pitch: n.pitch, velocity: n.velocity, instrument });
        }
    }
    if notes.is_empty() {
        return None;
    }
    let bar_ticks = bar_ticks_of(work.time_signature.as_deref());
    let last = notes.iter().map(|n| n.start).max().unwrap_or(0);
    let header = Header::new(style_of_work(&work.style), notes.iter().map(|n| n.instrument));
    Some(GridWork { header, notes, bar_ticks, bars: last / bar_ticks + 1 })
}

/// Every readable work of one split.
pub fn load_split(corpus: &Corpus, split: Split) -> Vec<GridWork> {
    corpus.works.iter().filter(|w| w.split == split).filter_map(|w| grid_work(corpus, w)).collect()
}

impl GridWork {
    /// Header + events from bar `from_bar`, at most `context` tokens; `End` if the work ends
    /// inside them.
    pub fn sequence(&self, from_bar: u32, context: usize, transpose: i32, velocity_shift: i32) -> Vec<Token> {
        let offset = from_bar * self.bar_ticks;
        // Enough bars for any context (a bar has at least one token).
        let until = offset.saturating_add(self.bar_ticks.saturating_mul(u32::try_from(context).unwrap_or(u32::MAX)));
        let notes: Vec<GridNote> = self
            .notes
            .iter()
            .filter(|n| n.start >= offset && n.start < until)
            .map(|n| GridNote {
                start: n.start - offset,
                pitch: (i32::from(n.pitch) + transpose).clamp(0, 127) as u8,
                velocity: (i32::from(n.velocity) + 16 * velocity_shift).clamp(1, 127) as u8,
                ..*n
            })
            .collect();
        let reaches_end = self.notes.iter().all(|n| n.start < until);
        let mut tokens = self.header.tokens();
        tokens.extend(encode_events(&notes, self.bar_ticks));
        if reaches_end {
            tokens.push(Token::End);
        }
        tokens.truncate(context);
        tokens
    }

    /// The transpositions within ±`max` that keep every note in the piano range.
    pub(crate) fn transpositions(&self, max: i32) -> (i32, i32) {
        let low = self.notes.iter().map(|n| n.pitch).min().unwrap_or(60);
        let high = self.notes.iter().map(|n| n.pitch).max().unwrap_or(60);
        let down = (i32::from(LOWEST_PITCH) - i32::from(low)).max(-max).min(0);
        let up = (i32::from(HIGHEST_PITCH) - i32::from(high)).min(max).max(0);
        (down, up)
    }
}

/// Draws training sequences: a style (weighted by the square root of its amount of music, so
/// the folk tunes do not drown the composers), then a work of it (by length), then a bar.
pub struct SequenceSampler {
    works: Vec<GridWork>,
    /// Per style: its works' indices and their cumulative note counts.
    by_style: Vec<(Vec<usize>, Vec<usize>)>,
    style_weights: Vec<f64>,
    pub max_transpose: i32,
    pub max_velocity_shift: i32,
    /// The fraction of sequences whose style is replaced by "any", so that "any" is the model
    /// without a style (what classifier-free guidance contrasts with).
    pub style_dropout: f64,
}

impl SequenceSampler {
    pub fn new(works: Vec<GridWork>) -> Self {
        let mut by_style: Vec<(Vec<usize>, Vec<usize>)> = vec![(Vec::new(), Vec::new()); STYLES.len()];
        for (i, w) in works.iter().enumerate() {
            let (indices, cumulative) = &mut by_style[usize::from(w.header.style).min(STYLES.len() - 1)];
            indices.push(i);
            cumulative.push(cumulative.last().copied().unwrap_or(0) + w.notes.len());
        }
        let style_weights = by_style.iter().map(|(_, c)| (c.last().copied().unwrap_or(0) as f64).sqrt()).collect();
        Self { works, by_style, style_weights, max_transpose: 5, max_velocity_shift: 2, style_dropout: 0.0 }
    }

    pub fn works(&self) -> &[GridWork] {
        &self.works
    }

    pub fn draw(&self, rng: &mut StdRng, context: usize) -> Option<Vec<Token>> {
        let total: f64 = self.style_weights.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let mut pick = rng.random::<f64>() * total;
        let style = self.style_weights.iter().position(|&w| {
            pick -= w;
            pick <= 0.0
        })?;
        let (indices, cumulative) = &self.by_style[style];
        let notes = rng.random_range(0..*cumulative.last()?);
        let work = &self.works[indices[cumulative.partition_point(|&c| c <= notes)]];
        let bar = rng.random_range(0..work.bars);
        let (down, up) = work.transpositions(self.max_transpose);
        let transpose = rng.random_range(down..=up);
        let velocity = rng.random_range(-self.max_velocity_shift..=self.max_velocity_shift);
        let mut sequence = work.sequence(bar, context, transpose, velocity);
        if self.style_dropout > 0.0 && rng.random::<f64>() < self.style_dropout {
            for token in sequence.iter_mut().filter(|t| matches!(t, Token::Style(_))) {
                *token = Token::Style(ANY_STYLE);
            }
        }
        Some(sequence)
    }
}
