//! MIDI keyboards and external synths through midir. Ports are named by their system name so a
//! keyboard that is unplugged and plugged back in is found again.

use midir::{Ignore, MidiInput, MidiInputConnection, MidiOutput, MidiOutputConnection};
use thiserror::Error;

const CLIENT: &str = "Cadenza";

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MidiDeviceError {
    #[error("MIDI is not available on this system: {0}")]
    Unavailable(String),
    #[error("there is no MIDI port named {0:?}")]
    NoSuchPort(String),
    #[error("could not connect to {port:?}: {reason}")]
    Connect { port: String, reason: String },
    #[error("could not send to the MIDI output: {0}")]
    Send(String),
}

/// The ports the system offers now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MidiPorts {
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

pub fn list_ports() -> Result<MidiPorts, MidiDeviceError> {
    let input = MidiInput::new(CLIENT).map_err(|e| MidiDeviceError::Unavailable(e.to_string()))?;
    let output = MidiOutput::new(CLIENT).map_err(|e| MidiDeviceError::Unavailable(e.to_string()))?;
    let inputs = input.ports().iter().filter_map(|p| input.port_name(p).ok()).collect();
    let outputs = output.ports().iter().filter_map(|p| output.port_name(p).ok()).collect();
    Ok(MidiPorts { inputs, outputs })
}

/// An open input; messages go to the callback until it is dropped.
pub struct MidiIn {
    pub port: String,
    _connection: MidiInputConnection<()>,
}

impl MidiIn {
    /// `on_message` runs on midir's thread with each message's bytes: keep it short.
    pub fn connect(port: &str, mut on_message: impl FnMut(&[u8]) + Send + 'static) -> Result<Self, MidiDeviceError> {
        let mut input = MidiInput::new(CLIENT).map_err(|e| MidiDeviceError::Unavailable(e.to_string()))?;
        // Clock and active sensing would flood the engine; sysex is not used.
        input.ignore(Ignore::All);
        let found = input.ports().into_iter().find(|p| input.port_name(p).is_ok_and(|n| n == port));
        let found = found.ok_or_else(|| MidiDeviceError::NoSuchPort(port.to_string()))?;
        let connection = input
            .connect(&found, "cadenza-in", move |_, bytes, ()| on_message(bytes), ())
            .map_err(|e| MidiDeviceError::Connect { port: port.to_string(), reason: e.to_string() })?;
        Ok(Self { port: port.to_string(), _connection: connection })
    }
}

/// An open output to an external synth.
pub struct MidiOut {
    pub port: String,
    connection: MidiOutputConnection,
}

impl MidiOut {
    pub fn connect(port: &str) -> Result<Self, MidiDeviceError> {
        let output = MidiOutput::new(CLIENT).map_err(|e| MidiDeviceError::Unavailable(e.to_string()))?;
        let found = output.ports().into_iter().find(|p| output.port_name(p).is_ok_and(|n| n == port));
        let found = found.ok_or_else(|| MidiDeviceError::NoSuchPort(port.to_string()))?;
        let connection = output
            .connect(&found, "cadenza-out")
            .map_err(|e| MidiDeviceError::Connect { port: port.to_string(), reason: e.to_string() })?;
        Ok(Self { port: port.to_string(), connection })
    }

    pub fn send(&mut self, bytes: &[u8]) -> Result<(), MidiDeviceError> {
        self.connection.send(bytes).map_err(|e| MidiDeviceError::Send(e.to_string()))
    }
}

/// A channel voice message a keyboard sent, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyboardMessage {
    NoteOn {
        pitch: u8,
        velocity: u8,
    },
    NoteOff {
        pitch: u8,
    },
    /// Sustain pedal, pitch bend and the like: passed through to the synth, not recorded.
    Other {
        command: u8,
        data1: u8,
        data2: u8,
    },
}

impl KeyboardMessage {
    /// Decodes one message; system messages and truncated bytes give `None`.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let status = *bytes.first()?;
        if !(0x80..0xF0).contains(&status) {
            return None;
        }
        let command = status & 0xF0;
        let data1 = bytes.get(1).copied().unwrap_or(0) & 0x7F;
        let data2 = bytes.get(2).copied().unwrap_or(0) & 0x7F;
        let needs_two = !matches!(command, 0xC0 | 0xD0);
        if bytes.len() < if needs_two { 3 } else { 2 } {
            return None;
        }
        Some(match (command, data2) {
            (0x90, 0) | (0x80, _) => Self::NoteOff { pitch: data1 },
            (0x90, velocity) => Self::NoteOn { pitch: data1, velocity },
            _ => Self::Other { command, data1, data2 },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keyboard_messages() {
        assert_eq!(
            KeyboardMessage::parse(&[0x93, 60, 100]),
            Some(KeyboardMessage::NoteOn { pitch: 60, velocity: 100 })
        );
        assert_eq!(KeyboardMessage::parse(&[0x90, 60, 0]), Some(KeyboardMessage::NoteOff { pitch: 60 }));
        assert_eq!(KeyboardMessage::parse(&[0x80, 61, 64]), Some(KeyboardMessage::NoteOff { pitch: 61 }));
        assert_eq!(
            KeyboardMessage::parse(&[0xB0, 64, 127]),
            Some(KeyboardMessage::Other { command: 0xB0, data1: 64, data2: 127 })
        );
        assert_eq!(
            KeyboardMessage::parse(&[0xC0, 5]),
            Some(KeyboardMessage::Other { command: 0xC0, data1: 5, data2: 0 })
        );
        assert_eq!(KeyboardMessage::parse(&[0xF8]), None, "clock is not a note");
        assert_eq!(KeyboardMessage::parse(&[0x90, 60]), None, "truncated");
        assert_eq!(KeyboardMessage::parse(&[]), None);
    }
}
