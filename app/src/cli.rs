//! Headless subcommands. They drive the engine through the same commands and events as the GUI.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cadenza_engine::song::Song;
use cadenza_engine::timing::format_seconds;
use cadenza_engine::{BackendKind, Engine, EngineConfig, EngineHandle, Event, JobId, JobOutput};
use cadenza_engine::{gm, project};
use indicatif::{ProgressBar, ProgressStyle};

/// Starts the engine for a job that runs no model, so no graphics driver is probed.
pub fn start(config: EngineConfig) -> Result<EngineHandle> {
    let config = EngineConfig { choose_backend_at_start: false, ..config };
    Engine::spawn(config).context("could not start the engine thread")
}

/// Waits for a job, drawing a progress bar when `bar` is set and printing notices.
fn wait_for(engine: &EngineHandle, id: JobId, bar: Option<&ProgressBar>) -> Result<JobOutput> {
    for event in engine.events().iter() {
        match event {
            Event::JobProgress { id: job, fraction, message } if job == id => {
                if let Some(bar) = bar {
                    bar.set_position((fraction * 1000.0) as u64);
                    bar.set_message(message);
                }
            }
            Event::JobFinished { id: job, output } if job == id => return Ok(output),
            Event::JobFailed { id: job, message } if job == id => bail!(message),
            Event::JobCancelled { id: job } if job == id => bail!("cancelled"),
            Event::Notice(text) => note(bar, &text),
            // Where a server was asked for, say whether it is used (a local choice is quiet).
            Event::Backend { kind, reason, .. } if kind == BackendKind::Remote || reason.contains("remote://") => {
                note(bar, &backend_line(kind, reason));
            }
            _ => {}
        }
    }
    bail!("the engine stopped unexpectedly")
}

/// Waits for the engine's backend choice and says it, with what else it said meanwhile.
fn wait_for_backend(engine: &EngineHandle) {
    let patience = cadenza_models::remote::CONNECT_TIMEOUT + Duration::from_secs(5);
    while let Ok(event) = engine.events().recv_timeout(patience) {
        match event {
            Event::Backend { kind, reason, .. } => return note(None, &backend_line(kind, reason)),
            Event::Notice(text) => note(None, &text),
            _ => {}
        }
    }
}

/// What the backend choice says: the server in use, or why it is not.
fn backend_line(kind: BackendKind, reason: String) -> String {
    if kind == BackendKind::Remote { format!("models on {reason}") } else { reason }
}

fn note(bar: Option<&ProgressBar>, text: &str) {
    match bar {
        Some(bar) => bar.suspend(|| eprintln!("cadenza: note: {text}")),
        None => eprintln!("cadenza: note: {text}"),
    }
}

/// Waits for a job without a progress bar.
pub fn wait(engine: &EngineHandle, id: JobId) -> Result<JobOutput> {
    wait_for(engine, id, None)
}

fn open(engine: &EngineHandle, path: &Path) -> Result<std::sync::Arc<Song>> {
    match wait_for(engine, engine.open_midi(path), None)? {
        JobOutput::SongLoaded { song, .. } => Ok(song),
        other => bail!("unexpected engine reply {other:?}"),
    }
}

pub fn info(config: EngineConfig, path: &Path) -> Result<()> {
    let engine = start(config)?;
    let song = open(&engine, path)?;
    print!("{}", describe(&song, path));
    Ok(())
}

/// The `info` report.
pub fn describe(song: &Song, path: &Path) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let end = song.end_tick();
    let bars = if end == 0 { 0 } else { song.tick_to_bar_beat(end.saturating_sub(1)).bar };
    let _ = writeln!(out, "File:      {}", path.display());
    let _ = writeln!(out, "PPQ:       {}", song.ppq);
    let _ = writeln!(out, "Length:    {} ({bars} bars, {end} ticks)", format_seconds(song.duration_seconds()));
    // Files often repeat a change with the same value (at every section); show real changes.
    let tempos = distinct(song.tempos.iter().map(|t| format!("{:.1}", t.bpm())));
    let _ = writeln!(out, "Tempo:     {} BPM", summarise(&tempos));
    let sigs = distinct(song.time_signatures.iter().map(|s| format!("{}/{}", s.numerator, s.denominator)));
    let _ = writeln!(out, "Time:      {}", summarise(&sigs));
    let key = song.key_signature().map_or_else(|| "not set".to_string(), |k| k.name());
    let _ = writeln!(out, "Key:       {key}");
    let _ = writeln!(out, "Tracks:    {} ({} notes)", song.tracks.len(), song.note_count());
    let _ = writeln!(out, "  #  {:<24} {:<30} {:>3} {:>6}  range", "name", "program", "ch", "notes");
    for (i, track) in song.tracks.iter().enumerate() {
        let program = if track.is_drum {
            "Drums".to_string()
        } else {
            format!("{} ({})", gm::program_name(track.program), track.program)
        };
        let low = track.notes.iter().map(|n| n.pitch).min();
        let high = track.notes.iter().map(|n| n.pitch).max();
        let range = match (low, high) {
            (Some(l), Some(h)) => format!("{}–{}", gm::pitch_name(l), gm::pitch_name(h)),
            _ => "-".into(),
        };
        let name: String = track.name.chars().take(24).collect();
        let _ = writeln!(
            out,
            "{:>3}  {:<24} {:<30} {:>3} {:>6}  {range}",
            i + 1,
            name,
            program,
            track.channel + 1,
            track.notes.len()
        );
    }
    out
}

/// MIDI file or project in, MIDI file or project out (a project when OUTPUT ends in `.cadenza`
/// or is one); a project is written atomically, so a crash leaves the old one or the new one.
pub fn convert(config: EngineConfig, input: &Path, output: &Path) -> Result<()> {
    let engine = start(config)?;
    let song = if project::is_project(input) { open_project(&engine, input)? } else { open(&engine, input)? };
    let written = if writes_project(output) {
        match wait(&engine, engine.save_project(Some(output.to_path_buf())))? {
            JobOutput::ProjectSaved { dir, .. } => dir,
            other => bail!("unexpected engine reply {other:?}"),
        }
    } else {
        wait(&engine, engine.export_midi(output))?;
        output.to_path_buf()
    };
    eprintln!("cadenza: wrote {} ({} tracks, {} notes)", written.display(), song.tracks.len(), song.note_count());
    Ok(())
}

fn writes_project(output: &Path) -> bool {
    output.extension().is_some_and(|e| e == project::PROJECT_EXTENSION) || project::is_project(output)
}

/// Opens a project folder as the current song (its takes come with it).
pub fn open_project(engine: &EngineHandle, path: &Path) -> Result<std::sync::Arc<Song>> {
    match wait(engine, engine.open_project(path))? {
        JobOutput::ProjectLoaded { data, .. } => Ok(std::sync::Arc::new(data.song)),
        other => bail!("unexpected engine reply {other:?}"),
    }
}

pub fn render(config: EngineConfig, input: &Path, output: &Path) -> Result<()> {
    let engine = start(config)?;
    open(&engine, input)?;
    let bar = progress_bar();
    let result = wait_for(&engine, engine.render(output, None), Some(&bar));
    bar.finish_and_clear();
    match result? {
        JobOutput::Rendered { path, seconds, synth } => {
            eprintln!("cadenza: rendered {} ({}, {synth})", path.display(), format_seconds(seconds));
            Ok(())
        }
        other => bail!("unexpected engine reply {other:?}"),
    }
}

/// `cadenza transcribe`: basic-pitch's options, Cadenza's fixes on by default.
#[derive(clap::Args, Debug)]
pub struct TranscribeArgs {
    /// Audio files, or folders: a folder is walked recursively and transcribed as a batch.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// A .mid file for one input, or a folder for several (each written as <stem>.mid; a
    /// batch keeps its folders' structure there).
    #[arg(short, long)]
    pub output: PathBuf,
    /// A batch's files transcribed at once [default: every core on the CPU, 2 on a GPU, 4 on a
    /// remote server].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// In a batch, transcribe again the files whose MIDI file exists (by default they are
    /// done and skipped, so a batch that was stopped finishes where it was).
    #[arg(long)]
    pub redo: bool,
    /// Onset probability needed to start a note (0–1).
    #[arg(long, default_value_t = 0.5)]
    pub onset_threshold: f64,
    /// Note probability needed to keep a note sounding (0–1).
    #[arg(long, default_value_t = 0.3)]
    pub frame_threshold: f64,
    /// Shortest note kept, in milliseconds.
    #[arg(long, default_value_t = 127.70)]
    pub min_note_ms: f64,
    /// Ignore notes below this frequency.
    #[arg(long)]
    pub min_hz: Option<f64>,
    /// Ignore notes above this frequency.
    #[arg(long)]
    pub max_hz: Option<f64>,
    /// Only notes that start with an onset (no "melodia" pass for the rest).
    #[arg(long)]
    pub no_melodia: bool,
    /// Tempo of the MIDI file written.
    #[arg(long, default_value_t = 120.0)]
    pub tempo: f64,
    /// Pitch bends in the MIDI file: none, single (one channel; overlapping notes lose theirs),
    /// or multi (notes spread over channels so every note keeps its bends).
    #[arg(long, value_enum, default_value_t = BendsArg::Single)]
    pub pitch_bends: BendsArg,
    /// Reproduce basic-pitch 0.4.0 exactly, faults included (dropped file end, drifting note
    /// times, +1/3-semitone bends, false notes in near-silence).
    #[arg(long)]
    pub compat: bool,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BendsArg {
    None,
    Single,
    Multi,
}

/// Transcribes each input; a bad file is reported and the others still finish.
pub fn transcribe(config: EngineConfig, args: &TranscribeArgs) -> Result<()> {
    let options = transcribe_options(args);
    if args.inputs.iter().any(|input| input.is_dir()) {
        return crate::batch_cli::transcribe_library(&config, args, &options);
    }
    if args.inputs.len() > 1 || args.output.is_dir() {
        std::fs::create_dir_all(&args.output)
            .with_context(|| format!("{}: cannot create the output folder", args.output.display()))?;
    }
    let asks_for_a_server = matches!(config.backend, cadenza_engine::BackendPreference::Remote(_));
    let engine = Engine::spawn(EngineConfig { choose_backend_at_start: true, ..config })
        .context("could not start the engine thread")?;
    if asks_for_a_server {
        // Said before any file, whether the server answered or not (a short file would finish
        // on the CPU while the connection is still being tried, and the answer go unheard).
        wait_for_backend(&engine);
    }
    let mut failures = 0;
    let found: Vec<(PathBuf, PathBuf)> = args.inputs.iter().map(|input| (input.clone(), PathBuf::new())).collect();
    let names = cadenza_engine::ml::transcription::batch::midi_names(&found);
    for (input, name) in args.inputs.iter().zip(names) {
        let target = if args.output.is_dir() { args.output.join(name) } else { args.output.clone() };
        let bar = progress_bar();
        let result = wait_for(&engine, engine.transcribe(input, options.clone()), Some(&bar));
        bar.finish_and_clear();
        let written = result.and_then(|output| match output {
            JobOutput::Transcribed { song, .. } => {
                cadenza_engine::midi::write_song(&song, &target)
                    .with_context(|| format!("{}: cannot write", target.display()))?;
                Ok(song.note_count())
            }
            other => bail!("unexpected engine reply {other:?}"),
        });
        match written {
            Ok(notes) => eprintln!("cadenza: {} → {} ({notes} notes)", input.display(), target.display()),
            Err(err) => {
                failures += 1;
                eprintln!("cadenza: error: {}", format!("{err:#}").replace('\n', " "));
            }
        }
    }
    if failures > 0 {
        bail!("{failures} of {} files could not be transcribed", args.inputs.len());
    }
    Ok(())
}

/// The options `args` ask for.
fn transcribe_options(args: &TranscribeArgs) -> cadenza_engine::ml::transcription::TranscribeOptions {
    use cadenza_engine::ml::transcription::{Mode, PitchBends, TranscribeOptions};
    TranscribeOptions {
        notes: cadenza_engine::ml::transcription::NoteSettings {
            onset_threshold: args.onset_threshold,
            frame_threshold: args.frame_threshold,
            melodia_trick: !args.no_melodia,
            min_hz: args.min_hz,
            max_hz: args.max_hz,
            ..Default::default()
        },
        min_note_ms: args.min_note_ms,
        tempo_bpm: args.tempo,
        mode: if args.compat { Mode::Compatible } else { Mode::Cadenza },
        pitch_bends: match args.pitch_bends {
            BendsArg::None => PitchBends::None,
            BendsArg::Single => PitchBends::Single,
            BendsArg::Multi => PitchBends::Multi,
        },
    }
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:>10} [{bar:40}] {percent:>3}% {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Drops consecutive repeats.
fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        if out.last() != Some(&value) {
            out.push(value);
        }
    }
    out
}

/// "a → b → c", or the first six and a count.
fn summarise(changes: &[String]) -> String {
    let shown = changes.iter().take(6).cloned().collect::<Vec<_>>().join(" → ");
    if changes.len() > 6 { format!("{shown} … ({} changes)", changes.len()) } else { shown }
}
