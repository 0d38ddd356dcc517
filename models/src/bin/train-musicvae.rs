//! Trains and evaluates Cadenza's MusicVAE melody models on the converted music21 corpus.
//!
//!   cargo run --release -p cadenza-models --bin train-musicvae -- train --corpus data/corpus \
//!       --bars 2 --out runs/mel_2bar --steps 6000
//!   cargo run --release -p cadenza-models --bin train-musicvae -- evaluate --corpus data/corpus \
//!       --model runs/mel_2bar
//!
//! Training resumes from the checkpoint in --out when there is one; `evaluate` scores the test
//! split, measures interpolation smoothness and writes the attribute vectors the app uses.

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use cadenza_models::checkpoint;
use cadenza_models::data::{Corpus, Split};
use cadenza_models::progress::TrainingProgress;
use cadenza_models::vae::dataset::{load_windows, spread, tokens_tensor};
use cadenza_models::vae::evaluate::smoothness;
use cadenza_models::vae::latent::{Attribute, LatentMap, attribute_vector};
use cadenza_models::vae::melody_model::rows;
use cadenza_models::vae::train::{
    TrainOptions, TrainingState, load_record_file, start_from, test_reconstruction, train,
};
use cadenza_models::vae::{Melody, MusicVaeConfig};
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
    },
    /// Score a trained model on the test split and write its attribute vectors.
    Evaluate {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        #[arg(long)]
        model: PathBuf,
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
        } => {
            let corpus = Corpus::open(&corpus)?;
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
        Command::Evaluate { corpus, model, windows } => evaluate(&Corpus::open(&corpus)?, &model, windows)?,
    }
    Ok(())
}

fn evaluate(corpus: &Corpus, dir: &std::path::Path, limit: usize) -> Result<()> {
    let state: TrainingState = serde_json::from_str(
        &std::fs::read_to_string(dir.join("training.json"))
            .with_context(|| format!("{}: no training.json", dir.display()))?,
    )?;
    let device = Device::flex();
    let model = load_record_file(&dir.join("model.bpk"), &state.config, &device).map_err(anyhow::Error::msg)?;
    let started = std::time::Instant::now();
    let (test, sample) = test_reconstruction(corpus, &model, state.config.bars, limit, &device)?;
    let smooth = smoothness(&model, &sample[..sample.len().min(128)], 11, &device);
    println!(
        "test split ({} windows): teacher-forced {:.4}, sampled {:.4}, KL {:.1} nats",
        test.windows, test.teacher_forced, test.sampled, test.kl
    );
    println!(
        "interpolation ({} pairs, 11 points): {:.3} of steps change between neighbours; the ends differ in {:.3}; {:.2} of inner points are new melodies",
        smooth.pairs, smooth.latent_neighbour_change, smooth.endpoint_change, smooth.new_melodies
    );
    // Attribute vectors from training windows' mean codes.
    let train = load_windows(corpus, Split::Train, state.config.bars);
    let melodies = spread(train.windows, 4096);
    let styles = spread(train.styles, 4096);
    let mut codes = Vec::with_capacity(melodies.len());
    for chunk in melodies.chunks(256) {
        let refs: Vec<&Melody> = chunk.iter().collect();
        codes.extend(rows(model.encode(tokens_tensor(&refs, &device)).mu));
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
        "test": test,
        "smoothness": smooth,
        "attribute_windows": melodies.len(),
        "seconds": started.elapsed().as_secs_f64(),
    });
    std::fs::write(dir.join("evaluation.json"), serde_json::to_string_pretty(&report)?)?;
    println!("wrote evaluation.json and attributes.json in {}", dir.display());
    Ok(())
}
