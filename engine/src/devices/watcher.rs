//! Lists the MIDI ports and audio inputs on a thread of its own, every few seconds and when
//! asked: asking ALSA, CoreAudio or WASAPI for their devices can take a good part of a second,
//! which the engine thread must not spend waiting.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};

use super::midi::{MidiPorts, list_ports};
use super::recorder::list_inputs;

/// The devices the system offers at one moment (each list, or why it could not be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceListing {
    pub midi: Result<MidiPorts, String>,
    pub audio_inputs: Result<Vec<String>, String>,
}

impl DeviceListing {
    /// Asks the system now (this is the slow part).
    pub fn of_system() -> Self {
        Self { midi: list_ports().map_err(|e| e.to_string()), audio_inputs: list_inputs().map_err(|e| e.to_string()) }
    }
}

/// The listing thread. Dropping this closes its wake channel, which ends the thread once a
/// listing in progress returns; it is not joined, so a driver that hangs cannot hang the
/// engine's shutdown.
pub struct DeviceWatcher {
    wake: Sender<()>,
    listings: Receiver<DeviceListing>,
}

impl DeviceWatcher {
    /// Lists the system's devices at once and then `every` (or only when asked, for `None`).
    pub fn spawn(every: Option<Duration>) -> std::io::Result<Self> {
        Self::spawn_with(every, every.is_some(), DeviceListing::of_system)
    }

    /// The same with any lister (tests use a slow one).
    pub fn spawn_with(
        every: Option<Duration>,
        list_at_start: bool,
        mut list: impl FnMut() -> DeviceListing + Send + 'static,
    ) -> std::io::Result<Self> {
        let (wake, woken) = bounded::<()>(1);
        // One listing waiting is enough: a newer one replaces the need for an older.
        let (listed, listings) = bounded(1);
        std::thread::Builder::new().name("cadenza-devices".into()).spawn(move || {
            let mut due = list_at_start;
            loop {
                if due {
                    match listed.try_send(list()) {
                        Ok(()) | Err(TrySendError::Full(_)) => {}
                        Err(TrySendError::Disconnected(_)) => return,
                    }
                }
                let woke = match every {
                    Some(every) => woken.recv_timeout(every),
                    None => woken.recv().map_err(|_| RecvTimeoutError::Disconnected),
                };
                due = match woke {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => true,
                    Err(RecvTimeoutError::Disconnected) => return,
                };
            }
        })?;
        Ok(Self { wake, listings })
    }

    /// Asks for a listing now; it arrives on [`Self::listings`] (never waits).
    pub fn list_now(&self) {
        // Full means a listing is already asked for.
        let _ = self.wake.try_send(());
    }

    pub fn listings(&self) -> &Receiver<DeviceListing> {
        &self.listings
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Instant;

    use super::*;

    fn listing(name: &str) -> DeviceListing {
        DeviceListing {
            midi: Ok(MidiPorts { inputs: vec![name.to_string()], outputs: Vec::new() }),
            audio_inputs: Err("no input".into()),
        }
    }

    #[test]
    fn asking_for_a_slow_listing_does_not_wait_for_it() {
        let watcher = DeviceWatcher::spawn_with(None, false, || {
            std::thread::sleep(Duration::from_millis(300));
            listing("slow keyboard")
        })
        .unwrap();
        let asked = Instant::now();
        watcher.list_now();
        assert!(asked.elapsed() < Duration::from_millis(100), "list_now waited {:?}", asked.elapsed());
        let got = watcher.listings().recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(got, listing("slow keyboard"));
        // Nothing more comes unasked.
        assert!(watcher.listings().recv_timeout(Duration::from_millis(500)).is_err());
    }

    #[test]
    fn it_lists_at_start_and_then_periodically() {
        let mut count = 0;
        let watcher = DeviceWatcher::spawn_with(Some(Duration::from_millis(20)), true, move || {
            count += 1;
            listing(&format!("listing {count}"))
        })
        .unwrap();
        let first = watcher.listings().recv_timeout(Duration::from_secs(10)).unwrap();
        let later = watcher.listings().recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(first, listing("listing 1"));
        assert_ne!(later, first);
    }
}
