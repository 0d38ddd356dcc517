//! The latent-space worker behind the Interpolate tab: it holds the shipped MusicVAE models,
//! encodes the clips the user picks, and decodes points between them. Decoding runs on its own
//! thread and only the newest point is decoded: while a slider is dragged, points that arrive
//! before the previous decode ends replace each other instead of queueing.

mod worker;

use std::collections::HashMap;

pub use cadenza_models::vae::latent::LatentMap;
pub use cadenza_models::vae::melody::TimedNote;
pub use cadenza_models::vae::{InputNotice, MelodyVae, VaeError};

pub use self::worker::{LatentWorker, point_code};
pub use crate::protocol::latent::*;
use crate::song::{Note, Song};

/// A shipped model, on the CPU: one decode step is a few small matrix products, which the GPU
/// would spend more time dispatching than computing.
pub fn shipped_model(size: VaeSize) -> Result<MelodyVae, VaeError> {
    let device = cadenza_models::Device::flex();
    match size {
        VaeSize::TwoBar => cadenza_models::vae::shipped::two_bar(&device),
        VaeSize::SixteenBar => cadenza_models::vae::shipped::sixteen_bar(&device),
    }
}

/// The latent map shipped with a model (its corpus codes on two principal axes).
pub fn shipped_map(size: VaeSize) -> Option<LatentMap> {
    let text = match size {
        VaeSize::TwoBar => cadenza_models::vae::shipped::TWO_BAR_MAP,
        VaeSize::SixteenBar => cadenza_models::vae::shipped::SIXTEEN_BAR_MAP,
    };
    serde_json::from_str(text).ok()
}

/// Both shipped models, and a message for each that failed to load.
pub fn shipped_models() -> (HashMap<VaeSize, MelodyVae>, Vec<String>) {
    let mut models = HashMap::new();
    let mut errors = Vec::new();
    for size in [VaeSize::TwoBar, VaeSize::SixteenBar] {
        match shipped_model(size) {
            Ok(model) => {
                models.insert(size, model);
            }
            Err(e) => errors.push(format!("the {}-bar melody model: {e}", size.bars())),
        }
    }
    (models, errors)
}

/// The notes of `track` between `from` and `to` (ticks), with times in quarters from `from`.
/// Notes that start in the range are kept (cut at its end).
pub fn clip_notes(song: &Song, track: usize, from: u64, to: u64) -> Vec<TimedNote> {
    let ppq = f64::from(song.ppq.max(1));
    let Some(track) = song.tracks.get(track) else { return Vec::new() };
    track
        .notes
        .iter()
        .filter(|n| n.start >= from && n.start < to)
        .map(|n| TimedNote {
            pitch: n.pitch,
            start: (n.start - from) as f64 / ppq,
            end: (n.end().min(to) - from) as f64 / ppq,
            velocity: n.velocity,
        })
        .collect()
}

/// Song notes for decoded notes placed at tick `at`, all at `velocity` (the clip's mean, so a
/// kept point sits with its neighbours).
pub fn song_notes(notes: &[TimedNote], ppq: u16, at: u64, velocity: u8) -> Vec<Note> {
    let ppq = f64::from(ppq.max(1));
    notes
        .iter()
        .map(|n| {
            let start = at + (n.start * ppq).round() as u64;
            let end = at + (n.end * ppq).round() as u64;
            Note::new(start, end.saturating_sub(start).max(1), n.pitch, velocity)
        })
        .collect()
}

/// The mean velocity of a clip (90 for none).
pub fn mean_velocity(notes: &[TimedNote]) -> u8 {
    if notes.is_empty() {
        return 90;
    }
    (notes.iter().map(|n| u32::from(n.velocity)).sum::<u32>() / notes.len() as u32).clamp(1, 127) as u8
}
