//! The piano roll view: keyboard, bar ruler, grid and notes. Only what is on screen is drawn
//! (notes are culled by time with a binary search and by pitch), so large songs stay smooth.

use cadenza_engine::gm;
use cadenza_engine::song::{Note, Song};
use cadenza_engine::timing::ticks_per_bar;
use eframe::egui::{self, Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2};

const KEYBOARD_WIDTH: f32 = 52.0;
const RULER_HEIGHT: f32 = 22.0;
/// Zoom limits in pixels per quarter note, so they mean the same at any PPQ.
const MIN_PIXELS_PER_QUARTER: f32 = 2.0;
const MAX_PIXELS_PER_QUARTER: f32 = 1200.0;

const PALETTE: [Color32; 8] = [
    Color32::from_rgb(0x4e, 0x9a, 0xf1),
    Color32::from_rgb(0xf1, 0x8f, 0x4e),
    Color32::from_rgb(0x5c, 0xc4, 0x7a),
    Color32::from_rgb(0xd6, 0x5d, 0xb1),
    Color32::from_rgb(0xe6, 0xc3, 0x3c),
    Color32::from_rgb(0x3c, 0xc8, 0xd6),
    Color32::from_rgb(0xe0, 0x5a, 0x5a),
    Color32::from_rgb(0x9b, 0x7b, 0xe8),
];

pub fn track_colour(index: usize) -> Color32 {
    PALETTE[index % PALETTE.len()]
}

/// Keeps a horizontal zoom (pixels per tick) within the limits per quarter note.
fn clamp_zoom(pixels_per_tick: f32, ppq: f32) -> f32 {
    pixels_per_tick.clamp(MIN_PIXELS_PER_QUARTER / ppq, MAX_PIXELS_PER_QUARTER / ppq)
}

fn is_black_key(pitch: u8) -> bool {
    matches!(pitch % 12, 1 | 3 | 6 | 8 | 10)
}

/// Zoom and scroll of the roll.
pub struct RollView {
    /// Horizontal zoom.
    pixels_per_tick: f32,
    /// Height of one semitone row.
    key_height: f32,
    /// Tick at the left edge.
    left_tick: f32,
    /// Pitch at the top edge (fractional while scrolling).
    top_pitch: f32,
}

impl Default for RollView {
    fn default() -> Self {
        Self { pixels_per_tick: 0.1, key_height: 12.0, left_tick: 0.0, top_pitch: 84.0 }
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
            self.key_height = (620.0 / span).clamp(6.0, 18.0);
            self.top_pitch = (f32::from(high) + 3.0 + (620.0 / self.key_height - span).max(0.0) / 2.0).min(127.0);
        }
    }

    pub fn show(&mut self, ui: &mut egui::Ui, song: &Song) {
        let (response, painter) = ui.allocate_painter(ui.available_size(), Sense::click_and_drag());
        let rect = response.rect;
        self.handle_input(ui, &response, rect, f32::from(song.ppq));
        let grid = Rect::from_min_max(Pos2::new(rect.left() + KEYBOARD_WIDTH, rect.top() + RULER_HEIGHT), rect.max);
        let to_x = |tick: f32| grid.left() + (tick - self.left_tick) * self.pixels_per_tick;
        let to_y = |pitch: f32| grid.top() + (self.top_pitch - pitch) * self.key_height;
        let visible_ticks = (self.left_tick, self.left_tick + grid.width() / self.pixels_per_tick);
        let low_pitch = (self.top_pitch - grid.height() / self.key_height).floor().max(0.0) as u8;
        let high_pitch = self.top_pitch.ceil().min(127.0) as u8;

        let visuals = ui.visuals();
        let dark = visuals.dark_mode;
        let (row_light, row_dark) = if dark {
            (Color32::from_gray(38), Color32::from_gray(30))
        } else {
            (Color32::from_gray(250), Color32::from_gray(236))
        };
        let line_colour = if dark { Color32::from_gray(60) } else { Color32::from_gray(205) };

        let clip = painter.with_clip_rect(grid);
        for pitch in low_pitch..=high_pitch {
            let y = to_y(f32::from(pitch));
            let row = Rect::from_min_max(Pos2::new(grid.left(), y - self.key_height), Pos2::new(grid.right(), y));
            clip.rect_filled(row, 0.0, if is_black_key(pitch) { row_dark } else { row_light });
            if pitch % 12 == 0 {
                clip.line_segment([row.left_bottom(), row.right_bottom()], Stroke::new(1.0, line_colour));
            }
        }
        self.draw_grid(&clip, &painter, song, grid, rect, visible_ticks, line_colour, visuals.text_color());

        let hover = response.hover_pos().filter(|p| grid.contains(*p));
        let mut hovered: Option<(usize, Note)> = None;
        for (index, track) in song.tracks.iter().enumerate() {
            let colour = track_colour(index);
            let longest = track.notes.iter().map(|n| n.length).max().unwrap_or(0) as f32;
            let first = track.notes.partition_point(|n| (n.start as f32) < visible_ticks.0 - longest);
            for note in track.notes[first..].iter().take_while(|n| (n.start as f32) <= visible_ticks.1) {
                if note.pitch < low_pitch || note.pitch > high_pitch || (note.end() as f32) < visible_ticks.0 {
                    continue;
                }
                let x0 = to_x(note.start as f32);
                let x1 = to_x(note.end() as f32).max(x0 + 2.0);
                let y = to_y(f32::from(note.pitch));
                let note_rect = Rect::from_min_max(Pos2::new(x0, y - self.key_height + 1.0), Pos2::new(x1, y - 1.0));
                // Velocity shading: soft notes are paler.
                let strength = 0.45 + 0.55 * f32::from(note.velocity) / 127.0;
                let fill = colour.gamma_multiply(if track.muted { 0.25 } else { strength });
                clip.rect_filled(note_rect, 2.0, fill);
                clip.rect_stroke(note_rect, 2.0, Stroke::new(1.0, colour.gamma_multiply(0.9)), StrokeKind::Inside);
                if hover.is_some_and(|p| note_rect.contains(p)) {
                    hovered = Some((index, note.clone()));
                }
            }
        }
        self.draw_keyboard(&painter, rect, grid, low_pitch, high_pitch);

        if let Some((track, note)) = hovered {
            let name = if song.tracks[track].is_drum {
                gm::drum_name(note.pitch).map_or_else(|| gm::pitch_name(note.pitch), str::to_string)
            } else {
                gm::pitch_name(note.pitch)
            };
            let pos = song.tick_to_bar_beat(note.start);
            response.on_hover_text_at_pointer(format!(
                "{name} · velocity {} · {pos} · {}",
                note.velocity, song.tracks[track].name
            ));
        }
    }

    fn handle_input(&mut self, ui: &egui::Ui, response: &egui::Response, rect: Rect, ppq: f32) {
        if !response.hovered() {
            return;
        }
        let (scroll, zoom, modifiers, pointer) =
            ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta_2d(), i.modifiers, i.pointer.hover_pos()));
        let anchor_x = pointer.map_or(rect.center().x, |p| p.x) - rect.left() - KEYBOARD_WIDTH;
        if zoom.x != 1.0 || (modifiers.command && scroll.y != 0.0) {
            let factor = if zoom.x != 1.0 { zoom.x } else { (scroll.y / 200.0).exp() };
            let tick_at_anchor = self.left_tick + anchor_x / self.pixels_per_tick;
            self.pixels_per_tick = clamp_zoom(self.pixels_per_tick * factor, ppq);
            self.left_tick = (tick_at_anchor - anchor_x / self.pixels_per_tick).max(0.0);
        } else if modifiers.shift && scroll.y != 0.0 {
            self.key_height = (self.key_height * (scroll.y / 200.0).exp()).clamp(4.0, 32.0);
        } else {
            self.left_tick = (self.left_tick - scroll.x / self.pixels_per_tick).max(0.0);
            self.top_pitch = (self.top_pitch + scroll.y / self.key_height).clamp(12.0, 127.0);
        }
        if response.dragged_by(egui::PointerButton::Middle) {
            let d: Vec2 = response.drag_delta();
            self.left_tick = (self.left_tick - d.x / self.pixels_per_tick).max(0.0);
            self.top_pitch = (self.top_pitch + d.y / self.key_height).clamp(12.0, 127.0);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn draw_grid(
        &self,
        clip: &egui::Painter,
        painter: &egui::Painter,
        song: &Song,
        grid: Rect,
        rect: Rect,
        visible: (f32, f32),
        line: Color32,
        text: Color32,
    ) {
        let to_x = |tick: f32| grid.left() + (tick - self.left_tick) * self.pixels_per_tick;
        let ruler = Rect::from_min_max(Pos2::new(grid.left(), rect.top()), Pos2::new(rect.right(), grid.top()));
        painter.rect_filled(ruler, 0.0, line.gamma_multiply(0.5));
        let sigs = &song.time_signatures;
        let mut bar_number = 1u64;
        for (i, sig) in sigs.iter().enumerate() {
            let segment_end = sigs.get(i + 1).map_or(f32::INFINITY, |s| s.tick as f32);
            let bar = ticks_per_bar(song.ppq, sig) as f32;
            let beat = bar / f32::from(sig.numerator.max(1));
            // Skip labels when bars are too narrow to read.
            let label_every = ((40.0 / (bar * self.pixels_per_tick)).ceil() as u64).max(1);
            let mut tick = sig.tick as f32;
            while tick < segment_end && tick <= visible.1 {
                if tick + bar >= visible.0 {
                    let x = to_x(tick);
                    clip.line_segment(
                        [Pos2::new(x, grid.top()), Pos2::new(x, grid.bottom())],
                        Stroke::new(1.2, line.gamma_multiply(1.6)),
                    );
                    if beat * self.pixels_per_tick > 8.0 {
                        for b in 1..sig.numerator {
                            let bx = to_x(tick + beat * f32::from(b));
                            clip.line_segment(
                                [Pos2::new(bx, grid.top()), Pos2::new(bx, grid.bottom())],
                                Stroke::new(0.6, line),
                            );
                        }
                    }
                    if (bar_number - 1).is_multiple_of(label_every) && x >= grid.left() {
                        painter.text(
                            Pos2::new(x + 3.0, ruler.center().y),
                            Align2::LEFT_CENTER,
                            bar_number.to_string(),
                            FontId::monospace(11.0),
                            text,
                        );
                    }
                }
                tick += bar;
                bar_number += 1;
            }
        }
    }

    fn draw_keyboard(&self, painter: &egui::Painter, rect: Rect, grid: Rect, low: u8, high: u8) {
        let keys = Rect::from_min_max(Pos2::new(rect.left(), grid.top()), Pos2::new(grid.left(), rect.bottom()));
        let clip = painter.with_clip_rect(keys);
        clip.rect_filled(keys, 0.0, Color32::from_gray(245));
        for pitch in low..=high {
            let y = grid.top() + (self.top_pitch - f32::from(pitch)) * self.key_height;
            let key = Rect::from_min_max(Pos2::new(keys.left(), y - self.key_height), Pos2::new(keys.right(), y));
            if is_black_key(pitch) {
                clip.rect_filled(key.with_max_x(keys.left() + KEYBOARD_WIDTH * 0.62), 1.0, Color32::from_gray(30));
            } else {
                clip.line_segment([key.left_bottom(), key.right_bottom()], Stroke::new(0.5, Color32::from_gray(170)));
            }
            if pitch % 12 == 0 && self.key_height >= 7.0 {
                clip.text(
                    Pos2::new(keys.right() - 3.0, key.center().y),
                    Align2::RIGHT_CENTER,
                    gm::pitch_name(pitch),
                    FontId::proportional(self.key_height.min(11.0)),
                    Color32::from_gray(60),
                );
            }
        }
        painter.line_segment([keys.right_top(), keys.right_bottom()], Stroke::new(1.0, Color32::from_gray(120)));
    }
}
