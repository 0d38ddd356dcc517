//! The job workers: a queue of jobs, each run on a worker thread with its cancel flag, a
//! panicking job turned into a failure, and each result handed back to the engine thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crossbeam_channel::{Receiver, Sender, unbounded};

use super::EngineThread;
use crate::protocol::job::panic_message;
use crate::protocol::{Event, Job, JobContext, JobError, JobId, JobOutput, JobResult, Notices};
use crate::song::Song;
use crate::synth::{RenderOptions, SoundFontChoice, load_synth, render_to_wav};

pub(super) struct Queued {
    id: JobId,
    job: Job,
    cancel: Arc<AtomicBool>,
}

impl EngineThread {
    pub(super) fn start_workers(&mut self) {
        let (queue_tx, queue_rx) = unbounded::<Queued>();
        for n in 0..self.config.workers.max(1) {
            let queue = queue_rx.clone();
            let events = self.events.clone();
            let done = self.done_tx.clone();
            let notices = self.notices.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("cadenza-job-{n}"))
                .spawn(move || worker_loop(queue, events, done, notices));
            match spawned {
                Ok(handle) => self.workers.push(handle),
                Err(err) => self.emit(Event::Notice(format!("could not start a job worker: {err}"))),
            }
        }
        self.queue = Some(queue_tx);
    }

    pub(super) fn enqueue(&mut self, id: JobId, job: Job) {
        let cancel = Arc::new(AtomicBool::new(false));
        self.cancels.insert(id, Arc::clone(&cancel));
        self.emit(Event::JobStarted { id, label: job.label.clone() });
        let sent = self.queue.as_ref().is_some_and(|q| q.send(Queued { id, job, cancel }).is_ok());
        if !sent {
            self.finish_job(id, Err(JobError::Failed("no job worker is running".into())));
        }
    }

    pub(super) fn finish_job(&mut self, id: JobId, result: JobResult) {
        self.cancels.remove(&id);
        match result {
            Ok(JobOutput::SongLoaded { song, path }) => {
                self.replace_song(Arc::clone(&song), Some(path.clone()), None, Vec::new());
                self.emit(Event::JobFinished { id, output: JobOutput::SongLoaded { song, path } });
            }
            Ok(JobOutput::ProjectLoaded { dir, data }) => {
                let output = JobOutput::SongLoaded { song: Arc::new(data.song.clone()), path: dir.clone() };
                self.replace_song(Arc::new(data.song), Some(dir.clone()), Some(dir), data.takes);
                self.emit(Event::JobFinished { id, output });
            }
            Ok(JobOutput::ProjectSaved { dir, takes }) => {
                self.save_finished(id, Some((dir.clone(), takes.clone())));
                self.emit(Event::JobFinished { id, output: JobOutput::ProjectSaved { dir, takes } });
            }
            Ok(output) => self.emit(Event::JobFinished { id, output }),
            Err(JobError::Cancelled) => {
                self.save_finished(id, None);
                self.emit(Event::JobCancelled { id });
            }
            Err(JobError::Failed(message)) => {
                self.save_finished(id, None);
                self.emit(Event::JobFailed { id, message });
            }
        }
    }
}

/// A worker takes jobs until the queue closes. A panicking job becomes a failure report and
/// the worker carries on.
fn worker_loop(queue: Receiver<Queued>, events: Sender<Event>, done: Sender<(JobId, JobResult)>, notices: Notices) {
    for Queued { id, job, cancel } in queue {
        let ctx = JobContext { id, cancel, events: events.clone(), notices: notices.clone() };
        let result = if ctx.is_cancelled() {
            Err(JobError::Cancelled)
        } else {
            let run = job.run;
            catch_unwind(AssertUnwindSafe(|| run(&ctx))).unwrap_or_else(|panic| {
                Err(JobError::Failed(format!("internal error: {}", panic_message(panic.as_ref()))))
            })
        };
        if done.send((id, result)).is_err() {
            break;
        }
    }
}

pub(super) fn render_job(ctx: &JobContext, song: &Song, soundfont: &SoundFontChoice, path: PathBuf) -> JobResult {
    ctx.progress(0.0, "loading the synth");
    let (mut synth, info) = load_synth(soundfont, 44_100)?;
    if let Some(notice) = &info.notice {
        ctx.notice(notice.clone());
    }
    ctx.check_cancelled()?;
    let frames = render_to_wav(song, synth.as_mut(), &path, RenderOptions::default(), |fraction| {
        ctx.report(fraction, "rendering")
    })
    .map_err(|e| match e {
        crate::synth::RenderError::Cancelled => JobError::Cancelled,
        other => JobError::Failed(other.to_string()),
    })?;
    Ok(JobOutput::Rendered { path, seconds: frames as f64 / f64::from(synth.sample_rate()), synth: info.description })
}
