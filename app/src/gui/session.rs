//! What a panel is given instead of the whole app: the song as the window shows it, the roll's
//! view and selection, the transport, the notices line, the jobs in flight and a way to send
//! the engine commands. Jobs a panel submits are remembered with the panel that asked, so their
//! endings reach that panel and no other.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use cadenza_engine::playback::TransportSettings;
use cadenza_engine::song::Song;
use cadenza_engine::{Command, Edit, EngineHandle, GestureId, Job, JobId, JobOutput};

use super::RollView;

/// A job's progress as the status line draws it.
pub struct JobStatus {
    pub label: String,
    pub fraction: f32,
    pub message: String,
}

/// The panels that submit jobs and hear how they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOwner {
    Transcription,
    Continuation,
}

/// How a job ended.
#[derive(Debug)]
pub enum JobEnd {
    Finished(JobOutput),
    Failed(String),
    Cancelled,
}

pub struct Session {
    pub engine: EngineHandle,
    pub song: Arc<Song>,
    pub title: String,
    /// The saved project folder or the MIDI file the song came from.
    pub path: Option<PathBuf>,
    pub dirty: bool,
    pub can_undo: bool,
    pub can_redo: bool,
    pub selected_track: usize,
    pub roll: RollView,
    pub transport: TransportSettings,
    pub notices: Vec<String>,
    pub jobs: BTreeMap<JobId, JobStatus>,
    /// Which panel waits for each job it submitted.
    owners: BTreeMap<JobId, JobOwner>,
    /// The primary button is held: slider and drag-value edits join one undo step.
    pointer_down: bool,
    /// The button was released this frame. A control still moves in its release frame (to
    /// where the pointer let go, e.g. after the engine's echo of an earlier edit reset it), so
    /// the gesture ends at the start of the next frame, not before that edit.
    releasing: bool,
}

impl Session {
    pub fn new(engine: EngineHandle) -> Self {
        Self {
            engine,
            song: Arc::new(Song::default()),
            title: String::new(),
            path: None,
            dirty: false,
            can_undo: false,
            can_redo: false,
            selected_track: 0,
            roll: RollView::default(),
            transport: TransportSettings { metronome: false, count_in_bars: 1, ..Default::default() },
            notices: Vec::new(),
            jobs: BTreeMap::new(),
            owners: BTreeMap::new(),
            pointer_down: false,
            releasing: false,
        }
    }

    pub fn send(&self, command: Command) {
        self.engine.send(command);
    }

    pub fn playhead(&self) -> u64 {
        self.engine.player().position_tick()
    }

    /// Submits a job whose ending goes to `owner`.
    pub fn submit(&mut self, owner: JobOwner, job: Job) -> JobId {
        let id = self.engine.submit(job);
        self.owners.insert(id, owner);
        id
    }

    /// Records that `owner` waits for a job the engine started for it.
    pub fn own(&mut self, owner: JobOwner, id: JobId) -> JobId {
        self.owners.insert(id, owner);
        id
    }

    /// The panel a finished job belongs to, forgotten as it is told (`None`: nobody's).
    pub fn owner_of_ended(&mut self, id: JobId) -> Option<JobOwner> {
        self.owners.remove(&id)
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
                self.keep_selected_track();
                self.dirty = true;
                self.can_undo = true;
                match continuous_gesture(&edit).filter(|_| self.in_gesture()) {
                    Some(gesture) => self.send(Command::EditInGesture(edit, gesture)),
                    None => self.send(Command::Edit(edit)),
                }
            }
            Err(err) => self.notices.push(err.to_string()),
        }
    }

    /// An edit made while a control is dragged: edits join one undo step until the button is
    /// released.
    pub fn edit_continuously(&mut self, edit: Edit) {
        if self.in_gesture() {
            let song = Arc::make_mut(&mut self.song);
            match edit.clone().apply(song) {
                Ok(_) => {
                    self.dirty = true;
                    self.can_undo = true;
                    self.send(Command::EditInGesture(edit, GestureId(3)));
                }
                Err(err) => self.notices.push(err.to_string()),
            }
        } else {
            self.edit(edit);
        }
    }

    pub fn undo(&mut self) {
        self.send(Command::Undo);
    }

    pub fn redo(&mut self) {
        self.send(Command::Redo);
    }

    pub fn set_transport(&mut self, settings: TransportSettings) {
        self.transport = settings;
        self.send(Command::SetTransport(settings));
    }

    pub fn play_pause(&mut self) {
        if self.engine.player().is_playing() {
            self.send(Command::Pause);
        } else {
            self.send(Command::Play);
        }
    }

    /// Follows the pointer once a frame, before the frame's widgets; a release ends the drag's
    /// gesture once its frame is over.
    pub fn pointer(&mut self, down: bool, released: bool) {
        if self.releasing {
            self.send(Command::EndGesture);
        }
        self.releasing = released && self.pointer_down;
        self.pointer_down = down;
    }

    /// Whether a drag's edits are still one undo step (the button held, or let go this frame).
    fn in_gesture(&self) -> bool {
        self.pointer_down || self.releasing
    }

    /// Keeps the selected track within the song's tracks.
    pub fn keep_selected_track(&mut self) {
        self.selected_track = self.selected_track.min(self.song.tracks.len().saturating_sub(1));
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
