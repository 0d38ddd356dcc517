//! Trains and evaluates Cadenza's MusicVAE melody models on the converted music21 corpus.
//!
//!   cargo run --release -p cadenza-models --bin train-musicvae -- train --corpus data/corpus \
//!       --bars 2 --out runs/mel_2bar --steps 6000
//!   cargo run --release -p cadenza-models --bin train-musicvae -- evaluate --corpus data/corpus \
//!       --model runs/mel_2bar
//!
//!   cargo run --release -p cadenza-models --bin train-musicvae -- conductor --corpus data/corpus \
//!       --segment-model assets/models/musicvae/mel_2bar --out runs/mel_16bar_conductor
//!   cargo run --release -p cadenza-models --bin train-musicvae -- evaluate --corpus data/corpus \
//!       --model runs/mel_16bar_conductor --segment-model assets/models/musicvae/mel_2bar
//!
//! Training resumes from the checkpoint in --out when there is one; `evaluate` scores the test
//! split, measures interpolation smoothness and samples from the prior, and writes the
//! attribute vectors and latent map the app uses.

use std::path::PathBuf;

use anyhow::Result;
use burn::tensor::Device;
use cadenza_models::checkpoint;
use cadenza_models::data::{Corpus, Split};
use cadenza_models::progress::TrainingProgress;
use cadenza_models::runtime::BackendPreference;
use cadenza_models::training::training_device;
use cadenza_models::vae::conductor::ConductorVaeConfig;
use cadenza_models::vae::conductor_train::{ConductorOptions, SegmentModel, train_conductor};
use cadenza_models::vae::dataset::{load_windows, spread};
use cadenza_models::vae::evaluate::{conducted_reconstruction, plausibility, reconstruction, smoothness};
use cadenza_models::vae::fitted_prior::FittedPrior;
use cadenza_models::vae::latent::{Attribute, LatentMap, attribute_vector};
use cadenza_models::vae::melody_model::PRIOR_FILE;
use cadenza_models::vae::train::{TrainOptions, TrainingState, start_from, train};
use cadenza_models::vae::{Melody, MelodyVae, MusicVaeConfig};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Train and evaluate Cadenza's MusicVAE melody models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train (or resume training) a model into --out.
    Train {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// 2 or 16 bars of 16 steps.
        #[arg(long, default_value_t = 2)]
        bars: usize,
        /// A flat LSTM decoder instead of the conductor (the 16-bar baseline).
        #[arg(long)]
        flat: bool,
        #[arg(long, default_value_t = 6000)]
        steps: usize,
        #[arg(long, default_value_t = 64)]
        batch: usize,
        #[arg(long, default_value_t = 256)]
        hidden: usize,
        #[arg(long, default_value_t = 128)]
        latent: usize,
        /// Free bits in nats per melody.
        #[arg(long)]
        free_bits: Option<f64>,
        #[arg(long)]
        max_beta: Option<f64>,
        #[arg(long, default_value_t = 1e-3)]
        lr: f64,
        /// The learning rate is multiplied by this every step (down to 1e-5).
        #[arg(long, default_value_t = TrainOptions::default().decay)]
        decay: f64,
        #[arg(long, default_value_t = 250)]
        validate_every: usize,
        /// Start from the weights of this trained model (a directory with model.bpk and
        /// training.json, e.g. a model trained on an earlier conversion), with a fresh optimiser.
        /// Ignored when --out already holds a checkpoint to resume.
        #[arg(long)]
        init_from: Option<PathBuf>,
        /// Where to train: auto (a real GPU adapter through wgpu, else the CPU), cpu, wgpu, or
        /// remote://HOST:PORT (a `cadenza serve` server, e.g. on a GPU machine).
        /// The default is the CPU, so a run reproduces exactly.
        #[arg(long, default_value = "cpu")]
        device: BackendPreference,
    },
    /// Train (or resume) the 16-bar conductor over a trained 2-bar model's latent space.
    Conductor {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        /// The 2-bar model (kept frozen) whose codes the conductor writes.
        #[arg(long, default_value = "assets/models/musicvae/mel_2bar")]
        segment_model: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 16)]
        bars: usize,
        #[arg(long, default_value_t = ConductorOptions::default().steps)]
        steps: usize,
        #[arg(long, default_value_t = ConductorOptions::default().batch)]
        batch: usize,
        #[arg(long, default_value_t = 128)]
        encoder_hidden: usize,
        #[arg(long, default_value_t = 256)]
        conductor_hidden: usize,
        #[arg(long, default_value_t = 256)]
        latent: usize,
        #[arg(long, default_value_t = 256.0)]
        free_bits: f64,
        #[arg(long, default_value_t = 0.2)]
        max_beta: f64,
        #[arg(long, default_value_t = ConductorOptions::default().learning_rate)]
        lr: f64,
        #[arg(long, default_value_t = ConductorOptions::default().decay)]
        decay: f64,
        #[arg(long, default_value_t = ConductorOptions::default().validate_every)]
        validate_every: usize,
        /// Transposed copies of each training window.
        #[arg(long, default_value_t = ConductorOptions::default().transpositions)]
        transpositions: usize,
        #[arg(long, default_value = "cpu")]
        device: BackendPreference,
    },
    /// Score a trained model on the test split and write its attribute vectors.
    Evaluate {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        #[arg(long)]
        model: PathBuf,
        /// The 2-bar model under a conductor (for a conductor's directory).
        #[arg(long)]
        segment_model: Option<PathBuf>,
        #[arg(long, default_value_t = 1024)]
        windows: usize,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Train {
            corpus,
            out,
            bars,
            flat,
            steps,
            batch,
            hidden,
            latent,
            free_bits,
            max_beta,
            lr,
            decay,
            validate_every,
            init_from,
            device,
        } => {
            let corpus = Corpus::open(&corpus)?;
            let (device, reason) = training_device(device);
            println!("training on {reason}");
            if let Some(from) = init_from.filter(|_| !out.join(checkpoint::STATE_FILE).exists()) {
                let started = start_from(&from, &out)?;
                println!("starting from {} at step {} (a fresh optimiser)", from.display(), started.step);
            }
            let mut config = MusicVaeConfig::new(bars, !flat && bars > 2)
                .with_encoder_hidden(hidden)
                .with_conductor_hidden(hidden)
                .with_decoder_hidden(hidden)
                .with_latent(latent);
            // MusicVAE's settings: the 2-bar model with a light KL weight, the 16-bar ones with
            // a larger free-bits budget (a long melody carries more information).
            if bars > 2 {
                config = config.with_free_bits(128.0).with_max_beta(0.2);
            }
            if let Some(f) = free_bits {
                config = config.with_free_bits(f);
            }
            if let Some(b) = max_beta {
                config = config.with_max_beta(b);
            }
            let options =
                TrainOptions { batch, steps, learning_rate: lr, decay, validate_every, ..TrainOptions::default() };
            let progress = TrainingProgress::new(steps, 100);
            let state = train(
                &corpus,
                config,
                options,
                &out,
                &device,
                |p| {
                    let message = format!(
                        "recon {:.1} nats, KL {:.1}, acc {:.3}, {:.0} windows/s",
                        p.reconstruction, p.kl, p.accuracy, p.windows_per_second
                    );
                    progress.step(p.step, p.total_steps, message);
                },
                |v| {
                    let line = format!(
                        "step {:>6} ({:>6.0} s): train recon {:.2} KL {:.1} | valid teacher-forced {:.4} sampled {:.4} KL {:.1}",
                        v.step,
                        v.seconds,
                        v.train_reconstruction,
                        v.train_kl,
                        v.valid.teacher_forced,
                        v.valid.sampled,
                        v.valid.kl
                    );
                    progress.println(line);
                },
            )?;
            progress.finish();
            println!(
                "trained {} steps in {:.1} min ({:.0} windows/s) on {} training windows; weights in {}",
                state.step,
                state.seconds / 60.0,
                state.windows_per_second,
                state.train_windows,
                out.display()
            );
        }
        Command::Conductor {
            corpus,
            segment_model,
            out,
            bars,
            steps,
            batch,
            encoder_hidden,
            conductor_hidden,
            latent,
            free_bits,
            max_beta,
            lr,
            decay,
            validate_every,
            transpositions,
            device,
        } => {
            let corpus = Corpus::open(&corpus)?;
            let (device, reason) = training_device(device);
            println!("training on {reason}");
            let segment = MelodyVae::from_dir(&segment_model, None, &Device::flex())?;
            let facts: TrainingState = cadenza_models::checkpoint::read_state(&segment_model)
                .map_err(|e| anyhow::anyhow!("{}: {e}", segment_model.display()))?;
            let config = ConductorVaeConfig::new()
                .with_segments(bars / 2)
                .with_segment_latent(segment.latent_size())
                .with_encoder_hidden(encoder_hidden)
                .with_conductor_hidden(conductor_hidden)
                .with_latent(latent)
                .with_free_bits(free_bits)
                .with_max_beta(max_beta);
            let options = ConductorOptions {
                batch,
                steps,
                learning_rate: lr,
                decay,
                validate_every,
                transpositions,
                ..ConductorOptions::default()
            };
            let progress = TrainingProgress::new(steps, 100);
            let state = train_conductor(
                &corpus,
                &segment,
                SegmentModel { manifest_sha256: facts.manifest_sha256, step: facts.step },
                config,
                options,
                &out,
                (&device, reason),
                |line| progress.println(line),
                |clock, codes, kl| {
                    let message = format!("code NLL {codes:.1}, KL {kl:.1}, {:.0} windows/s", clock.items_per_second);
                    progress.step(clock.step, steps, message);
                },
            )?;
            progress.finish();
            println!(
                "trained {} steps in {:.1} min ({:.0} windows/s) on {} windows ({} with transpositions); weights in {}",
                state.step,
                state.seconds / 60.0,
                state.windows_per_second,
                state.train_windows,
                state.train_examples,
                out.display()
            );
        }
        Command::Evaluate { corpus, model, segment_model, windows } => {
            evaluate(&Corpus::open(&corpus)?, &model, segment_model.as_deref(), windows)?
        }
    }
    Ok(())
}

fn evaluate(corpus: &Corpus, dir: &std::path::Path, segment_dir: Option<&std::path::Path>, limit: usize) -> Result<()> {
    let device = Device::flex();
    let vae = MelodyVae::from_dir(dir, segment_dir, &device)?;
    let bars = vae.bars();
    let started = std::time::Instant::now();
    // The same test windows for every model of one length: every n-th of the split.
    let test_windows = load_windows(corpus, Split::Test, bars).windows;
    anyhow::ensure!(!test_windows.is_empty(), "the test split has no {bars}-bar windows; is the corpus converted?");
    let sample = spread(test_windows, limit);
    let test = match (vae.model(), vae.conductor()) {
        (Some(model), _) => reconstruction(model, &sample, 128, &device),
        (None, Some((segment, conductor))) => conducted_reconstruction(segment, conductor, &sample, 128, &device),
        (None, None) => anyhow::bail!("{}: neither a MusicVAE nor a conductor", dir.display()),
    };
    let (smooth, inner) = smoothness(&vae, &sample[..sample.len().min(128)], 11);
    println!(
        "test split ({} windows): teacher-forced {:.4}, sampled {:.4}, KL {:.1} nats",
        test.windows, test.teacher_forced, test.sampled, test.kl
    );
    // A conductor's ceiling: the 2-bar model on the same windows' segments, each from its own code.
    let ceiling = vae.conductor().and_then(|(segment, _)| segment.model()).map(|two_bar| {
        let parts: Vec<Melody> = sample.iter().flat_map(cadenza_models::vae::conductor::segments).collect();
        reconstruction(two_bar, &parts, 128, &device)
    });
    if let Some(c) = &ceiling {
        println!(
            "ceiling: the 2-bar model on the same {} segments, each from its own code: teacher-forced {:.4}, sampled {:.4}",
            c.windows, c.teacher_forced, c.sampled
        );
    }
    println!(
        "interpolation ({} pairs, 11 points): {:.3} of steps change between neighbours; the ends differ in {:.3}; {:.2} of inner points are new melodies",
        smooth.pairs, smooth.latent_neighbour_change, smooth.endpoint_change, smooth.new_melodies
    );
    // Codes of training windows: for the attribute vectors, the map and the fitted prior.
    let train = load_windows(corpus, Split::Train, bars);
    let melodies = spread(train.windows, 4096);
    let styles = spread(train.styles, 4096);
    let mut codes = Vec::with_capacity(melodies.len());
    for chunk in melodies.chunks(256) {
        let refs: Vec<&Melody> = chunk.iter().collect();
        codes.extend(vae.encode(&refs));
    }
    let fitted = FittedPrior::fit(&codes).ok_or_else(|| anyhow::anyhow!("too few training codes to fit a prior"))?;
    let fitted = serde_json::to_string(&fitted)?;
    std::fs::write(dir.join(PRIOR_FILE), &fitted)?;
    // Plausibility of what the priors and the paths give, against the real tunes.
    let standard = plausibility(&vae.decode(&vae.standard_codes(256, 11), 0.0, 0));
    let design = vae.design();
    let vae = vae.with_prior(&fitted)?;
    let drawn = plausibility(&vae.decode(&vae.prior_codes(256, 11), 0.0, 0));
    let real = plausibility(&sample);
    for (name, p) in [
        ("real test tunes", real),
        ("samples of N(0, I)", standard),
        ("samples of the fitted prior", drawn),
        ("interpolation points", inner),
    ] {
        println!(
            "{name} ({}): {:.2} in one key, {:.2} of onsets on the 8th-note grid, {:.1} notes",
            p.melodies, p.in_one_key, p.onsets_on_eighths, p.notes
        );
    }
    let mut attributes = serde_json::Map::new();
    for attribute in Attribute::ALL {
        if let Some(vector) = attribute_vector(attribute, &melodies, &codes) {
            attributes.insert(attribute.name().into(), serde_json::to_value(vector)?);
        }
    }
    std::fs::write(dir.join("attributes.json"), serde_json::to_string(&attributes)?)?;
    // The latent map: 600 of those codes on their two principal axes, labelled by style.
    if let Some(map) = LatentMap::fit(&spread(codes, 600), &spread(styles, 600)) {
        std::fs::write(dir.join("map.json"), serde_json::to_string(&map)?)?;
    }
    let report = serde_json::json!({
        "design": design,
        "test": test,
        "segment_ceiling": ceiling,
        "smoothness": smooth,
        "plausibility": { "real": real, "standard_prior": standard, "fitted_prior": drawn, "interpolation": inner },
        "attribute_windows": melodies.len(),
        "seconds": started.elapsed().as_secs_f64(),
    });
    std::fs::write(dir.join("evaluation.json"), serde_json::to_string_pretty(&report)?)?;
    println!("wrote evaluation.json and attributes.json in {}", dir.display());
    Ok(())
}
