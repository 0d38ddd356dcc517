//! Live transcription of a take while it records: the recorder hands every captured block to a
//! worker thread (never waiting for it), which downmixes, removes DC, resamples to 22,050 Hz,
//! runs Basic Pitch on a sliding window ([`LiveTranscriber`]) and sends the notes to the window
//! as song notes: committed ones for good, the ones still sounding as provisional. When the take
//! stops, the worker flushes the last frames and returns every committed note.

use std::thread::JoinHandle;

use cadenza_models::Device;
use cadenza_models::basic_pitch::live::{LiveSettings, LiveTranscriber, LiveUpdate};
use cadenza_models::basic_pitch::{BasicPitch, NoteEvent, SAMPLE_RATE};
use crossbeam_channel::{Receiver, Sender, bounded};

use super::{PitchBends, Placement, TranscribeOptions, tracks_from_events};
use crate::audio_file::StreamResampler;
use crate::dc::DcBlocker;
use crate::devices::recorder::AudioBlock;
use crate::ml::runtime_slot::RuntimeSlot;
pub use crate::protocol::transcription::LiveNotes;
use crate::song::Note;
use crate::timing::TempoMap;

/// Blocks of 512 frames the worker may fall behind by (about 10 s at 48 kHz) before the
/// recorder drops some; a step takes a fraction of the audio it covers, so it catches up.
const BACKLOG_BLOCKS: usize = 1024;

/// Where the take's notes go in the song.
#[derive(Debug, Clone)]
pub struct LivePlacement {
    pub tempo: TempoMap,
    /// Song time of the take's first sample.
    pub offset_seconds: f64,
}

impl LivePlacement {
    fn notes(&self, events: &[NoteEvent]) -> Vec<Note> {
        let options = TranscribeOptions { pitch_bends: PitchBends::None, ..TranscribeOptions::default() };
        let placement = Placement { offset_seconds: self.offset_seconds, ..Placement::default() };
        tracks_from_events(events, &options, &self.tempo, "", &placement)
            .into_iter()
            .flat_map(|track| track.notes)
            .collect()
    }
}

/// The worker of one take.
pub struct LiveTranscription {
    thread: Option<JoinHandle<Vec<Note>>>,
}

impl LiveTranscription {
    /// Starts the worker; give the returned sender to the recorder as its listener. `report`
    /// gets every update; `notice` gets a message if the model cannot run (the take still
    /// records).
    pub fn start(
        device: RuntimeSlot,
        placement: LivePlacement,
        report: impl Fn(LiveNotes) + Send + 'static,
        notice: impl Fn(String) + Send + 'static,
    ) -> (Self, Sender<AudioBlock>) {
        let (tx, rx) = bounded(BACKLOG_BLOCKS);
        let thread = std::thread::Builder::new()
            .name("cadenza-live-transcription".into())
            .spawn(move || {
                // The backend may still be being chosen; blocks wait in the channel meanwhile.
                let device = device.wait().device.clone();
                match BasicPitch::shipped(&device) {
                    Ok(model) => run(&model, &device, &placement, &rx, &report, &notice),
                    Err(err) => {
                        notice(format!("live transcription is off: {err}"));
                        Vec::new()
                    }
                }
            })
            .map_err(|err| eprintln!("cadenza: cannot start live transcription: {err}"))
            .ok();
        (Self { thread }, tx)
    }

    /// Waits for the worker (the recorder has stopped, so its blocks have ended) and returns
    /// every committed note.
    pub fn finish(mut self) -> Vec<Note> {
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

fn run(
    model: &BasicPitch,
    device: &Device,
    placement: &LivePlacement,
    blocks: &Receiver<AudioBlock>,
    report: &dyn Fn(LiveNotes),
    notice: &dyn Fn(String),
) -> Vec<Note> {
    let mut transcriber = LiveTranscriber::new(model, device, Default::default(), LiveSettings::default());
    let mut resampler: Option<(u32, StreamResampler)> = None;
    let mut dc: Option<(u32, DcBlocker)> = None;
    let mut all = Vec::new();
    let publish = |update: LiveUpdate, all: &mut Vec<Note>| {
        let committed = placement.notes(&update.committed);
        all.extend_from_slice(&committed);
        report(LiveNotes { committed, provisional: placement.notes(&update.provisional) });
    };
    for block in blocks {
        let channels = usize::from(block.channels.max(1));
        let mut mono: Vec<f32> =
            block.samples.chunks(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32).collect();
        // DC offset off at the input's rate, before resampling (see `crate::dc`).
        if dc.as_ref().is_none_or(|(rate, _)| *rate != block.sample_rate) {
            dc = Some((block.sample_rate, DcBlocker::new(block.sample_rate)));
        }
        if let Some((_, blocker)) = dc.as_mut() {
            blocker.process(&mut mono);
        }
        let samples = if block.sample_rate == SAMPLE_RATE {
            mono
        } else {
            if resampler.as_ref().is_none_or(|(rate, _)| *rate != block.sample_rate) {
                match StreamResampler::new(block.sample_rate, SAMPLE_RATE) {
                    Ok(r) => resampler = Some((block.sample_rate, r)),
                    Err(err) => {
                        notice(format!("live transcription is off: cannot resample {} Hz: {err}", block.sample_rate));
                        return all;
                    }
                }
            }
            match resampler.as_mut().map(|(_, r)| r.push(&mono)) {
                Some(Ok(samples)) => samples,
                _ => continue,
            }
        };
        if let Some(update) = transcriber.push(&samples) {
            publish(update, &mut all);
        }
    }
    if let Some(Ok(tail)) = resampler.as_mut().map(|(_, r)| r.finish())
        && let Some(update) = transcriber.push(&tail)
    {
        publish(update, &mut all);
    }
    publish(transcriber.finish(), &mut all);
    all.sort();
    all
}
