//! Trains Cadenza's understanding encoder (MidiBERT-style) on the converted music21 corpus.
//!
//!   train-understanding pretrain --masking adversarial --out data/runs/understanding/adversarial
//!   train-understanding style --pretrained data/runs/understanding/adversarial \
//!       --mask-fraction 0.15 --out data/runs/understanding/style-adversarial-maskft
//!   train-understanding evaluate-style --model data/runs/understanding/style-... [--model ...]
//!
//! Every run resumes from the checkpoint in --out when there is one (with the same config).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::Device;
use cadenza_models::checkpoint;
use cadenza_models::continuation::Header;
use cadenza_models::continuation::generate::Prompt;
use cadenza_models::continuation::recognise::likely_style;
use cadenza_models::continuation::style_classifier::{StyleClassifier, features};
use cadenza_models::continuation::{STYLES, shipped};
use cadenza_models::data::{Corpus, Split};
use cadenza_models::progress::TrainingProgress;
use cadenza_models::runtime::BackendPreference;
use cadenza_models::understanding::dataset::{Passage, labelled_passages, load_works};
use cadenza_models::understanding::evaluate::{StyleScores, style_probabilities, work_scores};
use cadenza_models::understanding::styles::CONTINUATION_STYLE_OF_CLASS;
use cadenza_models::understanding::train::{
    FineTuneOptions, FineTuneState, Masking, PASSAGE_BARS, PretrainOptions, Schedule, fine_tune_style, pretrain,
};
use cadenza_models::understanding::{STYLE_CLASSES, UnderstandingConfig, UnderstandingModel};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

#[derive(Parser)]
#[command(about = "Train Cadenza's understanding encoder")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    #[arg(long, default_value = "data/corpus")]
    corpus: PathBuf,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 2000)]
    steps: usize,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    #[arg(long, default_value_t = 5e-4)]
    lr: f64,
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    #[arg(long, default_value_t = 250)]
    validate_every: usize,
    #[arg(long, default_value_t = 17)]
    seed: u64,
    #[arg(long, default_value_t = 128)]
    d_model: usize,
    #[arg(long, default_value_t = 4)]
    layers: usize,
    #[arg(long, default_value_t = 4)]
    heads: usize,
    #[arg(long, default_value_t = 256)]
    max_notes: usize,
    /// Where to train: cpu (the default, so a run reproduces exactly), auto, wgpu, or
    /// remote://HOST:PORT (a `cadenza serve` server).
    #[arg(long, default_value = "cpu")]
    device: BackendPreference,
}

impl Common {
    fn config(&self) -> UnderstandingConfig {
        UnderstandingConfig::new()
            .with_d_model(self.d_model)
            .with_layers(self.layers)
            .with_heads(self.heads)
            .with_d_ff(4 * self.d_model)
            .with_max_notes(self.max_notes)
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            batch: self.batch,
            steps: self.steps,
            learning_rate: self.lr,
            warmup_steps: self.warmup,
            min_learning_rate: self.lr / 20.0,
            validate_every: self.validate_every,
            seed: self.seed,
            max_transpose: 5,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Pre-train the encoder by restoring hidden notes.
    Pretrain {
        #[command(flatten)]
        common: Common,
        /// Who chooses the hidden notes: random, or adversarial (a masker rewarded when the
        /// encoder fails to restore them).
        #[arg(long, value_parser = parse_masking, default_value = "adversarial")]
        masking: Masking,
        #[arg(long, default_value_t = 0.15)]
        mask_fraction: f64,
        #[arg(long, default_value_t = 0.01)]
        masker_entropy: f64,
        #[arg(long, default_value_t = 256)]
        validation_windows: usize,
    },
    /// Fine-tune the style task, from a pre-training run or from scratch.
    Style {
        #[command(flatten)]
        common: Common,
        /// A `pretrain` output directory; without it the encoder starts from nothing.
        #[arg(long)]
        pretrained: Option<PathBuf>,
        /// Mask fine-tuning: this fraction of the input notes is masked while fine-tuning.
        #[arg(long, default_value_t = 0.0)]
        mask_fraction: f64,
    },
    /// Score fine-tuned style models on the test split beside the baselines; prints the model
    /// card's tables and writes them as JSON to --json.
    EvaluateStyle {
        #[arg(long, default_value = "data/corpus")]
        corpus: PathBuf,
        /// `style` output directories, each a row (named after its directory).
        #[arg(long = "model", required = true)]
        models: Vec<PathBuf>,
        /// At most this many passages (and works) of each class.
        #[arg(long, default_value_t = 300)]
        per_class: usize,
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

fn parse_masking(s: &str) -> Result<Masking, String> {
    match s {
        "random" => Ok(Masking::Random),
        "adversarial" => Ok(Masking::Adversarial),
        other => Err(format!("unknown masking {other:?} (random or adversarial)")),
    }
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Pretrain { common, masking, mask_fraction, masker_entropy, validation_windows } => {
            let corpus = Corpus::open(&common.corpus)?;
            let (device, reason) = cadenza_models::training::training_device(common.device.clone());
            println!("pre-training ({masking:?} masking) on {reason}");
            let options = PretrainOptions {
                schedule: common.schedule(),
                masking,
                mask_fraction,
                masker_entropy,
                validation_windows,
            };
            let progress = TrainingProgress::new(common.steps, 25);
            let state = pretrain(
                &corpus,
                common.config(),
                options,
                &common.out,
                &device,
                |clock, lr| progress.step(clock.step, common.steps, format!("lr {lr:.2e}, {:.0} notes/s", clock.items_per_second)),
                |p| {
                    progress.println(format!(
                        "step {:>6} ({:>6.0} s): train {:.3} | held-out {:.3}, class by class {:.3} nats/field, {:.1} % of fields restored",
                        p.step,
                        p.seconds,
                        p.train_nll,
                        p.valid_nll,
                        p.valid_nll_balanced,
                        100.0 * p.valid_field_accuracy_balanced
                    ))
                },
            )?;
            progress.finish();
            println!(
                "pre-trained {} steps in {:.1} min ({:.0} notes/s) on {} works; weights in {}",
                state.step,
                state.seconds / 60.0,
                state.notes_per_second,
                state.train_works,
                common.out.display()
            );
        }
        Command::Style { common, pretrained, mask_fraction } => {
            let corpus = Corpus::open(&common.corpus)?;
            let (device, reason) = cadenza_models::training::training_device(common.device.clone());
            println!("fine-tuning the style task on {reason}");
            let options = FineTuneOptions { schedule: common.schedule(), mask_fraction, pretrained };
            let progress = TrainingProgress::new(common.steps, 25);
            let state = fine_tune_style(
                &corpus,
                common.config(),
                options,
                &common.out,
                &device,
                |clock, lr| progress.step(clock.step, common.steps, format!("lr {lr:.2e}, {:.0} notes/s", clock.items_per_second)),
                |p| {
                    progress.println(format!(
                        "step {:>6} ({:>6.0} s): train loss {:.3} | valid passages: accuracy {:.1} %, balanced {:.1} %",
                        p.step,
                        p.seconds,
                        p.train_loss,
                        100.0 * p.valid.accuracy,
                        100.0 * p.valid.balanced_accuracy
                    ))
                },
            )?;
            progress.finish();
            println!(
                "fine-tuned {} steps in {:.1} min ({:.0} notes/s); works per class {:?}; weights in {}",
                state.step,
                state.seconds / 60.0,
                state.notes_per_second,
                state.works_per_class,
                common.out.display()
            );
        }
        Command::EvaluateStyle { corpus, models, per_class, json } => {
            let corpus = Corpus::open(&corpus)?;
            let report = evaluate_style(&corpus, &models, per_class)?;
            println!("{}", report.markdown());
            if let Some(path) = json {
                checkpoint::write_json(&path, &report)?;
            }
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct Row {
    name: String,
    passages: StyleScores,
    works: Option<StyleScores>,
    /// On the continuation model's five styles (the folk collections as one).
    passages_grouped: StyleScores,
}

#[derive(Serialize)]
struct StyleReport {
    manifest_sha256: String,
    passages_per_class: Vec<usize>,
    works_per_class: Vec<usize>,
    rows: Vec<Row>,
}

impl StyleReport {
    fn markdown(&self) -> String {
        let pct = |v: f64| format!("{:.1} %", 100.0 * v);
        let mut out = format!(
            "test split: passages per class {:?} ({} bars each), works per class {:?}\n\n",
            self.passages_per_class, PASSAGE_BARS, self.works_per_class
        );
        out.push_str("| model | passages: accuracy | passages: balanced | works: accuracy | works: balanced | 5 styles: balanced |\n|---|---|---|---|---|---|\n");
        for r in &self.rows {
            let (wa, wb) = r.works.as_ref().map_or(("-".into(), "-".into()), |w| (pct(w.accuracy), pct(w.balanced_accuracy)));
            out.push_str(&format!(
                "| {} | {} | {} | {wa} | {wb} | {} |\n",
                r.name,
                pct(r.passages.accuracy),
                pct(r.passages.balanced_accuracy),
                pct(r.passages_grouped.balanced_accuracy)
            ));
        }
        for r in &self.rows {
            out.push_str(&format!("\n{} on passages:\n{}", r.name, r.passages.confusion_table(&STYLE_CLASSES)));
        }
        out
    }
}

/// The continuation model's style index of a class's grouped style.
fn grouped(class: usize) -> usize {
    STYLES.iter().position(|s| *s == CONTINUATION_STYLE_OF_CLASS[class]).unwrap_or(0)
}

fn grouped_scores(pairs: impl IntoIterator<Item = (usize, usize)>) -> StyleScores {
    StyleScores::from_pairs(pairs.into_iter().map(|(t, p)| (grouped(t), grouped(p))), STYLES.len() - 1)
}

fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

fn load_style_model(dir: &Path, device: &Device) -> Result<UnderstandingModel> {
    let state: FineTuneState =
        checkpoint::read_state(dir).map_err(anyhow::Error::msg).with_context(|| format!("{}", dir.display()))?;
    checkpoint::with_record_file(state.config.init(device), &dir.join(checkpoint::MODEL_FILE))
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("{}: cannot read the weights", dir.display()))
}

fn evaluate_style(corpus: &Corpus, models: &[PathBuf], per_class: usize) -> Result<StyleReport> {
    let device = Device::flex();
    let train = load_works(corpus, Split::Train);
    let test = load_works(corpus, Split::Test);
    let max_notes = 256;
    let passages = labelled_passages(&test, PASSAGE_BARS, max_notes, per_class);
    let count_classes = |classes: &mut dyn Iterator<Item = usize>| {
        let mut counts = vec![0usize; STYLE_CLASSES.len()];
        classes.for_each(|c| counts[c] += 1);
        counts
    };
    let passages_per_class = count_classes(&mut passages.iter().map(|p| p.class));
    // Whole works: at most `per_class` of each class.
    let mut taken = vec![0usize; STYLE_CLASSES.len()];
    let works: Vec<_> = test
        .iter()
        .filter(|w| {
            let Some(c) = w.style else { return false };
            taken[c] += 1;
            taken[c] <= per_class
        })
        .cloned()
        .collect();
    let works_per_class = count_classes(&mut works.iter().filter_map(|w| w.style));
    let mut rows = Vec::new();

    // Baseline 1: logistic regression on hand-made features, fitted here on the training split.
    let started = std::time::Instant::now();
    let examples: Vec<_> = labelled_passages(&train, PASSAGE_BARS, max_notes, 2000)
        .iter()
        .map(|p| (features(&p.notes, p.bar_ticks), p.class as u8))
        .collect();
    let classifier = StyleClassifier::fit_classes(&examples, STYLE_CLASSES.len(), 300);
    let feature_probabilities = |p: &Passage| -> Vec<f32> {
        classifier.probabilities(&features(&p.notes, p.bar_ticks)).into_iter().map(|v| v as f32).collect()
    };
    let pairs: Vec<(usize, usize)> = passages.iter().map(|p| (p.class, argmax(&feature_probabilities(p)))).collect();
    let work_passages = |w: &cadenza_models::understanding::dataset::StyledWork| {
        labelled_passages(std::slice::from_ref(w), PASSAGE_BARS, max_notes, usize::MAX)
    };
    rows.push(Row {
        name: "baseline: logistic regression on features".into(),
        passages: StyleScores::from_pairs(pairs.iter().copied(), STYLE_CLASSES.len()),
        works: Some(work_scores(&works, |w| work_passages(w).iter().map(&feature_probabilities).collect())),
        passages_grouped: grouped_scores(pairs),
    });
    eprintln!("logistic regression: {:.0} s", started.elapsed().as_secs_f64());

    // Baseline 2: the continuation model's own recogniser (five styles only).
    let started = std::time::Instant::now();
    let continuation = shipped::model(&device).map_err(anyhow::Error::msg)?;
    let pairs: Vec<(usize, usize)> = passages
        .iter()
        .map(|p| {
            let prompt = Prompt {
                header: Header::new(0, p.notes.iter().map(|n| n.instrument)),
                notes: p.notes.clone(),
                bar_ticks: p.bar_ticks,
                bars: PASSAGE_BARS,
            };
            let guess = likely_style(&continuation, &prompt, &device).map_or(0, usize::from);
            (grouped(p.class), guess)
        })
        .collect();
    rows.push(Row {
        name: "baseline: the continuation model's recogniser".into(),
        passages: StyleScores::default(),
        works: None,
        passages_grouped: StyleScores::from_pairs(pairs, STYLES.len() - 1),
    });
    eprintln!("recogniser: {:.0} s", started.elapsed().as_secs_f64());

    let tokens: Vec<Vec<_>> = passages.iter().map(|p| p.tokens.clone()).collect();
    for dir in models {
        let started = std::time::Instant::now();
        let model = load_style_model(dir, &device)?;
        let probabilities = style_probabilities(&model, &tokens, &device);
        let pairs: Vec<(usize, usize)> = passages.iter().zip(&probabilities).map(|(p, q)| (p.class, argmax(q))).collect();
        let works = work_scores(&works, |w| {
            let windows: Vec<_> = work_passages(w).into_iter().map(|p| p.tokens).collect();
            style_probabilities(&model, &windows, &device)
        });
        rows.push(Row {
            name: dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
            passages: StyleScores::from_pairs(pairs.iter().copied(), STYLE_CLASSES.len()),
            works: Some(works),
            passages_grouped: grouped_scores(pairs),
        });
        eprintln!("{}: {:.0} s", dir.display(), started.elapsed().as_secs_f64());
    }
    Ok(StyleReport { manifest_sha256: corpus.manifest_sha256.clone(), passages_per_class, works_per_class, rows })
}
