//! How the engine starts: the ML backend, the synth, workers, devices, autosave and state.

use std::path::PathBuf;
use std::time::Duration;

#[cfg(feature = "ml")]
use cadenza_models::BackendPreference;

use crate::playback::OutputChoice;
use crate::project;
use crate::synth::SoundFontChoice;

/// How the engine starts.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    #[cfg(feature = "ml")]
    pub backend: BackendPreference,
    /// Choose the ML backend when the engine starts (the GUI). Headless jobs that run no model
    /// turn this off and skip probing graphics drivers.
    #[cfg(feature = "ml")]
    pub choose_backend_at_start: bool,
    pub soundfont: SoundFontChoice,
    /// Background job workers.
    pub workers: usize,
    /// Open sound and MIDI devices (the window); headless jobs leave them alone.
    pub live: bool,
    pub output: OutputChoice,
    /// How often unsaved work is written to the recovery file.
    pub autosave_every: Duration,
    /// Where the recovery file and unsaved takes live.
    pub state_dir: PathBuf,
}

impl EngineConfig {
    /// A live session that touches no device and no GPU: silent output on the real clock, the
    /// built-in synth, the CPU backend, state in `state_dir` (tests, headless sessions).
    pub fn silent(state_dir: PathBuf) -> Self {
        Self {
            #[cfg(feature = "ml")]
            backend: BackendPreference::Cpu,
            #[cfg(feature = "ml")]
            choose_backend_at_start: false,
            soundfont: SoundFontChoice::Builtin,
            live: true,
            output: OutputChoice::Silent,
            state_dir,
            ..Self::default()
        }
    }
}

/// 30 s, or `CADENZA_AUTOSAVE_SECS`.
fn autosave_interval_from_env() -> Duration {
    let secs = std::env::var("CADENZA_AUTOSAVE_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(30.0);
    Duration::from_secs_f64(secs.clamp(0.05, 3600.0))
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            #[cfg(feature = "ml")]
            backend: BackendPreference::Auto,
            #[cfg(feature = "ml")]
            choose_backend_at_start: true,
            soundfont: SoundFontChoice::Auto,
            workers: 2,
            live: false,
            output: OutputChoice::from_env(),
            autosave_every: autosave_interval_from_env(),
            state_dir: project::state_dir(),
        }
    }
}
