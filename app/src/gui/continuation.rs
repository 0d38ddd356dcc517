//! The Continue panel: continue the selection (or the song up to the playhead) for N bars in
//! a chosen style and instruments. Notes stream into the roll as a ghost track while they are
//! generated; the finished variations can be flipped through, looped with the song, kept (one
//! undo step) or generated again.

use cadenza_engine::ml::continuation::{
    ContinuationRequest, GenerationOptions, Instrument, MAX_INSTRUMENTS, STYLE_DESCRIPTIONS, STYLES, StreamedNote,
    Variation, bar_length, bar_start, continuation_job, style_guess_job,
};
use cadenza_engine::song::Track;
use cadenza_engine::{Audition, Command, Edit, GestureId, JobId};
use eframe::egui::{self, Color32};

use super::CadenzaApp;

pub const PANEL_WIDTH: f32 = 300.0;
/// Keeping a continuation adds its tracks under this gesture, so they undo together.
const KEEP_GESTURE: GestureId = GestureId(2_000_000);

pub struct Panel {
    pub open: bool,
    pub style: usize,
    pub instruments: Vec<Instrument>,
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

impl CadenzaApp {
    /// The prompt range: the selection's bars on the selected track, or every track up to the
    /// playhead's bar (the whole song when the playhead is at its start).
    pub fn continuation_request(&self) -> ContinuationRequest {
        let song = &self.song;
        let panel = &self.continuation;
        let selection = &self.roll.editor.selection;
        let (from, to, tracks) = if selection.is_empty() {
            let playhead = self.engine.player().position_tick();
            let to = if playhead == 0 {
                // The whole song, to the end of its last bar.
                let end = song.end_tick();
                if end == 0 { 0 } else { bar_start(song, end - 1) + bar_length(song, end - 1) }
            } else {
                // Up to the bar the playhead is in.
                bar_start(song, playhead)
            };
            (0, to, (0..song.tracks.len()).collect())
        } else {
            let first = selection.iter().map(|n| n.start).min().unwrap_or(0);
            let last = selection.iter().map(|n| n.end()).max().unwrap_or(first);
            let to = bar_start(song, last.saturating_sub(1)) + bar_length(song, last);
            (bar_start(song, first), to, vec![self.selected_track])
        };
        ContinuationRequest {
            from,
            to,
            tracks,
            style: panel.style as u8,
            instruments: panel.instruments.clone(),
            variations: panel.variations,
            options: GenerationOptions {
                bars: panel.bars,
                temperature: panel.temperature,
                top_p: panel.top_p,
                style_guidance: panel.style_strength,
                seed: panel.seed,
                ..GenerationOptions::default()
            },
        }
    }

    pub fn generate_continuation(&mut self) {
        if let Some((id, _)) = self.continuation.running.take() {
            self.engine.cancel(id);
        }
        self.stop_continuation_audition();
        let request = self.continuation_request();
        let panel = &mut self.continuation;
        panel.streamed = vec![Track::new("continuation", 0, 0); request.variations.max(1)];
        panel.results = None;
        panel.shown = 0;
        panel.notices.clear();
        panel.status = "generating...".into();
        let id = self.engine.submit(continuation_job(self.song.clone(), request.clone()));
        self.continuation.running = Some((id, request));
    }

    /// Asks the model which style the prompt sounds like; the answer sets the style.
    pub fn match_prompt_style(&mut self) {
        let request = self.continuation_request();
        self.continuation.status = "listening to the prompt...".into();
        self.continuation.matching = Some(self.engine.submit(style_guess_job(self.song.clone(), request)));
    }

    pub fn prompt_style_matched(&mut self, id: JobId, style: Option<u8>) {
        let panel = &mut self.continuation;
        if panel.matching != Some(id) {
            return;
        }
        panel.matching = None;
        panel.status = match style {
            Some(style) => {
                panel.style = usize::from(style);
                format!("the prompt sounds most like {}", STYLES[panel.shown_style()])
            }
            None => "the prompt has no notes to recognise a style in".into(),
        };
    }

    pub fn continuation_note(&mut self, streamed: StreamedNote) {
        let panel = &mut self.continuation;
        if panel.running.as_ref().is_some_and(|(id, _)| *id == streamed.id)
            && let Some(track) = panel.streamed.get_mut(streamed.variation)
        {
            track.insert_note(streamed.note);
            panel.shown = streamed.variation;
        }
    }

    /// A continuation job ended: its variations, or `None` if it failed or was cancelled.
    pub fn continuation_finished(&mut self, id: JobId, finished: Option<(Vec<Variation>, Vec<String>, String)>) {
        let panel = &mut self.continuation;
        if panel.matching == Some(id) {
            // The style match failed or was cancelled: the button comes back.
            panel.matching = None;
        }
        let Some((running, request)) = panel.running.take() else { return };
        if running != id {
            panel.running = Some((running, request));
            return;
        }
        match finished {
            Some((variations, notices, status)) => {
                panel.results = Some((variations, request));
                panel.shown = 0;
                panel.notices = notices;
                panel.status = status;
                if panel.looping {
                    self.audition_continuation();
                }
            }
            None => panel.status = "stopped".into(),
        }
    }

    fn audition_continuation(&mut self) {
        let panel = &self.continuation;
        let Some((variations, request)) = &panel.results else { return };
        let Some(tracks) = variations.get(panel.shown) else { return };
        let bar = bar_length(&self.song, request.to);
        let end = request.to + u64::from(request.options.bars) * bar;
        // The prompt's last bar and the continuation, so the seam is heard.
        let start = request.to.saturating_sub(bar).max(request.from);
        self.engine.send(Command::Audition(Some(Audition { tracks: tracks.clone(), loop_ticks: (start, end) })));
    }

    fn stop_continuation_audition(&mut self) {
        if self.continuation.looping {
            self.engine.send(Command::Audition(None));
        }
    }

    /// Adds the shown variation's tracks to the song as one undo step.
    pub fn keep_continuation(&mut self) {
        let Some((variations, _)) = &self.continuation.results else { return };
        let Some(tracks) = variations.get(self.continuation.shown).cloned() else { return };
        let first = self.song.tracks.len();
        for (i, track) in tracks.into_iter().enumerate() {
            self.engine.send(Command::EditInGesture(Edit::AddTrack { index: first + i, track }, KEEP_GESTURE));
        }
        self.engine.send(Command::EndGesture);
        self.selected_track = first;
        self.continuation.looping = false;
        self.engine.send(Command::Audition(None));
    }
}

/// The panel's contents.
pub fn show(app: &mut CadenzaApp, ui: &mut egui::Ui) {
    ui.heading("Continuation");
    let request = app.continuation_request();
    let bars_of = |ticks: u64| ticks / bar_length(&app.song, 0).max(1);
    let prompt = if request.to == 0 {
        "Prompt: none (starts from the style and instruments)".to_string()
    } else if app.roll.editor.selection.is_empty() {
        format!("Prompt: all tracks, bars 1-{}", bars_of(request.to))
    } else {
        format!("Prompt: the selection, bars {}-{}", bars_of(request.from) + 1, bars_of(request.to))
    };
    ui.label(prompt);
    let panel = &mut app.continuation;
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
    ui.add(egui::Slider::new(&mut panel.bars, 1..=32).text("Bars"));
    ui.add(egui::Slider::new(&mut panel.variations, 1..=8).text("Variations"));
    ui.add(egui::Slider::new(&mut panel.temperature, 0.0..=1.5).text("Temperature"));
    ui.add(egui::Slider::new(&mut panel.top_p, 0.5..=1.0).text("Top-p"));
    ui.add(egui::Slider::new(&mut panel.style_strength, 0.0..=2.0).text("Style strength"))
        .on_hover_text("0: as the model predicts; higher follows the style more, away from \"any\" style");
    ui.add(egui::DragValue::new(&mut panel.seed).prefix("Seed "));
    if match_clicked {
        app.match_prompt_style();
    }
    ui.horizontal(|ui| {
        let running = app.continuation.running.clone();
        if running.is_none() && ui.button("Generate").clicked() {
            app.generate_continuation();
        }
        if let Some((id, _)) = running {
            if ui.button("Cancel").clicked() {
                app.engine.cancel(id);
            }
            let fraction = app.jobs.get(&id).map_or(0.0, |j| j.fraction);
            ui.add(egui::ProgressBar::new(fraction).show_percentage());
        }
    });
    let streamed: usize = app.continuation.streamed.iter().map(|t| t.notes.len()).sum();
    if app.continuation.running.is_some() {
        ui.label(format!("{streamed} notes so far"));
    }
    if !app.continuation.status.is_empty() {
        ui.small(&app.continuation.status);
    }
    for notice in &app.continuation.notices {
        ui.small(format!("note: {notice}"));
    }
    let count = app.continuation.results.as_ref().map_or(0, |(v, _)| v.len());
    if count > 0 {
        ui.separator();
        ui.horizontal(|ui| {
            let panel = &mut app.continuation;
            let before = panel.shown;
            if ui.add_enabled(panel.shown > 0, egui::Button::new("<")).clicked() {
                panel.shown -= 1;
            }
            ui.label(format!("Variation {} of {count}", panel.shown + 1));
            if ui.add_enabled(panel.shown + 1 < count, egui::Button::new(">")).clicked() {
                panel.shown += 1;
            }
            if panel.shown != before && panel.looping {
                app.audition_continuation();
            }
        });
        if let Some(tracks) = app.continuation.results.as_ref().and_then(|(v, _)| v.get(app.continuation.shown)) {
            for track in tracks {
                ui.small(format!("{}: {} notes", track.name, track.notes.len()));
            }
        }
        ui.horizontal(|ui| {
            let mut looping = app.continuation.looping;
            if ui.toggle_value(&mut looping, "Loop with song").clicked() {
                app.continuation.looping = looping;
                if looping {
                    app.audition_continuation();
                } else {
                    app.engine.send(Command::Audition(None));
                }
            }
            if ui.button("Keep").clicked() {
                app.keep_continuation();
            }
            if ui.button("Regenerate").clicked() {
                app.continuation.seed += app.continuation.variations as u64;
                app.generate_continuation();
            }
        });
    }
    ui.separator();
    ui.colored_label(
        Color32::GRAY,
        "Instruments are enforced: only the ones chosen play. Infilling between two selections is not supported.",
    );
}
