//! The status line: sound output, MIDI, ML backend, running jobs with progress and cancel, and
//! the latest notice.

use cadenza_engine::JobId;
use eframe::egui;

use super::CadenzaApp;

pub fn line(app: &mut CadenzaApp, ui: &mut egui::Ui) {
    let mut cancel: Option<JobId> = None;
    ui.horizontal(|ui| {
        ui.label(format!("Audio: {}", app.audio));
        ui.separator();
        let midi = match (&app.devices.midi_input, &app.devices.midi_error) {
            (Some(port), _) => format!("MIDI: {port}"),
            (None, Some(err)) => format!("MIDI: none ({err})"),
            (None, None) if app.devices.midi.inputs.is_empty() => "MIDI: no keyboard".to_string(),
            (None, None) => format!("MIDI: {} input(s), none connected", app.devices.midi.inputs.len()),
        };
        ui.label(midi);
        ui.separator();
        ui.label(format!("ML: {}", app.backend));
        for (id, job) in &app.jobs {
            ui.separator();
            ui.add(egui::ProgressBar::new(job.fraction).desired_width(140.0).text(format!("{} {}", job.label, job.message)));
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
