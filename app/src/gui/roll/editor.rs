//! Editing gestures: tools, selection, drawing, moving, resizing, rubber-band selection, the
//! ruler (seek and loop), the keyboard (preview), and the editing keys. A gesture is previewed
//! while it runs and becomes one edit when it ends, so a whole drag is one undo step.

use std::collections::BTreeSet;

use cadenza_engine::Edit;
use cadenza_engine::song::{Note, Song, Track};
use eframe::egui::{self, Key, Modifiers, Pos2, Rect};

use super::{Grid, RollAction, RollInput, Viewport};

/// Pixels at a note's right end that grab its length instead of moving it.
const RESIZE_HANDLE: f32 = 6.0;
const DEFAULT_VELOCITY: u8 = 96;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tool {
    /// Click adds a note, drag sets its length; notes can still be moved and resized.
    #[default]
    Draw,
    /// Click selects, drag on empty space selects by rubber band.
    Select,
}

/// A gesture in progress.
#[derive(Debug, Clone, PartialEq)]
pub enum Drag {
    Drawing {
        start: u64,
        pitch: u8,
        end: u64,
    },
    Moving {
        delta_ticks: i64,
        delta_pitch: i16,
    },
    Resizing {
        delta_ticks: i64,
    },
    RubberBand {
        from: Pos2,
        to: Pos2,
    },
    Loop {
        from: u64,
        to: u64,
    },
    /// Velocity lane: the grabbed note and the value it is dragged to.
    Velocity {
        note: Note,
        velocity: u8,
    },
}

pub struct Editor {
    pub tool: Tool,
    pub grid: Grid,
    /// Quantise strength, 0..=1.
    pub strength: f32,
    pub selection: BTreeSet<Note>,
    pub drag: Option<Drag>,
    clipboard: Vec<Note>,
    /// Length of the next drawn note: the last drawn or resized length, else one grid step.
    note_length: Option<u64>,
}

impl Default for Editor {
    fn default() -> Self {
        Self {
            tool: Tool::Draw,
            grid: Grid::default(),
            strength: 1.0,
            selection: BTreeSet::new(),
            drag: None,
            clipboard: Vec::new(),
            note_length: None,
        }
    }
}

/// What a pointer gesture acts on this frame.
#[derive(Clone, Copy)]
struct Target<'a> {
    view: &'a Viewport,
    input: &'a RollInput<'a>,
    track: &'a Track,
}

fn note_at(track: &Track, view: &Viewport, pos: Pos2) -> Option<Note> {
    let tick = view.tick_at(pos.x);
    let pitch = view.pitch_at(pos.y);
    // Topmost (latest-starting) note under the pointer.
    let end = track.notes.partition_point(|n| (n.start as f64) <= tick);
    track.notes[..end].iter().rev().find(|n| n.pitch == pitch && view.note_rect(n).contains(pos)).cloned()
}

/// What an editing key acts on.
#[derive(Clone, Copy)]
struct KeyTarget<'a> {
    track: &'a Track,
    track_index: usize,
    ppq: u16,
    playhead: u64,
}

impl Editor {
    pub fn selected(&self) -> Vec<Note> {
        self.selection.iter().cloned().collect()
    }

    fn snap(&self, ppq: u16, tick: f64, modifiers: Modifiers) -> u64 {
        // Alt places freely, as in most editors.
        if modifiers.alt { tick.round() as u64 } else { self.grid.round(ppq, tick) }
    }

    fn snap_delta(&self, ppq: u16, delta: f64, modifiers: Modifiers) -> i64 {
        if modifiers.alt {
            return delta.round() as i64;
        }
        let step = self.grid.ticks(ppq) as f64;
        ((delta / step).round() * step) as i64
    }

    /// Mouse gestures on the roll.
    pub fn pointer(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        view: &Viewport,
        input: &RollInput<'_>,
        actions: &mut Vec<RollAction>,
        shift: bool,
    ) {
        let Some(track) = input.song.tracks.get(input.track) else {
            self.drag = None;
            return;
        };
        let ppq = input.song.ppq;
        let at = Target { view, input, track };
        let (modifiers, origin, secondary_clicked) = ui.input(|i| {
            (i.modifiers, i.pointer.press_origin(), i.pointer.button_clicked(egui::PointerButton::Secondary))
        });
        let pointer = response.interact_pointer_pos().or(response.hover_pos());

        if response.clicked()
            && let Some(pos) = pointer
        {
            self.click(pos, at, modifiers, actions);
        }
        if secondary_clicked
            && let Some(pos) = response.hover_pos().filter(|p| view.grid.contains(*p))
            && let Some(note) = note_at(track, view, pos)
        {
            self.selection.remove(&note);
            actions.push(RollAction::Edit(Edit::RemoveNotes { track: input.track, notes: vec![note] }));
        }
        if response.drag_started_by(egui::PointerButton::Primary)
            && let Some(origin) = origin
        {
            self.start_drag(origin, at, shift, actions);
        }
        if response.dragged_by(egui::PointerButton::Primary)
            && let (Some(origin), Some(pos)) = (origin, pointer)
        {
            self.update_drag(origin, pos, view, ppq, modifiers);
        }
        if response.drag_stopped() {
            self.finish_drag(at, actions);
        }
    }

    fn click(&mut self, pos: Pos2, at: Target<'_>, modifiers: Modifiers, actions: &mut Vec<RollAction>) {
        let Target { view, input, track } = at;
        let ppq = input.song.ppq;
        if view.ruler.contains(pos) {
            actions.push(RollAction::Seek(self.snap(ppq, view.tick_at(pos.x), modifiers)));
            return;
        }
        if view.keys.contains(pos) {
            actions.push(RollAction::Preview { pitch: view.pitch_at(pos.y), velocity: DEFAULT_VELOCITY });
            return;
        }
        if !view.grid.contains(pos) {
            return;
        }
        match note_at(track, view, pos) {
            Some(note) => {
                actions.push(RollAction::Preview { pitch: note.pitch, velocity: note.velocity });
                if modifiers.shift {
                    if !self.selection.remove(&note) {
                        self.selection.insert(note);
                    }
                } else {
                    self.selection = BTreeSet::from([note]);
                }
            }
            None if self.tool == Tool::Draw => {
                let start = if modifiers.alt {
                    view.tick_at(pos.x).round() as u64
                } else {
                    self.grid.floor(ppq, view.tick_at(pos.x))
                };
                let length = self.note_length.unwrap_or_else(|| self.grid.ticks(ppq));
                let note = Note::new(start, length, view.pitch_at(pos.y), DEFAULT_VELOCITY);
                self.selection = BTreeSet::from([note.clone()]);
                actions.push(RollAction::Preview { pitch: note.pitch, velocity: note.velocity });
                actions.push(RollAction::Edit(Edit::AddNotes { track: input.track, notes: vec![note] }));
            }
            None => {
                if !modifiers.shift {
                    self.selection.clear();
                }
            }
        }
    }

    fn start_drag(&mut self, origin: Pos2, at: Target<'_>, shift: bool, actions: &mut Vec<RollAction>) {
        let Target { view, input, track } = at;
        let ppq = input.song.ppq;
        if view.ruler.contains(origin) {
            let tick = self.grid.round(ppq, view.tick_at(origin.x));
            self.drag = Some(Drag::Loop { from: tick, to: tick });
            return;
        }
        if !view.grid.contains(origin) {
            return;
        }
        self.drag = Some(match note_at(track, view, origin) {
            Some(note) => {
                if !self.selection.contains(&note) {
                    if !shift {
                        self.selection.clear();
                    }
                    self.selection.insert(note.clone());
                }
                let rect = view.note_rect(&note);
                if origin.x >= rect.right() - RESIZE_HANDLE.min(rect.width() / 3.0) {
                    Drag::Resizing { delta_ticks: 0 }
                } else {
                    actions.push(RollAction::Preview { pitch: note.pitch, velocity: note.velocity });
                    Drag::Moving { delta_ticks: 0, delta_pitch: 0 }
                }
            }
            None if self.tool == Tool::Draw => {
                let start = self.grid.floor(ppq, view.tick_at(origin.x));
                let pitch = view.pitch_at(origin.y);
                actions.push(RollAction::Preview { pitch, velocity: DEFAULT_VELOCITY });
                Drag::Drawing { start, pitch, end: start + self.grid.ticks(ppq) }
            }
            None => {
                if !shift {
                    self.selection.clear();
                }
                Drag::RubberBand { from: origin, to: origin }
            }
        });
    }

    fn update_drag(&mut self, origin: Pos2, pos: Pos2, view: &Viewport, ppq: u16, modifiers: Modifiers) {
        let grid_step = self.grid.ticks(ppq);
        let delta_tick = view.tick_at(pos.x) - view.tick_at(origin.x);
        let snapped = self.snap_delta(ppq, delta_tick, modifiers);
        let tick_here = view.tick_at(pos.x);
        let snap_here = self.snap(ppq, tick_here, modifiers);
        match self.drag.as_mut() {
            Some(Drag::Drawing { start, end, .. }) => {
                *end = snap_here.max(*start + if modifiers.alt { 1 } else { grid_step });
            }
            Some(Drag::Moving { delta_ticks, delta_pitch }) => {
                *delta_ticks = snapped;
                *delta_pitch = ((origin.y - pos.y) / view.key_height).round() as i16;
            }
            Some(Drag::Resizing { delta_ticks }) => *delta_ticks = snapped,
            Some(Drag::RubberBand { to, .. }) => *to = pos,
            Some(Drag::Loop { to, .. }) => *to = self.grid.round(ppq, tick_here),
            Some(Drag::Velocity { .. }) | None => {}
        }
    }

    fn finish_drag(&mut self, at: Target<'_>, actions: &mut Vec<RollAction>) {
        let Target { view, input, track } = at;
        let track_index = input.track;
        match self.drag.take() {
            Some(Drag::Drawing { start, pitch, end }) => {
                let note = Note::new(start, end.saturating_sub(start).max(1), pitch, DEFAULT_VELOCITY);
                self.note_length = Some(note.length);
                self.selection = BTreeSet::from([note.clone()]);
                actions.push(RollAction::Edit(Edit::AddNotes { track: track_index, notes: vec![note] }));
            }
            Some(Drag::Moving { delta_ticks, delta_pitch }) if delta_ticks != 0 || delta_pitch != 0 => {
                actions.push(RollAction::Edit(Edit::MoveNotes {
                    track: track_index,
                    notes: self.selected(),
                    delta_ticks,
                    delta_pitch,
                }));
            }
            Some(Drag::Resizing { delta_ticks }) if delta_ticks != 0 => {
                if let [only] = self.selected().as_slice() {
                    self.note_length = Some((only.length as i64 + delta_ticks).max(1) as u64);
                }
                actions.push(RollAction::Edit(Edit::ResizeNotes {
                    track: track_index,
                    notes: self.selected(),
                    delta_ticks,
                }));
            }
            Some(Drag::RubberBand { from, to }) => {
                let band = Rect::from_two_pos(from, to);
                let (t0, t1) = (view.tick_at(band.left()), view.tick_at(band.right()));
                let end = track.notes.partition_point(|n| (n.start as f64) <= t1);
                for note in &track.notes[..end] {
                    if (note.end() as f64) >= t0 && band.intersects(view.note_rect(note)) {
                        self.selection.insert(note.clone());
                    }
                }
            }
            Some(Drag::Loop { from, to }) => {
                let (a, b) = (from.min(to), from.max(to));
                actions.push(RollAction::SetLoop((b > a).then_some((a, b))));
            }
            _ => {}
        }
    }

    /// The editing keys; the app calls this when no text field has the keyboard.
    pub fn keys(&mut self, ctx: &egui::Context, song: &Song, track_index: usize, playhead: u64) -> Vec<RollAction> {
        let Some(track) = song.tracks.get(track_index) else { return Vec::new() };
        let mut actions = Vec::new();
        let (events, modifiers) = ctx.input(|i| (i.events.clone(), i.modifiers));
        let at = KeyTarget { track, track_index, ppq: song.ppq, playhead };
        for event in events {
            let command = match event {
                egui::Event::Copy => Some(Key::C),
                egui::Event::Cut => Some(Key::X),
                egui::Event::Paste(_) => Some(Key::V),
                egui::Event::Key { key, pressed: true, modifiers: m, .. } if m.command || !modifiers.command => {
                    self.plain_or_command_key(key, m, &at, &mut actions);
                    None
                }
                _ => None,
            };
            if let Some(key) = command {
                self.plain_or_command_key(key, Modifiers::COMMAND, &at, &mut actions);
            }
        }
        actions
    }

    fn plain_or_command_key(&mut self, key: Key, m: Modifiers, at: &KeyTarget<'_>, actions: &mut Vec<RollAction>) {
        let KeyTarget { track, track_index, ppq, playhead } = *at;
        let selected = self.selected();
        let edit = |edit: Edit| RollAction::Edit(edit);
        match (key, m.command) {
            (Key::A, true) => self.selection = track.notes.iter().cloned().collect(),
            (Key::C, true) if !selected.is_empty() => self.clipboard = selected,
            (Key::X, true) if !selected.is_empty() => {
                self.clipboard = selected.clone();
                self.selection.clear();
                actions.push(edit(Edit::RemoveNotes { track: track_index, notes: selected }));
            }
            (Key::V, true) if !self.clipboard.is_empty() => {
                // Pasted notes keep their spacing; the first lands at the playhead.
                let first = self.clipboard.iter().map(|n| n.start).min().unwrap_or(0);
                let notes: Vec<Note> =
                    self.clipboard.iter().map(|n| Note { start: n.start - first + playhead, ..n.clone() }).collect();
                self.selection = notes.iter().cloned().collect();
                actions.push(edit(Edit::AddNotes { track: track_index, notes }));
            }
            (Key::D, true) if !selected.is_empty() => {
                let start = selected.iter().map(|n| n.start).min().unwrap_or(0);
                let end = selected.iter().map(Note::end).max().unwrap_or(0);
                let step = self.grid.ticks(ppq);
                let shift = (end - start).div_ceil(step).max(1) * step;
                let copies: Vec<Note> = selected.iter().map(|n| Note { start: n.start + shift, ..n.clone() }).collect();
                self.selection = copies.iter().cloned().collect();
                actions.push(edit(Edit::AddNotes { track: track_index, notes: copies }));
            }
            (Key::Delete | Key::Backspace, false) if !selected.is_empty() => {
                self.selection.clear();
                actions.push(edit(Edit::RemoveNotes { track: track_index, notes: selected }));
            }
            (Key::ArrowUp | Key::ArrowDown, false) if !selected.is_empty() => {
                let step: i16 = if m.shift { 12 } else { 1 };
                let semitones = if key == Key::ArrowUp { step } else { -step };
                actions.push(edit(Edit::Transpose { track: track_index, notes: selected, semitones }));
            }
            (Key::ArrowLeft | Key::ArrowRight, false) if !selected.is_empty() => {
                let step = self.grid.ticks(ppq) as i64;
                let delta_ticks = if key == Key::ArrowRight { step } else { -step };
                actions.push(edit(Edit::MoveNotes {
                    track: track_index,
                    notes: selected,
                    delta_ticks,
                    delta_pitch: 0,
                }));
            }
            (Key::Q, false) => actions.extend(self.quantise(track, track_index, ppq)),
            (Key::B, false) => self.tool = Tool::Draw,
            (Key::V, false) => self.tool = Tool::Select,
            (Key::Escape, false) => self.selection.clear(),
            _ => {}
        }
    }

    /// Quantises the selection, or the whole track when nothing is selected.
    pub fn quantise(&self, track: &Track, track_index: usize, ppq: u16) -> Option<RollAction> {
        let notes = if self.selection.is_empty() { track.notes.clone() } else { self.selected() };
        (!notes.is_empty()).then(|| {
            RollAction::Edit(Edit::Quantise {
                track: track_index,
                notes,
                grid: self.grid.ticks(ppq),
                strength: self.strength,
                ends: false,
            })
        })
    }

    /// After an edit: the notes it made are selected, the ones it removed are not.
    pub fn after_edit(&mut self, before: &Track, after: &Track) {
        let old: BTreeSet<&Note> = before.notes.iter().collect();
        self.selection.extend(after.notes.iter().filter(|n| !old.contains(n)).cloned());
        self.keep_existing(after);
    }

    /// Drops selected notes that are no longer in the track (after undo, or a new song).
    pub fn keep_existing(&mut self, track: &Track) {
        self.selection.retain(|n| track.contains_note(n));
    }
}
