//! Transcribing a whole library: folders walked recursively, one MIDI file per recording in the
//! same folder structure, several files at once, files already done skipped (so a batch killed
//! half-way finishes on a rerun without redoing anything), and a failed file never stopping the
//! rest.
//!
//! "Done" is the output file existing: outputs are written atomically (a temporary file renamed
//! over the target), so a file that exists is a whole transcription, and a kill mid-write leaves
//! only a temporary file that the next write of that target removes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use cadenza_models::basic_pitch::BasicPitch;
use cadenza_models::{BackendKind, Device};
use thiserror::Error;

use super::{TranscribeError, TranscribeOptions, transcribe_with};
use crate::ml::runtime_slot::RuntimeSlot;
use crate::quiet_panic::catch_reader_panic;

/// What symphonia reads here (see [`crate::audio_file`]), by file extension.
const AUDIO_EXTENSIONS: [&str; 6] = ["wav", "wave", "flac", "mp3", "ogg", "oga"];

/// Whether a batch would pick this file up: a known audio extension, not hidden (editors and
/// macOS leave `._name.wav` companions that are not audio).
pub fn is_audio_file(path: &Path) -> bool {
    let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
    let audio = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)));
    audio && !hidden
}

/// One recording and the MIDI file it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    pub input: PathBuf,
    pub output: PathBuf,
}

/// The work a batch found: what is still to do, and what an earlier run already wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchPlan {
    pub todo: Vec<BatchItem>,
    pub done: Vec<BatchItem>,
}

#[derive(Debug, Error)]
pub enum BatchError {
    #[error("{0}: no such file or folder")]
    Missing(PathBuf),
    #[error("{path}: cannot read the folder: {reason}")]
    Walk { path: PathBuf, reason: String },
}

/// Finds the recordings under `inputs` (files, or folders walked recursively in name order)
/// and names each one's MIDI file under `out_dir`. One folder keeps its structure directly
/// under `out_dir`; with several inputs each folder keeps it under its own name, and files land
/// in `out_dir` itself. Unless `redo`, a target that exists counts as done.
pub fn plan(inputs: &[PathBuf], out_dir: &Path, redo: bool) -> Result<BatchPlan, BatchError> {
    // (input, the folder under out_dir its MIDI file goes in)
    let mut found: Vec<(PathBuf, PathBuf)> = Vec::new();
    let one_folder = inputs.len() == 1;
    for input in inputs {
        if input.is_dir() {
            let base =
                if one_folder { PathBuf::new() } else { input.file_name().map(PathBuf::from).unwrap_or_default() };
            for entry in walkdir::WalkDir::new(input).sort_by_file_name() {
                let entry = entry.map_err(|e| BatchError::Walk {
                    path: e.path().unwrap_or(input).to_path_buf(),
                    reason: e.io_error().map_or_else(|| e.to_string(), ToString::to_string),
                })?;
                if entry.file_type().is_file() && is_audio_file(entry.path()) {
                    let folder =
                        entry.path().parent().and_then(|p| p.strip_prefix(input).ok()).unwrap_or(Path::new(""));
                    found.push((entry.path().to_path_buf(), base.join(folder)));
                }
            }
        } else if input.is_file() {
            found.push((input.clone(), PathBuf::new()));
        } else {
            return Err(BatchError::Missing(input.clone()));
        }
    }
    let outputs = midi_names(&found);
    let mut plan = BatchPlan::default();
    for ((input, folder), name) in found.into_iter().zip(outputs) {
        let item = BatchItem { input, output: out_dir.join(folder).join(name) };
        if !redo && item.output.is_file() { plan.done.push(item) } else { plan.todo.push(item) }
    }
    Ok(plan)
}

/// The MIDI file name of each `(input, output folder)`: `NAME.mid`, or, where two inputs going
/// to one folder share a name (`take.wav` and `take.flac`), `NAME-EXT.mid`, numbered if even that
/// is shared, so no transcription overwrites another.
pub fn midi_names(found: &[(PathBuf, PathBuf)]) -> Vec<String> {
    let part = |p: Option<&std::ffi::OsStr>| p.map(|s| s.to_string_lossy().into_owned());
    let stems: Vec<String> =
        found.iter().map(|(i, _)| part(i.file_stem()).unwrap_or_else(|| "transcription".into())).collect();
    let mut sharing: HashMap<(&Path, &str), usize> = HashMap::new();
    for ((_, folder), stem) in found.iter().zip(&stems) {
        *sharing.entry((folder.as_path(), stem.as_str())).or_default() += 1;
    }
    let mut taken = std::collections::HashSet::new();
    let mut names = Vec::with_capacity(found.len());
    for ((input, folder), stem) in found.iter().zip(&stems) {
        let mut name = stem.clone();
        if sharing[&(folder.as_path(), stem.as_str())] > 1
            && let Some(ext) = part(input.extension())
        {
            name = format!("{stem}-{ext}");
        }
        let base = name.clone();
        let mut copy = 1;
        while !taken.insert((folder.clone(), name.clone())) {
            copy += 1;
            name = format!("{base}-{copy}");
        }
        names.push(format!("{name}.mid"));
    }
    names
}

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// Its MIDI file was written; `damage` says what could not be read of a damaged file.
    Written {
        notes: usize,
        damage: Option<String>,
    },
    Failed(String),
    Cancelled,
}

/// How a batch ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchSummary {
    pub written: usize,
    /// Done by an earlier run.
    pub skipped: usize,
    /// Written, from the part of a damaged file that could be read: (file, what was wrong).
    pub damaged: Vec<(PathBuf, String)>,
    /// Not written: (file, why, the why naming the file).
    pub failed: Vec<(PathBuf, String)>,
    /// Left for the next run by a cancel.
    pub cancelled: usize,
    pub seconds: f64,
}

/// Where a batch runs and what it reports besides each file.
pub struct BatchContext<'a> {
    /// The device chosen; a server that stops answering hands the rest to the CPU.
    pub runtime: &'a RuntimeSlot,
    pub workers: usize,
    /// Stops the batch between files and inside them.
    pub cancel: &'a AtomicBool,
    /// Each file as it ends (called from the workers' threads).
    pub on_file: &'a (dyn Fn(&BatchItem, &FileOutcome) + Sync),
    /// What the user should know of, once (the switch to the CPU).
    pub on_notice: &'a (dyn Fn(String) + Sync),
}

/// Transcribes every file of `plan.todo`, `context.workers` at a time, each worker with its own
/// copy of the model.
pub fn run(
    plan: &BatchPlan,
    options: &TranscribeOptions,
    context: &BatchContext<'_>,
) -> Result<BatchSummary, TranscribeError> {
    let started = Instant::now();
    let load = |device: &Device| BasicPitch::shipped(device).map_err(|e| TranscribeError::Model(e.to_string()));
    // Loaded once up front: a model that cannot load fails the batch, not each file. The device
    // is the one it loaded on (the CPU, if the server went while it loaded).
    let (first_device, model) = context.runtime.run_with_fallback(context.on_notice, || {
        let device = context.runtime.wait().device.clone();
        load(&device).map(|model| (device, model))
    })?;
    let next = AtomicUsize::new(0);
    let summary = Mutex::new(BatchSummary { skipped: plan.done.len(), ..BatchSummary::default() });
    std::thread::scope(|scope| {
        for _ in 0..context.workers.clamp(1, plan.todo.len().max(1)) {
            let mut loaded = (first_device.clone(), model.clone());
            let (next, summary, cancel) = (&next, &summary, context.cancel);
            scope.spawn(move || {
                while let Some(item) = plan.todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let outcome = if cancel.load(Ordering::Relaxed) {
                        FileOutcome::Cancelled
                    } else {
                        context.runtime.run_with_fallback(context.on_notice, || {
                            let runtime = context.runtime.wait();
                            if loaded.0 != runtime.device {
                                match load(&runtime.device) {
                                    Ok(model) => loaded = (runtime.device.clone(), model),
                                    Err(err) => return FileOutcome::Failed(err.to_string()),
                                }
                            }
                            let on_server = runtime.kind == BackendKind::Remote;
                            transcribe_one(item, options, &loaded.1, &runtime.device, on_server, cancel)
                        })
                    };
                    record(&mut summary.lock().unwrap_or_else(std::sync::PoisonError::into_inner), item, &outcome);
                    (context.on_file)(item, &outcome);
                }
            });
        }
    });
    let mut summary = summary.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn record(summary: &mut BatchSummary, item: &BatchItem, outcome: &FileOutcome) {
    match outcome {
        FileOutcome::Written { damage, .. } => {
            summary.written += 1;
            if let Some(damage) = damage {
                summary.damaged.push((item.input.clone(), damage.clone()));
            }
        }
        FileOutcome::Failed(reason) => summary.failed.push((item.input.clone(), reason.clone())),
        FileOutcome::Cancelled => summary.cancelled += 1,
    }
}

/// One file to its MIDI file. A panic inside (a reader's, or the device's) fails this file only,
/// but for a server's: that one is the network's, and goes on to the CPU fallback.
fn transcribe_one(
    item: &BatchItem,
    options: &TranscribeOptions,
    model: &BasicPitch,
    device: &Device,
    on_server: bool,
    cancel: &AtomicBool,
) -> FileOutcome {
    let mut progress = |_: f32, _: &str| !cancel.load(Ordering::Relaxed);
    let attempt = catch_reader_panic(|| transcribe_with(&item.input, options, model, device, &mut progress));
    // Every reason names the file it is about: the recording unless it says otherwise.
    let failed = |reason: String| {
        let input = item.input.display().to_string();
        FileOutcome::Failed(if reason.contains(&input) { reason } else { format!("{input}: {reason}") })
    };
    let transcription = match attempt {
        Ok(Ok(transcription)) => transcription,
        Ok(Err(TranscribeError::Cancelled)) => return FileOutcome::Cancelled,
        Ok(Err(err)) => return failed(err.to_string()),
        Err(panic) if on_server => std::panic::resume_unwind(panic),
        Err(panic) => return failed(format!("the model failed: {}", cadenza_models::runtime::panic_message(&panic))),
    };
    if let Some(folder) = item.output.parent()
        && let Err(err) = std::fs::create_dir_all(folder)
    {
        return failed(format!("{}: cannot create the folder: {err}", folder.display()));
    }
    match crate::midi::write_song(&transcription.song, &item.output) {
        Ok(()) => FileOutcome::Written { notes: transcription.song.note_count(), damage: transcription.damage },
        Err(err) => failed(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn transcriptions_of_files_sharing_a_name_do_not_overwrite_each_other() {
        let flat = PathBuf::new();
        let found: Vec<(PathBuf, PathBuf)> = ["a/take.wav", "a/take.flac", "b/take.wav", "solo.mp3", "noext"]
            .iter()
            .map(|p| (PathBuf::from(p), flat.clone()))
            .collect();
        assert_eq!(midi_names(&found), ["take-wav.mid", "take-flac.mid", "take-wav-2.mid", "solo.mid", "noext.mid"]);
        // In different output folders the same name is no clash.
        let foldered =
            vec![(PathBuf::from("x/take.wav"), PathBuf::from("x")), (PathBuf::from("y/take.wav"), "y".into())];
        assert_eq!(midi_names(&foldered), ["take.mid", "take.mid"]);
    }

    #[test]
    fn a_folder_keeps_its_structure_and_what_exists_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let library = dir.path().join("library");
        for file in ["a.wav", "sub/b.flac", "sub/deeper/c.mp3", "sub/notes.txt", "sub/._b.flac"] {
            let path = library.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        }
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join("sub")).unwrap();
        std::fs::write(out.join("sub/b.mid"), b"done").unwrap();
        let plan = plan(std::slice::from_ref(&library), &out, false).unwrap();
        let outputs = |items: &[BatchItem]| items.iter().map(|i| i.output.clone()).collect::<Vec<_>>();
        assert_eq!(outputs(&plan.todo), [out.join("a.mid"), out.join("sub/deeper/c.mid")]);
        assert_eq!(outputs(&plan.done), [out.join("sub/b.mid")]);
        assert_eq!(plan.todo[1].input, library.join("sub/deeper/c.mp3"));
        // Two inputs: each folder under its own name; redo counts nothing as done.
        let two = super::plan(&[library.clone(), library.join("a.wav")], &out, true).unwrap();
        assert_eq!(outputs(&two.todo)[0], out.join("library/a.mid"));
        assert_eq!(two.todo.last().unwrap().output, out.join("a.mid"));
        assert!(two.done.is_empty());
        assert!(matches!(super::plan(&[dir.path().join("nope")], &out, false), Err(BatchError::Missing(_))));
    }
}
