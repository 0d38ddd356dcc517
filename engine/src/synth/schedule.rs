//! The song as timed synth messages: one list, shared by offline rendering and live playback.

use crate::song::{DRUM_CHANNEL, Song};
use crate::timing::TempoMap;

/// A channel message at a frame.
#[derive(Debug, Clone, Copy)]
pub struct Message {
    pub frame: u64,
    /// Orders messages at the same frame: offs, set-up, ons, bends.
    pub order: u8,
    pub channel: u8,
    pub command: u8,
    pub data1: u8,
    pub data2: u8,
}

/// Gives each audible track its own synth channel (drums on 10) so tracks that share a MIDI
/// channel in the file still keep their own instrument; past 15 melodic tracks, tracks with
/// the same program share.
fn assign_channels(song: &Song) -> Vec<(usize, u8)> {
    let mut free: Vec<u8> = (0..16u8).filter(|&c| c != DRUM_CHANNEL).rev().collect();
    let mut by_program: Vec<(u8, u8)> = Vec::new();
    let mut out = Vec::new();
    for (index, track) in song.audible_tracks() {
        let channel = if track.is_drum {
            DRUM_CHANNEL
        } else if let Some(c) = free.pop() {
            by_program.push((track.program, c));
            c
        } else {
            by_program.iter().find(|(p, _)| *p == track.program).map(|(_, c)| *c).unwrap_or(track.channel & 0x0F)
        };
        out.push((index, channel));
    }
    out
}

pub fn messages(song: &Song, sample_rate: u32) -> Vec<Message> {
    let map = TempoMap::for_song(song);
    let frame = |tick: u64| (map.tick_to_seconds(tick) * f64::from(sample_rate)).round() as u64;
    let mut out = Vec::new();
    for (index, channel) in assign_channels(song) {
        let track = &song.tracks[index];
        let setup = |command, data1, data2| Message { frame: 0, order: 1, channel, command, data1, data2 };
        out.push(setup(0xC0, track.program & 0x7F, 0));
        out.push(setup(0xB0, 7, track.volume.min(127)));
        out.push(setup(0xB0, 10, track.pan.min(127)));
        for note in &track.notes {
            let msg = |tick, order, command, data1, data2| Message {
                frame: frame(tick),
                order,
                channel,
                command,
                data1,
                data2,
            };
            out.push(msg(note.start, 2, 0x90, note.pitch, note.velocity.max(1)));
            out.push(msg(note.end(), 0, 0x80, note.pitch, 0));
            for point in &note.bend {
                let raw = u16::try_from(i32::from(point.value).clamp(-8192, 8191) + 8192).unwrap_or(8192);
                out.push(msg(note.start + point.offset, 3, 0xE0, (raw & 0x7F) as u8, (raw >> 7) as u8));
            }
            if note.bend.last().is_some_and(|p| p.value != 0) {
                out.push(msg(note.end(), 1, 0xE0, 0, 64));
            }
        }
    }
    out.sort_by_key(|m| (m.frame, m.order));
    out
}
