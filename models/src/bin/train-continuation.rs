//! Trains Cadenza's continuation transformer on the converted music21 corpus.
//!
//!   cargo run -p cadenza-models --bin train-continuation -- train --corpus data/corpus \
//!       --out data/runs/continuation --steps 4000
//!
//! Training resumes from the checkpoint in --out when there is one (with the same config).

use std::path::PathBuf;

use anyhow::Result;
use cadenza_models::continuation::ContinuationConfig;
use cadenza_models::continuation::train::{TrainOptions, train};
use cadenza_models::data::Corpus;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

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
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Train { corpus, out, steps, batch, lr, validate_every, d_model, layers, heads, context } => {
            let corpus = Corpus::open(&corpus)?;
            let config = ContinuationConfig::new()
                .with_d_model(d_model)
                .with_layers(layers)
                .with_heads(heads)
                .with_d_ff(4 * d_model)
                .with_context(context);
            let options = TrainOptions { steps, batch, learning_rate: lr, validate_every, ..TrainOptions::default() };
            let bar = ProgressBar::new(steps as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} steps {elapsed_precise} (eta {eta}) {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let state = train(
                &corpus,
                config,
                options,
                &out,
                |p| {
                    let line = format!(
                        "NLL {:.3} nats/token, lr {:.2e}, {:.0} tokens/s",
                        p.nll, p.learning_rate, p.tokens_per_second
                    );
                    // Without a terminal the bar is hidden: a line every 50 steps instead.
                    if bar.is_hidden() && p.step.is_multiple_of(50) {
                        eprintln!("step {}/{}: {line}", p.step, p.total_steps);
                    }
                    bar.set_position(p.step as u64);
                    bar.set_message(line);
                },
                |v| {
                    let line = format!(
                        "step {:>6} ({:>6.0} s): train NLL {:.3} | valid NLL {:.3} nats/token",
                        v.step, v.seconds, v.train_nll, v.valid_nll
                    );
                    if bar.is_hidden() { eprintln!("{line}") } else { bar.println(line) }
                },
            )?;
            bar.finish();
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
    }
    Ok(())
}
