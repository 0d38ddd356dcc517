//! The continuation model's background jobs: generating variations (each note streamed to the
//! app as it is made) and recognising a prompt's style.

use std::sync::Arc;

use cadenza_models::continuation::GridNote;
use cadenza_models::continuation::generate::{GenerationOptions, continue_prompt};
use cadenza_models::continuation::recognise::likely_style;

use super::{
    ContinuationRequest, StreamedNote, instrument_ranges, prompt_of, shipped_model, song_note, variation_tracks,
};
use crate::protocol::{Event, Job, JobError, JobOutput};
use crate::song::Song;

/// The job: every variation in turn (seed, seed + 1, …), each note sent as it is made.
pub fn continuation_job(song: Arc<Song>, request: ContinuationRequest) -> Job {
    let label = format!("Continuing for {} bars ({} variations)", request.options.bars, request.variations.max(1));
    Job::new(label, move |ctx| {
        let model = shipped_model().map_err(JobError::Failed)?;
        let prompt = prompt_of(&song, &request);
        let ppq = u64::from(song.ppq.max(1));
        let variations = request.variations.clamp(1, 16);
        let device = cadenza_models::Device::flex();
        let mut results = Vec::with_capacity(variations);
        let mut notices = Vec::new();
        let mut stats = Vec::new();
        let ranges = instrument_ranges(&prompt.header.instruments);
        for variation in 0..variations {
            let options = GenerationOptions {
                seed: request.options.seed.wrapping_add(variation as u64),
                ranges: ranges.clone(),
                ..request.options.clone()
            };
            let total = f64::from(options.bars.max(1)) * f64::from(prompt.bar_ticks);
            // The model counts from the prompt's first bar line; the song places the
            // continuation from the prompt's end.
            let prompt_end = prompt.bars * prompt.bar_ticks;
            let after_prompt = |n: &GridNote| GridNote { start: n.start.saturating_sub(prompt_end), ..*n };
            let generated = continue_prompt(&model, &prompt, &options, &device, ctx.cancel_flag(), |note| {
                let note = after_prompt(&note);
                let done = (f64::from(note.start) / total).min(1.0);
                ctx.progress((variation as f64 + done) / variations as f64, format!("variation {}", variation + 1));
                ctx.send(Event::ContinuationNote(StreamedNote {
                    id: ctx.id,
                    variation,
                    instrument: note.instrument,
                    note: song_note(&note, request.to, ppq),
                }));
            })
            .map_err(|e| match e {
                cadenza_models::continuation::generate::GenerateError::Cancelled => JobError::Cancelled,
                other => JobError::Failed(other.to_string()),
            })?;
            notices.extend(generated.notices.iter().map(ToString::to_string));
            stats.push((generated.tokens, generated.seconds, generated.first_note_seconds));
            let shifted: Vec<GridNote> = generated.notes.iter().map(after_prompt).collect();
            results.push(variation_tracks(&song, &shifted, request.to, &format!("continuation {}", variation + 1)));
        }
        notices.dedup();
        let tokens: usize = stats.iter().map(|s| s.0).sum();
        let seconds: f64 = stats.iter().map(|s| s.1).sum();
        Ok(JobOutput::Continued {
            variations: results,
            notices,
            tokens_per_second: tokens as f64 / seconds.max(1e-9),
            first_note_seconds: stats.first().and_then(|s| s.2),
        })
    })
}

/// Which style the request's prompt sounds like to the continuation model (the panel starts
/// from it). Quick: one pass over the prompt per style.
pub fn style_guess_job(song: Arc<Song>, request: ContinuationRequest) -> Job {
    Job::new("Recognising the prompt's style", move |_| {
        let model = shipped_model().map_err(JobError::Failed)?;
        let prompt = prompt_of(&song, &request);
        let device = cadenza_models::Device::flex();
        Ok(JobOutput::StyleGuessed(likely_style(&model, &prompt, &device)))
    })
}
