//! The player's audio side: what plays when, block by block. It is owned by the thread that
//! pulls audio and touches nothing it has to wait for or allocate: the schedule arrives built,
//! control messages come over a ring, and what it lets go of goes back over another.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::Receiver;

use super::{Control, Garbage, LIVE_CHANNEL, LiveMessage, PlayerStatus, Prepared, TransportSettings};
use crate::song::DRUM_CHANNEL;
use crate::synth::Synth;
use crate::timing::{ticks_per_bar, ticks_per_beat};

/// GM percussion keys for the metronome: high wood block on the downbeat, low on the others.
const CLICK_DOWNBEAT: u8 = 76;
const CLICK_BEAT: u8 = 77;
/// Previews sounding at once (each waits for its note-off).
const MAX_PREVIEWS: usize = 128;

pub(super) struct Core {
    synth: Option<Box<dyn Synth>>,
    rate: u32,
    song: Arc<Prepared>,
    next: usize,
    /// Song position in frames.
    frame: u64,
    end_frame: u64,
    playing: bool,
    settings: TransportSettings,
    count_in_left: u64,
    count_in_next_click: u64,
    count_in_beat: u64,
    count_in_beats_per_bar: u64,
    count_in_beat_index: u64,
    next_click_tick: u64,
    /// Pending note-offs for previews, in clock frames (room for all made in advance).
    preview_offs: Vec<(u64, LiveMessage)>,
    clock: u64,
    control: rtrb::Consumer<Control>,
    garbage: rtrb::Producer<Garbage>,
    live: Receiver<LiveMessage>,
    /// Song messages also go to the MIDI-out thread.
    midi_out: bool,
    midi_ring: rtrb::Producer<[u8; 3]>,
}

impl Core {
    pub(super) fn new(
        rate: u32,
        song: Arc<Prepared>,
        control: rtrb::Consumer<Control>,
        garbage: rtrb::Producer<Garbage>,
        live: Receiver<LiveMessage>,
        midi_ring: rtrb::Producer<[u8; 3]>,
    ) -> Self {
        let mut core = Self {
            synth: None,
            rate,
            song,
            next: 0,
            frame: 0,
            end_frame: 0,
            playing: false,
            settings: TransportSettings::default(),
            count_in_left: 0,
            count_in_next_click: 0,
            count_in_beat: 1,
            count_in_beats_per_bar: 4,
            count_in_beat_index: 0,
            next_click_tick: 0,
            preview_offs: Vec::with_capacity(MAX_PREVIEWS),
            clock: 0,
            control,
            garbage,
            live,
            midi_out: false,
            midi_ring,
        };
        core.end_frame = core.song.end_frame;
        core
    }

    /// Applies what the control side sent since the last block, in order.
    pub(super) fn take_control(&mut self) {
        while let Ok(message) = self.control.pop() {
            match message {
                Control::Play => self.play(),
                Control::Pause => {
                    self.playing = false;
                    self.count_in_left = 0;
                    self.silence();
                }
                Control::Seek(tick) => self.seek_tick(tick),
                Control::Settings(settings) => self.settings = settings,
                Control::Preview { channel, program, pitch, velocity } => {
                    self.preview(channel, program, pitch, velocity)
                }
                Control::Synth(synth) => {
                    self.rate = synth.sample_rate().max(1);
                    if let Some(old) = self.synth.replace(synth) {
                        self.discard(Garbage::Synth(old));
                    }
                }
                Control::MidiOut(on) => {
                    self.midi_out = on;
                    if on {
                        self.resend_setup();
                    }
                }
            }
        }
        while let Ok(message) = self.live.try_recv() {
            self.send(message);
        }
    }

    /// Hands something back to the control side to free; past the ring's room (nobody has
    /// called the control side for a long while) it is freed here after all.
    fn discard(&mut self, garbage: Garbage) {
        let _ = self.garbage.push(garbage);
    }

    /// Swaps in a new schedule at the same song tick (counted in the old schedule's rate,
    /// placed in the new one's: a schedule for a new synth's rate may arrive before the synth).
    pub(super) fn load(&mut self, song: Arc<Prepared>) {
        let tick = self.position_tick();
        let old = std::mem::replace(&mut self.song, song);
        self.discard(Garbage::Song(old));
        self.end_frame = self.song.end_frame;
        self.frame = self.tick_to_frame(tick);
        self.next = self.song.schedule.partition_point(|m| m.frame < self.frame);
        self.resend_setup();
    }

    fn play(&mut self) {
        if self.playing {
            return;
        }
        if self.frame >= self.end_frame && !self.settings.run_past_end {
            let start = self.settings.loop_ticks.map_or(0, |(start, _)| start);
            self.seek_tick(start);
        }
        self.start_count_in();
        self.playing = true;
    }

    fn preview(&mut self, channel: u8, program: Option<u8>, pitch: u8, velocity: u8) {
        if let Some(program) = program {
            self.send(LiveMessage::program(channel, program));
        }
        self.send(LiveMessage::note_on(channel, pitch, velocity));
        let off = LiveMessage::note_off(channel, pitch);
        if self.preview_offs.len() < self.preview_offs.capacity() {
            let off_at = self.clock + u64::from(self.rate) * 3 / 10;
            self.preview_offs.push((off_at, off));
        } else {
            // More previews at once than there is room for: this one is cut short.
            self.send(off);
        }
    }

    fn tick_to_frame(&self, tick: u64) -> u64 {
        (self.song.map.tick_to_seconds(tick) * f64::from(self.song.rate)).round() as u64
    }

    fn position_tick(&self) -> u64 {
        self.song.map.seconds_to_tick(self.frame as f64 / f64::from(self.song.rate))
    }

    fn send(&mut self, m: LiveMessage) {
        if let Some(synth) = self.synth.as_mut() {
            synth.midi(m.channel, m.command, m.data1, m.data2);
        }
    }

    /// A song message: to the synth and to the external MIDI output, if any.
    fn send_song(&mut self, m: LiveMessage) {
        self.send(m);
        if self.midi_out {
            // Full only when the MIDI device stalls; the message is dropped rather than waited for.
            let _ = self.midi_ring.push([m.command | (m.channel & 0x0F), m.data1 & 0x7F, m.data2 & 0x7F]);
        }
    }

    fn resend_setup(&mut self) {
        for i in 0..self.song.setup.len() {
            let m = self.song.setup[i];
            self.send_song(LiveMessage { channel: m.channel, command: m.command, data1: m.data1, data2: m.data2 });
        }
    }

    /// Ends every sounding song note (not the live channel: a held key keeps sounding).
    fn silence(&mut self) {
        for channel in (0..16).filter(|&c| c != LIVE_CHANNEL) {
            self.send_song(LiveMessage { channel, command: 0xB0, data1: 123, data2: 0 });
            self.send_song(LiveMessage { channel, command: 0xE0, data1: 0, data2: 64 });
        }
    }

    fn seek_tick(&mut self, tick: u64) {
        self.silence();
        self.frame = self.tick_to_frame(tick);
        self.next = self.song.schedule.partition_point(|m| m.frame < self.frame);
        self.next_click_tick = self.next_beat_at_or_after(tick);
        self.resend_setup();
    }

    fn time_signature_at(&self, tick: u64) -> crate::song::TimeSignatureChange {
        let sigs = &self.song.song.time_signatures;
        let at = sigs.partition_point(|s| s.tick <= tick);
        sigs.get(at.saturating_sub(1)).copied().unwrap_or(crate::song::TimeSignatureChange {
            tick: 0,
            numerator: 4,
            denominator: 4,
        })
    }

    fn next_beat_at_or_after(&self, tick: u64) -> u64 {
        let sig = self.time_signature_at(tick);
        let beat = ticks_per_beat(self.song.song.ppq, &sig).max(1);
        let since = tick - sig.tick;
        sig.tick + since.div_ceil(beat) * beat
    }

    fn start_count_in(&mut self) {
        self.count_in_left = 0;
        if self.settings.count_in_bars == 0 {
            return;
        }
        let tick = self.position_tick();
        let sig = self.time_signature_at(tick);
        let beat_ticks = ticks_per_beat(self.song.song.ppq, &sig).max(1);
        let beats_per_bar = ticks_per_bar(self.song.song.ppq, &sig) / beat_ticks;
        let seconds_per_beat = self.song.map.tick_to_seconds(tick + beat_ticks) - self.song.map.tick_to_seconds(tick);
        self.count_in_beat = ((seconds_per_beat * f64::from(self.song.rate)) as u64).max(1);
        self.count_in_beats_per_bar = beats_per_bar.max(1);
        self.count_in_left = self.count_in_beat * self.count_in_beats_per_bar * u64::from(self.settings.count_in_bars);
        self.count_in_next_click = 0;
        self.count_in_beat_index = 0;
    }

    fn click(&mut self, downbeat: bool) {
        let key = if downbeat { CLICK_DOWNBEAT } else { CLICK_BEAT };
        self.send(LiveMessage::note_off(DRUM_CHANNEL, key));
        self.send(LiveMessage::note_on(DRUM_CHANNEL, key, if downbeat { 120 } else { 90 }));
    }

    pub(super) fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        let total = left.len().min(right.len());
        let mut done = 0usize;
        while done < total {
            let want = (total - done) as u64;
            let len = self.advance(want).clamp(1, want) as usize;
            match self.synth.as_mut() {
                Some(synth) => synth.render(&mut left[done..done + len], &mut right[done..done + len]),
                None => {
                    left[done..done + len].fill(0.0);
                    right[done..done + len].fill(0.0);
                }
            }
            self.after_render(len as u64);
            done += len;
        }
    }

    /// Sends what is due now and returns how many frames may be rendered before the next
    /// thing happens.
    fn advance(&mut self, want: u64) -> u64 {
        let mut len = want;
        let clock = self.clock;
        let mut i = 0;
        while i < self.preview_offs.len() {
            if self.preview_offs[i].0 <= clock {
                let (_, m) = self.preview_offs.swap_remove(i);
                self.send(m);
            } else {
                i += 1;
            }
        }
        if let Some(next_off) = self.preview_offs.iter().map(|(at, _)| *at).min() {
            len = len.min(next_off - clock);
        }
        if !self.playing {
            return len;
        }
        if self.count_in_left > 0 {
            if self.count_in_next_click == 0 {
                let downbeat = self.count_in_beat_index.is_multiple_of(self.count_in_beats_per_bar);
                self.click(downbeat);
                self.count_in_beat_index += 1;
                self.count_in_next_click = self.count_in_beat;
            }
            return len.min(self.count_in_next_click).min(self.count_in_left);
        }
        if let Some((start, end)) = self.settings.loop_ticks.filter(|(s, e)| e > s) {
            let end_frame = self.tick_to_frame(end);
            if self.frame >= end_frame {
                self.seek_tick(start);
            } else {
                len = len.min(end_frame - self.frame);
            }
        }
        if self.frame >= self.end_frame && !self.settings.run_past_end && self.settings.loop_ticks.is_none() {
            self.playing = false;
            self.silence();
            return len;
        }
        while let Some(m) = self.song.schedule.get(self.next).filter(|m| m.frame <= self.frame).copied() {
            self.send_song(LiveMessage { channel: m.channel, command: m.command, data1: m.data1, data2: m.data2 });
            self.next += 1;
        }
        if let Some(m) = self.song.schedule.get(self.next) {
            len = len.min(m.frame - self.frame);
        }
        if self.settings.metronome {
            let click_frame = self.tick_to_frame(self.next_click_tick);
            if click_frame <= self.frame {
                let sig = self.time_signature_at(self.next_click_tick);
                let bar = ticks_per_bar(self.song.song.ppq, &sig).max(1);
                self.click((self.next_click_tick - sig.tick).is_multiple_of(bar));
                self.next_click_tick = self.next_beat_at_or_after(self.next_click_tick + 1);
            }
            len = len.min(self.tick_to_frame(self.next_click_tick).saturating_sub(self.frame).max(1));
        }
        len
    }

    fn after_render(&mut self, frames: u64) {
        self.clock += frames;
        if !self.playing {
            return;
        }
        if self.count_in_left > 0 {
            self.count_in_left = self.count_in_left.saturating_sub(frames);
            self.count_in_next_click = self.count_in_next_click.saturating_sub(frames);
            if self.count_in_left == 0 {
                self.next_click_tick = self.next_beat_at_or_after(self.position_tick());
            }
        } else {
            self.frame += frames;
        }
    }

    pub(super) fn publish(&self, status: &PlayerStatus) {
        status.playing.store(self.playing, Ordering::Relaxed);
        status.counting_in.store(self.playing && self.count_in_left > 0, Ordering::Relaxed);
        status.position_tick.store(self.position_tick(), Ordering::Relaxed);
    }
}
