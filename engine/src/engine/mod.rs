//! The engine thread. The GUI and the CLI talk to it only through [`Command`]s and
//! [`Event`]s; it owns the song, its history, the job workers and the ML runtime.

mod config;
mod handle;
#[cfg(feature = "ml")]
mod ml;
mod session;
mod workers;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, never, select, tick, unbounded};

pub use self::config::EngineConfig;
pub use self::handle::{Engine, EngineHandle};
use self::workers::{Queued, render_job};
use crate::devices::watcher::DeviceWatcher;
use crate::history::History;
use crate::playback::TransportSettings;
use crate::project::{self, ProjectData, Take};
use crate::protocol::{Audition, Command, Event, Job};
use crate::protocol::{JobId, JobOutput, JobResult, Notices};
use crate::song::Song;
use crate::studio::Studio;

struct EngineThread {
    config: EngineConfig,
    events: Sender<Event>,
    song: Arc<Song>,
    path: Option<PathBuf>,
    history: History,
    /// The ML runtime, once chosen (on a thread of its own: probing the drivers takes tens of
    /// milliseconds, which a transcription spends running on the CPU instead of waiting).
    #[cfg(feature = "ml")]
    runtime: crate::ml::runtime_slot::RuntimeSlot,
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
    live: Option<(crate::ml::transcription::live::LiveTranscription, String)>,
    #[cfg(feature = "ml")]
    latent: Option<crate::ml::latent::LatentWorker>,
    /// The ghost track being auditioned, and the transport settings to restore after it.
    audition: Option<(Audition, TransportSettings)>,
    /// Counts changes to the work, so a save knows whether what it wrote is still current.
    revision: u64,
    /// Counts songs made current, so a save that ends after another song was opened does not
    /// make that song its project.
    generation: u64,
    saving: Option<SaveInFlight>,
    pending_saves: VecDeque<(JobId, Option<PathBuf>)>,
    /// Lists the devices off this thread (none if its thread could not start).
    device_watcher: Option<DeviceWatcher>,
}

/// The save being written: its job, the revision it holds, where its takes were.
struct SaveInFlight {
    id: JobId,
    revision: u64,
    generation: u64,
    old_root: PathBuf,
}

impl EngineThread {
    pub(super) fn new(config: EngineConfig, events: Sender<Event>, studio: Studio) -> Self {
        let (done_tx, done_rx) = unbounded();
        Self {
            config,
            events,
            song: Arc::new(Song::default()),
            path: None,
            history: History::with_limit(1000),
            #[cfg(feature = "ml")]
            runtime: crate::ml::runtime_slot::RuntimeSlot::default(),
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
            revision: 0,
            generation: 0,
            saving: None,
            pending_saves: VecDeque::new(),
            device_watcher: None,
        }
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    fn run(mut self, commands: Receiver<Command>) {
        self.start_workers();
        // The window's device lists follow the system; a headless engine lists when asked.
        let every = self.config.live.then_some(Duration::from_secs(2));
        self.device_watcher = match DeviceWatcher::spawn(every) {
            Ok(watcher) => Some(watcher),
            Err(err) => {
                self.emit(Event::Notice(format!("devices will not be listed: {err}")));
                None
            }
        };
        let listings = self.device_watcher.as_ref().map_or_else(never, |watcher| watcher.listings().clone());
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
                if let Err(message) = crate::ml::continuation::shipped_model() {
                    let _ = events.send(Event::Notice(message));
                }
            });
        }
        let autosave = if self.config.live { tick(self.config.autosave_every) } else { never() };
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
                recv(listings) -> listing => if let Ok(listing) = listing {
                    self.apply_devices(listing);
                },
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
            Command::Transcribe { id, path, options } => self.transcribe(id, path, options),
            #[cfg(feature = "ml")]
            Command::Listen { id, path, mode } => self.listen(id, path, mode),
            Command::Cancel(id) => {
                if let Some(flag) = self.cancels.get(&id) {
                    flag.store(true, Ordering::Relaxed);
                }
            }
            Command::NewSong => self.new_song(),
            Command::OpenProject { id, path } => self.open_project(id, path),
            Command::SaveProject { id, path } => self.save_project(id, path),
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
            Command::RefreshDevices => {
                if let Some(watcher) = &self.device_watcher {
                    watcher.list_now();
                }
            }
            #[cfg(feature = "ml")]
            Command::SetBackend(preference) => self.set_backend(preference),
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
}
