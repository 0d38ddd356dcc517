//! The notes of a standard MIDI file, with times in quarter notes: all the training code needs
//! from the corpus's files (the app's song model reads MIDI itself, with tempo, tracks and
//! controllers).

use thiserror::Error;

use crate::vae::melody::TimedNote;

#[derive(Debug, Error)]
pub enum MidiNotesError {
    #[error("not a MIDI file: {0}")]
    Parse(String),
    #[error("SMPTE time division is not supported (the corpus uses ticks per quarter)")]
    Smpte,
}

/// One part (MIDI track) of a file: its GM program and notes. Drum channel notes are left out.
#[derive(Debug, Clone, Default)]
pub struct Part {
    pub program: u8,
    pub notes: Vec<TimedNote>,
}

/// Reads every track's notes. A note-on without its note-off ends at the track's end.
pub fn read_parts(bytes: &[u8]) -> Result<Vec<Part>, MidiNotesError> {
    let smf = midly::Smf::parse(bytes).map_err(|e| MidiNotesError::Parse(e.to_string()))?;
    let ppq = match smf.header.timing {
        midly::Timing::Metrical(ppq) => f64::from(ppq.as_int().max(1)),
        midly::Timing::Timecode(..) => return Err(MidiNotesError::Smpte),
    };
    let mut parts = Vec::new();
    for track in &smf.tracks {
        let mut part = Part::default();
        // Sounding notes per (channel, key): start tick and velocity.
        let mut open: std::collections::HashMap<(u8, u8), (u64, u8)> = Default::default();
        let mut tick = 0u64;
        let close = |part: &mut Part, pitch: u8, (start, velocity): (u64, u8), end: u64| {
            part.notes.push(TimedNote { pitch, start: start as f64 / ppq, end: end as f64 / ppq, velocity });
        };
        for event in track {
            tick += u64::from(event.delta.as_int());
            let midly::TrackEventKind::Midi { channel, message } = event.kind else { continue };
            let channel = channel.as_int();
            if channel == 9 {
                continue;
            }
            match message {
                midly::MidiMessage::ProgramChange { program } => part.program = program.as_int(),
                midly::MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                    let key = key.as_int();
                    if let Some(started) = open.insert((channel, key), (tick, vel.as_int())) {
                        close(&mut part, key, started, tick);
                    }
                }
                midly::MidiMessage::NoteOn { key, .. } | midly::MidiMessage::NoteOff { key, .. } => {
                    if let Some(started) = open.remove(&(channel, key.as_int())) {
                        close(&mut part, key.as_int(), started, tick);
                    }
                }
                _ => {}
            }
        }
        for ((_, key), started) in open {
            close(&mut part, key, started, tick.max(started.0 + 1));
        }
        if !part.notes.is_empty() {
            part.notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.pitch.cmp(&b.pitch)));
            parts.push(part);
        }
    }
    Ok(parts)
}
