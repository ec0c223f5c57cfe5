//! The image `mm-install verify` attaches to its third test post: a small RGB gradient PNG made
//! in code (signature, `IHDR`, one zlib-compressed `IDAT`, `IEND`, each chunk with its CRC-32),
//! so no image file has to ship with the tool.

use std::io::Write as _;

/// The PNG file signature.
const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];

/// A `width` × `height` 8-bit RGB image: red grows to the right, green downwards.
pub fn gradient(width: u32, height: u32) -> std::io::Result<Vec<u8>> {
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    let scale = |value: u32, size: u32| (value * 255 / size.saturating_sub(1).max(1)) as u8;
    let mut pixels = Vec::with_capacity(((width * 3 + 1) * height) as usize);
    for y in 0..height {
        pixels.push(0); // filter type None
        for x in 0..width {
            pixels.extend_from_slice(&[scale(x, width), scale(y, height), 0x80]);
        }
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&pixels)?;
    let data = encoder.finish()?;
    let mut png = SIGNATURE.to_vec();
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &data);
    chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

/// Append a chunk: length, type, data, CRC-32 of type and data.
fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let length = u32::try_from(data.len()).unwrap_or(u32::MAX);
    png.extend_from_slice(&length.to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

/// CRC-32 (ISO-HDLC, as PNG uses), by flate2 (the gzip CRC is the same one).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // The CRC of an empty IEND chunk, as in every PNG file.
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn the_gradient_is_a_valid_png() {
        let png = gradient(16, 8).unwrap();
        assert_eq!(&png[..8], &SIGNATURE);
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 16);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 8);
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]));
        // Walk the chunks, checking every CRC, and inflate the image data.
        let mut at = 8;
        let mut data = Vec::new();
        while at < png.len() {
            let length = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let body = &png[at + 4..at + 8 + length];
            let crc =
                u32::from_be_bytes(png[at + 8 + length..at + 12 + length].try_into().unwrap());
            assert_eq!(crc32(body), crc);
            if &body[..4] == b"IDAT" {
                data.extend_from_slice(&body[4..]);
            }
            at += 12 + length;
        }
        let mut pixels = Vec::new();
        flate2::read::ZlibDecoder::new(&data[..])
            .read_to_end(&mut pixels)
            .unwrap();
        assert_eq!(pixels.len(), (16 * 3 + 1) * 8);
        // The last pixel of the last row: full red, full green.
        assert_eq!(&pixels[pixels.len() - 3..], &[255, 255, 0x80]);
    }
}
