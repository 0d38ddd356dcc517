//! Hardware the musician plays into: MIDI keyboards (midir) and audio inputs (rodio/cpal).

pub mod midi;
pub mod recorder;
pub mod salvage;
pub mod watcher;
