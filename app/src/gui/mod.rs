//! The window. It never blocks: it sends commands to the engine and draws what comes back.

mod roll;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use cadenza_engine::song::Song;
use cadenza_engine::timing::format_seconds;
use cadenza_engine::{Command, Edit, Engine, EngineConfig, EngineHandle, Event, JobId, JobOutput, TrackProps, gm};
use eframe::egui;

use crate::demo;
use roll::RollView;

pub fn run(config: EngineConfig, file: Option<PathBuf>) -> Result<()> {
    let engine = Engine::spawn(config).map_err(|e| anyhow!("could not start the engine thread: {e}"))?;
    let title = match &file {
        Some(path) => {
            engine.open_midi(path.clone());
            path.display().to_string()
        }
        None => {
            engine.send(Command::SetSong(demo::song()?));
            demo::DEMO_NAME.to_string()
        }
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([1280.0, 800.0]).with_title("Cadenza"),
        ..Default::default()
    };
    eframe::run_native("Cadenza", options, Box::new(move |_cc| Ok(Box::new(CadenzaApp::new(engine, title)))))
        .map_err(|e| anyhow!("could not open the window: {e}"))
}

struct JobStatus {
    label: String,
    fraction: f32,
    message: String,
}

pub struct CadenzaApp {
    engine: EngineHandle,
    song: Arc<Song>,
    title: String,
    backend: String,
    notices: Vec<String>,
    jobs: BTreeMap<JobId, JobStatus>,
    roll: RollView,
    selected_track: usize,
}

impl CadenzaApp {
    pub fn new(engine: EngineHandle, title: String) -> Self {
        Self {
            engine,
            song: Arc::new(Song::default()),
            title,
            backend: "choosing ML backend…".into(),
            notices: Vec::new(),
            jobs: BTreeMap::new(),
            roll: RollView::default(),
            selected_track: 0,
        }
    }

    fn drain_events(&mut self) {
        while let Ok(event) = self.engine.events().try_recv() {
            match event {
                Event::Backend { reason, .. } => self.backend = reason,
                Event::Notice(text) => self.notices.push(text),
                Event::SongChanged { song, path, .. } => {
                    if let Some(path) = path {
                        self.title = path.display().to_string();
                    }
                    let first = self.song.tracks.is_empty();
                    self.song = song;
                    if first {
                        self.roll.fit(&self.song);
                    }
                }
                Event::JobStarted { id, label } => {
                    self.jobs.insert(id, JobStatus { label, fraction: 0.0, message: String::new() });
                }
                Event::JobProgress { id, fraction, message } => {
                    if let Some(job) = self.jobs.get_mut(&id) {
                        job.fraction = fraction;
                        job.message = message;
                    }
                }
                Event::JobFinished { id, output } => {
                    self.jobs.remove(&id);
                    if let JobOutput::Rendered { path, .. } | JobOutput::MidiWritten { path } = output {
                        self.notices.push(format!("wrote {}", path.display()));
                    }
                }
                Event::JobFailed { id, message } => {
                    let label = self.jobs.remove(&id).map(|j| j.label).unwrap_or_default();
                    self.notices.push(format!("{label} failed: {message}"));
                }
                Event::JobCancelled { id } => {
                    self.jobs.remove(&id);
                }
                Event::CommandFailed(message) => self.notices.push(message),
                _ => {}
            }
        }
    }

    fn transport(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.strong("Cadenza");
            ui.separator();
            ui.label(&self.title);
            ui.separator();
            let tempo = self.song.tempos.first().map_or(120.0, |t| t.bpm());
            ui.label(format!("{tempo:.0} BPM"));
            if let Some(sig) = self.song.time_signatures.first() {
                ui.label(format!("{}/{}", sig.numerator, sig.denominator));
            }
            if let Some(key) = self.song.key_signature() {
                ui.label(key.name());
            }
            ui.separator();
            ui.label(format!("length {}", format_seconds(self.song.duration_seconds())));
        });
    }

    fn track_list(&mut self, ui: &mut egui::Ui) {
        ui.heading("Tracks");
        ui.add_space(4.0);
        let mut edits = Vec::new();
        for (index, track) in self.song.tracks.iter().enumerate() {
            let colour = roll::track_colour(index);
            let frame = egui::Frame::group(ui.style()).fill(if index == self.selected_track {
                ui.visuals().selection.bg_fill.gamma_multiply(0.35)
            } else {
                ui.visuals().panel_fill
            });
            frame.show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    let (rect, _) = ui.allocate_exact_size(egui::vec2(6.0, 30.0), egui::Sense::hover());
                    ui.painter().rect_filled(rect, 2.0, colour);
                    ui.vertical(|ui| {
                        if ui.selectable_label(index == self.selected_track, &track.name).clicked() {
                            self.selected_track = index;
                        }
                        let program = if track.is_drum { "Drums" } else { gm::program_name(track.program) };
                        ui.small(format!("{program} · ch {} · {} notes", track.channel + 1, track.notes.len()));
                    });
                });
                ui.horizontal(|ui| {
                    let (mut muted, mut solo) = (track.muted, track.solo);
                    let toggled = |ui: &mut egui::Ui, value: &mut bool, label: &str, hover: &str| {
                        ui.toggle_value(value, label).on_hover_text(hover).changed()
                    };
                    // `|`, not `||`: both buttons are drawn every frame.
                    if toggled(ui, &mut muted, "M", "Mute") | toggled(ui, &mut solo, "S", "Solo") {
                        let props = TrackProps { muted, solo, ..TrackProps::of(track) };
                        edits.push(Edit::SetTrackProps { index, props });
                    }
                });
            });
        }
        for edit in edits {
            self.engine.send(Command::Edit(edit));
        }
    }

    fn status_line(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(format!("ML: {}", self.backend));
            for job in self.jobs.values() {
                ui.separator();
                ui.add(
                    egui::ProgressBar::new(job.fraction)
                        .desired_width(120.0)
                        .text(format!("{} {}", job.label, job.message)),
                );
            }
            if let Some(notice) = self.notices.last() {
                ui.separator();
                ui.label(notice);
            }
        });
    }
}

impl eframe::App for CadenzaApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain_events();
        // The engine cannot wake the window itself; poll faster while work is running.
        let poll = if self.jobs.is_empty() { Duration::from_millis(250) } else { Duration::from_millis(50) };
        ctx.request_repaint_after(poll);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("transport").show(ui, |ui| self.transport(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_line(ui));
        egui::Panel::left("tracks").resizable(true).default_size(230.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.track_list(ui));
        });
        egui::CentralPanel::default().show(ui, |ui| self.roll.show(ui, &self.song));
    }
}
