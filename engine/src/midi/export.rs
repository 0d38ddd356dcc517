//! Standard MIDI File export: SMF type 1, a conductor track (tempo, time and key signatures)
//! followed by one track chunk per Cadenza track.

use std::path::Path;

use midly::num::{u4, u7, u15, u24, u28};
use midly::{
    Format, Header, MetaMessage, MidiMessage, PitchBend, Smf, Timing, TrackEvent, TrackEventKind,
};

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
    let smf = Smf {
        header: Header::new(Format::Parallel, Timing::Metrical(ppq)),
        tracks,
    };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes)
        .map_err(|e| MidiError::new(e.into()))?;
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

type Timed<'a> = (u64, Slot, TrackEventKind<'a>);

fn conductor_events(song: &Song, chunk: usize) -> Result<Vec<TrackEvent<'static>>, MidiError> {
    let mut events: Vec<Timed<'static>> = Vec::new();
    for tempo in &song.tempos {
        let micros = u24::try_from(tempo.micros_per_quarter.clamp(1, 0xFF_FFFF))
            .unwrap_or(u24::new(500_000));
        events.push((
            tempo.tick,
            Slot::Setup,
            TrackEventKind::Meta(MetaMessage::Tempo(micros)),
        ));
    }
    for sig in &song.time_signatures {
        let pow = sig.denominator.max(1).trailing_zeros() as u8;
        events.push((
            sig.tick,
            Slot::Setup,
            TrackEventKind::Meta(MetaMessage::TimeSignature(sig.numerator, pow, 24, 8)),
        ));
    }
    for key in &song.key_signatures {
        events.push((
            key.tick,
            Slot::Setup,
            TrackEventKind::Meta(MetaMessage::KeySignature(key.sharps, key.minor)),
        ));
    }
    to_deltas(events, chunk)
}

fn track_events(track: &Track, chunk: usize) -> Result<Vec<TrackEvent<'_>>, MidiError> {
    let channel = u4::new(if track.is_drum {
        DRUM_CHANNEL
    } else {
        track.channel.min(15)
    });
    let midi = |message| TrackEventKind::Midi { channel, message };
    let mut events: Vec<Timed<'_>> = vec![
        (
            0,
            Slot::Setup,
            TrackEventKind::Meta(MetaMessage::TrackName(track.name.as_bytes())),
        ),
        (
            0,
            Slot::Setup,
            midi(MidiMessage::ProgramChange {
                program: u7::new(track.program.min(127)),
            }),
        ),
        (
            0,
            Slot::Setup,
            midi(MidiMessage::Controller {
                controller: u7::new(7),
                value: u7::new(track.volume.min(127)),
            }),
        ),
        (
            0,
            Slot::Setup,
            midi(MidiMessage::Controller {
                controller: u7::new(10),
                value: u7::new(track.pan.min(127)),
            }),
        ),
    ];
    events.reserve(track.notes.len() * 2);
    for note in &track.notes {
        let key = u7::new(note.pitch.min(127));
        events.push((
            note.start,
            Slot::NoteOn,
            midi(MidiMessage::NoteOn {
                key,
                vel: u7::new(note.velocity.clamp(1, 127)),
            }),
        ));
        let off_slot = if note.length == 0 {
            Slot::ZeroLengthOff
        } else {
            Slot::NoteOff
        };
        events.push((
            note.end(),
            off_slot,
            midi(MidiMessage::NoteOff {
                key,
                vel: u7::new(0),
            }),
        ));
        for point in note.bend.iter().filter(|p| p.offset < note.length) {
            let bend = PitchBend::from_int(point.value.clamp(-8192, 8191));
            events.push((
                note.start + point.offset,
                Slot::Bend,
                midi(MidiMessage::PitchBend { bend }),
            ));
        }
        if note.bend.last().is_some_and(|p| p.value != 0) {
            let bend = PitchBend::from_int(0);
            events.push((
                note.end(),
                Slot::BendReset,
                midi(MidiMessage::PitchBend { bend }),
            ));
        }
    }
    to_deltas(events, chunk)
}

/// Sorts timed events (stably, so same-slot events keep their order), turns absolute ticks
/// into deltas and ends the track.
fn to_deltas(mut events: Vec<Timed<'_>>, chunk: usize) -> Result<Vec<TrackEvent<'_>>, MidiError> {
    events.sort_by_key(|(tick, slot, _)| (*tick, *slot));
    let mut out = Vec::with_capacity(events.len() + 1);
    let mut last = 0u64;
    for (tick, _, kind) in events {
        let delta = tick - last;
        let delta = u28::try_from(u32::try_from(delta).unwrap_or(u32::MAX)).ok_or(
            MidiError::new(MidiErrorKind::GapTooLong {
                track: chunk,
                ticks: delta,
            }),
        )?;
        out.push(TrackEvent { delta, kind });
        last = tick;
    }
    out.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    Ok(out)
}
