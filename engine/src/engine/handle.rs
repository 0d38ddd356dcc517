//! The GUI's or CLI's end of the engine: it sends commands, reads events and the transport,
//! and hands out job ids; dropping it stops the engine thread.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, unbounded};

use super::EngineConfig;
use crate::playback::PlayerStatus;
use crate::protocol::{Command, Event, Job, JobId};
use crate::studio::Studio;
use crate::synth::SoundFontChoice;

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

    /// Saves as a project (`None`: the current project folder).
    pub fn save_project(&self, path: Option<PathBuf>) -> JobId {
        let id = self.new_job_id();
        self.send(Command::SaveProject { id, path });
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
    pub fn transcribe(&self, path: impl Into<PathBuf>, options: crate::ml::transcription::TranscribeOptions) -> JobId {
        let id = self.new_job_id();
        self.send(Command::Transcribe { id, path: path.into(), options });
        id
    }

    #[cfg(feature = "ml")]
    pub fn listen(&self, path: impl Into<PathBuf>, mode: crate::ml::transcription::Mode) -> JobId {
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
            .spawn(move || super::EngineThread::new(config, event_tx, studio).run(command_rx))?;
        Ok(EngineHandle {
            commands: command_tx,
            events: event_rx,
            next_job: Arc::new(AtomicU64::new(1)),
            player,
            thread: Some(thread),
        })
    }
}
