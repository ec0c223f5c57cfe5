//! What the file store learns about an upload without an image library: the MIME type from the
//! extension (as Go's `mime.TypeByExtension`, which the real server uses) and the pixel size of
//! PNG (IHDR chunk), GIF (logical screen) and JPEG (SOFn marker) images.

/// The PNG file signature.
pub const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// The MIME type for a lowercase extension without its dot; `""` when unknown, as Go answers.
pub fn mime_type(extension: &str) -> &'static str {
    match extension {
        "png" => "image/png",
        "jpg" | "jpeg" | "jpe" | "jfif" | "pjpeg" | "pjp" => "image/jpeg",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "tif" | "tiff" => "image/tiff",
        "ico" => "image/vnd.microsoft.icon",
        "avif" => "image/avif",
        "txt" => "text/plain; charset=utf-8",
        "htm" | "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "text/xml; charset=utf-8",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "wasm" => "application/wasm",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        _ => "",
    }
}

/// Width and height from a PNG's IHDR chunk, if `data` is a PNG.
pub fn png_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    if !data.starts_with(&PNG_SIGNATURE) {
        return None;
    }
    // The IHDR chunk must come first: length 13, type "IHDR", then width and height.
    let chunk = data.get(8..8 + 8 + 13)?;
    if chunk[0..4] != 13u32.to_be_bytes() || &chunk[4..8] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(chunk[8..12].try_into().ok()?);
    let height = u32::from_be_bytes(chunk[12..16].try_into().ok()?);
    (width > 0 && height > 0).then_some((width, height))
}

/// Width and height from a GIF's logical screen descriptor.
pub fn gif_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    if !(data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a")) {
        return None;
    }
    let screen = data.get(6..10)?;
    let width = u32::from(u16::from_le_bytes([screen[0], screen[1]]));
    let height = u32::from(u16::from_le_bytes([screen[2], screen[3]]));
    (width > 0 && height > 0).then_some((width, height))
}

/// Width and height from a JPEG's first start-of-frame marker.
pub fn jpeg_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    loop {
        // Markers may be preceded by fill bytes 0xFF.
        while *data.get(i)? != 0xFF {
            i += 1;
        }
        while *data.get(i)? == 0xFF {
            i += 1;
        }
        let marker = *data.get(i)?;
        i += 1;
        match marker {
            // Standalone markers without a length.
            0x01 | 0xD0..=0xD7 => continue,
            0xD9 | 0xDA => return None, // end of image / start of scan before any frame
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?]));
        if len < 2 {
            return None;
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let seg = data.get(i + 2..i + 7)?;
            let height = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
            let width = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
            return (width > 0 && height > 0).then_some((width, height));
        }
        i += len;
    }
}

/// The pixel size of an image of `mime` type, when it can be read.
pub fn dimensions(mime: &str, data: &[u8]) -> Option<(u32, u32)> {
    match mime {
        "image/png" => png_dimensions(data),
        "image/gif" => gif_dimensions(data),
        "image/jpeg" => jpeg_dimensions(data),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_head(width: u32, height: u32) -> Vec<u8> {
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&width.to_be_bytes());
        png.extend_from_slice(&height.to_be_bytes());
        png.extend_from_slice(&[8, 6, 0, 0, 0]); // depth, colour type, methods
        png.extend_from_slice(&[0, 0, 0, 0]); // CRC (not checked)
        png
    }

    #[test]
    fn reads_png_ihdr() {
        assert_eq!(png_dimensions(&png_head(1, 1)), Some((1, 1)));
        assert_eq!(png_dimensions(&png_head(640, 480)), Some((640, 480)));
        assert_eq!(dimensions("image/png", &png_head(3, 7)), Some((3, 7)));
        // Truncated, wrong signature, wrong first chunk, zero size.
        assert_eq!(png_dimensions(&png_head(1, 1)[..20]), None);
        assert_eq!(png_dimensions(b"GIF89a\x01\x00\x01\x00"), None);
        let mut not_ihdr = png_head(1, 1);
        not_ihdr[12..16].copy_from_slice(b"IDAT");
        assert_eq!(png_dimensions(&not_ihdr), None);
        assert_eq!(png_dimensions(&png_head(0, 5)), None);
        // A PNG uploaded as text is not measured.
        assert_eq!(
            dimensions("text/plain; charset=utf-8", &png_head(1, 1)),
            None
        );
    }

    #[test]
    fn reads_gif_and_jpeg() {
        assert_eq!(
            gif_dimensions(b"GIF89a\x02\x01\x03\x00rest"),
            Some((258, 3))
        );
        // SOI, an APP0 segment, a fill byte, then SOF0 with height 2 and width 300.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xFF, 0xC0, 0x00, 0x11, 0x08,
            0x00, 0x02, 0x01, 0x2C, 0x03,
        ];
        assert_eq!(jpeg_dimensions(&jpeg), Some((300, 2)));
        // DHT (0xC4) is not a frame; a scan before any frame means no size.
        assert_eq!(
            jpeg_dimensions(&[0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x02, 0xFF, 0xDA]),
            None
        );
        assert_eq!(jpeg_dimensions(&[0xFF, 0xD8, 0xFF]), None);
    }

    #[test]
    fn mime_types_follow_the_extension() {
        assert_eq!(mime_type("png"), "image/png");
        assert_eq!(mime_type("jpeg"), "image/jpeg");
        assert_eq!(mime_type("txt"), "text/plain; charset=utf-8");
        assert_eq!(mime_type(""), "");
        assert_eq!(mime_type("unknownext"), "");
    }
}
