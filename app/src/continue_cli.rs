//! `cadenza continue`: continue a MIDI file for N bars with the continuation model, the same
//! job the app's Continue panel runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use cadenza_engine::midi::write_song;
use cadenza_engine::ml::continuation::{
    ContinuationRequest, GenerationOptions, Instrument, STYLE_DESCRIPTIONS, STYLES, bar_length, bar_start,
    continuation_job, grouped_into, parse_instruments, parse_style,
};
use cadenza_engine::song::Song;
use cadenza_engine::timing::{BarBeat, bar_beat_to_tick};
use cadenza_engine::{Engine, EngineConfig, Event, JobOutput};

#[derive(clap::Args, Debug)]
pub struct ContinueArgs {
    /// The MIDI file to continue (its last bars are the prompt).
    #[arg(required_unless_present = "list_styles")]
    pub input: Option<PathBuf>,
    /// Bars to add.
    #[arg(long, default_value_t = 4)]
    pub bars: u32,
    /// A style from --list-styles.
    #[arg(long, default_value = "traditional")]
    pub style: String,
    /// Comma-separated instruments (see --list-styles); the prompt's own when omitted.
    #[arg(long, default_value = "")]
    pub instruments: String,
    /// Let a variation leave some of the instruments out (by default each one enters in the
    /// first bar; notes always stay in their instrument's range).
    #[arg(long)]
    pub allow_fewer_instruments: bool,
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    /// How strongly the style is followed: 0 = as the model predicts, 1 = the default.
    #[arg(long, default_value_t = GenerationOptions::default().style_guidance)]
    pub style_strength: f32,
    /// How many variations (seed, seed + 1, …).
    #[arg(short = 'n', long, default_value_t = 1)]
    pub variants: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The prompt's first bar (from 1); the whole file by default.
    #[arg(long)]
    pub from_bar: Option<u64>,
    /// A file for one variant, a folder (written as <stem>-<n>.mid) for several.
    #[arg(short, long, required_unless_present = "list_styles")]
    pub output: Option<PathBuf>,
    /// List the styles and instruments, and stop.
    #[arg(long)]
    pub list_styles: bool,
}

pub fn run(config: EngineConfig, args: &ContinueArgs) -> Result<()> {
    if args.list_styles {
        println!("styles:");
        for (name, about) in STYLES.iter().zip(STYLE_DESCRIPTIONS) {
            println!("  {name:<12} {about}");
        }
        let names: Vec<&str> = Instrument::ALL.iter().map(|i| i.name()).collect();
        println!("instruments: {}", names.join(", "));
        return Ok(());
    }
    let (Some(input), Some(output)) = (&args.input, &args.output) else {
        bail!("give an input MIDI file and -o OUTPUT");
    };
    let style = parse_style(&args.style).map_err(|e| anyhow!(e))?;
    if let Some(group) = grouped_into(&args.style) {
        eprintln!(
            "cadenza: note: {} has too few works in the corpus for a style of its own; using {group}",
            args.style.trim()
        );
    }
    let instruments = parse_instruments(&args.instruments).map_err(|e| anyhow!(e))?;
    let engine = Engine::spawn(EngineConfig { choose_backend_at_start: false, ..config })
        .context("could not start the engine")?;
    let song = match crate::cli::wait(&engine, engine.open_midi(input))? {
        JobOutput::SongLoaded { song, .. } => song,
        other => bail!("unexpected engine reply {other:?}"),
    };
    let end = bar_start(&song, song.end_tick().saturating_sub(1)) + bar_length(&song, song.end_tick());
    let from = match args.from_bar {
        Some(bar) if bar >= 1 => bar_beat_to_tick(song.ppq, &song.time_signatures, BarBeat { bar, beat: 1, tick: 0 }),
        Some(_) => bail!("bars are numbered from 1"),
        None => 0,
    };
    let end = if song.note_count() == 0 { 0 } else { end };
    let request = ContinuationRequest {
        from: from.min(end),
        to: end,
        tracks: (0..song.tracks.len()).collect(),
        style,
        instruments,
        variations: args.variants.max(1),
        options: GenerationOptions {
            bars: args.bars.max(1),
            temperature: args.temperature.max(0.0),
            top_p: args.top_p.clamp(0.01, 1.0),
            style_guidance: args.style_strength.clamp(0.0, 4.0),
            seed: args.seed,
            every_instrument: !args.allow_fewer_instruments,
            ..GenerationOptions::default()
        },
    };
    let id = engine.submit(continuation_job(song.clone(), request));
    let (mut streamed, mut result) = (0usize, None);
    for event in engine.events().iter() {
        match event {
            Event::ContinuationNote(note) if note.id == id => {
                streamed += 1;
                if streamed == 1 {
                    eprintln!("cadenza: first note after the prompt: {} at tick {}", note.note.pitch, note.note.start);
                }
            }
            Event::JobFinished { id: job, output } if job == id => {
                result = Some(output);
                break;
            }
            Event::JobFailed { id: job, message } if job == id => bail!(message),
            Event::JobCancelled { id: job } if job == id => bail!("cancelled"),
            Event::Notice(text) => eprintln!("cadenza: note: {text}"),
            _ => {}
        }
    }
    let Some(JobOutput::Continued { variations, notices, tokens_per_second, first_note_seconds }) = result else {
        bail!("the engine stopped before the continuation finished");
    };
    for notice in notices {
        eprintln!("cadenza: note: {notice}");
    }
    let paths = output_paths(input, output, variations.len())?;
    for (tracks, path) in variations.iter().zip(&paths) {
        let mut continued: Song = (*song).clone();
        let notes: usize = tracks.iter().map(|t| t.notes.len()).sum();
        continued.tracks.extend(tracks.iter().cloned());
        write_song(&continued, path).with_context(|| format!("{}: cannot write", path.display()))?;
        eprintln!("cadenza: {} ({notes} new notes in {} tracks)", path.display(), tracks.len());
    }
    eprintln!(
        "cadenza: {tokens_per_second:.0} tokens/s, first note after {}",
        first_note_seconds.map_or_else(|| "-".into(), |s| format!("{:.0} ms", s * 1e3))
    );
    Ok(())
}

fn output_paths(input: &Path, output: &Path, count: usize) -> Result<Vec<PathBuf>> {
    if count == 1 && !output.is_dir() {
        return Ok(vec![output.to_path_buf()]);
    }
    std::fs::create_dir_all(output).with_context(|| format!("{}: cannot create the folder", output.display()))?;
    let stem = input.file_stem().map_or_else(|| "continuation".into(), |s| s.to_string_lossy().into_owned());
    Ok((1..=count).map(|i| output.join(format!("{stem}-{i}.mid"))).collect())
}
