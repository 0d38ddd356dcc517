//! The engine's protocol: the [`Command`]s the GUI and the CLI send, the [`Event`]s the engine
//! answers with, and the job types both sides name. It holds data only and depends on nothing
//! of the engine thread or the job workers, so the code that sends a message and the code that
//! handles it never import each other (the model jobs send events; the engine runs the jobs).

#[cfg(feature = "ml")]
pub mod continuation;
pub mod job;
mod job_id;
#[cfg(feature = "ml")]
pub mod latent;
#[cfg(feature = "ml")]
pub mod transcription;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

#[cfg(feature = "ml")]
use cadenza_models::BackendKind;

pub use job::{Job, JobContext, JobError, JobId, JobOutput, JobResult, Notices};

use crate::devices::recorder::RecordingMeter;
use crate::edit::Edit;
use crate::history::GestureId;
use crate::playback::TransportSettings;
use crate::project::Take;
use crate::song::{Song, Track};
use crate::studio::DeviceList;
use crate::synth::SoundFontChoice;

#[derive(Debug)]
pub enum Command {
    /// Read a MIDI file in the background and make it the current song.
    OpenMidi {
        id: JobId,
        path: PathBuf,
    },
    /// Replace the current song (clears undo history).
    SetSong(Song),
    Edit(Edit),
    /// Part of a gesture: consecutive edits with one id undo as one step.
    EditInGesture(Edit, GestureId),
    EndGesture,
    Undo,
    Redo,
    ExportMidi {
        id: JobId,
        path: PathBuf,
    },
    /// Render the current song to a WAV file.
    Render {
        id: JobId,
        path: PathBuf,
        soundfont: Option<SoundFontChoice>,
    },
    /// Run any job on the workers.
    Submit {
        id: JobId,
        job: Job,
    },
    Cancel(JobId),
    /// Transcribe an audio file with Basic Pitch into a new song (the current song stays).
    #[cfg(feature = "ml")]
    Transcribe {
        id: JobId,
        path: PathBuf,
        options: transcription::TranscribeOptions,
    },
    /// Run Basic Pitch over an audio file and keep its posteriorgrams (for the editor).
    #[cfg(feature = "ml")]
    Listen {
        id: JobId,
        path: PathBuf,
        mode: transcription::Mode,
    },
    /// An empty song (one piano track), as a new unsaved project.
    NewSong,
    /// Open a project folder (or its project.json).
    OpenProject {
        id: JobId,
        path: PathBuf,
    },
    /// Save as a project; `None` saves to the current project folder. A job (copying takes on
    /// a first save can take a while); [`Event::ProjectSaved`] follows it.
    SaveProject {
        id: JobId,
        path: Option<PathBuf>,
    },
    /// Take the unsaved work found at start, or throw it away.
    RestoreRecovery,
    DiscardRecovery,
    Play,
    Pause,
    /// Pause and return to the loop start (or the song start).
    Stop,
    Seek(u64),
    SetTransport(TransportSettings),
    /// Sound a note with a track's instrument (clicking a key, placing a note).
    Preview {
        track: usize,
        pitch: u8,
        velocity: u8,
    },
    RefreshDevices,
    /// Choose the ML backend again (Devices ▸ ML backend): jobs running keep their device,
    /// later ones get the new choice, which an [`Event::Backend`] reports.
    #[cfg(feature = "ml")]
    SetBackend(cadenza_models::BackendPreference),
    ConnectMidiInput(Option<String>),
    ConnectMidiOutput(Option<String>),
    /// Record the keyboard into this track while playing (`None` disarms).
    ArmTrack(Option<usize>),
    /// Start recording audio from a device (the default when `None`) at the playhead.
    RecordAudio {
        device: Option<String>,
    },
    StopRecordAudio,
    /// Open the audio input (the default when `None`) for its level meter, or close it.
    MonitorInput {
        device: Option<String>,
        on: bool,
    },
    /// Encode clips, decode points of the latent space (the melody models; answered with
    /// [`Event::Latent`]). The models load on the first request.
    #[cfg(feature = "ml")]
    Latent(latent::LatentRequest),
    /// Play a ghost track with the song, looping over its range (`None` stops and gives the
    /// song back as it was). Sending a new one while it plays swaps the notes in time.
    Audition(Option<Audition>),
    Shutdown,
}

/// A track heard with the song but not part of it (a latent point, a continuation).
#[derive(Debug, Clone, PartialEq)]
pub struct Audition {
    /// One track per instrument.
    pub tracks: Vec<Track>,
    /// Loop over these ticks while it plays.
    pub loop_ticks: (u64, u64),
}

#[derive(Debug, Clone)]
pub enum Event {
    /// Which ML backend the engine chose, and why.
    #[cfg(feature = "ml")]
    Backend {
        kind: BackendKind,
        adapter: Option<String>,
        reason: String,
    },
    /// Something the user should know, said once.
    Notice(String),
    /// A note a continuation job just generated.
    #[cfg(feature = "ml")]
    ContinuationNote(continuation::StreamedNote),
    SongChanged {
        song: Arc<Song>,
        path: Option<PathBuf>,
        can_undo: bool,
        can_redo: bool,
    },
    JobStarted {
        id: JobId,
        label: String,
    },
    JobProgress {
        id: JobId,
        fraction: f32,
        message: String,
    },
    JobFinished {
        id: JobId,
        output: JobOutput,
    },
    JobFailed {
        id: JobId,
        message: String,
    },
    JobCancelled {
        id: JobId,
    },
    /// A command that could not be carried out (e.g. an edit naming a missing note).
    CommandFailed(String),
    /// The sound output: whether a device plays it, and one line to show.
    Audio {
        device: bool,
        description: String,
    },
    Devices(DeviceList),
    /// The song's audio takes, with the folder their paths are relative to.
    Takes {
        takes: Vec<Take>,
        root: PathBuf,
    },
    RecordingStarted {
        path: PathBuf,
        meter: Arc<RecordingMeter>,
    },
    RecordingStopped,
    /// Notes transcribed live from the take being recorded.
    #[cfg(feature = "ml")]
    LiveNotes(transcription::LiveNotes),
    /// The input level meter opened (`Some`) or closed (`None`).
    InputMonitor(Option<Arc<RecordingMeter>>),
    ProjectSaved {
        path: PathBuf,
    },
    /// Unsaved work from a run that did not end cleanly.
    RecoveryAvailable {
        saved_at: Option<SystemTime>,
        project: Option<PathBuf>,
        notes: usize,
    },
    Autosaved,
    /// Whether the song has changes that are not in a saved project.
    Dirty(bool),
    #[cfg(feature = "ml")]
    Latent(latent::LatentReply),
}
