#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: failing loudly is the point

//! Live transcription played at real-time pace: a feeder thread hands 512-sample blocks over a
//! channel as a sound card would, the transcriber thread (as the engine's) drains what has
//! arrived and pushes it. Prints, per look-ahead setting: latency from each true onset to the
//! note first appearing (median and 90th percentile, notes from C3 up), the process
//! CPU use (all threads), and onset F1 of the committed live notes next to offline F1 on the same
//! audio (mir_eval's rule: same pitch, onset within 50 ms).
//!
//!   cargo bench -p cadenza-models --bench live_transcription [-- SECONDS]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use burn::tensor::Device;
use cadenza_models::basic_pitch::live::{LiveSettings, LiveTranscriber};
use cadenza_models::basic_pitch::stitch::{self, frame_to_seconds};
use cadenza_models::basic_pitch::{BasicPitch, Mode, NoteEvent, NoteSettings, notes};

const RATE: f64 = 22_050.0;
const BLOCK: usize = 512;

/// A reference note: MIDI pitch and onset in seconds.
#[derive(Clone, Copy)]
struct Truth {
    pitch: u8,
    onset: f64,
}

/// A deterministic piece: a melody in eighths over a bass in halves and a chord every bar
/// (A minor / F / C / G), plucked harmonic tones, C2 to C6.
fn piece(seconds: f64) -> (Vec<f32>, Vec<Truth>) {
    let mut seed = 0x2545_f491u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let beat = 0.5; // 120 BPM
    let chords: [[u8; 3]; 4] = [[57, 60, 64], [53, 57, 60], [48, 52, 55], [55, 59, 62]];
    let scale = [69u8, 71, 72, 74, 76, 77, 79, 81, 83, 84];
    let mut truth = Vec::new();
    let mut t = 0.2;
    let mut bar = 0;
    while t + 2.0 < seconds {
        let chord = chords[bar % 4];
        truth.push(Truth { pitch: chord[0] - 12, onset: t });
        truth.push(Truth { pitch: chord[0] - 12, onset: t + 2.0 * beat });
        for &p in &chord {
            truth.push(Truth { pitch: p, onset: t });
        }
        for e in 0..8 {
            if next() % 4 != 0 {
                truth.push(Truth {
                    pitch: scale[(next() % scale.len() as u32) as usize],
                    onset: t + e as f64 * beat / 2.0,
                });
            }
        }
        t += 4.0 * beat;
        bar += 1;
    }
    let mut audio = vec![0.0f32; (seconds * RATE) as usize];
    for n in &truth {
        let f = 440.0 * 2f64.powf((f64::from(n.pitch) - 69.0) / 12.0);
        let from = (n.onset * RATE) as usize;
        let to = (from + (0.9 * RATE) as usize).min(audio.len());
        for (i, s) in audio[from..to].iter_mut().enumerate() {
            let dt = i as f64 / RATE;
            let env = (dt / 0.004).min(1.0) * (-dt * 2.5).exp() * ((0.9 - dt) / 0.02).min(1.0);
            let tone: f64 = (1..=6).map(|k| (dt * f * k as f64 * std::f64::consts::TAU).sin() / (k * k) as f64).sum();
            *s += (0.12 * env * tone) as f32;
        }
    }
    (audio, truth)
}

/// Onset F1 with mir_eval's rule (same pitch, |Δonset| ≤ 50 ms, each reference matched once).
fn f1(found: &[NoteEvent], truth: &[Truth]) -> f64 {
    let mut used = vec![false; truth.len()];
    let mut hits = 0usize;
    for n in found {
        let onset = frame_to_seconds(n.start, Mode::Cadenza);
        if let Some(i) =
            (0..truth.len()).find(|&i| !used[i] && truth[i].pitch == n.pitch && (truth[i].onset - onset).abs() <= 0.05)
        {
            used[i] = true;
            hits += 1;
        }
    }
    let precision = hits as f64 / found.len().max(1) as f64;
    let recall = hits as f64 / truth.len().max(1) as f64;
    if hits == 0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) }
}

/// CPU time of the calling thread (Linux: /proc/thread-self/stat, clock ticks of 10 ms).
/// CPU time of the whole process (every thread: the transcriber, any pool it uses, the feeder,
/// which mostly sleeps).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // After the ")": state is field 0, utime field 11, stime field 12.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

struct LiveRun {
    latencies_ms: Vec<f64>,
    cpu_fraction: f64,
    f1: f64,
}

fn live_run(model: &BasicPitch, device: &Device, audio: &[f32], truth: &[Truth], live: LiveSettings) -> LiveRun {
    let (tx, rx) = mpsc::sync_channel::<Vec<f32>>(1024);
    let blocks: Vec<Vec<f32>> = audio.chunks(BLOCK).map(<[f32]>::to_vec).collect();
    let started = Instant::now();
    let feeder = std::thread::spawn(move || {
        for (i, block) in blocks.into_iter().enumerate() {
            let due = started + Duration::from_secs_f64(((i + 1) * BLOCK) as f64 / RATE);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if tx.send(block).is_err() {
                return;
            }
        }
    });
    let mut transcriber = LiveTranscriber::new(model, device, NoteSettings::default(), live);
    let mut first_seen: Vec<Option<f64>> = vec![None; truth.len()];
    let mut committed = Vec::new();
    let cpu_start = thread_cpu();
    let mut see = |notes: &[NoteEvent], now: f64| {
        for n in notes {
            let onset = frame_to_seconds(n.start, Mode::Cadenza);
            for (i, t) in truth.iter().enumerate() {
                if first_seen[i].is_none() && t.pitch == n.pitch && (t.onset - onset).abs() <= 0.05 {
                    first_seen[i] = Some(now);
                }
            }
        }
    };
    while let Ok(block) = rx.recv() {
        // Take everything that has arrived: a listener that fell behind catches up in one go.
        let mut pending = block;
        while let Ok(more) = rx.try_recv() {
            pending.extend(more);
        }
        if let Some(update) = transcriber.push(&pending) {
            let now = started.elapsed().as_secs_f64();
            see(&update.provisional, now);
            see(&update.committed, now);
            committed.extend(update.committed);
        }
    }
    let update = transcriber.finish();
    see(&update.committed, started.elapsed().as_secs_f64());
    committed.extend(update.committed);
    let cpu = thread_cpu().saturating_sub(cpu_start).as_secs_f64();
    let wall = started.elapsed().as_secs_f64();
    feeder.join().expect("feeder");
    let latencies_ms = truth
        .iter()
        .zip(&first_seen)
        .filter(|(t, _)| t.pitch >= 48)
        .filter_map(|(t, seen)| seen.map(|s| (s - t.onset) * 1000.0))
        .collect();
    LiveRun { latencies_ms, cpu_fraction: cpu / wall, f1: f1(&committed, truth) }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let seconds: f64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(30.0);
    let device = Device::flex();
    let model = BasicPitch::shipped(&device).expect("the shipped Basic Pitch weights");
    let (audio, truth) = piece(seconds);
    let stitched = stitch::posteriorgrams(&model, &audio, 4, Mode::Cadenza, &device);
    let offline = notes(&stitched.note, &stitched.onset, &stitched.contour, &NoteSettings::default(), Mode::Cadenza);
    let offline_f1 = f1(&offline, &truth);
    let from_c3 = truth.iter().filter(|t| t.pitch >= 48).count();
    println!("Live transcription at real-time pace: {seconds:.0} s, {} notes ({from_c3} from C3 up)", truth.len());
    println!("offline onset F1 (Cadenza mode, same audio): {offline_f1:.3}");
    println!(
        "{:<26} {:>9} {:>9} {:>7} {:>8} {:>8} {:>10}",
        "setting", "median ms", "p90 ms", "shown", "CPU %", "live F1", "live/off"
    );
    for (lookahead, step) in [(8, 8), (8, 16), (15, 16)] {
        let run = live_run(
            &model,
            &device,
            &audio,
            &truth,
            LiveSettings { lookahead_frames: lookahead, step_frames: step, ..LiveSettings::default() },
        );
        let mut lat = run.latencies_ms.clone();
        lat.sort_by(f64::total_cmp);
        println!(
            "{:<26} {:>9.0} {:>9.0} {:>7} {:>8.0} {:>8.3} {:>10.2}",
            format!("look-ahead {lookahead}, step {step} fr"),
            percentile(&lat, 0.5),
            percentile(&lat, 0.9),
            format!("{}/{from_c3}", lat.len()),
            run.cpu_fraction * 100.0,
            run.f1,
            run.f1 / offline_f1.max(1e-9)
        );
    }
    println!("goals: median <= 300 ms from C3 up, live F1 >= 0.9 x offline, CPU < 30 % of one core");
}
