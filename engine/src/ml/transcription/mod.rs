//! Audio file → notes with Basic Pitch: decode and resample piece by piece, run the model window
//! by window, create notes, and place them in a new song at a tempo (with pitch bends).

pub mod batch;
mod jobs;
pub mod live;
mod placement;

use std::path::Path;

use cadenza_models::Device;
use cadenza_models::basic_pitch::stitch;
use cadenza_models::basic_pitch::{BasicPitch, SAMPLE_RATE, stream::StreamingTranscriber};
use thiserror::Error;

pub use self::jobs::{listen_job, transcription_job};
pub use self::placement::{Placement, Scale, song_from_events, tracks_from_events};
use crate::audio_file::{AudioFileError, AudioStream, read_stream};
use crate::ml::runtime_slot::RuntimeSlot;
use crate::protocol::JobError;
pub use crate::protocol::transcription::*;
use crate::song::Song;

/// Windows per model call: enough to keep the CPU busy, small enough for flat memory.
const BATCH: usize = 8;

#[derive(Debug, Error)]
pub enum TranscribeError {
    #[error(transparent)]
    Audio(#[from] AudioFileError),
    #[error("the transcription model cannot be loaded: {0}")]
    Model(String),
    #[error("cancelled")]
    Cancelled,
    #[error(
        "too long to edit its transcription here (at most {} min); use `cadenza transcribe`",
        MAX_LISTEN_SECONDS / 60.0
    )]
    TooLongToEdit,
}

impl TranscribeError {
    /// As a job's error: a cancelled transcription is not a failure.
    pub fn into_job_error(self) -> JobError {
        match self {
            Self::Cancelled => JobError::Cancelled,
            other => JobError::Failed(other.to_string()),
        }
    }
}

/// The file at the model's rate; in Cadenza mode without DC offset (basic-pitch keeps it).
fn open_audio(path: &Path, mode: Mode) -> Result<AudioStream, AudioFileError> {
    let stream = AudioStream::open(path, SAMPLE_RATE)?;
    Ok(if mode == Mode::Cadenza { stream.removing_dc() } else { stream })
}

/// Transcribes one file; `progress` gets the fraction done and returns false to cancel. The
/// file streams through: memory stays flat however long it is.
pub fn transcribe_file(
    path: &Path,
    options: &TranscribeOptions,
    device: &Device,
    progress: &mut dyn FnMut(f32, &str) -> bool,
) -> Result<Transcription, TranscribeError> {
    transcribe_on(path, options, DeviceChoice::Ready(device), progress)
}

/// Where a transcription runs: known, or still being chosen on another thread.
#[derive(Debug, Clone, Copy)]
pub enum DeviceChoice<'a> {
    Ready(&'a Device),
    Pending(&'a RuntimeSlot),
}

/// A file's notes, and what was wrong with the file if it was damaged (the notes are those of
/// the part that could be read).
#[derive(Debug, Clone, PartialEq)]
pub struct Transcription {
    pub song: Song,
    pub damage: Option<String>,
}

/// As [`transcribe_file`]. While the device is still being chosen (probing the graphics
/// drivers takes tens of milliseconds), the file starts on the CPU, and moves to the chosen
/// device once that is known if it is not the CPU; both run the same network.
pub fn transcribe_on(
    path: &Path,
    options: &TranscribeOptions,
    device: DeviceChoice<'_>,
    progress: &mut dyn FnMut(f32, &str) -> bool,
) -> Result<Transcription, TranscribeError> {
    if !progress(0.0, "reading audio") {
        return Err(TranscribeError::Cancelled);
    }
    let mut audio = open_audio(path, options.mode)?;
    let cpu = Device::flex();
    let (start, mut pending) = match device {
        DeviceChoice::Ready(device) => (device, None),
        DeviceChoice::Pending(slot) => match slot.get() {
            Some(runtime) => (&runtime.device, None),
            None => (&cpu, Some(slot)),
        },
    };
    let load = |device: &Device| BasicPitch::shipped(device).map_err(|e| TranscribeError::Model(e.to_string()));
    let model = load(start)?;
    // Declared before the transcriber, which borrows it once the choice is made.
    let chosen_model = std::cell::OnceCell::new();
    let mut transcriber = StreamingTranscriber::new(&model, start, options.mode, options.note_settings(), BATCH);
    let mut samples = 0usize;
    while let Some(piece) = audio.next_piece()? {
        if let Some(runtime) = pending.and_then(RuntimeSlot::get) {
            pending = None;
            // If the model cannot load there, the file simply finishes on the CPU.
            if runtime.device != cpu
                && let Ok(chosen) = chosen_model.get_or_init(|| load(&runtime.device))
            {
                transcriber.move_to(chosen, &runtime.device);
            }
        }
        samples += piece.len();
        transcriber.push(&piece);
        if !progress(0.95 * audio.fraction_read(), "listening") {
            return Err(TranscribeError::Cancelled);
        }
    }
    finish(path, options, &audio, samples, transcriber, progress)
}

/// As [`transcribe_file`] with the model already loaded on `device` (a batch loads it once per
/// worker, not once per file).
pub fn transcribe_with(
    path: &Path,
    options: &TranscribeOptions,
    model: &BasicPitch,
    device: &Device,
    progress: &mut dyn FnMut(f32, &str) -> bool,
) -> Result<Transcription, TranscribeError> {
    if !progress(0.0, "reading audio") {
        return Err(TranscribeError::Cancelled);
    }
    let mut audio = open_audio(path, options.mode)?;
    let mut transcriber = StreamingTranscriber::new(model, device, options.mode, options.note_settings(), BATCH);
    let mut samples = 0usize;
    while let Some(piece) = audio.next_piece()? {
        samples += piece.len();
        transcriber.push(&piece);
        if !progress(0.95 * audio.fraction_read(), "listening") {
            return Err(TranscribeError::Cancelled);
        }
    }
    finish(path, options, &audio, samples, transcriber, progress)
}

/// The notes of a file read to its end: an error if nothing could be read, else the song, with
/// what was wrong with the file if it was damaged.
fn finish(
    path: &Path,
    options: &TranscribeOptions,
    audio: &AudioStream,
    samples: usize,
    transcriber: StreamingTranscriber<'_>,
    progress: &mut dyn FnMut(f32, &str) -> bool,
) -> Result<Transcription, TranscribeError> {
    if samples == 0 {
        return Err(match audio.damage() {
            Some(reason) => AudioFileError::Damaged { path: path.to_path_buf(), reason },
            None => AudioFileError::Empty { path: path.to_path_buf() },
        }
        .into());
    }
    let events = transcriber.finish();
    progress(1.0, "notes");
    let name = path.file_stem().map_or_else(|| "Transcription".into(), |s| s.to_string_lossy().into_owned());
    Ok(Transcription {
        song: song_from_events(&events, options, &name),
        damage: audio.damage().map(|reason| {
            format!("{}: damaged audio, the notes are those of what could be read: {reason}", path.display())
        }),
    })
}

/// Longest audio kept as posteriorgrams for editing (about 100 MB of them).
pub const MAX_LISTEN_SECONDS: f64 = 20.0 * 60.0;

/// Runs the model over a whole file and keeps the posteriorgrams.
pub fn listen(
    path: &Path,
    mode: Mode,
    device: &Device,
    progress: &mut dyn FnMut(f32, &str) -> bool,
) -> Result<Listened, TranscribeError> {
    if !progress(0.0, "reading audio") {
        return Err(TranscribeError::Cancelled);
    }
    let audio = read_stream(open_audio(path, mode)?, SAMPLE_RATE, MAX_LISTEN_SECONDS).map_err(|e| match e {
        AudioFileError::TooLong { .. } => TranscribeError::TooLongToEdit,
        other => other.into(),
    })?;
    let seconds = audio.len() as f64 / f64::from(SAMPLE_RATE);
    let model = BasicPitch::shipped(device).map_err(|e| TranscribeError::Model(e.to_string()))?;
    let mut model_progress = |f: f32| progress(0.05 + 0.95 * f, "listening");
    let posteriorgrams = stitch::posteriorgrams_with_progress(&model, &audio, BATCH, mode, device, &mut model_progress)
        .ok_or(TranscribeError::Cancelled)?;
    Ok(Listened { source: path.to_path_buf(), mode, posteriorgrams, seconds })
}
