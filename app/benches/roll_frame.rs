//! One frame of the piano roll, headless, on a 50,000-note song: layout, drawing and
//! tessellation (what the CPU does before the GPU draws), at three zooms. Prints a table.
//! Goal (issue 3): ≤ 8 ms per frame on the project's 2-core box.
//!
//! `cargo bench -p cadenza --bench roll_frame`

use std::time::{Duration, Instant};

use cadenza::gui::roll::{RollInput, RollView};
use cadenza_engine::song::{Note, Song, Track};
use eframe::egui;

const NOTES: usize = 50_000;
const TRACKS: usize = 8;
const FRAMES: usize = 60;

/// A dense song: eight tracks of running notes over ~40 minutes at 120 BPM, as a long
/// orchestral or transcribed piece would be (deterministic pseudo-random pitches).
fn big_song() -> Song {
    let mut song = Song::new(480);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for t in 0..TRACKS {
        let mut track = Track::new(format!("Track {t}"), (t * 8) as u8, t as u8);
        let mut tick = 0u64;
        for _ in 0..NOTES / TRACKS {
            let pitch = 36 + (next() % 60) as u8;
            let length = 120 * (1 + next() % 4);
            track.notes.push(Note::new(tick, length, pitch, 40 + (next() % 80) as u8));
            tick += 120 * (next() % 3);
        }
        track.sort_notes();
        song.tracks.push(track);
    }
    song
}

fn raw_input(frame: usize) -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0))),
        // The pointer moves over the roll each frame, as it does while editing.
        events: vec![egui::Event::PointerMoved(egui::pos2(400.0 + (frame % 300) as f32, 300.0))],
        ..Default::default()
    }
}

fn measure(song: &Song, view: &mut RollView) -> (Duration, Duration, usize) {
    let ctx = egui::Context::default();
    let input = RollInput {
        song,
        track: 0,
        playhead: 0,
        playing: false,
        loop_ticks: Some((0, 1920 * 4)),
        live: None,
        continuation: &[],
    };
    let mut times = Vec::with_capacity(FRAMES);
    let mut primitives = 0;
    for frame in 0..FRAMES + 5 {
        let started = Instant::now();
        let output = ctx.run_ui(raw_input(frame), |ui| {
            egui::CentralPanel::default().show(ui, |ui| {
                view.show(ui, &input);
            });
        });
        let clipped = ctx.tessellate(output.shapes, output.pixels_per_point);
        let elapsed = started.elapsed();
        primitives = clipped.len();
        if frame >= 5 {
            times.push(elapsed); // the first frames build font atlases
        }
    }
    times.sort();
    (times[times.len() / 2], times[times.len() * 9 / 10], primitives)
}

fn main() {
    let song = big_song();
    assert_eq!(song.note_count(), NOTES);
    println!(
        "piano roll frame, {} notes in {} tracks, {FRAMES} frames each (layout + draw + tessellate)",
        NOTES, TRACKS
    );
    println!("{:<34} {:>10} {:>10} {:>11} {:>8}", "view", "median ms", "p90 ms", "primitives", "goal");
    let cases: [(&str, Option<f32>); 3] = [
        ("8 bars (80 px per quarter)", Some(80.0)),
        ("64 bars (10 px per quarter)", Some(10.0)),
        ("whole song (fit)", None),
    ];
    for (name, zoom) in cases {
        let mut view = RollView::default();
        match zoom {
            Some(px) => view.set_zoom(px, song.ppq, 10.0, 96.0),
            None => view.fit(&song),
        }
        let (median, p90, primitives) = measure(&song, &mut view);
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let verdict = if ms(median) <= 8.0 { "≤ 8 ms" } else { "MISSED" };
        println!("{name:<34} {:>10.2} {:>10.2} {primitives:>11} {verdict:>8}", ms(median), ms(p90));
    }
}
