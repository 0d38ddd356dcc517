#![allow(clippy::expect_used)] // a benchmark: failing loudly is the point

//! Basic Pitch model time per 2-second window on the CPU (Cadenza's kernels, and the Burn
//! module on Flex for reference), next to
//! single-threaded onnxruntime on the same window (scripts/basic_pitch/bench_ort.py, run in the same
//! invocation when CADENZA_BP_PYTHON names a Python with scripts/basic_pitch/requirements.txt).
//! Prints a table with the ratio. Goal (issue 4): Cadenza ≤ 0.5 × onnxruntime.
//!
//!   CADENZA_BP_PYTHON=/path/to/venv/bin/python cargo bench -p cadenza-models --bench basic_pitch_window

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use cadenza_models::basic_pitch::{BasicPitch, WINDOW_SAMPLES};

/// Runs timed after two warm-ups; the median is reported (this kind of machine is noisy).
const RUNS: usize = 30;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let device = Device::flex();
    let model = BasicPitch::from_record_file(&root.join("../assets/models/basic_pitch/nmp_icassp2022.bpk"), &device)
        .expect("the shipped Basic Pitch record");
    // A deterministic signal: a chord with noise.
    let audio: Vec<f32> = (0..WINDOW_SAMPLES)
        .map(|i| {
            let t = i as f32 / 22_050.0;
            0.2 * (t * 440.0 * std::f32::consts::TAU).sin() + 0.1 * (t * 659.3 * std::f32::consts::TAU).sin()
        })
        .collect();
    let median = |run: &mut dyn FnMut()| {
        let mut times = Vec::new();
        for i in 0..RUNS + 2 {
            let started = Instant::now();
            run();
            if i >= 2 {
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let burn_flex = median(&mut || {
        let input = Tensor::<2>::from_data(TensorData::new(audio.clone(), [1, WINDOW_SAMPLES]), &device);
        let out = model.forward(input);
        let _ = out.note.into_data(); // wait for the result
    });
    let cpu = model.cpu();
    let cadenza_all = median(&mut || {
        std::hint::black_box(cpu.forward(&audio));
    });
    // A file's windows: only the frames stitching keeps are computed.
    let cadenza = median(&mut || {
        std::hint::black_box(cpu.forward_frames(&audio, cadenza_models::basic_pitch::stitch::KEPT));
    });
    let ort = std::env::var("CADENZA_BP_PYTHON").ok().and_then(|python| {
        let output =
            std::process::Command::new(python).arg(root.join("../scripts/basic_pitch/bench_ort.py")).output().ok()?;
        String::from_utf8_lossy(&output.stdout).trim().lines().last()?.parse::<f64>().ok()
    });
    println!("Basic Pitch, one 2-s window (43,844 samples), median of {RUNS}");
    println!("{:<40} {:>10}", "runtime", "ms/window");
    println!("{:<40} {:>10.1}", "Cadenza CPU kernels, 142 kept frames", cadenza);
    println!("{:<40} {:>10.1}", "Cadenza CPU kernels, all 172 frames", cadenza_all);
    println!("{:<40} {:>10.1}", "Burn module on Flex (reference)", burn_flex);
    match ort {
        Some(ms) => {
            println!("{:<40} {:>10.1}", "onnxruntime 1 thread, all 172 frames", ms);
            println!(
                "ratio Cadenza / onnxruntime: {:.2} as run on a file, {:.2} frame for frame (goal <= 0.5)",
                cadenza / ms,
                cadenza_all / ms
            );
        }
        None => println!("(set CADENZA_BP_PYTHON to time onnxruntime in the same run)"),
    }
}
