//! Checks the tag lengths inside an Ogg file's packets before symphonia reads them (see
//! [`crate::audio_probe`] for why). symphonia maps every packet of an Ogg stream as it demuxes
//! it, and a Vorbis comment packet, an Opus tags packet, or an Ogg FLAC comment or picture block
//! has 32-bit lengths that it allocates as claimed. Those packets only exist once the pages are
//! demuxed, so this walks the pages as symphonia 0.5's Ogg reader does (CRC-checked; a page that
//! fails it skipped by finding the next capture pattern; a stream made at each first page from
//! its identification packet; packets joined across pages; a partial packet dropped on a gap in
//! the page sequence or a missing continuation) and checks each such packet against its own
//! length. Packets symphonia would never form are not checked, so a true file is never refused.

use std::collections::BTreeMap;

use symphonia::core::checksum::Crc32;
use symphonia::core::io::Monitor;

use crate::flac_claims::{self, Overclaim};

pub const OGG_MARKER: [u8; 4] = *b"OggS";
/// The fixed part of a page header, up to the segment count.
const HEADER_LEN: usize = 27;
/// symphonia's bound on a packet spread over pages (`LogicalStream::MAX_PACKET_LEN`).
const MAX_PACKET_LEN: usize = 16 << 20;

const CONTINUATION: u8 = 0x01;
const FIRST_PAGE: u8 = 0x02;

/// What a logical stream carries, from its identification packet, as symphonia's mappers detect it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mapping {
    Vorbis,
    Opus,
    Flac,
    /// A stream symphonia keeps without reading its packets' tags.
    Other,
}

impl Mapping {
    fn detect(identification: &[u8]) -> Self {
        if identification.starts_with(b"\x01vorbis") {
            Mapping::Vorbis
        } else if identification.starts_with(b"OpusHead") {
            Mapping::Opus
        } else if identification.starts_with(b"\x7fFLAC") {
            Mapping::Flac
        } else {
            Mapping::Other
        }
    }

    /// The claims in one packet that symphonia reads as tags.
    fn check(self, packet: &[u8]) -> Result<(), String> {
        match self {
            Mapping::Vorbis => match packet.strip_prefix(b"\x03vorbis") {
                Some(comments) => {
                    flac_claims::check_comments(comments).map_err(|c| describe(&c, "Ogg Vorbis comment packet"))
                }
                None => Ok(()),
            },
            Mapping::Opus => match packet.strip_prefix(b"OpusTags") {
                Some(comments) => {
                    flac_claims::check_comments(comments).map_err(|c| describe(&c, "Ogg Opus tags packet"))
                }
                None => Ok(()),
            },
            // A metadata block in a packet of its own (type, 24-bit length, body), bounded by
            // the packet rather than by its length.
            Mapping::Flac => match (packet.first().map(|t| t & 0x7f), packet.get(4..)) {
                (Some(flac_claims::VORBIS_COMMENT), Some(body)) if packet[0] != 0xff => {
                    flac_claims::check_comments(body).map_err(|c| describe(&c, "Ogg FLAC comment block"))
                }
                (Some(flac_claims::PICTURE), Some(body)) if packet[0] != 0xff => {
                    flac_claims::check_picture(body, 0).map_err(|c| describe(&c, "Ogg FLAC picture block"))
                }
                _ => Ok(()),
            },
            Mapping::Other => Ok(()),
        }
    }
}

fn describe(claim: &Overclaim, packet: &str) -> String {
    format!("an {packet} {}", claim.gives())
}

/// One CRC-checked page.
struct Page<'a> {
    flags: u8,
    serial: u32,
    sequence: u32,
    /// Lengths of the packets that end on this page.
    packet_lens: Vec<usize>,
    body: &'a [u8],
    /// Where the next page may start.
    end: usize,
}

impl Page<'_> {
    /// The packets ending here, then what is left (a packet going on to the next page).
    fn packets(&self) -> (Vec<&[u8]>, Option<&[u8]>) {
        let mut at = 0;
        let complete = self
            .packet_lens
            .iter()
            .map(|&len| {
                let packet = &self.body[at..at + len];
                at += len;
                packet
            })
            .collect();
        (complete, (at < self.body.len()).then(|| &self.body[at..]))
    }
}

/// The page whose capture pattern is at `at`, if its header is valid, it is whole and its CRC
/// holds; `None` otherwise (symphonia then looks for the next pattern after this one).
fn page_at(data: &[u8], at: usize) -> Option<Page<'_>> {
    let header = data.get(at..at + HEADER_LEN)?;
    let (version, flags) = (header[4], header[5]);
    if version != 0 || flags & 0xf8 != 0 {
        return None;
    }
    let serial = u32::from_le_bytes(header[14..18].try_into().ok()?);
    let sequence = u32::from_le_bytes(header[18..22].try_into().ok()?);
    let crc = u32::from_le_bytes(header[22..26].try_into().ok()?);
    let segments = data.get(at + HEADER_LEN..at + HEADER_LEN + usize::from(header[26]))?;
    let body_start = at + HEADER_LEN + segments.len();
    let body_len: usize = segments.iter().map(|&s| usize::from(s)).sum();
    let body = data.get(body_start..body_start + body_len)?;

    let mut check = Crc32::new(0);
    check.process_buf_bytes(&header[..22]);
    check.process_buf_bytes(&[0; 4]);
    check.process_buf_bytes(&header[26..]);
    check.process_buf_bytes(segments);
    check.process_buf_bytes(body);
    if check.crc() != crc {
        return None;
    }

    let mut packet_lens = Vec::new();
    let mut len = 0;
    for &segment in segments {
        len += usize::from(segment);
        if segment < 255 {
            packet_lens.push(len);
            len = 0;
        }
    }
    Some(Page { flags, serial, sequence, packet_lens, body, end: body_start + body_len })
}

/// A logical stream's state as symphonia keeps it.
struct Stream {
    mapping: Mapping,
    last_sequence: Option<u32>,
    partial: Vec<u8>,
}

impl Stream {
    /// Forms this page's packets as symphonia's `LogicalStream::read_page` does and checks them.
    fn read_page(&mut self, page: &Page<'_>) -> Result<(), String> {
        if let Some(last) = self.last_sequence
            && (page.sequence < last || page.sequence - last > 1)
        {
            self.partial.clear();
        }
        self.last_sequence = Some(page.sequence);
        let continuation = page.flags & CONTINUATION != 0;
        let (complete, rest) = page.packets();
        let mut complete = complete.into_iter();
        if !continuation {
            self.partial.clear();
        } else if self.partial.is_empty() {
            // The first packet lacks its start: symphonia drops it, or the page if it is all.
            if complete.next().is_none() {
                return Ok(());
            }
        }
        for piece in complete {
            let packet = if self.partial.is_empty() {
                piece.to_vec()
            } else {
                let mut joined = std::mem::take(&mut self.partial);
                joined.extend_from_slice(piece);
                joined
            };
            self.mapping.check(&packet)?;
        }
        if let Some(rest) = rest
            && self.partial.len() + rest.len() <= MAX_PACKET_LEN
        {
            self.partial.extend_from_slice(rest);
        }
        Ok(())
    }
}

/// Walks every page of an Ogg file held in `data`: `Err` names the first tag length that claims
/// more than its packet holds.
pub fn check_pages(data: &[u8]) -> Result<(), String> {
    let mut streams: BTreeMap<u32, Stream> = BTreeMap::new();
    // First pages in a row start a group of streams; one after other pages starts a new group.
    let mut in_first_pages = false;
    let mut at = 0;
    while let Some(found) = find_marker(data, at) {
        let Some(page) = page_at(data, found) else {
            at = found + 1;
            continue;
        };
        at = page.end;
        if page.flags & FIRST_PAGE != 0 {
            if !in_first_pages {
                streams.clear();
                in_first_pages = true;
            }
            // Only the identification packet is read from a first page.
            if let Some(&len) = page.packet_lens.first() {
                let mapping = Mapping::detect(&page.body[..len]);
                streams.insert(page.serial, Stream { mapping, last_sequence: None, partial: Vec::new() });
            }
            continue;
        }
        in_first_pages = false;
        if let Some(stream) = streams.get_mut(&page.serial) {
            stream.read_page(&page)?;
        }
    }
    Ok(())
}

fn find_marker(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?.windows(OGG_MARKER.len()).position(|w| w == OGG_MARKER).map(|i| from + i)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::flac_claims::tests::comments;

    /// One page holding `packets` whole (each under 255 × 255 bytes in all), with its CRC.
    pub(crate) fn page(flags: u8, serial: u32, sequence: u32, packets: &[&[u8]]) -> Vec<u8> {
        let mut segments = Vec::new();
        for packet in packets {
            segments.extend(std::iter::repeat_n(255u8, packet.len() / 255));
            segments.push((packet.len() % 255) as u8);
        }
        let mut bytes = OGG_MARKER.to_vec();
        bytes.extend([0, flags]);
        bytes.extend(0u64.to_le_bytes());
        bytes.extend(serial.to_le_bytes());
        bytes.extend(sequence.to_le_bytes());
        bytes.extend([0; 4]);
        bytes.push(segments.len() as u8);
        bytes.extend(segments);
        for packet in packets {
            bytes.extend(*packet);
        }
        seal(&mut bytes);
        bytes
    }

    /// Writes a page's CRC (computed with its CRC field zeroed, as Ogg defines it).
    pub(crate) fn seal(page: &mut [u8]) {
        page[22..26].copy_from_slice(&[0; 4]);
        let mut crc = Crc32::new(0);
        crc.process_buf_bytes(page);
        page[22..26].copy_from_slice(&crc.crc().to_le_bytes());
    }

    /// A Vorbis stream's first two pages: identification, then a comment packet.
    pub(crate) fn vorbis_with_comments(comment_body: &[u8]) -> Vec<u8> {
        let mut comment = b"\x03vorbis".to_vec();
        comment.extend(comment_body);
        comment.push(1); // framing bit
        let mut file = page(FIRST_PAGE, 7, 0, &[b"\x01vorbis\0\0\0\0\x01\x22\x56\0\0"]);
        file.extend(page(0, 7, 1, &[&comment]));
        file
    }

    fn lying_comments() -> Vec<u8> {
        let mut body = comments(&[b"TITLE=Air"]);
        body[15..19].copy_from_slice(&u32::MAX.to_le_bytes());
        body
    }

    #[test]
    fn a_comment_length_past_its_packet_is_named() {
        assert_eq!(check_pages(&vorbis_with_comments(&comments(&[b"TITLE=Air", b"ARTIST=Bach"]))), Ok(()));
        let message = check_pages(&vorbis_with_comments(&lying_comments())).unwrap_err();
        assert!(message.contains("Ogg Vorbis comment packet gives its comment length as 4294967295"), "{message}");
    }

    #[test]
    fn a_packet_is_checked_whole_when_it_spans_pages() {
        // The lying comment packet cut in two: its start on one page, its end on a continuation.
        let mut body = comments(&[&[b'a'; 400]]);
        body[15..19].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut comment = b"\x03vorbis".to_vec();
        comment.extend(body);
        let (head, tail) = comment.split_at(255);
        let mut file = page(FIRST_PAGE, 7, 0, &[b"\x01vorbis\0\0\0\0"]);
        let mut spanning = page(0, 7, 1, &[head]);
        // A page ending in a 255-byte segment leaves its packet open.
        assert_eq!(spanning[26], 2);
        spanning[26] = 1;
        spanning.remove(HEADER_LEN + 1);
        seal(&mut spanning);
        file.extend(spanning);
        file.extend(page(CONTINUATION, 7, 2, &[tail]));
        assert!(check_pages(&file).unwrap_err().contains("comment length as 4294967295"));
    }

    #[test]
    fn pages_symphonia_would_not_read_are_not_held_against_the_file() {
        // A bad CRC: symphonia skips the page, so its lie is never read.
        let mut file = vorbis_with_comments(&lying_comments());
        let last = file.len() - 2;
        file[last] ^= 0xff;
        assert_eq!(check_pages(&file), Ok(()));
        // A stream of a codec whose tags symphonia does not read.
        let mut other = page(FIRST_PAGE, 9, 0, &[b"\x80theora"]);
        other.extend(page(0, 9, 1, &[&[b"\x03vorbis".as_slice(), &lying_comments()].concat()]));
        assert_eq!(check_pages(&other), Ok(()));
    }

    #[test]
    fn opus_tags_and_ogg_flac_blocks_are_checked() {
        let mut opus = page(FIRST_PAGE, 3, 0, &[b"OpusHead\x01\x01"]);
        opus.extend(page(0, 3, 1, &[&[b"OpusTags".as_slice(), &lying_comments()].concat()]));
        assert!(check_pages(&opus).unwrap_err().contains("Ogg Opus tags packet"));

        let picture = crate::flac_claims::tests::picture(4_026_526_206, b"image/png", 3, b"png");
        let mut block = vec![0x06];
        block.extend(&(picture.len() as u32).to_be_bytes()[1..]);
        block.extend(picture);
        let mut flac = page(FIRST_PAGE, 5, 0, &[b"\x7fFLAC\x01\x00\x00\x01fLaC"]);
        flac.extend(page(0, 5, 1, &[&block]));
        assert!(check_pages(&flac).unwrap_err().contains("Ogg FLAC picture block gives its MIME type length"));
    }
}
