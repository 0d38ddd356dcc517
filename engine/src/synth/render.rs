//! Offline rendering of a song through a [`Synth`], streamed in blocks so memory stays flat
//! however long the song is.

use std::path::Path;

use thiserror::Error;

use super::Synth;
use super::schedule::messages;
use crate::fsutil::write_atomically;
use crate::song::Song;

#[derive(Debug, Error)]
pub enum RenderError {
    #[error("{path}: cannot write the WAV file: {source}")]
    Write { path: std::path::PathBuf, source: std::io::Error },
    #[error("rendering was cancelled")]
    Cancelled,
}

#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// Seconds rendered after the last note ends, for release and reverb tails.
    pub tail_seconds: f64,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { tail_seconds: 1.5 }
    }
}

/// Renders `song` through `synth`, handing each block of interleaved stereo samples to `sink`.
/// `progress` gets the fraction done and returns false to cancel.
pub fn render_song(
    song: &Song,
    synth: &mut dyn Synth,
    options: RenderOptions,
    mut sink: impl FnMut(&[f32], &[f32]) -> std::io::Result<()>,
    mut progress: impl FnMut(f64) -> bool,
) -> Result<u64, RenderBlockError> {
    const BLOCK: usize = 1024;
    let rate = synth.sample_rate();
    let messages = messages(song, rate);
    let total = ((song.duration_seconds() + options.tail_seconds.max(0.0)) * f64::from(rate)).ceil() as u64;
    let (mut left, mut right) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
    let mut next = 0usize;
    let mut frame = 0u64;
    let mut last_report = 0u64;
    while frame < total {
        while next < messages.len() && messages[next].frame <= frame {
            let m = messages[next];
            synth.midi(m.channel, m.command, m.data1, m.data2);
            next += 1;
        }
        let until_event = messages.get(next).map_or(u64::MAX, |m| m.frame - frame);
        let len = (BLOCK as u64).min(total - frame).min(until_event.max(1)) as usize;
        synth.render(&mut left[..len], &mut right[..len]);
        sink(&left[..len], &right[..len]).map_err(RenderBlockError::Sink)?;
        frame += len as u64;
        if frame - last_report >= u64::from(rate) / 4 || frame == total {
            last_report = frame;
            if !progress(frame as f64 / total.max(1) as f64) {
                return Err(RenderBlockError::Cancelled);
            }
        }
    }
    Ok(total)
}

#[derive(Debug)]
pub enum RenderBlockError {
    Sink(std::io::Error),
    Cancelled,
}

/// Renders `song` to a 16-bit stereo WAV file at the synth's rate, atomically: a cancelled or
/// failed render leaves no file behind. Returns the number of frames written.
pub fn render_to_wav(
    song: &Song,
    synth: &mut dyn Synth,
    path: &Path,
    options: RenderOptions,
    progress: impl FnMut(f64) -> bool,
) -> Result<u64, RenderError> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: synth.sample_rate(),
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cancelled = false;
    let result = write_atomically(path, |out| {
        let mut wav = hound::WavWriter::new(out, spec).map_err(hound_io)?;
        let rendered = render_song(
            song,
            synth,
            options,
            |l, r| {
                for (a, b) in l.iter().zip(r) {
                    wav.write_sample(to_i16(*a)).map_err(hound_io)?;
                    wav.write_sample(to_i16(*b)).map_err(hound_io)?;
                }
                Ok(())
            },
            progress,
        );
        match rendered {
            Ok(frames) => {
                wav.finalize().map_err(hound_io)?;
                Ok(frames)
            }
            Err(RenderBlockError::Sink(e)) => Err(e),
            Err(RenderBlockError::Cancelled) => {
                cancelled = true;
                Err(std::io::Error::other("cancelled"))
            }
        }
    });
    match result {
        Ok(frames) => Ok(frames),
        Err(_) if cancelled => Err(RenderError::Cancelled),
        Err(source) => Err(RenderError::Write { path: path.to_path_buf(), source }),
    }
}

fn to_i16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

fn hound_io(err: hound::Error) -> std::io::Error {
    match err {
        hound::Error::IoError(e) => e,
        other => std::io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::song::{Note, Track};
    use crate::synth::BuiltinSynth;

    fn two_notes() -> Song {
        let mut song = Song::new(480);
        let mut track = Track::new("Lead", 0, 0);
        track.insert_note(Note::new(0, 480, 60, 100));
        track.insert_note(Note::new(960, 480, 67, 100));
        song.tracks.push(track);
        song
    }

    #[test]
    fn sound_where_the_notes_are_and_silence_where_not() {
        let song = two_notes();
        let mut synth = BuiltinSynth::new(8000);
        let mut audio = Vec::new();
        let frames = render_song(
            &song,
            &mut synth,
            RenderOptions { tail_seconds: 0.5 },
            |l, _| {
                audio.extend_from_slice(l);
                Ok(())
            },
            |_| true,
        )
        .unwrap();
        assert_eq!(frames, 8000 * 2); // 1.5 s of notes + 0.5 s tail at 120 BPM
        let rms = |a: &[f32]| (a.iter().map(|s| s * s).sum::<f32>() / a.len() as f32).sqrt();
        assert!(rms(&audio[400..3600]) > 0.01, "first note silent");
        assert!(rms(&audio[6000..7900]) < 1e-4, "gap between notes is not silent");
        assert!(rms(&audio[8400..11600]) > 0.01, "second note silent");
    }

    #[test]
    fn muted_tracks_are_not_rendered() {
        let mut song = two_notes();
        song.tracks[0].muted = true;
        let mut synth = BuiltinSynth::new(8000);
        let mut peak = 0.0f32;
        render_song(
            &song,
            &mut synth,
            RenderOptions::default(),
            |l, _| {
                peak = l.iter().fold(peak, |m, s| m.max(s.abs()));
                Ok(())
            },
            |_| true,
        )
        .unwrap();
        assert_eq!(peak, 0.0);
    }

    #[test]
    fn cancelled_render_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.wav");
        let mut synth = BuiltinSynth::new(8000);
        let result = render_to_wav(&two_notes(), &mut synth, &path, RenderOptions::default(), |f| f < 0.3);
        assert!(matches!(result, Err(RenderError::Cancelled)));
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "temporary file left behind");
    }
}
