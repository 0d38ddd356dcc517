//! Whether the window stays responsive while the continuation model runs: frame times of the
//! real app (headless, through egui_kittest) on the demo chorale, idle and while a 32-bar,
//! eight-variation continuation generates on the engine thread and streams into the roll.
//! Prints a table; the generating frames are compared with the idle ones as a ratio.
//!
//! `cargo bench -p cadenza --bench continue_frames`

use std::path::Path;
use std::time::{Duration, Instant};

use cadenza::gui::CadenzaApp;
use cadenza_engine::midi::read_song;
use cadenza_engine::{Command, Engine, EngineConfig};
use egui_kittest::Harness;

const IDLE_FRAMES: usize = 120;

fn quantiles(mut times: Vec<Duration>) -> (f64, f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| ms(times[((times.len() - 1) as f64 * q) as usize]);
    (at(0.5), at(0.95), at(1.0))
}

fn main() -> anyhow::Result<()> {
    let state = tempfile::tempdir()?;
    let engine = Engine::spawn(EngineConfig::silent(state.path().to_path_buf()))?;
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo/bach_bwv7.7.mid");
    engine.send(Command::SetSong(read_song(&demo)?));
    let dir = state.path().to_path_buf();
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(move |_| CadenzaApp::new(engine, dir));
    let deadline = Instant::now() + Duration::from_secs(20);
    while harness.state().session.song.tracks.is_empty() && Instant::now() < deadline {
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.state_mut().continuation.open = true;
    // The panel's largest request, so the model runs for seconds.
    harness.state_mut().continuation.bars = 32;
    harness.state_mut().continuation.variations = 8;
    let frame = |harness: &mut Harness<'_, CadenzaApp>| {
        let started = Instant::now();
        harness.step();
        started.elapsed()
    };
    for _ in 0..10 {
        frame(&mut harness); // fonts and layout caches
    }
    let idle: Vec<Duration> = (0..IDLE_FRAMES).map(|_| frame(&mut harness)).collect();

    let app = harness.state_mut();
    app.continuation.generate(&mut app.session);
    let started = Instant::now();
    let mut generating = Vec::new();
    while harness.state().continuation.running.is_some() && started.elapsed() < Duration::from_secs(120) {
        generating.push(frame(&mut harness));
    }
    let took = started.elapsed().as_secs_f64();
    let notes: usize = harness.state().continuation.streamed.iter().map(|t| t.notes.len()).sum();

    println!(
        "window frames on the demo chorale with the Continue panel open (the app's whole update and layout, no GPU)"
    );
    println!("{:<44} {:>7} {:>10} {:>8} {:>8}", "", "frames", "median ms", "p95 ms", "max ms");
    let (i50, i95, imax) = quantiles(idle);
    println!("{:<44} {:>7} {i50:>10.2} {i95:>8.2} {imax:>8.2}", "idle", IDLE_FRAMES);
    let count = generating.len();
    let (g50, g95, gmax) = quantiles(generating);
    println!("{:<44} {count:>7} {g50:>10.2} {g95:>8.2} {gmax:>8.2}", "while generating (32 bars x 8 variations)");
    println!("generating / idle: median {:.2}, p95 {:.2}", g50 / i50.max(1e-9), g95 / i95.max(1e-9));
    println!(
        "the continuation took {took:.1} s and streamed {notes} notes into the roll; goal: p95 under 16.7 ms (60 fps)"
    );
    Ok(())
}
