//! Reading audio files for the models: WAV, FLAC, MP3 and Ogg Vorbis through symphonia, any
//! rate and channel count, mixed down to mono (channel mean) and resampled with rubato's FFT
//! resampler to the rate a model wants.

use std::path::{Path, PathBuf};

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use thiserror::Error;

/// Longest input read in one piece (whole-file decoding; streaming comes with live input).
pub const MAX_SECONDS: f64 = 2.0 * 3600.0;

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
    #[error("{path}: longer than {max_hours} hours; split it first", max_hours = MAX_SECONDS / 3600.0)]
    TooLong { path: PathBuf },
    #[error("{path}: cannot resample from {from} Hz: {reason}")]
    Resample { path: PathBuf, from: u32, reason: String },
}

/// Mono samples at `rate` Hz.
pub fn read_mono(path: &Path, rate: u32) -> Result<Vec<f32>, AudioFileError> {
    let (samples, source_rate) = decode_mono(path)?;
    if samples.is_empty() {
        return Err(AudioFileError::Empty { path: path.to_path_buf() });
    }
    resample(&samples, source_rate, rate).map_err(|reason| AudioFileError::Resample {
        path: path.to_path_buf(),
        from: source_rate,
        reason,
    })
}

fn decode_mono(path: &Path) -> Result<(Vec<f32>, u32), AudioFileError> {
    let file = std::fs::File::open(path).map_err(|source| AudioFileError::Open { path: path.to_path_buf(), source })?;
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let unsupported = |reason: String| AudioFileError::Unsupported { path: path.to_path_buf(), reason };
    let probed = symphonia::default::get_probe()
        .format(&hint, stream, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(|e| unsupported(e.to_string()))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| unsupported("no audio track".into()))?;
    let track_id = track.id;
    let rate = track.codec_params.sample_rate.ok_or_else(|| unsupported("no sample rate".into()))?;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| unsupported(e.to_string()))?;
    let max_samples = (MAX_SECONDS * f64::from(rate)) as usize;
    let mut mono = Vec::new();
    let mut buffer: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(AudioFileError::Damaged { path: path.to_path_buf(), reason: e.to_string() }),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            // A corrupt frame in a long file: skip it, as players do.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(AudioFileError::Damaged { path: path.to_path_buf(), reason: e.to_string() }),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count().max(1);
        let buf = match buffer.as_mut() {
            Some(b) if b.capacity() >= decoded.capacity() * channels => b,
            _ => buffer.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buf.copy_interleaved_ref(decoded);
        for frame in buf.samples().chunks(channels) {
            mono.push(frame.iter().sum::<f32>() / channels as f32);
        }
        if mono.len() > max_samples {
            return Err(AudioFileError::TooLong { path: path.to_path_buf() });
        }
    }
    Ok((mono, rate))
}

fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    if from == to {
        return Ok(samples.to_vec());
    }
    let mut resampler =
        Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both).map_err(|e| e.to_string())?;
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| e.to_string())?;
    let output = resampler.process_all(&input, samples.len(), None).map_err(|e| e.to_string())?;
    Ok(output.take_data())
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
        let mono = read_mono(&path, 22_050).unwrap();
        assert!((mono.len() as i64 - 22_050).abs() <= 2, "{} samples", mono.len());
        // 441 Hz at 22,050 Hz: 50 samples per period; count zero crossings upwards.
        let ups = mono.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        assert!((439..=443).contains(&ups), "{ups} periods");
        let peak = mono.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 16000.0 / 32768.0).abs() < 0.02, "level changed: {peak}");
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.wav");
        std::fs::write(&junk, b"RIFF this is not audio at all").unwrap();
        assert!(matches!(read_mono(&junk, 22_050), Err(AudioFileError::Unsupported { .. })));
        let empty = dir.path().join("empty.wav");
        write_wav(&empty, 22_050, 1, 0.0, 440.0);
        assert!(matches!(read_mono(&empty, 22_050), Err(AudioFileError::Empty { .. })));
        let missing = dir.path().join("missing.flac");
        assert!(matches!(read_mono(&missing, 22_050), Err(AudioFileError::Open { .. })));
    }
}
