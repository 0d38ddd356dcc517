//! Helpers for Cadenza's end-to-end tests (the tests themselves are in `tests/`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `cadenza` binary built beside these tests (`cargo build --workspace` builds it; the
/// README's test command does that first).
pub fn cadenza_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> → target/<profile>/cadenza
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join(format!("cadenza{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing: run `cargo build --workspace` first (scripts/test.sh does)", bin.display());
    bin
}

/// Runs `cadenza ARGS…` with the built-in synth unless the caller chooses otherwise.
pub fn cadenza(args: &[&str]) -> Output {
    Command::new(cadenza_binary()).args(args).env_remove("CADENZA_SOUNDFONT").output().expect("run cadenza")
}

pub fn repo_root() -> PathBuf {
    // At run time: a target directory shared between checkouts may hold a binary built elsewhere.
    let manifest =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest.parent().expect("repo root").to_path_buf()
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// The Python with pretty_midi and mido: `CADENZA_PYTHON` (set by scripts/test.sh) or python3.
pub fn python() -> String {
    std::env::var("CADENZA_PYTHON").unwrap_or_else(|_| "python3".into())
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
