//! The transport bar (files, play/stop/record, loop, metronome, tempo, metre, position) and
//! the editing toolbar above the roll (tools, grid, quantise, undo/redo).

use cadenza_engine::Edit;
use cadenza_engine::song::{TempoChange, TimeSignatureChange};
use cadenza_engine::timing::{TempoMap, format_seconds};
use cadenza_engine::{BackendPreference, Command};
use cadenza_models::remote::RemoteAddress;
use eframe::egui;

use super::roll::{Grid, Tool};
use super::{CadenzaApp, Dialog, PathPurpose, Session, Studio, continuation, interpolate};

pub fn bar(app: &mut CadenzaApp, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        file_menu(app, ui);
        devices_menu(&app.session, &mut app.studio, ui);
        transcribe_menu(app, ui);
        interpolate_toggle(&mut app.interpolate, &app.session, ui);
        continuation_toggle(&mut app.continuation, &app.session, ui);
        ui.separator();
        transport_buttons(&mut app.session, &mut app.studio, ui);
        ui.separator();
        position(&app.session, ui);
        ui.separator();
        tempo_and_metre(&mut app.session, ui);
    });
}

fn file_menu(app: &mut CadenzaApp, ui: &mut egui::Ui) {
    ui.menu_button("File", |ui| {
        if ui.button("New").clicked() {
            app.session.send(Command::NewSong);
            app.session.path = None;
            app.session.title = "Untitled".into();
            ui.close();
        }
        let entries = [
            ("Open…", PathPurpose::Open),
            ("Save project as…", PathPurpose::SaveProject),
            ("Export MIDI…", PathPurpose::ExportMidi),
            ("Export WAV…", PathPurpose::ExportWav),
        ];
        for (label, purpose) in entries {
            if ui.button(label).clicked() {
                app.dialog = Some(Dialog::path(purpose, app.session.path.as_deref()));
                ui.close();
            }
        }
        if ui.add_enabled(app.session.path.is_some(), egui::Button::new("Save")).clicked() {
            app.save_project(None);
            ui.close();
        }
        ui.separator();
        ui.label("Recent");
        for path in app.recent.clone() {
            if ui.button(path.display().to_string()).clicked() {
                app.open_path(&path);
                ui.close();
            }
        }
    });
}

/// Audio → notes: a recorded take (its notes land where it was recorded) or any audio file.
fn transcribe_menu(app: &mut CadenzaApp, ui: &mut egui::Ui) {
    ui.menu_button("Transcribe", |ui| {
        if ui.button("Audio file…").clicked() {
            app.dialog = Some(Dialog::path(PathPurpose::Transcribe, None));
            ui.close();
        }
        if !app.studio.takes.is_empty() {
            ui.separator();
            ui.label("Takes");
        }
        for index in 0..app.studio.takes.len() {
            let label = format!("Take: {}", app.studio.takes[index].name);
            if ui.button(label).clicked() {
                if let Some((path, seconds)) = app.studio.take_source(&app.session.song, index) {
                    app.transcribe_audio(&path, seconds);
                }
                ui.close();
            }
        }
        ui.separator();
        let label =
            if app.transcription.open { "Hide the transcription panel" } else { "Show the transcription panel" };
        if ui.button(label).clicked() {
            app.transcription.open = !app.transcription.open;
            ui.close();
        }
    });
}

/// Shows or hides the Interpolate panel (the melody models).
fn interpolate_toggle(panel: &mut interpolate::Panel, session: &Session, ui: &mut egui::Ui) {
    let mut open = panel.open;
    if ui.toggle_value(&mut open, "Interpolate").on_hover_text("Mix clips in the melody models' latent space").clicked()
    {
        panel.set_open(session, open);
    }
}

/// Shows or hides the Continue panel (the continuation model).
fn continuation_toggle(panel: &mut continuation::Panel, session: &Session, ui: &mut egui::Ui) {
    let mut open = panel.open;
    if ui
        .toggle_value(&mut open, "Continue")
        .on_hover_text("Continue the selection or the song in a chosen style")
        .clicked()
    {
        panel.set_open(session, open);
    }
}

fn devices_menu(session: &Session, studio: &mut Studio, ui: &mut egui::Ui) {
    ui.menu_button("Devices", |ui| {
        ui.label(format!("Output: {}", studio.audio));
        ui.separator();
        ui.label("MIDI input");
        if let Some(err) = &studio.devices.midi_error {
            ui.weak(err);
        }
        let choice = |ui: &mut egui::Ui, current: &Option<String>, ports: &[String]| -> Option<Option<String>> {
            let mut picked = None;
            if ui.selectable_label(current.is_none(), "None").clicked() {
                picked = Some(None);
            }
            for port in ports {
                if ui.selectable_label(current.as_deref() == Some(port), port).clicked() {
                    picked = Some(Some(port.clone()));
                }
            }
            picked
        };
        if let Some(port) = choice(ui, &studio.devices.midi_input, &studio.devices.midi.inputs) {
            session.send(Command::ConnectMidiInput(port));
        }
        ui.separator();
        ui.label("MIDI output (song playback and keyboard thru)");
        if let Some(port) = choice(ui, &studio.devices.midi_output, &studio.devices.midi.outputs) {
            session.send(Command::ConnectMidiOutput(port));
        }
        ui.separator();
        ui.label("Audio input");
        if let Some(err) = &studio.devices.audio_input_error {
            ui.weak(err);
        }
        if let Some(device) = choice(ui, &studio.audio_input, &studio.devices.audio_inputs) {
            studio.audio_input = device;
            if studio.input_meter.is_some() {
                session.send(Command::MonitorInput { device: studio.audio_input.clone(), on: true });
            }
        }
        let mut metering = studio.input_meter.is_some();
        if ui
            .checkbox(&mut metering, "Input level meter")
            .on_hover_text("Keeps the input open to show its level")
            .changed()
        {
            session.send(Command::MonitorInput { device: studio.audio_input.clone(), on: metering });
        }
        ui.separator();
        backend_choice(session, studio, ui);
        ui.separator();
        if ui.button("Rescan devices").clicked() {
            session.send(Command::RefreshDevices);
        }
    });
}

/// Devices ▸ ML backend: what runs the models now, and a new choice (a `cadenza serve` machine
/// included); the status line reports the outcome.
fn backend_choice(session: &Session, studio: &mut Studio, ui: &mut egui::Ui) {
    ui.label(format!("ML backend: {}", studio.backend_kind)).on_hover_text(&studio.backend);
    ui.weak(&studio.backend);
    ui.horizontal(|ui| {
        if ui.button("Auto").on_hover_text("wgpu on a real GPU, else the CPU").clicked() {
            session.send(Command::SetBackend(BackendPreference::Auto));
        }
        if ui.button("CPU").clicked() {
            session.send(Command::SetBackend(BackendPreference::Cpu));
        }
    });
    ui.horizontal(|ui| {
        ui.label("Server remote://");
        // A fixed id: the device lists above it change while the menu is open (a rescan, a
        // device plugged in), and an id from the position would drop the focus mid-typing.
        ui.add(
            egui::TextEdit::singleline(&mut studio.server_address).id_salt("ml-server-address").desired_width(160.0),
        );
        let address = RemoteAddress::parse(&format!("remote://{}", studio.server_address.trim()));
        let connect = ui.add_enabled(address.is_ok(), egui::Button::new("Use server"));
        let connect = match &address {
            Ok(_) => {
                connect.on_hover_text("The models run on a `cadenza serve` machine; the CPU if it cannot be reached")
            }
            Err(why) => connect.on_disabled_hover_text(why),
        };
        if connect.clicked()
            && let Ok(address) = address
        {
            studio.backend_kind = "connecting…".into();
            session.send(Command::SetBackend(BackendPreference::Remote(address)));
        }
    });
}

fn transport_buttons(session: &mut Session, studio: &mut Studio, ui: &mut egui::Ui) {
    let player = session.engine.player();
    let playing = player.is_playing();
    if ui.button("Start").on_hover_text("Return to start (Home)").clicked() {
        session.send(Command::Seek(0));
    }
    let play_label = if playing { "Pause" } else { "Play" };
    if ui.button(play_label).on_hover_text("Play / pause (space)").clicked() {
        session.play_pause();
    }
    if ui.button("Stop").on_hover_text("Stop").clicked() {
        session.send(Command::Stop);
    }
    let mut armed = studio.armed;
    if ui
        .toggle_value(&mut armed, egui::RichText::new("Rec MIDI").color(egui::Color32::from_rgb(0xe0, 0x5a, 0x5a)))
        .on_hover_text("Record the MIDI keyboard into the selected track while playing")
        .changed()
    {
        studio.armed = armed;
        session.send(Command::ArmTrack(armed.then_some(session.selected_track)));
        if armed && !playing {
            session.send(Command::Play);
        }
    }
    let recording_audio = studio.recording.is_some();
    let audio_label = if recording_audio { "Stop audio" } else { "Rec audio" };
    if ui.button(audio_label).on_hover_text("Record the audio input into a take").clicked() {
        if recording_audio {
            session.send(Command::StopRecordAudio);
        } else {
            session.send(Command::RecordAudio { device: studio.audio_input.clone() });
        }
    }
    if let (Some(meter), None) = (&studio.input_meter, &studio.recording) {
        ui.weak("in");
        level_meter(ui, meter.take_peak());
    }
    if let Some(take) = &studio.recording {
        level_meter(ui, take.meter.take_peak());
        let name = take.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        ui.label(format!("{name} {}", format_seconds(take.meter.seconds())))
            .on_hover_text(take.path.display().to_string());
    }
    let mut settings = session.transport;
    let mut looping = settings.loop_ticks.is_some();
    let loop_changed =
        ui.toggle_value(&mut looping, "Loop").on_hover_text("Loop (drag on the ruler to set the region)").changed();
    if loop_changed {
        settings.loop_ticks = looping.then(|| {
            let bar = u64::from(session.song.ppq) * 4;
            (0, bar * 4)
        });
    }
    ui.toggle_value(&mut settings.metronome, "Click").on_hover_text("Metronome");
    ui.add(egui::DragValue::new(&mut settings.count_in_bars).range(0..=4).prefix("count-in ").suffix(" bar"))
        .on_hover_text("Bars of count-in before recording");
    let mut follow = session.roll.follow;
    ui.toggle_value(&mut follow, "follow").on_hover_text("Follow the playhead");
    session.roll.follow = follow;
    if settings != session.transport {
        session.set_transport(settings);
    }
}

fn level_meter(ui: &mut egui::Ui, peak: f32) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(80.0, 10.0), egui::Sense::hover());
    let painter = ui.painter();
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    // dBFS from -60 to 0 across the meter.
    let db = 20.0 * peak.max(1e-6).log10();
    let fill = ((db + 60.0) / 60.0).clamp(0.0, 1.0);
    let colour = if peak >= 0.99 {
        egui::Color32::RED
    } else if db > -6.0 {
        egui::Color32::YELLOW
    } else {
        egui::Color32::GREEN
    };
    painter.rect_filled(rect.with_max_x(rect.left() + rect.width() * fill), 2.0, colour);
}

fn position(session: &Session, ui: &mut egui::Ui) {
    let player = session.engine.player();
    let tick = player.position_tick();
    let seconds = TempoMap::for_song(&session.song).tick_to_seconds(tick);
    let label =
        if player.is_counting_in() { "count-in".to_string() } else { session.song.tick_to_bar_beat(tick).to_string() };
    ui.monospace(label).on_hover_text("bar:beat:tick");
    ui.monospace(format_seconds(seconds));
}

fn tempo_and_metre(session: &mut Session, ui: &mut egui::Ui) {
    let song = &session.song;
    let first_tempo = song.tempos.first().copied().unwrap_or(TempoChange { tick: 0, micros_per_quarter: 500_000 });
    let mut bpm = first_tempo.bpm();
    let changed = ui
        .add(egui::DragValue::new(&mut bpm).range(20.0..=400.0).speed(0.5).max_decimals(1).suffix(" BPM"))
        .on_hover_text(if song.tempos.len() > 1 { "Starting tempo (the song has tempo changes)" } else { "Tempo" })
        .changed();
    let mut edits = Vec::new();
    if changed {
        let mut tempos = song.tempos.clone();
        let micros = (60_000_000.0 / bpm).round() as u32;
        match tempos.first_mut() {
            Some(first) => first.micros_per_quarter = micros,
            None => tempos.push(TempoChange { tick: 0, micros_per_quarter: micros }),
        }
        edits.push(Edit::SetTempos(tempos));
    }
    let sig =
        song.time_signatures.first().copied().unwrap_or(TimeSignatureChange { tick: 0, numerator: 4, denominator: 4 });
    let (mut numerator, mut denominator) = (sig.numerator, sig.denominator);
    let num_changed =
        ui.add(egui::DragValue::new(&mut numerator).range(1..=32)).on_hover_text("Beats per bar").changed();
    ui.label("/");
    let mut den_changed = false;
    let combo = egui::ComboBox::from_id_salt("denominator").width(40.0).selected_text(denominator.to_string()).show_ui(
        ui,
        |ui| {
            for d in [2u8, 4, 8, 16] {
                den_changed |= ui.selectable_value(&mut denominator, d, d.to_string()).changed();
            }
        },
    );
    name_for_screen_readers(&combo.response, egui::Role::ComboBox, "Beat unit");
    if num_changed || den_changed {
        let mut sigs = song.time_signatures.clone();
        match sigs.first_mut() {
            Some(first) => {
                first.numerator = numerator;
                first.denominator = denominator;
            }
            None => sigs.push(TimeSignatureChange { tick: 0, numerator, denominator }),
        }
        edits.push(Edit::SetTimeSignatures(sigs));
    }
    if let Some(key) = song.key_signature() {
        ui.label(key.name());
    }
    for edit in edits {
        session.edit(edit);
    }
}

/// Tools, grid, quantise and undo above the roll.
pub fn toolbar(session: &mut Session, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        let editor = &mut session.roll.editor;
        ui.selectable_value(&mut editor.tool, Tool::Draw, "Draw").on_hover_text("Draw tool (B)");
        ui.selectable_value(&mut editor.tool, Tool::Select, "Select").on_hover_text("Select tool (V)");
        ui.separator();
        ui.label("Grid");
        let combo =
            egui::ComboBox::from_id_salt("grid").width(64.0).selected_text(editor.grid.label()).show_ui(ui, |ui| {
                for grid in Grid::CHOICES {
                    ui.selectable_value(&mut editor.grid, grid, grid.label());
                }
            });
        name_for_screen_readers(&combo.response, egui::Role::ComboBox, "Grid");
        ui.add(egui::Slider::new(&mut editor.strength, 0.0..=1.0).text("strength").fixed_decimals(2));
        let quantise = ui.button("Quantise").on_hover_text("Quantise the selection, or the whole track (Q)").clicked();
        ui.separator();
        let undo = ui.add_enabled(session.can_undo, egui::Button::new("Undo")).on_hover_text("Ctrl+Z").clicked();
        let redo = ui
            .add_enabled(session.can_redo, egui::Button::new("Redo"))
            .on_hover_text("Ctrl+Shift+Z / Ctrl+Y")
            .clicked();
        let selected = session.roll.editor.selection.len();
        let delete = ui.add_enabled(selected > 0, egui::Button::new("Delete")).on_hover_text("Delete (Del)").clicked();
        if selected > 0 {
            ui.weak(format!("{selected} selected"));
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let title = if session.dirty { format!("{} •", session.title) } else { session.title.clone() };
            ui.add(egui::Label::new(title).truncate()).on_hover_text("• = unsaved changes");
        });
        if quantise
            && let Some(track) = session.song.tracks.get(session.selected_track)
            && let Some(super::RollAction::Edit(edit)) =
                session.roll.editor.quantise(track, session.selected_track, session.song.ppq)
        {
            session.edit(edit);
        }
        if delete {
            let notes = session.roll.editor.selected();
            session.roll.editor.selection.clear();
            session.edit(Edit::RemoveNotes { track: session.selected_track, notes });
        }
        if undo {
            session.undo();
        }
        if redo {
            session.redo();
        }
    });
}

/// Names a widget whose visible label sits elsewhere (assistive tech and UI tests find it).
fn name_for_screen_readers(response: &egui::Response, role: egui::Role, name: &str) {
    response.widget_info(|| egui::WidgetInfo::labeled(role, true, name));
}
