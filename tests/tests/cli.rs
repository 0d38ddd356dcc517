//! The `cadenza` command line on real files: pieces of the music21 corpus converted to MIDI
//! (tests/fixtures/corpus, made by scripts/make_corpus_fixtures.py) and broken files.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use cadenza_engine::midi::read_song;
use cadenza_tests::{cadenza, fixture, repo_root, stderr, stdout};

const CORPUS: &[(&str, usize)] = &[
    ("bach_bwv66.6.mid", 4),
    ("mozart_k80_1.mid", 4),
    ("beethoven_op18no1_2.mid", 4),
    ("joplin_maple_leaf_rag.mid", 2),
    ("monteverdi_madrigal_3_1.mid", 5),
];

#[test]
fn info_describes_real_pieces() {
    for (name, tracks) in CORPUS {
        let path = fixture(&format!("corpus/{name}"));
        let out = cadenza(&["info", path.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let text = stdout(&out);
        let song = read_song(&path).unwrap();
        assert!(text.contains(&format!("Tracks:    {tracks} ({} notes)", song.note_count())), "{name}:\n{text}");
        assert!(song.note_count() > 50, "{name} has only {} notes", song.note_count());
        assert!(text.contains("Tempo:") && text.contains("BPM") && text.contains("Length:"), "{text}");
    }
    let bach = stdout(&cadenza(&["info", fixture("corpus/bach_bwv66.6.mid").to_str().unwrap()]));
    assert!(bach.contains("Key:       F# minor") || bach.contains("Key:       A major"), "{bach}");
}

#[test]
fn convert_keeps_every_note() {
    let dir = tempfile::tempdir().unwrap();
    for (name, _) in CORPUS {
        let input = fixture(&format!("corpus/{name}"));
        let output = dir.path().join(name);
        let out = cadenza(&["convert", input.to_str().unwrap(), output.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let (a, b) = (read_song(&input).unwrap(), read_song(&output).unwrap());
        assert_eq!(a, b, "{name}: conversion changed the song");
        // Converting again is byte-stable.
        let again = dir.path().join(format!("again-{name}"));
        assert!(cadenza(&["convert", output.to_str().unwrap(), again.to_str().unwrap()]).status.success());
        assert_eq!(std::fs::read(&output).unwrap(), std::fs::read(&again).unwrap());
    }
}

#[test]
fn render_writes_audio_of_the_right_length() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("corpus/bach_bwv66.6.mid");
    let wav = dir.path().join("bach.wav");
    let out = cadenza(&["render", input.to_str().unwrap(), wav.to_str().unwrap(), "--soundfont", "builtin"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reader = hound::WavReader::open(&wav).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (2, 44_100, 16));
    let seconds = reader.duration() as f64 / 44_100.0;
    let expected = read_song(&input).unwrap().duration_seconds() + 1.5;
    assert!((seconds - expected).abs() < 0.01, "{seconds} s rendered, {expected} s expected");
    let loud = reader.into_samples::<i16>().filter_map(Result::ok).filter(|s| s.abs() > 500).count();
    assert!(loud > 44_100, "the render is nearly silent ({loud} loud samples)");
}

#[test]
fn render_with_the_system_soundfont_when_there_is_one() {
    let sf2 = std::path::Path::new("/usr/share/sounds/sf2/FluidR3_GM.sf2");
    if !sf2.exists() {
        eprintln!("skipped: {} is not installed", sf2.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("bach.wav");
    let out = cadenza(&[
        "render",
        fixture("corpus/bach_bwv66.6.mid").to_str().unwrap(),
        wav.to_str().unwrap(),
        "--soundfont",
        sf2.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("FluidR3_GM.sf2"), "{}", stderr(&out));
}

#[test]
fn broken_files_fail_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(repo_root().join("assets/demo/bach_bwv7.7.mid")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.mid", vec![], "not a Standard MIDI File"),
        ("truncated.mid", good[..good.len() / 2].to_vec(), "file ends inside a track chunk"),
        ("zero-ppq.mid", [&good[..12], &[0, 0], &good[14..]].concat(), "PPQ 0"),
        ("text.mid", b"this is not music at all".to_vec(), "not a Standard MIDI File"),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        for args in
            [vec!["info", path.to_str().unwrap()], vec!["convert", path.to_str().unwrap(), "/tmp/never-written.mid"]]
        {
            let out = cadenza(&args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{name}: {err}");
            assert_eq!(err.lines().count(), 1, "{name}: not one line:\n{err}");
            assert!(
                err.starts_with("cadenza: error: ") && err.contains(name) && err.contains(expected),
                "{name}: {err}"
            );
        }
    }
    let missing = cadenza(&["info", "/no/such/file.mid"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("/no/such/file.mid"));
}

#[test]
fn unknown_backend_is_rejected() {
    let out = cadenza(&["--backend", "tpu", "info", "x.mid"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unknown backend 'tpu'"), "{}", stderr(&out));
}

/// `cadenza continue` on a real chorale with the shipped model: a composer's name is taken as
/// the style he is grouped into (and says so), each variant is the song plus one new track for
/// every requested instrument, each note inside that instrument's range, and an unknown style
/// is refused with the list of styles.
#[test]
fn continue_adds_tracks_of_the_requested_instruments() {
    use cadenza_engine::instrument_range::playable_range;
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("corpus/bach_bwv66.6.mid");
    let out = cadenza(&[
        "continue",
        input.to_str().unwrap(),
        "--bars",
        "2",
        "--style",
        "mozart",
        "--instruments",
        "violin,viola,cello",
        "-n",
        "2",
        "--seed",
        "1",
        "-o",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("using classical"), "{}", stderr(&out));
    let original = read_song(&input).unwrap();
    for variant in 1..=2 {
        let song = read_song(&dir.path().join(format!("bach_bwv66.6-{variant}.mid"))).unwrap();
        let new_tracks = &song.tracks[original.tracks.len()..];
        // GM violin, viola and cello, each with notes.
        let mut programs: Vec<u8> = new_tracks.iter().filter(|t| !t.notes.is_empty()).map(|t| t.program).collect();
        programs.sort_unstable();
        assert_eq!(programs, [40, 41, 42], "variant {variant}: {new_tracks:?}");
        for track in new_tracks {
            let range = playable_range(track.program, false).unwrap();
            let outside: Vec<u8> = track.notes.iter().map(|n| n.pitch).filter(|p| !range.contains(p)).collect();
            assert!(outside.is_empty(), "variant {variant}, {}: {outside:?} outside {range:?}", track.name);
        }
    }
    let unknown = cadenza(&["continue", input.to_str().unwrap(), "--style", "jazz", "-o", "/dev/null"]);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("traditional, bach, classical"), "{}", stderr(&unknown));
    let list = stdout(&cadenza(&["continue", "--list-styles"]));
    assert!(list.contains("classical") && list.contains("Haydn, Mozart, Beethoven"), "{list}");
}

/// `cadenza vae reconstruct` picks the model from the clip's length and says which: a whole
/// chorale gets the 16-bar model (its reconstruction runs past the second bar), a 2-bar phrase
/// the 2-bar one; `--bars` still decides when given.
#[test]
fn vae_reconstruct_picks_the_model_from_the_clips_length() {
    use cadenza_engine::midi::write_song;
    use cadenza_engine::song::{Note, Song, Track};
    let dir = tempfile::tempdir().unwrap();
    let chorale = repo_root().join("assets/demo/bach_bwv7.7.mid");
    let out_path = dir.path().join("whole.mid");
    let out = cadenza(&["vae", "reconstruct", chorale.to_str().unwrap(), "-o", out_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("using the 16-bar model"), "{}", stderr(&out));
    let song = read_song(&out_path).unwrap();
    let quarter = u64::from(song.ppq);
    let end = song.tracks.iter().flat_map(|t| &t.notes).map(|n| n.start + n.length).max().unwrap_or(0);
    assert!(end > 32 * quarter, "the reconstruction ends at quarter {}", end / quarter);

    let mut phrase = Song::new(480);
    let mut track = Track::new("Piano", 0, 0);
    for (i, pitch) in [60u8, 62, 64, 65, 67, 65, 64, 62].into_iter().enumerate() {
        track.insert_note(Note::new(i as u64 * 480, 480, pitch, 90));
    }
    phrase.tracks.push(track);
    let short = dir.path().join("phrase.mid");
    write_song(&phrase, &short).unwrap();
    let out_path = dir.path().join("phrase-out.mid");
    let out = cadenza(&["vae", "reconstruct", short.to_str().unwrap(), "-o", out_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("using the 2-bar model"), "{}", stderr(&out));
    let forced =
        cadenza(&["vae", "reconstruct", chorale.to_str().unwrap(), "-o", out_path.to_str().unwrap(), "--bars", "2"]);
    assert!(forced.status.success() && !stderr(&forced).contains("using the"), "{}", stderr(&forced));
}
