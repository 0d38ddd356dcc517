//! Corpus works as windows of compound tokens: for pre-training, windows drawn as the corpus
//! holds them (by notes, so the folk songs dominate, which is the bias adversarial masking
//! works against); for the style task, windows drawn class by class, each class as often; for
//! evaluation, a work's consecutive 16-bar passages.
//!
//! Works are read by the continuation model's corpus reader onto its grid.

use rand::Rng;
use rand::rngs::StdRng;

use super::octuple::{MAX_BARS, Octuple, encode};
use super::styles::{STYLE_CLASSES, style_class};
use crate::continuation::codec::GridNote;
use crate::continuation::dataset::{GridWork, grid_work};
use crate::data::{Corpus, Split};

/// The corpus's files keep no tempo the reader reads (see `octuple::TEMPO_BUCKETS`).
const CORPUS_BPM: f64 = 120.0;

/// One work: its notes on the grid and its style class, if it has one of the eight.
#[derive(Debug, Clone)]
pub struct StyledWork {
    pub id: String,
    pub grid: GridWork,
    pub style: Option<usize>,
}

/// Every readable work of one split.
pub fn load_works(corpus: &Corpus, split: Split) -> Vec<StyledWork> {
    corpus
        .works
        .iter()
        .filter(|w| w.split == split)
        .filter_map(|w| Some(StyledWork { id: w.id.clone(), grid: grid_work(corpus, w)?, style: style_class(w) }))
        .collect()
}

impl StyledWork {
    /// The notes from bar `from_bar` on, times from that bar line, transposed: at most
    /// `max_notes` and [`MAX_BARS`] bars (or `bars` when given).
    pub fn window_notes(&self, from_bar: u32, bars: Option<u32>, max_notes: usize, transpose: i32) -> Vec<GridNote> {
        let bar_ticks = self.grid.bar_ticks;
        let offset = from_bar * bar_ticks;
        let until = offset + bars.unwrap_or(MAX_BARS).min(MAX_BARS) * bar_ticks;
        let mut notes: Vec<GridNote> = self
            .grid
            .notes
            .iter()
            .filter(|n| n.start >= offset && n.start < until)
            .map(|n| GridNote {
                start: n.start - offset,
                pitch: (i32::from(n.pitch) + transpose).clamp(0, 127) as u8,
                ..*n
            })
            .collect();
        notes.sort_by_key(|n| (n.start, n.pitch));
        notes.truncate(max_notes);
        notes
    }

    /// The window as tokens.
    pub fn window(&self, from_bar: u32, bars: Option<u32>, max_notes: usize, transpose: i32) -> Vec<Octuple> {
        encode(&self.window_notes(from_bar, bars, max_notes, transpose), self.grid.bar_ticks, CORPUS_BPM).0
    }

    /// Consecutive passages of `bars` bars (the last may be shorter), each with notes.
    pub fn passages(&self, bars: u32, max_notes: usize) -> Vec<Vec<Octuple>> {
        (0..self.grid.bars)
            .step_by(bars.max(1) as usize)
            .map(|from| self.window(from, Some(bars), max_notes, 0))
            .filter(|w| !w.is_empty())
            .collect()
    }

    /// A transposition within ±`max` semitones that keeps the work in the piano range.
    fn random_transposition(&self, rng: &mut StdRng, max: i32) -> i32 {
        let (down, up) = self.grid.transpositions(max);
        rng.random_range(down..=up)
    }

    /// A random window (random bar, random transposition) of `bars` bars, or as many as fit.
    pub fn random_window(&self, rng: &mut StdRng, bars: Option<u32>, max_notes: usize, max_transpose: i32) -> Vec<Octuple> {
        let bar = rng.random_range(0..self.grid.bars.max(1));
        let transpose = self.random_transposition(rng, max_transpose);
        self.window(bar, bars, max_notes, transpose)
    }
}

/// Works picked in proportion to their notes (the corpus as it is).
pub struct CorpusSampler {
    works: Vec<StyledWork>,
    cumulative: Vec<usize>,
}

impl CorpusSampler {
    pub fn new(works: Vec<StyledWork>) -> Self {
        let mut total = 0;
        let cumulative = works
            .iter()
            .map(|w| {
                total += w.grid.notes.len();
                total
            })
            .collect();
        Self { works, cumulative }
    }

    pub fn works(&self) -> &[StyledWork] {
        &self.works
    }

    pub fn draw(&self, rng: &mut StdRng, bars: Option<u32>, max_notes: usize, max_transpose: i32) -> Option<Vec<Octuple>> {
        let total = *self.cumulative.last()?;
        let pick = rng.random_range(0..total.max(1));
        let work = &self.works[self.cumulative.partition_point(|&c| c <= pick).min(self.works.len() - 1)];
        let window = work.random_window(rng, bars, max_notes, max_transpose);
        (!window.is_empty()).then_some(window)
    }
}

/// Style windows drawn class by class, each of the classes present equally often.
pub struct StyleSampler {
    by_class: Vec<CorpusSampler>,
}

impl StyleSampler {
    pub fn new(works: &[StyledWork]) -> Self {
        let by_class = (0..STYLE_CLASSES.len())
            .map(|c| CorpusSampler::new(works.iter().filter(|w| w.style == Some(c)).cloned().collect()))
            .collect();
        Self { by_class }
    }

    /// Works per class.
    pub fn counts(&self) -> Vec<usize> {
        self.by_class.iter().map(|s| s.works.len()).collect()
    }

    pub fn draw(
        &self,
        rng: &mut StdRng,
        bars: Option<u32>,
        max_notes: usize,
        max_transpose: i32,
    ) -> Option<(Vec<Octuple>, usize)> {
        let present: Vec<usize> = (0..self.by_class.len()).filter(|&c| !self.by_class[c].works.is_empty()).collect();
        if present.is_empty() {
            return None;
        }
        let class = present[rng.random_range(0..present.len())];
        Some((self.by_class[class].draw(rng, bars, max_notes, max_transpose)?, class))
    }
}

/// A labelled 16-bar (or other) passage of a held-out work, as notes and as tokens.
#[derive(Debug, Clone)]
pub struct Passage {
    /// Index of its work in the list it came from.
    pub work: usize,
    pub class: usize,
    pub notes: Vec<GridNote>,
    pub bar_ticks: u32,
    pub tokens: Vec<Octuple>,
}

/// Every `bars`-bar passage of the works with a class, at most `per_class` of each class
/// (taken in work order, so the same passages every run).
pub fn labelled_passages(works: &[StyledWork], bars: u32, max_notes: usize, per_class: usize) -> Vec<Passage> {
    let mut out = Vec::new();
    let mut taken = vec![0usize; STYLE_CLASSES.len()];
    for (index, work) in works.iter().enumerate() {
        let Some(class) = work.style else { continue };
        for from in (0..work.grid.bars).step_by(bars.max(1) as usize) {
            if taken[class] >= per_class {
                break;
            }
            let notes = work.window_notes(from, Some(bars), max_notes, 0);
            if notes.is_empty() {
                continue;
            }
            let tokens = encode(&notes, work.grid.bar_ticks, CORPUS_BPM).0;
            taken[class] += 1;
            out.push(Passage { work: index, class, notes, bar_ticks: work.grid.bar_ticks, tokens });
        }
    }
    out
}
