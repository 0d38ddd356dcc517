//! Spotify's Basic Pitch (ICASSP 2022 "NMP", Apache-2.0) in Burn: the constant-Q front end,
//! the per-window normalisation, the harmonic stack and the three small conv branches, with
//! the published weights of basic-pitch 0.4.0. Follows `BASIC_PITCH_SPEC.md` (shared
//! reference) layer for layer; parity with onnxruntime is tested in `tests/basic_pitch_parity.rs`.

pub mod cpu;
mod front;
mod layers;
pub mod live;
mod network;
mod notes;
pub mod stitch;
pub mod stream;
mod weights;

pub use network::{BasicPitch, Posteriorgrams};
pub use notes::{Matrix, NoteEvent, NoteSettings, notes, notes_compat};
pub use weights::{WeightsError, load_safetensors, read_f32};

/// The model's audio rate.
pub const SAMPLE_RATE: u32 = 22_050;
/// Samples in one model window (2 s − one hop).
pub const WINDOW_SAMPLES: usize = 43_844;
/// Frames the model produces per window.
pub const FRAMES_PER_WINDOW: usize = 172;
/// Samples per frame.
pub const HOP: usize = 256;
/// Note and onset bins: MIDI 21 (A0) … 108 (C8).
pub const NOTE_BINS: usize = 88;
/// Contour bins: three per semitone.
pub const CONTOUR_BINS: usize = 264;

/// Which behaviour of basic-pitch 0.4.0 to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Upstream's faults fixed: frames on a true 256-sample grid to the end of the file,
    /// near-silent windows gated, pitch bends measured from the right contour bin.
    #[default]
    Cadenza,
    /// Exactly what basic-pitch 0.4.0 computes, faults included (for comparison).
    Compatible,
}
