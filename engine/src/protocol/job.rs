//! Background jobs as both sides see them: ids, outputs and errors, and the context a running
//! job reports progress, notices and streamed events through.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;

use super::Event;
pub use super::job_id::JobId;
use crate::song::Song;

/// What a finished job hands back.
#[derive(Debug, Clone)]
pub enum JobOutput {
    Done,
    /// A song read from a file; the engine makes it the current song.
    SongLoaded {
        song: Arc<Song>,
        path: PathBuf,
    },
    /// A project read from its folder; the engine makes it the current song.
    ProjectLoaded {
        dir: PathBuf,
        data: crate::project::ProjectData,
    },
    /// A project written to its folder with its takes (paths now relative to it).
    ProjectSaved {
        dir: PathBuf,
        takes: Vec<crate::project::Take>,
    },
    /// Notes transcribed from an audio file, as a new song.
    Transcribed {
        song: Arc<Song>,
        source: PathBuf,
    },
    /// An audio file's posteriorgrams, kept so notes can be re-created from them at once.
    #[cfg(feature = "ml")]
    Listened(Arc<super::transcription::Listened>),
    /// Notes created from posteriorgrams.
    #[cfg(feature = "ml")]
    NotesCreated(Vec<cadenza_models::basic_pitch::NoteEvent>),
    MidiWritten {
        path: PathBuf,
    },
    Rendered {
        path: PathBuf,
        seconds: f64,
        synth: String,
    },
    /// Continuations of a passage: per variation, a track per instrument.
    #[cfg(feature = "ml")]
    Continued {
        variations: Vec<super::continuation::Variation>,
        notices: Vec<String>,
        tokens_per_second: f64,
        first_note_seconds: Option<f64>,
    },
    /// The style a passage sounds like to the continuation model (None without notes).
    #[cfg(feature = "ml")]
    StyleGuessed(Option<u8>),
    Message(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    Cancelled,
    Failed(String),
}

impl<E: std::error::Error> From<E> for JobError {
    fn from(err: E) -> Self {
        JobError::Failed(err.to_string())
    }
}

pub type JobResult = Result<JobOutput, JobError>;

/// A unit of background work.
pub struct Job {
    pub label: String,
    pub(crate) run: Box<dyn FnOnce(&JobContext) -> JobResult + Send>,
}

impl Job {
    pub fn new(label: impl Into<String>, run: impl FnOnce(&JobContext) -> JobResult + Send + 'static) -> Self {
        Self { label: label.into(), run: Box::new(run) }
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("label", &self.label).finish_non_exhaustive()
    }
}

/// Notices the user should see once per session (e.g. "no SoundFont, using the built-in synth").
#[derive(Debug, Clone, Default)]
pub struct Notices {
    shown: Arc<Mutex<HashSet<String>>>,
}

impl Notices {
    /// True the first time a given notice is offered.
    pub fn first_time(&self, notice: &str) -> bool {
        self.shown.lock().map(|mut shown| shown.insert(notice.to_string())).unwrap_or(true)
    }
}

/// What a running job sees: its id, a progress reporter, and its cancel flag.
pub struct JobContext {
    pub id: JobId,
    pub(crate) cancel: Arc<AtomicBool>,
    pub(crate) events: Sender<Event>,
    pub(crate) notices: Notices,
}

impl JobContext {
    /// Reports progress (0..=1) with a short message.
    pub fn progress(&self, fraction: f64, message: impl Into<String>) {
        let _ = self.events.send(Event::JobProgress {
            id: self.id,
            fraction: fraction.clamp(0.0, 1.0) as f32,
            message: message.into(),
        });
    }

    /// Reports progress and says whether to go on (false once cancel was asked), the shape
    /// the long-running library calls take as their progress callback.
    pub fn report(&self, fraction: f64, message: &str) -> bool {
        self.progress(fraction, message);
        !self.is_cancelled()
    }

    /// The flag library calls poll to stop early.
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    /// Streams an event to the app while the job runs (e.g. each note as it is generated).
    #[cfg(feature = "ml")]
    pub(crate) fn send(&self, event: Event) {
        let _ = self.events.send(event);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once cancel was asked, for `?` in job loops.
    pub fn check_cancelled(&self) -> Result<(), JobError> {
        if self.is_cancelled() { Err(JobError::Cancelled) } else { Ok(()) }
    }

    /// Tells the user something, once per session for the same text.
    pub fn notice(&self, text: impl Into<String>) {
        let text = text.into();
        if self.notices.first_time(&text) {
            let _ = self.events.send(Event::Notice(text));
        }
    }
}

/// The text of a caught panic (panics carry a `&str` or a `String`).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_string(),
        (_, Some(text)) => text.clone(),
        _ => "panic with no message".into(),
    }
}
