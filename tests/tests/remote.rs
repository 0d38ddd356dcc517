//! `cadenza serve` and `--backend remote://HOST:PORT` on loopback: a server started here, the
//! real binary transcribing through it, the server killed mid-job, and addresses that lead
//! nowhere.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cadenza_engine::midi::read_song;
use cadenza_engine::synth::{BuiltinSynth, RenderOptions, render_to_wav};
use cadenza_tests::{cadenza_binary, fixture, stderr};

/// A corpus piece rendered through the built-in synth.
fn render(piece: &str, wav: &Path) {
    let song = read_song(&fixture(&format!("corpus/{piece}.mid"))).unwrap();
    render_to_wav(&song, &mut BuiltinSynth::new(22_050), wav, RenderOptions::default(), |_| true).unwrap();
}

/// A server on a free loopback port, and the `remote://` address clients use.
struct Server {
    child: Child,
    address: String,
    /// Kept open: the server may write more.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Server {
    fn start() -> Self {
        let mut child = Command::new(cadenza_binary())
            .args(["serve", "--addr", "127.0.0.1:0", "--backend", "cpu"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let address = first.split_whitespace().last().unwrap_or_default().to_string();
        assert!(address.starts_with("remote://127.0.0.1:"), "the server said: {first}");
        Self { child, address, _stdout: stdout }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn transcribe(backend: &str, wav: &Path, midi: &Path) -> Command {
    let mut command = Command::new(cadenza_binary());
    command
        .args(["transcribe", wav.to_str().unwrap(), "-o", midi.to_str().unwrap(), "--backend", backend])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Runs `client`, kills the server `after_ms` into it, and returns what the client said; the
/// client must still succeed (on the CPU).
fn kill_the_server_while(server: &mut Server, mut client: Command, after_ms: u64) -> String {
    let client = client.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(after_ms));
    server.child.kill().unwrap();
    let run = client.wait_with_output().unwrap();
    let text = stderr(&run);
    println!("{text}");
    assert!(run.status.success(), "{text}");
    text
}

/// (pitch, start tick, length) of every note.
fn notes(midi: &Path) -> Vec<(u8, u64, u64)> {
    let song = read_song(midi).unwrap();
    let mut notes: Vec<_> = song.tracks.iter().flat_map(|t| &t.notes).map(|n| (n.pitch, n.start, n.length)).collect();
    notes.sort_unstable();
    notes
}

#[test]
fn a_transcription_through_the_server_gives_the_local_notes() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("chorale.wav");
    render("bach_bwv66.6", &wav);
    let server = Server::start();
    let (local, remote) = (dir.path().join("local.mid"), dir.path().join("remote.mid"));
    assert!(transcribe("cpu", &wav, &local).status().unwrap().success());
    let started = Instant::now();
    let run = transcribe(&server.address, &wav, &remote).output().unwrap();
    let text = stderr(&run);
    assert!(run.status.success(), "{text}");
    println!("through {} in {:.1} s: {text}", server.address, started.elapsed().as_secs_f64());
    assert!(text.contains(&format!("models on the server at {}", server.address)), "{text}");
    let (local, remote) = (notes(&local), notes(&remote));
    assert!(local.len() > 50, "{} notes", local.len());
    assert_eq!(local, remote, "the server's notes differ from the local ones");
}

#[test]
fn a_server_killed_mid_job_leaves_the_job_to_the_cpu_with_the_same_notes() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("quartet.wav");
    render("mozart_k80_1", &wav);
    let local = dir.path().join("local.mid");
    assert!(transcribe("cpu", &wav, &local).status().unwrap().success());

    let mut server = Server::start();
    let remote = dir.path().join("remote.mid");
    // The client's first windows are on the server by then (connecting takes milliseconds).
    let client = transcribe(&server.address, &wav, &remote);
    let text = kill_the_server_while(&mut server, client, 1500);
    assert!(text.contains("finishing on the CPU"), "no fallback notice: {text}");
    assert_eq!(notes(&local), notes(&remote));
}

#[test]
fn a_batch_runs_several_files_on_the_server_and_finishes_on_the_cpu_when_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("library");
    std::fs::create_dir_all(library.join("set")).unwrap();
    render("bach_bwv66.6", &library.join("set/take-1.wav"));
    for copy in 2..=6 {
        std::fs::copy(library.join("set/take-1.wav"), library.join(format!("set/take-{copy}.wav"))).unwrap();
    }
    let mut server = Server::start();
    let out = dir.path().join("midi");
    // A folder is a batch.
    let client = transcribe(&server.address, &library, &out);
    let text = kill_the_server_while(&mut server, client, 2500);
    assert!(text.contains("4 files at once"), "{text}");
    assert_eq!(text.matches("finishing on the CPU").count(), 1, "one notice: {text}");
    assert!(text.contains("6 written, 0 skipped (done before), 0 failed"), "{text}");
    let first = notes(&out.join("set/take-1.mid"));
    for copy in 2..=6 {
        assert_eq!(notes(&out.join(format!("set/take-{copy}.mid"))), first, "take {copy}");
    }
}

#[test]
fn an_address_nobody_answers_gives_one_line_and_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("chorale.wav");
    render("bach_bwv66.6", &wav);
    // Bound and let go: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let midi = dir.path().join("out.mid");
    let run = transcribe(&format!("remote://127.0.0.1:{port}"), &wav, &midi).output().unwrap();
    let text = stderr(&run);
    assert!(run.status.success(), "{text}");
    let notices: Vec<&str> = text.lines().filter(|l| l.contains("remote://")).collect();
    assert_eq!(notices.len(), 1, "{text}");
    assert!(notices[0].contains(&format!("cannot reach the server at remote://127.0.0.1:{port}")), "{text}");
    assert!(notices[0].contains("running models on the CPU"), "{text}");
    assert!(!notes(&midi).is_empty());

    let bad = transcribe("remote://no-port-here", &wav, &midi).output().unwrap();
    assert!(!bad.status.success());
    let text = stderr(&bad);
    assert!(text.contains("needs a host and a port"), "{text}");
}

#[test]
fn the_server_listens_on_loopback_unless_told_otherwise() {
    let run = Command::new(cadenza_binary()).args(["serve", "--addr", "0.0.0.0:0"]).output().unwrap();
    assert!(!run.status.success());
    let text = stderr(&run);
    assert!(text.contains("--allow-network"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}
