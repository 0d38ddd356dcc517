//! Opening an audio file's format reader: symphonia's probe loop (`Probe::format`), with guards
//! against lengths symphonia 0.5 trusts. Its tag readers allocate whatever a tag claims before
//! reading it (`vec![0; len]` on a u32 from the file), so one damaged FLAC picture, Vorbis
//! comment or ID3v2 frame asks for up to 4 GiB: an abort where memory is not overcommitted
//! (found by the fuzzer: `malloc(4026526206)` from a FLAC picture block). Cadenza reads no tags,
//! so an ID3v2 tag is skipped by its header without reading its frames, a FLAC stream's
//! metadata is checked by [`crate::flac_claims`] and an Ogg file's tag packets (Vorbis comments,
//! Opus tags, Ogg FLAC blocks) by [`crate::ogg_claims`] before symphonia reads them.

use std::io::{Seek, SeekFrom};

use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSourceStream, ReadBytes};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Instantiate;

/// Why no format reader was made.
#[derive(Debug)]
pub(crate) enum ProbeError {
    /// symphonia refused the file (not a format it reads, or a header it cannot parse).
    Symphonia(SymphoniaError),
    /// A length in the file claims more than the file holds.
    Damaged(String),
}

impl From<SymphoniaError> for ProbeError {
    fn from(err: SymphoniaError) -> Self {
        ProbeError::Symphonia(err)
    }
}

impl From<std::io::Error> for ProbeError {
    fn from(err: std::io::Error) -> Self {
        ProbeError::Symphonia(SymphoniaError::IoError(err))
    }
}

/// The format reader for the first container symphonia finds in `stream`, as
/// `Probe::format` would make it, after the checks above.
pub(crate) fn open_format(mut stream: MediaSourceStream) -> Result<Box<dyn FormatReader>, ProbeError> {
    let probe = symphonia::default::get_probe();
    loop {
        match probe.next(&mut stream)? {
            Instantiate::Format(make_reader) => {
                check_tag_claims(&mut stream)?;
                return Ok(make_reader(stream, &FormatOptions::default())?);
            }
            Instantiate::Metadata(make_reader) => {
                if !skip_id3v2_tag(&mut stream)? {
                    make_reader(&MetadataOptions::default()).read_all(&mut stream)?;
                }
            }
        }
    }
}

/// When the format found is FLAC, walks its metadata blocks; when it is Ogg, reads the file and
/// walks its pages (tags may sit in any packet); then returns to where the format starts.
fn check_tag_claims(stream: &mut MediaSourceStream) -> Result<(), ProbeError> {
    let start = stream.pos();
    let mut marker = [0u8; 4];
    let verdict = match stream.read_buf_exact(&mut marker) {
        Ok(()) if marker == crate::flac_claims::FLAC_MARKER => crate::flac_claims::check_metadata_blocks(stream),
        Ok(()) if marker == crate::ogg_claims::OGG_MARKER => {
            let mut data = marker.to_vec();
            // A read error is symphonia's to report, as it reads the same bytes.
            match std::io::Read::read_to_end(stream, &mut data) {
                Ok(_) => crate::ogg_claims::check_pages(&data),
                Err(_) => Ok(()),
            }
        }
        _ => Ok(()),
    };
    stream.seek(SeekFrom::Start(start))?;
    verdict.map_err(ProbeError::Damaged)
}

/// Skips the ID3v2 tag the probe stopped at (header, then the size it gives, as symphonia's
/// reader does); false, having read nothing, when the marker is not ID3v2's.
fn skip_id3v2_tag(stream: &mut MediaSourceStream) -> Result<bool, ProbeError> {
    let start = stream.pos();
    let mut header = [0u8; 10];
    stream.read_buf_exact(&mut header)?;
    if &header[..3] != b"ID3" {
        stream.seek(SeekFrom::Start(start))?;
        return Ok(false);
    }
    // A 28-bit "syncsafe" size: seven bits from each byte.
    let size = header[6..].iter().fold(0u64, |size, byte| (size << 7) | u64::from(byte & 0x7f));
    stream
        .ignore_bytes(size)
        .map_err(|_| ProbeError::Damaged(format!("its ID3v2 tag claims {size} bytes, past the end of the file")))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::audio_file::{AudioFileError, AudioStream};
    use crate::flac_claims::tests::{comments, picture};

    /// A FLAC stream: STREAMINFO for 44.1 kHz mono 16-bit, then `blocks` as (type, body), then
    /// one frame of 4096 samples of a tone (stored verbatim).
    fn flac(blocks: &[(u8, Vec<u8>)]) -> Vec<u8> {
        const SAMPLES: u64 = 4096;
        let mut bytes = b"fLaC".to_vec();
        let mut stream_info = vec![0x10, 0x00, 0x10, 0x00, 0, 0, 0, 0, 0, 0]; // 4096-sample blocks
        let packed: u64 = (44_100 << 44) | (15 << 36) | SAMPLES; // rate, 1 channel, 16 bits
        stream_info.extend(packed.to_be_bytes());
        stream_info.extend([0u8; 16]); // MD5 unknown
        let all = std::iter::once((0u8, stream_info)).chain(blocks.iter().cloned()).collect::<Vec<_>>();
        for (i, (block_type, body)) in all.iter().enumerate() {
            let last = if i + 1 == all.len() { 0x80 } else { 0 };
            bytes.push(block_type | last);
            bytes.extend(&(body.len() as u32).to_be_bytes()[1..]);
            bytes.extend(body);
        }
        // Frame header: sync, fixed blocks; 4096 samples at 44.1 kHz; mono 16-bit; frame 0.
        let mut frame = vec![0xFF, 0xF8, 0xC9, 0x08, 0x00];
        frame.push(crc(&frame, 0x07, 8) as u8);
        frame.push(0x02); // a verbatim subframe
        for i in 0..SAMPLES {
            frame.extend((((i as f32 * 0.0627).sin() * 8000.0) as i16).to_be_bytes());
        }
        frame.extend((crc(&frame, 0x8005, 16) as u16).to_be_bytes());
        bytes.extend(frame);
        bytes
    }

    /// FLAC's CRC-8 or CRC-16 (MSB first, initial value 0).
    fn crc(bytes: &[u8], poly: u32, width: u32) -> u32 {
        let top = 1 << (width - 1);
        let mask = (1u32 << width) - 1;
        bytes.iter().fold(0u32, |mut crc, byte| {
            crc ^= u32::from(*byte) << (width - 8);
            for _ in 0..8 {
                crc = if crc & top != 0 { ((crc << 1) ^ poly) & mask } else { (crc << 1) & mask };
            }
            crc
        })
    }

    fn open(bytes: Vec<u8>) -> Result<AudioStream, AudioFileError> {
        AudioStream::from_bytes(bytes, Path::new("take.flac"), 22_050)
    }

    #[test]
    fn a_flac_tag_claiming_gigabytes_is_refused_before_symphonia_allocates_it() {
        // The fuzzer's finding: a picture's MIME type "4,026,526,206 bytes long".
        let lying_picture = flac(&[(6, picture(4_026_526_206, b"image/png", 3, b"png"))]);
        // The fuzz smoke's: the file ends inside that block.
        let cut = lying_picture[..4 + 4 + 34 + 4 + 8 + 5].to_vec();
        let message = open(cut).err().expect("refused").to_string();
        assert!(message.contains("MIME type length as 4026526206 bytes where 5 remain"), "{message}");
        let err = open(lying_picture).err().expect("refused");
        let message = err.to_string();
        assert!(matches!(err, AudioFileError::Damaged { .. }), "{message}");
        assert!(message.contains("picture block gives its MIME type length as 4026526206 bytes"), "{message}");

        let mut lying_comments = comments(&[b"TITLE=Air"]);
        lying_comments[15..19].copy_from_slice(&u32::MAX.to_le_bytes());
        let message = open(flac(&[(4, lying_comments)])).err().expect("refused").to_string();
        assert!(message.contains("Vorbis comment block gives its comment length as 4294967295"), "{message}");
    }

    #[test]
    fn a_flac_with_true_tags_and_a_cover_still_opens() {
        let tags = comments(&[b"TITLE=Air", b"ARTIST=Bach"]);
        let file = flac(&[(4, tags), (1, vec![0; 64]), (6, picture(9, b"image/png", 3, b"png"))]);
        let mut stream = open(file).map_err(|e| e.to_string()).expect("opens");
        let mut samples = 0;
        while let Some(piece) = stream.next_piece().unwrap() {
            samples += piece.len();
        }
        // 4096 samples at 44.1 kHz, read at 22.05 kHz.
        assert!((2046..=2050).contains(&samples), "{samples} samples");
        assert_eq!(stream.damage(), None);
    }

    #[test]
    fn an_id3v2_tag_before_the_audio_is_skipped_unread() {
        let mut wav = std::io::Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22_050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::new(&mut wav, spec).unwrap();
        for i in 0..2205 {
            writer.write_sample(((i as f32 * 0.125).sin() * 8000.0) as i16).unwrap();
        }
        writer.finalize().unwrap();
        // ID3v2.3 with one TIT2 frame whose size claims 4 GiB (symphonia's reader would allocate it).
        let mut frame = b"TIT2".to_vec();
        frame.extend(u32::MAX.to_be_bytes());
        frame.extend([0, 0, 0x03, b'A']);
        let mut file = b"ID3\x03\x00\x00".to_vec();
        file.extend([0, 0, 0, frame.len() as u8]);
        file.extend(frame);
        file.extend(wav.into_inner());
        let mut stream = AudioStream::from_bytes(file.clone(), Path::new("tagged.wav"), 22_050).unwrap();
        let mut samples = 0;
        while let Some(piece) = stream.next_piece().unwrap() {
            samples += piece.len();
        }
        assert_eq!(samples, 2205);

        // A tag claiming more than the file holds is named as the damage.
        file[9] = 0x7f;
        file[8] = 0x7f;
        let message = AudioStream::from_bytes(file, Path::new("tagged.wav"), 22_050).err().unwrap().to_string();
        assert!(message.contains("ID3v2 tag claims 16383 bytes"), "{message}");
    }

    fn decode(bytes: Vec<u8>, name: &str) -> Result<usize, AudioFileError> {
        let mut stream = AudioStream::from_bytes(bytes, Path::new(name), 22_050)?;
        let mut samples = 0;
        while let Some(piece) = stream.next_piece()? {
            samples += piece.len();
        }
        Ok(samples)
    }

    /// A real Ogg Vorbis file (libsndfile, with title and artist comments) still decodes whole;
    /// the same file with one comment length set to 4 GiB (its page CRC made right again) is
    /// refused as damaged instead of asking for 4 GiB.
    #[test]
    fn an_ogg_comment_claiming_gigabytes_is_refused_and_a_true_one_opens() {
        let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap();
        let path = Path::new(&manifest).join("../tests/fixtures/audio/arpeggio.ogg");
        let file = std::fs::read(&path).unwrap();
        // 1.85 s at 22.05 kHz.
        let samples = decode(file.clone(), "arpeggio.ogg").map_err(|e| e.to_string()).unwrap();
        assert!((40_700..=40_900).contains(&samples), "{samples} samples");

        // The comment packet is on the second page: vendor string, count, then the first comment.
        let second = 4 + file[4..].windows(4).position(|w| w == b"OggS").unwrap();
        let segments = usize::from(file[second + 26]);
        let packet = second + 27 + segments;
        assert_eq!(&file[packet..packet + 7], b"\x03vorbis");
        let vendor = u32::from_le_bytes(file[packet + 7..packet + 11].try_into().unwrap()) as usize;
        let first_length = packet + 11 + vendor + 4;
        let mut lying = file.clone();
        lying[first_length..first_length + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let page_len = 27 + segments + file[second + 27..packet].iter().map(|&s| usize::from(s)).sum::<usize>();
        crate::ogg_claims::tests::seal(&mut lying[second..second + page_len]);
        let err = decode(lying, "arpeggio.ogg").expect_err("refused");
        let message = err.to_string();
        assert!(matches!(err, AudioFileError::Damaged { .. }), "{message}");
        assert!(message.contains("Ogg Vorbis comment packet gives its comment length as 4294967295"), "{message}");
    }
}
