//! `cadenza vae`: the melody models from the command line (reconstruct, sample, interpolate,
//! attribute), the same operations the Interpolate tab runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cadenza_engine::midi::{read_song, write_song};
use cadenza_engine::ml::latent::{self, MelodyVae, TimedNote, VaeSize, mean_velocity};
use cadenza_engine::song::{Song, Track};

#[derive(clap::Subcommand, Debug)]
pub enum VaeCommand {
    /// Encode a clip and decode it again (shows what the model keeps).
    Reconstruct {
        input: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        clip: ClipArgs,
    },
    /// Melodies drawn from the model's prior, one file each.
    Sample {
        #[arg(long, default_value_t = 2, value_parser = parse_bars)]
        bars: usize,
        #[arg(short = 'n', long, default_value_t = 4)]
        count: usize,
        #[arg(long, default_value_t = 0.5)]
        temperature: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A folder: sample-01.mid, sample-02.mid, …
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Every step between two clips, one after another in one track.
    Interpolate {
        a: PathBuf,
        b: PathBuf,
        #[arg(long, default_value_t = 5)]
        steps: usize,
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        clip: ClipArgs,
    },
    /// Move a clip along an attribute vector (density, pitch, range, syncopation).
    Attribute {
        input: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
        amount: f32,
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        clip: ClipArgs,
    },
}

#[derive(clap::Args, Debug)]
pub struct ClipArgs {
    /// Which model: 2 or 16 bars. Without it the clip's length decides: the 16-bar model for a
    /// clip longer than 2 bars, else the 2-bar one (and the choice is printed).
    #[arg(long, value_parser = parse_bars)]
    pub bars: Option<usize>,
    /// Only this track (numbered from 1 as `cadenza info` shows); all tracks' top line by default.
    #[arg(long)]
    pub track: Option<usize>,
    /// Start of the clip, in bars of 4 beats from the file's start.
    #[arg(long, default_value_t = 0)]
    pub from_bar: usize,
}

fn parse_bars(s: &str) -> Result<usize, String> {
    match s {
        "2" => Ok(2),
        "16" => Ok(16),
        other => Err(format!("{other}: the models are 2 or 16 bars long")),
    }
}

fn size_of(bars: usize) -> VaeSize {
    if bars == 16 { VaeSize::SixteenBar } else { VaeSize::TwoBar }
}

fn load(bars: usize) -> Result<MelodyVae> {
    latent::shipped_model(size_of(bars)).context("could not load the melody model")
}

/// The tracks a clip is read from: the one asked for, else every track but drums.
fn clip_tracks(path: &Path, song: &Song, args: &ClipArgs) -> Result<Vec<usize>> {
    Ok(match args.track {
        Some(n) if n >= 1 && n <= song.tracks.len() => vec![n - 1],
        Some(n) => bail!("{}: there is no track {n} (the file has {})", path.display(), song.tracks.len()),
        None => (0..song.tracks.len()).filter(|&i| !song.tracks[i].is_drum).collect(),
    })
}

/// The clip's notes in quarters from its start: `bars` bars from `from_bar`.
fn read_clip(path: &Path, args: &ClipArgs, bars: usize) -> Result<(Vec<TimedNote>, Song)> {
    let song = read_song(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let ppq = u64::from(song.ppq.max(1));
    let from = args.from_bar as u64 * 4 * ppq;
    let to = from + bars as u64 * 4 * ppq;
    let notes: Vec<TimedNote> =
        clip_tracks(path, &song, args)?.iter().flat_map(|&t| latent::clip_notes(&song, t, from, to)).collect();
    if notes.is_empty() {
        bail!(
            "{}: no notes in bars {}–{} (choose another --from-bar or --track)",
            path.display(),
            args.from_bar + 1,
            args.from_bar + bars
        );
    }
    Ok((notes, song))
}

/// How many bars of 4 beats the clip's notes span from `from_bar` (to the last note's end).
fn clip_length_bars(path: &Path, args: &ClipArgs) -> Result<f64> {
    let song = read_song(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let ppq = u64::from(song.ppq.max(1));
    let from = args.from_bar as u64 * 4 * ppq;
    let end = clip_tracks(path, &song, args)?
        .iter()
        .flat_map(|&t| latent::clip_notes(&song, t, from, u64::MAX))
        .map(|n| n.end)
        .fold(0.0, f64::max);
    Ok(end / 4.0)
}

/// The model for these clips: `--bars` when given, else the 16-bar model for clips longer than
/// 2 bars, saying so (a musician handing over a whole tune should not get its first 2 bars back).
fn choose_bars(paths: &[&Path], args: &ClipArgs) -> Result<usize> {
    if let Some(bars) = args.bars {
        return Ok(bars);
    }
    let mut longest = 0.0f64;
    for path in paths {
        longest = longest.max(clip_length_bars(path, args)?);
    }
    let bars = if longest > 2.0 + 1e-6 { 16 } else { 2 };
    let why = if bars == 16 { "longer than 2 bars" } else { "2 bars or shorter" };
    eprintln!(
        "cadenza: using the {bars}-bar model: the clip runs {longest:.1} bars from bar {} ({why}; --bars chooses)",
        args.from_bar + 1
    );
    if longest > bars as f64 + 1e-6 {
        eprintln!(
            "cadenza: note: the model reads bars {}–{}; the rest is left out (--from-bar chooses where it starts)",
            args.from_bar + 1,
            args.from_bar + bars
        );
    }
    Ok(bars)
}

fn encode_clip(vae: &MelodyVae, path: &Path, args: &ClipArgs) -> Result<(Vec<f32>, u8)> {
    let (notes, _) = read_clip(path, args, vae.bars())?;
    let prepared = vae.prepare(&notes).with_context(|| format!("{}", path.display()))?;
    for notice in &prepared.notices {
        eprintln!("cadenza: note: {}: {notice}", path.display());
    }
    let code = vae.encode(&[&prepared.melody]).into_iter().next().context("the model returned no code")?;
    Ok((code, mean_velocity(&notes)))
}

/// Writes melodies one after another (each `bars` bars) as one piano track.
fn write_melodies(path: &Path, melodies: &[Vec<TimedNote>], bars: usize, velocity: u8, name: &str) -> Result<usize> {
    let mut song = Song::new(cadenza_engine::song::DEFAULT_PPQ);
    let mut track = Track::new(name, 0, 0);
    for (i, notes) in melodies.iter().enumerate() {
        let at = (i * bars * 4) as u64 * u64::from(song.ppq);
        for note in latent::song_notes(notes, song.ppq, at, velocity) {
            track.insert_note(note);
        }
    }
    let count = track.notes.len();
    song.tracks.push(track);
    write_song(&song, path).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(count)
}

pub fn run(command: &VaeCommand) -> Result<()> {
    match command {
        VaeCommand::Reconstruct { input, output, clip } => {
            let vae = load(choose_bars(&[input], clip)?)?;
            let (code, velocity) = encode_clip(&vae, input, clip)?;
            let melody = vae.decode(&[code], 0.0, 0).remove(0);
            let notes =
                write_melodies(output, &[melody.to_notes(0.0, velocity)], vae.bars(), velocity, "reconstruction")?;
            eprintln!("cadenza: {} → {} ({notes} notes)", input.display(), output.display());
        }
        VaeCommand::Sample { bars, count, temperature, seed, output } => {
            let vae = load(*bars)?;
            std::fs::create_dir_all(output)
                .with_context(|| format!("{}: cannot create the folder", output.display()))?;
            let codes = vae.prior_codes(*count, *seed);
            for (i, melody) in vae.decode(&codes, *temperature, *seed).iter().enumerate() {
                let path = output.join(format!("sample-{:02}.mid", i + 1));
                let notes =
                    write_melodies(&path, &[melody.to_notes(0.0, 90)], *bars, 90, &format!("sample {}", i + 1))?;
                eprintln!("cadenza: {} ({notes} notes)", path.display());
            }
        }
        VaeCommand::Interpolate { a, b, steps, output, clip } => {
            let vae = load(choose_bars(&[a, b], clip)?)?;
            let (za, va) = encode_clip(&vae, a, clip)?;
            let (zb, vb) = encode_clip(&vae, b, clip)?;
            let path = MelodyVae::interpolate(&za, &zb, (*steps).max(2));
            let melodies: Vec<Vec<TimedNote>> = vae.decode(&path, 0.0, 0).iter().map(|m| m.to_notes(0.0, 90)).collect();
            let velocity = ((u16::from(va) + u16::from(vb)) / 2) as u8;
            let notes = write_melodies(output, &melodies, vae.bars(), velocity, "interpolation")?;
            eprintln!(
                "cadenza: {} steps from {} to {} → {} ({notes} notes)",
                path.len(),
                a.display(),
                b.display(),
                output.display()
            );
        }
        VaeCommand::Attribute { input, name, amount, output, clip } => {
            let vae = load(choose_bars(&[input], clip)?)?;
            let (code, velocity) = encode_clip(&vae, input, clip)?;
            let moved = vae.with_attribute(&code, name, *amount)?;
            let decoded = vae.decode(&[code, moved], 0.0, 0);
            let before = MelodyVae::measure(name, &decoded[0]);
            let after = MelodyVae::measure(name, &decoded[1]);
            let notes = write_melodies(
                output,
                &[decoded[1].to_notes(0.0, velocity)],
                vae.bars(),
                velocity,
                &format!("{name} {amount:+}"),
            )?;
            eprintln!(
                "cadenza: {name} {:.2} → {:.2}; wrote {} ({notes} notes)",
                before.unwrap_or(0.0),
                after.unwrap_or(0.0),
                output.display()
            );
        }
    }
    Ok(())
}
