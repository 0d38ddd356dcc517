//! Standard MIDI File export: SMF type 1, a conductor track (tempo, time and key signatures)
//! followed by one track chunk per Cadenza track.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

use midly::num::{u4, u7, u15, u24, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, PitchBend, Smf, Timing, TrackEvent, TrackEventKind};

use super::error::{MidiError, MidiErrorKind};
use crate::fsutil::write_bytes_atomically;
use crate::song::{DRUM_CHANNEL, Song, Track};

/// Encodes a song as SMF type 1 bytes.
pub fn song_to_bytes(song: &Song) -> Result<Vec<u8>, MidiError> {
    let mut tracks = Vec::with_capacity(song.tracks.len() + 1);
    tracks.push(conductor_events(song, 0)?);
    for (index, track) in song.tracks.iter().enumerate() {
        tracks.push(track_events(track, index + 1)?);
    }
    let ppq = u15::try_from(song.ppq.clamp(1, 0x7FFF)).unwrap_or(u15::new(480));
    let smf = Smf { header: Header::new(Format::Parallel, Timing::Metrical(ppq)), tracks };
    // About 4 bytes per event with running status; avoids regrowing the buffer.
    let mut bytes = Vec::with_capacity(song.note_count() * 8 + 1024);
    // midly's own writer for Vec<u8> is seekable, so each track is encoded once.
    smf.write(&mut bytes).map_err(|e| MidiError::new(std::io::Error::other(e.to_string()).into()))?;
    Ok(bytes)
}

/// Writes a song to `path` atomically.
pub fn write_song(song: &Song, path: &Path) -> Result<(), MidiError> {
    let bytes = song_to_bytes(song).map_err(|e| e.in_file(path))?;
    write_bytes_atomically(path, &bytes).map_err(|e| MidiError::new(e.into()).in_file(path))
}

/// Events at one tick are written in this order, so a file read back in order rebuilds the
/// same notes: notes ending here close first, then bend resets, set-up, starts, bends.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    NoteOff,
    BendReset,
    Setup,
    NoteOn,
    Bend,
    /// A zero-length note's off follows its own on.
    ZeroLengthOff,
}

fn conductor_events(song: &Song, chunk: usize) -> Result<Vec<TrackEvent<'static>>, MidiError> {
    let mut events: Vec<(u64, TrackEventKind<'static>)> = Vec::new();
    for tempo in &song.tempos {
        let micros = u24::try_from(tempo.micros_per_quarter.clamp(1, 0xFF_FFFF)).unwrap_or(u24::new(500_000));
        events.push((tempo.tick, TrackEventKind::Meta(MetaMessage::Tempo(micros))));
    }
    for sig in &song.time_signatures {
        let pow = sig.denominator.max(1).trailing_zeros() as u8;
        events.push((sig.tick, TrackEventKind::Meta(MetaMessage::TimeSignature(sig.numerator, pow, 24, 8))));
    }
    for key in &song.key_signatures {
        events.push((key.tick, TrackEventKind::Meta(MetaMessage::KeySignature(key.sharps, key.minor))));
    }
    // Stable: tempo, then metre, then key at the same tick.
    events.sort_by_key(|(tick, _)| *tick);
    let mut out = InOrder::new(chunk, events.len() + 1);
    for (tick, kind) in events {
        out.now(tick, Slot::Setup, kind)?;
    }
    out.finish()
}

fn track_events(track: &Track, chunk: usize) -> Result<Vec<TrackEvent<'_>>, MidiError> {
    let channel = u4::new(if track.is_drum { DRUM_CHANNEL } else { track.channel.min(15) });
    let midi = |message| TrackEventKind::Midi { channel, message };
    let controller = |number: u8, value: u8| {
        midi(MidiMessage::Controller { controller: u7::new(number), value: u7::new(value.min(127)) })
    };
    let mut out = InOrder::new(chunk, track.notes.len() * 2 + 5);
    out.now(0, Slot::Setup, TrackEventKind::Meta(MetaMessage::TrackName(track.name.as_bytes())))?;
    out.now(0, Slot::Setup, midi(MidiMessage::ProgramChange { program: u7::new(track.program.min(127)) }))?;
    out.now(0, Slot::Setup, controller(7, track.volume))?;
    out.now(0, Slot::Setup, controller(10, track.pan))?;
    // Notes are sorted by start, so note-ons go out as they come; what happens later in a note
    // (its off, its bends, the bend reset) waits in a heap until its time.
    for note in &track.notes {
        let key = u7::new(note.pitch.min(127));
        let vel = u7::new(note.velocity.clamp(1, 127));
        out.now(note.start, Slot::NoteOn, midi(MidiMessage::NoteOn { key, vel }))?;
        let off_slot = if note.length == 0 { Slot::ZeroLengthOff } else { Slot::NoteOff };
        out.later(note.end(), off_slot, midi(MidiMessage::NoteOff { key, vel: u7::new(0) }));
        for point in note.bend.iter().filter(|p| p.offset < note.length) {
            let bend = PitchBend::from_int(point.value.clamp(-8192, 8191));
            out.later(note.start + point.offset, Slot::Bend, midi(MidiMessage::PitchBend { bend }));
        }
        if note.bend.last().is_some_and(|p| p.value != 0) {
            out.later(note.end(), Slot::BendReset, midi(MidiMessage::PitchBend { bend: PitchBend::from_int(0) }));
        }
    }
    out.finish()
}

/// Builds a track's events in (tick, slot) order, ties in the order they were given, without
/// sorting the whole track: events known to come now are written at once, later ones wait in a
/// min-heap (its size is the polyphony, not the note count).
struct InOrder<'a> {
    chunk: usize,
    out: Vec<TrackEvent<'a>>,
    last_tick: u64,
    /// Keys pack (tick, slot, sequence) into one integer: one comparison per heap step.
    heap: BinaryHeap<Reverse<u128>>,
    waiting: Vec<Option<TrackEventKind<'a>>>,
}

impl<'a> InOrder<'a> {
    fn new(chunk: usize, capacity: usize) -> Self {
        Self { chunk, out: Vec::with_capacity(capacity), last_tick: 0, heap: BinaryHeap::new(), waiting: Vec::new() }
    }

    /// An event no earlier than any given before it through `now`.
    fn now(&mut self, tick: u64, slot: Slot, kind: TrackEventKind<'a>) -> Result<(), MidiError> {
        let bound = heap_key(tick, slot, SEQUENCE_MASK as usize);
        while let Some(&Reverse(key)) = self.heap.peek() {
            if key > bound {
                break;
            }
            self.heap.pop();
            self.emit_waiting(key)?;
        }
        self.emit(tick, kind)
    }

    fn later(&mut self, tick: u64, slot: Slot, kind: TrackEventKind<'a>) {
        self.heap.push(Reverse(heap_key(tick, slot, self.waiting.len())));
        self.waiting.push(Some(kind));
    }

    fn emit_waiting(&mut self, key: u128) -> Result<(), MidiError> {
        let (tick, seq) = ((key >> 64) as u64, (key & SEQUENCE_MASK) as usize);
        match self.waiting[seq].take() {
            Some(kind) => self.emit(tick, kind),
            None => Ok(()),
        }
    }

    fn emit(&mut self, tick: u64, kind: TrackEventKind<'a>) -> Result<(), MidiError> {
        let delta = tick - self.last_tick;
        self.out.push(TrackEvent { delta: checked_delta(delta, self.chunk)?, kind });
        self.last_tick = tick;
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<TrackEvent<'a>>, MidiError> {
        while let Some(Reverse(key)) = self.heap.pop() {
            self.emit_waiting(key)?;
        }
        self.out.push(TrackEvent { delta: u28::new(0), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
        Ok(self.out)
    }
}

/// The low 56 bits of a heap key: the sequence number.
const SEQUENCE_MASK: u128 = (1 << 56) - 1;

/// tick in the high 64 bits, then the slot, then the sequence number (ties in arrival order).
fn heap_key(tick: u64, slot: Slot, seq: usize) -> u128 {
    (u128::from(tick) << 64) | (u128::from(slot as u8) << 56) | (seq as u128 & SEQUENCE_MASK)
}

fn checked_delta(ticks: u64, chunk: usize) -> Result<u28, MidiError> {
    u32::try_from(ticks)
        .ok()
        .and_then(u28::try_from)
        .ok_or(MidiError::new(MidiErrorKind::GapTooLong { track: chunk, ticks }))
}
