//! Finding and loading a General MIDI SoundFont.

use std::ffi::OsString;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use super::{BuiltinSynth, SoundFontSynth, Synth};

/// Where Debian, Ubuntu, Fedora and Arch put GM SoundFonts, best first.
pub const SYSTEM_SOUNDFONT_PATHS: &[&str] = &[
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/soundfonts/FluidR3_GM2-2.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/GeneralUser_GS.sf2",
    "/usr/share/soundfonts/GeneralUser-GS.sf2",
];

/// What the user asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SoundFontChoice {
    /// Search: `CADENZA_SOUNDFONT`, then the system paths.
    #[default]
    Auto,
    /// This file (from `--soundfont` or a setting); an error if it cannot be loaded.
    File(PathBuf),
    /// The built-in synth, no SoundFont.
    Builtin,
}

impl SoundFontChoice {
    /// Parses a `--soundfont` value: a path, or `builtin`.
    pub fn from_arg(arg: Option<&Path>) -> Self {
        match arg {
            None => Self::Auto,
            Some(p) if p.as_os_str() == "builtin" => Self::Builtin,
            Some(p) => Self::File(p.to_path_buf()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoundFontSource {
    Explicit(PathBuf),
    Environment(PathBuf),
    System(PathBuf),
}

impl SoundFontSource {
    pub fn path(&self) -> &Path {
        match self {
            Self::Explicit(p) | Self::Environment(p) | Self::System(p) => p,
        }
    }
}

#[derive(Debug, Error)]
pub enum SoundFontError {
    #[error("{path}: cannot open the SoundFont: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a usable SoundFont: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// What the synth in use is, and a one-time notice for the user when it is not what they'd
/// expect (no SoundFont found, a bad `CADENZA_SOUNDFONT`).
#[derive(Debug, Clone)]
pub struct SynthInfo {
    pub description: String,
    pub soundfont: Option<PathBuf>,
    pub notice: Option<String>,
}

/// Finds a SoundFont in the documented order. `env` is `CADENZA_SOUNDFONT`'s value and
/// `system` the paths to try; both are parameters so the search itself can be tested.
pub fn locate_soundfont(
    choice: &SoundFontChoice,
    env: Option<OsString>,
    system: &[PathBuf],
) -> Option<SoundFontSource> {
    match choice {
        SoundFontChoice::Builtin => None,
        SoundFontChoice::File(path) => Some(SoundFontSource::Explicit(path.clone())),
        SoundFontChoice::Auto => env
            .filter(|v| !v.is_empty())
            .map(|v| SoundFontSource::Environment(PathBuf::from(v)))
            .or_else(|| system.iter().find(|p| p.is_file()).map(|p| SoundFontSource::System(p.clone()))),
    }
}

/// Loads the synth for `choice` at `sample_rate`. An explicit file that fails is an error;
/// everything else falls back to the built-in synth with a notice.
pub fn load_synth(choice: &SoundFontChoice, sample_rate: u32) -> Result<(Box<dyn Synth>, SynthInfo), SoundFontError> {
    let system: Vec<PathBuf> = SYSTEM_SOUNDFONT_PATHS.iter().map(PathBuf::from).collect();
    let env = std::env::var_os("CADENZA_SOUNDFONT");
    load_synth_from(choice, env, &system, sample_rate)
}

pub(crate) fn load_synth_from(
    choice: &SoundFontChoice,
    env: Option<OsString>,
    system: &[PathBuf],
    sample_rate: u32,
) -> Result<(Box<dyn Synth>, SynthInfo), SoundFontError> {
    let builtin = |notice: Option<String>| -> (Box<dyn Synth>, SynthInfo) {
        let info = SynthInfo { description: "built-in synth".into(), soundfont: None, notice };
        (Box::new(BuiltinSynth::new(sample_rate)), info)
    };
    match locate_soundfont(choice, env, system) {
        None if *choice == SoundFontChoice::Builtin => Ok(builtin(None)),
        None => Ok(builtin(Some(
            "no General MIDI SoundFont found (set CADENZA_SOUNDFONT or install fluid-soundfont-gm); using the built-in synth".into(),
        ))),
        Some(source) => match open_soundfont(source.path(), sample_rate) {
            Ok(synth) => {
                let path = source.path().to_path_buf();
                let info = SynthInfo { description: format!("SoundFont {}", path.display()), soundfont: Some(path), notice: None };
                Ok((synth, info))
            }
            Err(err) => match source {
                SoundFontSource::Explicit(_) => Err(err),
                _ => Ok(builtin(Some(format!("{err}; using the built-in synth")))),
            },
        },
    }
}

fn open_soundfont(path: &Path, sample_rate: u32) -> Result<Box<dyn Synth>, SoundFontError> {
    let file = File::open(path).map_err(|source| SoundFontError::Open { path: path.into(), source })?;
    let invalid = |reason: String| SoundFontError::Invalid { path: path.into(), reason };
    // rustysynth indexes into the file's tables; a corrupt file can panic inside it.
    let loaded = crate::quiet_panic::catch_reader_panic(|| -> Result<rustysynth::Synthesizer, String> {
        let font = rustysynth::SoundFont::new(&mut BufReader::new(file)).map_err(|e| e.to_string())?;
        let settings = rustysynth::SynthesizerSettings::new(i32::try_from(sample_rate).unwrap_or(44_100));
        rustysynth::Synthesizer::new(&Arc::new(font), &settings).map_err(|e| e.to_string())
    });
    match loaded {
        Ok(Ok(synth)) => Ok(Box::new(SoundFontSynth(synth))),
        Ok(Err(reason)) => Err(invalid(reason)),
        Err(_) => Err(invalid("the file is corrupt".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_order_is_explicit_env_system() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("system.sf2");
        std::fs::write(&system, b"x").unwrap();
        let paths = vec![dir.path().join("missing.sf2"), system.clone()];
        let explicit = SoundFontChoice::File("/x.sf2".into());
        assert_eq!(
            locate_soundfont(&explicit, Some("/env.sf2".into()), &paths),
            Some(SoundFontSource::Explicit("/x.sf2".into()))
        );
        assert_eq!(
            locate_soundfont(&SoundFontChoice::Auto, Some("/env.sf2".into()), &paths),
            Some(SoundFontSource::Environment("/env.sf2".into()))
        );
        assert_eq!(locate_soundfont(&SoundFontChoice::Auto, None, &paths), Some(SoundFontSource::System(system)));
        assert_eq!(locate_soundfont(&SoundFontChoice::Auto, None, &paths[..1]), None);
        assert_eq!(locate_soundfont(&SoundFontChoice::Builtin, Some("/env.sf2".into()), &paths), None);
    }

    #[test]
    fn no_soundfont_anywhere_falls_back_with_one_notice() {
        let (mut synth, info) = load_synth_from(&SoundFontChoice::Auto, None, &[], 22_050).unwrap();
        assert!(info.soundfont.is_none());
        assert!(info.notice.as_deref().unwrap_or("").contains("built-in"));
        synth.midi(0, 0x90, 69, 100);
        let (mut l, mut r) = (vec![0.0; 2205], vec![0.0; 2205]);
        synth.render(&mut l, &mut r);
        let peak = l.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak > 0.01, "fallback synth is silent (peak {peak})");
    }

    #[test]
    fn corrupt_soundfont_is_an_error_when_explicit_and_a_notice_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.sf2");
        std::fs::write(&bad, b"RIFF\x10\x00\x00\x00sfbkLIST garbage").unwrap();
        let explicit = load_synth_from(&SoundFontChoice::File(bad.clone()), None, &[], 44_100);
        assert!(matches!(explicit, Err(SoundFontError::Invalid { .. })));
        let (_, info) = load_synth_from(&SoundFontChoice::Auto, Some(bad.into_os_string()), &[], 44_100).unwrap();
        assert!(info.notice.unwrap().contains("not a usable SoundFont"));
    }
}
