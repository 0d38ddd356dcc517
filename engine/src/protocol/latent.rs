//! The latent space as the Interpolate tab asks for it: which model, the clip slots, a point
//! between them, and the worker's replies.

use cadenza_models::vae::melody::TimedNote;

/// Which model: 2-bar phrases or 16-bar melodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum VaeSize {
    TwoBar,
    SixteenBar,
}

impl VaeSize {
    pub fn bars(self) -> usize {
        match self {
            Self::TwoBar => 2,
            Self::SixteenBar => 16,
        }
    }
}

/// The four clips the tab mixes: A and B at the ends of the slider, C and D below them on the
/// pad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    A,
    B,
    C,
    D,
}

/// A point of the latent space, as the tab's controls describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentPoint {
    pub size: VaeSize,
    /// 0 at A, 1 at B (spherical interpolation).
    pub along: f32,
    /// When set, the pad's (x, y): bilinear between A (top left), B, C, D (bottom right);
    /// overrides `along`. Corners with no clip take A's or B's code.
    pub pad: Option<[f32; 2]>,
    /// Attribute vectors added with their strengths.
    pub attributes: Vec<(String, f32)>,
    /// 0 decodes the most likely melody.
    pub temperature: f32,
    /// Which draw when the temperature is above 0.
    pub seed: u64,
}

#[derive(Debug)]
pub enum LatentRequest {
    Encode {
        size: VaeSize,
        slot: Slot,
        notes: Vec<TimedNote>,
    },
    Decode {
        request: u64,
        point: LatentPoint,
    },
    /// Codes of clips to place on the latent map (the song's clips and corpus samples).
    Map {
        size: VaeSize,
        clips: Vec<Vec<TimedNote>>,
    },
}

#[derive(Debug, Clone)]
pub enum LatentReply {
    Encoded { size: VaeSize, slot: Slot, code: Vec<f32>, notices: Vec<String>, reconstruction: Vec<TimedNote> },
    Decoded { request: u64, point: LatentPoint, notes: Vec<TimedNote>, code: Vec<f32>, milliseconds: f64 },
    Mapped { size: VaeSize, codes: Vec<Vec<f32>> },
    Failed(String),
}
