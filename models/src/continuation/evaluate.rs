//! The continuation model's figures on the held-out test split: NLL per token against an
//! n-gram baseline on the same tokens, whether the requested style and instruments are what
//! comes out (judged by a classifier trained on the corpus), and whether continuations stay
//! in the prompt's key and on the grid.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::codec::{GridNote, Header};
use super::dataset::GridWork;
use super::generate::{GenerationOptions, Prompt, continue_prompt};
use super::model::ContinuationModel;
use super::ngram::NgramModel;
use super::recognise::likely_style;
use super::style_classifier::{FEATURES, StyleClassifier, estimate_key, features};
use super::train::{evaluation_sequences, mean_nll};
use super::vocab::{ANY_STYLE, Instrument, STYLES, Token};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StyleRow {
    pub style: String,
    /// Held-out 8-bar passages of this style the classifier names correctly.
    pub classifier_on_real: Option<f64>,
    /// Continuations from nothing (header only) recognised as the requested style.
    pub recognised_from_nothing: f64,
    /// Continuations of held-out openings of this style recognised as it.
    pub recognised_from_openings: Option<f64>,
    /// How many held-out openings there were, and real passages for `classifier_on_real`.
    #[serde(default)]
    pub openings: usize,
    #[serde(default)]
    pub real_passages: usize,
    /// Held-out works of this style whose first 8 bars the continuation model itself finds
    /// likeliest under this style ([`super::recognise`]), and how many works were asked.
    #[serde(default)]
    pub model_recognises_real: Option<f64>,
    #[serde(default)]
    pub model_recognition_works: usize,
    /// What the classifier called each continuation (from nothing, then from openings).
    pub called: Vec<String>,
    /// With instruments not enforced: the fraction of notes on the requested instruments.
    pub on_requested_instruments: f64,
    /// Notes in the prompt's key: continuations, and the works' real next bars.
    pub in_key: Option<f64>,
    pub in_key_real: Option<f64>,
    /// Onsets on the 16th-note grid: continuations, and the works' real next bars.
    pub on_grid: Option<f64>,
    pub on_grid_real: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    /// Tokens of the training works, each read once from its start (no augmentation).
    pub train_tokens: usize,
    pub train_notes: usize,
    pub test_sequences: usize,
    pub transformer_nll: f64,
    pub ngram_order: usize,
    pub ngram_nll: f64,
    /// Chance for the style classifier (one in the number of styles).
    pub chance: f64,
    pub styles: Vec<StyleRow>,
    pub samples_per_style: usize,
    pub bars: u32,
    /// The generation's style guidance (0 = none).
    #[serde(default)]
    pub style_guidance: f32,
}

/// The notes of `bars` bars from `from_bar`, moved to start at zero.
pub fn segment(work: &GridWork, from_bar: u32, bars: u32) -> Vec<GridNote> {
    let (from, to) = (from_bar * work.bar_ticks, (from_bar + bars) * work.bar_ticks);
    work.notes
        .iter()
        .filter(|n| n.start >= from && n.start < to)
        .map(|n| GridNote { start: n.start - from, ..*n })
        .collect()
}

/// Labelled 8-bar passages (up to `per_work` from each work of a style; "any" is none).
pub fn labelled_segments(works: &[GridWork], per_work: u32) -> Vec<([f64; FEATURES], u8)> {
    let mut out = Vec::new();
    for work in works.iter().filter(|w| w.header.style != ANY_STYLE) {
        for k in 0..per_work.min(work.bars / 8) {
            let notes = segment(work, k * 8, 8);
            if notes.len() >= 8 {
                out.push((features(&notes, work.bar_ticks), work.header.style));
            }
        }
    }
    out
}

/// The style classifier fitted on `train`, scored on the real passages of `held_out`: one
/// line per style with its accuracy and the styles it was mistaken for.
pub fn classifier_report(train: &[GridWork], held_out: &[GridWork]) -> Vec<String> {
    let classifier = StyleClassifier::fit(&labelled_segments(train, 6), 300);
    let segments = labelled_segments(held_out, 6);
    STYLES[..usize::from(ANY_STYLE)]
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let mut called = vec![0usize; STYLES.len()];
            for (x, _) in segments.iter().filter(|(_, s)| usize::from(*s) == index) {
                called[usize::from(classifier.classify(x))] += 1;
            }
            let total: usize = called.iter().sum();
            let mistaken: Vec<String> = called
                .iter()
                .enumerate()
                .filter(|&(c, &n)| c != index && n > 0)
                .map(|(c, n)| format!("{} {n}", STYLES[c]))
                .collect();
            let accuracy = fraction(called[index], total).map_or("-".to_string(), |a| format!("{:.0} %", 100.0 * a));
            format!("{name:>12}: {accuracy:>5} of {total:>4} passages; mistaken for: {}", mistaken.join(", "))
        })
        .collect()
}

fn fraction(hits: usize, total: usize) -> Option<f64> {
    (total > 0).then(|| hits as f64 / total as f64)
}

/// The instrument set most works of `style` use.
fn typical_instruments(works: &[GridWork], style: u8) -> Vec<Instrument> {
    let mut counts: HashMap<Vec<Instrument>, usize> = HashMap::new();
    for w in works.iter().filter(|w| w.header.style == style) {
        *counts.entry(w.header.instruments.clone()).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(set, n)| (*n, std::cmp::Reverse(set.len())))
        .map_or(vec![Instrument::Piano], |(s, _)| s)
}

pub struct EvaluationSetup<'a> {
    pub model: &'a ContinuationModel,
    pub train: &'a [GridWork],
    pub test: Vec<GridWork>,
    pub device: &'a Device,
    pub samples_per_style: usize,
    pub bars: u32,
    pub ngram_order: usize,
    pub sequences: usize,
    pub style_guidance: f32,
}

pub fn evaluate(setup: EvaluationSetup<'_>, mut log: impl FnMut(&str)) -> Evaluation {
    let EvaluationSetup { model, train, test, device, samples_per_style, bars, ngram_order, sequences, style_guidance } =
        setup;
    let test_set = evaluation_sequences(test.clone(), sequences, model.context + 1, 99);
    let transformer_nll = mean_nll(model, &test_set, 16, device);
    log(&format!("transformer: {transformer_nll:.3} nats/token on {} test sequences", test_set.len()));
    let full: Vec<Vec<Token>> = train.iter().map(|w| w.sequence(0, usize::MAX, 0, 0)).collect();
    let ngram = NgramModel::train(ngram_order, full.iter().map(Vec::as_slice));
    let train_tokens = full.iter().map(Vec::len).sum();
    let train_notes = train.iter().map(|w| w.notes.len()).sum();
    let ngram_nll = ngram.mean_nll(&test_set);
    log(&format!("{ngram_order}-gram baseline: {ngram_nll:.3} nats/token"));

    let classifier = StyleClassifier::fit(&labelled_segments(train, 6), 300);
    let test_segments = labelled_segments(&test, 6);
    let cancel = AtomicBool::new(false);
    let mut rows = Vec::new();
    // "any" asks for no style, so there is nothing to recognise.
    for (index, name) in STYLES[..usize::from(ANY_STYLE)].iter().enumerate() {
        let style = index as u8;
        let real: Vec<&([f64; FEATURES], u8)> = test_segments.iter().filter(|(_, s)| *s == style).collect();
        let classifier_on_real =
            fraction(real.iter().filter(|(x, _)| classifier.classify(x) == style).count(), real.len());
        let instruments = typical_instruments(train, style);
        let generate = |prompt: &Prompt, seed: u64, enforce: bool| {
            let options = GenerationOptions {
                bars,
                seed,
                temperature: 1.0,
                top_p: 0.95,
                enforce_instruments: enforce,
                style_guidance,
                ..GenerationOptions::default()
            };
            continue_prompt(model, prompt, &options, device, &cancel, |_| {}).map(|g| g.notes).unwrap_or_default()
        };
        // From nothing: the header alone.
        let empty =
            Prompt { header: Header::new(style, instruments.clone()), notes: Vec::new(), bar_ticks: 48, bars: 0 };
        let (mut recognised, mut on_instruments, mut notes_total) = (0, 0, 0);
        let mut called = Vec::new();
        let mut judge = |notes: &[GridNote], bar_ticks: u32| {
            let verdict = (notes.len() >= 4).then(|| classifier.classify(&features(notes, bar_ticks)));
            called.push(verdict.map_or("too few notes", |s| STYLES[usize::from(s)]).to_string());
            verdict == Some(style)
        };
        for seed in 0..samples_per_style as u64 {
            let notes = generate(&empty, seed, true);
            if judge(&notes, 48) {
                recognised += 1;
            }
            let free = generate(&empty, 1000 + seed, false);
            on_instruments += free.iter().filter(|n| instruments.contains(&n.instrument)).count();
            notes_total += free.len();
        }
        // From held-out openings of this style: two bars in, `bars` bars out.
        let openings: Vec<&GridWork> =
            test.iter().filter(|w| w.header.style == style && w.bars >= 2 + bars).take(samples_per_style).collect();
        let (
            mut from_openings,
            mut in_key,
            mut in_key_real,
            mut on_grid,
            mut on_grid_real,
            mut counted,
            mut counted_real,
        ) = (0, 0, 0, 0, 0, 0, 0);
        for (i, work) in openings.iter().enumerate() {
            let prompt_notes = segment(work, 0, 2);
            // The work's own header: `openings` are works of the style asked for.
            let prompt =
                Prompt { header: work.header.clone(), notes: prompt_notes.clone(), bar_ticks: work.bar_ticks, bars: 2 };
            // Moved to start at zero, as the real next bars are: the classifier reads density
            // over the passage's span.
            let generated: Vec<GridNote> = generate(&prompt, i as u64, true)
                .into_iter()
                .map(|n| GridNote { start: n.start.saturating_sub(2 * work.bar_ticks), ..n })
                .collect();
            let real = segment(work, 2, bars);
            if judge(&generated, work.bar_ticks) {
                from_openings += 1;
            }
            if let Some(key) = estimate_key(&prompt_notes) {
                in_key += generated.iter().filter(|n| key.contains(n.pitch)).count();
                in_key_real += real.iter().filter(|n| key.contains(n.pitch)).count();
            }
            on_grid += generated.iter().filter(|n| n.start % 3 == 0).count();
            on_grid_real += real.iter().filter(|n| n.start % 3 == 0).count();
            counted += generated.len();
            counted_real += real.len();
        }
        // The model as a classifier: the first 8 bars of held-out works of the style.
        let asked: Vec<&GridWork> =
            test.iter().filter(|w| w.header.style == style && w.bars >= 8).take(samples_per_style).collect();
        let model_hits = asked
            .iter()
            .filter(|w| {
                let prompt =
                    Prompt { header: w.header.clone(), notes: segment(w, 0, 8), bar_ticks: w.bar_ticks, bars: 8 };
                likely_style(model, &prompt, device) == Some(style)
            })
            .count();
        let row = StyleRow {
            style: (*name).to_string(),
            classifier_on_real,
            recognised_from_nothing: recognised as f64 / samples_per_style.max(1) as f64,
            recognised_from_openings: fraction(from_openings, openings.len()),
            openings: openings.len(),
            model_recognises_real: fraction(model_hits, asked.len()),
            model_recognition_works: asked.len(),
            real_passages: real.len(),
            called,
            on_requested_instruments: fraction(on_instruments, notes_total).unwrap_or(0.0),
            in_key: fraction(in_key, counted),
            in_key_real: fraction(in_key_real, counted_real),
            on_grid: fraction(on_grid, counted),
            on_grid_real: fraction(on_grid_real, counted_real),
        };
        log(&format!("{row:?}"));
        rows.push(row);
    }
    Evaluation {
        train_tokens,
        train_notes,
        test_sequences: test_set.len(),
        transformer_nll,
        ngram_order,
        ngram_nll,
        chance: 1.0 / f64::from(ANY_STYLE),
        styles: rows,
        samples_per_style,
        bars,
        style_guidance,
    }
}
