//! The engine's session work: projects, autosave and recovery, and the live devices.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::Sender;

use super::{EngineThread, SaveInFlight};
use crate::devices::recorder::AudioBlock;
use crate::devices::watcher::DeviceListing;
use crate::history::GestureId;
use crate::project::{self, ProjectData, Take};
use crate::protocol::Event;
use crate::protocol::{Job, JobError, JobId, JobOutput};
use crate::song::{Song, Track};
use crate::studio::KeyboardInput;

impl EngineThread {
    /// Makes `song` current: a file opened, a project loaded, the demo, a new song.
    pub(super) fn replace_song(
        &mut self,
        song: Arc<Song>,
        path: Option<PathBuf>,
        project_dir: Option<PathBuf>,
        takes: Vec<Take>,
    ) {
        self.generation += 1;
        self.song = song;
        self.path = path;
        self.project_dir = project_dir;
        self.takes = takes;
        self.history.clear();
        self.set_dirty(false);
        self.autosave_due = false;
        self.song_changed();
        self.emit_takes();
    }

    pub(super) fn new_song(&mut self) {
        let mut song = Song::new(crate::song::DEFAULT_PPQ);
        song.tracks.push(Track::new("Piano", 0, 0));
        self.replace_song(Arc::new(song), None, None, Vec::new());
    }

    pub(super) fn mark_dirty(&mut self) {
        self.revision += 1;
        self.autosave_due = true;
        self.set_dirty(true);
    }

    fn set_dirty(&mut self, dirty: bool) {
        if self.dirty != dirty {
            self.dirty = dirty;
            self.emit(Event::Dirty(dirty));
        }
    }

    fn project_data(&self) -> ProjectData {
        ProjectData::new((*self.song).clone(), self.takes.clone())
    }

    /// Where takes are written: the project's folder, or a scratch folder until it is saved.
    fn takes_root(&self) -> PathBuf {
        self.project_dir
            .clone()
            .unwrap_or_else(|| self.config.state_dir.join(format!("unsaved-{}", std::process::id())))
    }

    fn emit_takes(&self) {
        self.emit(Event::Takes { takes: self.takes.clone(), root: self.takes_root() });
    }

    pub(super) fn open_project(&mut self, id: JobId, path: PathBuf) {
        self.enqueue(
            id,
            Job::new(format!("Open {}", path.display()), move |_| {
                let (dir, data) = project::load_project(&path)?;
                Ok(JobOutput::ProjectLoaded { dir, data })
            }),
        );
    }

    /// Saves on a worker (a first save copies the takes, which can be large). The song saved
    /// is the one of this moment; edits made while it is written leave the project dirty. Saves
    /// run one at a time: a second one waits for the first.
    pub(super) fn save_project(&mut self, id: JobId, path: Option<PathBuf>) {
        if self.saving.is_some() {
            self.pending_saves.push_back((id, path));
            return;
        }
        let Some(target) = path.or_else(|| self.project_dir.clone()) else {
            self.emit(Event::CommandFailed("choose where to save the project first".into()));
            return;
        };
        let dir = project::project_dir(&target);
        let old_root = self.takes_root();
        let (song, mut takes) = (Arc::clone(&self.song), self.takes.clone());
        self.saving =
            Some(SaveInFlight { id, revision: self.revision, generation: self.generation, old_root: old_root.clone() });
        let label = format!("Save {}", dir.display());
        self.enqueue(
            id,
            Job::new(label, move |_| {
                copy_takes(&old_root, &dir, &mut takes).map_err(|err| {
                    JobError::Failed(format!("{}: cannot copy the audio takes: {err}", dir.display()))
                })?;
                let data = ProjectData::new((*song).clone(), takes);
                let dir = project::save_project(&dir, &data).map_err(|err| JobError::Failed(err.to_string()))?;
                Ok(JobOutput::ProjectSaved { dir, takes: data.takes })
            }),
        );
    }

    /// After a save job: the project folder becomes current; the work is clean unless it was
    /// edited (or a take was being recorded) meanwhile.
    pub(super) fn save_finished(&mut self, id: JobId, saved: Option<(PathBuf, Vec<Take>)>) {
        let Some(save) = self.saving.take_if(|save| save.id == id) else { return };
        let saved = saved.filter(|(dir, _)| {
            let current = save.generation == self.generation;
            if !current {
                self.emit(Event::Notice(format!("saved {} (another song is open now)", dir.display())));
            }
            current
        });
        if let Some((dir, saved_takes)) = saved {
            // Takes recorded during the save are not in it: they stay where they are.
            let moved: Vec<Take> = self
                .takes
                .iter()
                .map(|take| match saved_takes.iter().find(|saved| saved.name == take.name) {
                    Some(saved) => saved.clone(),
                    None => Take { file: save.old_root.join(&take.file), ..take.clone() },
                })
                .collect();
            self.takes = moved;
            self.project_dir = Some(dir.clone());
            self.path = Some(dir.clone());
            let unchanged = save.revision == self.revision && self.studio.take_in_progress(&dir).is_none();
            if unchanged {
                self.set_dirty(false);
                self.autosave_due = false;
                project::clear_recovery(&self.config.state_dir);
            }
            self.song_changed();
            self.emit_takes();
            self.emit(Event::ProjectSaved { path: dir });
            if !unchanged {
                // The window counts a save as clean; say it is not.
                self.emit(Event::Dirty(true));
            }
        }
        if let Some((next, path)) = self.pending_saves.pop_front() {
            self.save_project(next, path);
        }
    }

    /// Writes the recovery file when something changed since the last time.
    pub(super) fn autosave(&mut self) {
        if !self.autosave_due || !self.dirty {
            return;
        }
        let mut data = self.project_data();
        data.project = self.project_dir.clone();
        // Takes of an unsaved project stay in the scratch folder: record absolute paths.
        let root = self.takes_root();
        data.takes.extend(self.studio.take_in_progress(&root));
        for take in &mut data.takes {
            take.file = root.join(&take.file);
        }
        match project::write_recovery(&self.config.state_dir, &data) {
            Ok(()) => {
                self.autosave_due = false;
                self.emit(Event::Autosaved);
            }
            Err(err) => self.emit(Event::Notice(format!("autosave failed: {err}"))),
        }
    }

    /// At start: tell the window about unsaved work left by a run that did not end cleanly.
    pub(super) fn look_for_recovery(&mut self) {
        match project::find_recovery(&self.config.state_dir) {
            None => {}
            Some(Ok(found)) => {
                self.emit(Event::RecoveryAvailable {
                    saved_at: found.saved_at,
                    project: found.data.project.clone(),
                    notes: found.data.song.note_count(),
                });
                self.recovery = Some(found.data);
            }
            Some(Err(err)) => self.emit(Event::Notice(format!("the recovery file cannot be read: {err}"))),
        }
    }

    pub(super) fn restore_recovery(&mut self) {
        let Some(data) = self.recovery.take() else { return };
        let project_dir = data.project.clone();
        let takes = self.salvage_takes(data.takes, project_dir.as_deref());
        self.replace_song(Arc::new(data.song), project_dir.clone(), project_dir, takes);
        // Restored work is unsaved work until the user saves it.
        self.mark_dirty();
    }

    /// The recovered takes whose audio is there, each as long as the audio on disk (a take
    /// recorded when the crash came is longer than the recovery file says).
    fn salvage_takes(&self, takes: Vec<Take>, project_dir: Option<&Path>) -> Vec<Take> {
        let mut kept = Vec::with_capacity(takes.len());
        for mut take in takes {
            let file = project_dir.map_or_else(|| take.file.clone(), |dir| dir.join(&take.file));
            match crate::devices::salvage::salvage_take(&file) {
                Ok(frames) => {
                    take.frames = frames;
                    kept.push(take);
                }
                Err(err) => {
                    self.emit(Event::Notice(format!("the take {} cannot be recovered: {err}", file.display())));
                }
            }
        }
        kept
    }

    /// Clean exit: unsaved changes stay in the recovery file for the next start.
    pub(super) fn finish_session(&mut self) {
        if self.dirty {
            self.autosave_due = true;
            self.autosave();
        } else if self.recovery.is_none() {
            project::clear_recovery(&self.config.state_dir);
        }
    }

    pub(super) fn start_live(&mut self) {
        self.look_for_recovery();
        let events = self.events.clone();
        let started =
            self.studio.start_output(self.config.output.clone(), self.config.soundfont.clone(), move |report| {
                let _ = events.send(Event::Audio { device: report.device, description: report.description });
                if let Some(notice) = report.notice {
                    let _ = events.send(Event::Notice(notice));
                }
            });
        if let Err(err) = started {
            self.emit(Event::Audio { device: false, description: format!("no audio thread: {err}") });
        }
    }

    /// A device listing from the watcher: said to the window when something changed.
    pub(super) fn apply_devices(&mut self, listing: DeviceListing) {
        let before = self.studio.devices().clone();
        let now = self.studio.apply_listing(listing).clone();
        if now != before {
            self.emit(Event::Devices(now));
        }
    }

    pub(super) fn device_result(&mut self, result: Result<(), String>) {
        if let Err(err) = result {
            self.emit(Event::CommandFailed(err));
        }
        self.emit(Event::Devices(self.studio.devices().clone()));
    }

    pub(super) fn keyboard(&mut self, input: KeyboardInput) {
        if let Some((track, note)) = self.studio.keyboard(input) {
            let edit = crate::edit::Edit::AddNotes { track, notes: vec![note] };
            let gesture = GestureId(u64::MAX - self.record_pass);
            let result = self.history.apply_in_gesture(Arc::make_mut(&mut self.song), edit, gesture);
            self.after_edit(result.map(|()| true));
        }
    }

    pub(super) fn monitor_input(&mut self, device: Option<String>, on: bool) {
        match self.studio.monitor_input(device, on) {
            Ok(meter) => self.emit(Event::InputMonitor(meter)),
            Err(err) => {
                self.emit(Event::InputMonitor(None));
                self.emit(Event::CommandFailed(format!("cannot open the audio input: {err}")));
            }
        }
    }

    pub(super) fn record_audio(&mut self, device: Option<&str>) {
        let monitoring = self.studio.monitored_input().is_some();
        let root = self.takes_root();
        let number = self.takes.len() + 1;
        let name = (number..)
            .map(|n| format!("take-{n:03}"))
            .find(|n| !root.join(project::TAKES_DIR).join(format!("{n}.wav")).exists());
        let name = name.unwrap_or_else(|| format!("take-{number:03}"));
        let listener = self.start_live_transcription(&name);
        match self.studio.start_take(device, &root.join(project::TAKES_DIR), &name, listener) {
            Ok(meter) => {
                let path = root.join(project::TAKES_DIR).join(format!("{name}.wav"));
                self.resume_monitor = monitoring.then(|| device.map(str::to_string));
                // The take is unsaved work from its first frame: list it in the recovery file
                // before anyone is told it records, so no crash can leave it unlisted.
                self.mark_dirty();
                self.autosave_due = true;
                self.autosave();
                self.emit(Event::InputMonitor(None));
                self.emit(Event::RecordingStarted { path, meter });
            }
            Err(err) => {
                self.finish_live_transcription();
                self.emit(Event::CommandFailed(format!("cannot record: {err}")));
            }
        }
    }

    /// Starts transcribing the take as it records; the recorder's listener.
    #[cfg(feature = "ml")]
    fn start_live_transcription(&mut self, take: &str) -> Option<Sender<AudioBlock>> {
        use crate::ml::transcription::live::{LivePlacement, LiveTranscription};
        use crate::timing::TempoMap;
        let tempo = TempoMap::for_song(&self.song);
        let offset_seconds = tempo.tick_to_seconds(self.studio.playhead_tick());
        let placement = LivePlacement { tempo, offset_seconds };
        let (updates, notices) = (self.events.clone(), self.events.clone());
        let (live, listener) = LiveTranscription::start(
            self.ml_runtime(),
            placement,
            move |notes| drop(updates.send(Event::LiveNotes(notes))),
            move |text| drop(notices.send(Event::Notice(text))),
        );
        self.live = Some((live, take.to_string()));
        Some(listener)
    }

    #[cfg(not(feature = "ml"))]
    fn start_live_transcription(&mut self, _take: &str) -> Option<Sender<AudioBlock>> {
        None
    }

    /// Waits for the live transcription of the take that just stopped and puts its notes in a
    /// new track (one undo step).
    #[cfg(feature = "ml")]
    fn finish_live_transcription(&mut self) {
        let Some((live, take)) = self.live.take() else { return };
        let notes = live.finish();
        if notes.is_empty() {
            return;
        }
        let mut track = Track::new(format!("{take} (live)"), 0, self.free_channel());
        for note in notes {
            track.insert_note(note);
        }
        let edit = crate::edit::Edit::AddTrack { index: self.song.tracks.len(), track };
        let result = self.history.apply(Arc::make_mut(&mut self.song), edit);
        self.after_edit(result.map(|_| true));
    }

    #[cfg(not(feature = "ml"))]
    fn finish_live_transcription(&mut self) {}

    /// The lowest melodic channel no track uses (channel 0 when all are taken).
    #[cfg(feature = "ml")]
    fn free_channel(&self) -> u8 {
        (0..16u8)
            .filter(|&c| c != crate::song::DRUM_CHANNEL)
            .find(|c| self.song.tracks.iter().all(|t| t.channel != *c))
            .unwrap_or(0)
    }

    pub(super) fn stop_record_audio(&mut self) {
        let root = self.takes_root();
        let stopped = self.studio.stop_take(&root);
        // The recorder has stopped: the live notes are complete.
        self.finish_live_transcription();
        match stopped {
            None => return,
            Some(Ok(take)) => {
                self.takes.push(take);
                self.mark_dirty();
                self.emit_takes();
            }
            Some(Err(err)) => self.emit(Event::CommandFailed(format!("the recording failed: {err}"))),
        }
        self.emit(Event::RecordingStopped);
        // The meter that handed its device to the take comes back.
        if let Some(device) = self.resume_monitor.take() {
            self.monitor_input(device, true);
        }
    }
}

/// Copies takes from an old root into a new project folder (Save As, first save), making their
/// paths relative to it.
fn copy_takes(old_root: &Path, new_root: &Path, takes: &mut [Take]) -> std::io::Result<()> {
    if old_root == new_root {
        return Ok(());
    }
    std::fs::create_dir_all(new_root.join(project::TAKES_DIR))?;
    for take in takes {
        let from = old_root.join(&take.file);
        let file_name =
            from.file_name().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(format!("{}.wav", take.name)));
        let relative = Path::new(project::TAKES_DIR).join(file_name);
        std::fs::copy(&from, new_root.join(&relative))?;
        take.file = relative;
    }
    Ok(())
}
