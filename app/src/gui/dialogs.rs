//! Dialogs: a path prompt for open/save/import/export (typed or picked from recent files), and
//! the offer to restore unsaved work after a crash. Recent files are kept in the state folder.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use cadenza_engine::Command;
use cadenza_engine::project;
use eframe::egui;

use super::CadenzaApp;

const RECENT_FILE: &str = "recent.json";
const RECENT_MAX: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathPurpose {
    /// A MIDI file or a project.
    Open,
    SaveProject,
    ExportMidi,
    ExportWav,
    /// An audio file to transcribe.
    Transcribe,
}

impl PathPurpose {
    fn title(self) -> &'static str {
        match self {
            Self::Open => "Open a MIDI file or a project",
            Self::SaveProject => "Save the project as",
            Self::ExportMidi => "Export MIDI",
            Self::ExportWav => "Export WAV",
            Self::Transcribe => "Transcribe an audio file (WAV, FLAC, MP3, Ogg)",
        }
    }
    fn action(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::SaveProject => "Save",
            Self::ExportMidi | Self::ExportWav => "Export",
            Self::Transcribe => "Transcribe",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Dialog {
    Path { purpose: PathPurpose, text: String },
    Recovery { saved_at: Option<SystemTime>, project: Option<PathBuf>, notes: usize },
}

impl Dialog {
    /// A path prompt, filled with a sensible suggestion next to the current file.
    pub fn path(purpose: PathPurpose, current: Option<&Path>) -> Self {
        let dir = current
            .and_then(Path::parent)
            .map_or_else(|| std::env::current_dir().unwrap_or_default(), Path::to_path_buf);
        let stem =
            current.and_then(Path::file_stem).map_or_else(|| "untitled".into(), |s| s.to_string_lossy().into_owned());
        let text = match purpose {
            PathPurpose::Open | PathPurpose::Transcribe => String::new(),
            PathPurpose::SaveProject => {
                dir.join(format!("{stem}.{}", project::PROJECT_EXTENSION)).display().to_string()
            }
            PathPurpose::ExportMidi => dir.join(format!("{stem}.mid")).display().to_string(),
            PathPurpose::ExportWav => dir.join(format!("{stem}.wav")).display().to_string(),
        };
        Self::Path { purpose, text }
    }
}

pub fn show(app: &mut CadenzaApp, ctx: &egui::Context) {
    let Some(dialog) = app.dialog.clone() else { return };
    let mut close = false;
    egui::Modal::new(egui::Id::unique("cadenza-dialog")).show(ctx, |ui| match dialog {
        Dialog::Path { purpose, mut text } => {
            ui.heading(purpose.title());
            let response = ui.add(egui::TextEdit::singleline(&mut text).desired_width(480.0).hint_text("path"));
            response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Path"));
            if purpose == PathPurpose::Open && !app.recent.is_empty() {
                ui.label("Recent:");
                for path in app.recent.clone() {
                    if ui.selectable_label(false, path.display().to_string()).clicked() {
                        text = path.display().to_string();
                    }
                }
            }
            let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.horizontal(|ui| {
                if (ui.button(purpose.action()).clicked() || enter) && !text.trim().is_empty() {
                    run_path(app, purpose, PathBuf::from(text.trim()));
                    close = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
            if !close {
                app.dialog = Some(Dialog::Path { purpose, text });
            }
        }
        Dialog::Recovery { saved_at, project, notes } => {
            ui.heading("Restore unsaved work?");
            let when = saved_at
                .and_then(|t| t.elapsed().ok())
                .map_or_else(String::new, |age| format!(" from {} ago", human_age(age.as_secs())));
            let what = project.map_or_else(|| "an unsaved song".to_string(), |p| p.display().to_string());
            ui.label(format!(
                "Cadenza did not close cleanly. Autosaved work on {what} ({notes} notes){when} can be restored."
            ));
            ui.horizontal(|ui| {
                if ui.button("Restore").clicked() {
                    app.session.send(Command::RestoreRecovery);
                    close = true;
                }
                if ui.button("Discard").clicked() {
                    app.session.send(Command::DiscardRecovery);
                    close = true;
                }
            });
        }
    });
    if close {
        app.dialog = None;
    }
}

fn run_path(app: &mut CadenzaApp, purpose: PathPurpose, path: PathBuf) {
    match purpose {
        PathPurpose::Open => app.open_path(&path),
        PathPurpose::SaveProject => app.save_project(Some(path)),
        PathPurpose::ExportMidi => {
            app.session.engine.export_midi(path);
        }
        PathPurpose::ExportWav => {
            app.session.engine.render(path, None);
        }
        PathPurpose::Transcribe => app.transcribe_audio(&path, 0.0),
    }
}

fn human_age(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

pub fn load_recent(state_dir: &Path) -> Vec<PathBuf> {
    std::fs::read(state_dir.join(RECENT_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Puts `path` first in the recent list and saves the list (best effort: a read-only state
/// folder only loses the list).
pub fn remember(state_dir: &Path, recent: &mut Vec<PathBuf>, path: &Path) {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    recent.retain(|p| *p != path);
    recent.insert(0, path);
    recent.truncate(RECENT_MAX);
    let dir = state_dir;
    if std::fs::create_dir_all(dir).is_ok()
        && let Ok(json) = serde_json::to_vec_pretty(recent)
    {
        let _ = cadenza_engine::fsutil::write_bytes_atomically(&dir.join(RECENT_FILE), &json);
    }
}
