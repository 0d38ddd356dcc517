//! Atomic file writes: write a sibling temporary file, flush it to disk, then rename over the
//! target, so a crash or a full disk never leaves a half-written file behind.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes `path` atomically through `write`. On any error the target is untouched and the
/// temporary file is removed.
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<T>,
) -> std::io::Result<T> {
    let temp = temp_path(path);
    let result = (|| {
        let mut out = BufWriter::new(File::create(&temp)?);
        let value = write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        Ok(value)
    })();
    match result {
        Ok(_) => remove_stale_temps(path),
        Err(_) => {
            let _ = std::fs::remove_file(&temp);
        }
    }
    result
}

/// Removes the temporary files that writers of `path` killed part-way left behind (a crash
/// cannot clean up after itself), so they do not pile up beside a project saved again and again.
/// A temporary file of a process still running is left alone: it may be writing right now.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let file_name = entry.file_name();
        let Some(pid) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        if pid.parse::<u32>().is_ok_and(|pid| !writer_may_be_running(pid, &entry.path())) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn writer_may_be_running(pid: u32, temp: &Path) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        return Path::new("/proc").join(pid.to_string()).exists();
    }
    // Elsewhere there is no cheap check for a process: an hour untouched is a dead writer.
    let age = std::fs::metadata(temp).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
    age.is_none_or(|age| age < std::time::Duration::from_secs(3600))
}

/// `dir/.name.tmp-PID` beside the target, so the rename stays on one file system.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes all of `bytes` to `path` atomically.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically(path, |out| out.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_save_removes_what_a_killed_writer_left_but_not_a_live_ones() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("song.json");
        let dead = dir.path().join(".song.json.tmp-4000000000");
        let other_file = dir.path().join(".other.json.tmp-4000000000");
        for stale in [&dead, &other_file] {
            std::fs::write(stale, b"half").unwrap();
        }
        write_bytes_atomically(&target, b"whole").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
        assert!(!dead.exists(), "a dead writer's temporary file is left");
        assert!(other_file.exists(), "another file's temporary file was removed");
        if cfg!(target_os = "linux") {
            // PID 1 is always running: its temporary file may be mid-write.
            let live = dir.path().join(".song.json.tmp-1");
            std::fs::write(&live, b"half").unwrap();
            write_bytes_atomically(&target, b"again").unwrap();
            assert!(live.exists(), "a running writer's temporary file was removed");
        }
    }
}
