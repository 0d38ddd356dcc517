//! Builds Standard MIDI Files byte by byte, so tests can make exactly the (broken) files they
//! need without going through Cadenza's own writer.
#![allow(dead_code)]

/// A variable-length quantity.
pub fn vlq(mut n: u32) -> Vec<u8> {
    let mut out = vec![(n & 0x7F) as u8];
    n >>= 7;
    while n > 0 {
        out.insert(0, (n & 0x7F) as u8 | 0x80);
        n >>= 7;
    }
    out
}

pub fn header(format: u16, tracks: u16, division: u16) -> Vec<u8> {
    let mut out = b"MThd".to_vec();
    out.extend_from_slice(&6u32.to_be_bytes());
    out.extend_from_slice(&format.to_be_bytes());
    out.extend_from_slice(&tracks.to_be_bytes());
    out.extend_from_slice(&division.to_be_bytes());
    out
}

pub fn chunk(events: &[u8]) -> Vec<u8> {
    let mut out = b"MTrk".to_vec();
    out.extend_from_slice(&(events.len() as u32).to_be_bytes());
    out.extend_from_slice(events);
    out
}

/// A whole file from raw track event bytes (each should end with an end-of-track event).
pub fn smf(format: u16, division: u16, tracks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = header(format, tracks.len() as u16, division);
    for track in tracks {
        out.extend(chunk(track));
    }
    out
}

/// Track event bytes: (delta, raw event bytes) pairs, ended with end-of-track.
pub fn events(list: &[(u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (delta, bytes) in list {
        out.extend(vlq(*delta));
        out.extend_from_slice(bytes);
    }
    out.extend([0x00, 0xFF, 0x2F, 0x00]);
    out
}

pub fn tempo(micros: u32) -> Vec<u8> {
    let b = micros.to_be_bytes();
    vec![0xFF, 0x51, 0x03, b[1], b[2], b[3]]
}

pub fn track_name(name: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, 0x03];
    out.extend(vlq(name.len() as u32));
    out.extend_from_slice(name);
    out
}
