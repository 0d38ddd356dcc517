//! The engine thread. The GUI and the CLI talk to it only through [`Command`]s and
//! [`Event`]s; it owns the song, its history, the job workers and the ML runtime.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

#[cfg(feature = "ml")]
use cadenza_models::{BackendKind, BackendPreference, probe_adapters, select_backend};
use crossbeam_channel::{Receiver, Sender, never, select, tick, unbounded};

use crate::devices::recorder::RecordingMeter;
use crate::edit::Edit;
use crate::history::{GestureId, History};
use crate::jobs::{Job, JobContext, JobError, JobId, JobOutput, JobResult, Notices};
use crate::playback::{OutputChoice, PlayerStatus, TransportSettings};
use crate::project::{self, ProjectData, Take};
use crate::song::{Song, Track};
use crate::studio::{DeviceList, Studio};
use crate::synth::{RenderOptions, SoundFontChoice, load_synth, render_to_wav};

/// How the engine starts.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    #[cfg(feature = "ml")]
    pub backend: BackendPreference,
    /// Choose the ML backend when the engine starts (the GUI). Headless jobs that run no model
    /// turn this off and skip probing graphics drivers.
    #[cfg(feature = "ml")]
    pub choose_backend_at_start: bool,
    pub soundfont: SoundFontChoice,
    /// Background job workers.
    pub workers: usize,
    /// Open sound and MIDI devices (the window); headless jobs leave them alone.
    pub live: bool,
    pub output: OutputChoice,
    /// How often unsaved work is written to the recovery file.
    pub autosave_every: Duration,
    /// Where the recovery file and unsaved takes live.
    pub state_dir: PathBuf,
}

impl EngineConfig {
    /// A live session that touches no device and no GPU: silent output on the real clock, the
    /// built-in synth, the CPU backend, state in `state_dir` (tests, headless sessions).
    pub fn silent(state_dir: PathBuf) -> Self {
        Self {
            #[cfg(feature = "ml")]
            backend: BackendPreference::Cpu,
            #[cfg(feature = "ml")]
            choose_backend_at_start: false,
            soundfont: SoundFontChoice::Builtin,
            live: true,
            output: OutputChoice::Silent,
            state_dir,
            ..Self::default()
        }
    }
}

/// 30 s, or `CADENZA_AUTOSAVE_SECS`.
fn autosave_interval_from_env() -> Duration {
    let secs = std::env::var("CADENZA_AUTOSAVE_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(30.0);
    Duration::from_secs_f64(secs.clamp(0.05, 3600.0))
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            #[cfg(feature = "ml")]
            backend: BackendPreference::Auto,
            #[cfg(feature = "ml")]
            choose_backend_at_start: true,
            soundfont: SoundFontChoice::Auto,
            workers: 2,
            live: false,
            output: OutputChoice::from_env(),
            autosave_every: autosave_interval_from_env(),
            state_dir: project::state_dir(),
        }
    }
}

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
        options: crate::transcribe::TranscribeOptions,
    },
    /// Run Basic Pitch over an audio file and keep its posteriorgrams (for the editor).
    #[cfg(feature = "ml")]
    Listen {
        id: JobId,
        path: PathBuf,
        mode: crate::transcribe::Mode,
    },
    /// An empty song (one piano track), as a new unsaved project.
    NewSong,
    /// Open a project folder (or its project.json).
    OpenProject {
        id: JobId,
        path: PathBuf,
    },
    /// Save as a project; `None` saves to the current project folder.
    SaveProject {
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
    Latent(crate::latent::LatentRequest),
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
    ContinuationNote(crate::continuation::StreamedNote),
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
    LiveNotes(crate::live_transcription::LiveNotes),
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
    Latent(crate::latent::LatentReply),
}

/// The GUI's or CLI's end of the engine.
pub struct EngineHandle {
    commands: Sender<Command>,
    events: Receiver<Event>,
    next_job: Arc<AtomicU64>,
    player: Arc<PlayerStatus>,
    thread: Option<JoinHandle<()>>,
}

impl EngineHandle {
    pub fn send(&self, command: Command) {
        // A closed channel means the engine has stopped; there is nobody left to tell.
        let _ = self.commands.send(command);
    }

    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// The transport's state, read without waiting for the engine.
    pub fn player(&self) -> &PlayerStatus {
        &self.player
    }

    pub fn open_project(&self, path: impl Into<PathBuf>) -> JobId {
        let id = self.new_job_id();
        self.send(Command::OpenProject { id, path: path.into() });
        id
    }

    fn new_job_id(&self) -> JobId {
        JobId(self.next_job.fetch_add(1, Ordering::Relaxed))
    }

    pub fn open_midi(&self, path: impl Into<PathBuf>) -> JobId {
        let id = self.new_job_id();
        self.send(Command::OpenMidi { id, path: path.into() });
        id
    }

    pub fn export_midi(&self, path: impl Into<PathBuf>) -> JobId {
        let id = self.new_job_id();
        self.send(Command::ExportMidi { id, path: path.into() });
        id
    }

    pub fn render(&self, path: impl Into<PathBuf>, soundfont: Option<SoundFontChoice>) -> JobId {
        let id = self.new_job_id();
        self.send(Command::Render { id, path: path.into(), soundfont });
        id
    }

    #[cfg(feature = "ml")]
    pub fn transcribe(&self, path: impl Into<PathBuf>, options: crate::transcribe::TranscribeOptions) -> JobId {
        let id = self.new_job_id();
        self.send(Command::Transcribe { id, path: path.into(), options });
        id
    }

    #[cfg(feature = "ml")]
    pub fn listen(&self, path: impl Into<PathBuf>, mode: crate::transcribe::Mode) -> JobId {
        let id = self.new_job_id();
        self.send(Command::Listen { id, path: path.into(), mode });
        id
    }

    pub fn submit(&self, job: Job) -> JobId {
        let id = self.new_job_id();
        self.send(Command::Submit { id, job });
        id
    }

    pub fn cancel(&self, id: JobId) {
        self.send(Command::Cancel(id));
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub struct Engine;

impl Engine {
    /// Starts the engine thread and its job workers.
    pub fn spawn(config: EngineConfig) -> std::io::Result<EngineHandle> {
        let (command_tx, command_rx) = unbounded();
        let (event_tx, event_rx) = unbounded();
        let studio = Studio::new();
        let player = studio.player_status();
        let thread = std::thread::Builder::new()
            .name("cadenza-engine".into())
            .spawn(move || EngineThread::new(config, event_tx, studio).run(command_rx))?;
        Ok(EngineHandle {
            commands: command_tx,
            events: event_rx,
            next_job: Arc::new(AtomicU64::new(1)),
            player,
            thread: Some(thread),
        })
    }
}

struct Queued {
    id: JobId,
    job: Job,
    cancel: Arc<AtomicBool>,
}

struct EngineThread {
    config: EngineConfig,
    events: Sender<Event>,
    song: Arc<Song>,
    path: Option<PathBuf>,
    history: History,
    /// The ML runtime, once chosen (on a thread of its own: probing the drivers takes tens of
    /// milliseconds, which a transcription spends running on the CPU instead of waiting).
    #[cfg(feature = "ml")]
    runtime: crate::runtime_slot::RuntimeSlot,
    queue: Option<Sender<Queued>>,
    done_rx: Receiver<(JobId, JobResult)>,
    done_tx: Sender<(JobId, JobResult)>,
    cancels: HashMap<JobId, Arc<AtomicBool>>,
    workers: Vec<JoinHandle<()>>,
    notices: Notices,
    studio: Studio,
    /// The saved project this song belongs to.
    project_dir: Option<PathBuf>,
    takes: Vec<Take>,
    /// Changes since the last save / since the last autosave.
    dirty: bool,
    autosave_due: bool,
    recovery: Option<ProjectData>,
    /// Each keyboard recording pass is one undo step.
    record_pass: u64,
    /// The input meter to reopen after a take (its device, `None` = default).
    resume_monitor: Option<Option<String>>,
    /// The live transcription of the take being recorded, and the take's name.
    #[cfg(feature = "ml")]
    live: Option<(crate::live_transcription::LiveTranscription, String)>,
    #[cfg(feature = "ml")]
    latent: Option<crate::latent::LatentWorker>,
    /// The ghost track being auditioned, and the transport settings to restore after it.
    audition: Option<(Audition, TransportSettings)>,
}

impl EngineThread {
    fn new(config: EngineConfig, events: Sender<Event>, studio: Studio) -> Self {
        let (done_tx, done_rx) = unbounded();
        Self {
            config,
            events,
            song: Arc::new(Song::default()),
            path: None,
            history: History::with_limit(1000),
            #[cfg(feature = "ml")]
            runtime: crate::runtime_slot::RuntimeSlot::default(),
            queue: None,
            done_rx,
            done_tx,
            cancels: HashMap::new(),
            workers: Vec::new(),
            notices: Notices::default(),
            studio,
            project_dir: None,
            takes: Vec::new(),
            dirty: false,
            autosave_due: false,
            recovery: None,
            record_pass: 0,
            resume_monitor: None,
            #[cfg(feature = "ml")]
            live: None,
            #[cfg(feature = "ml")]
            latent: None,
            audition: None,
        }
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    fn run(mut self, commands: Receiver<Command>) {
        self.start_workers();
        if self.config.live {
            self.start_live();
        }
        #[cfg(feature = "ml")]
        if self.config.choose_backend_at_start {
            self.choose_backend();
        }
        #[cfg(feature = "ml")]
        if self.config.live {
            // The window's models load on start, off this thread; a broken one is said at once.
            let events = self.events.clone();
            std::thread::spawn(move || {
                if let Err(message) = crate::continuation::shipped_model() {
                    let _ = events.send(Event::Notice(message));
                }
            });
        }
        let autosave = if self.config.live { tick(self.config.autosave_every) } else { never() };
        let device_watch = if self.config.live { tick(Duration::from_secs(2)) } else { never() };
        let keyboard = self.studio.keyboard_events().clone();
        loop {
            select! {
                recv(commands) -> command => match command {
                    Ok(Command::Shutdown) | Err(_) => break,
                    Ok(command) => self.handle(command),
                },
                recv(self.done_rx) -> done => if let Ok((id, result)) = done {
                    self.finish_job(id, result);
                },
                recv(keyboard) -> input => if let Ok(input) = input {
                    self.keyboard(input);
                },
                recv(autosave) -> _ => self.autosave(),
                recv(device_watch) -> _ => self.watch_devices(),
            }
        }
        if self.config.live {
            self.finish_session();
        }
        for cancel in self.cancels.values() {
            cancel.store(true, Ordering::Relaxed);
        }
        self.queue = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }

    /// The ML device, waiting for the backend choice (and starting it if nobody has).
    #[cfg(feature = "ml")]
    fn ml_device(&mut self) -> cadenza_models::Device {
        self.choose_backend();
        self.runtime.wait().device.clone()
    }

    /// Starts choosing the ML backend on its own thread, once; says what was chosen.
    #[cfg(feature = "ml")]
    fn choose_backend(&mut self) {
        let preference = self.config.backend;
        let events = self.events.clone();
        self.runtime.choose(move || {
            // Asking for the CPU needs no look at the graphics drivers.
            let adapters = if preference == BackendPreference::Cpu { Vec::new() } else { probe_adapters() };
            let runtime = select_backend(preference, &adapters);
            let _ = events.send(Event::Backend {
                kind: runtime.kind,
                adapter: runtime.adapter.clone(),
                reason: runtime.reason.clone(),
            });
            runtime
        });
    }

    fn start_workers(&mut self) {
        let (queue_tx, queue_rx) = unbounded::<Queued>();
        for n in 0..self.config.workers.max(1) {
            let queue = queue_rx.clone();
            let events = self.events.clone();
            let done = self.done_tx.clone();
            let notices = self.notices.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("cadenza-job-{n}"))
                .spawn(move || worker_loop(queue, events, done, notices));
            match spawned {
                Ok(handle) => self.workers.push(handle),
                Err(err) => self.emit(Event::Notice(format!("could not start a job worker: {err}"))),
            }
        }
        self.queue = Some(queue_tx);
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::OpenMidi { id, path } => self.enqueue(
                id,
                Job::new(format!("Open {}", path.display()), move |ctx| {
                    ctx.progress(0.0, "reading");
                    let song = crate::midi::read_song(&path)?;
                    Ok(JobOutput::SongLoaded { song: Arc::new(song), path })
                }),
            ),
            Command::SetSong(song) => self.replace_song(Arc::new(song), None, None, Vec::new()),
            Command::Edit(edit) => {
                let result = self.history.apply(Arc::make_mut(&mut self.song), edit);
                self.after_edit(result.map(|_| true));
            }
            Command::EditInGesture(edit, gesture) => {
                let result = self.history.apply_in_gesture(Arc::make_mut(&mut self.song), edit, gesture);
                self.after_edit(result.map(|_| true));
            }
            Command::EndGesture => self.history.end_gesture(),
            Command::Undo => {
                let result = self.history.undo(Arc::make_mut(&mut self.song));
                self.after_edit(result);
            }
            Command::Redo => {
                let result = self.history.redo(Arc::make_mut(&mut self.song));
                self.after_edit(result);
            }
            Command::ExportMidi { id, path } => {
                let song = Arc::clone(&self.song);
                self.enqueue(
                    id,
                    Job::new(format!("Export {}", path.display()), move |_| {
                        crate::midi::write_song(&song, &path)?;
                        Ok(JobOutput::MidiWritten { path })
                    }),
                );
            }
            Command::Render { id, path, soundfont } => {
                let song = Arc::clone(&self.song);
                let soundfont = soundfont.unwrap_or_else(|| self.config.soundfont.clone());
                self.enqueue(
                    id,
                    Job::new(format!("Render {}", path.display()), move |ctx| render_job(ctx, &song, &soundfont, path)),
                );
            }
            Command::Submit { id, job } => self.enqueue(id, job),
            #[cfg(feature = "ml")]
            Command::Transcribe { id, path, options } => {
                // The job starts on the CPU while the backend is still being chosen.
                self.choose_backend();
                let runtime = self.runtime.clone();
                self.enqueue(
                    id,
                    Job::new(format!("Transcribe {}", path.display()), move |ctx| {
                        let mut progress = |fraction: f32, message: &str| ctx.report(f64::from(fraction), message);
                        let device = crate::transcribe::DeviceChoice::Pending(&runtime);
                        let song = crate::transcribe::transcribe_on(&path, &options, device, &mut progress)
                            .map_err(crate::transcribe::TranscribeError::into_job_error)?;
                        Ok(JobOutput::Transcribed { song: Arc::new(song), source: path })
                    }),
                );
            }
            #[cfg(feature = "ml")]
            Command::Listen { id, path, mode } => {
                let device = self.ml_device();
                self.enqueue(
                    id,
                    Job::new(format!("Listen to {}", path.display()), move |ctx| {
                        let mut progress = |fraction: f32, message: &str| ctx.report(f64::from(fraction), message);
                        let listened = crate::transcribe::listen(&path, mode, &device, &mut progress)
                            .map_err(crate::transcribe::TranscribeError::into_job_error)?;
                        Ok(JobOutput::Listened(Arc::new(listened)))
                    }),
                );
            }
            Command::Cancel(id) => {
                if let Some(flag) = self.cancels.get(&id) {
                    flag.store(true, Ordering::Relaxed);
                }
            }
            Command::NewSong => self.new_song(),
            Command::OpenProject { id, path } => self.open_project(id, path),
            Command::SaveProject { path } => self.save_project(path),
            Command::RestoreRecovery => self.restore_recovery(),
            Command::DiscardRecovery => {
                self.recovery = None;
                project::clear_recovery(&self.config.state_dir);
            }
            Command::Play => self.studio.play(),
            Command::Pause => self.studio.pause(),
            Command::Stop => {
                self.studio.pause();
                self.studio.seek(self.studio.settings().loop_ticks.map_or(0, |(start, _)| start));
            }
            Command::Seek(tick) => self.studio.seek(tick),
            Command::SetTransport(settings) => self.studio.set_settings(settings),
            Command::Preview { track, pitch, velocity } => {
                if let Some(t) = self.song.tracks.get(track) {
                    let (program, drum) = (t.program, t.is_drum);
                    self.studio.preview(program, drum, pitch, velocity);
                }
            }
            Command::RefreshDevices => self.watch_devices(),
            Command::ConnectMidiInput(port) => {
                let result = self.studio.connect_midi_input(port);
                self.device_result(result);
            }
            Command::ConnectMidiOutput(port) => {
                let result = self.studio.connect_midi_output(port);
                self.device_result(result);
            }
            Command::ArmTrack(track) => {
                self.record_pass += 1;
                self.studio.arm(track.filter(|&t| t < self.song.tracks.len()));
                if let Some(t) = track.and_then(|t| self.song.tracks.get(t)) {
                    self.studio.set_keyboard_program(t.program);
                }
            }
            Command::RecordAudio { device } => self.record_audio(device.as_deref()),
            Command::StopRecordAudio => self.stop_record_audio(),
            Command::MonitorInput { device, on } => self.monitor_input(device, on),
            #[cfg(feature = "ml")]
            Command::Latent(request) => self.latent(request),
            Command::Audition(audition) => self.audition(audition),
            Command::Shutdown => {}
        }
    }

    fn after_edit(&mut self, result: Result<bool, crate::edit::EditError>) {
        match result {
            Ok(true) => {
                self.mark_dirty();
                self.song_changed();
            }
            Ok(false) => {}
            Err(err) => self.emit(Event::CommandFailed(err.to_string())),
        }
    }

    #[cfg(feature = "ml")]
    fn latent(&mut self, request: crate::latent::LatentRequest) {
        if self.latent.is_none() {
            let (models, errors) = crate::latent::shipped_models();
            for error in errors {
                self.emit(Event::Notice(error));
            }
            let events = self.events.clone();
            match crate::latent::LatentWorker::start(models, move |reply| {
                let _ = events.send(Event::Latent(reply));
            }) {
                Ok(worker) => self.latent = Some(worker),
                Err(e) => {
                    self.emit(Event::CommandFailed(format!("could not start the melody models: {e}")));
                    return;
                }
            }
        }
        if let Some(worker) = &self.latent {
            worker.send(request);
        }
    }

    fn audition(&mut self, audition: Option<Audition>) {
        match (audition, self.audition.take()) {
            (Some(next), previous) => {
                // Only the first audition starts playback from the loop's start; later points
                // swap the notes in place (and leave a pause the user chose alone).
                let first = previous.is_none();
                let restore = previous.map_or_else(|| self.studio.settings(), |(_, settings)| settings);
                let looping = TransportSettings { loop_ticks: Some(next.loop_ticks), ..restore };
                let start = next.loop_ticks.0;
                self.audition = Some((next, restore));
                self.studio.set_settings(looping);
                self.studio.set_song(self.heard_song());
                if first {
                    self.studio.seek(start);
                    self.studio.play();
                }
            }
            (None, Some((_, restore))) => {
                self.studio.pause();
                self.studio.set_settings(restore);
                self.studio.set_song(Arc::clone(&self.song));
            }
            (None, None) => {}
        }
    }

    /// The song as the player should hear it: with the ghost track while one is auditioned.
    fn heard_song(&self) -> Arc<Song> {
        match &self.audition {
            None => Arc::clone(&self.song),
            Some((audition, _)) => {
                let mut song = (*self.song).clone();
                song.tracks.extend(audition.tracks.iter().cloned());
                Arc::new(song)
            }
        }
    }

    fn song_changed(&self) {
        self.studio.set_song(self.heard_song());
        self.emit(Event::SongChanged {
            song: Arc::clone(&self.song),
            path: self.path.clone(),
            can_undo: self.history.can_undo(),
            can_redo: self.history.can_redo(),
        });
    }

    fn enqueue(&mut self, id: JobId, job: Job) {
        let cancel = Arc::new(AtomicBool::new(false));
        self.cancels.insert(id, Arc::clone(&cancel));
        self.emit(Event::JobStarted { id, label: job.label.clone() });
        let sent = self.queue.as_ref().is_some_and(|q| q.send(Queued { id, job, cancel }).is_ok());
        if !sent {
            self.finish_job(id, Err(JobError::Failed("no job worker is running".into())));
        }
    }

    fn finish_job(&mut self, id: JobId, result: JobResult) {
        self.cancels.remove(&id);
        match result {
            Ok(JobOutput::SongLoaded { song, path }) => {
                self.replace_song(Arc::clone(&song), Some(path.clone()), None, Vec::new());
                self.emit(Event::JobFinished { id, output: JobOutput::SongLoaded { song, path } });
            }
            Ok(JobOutput::ProjectLoaded { dir, data }) => {
                let output = JobOutput::SongLoaded { song: Arc::new(data.song.clone()), path: dir.clone() };
                self.replace_song(Arc::new(data.song), Some(dir.clone()), Some(dir), data.takes);
                self.emit(Event::JobFinished { id, output });
            }
            Ok(output) => self.emit(Event::JobFinished { id, output }),
            Err(JobError::Cancelled) => self.emit(Event::JobCancelled { id }),
            Err(JobError::Failed(message)) => self.emit(Event::JobFailed { id, message }),
        }
    }
}

mod session;

/// A worker takes jobs until the queue closes. A panicking job becomes a failure report and
/// the worker carries on.
fn worker_loop(queue: Receiver<Queued>, events: Sender<Event>, done: Sender<(JobId, JobResult)>, notices: Notices) {
    for Queued { id, job, cancel } in queue {
        let ctx = JobContext { id, cancel, events: events.clone(), notices: notices.clone() };
        let result = if ctx.is_cancelled() {
            Err(JobError::Cancelled)
        } else {
            let run = job.run;
            catch_unwind(AssertUnwindSafe(|| run(&ctx))).unwrap_or_else(|panic| {
                Err(JobError::Failed(format!("internal error: {}", crate::jobs::panic_message(panic.as_ref()))))
            })
        };
        if done.send((id, result)).is_err() {
            break;
        }
    }
}

fn render_job(ctx: &JobContext, song: &Song, soundfont: &SoundFontChoice, path: PathBuf) -> JobResult {
    ctx.progress(0.0, "loading the synth");
    let (mut synth, info) = load_synth(soundfont, 44_100)?;
    if let Some(notice) = &info.notice {
        ctx.notice(notice.clone());
    }
    ctx.check_cancelled()?;
    let frames = render_to_wav(song, synth.as_mut(), &path, RenderOptions::default(), |fraction| {
        ctx.report(fraction, "rendering")
    })
    .map_err(|e| match e {
        crate::synth::RenderError::Cancelled => JobError::Cancelled,
        other => JobError::Failed(other.to_string()),
    })?;
    Ok(JobOutput::Rendered { path, seconds: frames as f64 / f64::from(synth.sample_rate()), synth: info.description })
}
