//! The player: turns the song into sound block by block, on whatever thread pulls audio (the
//! output device's callback, or a silent clock when there is no device). The playhead is the
//! count of frames it has rendered, so it follows the audio clock, not the window's.
//!
//! The audio thread never waits and never allocates. The engine's side (the control side)
//! builds each new schedule itself and publishes it in one pointer swap; transport changes,
//! previews and a new synth travel over a wait-free ring; whatever the audio side lets go of
//! comes back over another ring to be freed here; MIDI out is sent by a thread of its own.

mod core;
mod midi_out;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use arc_swap::ArcSwapOption;
use crossbeam_channel::{Sender, bounded};

use self::core::Core;
use self::midi_out::MidiOutThread;
use crate::song::{DRUM_CHANNEL, Song};
use crate::synth::Synth;
use crate::synth::schedule::{Message, messages};
use crate::timing::TempoMap;

/// The channel previews and the MIDI keyboard play on, so they never disturb a track's
/// instrument. (A song with 16 melodic tracks shares it with its last track.)
pub const LIVE_CHANNEL: u8 = 15;

/// Control messages waiting for the audio side; more than this only piles up when nothing
/// pulls audio (a headless engine), and then they are dropped.
const CONTROL_CAPACITY: usize = 1024;
/// Keyboard messages waiting for the next block.
const LIVE_CAPACITY: usize = 1024;
/// Things the audio side let go of, waiting to be freed on the control side.
const GARBAGE_CAPACITY: usize = 64;

/// A channel message played as soon as possible (keyboard, previews).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveMessage {
    pub channel: u8,
    pub command: u8,
    pub data1: u8,
    pub data2: u8,
}

impl LiveMessage {
    pub fn note_on(channel: u8, pitch: u8, velocity: u8) -> Self {
        Self { channel, command: 0x90, data1: pitch.min(127), data2: velocity.clamp(1, 127) }
    }
    pub fn note_off(channel: u8, pitch: u8) -> Self {
        Self { channel, command: 0x80, data1: pitch.min(127), data2: 0 }
    }
    pub fn program(channel: u8, program: u8) -> Self {
        Self { channel, command: 0xC0, data1: program.min(127), data2: 0 }
    }
}

/// Where song messages also go: an external synth on a MIDI output (3-byte messages).
pub type MidiSink = Box<dyn FnMut([u8; 3]) + Send>;

/// What the window reads every frame without locking.
#[derive(Debug, Default)]
pub struct PlayerStatus {
    playing: AtomicBool,
    counting_in: AtomicBool,
    position_tick: AtomicU64,
}

impl PlayerStatus {
    pub fn is_playing(&self) -> bool {
        self.playing.load(Ordering::Relaxed)
    }
    pub fn is_counting_in(&self) -> bool {
        self.counting_in.load(Ordering::Relaxed)
    }
    pub fn position_tick(&self) -> u64 {
        self.position_tick.load(Ordering::Relaxed)
    }
}

/// Transport settings the engine changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransportSettings {
    /// Loop between these ticks while playing.
    pub loop_ticks: Option<(u64, u64)>,
    pub metronome: bool,
    /// Bars of clicks before playback starts (needs the metronome to be heard, counts anyway).
    pub count_in_bars: u8,
    /// Keep running past the song's end (recording).
    pub run_past_end: bool,
}

/// A song made ready for the audio side: its tempo map and timed messages at one sample rate.
pub(super) struct Prepared {
    song: Arc<Song>,
    map: TempoMap,
    /// Program, volume and pan: resent on every seek so a jump into the middle still has the
    /// right instruments.
    setup: Vec<Message>,
    schedule: Vec<Message>,
    /// The sample rate the frames are counted in (the synth's).
    rate: u32,
    /// Where playback stops: a second after the last note ends.
    end_frame: u64,
}

impl Prepared {
    fn new(song: Arc<Song>, rate: u32) -> Self {
        let map = TempoMap::for_song(&song);
        let (setup, schedule): (Vec<_>, Vec<_>) =
            messages(&song, rate).into_iter().partition(|m| m.frame == 0 && m.order == 1);
        let end_frame = ((song.duration_seconds() + 1.0) * f64::from(rate)) as u64;
        Self { song, map, setup, schedule, rate, end_frame }
    }
}

/// What the control side tells the audio side, in order.
enum Control {
    Play,
    Pause,
    Seek(u64),
    Settings(TransportSettings),
    Preview {
        channel: u8,
        program: Option<u8>,
        pitch: u8,
        velocity: u8,
    },
    Synth(Box<dyn Synth>),
    /// Whether song messages also go to the MIDI-out ring (and the set-up is resent).
    MidiOut(bool),
}

/// What the audio side hands back to be freed off the audio thread.
#[allow(dead_code)] // held only to be dropped on the control side
enum Garbage {
    Song(Arc<Prepared>),
    Synth(Box<dyn Synth>),
}

/// The control side's state, touched only by the threads that drive the player.
struct ControlSide {
    sender: rtrb::Producer<Control>,
    garbage: rtrb::Consumer<Garbage>,
    song: Arc<Song>,
    /// The rate the audio side renders at (the synth's), which schedules are built for.
    rate: u32,
    midi_out: MidiOutThread,
}

/// The shared player: the engine drives it, the audio thread pulls from it.
pub struct Player {
    control: Mutex<ControlSide>,
    /// The newest schedule, published for the audio side to take at its next block.
    next_song: ArcSwapOption<Prepared>,
    /// The audio side. Only [`Player::render`] locks it, with `try_lock`: the callers that
    /// pull audio are never two at once, so it never waits.
    audio: Mutex<Core>,
    status: Arc<PlayerStatus>,
    live_tx: Sender<LiveMessage>,
}

impl Player {
    pub fn new(rate: u32) -> Arc<Self> {
        let rate = rate.max(1);
        let (live_tx, live_rx) = bounded(LIVE_CAPACITY);
        let (control_tx, control_rx) = rtrb::RingBuffer::new(CONTROL_CAPACITY);
        let (garbage_tx, garbage_rx) = rtrb::RingBuffer::new(GARBAGE_CAPACITY);
        let (midi_out, midi_ring) = MidiOutThread::new();
        let song = Arc::new(Song::default());
        let prepared = Arc::new(Prepared::new(Arc::clone(&song), rate));
        let status = Arc::new(PlayerStatus::default());
        Arc::new(Self {
            control: Mutex::new(ControlSide { sender: control_tx, garbage: garbage_rx, song, rate, midi_out }),
            next_song: ArcSwapOption::empty(),
            audio: Mutex::new(Core::new(rate, prepared, control_rx, garbage_tx, live_rx, midi_ring)),
            status,
            live_tx,
        })
    }

    fn control(&self) -> MutexGuard<'_, ControlSide> {
        // A panic while holding the lock leaves plain data behind; carry on with it.
        let mut control = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        // Free what the audio side let go of since the last call.
        while control.garbage.pop().is_ok() {}
        control
    }

    fn send(control: &mut ControlSide, message: Control) {
        // Full only while nothing pulls audio; the player is then silent anyway.
        let _ = control.sender.push(message);
    }

    pub fn status(&self) -> Arc<PlayerStatus> {
        Arc::clone(&self.status)
    }

    /// A sender for messages to play at once, usable from a MIDI callback. The queue is
    /// bounded: use `try_send`, which drops a message rather than wait when nothing pulls
    /// audio.
    pub fn live_sender(&self) -> Sender<LiveMessage> {
        self.live_tx.clone()
    }

    pub fn set_synth(&self, synth: Box<dyn Synth>) {
        let mut control = self.control();
        control.rate = synth.sample_rate().max(1);
        Self::send(&mut control, Control::Synth(synth));
        let song = Arc::clone(&control.song);
        self.publish_song(&control, song);
    }

    /// Plays the song on an external synth too (`None` stops that). The sink runs on a
    /// thread of its own, so a slow MIDI device never holds up the audio.
    pub fn set_midi_out(&self, sink: Option<MidiSink>) {
        let mut control = self.control();
        let on = sink.is_some();
        if !on {
            Self::send(&mut control, Control::MidiOut(false));
        }
        control.midi_out.connect(sink);
        if on {
            Self::send(&mut control, Control::MidiOut(true));
        }
    }

    /// Takes a new version of the song; playback carries on from the same tick. The schedule
    /// is built here, on the caller's thread.
    pub fn set_song(&self, song: Arc<Song>) {
        let mut control = self.control();
        control.song = Arc::clone(&song);
        self.publish_song(&control, song);
    }

    fn publish_song(&self, control: &ControlSide, song: Arc<Song>) {
        let prepared = Arc::new(Prepared::new(song, control.rate));
        // A schedule the audio side never took is freed here.
        drop(self.next_song.swap(Some(prepared)));
    }

    pub fn set_settings(&self, settings: TransportSettings) {
        Self::send(&mut self.control(), Control::Settings(settings));
    }

    pub fn play(&self) {
        Self::send(&mut self.control(), Control::Play);
        self.status.playing.store(true, Ordering::Relaxed);
    }

    pub fn pause(&self) {
        Self::send(&mut self.control(), Control::Pause);
        self.status.playing.store(false, Ordering::Relaxed);
        self.status.counting_in.store(false, Ordering::Relaxed);
    }

    pub fn seek(&self, tick: u64) {
        Self::send(&mut self.control(), Control::Seek(tick));
        // The window and a recording started now see the new position before the next block.
        self.status.position_tick.store(tick, Ordering::Relaxed);
    }

    /// Sounds a note on the live channel for a moment, with the given instrument.
    pub fn preview(&self, program: u8, is_drum: bool, pitch: u8, velocity: u8) {
        let (channel, program) = if is_drum { (DRUM_CHANNEL, None) } else { (LIVE_CHANNEL, Some(program)) };
        Self::send(&mut self.control(), Control::Preview { channel, program, pitch, velocity });
    }

    /// Renders the next block (both slices the same length). Silence until a synth is set.
    /// Never waits and never allocates.
    pub fn render(&self, left: &mut [f32], right: &mut [f32]) {
        let mut core = match self.audio.try_lock() {
            Ok(core) => core,
            // A panic in an earlier block left plain data behind; carry on with it.
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // Only a second thread pulling audio at the same moment gets here.
            Err(TryLockError::WouldBlock) => {
                left.fill(0.0);
                right.fill(0.0);
                return;
            }
        };
        // The newest song first, so the seeks and plays sent with it land on it. A read first:
        // most blocks have no new song, and a read is cheaper than the swap's write.
        if self.next_song.load().is_some()
            && let Some(song) = self.next_song.swap(None)
        {
            core.load(song);
        }
        core.take_control();
        core.render(left, right);
        core.publish(&self.status);
    }
}

impl Drop for ControlSide {
    fn drop(&mut self) {
        self.midi_out.connect(None);
    }
}
