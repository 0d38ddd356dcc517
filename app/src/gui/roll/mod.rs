//! The piano roll: keyboard, ruler, grid, notes, velocity lane, and the editing gestures on
//! them. It draws a song it is given and answers with [`RollAction`]s; it never edits the song
//! itself, so every change goes through the engine's edits and history.

pub(crate) mod draw;
mod editor;
mod grid;
mod velocity;

use cadenza_engine::Edit;
use cadenza_engine::song::{Note, Song};
use eframe::egui::{self, Pos2, Rect, Sense, Vec2};

pub use draw::track_colour;
pub use editor::{Editor, Tool};
pub use grid::Grid;

pub const KEYBOARD_WIDTH: f32 = 52.0;
pub const RULER_HEIGHT: f32 = 22.0;
pub const VELOCITY_LANE_HEIGHT: f32 = 72.0;
/// Zoom limits in pixels per quarter note, so they mean the same at any PPQ.
const MIN_PIXELS_PER_QUARTER: f32 = 2.0;
const MAX_PIXELS_PER_QUARTER: f32 = 1200.0;

/// What the roll asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum RollAction {
    Edit(Edit),
    /// Sound a pitch with the selected track's instrument.
    Preview {
        pitch: u8,
        velocity: u8,
    },
    Seek(u64),
    SetLoop(Option<(u64, u64)>),
}

/// What the roll shows besides the song.
pub struct RollInput<'a> {
    pub song: &'a Song,
    /// The track being edited; the others are drawn as ghost notes.
    pub track: usize,
    pub playhead: u64,
    pub playing: bool,
    pub loop_ticks: Option<(u64, u64)>,
    /// Notes being transcribed from the take that is recording.
    pub live: Option<&'a super::LiveNotesView>,
    /// A continuation being generated or auditioned (not yet part of the song).
    pub continuation: &'a [cadenza_engine::song::Track],
}

/// Keeps a horizontal zoom (pixels per tick) within the limits per quarter note.
fn clamp_zoom(pixels_per_tick: f32, ppq: f32) -> f32 {
    pixels_per_tick.clamp(MIN_PIXELS_PER_QUARTER / ppq, MAX_PIXELS_PER_QUARTER / ppq)
}

/// Where things are on screen this frame.
#[derive(Debug, Clone, Copy)]
pub struct Viewport {
    pub grid: Rect,
    pub keys: Rect,
    pub ruler: Rect,
    pub pixels_per_tick: f32,
    pub key_height: f32,
    pub left_tick: f32,
    pub top_pitch: f32,
}

impl Viewport {
    pub fn x(&self, tick: f64) -> f32 {
        self.grid.left() + (tick as f32 - self.left_tick) * self.pixels_per_tick
    }
    /// Top edge of a pitch's row.
    pub fn row_top(&self, pitch: u8) -> f32 {
        self.grid.top() + (self.top_pitch - f32::from(pitch) - 1.0) * self.key_height
    }
    pub fn tick_at(&self, x: f32) -> f64 {
        f64::from(self.left_tick + (x - self.grid.left()) / self.pixels_per_tick).max(0.0)
    }
    pub fn pitch_at(&self, y: f32) -> u8 {
        let pitch = (self.top_pitch - (y - self.grid.top()) / self.key_height).floor();
        pitch.clamp(0.0, 127.0) as u8
    }
    pub fn note_rect(&self, note: &Note) -> Rect {
        let x0 = self.x(note.start as f64);
        let x1 = self.x(note.end() as f64).max(x0 + 3.0);
        let top = self.row_top(note.pitch);
        Rect::from_min_max(Pos2::new(x0, top + 1.0), Pos2::new(x1, top + self.key_height - 1.0))
    }
    /// The centre of a cell: where a test or a click lands to hit `pitch` at `tick`.
    pub fn pos_of(&self, tick: u64, pitch: u8) -> Pos2 {
        Pos2::new(self.x(tick as f64), self.row_top(pitch) + self.key_height / 2.0)
    }
    pub fn visible_ticks(&self) -> (f64, f64) {
        (self.tick_at(self.grid.left()), self.tick_at(self.grid.right()))
    }
    pub fn visible_pitches(&self) -> (u8, u8) {
        (self.pitch_at(self.grid.bottom() - 0.5), self.pitch_at(self.grid.top() + 0.5))
    }
}

/// Zoom, scroll and editing state of the roll.
pub struct RollView {
    pixels_per_tick: f32,
    key_height: f32,
    left_tick: f32,
    top_pitch: f32,
    pub follow: bool,
    pub editor: Editor,
    /// The last frame's layout (tests use it to aim clicks).
    pub viewport: Option<Viewport>,
    velocity_viewport: Option<Rect>,
}

impl Default for RollView {
    fn default() -> Self {
        Self {
            pixels_per_tick: 0.1,
            key_height: 12.0,
            left_tick: 0.0,
            top_pitch: 84.0,
            follow: true,
            editor: Editor::default(),
            viewport: None,
            velocity_viewport: None,
        }
    }
}

impl RollView {
    /// Frames the whole song: its length across, its pitch range centred.
    pub fn fit(&mut self, song: &Song) {
        let end = song.end_tick().max(u64::from(song.ppq) * 16) as f32;
        self.pixels_per_tick = clamp_zoom(950.0 / end, f32::from(song.ppq));
        self.left_tick = 0.0;
        let pitches = song.tracks.iter().flat_map(|t| t.notes.iter().map(|n| n.pitch));
        let (low, high) = pitches.fold((127u8, 0u8), |(lo, hi), p| (lo.min(p), hi.max(p)));
        if low <= high {
            let span = f32::from(high - low) + 6.0;
            self.key_height = (560.0 / span).clamp(6.0, 18.0);
            self.top_pitch = (f32::from(high) + 3.0 + (560.0 / self.key_height - span).max(0.0) / 2.0).min(128.0);
        }
    }

    pub fn show(&mut self, ui: &mut egui::Ui, input: &RollInput<'_>) -> Vec<RollAction> {
        let size = ui.available_size();
        let roll_size = Vec2::new(size.x, (size.y - VELOCITY_LANE_HEIGHT - 4.0).max(RULER_HEIGHT + 40.0));
        let (response, painter) = ui.allocate_painter(roll_size, Sense::click_and_drag());
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Piano roll"));
        let rect = response.rect;
        self.scroll_and_zoom(ui, &response, rect, f32::from(input.song.ppq));
        let view = self.layout(rect);
        self.follow_playhead(&view, input);
        let view = self.layout(rect);
        self.viewport = Some(view);

        let mut actions = Vec::new();
        let shift_pressed = ui.input(|i| i.modifiers.shift);
        self.editor.pointer(ui, &response, &view, input, &mut actions, shift_pressed);
        draw::roll(ui, &painter, &view, input, &self.editor, response.hover_pos());
        if let Some(pos) = response.hover_pos().filter(|p| view.grid.contains(*p))
            && let Some(text) = draw::hover_text(&view, input, pos)
        {
            response.clone().on_hover_text_at_pointer(text);
        }

        ui.add_space(4.0);
        let lane_size = Vec2::new(size.x, VELOCITY_LANE_HEIGHT);
        let (lane_response, lane_painter) = ui.allocate_painter(lane_size, Sense::click_and_drag());
        lane_response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Velocity lane"));
        let lane = Rect::from_min_max(Pos2::new(view.grid.left(), lane_response.rect.top()), lane_response.rect.max);
        self.velocity_viewport = Some(lane);
        velocity::lane(&lane_painter, &lane_response, lane, &view, input, &mut self.editor, &mut actions);
        actions
    }

    /// The velocity lane's rectangle in the last frame.
    pub fn velocity_rect(&self) -> Option<Rect> {
        self.velocity_viewport
    }

    fn layout(&self, rect: Rect) -> Viewport {
        let grid = Rect::from_min_max(Pos2::new(rect.left() + KEYBOARD_WIDTH, rect.top() + RULER_HEIGHT), rect.max);
        Viewport {
            grid,
            keys: Rect::from_min_max(Pos2::new(rect.left(), grid.top()), Pos2::new(grid.left(), rect.bottom())),
            ruler: Rect::from_min_max(Pos2::new(grid.left(), rect.top()), Pos2::new(rect.right(), grid.top())),
            pixels_per_tick: self.pixels_per_tick,
            key_height: self.key_height,
            left_tick: self.left_tick,
            top_pitch: self.top_pitch,
        }
    }

    /// Pages the view when the playhead leaves it.
    fn follow_playhead(&mut self, view: &Viewport, input: &RollInput<'_>) {
        if !self.follow || !input.playing {
            return;
        }
        let x = view.x(input.playhead as f64);
        if x > view.grid.right() - 8.0 || x < view.grid.left() {
            self.left_tick = (input.playhead as f32 - 0.05 * view.grid.width() / self.pixels_per_tick).max(0.0);
        }
    }

    fn scroll_and_zoom(&mut self, ui: &egui::Ui, response: &egui::Response, rect: Rect, ppq: f32) {
        if !response.hovered() {
            return;
        }
        let (scroll, zoom, modifiers, pointer) =
            ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta_2d(), i.modifiers, i.pointer.hover_pos()));
        let anchor_x = pointer.map_or(rect.center().x, |p| p.x) - rect.left() - KEYBOARD_WIDTH;
        if zoom.x != 1.0 || (modifiers.command && scroll.y != 0.0) {
            // Pinch, or ctrl + wheel: zoom in time around the pointer.
            let factor = if zoom.x != 1.0 { zoom.x } else { (scroll.y / 200.0).exp() };
            let tick_at_anchor = self.left_tick + anchor_x / self.pixels_per_tick;
            self.pixels_per_tick = clamp_zoom(self.pixels_per_tick * factor, ppq);
            self.left_tick = (tick_at_anchor - anchor_x / self.pixels_per_tick).max(0.0);
        } else if modifiers.shift && scroll.y != 0.0 {
            self.key_height = (self.key_height * (scroll.y / 200.0).exp()).clamp(4.0, 32.0);
        } else {
            self.left_tick = (self.left_tick - scroll.x / self.pixels_per_tick).max(0.0);
            self.top_pitch = (self.top_pitch + scroll.y / self.key_height).clamp(12.0, 128.0);
        }
        if response.dragged_by(egui::PointerButton::Middle) {
            let d: Vec2 = response.drag_delta();
            self.left_tick = (self.left_tick - d.x / self.pixels_per_tick).max(0.0);
            self.top_pitch = (self.top_pitch + d.y / self.key_height).clamp(12.0, 128.0);
        }
    }

    /// Zoom so a quarter note is `pixels` wide (tests and the frame benchmark use fixed zooms).
    pub fn set_zoom(&mut self, pixels_per_quarter: f32, ppq: u16, key_height: f32, top_pitch: f32) {
        self.pixels_per_tick = clamp_zoom(pixels_per_quarter / f32::from(ppq), f32::from(ppq));
        self.key_height = key_height.clamp(4.0, 32.0);
        self.top_pitch = top_pitch.clamp(12.0, 128.0);
        self.left_tick = 0.0;
    }
}
