//! The live side of the engine: transport and player, the output device, MIDI keyboard in and
//! out, and the audio recorder. The engine thread owns one and forwards commands to it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::devices::midi::{KeyboardMessage, MidiIn, MidiOut, MidiPorts};
use crate::devices::recorder::{AudioBlock, Recording, RecordingMeter};
use crate::devices::watcher::DeviceListing;
use crate::playback::{
    AudioOutput, LIVE_CHANNEL, LiveMessage, OutputChoice, OutputReport, Player, PlayerStatus, TransportSettings,
    start_output,
};
use crate::project::Take;
use crate::song::{Note, Song};
use crate::synth::SoundFontChoice;

/// A message from the keyboard with the song tick it arrived at.
#[derive(Debug, Clone, Copy)]
pub struct KeyboardInput {
    pub message: KeyboardMessage,
    pub tick: u64,
}

/// What the devices look like now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceList {
    pub midi: MidiPorts,
    pub midi_error: Option<String>,
    pub audio_inputs: Vec<String>,
    pub audio_input_error: Option<String>,
    pub midi_input: Option<String>,
    pub midi_output: Option<String>,
}

/// A recording in progress.
struct TakeInProgress {
    recording: Recording,
    start_tick: u64,
    file: PathBuf,
}

pub struct Studio {
    player: Arc<Player>,
    output: Option<AudioOutput>,
    settings: TransportSettings,
    keyboard_tx: Sender<KeyboardInput>,
    keyboard_rx: Receiver<KeyboardInput>,
    midi_in: Option<MidiIn>,
    /// The input the user chose; reconnected when it comes back after unplugging.
    midi_in_wanted: Option<String>,
    /// Shared with the player, which plays the song on it.
    midi_out: Option<Arc<Mutex<MidiOut>>>,
    /// Track that keyboard notes are recorded into while playing; `None` = not armed.
    armed: Option<usize>,
    held: HashMap<u8, (u64, u8)>,
    take: Option<TakeInProgress>,
    /// The input meter while not recording, and the device it listens to.
    monitor: Option<(Option<String>, Recording)>,
    devices: DeviceList,
}

impl Studio {
    pub fn new() -> Self {
        let (keyboard_tx, keyboard_rx) = unbounded();
        Self {
            player: Player::new(44_100),
            output: None,
            settings: TransportSettings::default(),
            keyboard_tx,
            keyboard_rx,
            midi_in: None,
            midi_in_wanted: None,
            midi_out: None,
            armed: None,
            held: HashMap::new(),
            take: None,
            monitor: None,
            devices: DeviceList::default(),
        }
    }

    pub fn player_status(&self) -> Arc<PlayerStatus> {
        self.player.status()
    }

    pub fn keyboard_events(&self) -> &Receiver<KeyboardInput> {
        &self.keyboard_rx
    }

    /// Opens the output on its own thread; `report` hears how it went.
    pub fn start_output(
        &mut self,
        choice: OutputChoice,
        soundfont: SoundFontChoice,
        report: impl FnOnce(OutputReport) + Send + 'static,
    ) -> std::io::Result<()> {
        self.output = Some(start_output(Arc::clone(&self.player), choice, soundfont, report)?);
        Ok(())
    }

    pub fn set_song(&self, song: Arc<Song>) {
        self.player.set_song(song);
    }

    pub fn settings(&self) -> TransportSettings {
        self.settings
    }

    pub fn set_settings(&mut self, settings: TransportSettings) {
        self.settings = settings;
        self.apply_settings();
    }

    fn apply_settings(&self) {
        // Count-in and running past the end are for recording; plain playback starts at once.
        let recording = self.armed.is_some() || self.take.is_some();
        let count_in_bars = if recording { self.settings.count_in_bars } else { 0 };
        self.player.set_settings(TransportSettings { run_past_end: recording, count_in_bars, ..self.settings });
    }

    pub fn play(&self) {
        self.player.play();
    }

    pub fn is_playing(&self) -> bool {
        self.player.status().is_playing()
    }

    pub fn pause(&mut self) {
        self.player.pause();
    }

    pub fn seek(&self, tick: u64) {
        self.player.seek(tick);
    }

    pub fn preview(&mut self, program: u8, is_drum: bool, pitch: u8, velocity: u8) {
        self.player.preview(program, is_drum, pitch, velocity);
        self.send_out(&[0x90 | LIVE_CHANNEL, pitch & 0x7F, velocity.clamp(1, 127)]);
        self.send_out(&[0x80 | LIVE_CHANNEL, pitch & 0x7F, 0]);
    }

    /// Sets the instrument the keyboard plays.
    pub fn set_keyboard_program(&self, program: u8) {
        let _ = self.player.live_sender().try_send(LiveMessage::program(LIVE_CHANNEL, program));
    }

    /// Arms keyboard recording into `track` (or disarms).
    pub fn arm(&mut self, track: Option<usize>) {
        self.armed = track;
        self.held.clear();
        self.apply_settings();
    }

    /// Handles one keyboard message (already heard through the synth): returns a finished note
    /// to record, when armed and playing.
    pub fn keyboard(&mut self, input: KeyboardInput) -> Option<(usize, Note)> {
        let thru = match input.message {
            KeyboardMessage::NoteOn { pitch, velocity } => [0x90 | LIVE_CHANNEL, pitch, velocity],
            KeyboardMessage::NoteOff { pitch } => [0x80 | LIVE_CHANNEL, pitch, 0],
            KeyboardMessage::Other { command, data1, data2 } => [command | LIVE_CHANNEL, data1, data2],
        };
        self.send_out(&thru);
        let track = self.armed?;
        let status = self.player.status();
        match input.message {
            KeyboardMessage::NoteOn { pitch, velocity } if status.is_playing() && !status.is_counting_in() => {
                self.held.insert(pitch, (input.tick, velocity));
                None
            }
            KeyboardMessage::NoteOff { pitch } => {
                let (start, velocity) = self.held.remove(&pitch)?;
                Some((track, Note::new(start, input.tick.saturating_sub(start).max(1), pitch, velocity)))
            }
            _ => None,
        }
    }

    /// Takes in what the system offers now (listed off this thread by the device watcher),
    /// drops a keyboard that went away and reconnects one that came back.
    pub fn apply_listing(&mut self, listing: DeviceListing) -> &DeviceList {
        match listing.midi {
            Ok(ports) => {
                self.devices.midi = ports;
                self.devices.midi_error = None;
            }
            Err(err) => {
                self.devices.midi = MidiPorts::default();
                self.devices.midi_error = Some(err);
            }
        }
        match listing.audio_inputs {
            Ok(inputs) => {
                self.devices.audio_inputs = inputs;
                self.devices.audio_input_error = None;
            }
            Err(err) => {
                self.devices.audio_inputs.clear();
                self.devices.audio_input_error = Some(err);
            }
        }
        self.watch_midi_input();
        self.devices.midi_input = self.midi_in.as_ref().map(|m| m.port.clone());
        self.devices.midi_output = self.midi_out_port();
        &self.devices
    }

    /// Drops a keyboard that was unplugged and reconnects it when it is back.
    fn watch_midi_input(&mut self) {
        let present = |name: &str| self.devices.midi.inputs.iter().any(|p| p == name);
        if self.midi_in.as_ref().is_some_and(|m| !present(&m.port)) {
            self.midi_in = None;
        }
        if self.midi_in.is_none()
            && let Some(wanted) = self.midi_in_wanted.clone()
            && present(&wanted)
        {
            let _ = self.connect_midi_input(Some(wanted));
        }
        if self.midi_out_port().is_some_and(|port| !self.devices.midi.outputs.contains(&port)) {
            self.midi_out = None;
            self.player.set_midi_out(None);
        }
    }

    pub fn connect_midi_input(&mut self, port: Option<String>) -> Result<(), String> {
        self.midi_in = None;
        self.midi_in_wanted = port.clone();
        let Some(port) = port else { return Ok(()) };
        let live = self.player.live_sender();
        let status = self.player.status();
        let keyboard = self.keyboard_tx.clone();
        let connection = MidiIn::connect(&port, move |bytes| {
            let Some(message) = KeyboardMessage::parse(bytes) else { return };
            // Heard at once, on midir's thread; the engine records it.
            let live_message = match message {
                KeyboardMessage::NoteOn { pitch, velocity } => LiveMessage::note_on(LIVE_CHANNEL, pitch, velocity),
                KeyboardMessage::NoteOff { pitch } => LiveMessage::note_off(LIVE_CHANNEL, pitch),
                KeyboardMessage::Other { command, data1, data2 } => {
                    LiveMessage { channel: LIVE_CHANNEL, command, data1, data2 }
                }
            };
            let _ = live.try_send(live_message);
            let _ = keyboard.send(KeyboardInput { message, tick: status.position_tick() });
        })
        .map_err(|e| e.to_string())?;
        self.midi_in = Some(connection);
        self.devices.midi_input = Some(port);
        Ok(())
    }

    /// Connects an external synth: the song, the keyboard (thru) and previews go to it.
    pub fn connect_midi_output(&mut self, port: Option<String>) -> Result<(), String> {
        self.midi_out = None;
        self.player.set_midi_out(None);
        self.devices.midi_output = None;
        let Some(port) = port else { return Ok(()) };
        let out = Arc::new(Mutex::new(MidiOut::connect(&port).map_err(|e| e.to_string())?));
        let for_player = Arc::clone(&out);
        self.player.set_midi_out(Some(Box::new(move |bytes| {
            if let Ok(mut out) = for_player.lock() {
                // A failed send (device gone) is noticed by the device watcher.
                let _ = out.send(&bytes);
            }
        })));
        self.midi_out = Some(out);
        self.devices.midi_output = Some(port);
        Ok(())
    }

    fn midi_out_port(&self) -> Option<String> {
        self.midi_out.as_ref().and_then(|m| m.lock().ok().map(|m| m.port.clone()))
    }

    fn send_out(&self, bytes: &[u8]) {
        if let Some(Ok(mut out)) = self.midi_out.as_ref().map(|m| m.lock()) {
            let _ = out.send(bytes);
        }
    }

    pub fn devices(&self) -> &DeviceList {
        &self.devices
    }

    /// Opens `device` for the level meter alone (`on = false` closes it).
    pub fn monitor_input(&mut self, device: Option<String>, on: bool) -> Result<Option<Arc<RecordingMeter>>, String> {
        self.monitor = None;
        if !on || self.take.is_some() {
            return Ok(None);
        }
        let recording = Recording::start(device.as_deref(), None, None).map_err(|e| e.to_string())?;
        let meter = Arc::clone(&recording.meter);
        self.monitor = Some((device, recording));
        Ok(Some(meter))
    }

    /// The device the meter listens to, when it is open.
    pub fn monitored_input(&self) -> Option<Option<String>> {
        self.monitor.as_ref().map(|(device, _)| device.clone())
    }

    /// Where a take started now would begin.
    pub fn playhead_tick(&self) -> u64 {
        self.player.status().position_tick()
    }

    /// Starts recording audio into `folder` from the current playhead, with the song playing.
    pub fn start_take(
        &mut self,
        device: Option<&str>,
        folder: &Path,
        name: &str,
        listener: Option<Sender<AudioBlock>>,
    ) -> Result<Arc<RecordingMeter>, String> {
        if self.take.is_some() {
            return Err("already recording".into());
        }
        let file = folder.join(format!("{name}.wav"));
        // The device is opened once: the meter hands it over to the take.
        self.monitor = None;
        let recording = Recording::start(device, Some(&file), listener).map_err(|e| e.to_string())?;
        let meter = Arc::clone(&recording.meter);
        let start_tick = self.playhead_tick();
        self.take = Some(TakeInProgress { recording, start_tick, file });
        self.apply_settings();
        self.player.play();
        Ok(meter)
    }

    /// The take being recorded as it stands now (its path relative to `project_dir`): what the
    /// recovery file lists, so a crash mid-take still offers the audio captured so far.
    pub fn take_in_progress(&self, project_dir: &Path) -> Option<Take> {
        let take = self.take.as_ref()?;
        Some(take.describe(project_dir, take.recording.meter.frames()))
    }

    /// Stops the take: the finished file as a [`Take`] (its path relative to `project_dir`).
    pub fn stop_take(&mut self, project_dir: &Path) -> Option<Result<Take, String>> {
        let take = self.take.take()?;
        self.player.pause();
        self.apply_settings();
        let described = take.describe(project_dir, 0);
        let result = take.recording.stop().map_err(|e| e.to_string());
        Some(result.map(|frames| Take { frames, ..described }))
    }
}

impl TakeInProgress {
    fn describe(&self, project_dir: &Path, frames: u64) -> Take {
        Take {
            name: self.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
            file: self.file.strip_prefix(project_dir).map_or_else(|_| self.file.clone(), Path::to_path_buf),
            start_tick: self.start_tick,
            sample_rate: self.recording.meter.sample_rate(),
            channels: self.recording.channels,
            frames,
        }
    }
}

impl Default for Studio {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(message: KeyboardMessage, tick: u64) -> KeyboardInput {
        KeyboardInput { message, tick }
    }

    #[test]
    fn keyboard_notes_are_recorded_only_when_armed_and_playing() {
        let mut studio = Studio::new();
        studio.set_song(Arc::new(Song::new(480)));
        let on = KeyboardMessage::NoteOn { pitch: 60, velocity: 100 };
        let off = KeyboardMessage::NoteOff { pitch: 60 };
        // Not armed: heard, not recorded.
        studio.play();
        assert_eq!(studio.keyboard(input(on, 0)), None);
        assert_eq!(studio.keyboard(input(off, 100)), None);
        // Armed and playing: the note arrives when the key is released, with its velocity.
        studio.arm(Some(2));
        assert_eq!(studio.keyboard(input(on, 480)), None);
        assert_eq!(studio.keyboard(input(off, 700)), Some((2, Note::new(480, 220, 60, 100))));
        // Armed but stopped: nothing starts.
        studio.pause();
        assert_eq!(studio.keyboard(input(on, 900)), None);
        assert_eq!(studio.keyboard(input(off, 950)), None);
    }
}
