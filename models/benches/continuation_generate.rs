#![allow(clippy::expect_used)] // a benchmark: failing loudly is the point

//! Generation speed of the shipped continuation model on the CPU: tokens per second and the
//! time to the first note, with the key/value cache (what the app runs) and without it (every
//! token re-reads the whole window). Goals (issue 6): ≥ 300 tokens/s, first note ≤ 200 ms.
//!
//!   cargo bench --profile dev -p cadenza-models --bench continuation_generate

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use burn::tensor::{Device, Int, Tensor, TensorData};
use cadenza_models::continuation::codec::{GridNote, Header, encode_events, to_ticks};
use cadenza_models::continuation::generate::{GenerationOptions, Prompt, continue_prompt};
use cadenza_models::continuation::vocab::{Instrument, VOCAB_SIZE, style_index};
use cadenza_models::continuation::{Token, shipped};
use cadenza_models::data::read_parts;

const RUNS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let device = Device::flex();
    let model = shipped::model(&device).expect("the shipped model");
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/bach_bwv7.7.mid")).expect("demo");
    // The chorale's first two bars, as the prompt.
    let mut notes = Vec::new();
    for part in read_parts(&bytes).expect("midi") {
        let instrument = Instrument::of_program(part.program);
        for n in part.notes.iter().filter(|n| n.start < 8.0) {
            let start = to_ticks(n.start);
            let duration = to_ticks(n.end).saturating_sub(start).max(1);
            notes.push(GridNote { start, duration, pitch: n.pitch, velocity: n.velocity, instrument });
        }
    }
    let header = Header::new(style_index("bach").unwrap_or(1), notes.iter().map(|n| n.instrument));
    let prompt = Prompt { header, notes, bar_ticks: 48, bars: 2 };
    let cancel = AtomicBool::new(false);

    // With the default style strength (two passes a token) and without it (one).
    let run = |style_guidance: f32| {
        let (mut rates, mut firsts) = (Vec::new(), Vec::new());
        for seed in 0..RUNS as u64 {
            let options = GenerationOptions { bars: 8, seed, style_guidance, ..GenerationOptions::default() };
            let generated = continue_prompt(&model, &prompt, &options, &device, &cancel, |_| {}).expect("generation");
            rates.push(generated.tokens as f64 / generated.seconds);
            firsts.push(generated.first_note_seconds.unwrap_or(f64::NAN) * 1e3);
        }
        (median(rates), median(firsts))
    };
    let strength = GenerationOptions::default().style_guidance;
    let (cached, first) = run(strength);
    let (plain, plain_first) = run(0.0);

    // Without the cache: each token runs the whole window again (from the same prompt).
    let mut window: Vec<u32> = prompt.header.tokens().iter().map(|t| t.id()).collect();
    window.extend(encode_events(&prompt.notes, prompt.bar_ticks).iter().map(|t| t.id()));
    window.truncate(model.context - 64);
    let started = Instant::now();
    let tokens = 64;
    for _ in 0..tokens {
        let ids: Vec<i64> = window.iter().map(|&i| i64::from(i)).collect();
        let n = ids.len();
        let logits = model.forward(Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), &device));
        let last: Vec<f32> = logits.narrow(1, n - 1, 1).into_data().convert::<f32>().try_into_vec().expect("logits");
        let next = last.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(Token::Bar.id(), |(i, _)| i as u32);
        window.push(next.min(VOCAB_SIZE as u32 - 1));
    }
    let uncached = tokens as f64 / started.elapsed().as_secs_f64();

    println!("| measure | value | goal | value / goal |");
    println!("|---|---|---|---|");
    println!(
        "| tokens/s with the cache, style strength {strength} (median of {RUNS} 8-bar continuations) | {cached:.0} | 300 | {:.2} |",
        cached / 300.0
    );
    println!("| first note after (ms, median), style strength {strength} | {first:.0} | 200 | {:.2} |", first / 200.0);
    println!("| tokens/s with the cache, style strength 0 | {plain:.0} | 300 | {:.2} |", plain / 300.0);
    println!(
        "| first note after (ms, median), style strength 0 | {plain_first:.0} | 200 | {:.2} |",
        plain_first / 200.0
    );
    println!(
        "| tokens/s without the cache, style strength 0 (64 tokens after the prompt) | {uncached:.0} | - | cache speed-up {:.1}x |",
        plain / uncached
    );
}
