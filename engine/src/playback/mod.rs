//! Live sound: the player (song, metronome, previews, keyboard) and the output it feeds.

mod output;
mod player;

pub use output::{AudioOutput, OutputChoice, OutputReport, start_output};
pub use player::{LIVE_CHANNEL, LiveMessage, Player, PlayerStatus, TransportSettings};
