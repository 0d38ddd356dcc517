//! The Interpolate panel: pick clips A and B (and C, D for the pad) from the song, drag between
//! them and along attribute vectors; every move decodes in the engine's latent worker (which
//! drops stale points) and the result is drawn, looped with the song on request, and kept as a
//! track in one undo step. A latent map shows where the clips and the current point lie.

use cadenza_engine::ml::latent::{
    LatentMap, LatentPoint, LatentReply, LatentRequest, Slot, TimedNote, VaeSize, clip_notes, mean_velocity,
    shipped_map, song_notes,
};
use cadenza_engine::song::{Song, Track};
use cadenza_engine::timing::{BarBeat, bar_beat_to_tick, tick_to_bar_beat};
use cadenza_engine::{Audition, Command, Edit};
use eframe::egui::{self, Color32, Pos2, Rect, Stroke, Vec2};

use super::Session;

pub const PANEL_WIDTH: f32 = 330.0;
/// Attribute sliders, by the names the models' attribute vectors have.
pub const ATTRIBUTES: [(&str, &str); 4] =
    [("density", "Density"), ("pitch", "Pitch"), ("range", "Range"), ("syncopation", "Syncopation")];
const SLOTS: [Slot; 4] = [Slot::A, Slot::B, Slot::C, Slot::D];

/// Where a clip came from in the song.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipRef {
    pub track: usize,
    pub from: u64,
    pub to: u64,
    pub label: String,
    pub velocity: u8,
    pub code: Option<Vec<f32>>,
    pub notices: Vec<String>,
}

/// The newest decoded point.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub request: u64,
    pub point: LatentPoint,
    pub notes: Vec<TimedNote>,
    pub code: Vec<f32>,
    pub milliseconds: f64,
}

pub struct Panel {
    pub open: bool,
    pub size: VaeSize,
    pub clips: [Option<ClipRef>; 4],
    pub along: f32,
    pub pad_on: bool,
    pub pad: [f32; 2],
    pub attributes: [f32; 4],
    pub temperature: f32,
    pub looping: bool,
    next_request: u64,
    last_sent: Option<LatentPoint>,
    pub decoded: Option<Decoded>,
    /// Decodes answered so far (stale points are dropped by the engine, so this is at most the
    /// number sent).
    pub answered: u64,
    pub sent: u64,
    pub error: Option<String>,
    /// Codes of the song's clips, for the map.
    pub song_codes: Vec<Vec<f32>>,
    maps: Vec<(VaeSize, Option<LatentMap>)>,
}

impl Default for Panel {
    fn default() -> Self {
        Self {
            open: false,
            size: VaeSize::TwoBar,
            clips: [None, None, None, None],
            along: 0.5,
            pad_on: false,
            pad: [0.5, 0.5],
            attributes: [0.0; 4],
            temperature: 0.0,
            looping: false,
            next_request: 0,
            last_sent: None,
            decoded: None,
            answered: 0,
            sent: 0,
            error: None,
            song_codes: Vec::new(),
            maps: Vec::new(),
        }
    }
}

impl Panel {
    /// The point the controls describe.
    pub fn point(&self) -> LatentPoint {
        LatentPoint {
            size: self.size,
            along: self.along,
            pad: self.pad_on.then_some(self.pad),
            attributes: ATTRIBUTES.iter().zip(self.attributes).map(|((name, _), v)| ((*name).to_string(), v)).collect(),
            temperature: self.temperature,
            seed: 1,
        }
    }

    fn slot_index(slot: Slot) -> usize {
        SLOTS.iter().position(|s| *s == slot).unwrap_or(0)
    }

    fn map(&mut self) -> Option<&LatentMap> {
        let size = self.size;
        if !self.maps.iter().any(|(s, _)| *s == size) {
            self.maps.push((size, shipped_map(size)));
        }
        self.maps.iter().find(|(s, _)| *s == size).and_then(|(_, m)| m.as_ref())
    }
}

/// The clip of the model's length (bars of four beats) on the selected track, from the bar where the
/// selection starts, or where the playhead is.
pub fn clip_at(session: &Session, size: VaeSize) -> Option<ClipRef> {
    let song = &session.song;
    let anchor = session.roll.editor.selection.iter().map(|n| n.start).min().unwrap_or_else(|| session.playhead());
    let bar = tick_to_bar_beat(song.ppq, &song.time_signatures, anchor).bar;
    let from = bar_beat_to_tick(song.ppq, &song.time_signatures, BarBeat { bar, beat: 1, tick: 0 });
    let mut clip = clip_at_range(song, session.selected_track, from, size)?;
    clip.label = format!("{}, bars {}-{}", clip.label, bar, bar + size.bars() as u64 - 1);
    Some(clip)
}

impl Panel {
    /// Takes `clip` into a slot and asks the engine to encode it.
    pub fn set_clip(&mut self, session: &Session, slot: Slot, clip: ClipRef) {
        let notes = clip_notes(&session.song, clip.track, clip.from, clip.to);
        self.clips[Panel::slot_index(slot)] = Some(clip);
        self.error = None;
        session.send(Command::Latent(LatentRequest::Encode { size: self.size, slot, notes }));
    }

    pub fn latent_reply(&mut self, session: &Session, reply: LatentReply) {
        match reply {
            LatentReply::Encoded { size, slot, code, notices, .. } if size == self.size => {
                if let Some(clip) = self.clips[Panel::slot_index(slot)].as_mut() {
                    clip.code = Some(code);
                    clip.notices = notices;
                }
                // The point's inputs changed: decode it again.
                self.last_sent = None;
            }
            LatentReply::Encoded { .. } => {}
            LatentReply::Decoded { request, point, notes, code, milliseconds } => {
                self.answered += 1;
                if self.decoded.as_ref().is_none_or(|d| d.request < request) {
                    self.decoded = Some(Decoded { request, point, notes, code, milliseconds });
                    if self.looping {
                        self.audition(session);
                    }
                }
            }
            LatentReply::Mapped { size, codes } if size == self.size => self.song_codes = codes,
            LatentReply::Mapped { .. } => {}
            LatentReply::Failed(message) => self.error = Some(message),
        }
    }

    /// Sends the point the controls describe, when it differs from the last one sent.
    fn request_decode(&mut self, session: &Session) {
        let ready = self.clips[0].as_ref().is_some_and(|c| c.code.is_some());
        let point = self.point();
        if !ready || self.last_sent.as_ref() == Some(&point) {
            return;
        }
        self.next_request += 1;
        self.sent += 1;
        self.last_sent = Some(point.clone());
        session.send(Command::Latent(LatentRequest::Decode { request: self.next_request, point }));
    }

    /// The current point as a track placed over clip A.
    pub fn current_track(&self, song: &Song) -> Option<(Track, (u64, u64))> {
        let decoded = self.decoded.as_ref()?;
        let a = self.clips[0].as_ref()?;
        let velocity = self.clips.iter().flatten().map(|c| u32::from(c.velocity)).sum::<u32>()
            / self.clips.iter().flatten().count().max(1) as u32;
        let program = song.tracks.get(a.track).map_or(0, |t| t.program);
        let mut track = Track::new(point_name(self), program, channel_for(song, program));
        for note in song_notes(&decoded.notes, song.ppq, a.from, velocity.clamp(1, 127) as u8) {
            track.insert_note(note);
        }
        Some((track, (a.from, a.to)))
    }

    fn audition(&self, session: &Session) {
        if let Some((track, loop_ticks)) = self.current_track(&session.song) {
            session.send(Command::Audition(Some(Audition { tracks: vec![track], loop_ticks })));
        }
    }

    /// Writes the current point into a new track (one undo step).
    pub fn keep_point(&self, session: &mut Session) {
        if let Some((track, _)) = self.current_track(&session.song) {
            let index = session.song.tracks.len();
            session.edit(Edit::AddTrack { index, track });
            session.selected_track = index;
        }
    }

    /// Encodes every `bars`-bar clip of the song's tracks for the map (at most 64).
    fn map_song(&self, session: &Session) {
        let song = &session.song;
        let span = self.size.bars() as u64 * 4 * u64::from(song.ppq);
        let mut clips = Vec::new();
        for (index, track) in song.tracks.iter().enumerate().filter(|(_, t)| !t.is_drum) {
            let mut from = 0;
            while from < track.end_tick() && clips.len() < 64 {
                let notes = clip_notes(song, index, from, from + span);
                if !notes.is_empty() {
                    clips.push(notes);
                }
                from += span;
            }
        }
        session.send(Command::Latent(LatentRequest::Map { size: self.size, clips }));
    }

    /// Another model: codes of one mean nothing to the other, so the clips are encoded again.
    fn set_size(&mut self, session: &Session, size: VaeSize) {
        self.size = size;
        self.decoded = None;
        self.song_codes.clear();
        let clips: Vec<(Slot, ClipRef)> =
            SLOTS.iter().zip(self.clips.clone()).filter_map(|(s, c)| c.map(|c| (*s, c))).collect();
        for (slot, clip) in clips {
            if let Some(mut again) = clip_at_range(&session.song, clip.track, clip.from, size) {
                again.label = clip.label;
                self.set_clip(session, slot, again);
            }
        }
    }

    /// Opens or closes the panel; closing stops its loop.
    pub fn set_open(&mut self, session: &Session, open: bool) {
        self.open = open;
        if !open && self.looping {
            self.looping = false;
            session.send(Command::Audition(None));
        }
    }
}

fn point_name(panel: &Panel) -> String {
    if panel.pad_on {
        format!("mix {:.0}%/{:.0}%", panel.pad[0] * 100.0, panel.pad[1] * 100.0)
    } else {
        format!("A-B {:.0}%", panel.along * 100.0)
    }
}

/// A MIDI channel for a new track playing `program`: one no track uses where there is one.
fn channel_for(song: &Song, program: u8) -> u8 {
    cadenza_engine::ml::continuation::channels_for(song, &[program]).first().copied().unwrap_or(15)
}

/// The panel's contents.
pub fn show(panel: &mut Panel, session: &mut Session, ui: &mut egui::Ui) {
    ui.heading("Interpolate");
    let mut size = panel.size;
    ui.horizontal(|ui| {
        ui.label("Model");
        ui.selectable_value(&mut size, VaeSize::TwoBar, "2 bars");
        ui.selectable_value(&mut size, VaeSize::SixteenBar, "16 bars");
    });
    if size != panel.size {
        panel.set_size(session, size);
    }
    ui.separator();
    for slot in SLOTS {
        ui.horizontal(|ui| {
            let name = format!("{slot:?}");
            let hint = "The selected track, from the selection's or the playhead's bar";
            if ui.button(format!("Set {name}")).on_hover_text(hint).clicked()
                && let Some(clip) = clip_at(session, panel.size)
            {
                panel.set_clip(session, slot, clip);
            }
            match &panel.clips[Panel::slot_index(slot)] {
                Some(clip) if clip.code.is_some() => ui.label(&clip.label),
                Some(clip) => ui.weak(format!("{} (encoding…)", clip.label)),
                None => ui.weak(if matches!(slot, Slot::A | Slot::B) { "not set" } else { "pad corner (optional)" }),
            };
        });
        if let Some(clip) = &panel.clips[Panel::slot_index(slot)] {
            for notice in &clip.notices {
                ui.small(format!("  note: {notice}"));
            }
        }
    }
    ui.separator();
    ui.add_enabled(!panel.pad_on, egui::Slider::new(&mut panel.along, 0.0..=1.0).text("A to B"));
    for ((_, label), value) in ATTRIBUTES.iter().zip(panel.attributes.iter_mut()) {
        ui.add(egui::Slider::new(value, -2.0..=2.0).text(*label));
    }
    ui.add(egui::Slider::new(&mut panel.temperature, 0.0..=1.5).text("Temperature"));
    ui.checkbox(&mut panel.pad_on, "Four-corner pad (A B / C D)");
    if panel.pad_on {
        pad(ui, &mut panel.pad);
    }
    panel.request_decode(session);
    ui.separator();
    preview(panel, ui);
    ui.horizontal(|ui| {
        let mut looping = panel.looping;
        if ui.toggle_value(&mut looping, "Loop with song").clicked() {
            panel.looping = looping;
            if looping {
                panel.audition(session);
            } else {
                session.send(Command::Audition(None));
            }
        }
        if ui.add_enabled(panel.decoded.is_some(), egui::Button::new("Keep as track")).clicked() {
            panel.keep_point(session);
        }
    });
    if let Some(error) = &panel.error {
        ui.colored_label(Color32::from_rgb(220, 90, 70), error);
    }
    ui.separator();
    ui.horizontal(|ui| {
        ui.label("Latent map");
        if ui.small_button("Place the song's clips").clicked() {
            panel.map_song(session);
        }
    });
    latent_map(panel, ui);
}

fn clip_at_range(song: &Song, track: usize, from: u64, size: VaeSize) -> Option<ClipRef> {
    let t = song.tracks.get(track)?;
    let to = from + size.bars() as u64 * 4 * u64::from(song.ppq);
    let notes = clip_notes(song, track, from, to);
    Some(ClipRef {
        track,
        from,
        to,
        label: t.name.clone(),
        velocity: mean_velocity(&notes),
        code: None,
        notices: Vec::new(),
    })
}

/// The square pad: drag the handle; corners are A (top left), B, C, D (bottom right).
fn pad(ui: &mut egui::Ui, value: &mut [f32; 2]) {
    let side = ui.available_width().min(160.0);
    let (rect, response) = ui.allocate_exact_size(Vec2::splat(side), egui::Sense::click_and_drag());
    if let Some(pos) = response.interact_pointer_pos() {
        value[0] = ((pos.x - rect.left()) / rect.width()).clamp(0.0, 1.0);
        value[1] = ((pos.y - rect.top()) / rect.height()).clamp(0.0, 1.0);
    }
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);
    for (label, corner, align) in [
        ("A", rect.left_top(), egui::Align2::LEFT_TOP),
        ("B", rect.right_top(), egui::Align2::RIGHT_TOP),
        ("C", rect.left_bottom(), egui::Align2::LEFT_BOTTOM),
        ("D", rect.right_bottom(), egui::Align2::RIGHT_BOTTOM),
    ] {
        painter.text(corner, align, label, egui::FontId::proportional(12.0), ui.visuals().weak_text_color());
    }
    let handle = Pos2::new(rect.left() + value[0] * rect.width(), rect.top() + value[1] * rect.height());
    painter.circle_filled(handle, 6.0, Color32::from_rgb(230, 120, 60));
}

/// The decoded melody as a small piano roll, with the decode time.
fn preview(panel: &Panel, ui: &mut egui::Ui) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(ui.available_width(), 90.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);
    let Some(decoded) = &panel.decoded else {
        let hint = if panel.clips[0].is_none() { "Set clip A (and B) to begin" } else { "decoding…" };
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            hint,
            egui::FontId::proportional(13.0),
            ui.visuals().weak_text_color(),
        );
        return;
    };
    let quarters = (decoded.point.size.bars() * 4) as f32;
    let (lo, hi) = decoded.notes.iter().fold((127u8, 0u8), |(lo, hi), n| (lo.min(n.pitch), hi.max(n.pitch)));
    let (lo, hi) = (lo.saturating_sub(2), hi.saturating_add(2).max(lo + 12));
    let row = rect.height() / f32::from(hi - lo + 1);
    for bar in 0..=decoded.point.size.bars() {
        let x = rect.left() + bar as f32 * 4.0 / quarters * rect.width();
        painter.line_segment(
            [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
            Stroke::new(1.0, ui.visuals().faint_bg_color),
        );
    }
    for note in &decoded.notes {
        let x0 = rect.left() + note.start as f32 / quarters * rect.width();
        let x1 = rect.left() + note.end as f32 / quarters * rect.width();
        let y = rect.bottom() - f32::from(note.pitch - lo + 1) * row;
        painter.rect_filled(
            Rect::from_min_max(Pos2::new(x0, y), Pos2::new(x1.max(x0 + 2.0), y + row.max(2.0))),
            1.0,
            Color32::from_rgb(230, 120, 60),
        );
    }
    ui.small(format!(
        "{} notes · decoded in {:.1} ms · {} of {} moves decoded",
        decoded.notes.len(),
        decoded.milliseconds,
        panel.answered,
        panel.sent
    ));
}

/// Corpus codes (grey), the song's clips (blue), A–D and the current point (orange) on the
/// map's two principal axes.
fn latent_map(panel: &mut Panel, ui: &mut egui::Ui) {
    let side = ui.available_width().min(300.0);
    let (rect, _) = ui.allocate_exact_size(Vec2::splat(side), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);
    let clips: Vec<(Slot, Vec<f32>)> = SLOTS
        .iter()
        .zip(&panel.clips)
        .filter_map(|(s, c)| c.as_ref().and_then(|c| c.code.clone()).map(|z| (*s, z)))
        .collect();
    let current = panel.decoded.as_ref().map(|d| d.code.clone());
    let song_codes = panel.song_codes.clone();
    let Some(map) = panel.map() else {
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "no map for this model",
            egui::FontId::proportional(12.0),
            ui.visuals().weak_text_color(),
        );
        return;
    };
    let extent = map.points.iter().fold(1.0f32, |m, p| m.max(p.x.abs()).max(p.y.abs())) * 1.1;
    let to_screen = |[x, y]: [f32; 2]| {
        Pos2::new(rect.center().x + x / extent * rect.width() / 2.0, rect.center().y - y / extent * rect.height() / 2.0)
    };
    for point in &map.points {
        painter.circle_filled(to_screen([point.x, point.y]), 1.6, style_colour(&point.style));
    }
    for code in &song_codes {
        painter.circle_filled(to_screen(map.project(code)), 3.0, Color32::from_rgb(90, 150, 230));
    }
    for (slot, code) in &clips {
        let at = to_screen(map.project(code));
        painter.circle_stroke(at, 6.0, Stroke::new(2.0, Color32::WHITE));
        painter.text(
            at + Vec2::new(8.0, -8.0),
            egui::Align2::LEFT_BOTTOM,
            format!("{slot:?}"),
            egui::FontId::proportional(13.0),
            Color32::WHITE,
        );
    }
    if let Some(code) = current {
        painter.circle_filled(to_screen(map.project(&code)), 5.0, Color32::from_rgb(230, 120, 60));
    }
    painter.text(
        rect.left_bottom() + Vec2::new(4.0, -4.0),
        egui::Align2::LEFT_BOTTOM,
        "grey: corpus · blue: this song",
        egui::FontId::proportional(11.0),
        ui.visuals().weak_text_color(),
    );
}

fn style_colour(style: &str) -> Color32 {
    match style {
        "traditional" => Color32::from_gray(120),
        "bach" => Color32::from_rgb(120, 100, 80),
        _ => Color32::from_gray(90),
    }
}
