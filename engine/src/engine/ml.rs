//! The engine thread's side of the model jobs: the ML backend choice, and starting the
//! transcription and latent jobs on it.

use std::path::PathBuf;

use super::EngineThread;
use cadenza_models::BackendPreference;

use crate::ml::latent::{LatentRequest, LatentWorker, shipped_models};
use crate::ml::runtime_slot::{RuntimeSlot, choose_runtime};
use crate::ml::transcription::{self, Mode, TranscribeOptions};
use crate::protocol::{Event, JobId};

impl EngineThread {
    /// The ML runtime being chosen (starting the choice if nobody has); jobs wait for it on
    /// their own threads.
    pub(super) fn ml_runtime(&mut self) -> RuntimeSlot {
        self.choose_backend();
        self.runtime.clone()
    }

    /// Starts choosing the ML backend on its own thread, once; says what was chosen.
    pub(super) fn choose_backend(&mut self) {
        let preference = self.config.backend.clone();
        let events = self.events.clone();
        self.runtime.choose(move || {
            let runtime = choose_runtime(preference);
            let _ = events.send(Event::Backend {
                kind: runtime.kind,
                adapter: runtime.adapter.clone(),
                reason: runtime.reason.clone(),
            });
            runtime
        });
    }

    /// A new choice: the slot the running jobs hold stays theirs; the next job gets this one.
    pub(super) fn set_backend(&mut self, preference: BackendPreference) {
        self.config.backend = preference;
        self.runtime = RuntimeSlot::default();
        self.choose_backend();
    }

    pub(super) fn transcribe(&mut self, id: JobId, path: PathBuf, options: TranscribeOptions) {
        // The job starts on the CPU while the backend is still being chosen.
        let runtime = self.ml_runtime();
        self.enqueue(id, transcription::transcription_job(path, options, runtime));
    }

    pub(super) fn listen(&mut self, id: JobId, path: PathBuf, mode: Mode) {
        let runtime = self.ml_runtime();
        self.enqueue(id, transcription::listen_job(path, mode, runtime));
    }

    pub(super) fn latent(&mut self, request: LatentRequest) {
        if self.latent.is_none() {
            // The models load on the worker's thread: the engine thread never waits for them.
            let notices = self.events.clone();
            let load = move || {
                let (models, errors) = shipped_models();
                for error in errors {
                    let _ = notices.send(Event::Notice(error));
                }
                models
            };
            let events = self.events.clone();
            match LatentWorker::start(load, move |reply| {
                let _ = events.send(Event::Latent(reply));
            }) {
                Ok(worker) => self.latent = Some(worker),
                Err(e) => {
                    self.emit(Event::CommandFailed(format!("could not start the melody models: {e}")));
                    return;
                }
            }
        }
        if let Some(worker) = &self.latent {
            worker.send(request);
        }
    }
}
