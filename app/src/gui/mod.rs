//! The window. It never blocks: it sends commands to the engine and draws what comes back.
//! Edits are applied to the window's copy of the song at once (so the roll answers in the same
//! frame) and sent to the engine, whose song and history stay the authority.

pub mod continuation;
mod dialogs;
pub mod interpolate;
pub mod roll;
mod status;
mod takes;
#[cfg(test)]
mod tests;
mod tracks;
mod transcription;
mod transport;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use cadenza_engine::devices::recorder::RecordingMeter;
use cadenza_engine::playback::TransportSettings;
use cadenza_engine::project::{self, Take};
use cadenza_engine::song::{Song, Track};
use cadenza_engine::studio::DeviceList;
use cadenza_engine::{Command, Edit, Engine, EngineConfig, EngineHandle, Event, GestureId, JobId, JobOutput};
use crossbeam_channel::Receiver;
use eframe::egui;

use crate::demo;
pub use dialogs::{Dialog, PathPurpose};
pub use roll::{RollAction, RollInput, RollView};

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

pub struct JobStatus {
    pub label: String,
    pub fraction: f32,
    pub message: String,
}

/// A recording in progress, as the window sees it.
pub struct LiveTake {
    pub path: PathBuf,
    pub meter: Arc<RecordingMeter>,
    pub start_tick: u64,
    /// Notes transcribed from it so far: final ones, and the ones still sounding.
    pub live: LiveNotesView,
}

/// The live transcription of a take, drawn over the roll while it records (as tracks, so the
/// roll draws them as it draws any notes).
#[derive(Debug, Clone)]
pub struct LiveNotesView {
    pub committed: Track,
    pub provisional: Track,
}

impl Default for LiveNotesView {
    fn default() -> Self {
        Self { committed: Track::new("live", 0, 0), provisional: Track::new("live (sounding)", 0, 0) }
    }
}

pub struct CadenzaApp {
    pub engine: EngineHandle,
    /// The engine's events, or (in the window) their copy forwarded by a thread that wakes
    /// the window for each one.
    events: Receiver<Event>,
    pub song: Arc<Song>,
    pub title: String,
    /// The saved project folder or the MIDI file the song came from.
    pub path: Option<PathBuf>,
    pub dirty: bool,
    pub can_undo: bool,
    pub can_redo: bool,
    pub backend: String,
    /// "CPU (Flex)" or "wgpu", once chosen.
    pub backend_kind: String,
    pub audio: String,
    pub devices: DeviceList,
    pub notices: Vec<String>,
    pub jobs: BTreeMap<JobId, JobStatus>,
    pub roll: RollView,
    pub selected_track: usize,
    pub transport: TransportSettings,
    pub armed: bool,
    pub audio_input: Option<String>,
    pub recording: Option<LiveTake>,
    /// The input level while the meter is open (not recording).
    pub input_meter: Option<Arc<RecordingMeter>>,
    pub takes: Vec<Take>,
    pub takes_root: PathBuf,
    pub waveforms: takes::Waveforms,
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
    /// The primary button is held: slider and drag-value edits join one undo step.
    pointer_down: bool,
}

impl CadenzaApp {
    pub fn new(engine: EngineHandle, state_dir: PathBuf) -> Self {
        let events = engine.events().clone();
        Self {
            engine,
            events,
            song: Arc::new(Song::default()),
            title: String::new(),
            path: None,
            dirty: false,
            can_undo: false,
            can_redo: false,
            backend: "choosing ML backend…".into(),
            backend_kind: "starting…".into(),
            audio: "starting audio…".into(),
            devices: DeviceList::default(),
            notices: Vec::new(),
            jobs: BTreeMap::new(),
            roll: RollView::default(),
            selected_track: 0,
            transport: TransportSettings { metronome: false, count_in_bars: 1, ..Default::default() },
            armed: false,
            audio_input: None,
            recording: None,
            input_meter: None,
            takes: Vec::new(),
            takes_root: PathBuf::new(),
            waveforms: takes::Waveforms::default(),
            transcription: transcription::Panel::default(),
            interpolate: interpolate::Panel::default(),
            continuation: continuation::Panel::default(),
            dialog: None,
            recent: dialogs::load_recent(&state_dir),
            state_dir,
            started: None,
            first_frame: None,
            fitted: false,
            pointer_down: false,
        }
    }

    /// Forwards the engine's events through a thread that wakes the window for each one, so
    /// an idle window sleeps instead of polling, and a finished job is drawn at once.
    pub fn wake_on_events(&mut self, ctx: &egui::Context) -> std::io::Result<()> {
        let (forward, forwarded) = crossbeam_channel::unbounded();
        let (events, ctx) = (self.engine.events().clone(), ctx.clone());
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
                self.engine.send(Command::SetSong(song));
                self.title = demo::DEMO_NAME.to_string();
            }
            Err(err) => self.notices.push(format!("the demo song cannot be read: {err:#}")),
        }
    }

    /// Opens a MIDI file or a project, by what the path is.
    pub fn open_path(&mut self, path: &Path) {
        if project::is_project(path) {
            self.engine.open_project(path.to_path_buf());
        } else {
            self.engine.open_midi(path.to_path_buf());
        }
        self.fitted = false;
        dialogs::remember(&self.state_dir, &mut self.recent, path);
    }

    pub fn save_project(&mut self, path: Option<PathBuf>) {
        if path.is_none() && !self.path.as_ref().is_some_and(|p| project::is_project(p)) {
            self.dialog = Some(Dialog::path(PathPurpose::SaveProject, self.path.as_deref()));
            return;
        }
        if let Some(p) = &path {
            dialogs::remember(&self.state_dir, &mut self.recent, &project::project_dir(p));
        }
        self.engine.save_project(path);
    }

    /// Applies an edit to the window's song now and sends it to the engine.
    pub fn edit(&mut self, edit: Edit) {
        let track = edit.note_track();
        let before = track.and_then(|t| self.song.tracks.get(t).cloned());
        let song = Arc::make_mut(&mut self.song);
        match edit.clone().apply(song) {
            Ok(_) => {
                if let (Some(before), Some(after)) = (before, track.and_then(|t| self.song.tracks.get(t))) {
                    self.roll.editor.after_edit(&before, after);
                }
                self.selected_track = self.selected_track.min(self.song.tracks.len().saturating_sub(1));
                self.dirty = true;
                self.can_undo = true;
                match continuous_gesture(&edit).filter(|_| self.pointer_down) {
                    Some(gesture) => self.engine.send(Command::EditInGesture(edit, gesture)),
                    None => self.engine.send(Command::Edit(edit)),
                }
            }
            Err(err) => self.notices.push(err.to_string()),
        }
    }

    /// An edit made while a control is dragged: edits join one undo step until the button is
    /// released.
    pub fn edit_continuously(&mut self, edit: Edit) {
        if self.pointer_down {
            let song = Arc::make_mut(&mut self.song);
            match edit.clone().apply(song) {
                Ok(_) => {
                    self.dirty = true;
                    self.can_undo = true;
                    self.engine.send(Command::EditInGesture(edit, GestureId(3)));
                }
                Err(err) => self.notices.push(err.to_string()),
            }
        } else {
            self.edit(edit);
        }
    }

    pub fn undo(&mut self) {
        self.engine.send(Command::Undo);
    }

    pub fn redo(&mut self) {
        self.engine.send(Command::Redo);
    }

    pub fn set_transport(&mut self, settings: TransportSettings) {
        self.transport = settings;
        self.engine.send(Command::SetTransport(settings));
    }

    fn act(&mut self, action: RollAction) {
        match action {
            RollAction::Edit(edit) => self.edit(edit),
            RollAction::Preview { pitch, velocity } => {
                self.engine.send(Command::Preview { track: self.selected_track, pitch, velocity });
            }
            RollAction::Seek(tick) => self.engine.send(Command::Seek(tick)),
            RollAction::SetLoop(ticks) => {
                let settings = TransportSettings { loop_ticks: ticks, ..self.transport };
                self.set_transport(settings);
            }
        }
    }

    pub fn drain_events(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.event(event);
        }
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Backend { kind, reason, .. } => {
                self.backend_kind = kind.to_string();
                self.backend = reason;
            }
            Event::Notice(text) => self.notices.push(text),
            Event::SongChanged { song, path, can_undo, can_redo } => {
                if let Some(path) = path {
                    self.title = path.display().to_string();
                    self.path = Some(path);
                }
                self.song = song;
                self.can_undo = can_undo;
                self.can_redo = can_redo;
                self.selected_track = self.selected_track.min(self.song.tracks.len().saturating_sub(1));
                if let Some(track) = self.song.tracks.get(self.selected_track) {
                    self.roll.editor.keep_existing(track);
                }
                if !self.fitted && !self.song.tracks.is_empty() {
                    self.roll.fit(&self.song);
                    self.fitted = true;
                }
            }
            Event::JobStarted { id, label } => {
                self.jobs.insert(id, JobStatus { label, fraction: 0.0, message: String::new() });
            }
            Event::JobProgress { id, fraction, message } => {
                if let Some(job) = self.jobs.get_mut(&id) {
                    job.fraction = fraction;
                    job.message = message;
                }
            }
            Event::JobFinished { id, output } => {
                self.jobs.remove(&id);
                match output {
                    JobOutput::Rendered { path, .. } | JobOutput::MidiWritten { path } => {
                        self.notices.push(format!("wrote {}", path.display()));
                    }
                    JobOutput::SongLoaded { path, .. } => {
                        self.roll.editor.selection.clear();
                        self.selected_track = 0;
                        self.roll.fit(&self.song);
                        self.notices.push(format!("opened {}", path.display()));
                    }
                    JobOutput::Listened(listened) => self.listened(id, listened),
                    JobOutput::NotesCreated(events) => self.notes_created(id, events),
                    JobOutput::Continued { variations, notices, tokens_per_second, first_note_seconds } => {
                        let status = format!(
                            "{tokens_per_second:.0} tokens/s, first note after {}",
                            first_note_seconds.map_or_else(|| "-".into(), |s| format!("{:.0} ms", s * 1e3))
                        );
                        self.continuation_finished(id, Some((variations, notices, status)));
                    }
                    JobOutput::StyleGuessed(style) => self.prompt_style_matched(id, style),
                    _ => {}
                }
            }
            Event::JobFailed { id, message } => {
                self.continuation_finished(id, None);
                if self.transcription.listening.as_ref().is_some_and(|(job, ..)| *job == id) {
                    self.transcription.listening = None;
                }
                let label = self.jobs.remove(&id).map(|j| j.label).unwrap_or_default();
                self.notices.push(format!("{label} failed: {message}"));
            }
            Event::JobCancelled { id } => {
                self.continuation_finished(id, None);
                self.jobs.remove(&id);
            }
            Event::CommandFailed(message) => self.notices.push(message),
            Event::Audio { description, .. } => self.audio = description,
            Event::Devices(devices) => self.devices = devices,
            Event::Takes { takes, root } => {
                self.takes = takes;
                self.takes_root = root;
            }
            Event::RecordingStarted { path, meter } => {
                let start_tick = self.engine.player().position_tick();
                self.recording = Some(LiveTake { path, meter, start_tick, live: LiveNotesView::default() });
            }
            Event::LiveNotes(notes) => {
                if let Some(take) = self.recording.as_mut() {
                    for note in notes.committed {
                        take.live.committed.insert_note(note);
                    }
                    take.live.provisional.notes = notes.provisional;
                    take.live.provisional.notes.sort();
                }
            }
            Event::RecordingStopped => {
                // The engine has put the take's live notes in a new, last track: show it.
                if self.recording.take().is_some_and(|take| !take.live.committed.notes.is_empty()) {
                    self.selected_track = self.song.tracks.len().saturating_sub(1);
                }
            }
            Event::InputMonitor(meter) => self.input_meter = meter,
            Event::Latent(reply) => self.latent_reply(reply),
            Event::ContinuationNote(note) => self.continuation_note(note),
            Event::ProjectSaved { path } => {
                self.notices.push(format!("saved {}", path.display()));
                self.title = path.display().to_string();
                self.path = Some(path);
                self.dirty = false;
            }
            Event::RecoveryAvailable { saved_at, project, notes } => {
                self.dialog = Some(Dialog::Recovery { saved_at, project, notes });
            }
            Event::Autosaved => {}
            Event::Dirty(dirty) => self.dirty = dirty,
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
            self.notices.push(format!(
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
            self.redo();
        } else if pressed(cmd, egui::Key::Z) {
            self.undo();
        }
        if pressed(cmd, egui::Key::S) {
            self.save_project(None);
        }
        if pressed(cmd, egui::Key::O) {
            self.dialog = Some(Dialog::path(PathPurpose::Open, None));
        }
        if pressed(egui::Modifiers::NONE, egui::Key::Space) {
            self.play_pause();
        }
        if pressed(egui::Modifiers::NONE, egui::Key::Home) {
            self.engine.send(Command::Seek(0));
        }
        let playhead = self.engine.player().position_tick();
        let actions = self.roll.editor.keys(ctx, &self.song, self.selected_track, playhead);
        for action in actions {
            self.act(action);
        }
    }

    pub fn play_pause(&mut self) {
        if self.engine.player().is_playing() {
            self.engine.send(Command::Pause);
        } else {
            self.engine.send(Command::Play);
        }
    }

    fn central(&mut self, ui: &mut egui::Ui) {
        transport::toolbar(self, ui);
        let player = self.engine.player();
        let (playhead, playing) = (player.position_tick(), player.is_playing());
        let takes_height = if self.takes.is_empty() && self.recording.is_none() { 0.0 } else { takes::LANE_HEIGHT };
        let transcription_height = if self.transcription.open { transcription::LANE_HEIGHT } else { 0.0 };
        let mut actions = Vec::new();
        let roll_height = ui.available_height() - takes_height - transcription_height;
        ui.allocate_ui(egui::vec2(ui.available_width(), roll_height), |ui| {
            let input = RollInput {
                song: &self.song,
                track: self.selected_track,
                playhead,
                playing,
                loop_ticks: self.transport.loop_ticks,
                live: self.recording.as_ref().map(|take| &take.live),
                continuation: self.continuation.ghost(),
            };
            actions = self.roll.show(ui, &input);
        });
        if transcription_height > 0.0 {
            transcription::lane(self, ui);
        }
        if takes_height > 0.0 {
            takes::lane(self, ui);
        }
        for action in actions {
            self.act(action);
        }
    }
}

/// Edits made by dragging a control (volume, pan, colour, tempo, metre): while the button is
/// held they coalesce, so one drag is one undo step.
fn continuous_gesture(edit: &Edit) -> Option<GestureId> {
    match edit {
        Edit::SetTrackProps { index, .. } => Some(GestureId(1_000_000 + *index as u64)),
        Edit::SetTempos(_) => Some(GestureId(1)),
        Edit::SetTimeSignatures(_) => Some(GestureId(2)),
        _ => None,
    }
}

impl eframe::App for CadenzaApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain_events();
        let (down, released) = ctx.input(|i| (i.pointer.primary_down(), i.pointer.any_released()));
        if released && self.pointer_down {
            self.engine.send(Command::EndGesture);
        }
        self.pointer_down = down;
        self.dropped_files(ctx);
        self.shortcuts(ctx);
        // Events wake the window (wake_on_events); the playhead and the meters move without
        // one, so they are animated while sound plays or is captured.
        let animating = self.engine.player().is_playing() || self.recording.is_some() || self.input_meter.is_some();
        if animating {
            ctx.request_repaint_after(Duration::from_millis(16));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("transport").show(ui, |ui| transport::bar(self, ui));
        egui::Panel::bottom("status").show(ui, |ui| status::line(self, ui));
        egui::Panel::left("tracks").resizable(true).default_size(250.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| tracks::list(self, ui));
        });
        if self.continuation.open {
            egui::Panel::right("continuation").resizable(true).default_size(continuation::PANEL_WIDTH).show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| continuation::show(self, ui));
            });
        }
        if self.interpolate.open {
            egui::Panel::right("interpolate").resizable(true).default_size(interpolate::PANEL_WIDTH).show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| interpolate::show(self, ui));
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
