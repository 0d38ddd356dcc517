//! Training windows from the corpus and the batcher that feeds them to Burn.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::melody::{Melody, TimedNote, training_windows};
use crate::data::{Corpus, Split, read_parts};

/// The windows of one split, each distinct (folk collections repeat phrases a lot, and a
/// repeated window would count twice in the accuracy).
#[derive(Debug, Clone)]
pub struct MelodyWindows {
    pub windows: Vec<Melody>,
    /// The style of the work each window came from (for the latent map's labels).
    pub styles: Vec<String>,
    pub works: usize,
    /// Works whose MIDI could not be read, with the reason.
    pub unreadable: Vec<(String, String)>,
}

/// The top line of every part of a file, merged: all parts' notes in one skyline.
pub fn melody_of_file(bytes: &[u8]) -> Result<Melody, crate::data::MidiNotesError> {
    let notes: Vec<TimedNote> = read_parts(bytes)?.into_iter().flat_map(|p| p.notes).collect();
    Ok(Melody::top_line(&notes))
}

pub fn load_windows(corpus: &Corpus, split: Split, bars: usize) -> MelodyWindows {
    let works: Vec<_> = corpus.works.iter().filter(|w| w.split == split).collect();
    let per_work: Vec<Result<Vec<Melody>, (String, String)>> = works
        .par_iter()
        .map(|work| {
            let bytes = std::fs::read(corpus.midi_path(work)).map_err(|e| (work.id.clone(), e.to_string()))?;
            let melody = melody_of_file(&bytes).map_err(|e| (work.id.clone(), e.to_string()))?;
            Ok(training_windows(&melody, bars))
        })
        .collect();
    let mut seen = HashSet::new();
    let (mut windows, mut styles, mut unreadable) = (Vec::new(), Vec::new(), Vec::new());
    for (work, result) in works.iter().zip(per_work) {
        match result {
            Ok(list) => {
                for window in list.into_iter().filter(|w| seen.insert(w.tokens.clone())) {
                    windows.push(window);
                    styles.push(work.style.clone());
                }
            }
            Err(reason) => unreadable.push(reason),
        }
    }
    MelodyWindows { windows, styles, works: works.len(), unreadable }
}

/// At most `limit` items spread evenly over `items` (every n-th), so a sample of a split covers
/// all of it instead of its first works.
pub fn spread<T>(items: Vec<T>, limit: usize) -> Vec<T> {
    let stride = (items.len() / limit.max(1)).max(1);
    items.into_iter().step_by(stride).take(limit).collect()
}

/// Shuffled batches with random transposition (each window moved by up to `max_transpose`
/// semitones either way, as long as it stays on the piano).
pub struct Batcher {
    rng: StdRng,
    pub max_transpose: i32,
}

impl Batcher {
    pub fn new(seed: u64, max_transpose: i32) -> Self {
        Self { rng: StdRng::seed_from_u64(seed), max_transpose }
    }

    /// A fresh epoch's order of `count` windows.
    pub fn epoch_order(&mut self, count: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..count).collect();
        order.shuffle(&mut self.rng);
        order
    }

    /// The token tensor [B, T] of the given windows, transposed at random.
    pub fn batch(&mut self, windows: &[&Melody], device: &Device) -> Tensor<2, Int> {
        let mut rows = Vec::with_capacity(windows.len());
        for window in windows {
            let shift = if self.max_transpose > 0 {
                self.rng.random_range(-self.max_transpose..=self.max_transpose)
            } else {
                0
            };
            rows.push(window.transposed(shift).unwrap_or_else(|| (*window).clone()));
        }
        tokens_tensor(&rows.iter().collect::<Vec<_>>(), device)
    }
}

/// Equal-length melodies as a [B, T] tensor of token ids.
pub fn tokens_tensor(melodies: &[&Melody], device: &Device) -> Tensor<2, Int> {
    let steps = melodies.first().map_or(0, |m| m.tokens.len());
    let values: Vec<i64> = melodies.iter().flat_map(|m| m.tokens.iter().map(|&t| i64::from(t))).collect();
    Tensor::from_data(TensorData::new(values, [melodies.len(), steps]), device)
}
