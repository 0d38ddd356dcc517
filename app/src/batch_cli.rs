//! `cadenza transcribe DIR -o OUT/`: a whole library in one run, with one progress bar (files/s
//! and an ETA), resumable after a kill or Ctrl-C, and a summary at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cadenza_engine::EngineConfig;
use cadenza_engine::ml::runtime_slot::{RuntimeSlot, choose_runtime};
use cadenza_engine::ml::transcription::TranscribeOptions;
use cadenza_engine::ml::transcription::batch::{self, BatchContext, BatchSummary, FileOutcome};
use cadenza_engine::{BackendKind, MlRuntime};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::TranscribeArgs;

/// Transcribes every recording under `args.inputs` into `args.output`, skipping those done.
pub fn transcribe_library(config: &EngineConfig, args: &TranscribeArgs, options: &TranscribeOptions) -> Result<()> {
    let plan = batch::plan(&args.inputs, &args.output, args.redo)?;
    let found = plan.todo.len() + plan.done.len();
    if found == 0 {
        bail!("no audio files (WAV, FLAC, MP3, Ogg) found");
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("{}: cannot create the output folder", args.output.display()))?;
    eprintln!("cadenza: {found} recordings: {} to transcribe, {} done before", plan.todo.len(), plan.done.len());
    if plan.todo.is_empty() {
        return Ok(());
    }
    let runtime = choose_runtime(config.backend.clone());
    let workers = args.jobs.map_or_else(|| default_workers(&runtime), usize::from);
    eprintln!("cadenza: ML backend {}: {}. {workers} files at once", runtime.kind, runtime.reason);
    let bar = files_bar(plan.todo.len());

    let cancel = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&cancel);
    // A second Ctrl-C while files finish kills as usual: what is written is kept either way.
    let _ = ctrlc::set_handler(move || {
        if on_signal.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
    let on_file = |_: &batch::BatchItem, outcome: &FileOutcome| {
        if let FileOutcome::Failed(reason) = outcome {
            bar.suspend(|| eprintln!("cadenza: error: {reason}"));
        }
        bar.inc(1);
    };
    let on_notice = |text: String| bar.suspend(|| eprintln!("cadenza: note: {text}"));
    let slot = RuntimeSlot::ready(runtime);
    let context = BatchContext { runtime: &slot, workers, cancel: &cancel, on_file: &on_file, on_notice: &on_notice };
    let summary = batch::run(&plan, options, &context);
    bar.finish_and_clear();
    let summary = summary?;
    eprintln!("{}", describe(&summary));
    if summary.cancelled > 0 {
        bail!("stopped; run the same command again to transcribe the {} files left", summary.cancelled);
    }
    if !summary.failed.is_empty() {
        bail!("{} of {} files could not be transcribed", summary.failed.len(), plan.todo.len());
    }
    Ok(())
}

/// Every core on the CPU (one file per core beats one file over all cores: a short file's
/// windows are too few to share out); on a GPU or a server, enough files to keep it fed.
fn default_workers(runtime: &MlRuntime) -> usize {
    match runtime.kind {
        BackendKind::Cpu => std::thread::available_parallelism().map_or(1, usize::from),
        BackendKind::Wgpu => 2,
        // Each file waits on the network between windows: several keep the server busy.
        BackendKind::Remote => 4,
    }
}

fn files_bar(files: usize) -> ProgressBar {
    let bar = ProgressBar::new(files as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} files  {per_sec}  ETA {eta}  {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The summary printed at the end: counts, speed, and each file that failed with its reason.
pub fn describe(summary: &BatchSummary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let rate = if summary.seconds > 0.0 { summary.written as f64 / summary.seconds } else { 0.0 };
    let _ = write!(
        out,
        "cadenza: batch: {} written, {} skipped (done before), {} failed, {} damaged (notes of what could be read)",
        summary.written,
        summary.skipped,
        summary.failed.len(),
        summary.damaged.len()
    );
    if summary.cancelled > 0 {
        let _ = write!(out, ", {} left for the next run", summary.cancelled);
    }
    let _ = write!(out, " in {:.1} s ({rate:.1} files/s)", summary.seconds);
    // Both reasons name their file.
    for (_, reason) in &summary.damaged {
        let _ = write!(out, "\n  damaged: {reason}");
    }
    for (_, reason) in &summary.failed {
        let _ = write!(out, "\n  failed: {reason}");
    }
    out
}
