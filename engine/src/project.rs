//! Project files: a folder `Name.cadenza/` holding `project.json` (the song in readable JSON,
//! plus the list of audio takes) and `takes/*.wav`. Saving writes a temporary file and renames
//! it, so a failed save leaves the last good project in place. The recovery file is the same
//! JSON in Cadenza's state folder, written by autosave and removed on save and clean exit.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::fsutil::write_bytes_atomically;
use crate::song::Song;

pub const PROJECT_EXTENSION: &str = "cadenza";
pub const PROJECT_FILE: &str = "project.json";
pub const TAKES_DIR: &str = "takes";
const FORMAT: &str = "cadenza-project";
const VERSION: u32 = 1;
const RECOVERY_FILE: &str = "recovery.json";

#[derive(Debug, Error)]
pub enum ProjectError {
    #[error("{path}: cannot read the project: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a Cadenza project: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{path}: cannot save: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// An audio take: a WAV file in the project's `takes/` folder, placed at a tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Take {
    pub name: String,
    /// Relative to the project folder.
    pub file: PathBuf,
    pub start_tick: u64,
    pub sample_rate: u32,
    pub channels: u16,
    pub frames: u64,
}

/// What a project file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectData {
    pub format: String,
    pub version: u32,
    pub song: Song,
    #[serde(default)]
    pub takes: Vec<Take>,
    /// Only in recovery files: the project the work belonged to, if it had been saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<PathBuf>,
}

impl ProjectData {
    pub fn new(song: Song, takes: Vec<Take>) -> Self {
        Self { format: FORMAT.into(), version: VERSION, song, takes, project: None }
    }
}

/// The folder for `path`: the path itself, or the folder of a `project.json` inside one, with
/// the extension added to a bare new name.
pub fn project_dir(path: &Path) -> PathBuf {
    if path.file_name().is_some_and(|n| n == PROJECT_FILE) {
        return path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    }
    if path.extension().is_some_and(|e| e == PROJECT_EXTENSION) {
        path.to_path_buf()
    } else {
        path.with_extension(PROJECT_EXTENSION)
    }
}

/// True for a project folder or its `project.json`.
pub fn is_project(path: &Path) -> bool {
    project_dir(path).join(PROJECT_FILE).is_file()
}

pub fn save_project(path: &Path, data: &ProjectData) -> Result<PathBuf, ProjectError> {
    let dir = project_dir(path);
    let write_err = |source| ProjectError::Write { path: dir.clone(), source };
    std::fs::create_dir_all(dir.join(TAKES_DIR)).map_err(write_err)?;
    write_json(&dir.join(PROJECT_FILE), data)?;
    Ok(dir)
}

pub fn load_project(path: &Path) -> Result<(PathBuf, ProjectData), ProjectError> {
    let dir = project_dir(path);
    let data = read_json(&dir.join(PROJECT_FILE))?;
    Ok((dir, data))
}

/// Project data as the bytes of a `project.json`.
pub fn project_bytes(data: &ProjectData, file: &Path) -> Result<Vec<u8>, ProjectError> {
    serde_json::to_vec_pretty(data)
        .map_err(|e| ProjectError::Write { path: file.to_path_buf(), source: std::io::Error::other(e) })
}

fn write_json(file: &Path, data: &ProjectData) -> Result<(), ProjectError> {
    let json = project_bytes(data, file)?;
    write_bytes_atomically(file, &json).map_err(|source| ProjectError::Write { path: file.to_path_buf(), source })
}

fn read_json(file: &Path) -> Result<ProjectData, ProjectError> {
    let bytes = std::fs::read(file).map_err(|source| ProjectError::Read { path: file.to_path_buf(), source })?;
    parse_project(&bytes, file)
}

/// A `project.json` or recovery file's bytes as project data (`file` names it in errors).
/// Whatever the bytes, the answer is data or a typed error (fuzzed: `fuzz/`, `import_project`).
pub fn parse_project(bytes: &[u8], file: &Path) -> Result<ProjectData, ProjectError> {
    let mut data: ProjectData = serde_json::from_slice(bytes)
        .map_err(|e| ProjectError::Format { path: file.to_path_buf(), reason: e.to_string() })?;
    if data.format != FORMAT {
        return Err(ProjectError::Format { path: file.to_path_buf(), reason: format!("format is {:?}", data.format) });
    }
    if data.version > VERSION {
        return Err(ProjectError::Format {
            path: file.to_path_buf(),
            reason: format!("made by a newer Cadenza (format version {})", data.version),
        });
    }
    // Never trust a file's maps to be in order.
    data.song.normalize_maps();
    for track in &mut data.song.tracks {
        track.sort_notes();
    }
    Ok(data)
}

/// Cadenza's state folder: `$CADENZA_STATE_DIR`, else `$XDG_STATE_HOME/cadenza`, else
/// `~/.local/state/cadenza`.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CADENZA_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("cadenza");
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".local/state/cadenza")
}

/// Unsaved work found from a run that did not end cleanly.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub data: ProjectData,
    pub saved_at: Option<SystemTime>,
}

pub fn recovery_path(state: &Path) -> PathBuf {
    state.join(RECOVERY_FILE)
}

pub fn write_recovery(state: &Path, data: &ProjectData) -> Result<(), ProjectError> {
    std::fs::create_dir_all(state).map_err(|source| ProjectError::Write { path: state.to_path_buf(), source })?;
    write_json(&recovery_path(state), data)
}

pub fn find_recovery(state: &Path) -> Option<Result<Recovery, ProjectError>> {
    let path = recovery_path(state);
    if !path.is_file() {
        return None;
    }
    let saved_at = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    Some(read_json(&path).map(|data| Recovery { data, saved_at }))
}

pub fn clear_recovery(state: &Path) {
    // Nothing to do when it is already gone.
    let _ = std::fs::remove_file(recovery_path(state));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::song::{Note, Track};

    fn data() -> ProjectData {
        let mut song = Song::new(480);
        let mut track = Track::new("Piano ♯", 0, 0);
        track.insert_note(Note::new(0, 480, 60, 90));
        song.tracks.push(track);
        let take = Take {
            name: "Take 1".into(),
            file: PathBuf::from("takes/take-001.wav"),
            start_tick: 960,
            sample_rate: 48_000,
            channels: 1,
            frames: 480_000,
        };
        ProjectData::new(song, vec![take])
    }

    #[test]
    fn saves_and_loads_the_same_project() {
        let dir = tempfile::tempdir().unwrap();
        let saved = save_project(&dir.path().join("Song"), &data()).unwrap();
        assert_eq!(saved, dir.path().join("Song.cadenza"));
        assert!(saved.join(TAKES_DIR).is_dir());
        let (loaded_dir, loaded) = load_project(&saved.join(PROJECT_FILE)).unwrap();
        assert_eq!(loaded_dir, saved);
        assert_eq!(loaded, data());
        let text = std::fs::read_to_string(saved.join(PROJECT_FILE)).unwrap();
        assert!(text.contains("\"Piano ♯\""), "not readable JSON: {text}");
    }

    #[test]
    fn rejects_what_is_not_a_project() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.cadenza");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join(PROJECT_FILE), b"{\"format\": \"other\"").unwrap();
        assert!(matches!(load_project(&p), Err(ProjectError::Format { .. })));
        assert!(matches!(load_project(&dir.path().join("missing.cadenza")), Err(ProjectError::Read { .. })));
    }

    #[test]
    fn recovery_round_trip_and_clear() {
        let dir = tempfile::tempdir().unwrap();
        assert!(find_recovery(dir.path()).is_none());
        write_recovery(dir.path(), &data()).unwrap();
        let found = find_recovery(dir.path()).unwrap().unwrap();
        assert_eq!(found.data, data());
        clear_recovery(dir.path());
        assert!(find_recovery(dir.path()).is_none());
    }
}
