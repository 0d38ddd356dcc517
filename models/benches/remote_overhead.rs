#![allow(clippy::expect_used)] // a benchmark: failing loudly is the point

//! What Burn's remote backend costs on loopback, next to the local Burn CPU path (Flex), in one
//! run: one tiny operation's round trip, a Basic Pitch window through the Burn module, a 2-bar
//! MusicVAE decode through Burn ops, and continuation tokens. The server runs in this process
//! on its own thread (as `cadenza serve` would), on Flex, so the ratio is the transport's cost
//! alone; a real server adds the network and wins it back only where its device is faster.
//!
//!   cargo bench --profile dev -p cadenza-models --bench remote_overhead

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use cadenza_models::basic_pitch::{BasicPitch, WINDOW_SAMPLES};
use cadenza_models::continuation::codec::{GridNote, Header};
use cadenza_models::continuation::generate::{GenerationOptions, Prompt, continue_prompt};
use cadenza_models::continuation::vocab::{Instrument, style_index};
use cadenza_models::remote::{BoundServer, CONNECT_TIMEOUT, RemoteAddress, connect};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn median(run: &mut dyn FnMut(), runs: usize) -> f64 {
    let mut times: Vec<f64> = (0..runs + 2)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .skip(2)
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Milliseconds per operation for each measure, on `device`.
fn measure(device: &Device) -> Vec<(&'static str, f64)> {
    let tiny = median(
        &mut || {
            let x = Tensor::<1>::from_floats([1.0], device) + 1.0;
            std::hint::black_box(x.into_scalar::<f32>());
        },
        50,
    );
    let model = BasicPitch::shipped(device).expect("the shipped Basic Pitch weights");
    let audio: Vec<f32> =
        (0..WINDOW_SAMPLES).map(|i| 0.2 * (i as f32 * 440.0 / 22_050.0 * std::f32::consts::TAU).sin()).collect();
    let window = median(
        &mut || {
            let input = Tensor::<2>::from_data(TensorData::new(audio.clone(), [1, WINDOW_SAMPLES]), device);
            std::hint::black_box(model.forward(input).note.into_data());
        },
        10,
    );
    let vae = cadenza_models::vae::shipped::two_bar(device).expect("the shipped 2-bar model");
    let decoder = vae.model().expect("a whole 2-bar MusicVAE");
    let z = vae.prior_codes(1, 3).remove(0);
    let decode = median(
        &mut || {
            let z = Tensor::<2>::from_data(TensorData::new(z.clone(), [1, z.len()]), device);
            std::hint::black_box(decoder.decode(z, 0.0, &mut StdRng::seed_from_u64(0)));
        },
        10,
    );
    let continuation = cadenza_models::continuation::shipped::model(device).expect("the shipped continuation model");
    let instrument = Instrument::of_program(0);
    let notes: Vec<GridNote> = (0..8u32)
        .map(|i| GridNote {
            start: i * 12,
            duration: 12,
            pitch: 60 + [0, 2, 4, 5, 7, 9, 11, 12][i as usize],
            velocity: 80,
            instrument,
        })
        .collect();
    let header = Header::new(style_index("bach").unwrap_or(1), notes.iter().map(|n| n.instrument));
    let prompt = Prompt { header, notes, bar_ticks: 48, bars: 2 };
    let options = GenerationOptions { bars: 1, seed: 1, style_guidance: 0.0, ..GenerationOptions::default() };
    let cancel = AtomicBool::new(false);
    let generated = continue_prompt(&continuation, &prompt, &options, device, &cancel, |_| {}).expect("generation");
    let token = generated.seconds * 1000.0 / generated.tokens.max(1) as f64;
    vec![
        ("one tiny op and its result (round trip)", tiny),
        ("Basic Pitch window, Burn module", window),
        ("2-bar MusicVAE decode, Burn ops", decode),
        ("continuation, per token with the cache", token),
    ]
}

fn main() {
    let server = BoundServer::bind("127.0.0.1:0").expect("a loopback port");
    let address = server.local_address().expect("the bound address");
    std::thread::spawn(move || server.serve(Device::flex(), None));
    let remote = RemoteAddress::parse(&format!("remote://{address}")).expect("an address");
    let remote = connect(&remote, CONNECT_TIMEOUT).expect("the loopback server");

    let local = measure(&Device::flex());
    let over = measure(&remote);
    println!("Burn's remote backend on loopback ({address}, server on Flex) against local Flex, median ms");
    println!("| operation | local ms | remote ms | remote / local |");
    println!("|---|---|---|---|");
    for ((name, l), (_, r)) in local.iter().zip(&over) {
        println!("| {name} | {l:.2} | {r:.2} | {:.1} |", r / l);
    }
}
