//! Standard MIDI File import.
//!
//! Chunk framing is read here so every error can name a byte offset; the events inside a track
//! chunk are decoded by midly. Memory is bounded by the file size (which is capped) and
//! nothing is allocated from counts the header merely claims.

use std::collections::VecDeque;
use std::path::Path;

use midly::{EventIter, MetaMessage, MidiMessage, TrackEventKind};

use super::error::{MidiError, MidiErrorKind};
use crate::gm;
use crate::song::{BendPoint, DRUM_CHANNEL, KeySignatureChange, Note, Song, TempoChange, TimeSignatureChange, Track};
use crate::timing::TempoMap;

/// Larger files are refused before reading (real-world songs are a few MB at most).
pub const MAX_FILE_BYTES: u64 = 128 << 20;
/// An event later than this into the song means the delta times are corrupt.
pub const MAX_SONG_HOURS: u32 = 24;

/// Reads a MIDI file from disk.
pub fn read_song(path: &Path) -> Result<Song, MidiError> {
    let size = std::fs::metadata(path).map_err(|e| MidiError::new(e.into()).in_file(path))?.len();
    if size > MAX_FILE_BYTES {
        return Err(MidiError::new(MidiErrorKind::TooLarge { size, limit: MAX_FILE_BYTES }).in_file(path));
    }
    let bytes = std::fs::read(path).map_err(|e| MidiError::new(e.into()).in_file(path))?;
    parse_song(&bytes).map_err(|e| e.in_file(path))
}

/// Parses a complete Standard MIDI File held in memory.
pub fn parse_song(bytes: &[u8]) -> Result<Song, MidiError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(MidiErrorKind::TooLarge { size: bytes.len() as u64, limit: MAX_FILE_BYTES }.into());
    }
    let (header, body_start) = parse_header(bytes)?;
    let chunks = track_chunks(bytes, body_start)?;
    if usize::from(header.declared_tracks) > chunks.len() {
        return Err(MidiError::at(
            bytes.len() as u64,
            MidiErrorKind::MissingTracks { declared: header.declared_tracks, found: chunks.len() },
        ));
    }

    let mut builder = SongBuilder::default();
    let mut sequence_offset = 0u64;
    for (index, chunk) in chunks.iter().enumerate() {
        // Format 2 holds independent patterns: play them one after another.
        let start = if header.format == 2 { sequence_offset } else { 0 };
        let end = builder.read_chunk(index, chunk, start)?;
        sequence_offset = end;
    }
    builder.finish(header.timing)
}

#[derive(Debug, Clone, Copy)]
enum Timing {
    Metrical(u16),
    /// SMPTE division converted to a PPQ and a fixed tempo that keep every tick's time.
    Timecode {
        ppq: u16,
        micros_per_quarter: u32,
    },
}

struct Header {
    format: u16,
    declared_tracks: u16,
    timing: Timing,
}

fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn parse_header(bytes: &[u8]) -> Result<(Header, usize), MidiError> {
    if bytes.len() < 4 || &bytes[..4] != b"MThd" {
        // RIFF-wrapped MIDI (.rmi) carries the SMF inside a "data" chunk.
        if bytes.len() >= 20
            && &bytes[..4] == b"RIFF"
            && &bytes[8..12] == b"RMID"
            && let Some(at) = bytes.windows(4).position(|w| w == b"MThd")
        {
            let (header, end) = parse_header(&bytes[at..]).map_err(|e| shift(e, at))?;
            return Ok((header, end + at));
        }
        return Err(MidiError::at(0, MidiErrorKind::NotMidi));
    }
    if bytes.len() < 8 {
        return Err(MidiError::at(4, truncated("the header chunk length", 4, bytes.len() - 4)));
    }
    let length = be_u32(&bytes[4..8]);
    if length < 6 {
        return Err(MidiError::at(4, MidiErrorKind::HeaderTooShort { length }));
    }
    let end = 8u64 + u64::from(length);
    if end > bytes.len() as u64 {
        return Err(MidiError::at(8, truncated("the header chunk", u64::from(length), bytes.len() - 8)));
    }
    let body = &bytes[8..];
    let format = be_u16(&body[0..2]);
    if format > 2 {
        return Err(MidiError::at(8, MidiErrorKind::UnsupportedFormat(format)));
    }
    let declared_tracks = be_u16(&body[2..4]);
    let division = be_u16(&body[4..6]);
    let timing = if division & 0x8000 == 0 {
        if division == 0 {
            return Err(MidiError::at(12, MidiErrorKind::ZeroPpq));
        }
        Timing::Metrical(division)
    } else {
        let fps = (division >> 8) as u8 as i8;
        let subframes = (division & 0xFF) as u8;
        let frames_per_second = match -i32::from(fps) {
            24 => 24.0,
            25 => 25.0,
            29 => 29.97,
            30 => 30.0,
            _ => {
                return Err(MidiError::at(12, MidiErrorKind::BadTimecode { fps, subframes }));
            }
        };
        if subframes == 0 {
            return Err(MidiError::at(12, MidiErrorKind::BadTimecode { fps, subframes }));
        }
        let ticks_per_second = frames_per_second * f64::from(subframes);
        let ppq = ticks_per_second.round().clamp(1.0, 32767.0) as u16;
        let micros_per_quarter = (f64::from(ppq) / ticks_per_second * 1e6).round() as u32;
        Timing::Timecode { ppq, micros_per_quarter }
    };
    Ok((Header { format, declared_tracks, timing }, end as usize))
}

fn truncated(what: &'static str, needed: u64, available: usize) -> MidiErrorKind {
    MidiErrorKind::Truncated { what, needed, available: available as u64 }
}

fn shift(mut err: MidiError, by: usize) -> MidiError {
    err.offset = err.offset.map(|o| o + by as u64);
    err
}

/// A track chunk: its data and the file offset where the data starts.
struct Chunk<'a> {
    data_offset: usize,
    data: &'a [u8],
}

/// Frames the chunks after the header; unknown chunk types are skipped as the SMF spec asks.
fn track_chunks(bytes: &[u8], mut at: usize) -> Result<Vec<Chunk<'_>>, MidiError> {
    let mut chunks = Vec::new();
    while at < bytes.len() {
        let left = bytes.len() - at;
        if left < 8 {
            // A few stray bytes after the last chunk (padding) are harmless.
            if bytes[at..].iter().all(|&b| b == 0) {
                break;
            }
            return Err(MidiError::at(at as u64, truncated("a chunk header", 8, left)));
        }
        let id = &bytes[at..at + 4];
        let length = u64::from(be_u32(&bytes[at + 4..at + 8]));
        let data_offset = at + 8;
        let available = (bytes.len() - data_offset) as u64;
        if length > available {
            let what = if id == b"MTrk" { "a track chunk" } else { "a chunk (or the bytes are garbage)" };
            return Err(MidiError::at(at as u64 + 4, MidiErrorKind::Truncated { what, needed: length, available }));
        }
        let end = data_offset + length as usize;
        if id == b"MTrk" {
            chunks.push(Chunk { data_offset, data: &bytes[data_offset..end] });
        }
        at = end;
    }
    Ok(chunks)
}

/// Notes sounding on one channel of one chunk, with the state needed to close them.
/// Plain arrays indexed by pitch: this is the importer's hot path.
#[derive(Default)]
struct ChannelNotes {
    used: bool,
    program: Option<u8>,
    volume: Option<u8>,
    pan: Option<u8>,
    notes: Vec<Note>,
    /// Per pitch, indices into `notes` still sounding, oldest first (note-offs close FIFO).
    /// (Empty until the channel's first note, so idle channels and chunks cost nothing.)
    open: Vec<VecDeque<usize>>,
    /// Indices of sounding notes in start order; a bend goes to the latest one.
    sounding: Vec<usize>,
    /// Bend value in force on the channel.
    bend: i16,
}

impl ChannelNotes {
    fn note_on(&mut self, tick: u64, pitch: u8, velocity: u8) {
        let mut note = Note::new(tick, 0, pitch, velocity);
        if self.bend != 0 {
            note.bend.push(BendPoint { offset: 0, value: self.bend });
        }
        let index = self.notes.len();
        self.notes.push(note);
        if self.open.is_empty() {
            self.open.resize_with(128, VecDeque::new);
        }
        self.open[usize::from(pitch & 0x7F)].push_back(index);
        self.sounding.push(index);
    }

    fn note_off(&mut self, tick: u64, pitch: u8) {
        let Some(index) = self.open.get_mut(usize::from(pitch)).and_then(VecDeque::pop_front) else {
            return;
        };
        self.close(index, tick);
    }

    fn close(&mut self, index: usize, tick: u64) {
        let note = &mut self.notes[index];
        note.length = tick.saturating_sub(note.start);
        let length = note.length;
        note.bend.retain(|p| p.offset < length);
        // Notes usually end in about the order they started: search from the oldest.
        if let Some(at) = self.sounding.iter().position(|&i| i == index) {
            self.sounding.remove(at);
        }
    }

    fn pitch_bend(&mut self, tick: u64, value: i16) {
        self.bend = value;
        if let Some(&index) = self.sounding.last() {
            let note = &mut self.notes[index];
            let point = BendPoint { offset: tick - note.start, value };
            match note.bend.last_mut() {
                Some(last) if last.offset == point.offset => *last = point,
                _ => note.bend.push(point),
            }
        }
    }

    fn close_all(&mut self, tick: u64) {
        let open: Vec<usize> = self.open.iter_mut().flat_map(std::mem::take).collect();
        for index in open {
            self.close(index, tick);
        }
    }
}

#[derive(Default)]
struct SongBuilder {
    tempos: Vec<TempoChange>,
    time_signatures: Vec<TimeSignatureChange>,
    key_signatures: Vec<KeySignatureChange>,
    tracks: Vec<Track>,
    /// Per chunk: its latest tick and the file offset of the event there.
    latest: Vec<(usize, u64, u64)>,
}

impl SongBuilder {
    /// Reads one track chunk; returns the tick where it ends.
    fn read_chunk(&mut self, index: usize, chunk: &Chunk<'_>, start_tick: u64) -> Result<u64, MidiError> {
        let mut channels: Vec<ChannelNotes> = std::iter::repeat_with(ChannelNotes::default).take(16).collect();
        let mut name: Option<String> = None;
        let mut tick = start_tick;
        let mut consumed = 0usize;
        let mut saw_end = false;
        let mut latest_offset = chunk.data_offset as u64;
        let mut events = EventIter::new(chunk.data);
        while let Some(item) = events.next() {
            // midly's lenient mode stops quietly on a bad event; a short count below says so.
            let Ok(event) = item else { break };
            let event_offset = consumed;
            consumed = chunk.data.len() - events.unread().len();
            let delta = u64::from(u32::from(event.delta));
            tick += delta;
            if delta > 0 {
                latest_offset = (chunk.data_offset + event_offset) as u64;
            }
            match event.kind {
                TrackEventKind::Midi { channel, message } => {
                    let ch = &mut channels[usize::from(u8::from(channel))];
                    ch.used = true;
                    match message {
                        MidiMessage::NoteOn { key, vel } if u8::from(vel) > 0 => {
                            ch.note_on(tick, key.into(), vel.into())
                        }
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            ch.note_off(tick, key.into())
                        }
                        MidiMessage::ProgramChange { program } => {
                            ch.program.get_or_insert(program.into());
                        }
                        MidiMessage::Controller { controller, value } => match u8::from(controller) {
                            7 => _ = ch.volume.get_or_insert(value.into()),
                            10 => _ = ch.pan.get_or_insert(value.into()),
                            _ => {}
                        },
                        MidiMessage::PitchBend { bend } => ch.pitch_bend(tick, bend.as_int()),
                        MidiMessage::Aftertouch { .. } | MidiMessage::ChannelAftertouch { .. } => {}
                    }
                }
                TrackEventKind::Meta(meta) => match meta {
                    MetaMessage::Tempo(micros) => {
                        let micros_per_quarter = u32::from(micros);
                        if micros_per_quarter > 0 {
                            self.tempos.push(TempoChange { tick, micros_per_quarter });
                        }
                    }
                    MetaMessage::TimeSignature(numerator, denominator_pow, _, _)
                        if numerator > 0 && denominator_pow <= 6 =>
                    {
                        self.time_signatures.push(TimeSignatureChange {
                            tick,
                            numerator,
                            denominator: 1 << denominator_pow,
                        });
                    }
                    MetaMessage::KeySignature(sharps, minor) if (-7..=7).contains(&sharps) => {
                        self.key_signatures.push(KeySignatureChange { tick, sharps, minor })
                    }
                    MetaMessage::TrackName(bytes) if name.is_none() => name = Some(decode_text(bytes)),
                    MetaMessage::EndOfTrack => {
                        saw_end = true;
                        break;
                    }
                    _ => {}
                },
                TrackEventKind::SysEx(_) | TrackEventKind::Escape(_) => {}
            }
        }
        if !saw_end && consumed < chunk.data.len() {
            return Err(MidiError::at(
                (chunk.data_offset + consumed) as u64,
                MidiErrorKind::MalformedEvent { track: index },
            ));
        }
        self.latest.push((index, tick, latest_offset));
        self.add_tracks(name, channels, tick);
        Ok(tick)
    }

    fn add_tracks(&mut self, name: Option<String>, channels: Vec<ChannelNotes>, end_tick: u64) {
        let split = channels.iter().filter(|c| c.used).count() > 1;
        let used = (0u8..).zip(channels).filter(|(_, c)| c.used);
        for (channel, mut ch) in used {
            ch.close_all(end_tick);
            let program = ch.program.unwrap_or(0);
            let is_drum = channel == DRUM_CHANNEL;
            let instrument = if is_drum { "Drums".to_string() } else { gm::program_name(program).to_string() };
            let track_name = match &name {
                Some(n) if !split => n.clone(),
                Some(n) if !n.is_empty() => format!("{n} · {instrument}"),
                _ => instrument,
            };
            let mut track = Track::new(track_name, program, channel);
            track.is_drum = is_drum;
            track.volume = ch.volume.unwrap_or(100);
            track.pan = ch.pan.unwrap_or(64);
            track.notes = ch.notes;
            track.sort_notes();
            self.tracks.push(track);
        }
    }

    fn finish(mut self, timing: Timing) -> Result<Song, MidiError> {
        let ppq = match timing {
            Timing::Metrical(ppq) => ppq,
            Timing::Timecode { ppq, micros_per_quarter } => {
                // Timecode files have absolute time; tempo events do not apply.
                self.tempos = vec![TempoChange { tick: 0, micros_per_quarter }];
                ppq
            }
        };
        let mut song = Song::new(ppq);
        // A stable sort keeps file order for changes at the same tick, so the last one wins.
        self.tempos.sort_by_key(|t| t.tick);
        self.time_signatures.sort_by_key(|t| t.tick);
        self.key_signatures.sort_by_key(|t| t.tick);
        song.tempos = self.tempos;
        song.time_signatures = self.time_signatures;
        song.key_signatures = self.key_signatures;
        song.normalize_maps();
        song.tracks = self.tracks;

        let map = TempoMap::for_song(&song);
        let limit_seconds = f64::from(MAX_SONG_HOURS) * 3600.0;
        for (track, tick, offset) in self.latest {
            let seconds = map.tick_to_seconds(tick);
            if seconds > limit_seconds {
                return Err(MidiError::at(
                    offset,
                    MidiErrorKind::AbsurdTime { track, hours: seconds / 3600.0, limit_hours: MAX_SONG_HOURS },
                ));
            }
        }
        Ok(song)
    }
}

/// Track names are usually ASCII or UTF-8; older files use Latin-1.
fn decode_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}
