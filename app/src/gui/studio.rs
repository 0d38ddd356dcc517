//! The machine side as the window sees it: sound output, the ML backend, MIDI and audio
//! devices, the take being recorded and the takes kept with the song.

use std::path::PathBuf;
use std::sync::Arc;

use cadenza_engine::devices::recorder::RecordingMeter;
use cadenza_engine::project::Take;
use cadenza_engine::song::{Song, Track};
use cadenza_engine::studio::DeviceList;
use cadenza_engine::timing::TempoMap;

use super::takes;

/// A recording in progress, as the window sees it.
pub struct LiveTake {
    pub path: PathBuf,
    pub meter: Arc<RecordingMeter>,
    pub start_tick: u64,
    /// Notes transcribed from it so far: final ones, and the ones still sounding.
    pub live: LiveNotesView,
}

/// The live transcription of a take, drawn over the roll while it records (as tracks, so the
/// roll draws them as it draws any notes).
#[derive(Debug, Clone)]
pub struct LiveNotesView {
    pub committed: Track,
    pub provisional: Track,
}

impl Default for LiveNotesView {
    fn default() -> Self {
        Self { committed: Track::new("live", 0, 0), provisional: Track::new("live (sounding)", 0, 0) }
    }
}

pub struct Studio {
    /// Why the ML backend is the one it is.
    pub backend: String,
    /// "CPU (Flex)", "wgpu" or "remote server", once chosen.
    pub backend_kind: String,
    /// What Devices ▸ ML backend ▸ Server holds: `HOST:PORT` (or `TOKEN@HOST:PORT`).
    pub server_address: String,
    pub audio: String,
    pub devices: DeviceList,
    /// MIDI keyboard recording into the selected track.
    pub armed: bool,
    pub audio_input: Option<String>,
    pub recording: Option<LiveTake>,
    /// The input level while the meter is open (not recording).
    pub input_meter: Option<Arc<RecordingMeter>>,
    pub takes: Vec<Take>,
    pub takes_root: PathBuf,
    pub waveforms: takes::Waveforms,
}

impl Default for Studio {
    fn default() -> Self {
        Self {
            backend: "choosing ML backend…".into(),
            backend_kind: "starting…".into(),
            server_address: "127.0.0.1:7878".into(),
            audio: "starting audio…".into(),
            devices: DeviceList::default(),
            armed: false,
            audio_input: None,
            recording: None,
            input_meter: None,
            takes: Vec::new(),
            takes_root: PathBuf::new(),
            waveforms: takes::Waveforms::default(),
        }
    }
}

impl Studio {
    /// A take's file and its start in seconds.
    pub fn take_source(&self, song: &Song, index: usize) -> Option<(PathBuf, f64)> {
        let take = self.takes.get(index)?;
        let seconds = TempoMap::for_song(song).tick_to_seconds(take.start_tick);
        Some((self.takes_root.join(&take.file), seconds))
    }
}
