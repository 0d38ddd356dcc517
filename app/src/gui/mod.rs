//! The window. It never blocks: it sends commands to the engine and draws what comes back.
//! Edits are applied to the window's copy of the song at once (so the roll answers in the same
//! frame) and sent to the engine, whose song and history stay the authority.

pub mod continuation;
mod dialogs;
pub mod interpolate;
pub mod roll;
pub mod session;
mod status;
pub mod studio;
mod takes;
#[cfg(test)]
mod tests;
mod tracks;
mod transcription;
mod transport;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use cadenza_engine::playback::TransportSettings;
use cadenza_engine::project;
use cadenza_engine::{Command, Engine, EngineConfig, EngineHandle, Event, JobId, JobOutput};
use crossbeam_channel::Receiver;
use eframe::egui;

use crate::demo;
pub use dialogs::{Dialog, PathPurpose};
pub use roll::{RollAction, RollInput, RollView};
pub use session::{JobEnd, JobOwner, JobStatus, Session};
pub use studio::{LiveNotesView, LiveTake, Studio};

pub fn run(config: EngineConfig, file: Option<PathBuf>) -> Result<()> {
    let started = Instant::now();
    let config = EngineConfig { live: true, ..config };
    let state_dir = config.state_dir.clone();
    let engine = Engine::spawn(config).map_err(|e| anyhow!("could not start the engine thread: {e}"))?;
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 800.0])
            .with_title("Cadenza")
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "Cadenza",
        options,
        Box::new(move |cc| {
            let mut app = CadenzaApp::new(engine, state_dir);
            app.wake_on_events(&cc.egui_ctx)?;
            app.started = Some(started);
            match file {
                Some(path) => app.open_any(&path),
                None => app.load_demo(),
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow!("could not open the window: {e}"))
}

pub struct CadenzaApp {
    /// The song, its view and the engine link: what the panels are given.
    pub session: Session,
    pub studio: Studio,
    /// The engine's events, or (in the window) their copy forwarded by a thread that wakes
    /// the window for each one.
    events: Receiver<Event>,
    pub transcription: transcription::Panel,
    pub interpolate: interpolate::Panel,
    pub continuation: continuation::Panel,
    pub dialog: Option<Dialog>,
    pub recent: Vec<PathBuf>,
    /// Where recent files (and, in the engine, the recovery file) are kept.
    pub state_dir: PathBuf,
    /// When the process started, to report the time to the first frame.
    pub started: Option<Instant>,
    pub first_frame: Option<Duration>,
    fitted: bool,
}

impl CadenzaApp {
    pub fn new(engine: EngineHandle, state_dir: PathBuf) -> Self {
        let events = engine.events().clone();
        Self {
            session: Session::new(engine),
            studio: Studio::default(),
            events,
            transcription: transcription::Panel::default(),
            interpolate: interpolate::Panel::default(),
            continuation: continuation::Panel::default(),
            dialog: None,
            recent: dialogs::load_recent(&state_dir),
            state_dir,
            started: None,
            first_frame: None,
            fitted: false,
        }
    }

    /// Forwards the engine's events through a thread that wakes the window for each one, so
    /// an idle window sleeps instead of polling, and a finished job is drawn at once.
    pub fn wake_on_events(&mut self, ctx: &egui::Context) -> std::io::Result<()> {
        let (forward, forwarded) = crossbeam_channel::unbounded();
        let (events, ctx) = (self.session.engine.events().clone(), ctx.clone());
        std::thread::Builder::new().name("cadenza-window-waker".into()).spawn(move || {
            // Ends when the engine thread stops (its sender goes) or the window closes.
            for event in events.iter() {
                if forward.send(event).is_err() {
                    break;
                }
                ctx.request_repaint();
            }
        })?;
        self.events = forwarded;
        Ok(())
    }

    pub fn load_demo(&mut self) {
        match demo::song() {
            Ok(song) => {
                self.session.send(Command::SetSong(song));
                self.session.title = demo::DEMO_NAME.to_string();
            }
            Err(err) => self.session.notices.push(format!("the demo song cannot be read: {err:#}")),
        }
    }

    /// Opens a MIDI file or a project, by what the path is.
    pub fn open_path(&mut self, path: &Path) {
        if project::is_project(path) {
            self.session.engine.open_project(path.to_path_buf());
        } else {
            self.session.engine.open_midi(path.to_path_buf());
        }
        self.fitted = false;
        dialogs::remember(&self.state_dir, &mut self.recent, path);
    }

    pub fn save_project(&mut self, path: Option<PathBuf>) {
        let session = &self.session;
        if path.is_none() && !session.path.as_ref().is_some_and(|p| project::is_project(p)) {
            self.dialog = Some(Dialog::path(PathPurpose::SaveProject, session.path.as_deref()));
            return;
        }
        if let Some(p) = &path {
            dialogs::remember(&self.state_dir, &mut self.recent, &project::project_dir(p));
        }
        self.session.engine.save_project(path);
    }

    /// Runs Basic Pitch over an audio file; its notes will land `offset_seconds` into the song.
    pub fn transcribe_audio(&mut self, path: &Path, offset_seconds: f64) {
        self.transcription.transcribe(&mut self.session, path, offset_seconds);
    }

    fn act(&mut self, action: RollAction) {
        let session = &mut self.session;
        match action {
            RollAction::Edit(edit) => session.edit(edit),
            RollAction::Preview { pitch, velocity } => {
                session.send(Command::Preview { track: session.selected_track, pitch, velocity });
            }
            RollAction::Seek(tick) => session.send(Command::Seek(tick)),
            RollAction::SetLoop(ticks) => {
                let settings = TransportSettings { loop_ticks: ticks, ..session.transport };
                session.set_transport(settings);
            }
        }
    }

    pub fn drain_events(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.event(event);
        }
    }

    fn event(&mut self, event: Event) {
        let session = &mut self.session;
        match event {
            Event::Backend { kind, reason, adapter } => {
                // A server chosen elsewhere (--backend, CADENZA_BACKEND) shows in the field. A
                // token is never echoed back, so one typed in is kept.
                if kind == cadenza_engine::BackendKind::Remote
                    && let Some(host) = adapter.as_deref().and_then(|a| a.strip_prefix("remote://"))
                    && !self.studio.server_address.ends_with(host)
                {
                    self.studio.server_address = host.to_string();
                }
                self.studio.backend_kind = kind.to_string();
                self.studio.backend = reason;
            }
            Event::Notice(text) => session.notices.push(text),
            Event::SongChanged { song, path, can_undo, can_redo } => {
                if let Some(path) = path {
                    session.title = path.display().to_string();
                    session.path = Some(path);
                }
                session.song = song;
                session.can_undo = can_undo;
                session.can_redo = can_redo;
                session.keep_selected_track();
                if let Some(track) = session.song.tracks.get(session.selected_track) {
                    session.roll.editor.keep_existing(track);
                }
                if !self.fitted && !session.song.tracks.is_empty() {
                    session.roll.fit(&session.song);
                    self.fitted = true;
                }
            }
            Event::JobStarted { id, label } => {
                session.jobs.insert(id, JobStatus { label, fraction: 0.0, message: String::new() });
            }
            Event::JobProgress { id, fraction, message } => {
                if let Some(job) = session.jobs.get_mut(&id) {
                    job.fraction = fraction;
                    job.message = message;
                }
            }
            Event::JobFinished { id, output } => {
                session.jobs.remove(&id);
                self.job_ended(id, JobEnd::Finished(output));
            }
            Event::JobFailed { id, message } => {
                let label = session.jobs.remove(&id).map(|j| j.label).unwrap_or_default();
                session.notices.push(format!("{label} failed: {message}"));
                self.job_ended(id, JobEnd::Failed(message));
            }
            Event::JobCancelled { id } => {
                session.jobs.remove(&id);
                self.job_ended(id, JobEnd::Cancelled);
            }
            Event::CommandFailed(message) => session.notices.push(message),
            Event::Audio { description, .. } => self.studio.audio = description,
            Event::Devices(devices) => self.studio.devices = devices,
            Event::Takes { takes, root } => {
                self.studio.takes = takes;
                self.studio.takes_root = root;
            }
            Event::RecordingStarted { path, meter } => {
                let start_tick = session.playhead();
                self.studio.recording = Some(LiveTake { path, meter, start_tick, live: LiveNotesView::default() });
            }
            Event::LiveNotes(notes) => {
                if let Some(take) = self.studio.recording.as_mut() {
                    for note in notes.committed {
                        take.live.committed.insert_note(note);
                    }
                    take.live.provisional.notes = notes.provisional;
                    take.live.provisional.notes.sort();
                }
            }
            Event::RecordingStopped => {
                // The engine has put the take's live notes in a new, last track: show it.
                if self.studio.recording.take().is_some_and(|take| !take.live.committed.notes.is_empty()) {
                    session.selected_track = session.song.tracks.len().saturating_sub(1);
                }
            }
            Event::InputMonitor(meter) => self.studio.input_meter = meter,
            Event::Latent(reply) => self.interpolate.latent_reply(session, reply),
            Event::ContinuationNote(note) => self.continuation.streamed_note(note),
            Event::ProjectSaved { path } => {
                session.notices.push(format!("saved {}", path.display()));
                session.title = path.display().to_string();
                session.path = Some(path);
                session.dirty = false;
            }
            Event::RecoveryAvailable { saved_at, project, notes } => {
                self.dialog = Some(Dialog::Recovery { saved_at, project, notes });
            }
            Event::Autosaved => {}
            Event::Dirty(dirty) => session.dirty = dirty,
        }
    }

    /// A job ended: its panel hears of it; the engine's own jobs (open, export) leave a notice.
    fn job_ended(&mut self, id: JobId, end: JobEnd) {
        let session = &mut self.session;
        match session.owner_of_ended(id) {
            Some(JobOwner::Transcription) => self.transcription.job_ended(session, id, end),
            Some(JobOwner::Continuation) => self.continuation.job_ended(session, id, end),
            None => match end {
                JobEnd::Finished(JobOutput::Rendered { path, .. } | JobOutput::MidiWritten { path }) => {
                    session.notices.push(format!("wrote {}", path.display()));
                }
                JobEnd::Finished(JobOutput::SongLoaded { path, .. }) => {
                    session.roll.editor.selection.clear();
                    session.selected_track = 0;
                    session.roll.fit(&session.song);
                    session.notices.push(format!("opened {}", path.display()));
                }
                _ => {}
            },
        }
    }

    /// Files dropped on the window: opened or transcribed by what they are.
    fn dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        for path in dropped {
            self.open_any(&path);
        }
    }

    /// MIDI files and projects open; audio files are transcribed.
    pub fn open_any(&mut self, path: &Path) {
        let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        if matches!(ext.as_str(), "mid" | "midi" | "rmi" | "smf" | "kar") || project::is_project(path) {
            self.open_path(path);
        } else if matches!(ext.as_str(), "wav" | "wave" | "flac" | "mp3" | "ogg" | "oga") {
            self.transcribe_audio(path, 0.0);
        } else {
            self.session.notices.push(format!(
                "{}: Cadenza opens MIDI files and .cadenza projects, and transcribes WAV, FLAC, MP3 and Ogg audio",
                path.display()
            ));
        }
    }

    /// Shortcuts that work anywhere but in a text field.
    fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() || self.dialog.is_some() {
            return;
        }
        let cmd = egui::Modifiers::COMMAND;
        let shift_cmd = egui::Modifiers::COMMAND | egui::Modifiers::SHIFT;
        let pressed = |m: egui::Modifiers, key: egui::Key| ctx.input_mut(|i| i.consume_key(m, key));
        if pressed(shift_cmd, egui::Key::Z) || pressed(cmd, egui::Key::Y) {
            self.session.redo();
        } else if pressed(cmd, egui::Key::Z) {
            self.session.undo();
        }
        if pressed(cmd, egui::Key::S) {
            self.save_project(None);
        }
        if pressed(cmd, egui::Key::O) {
            self.dialog = Some(Dialog::path(PathPurpose::Open, None));
        }
        if pressed(egui::Modifiers::NONE, egui::Key::Space) {
            self.session.play_pause();
        }
        if pressed(egui::Modifiers::NONE, egui::Key::Home) {
            self.session.send(Command::Seek(0));
        }
        let session = &mut self.session;
        let playhead = session.playhead();
        let actions = session.roll.editor.keys(ctx, &session.song, session.selected_track, playhead);
        for action in actions {
            self.act(action);
        }
    }

    fn central(&mut self, ui: &mut egui::Ui) {
        transport::toolbar(&mut self.session, ui);
        let session = &mut self.session;
        let player = session.engine.player();
        let (playhead, playing) = (player.position_tick(), player.is_playing());
        let studio = &self.studio;
        let takes_height = if studio.takes.is_empty() && studio.recording.is_none() { 0.0 } else { takes::LANE_HEIGHT };
        let transcription_height = if self.transcription.open { transcription::LANE_HEIGHT } else { 0.0 };
        let mut actions = Vec::new();
        let roll_height = ui.available_height() - takes_height - transcription_height;
        ui.allocate_ui(egui::vec2(ui.available_width(), roll_height), |ui| {
            let input = RollInput {
                song: &session.song,
                track: session.selected_track,
                playhead,
                playing,
                loop_ticks: session.transport.loop_ticks,
                live: studio.recording.as_ref().map(|take| &take.live),
                continuation: self.continuation.ghost(),
            };
            actions = session.roll.show(ui, &input);
        });
        if transcription_height > 0.0 {
            transcription::lane(&mut self.transcription, session, ui);
        }
        if takes_height > 0.0 {
            takes::lane(session, studio, ui);
        }
        for action in actions {
            self.act(action);
        }
    }
}

impl eframe::App for CadenzaApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain_events();
        let (down, released) = ctx.input(|i| (i.pointer.primary_down(), i.pointer.any_released()));
        self.session.pointer(down, released);
        self.dropped_files(ctx);
        self.shortcuts(ctx);
        // Events wake the window (wake_on_events); the playhead and the meters move without
        // one, so they are animated while sound plays or is captured.
        let studio = &self.studio;
        let animating =
            self.session.engine.player().is_playing() || studio.recording.is_some() || studio.input_meter.is_some();
        if animating {
            ctx.request_repaint_after(Duration::from_millis(16));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("transport").show(ui, |ui| transport::bar(self, ui));
        egui::Panel::bottom("status").show(ui, |ui| status::line(&self.session, &self.studio, ui));
        egui::Panel::left("tracks").resizable(true).default_size(250.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| tracks::list(&mut self.session, &self.studio, ui));
        });
        if self.continuation.open {
            egui::Panel::right("continuation").resizable(true).default_size(continuation::PANEL_WIDTH).show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .show(ui, |ui| continuation::show(&mut self.continuation, &mut self.session, ui));
            });
        }
        if self.interpolate.open {
            egui::Panel::right("interpolate").resizable(true).default_size(interpolate::PANEL_WIDTH).show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .show(ui, |ui| interpolate::show(&mut self.interpolate, &mut self.session, ui));
            });
        }
        egui::CentralPanel::default().show(ui, |ui| self.central(ui));
        dialogs::show(self, ui.ctx());
        if self.first_frame.is_none() {
            self.first_frame = self.started.map(|s| s.elapsed());
            // The start-up benchmark (scripts/bench_startup.sh) reads this and closes the window.
            if std::env::var_os("CADENZA_EXIT_AFTER_FIRST_FRAME").is_some() {
                if let Some(elapsed) = self.first_frame {
                    println!("first frame after {:.1} ms", elapsed.as_secs_f64() * 1000.0);
                }
                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
    }
}
