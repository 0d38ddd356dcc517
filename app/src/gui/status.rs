//! The status line: sound output, MIDI, ML backend, running jobs with progress and cancel, and
//! the latest notice.

use cadenza_engine::JobId;
use eframe::egui;

use super::{Session, Studio};

pub fn line(session: &Session, studio: &Studio, ui: &mut egui::Ui) {
    let mut cancel: Option<JobId> = None;
    ui.horizontal(|ui| {
        // Short words in the line; the whole story on hover.
        let (audio_short, _) = studio.audio.split_once(" (").unwrap_or((&studio.audio, ""));
        ui.label(format!("Audio: {audio_short}")).on_hover_text(&studio.audio);
        ui.separator();
        let (midi, detail) = match (&studio.devices.midi_input, &studio.devices.midi_error) {
            (Some(port), _) => (format!("MIDI: {port}"), String::new()),
            (None, Some(err)) => ("MIDI: unavailable".to_string(), err.clone()),
            (None, None) if studio.devices.midi.inputs.is_empty() => ("MIDI: no keyboard".to_string(), String::new()),
            (None, None) => (
                format!("MIDI: {} input(s), none connected", studio.devices.midi.inputs.len()),
                "Devices menu".to_string(),
            ),
        };
        let response = ui.label(midi);
        if !detail.is_empty() {
            response.on_hover_text(detail);
        }
        ui.separator();
        ui.label(format!("ML: {}", studio.backend_kind)).on_hover_text(&studio.backend);
        for (id, job) in &session.jobs {
            ui.separator();
            ui.add(
                egui::ProgressBar::new(job.fraction)
                    .desired_width(140.0)
                    .text(format!("{} {}", job.label, job.message)),
            );
            if ui.small_button("Cancel").on_hover_text("Cancel").clicked() {
                cancel = Some(*id);
            }
        }
        if let Some(notice) = session.notices.last() {
            ui.separator();
            ui.label(notice)
                .on_hover_text(session.notices.iter().rev().take(10).cloned().collect::<Vec<_>>().join("\n"));
        }
    });
    if let Some(id) = cancel {
        session.engine.cancel(id);
    }
}
