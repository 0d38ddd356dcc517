//! The window driven through egui_kittest: clicks and keys land on the real app, whose edits
//! go through a real engine thread (silent audio, built-in synth, a temporary state folder).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cadenza_engine::project::{self, ProjectData};
use cadenza_engine::song::{Note, Song, Track};
use cadenza_engine::{Command, Engine, EngineConfig};
use eframe::egui::{self, Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use super::CadenzaApp;

const PPQ: u16 = 480;
/// One 1/16 grid step at PPQ 480.
const STEP: u64 = 120;

fn config(state: &Path) -> EngineConfig {
    EngineConfig { autosave_every: Duration::from_secs(3600), ..EngineConfig::silent(state.to_path_buf()) }
}

struct Fixture {
    harness: Harness<'static, CadenzaApp>,
    state: tempfile::TempDir,
}

fn start(song: Song) -> Fixture {
    let state = tempfile::tempdir().unwrap();
    let engine = Engine::spawn(config(state.path())).unwrap();
    engine.send(Command::SetSong(song));
    let dir = state.path().to_path_buf();
    let harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(move |cc| {
        let mut app = CadenzaApp::new(engine, dir);
        app.wake_on_events(&cc.egui_ctx).unwrap();
        app
    });
    let mut fixture = Fixture { harness, state };
    fixture.settle(|app| !app.session.song.tracks.is_empty());
    // A fixed zoom so positions are known: 80 px per quarter, 14 px per key, C6 at the top.
    fixture.harness.state_mut().session.roll.set_zoom(80.0, PPQ, 14.0, 84.0);
    fixture.harness.step();
    fixture.harness.step();
    fixture
}

/// An idle window asks for no frames; an event from the engine wakes it, and the frame it
/// asks for draws what the event says.
#[test]
fn an_idle_window_sleeps_until_the_engine_wakes_it() {
    let mut fixture = start(one_track(&[Note::new(0, STEP, 60, 100)]));
    fixture.harness.run();
    assert!(!fixture.harness.ctx.has_requested_repaint(), "an idle window keeps asking for frames");
    fixture
        .app()
        .session
        .send(Command::SetSong(one_track(&[Note::new(0, STEP, 60, 100), Note::new(STEP, STEP, 64, 100)])));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !fixture.harness.ctx.has_requested_repaint() {
        assert!(Instant::now() < deadline, "the engine's answer did not wake the window");
        std::thread::sleep(Duration::from_millis(5));
    }
    fixture.harness.step();
    assert_eq!(fixture.app().session.song.tracks[0].notes.len(), 2);
}

fn one_track(notes: &[Note]) -> Song {
    let mut song = Song::new(PPQ);
    let mut track = Track::new("Piano", 0, 0);
    for n in notes {
        track.insert_note(n.clone());
    }
    song.tracks.push(track);
    song
}

impl Fixture {
    fn app(&self) -> &CadenzaApp {
        self.harness.state()
    }

    /// Steps the window until `done` holds (the engine answers on its own thread).
    fn settle(&mut self, done: impl Fn(&CadenzaApp) -> bool) {
        self.settle_within(Duration::from_secs(10), done);
    }

    fn settle_within(&mut self, limit: Duration, done: impl Fn(&CadenzaApp) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            self.harness.step();
            if done(self.harness.state()) {
                break;
            }
            assert!(Instant::now() < deadline, "the window never reached the expected state");
            std::thread::sleep(Duration::from_millis(5));
        }
        // One more frame so the roll lays out the new state.
        self.harness.step();
    }

    /// Waits until the engine has caught up with every edit sent so far.
    fn sync(&mut self) {
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(30));
            self.harness.step();
        }
    }

    fn notes(&self) -> Vec<Note> {
        self.app().session.song.tracks[0].notes.clone()
    }

    fn pos(&self, tick: u64, pitch: u8) -> Pos2 {
        self.app().session.roll.viewport.expect("the roll was drawn").pos_of(tick, pitch)
    }

    fn press(&mut self, pos: Pos2, pressed: bool, modifiers: Modifiers) {
        self.harness.event(egui::Event::PointerButton { pos, button: PointerButton::Primary, pressed, modifiers });
        self.harness.step();
    }

    fn click_at(&mut self, pos: Pos2) {
        self.harness.hover_at(pos);
        self.harness.step();
        self.press(pos, true, Modifiers::NONE);
        self.press(pos, false, Modifiers::NONE);
    }

    fn drag(&mut self, from: Pos2, to: Pos2) {
        self.harness.hover_at(from);
        self.harness.step();
        self.press(from, true, Modifiers::NONE);
        for i in 1..=6 {
            let p = from + (to - from) * (i as f32 / 6.0);
            self.harness.event(egui::Event::PointerMoved(p));
            self.harness.step();
        }
        self.press(to, false, Modifiers::NONE);
    }

    fn key(&mut self, modifiers: Modifiers, key: egui::Key) {
        self.harness.key_press_modifiers(modifiers, key);
        self.harness.step();
    }

    fn click_label(&mut self, label: &str) {
        self.harness.get_by_label(label).click();
        // Menus and dialogs open in the frame after the click.
        self.harness.step();
        self.harness.step();
    }

    fn undo(&mut self) {
        self.click_label("Undo");
        self.sync();
    }

    fn redo(&mut self) {
        self.click_label("Redo");
        self.sync();
    }

    /// File menu entry → path dialog → action button.
    fn path_dialog(&mut self, entry: &str, path: &Path, action: &str) {
        self.click_label("File");
        self.click_label(entry);
        self.harness.get_by_label("Path").focus();
        self.harness.step();
        // Replace the suggested path.
        self.key(Modifiers::COMMAND, egui::Key::A);
        self.harness.get_by_label("Path").type_text(&path.display().to_string());
        self.harness.step();
        self.click_label(action);
    }
}

#[test]
fn add_a_note_by_clicking_then_undo_and_redo() {
    let mut f = start(one_track(&[]));
    // Click inside the cell of beat 2 (tick 480), pitch C4: a 1/16 note snaps to the cell start.
    f.click_at(f.pos(480 + 30, 60));
    f.sync();
    assert_eq!(f.notes(), vec![Note::new(480, STEP, 60, 96)]);
    assert_eq!(f.app().session.roll.editor.selection.len(), 1, "the new note is selected");
    f.undo();
    assert!(f.notes().is_empty(), "undo did not remove the note");
    f.redo();
    assert_eq!(f.notes(), vec![Note::new(480, STEP, 60, 96)]);
}

#[test]
fn drawing_with_a_drag_sets_the_length() {
    let mut f = start(one_track(&[]));
    let from = f.pos(960 + 10, 64);
    let to = f.pos(960 + 4 * STEP - 5, 64);
    f.drag(from, to);
    f.sync();
    assert_eq!(f.notes(), vec![Note::new(960, 4 * STEP, 64, 96)]);
}

#[test]
fn move_a_note_by_dragging_then_undo_and_redo() {
    let mut f = start(one_track(&[Note::new(480, 480, 60, 90)]));
    let from = f.pos(480 + 100, 60);
    let to = f.pos(480 + 100 + 2 * STEP, 62);
    f.drag(from, to);
    f.sync();
    assert_eq!(f.notes(), vec![Note::new(480 + 2 * STEP, 480, 62, 90)]);
    f.undo();
    assert_eq!(f.notes(), vec![Note::new(480, 480, 60, 90)], "a whole drag is one undo step");
    f.redo();
    assert_eq!(f.notes(), vec![Note::new(480 + 2 * STEP, 480, 62, 90)]);
}

#[test]
fn alt_drag_moves_off_the_grid() {
    let mut f = start(one_track(&[Note::new(480, 480, 60, 90)]));
    let from = f.pos(600, 60);
    let to = from + egui::vec2(10.0, 0.0); // 10 px = 60 ticks at 80 px per quarter
    f.harness.hover_at(from);
    f.harness.event(egui::Event::ModifiersChanged(Modifiers::ALT));
    f.harness.step();
    f.press(from, true, Modifiers::ALT);
    for i in 1..=4 {
        f.harness.event(egui::Event::PointerMoved(from + (to - from) * (i as f32 / 4.0)));
        f.harness.step();
    }
    f.press(to, false, Modifiers::ALT);
    f.harness.event(egui::Event::ModifiersChanged(Modifiers::NONE));
    f.sync();
    assert_eq!(f.notes(), vec![Note::new(540, 480, 60, 90)]);
}

#[test]
fn resize_a_note_from_its_right_edge_then_undo_and_redo() {
    let mut f = start(one_track(&[Note::new(480, 480, 60, 90)]));
    let edge = f.pos(960, 60) - egui::vec2(2.0, 0.0);
    let to = edge + egui::vec2(2.0 * STEP as f32 / 6.0, 0.0); // two grid steps (20 px)
    f.drag(edge, to);
    f.sync();
    assert_eq!(f.notes(), vec![Note::new(480, 480 + 2 * STEP, 60, 90)]);
    f.undo();
    assert_eq!(f.notes(), vec![Note::new(480, 480, 60, 90)]);
    f.redo();
    assert_eq!(f.notes(), vec![Note::new(480, 480 + 2 * STEP, 60, 90)]);
}

#[test]
fn delete_a_selected_note_then_undo_and_redo() {
    let notes = [Note::new(0, 240, 60, 90), Note::new(480, 240, 64, 90)];
    let mut f = start(one_track(&notes));
    f.click_at(f.pos(480 + 60, 64));
    assert_eq!(f.app().session.roll.editor.selection.len(), 1);
    f.key(Modifiers::NONE, egui::Key::Delete);
    f.sync();
    assert_eq!(f.notes(), vec![notes[0].clone()]);
    f.undo();
    assert_eq!(f.notes(), notes.to_vec());
    f.redo();
    assert_eq!(f.notes(), vec![notes[0].clone()]);
}

#[test]
fn quantise_a_selection() {
    let notes = [Note::new(130, 100, 60, 90), Note::new(250, 100, 62, 90), Note::new(1000, 100, 64, 90)];
    let mut f = start(one_track(&notes));
    // Select the first two with a rubber band (select tool), leave the third alone.
    f.click_label("Select");
    let from = f.pos(40, 66) - egui::vec2(0.0, 3.0);
    let to = f.pos(400, 58);
    f.drag(from, to);
    assert_eq!(f.app().session.roll.editor.selection.len(), 2, "rubber band selection");
    f.click_label("Quantise");
    f.sync();
    assert_eq!(f.notes(), vec![Note::new(120, 100, 60, 90), Note::new(240, 100, 62, 90), Note::new(1000, 100, 64, 90)]);
    f.undo();
    assert_eq!(f.notes(), notes.to_vec());
}

#[test]
fn keys_transpose_duplicate_and_paste() {
    let mut f = start(one_track(&[Note::new(0, 240, 60, 90)]));
    f.key(Modifiers::COMMAND, egui::Key::A);
    f.key(Modifiers::NONE, egui::Key::ArrowUp);
    f.sync();
    assert_eq!(f.notes(), vec![Note::new(0, 240, 61, 90)]);
    f.key(Modifiers::SHIFT, egui::Key::ArrowDown);
    f.sync();
    assert_eq!(f.notes(), vec![Note::new(0, 240, 49, 90)]);
    f.key(Modifiers::COMMAND, egui::Key::D);
    f.sync();
    assert_eq!(f.notes(), vec![Note::new(0, 240, 49, 90), Note::new(240, 240, 49, 90)]);
}

#[test]
fn velocity_lane_drag_scales_the_selection() {
    let mut f = start(one_track(&[Note::new(0, 240, 60, 100), Note::new(480, 240, 62, 50)]));
    f.key(Modifiers::COMMAND, egui::Key::A);
    let lane = f.app().session.roll.velocity_rect().unwrap();
    let x = f.pos(0, 60).x + 2.0;
    let top_of_bar = lane.bottom() - lane.height() * 100.0 / 127.0;
    // Drag the first bar down to half its height: both notes halve.
    let to_y = lane.bottom() - lane.height() * 50.0 / 127.0;
    f.drag(Pos2::new(x, top_of_bar), Pos2::new(x, to_y));
    f.sync();
    let velocities: Vec<u8> = f.notes().iter().map(|n| n.velocity).collect();
    assert_eq!(velocities, vec![50, 25]);
}

#[test]
fn mute_a_track() {
    let mut f = start(one_track(&[Note::new(0, 240, 60, 90)]));
    f.click_label("M");
    f.sync();
    assert!(f.app().session.song.tracks[0].muted);
    f.undo();
    assert!(!f.app().session.song.tracks[0].muted);
}

#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn corpus_file() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../assets/demo/bach_bwv7.7.mid")
}

#[test]
fn import_a_midi_file_through_the_open_dialog_and_by_dropping() {
    let expected = cadenza_engine::midi::read_song(&corpus_file()).unwrap();
    let mut f = start(one_track(&[]));
    f.path_dialog("Open…", &corpus_file(), "Open");
    f.settle(|app| app.session.song.tracks.len() == expected.tracks.len());
    assert_eq!(*f.app().session.song, expected);

    let mut g = start(one_track(&[]));
    g.harness.input_mut().dropped_files.push(Arc::new(Dropped(corpus_file())));
    g.settle(|app| app.session.song.tracks.len() == expected.tracks.len());
    assert_eq!(*g.app().session.song, expected);
}

#[test]
fn save_and_reopen_a_project_with_identical_content() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = start(one_track(&[Note::new(0, 240, 60, 90)]));
    f.click_at(f.pos(960 + 10, 67));
    f.sync();
    let edited = (*f.app().session.song).clone();
    assert_eq!(edited.note_count(), 2);
    let target = dir.path().join("My song");
    f.path_dialog("Save project as…", &target, "Save");
    f.settle(|app| !app.session.dirty && app.session.path.as_deref().is_some_and(|p| p.ends_with("My song.cadenza")));
    let saved = dir.path().join("My song.cadenza");
    assert!(saved.join(project::PROJECT_FILE).is_file());

    let mut g = start(one_track(&[]));
    g.path_dialog("Open…", &saved, "Open");
    g.settle(|app| app.session.song.note_count() == 2);
    assert_eq!(*g.app().session.song, edited);
}

#[test]
fn offers_to_restore_work_left_by_a_crash() {
    let state = tempfile::tempdir().unwrap();
    let lost = one_track(&[Note::new(0, 240, 60, 90), Note::new(240, 240, 62, 90)]);
    project::write_recovery(state.path(), &ProjectData::new(lost.clone(), Vec::new())).unwrap();
    let engine = Engine::spawn(config(state.path())).unwrap();
    engine.send(Command::SetSong(one_track(&[])));
    let dir = state.path().to_path_buf();
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(move |_| CadenzaApp::new(engine, dir));
    let deadline = Instant::now() + Duration::from_secs(10);
    while harness.query_by_label("Restore").is_none() {
        assert!(Instant::now() < deadline, "no restore offer");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.get_by_label("Restore").click();
    let deadline = Instant::now() + Duration::from_secs(10);
    while harness.state().session.song.note_count() != 2 {
        assert!(Instant::now() < deadline, "the work was not restored");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(*harness.state().session.song, lost);
    assert!(harness.state().session.dirty, "restored work is unsaved until saved");
}

#[test]
fn transport_plays_and_the_playhead_follows_the_audio_clock() {
    let mut f = start(one_track(&[Note::new(0, 480, 60, 90)]));
    let _ = &f.state;
    f.click_label("Play");
    f.settle(|app| app.session.engine.player().position_tick() > 0);
    assert!(f.app().session.engine.player().is_playing());
    f.click_label("Stop");
    f.settle(|app| !app.session.engine.player().is_playing() && app.session.engine.player().position_tick() == 0);
}

#[test]
fn dragging_a_volume_slider_is_one_undo_step() {
    let mut f = start(one_track(&[]));
    let slider = f.harness.get_by_label("vol").rect();
    let y = slider.center().y;
    f.drag(egui::pos2(slider.left() + 30.0, y), egui::pos2(slider.left() + 5.0, y));
    f.sync();
    let volume = f.app().session.song.tracks[0].volume;
    assert!(volume < 100, "the drag did not lower the volume ({volume})");
    // One undo restores the volume before the drag (waiting for the engine's answer, which
    // under load can take longer than `sync` gives it; an undo of a part of the drag would
    // never get there).
    f.click_label("Undo");
    f.settle(|app| app.session.song.tracks[0].volume == 100);
}

#[test]
fn cut_and_paste_at_the_playhead() {
    let mut f = start(one_track(&[Note::new(0, 240, 60, 90), Note::new(240, 240, 62, 90)]));
    f.key(Modifiers::COMMAND, egui::Key::A);
    f.key(Modifiers::COMMAND, egui::Key::X);
    f.sync();
    assert!(f.notes().is_empty());
    // Click the ruler at beat 3 to move the playhead there.
    let view = f.app().session.roll.viewport.unwrap();
    f.click_at(egui::pos2(view.x(960.0), view.ruler.center().y));
    f.settle(|app| app.session.engine.player().position_tick() == 960);
    f.key(Modifiers::COMMAND, egui::Key::V);
    f.sync();
    assert_eq!(f.notes(), vec![Note::new(960, 240, 60, 90), Note::new(1200, 240, 62, 90)]);
    assert_eq!(f.app().session.roll.editor.selection.len(), 2, "pasted notes are selected");
}

/// Three plucked tones (A3, C#4, E4 at 0.25, 1.0, 1.75 s) in a 3-s mono WAV at 22,050 Hz.
fn write_tones(path: &Path) {
    let rate = 22_050u32;
    let spec =
        hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(rate * 3) as usize {
        let t = i as f32 / rate as f32;
        let mut s = 0.0f32;
        for (pitch, start) in [(57u8, 0.25f32), (61, 1.0), (64, 1.75)] {
            if t >= start {
                let dt = t - start;
                let f = 440.0 * 2f32.powf((f32::from(pitch) - 69.0) / 12.0);
                let env = (-dt * 3.0).exp() * (dt / 0.005).min(1.0);
                s += (1..=5).map(|k| (dt * f * k as f32 * std::f32::consts::TAU).sin() / k as f32).sum::<f32>()
                    * env
                    * 0.2;
            }
        }
        w.write_sample((s.clamp(-1.0, 1.0) * 32_000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn a_dropped_audio_file_becomes_a_track_and_the_sliders_recreate_its_notes_without_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tones.wav");
    write_tones(&wav);
    let mut f = start(one_track(&[]));
    f.harness.input_mut().dropped_files.push(Arc::new(Dropped(wav)));
    f.settle_within(Duration::from_secs(120), |app| app.session.song.tracks.len() == 2);
    let track = &f.app().session.song.tracks[1];
    assert_eq!(track.name, "tones (transcribed)");
    let pitches: std::collections::BTreeSet<u8> = track.notes.iter().map(|n| n.pitch).collect();
    for pitch in [57, 61, 64] {
        assert!(pitches.contains(&pitch), "no {pitch} in {pitches:?}");
    }
    assert_eq!(f.app().session.selected_track, 1, "the new track is the one shown");
    // The posteriorgram is drawn under the roll.
    f.harness.get_by_label("Posteriorgram");
    let listened = Arc::clone(&f.app().transcription.transcript.as_ref().unwrap().listened);
    let before = track.notes.len();

    // Demanding a very high onset probability and no melodia pass leaves fewer notes; the
    // posteriorgrams are the same ones (no second model run).
    let mut sliders = f.app().transcription.transcript.as_ref().unwrap().sliders;
    sliders.onset_threshold = 0.95;
    sliders.melodia = false;
    let app = f.harness.state_mut();
    app.transcription.set_sliders(&mut app.session, sliders);
    f.settle(|app| app.session.song.tracks[1].notes.len() < before);
    let transcript = f.app().transcription.transcript.as_ref().unwrap();
    assert!(Arc::ptr_eq(&transcript.listened, &listened));
    assert!(f.app().session.jobs.values().all(|j| !j.label.starts_with("Listen")));

    // Snapping to a scale without C# moves that note; undo brings it back.
    let mut sliders = f.app().transcription.transcript.as_ref().unwrap().sliders;
    sliders.onset_threshold = 0.5;
    sliders.melodia = true;
    let app = f.harness.state_mut();
    app.transcription.set_sliders(&mut app.session, sliders);
    f.settle(|app| app.session.song.tracks[1].notes.len() == before);
    sliders.scale = Some(cadenza_engine::ml::transcription::Scale { root: 0, minor: false });
    let app = f.harness.state_mut();
    app.transcription.set_sliders(&mut app.session, sliders);
    f.settle(|app| app.session.song.tracks[1].notes.iter().all(|n| n.pitch != 61));
    f.sync();
    f.harness.state_mut().session.undo();
    f.settle(|app| app.session.song.tracks[1].notes.iter().any(|n| n.pitch == 61));
}

#[test]
fn notes_appear_in_the_roll_while_a_take_records_and_stay_as_a_track() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("played.wav");
    write_tones(&wav);
    let mut f = start(one_track(&[]));
    // The WAV file plays as the microphone, at real-time pace.
    f.harness.state_mut().studio.audio_input = Some(format!("file:{}", wav.display()));
    f.click_label("Rec audio");
    // A3 (the first note, at 0.25 s = tick 240) is shown while the take still records.
    let a3 = |notes: &[Note]| notes.iter().any(|n| n.pitch == 57 && n.start.abs_diff(240) <= 30);
    f.settle_within(Duration::from_secs(60), |app| {
        app.studio.recording.as_ref().is_some_and(|t| a3(&t.live.committed.notes))
    });
    let take = f.app().studio.recording.as_ref().unwrap();
    assert!(!take.meter.is_finished(), "A3 should show while the take still records");
    f.settle_within(Duration::from_secs(60), |app| {
        app.studio.recording.as_ref().is_some_and(|t| t.meter.is_finished())
    });
    f.click_label("Stop audio");
    f.settle_within(Duration::from_secs(60), |app| {
        app.session.song.tracks.len() == 2 && app.studio.recording.is_none()
    });
    let track = &f.app().session.song.tracks[1];
    assert_eq!(track.name, "take-001 (live)");
    assert_eq!(f.app().session.selected_track, 1, "the live track is the one shown");
    let found: Vec<(u64, u8)> = track.notes.iter().map(|n| (n.start, n.pitch)).collect();
    println!("live track: {found:?}");
    // Each played note at its onset (120 BPM: 960 ticks a second), within 30 ms.
    for (pitch, tick) in [(57u8, 240u64), (61, 960), (64, 1680)] {
        assert!(found.iter().any(|&(t, p)| p == pitch && t.abs_diff(tick) <= 29), "no {pitch} at {tick}: {found:?}");
    }
    // One undo step removes the live track.
    f.sync();
    f.harness.state_mut().session.undo();
    f.settle(|app| app.session.song.tracks.len() == 1);
}

/// Two contrasting 2-bar phrases: a C major scale up (bars 1–2), a high G arpeggio down in
/// dotted rhythm (bars 3–4).
fn two_phrases() -> Song {
    let q = u64::from(PPQ);
    let mut notes = Vec::new();
    for (i, pitch) in [60u8, 62, 64, 65, 67, 69, 71, 72].into_iter().enumerate() {
        notes.push(Note::new(i as u64 * q, q, pitch, 80));
    }
    for (i, pitch) in [91u8, 86, 83, 79, 74, 71].into_iter().enumerate() {
        let start = 8 * q + i as u64 * q * 3 / 2 - if i % 2 == 1 { q / 2 } else { 0 };
        notes.push(Note::new(start, q / 2, pitch, 100));
    }
    one_track(&notes)
}

#[test]
fn the_interpolate_panel_decodes_while_the_slider_moves_and_keeps_a_track() {
    use egui::accesskit::Role;
    let mut f = start(two_phrases());
    f.click_label("Interpolate");
    f.click_label("Set A");
    f.settle(|app| app.interpolate.clips[0].as_ref().is_some_and(|c| c.code.is_some()));
    // B: the bar of the playhead (bar 3).
    f.harness.state().session.engine.send(Command::Seek(8 * u64::from(PPQ)));
    f.settle(|app| app.session.engine.player().position_tick() == 8 * u64::from(PPQ));
    f.click_label("Set B");
    f.settle(|app| app.interpolate.clips[1].as_ref().is_some_and(|c| c.code.is_some()));
    assert_eq!(f.app().interpolate.clips[1].as_ref().unwrap().from, 8 * u64::from(PPQ));
    // The point halfway decodes as soon as both clips are in.
    f.settle(|app| app.interpolate.decoded.is_some());

    // Drag the A → B slider from one end to the other: every frame's point goes to the engine,
    // which decodes the newest and drops the stale ones.
    let slider = f.harness.get_by_role_and_label(Role::Slider, "A to B").rect();
    f.drag(slider.left_center() + egui::vec2(1.0, 0.0), slider.right_center() - egui::vec2(1.0, 0.0));
    f.settle(|app| app.interpolate.decoded.as_ref().is_some_and(|d| d.point.along > 0.99));
    let at_b = f.app().interpolate.decoded.clone().unwrap();
    f.drag(slider.right_center() - egui::vec2(1.0, 0.0), slider.left_center() + egui::vec2(1.0, 0.0));
    f.settle(|app| app.interpolate.decoded.as_ref().is_some_and(|d| d.point.along < 0.01));
    let at_a = f.app().interpolate.decoded.clone().unwrap();
    let panel = &f.app().interpolate;
    println!("{} moves sent, {} decoded; A: {:?}", panel.sent, panel.answered, at_a.notes);
    assert!(panel.answered <= panel.sent && panel.sent >= 3, "sent {} answered {}", panel.sent, panel.answered);
    assert!(!at_a.notes.is_empty() && !at_b.notes.is_empty());
    assert_ne!(at_a.notes, at_b.notes, "the two ends of the slider decode to the same melody");

    // Loop it with the song, then keep it as a track (one undo step).
    f.click_label("Loop with song");
    f.settle(|app| app.session.engine.player().is_playing());
    f.click_label("Loop with song");
    f.settle(|app| !app.session.engine.player().is_playing());
    f.click_label("Keep as track");
    f.settle(|app| app.session.song.tracks.len() == 2);
    let kept = &f.app().session.song.tracks[1];
    assert_eq!(kept.notes.len(), at_a.notes.len());
    assert_eq!(kept.notes[0].start, (at_a.notes[0].start * f64::from(PPQ)).round() as u64);
    assert_eq!(kept.name, "A-B 0%");
    f.sync();
    f.harness.state_mut().session.undo();
    f.settle(|app| app.session.song.tracks.len() == 1);
}

/// Two 16-bar tunes one after another: a stepwise tune in quavers and crotchets (bars 1–16),
/// then a leaping one in long notes an octave higher (bars 17–32).
fn two_tunes() -> Song {
    let q = u64::from(PPQ);
    let mut notes = Vec::new();
    let steps = [60u8, 62, 64, 65, 67, 65, 64, 62];
    for bar in 0..16u64 {
        for beat in 0..4u64 {
            let pitch = steps[((bar + beat) % 8) as usize] + if bar >= 8 { 2 } else { 0 };
            let start = (bar * 4 + beat) * q;
            if beat % 2 == 0 {
                notes.push(Note::new(start, q / 2, pitch, 80));
                notes.push(Note::new(start + q / 2, q / 2, pitch + 2, 80));
            } else {
                notes.push(Note::new(start, q, pitch, 80));
            }
        }
    }
    let leaps = [72u8, 79, 76, 84, 77, 81, 74, 79];
    for bar in 0..16u64 {
        let pitch = leaps[(bar % 8) as usize];
        notes.push(Note::new((64 + bar * 4) * q, 2 * q, pitch, 100));
        notes.push(Note::new((64 + bar * 4 + 2) * q, 2 * q, pitch - 5, 100));
    }
    one_track(&notes)
}

/// The 16-bar mode runs the conductor model: both tunes encode whole, the slider decodes
/// 16-bar melodies (notes past the second bar, which the 2-bar model never writes), and the
/// two ends differ.
#[test]
fn the_interpolate_panels_sixteen_bar_mode_decodes_whole_tunes() {
    use cadenza_engine::ml::latent::VaeSize;
    use egui::accesskit::Role;
    let q = u64::from(PPQ);
    let mut f = start(two_tunes());
    f.click_label("Interpolate");
    f.click_label("16 bars");
    assert_eq!(f.app().interpolate.size, VaeSize::SixteenBar);
    f.click_label("Set A");
    f.settle(|app| app.interpolate.clips[0].as_ref().is_some_and(|c| c.code.is_some()));
    let a = f.app().interpolate.clips[0].clone().unwrap();
    assert_eq!((a.from, a.to), (0, 64 * q), "clip A is the first 16 bars");
    f.harness.state().session.engine.send(Command::Seek(64 * q));
    f.settle(|app| app.session.engine.player().position_tick() == 64 * q);
    f.click_label("Set B");
    f.settle(|app| app.interpolate.clips[1].as_ref().is_some_and(|c| c.code.is_some()));
    assert_eq!(f.app().interpolate.clips[1].as_ref().unwrap().from, 64 * q);
    let slider = f.harness.get_by_role_and_label(Role::Slider, "A to B").rect();
    f.drag(slider.right_center() - egui::vec2(1.0, 0.0), slider.left_center() + egui::vec2(1.0, 0.0));
    f.settle(|app| app.interpolate.decoded.as_ref().is_some_and(|d| d.point.along < 0.01));
    let at_a = f.app().interpolate.decoded.clone().unwrap();
    f.drag(slider.left_center() + egui::vec2(1.0, 0.0), slider.right_center() - egui::vec2(1.0, 0.0));
    f.settle(|app| app.interpolate.decoded.as_ref().is_some_and(|d| d.point.along > 0.99));
    let at_b = f.app().interpolate.decoded.clone().unwrap();
    let last_end = |notes: &[cadenza_engine::ml::latent::TimedNote]| notes.iter().map(|n| n.end).fold(0.0, f64::max);
    println!(
        "A: {} notes to quarter {:.1}, B: {} notes to quarter {:.1}; decode {:.1} ms",
        at_a.notes.len(),
        last_end(&at_a.notes),
        at_b.notes.len(),
        last_end(&at_b.notes),
        at_b.milliseconds
    );
    assert!(last_end(&at_a.notes) > 48.0 && last_end(&at_b.notes) > 48.0, "the decoded tunes end before bar 13");
    assert!(at_a.notes.len() > 30, "A decoded to {} notes", at_a.notes.len());
    assert_ne!(at_a.notes, at_b.notes);
    // B's long leaping notes are higher on average than A's stepwise line, as in the song.
    let mean = |notes: &[cadenza_engine::ml::latent::TimedNote]| {
        notes.iter().map(|n| f64::from(n.pitch)).sum::<f64>() / notes.len().max(1) as f64
    };
    assert!(mean(&at_b.notes) > mean(&at_a.notes) + 6.0, "A {:.1} B {:.1}", mean(&at_a.notes), mean(&at_b.notes));
}

#[test]
fn the_continue_panel_streams_a_continuation_flips_variations_and_keeps_one_undo_step() {
    let mut f = start(two_phrases());
    f.click_label("Continue");
    assert!(f.app().continuation.open);
    // No selection and the playhead at the start: the whole song is the prompt.
    let request = f.app().continuation.request(&f.app().session);
    assert_eq!((request.from, request.to), (0, 16 * u64::from(PPQ)));
    f.click_label("Generate");
    assert!(f.app().continuation.running.is_some());
    f.settle_within(Duration::from_secs(60), |app| app.continuation.results.is_some());
    let panel = &f.app().continuation;
    let (variations, _) = panel.results.clone().unwrap();
    assert_eq!(variations.len(), 3);
    let streamed: usize = panel.streamed.iter().map(|t| t.notes.len()).sum();
    let finished: usize = variations.iter().flatten().map(|t| t.notes.len()).sum();
    assert_eq!(streamed, finished, "every generated note was streamed to the window");
    // The ghost notes in the roll are the shown variation's, after the prompt.
    let ghost: Vec<&Note> = panel.ghost().iter().flat_map(|t| &t.notes).collect();
    assert!(!ghost.is_empty(), "ghost notes");
    assert!(ghost.iter().all(|n| n.start >= 16 * u64::from(PPQ)));
    f.click_label(">");
    assert_eq!(f.app().continuation.shown, 1);
    // Heard with the song in a loop (every instrument's track), then stopped.
    f.click_label("Loop with song");
    f.settle(|app| app.session.engine.player().is_playing());
    f.click_label("Loop with song");
    f.settle(|app| !app.session.engine.player().is_playing());
    let kept: Vec<Track> = variations[1].clone();
    f.click_label("Keep");
    f.settle(|app| app.session.song.tracks.len() == 1 + kept.len());
    assert_eq!(f.app().session.song.tracks[1..], kept[..]);
    f.sync();
    f.harness.state_mut().session.undo();
    f.settle(|app| app.session.song.tracks.len() == 1);
}

/// "Match the prompt" asks the model which style the music is in: a Bach chorale is heard as
/// bach (the panel starts at traditional), and an empty song says there is nothing to judge.
#[test]
fn match_the_prompt_sets_the_style_the_model_hears() {
    use cadenza_engine::ml::continuation::STYLES;
    let chorale = cadenza_engine::midi::read_song(&corpus_file()).unwrap();
    let mut f = start(chorale);
    f.click_label("Continue");
    assert_eq!(STYLES[f.app().continuation.style], "traditional");
    f.click_label("Match the prompt");
    assert!(f.app().continuation.matching.is_some());
    f.settle_within(Duration::from_secs(30), |app| app.continuation.matching.is_none());
    assert_eq!(STYLES[f.app().continuation.style], "bach", "{}", f.app().continuation.status);
    assert!(f.app().continuation.status.contains("sounds most like bach"));

    let mut empty = start(one_track(&[]));
    empty.click_label("Continue");
    empty.click_label("Match the prompt");
    empty.settle_within(Duration::from_secs(30), |app| app.continuation.matching.is_none());
    assert_eq!(STYLES[empty.app().continuation.style], "traditional");
    assert!(empty.app().continuation.status.contains("no notes"), "{}", empty.app().continuation.status);
}

/// A job's ending goes to the panel that submitted it, by its id: a failed transcription ends
/// only the transcription panel's wait (with a notice), and a cancelled continuation stops only
/// the Continue panel.
#[test]
fn a_job_ending_reaches_only_the_panel_that_asked_for_it() {
    let mut f = start(two_phrases());
    f.click_label("Continue");
    // The panel's largest request, so it is still generating when the other job fails.
    f.harness.state_mut().continuation.bars = 32;
    f.harness.state_mut().continuation.variations = 8;
    f.click_label("Generate");
    let (generating, _) = f.app().continuation.running.clone().expect("generating");
    f.harness.state_mut().transcribe_audio(Path::new("/nonexistent/cadenza/take.wav"), 0.0);
    assert!(f.app().transcription.listening.is_some());
    f.settle_within(Duration::from_secs(30), |app| app.transcription.listening.is_none());
    assert!(f.app().session.notices.iter().any(|n| n.contains("failed")), "{:?}", f.app().session.notices);
    assert!(f.app().transcription.transcript.is_none());
    assert_eq!(
        f.app().continuation.running.as_ref().map(|(id, _)| *id),
        Some(generating),
        "the Continue panel took another panel's job ending as its own"
    );
    f.app().session.engine.cancel(generating);
    f.settle_within(Duration::from_secs(30), |app| app.continuation.running.is_none());
    assert_eq!(f.app().continuation.status, "stopped");
    assert!(f.app().continuation.results.is_none());
}

/// Devices ▸ ML backend: a `cadenza serve` on loopback is typed in and used (the status line
/// says so), an address that does not parse cannot be sent, a port nobody answers falls back
/// to the CPU with the reason, and CPU switches back.
#[test]
fn devices_ml_backend_uses_a_server_and_falls_back_to_the_cpu_when_none_answers() {
    use cadenza_models::remote::BoundServer;
    let server = BoundServer::bind("127.0.0.1:0").unwrap();
    let served = server.local_address().unwrap();
    std::thread::spawn(move || server.serve(cadenza_models::Device::flex(), None));
    // A port that was free a moment ago: nobody answers there.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();

    let mut f = start(one_track(&[Note::new(0, STEP, 60, 100)]));
    let use_address = |f: &mut Fixture, address: &str| {
        f.click_label("Devices");
        // A field that has just appeared (in a menu that opened this frame) can miss its first
        // focus under load, and the menu can close: open it and type again until the field
        // holds the address.
        for _ in 0..5 {
            let current = f.app().studio.server_address.clone();
            let field = || egui_kittest::kittest::by().role(egui::accesskit::Role::TextInput).value(&current);
            if f.harness.query(field()).is_none() {
                f.click_label("Devices");
            }
            f.harness.get(field()).focus();
            f.harness.step();
            f.harness.step();
            f.key(Modifiers::COMMAND, egui::Key::A);
            f.harness.get(field()).type_text(address);
            f.harness.step();
            f.harness.step();
            if f.app().studio.server_address == address {
                break;
            }
        }
        assert_eq!(f.app().studio.server_address, address);
    };

    use_address(&mut f, &served.to_string());
    f.click_label("Use server");
    assert_eq!(f.app().studio.backend_kind, "connecting…");
    f.settle_within(Duration::from_secs(30), |app| app.studio.backend_kind != "connecting…");
    assert_eq!(f.app().studio.backend_kind, "remote server", "{}", f.app().studio.backend);
    assert!(f.app().studio.backend.contains(&served.to_string()), "{}", f.app().studio.backend);

    f.key(Modifiers::NONE, egui::Key::Escape);
    use_address(&mut f, "not a server");
    assert!(
        f.harness.get_by_label("Use server").accesskit_node().is_disabled(),
        "an address that does not parse was offered"
    );

    f.key(Modifiers::NONE, egui::Key::Escape);
    use_address(&mut f, &silent.to_string());
    f.click_label("Use server");
    f.settle_within(Duration::from_secs(30), |app| app.studio.backend_kind != "connecting…");
    assert_eq!(f.app().studio.backend_kind, "CPU (Flex)");
    assert!(f.app().studio.backend.contains("running models on the CPU"), "{}", f.app().studio.backend);

    f.key(Modifiers::NONE, egui::Key::Escape);
    f.click_label("Devices");
    f.click_label("CPU");
    f.settle(|app| app.studio.backend == "CPU requested");
}

/// The roll shades the keys the edited track's instrument cannot play and says why when the
/// pointer rests on one (the roll's hover text): B5 is above a cello's A5; an empty row inside
/// the range, or any row of a drum track, says nothing.
#[test]
fn the_roll_marks_keys_outside_the_instruments_range() {
    use super::roll::RollInput;
    use super::roll::draw::hover_text;
    let mut song = one_track(&[Note::new(0, STEP, 60, 100)]);
    song.tracks[0].program = 42;
    let f = start(song);
    let hover = |song: &Song, pitch: u8| {
        let input =
            RollInput { song, track: 0, playhead: 0, playing: false, loop_ticks: None, live: None, continuation: &[] };
        let view = f.app().session.roll.viewport.expect("the roll was drawn");
        hover_text(&view, &input, f.pos(4 * STEP, pitch))
    };
    let song = f.app().session.song.clone();
    assert_eq!(hover(&song, 83).as_deref(), Some("B5 · above the range of Cello (C2–A5)"));
    assert_eq!(hover(&song, 70), None);
    let mut drums = (*song).clone();
    drums.tracks[0].is_drum = true;
    assert_eq!(hover(&drums, 83), None);
}
