//! The ML runtime, chosen once on a thread of its own and shared with the jobs that need it.
//! Probing the graphics drivers takes tens of milliseconds; a transcription runs on the CPU
//! meanwhile instead of waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use cadenza_models::{BackendPreference, MlRuntime, probe_adapters, select_backend};

#[derive(Debug, Clone, Default)]
pub struct RuntimeSlot {
    runtime: Arc<OnceLock<MlRuntime>>,
    started: Arc<AtomicBool>,
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

    /// The runtime, if it has been chosen.
    pub fn get(&self) -> Option<&MlRuntime> {
        self.runtime.get()
    }

    /// The runtime, waiting for the choice (which must have been started).
    pub fn wait(&self) -> &MlRuntime {
        self.runtime.wait()
    }
}

/// The runtime for `preference`. Asking for the CPU needs no look at the graphics drivers.
pub fn choose_runtime(preference: BackendPreference) -> MlRuntime {
    let adapters = if preference == BackendPreference::Cpu { Vec::new() } else { probe_adapters() };
    select_backend(preference, &adapters)
}
