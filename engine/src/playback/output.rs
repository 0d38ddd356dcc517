//! Where the player's sound goes: the default output device through rodio, or, with no
//! device, a silent clock that pulls audio at real-time pace so the transport, the playhead
//! and MIDI recording still work.

use std::num::NonZero;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use super::player::Player;
use crate::synth::{SoundFontChoice, load_synth};

const BLOCK: usize = 256;

/// Pulls interleaved stereo from the player for rodio's mixer.
struct PlayerSource {
    player: Arc<Player>,
    rate: NonZero<u32>,
    buffer: Vec<f32>,
    left: Vec<f32>,
    right: Vec<f32>,
    at: usize,
}

impl PlayerSource {
    fn new(player: Arc<Player>, rate: NonZero<u32>) -> Self {
        Self {
            player,
            rate,
            buffer: Vec::with_capacity(2 * BLOCK),
            left: vec![0.0; BLOCK],
            right: vec![0.0; BLOCK],
            at: 0,
        }
    }
}

impl Iterator for PlayerSource {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        if self.at >= self.buffer.len() {
            self.player.render(&mut self.left, &mut self.right);
            self.buffer.clear();
            for (l, r) in self.left.iter().zip(&self.right) {
                self.buffer.push(*l);
                self.buffer.push(*r);
            }
            self.at = 0;
        }
        let sample = self.buffer.get(self.at).copied();
        self.at += 1;
        sample
    }
}

impl rodio::Source for PlayerSource {
    fn current_span_len(&self) -> Option<usize> {
        None
    }
    fn channels(&self) -> rodio::ChannelCount {
        NonZero::<u16>::MIN.saturating_add(1)
    }
    fn sample_rate(&self) -> rodio::SampleRate {
        self.rate
    }
    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

/// What the output thread tells the engine once it is running.
#[derive(Debug, Clone)]
pub struct OutputReport {
    /// Sound reaches a device.
    pub device: bool,
    /// One line for the status bar.
    pub description: String,
    /// SoundFont notices (fallbacks) for the user.
    pub notice: Option<String>,
}

/// Keeps the output thread alive; dropping it stops the sound.
pub struct AudioOutput {
    stop: Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for AudioOutput {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How to find the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputChoice {
    /// The system's default device, or the silent clock when there is none.
    Default,
    /// Never touch a device (tests, headless use).
    Silent,
}

impl OutputChoice {
    /// `CADENZA_AUDIO=none` keeps Cadenza away from sound devices.
    pub fn from_env() -> Self {
        match std::env::var("CADENZA_AUDIO").as_deref() {
            Ok("none" | "off" | "silent") => Self::Silent,
            _ => Self::Default,
        }
    }
}

/// Starts the output thread: opens the device, loads the synth at the device's rate, then
/// feeds the player to it. `report` hears once what happened.
pub fn start_output(
    player: Arc<Player>,
    choice: OutputChoice,
    soundfont: SoundFontChoice,
    report: impl FnOnce(OutputReport) + Send + 'static,
) -> std::io::Result<AudioOutput> {
    let (stop_tx, stop_rx) = bounded::<()>(1);
    let thread = std::thread::Builder::new()
        .name("cadenza-audio".into())
        .spawn(move || run_output(&player, &choice, &soundfont, stop_rx, report))?;
    Ok(AudioOutput { stop: stop_tx, thread: Some(thread) })
}

fn run_output(
    player: &Arc<Player>,
    choice: &OutputChoice,
    soundfont: &SoundFontChoice,
    stop: Receiver<()>,
    report: impl FnOnce(OutputReport),
) {
    let sink = match choice {
        OutputChoice::Default => rodio::DeviceSinkBuilder::open_default_sink().map_err(|e| e.to_string()),
        OutputChoice::Silent => Err("sound devices are off (CADENZA_AUDIO=none)".to_string()),
    };
    let rate = sink.as_ref().map_or(44_100, |s| s.config().sample_rate().get());
    let (synth, notice, synth_name) = match load_synth(soundfont, rate) {
        Ok((synth, info)) => (Some(synth), info.notice, info.description),
        Err(err) => (None, Some(format!("no synth for playback: {err}")), "no synth".to_string()),
    };
    if let Some(synth) = synth {
        player.set_synth(synth);
    }
    match sink {
        Ok(mut sink) => {
            sink.log_on_drop(false);
            let rate = sink.config().sample_rate();
            sink.mixer().add(PlayerSource::new(Arc::clone(player), rate));
            report(OutputReport { device: true, description: format!("{synth_name} · {} Hz", rate.get()), notice });
            // The stream plays while `sink` lives; wait for the stop.
            let _ = stop.recv();
        }
        Err(reason) => {
            report(OutputReport {
                device: false,
                description: format!("no audio output ({reason}); playing silently"),
                notice,
            });
            silent_clock(player, rate, &stop);
        }
    }
}

/// Pulls the player at real-time pace, discarding the sound.
fn silent_clock(player: &Player, rate: u32, stop: &Receiver<()>) {
    let (mut left, mut right) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
    let started = Instant::now();
    let mut frames = 0u64;
    loop {
        let due = (started.elapsed().as_secs_f64() * f64::from(rate)) as u64;
        while frames + BLOCK as u64 <= due {
            player.render(&mut left, &mut right);
            frames += BLOCK as u64;
        }
        match stop.recv_timeout(Duration::from_millis(5)) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}
