//! Checks the lengths a FLAC stream's metadata blocks claim, before symphonia reads them (see
//! [`crate::audio_probe`] for why). A block's own length is 24 bits, so reading one is bounded
//! (16 MiB); the lengths inside PICTURE and VORBIS_COMMENT blocks are 32 bits, and symphonia
//! allocates them as claimed. A claim past the end of its block makes the file damaged: symphonia
//! would fail on it too, after the allocation. Short reads are left for symphonia to report.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use std::io::Read;

use symphonia::core::io::ReadBytes;

pub const FLAC_MARKER: [u8; 4] = *b"fLaC";

pub(crate) const VORBIS_COMMENT: u8 = 4;
pub(crate) const PICTURE: u8 = 6;

/// A picture inside a Vorbis comment (`METADATA_BLOCK_PICTURE`) that claims more than this is
/// refused; a smaller bad one symphonia skips with a warning, so the file still opens.
const EMBEDDED_CLAIM_LIMIT: u64 = 16 << 20;

/// Walks the metadata blocks after the `fLaC` marker: `Err` names the first claim that does not
/// fit in its block (or in what the file holds of it, when the file ends inside the block:
/// symphonia allocates the claim before it finds the end; found by the fuzz smoke).
pub fn check_metadata_blocks<R: ReadBytes + Read>(reader: &mut R) -> Result<(), String> {
    loop {
        let Ok(header) = reader.read_u8() else { return Ok(()) };
        let Ok(len) = reader.read_be_u24() else { return Ok(()) };
        let (block_type, is_last) = (header & 0x7f, header & 0x80 != 0);
        if block_type == PICTURE || block_type == VORBIS_COMMENT {
            let mut body = Vec::new();
            let read = reader.by_ref().take(u64::from(len)).read_to_end(&mut body);
            if block_type == PICTURE {
                check_picture(&body, 0).map_err(|claim| claim.describe("picture block"))?;
            } else {
                check_comments(&body).map_err(|claim| claim.describe("Vorbis comment block"))?;
            }
            if read.is_err() || body.len() < len as usize {
                return Ok(());
            }
        } else if reader.ignore_bytes(u64::from(len)).is_err() {
            return Ok(());
        }
        if is_last {
            return Ok(());
        }
    }
}

/// A length that claims more bytes than remain where it stands.
#[derive(Debug, PartialEq)]
pub(crate) struct Overclaim {
    field: &'static str,
    claimed: u64,
    remaining: u64,
}

impl Overclaim {
    fn describe(&self, block: &str) -> String {
        format!("a FLAC {block} {}", self.gives())
    }

    /// "gives its FIELD as N bytes where M remain".
    pub(crate) fn gives(&self) -> String {
        format!("gives its {} as {} bytes where {} remain", self.field, self.claimed, self.remaining)
    }
}

/// Reads little fields off a block body, stopping quietly (`None`) where it ends.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn u32_be(&mut self) -> Option<u32> {
        self.bytes(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u32_le(&mut self) -> Option<u32> {
        self.bytes(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(taken)
    }

    /// The `claimed` bytes a length field announced; an overclaim when fewer remain and the
    /// claim is over `limit` (0: any).
    fn claimed(&mut self, field: &'static str, claimed: u32, limit: u64) -> Result<Option<&'a [u8]>, Overclaim> {
        let remaining = self.rest.len() as u64;
        match self.bytes(claimed as usize) {
            None if u64::from(claimed) > limit => Err(Overclaim { field, claimed: claimed.into(), remaining }),
            taken => Ok(taken),
        }
    }
}

/// A PICTURE block body: MIME type, description and data lengths (big-endian).
pub(crate) fn check_picture(body: &[u8], limit: u64) -> Result<(), Overclaim> {
    let mut fields = Fields { rest: body };
    let _picture_type = fields.u32_be();
    let Some(mime_len) = fields.u32_be() else { return Ok(()) };
    if fields.claimed("MIME type length", mime_len, limit)?.is_none() {
        return Ok(());
    }
    let Some(description_len) = fields.u32_be() else { return Ok(()) };
    if fields.claimed("description length", description_len, limit)?.is_none() {
        return Ok(());
    }
    // Width, height, colour depth and palette size.
    if fields.bytes(16).is_none() {
        return Ok(());
    }
    let Some(data_len) = fields.u32_be() else { return Ok(()) };
    fields.claimed("picture data length", data_len, limit)?;
    Ok(())
}

/// A VORBIS_COMMENT block body (little-endian lengths), including pictures carried in comments.
pub(crate) fn check_comments(body: &[u8]) -> Result<(), Overclaim> {
    let mut fields = Fields { rest: body };
    // symphonia skips the vendor string without allocating it.
    let Some(vendor_len) = fields.u32_le() else { return Ok(()) };
    if fields.bytes(vendor_len as usize).is_none() {
        return Ok(());
    }
    let Some(count) = fields.u32_le() else { return Ok(()) };
    for _ in 0..count {
        let Some(len) = fields.u32_le() else { return Ok(()) };
        let Some(comment) = fields.claimed("comment length", len, 0)? else { return Ok(()) };
        if let Some(picture) = embedded_picture(comment) {
            check_picture(&picture, EMBEDDED_CLAIM_LIMIT)?;
        }
    }
    Ok(())
}

/// The bytes of a `METADATA_BLOCK_PICTURE=<base64>` comment, decoded as symphonia decodes them
/// (key matched after lowercasing, trailing `=` trimmed, a lone last symbol dropped).
fn embedded_picture(comment: &[u8]) -> Option<Vec<u8>> {
    let comment = String::from_utf8_lossy(comment);
    let (key, value) = comment.split_once('=')?;
    if key.to_lowercase() != "metadata_block_picture" {
        return None;
    }
    let value = value.trim_end_matches('=');
    let value = if value.len() % 4 == 1 { &value[..value.len() - 1] } else { value };
    let lenient = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true);
    GeneralPurpose::new(&base64::alphabet::STANDARD, lenient).decode(value).ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A PICTURE body whose MIME type is `mime` and data is `data`, with lengths as given.
    pub(crate) fn picture(mime_len: u32, mime: &[u8], data_len: u32, data: &[u8]) -> Vec<u8> {
        let mut body = 3u32.to_be_bytes().to_vec(); // front cover
        body.extend(mime_len.to_be_bytes());
        body.extend(mime);
        body.extend(0u32.to_be_bytes()); // no description
        body.extend([0u8; 16]);
        body.extend(data_len.to_be_bytes());
        body.extend(data);
        body
    }

    /// A VORBIS_COMMENT body with these comments, each with its true length.
    pub(crate) fn comments(entries: &[&[u8]]) -> Vec<u8> {
        let mut body = 7u32.to_le_bytes().to_vec();
        body.extend(b"cadenza");
        body.extend((entries.len() as u32).to_le_bytes());
        for entry in entries {
            body.extend((entry.len() as u32).to_le_bytes());
            body.extend(*entry);
        }
        body
    }

    #[test]
    fn a_true_picture_passes_and_each_overclaim_is_named() {
        assert_eq!(check_picture(&picture(9, b"image/png", 3, b"png"), 0), Ok(()));
        let huge_mime = check_picture(&picture(4_026_526_206, b"image/png", 3, b"png"), 0).unwrap_err();
        assert_eq!((huge_mime.field, huge_mime.claimed), ("MIME type length", 4_026_526_206));
        let huge_data = check_picture(&picture(9, b"image/png", u32::MAX, b"png"), 0).unwrap_err();
        assert_eq!((huge_data.field, huge_data.remaining), ("picture data length", 3));
        // A body cut inside a field is symphonia's to report.
        assert_eq!(check_picture(&picture(9, b"image/png", 3, b"png")[..6], 0), Ok(()));
    }

    #[test]
    fn comments_are_checked_and_so_are_pictures_inside_them() {
        assert_eq!(check_comments(&comments(&[b"TITLE=Air", b"ARTIST=Bach"])), Ok(()));
        let mut lying = comments(&[b"TITLE=Air"]);
        let at = 4 + 7 + 4;
        lying[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(check_comments(&lying).unwrap_err().field, "comment length");

        let encode = |body: &[u8]| base64::engine::general_purpose::STANDARD.encode(body);
        let good = format!("METADATA_BLOCK_PICTURE={}", encode(&picture(9, b"image/png", 3, b"png")));
        assert_eq!(check_comments(&comments(&[good.as_bytes()])), Ok(()));
        let huge = format!("metadata_block_picture={}", encode(&picture(9, b"image/png", u32::MAX, b"png")));
        assert_eq!(check_comments(&comments(&[huge.as_bytes()])).unwrap_err().field, "picture data length");
        // A small wrong claim in an embedded picture is skipped by symphonia, so it passes.
        let small = format!("METADATA_BLOCK_PICTURE={}", encode(&picture(9, b"image/png", 4096, b"png")));
        assert_eq!(check_comments(&comments(&[small.as_bytes()])), Ok(()));
    }
}
