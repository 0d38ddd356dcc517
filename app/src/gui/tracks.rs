//! The track list: select, rename, instrument by GM family, colour, mute/solo, volume/pan,
//! add and remove. Every change is an edit.

use cadenza_engine::song::{DRUM_CHANNEL, Track};
use cadenza_engine::{Edit, TrackProps, gm};
use eframe::egui;

use super::roll::track_colour;
use super::{Session, Studio};

pub fn list(session: &mut Session, studio: &Studio, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Tracks");
        if ui.button("+ Add track").clicked() {
            let index = session.song.tracks.len();
            let used: Vec<u8> = session.song.tracks.iter().map(|t| t.channel).collect();
            let channel = (0..16u8).find(|c| *c != DRUM_CHANNEL && !used.contains(c)).unwrap_or(0);
            session.edit(Edit::AddTrack { index, track: Track::new(format!("Track {}", index + 1), 0, channel) });
            session.selected_track = index;
        }
    });
    ui.add_space(4.0);
    let mut edits = Vec::new();
    let mut select = None;
    for (index, track) in session.song.tracks.iter().enumerate() {
        let colour = track.colour.map_or_else(|| track_colour(index), |[r, g, b]| egui::Color32::from_rgb(r, g, b));
        let selected = index == session.selected_track;
        let fill = if selected { ui.visuals().selection.bg_fill.gamma_multiply(0.35) } else { ui.visuals().panel_fill };
        egui::Frame::group(ui.style()).fill(fill).show(ui, |ui| {
            ui.set_width(ui.available_width());
            let mut props = TrackProps::of(track);
            ui.horizontal(|ui| {
                let mut rgb = colour;
                if ui.color_edit_button_srgba(&mut rgb).on_hover_text("Track colour").changed() {
                    props.colour = Some([rgb.r(), rgb.g(), rgb.b()]);
                }
                if selected {
                    // The name is edited in a buffer and committed once, when editing ends.
                    let id = ui.scope_id().with(("rename", index));
                    let mut name = ui.data_mut(|d| d.get_temp::<String>(id)).unwrap_or_else(|| track.name.clone());
                    let response = ui.add(egui::TextEdit::singleline(&mut name).desired_width(120.0).hint_text("name"));
                    if response.lost_focus() {
                        props.name = name.trim().to_string();
                        ui.data_mut(|d| d.remove::<String>(id));
                    } else if response.has_focus() {
                        ui.data_mut(|d| d.insert_temp(id, name));
                    }
                } else if ui.selectable_label(false, &track.name).on_hover_text("Select to edit").clicked() {
                    select = Some(index);
                }
            });
            ui.horizontal(|ui| {
                let instrument = if track.is_drum { "Drums" } else { gm::program_name(track.program) };
                ui.menu_button(instrument, |ui| {
                    let drums = ui.selectable_label(track.is_drum, "Drums (channel 10)");
                    if drums.clicked() {
                        props.is_drum = true;
                        props.channel = DRUM_CHANNEL;
                        ui.close();
                    }
                    for (family, programs) in gm::families() {
                        ui.menu_button(family, |ui| {
                            for program in programs {
                                if ui
                                    .selectable_label(
                                        !track.is_drum && track.program == program,
                                        gm::program_name(program),
                                    )
                                    .clicked()
                                {
                                    props.program = program;
                                    props.is_drum = false;
                                    if props.channel == DRUM_CHANNEL {
                                        props.channel = 0;
                                    }
                                    ui.close();
                                }
                            }
                        });
                    }
                });
                ui.weak(format!("{} notes", track.notes.len()));
            });
            ui.horizontal(|ui| {
                ui.toggle_value(&mut props.muted, "M").on_hover_text(format!("Mute {}", track.name));
                ui.toggle_value(&mut props.solo, "S").on_hover_text(format!("Solo {}", track.name));
                ui.add(egui::Slider::new(&mut props.volume, 0..=127).show_value(false).text("vol"))
                    .on_hover_text(format!("Volume {}", props.volume));
            });
            ui.horizontal(|ui| {
                ui.add(egui::Slider::new(&mut props.pan, 0..=127).show_value(false).text("pan"))
                    .on_hover_text(format!("Pan {}", i32::from(props.pan) - 64));
                if ui.small_button("Remove").on_hover_text(format!("Remove {}", track.name)).clicked() {
                    edits.push(Edit::RemoveTrack { index });
                }
            });
            if props != TrackProps::of(track) {
                edits.push(Edit::SetTrackProps { index, props });
            }
        });
    }
    if let Some(index) = select {
        session.selected_track = index;
        session.roll.editor.selection.clear();
        // Keyboard recording follows the selected track.
        if studio.armed {
            session.send(cadenza_engine::Command::ArmTrack(Some(index)));
        }
    }
    for edit in edits {
        session.edit(edit);
    }
}
