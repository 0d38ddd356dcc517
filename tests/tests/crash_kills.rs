//! The real `cadenza` binary killed (SIGKILL: no destructor, no clean shutdown) at random
//! moments, then started again on what it left:
//!
//! - while it writes a project (`cadenza convert song.mid song.cadenza`): the project on disk is
//!   the old or the new one, never a mix;
//! - while it records a take into a project (`cadenza record`): `cadenza recover` finds the
//!   recovery file, and the take loses at most the last second of what was played in.
//!
//! Also: Ctrl-C or SIGTERM stops a recording cleanly (saved, exit 0), and `cadenza record`
//! refuses to start over unsaved work it would overwrite. `CADENZA_CRASH_KILLS` sets the kills
//! per case (default 7), `CADENZA_CRASH_SEED` the moments; each case prints what was lost.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cadenza_engine::project;
use cadenza_engine::song::{Note, Song, Track};
use cadenza_tests::{cadenza_binary, stderr};

const INPUT_RATE: u32 = 8000;

fn kills() -> usize {
    std::env::var("CADENZA_CRASH_KILLS").ok().and_then(|n| n.parse().ok()).unwrap_or(7)
}

/// A seeded xorshift, so a failing run can be repeated (the seed is printed).
struct Moments(u64);

impl Moments {
    fn new(case: &str) -> Self {
        let seed = std::env::var("CADENZA_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_u64);
        println!("crash kills of cadenza ({case}): seed {seed}");
        Self((seed ^ (case.len() as u64 * 0x9E37_79B9)).max(1))
    }

    fn between(&mut self, low: Duration, high: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + (high - low).mul_f64((self.0 % 10_000) as f64 / 10_000.0)
    }
}

/// `cadenza ARGS` with its own state folder (recovery file) and no sound devices.
fn cadenza_in(state: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(cadenza_binary());
    command
        .args(args)
        .env("CADENZA_STATE_DIR", state)
        .env("CADENZA_AUDIO", "none")
        .env("CADENZA_BACKEND", "cpu")
        .env_remove("CADENZA_SOUNDFONT")
        .env_remove("CADENZA_AUDIO_INPUT");
    command
}

fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Version `n` of the song: large enough that writing it as a project takes a while.
fn song_version(n: u64) -> Song {
    let mut song = Song::new(480);
    let mut track = Track::new(format!("version {n}"), 0, 0);
    for i in 0..(30_000 + n) {
        track.insert_note(Note::new(i * 60, 50, 30 + (i % 60) as u8, 40 + (n % 80) as u8));
    }
    song.tracks.push(track);
    song
}

fn version_of(project: &Path) -> u64 {
    let (_, data) =
        project::load_project(project).unwrap_or_else(|err| panic!("the project is unreadable after the kill: {err}"));
    let name = &data.song.tracks[0].name;
    let version: u64 = name.trim_start_matches("version ").parse().unwrap();
    assert_eq!(data.song.tracks[0].notes, song_version(version).tracks[0].notes, "a mix of versions ({name})");
    version
}

#[test]
fn a_project_killed_while_cadenza_writes_it_is_the_old_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let project = dir.path().join("song.cadenza");
    let mut moments = Moments::new("project write");
    let (mut old, mut new) = (0, 0);
    let mut longest = Duration::ZERO;
    for kill_number in 0..kills() as u64 {
        // A finished write of version k, timed; then version k + 1, killed part of the way.
        let k = 2 * kill_number + 1;
        for n in [k, k + 1] {
            cadenza_engine::midi::write_song(&song_version(n), &dir.path().join(format!("v{n}.mid"))).unwrap();
        }
        let convert = |n: u64| {
            let input = dir.path().join(format!("v{n}.mid"));
            cadenza_in(&state, &["convert", input.to_str().unwrap(), project.to_str().unwrap()])
        };
        let started = Instant::now();
        let finished = convert(k).output().unwrap();
        assert!(finished.status.success(), "{}", stderr(&finished));
        let whole = started.elapsed();
        longest = longest.max(whole);
        assert_eq!(version_of(&project), k);

        let child = convert(k + 1).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(moments.between(Duration::ZERO, whole));
        kill(child);
        let version = version_of(&project);
        assert!(version == k || version == k + 1, "kill {kill_number}: wrote {k}, then found version {version}");
        if version == k {
            old += 1
        } else {
            new += 1
        }
        let stray = std::fs::read_dir(&project)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .count();
        assert!(stray <= 1, "kill {kill_number}: {stray} temporary files");
    }
    println!(
        "crash kills of cadenza (project write, {} notes, a whole convert {:.0} ms at most): {} kills; \
         project = the old one {old}, the new one {new}; mixed 0",
        song_version(1).note_count(),
        longest.as_secs_f64() * 1000.0,
        kills()
    );
}

fn input_sample(i: usize) -> f32 {
    (i % 1000) as f32 / 1000.0
}

/// 30 s of a known ramp: the recorder plays it at real-time pace as if it were a microphone.
fn write_input(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: INPUT_RATE,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut input = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(INPUT_RATE as usize * 30) {
        input.write_sample(input_sample(i)).unwrap();
    }
    input.finalize().unwrap();
}

/// Starts `cadenza record` and returns it once it says it records, with that moment.
fn start_recording(state: &Path, project: &Path, input: &Path) -> (Child, Instant) {
    let device = format!("file:{}", input.display());
    let mut child = cadenza_in(state, &["record", project.to_str().unwrap(), "--input", &device])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (said, heard) = std::sync::mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("cadenza: recording ") {
                let _ = said.try_send(Ok(()));
            }
            lines.push(line);
        }
        let _ = said.try_send(Err(lines.join("\n")));
    });
    match heard.recv_timeout(Duration::from_secs(120)) {
        Ok(Ok(())) => (child, Instant::now()),
        other => panic!("cadenza record did not start: {other:?}"),
    }
}

/// The project's one take, checked against what was played in; its length in frames.
fn recovered_take(project: &Path) -> u64 {
    let (dir, data) = project::load_project(project).unwrap();
    assert_eq!(data.takes.len(), 1, "the take is not in the recovered project");
    let take = &data.takes[0];
    let samples: Vec<f32> =
        hound::WavReader::open(dir.join(&take.file)).unwrap().samples::<f32>().map(Result::unwrap).collect();
    assert_eq!(samples.len() as u64, take.frames, "the take's length is not its audio's");
    assert!(
        samples.iter().enumerate().all(|(i, s)| *s == input_sample(i)),
        "the recovered audio is not what was played in"
    );
    take.frames
}

#[test]
fn a_take_killed_while_cadenza_records_loses_at_most_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.wav");
    write_input(&input);
    let mut moments = Moments::new("record");
    let mut losses = Vec::new();
    for kill_number in 0..kills() {
        let state = dir.path().join(format!("state-{kill_number}"));
        let project = dir.path().join(format!("take-{kill_number}.cadenza"));
        let (child, recording_since) = start_recording(&state, &project, &input);
        std::thread::sleep(moments.between(Duration::from_millis(100), Duration::from_millis(3000)));
        let played = recording_since.elapsed();
        kill(child);

        let listed = cadenza_in(&state, &["recover"]).output().unwrap();
        assert!(
            stderr(&listed).contains("take-001"),
            "kill {kill_number}: the take is not offered: {}",
            stderr(&listed)
        );
        let again = cadenza_in(&state, &["record", project.to_str().unwrap()]).output().unwrap();
        assert!(
            !again.status.success() && stderr(&again).contains("cadenza recover"),
            "kill {kill_number}: a new recording would overwrite the unsaved take: {}",
            stderr(&again)
        );
        let restored = cadenza_in(&state, &["recover", "--save"]).output().unwrap();
        assert!(restored.status.success(), "kill {kill_number}: {}", stderr(&restored));
        assert!(project::find_recovery(&state).is_none(), "kill {kill_number}: the recovery file outlived its save");

        let frames = recovered_take(&project);
        let lost = (played.as_secs_f64() - frames as f64 / f64::from(INPUT_RATE)).max(0.0);
        assert!(lost <= 1.0, "kill {kill_number}: {:.2} s played in, {frames} frames recovered", played.as_secs_f64());
        losses.push(lost);
    }
    println!(
        "crash kills of cadenza (record): {} kills; audio lost: max {:.3} s, mean {:.3} s",
        kills(),
        losses.iter().copied().fold(0.0, f64::max),
        losses.iter().sum::<f64>() / losses.len().max(1) as f64
    );
}

#[test]
fn ctrl_c_or_sigterm_ends_a_recording_with_the_take_saved() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.wav");
    write_input(&input);
    for signal in ["-INT", "-TERM"] {
        let state = dir.path().join(format!("state{signal}"));
        let project = dir.path().join(format!("song{signal}.cadenza"));
        let (child, since) = start_recording(&state, &project, &input);
        std::thread::sleep(Duration::from_millis(1500));
        let played = since.elapsed().as_secs_f64();
        let sent = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        let finished = child.wait_with_output().unwrap();
        assert!(finished.status.success(), "{signal}: {:?}", finished.status);
        assert!(project::find_recovery(&state).is_none(), "{signal}: a clean stop left a recovery file");
        let seconds = recovered_take(&project) as f64 / f64::from(INPUT_RATE);
        assert!((seconds - played).abs() < 1.0, "{signal}: {seconds:.2} s kept of {played:.2} s");
    }
}

#[test]
fn a_timed_recording_keeps_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.wav");
    write_input(&input);
    let project = dir.path().join("timed.cadenza");
    let device = format!("file:{}", input.display());
    let out = cadenza_in(
        &dir.path().join("state"),
        &["record", project.to_str().unwrap(), "--input", &device, "--seconds", "1.5"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("saved in"), "{}", stderr(&out));
    let seconds = recovered_take(&project) as f64 / f64::from(INPUT_RATE);
    assert!((1.4..2.0).contains(&seconds), "{seconds:.2} s recorded for --seconds 1.5");
}
