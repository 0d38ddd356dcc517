//! `cadenza transcribe` end to end: real audio files in, MIDI out, through the shipped Basic
//! Pitch weights on the CPU.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;

use cadenza_tests::cadenza;

/// Three plucked tones one after another (A3, C#4, E4), stereo at 44.1 kHz, 16-bit.
fn write_tones(path: &Path) {
    let rate = 44_100u32;
    let spec =
        hound::WavSpec { channels: 2, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let notes = [(57u8, 0.25f32), (61, 1.0), (64, 1.75)];
    let total = (rate as f32 * 3.0) as usize;
    for i in 0..total {
        let t = i as f32 / rate as f32;
        let mut s = 0.0f32;
        for &(pitch, start) in &notes {
            if t >= start {
                let dt = t - start;
                let f = 440.0 * 2f32.powf((f32::from(pitch) - 69.0) / 12.0);
                let env = (-dt * 3.0).exp() * (dt / 0.005).min(1.0);
                s += (1..=5).map(|k| (dt * f * k as f32 * std::f32::consts::TAU).sin() / k as f32).sum::<f32>()
                    * env
                    * 0.2;
            }
        }
        let v = (s.clamp(-1.0, 1.0) * 32_000.0) as i16;
        w.write_sample(v).unwrap();
        w.write_sample(v).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn transcribes_tones_to_their_pitches_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tones.wav");
    write_tones(&wav);
    let junk = dir.path().join("junk.ogg");
    std::fs::write(&junk, b"OggS but not really").unwrap();
    let out = dir.path().join("midi");
    let run = cadenza(&[
        "transcribe",
        "--backend",
        "cpu",
        wav.to_str().unwrap(),
        junk.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "a bad input must fail the command: {stderr}");
    assert!(stderr.contains("junk.ogg") && stderr.contains("1 of 2 files"), "{stderr}");
    // The good file was still written.
    let song = cadenza_engine::midi::read_song(&out.join("tones.mid")).unwrap();
    let notes = &song.tracks[0].notes;
    let seconds = |tick: u64| tick as f64 / f64::from(song.ppq) * 0.5; // 120 BPM
    for (pitch, start) in [(57u8, 0.25f64), (61, 1.0), (64, 1.75)] {
        let found = notes.iter().find(|n| n.pitch == pitch && (seconds(n.start) - start).abs() < 0.05);
        assert!(found.is_some(), "no {pitch} near {start} s in {notes:?}");
    }
}
