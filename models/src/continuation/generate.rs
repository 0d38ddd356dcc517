//! Continuing a prompt: sampling tokens one at a time through the key/value cache, with
//! temperature and nucleus (top-p) sampling, a grammar that only lets through tokens that make
//! sense where they stand, the requested instruments enforced, and a sliding window once the
//! sequence outgrows the model's context. Notes are handed out as soon as their duration is
//! sampled, so a caller can stream them into the piano roll.

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::tensor::Device;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use thiserror::Error;

use super::codec::{EventReader, GridNote, Header, encode_events};
use super::model::{ContinuationModel, KvCache};
use super::vocab::{ANY_STYLE, Instrument, Token, VOCAB_SIZE};

#[derive(Debug, Error, PartialEq)]
pub enum GenerateError {
    #[error("generation was cancelled")]
    Cancelled,
    #[error("the model returned no scores (a model error)")]
    Model,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenerationOptions {
    /// Bars to add after the prompt.
    pub bars: u32,
    pub temperature: f32,
    /// Sample from the smallest set of tokens whose probability reaches this (1 = all).
    pub top_p: f32,
    pub seed: u64,
    /// A safety stop: no continuation is longer than this many tokens.
    pub max_tokens: usize,
    /// Only the header's instruments may play (off only to measure what the model does alone).
    pub enforce_instruments: bool,
    /// Style strength: the scores move this far past the requested style's, away from what
    /// the same model predicts for "any" style (classifier-free guidance: "any" is trained on
    /// a tenth of every style's sequences, so it is the model unconditioned). 0 is off; above
    /// 0 each token costs two passes. At 1 the requested style is recognised more often (the
    /// model card has the table).
    pub style_guidance: f32,
    /// Where each instrument's notes may lie (sounding MIDI keys); an instrument not listed
    /// plays anywhere. The engine fills it from its table of instrument ranges.
    pub ranges: Vec<(Instrument, RangeInclusive<u8>)>,
    /// Every instrument of the header plays in the first bar of the continuation (when the
    /// instruments are enforced); off, the model may leave some out.
    pub every_instrument: bool,
}

impl Default for GenerationOptions {
    fn default() -> Self {
        Self {
            bars: 4,
            temperature: 1.0,
            top_p: 0.95,
            seed: 0,
            max_tokens: 4096,
            enforce_instruments: true,
            style_guidance: 1.0,
            ranges: Vec::new(),
            every_instrument: true,
        }
    }
}

/// What to continue: the conditioning, and notes from the prompt's first bar line (ticks of
/// the token grid); the continuation starts `bars` bars after it.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub header: Header,
    pub notes: Vec<GridNote>,
    pub bar_ticks: u32,
    pub bars: u32,
}

/// Something about the prompt the user should know.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptNotice {
    /// The prompt was longer than the model's context; its first bars were left out.
    Cut { kept_bars: u32, of_bars: u32 },
}

impl std::fmt::Display for PromptNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cut { kept_bars, of_bars } => {
                write!(
                    f,
                    "the prompt is longer than the model reads at once: continuing from its last {kept_bars} of {of_bars} bars"
                )
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Generated {
    /// Notes after the prompt, with starts in ticks from the prompt's first bar line.
    pub notes: Vec<GridNote>,
    pub notices: Vec<PromptNotice>,
    pub tokens: usize,
    /// From the call to the first note handed out (none if no note was made).
    pub first_note_seconds: Option<f64>,
    pub seconds: f64,
}

/// What the requested instruments must do while a continuation is sampled: only they play,
/// each in its range, and (when asked) each of them enters in the first bar.
struct InstrumentRules<'a> {
    /// Empty: any instrument.
    allowed: &'a [Instrument],
    ranges: &'a [(Instrument, RangeInclusive<u8>)],
    /// Requested instruments that have not played yet; the first bar line waits for them.
    missing: Vec<Instrument>,
}

impl<'a> InstrumentRules<'a> {
    fn new(header: &'a Header, options: &'a GenerationOptions) -> Self {
        let allowed: &[Instrument] = if options.enforce_instruments { &header.instruments } else { &[] };
        let missing = if options.every_instrument { allowed.to_vec() } else { Vec::new() };
        Self { allowed, ranges: &options.ranges, missing }
    }

    fn may_play(&self, instrument: Instrument) -> bool {
        self.allowed.is_empty() || self.allowed.contains(&instrument)
    }

    fn in_range(&self, instrument: Instrument, pitch: u8) -> bool {
        self.ranges.iter().find(|(i, _)| *i == instrument).is_none_or(|(_, range)| range.contains(&pitch))
    }

    fn played(&mut self, instrument: Instrument) {
        self.missing.retain(|&i| i != instrument);
    }

    /// How far to push the scores of a missing instrument's token: more as the first bar runs
    /// out, so a part left out enters where the model finds a place for it, not on the last
    /// tick the bar line allows.
    fn push(&self, reader: &EventReader) -> f32 {
        let progress = 1.0 - reader.room_in_bar() as f32 / reader.bar_ticks() as f32;
        MISSING_PUSH * progress.clamp(0.0, 1.0)
    }
}

/// The most a missing instrument's score is raised (at the end of the first bar), in logits.
const MISSING_PUSH: f32 = 8.0;

/// Whether `token` may come next, where `reader` stands, under `rules`: a pitch takes its
/// duration next, header tokens never recur, (as in the encoding) a shift stays inside its
/// bar, a pitch needs an allowed instrument first (the prompt may have left another one
/// current) and lies in its range, and no bar line is drawn while a requested instrument has
/// not played; with no shift left in the bar, a missing instrument is the only way on. Before
/// a note, instrument, velocity and pitch come in the encoding's order, each once, so pushing a
/// missing part cannot make the sampler switch back and forth without time moving on.
fn allowed_next(token: Token, previous: Option<Token>, reader: &EventReader, rules: &InstrumentRules) -> bool {
    if reader.awaiting_duration() {
        return matches!(token, Token::Duration(_));
    }
    // The encoding's order before a note: instrument, velocity, pitch, each at most once.
    let out_of_order = matches!(
        (token, previous),
        (Token::Instrument(_), Some(Token::Instrument(_) | Token::Velocity(_)))
            | (Token::Velocity(_), Some(Token::Velocity(_)))
    );
    if out_of_order {
        return false;
    }
    let stalled = !rules.missing.is_empty() && reader.room_in_bar() <= 1;
    let current_missing = rules.missing.contains(&reader.instrument());
    match token {
        Token::Pad | Token::Start | Token::Style(_) | Token::End | Token::Duration(_) => false,
        Token::Instrument(i) if stalled => rules.missing.contains(&i),
        Token::Instrument(i) => rules.may_play(i),
        Token::Shift(n) => n < reader.room_in_bar(),
        Token::Pitch(p) => {
            rules.may_play(reader.instrument())
                && rules.in_range(reader.instrument(), p)
                && (!stalled || current_missing)
        }
        Token::Bar => rules.missing.is_empty(),
        Token::Velocity(_) => !stalled || current_missing,
    }
}

/// Draws a token id from `logits` at `temperature` within the top-p nucleus, among the ids
/// `allowed` accepts. Temperature 0 takes the most likely allowed id.
pub fn sample(
    logits: &[f32],
    temperature: f32,
    top_p: f32,
    allowed: impl Fn(u32) -> bool,
    rng: &mut StdRng,
) -> Option<u32> {
    let mut candidates: Vec<(u32, f32)> =
        logits.iter().enumerate().filter(|(i, _)| allowed(*i as u32)).map(|(i, &l)| (i as u32, l)).collect();
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1));
    let &(best, top) = candidates.first()?;
    if temperature <= 0.0 {
        return Some(best);
    }
    let mut weights: Vec<(u32, f64)> =
        candidates.iter().map(|&(i, l)| (i, (f64::from(l - top) / f64::from(temperature)).exp())).collect();
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let mut kept = 0.0;
    let cut = weights
        .iter()
        .position(|w| {
            kept += w.1 / total;
            kept >= f64::from(top_p.clamp(0.0, 1.0))
        })
        .map_or(weights.len(), |p| p + 1);
    weights.truncate(cut.max(1));
    let mut draw = rng.random::<f64>() * weights.iter().map(|w| w.1).sum::<f64>();
    for &(i, w) in &weights {
        draw -= w;
        if draw <= 0.0 {
            return Some(i);
        }
    }
    Some(best)
}

/// The next token under the grammar and the instrument rules.
fn draw_token(
    logits: &[f32],
    options: &GenerationOptions,
    previous: Option<Token>,
    reader: &EventReader,
    rules: &InstrumentRules,
    rng: &mut StdRng,
) -> Option<u32> {
    let allowed = |id: u32| Token::from_id(id).is_some_and(|t| allowed_next(t, previous, reader, rules));
    sample(logits, options.temperature, options.top_p, allowed, rng)
}

/// The prompt's tokens within `budget` (header included): whole bars from the end.
pub(crate) fn prompt_tokens(prompt: &Prompt, budget: usize) -> (Vec<Token>, u32, Vec<PromptNotice>) {
    let header = prompt.header.tokens();
    let mut events = encode_events(&prompt.notes, prompt.bar_ticks);
    // Bar lines up to the continuation's start, so it begins on the bar after the prompt.
    let bar_lines = events.iter().filter(|&&t| t == Token::Bar).count() as u32;
    events.extend(std::iter::repeat_n(Token::Bar, prompt.bars.saturating_sub(bar_lines) as usize));
    let mut dropped_bars = 0;
    let mut notices = Vec::new();
    if header.len() + events.len() > budget {
        let room = budget.saturating_sub(header.len());
        let earliest = events.len() - room;
        // Cut just after a bar line at or past `earliest`, so the kept part starts on a bar.
        let cut = events
            .iter()
            .enumerate()
            .skip(earliest)
            .find(|(_, t)| **t == Token::Bar)
            .map_or(events.len(), |(i, _)| i + 1);
        dropped_bars = events[..cut].iter().filter(|&&t| t == Token::Bar).count() as u32;
        events.drain(..cut);
        notices
            .push(PromptNotice::Cut { kept_bars: prompt.bars.max(dropped_bars) - dropped_bars, of_bars: prompt.bars });
    }
    let mut tokens = header;
    tokens.extend(events);
    (tokens, dropped_bars, notices)
}

/// The same token ids with the style token swapped for `style`.
pub(crate) fn restyled(ids: &[u32], style: u8) -> Vec<u32> {
    ids.iter()
        .map(|&id| match Token::from_id(id) {
            Some(Token::Style(_)) => Token::Style(style).id(),
            _ => id,
        })
        .collect()
}

/// The next token's scores, step by step through the cache, with style guidance applied (a
/// second pass over the contrast sequence, when guidance is on and means anything).
struct Scorer<'a> {
    model: &'a ContinuationModel,
    device: &'a Device,
    cache: KvCache,
    /// Guidance strength and the contrast sequence's cache.
    guidance: Option<(f32, KvCache)>,
}

impl<'a> Scorer<'a> {
    fn new(model: &'a ContinuationModel, device: &'a Device, strength: f32, header: &Header) -> Self {
        let steer = strength > 0.0 && header.style != ANY_STYLE;
        let guidance = steer.then(|| (strength, KvCache::default()));
        Self { model, device, cache: KvCache::default(), guidance }
    }

    /// Reads `ids` after what was read before; the scores for the token after them.
    fn next(&mut self, ids: &[u32]) -> Vec<f32> {
        let mut logits = self.model.step(ids, &mut self.cache, self.device);
        if let Some((strength, cache)) = self.guidance.as_mut() {
            // What guidance steers away from: the same tokens asking for "any" style.
            let contrast = self.model.step(&restyled(ids, ANY_STYLE), cache, self.device);
            if contrast.len() == logits.len() {
                for (l, c) in logits.iter_mut().zip(contrast) {
                    *l += *strength * (*l - c);
                }
            }
        }
        logits
    }

    /// Forgets what was read (the window slides).
    fn restart(&mut self) {
        self.cache = KvCache::default();
        if let Some((_, cache)) = self.guidance.as_mut() {
            *cache = KvCache::default();
        }
    }

    fn length(&self) -> usize {
        self.cache.length
    }
}

/// Continues `prompt` for `options.bars` bars, handing each note to `on_note` as it is made.
pub fn continue_prompt(
    model: &ContinuationModel,
    prompt: &Prompt,
    options: &GenerationOptions,
    device: &Device,
    cancel: &AtomicBool,
    mut on_note: impl FnMut(GridNote),
) -> Result<Generated, GenerateError> {
    let started = Instant::now();
    let context = model.context.max(16);
    // Leave a quarter of the context for what is generated before the window first slides.
    let (mut sequence, dropped_bars, notices) = prompt_tokens(prompt, context * 3 / 4);
    let header_len = prompt.header.tokens().len();
    let offset = dropped_bars * prompt.bar_ticks;
    let mut rng = StdRng::seed_from_u64(options.seed);
    let default_instrument = prompt.header.instruments.first().copied().unwrap_or(Instrument::Piano);
    let mut reader = EventReader::new(prompt.bar_ticks, default_instrument);
    let mut rules = InstrumentRules::new(&prompt.header, options);
    for &t in &sequence[header_len..] {
        reader.read(t);
    }
    let end_bar = reader.bars + options.bars;
    // Notes end with the last requested bar.
    let end_tick = (dropped_bars + end_bar) * prompt.bar_ticks;
    let mut scorer = Scorer::new(model, device, options.style_guidance, &prompt.header);
    let ids: Vec<u32> = sequence.iter().map(|t| t.id()).collect();
    let mut logits = scorer.next(&ids);
    let (mut notes, mut generated, mut first_note) = (Vec::new(), 0usize, None);
    while generated < options.max_tokens {
        if cancel.load(Ordering::Relaxed) {
            return Err(GenerateError::Cancelled);
        }
        if logits.len() != VOCAB_SIZE {
            return Err(GenerateError::Model);
        }
        if !rules.missing.is_empty() {
            let push = rules.push(&reader);
            // The current instrument needs no token to play.
            for &instrument in rules.missing.iter().filter(|&&i| i != reader.instrument()) {
                logits[Token::Instrument(instrument).id() as usize] += push;
            }
        }
        let previous = sequence.last().copied();
        let mut drawn = draw_token(&logits, options, previous, &reader, &rules, &mut rng);
        if drawn.is_none() && !rules.missing.is_empty() {
            // A corner the presence rule has no way out of: the model goes on without it.
            rules.missing.clear();
            drawn = draw_token(&logits, options, previous, &reader, &rules, &mut rng);
        }
        let Some(token) = drawn.and_then(Token::from_id) else {
            return Err(GenerateError::Model);
        };
        generated += 1;
        if token == Token::Bar && reader.bars + 1 >= end_bar {
            break;
        }
        if let Some(note) = reader.read(token) {
            let start = note.start + offset;
            let note = GridNote { start, duration: note.duration.min(end_tick.saturating_sub(start).max(1)), ..note };
            first_note.get_or_insert_with(|| started.elapsed().as_secs_f64());
            rules.played(note.instrument);
            on_note(note);
            notes.push(note);
        }
        sequence.push(token);
        if scorer.length() >= context {
            // Slide: the header and the most recent half context, from a bar line, re-read.
            let keep_from = sequence.len() - context / 2;
            let bar = (keep_from..sequence.len()).find(|&i| sequence[i] == Token::Bar).unwrap_or(keep_from);
            let mut window: Vec<Token> = sequence[..header_len].to_vec();
            window.extend_from_slice(&sequence[bar + 1..]);
            scorer.restart();
            let ids: Vec<u32> = window.iter().map(|t| t.id()).collect();
            logits = scorer.next(&ids);
        } else {
            logits = scorer.next(&[token.id()]);
        }
    }
    Ok(Generated {
        notes,
        notices,
        tokens: generated,
        first_note_seconds: first_note,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(ranges: Vec<(Instrument, RangeInclusive<u8>)>) -> GenerationOptions {
        GenerationOptions { ranges, ..GenerationOptions::default() }
    }

    #[test]
    fn a_pitch_outside_its_instruments_range_is_never_drawn() {
        let header = Header::new(0, [Instrument::Violin, Instrument::Cello]);
        let options = options(vec![(Instrument::Violin, 55..=103), (Instrument::Cello, 36..=81)]);
        let rules = InstrumentRules::new(&header, &options);
        let mut reader = EventReader::new(48, Instrument::Violin);
        assert!(!allowed_next(Token::Pitch(43), None, &reader, &rules), "a violin has no G2");
        assert!(allowed_next(Token::Pitch(55), None, &reader, &rules));
        reader.read(Token::Instrument(Instrument::Cello));
        assert!(allowed_next(Token::Pitch(43), None, &reader, &rules));
        assert!(!allowed_next(Token::Pitch(90), None, &reader, &rules));
        reader.read(Token::Instrument(Instrument::Piano));
        assert!(!allowed_next(Token::Pitch(60), None, &reader, &rules), "piano was not asked for");
    }

    #[test]
    fn the_first_bar_line_waits_for_every_requested_instrument() {
        let header = Header::new(0, [Instrument::Violin, Instrument::Viola]);
        let options = options(Vec::new());
        let mut rules = InstrumentRules::new(&header, &options);
        let mut reader = EventReader::new(48, Instrument::Violin);
        assert!(!allowed_next(Token::Bar, None, &reader, &rules));
        rules.played(Instrument::Violin);
        assert!(!allowed_next(Token::Bar, None, &reader, &rules), "the viola has not played");
        // Late in the bar the missing part is pushed harder than early.
        let early = rules.push(&reader);
        reader.read(Token::Shift(47));
        assert!(rules.push(&reader) > early);
        // No shift left: only the missing instrument can go on, and then its notes.
        assert!(!allowed_next(Token::Pitch(70), None, &reader, &rules), "the violin again");
        assert!(!allowed_next(Token::Instrument(Instrument::Violin), None, &reader, &rules));
        assert!(allowed_next(Token::Instrument(Instrument::Viola), None, &reader, &rules));
        reader.read(Token::Instrument(Instrument::Viola));
        assert!(allowed_next(Token::Pitch(60), None, &reader, &rules));
        let viola = Some(Token::Instrument(Instrument::Viola));
        assert!(
            !allowed_next(Token::Instrument(Instrument::Violin), viola, &reader, &rules),
            "two instruments in a row"
        );
        rules.played(Instrument::Viola);
        assert!(allowed_next(Token::Bar, None, &reader, &rules));
    }

    #[test]
    fn a_musician_may_allow_fewer_instruments() {
        let header = Header::new(0, [Instrument::Violin, Instrument::Viola]);
        let options = GenerationOptions { every_instrument: false, ..GenerationOptions::default() };
        let rules = InstrumentRules::new(&header, &options);
        assert!(allowed_next(Token::Bar, None, &EventReader::new(48, Instrument::Violin), &rules));
    }
}
