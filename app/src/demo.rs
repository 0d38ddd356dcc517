//! The demo song shipped inside the binary, so `cadenza` always opens on music.
//! Bach's chorale "Christ unser Herr zum Jordan kam" (BWV 7.7), converted from the music21
//! corpus by `scripts/make_demo_song.py`; see `assets/demo/README.md`.

use anyhow::{Context, Result};
use cadenza_engine::song::Song;

pub const DEMO_NAME: &str = "demo: Bach chorale BWV 7.7";
const DEMO_MIDI: &[u8] = include_bytes!("../../assets/demo/bach_bwv7.7.mid");

pub fn song() -> Result<Song> {
    cadenza_engine::midi::parse_song(DEMO_MIDI).context("the built-in demo song is unreadable")
}
