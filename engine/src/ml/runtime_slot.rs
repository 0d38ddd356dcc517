//! The ML runtime, chosen once on a thread of its own and shared with the jobs that need it.
//! Probing the graphics drivers takes tens of milliseconds; a transcription runs on the CPU
//! meanwhile instead of waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use cadenza_models::runtime::panic_message;
use cadenza_models::{BackendKind, BackendPreference, MlRuntime, probe_adapters, select_backend};

use crate::quiet_panic::catch_reader_panic;

#[derive(Debug, Clone, Default)]
pub struct RuntimeSlot {
    runtime: Arc<OnceLock<MlRuntime>>,
    started: Arc<AtomicBool>,
    /// The CPU, once the chosen device (a server) failed mid-job: it stands in for the choice.
    fallback: Arc<OnceLock<MlRuntime>>,
}

impl RuntimeSlot {
    /// Runs `choose` on a new thread and keeps its answer; later calls do nothing. If no
    /// thread can be started, or `choose` panics, the CPU is used (which needs no choosing),
    /// so [`RuntimeSlot::wait`] always returns.
    pub fn choose(&self, choose: impl FnOnce() -> MlRuntime + Send + 'static) {
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let slot = Arc::clone(&self.runtime);
        let spawned = std::thread::Builder::new().name("cadenza-backend".into()).spawn(move || {
            let runtime = std::panic::catch_unwind(std::panic::AssertUnwindSafe(choose))
                .unwrap_or_else(|_| select_backend(BackendPreference::Cpu, &[]));
            let _ = slot.set(runtime);
        });
        if spawned.is_err() {
            let _ = self.runtime.set(select_backend(BackendPreference::Cpu, &[]));
        }
    }

    /// A slot holding a runtime chosen already (by a command-line job that waits for it anyway).
    pub fn ready(runtime: MlRuntime) -> Self {
        let slot = Self::default();
        slot.started.store(true, Ordering::Release);
        let _ = slot.runtime.set(runtime);
        slot
    }

    /// The runtime, if it has been chosen.
    pub fn get(&self) -> Option<&MlRuntime> {
        self.fallback.get().or_else(|| self.runtime.get())
    }

    /// The runtime, waiting for the choice (which must have been started).
    pub fn wait(&self) -> &MlRuntime {
        let chosen = self.runtime.wait();
        self.fallback.get().unwrap_or(chosen)
    }

    /// The server chosen, if the choice was a remote server (whether or not it still answers).
    fn chosen_server(&self) -> Option<String> {
        self.runtime.get().filter(|r| r.kind == BackendKind::Remote).map(|r| r.adapter.clone().unwrap_or_default())
    }

    /// Runs `job` on this slot's device. If that is a server and it fails inside the job (Burn's
    /// remote client panics when its connection drops), every later job uses the CPU and this
    /// one runs again from its start there; `notice` hears of the switch once. Anything else that
    /// panics is not the network's fault and is passed on.
    pub fn run_with_fallback<T>(&self, notice: impl Fn(String), mut job: impl FnMut() -> T) -> T {
        let panic = match catch_reader_panic(&mut job) {
            Ok(value) => return value,
            Err(panic) => panic,
        };
        let Some(server) = self.chosen_server() else { std::panic::resume_unwind(panic) };
        let why = format!("the server at {server} stopped answering ({})", one_line(&panic_message(&panic)));
        let cpu = MlRuntime {
            reason: format!("{why}; running models on the CPU"),
            ..select_backend(BackendPreference::Cpu, &[])
        };
        if self.fallback.set(cpu).is_ok() {
            notice(format!("{why}; finishing on the CPU"));
        }
        job()
    }
}

/// A panic's text as one line of a notice: Burn's advice to the programmer dropped, its causes
/// joined.
fn one_line(message: &str) -> String {
    let message = message.replace("use `try_into_data` instead to catch the error at runtime: ", "");
    message.lines().map(str::trim).filter(|l| !l.is_empty() && *l != "Caused by:").collect::<Vec<_>>().join(": ")
}

/// The runtime for `preference`. Only a choice that may end on a local GPU looks at the
/// graphics drivers.
pub fn choose_runtime(preference: BackendPreference) -> MlRuntime {
    let adapters = if preference.may_use_a_local_gpu() { probe_adapters() } else { Vec::new() };
    select_backend(preference, &adapters)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::panic::AssertUnwindSafe;
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn a_server_that_fails_mid_job_hands_it_and_later_ones_to_the_cpu_with_one_notice() {
        let server = MlRuntime {
            kind: BackendKind::Remote,
            adapter: Some("remote://gpu:7878".into()),
            reason: "the server at remote://gpu:7878".into(),
            ..select_backend(BackendPreference::Cpu, &[])
        };
        let slot = RuntimeSlot::ready(server);
        let notices = Mutex::new(Vec::new());
        let tries = Cell::new(0);
        let answer = slot.run_with_fallback(
            |n| notices.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(n),
            || {
                tries.set(tries.get() + 1);
                assert!(tries.get() > 1, "Error while reading data: use `try_into_data` instead to catch the error at runtime: An error happened\nCaused by:\n  Failed to read tensor");
                slot.wait().kind
            },
        );
        assert_eq!((answer, tries.get()), (BackendKind::Cpu, 2));
        let notices = notices.into_inner().unwrap_or_default();
        assert_eq!(
            notices,
            [
                "the server at remote://gpu:7878 stopped answering (Error while reading data: An error happened: Failed to read tensor); finishing on the CPU"
            ]
        );
        // Later jobs start on the CPU.
        assert_eq!(slot.get().map(|r| r.kind), Some(BackendKind::Cpu));
    }

    #[test]
    fn a_panic_that_is_not_the_servers_is_passed_on() {
        let slot = RuntimeSlot::ready(select_backend(BackendPreference::Cpu, &[]));
        let caught = std::panic::catch_unwind(AssertUnwindSafe(|| slot.run_with_fallback(|_| {}, || panic!("a bug"))));
        assert!(caught.is_err());
    }
}
