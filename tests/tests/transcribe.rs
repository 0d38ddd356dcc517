//! `cadenza transcribe` end to end: real audio files in, MIDI out, through the shipped Basic
//! Pitch weights on the CPU.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;

use cadenza_tests::cadenza;

/// Three plucked tones one after another (A3, C#4, E4 at 0.25, 1.0, 1.75 s), 3 s at 44.1 kHz,
/// times `gain`.
fn tones(gain: f32) -> Vec<f32> {
    let rate = 44_100.0f32;
    let notes = [(57u8, 0.25f32), (61, 1.0), (64, 1.75)];
    (0..(rate * 3.0) as usize)
        .map(|i| {
            let t = i as f32 / rate;
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
            s * gain
        })
        .collect()
}

/// Stereo 16-bit WAV at 44.1 kHz, clipped to full scale, plus `dc` in 16-bit steps (added
/// after rounding, so the file is exactly the other one shifted).
fn write_wav_with_dc(path: &Path, samples: &[f32], dc: i16) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        let v = ((s.clamp(-1.0, 1.0) * 32_000.0) as i16).saturating_add(dc);
        w.write_sample(v).unwrap();
        w.write_sample(v).unwrap();
    }
    w.finalize().unwrap();
}

fn write_wav(path: &Path, samples: &[f32]) {
    write_wav_with_dc(path, samples, 0);
}

fn write_tones(path: &Path) {
    write_wav(path, &tones(1.0));
}

/// The pitches and onsets (s) of the one-track MIDI file Cadenza wrote (120 BPM).
fn notes_of(path: &Path) -> Vec<(u8, f64)> {
    let song = cadenza_engine::midi::read_song(path).unwrap();
    let ppq = f64::from(song.ppq);
    song.tracks.iter().flat_map(|t| &t.notes).map(|n| (n.pitch, n.start as f64 / ppq * 0.5)).collect()
}

fn has_the_tones(notes: &[(u8, f64)]) -> bool {
    [(57u8, 0.25f64), (61, 1.0), (64, 1.75)]
        .iter()
        .all(|&(pitch, start)| notes.iter().any(|&(p, s)| p == pitch && (s - start).abs() < 0.05))
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

/// Bad and odd audio: broken files fail one by one with their names while the others finish;
/// silence gives no notes; DC offset, clipping and a header that claims hours still give
/// the played notes (and memory stays bounded: nothing is sized from the header).
#[test]
fn bad_and_odd_audio_gives_clear_errors_or_sensible_notes() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("empty.wav"), b"").unwrap();
    write_wav(&path("no_samples.wav"), &[]);
    std::fs::write(
        path("noise.flac"),
        (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    // A WAV of IMA ADPCM (format tag 0x11), a codec Cadenza does not decode.
    let mut adpcm = b"RIFF\x24\x10\x00\x00WAVEfmt \x14\x00\x00\x00\x11\x00\x01\x00\x44\xac\x00\x00\x00\x00\x00\x00\x00\x01\x04\x00\x02\x00\xf9\x01data\x00\x10\x00\x00".to_vec();
    adpcm.extend(std::iter::repeat_n(0x11u8, 4096));
    std::fs::write(path("adpcm.wav"), adpcm).unwrap();
    // A WAV at 0 Hz (found by the fuzzer): symphonia panics inside; Cadenza says the header is
    // malformed, and the caught panic prints nothing.
    std::fs::copy(
        cadenza_tests::repo_root().join("tests/fixtures/fuzz/import_audio/crash-wav-sample-rate-zero.bin"),
        path("zero_hz.wav"),
    )
    .unwrap();
    write_wav(&path("silence.wav"), &vec![0.0; 44_100 * 5]);
    write_tones(&path("tones.wav"));
    write_wav_with_dc(&path("dc_offset.wav"), &tones(1.0), 9_600); // +0.29
    write_wav(&path("clipped.wav"), &tones(8.0));
    write_tones(&path("hours.wav"));
    // Claim the most a WAV header can, 6.7 h of this format, in the RIFF and data sizes (the
    // file holds 3 s).
    let mut bytes = std::fs::read(path("hours.wav")).unwrap();
    let claimed = (u32::MAX - 1024) & !3;
    let data = bytes.windows(4).position(|w| w == b"data").unwrap();
    bytes[4..8].copy_from_slice(&(claimed + data as u32).to_le_bytes());
    bytes[data + 4..data + 8].copy_from_slice(&claimed.to_le_bytes());
    std::fs::write(path("hours.wav"), bytes).unwrap();

    let bad = ["empty.wav", "no_samples.wav", "noise.flac", "adpcm.wav", "zero_hz.wav"];
    let good = ["silence.wav", "tones.wav", "dc_offset.wav", "clipped.wav", "hours.wav"];
    let out = path("midi");
    let mut args = vec!["transcribe".to_string(), "--backend".into(), "cpu".into()];
    args.extend(bad.iter().chain(&good).map(|f| path(f).display().to_string()));
    args.extend(["-o".into(), out.display().to_string()]);
    let run = cadenza(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for name in bad {
        let line = stderr.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name} not reported: {stderr}"));
        println!("{line}");
        assert!(!out.join(name.replace(".wav", ".mid").replace(".flac", ".mid")).exists(), "{name} wrote a MIDI file");
    }
    assert!(stderr.contains("5 of 10 files"), "{stderr}");
    assert_eq!(notes_of(&out.join("silence.mid")), vec![], "silence has no notes");
    let reference = notes_of(&out.join("tones.mid"));
    assert!(has_the_tones(&reference), "{reference:?}");
    // DC offset is removed before the model (basic-pitch's own notes change with it), and a
    // header that lies about the length changes nothing.
    assert_eq!(notes_of(&out.join("dc_offset.mid")), reference, "DC offset changed the notes");
    assert_eq!(notes_of(&out.join("hours.mid")), reference, "the lying header changed the notes");
    // Hard clipping makes real difference tones (C#4 − A3 ≈ 57 Hz): one such note is fair.
    let clipped = notes_of(&out.join("clipped.mid"));
    println!("clipped: {clipped:?}\nunclipped: {reference:?}");
    assert!(has_the_tones(&clipped) && clipped.len() <= reference.len() + 1, "{clipped:?}");
}

/// A WAV cut short (a failed copy) transcribes what is there and says what was lost, and the
/// graphics drivers' complaints while the backend is probed (Mesa asks libwayland for a
/// display, which protests without a desktop session) stay off the terminal.
#[test]
fn a_cut_file_is_reported_and_driver_noise_stays_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("cut.wav");
    write_tones(&wav);
    let whole = std::fs::read(&wav).unwrap();
    std::fs::write(&wav, &whole[..whole.len() * 2 / 3]).unwrap();
    let out = dir.path().join("cut.mid");
    let run = std::process::Command::new(cadenza_tests::cadenza_binary())
        .args(["transcribe", "--backend", "auto", wav.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("damaged audio") && stderr.contains("ends early"), "the cut is not reported: {stderr}");
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "driver noise on the terminal: {stderr}");
    // The first two tones are in the part that was kept.
    let notes = notes_of(&out);
    assert!(notes.iter().any(|&(pitch, _)| pitch == 57) && notes.iter().any(|&(pitch, _)| pitch == 61), "{notes:?}");
}
