#![allow(clippy::expect_used)] // a benchmark: failing loudly is the point

//! How long one slider move takes with the shipped melody models: decoding one latent point
//! (what the Interpolate tab runs per move) and encoding one clip, on the CPU, p50 and p95 over
//! 200 runs, with the plain-Rust decoder the app uses and, for comparison, the same decode
//! through Burn's tensor operations. Goals (issues 5 and 20): decode p95 ≤ 5 ms (2 bars) and ≤ 30 ms
//! (16 bars: the conductor, then eight 2-bar segments). Also prints the
//! training throughput recorded in each model's training.json.
//!
//!   cargo bench --profile dev -p cadenza-models --bench musicvae_decode

use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use cadenza_models::vae::latent::lerp;
use cadenza_models::vae::melody::{Melody, TimedNote};
use cadenza_models::vae::shipped;
use rand::SeedableRng;
use rand::rngs::StdRng;

const RUNS: usize = 200;

fn percentiles(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

fn time(run: &mut dyn FnMut()) -> (f64, f64) {
    for _ in 0..5 {
        run();
    }
    let times = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    percentiles(times)
}

fn main() {
    let device = Device::flex();
    println!("| model | operation | p50 ms | p95 ms | goal p95 ms | p95 / goal |");
    println!("|---|---|---|---|---|---|");
    let two = shipped::two_bar(&device).expect("the shipped 2-bar model");
    let sixteen = shipped::sixteen_bar(&device).expect("the shipped 16-bar model");
    for (name, vae, goal, training) in [
        ("2-bar", &two, 5.0, include_str!("../../assets/models/musicvae/mel_2bar/training.json")),
        ("16-bar", &sixteen, 30.0, include_str!("../../assets/models/musicvae/mel_16bar/training.json")),
    ] {
        // A scale, as a clip the user picked.
        let notes: Vec<TimedNote> = (0..vae.bars() * 4)
            .map(|i| TimedNote { pitch: 60 + (i % 8) as u8, start: i as f64, end: i as f64 + 0.9, velocity: 90 })
            .collect();
        let melody: Melody = vae.prepare(&notes).expect("notes").melody;
        let a = vae.encode(&[&melody]).remove(0);
        let b = vae.prior_codes(1, 3).remove(0);
        let mut t = 0.0f32;
        let (p50, p95) = time(&mut || {
            t = (t + 0.013) % 1.0;
            let z = lerp(&a, &b, t);
            std::hint::black_box(vae.decode(&[z], 0.0, 0));
        });
        println!("| {name} | decode one point | {p50:.2} | {p95:.2} | {goal:.0} | {:.2} |", p95 / goal);
        // The same decode through Burn's tensor operations (the reference the CPU decoder
        // matches): the whole model's decoder, or the conductor then the 2-bar decoder.
        let (p50, p95) = time(&mut || {
            t = (t + 0.013) % 1.0;
            let z = Tensor::<2>::from_data(TensorData::new(lerp(&a, &b, t), [1, a.len()]), &device);
            let mut rng = StdRng::seed_from_u64(0);
            match (vae.model(), vae.conductor()) {
                (Some(model), _) => std::hint::black_box(model.decode(z, 0.0, &mut rng)),
                (None, Some((segment, conductor))) => {
                    let codes = conductor.conduct(z);
                    let [_, segments, latent] = codes.dims();
                    let two_bar = segment.model().expect("a 2-bar MusicVAE");
                    std::hint::black_box(two_bar.decode(codes.reshape([segments, latent]), 0.0, &mut rng))
                }
                (None, None) => unreachable!("a melody model is one or the other"),
            };
        });
        println!("| {name} | decode one point, Burn ops | {p50:.2} | {p95:.2} | {goal:.0} | {:.2} |", p95 / goal);
        let (p50, p95) = time(&mut || {
            std::hint::black_box(vae.encode(&[&melody]));
        });
        println!("| {name} | encode one clip | {p50:.2} | {p95:.2} | - | - |");
        let state: serde_json::Value = serde_json::from_str(training).expect("training.json");
        println!(
            "| {name} | training | {:.0} windows/s | {} steps in {:.1} min | - | - |",
            state["windows_per_second"].as_f64().unwrap_or(0.0),
            state["step"],
            state["seconds"].as_f64().unwrap_or(0.0) / 60.0
        );
    }
}
