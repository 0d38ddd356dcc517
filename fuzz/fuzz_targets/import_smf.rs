#![no_main]
//! Any bytes: the importer returns a song or a typed error, never panics, and a song it
//! returns can be written and read back.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(song) = cadenza_engine::midi::parse_song(data) {
        if let Ok(bytes) = cadenza_engine::midi::song_to_bytes(&song) {
            let again = cadenza_engine::midi::parse_song(&bytes);
            assert!(again.is_ok(), "Cadenza cannot read its own export: {:?}", again.err());
        }
    }
});
