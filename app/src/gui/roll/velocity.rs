//! The velocity lane under the roll: one bar per visible note of the edited track. Dragging a
//! bar sets that note's velocity; dragging a selected note's bar scales the whole selection.

use cadenza_engine::Edit;
use cadenza_engine::song::Note;
use eframe::egui::{self, Color32, Painter, Pos2, Rect, Stroke};

use super::editor::Drag;
use super::{Editor, RollAction, RollInput, Viewport, track_colour};

/// How close (pixels) the pointer must be to a bar to grab it.
const GRAB: f32 = 6.0;

fn velocity_at(lane: Rect, y: f32) -> u8 {
    (((lane.bottom() - y) / lane.height()) * 127.0).round().clamp(1.0, 127.0) as u8
}

fn bar_x(view: &Viewport, note: &Note) -> f32 {
    view.x(note.start as f64) + 2.0
}

/// The new velocities a velocity drag gives: the grabbed note's new value, and the rest of the
/// selection scaled by the same ratio.
pub fn dragged_velocities(editor: &Editor, grabbed: &Note, velocity: u8) -> Vec<(Note, u8)> {
    if editor.selection.contains(grabbed) && editor.selection.len() > 1 {
        let ratio = f32::from(velocity) / f32::from(grabbed.velocity.max(1));
        editor
            .selection
            .iter()
            .map(|n| (n.clone(), (f32::from(n.velocity) * ratio).round().clamp(1.0, 127.0) as u8))
            .collect()
    } else {
        vec![(grabbed.clone(), velocity)]
    }
}

pub fn lane(
    painter: &Painter,
    response: &egui::Response,
    lane: Rect,
    view: &Viewport,
    input: &RollInput<'_>,
    editor: &mut Editor,
    actions: &mut Vec<RollAction>,
) {
    let Some(track) = input.song.tracks.get(input.track) else { return };
    let visuals = painter.ctx().global_style().visuals.clone();
    painter.rect_filled(response.rect, 0.0, visuals.extreme_bg_color);
    let clip = painter.with_clip_rect(lane);
    for frac in [0.25f32, 0.5, 0.75] {
        let y = lane.bottom() - lane.height() * frac;
        clip.line_segment(
            [Pos2::new(lane.left(), y), Pos2::new(lane.right(), y)],
            Stroke::new(0.5, visuals.weak_text_color()),
        );
    }
    painter.text(
        Pos2::new(response.rect.left() + 4.0, lane.top() + 4.0),
        egui::Align2::LEFT_TOP,
        "Velocity",
        egui::FontId::proportional(11.0),
        visuals.weak_text_color(),
    );

    let (t0, t1) = view.visible_ticks();
    let first = track.notes.partition_point(|n| (n.start as f64) < t0);
    let visible = || track.notes[first..].iter().take_while(|n| (n.start as f64) <= t1);
    let pointer = response.interact_pointer_pos().or(response.hover_pos());

    if response.drag_started_by(egui::PointerButton::Primary)
        && let Some(pos) = pointer
        && let Some(note) = visible()
            .filter(|n| (bar_x(view, n) - pos.x).abs() <= GRAB)
            .min_by(|a, b| (bar_x(view, a) - pos.x).abs().total_cmp(&(bar_x(view, b) - pos.x).abs()))
    {
        editor.drag = Some(Drag::Velocity { note: note.clone(), velocity: note.velocity });
    }
    if response.dragged()
        && let (Some(pos), Some(Drag::Velocity { velocity, .. })) = (pointer, editor.drag.as_mut())
    {
        *velocity = velocity_at(lane, pos.y);
    }
    let dragged: Vec<(Note, u8)> = match &editor.drag {
        Some(Drag::Velocity { note, velocity }) => dragged_velocities(editor, note, *velocity),
        _ => Vec::new(),
    };
    if response.drag_stopped()
        && let Some(Drag::Velocity { .. }) = editor.drag.take()
    {
        let changed: Vec<&(Note, u8)> = dragged.iter().filter(|(n, v)| n.velocity != *v).collect();
        if !changed.is_empty() {
            let old = changed.iter().map(|(n, _)| n.clone()).collect();
            let new = changed.iter().map(|(n, v)| Note { velocity: *v, ..n.clone() }).collect();
            actions.push(RollAction::Edit(Edit::ReplaceNotes { track: input.track, old, new }));
        }
    }

    let colour = track.colour.map_or_else(|| track_colour(input.track), |[r, g, b]| Color32::from_rgb(r, g, b));
    for note in visible() {
        let velocity = dragged.iter().find(|(n, _)| n == note).map_or(note.velocity, |(_, v)| *v);
        let x = bar_x(view, note);
        let top = lane.bottom() - lane.height() * f32::from(velocity) / 127.0;
        let selected = editor.selection.contains(note);
        let c = if selected { visuals.selection.stroke.color } else { colour };
        clip.line_segment([Pos2::new(x, lane.bottom()), Pos2::new(x, top)], Stroke::new(2.0, c));
        clip.circle_filled(Pos2::new(x, top), 2.5, c);
    }
}
