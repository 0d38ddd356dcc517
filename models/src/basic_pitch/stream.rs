//! Transcribing audio of any length with bounded memory: audio arrives in pieces, is cut into
//! model windows as soon as a window is complete, the windows' frames are stitched, and notes
//! are created segment by segment, so neither the audio nor the posteriorgrams of a whole long
//! file are ever held.
//!
//! In Cadenza mode notes are created over 5-minute segments that overlap their neighbours by
//! 30 s on each side; a note belongs to the segment its start falls in. Inside one segment the
//! result is exactly whole-file note creation; a file shorter than 5½ minutes is one segment.
//! Compatible mode creates notes once over the whole file, as basic-pitch does (and so holds
//! its posteriorgrams).

use std::collections::VecDeque;

use burn::tensor::Device;

use super::notes::{Matrix, NoteEvent, NoteSettings, notes};
use super::stitch::{self, KEPT_FRAMES, PRE_PAD, Stitched, Stitcher, WindowFrames};
use super::{BasicPitch, CONTOUR_BINS, Mode, NOTE_BINS, WINDOW_SAMPLES};

/// Frames per note-creation segment (5 min at 86.13 frames/s).
pub const SEGMENT_FRAMES: usize = 25_840;
/// Frames of context on each side of a segment (30 s).
pub const SEGMENT_MARGIN: usize = 2_584;

/// Cuts a stream of samples into the windows [`stitch::window_starts`] describes.
#[derive(Debug)]
pub struct WindowCutter {
    mode: Mode,
    /// Pre-padded signal from `buffer_start` on.
    buffer: VecDeque<f32>,
    buffer_start: usize,
    next_start: usize,
    received: usize,
}

impl WindowCutter {
    pub fn new(mode: Mode) -> Self {
        Self { mode, buffer: std::iter::repeat_n(0.0, PRE_PAD).collect(), buffer_start: 0, next_start: 0, received: 0 }
    }

    /// Samples received so far.
    pub fn received(&self) -> usize {
        self.received
    }

    pub fn push(&mut self, samples: &[f32]) {
        self.buffer.extend(samples);
        self.received += samples.len();
    }

    /// Windows that are complete now, in order.
    pub fn ready(&mut self) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        while self.next_start + WINDOW_SAMPLES <= self.buffer_start + self.buffer.len() {
            out.push(self.take_window());
        }
        out
    }

    /// The remaining windows once the stream has ended, zero-filled past the end.
    pub fn finish(mut self) -> Vec<Vec<f32>> {
        let all = stitch::window_starts(self.received, self.mode);
        let mut out = Vec::new();
        while all.contains(&self.next_start) {
            out.push(self.take_window());
        }
        out
    }

    fn take_window(&mut self) -> Vec<f32> {
        let offset = self.next_start - self.buffer_start;
        let window: Vec<f32> =
            (0..WINDOW_SAMPLES).map(|i| self.buffer.get(offset + i).copied().unwrap_or(0.0)).collect();
        self.next_start += stitch::window_hop(self.mode);
        // Forget what no later window needs.
        let drop = (self.next_start - self.buffer_start).min(self.buffer.len());
        self.buffer.drain(..drop);
        self.buffer_start += drop;
        window
    }
}

/// Stitched frames held for note creation, with the frame index of the first one.
#[derive(Debug)]
struct FrameBuffer {
    first: usize,
    note: Vec<f32>,
    onset: Vec<f32>,
    contour: Vec<f32>,
}

impl FrameBuffer {
    fn len(&self) -> usize {
        self.note.len() / NOTE_BINS
    }

    fn push(&mut self, window: &WindowFrames) {
        let mut one = Stitcher::new(KEPT_FRAMES);
        one.push(window);
        let s = one.finish();
        self.note.extend(s.note.data);
        self.onset.extend(s.onset.data);
        self.contour.extend(s.contour.data);
    }

    /// Frames `from..to` (absolute indices) as matrices.
    fn slice(&self, from: usize, to: usize) -> Stitched {
        let (a, b) = (from - self.first, to - self.first);
        let cut = |v: &[f32], bins: usize| Matrix::new(b - a, bins, v[a * bins..b * bins].to_vec());
        Stitched {
            note: cut(&self.note, NOTE_BINS),
            onset: cut(&self.onset, NOTE_BINS),
            contour: cut(&self.contour, CONTOUR_BINS),
        }
    }

    fn forget_before(&mut self, frame: usize) {
        let n = frame.saturating_sub(self.first).min(self.len());
        self.note.drain(..n * NOTE_BINS);
        self.onset.drain(..n * NOTE_BINS);
        self.contour.drain(..n * CONTOUR_BINS);
        self.first += n;
    }
}

/// Audio in, notes out, for audio of any length.
pub struct StreamingTranscriber<'a> {
    model: &'a BasicPitch,
    device: Device,
    mode: Mode,
    settings: NoteSettings,
    batch: usize,
    cutter: WindowCutter,
    pending: Vec<Vec<f32>>,
    frames: FrameBuffer,
    /// First frame of the next segment to create notes for.
    segment_start: usize,
    notes: Vec<NoteEvent>,
}

impl<'a> StreamingTranscriber<'a> {
    pub fn new(model: &'a BasicPitch, device: &Device, mode: Mode, settings: NoteSettings, batch: usize) -> Self {
        Self {
            model,
            device: device.clone(),
            mode,
            settings,
            batch: batch.max(1),
            cutter: WindowCutter::new(mode),
            pending: Vec::new(),
            frames: FrameBuffer { first: 0, note: Vec::new(), onset: Vec::new(), contour: Vec::new() },
            segment_start: 0,
            notes: Vec::new(),
        }
    }

    /// Runs the windows still to come on `model` on `device` instead (the same network: a
    /// transcription can start on the CPU while the graphics drivers are still being probed).
    pub fn move_to(&mut self, model: &'a BasicPitch, device: &Device) {
        self.model = model;
        self.device = device.clone();
    }

    /// Adds audio (22,050 Hz mono); runs the model on every full batch of windows.
    pub fn push(&mut self, samples: &[f32]) {
        self.cutter.push(samples);
        self.pending.extend(self.cutter.ready());
        while self.pending.len() >= self.batch {
            let batch: Vec<_> = self.pending.drain(..self.batch).collect();
            self.run(&batch);
        }
    }

    /// Ends the stream: the notes of the whole input, in creation order per segment.
    pub fn finish(mut self) -> Vec<NoteEvent> {
        let received = self.cutter.received;
        let cutter = std::mem::replace(&mut self.cutter, WindowCutter::new(self.mode));
        self.pending.extend(cutter.finish());
        let rest: Vec<_> = std::mem::take(&mut self.pending);
        for batch in rest.chunks(self.batch) {
            self.run(batch);
        }
        let total = stitch::kept_frames(received, self.mode).min(self.frames.first + self.frames.len());
        while self.segment_start < total {
            self.create_segment(total);
        }
        self.notes
    }

    fn run(&mut self, windows: &[Vec<f32>]) {
        for frames in stitch::run_windows(self.model, windows, stitch::KEPT, self.mode, &self.device) {
            self.frames.push(&frames);
        }
        if self.mode == Mode::Cadenza {
            let available = self.frames.first + self.frames.len();
            while self.segment_start + SEGMENT_FRAMES + SEGMENT_MARGIN <= available {
                self.create_segment(available);
            }
        }
    }

    /// Notes starting in the next segment; `available` frames have been stitched.
    fn create_segment(&mut self, available: usize) {
        let (from, end, to) = match self.mode {
            Mode::Compatible => (0, available, available),
            Mode::Cadenza => {
                let end = (self.segment_start + SEGMENT_FRAMES).min(available);
                (self.segment_start.saturating_sub(SEGMENT_MARGIN), end, (end + SEGMENT_MARGIN).min(available))
            }
        };
        let part = self.frames.slice(from, to);
        for mut note in notes(&part.note, &part.onset, &part.contour, &self.settings, self.mode) {
            note.start += from;
            note.end += from;
            if note.start >= self.segment_start && note.start < end {
                self.notes.push(note);
            }
        }
        self.segment_start = end;
        self.frames.forget_before(end.saturating_sub(SEGMENT_MARGIN));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutter_gives_the_same_windows_as_cutting_the_whole_signal() {
        for mode in [Mode::Cadenza, Mode::Compatible] {
            let audio: Vec<f32> = (0..200_000).map(|i| (i as f32 * 0.01).sin()).collect();
            let whole: Vec<Vec<f32>> =
                stitch::window_starts(audio.len(), mode).into_iter().map(|s| stitch::window(&audio, s)).collect();
            let mut cutter = WindowCutter::new(mode);
            let mut got = Vec::new();
            for piece in audio.chunks(7_001) {
                cutter.push(piece);
                got.extend(cutter.ready());
                // Bounded: never more than a window and a piece held.
                assert!(cutter.buffer.len() <= WINDOW_SAMPLES + 7_001 + PRE_PAD);
            }
            got.extend(cutter.finish());
            assert_eq!(got.len(), whole.len(), "{mode:?}");
            assert!(got == whole, "{mode:?}: windows differ");
        }
    }
}
