//! `cadenza record` and `cadenza recover`: recording a take into a project without the window,
//! and taking back the unsaved work that a crash (or a killed terminal) left behind.
//!
//! Both drive the engine exactly as the window does: the take is written as it is captured, the
//! recovery file lists it from its first frame, and the project is saved atomically at the end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use cadenza_engine::devices::recorder::RecordingMeter;
use cadenza_engine::playback::OutputChoice;
use cadenza_engine::project::{self, Recovery, Take};
use cadenza_engine::timing::format_seconds;
use cadenza_engine::{Command, Engine, EngineConfig, EngineHandle, Event, JobOutput};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli;

#[derive(clap::Args, Debug)]
pub struct RecordArgs {
    /// The project folder the take goes into (made when it does not exist).
    pub project: PathBuf,
    /// The audio input [default: the system's]; `file:PATH.wav` plays a WAV as if it were one.
    #[arg(long)]
    pub input: Option<String>,
    /// Stop after this many seconds [default: on Ctrl-C, or when the input ends].
    #[arg(long)]
    pub seconds: Option<f64>,
}

#[derive(clap::Args, Debug)]
pub struct RecoverArgs {
    /// Restore the unsaved work and save it as a project: into this folder, or into the
    /// project it came from when none is given.
    #[arg(long, value_name = "PROJECT", num_args = 0..=1, conflicts_with = "discard")]
    pub save: Option<Option<PathBuf>>,
    /// Throw the unsaved work away.
    #[arg(long)]
    pub discard: bool,
}

/// A live engine (the recorder, autosave and the recovery file need one) that plays nothing.
fn start_live(config: EngineConfig) -> Result<EngineHandle> {
    let config = EngineConfig { live: true, output: OutputChoice::Silent, choose_backend_at_start: false, ..config };
    Engine::spawn(config).context("could not start the engine thread")
}

pub fn record(config: EngineConfig, args: &RecordArgs) -> Result<()> {
    // The engine overwrites the recovery file as it autosaves: unsaved work waiting in it
    // would be lost, so it must be taken or thrown away first.
    if let Some(found) = project::find_recovery(&config.state_dir) {
        let what = found.map_or_else(|err| format!("an unreadable recovery file ({err})"), |r| summary(&r));
        bail!(
            "unsaved work is waiting: {what}; run `cadenza recover --save [PROJECT]` or `cadenza recover --discard` first"
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // Ctrl-C or a plain `kill` ends the take cleanly: stopped, saved, reported.
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)).context("cannot watch for Ctrl-C")?;

    let engine = start_live(config)?;
    let dir = open_or_create(&engine, &args.project)?;
    engine.send(Command::RecordAudio { device: args.input.clone() });
    let (path, meter) = wait_until_recording(&engine)?;
    let name = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    eprintln!("cadenza: recording {name} into {} (Ctrl-C stops)", dir.display());

    let limit = args.seconds.map(Duration::from_secs_f64);
    let bar = recording_bar(&name);
    let started = Instant::now();
    // Basic Pitch listens as the take records: its final notes are counted as they come.
    let mut live_notes = 0;
    while !stop.load(Ordering::Relaxed) && !meter.is_finished() && limit.is_none_or(|l| started.elapsed() < l) {
        match engine.events().recv_timeout(Duration::from_millis(100)) {
            Ok(Event::Notice(text)) => bar.suspend(|| eprintln!("cadenza: note: {text}")),
            Ok(Event::CommandFailed(text)) => bar.suspend(|| eprintln!("cadenza: error: {text}")),
            Ok(Event::LiveNotes(live)) => live_notes += live.committed.len(),
            Ok(_) | Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => bail!("the engine stopped unexpectedly"),
        }
        bar.set_message(meter_line(&meter, live_notes));
    }
    bar.finish_and_clear();

    engine.send(Command::StopRecordAudio);
    let take = wait_for_take(&engine, &name)?;
    let saved = match cli::wait(&engine, engine.save_project(None))? {
        JobOutput::ProjectSaved { dir, .. } => dir,
        other => bail!("unexpected engine reply {other:?}"),
    };
    let seconds = take.frames as f64 / f64::from(take.sample_rate.max(1));
    eprintln!("cadenza: {name} ({}) saved in {}", format_seconds(seconds), saved.display());
    Ok(())
}

/// Opens the project, or starts an empty one saved at `path` so the take is written there.
fn open_or_create(engine: &EngineHandle, path: &Path) -> Result<PathBuf> {
    if project::is_project(path) {
        cli::open_project(engine, path)?;
        return Ok(project::project_dir(path));
    }
    engine.send(Command::NewSong);
    match cli::wait(engine, engine.save_project(Some(path.to_path_buf())))? {
        JobOutput::ProjectSaved { dir, .. } => Ok(dir),
        other => bail!("unexpected engine reply {other:?}"),
    }
}

fn wait_until_recording(engine: &EngineHandle) -> Result<(PathBuf, Arc<RecordingMeter>)> {
    for event in engine.events().iter() {
        match event {
            Event::RecordingStarted { path, meter } => return Ok((path, meter)),
            Event::CommandFailed(text) => bail!(text),
            Event::Notice(text) => eprintln!("cadenza: note: {text}"),
            _ => {}
        }
    }
    bail!("the engine stopped unexpectedly")
}

/// The take as the engine listed it once the recorder stopped.
fn wait_for_take(engine: &EngineHandle, name: &str) -> Result<Take> {
    let mut take = None;
    for event in engine.events().iter() {
        match event {
            Event::Takes { takes, .. } => take = takes.into_iter().find(|t| t.name == name),
            Event::RecordingStopped => return take.with_context(|| format!("{name} is not among the project's takes")),
            Event::CommandFailed(text) => bail!(text),
            Event::Notice(text) => eprintln!("cadenza: note: {text}"),
            _ => {}
        }
    }
    bail!("the engine stopped unexpectedly")
}

fn recording_bar(name: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(name.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn meter_line(meter: &RecordingMeter, live_notes: usize) -> String {
    let peak = meter.take_peak();
    let level = if peak > 0.0 { format!("{:>5.1} dBFS", 20.0 * peak.log10()) } else { "silent".into() };
    let notes = if live_notes > 0 { format!(", {live_notes} notes heard") } else { String::new() };
    format!("{}  peak {level}{notes}", format_seconds(meter.seconds()))
}

pub fn recover(config: EngineConfig, args: &RecoverArgs) -> Result<()> {
    let found = match project::find_recovery(&config.state_dir) {
        None => {
            eprintln!("cadenza: nothing to recover (every session ended cleanly)");
            return Ok(());
        }
        Some(found) => found.context("the recovery file cannot be read")?,
    };
    eprintln!("cadenza: unsaved work: {}", summary(&found));
    if !args.discard && args.save.is_none() {
        eprintln!("cadenza: `cadenza recover --save [PROJECT]` keeps it, `cadenza recover --discard` throws it away");
        return Ok(());
    }
    let target = match &args.save {
        Some(Some(path)) => Some(path.clone()),
        Some(None) => match &found.data.project {
            Some(dir) => Some(dir.clone()),
            None => bail!("the unsaved work belongs to no project: name a folder, `cadenza recover --save PROJECT`"),
        },
        None => None,
    };
    let engine = start_live(config)?;
    wait_for_offer(&engine)?;
    let Some(target) = target else {
        engine.send(Command::DiscardRecovery);
        drop(engine);
        eprintln!("cadenza: the unsaved work was thrown away");
        return Ok(());
    };
    engine.send(Command::RestoreRecovery);
    let saved = match cli::wait(&engine, engine.save_project(Some(target)))? {
        JobOutput::ProjectSaved { dir, .. } => dir,
        other => bail!("unexpected engine reply {other:?}"),
    };
    // Saved: the engine clears the recovery file as it shuts down cleanly.
    drop(engine);
    eprintln!("cadenza: recovered into {}", saved.display());
    Ok(())
}

/// The live engine finds the same recovery file at start and offers it.
fn wait_for_offer(engine: &EngineHandle) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match engine.events().recv_deadline(deadline) {
            Ok(Event::RecoveryAvailable { .. }) => return Ok(()),
            Ok(Event::Notice(text)) => eprintln!("cadenza: note: {text}"),
            Ok(_) => {}
            Err(_) => bail!("the engine did not offer the recovery file"),
        }
    }
}

/// "saved 2 min ago, project song.cadenza, 120 notes, takes: take-001 (12.3 s)".
fn summary(found: &Recovery) -> String {
    let data = &found.data;
    let when = found
        .saved_at
        .and_then(|at| SystemTime::now().duration_since(at).ok())
        .map_or_else(|| "at an unknown time".into(), |ago| format!("{} ago", format_seconds(ago.as_secs_f64())));
    let project = data.project.as_ref().map_or_else(|| "a new project".into(), |p| p.display().to_string());
    let takes: Vec<String> = data
        .takes
        .iter()
        .map(|t| format!("{} ({})", t.name, format_seconds(t.frames as f64 / f64::from(t.sample_rate.max(1)))))
        .collect();
    let takes = if takes.is_empty() { "no takes".into() } else { format!("takes: {}", takes.join(", ")) };
    format!("saved {when}, {project}, {} notes, {takes}", data.song.note_count())
}
