//! Live transcription: audio arrives as it is played; every `step` the model runs on the window
//! that ends at the newest sample, and the frames that now have `lookahead` frames of audio
//! after them are added to the posteriorgram. Notes are created over the last seconds of it
//! each step: notes that have ended are committed (never taken back), notes still sounding are
//! provisional (shown, and corrected by the next step).
//!
//! The limits of the design: a frame is final only once `lookahead` frames of audio follow it
//! (upstream keeps 15, the constant-Q kernels of the lowest octaves are longer still, so bass
//! notes are less sure live than offline), an onset is a peak only once the frame after it
//! exists, and every step runs a whole 2-s window through the model.

use std::collections::VecDeque;

use burn::tensor::Device;

use super::notes::{Matrix, NoteEvent, NoteSettings, notes};
use super::stitch::{EDGE_FRAMES, PRE_PAD, run_windows};
use super::{BasicPitch, CONTOUR_BINS, FRAMES_PER_WINDOW, HOP, Mode, NOTE_BINS, WINDOW_SAMPLES};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveSettings {
    /// Frames of audio a frame needs after it before it is final.
    pub lookahead_frames: usize,
    /// Frames between model runs.
    pub step_frames: usize,
    /// Frames of posteriorgram note creation looks at each step.
    pub history_frames: usize,
}

impl Default for LiveSettings {
    /// 15 frames of look-ahead (upstream's own context) and a model run every 16 frames: live
    /// notes as good as offline ones (onset F1 0.99 of offline in the live bench) shown a
    /// median 256 ms after they are played, for 5 % of one core. Look-ahead 8 / step 8 shows
    /// them at 147 ms but with F1 0.93 of offline.
    fn default() -> Self {
        Self { lookahead_frames: 15, step_frames: 16, history_frames: 860 }
    }
}

/// What a step found: notes committed now, and the notes still sounding (replacing the
/// previous step's provisional ones). Frames count from the first sample pushed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveUpdate {
    pub committed: Vec<NoteEvent>,
    pub provisional: Vec<NoteEvent>,
    /// Frames of posteriorgram that are final.
    pub frames: usize,
}

pub struct LiveTranscriber<'a> {
    model: &'a BasicPitch,
    device: Device,
    settings: NoteSettings,
    live: LiveSettings,
    /// The pre-padded signal from padded sample `audio_start` on.
    audio: VecDeque<f32>,
    audio_start: usize,
    /// Padded samples received (pre-pad included).
    padded_len: usize,
    last_step: usize,
    /// Final posteriorgram frames from frame `first` on.
    first: usize,
    note: VecDeque<f32>,
    onset: VecDeque<f32>,
    contour: VecDeque<f32>,
    /// (pitch, start) of committed notes, to never commit one twice.
    committed: Vec<(u8, usize)>,
}

impl<'a> LiveTranscriber<'a> {
    pub fn new(model: &'a BasicPitch, device: &Device, settings: NoteSettings, live: LiveSettings) -> Self {
        Self {
            model,
            device: device.clone(),
            settings,
            live,
            audio: std::iter::repeat_n(0.0, PRE_PAD).collect(),
            audio_start: 0,
            padded_len: PRE_PAD,
            last_step: PRE_PAD,
            first: 0,
            note: VecDeque::new(),
            onset: VecDeque::new(),
            contour: VecDeque::new(),
            committed: Vec::new(),
        }
    }

    fn frames_done(&self) -> usize {
        self.first + self.note.len() / NOTE_BINS
    }

    /// Adds audio (22,050 Hz mono) and runs a step when one is due. A long piece (a listener
    /// that fell behind hands over everything it has) costs one step, or a few when it is
    /// longer than one window can finish, never one per step missed.
    pub fn push(&mut self, samples: &[f32]) -> Option<LiveUpdate> {
        self.audio.extend(samples);
        self.padded_len += samples.len();
        if self.padded_len - self.last_step < self.live.step_frames.max(1) * HOP {
            return None;
        }
        // Frames one window can make final beyond those already final.
        let span = (FRAMES_PER_WINDOW - self.live.lookahead_frames - 2 * EDGE_FRAMES).max(1) * HOP;
        while self.padded_len - self.last_step > span {
            self.last_step += span;
            self.run_model(self.last_step);
        }
        self.last_step = self.padded_len;
        Some(self.step(false))
    }

    /// The stream has ended: the last frames (with silence after them) and every note.
    pub fn finish(mut self) -> LiveUpdate {
        // Silence after the end gives the last frames their look-ahead.
        let tail = vec![0.0; (self.live.lookahead_frames + 1) * HOP];
        self.audio.extend(&tail);
        self.padded_len += tail.len();
        self.step(true)
    }

    fn step(&mut self, last: bool) -> LiveUpdate {
        self.run_model(self.padded_len);
        self.create_notes(last)
    }

    /// Runs the window ending at padded sample `end` and keeps its newly final frames.
    fn run_model(&mut self, end: usize) {
        let start = end.saturating_sub(WINDOW_SAMPLES) / HOP * HOP;
        let window: Vec<f32> = (start..start + WINDOW_SAMPLES)
            .map(|i| i.checked_sub(self.audio_start).and_then(|j| self.audio.get(j)).copied().unwrap_or(0.0))
            .collect();
        // Frame j of the window is centred on padded sample start + 256·j, which is frame
        // (start + 256·j − PRE_PAD) / 256 of the audio.
        let base = start / HOP; // = absolute frame + 15 − j
        let pre = PRE_PAD / HOP;
        let last_final =
            (end.saturating_sub(self.live.lookahead_frames * HOP) / HOP).min(start / HOP + FRAMES_PER_WINDOW - 1);
        let from = self.frames_done();
        if last_final < pre || last_final - pre < from {
            return;
        }
        // Only the window frames that become final now are read.
        let needed = from + pre - base..last_final + 1 - base;
        let out = run_windows(self.model, &[window], needed, Mode::Cadenza, &self.device);
        let Some(frames) = out.first() else { return };
        for t in from..=last_final - pre {
            let j = t + pre - base;
            for (target, values, bins) in [
                (&mut self.note, &frames.note, NOTE_BINS),
                (&mut self.onset, &frames.onset, NOTE_BINS),
                (&mut self.contour, &frames.contour, CONTOUR_BINS),
            ] {
                target.extend(&values[j * bins..(j + 1) * bins]);
            }
        }
        // Forget audio no later window reaches.
        let keep_from = end.saturating_sub(WINDOW_SAMPLES + self.live.step_frames * HOP * 4);
        let drop = keep_from.saturating_sub(self.audio_start).min(self.audio.len());
        self.audio.drain(..drop);
        self.audio_start += drop;
        // And posteriorgram older than the history.
        let excess = (self.note.len() / NOTE_BINS).saturating_sub(self.live.history_frames);
        self.note.drain(..excess * NOTE_BINS);
        self.onset.drain(..excess * NOTE_BINS);
        self.contour.drain(..excess * CONTOUR_BINS);
        self.first += excess;
    }

    fn create_notes(&mut self, last: bool) -> LiveUpdate {
        let frames = self.note.len() / NOTE_BINS;
        let done = self.frames_done();
        let mut update = LiveUpdate { frames: done, ..LiveUpdate::default() };
        if frames < 3 {
            return update;
        }
        let matrix = |v: &VecDeque<f32>, bins: usize| Matrix::new(frames, bins, v.iter().copied().collect());
        let (note, onset, contour) =
            (matrix(&self.note, NOTE_BINS), matrix(&self.onset, NOTE_BINS), matrix(&self.contour, CONTOUR_BINS));
        // Short notes are found too, so a note shows as soon as it starts; only notes that
        // ended short are dropped.
        let eager = NoteSettings { min_note_frames: 1, ..self.settings };
        let tolerance = self.settings.energy_tolerance;
        let open_from = done.saturating_sub(tolerance + 2);
        // Notes cut by the start of the history are the tails of notes seen before.
        let history_start = if self.first > 0 { self.first + tolerance } else { 0 };
        for mut n in notes(&note, &onset, &contour, &eager, Mode::Cadenza) {
            n.start += self.first;
            n.end += self.first;
            if n.start < history_start || self.committed.iter().any(|&(p, s)| p == n.pitch && s.abs_diff(n.start) <= 2)
            {
                continue;
            }
            let open = !last && n.end >= open_from;
            if open {
                update.provisional.push(n);
            } else if n.end - n.start > self.settings.min_note_frames {
                self.committed.push((n.pitch, n.start));
                update.committed.push(n);
            }
        }
        // Only recent commits can be found again.
        let horizon = self.first;
        self.committed.retain(|&(_, s)| s + 2 >= horizon);
        update
    }
}
