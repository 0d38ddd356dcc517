#![no_main]
//! Any bytes as an audio file (WAV, FLAC, MP3, Ogg, as symphonia probes them), decoded, mixed
//! down and resampled to the model's rate as a transcription reads it: audio or a typed error,
//! never a panic, and the damage report answers for whatever was read.

use std::path::Path;

use cadenza_engine::audio_file::AudioStream;
use libfuzzer_sys::fuzz_target;

/// Enough of a file to reach every decoder path without the fuzzer timing out on one input.
const MAX_PIECES: usize = 256;

fuzz_target!(|data: &[u8]| {
    for rate in [22_050, 44_100] {
        let Ok(mut stream) = AudioStream::from_bytes(data.to_vec(), Path::new("fuzz.wav"), rate) else { continue };
        for _ in 0..MAX_PIECES {
            match stream.next_piece() {
                Ok(Some(piece)) => assert!(piece.iter().all(|s| s.is_finite()), "a decoded sample is not finite"),
                Ok(None) | Err(_) => break,
            }
        }
        let _ = stream.damage();
    }
});
