//! Takes left behind by a crash. The recorder rewrites the WAV header twice a second, so a take
//! cut off by a kill holds more audio than its header says (up to half a second). Salvaging
//! sets the header's lengths to the audio actually on disk, so only what never left the
//! process is lost.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Bytes read to find the chunks: the recorder's header is well inside this.
const HEADER_SCAN: usize = 4096;

/// Makes the take at `path` whole: its frames, after fixing the header if it was short.
pub fn salvage_take(path: &Path) -> std::io::Result<u64> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let file_len = file.metadata()?.len();
    let mut head = vec![0u8; HEADER_SCAN.min(file_len as usize)];
    file.read_exact(&mut head)?;
    let layout = find_layout(&head).ok_or_else(|| invalid("not a WAV file the recorder wrote"))?;
    let available = file_len.saturating_sub(layout.data_start);
    let data_len = available - available % u64::from(layout.block_align);
    let data_len32 = u32::try_from(data_len).map_err(|_| invalid("a take over 4 GiB"))?;
    if layout.declared_data_len != data_len32 {
        // The data chunk is the recorder's last: everything after its header is audio.
        file.seek(SeekFrom::Start(layout.data_start - 4))?;
        file.write_all(&data_len32.to_le_bytes())?;
        let riff_len = u32::try_from(layout.data_start - 8 + data_len).map_err(|_| invalid("a take over 4 GiB"))?;
        file.seek(SeekFrom::Start(4))?;
        file.write_all(&riff_len.to_le_bytes())?;
        file.set_len(layout.data_start + data_len)?;
        file.sync_all()?;
    }
    Ok(data_len / u64::from(layout.block_align))
}

struct Layout {
    block_align: u16,
    data_start: u64,
    declared_data_len: u32,
}

/// Walks the RIFF chunks up to `data`, reading the frame size from `fmt `.
fn find_layout(head: &[u8]) -> Option<Layout> {
    if head.get(0..4)? != b"RIFF" || head.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut at = 12usize;
    let mut block_align = None;
    while let (Some(id), Some(len)) = (head.get(at..at + 4), head.get(at + 4..at + 8)) {
        let len = u32::from_le_bytes(len.try_into().ok()?);
        let body = at + 8;
        if id == b"data" {
            let block_align = block_align.filter(|&b| b > 0)?;
            return Some(Layout { block_align, data_start: body as u64, declared_data_len: len });
        }
        if id == b"fmt " {
            block_align = Some(u16::from_le_bytes(head.get(body + 12..body + 14)?.try_into().ok()?));
        }
        // Chunks are padded to even lengths.
        at = body.checked_add(len as usize + (len as usize & 1))?;
    }
    None
}

fn invalid(reason: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> hound::WavSpec {
        hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        }
    }

    #[test]
    fn a_take_cut_off_between_header_updates_keeps_all_its_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("take.wav");
        let mut writer = hound::WavWriter::create(&path, spec()).unwrap();
        for i in 0..3000 {
            writer.write_sample(i as f32).unwrap();
        }
        writer.finalize().unwrap();
        // What a kill leaves: the header last rewritten at 500 frames, the audio after it on
        // disk, half a frame dangling at the end.
        let mut bytes = std::fs::read(&path).unwrap();
        let data_start = bytes.windows(4).position(|w| w == b"data").unwrap() + 8;
        bytes[data_start - 4..data_start].copy_from_slice(&4000u32.to_le_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(hound::WavReader::open(&path).unwrap().duration(), 500);

        assert_eq!(salvage_take(&path).unwrap(), 1500);
        let samples: Vec<f32> = hound::WavReader::open(&path).unwrap().samples().map(Result::unwrap).collect();
        assert_eq!(samples.len(), 3000);
        assert!(samples.iter().enumerate().all(|(i, s)| *s == i as f32));
        // A whole file is left as it is.
        assert_eq!(salvage_take(&path).unwrap(), 1500);
    }

    #[test]
    fn what_is_not_a_wav_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("take.wav");
        std::fs::write(&path, b"RIFF....WAVEjunk").unwrap();
        assert!(salvage_take(&path).is_err());
        std::fs::write(&path, b"").unwrap();
        assert!(salvage_take(&path).is_err());
    }
}
