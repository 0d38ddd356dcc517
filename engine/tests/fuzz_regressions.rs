//! Inputs the fuzzer (`fuzz/`, targets `import_smf` and `import_audio`) once found problems
//! with, kept as regression tests: each must import to a song (or audio) or a typed error,
//! never panic, and a song that imports must survive export and re-import.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;

use cadenza_engine::midi::{parse_song, song_to_bytes};

/// The inputs in the workspace's `tests/fixtures/fuzz/TARGET` (not its README), at least one.
fn inputs(target: &str) -> Vec<PathBuf> {
    // Found at run time: a shared target directory may hold a test built in another checkout.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let dir = std::path::Path::new(&manifest).join("../tests/fixtures/fuzz").join(target);
    let paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_none_or(|e| e != "md"))
        .collect();
    assert!(!paths.is_empty(), "no regression inputs in {}", dir.display());
    paths
}

#[test]
fn fuzzer_findings_stay_fixed() {
    for path in inputs("import_smf") {
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(song) = parse_song(&bytes) {
            let again = song_to_bytes(&song).unwrap();
            parse_song(&again).unwrap_or_else(|e| panic!("{}: export does not re-import: {e}", path.display()));
        }
    }
}

#[test]
fn audio_fuzzer_findings_stay_fixed() {
    use cadenza_engine::audio_file::AudioStream;
    for path in inputs("import_audio") {
        // Audio or a typed error; reading to the end must finish (the fuzzer's finding hung here).
        match AudioStream::from_bytes(std::fs::read(&path).unwrap(), &path, 22_050) {
            Ok(mut stream) => while let Ok(Some(_)) = stream.next_piece() {},
            Err(err) => println!("{err}"),
        }
        if path.to_string_lossy().contains("sample-rate") {
            // Both a rate past the limit and a rate of 0 are refused with a reason.
            let err = AudioStream::from_bytes(std::fs::read(&path).unwrap(), &path, 22_050).err();
            assert!(
                err.is_some_and(|e| e.to_string().contains("not a supported audio file")),
                "{} was not refused",
                path.display()
            );
        }
        if path.to_string_lossy().contains("4gib") {
            // A tag claiming gigabytes is refused before it is allocated.
            let err = AudioStream::from_bytes(std::fs::read(&path).unwrap(), &path, 22_050).err();
            assert!(err.is_some_and(|e| e.to_string().contains("damaged audio")), "{} was not refused", path.display());
        }
    }
}
