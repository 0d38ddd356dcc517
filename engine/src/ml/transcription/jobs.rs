//! The transcription jobs the engine queues: a file to a new song, and a file to its
//! posteriorgrams for the editor.

use std::path::PathBuf;
use std::sync::Arc;

use super::{DeviceChoice, Mode, TranscribeError, TranscribeOptions, listen, transcribe_on};
use crate::ml::runtime_slot::RuntimeSlot;
use crate::protocol::{Job, JobOutput};

/// Transcribes `path` into a new song; it starts on the CPU while `runtime` is still being
/// chosen and moves to the chosen device once it is known.
pub fn transcription_job(path: PathBuf, options: TranscribeOptions, runtime: RuntimeSlot) -> Job {
    Job::new(format!("Transcribe {}", path.display()), move |ctx| {
        let transcription = runtime
            .run_with_fallback(
                |notice| ctx.notice(notice),
                || {
                    let mut progress = |fraction: f32, message: &str| ctx.report(f64::from(fraction), message);
                    transcribe_on(&path, &options, DeviceChoice::Pending(&runtime), &mut progress)
                },
            )
            .map_err(TranscribeError::into_job_error)?;
        if let Some(damage) = transcription.damage {
            ctx.notice(damage);
        }
        Ok(JobOutput::Transcribed { song: Arc::new(transcription.song), source: path })
    })
}

/// Runs the model over `path` on the chosen device (waiting for the choice on the worker, not
/// on the engine thread) and keeps the posteriorgrams (the editor's sliders re-create notes
/// from them).
pub fn listen_job(path: PathBuf, mode: Mode, runtime: RuntimeSlot) -> Job {
    Job::new(format!("Listen to {}", path.display()), move |ctx| {
        let listened = runtime
            .run_with_fallback(
                |notice| ctx.notice(notice),
                || {
                    let device = runtime.wait().device.clone();
                    let mut progress = |fraction: f32, message: &str| ctx.report(f64::from(fraction), message);
                    listen(&path, mode, &device, &mut progress)
                },
            )
            .map_err(TranscribeError::into_job_error)?;
        Ok(JobOutput::Listened(Arc::new(listened)))
    })
}
