//! The transcription panel under the roll: an audio file or take goes through Basic Pitch once
//! (an engine job); its posteriorgram is drawn in time with the roll, and the sliders re-create
//! only the notes from the kept posteriorgrams (a quick worker job, never the model), replacing
//! the notes of the track the transcription made — as NeuralNote does.

use std::path::Path;
use std::sync::Arc;

use cadenza_engine::gm;
use cadenza_engine::ml::transcription::{
    Listened, Mode, NoteEvent, NoteSettings, PitchBends, Placement, Scale, TranscribeOptions, min_note_frames,
    tracks_from_events,
};
use cadenza_engine::song::Track;
use cadenza_engine::timing::TempoMap;
use cadenza_engine::{Edit, Job, JobId, JobOutput};
use eframe::egui::{self, Color32, Pos2, Rect};

use super::{JobEnd, JobOwner, Session};

/// Room for two rows of controls and the posteriorgram.
pub const LANE_HEIGHT: f32 = 172.0;
const MIN_IMAGE_HEIGHT: f32 = 88.0;
/// Widest posteriorgram texture (frames are max-pooled down to it).
const MAX_TEXTURE_COLUMNS: usize = 4096;
const LOWEST: u8 = 21;
const HIGHEST: u8 = 108;

/// Note-creation settings the sliders edit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sliders {
    pub onset_threshold: f64,
    pub frame_threshold: f64,
    pub min_note_ms: f64,
    pub lowest: u8,
    pub highest: u8,
    pub melodia: bool,
    pub bends: bool,
    /// Grid in quarter notes' fractions: 0 = off, else 4, 8, 16, 32 (per whole note).
    pub quantise: u32,
    pub scale: Option<Scale>,
}

impl Default for Sliders {
    fn default() -> Self {
        let notes = NoteSettings::default();
        Self {
            onset_threshold: notes.onset_threshold,
            frame_threshold: notes.frame_threshold,
            min_note_ms: TranscribeOptions::default().min_note_ms,
            lowest: LOWEST,
            highest: HIGHEST,
            melodia: notes.melodia_trick,
            bends: true,
            quantise: 0,
            scale: None,
        }
    }
}

fn midi_to_hz(pitch: f64) -> f64 {
    440.0 * 2f64.powf((pitch - 69.0) / 12.0)
}

impl Sliders {
    fn note_settings(&self) -> NoteSettings {
        NoteSettings {
            onset_threshold: self.onset_threshold,
            frame_threshold: self.frame_threshold,
            min_note_frames: min_note_frames(self.min_note_ms),
            melodia_trick: self.melodia,
            // Note creation zeroes below round(midi(min_hz)) and from round(midi(max_hz)) up.
            min_hz: (self.lowest > LOWEST).then(|| midi_to_hz(f64::from(self.lowest))),
            max_hz: (self.highest < HIGHEST).then(|| midi_to_hz(f64::from(self.highest) + 1.0)),
            ..NoteSettings::default()
        }
    }
}

/// A transcription being edited.
pub struct Transcript {
    pub listened: Arc<Listened>,
    pub name: String,
    pub offset_seconds: f64,
    /// The track holding the notes, once made; `None` makes a new one.
    pub track: Option<usize>,
    pub sliders: Sliders,
    /// The last note-creation result, placed again when only placement options change.
    events: Option<Vec<NoteEvent>>,
    /// The running note-creation job and the sliders it was asked with.
    running: Option<(JobId, Sliders)>,
    /// Sliders changed while a job ran: ask again when it ends.
    stale: bool,
    texture: Option<egui::TextureHandle>,
}

/// The panel's state in the app.
#[derive(Default)]
pub struct Panel {
    pub transcript: Option<Transcript>,
    /// A file being listened to: the job, its name and where it goes in the song.
    pub listening: Option<(JobId, String, f64)>,
    pub open: bool,
}

impl Panel {
    /// Runs Basic Pitch over an audio file; its notes will land `offset_seconds` into the song.
    pub fn transcribe(&mut self, session: &mut Session, path: &Path, offset_seconds: f64) {
        let name = path.file_stem().map_or_else(|| "Audio".into(), |s| s.to_string_lossy().into_owned());
        let id = session.engine.listen(path.to_path_buf(), Mode::Cadenza);
        session.own(JobOwner::Transcription, id);
        self.listening = Some((id, name, offset_seconds));
        self.open = true;
    }

    /// One of the panel's jobs ended (the session routes only those here).
    pub fn job_ended(&mut self, session: &mut Session, id: JobId, end: JobEnd) {
        match end {
            JobEnd::Finished(JobOutput::Listened(listened)) => self.listened(session, id, listened),
            JobEnd::Finished(JobOutput::NotesCreated(events)) => self.notes_created(session, id, events),
            _ => {
                if self.listening.as_ref().is_some_and(|(job, ..)| *job == id) {
                    self.listening = None;
                }
                if let Some(transcript) = self.transcript.as_mut()
                    && transcript.running.is_some_and(|(job, _)| job == id)
                {
                    transcript.running = None;
                }
            }
        }
    }

    fn listened(&mut self, session: &mut Session, id: JobId, listened: Arc<Listened>) {
        let Some((job, name, offset_seconds)) = self.listening.take() else { return };
        if job != id {
            self.listening = Some((job, name, offset_seconds));
            return;
        }
        let sliders = self.transcript.as_ref().map(|s| s.sliders).unwrap_or_default();
        self.transcript = Some(Transcript {
            listened,
            name,
            offset_seconds,
            track: None,
            sliders,
            events: None,
            running: None,
            stale: false,
            texture: None,
        });
        self.request_notes(session);
    }

    /// New slider values: re-create the notes from the kept posteriorgrams, or only place them
    /// again when just the grid, scale or bends changed.
    pub fn set_sliders(&mut self, session: &mut Session, sliders: Sliders) {
        let Some(transcript) = self.transcript.as_mut() else { return };
        let before = std::mem::replace(&mut transcript.sliders, sliders);
        if before.note_settings() != sliders.note_settings() {
            self.request_notes(session);
        } else if before != sliders {
            self.place_notes(session);
        }
    }

    /// Starts note creation with the current sliders, or marks it due when one is running.
    fn request_notes(&mut self, session: &mut Session) {
        let Some(transcript) = self.transcript.as_mut() else { return };
        if transcript.running.is_some() {
            transcript.stale = true;
            return;
        }
        let (listened, sliders) = (Arc::clone(&transcript.listened), transcript.sliders);
        let settings = sliders.note_settings();
        let job = Job::new("Find notes", move |_| Ok(JobOutput::NotesCreated(listened.notes(&settings))));
        transcript.running = Some((session.submit(JobOwner::Transcription, job), sliders));
        transcript.stale = false;
    }

    fn notes_created(&mut self, session: &mut Session, id: JobId, events: Vec<NoteEvent>) {
        let Some(transcript) = self.transcript.as_mut() else { return };
        if transcript.running.is_none_or(|(job, _)| job != id) {
            return;
        }
        transcript.running = None;
        transcript.events = Some(events);
        let stale = transcript.stale;
        self.place_notes(session);
        if stale {
            self.request_notes(session);
        }
    }

    /// Puts the last created notes into the transcription's track (a new one the first time).
    fn place_notes(&mut self, session: &mut Session) {
        let Some(transcript) = self.transcript.as_mut() else { return };
        let Some(events) = transcript.events.as_ref() else { return };
        let sliders = transcript.sliders;
        let options = TranscribeOptions {
            pitch_bends: if sliders.bends { PitchBends::Single } else { PitchBends::None },
            ..TranscribeOptions::default()
        };
        let quarter = u64::from(session.song.ppq);
        let placement = Placement {
            offset_seconds: transcript.offset_seconds,
            quantise_ticks: (sliders.quantise > 0).then(|| quarter * 4 / u64::from(sliders.quantise)),
            scale: sliders.scale,
        };
        let map = TempoMap::for_song(&session.song);
        let name = format!("{} (transcribed)", transcript.name);
        let mut tracks = tracks_from_events(events, &options, &map, &name, &placement);
        let Some(mut made) = tracks.pop() else { return };
        let existing = transcript.track.filter(|&t| session.song.tracks.get(t).is_some_and(|track| track.name == name));
        match existing {
            Some(track) => {
                let old = session.song.tracks[track].notes.clone();
                if old != made.notes {
                    session.edit_continuously(Edit::ReplaceNotes { track, old, new: made.notes });
                }
            }
            None => {
                let index = session.song.tracks.len();
                made.channel = free_channel(&session.song.tracks);
                made.program = 0;
                session.edit(Edit::AddTrack { index, track: made });
                session.selected_track = index;
                transcript.track = Some(index);
            }
        }
    }
}

/// A melodic channel no track uses yet (or 0).
fn free_channel(tracks: &[Track]) -> u8 {
    (0..16u8)
        .filter(|&c| c != cadenza_engine::song::DRUM_CHANNEL)
        .find(|c| tracks.iter().all(|t| t.channel != *c))
        .unwrap_or(0)
}

/// The panel: controls, then the posteriorgram in time with the roll.
pub fn lane(panel: &mut Panel, session: &mut Session, ui: &mut egui::Ui) {
    let mut change = None;
    let mut close = false;
    let top = ui.cursor().top();
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().slider_width = 80.0;
        ui.strong("Transcription");
        if let Some((_, name, _)) = &panel.listening {
            ui.spinner();
            ui.label(format!("listening to {name}…"));
        }
        let Some(transcript) = panel.transcript.as_mut() else {
            if panel.listening.is_none() {
                ui.label("Drop an audio file here, or use Transcribe in the menu bar.");
            }
            return;
        };
        ui.label(&transcript.name);
        let s = &mut transcript.sliders;
        let before = *s;
        ui.add(egui::Slider::new(&mut s.onset_threshold, 0.05..=0.95).text("onset").fixed_decimals(2))
            .on_hover_text("Onset probability needed to start a note: lower finds more notes");
        ui.add(egui::Slider::new(&mut s.frame_threshold, 0.05..=0.95).text("sustain").fixed_decimals(2))
            .on_hover_text("Note probability needed to keep a note sounding");
        ui.add(egui::Slider::new(&mut s.min_note_ms, 10.0..=500.0).text("min ms").fixed_decimals(0))
            .on_hover_text("Shortest note kept");
        ui.add(
            egui::Slider::new(&mut s.lowest, LOWEST..=HIGHEST)
                .text("lowest")
                .custom_formatter(|v, _| gm::pitch_name(v as u8)),
        );
        ui.add(
            egui::Slider::new(&mut s.highest, LOWEST..=HIGHEST)
                .text("highest")
                .custom_formatter(|v, _| gm::pitch_name(v as u8)),
        );
        s.highest = s.highest.max(s.lowest);
        ui.checkbox(&mut s.melodia, "melodia").on_hover_text("Also keep notes that start without a clear onset");
        ui.checkbox(&mut s.bends, "bends");
        let grid_label = |q: u32| if q == 0 { "no grid".to_string() } else { format!("1/{q} grid") };
        egui::ComboBox::from_id_salt("transcription quantise").selected_text(grid_label(s.quantise)).show_ui(
            ui,
            |ui| {
                for q in [0, 4, 8, 16, 32] {
                    ui.selectable_value(&mut s.quantise, q, grid_label(q));
                }
            },
        );
        let scale_label = |scale: Option<Scale>| match scale {
            None => "any pitch".to_string(),
            Some(sc) => format!("{} {}", NAMES[usize::from(sc.root % 12)], if sc.minor { "minor" } else { "major" }),
        };
        egui::ComboBox::from_id_salt("transcription scale").selected_text(scale_label(s.scale)).show_ui(ui, |ui| {
            ui.selectable_value(&mut s.scale, None, scale_label(None));
            for minor in [false, true] {
                for root in 0..12u8 {
                    let scale = Some(Scale { root, minor });
                    ui.selectable_value(&mut s.scale, scale, scale_label(scale));
                }
            }
        });
        let after = *s;
        *s = before;
        change = (before != after).then_some(after);
        if transcript.running.is_some() {
            ui.spinner();
        }
        if ui.button("Close").on_hover_text("Keep the notes, forget the posteriorgram").clicked() {
            close = true;
        }
    });
    if let Some(sliders) = change {
        panel.set_sliders(session, sliders);
    }
    if close {
        *panel = Panel::default();
        return;
    }
    // The controls wrap on narrow windows; the posteriorgram takes what is left of the lane.
    let controls = ui.cursor().top() - top;
    posteriorgram(panel, session, ui, (LANE_HEIGHT - controls).max(MIN_IMAGE_HEIGHT));
}

const NAMES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

/// The note posteriorgram (88 keys, low at the bottom) under the roll, stretched over the
/// audio's place in the song.
fn posteriorgram(panel: &mut Panel, session: &Session, ui: &mut egui::Ui, height: f32) {
    let (response, painter) = ui.allocate_painter(egui::vec2(ui.available_width(), height), egui::Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Posteriorgram"));
    painter.rect_filled(response.rect, 0.0, Color32::from_gray(12));
    let (Some(view), Some(transcript)) = (session.roll.viewport, panel.transcript.as_mut()) else { return };
    let texture = transcript.texture.get_or_insert_with(|| {
        ui.ctx().load_texture("posteriorgram", image(&transcript.listened), egui::TextureOptions::LINEAR)
    });
    let map = TempoMap::for_song(&session.song);
    let start = map.seconds_to_tick(transcript.offset_seconds) as f64;
    let end = map.seconds_to_tick(transcript.offset_seconds + transcript.listened.seconds) as f64;
    let lane = Rect::from_x_y_ranges(view.grid.x_range(), response.rect.y_range());
    let rect = Rect::from_x_y_ranges(view.x(start)..=view.x(end), lane.y_range());
    let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
    painter.with_clip_rect(lane).image(texture.id(), rect, uv, Color32::WHITE);
}

/// [frames × 88] note probabilities → an image, columns max-pooled to at most 4096.
fn image(listened: &Listened) -> egui::ColorImage {
    let note = &listened.posteriorgrams.note;
    let columns = note.frames.clamp(1, MAX_TEXTURE_COLUMNS);
    let per = note.frames.div_ceil(columns).max(1);
    let rows = note.bins;
    let mut pixels = vec![Color32::BLACK; columns * rows];
    for c in 0..columns {
        for bin in 0..rows {
            let value =
                (c * per..((c + 1) * per).min(note.frames)).map(|t| note.data[t * rows + bin]).fold(0.0f32, f32::max);
            pixels[(rows - 1 - bin) * columns + c] = heat(value);
        }
    }
    egui::ColorImage::new([columns, rows], pixels)
}

/// Dark blue → magenta → yellow, brighter with probability.
fn heat(p: f32) -> Color32 {
    let p = p.clamp(0.0, 1.0);
    let r = (p * 2.0).min(1.0);
    let g = ((p - 0.5) * 2.0).clamp(0.0, 1.0);
    let b = 0.25 + 0.5 * (1.0 - (2.0 * p - 1.0).abs());
    Color32::from_rgb((r * 255.0) as u8, (g * 230.0) as u8, (b * 200.0) as u8)
}
