//! Trains Cadenza's continuation transformer on the converted music21 corpus.
//!
//!   cargo run -p cadenza-models --bin train-continuation -- train --corpus data/corpus \
//!       --out data/runs/continuation --steps 4000
//!
//!   cargo run -p cadenza-models --bin train-continuation -- evaluate --corpus data/corpus \
//!       --model data/runs/continuation
//!
//! Training resumes from the checkpoint in --out when there is one (with the same config).

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use cadenza_models::continuation::dataset::load_split;
use cadenza_models::continuation::evaluate::{Evaluation, EvaluationSetup, classifier_report, evaluate};
use cadenza_models::continuation::generate::GenerationOptions;
use cadenza_models::continuation::regroup::regroup_v1_checkpoint;
use cadenza_models::continuation::train::{TrainOptions, train};
use cadenza_models::continuation::{ContinuationConfig, STYLES, shipped};
use cadenza_models::data::{Corpus, Split};
use cadenza_models::progress::TrainingProgress;
use cadenza_models::runtime::BackendPreference;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Train Cadenza's continuation transformer")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train (or resume training) into --out.
    Train {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = TrainOptions::default().steps)]
        steps: usize,
        #[arg(long, default_value_t = TrainOptions::default().batch)]
        batch: usize,
        #[arg(long, default_value_t = TrainOptions::default().learning_rate)]
        lr: f64,
        #[arg(long, default_value_t = TrainOptions::default().validate_every)]
        validate_every: usize,
        #[arg(long, default_value_t = 128)]
        d_model: usize,
        #[arg(long, default_value_t = 4)]
        layers: usize,
        #[arg(long, default_value_t = 4)]
        heads: usize,
        #[arg(long, default_value_t = 256)]
        context: usize,
        /// The fraction of training sequences asked for "any" style instead of their own.
        #[arg(long, default_value_t = TrainOptions::default().style_dropout)]
        style_dropout: f64,
        /// Where to train: auto (a real GPU adapter through wgpu, else the CPU), cpu, wgpu, or
        /// remote://HOST:PORT (a `cadenza serve` server, e.g. on a GPU machine).
        /// The default is the CPU, so a run reproduces exactly.
        #[arg(long, default_value = "cpu")]
        device: BackendPreference,
    },
    /// Score a trained model on the test split; writes evaluation.json beside it.
    Evaluate {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        #[arg(long)]
        model: PathBuf,
        /// Continuations per style and kind of prompt.
        #[arg(long, default_value_t = 8)]
        samples: usize,
        #[arg(long, default_value_t = 8)]
        bars: u32,
        #[arg(long, default_value_t = 5)]
        ngram_order: usize,
        #[arg(long, default_value_t = 512)]
        sequences: usize,
        /// Style strength of the continuations (0 = none; the app's default is 1).
        #[arg(long, default_value_t = GenerationOptions::default().style_guidance)]
        style_guidance: f32,
        /// Score on the validation split instead of the test split (more openings for the
        /// smaller styles; the validation works are held out from training too). The result
        /// goes to evaluation-valid.json.
        #[arg(long)]
        validation: bool,
    },
    /// Move a checkpoint of the first style vocabulary (one style per composer) to the current
    /// one, as a checkpoint in --out that `train` resumes from.
    Regroup {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Fit the style classifier on the training split and score it on real held-out passages
    /// (validation and test), style by style, with what it mistook them for.
    Classifier {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Train {
            corpus,
            out,
            steps,
            batch,
            lr,
            validate_every,
            d_model,
            layers,
            heads,
            context,
            style_dropout,
            device,
        } => {
            let corpus = Corpus::open(&corpus)?;
            let (device, reason) = cadenza_models::training::training_device(device);
            println!("training on {reason}");
            let config = ContinuationConfig::new()
                .with_d_model(d_model)
                .with_layers(layers)
                .with_heads(heads)
                .with_d_ff(4 * d_model)
                .with_context(context);
            let options = TrainOptions {
                steps,
                batch,
                learning_rate: lr,
                validate_every,
                style_dropout,
                ..TrainOptions::default()
            };
            let progress = TrainingProgress::new(steps, 50);
            let state = train(
                &corpus,
                config,
                options,
                &out,
                &device,
                |p| {
                    let line = format!(
                        "NLL {:.3} nats/token, lr {:.2e}, {:.0} tokens/s",
                        p.nll, p.learning_rate, p.tokens_per_second
                    );
                    progress.step(p.step, p.total_steps, line);
                },
                |v| {
                    let line = format!(
                        "step {:>6} ({:>6.0} s): train NLL {:.3} | valid NLL {:.3} nats/token",
                        v.step, v.seconds, v.train_nll, v.valid_nll
                    );
                    progress.println(line);
                },
            )?;
            progress.finish();
            println!(
                "trained {} steps in {:.1} min ({:.0} tokens/s) on {} works ({} notes); weights in {}",
                state.step,
                state.seconds / 60.0,
                state.tokens_per_second,
                state.train_works,
                state.train_notes,
                out.display()
            );
        }
        Command::Evaluate { corpus, model, samples, bars, ngram_order, sequences, style_guidance, validation } => {
            let corpus = Corpus::open(&corpus)?;
            let device = Device::flex();
            let config = std::fs::read_to_string(model.join("config.json"))
                .with_context(|| format!("{}: no config.json", model.display()))?;
            let record =
                std::fs::read(model.join("model.bpk")).with_context(|| format!("{}: no model.bpk", model.display()))?;
            let network = shipped::from_bytes(&record, &config, &device).map_err(anyhow::Error::msg)?;
            let train_works = load_split(&corpus, Split::Train);
            let test = load_split(&corpus, if validation { Split::Valid } else { Split::Test });
            let started = std::time::Instant::now();
            let setup = EvaluationSetup {
                model: &network,
                train: &train_works,
                test,
                device: &device,
                samples_per_style: samples,
                bars,
                ngram_order,
                sequences,
                style_guidance,
            };
            let evaluation = evaluate(setup, |line| eprintln!("{line}"));
            let file = if validation { "evaluation-valid.json" } else { "evaluation.json" };
            std::fs::write(model.join(file), serde_json::to_string_pretty(&evaluation)?)?;
            println!("{}", table(&evaluation));
            eprintln!("evaluated in {:.1} min", started.elapsed().as_secs_f64() / 60.0);
        }
        Command::Regroup { from, out } => {
            let state = regroup_v1_checkpoint(&from, &out)?;
            println!(
                "moved {} (step {}) to the styles {}; resume with `train --out {}`",
                from.display(),
                state.step,
                STYLES.join(", "),
                out.display()
            );
        }
        Command::Classifier { corpus } => {
            let corpus = Corpus::open(&corpus)?;
            let train_works = load_split(&corpus, Split::Train);
            for split in [Split::Valid, Split::Test] {
                let held_out = load_split(&corpus, split);
                println!("{split:?}:");
                for row in classifier_report(&train_works, &held_out) {
                    println!("{row}");
                }
            }
        }
    }
    Ok(())
}

/// The evaluation as the Markdown tables of the model card.
fn table(e: &Evaluation) -> String {
    use std::fmt::Write;
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.0} %", 100.0 * v));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "held-out NLL: transformer {:.3} vs {}-gram {:.3} nats/token ({} sequences); training data {} tokens for {} notes\n",
        e.transformer_nll, e.ngram_order, e.ngram_nll, e.test_sequences, e.train_tokens, e.train_notes
    );
    let _ = writeln!(
        out,
        "| style | classifier on real | the model's own guess on real | recognised, from nothing | recognised, from openings | on requested instruments (not enforced) | in key (real) | on 16th grid (real) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for r in &e.styles {
        let _ = writeln!(
            out,
            "| {} | {} of {} | {} of {} | {} | {} of {} | {} | {} ({}) | {} ({}) |",
            r.style,
            pct(r.classifier_on_real),
            r.real_passages,
            pct(r.model_recognises_real),
            r.model_recognition_works,
            pct(Some(r.recognised_from_nothing)),
            pct(r.recognised_from_openings),
            r.openings,
            pct(Some(r.on_requested_instruments)),
            pct(r.in_key),
            pct(r.in_key_real),
            pct(r.on_grid),
            pct(r.on_grid_real)
        );
    }
    let _ = writeln!(
        out,
        "\nchance: {:.0} %; {} samples per style, {} bars each, style strength {}",
        100.0 * e.chance,
        e.samples_per_style,
        e.bars,
        e.style_guidance
    );
    out
}
