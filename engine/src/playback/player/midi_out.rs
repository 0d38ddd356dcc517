//! MIDI out on a thread of its own: the audio side writes song messages into a ring and this
//! thread hands them to the device, so a slow or stalled MIDI driver never holds up the audio.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::MidiSink;

/// Song messages the MIDI device may fall behind by.
const RING_CAPACITY: usize = 4096;
/// How often the thread looks for messages (MIDI's own jitter is about this).
const POLL: Duration = Duration::from_millis(1);

/// The ring's reading end.
type Ring = rtrb::Consumer<[u8; 3]>;

/// The ring's reading end, with the thread that drains it while a device is connected.
pub(super) struct MidiOutThread {
    /// The reading end while no thread holds it.
    idle: Option<Ring>,
    /// The stop flag of the thread that holds it, and the thread (which hands it back).
    running: Option<(Arc<AtomicBool>, JoinHandle<Ring>)>,
}

impl MidiOutThread {
    /// The thread's side and the ring's writing end for the audio side.
    pub(super) fn new() -> (Self, rtrb::Producer<[u8; 3]>) {
        let (producer, consumer) = rtrb::RingBuffer::new(RING_CAPACITY);
        (Self { idle: Some(consumer), running: None }, producer)
    }

    /// Sends to `sink` from now on (`None`: to nobody). The previous sink gets everything
    /// written before this call.
    pub(super) fn connect(&mut self, sink: Option<MidiSink>) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::Relaxed);
            // The thread hands the ring back when it ends; a panicked sink loses it, and MIDI
            // out with it, but nothing else.
            self.idle = thread.join().ok();
        }
        let (Some(mut sink), Some(mut ring)) = (sink, self.idle.take()) else { return };
        // What the audio side wrote after the last sink was let go belongs to nobody.
        while ring.pop().is_ok() {}
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let spawned = std::thread::Builder::new().name("cadenza-midi-out".into()).spawn(move || {
            loop {
                let last = stopping.load(Ordering::Relaxed);
                while let Ok(message) = ring.pop() {
                    sink(message);
                }
                if last {
                    return ring;
                }
                std::thread::sleep(POLL);
            }
        });
        // Without a thread there is no MIDI out; the ring is lost with the closure.
        if let Ok(thread) = spawned {
            self.running = Some((stop, thread));
        }
    }
}
