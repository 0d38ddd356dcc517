//! `cadenza`: the GUI with no subcommand, or headless jobs from the command line.

use cadenza::{cli, continue_cli, gui, record_cli, serve_cli, vae_cli};

use std::path::PathBuf;
use std::process::ExitCode;

use cadenza_engine::synth::SoundFontChoice;
use cadenza_engine::{BackendPreference, EngineConfig};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cadenza", version, about = "Cadenza: a music workstation with on-device machine learning")]
struct Cli {
    /// ML backend: auto (wgpu on a GPU, else CPU), cpu, wgpu, or remote://[TOKEN@]HOST:PORT (a
    /// `cadenza serve` server; the CPU when it cannot be reached).
    #[arg(long, global = true, env = "CADENZA_BACKEND", default_value = "auto", value_parser = parse_backend)]
    backend: BackendPreference,
    /// General MIDI SoundFont (.sf2) for playback and rendering, or `builtin` [default: search
    /// $CADENZA_SOUNDFONT, then the system SoundFont folders].
    #[arg(long, global = true, value_name = "FILE")]
    soundfont: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
    /// A MIDI file or project to open in the window, or an audio file to transcribe (the demo
    /// song when omitted).
    file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show tracks, programs, notes, tempo and length of a MIDI file.
    Info { file: PathBuf },
    /// Read a MIDI file or project and write it as SMF type 1, or as a project when OUTPUT
    /// ends in .cadenza.
    Convert { input: PathBuf, output: PathBuf },
    /// Render a MIDI file to a WAV file through the SoundFont synth.
    Render { input: PathBuf, output: PathBuf },
    /// Transcribe audio files (WAV, FLAC, MP3, Ogg Vorbis) to MIDI with Basic Pitch.
    Transcribe(cli::TranscribeArgs),
    /// The MusicVAE melody models: reconstruct, sample, interpolate, attribute.
    Vae {
        #[command(subcommand)]
        command: vae_cli::VaeCommand,
    },
    /// Record a take from an audio input into a project, transcribing it as it plays.
    Record(record_cli::RecordArgs),
    /// Show, keep or throw away the unsaved work a session that did not end cleanly left.
    Recover(record_cli::RecoverArgs),
    /// Continue a MIDI file for N bars in a chosen style and instruments.
    Continue(continue_cli::ContinueArgs),
    /// Lend this machine's ML device (--backend) to Cadenza on other machines, which run with
    /// --backend remote://HOST:PORT.
    Serve(serve_cli::ServeArgs),
}

fn parse_backend(s: &str) -> Result<BackendPreference, String> {
    s.parse()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = EngineConfig {
        backend: cli.backend,
        soundfont: SoundFontChoice::from_arg(cli.soundfont.as_deref()),
        ..EngineConfig::default()
    };
    let result = match cli.command {
        Some(Command::Info { file }) => cli::info(config, &file),
        Some(Command::Convert { input, output }) => cli::convert(config, &input, &output),
        Some(Command::Render { input, output }) => cli::render(config, &input, &output),
        Some(Command::Transcribe(args)) => cli::transcribe(config, &args),
        Some(Command::Vae { command }) => vae_cli::run(&command),
        Some(Command::Continue(args)) => continue_cli::run(config, &args),
        Some(Command::Record(args)) => record_cli::record(config, &args),
        Some(Command::Recover(args)) => record_cli::recover(config, &args),
        Some(Command::Serve(args)) => serve_cli::run(&config, &args),
        None => gui::run(config, cli.file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One clear line: the chain of causes joined, no backtrace.
            eprintln!("cadenza: error: {}", format!("{err:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
