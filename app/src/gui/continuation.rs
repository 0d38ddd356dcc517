//! The Continue panel: continue the selection (or the song up to the playhead) for N bars in
//! a chosen style and instruments. Notes stream into the roll as a ghost track while they are
//! generated; the finished variations can be flipped through, looped with the song, kept (one
//! undo step) or generated again.

use cadenza_engine::ml::continuation::{
    ContinuationRequest, GenerationOptions, Instrument, MAX_INSTRUMENTS, STYLE_DESCRIPTIONS, STYLES, StreamedNote,
    Variation, bar_length, bar_start, continuation_job, end_of_last_bar, style_guess_job,
};
use cadenza_engine::song::Track;
use cadenza_engine::{Audition, Command, Edit, GestureId, JobId, JobOutput};
use eframe::egui::{self, Color32};

use super::{JobEnd, JobOwner, Session};

pub const PANEL_WIDTH: f32 = 300.0;
/// Keeping a continuation adds its tracks under this gesture, so they undo together.
const KEEP_GESTURE: GestureId = GestureId(2_000_000);

pub struct Panel {
    pub open: bool,
    pub style: usize,
    pub instruments: Vec<Instrument>,
    /// Every instrument plays in every variation (off: the model may leave some out).
    pub every_instrument: bool,
    pub bars: u32,
    pub variations: usize,
    pub temperature: f32,
    pub top_p: f32,
    pub style_strength: f32,
    pub seed: u64,
    /// The job recognising the prompt's style, while it runs.
    pub matching: Option<JobId>,
    /// The job generating, and what it asked for.
    pub running: Option<(JobId, ContinuationRequest)>,
    /// Notes streamed so far, per variation (all its instruments in one track, as drawn).
    pub streamed: Vec<Track>,
    /// The finished variations and the request that made them.
    pub results: Option<(Vec<Variation>, ContinuationRequest)>,
    pub shown: usize,
    pub looping: bool,
    pub status: String,
    pub notices: Vec<String>,
}

impl Default for Panel {
    fn default() -> Self {
        Self {
            open: false,
            style: 0,
            instruments: Vec::new(),
            every_instrument: true,
            bars: 4,
            variations: 3,
            temperature: 1.0,
            top_p: 0.95,
            style_strength: GenerationOptions::default().style_guidance,
            seed: 1,
            matching: None,
            running: None,
            streamed: Vec::new(),
            results: None,
            shown: 0,
            looping: false,
            status: String::new(),
            notices: Vec::new(),
        }
    }
}

impl Panel {
    /// The chosen style's index, kept within the style list.
    fn shown_style(&self) -> usize {
        self.style.min(STYLES.len() - 1)
    }

    /// The tracks to draw over the roll: the shown variation's, or what has streamed in of it.
    pub fn ghost(&self) -> &[Track] {
        match &self.results {
            Some((variations, _)) => variations.get(self.shown).map_or(&[], Vec::as_slice),
            None => self.streamed.get(self.shown).map_or(&[], std::slice::from_ref),
        }
    }
}

impl Panel {
    /// The prompt range: the selection's bars on the selected track, or every track up to the
    /// playhead's bar (the whole song when the playhead is at its start).
    pub fn request(&self, session: &Session) -> ContinuationRequest {
        let song = &session.song;
        let selection = &session.roll.editor.selection;
        let (from, to, tracks) = if selection.is_empty() {
            let playhead = session.playhead();
            let to = if playhead == 0 {
                // The whole song, to the end of its last bar.
                end_of_last_bar(song)
            } else {
                // Up to the bar the playhead is in.
                bar_start(song, playhead)
            };
            (0, to, (0..song.tracks.len()).collect())
        } else {
            let first = selection.iter().map(|n| n.start).min().unwrap_or(0);
            let last = selection.iter().map(|n| n.end()).max().unwrap_or(first);
            let to = bar_start(song, last.saturating_sub(1)) + bar_length(song, last);
            (bar_start(song, first), to, vec![session.selected_track])
        };
        ContinuationRequest {
            from,
            to,
            tracks,
            style: self.style as u8,
            instruments: self.instruments.clone(),
            variations: self.variations,
            options: GenerationOptions {
                bars: self.bars,
                temperature: self.temperature,
                top_p: self.top_p,
                style_guidance: self.style_strength,
                seed: self.seed,
                every_instrument: self.every_instrument,
                ..GenerationOptions::default()
            },
        }
    }

    pub fn generate(&mut self, session: &mut Session) {
        if let Some((id, _)) = self.running.take() {
            session.engine.cancel(id);
        }
        self.stop_audition(session);
        let request = self.request(session);
        self.streamed = vec![Track::new("continuation", 0, 0); request.variations.max(1)];
        self.results = None;
        self.shown = 0;
        self.notices.clear();
        self.status = "generating...".into();
        let id = session.submit(JobOwner::Continuation, continuation_job(session.song.clone(), request.clone()));
        self.running = Some((id, request));
    }

    /// Asks the model which style the prompt sounds like; the answer sets the style.
    pub fn match_prompt_style(&mut self, session: &mut Session) {
        let request = self.request(session);
        self.status = "listening to the prompt...".into();
        self.matching = Some(session.submit(JobOwner::Continuation, style_guess_job(session.song.clone(), request)));
    }

    fn style_matched(&mut self, id: JobId, style: Option<u8>) {
        if self.matching != Some(id) {
            return;
        }
        self.matching = None;
        self.status = match style {
            Some(style) => {
                self.style = usize::from(style);
                format!("the prompt sounds most like {}", STYLES[self.shown_style()])
            }
            None => "the prompt has no notes to recognise a style in".into(),
        };
    }

    pub fn streamed_note(&mut self, streamed: StreamedNote) {
        if self.running.as_ref().is_some_and(|(id, _)| *id == streamed.id)
            && let Some(track) = self.streamed.get_mut(streamed.variation)
        {
            track.insert_note(streamed.note);
            self.shown = streamed.variation;
        }
    }

    /// One of the panel's jobs ended (the session routes only those here).
    pub fn job_ended(&mut self, session: &mut Session, id: JobId, end: JobEnd) {
        if self.matching == Some(id) {
            match end {
                JobEnd::Finished(JobOutput::StyleGuessed(style)) => self.style_matched(id, style),
                // The style match failed or was cancelled: the button comes back.
                _ => self.matching = None,
            }
            return;
        }
        let Some((running, request)) = self.running.take() else { return };
        if running != id {
            self.running = Some((running, request));
            return;
        }
        match end {
            JobEnd::Finished(JobOutput::Continued { variations, notices, tokens_per_second, first_note_seconds }) => {
                self.results = Some((variations, request));
                self.shown = 0;
                self.notices = notices;
                self.status = format!(
                    "{tokens_per_second:.0} tokens/s, first note after {}",
                    first_note_seconds.map_or_else(|| "-".into(), |s| format!("{:.0} ms", s * 1e3))
                );
                if self.looping {
                    self.audition(session);
                }
            }
            _ => self.status = "stopped".into(),
        }
    }

    fn audition(&self, session: &Session) {
        let Some((variations, request)) = &self.results else { return };
        let Some(tracks) = variations.get(self.shown) else { return };
        let bar = bar_length(&session.song, request.to);
        let end = request.to + u64::from(request.options.bars) * bar;
        // The prompt's last bar and the continuation, so the seam is heard.
        let start = request.to.saturating_sub(bar).max(request.from);
        session.send(Command::Audition(Some(Audition { tracks: tracks.clone(), loop_ticks: (start, end) })));
    }

    fn stop_audition(&self, session: &Session) {
        if self.looping {
            session.send(Command::Audition(None));
        }
    }

    /// Adds the shown variation's tracks to the song as one undo step.
    pub fn keep(&mut self, session: &mut Session) {
        let Some((variations, _)) = &self.results else { return };
        let Some(tracks) = variations.get(self.shown).cloned() else { return };
        let first = session.song.tracks.len();
        for (i, track) in tracks.into_iter().enumerate() {
            session.send(Command::EditInGesture(Edit::AddTrack { index: first + i, track }, KEEP_GESTURE));
        }
        session.send(Command::EndGesture);
        session.selected_track = first;
        self.looping = false;
        session.send(Command::Audition(None));
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

/// The panel's contents.
pub fn show(panel: &mut Panel, session: &mut Session, ui: &mut egui::Ui) {
    ui.heading("Continuation");
    let request = panel.request(session);
    let bars_of = |ticks: u64| ticks / bar_length(&session.song, 0).max(1);
    let prompt = if request.to == 0 {
        "Prompt: none (starts from the style and instruments)".to_string()
    } else if session.roll.editor.selection.is_empty() {
        format!("Prompt: all tracks, bars 1-{}", bars_of(request.to))
    } else {
        format!("Prompt: the selection, bars {}-{}", bars_of(request.from) + 1, bars_of(request.to))
    };
    ui.label(prompt);
    egui::ComboBox::from_label("Style").selected_text(STYLES[panel.shown_style()]).show_ui(ui, |ui| {
        for (i, (name, about)) in STYLES.iter().zip(STYLE_DESCRIPTIONS).enumerate() {
            ui.selectable_value(&mut panel.style, i, *name).on_hover_text(about);
        }
    });
    ui.weak(STYLE_DESCRIPTIONS[panel.shown_style()]);
    let matching = panel.matching.is_some();
    let match_clicked = ui
        .add_enabled(!matching, egui::Button::new("Match the prompt"))
        .on_hover_text("Set the style to the one the model finds the prompt most likely in")
        .clicked();
    ui.label(if panel.instruments.is_empty() {
        "Instruments: the prompt's own".to_string()
    } else {
        let names: Vec<&str> = panel.instruments.iter().map(|i| i.name()).collect();
        format!("Instruments: {}", names.join(", "))
    });
    ui.horizontal_wrapped(|ui| {
        for instrument in Instrument::ALL {
            let mut on = panel.instruments.contains(&instrument);
            let full = panel.instruments.len() >= MAX_INSTRUMENTS && !on;
            if ui.add_enabled(!full, egui::Checkbox::new(&mut on, instrument.name())).changed() {
                if on {
                    panel.instruments.push(instrument);
                } else {
                    panel.instruments.retain(|&i| i != instrument);
                }
            }
        }
    });
    ui.checkbox(&mut panel.every_instrument, "Every instrument plays")
        .on_hover_text("Each instrument enters in the first bar of every variation; off, the model may leave some out. Notes always stay in their instrument's range");
    ui.add(egui::Slider::new(&mut panel.bars, 1..=32).text("Bars"));
    ui.add(egui::Slider::new(&mut panel.variations, 1..=8).text("Variations"));
    ui.add(egui::Slider::new(&mut panel.temperature, 0.0..=1.5).text("Temperature"));
    ui.add(egui::Slider::new(&mut panel.top_p, 0.5..=1.0).text("Top-p"));
    ui.add(egui::Slider::new(&mut panel.style_strength, 0.0..=2.0).text("Style strength"))
        .on_hover_text("0: as the model predicts; higher follows the style more, away from \"any\" style");
    ui.add(egui::DragValue::new(&mut panel.seed).prefix("Seed "));
    if match_clicked {
        panel.match_prompt_style(session);
    }
    ui.horizontal(|ui| {
        let running = panel.running.clone();
        if running.is_none() && ui.button("Generate").clicked() {
            panel.generate(session);
        }
        if let Some((id, _)) = running {
            if ui.button("Cancel").clicked() {
                session.engine.cancel(id);
            }
            let fraction = session.jobs.get(&id).map_or(0.0, |j| j.fraction);
            ui.add(egui::ProgressBar::new(fraction).show_percentage());
        }
    });
    let streamed: usize = panel.streamed.iter().map(|t| t.notes.len()).sum();
    if panel.running.is_some() {
        ui.label(format!("{streamed} notes so far"));
    }
    if !panel.status.is_empty() {
        ui.small(&panel.status);
    }
    for notice in &panel.notices {
        ui.small(format!("note: {notice}"));
    }
    let count = panel.results.as_ref().map_or(0, |(v, _)| v.len());
    if count > 0 {
        ui.separator();
        ui.horizontal(|ui| {
            let before = panel.shown;
            if ui.add_enabled(panel.shown > 0, egui::Button::new("<")).clicked() {
                panel.shown -= 1;
            }
            ui.label(format!("Variation {} of {count}", panel.shown + 1));
            if ui.add_enabled(panel.shown + 1 < count, egui::Button::new(">")).clicked() {
                panel.shown += 1;
            }
            if panel.shown != before && panel.looping {
                panel.audition(session);
            }
        });
        if let Some(tracks) = panel.results.as_ref().and_then(|(v, _)| v.get(panel.shown)) {
            for track in tracks {
                ui.small(format!("{}: {} notes", track.name, track.notes.len()));
            }
        }
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
            if ui.button("Keep").clicked() {
                panel.keep(session);
            }
            if ui.button("Regenerate").clicked() {
                panel.seed += panel.variations as u64;
                panel.generate(session);
            }
        });
    }
    ui.separator();
    ui.colored_label(
        Color32::GRAY,
        "Only the instruments chosen play, each in its range (the shaded keys of its track). Infilling between two selections is not supported.",
    );
}
