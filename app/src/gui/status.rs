//! The status line: sound output, MIDI, ML backend, running jobs with progress and cancel, and
//! the latest notice.

use cadenza_engine::JobId;
use eframe::egui;

use super::CadenzaApp;

pub fn line(app: &mut CadenzaApp, ui: &mut egui::Ui) {
    let mut cancel: Option<JobId> = None;
    ui.horizontal(|ui| {
        // Short words in the line; the whole story on hover.
        let (audio_short, _) = app.audio.split_once(" (").unwrap_or((&app.audio, ""));
        ui.label(format!("Audio: {audio_short}")).on_hover_text(&app.audio);
        ui.separator();
        let (midi, detail) = match (&app.devices.midi_input, &app.devices.midi_error) {
            (Some(port), _) => (format!("MIDI: {port}"), String::new()),
            (None, Some(err)) => ("MIDI: unavailable".to_string(), err.clone()),
            (None, None) if app.devices.midi.inputs.is_empty() => ("MIDI: no keyboard".to_string(), String::new()),
            (None, None) => (
                format!("MIDI: {} input(s), none connected", app.devices.midi.inputs.len()),
                "Devices menu".to_string(),
            ),
        };
        let response = ui.label(midi);
        if !detail.is_empty() {
            response.on_hover_text(detail);
        }
        ui.separator();
        ui.label(format!("ML: {}", app.backend_kind)).on_hover_text(&app.backend);
        for (id, job) in &app.jobs {
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
        if let Some(notice) = app.notices.last() {
            ui.separator();
            ui.label(notice).on_hover_text(app.notices.iter().rev().take(10).cloned().collect::<Vec<_>>().join("\n"));
        }
    });
    if let Some(id) = cancel {
        app.engine.cancel(id);
    }
}
