//! Drawing the roll: rows, grid, ruler with loop and playhead, notes (the edited track in
//! colour with velocity shading, the others as ghosts), gesture previews, and the keyboard.
//! Only what is on screen is drawn: notes are culled by time with a binary search and by pitch.

use cadenza_engine::song::{Note, Song, Track};
use cadenza_engine::timing::ticks_per_bar;
use cadenza_engine::{gm, instrument_range};
use eframe::egui::{self, Align2, Color32, FontId, Painter, Pos2, Rect, Stroke, StrokeKind};

use super::editor::Drag;
use super::{Editor, RollInput, Viewport};

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

pub fn colour_of(track: &Track, index: usize) -> Color32 {
    track.colour.map_or_else(|| track_colour(index), |[r, g, b]| Color32::from_rgb(r, g, b))
}

fn is_black_key(pitch: u8) -> bool {
    matches!(pitch % 12, 1 | 3 | 6 | 8 | 10)
}

pub fn roll(
    ui: &egui::Ui,
    painter: &Painter,
    view: &Viewport,
    input: &RollInput<'_>,
    editor: &Editor,
    hover: Option<Pos2>,
) {
    let visuals = ui.visuals();
    let dark = visuals.dark_mode;
    let (row_light, row_dark) = if dark {
        (Color32::from_gray(38), Color32::from_gray(30))
    } else {
        (Color32::from_gray(250), Color32::from_gray(236))
    };
    let line = if dark { Color32::from_gray(60) } else { Color32::from_gray(205) };
    let clip = painter.with_clip_rect(view.grid);
    let (low, high) = view.visible_pitches();
    let range = edited_range(input);
    // Rows the edited track's instrument cannot play are shaded (the engine's range table).
    let unplayable = if dark { Color32::from_black_alpha(110) } else { Color32::from_black_alpha(34) };
    for pitch in low..=high {
        let top = view.row_top(pitch);
        let row =
            Rect::from_min_max(Pos2::new(view.grid.left(), top), Pos2::new(view.grid.right(), top + view.key_height));
        clip.rect_filled(row, 0.0, if is_black_key(pitch) { row_dark } else { row_light });
        if range.as_ref().is_some_and(|r| !r.contains(&pitch)) {
            clip.rect_filled(row, 0.0, unplayable);
        }
        if pitch % 12 == 0 {
            clip.line_segment([row.left_bottom(), row.right_bottom()], Stroke::new(1.0, line));
        }
    }
    grid_lines(&clip, painter, input.song, view, editor, line, visuals.text_color());
    if let Some((start, end)) = input.loop_ticks {
        let band = Rect::from_x_y_ranges(view.x(start as f64)..=view.x(end as f64), view.grid.y_range());
        clip.rect_filled(band, 0.0, visuals.selection.bg_fill.gamma_multiply(0.12));
    }

    for (index, track) in input.song.tracks.iter().enumerate() {
        if index != input.track {
            // Ghost notes: flat rectangles, never outlined.
            let ghost = Color32::from_gray(if dark { 95 } else { 175 }).gamma_multiply(0.55);
            notes(&clip, view, track, |_| ghost, None, false);
        }
    }
    if let Some(track) = input.song.tracks.get(input.track) {
        let colour = colour_of(track, input.track);
        let selection_stroke = visuals.selection.stroke.color;
        let moving = matches!(editor.drag, Some(Drag::Moving { .. } | Drag::Resizing { .. }));
        notes(
            &clip,
            view,
            track,
            |note| {
                // Velocity shading: soft notes are paler; notes being dragged fade.
                let strength = 0.45 + 0.55 * f32::from(note.velocity) / 127.0;
                let fade = if track.muted {
                    0.25
                } else if moving && editor.selection.contains(note) {
                    0.3
                } else {
                    1.0
                };
                colour.gamma_multiply(strength * fade)
            },
            Some((&editor.selection, selection_stroke)),
            true,
        );
        gesture_preview(&clip, view, editor, hover, colour, selection_stroke);
    }
    if let Some(live) = input.live {
        // Live transcription: final notes solid, notes still sounding paler, both in the
        // record colour so they read as "being heard", not as the edited track.
        let record = Color32::from_rgb(235, 87, 87);
        notes(&clip, view, &live.committed, |_| record, None, true);
        notes(&clip, view, &live.provisional, |_| record.gamma_multiply(0.45), None, true);
    }
    // A continuation is a proposal: drawn translucent in its own colour until kept.
    let proposal = Color32::from_rgb(80, 200, 170).gamma_multiply(0.6);
    for track in input.continuation {
        notes(&clip, view, track, |_| proposal, None, true);
    }
    ruler(painter, view, input, line);
    keyboard(painter, view, low, high, range);
}

/// Where the edited track's instrument can play (none on drums, or with no track).
fn edited_range(input: &RollInput<'_>) -> Option<std::ops::RangeInclusive<u8>> {
    let track = input.song.tracks.get(input.track)?;
    instrument_range::playable_range(track.program, track.is_drum)
}

/// Ghost notes, and the edited track above this many visible notes, notes are drawn as plain rectangles in one mesh, and a note
/// hidden under the one before it in its row is skipped: a zoomed-out view of a long song then
/// costs about one rectangle per covered pixel instead of one shape per note.
const DETAILED_NOTES: usize = 1500;

fn notes(
    clip: &Painter,
    view: &Viewport,
    track: &Track,
    fill: impl Fn(&Note) -> Color32,
    selection: Option<(&std::collections::BTreeSet<Note>, Color32)>,
    detailed: bool,
) {
    let (t0, t1) = view.visible_ticks();
    let (low, high) = view.visible_pitches();
    let longest = track.notes.iter().map(|n| n.length).max().unwrap_or(0) as f64;
    let first = track.notes.partition_point(|n| (n.start as f64) < t0 - longest);
    let last = first + track.notes[first..].partition_point(|n| (n.start as f64) <= t1);
    let visible =
        track.notes[first..last].iter().filter(|n| n.pitch >= low && n.pitch <= high && (n.end() as f64) >= t0);
    if !detailed || last - first > DETAILED_NOTES {
        let mut mesh = egui::Mesh::default();
        // Right edge drawn so far in each pitch row.
        let mut covered = [f32::NEG_INFINITY; 128];
        for note in visible {
            let rect = view.note_rect(note);
            let row = &mut covered[usize::from(note.pitch & 0x7F)];
            if rect.right() <= *row + 0.5 {
                continue;
            }
            let selected = selection.is_some_and(|(set, _)| set.contains(note));
            let colour = match selection {
                Some((_, sel)) if selected => sel,
                _ => fill(note),
            };
            let rect = rect.with_min_x(rect.left().max(*row));
            *row = rect.right();
            mesh.add_colored_rect(rect, colour);
        }
        clip.add(egui::Shape::mesh(mesh));
        return;
    }
    for note in visible {
        let rect = view.note_rect(note);
        let colour = fill(note);
        clip.rect_filled(rect, 2.0, colour);
        let selected = selection.is_some_and(|(set, _)| set.contains(note));
        let stroke = match selection {
            Some((_, sel)) if selected => Stroke::new(2.0, sel),
            _ => Stroke::new(1.0, colour.gamma_multiply(0.9)),
        };
        clip.rect_stroke(rect, 2.0, stroke, StrokeKind::Inside);
    }
}

fn gesture_preview(
    clip: &Painter,
    view: &Viewport,
    editor: &Editor,
    hover: Option<Pos2>,
    colour: Color32,
    sel: Color32,
) {
    let outline = |rect: Rect| {
        clip.rect_filled(rect, 2.0, colour.gamma_multiply(0.8));
        clip.rect_stroke(rect, 2.0, Stroke::new(2.0, sel), StrokeKind::Inside);
    };
    match &editor.drag {
        Some(Drag::Drawing { start, pitch, end }) => {
            outline(view.note_rect(&Note::new(*start, end.saturating_sub(*start).max(1), *pitch, 96)));
        }
        Some(Drag::Moving { delta_ticks, delta_pitch }) => {
            for n in &editor.selection {
                let moved = Note {
                    start: (n.start as i64 + delta_ticks).max(0) as u64,
                    pitch: (i16::from(n.pitch) + delta_pitch).clamp(0, 127) as u8,
                    ..n.clone()
                };
                outline(view.note_rect(&moved));
            }
        }
        Some(Drag::Resizing { delta_ticks }) => {
            for n in &editor.selection {
                outline(view.note_rect(&Note { length: (n.length as i64 + delta_ticks).max(1) as u64, ..n.clone() }));
            }
        }
        Some(Drag::RubberBand { from, to }) => {
            let band = Rect::from_two_pos(*from, *to);
            clip.rect_filled(band, 0.0, sel.gamma_multiply(0.12));
            clip.rect_stroke(band, 0.0, Stroke::new(1.0, sel), StrokeKind::Inside);
        }
        _ => {
            // Where a click would put a note.
            if let Some(pos) = hover.filter(|p| view.grid.contains(*p)) {
                let top = view.row_top(view.pitch_at(pos.y));
                let row = Rect::from_x_y_ranges(view.grid.x_range(), top..=top + view.key_height);
                clip.rect_filled(row, 0.0, sel.gamma_multiply(0.05));
            }
        }
    }
}

fn grid_lines(
    clip: &Painter,
    painter: &Painter,
    song: &Song,
    view: &Viewport,
    editor: &Editor,
    line: Color32,
    text: Color32,
) {
    let (t0, t1) = view.visible_ticks();
    painter.rect_filled(view.ruler, 0.0, line.gamma_multiply(0.5));
    let vertical = |x: f32, width: f32, colour: Color32| {
        clip.line_segment(
            [Pos2::new(x, view.grid.top()), Pos2::new(x, view.grid.bottom())],
            Stroke::new(width, colour),
        );
    };
    let sub = editor.grid.ticks(song.ppq) as f64;
    let sigs = &song.time_signatures;
    let mut bar_number = 1u64;
    for (i, sig) in sigs.iter().enumerate() {
        let segment_end = sigs.get(i + 1).map_or(f64::INFINITY, |s| s.tick as f64);
        let bar = ticks_per_bar(song.ppq, sig) as f64;
        let beat = bar / f64::from(sig.numerator.max(1));
        // Skip labels when bars are too narrow to read.
        let label_every = ((40.0 / (bar as f32 * view.pixels_per_tick)).ceil() as u64).max(1);
        let mut tick = sig.tick as f64;
        while tick < segment_end && tick <= t1 {
            if tick + bar >= t0 {
                if sub * f64::from(view.pixels_per_tick) > 6.0 && sub < beat {
                    let mut s = tick + sub;
                    while s < tick + bar - 0.5 {
                        vertical(view.x(s), 0.4, line.gamma_multiply(0.6));
                        s += sub;
                    }
                }
                if beat * f64::from(view.pixels_per_tick) > 8.0 {
                    for b in 1..sig.numerator {
                        vertical(view.x(tick + beat * f64::from(b)), 0.7, line);
                    }
                }
                let x = view.x(tick);
                vertical(x, 1.2, line.gamma_multiply(1.6));
                if (bar_number - 1).is_multiple_of(label_every) && x >= view.grid.left() {
                    painter.text(
                        Pos2::new(x + 3.0, view.ruler.center().y),
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

fn ruler(painter: &Painter, view: &Viewport, input: &RollInput<'_>, line: Color32) {
    let clip = painter.with_clip_rect(view.ruler.union(view.grid));
    if let Some((start, end)) = input.loop_ticks {
        let band = Rect::from_x_y_ranges(view.x(start as f64)..=view.x(end as f64), view.ruler.y_range());
        clip.rect_filled(band, 2.0, Color32::from_rgba_unmultiplied(0x4e, 0x9a, 0xf1, 90));
    }
    let x = view.x(input.playhead as f64);
    if x >= view.grid.left() {
        let colour = Color32::from_rgb(0xf1, 0x5a, 0x4e);
        clip.line_segment([Pos2::new(x, view.ruler.top()), Pos2::new(x, view.grid.bottom())], Stroke::new(1.5, colour));
        let tip = Pos2::new(x, view.ruler.bottom());
        clip.add(egui::Shape::convex_polygon(
            vec![tip, Pos2::new(x - 5.0, view.ruler.top() + 6.0), Pos2::new(x + 5.0, view.ruler.top() + 6.0)],
            colour,
            Stroke::NONE,
        ));
    }
    painter.line_segment([view.ruler.left_bottom(), view.ruler.right_bottom()], Stroke::new(1.0, line));
}

fn keyboard(painter: &Painter, view: &Viewport, low: u8, high: u8, range: Option<std::ops::RangeInclusive<u8>>) {
    let keys = view.keys;
    let clip = painter.with_clip_rect(keys);
    clip.rect_filled(keys, 0.0, Color32::from_gray(245));
    for pitch in low..=high {
        let top = view.row_top(pitch);
        let key = Rect::from_min_max(Pos2::new(keys.left(), top), Pos2::new(keys.right(), top + view.key_height));
        if range.as_ref().is_some_and(|r| !r.contains(&pitch)) {
            clip.rect_filled(key, 0.0, Color32::from_gray(188));
        }
        if is_black_key(pitch) {
            clip.rect_filled(key.with_max_x(keys.left() + keys.width() * 0.62), 1.0, Color32::from_gray(30));
        } else {
            clip.line_segment([key.left_bottom(), key.right_bottom()], Stroke::new(0.5, Color32::from_gray(170)));
        }
        if pitch % 12 == 0 && view.key_height >= 7.0 {
            clip.text(
                Pos2::new(keys.right() - 3.0, key.center().y),
                Align2::RIGHT_CENTER,
                gm::pitch_name(pitch),
                FontId::proportional(view.key_height.min(11.0)),
                Color32::from_gray(60),
            );
        }
    }
    painter.line_segment([keys.right_top(), keys.right_bottom()], Stroke::new(1.0, Color32::from_gray(120)));
}

/// "C4 · velocity 96 · 3:2:0 · Piano" for the note under the pointer, or the pitch name of
/// the row.
pub fn hover_text(view: &Viewport, input: &RollInput<'_>, pos: Pos2) -> Option<String> {
    let song = input.song;
    let pitch = view.pitch_at(pos.y);
    let tick = view.tick_at(pos.x);
    let order = std::iter::once(input.track).chain((0..song.tracks.len()).filter(|&i| i != input.track));
    for index in order {
        let Some(track) = song.tracks.get(index) else { continue };
        let end = track.notes.partition_point(|n| (n.start as f64) <= tick);
        if let Some(note) = track.notes[..end].iter().rev().find(|n| n.pitch == pitch && (n.end() as f64) >= tick) {
            let name = if track.is_drum {
                gm::drum_name(note.pitch).map_or_else(|| gm::pitch_name(note.pitch), str::to_string)
            } else {
                gm::pitch_name(note.pitch)
            };
            let at = song.tick_to_bar_beat(note.start);
            return Some(format!("{name} · velocity {} · {at} · {}", note.velocity, track.name));
        }
    }
    // An empty row outside the edited instrument's range says so.
    let track = song.tracks.get(input.track)?;
    let range = edited_range(input).filter(|r| !r.contains(&pitch))?;
    let side = if pitch < *range.start() { "below" } else { "above" };
    Some(format!(
        "{} · {side} the range of {} ({}–{})",
        gm::pitch_name(pitch),
        gm::program_name(track.program),
        gm::pitch_name(*range.start()),
        gm::pitch_name(*range.end())
    ))
}
