//! Reading audio files for the models: WAV, FLAC, MP3 and Ogg Vorbis through symphonia, any
//! rate and channel count, mixed down to mono (channel mean) and resampled with rubato's FFT
//! resampler to the rate a model wants. [`AudioStream`] hands the result out piece by piece,
//! so a file of any length is read with bounded memory.

use std::path::{Path, PathBuf};

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatReader;
use symphonia::core::io::MediaSourceStream;
use thiserror::Error;

use crate::audio_probe::ProbeError;
use crate::dc::DcBlocker;

#[derive(Debug, Error)]
pub enum AudioFileError {
    #[error("{path}: cannot open: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a supported audio file (WAV, FLAC, MP3, Ogg Vorbis): {reason}")]
    Unsupported { path: PathBuf, reason: String },
    #[error("{path}: damaged audio: {reason}")]
    Damaged { path: PathBuf, reason: String },
    #[error("{path}: the file holds no audio")]
    Empty { path: PathBuf },
    #[error("{path}: longer than {minutes:.0} minutes, the most read whole; split it first", minutes = max_seconds / 60.0)]
    TooLong { path: PathBuf, max_seconds: f64 },
    #[error("{path}: cannot resample from {from} Hz: {reason}")]
    Resample { path: PathBuf, from: u32, reason: String },
}

/// The whole file as mono samples at `rate` Hz; a file longer than `max_seconds` is refused as
/// soon as that shows (from its header, or while reading), before it fills memory.
pub fn read_mono(path: &Path, rate: u32, max_seconds: f64) -> Result<Vec<f32>, AudioFileError> {
    read_stream(AudioStream::open(path, rate)?, rate, max_seconds)
}

/// As [`read_mono`], from a stream already opened (e.g. one removing DC).
pub fn read_stream(mut stream: AudioStream, rate: u32, max_seconds: f64) -> Result<Vec<f32>, AudioFileError> {
    let path = stream.path.clone();
    let path = path.as_path();
    let too_long = || AudioFileError::TooLong { path: path.to_path_buf(), max_seconds };
    if stream.duration_seconds().is_some_and(|s| s > max_seconds) {
        return Err(too_long());
    }
    let max_samples = (max_seconds * f64::from(rate)) as usize;
    let mut out = Vec::new();
    while let Some(piece) = stream.next_piece()? {
        out.extend_from_slice(&piece);
        if out.len() > max_samples {
            return Err(too_long());
        }
    }
    if out.is_empty() {
        return Err(AudioFileError::Empty { path: path.to_path_buf() });
    }
    Ok(out)
}

/// The sample rates Cadenza reads: telephone audio up to the highest studio rate.
const MIN_SAMPLE_RATE: u32 = 1_000;
const MAX_SAMPLE_RATE: u32 = 768_000;

/// An audio file decoded, mixed down and resampled piece by piece.
pub struct AudioStream {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    source_rate: u32,
    /// Frames in the file, when its header says.
    source_frames: Option<u64>,
    decoded_frames: u64,
    buffer: Option<SampleBuffer<f32>>,
    resampler: Option<StreamResampler>,
    /// Removes DC offset at the file's rate, before resampling (see [`crate::dc`]).
    dc: Option<DcBlocker>,
    ended: bool,
    /// Packets that could not be decoded and were skipped.
    skipped_packets: u64,
}

impl AudioStream {
    pub fn open(path: &Path, rate: u32) -> Result<Self, AudioFileError> {
        let file =
            std::fs::File::open(path).map_err(|source| AudioFileError::Open { path: path.to_path_buf(), source })?;
        Self::from_source(Box::new(file), path, rate)
    }

    /// A file's bytes already in memory; `name` names it in errors (fuzzed: `fuzz/`,
    /// `import_audio`). The format is found from the bytes, never the name.
    pub fn from_bytes(bytes: Vec<u8>, name: &Path, rate: u32) -> Result<Self, AudioFileError> {
        Self::from_source(Box::new(std::io::Cursor::new(bytes)), name, rate)
    }

    fn from_source(
        source: Box<dyn symphonia::core::io::MediaSource>,
        path: &Path,
        rate: u32,
    ) -> Result<Self, AudioFileError> {
        let stream = MediaSourceStream::new(source, Default::default());
        let unsupported = |reason: String| AudioFileError::Unsupported { path: path.to_path_buf(), reason };
        // symphonia panics on some malformed headers (a WAV at 0 Hz, found by the fuzzer): that
        // is a bad file, not a crash.
        let format = crate::quiet_panic::catch_reader_panic(|| crate::audio_probe::open_format(stream))
            .map_err(|_| unsupported("its header is malformed".into()))?
            .map_err(|err| match err {
                ProbeError::Symphonia(e) => unsupported(e.to_string()),
                ProbeError::Damaged(reason) => AudioFileError::Damaged { path: path.to_path_buf(), reason },
            })?;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| unsupported("no audio track".into()))?;
        let track_id = track.id;
        let source_rate = track.codec_params.sample_rate.ok_or_else(|| unsupported("no sample rate".into()))?;
        // A header can claim any rate; resampling from one no recorder makes would take minutes
        // (found by the fuzzer: 805 MHz).
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&source_rate) {
            return Err(unsupported(format!(
                "its sample rate, {source_rate} Hz, is outside {MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz"
            )));
        }
        let source_frames = track.codec_params.n_frames;
        let decoder = symphonia::default::get_codecs()
            .make(&track.codec_params, &DecoderOptions::default())
            .map_err(|e| unsupported(e.to_string()))?;
        let resampler = if source_rate == rate {
            None
        } else {
            Some(StreamResampler::new(source_rate, rate).map_err(|reason| AudioFileError::Resample {
                path: path.to_path_buf(),
                from: source_rate,
                reason,
            })?)
        };
        Ok(Self {
            path: path.to_path_buf(),
            format,
            decoder,
            track_id,
            source_rate,
            source_frames,
            decoded_frames: 0,
            buffer: None,
            resampler,
            dc: None,
            ended: false,
            skipped_packets: 0,
        })
    }

    /// Removes any DC offset from what this stream gives.
    pub fn removing_dc(mut self) -> Self {
        self.dc = Some(DcBlocker::new(self.source_rate));
        self
    }

    /// Duration from the file's header, if it gives one.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.source_frames.map(|n| n as f64 / f64::from(self.source_rate))
    }

    /// Fraction of the file read so far (0 when the length is unknown).
    pub fn fraction_read(&self) -> f32 {
        self.source_frames.map_or(0.0, |n| (self.decoded_frames as f64 / n.max(1) as f64).min(1.0) as f32)
    }

    /// What was wrong with the file, once it has been read to its end: damaged frames skipped,
    /// or less audio than its header promises (a file cut short by a failed copy or download).
    /// `None` for a sound file.
    pub fn damage(&self) -> Option<String> {
        let seconds = |frames: u64| frames as f64 / f64::from(self.source_rate.max(1));
        let mut problems = Vec::new();
        if self.skipped_packets > 0 {
            problems.push(format!("{} damaged packets were skipped", self.skipped_packets));
        }
        // A tenth of a second of slack: some encoders round the header's length.
        if let Some(promised) = self.source_frames
            && self.decoded_frames + u64::from(self.source_rate / 10) < promised
        {
            problems.push(format!(
                "it ends early: {:.1} s of the {:.1} s its header gives could be read",
                seconds(self.decoded_frames),
                seconds(promised)
            ));
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }

    /// The next piece of mono audio at the target rate; `None` at the end.
    pub fn next_piece(&mut self) -> Result<Option<Vec<f32>>, AudioFileError> {
        loop {
            if self.ended {
                return Ok(None);
            }
            let Some(mut mono) = self.decode_packet()? else {
                self.ended = true;
                let tail = match self.resampler.as_mut() {
                    Some(r) => r.finish().map_err(|reason| self.resample_error(reason))?,
                    None => Vec::new(),
                };
                return Ok((!tail.is_empty()).then_some(tail));
            };
            if let Some(dc) = self.dc.as_mut() {
                dc.process(&mut mono);
            }
            let out = match self.resampler.as_mut() {
                Some(r) => r.push(&mono).map_err(|reason| self.resample_error(reason))?,
                None => mono,
            };
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
    }

    fn resample_error(&self, reason: String) -> AudioFileError {
        AudioFileError::Resample { path: self.path.clone(), from: self.source_rate, reason }
    }

    /// Mono samples of the next packet of our track at the file's rate; `None` at the end.
    fn decode_packet(&mut self) -> Result<Option<Vec<f32>>, AudioFileError> {
        // As in `from_source`: a decoder's panic on damaged data is damage, not a crash.
        crate::quiet_panic::catch_reader_panic(|| self.decode_packet_unguarded()).unwrap_or_else(|_| {
            Err(AudioFileError::Damaged { path: self.path.clone(), reason: "the decoder failed on it".into() })
        })
    }

    fn decode_packet_unguarded(&mut self) -> Result<Option<Vec<f32>>, AudioFileError> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(packet) => packet,
                Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(SymphoniaError::ResetRequired) => return Ok(None),
                Err(e) => return Err(AudioFileError::Damaged { path: self.path.clone(), reason: e.to_string() }),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(decoded) => decoded,
                // A corrupt frame in a long file: skip it, as players do.
                Err(SymphoniaError::DecodeError(_)) => {
                    self.skipped_packets += 1;
                    continue;
                }
                Err(e) => return Err(AudioFileError::Damaged { path: self.path.clone(), reason: e.to_string() }),
            };
            let spec = *decoded.spec();
            let channels = spec.channels.count().max(1);
            let buf = match self.buffer.as_mut() {
                Some(b) if b.capacity() >= decoded.capacity() * channels => b,
                _ => self.buffer.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
            };
            buf.copy_interleaved_ref(decoded);
            let mono: Vec<f32> =
                buf.samples().chunks(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32).collect();
            self.decoded_frames += mono.len() as u64;
            return Ok(Some(mono));
        }
    }
}

/// rubato's FFT resampler fed piece by piece: its start-up delay is trimmed and the end is
/// flushed, so the output lines up with the input and has ⌈length · ratio⌉ samples.
pub(crate) struct StreamResampler {
    inner: Fft<f32>,
    pending: Vec<f32>,
    to_trim: usize,
    consumed: usize,
    produced: usize,
    ratio: f64,
}

impl StreamResampler {
    pub(crate) fn new(from: u32, to: u32) -> Result<Self, String> {
        let inner =
            Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input).map_err(|e| e.to_string())?;
        let to_trim = inner.output_delay();
        Ok(Self {
            inner,
            pending: Vec::new(),
            to_trim,
            consumed: 0,
            produced: 0,
            ratio: f64::from(to) / f64::from(from),
        })
    }

    pub(crate) fn push(&mut self, samples: &[f32]) -> Result<Vec<f32>, String> {
        self.pending.extend_from_slice(samples);
        let mut out = Vec::new();
        loop {
            let need = self.inner.input_frames_next();
            if self.pending.len() < need {
                break;
            }
            self.chunk(need, None, &mut out)?;
        }
        Ok(out)
    }

    pub(crate) fn finish(&mut self) -> Result<Vec<f32>, String> {
        let expected = (self.ratio * (self.consumed + self.pending.len()) as f64).ceil() as usize;
        let mut out = Vec::new();
        let partial = self.pending.len();
        let need = self.inner.input_frames_next();
        self.pending.resize(need, 0.0);
        self.chunk(need, Some(partial), &mut out)?;
        while self.produced < expected {
            self.pending.resize(need, 0.0);
            self.chunk(need, Some(0), &mut out)?;
        }
        let surplus = self.produced - expected;
        out.truncate(out.len().saturating_sub(surplus));
        self.produced = expected;
        Ok(out)
    }

    /// Resamples the first `need` pending samples (`partial` of them real).
    fn chunk(&mut self, need: usize, partial: Option<usize>, out: &mut Vec<f32>) -> Result<(), String> {
        let input = InterleavedSlice::new(&self.pending[..need], 1, need).map_err(|e| e.to_string())?;
        let indexing = Indexing { input_offset: 0, output_offset: 0, partial_len: partial, active_channels_mask: None };
        let result = self.inner.process(&input, Some(&indexing)).map_err(|e| e.to_string())?;
        let data = result.take_data();
        let skip = self.to_trim.min(data.len());
        self.to_trim -= skip;
        self.produced += data.len() - skip;
        out.extend_from_slice(&data[skip..]);
        self.consumed += partial.unwrap_or(need);
        self.pending.drain(..need);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, rate: u32, channels: u16, seconds: f32, freq: f32) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..(rate as f32 * seconds) as usize {
            let s = ((i as f32 / rate as f32 * freq * std::f32::consts::TAU).sin() * 16000.0) as i16;
            for _ in 0..channels {
                w.write_sample(s).unwrap();
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn stereo_44k_becomes_mono_22k_with_the_same_tone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tone.wav");
        write_wav(&path, 44_100, 2, 1.0, 441.0);
        let mono = read_mono(&path, 22_050, 60.0).unwrap();
        assert!((mono.len() as i64 - 22_050).abs() <= 2, "{} samples", mono.len());
        // 441 Hz at 22,050 Hz: 50 samples per period; count zero crossings upwards.
        let ups = mono.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        assert!((439..=443).contains(&ups), "{ups} periods");
        let peak = mono.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 16000.0 / 32768.0).abs() < 0.02, "level changed: {peak}");
    }

    #[test]
    fn streaming_matches_resampling_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tone.wav");
        write_wav(&path, 44_100, 1, 3.3, 523.0);
        let streamed = read_mono(&path, 22_050, 60.0).unwrap();
        let mut reader = hound::WavReader::open(&path).unwrap();
        let raw: Vec<f32> = reader.samples::<i16>().map(|s| f32::from(s.unwrap()) / 32768.0).collect();
        let mut whole = Fft::<f32>::new(44_100, 22_050, 1024, 1, FixedSync::Input).unwrap();
        let input = InterleavedSlice::new(&raw, 1, raw.len()).unwrap();
        let reference = whole.process_all(&input, raw.len(), None).unwrap().take_data();
        assert_eq!(streamed.len(), reference.len());
        let worst = streamed.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "streamed differs from whole-file resampling by {worst}");
    }

    #[test]
    fn a_file_cut_short_says_how_much_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("cut.wav");
        write_wav(&wav, 22_050, 1, 2.0, 440.0);
        let whole = std::fs::read(&wav).unwrap();
        std::fs::write(&wav, &whole[..whole.len() / 2]).unwrap();
        let mut stream = AudioStream::open(&wav, 22_050).unwrap();
        while stream.next_piece().unwrap().is_some() {}
        let damage = stream.damage().expect("the cut is noticed");
        assert!(damage.contains("1.0 s of the 2.0 s"), "{damage}");

        let sound = dir.path().join("sound.wav");
        write_wav(&sound, 22_050, 1, 2.0, 440.0);
        let mut stream = AudioStream::open(&sound, 22_050).unwrap();
        while stream.next_piece().unwrap().is_some() {}
        assert_eq!(stream.damage(), None);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.wav");
        std::fs::write(&junk, b"RIFF this is not audio at all").unwrap();
        assert!(matches!(read_mono(&junk, 22_050, 60.0), Err(AudioFileError::Unsupported { .. })));
        let empty = dir.path().join("empty.wav");
        write_wav(&empty, 22_050, 1, 0.0, 440.0);
        assert!(matches!(read_mono(&empty, 22_050, 60.0), Err(AudioFileError::Empty { .. })));
        let missing = dir.path().join("missing.flac");
        assert!(matches!(read_mono(&missing, 22_050, 60.0), Err(AudioFileError::Open { .. })));
    }
}
