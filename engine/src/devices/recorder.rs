//! The audio recorder: captures an input device through rodio/cpal and writes a WAV file as it
//! goes, flushing twice a second so a crash loses at most that much. It also keeps a level
//! meter and a waveform summary for the window, and hands blocks to listeners (live
//! transcription) without ever blocking the capture.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use thiserror::Error;

/// Frames summarised by one waveform column.
pub const PEAK_FRAMES: usize = 512;
/// Flush the WAV header this often (in frames at the device rate / this divisor of a second).
const FLUSHES_PER_SECOND: u32 = 2;

#[derive(Debug, Error)]
pub enum RecordError {
    #[error("no audio input: {0}")]
    NoInput(String),
    #[error("{path}: cannot write the recording: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// An input named `file:PATH` plays a WAV file at real-time pace as if it were a microphone:
/// the whole recording path (file written as captured, meter, live transcription) runs on
/// machines without one, in tests and demos. `CADENZA_AUDIO_INPUT=PATH` makes it the default.
pub const FILE_INPUT_PREFIX: &str = "file:";
pub const FILE_INPUT_ENV: &str = "CADENZA_AUDIO_INPUT";

/// The WAV file's samples, handed out no faster than it would play.
fn file_input(path: &Path) -> Result<(impl Iterator<Item = f32> + Send + 'static, u32, u16), RecordError> {
    let unreadable = |e: &dyn std::fmt::Display| RecordError::NoInput(format!("{}: {e}", path.display()));
    let mut reader = hound::WavReader::open(path).map_err(|e| unreadable(&e))?;
    let spec = reader.spec();
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>()
        }
    }
    .map_err(|e| unreadable(&e))?;
    let per_second = f64::from(spec.sample_rate.max(1)) * f64::from(spec.channels.max(1));
    let started = std::time::Instant::now();
    let paced = samples.into_iter().enumerate().map(move |(i, sample)| {
        if i % 256 == 0 {
            let due = std::time::Duration::from_secs_f64(i as f64 / per_second);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        sample
    });
    Ok((paced, spec.sample_rate, spec.channels))
}

/// A block of captured audio for listeners, interleaved.
#[derive(Debug, Clone)]
pub struct AudioBlock {
    pub sample_rate: u32,
    pub channels: u16,
    pub samples: Arc<[f32]>,
}

/// What the window draws while recording: level and waveform so far.
#[derive(Debug, Default)]
pub struct RecordingMeter {
    peak_bits: AtomicU32,
    frames: AtomicU64,
    sample_rate: AtomicU32,
    /// (min, max) of the downmix per [`PEAK_FRAMES`] frames.
    peaks: Mutex<Vec<(f32, f32)>>,
    finished: AtomicBool,
    error: Mutex<Option<String>>,
}

impl RecordingMeter {
    /// Peak level since the last call, 0..=1 (a falling meter reads and resets it).
    pub fn take_peak(&self) -> f32 {
        f32::from_bits(self.peak_bits.swap(0, Ordering::Relaxed))
    }
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate.load(Ordering::Relaxed)
    }
    pub fn seconds(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate().max(1))
    }
    pub fn peaks(&self) -> Vec<(f32, f32)> {
        self.peaks.lock().map(|p| p.clone()).unwrap_or_default()
    }
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed)
    }
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }
    fn raise_peak(&self, value: f32) {
        let mut current = self.peak_bits.load(Ordering::Relaxed);
        while f32::from_bits(current) < value {
            match self.peak_bits.compare_exchange_weak(current, value.to_bits(), Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(seen) => current = seen,
            }
        }
    }
}

/// The input devices the system offers.
pub fn list_inputs() -> Result<Vec<String>, RecordError> {
    let inputs = rodio::microphone::available_inputs().map_err(|e| RecordError::NoInput(error_chain(&e)))?;
    Ok(inputs.iter().map(ToString::to_string).collect())
}

/// A running capture, into a file or (for the input meter alone) into nothing; stop it with
/// [`Recording::stop`].
pub struct Recording {
    pub path: Option<PathBuf>,
    pub channels: u16,
    pub meter: Arc<RecordingMeter>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Recording {
    /// Opens `device` (the default when `None`) and records into `path` (or only meters, with
    /// no path) until stopped.
    pub fn start(
        device: Option<&str>,
        path: Option<&Path>,
        listener: Option<Sender<AudioBlock>>,
    ) -> Result<Self, RecordError> {
        let from_env = std::env::var(FILE_INPUT_ENV).ok().map(|p| format!("{FILE_INPUT_PREFIX}{p}"));
        if let Some(file) = device.or(from_env.as_deref()).and_then(|d| d.strip_prefix(FILE_INPUT_PREFIX)) {
            let (samples, rate, channels) = file_input(Path::new(file))?;
            return Self::from_samples(samples, rate, channels, path, listener);
        }
        let builder = rodio::microphone::MicrophoneBuilder::new();
        let builder = match device {
            None => builder.default_device().map_err(|e| RecordError::NoInput(error_chain(&e)))?,
            Some(name) => {
                let inputs =
                    rodio::microphone::available_inputs().map_err(|e| RecordError::NoInput(error_chain(&e)))?;
                let input = inputs
                    .into_iter()
                    .find(|i| i.to_string() == name)
                    .ok_or_else(|| RecordError::NoInput(format!("no input device named {name:?}")))?;
                builder.device(input).map_err(|e| RecordError::NoInput(error_chain(&e)))?
            }
        };
        let builder = builder.default_config().map_err(|e| RecordError::NoInput(error_chain(&e)))?;
        let mic = builder.open_stream().map_err(|e| RecordError::NoInput(error_chain(&e)))?;
        let config = mic.config();
        let (rate, channels) = (config.sample_rate.get(), config.channel_count.get());
        Self::from_samples(mic, rate, channels, path, listener)
    }

    /// Records any sample stream (the microphone, or a test signal) on its own thread.
    pub fn from_samples(
        samples: impl Iterator<Item = f32> + Send + 'static,
        sample_rate: u32,
        channels: u16,
        path: Option<&Path>,
        listener: Option<Sender<AudioBlock>>,
    ) -> Result<Self, RecordError> {
        let write_error = |e: &dyn std::fmt::Display| RecordError::Write {
            path: path.map_or_else(|| PathBuf::from("input meter"), Path::to_path_buf),
            reason: e.to_string(),
        };
        if let Some(parent) = path.and_then(Path::parent) {
            std::fs::create_dir_all(parent).map_err(|e| write_error(&e))?;
        }
        let spec = hound::WavSpec {
            channels: channels.max(1),
            sample_rate: sample_rate.max(1),
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let writer = match path {
            Some(path) => {
                let mut writer = hound::WavWriter::create(path, spec).map_err(|e| write_error(&e))?;
                // The header reaches the disk now: a take killed before its first flush is
                // still a WAV file (of no frames), not an empty file no one can read.
                writer.flush().map_err(|e| write_error(&e))?;
                Some(writer)
            }
            None => None,
        };
        let meter = Arc::new(RecordingMeter::default());
        meter.sample_rate.store(spec.sample_rate, Ordering::Relaxed);
        let stop = Arc::new(AtomicBool::new(false));
        let capture = Capture { writer, spec, meter: Arc::clone(&meter), stop: Arc::clone(&stop), listener };
        let thread = std::thread::Builder::new()
            .name("cadenza-recorder".into())
            .spawn(move || capture.run(samples))
            .map_err(|e| write_error(&e))?;
        Ok(Self { path: path.map(Path::to_path_buf), channels: spec.channels, meter, stop, thread: Some(thread) })
    }

    /// Stops capturing and finishes the file; returns the frames written.
    pub fn stop(mut self) -> Result<u64, RecordError> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        match self.meter.error() {
            Some(reason) => Err(RecordError::Write { path: self.path.clone().unwrap_or_default(), reason }),
            None => Ok(self.meter.frames()),
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Capture {
    /// `None` when only metering.
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    spec: hound::WavSpec,
    meter: Arc<RecordingMeter>,
    stop: Arc<AtomicBool>,
    listener: Option<Sender<AudioBlock>>,
}

impl Capture {
    fn run(mut self, samples: impl Iterator<Item = f32>) {
        if let Err(err) = self.capture(samples)
            && let Ok(mut slot) = self.meter.error.lock()
        {
            *slot = Some(err.to_string());
        }
        self.meter.finished.store(true, Ordering::Relaxed);
    }

    fn capture(&mut self, samples: impl Iterator<Item = f32>) -> Result<(), hound::Error> {
        let channels = usize::from(self.spec.channels);
        let flush_every = (self.spec.sample_rate / FLUSHES_PER_SECOND).max(1) as usize * channels;
        let block_len = PEAK_FRAMES * channels;
        let mut block = Vec::with_capacity(block_len);
        let mut since_flush = 0usize;
        for sample in samples {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let sample = if sample.is_finite() { sample } else { 0.0 };
            if let Some(writer) = self.writer.as_mut() {
                writer.write_sample(sample)?;
            }
            block.push(sample);
            if block.len() == block_len {
                self.block_done(&block, channels);
                block.clear();
            }
            since_flush += 1;
            if since_flush >= flush_every {
                // Updates the header lengths, so the file on disk is whole up to here.
                if let Some(writer) = self.writer.as_mut() {
                    writer.flush()?;
                }
                since_flush = 0;
            }
        }
        if !block.is_empty() {
            self.block_done(&block, channels);
        }
        if let Some(writer) = self.writer.as_mut() {
            writer.flush()?;
        }
        Ok(())
    }

    fn block_done(&self, block: &[f32], channels: usize) {
        let (mut low, mut high, mut peak) = (0.0f32, 0.0f32, 0.0f32);
        for frame in block.chunks(channels) {
            let mono = frame.iter().sum::<f32>() / channels as f32;
            low = low.min(mono);
            high = high.max(mono);
            peak = frame.iter().fold(peak, |p, s| p.max(s.abs()));
        }
        self.meter.raise_peak(peak.min(1.0));
        self.meter.frames.fetch_add((block.len() / channels) as u64, Ordering::Relaxed);
        // The waveform is kept for takes only; a meter left open for hours keeps nothing.
        if self.writer.is_some()
            && let Ok(mut peaks) = self.meter.peaks.lock()
        {
            peaks.push((low, high));
        }
        if let Some(listener) = &self.listener {
            // A slow listener misses blocks; the recording never waits for it.
            let _ = listener.try_send(AudioBlock {
                sample_rate: self.spec.sample_rate,
                channels: self.spec.channels,
                samples: Arc::from(block),
            });
        }
    }
}

/// An error with its causes, on one line (rodio's top-level messages are vague).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sine(rate: u32, seconds: f32) -> impl Iterator<Item = f32> + Send {
        let n = (rate as f32 * seconds) as usize;
        (0..n).flat_map(move |i| {
            let s = (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 0.5;
            [s, s]
        })
    }

    #[test]
    fn writes_the_whole_stream_and_meters_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("takes/take.wav");
        let (tx, rx) = crossbeam_channel::bounded(1000);
        let rec = Recording::from_samples(sine(8000, 1.0), 8000, 2, Some(&path), Some(tx)).unwrap();
        while !rec.meter.is_finished() {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!((rec.meter.take_peak() - 0.5).abs() < 0.01);
        let frames = rec.stop().unwrap();
        assert_eq!(frames, 8000);
        let reader = hound::WavReader::open(&path).unwrap();
        assert_eq!(reader.spec().channels, 2);
        assert_eq!(reader.len(), 16_000);
        let blocks: usize = rx.try_iter().map(|b| b.samples.len()).sum();
        assert_eq!(blocks, 16_000, "listener missed audio");
    }

    #[test]
    fn the_meter_alone_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let rec = Recording::from_samples(sine(8000, 0.5), 8000, 2, None, None).unwrap();
        while !rec.meter.is_finished() {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(rec.meter.take_peak() > 0.4);
        assert!(rec.meter.peaks().is_empty());
        assert_eq!(rec.stop().unwrap(), 4000);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn file_on_disk_is_readable_while_recording() {
        // An endless stream: what a crash would leave behind must already be a valid WAV.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.wav");
        let endless = std::iter::repeat_with(|| {
            std::thread::sleep(Duration::from_micros(20));
            0.25f32
        });
        let rec = Recording::from_samples(endless, 8000, 1, Some(&path), None).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut seen = 0;
        while seen < 4000 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            seen = hound::WavReader::open(&path).map(|r| r.len()).unwrap_or(0);
        }
        assert!(seen >= 4000, "after capturing {} frames the file holds {seen}", rec.meter.frames());
        let samples: Vec<f32> = hound::WavReader::open(&path).unwrap().samples::<f32>().map(Result::unwrap).collect();
        assert!(samples.iter().all(|s| *s == 0.25));
        rec.stop().unwrap();
    }
}
