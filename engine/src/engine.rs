//! The engine thread. The GUI and the CLI talk to it only through [`Command`]s and
//! [`Event`]s; it owns the song, its history, the job workers and the ML runtime.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

#[cfg(feature = "ml")]
use cadenza_models::{BackendKind, BackendPreference, MlRuntime, probe_adapters, select_backend};
use crossbeam_channel::{Receiver, Sender, select, unbounded};

use crate::edit::Edit;
use crate::history::{GestureId, History};
use crate::jobs::{Job, JobContext, JobError, JobId, JobOutput, JobResult, Notices};
use crate::song::Song;
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
    Shutdown,
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
}

/// The GUI's or CLI's end of the engine.
pub struct EngineHandle {
    commands: Sender<Command>,
    events: Receiver<Event>,
    next_job: Arc<AtomicU64>,
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
        let thread = std::thread::Builder::new()
            .name("cadenza-engine".into())
            .spawn(move || EngineThread::new(config, event_tx).run(command_rx))?;
        Ok(EngineHandle {
            commands: command_tx,
            events: event_rx,
            next_job: Arc::new(AtomicU64::new(1)),
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
    #[cfg(feature = "ml")]
    runtime: Option<MlRuntime>,
    queue: Option<Sender<Queued>>,
    done_rx: Receiver<(JobId, JobResult)>,
    done_tx: Sender<(JobId, JobResult)>,
    cancels: HashMap<JobId, Arc<AtomicBool>>,
    workers: Vec<JoinHandle<()>>,
    notices: Notices,
}

impl EngineThread {
    fn new(config: EngineConfig, events: Sender<Event>) -> Self {
        let (done_tx, done_rx) = unbounded();
        Self {
            config,
            events,
            song: Arc::new(Song::default()),
            path: None,
            history: History::with_limit(1000),
            #[cfg(feature = "ml")]
            runtime: None,
            queue: None,
            done_rx,
            done_tx,
            cancels: HashMap::new(),
            workers: Vec::new(),
            notices: Notices::default(),
        }
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    fn run(mut self, commands: Receiver<Command>) {
        self.start_workers();
        #[cfg(feature = "ml")]
        if self.config.choose_backend_at_start {
            self.choose_backend();
        }
        loop {
            select! {
                recv(commands) -> command => match command {
                    Ok(Command::Shutdown) | Err(_) => break,
                    Ok(command) => self.handle(command),
                },
                recv(self.done_rx) -> done => if let Ok((id, result)) = done {
                    self.finish_job(id, result);
                },
            }
        }
        for cancel in self.cancels.values() {
            cancel.store(true, Ordering::Relaxed);
        }
        self.queue = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }

    #[cfg(feature = "ml")]
    fn choose_backend(&mut self) {
        let runtime = select_backend(self.config.backend, &probe_adapters());
        self.emit(Event::Backend {
            kind: runtime.kind,
            adapter: runtime.adapter.clone(),
            reason: runtime.reason.clone(),
        });
        self.runtime = Some(runtime);
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
            Command::SetSong(song) => {
                self.song = Arc::new(song);
                self.path = None;
                self.history.clear();
                self.song_changed();
            }
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
            Command::Cancel(id) => {
                if let Some(flag) = self.cancels.get(&id) {
                    flag.store(true, Ordering::Relaxed);
                }
            }
            Command::Shutdown => {}
        }
    }

    fn after_edit(&mut self, result: Result<bool, crate::edit::EditError>) {
        match result {
            Ok(true) => self.song_changed(),
            Ok(false) => {}
            Err(err) => self.emit(Event::CommandFailed(err.to_string())),
        }
    }

    fn song_changed(&self) {
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
                self.song = Arc::clone(&song);
                self.path = Some(path.clone());
                self.history.clear();
                self.song_changed();
                self.emit(Event::JobFinished { id, output: JobOutput::SongLoaded { song, path } });
            }
            Ok(output) => self.emit(Event::JobFinished { id, output }),
            Err(JobError::Cancelled) => self.emit(Event::JobCancelled { id }),
            Err(JobError::Failed(message)) => self.emit(Event::JobFailed { id, message }),
        }
    }
}

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
        ctx.progress(fraction, "rendering");
        !ctx.is_cancelled()
    })
    .map_err(|e| match e {
        crate::synth::RenderError::Cancelled => JobError::Cancelled,
        other => JobError::Failed(other.to_string()),
    })?;
    Ok(JobOutput::Rendered { path, seconds: frames as f64 / f64::from(synth.sample_rate()), synth: info.description })
}
