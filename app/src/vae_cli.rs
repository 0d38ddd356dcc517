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
    /// Which model: 2 or 16 bars.
    #[arg(long, default_value_t = 2, value_parser = parse_bars)]
    pub bars: usize,
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

/// The clip's notes in quarters from its start: `bars` bars from `from_bar`.
fn read_clip(path: &Path, args: &ClipArgs) -> Result<(Vec<TimedNote>, Song)> {
    let song = read_song(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let ppq = u64::from(song.ppq.max(1));
    let from = args.from_bar as u64 * 4 * ppq;
    let to = from + args.bars as u64 * 4 * ppq;
    let tracks: Vec<usize> = match args.track {
        Some(n) if n >= 1 && n <= song.tracks.len() => vec![n - 1],
        Some(n) => bail!("{}: there is no track {n} (the file has {})", path.display(), song.tracks.len()),
        None => (0..song.tracks.len()).filter(|&i| !song.tracks[i].is_drum).collect(),
    };
    let notes: Vec<TimedNote> = tracks.iter().flat_map(|&t| latent::clip_notes(&song, t, from, to)).collect();
    if notes.is_empty() {
        bail!(
            "{}: no notes in bars {}–{} (choose another --from-bar or --track)",
            path.display(),
            args.from_bar + 1,
            args.from_bar + args.bars
        );
    }
    Ok((notes, song))
}

fn encode_clip(vae: &MelodyVae, path: &Path, args: &ClipArgs) -> Result<(Vec<f32>, u8)> {
    let (notes, _) = read_clip(path, args)?;
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
            let vae = load(clip.bars)?;
            let (code, velocity) = encode_clip(&vae, input, clip)?;
            let melody = vae.decode(&[code], 0.0, 0).remove(0);
            let notes =
                write_melodies(output, &[melody.to_notes(0.0, velocity)], clip.bars, velocity, "reconstruction")?;
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
            let vae = load(clip.bars)?;
            let (za, va) = encode_clip(&vae, a, clip)?;
            let (zb, vb) = encode_clip(&vae, b, clip)?;
            let path = MelodyVae::interpolate(&za, &zb, (*steps).max(2));
            let melodies: Vec<Vec<TimedNote>> = vae.decode(&path, 0.0, 0).iter().map(|m| m.to_notes(0.0, 90)).collect();
            let velocity = ((u16::from(va) + u16::from(vb)) / 2) as u8;
            let notes = write_melodies(output, &melodies, clip.bars, velocity, "interpolation")?;
            eprintln!(
                "cadenza: {} steps from {} to {} → {} ({notes} notes)",
                path.len(),
                a.display(),
                b.display(),
                output.display()
            );
        }
        VaeCommand::Attribute { input, name, amount, output, clip } => {
            let vae = load(clip.bars)?;
            let (code, velocity) = encode_clip(&vae, input, clip)?;
            let moved = vae.with_attribute(&code, name, *amount)?;
            let decoded = vae.decode(&[code, moved], 0.0, 0);
            let before = MelodyVae::measure(name, &decoded[0]);
            let after = MelodyVae::measure(name, &decoded[1]);
            let notes = write_melodies(
                output,
                &[decoded[1].to_notes(0.0, velocity)],
                clip.bars,
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
