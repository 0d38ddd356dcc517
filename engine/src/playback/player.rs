//! The player: turns the song into sound block by block, on whatever thread pulls audio (the
//! output device's callback, or a silent clock when there is no device). The playhead is the
//! count of frames it has rendered, so it follows the audio clock, not the window's.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::song::{DRUM_CHANNEL, Song};
use crate::synth::Synth;
use crate::synth::schedule::{Message, messages};
use crate::timing::{TempoMap, ticks_per_bar, ticks_per_beat};

/// The channel previews and the MIDI keyboard play on, so they never disturb a track's
/// instrument. (A song with 16 melodic tracks shares it with its last track.)
pub const LIVE_CHANNEL: u8 = 15;
/// GM percussion keys for the metronome: high wood block on the downbeat, low on the others.
const CLICK_DOWNBEAT: u8 = 76;
const CLICK_BEAT: u8 = 77;

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

struct Core {
    synth: Option<Box<dyn Synth>>,
    rate: u32,
    song: Arc<Song>,
    map: TempoMap,
    schedule: Vec<Message>,
    setup: Vec<Message>,
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
    /// Pending note-offs for previews, in clock frames.
    preview_offs: Vec<(u64, LiveMessage)>,
    clock: u64,
    midi_out: Option<MidiSink>,
}

/// The shared player: the engine drives it, the audio thread pulls from it.
pub struct Player {
    core: Mutex<Core>,
    status: Arc<PlayerStatus>,
    live_tx: Sender<LiveMessage>,
    live_rx: Receiver<LiveMessage>,
}

impl Player {
    pub fn new(rate: u32) -> Arc<Self> {
        let (live_tx, live_rx) = unbounded();
        let song = Arc::new(Song::default());
        Arc::new(Self {
            core: Mutex::new(Core {
                synth: None,
                rate: rate.max(1),
                map: TempoMap::for_song(&song),
                song,
                schedule: Vec::new(),
                setup: Vec::new(),
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
                preview_offs: Vec::new(),
                clock: 0,
                midi_out: None,
            }),
            status: Arc::new(PlayerStatus::default()),
            live_tx,
            live_rx,
        })
    }

    fn core(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock leaves plain data behind; carry on with it.
        self.core.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn status(&self) -> Arc<PlayerStatus> {
        Arc::clone(&self.status)
    }

    /// A sender for messages to play at once, usable from a MIDI callback.
    pub fn live_sender(&self) -> Sender<LiveMessage> {
        self.live_tx.clone()
    }

    pub fn set_synth(&self, synth: Box<dyn Synth>) {
        let mut core = self.core();
        core.rate = synth.sample_rate();
        core.synth = Some(synth);
        let song = Arc::clone(&core.song);
        core.load(song);
    }

    /// Plays the song on an external synth too (`None` stops that).
    pub fn set_midi_out(&self, sink: Option<MidiSink>) {
        let mut core = self.core();
        core.midi_out = sink;
        core.resend_setup();
    }

    /// Takes a new version of the song; playback carries on from the same tick.
    pub fn set_song(&self, song: Arc<Song>) {
        self.core().load(song);
    }

    pub fn set_settings(&self, settings: TransportSettings) {
        let mut core = self.core();
        core.settings = settings;
        core.end_frame = core.song_end_frame();
    }

    pub fn play(&self) {
        let mut core = self.core();
        if core.playing {
            return;
        }
        if core.frame >= core.end_frame && !core.settings.run_past_end {
            let start = core.settings.loop_ticks.map_or(0, |(start, _)| start);
            core.seek_tick(start);
        }
        core.start_count_in();
        core.playing = true;
        core.publish(&self.status);
    }

    pub fn pause(&self) {
        let mut core = self.core();
        core.playing = false;
        core.count_in_left = 0;
        core.silence();
        core.publish(&self.status);
    }

    pub fn seek(&self, tick: u64) {
        let mut core = self.core();
        core.seek_tick(tick);
        core.publish(&self.status);
    }

    /// Sounds a note on the live channel for a moment, with the given instrument.
    pub fn preview(&self, program: u8, is_drum: bool, pitch: u8, velocity: u8) {
        let mut core = self.core();
        let channel = if is_drum { DRUM_CHANNEL } else { LIVE_CHANNEL };
        if !is_drum {
            core.send(LiveMessage::program(channel, program));
        }
        core.send(LiveMessage::note_on(channel, pitch, velocity));
        let off_at = core.clock + u64::from(core.rate) * 3 / 10;
        core.preview_offs.push((off_at, LiveMessage::note_off(channel, pitch)));
    }

    /// Renders the next block (both slices the same length). Silence until a synth is set.
    pub fn render(&self, left: &mut [f32], right: &mut [f32]) {
        let mut core = self.core();
        while let Ok(message) = self.live_rx.try_recv() {
            core.send(message);
        }
        core.render(left, right);
        core.publish(&self.status);
    }
}

impl Core {
    fn load(&mut self, song: Arc<Song>) {
        let tick = self.position_tick();
        self.map = TempoMap::for_song(&song);
        let all = messages(&song, self.rate);
        // Set-up messages (program, volume, pan) sit at frame 0 with order 1; they are resent on
        // every seek so a jump into the middle still has the right instruments.
        let (setup, schedule): (Vec<_>, Vec<_>) = all.into_iter().partition(|m| m.frame == 0 && m.order == 1);
        self.setup = setup;
        self.schedule = schedule;
        self.song = song;
        self.end_frame = self.song_end_frame();
        self.frame = self.tick_to_frame(tick);
        self.next = self.schedule.partition_point(|m| m.frame < self.frame);
        self.resend_setup();
    }

    fn song_end_frame(&self) -> u64 {
        let seconds = self.song.duration_seconds() + 1.0;
        (seconds * f64::from(self.rate)) as u64
    }

    fn tick_to_frame(&self, tick: u64) -> u64 {
        (self.map.tick_to_seconds(tick) * f64::from(self.rate)).round() as u64
    }

    fn position_tick(&self) -> u64 {
        self.map.seconds_to_tick(self.frame as f64 / f64::from(self.rate))
    }

    fn send(&mut self, m: LiveMessage) {
        if let Some(synth) = self.synth.as_mut() {
            synth.midi(m.channel, m.command, m.data1, m.data2);
        }
    }

    /// A song message: to the synth and to the external MIDI output, if any.
    fn send_song(&mut self, m: LiveMessage) {
        self.send(m);
        if let Some(out) = self.midi_out.as_mut() {
            out([m.command | (m.channel & 0x0F), m.data1 & 0x7F, m.data2 & 0x7F]);
        }
    }

    fn resend_setup(&mut self) {
        for m in self.setup.clone() {
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
        self.next = self.schedule.partition_point(|m| m.frame < self.frame);
        self.next_click_tick = self.next_beat_at_or_after(tick);
        self.resend_setup();
    }

    fn time_signature_at(&self, tick: u64) -> crate::song::TimeSignatureChange {
        let sigs = &self.song.time_signatures;
        let at = sigs.partition_point(|s| s.tick <= tick);
        sigs.get(at.saturating_sub(1)).copied().unwrap_or(crate::song::TimeSignatureChange {
            tick: 0,
            numerator: 4,
            denominator: 4,
        })
    }

    fn next_beat_at_or_after(&self, tick: u64) -> u64 {
        let sig = self.time_signature_at(tick);
        let beat = ticks_per_beat(self.song.ppq, &sig).max(1);
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
        let beat_ticks = ticks_per_beat(self.song.ppq, &sig).max(1);
        let beats_per_bar = ticks_per_bar(self.song.ppq, &sig) / beat_ticks;
        let seconds_per_beat = self.map.tick_to_seconds(tick + beat_ticks) - self.map.tick_to_seconds(tick);
        self.count_in_beat = ((seconds_per_beat * f64::from(self.rate)) as u64).max(1);
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

    fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
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
        let mut due = Vec::new();
        self.preview_offs.retain(|&(at, m)| {
            if at <= clock {
                due.push(m);
                false
            } else {
                true
            }
        });
        for m in due {
            self.send(m);
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
        while let Some(m) = self.schedule.get(self.next).filter(|m| m.frame <= self.frame).copied() {
            self.send_song(LiveMessage { channel: m.channel, command: m.command, data1: m.data1, data2: m.data2 });
            self.next += 1;
        }
        if let Some(m) = self.schedule.get(self.next) {
            len = len.min(m.frame - self.frame);
        }
        if self.settings.metronome {
            let click_frame = self.tick_to_frame(self.next_click_tick);
            if click_frame <= self.frame {
                let sig = self.time_signature_at(self.next_click_tick);
                let bar = ticks_per_bar(self.song.ppq, &sig).max(1);
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

    fn publish(&self, status: &PlayerStatus) {
        status.playing.store(self.playing, Ordering::Relaxed);
        status.counting_in.store(self.playing && self.count_in_left > 0, Ordering::Relaxed);
        status.position_tick.store(self.position_tick(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::song::{Note, Track};
    use crate::synth::BuiltinSynth;

    const RATE: u32 = 8000;

    fn song() -> Arc<Song> {
        let mut song = Song::new(480);
        let mut track = Track::new("Lead", 0, 0);
        track.insert_note(Note::new(0, 480, 60, 100));
        track.insert_note(Note::new(1920, 480, 67, 100));
        song.tracks.push(track);
        Arc::new(song)
    }

    fn player() -> Arc<Player> {
        let player = Player::new(RATE);
        player.set_synth(Box::new(BuiltinSynth::new(RATE)));
        player.set_song(song());
        player
    }

    fn pull(player: &Player, frames: usize) -> Vec<f32> {
        let (mut l, mut r) = (vec![0.0; frames], vec![0.0; frames]);
        for (lc, rc) in l.chunks_mut(256).zip(r.chunks_mut(256)) {
            player.render(lc, rc);
        }
        l
    }

    fn rms(a: &[f32]) -> f32 {
        (a.iter().map(|s| s * s).sum::<f32>() / a.len().max(1) as f32).sqrt()
    }

    #[test]
    fn playhead_follows_rendered_frames() {
        let player = player();
        let status = player.status();
        player.play();
        pull(&player, RATE as usize / 2); // 0.5 s at 120 BPM = one beat
        assert!(status.is_playing());
        assert_eq!(status.position_tick(), 480);
        player.pause();
        pull(&player, RATE as usize);
        assert_eq!(status.position_tick(), 480, "the playhead moved while paused");
    }

    #[test]
    fn plays_notes_where_they_are() {
        let player = player();
        player.play();
        let audio = pull(&player, RATE as usize * 3);
        assert!(rms(&audio[400..3600]) > 0.01, "first note silent");
        assert!(rms(&audio[6000..15900]) < 1e-4, "gap not silent");
        assert!(rms(&audio[16400..19600]) > 0.01, "second note silent");
    }

    #[test]
    fn seeking_jumps_and_stops_at_the_end() {
        let player = player();
        let status = player.status();
        player.seek(1920);
        player.play();
        let audio = pull(&player, RATE as usize / 4);
        assert!(rms(&audio) > 0.01, "note after the seek point silent");
        pull(&player, RATE as usize * 3);
        assert!(!status.is_playing(), "playback ran past the end");
    }

    #[test]
    fn loops_between_ticks() {
        let player = player();
        let status = player.status();
        player.set_settings(TransportSettings { loop_ticks: Some((0, 960)), ..Default::default() });
        player.play();
        pull(&player, RATE as usize * 5 / 4); // 2.5 beats
        assert!(status.is_playing());
        assert_eq!(status.position_tick(), 240, "loop did not wrap to its start");
    }

    #[test]
    fn count_in_holds_the_playhead_and_clicks() {
        let player = Player::new(RATE);
        player.set_synth(Box::new(BuiltinSynth::new(RATE)));
        player.set_song(Arc::new(Song::new(480))); // empty: anything heard is the metronome
        let status = player.status();
        player.set_settings(TransportSettings {
            metronome: true,
            count_in_bars: 1,
            run_past_end: true,
            ..Default::default()
        });
        player.play();
        let audio = pull(&player, RATE as usize); // half of a 4/4 bar at 120 BPM
        assert!(status.is_counting_in());
        assert_eq!(status.position_tick(), 0);
        assert!(rms(&audio[..800]) > 0.005, "no click at the count-in's first beat");
        pull(&player, RATE as usize + 8);
        assert!(!status.is_counting_in());
        assert!(status.position_tick() > 0);
    }

    #[test]
    fn previews_sound_while_stopped_and_end_by_themselves() {
        let player = player();
        player.preview(0, false, 72, 100);
        let audio = pull(&player, RATE as usize);
        assert!(rms(&audio[..1600]) > 0.01, "preview silent");
        assert!(rms(&audio[RATE as usize - 800..]) < 1e-3, "preview did not stop");
    }

    #[test]
    fn the_song_also_goes_to_a_midi_output() {
        let player = player();
        let (tx, rx) = crossbeam_channel::unbounded();
        player.set_midi_out(Some(Box::new(move |bytes| {
            let _ = tx.send(bytes);
        })));
        player.play();
        pull(&player, RATE as usize * 3);
        let sent: Vec<[u8; 3]> = rx.try_iter().collect();
        let notes: Vec<[u8; 3]> = sent.iter().copied().filter(|m| m[0] & 0xE0 == 0x80).collect();
        assert_eq!(notes, vec![[0x90, 60, 100], [0x80, 60, 0], [0x90, 67, 100], [0x80, 67, 0]]);
        assert!(sent.contains(&[0xC0, 0, 0]), "program change missing");
    }

    #[test]
    fn live_messages_play_at_once() {
        let player = player();
        player.live_sender().send(LiveMessage::note_on(LIVE_CHANNEL, 64, 100)).unwrap();
        let audio = pull(&player, 1600);
        assert!(rms(&audio) > 0.01);
    }
}
