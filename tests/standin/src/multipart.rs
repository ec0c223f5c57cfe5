//! `multipart/form-data` (RFC 7578) over a fully buffered body: the boundary from the
//! `Content-Type` header, then each part's headers (`Content-Disposition` name and filename,
//! `Content-Type`) and bytes.

use crate::url::percent_decode;

/// One part of a form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// The `name` of its `Content-Disposition: form-data`.
    pub name: String,
    /// The `filename` (or RFC 5987 `filename*`), if it is a file; reduced to its last path
    /// component as Go's `multipart.Part.FileName` does.
    pub filename: Option<String>,
    /// Its `Content-Type`, if given.
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Splits a header value such as `form-data; name="files"; filename="a.png"` into its first
/// token (lowercased) and its parameters (names lowercased, quoted strings unescaped).
pub fn parse_header_params(value: &str) -> (String, Vec<(String, String)>) {
    let mut chars = value.char_indices().peekable();
    let mut first = String::new();
    while let Some(&(_, c)) = chars.peek() {
        if c == ';' {
            break;
        }
        first.push(c);
        chars.next();
    }
    let mut params = Vec::new();
    loop {
        // Skip the ';' and whitespace.
        while chars
            .peek()
            .is_some_and(|&(_, c)| c == ';' || c.is_whitespace())
        {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c == '=' || c == ';' {
                break;
            }
            name.push(c);
            chars.next();
        }
        let mut val = String::new();
        if chars.peek().is_some_and(|&(_, c)| c == '=') {
            chars.next();
            while chars.peek().is_some_and(|&(_, c)| c == ' ' || c == '\t') {
                chars.next();
            }
            if chars.peek().is_some_and(|&(_, c)| c == '"') {
                chars.next();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                val.push(escaped);
                            }
                        }
                        '"' => break,
                        c => val.push(c),
                    }
                }
                // Anything between the closing quote and the next ';' is ignored.
                while chars.peek().is_some_and(|&(_, c)| c != ';') {
                    chars.next();
                }
            } else {
                while let Some(&(_, c)) = chars.peek() {
                    if c == ';' {
                        break;
                    }
                    val.push(c);
                    chars.next();
                }
                val = val.trim_end().to_string();
            }
        }
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() {
            params.push((name, val));
        }
    }
    (first.trim().to_ascii_lowercase(), params)
}

/// The boundary of a `multipart/form-data` `Content-Type`, or why there is none.
pub fn boundary(content_type: &str) -> Result<String, String> {
    let (media, params) = parse_header_params(content_type);
    if media != "multipart/form-data" {
        return Err(format!("{media:?} is not multipart/form-data"));
    }
    match params.into_iter().find(|(k, _)| k == "boundary") {
        Some((_, b)) if !b.is_empty() && b.len() <= 70 => Ok(b),
        _ => Err("multipart: missing or invalid boundary".to_string()),
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// The next `CRLF--boundary` at or after `from` that really is a delimiter: followed by `--`
/// (the last one) or by optional spaces and a CRLF.
fn next_delimiter(body: &[u8], close: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let i = find(body, close, at)?;
        let mut rest = &body[i + close.len()..];
        if rest.starts_with(b"--") {
            return Some(i);
        }
        while let [b' ' | b'\t', tail @ ..] = rest {
            rest = tail;
        }
        if rest.starts_with(b"\r\n") {
            return Some(i);
        }
        at = i + 1;
    }
}

/// A `filename*=UTF-8''%e2%82%ac.txt` value, decoded.
fn decode_ext_value(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let charset = parts.next()?;
    let _language = parts.next()?;
    let encoded = parts.next()?;
    if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("us-ascii") {
        return None;
    }
    percent_decode(encoded, false).ok()
}

/// The last component of a client-supplied path, as Go's `filepath.Base` (after the
/// `multipart` package's own reduction): `C:\dir\a.png` and `dir/a.png` both give `a.png`.
fn base_name(name: &str) -> String {
    let trimmed = name.trim_end_matches(['/', '\\']);
    let base = trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed);
    base.to_string()
}

/// Parses `body` with `boundary` into its parts.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}").into_bytes();
    // The first delimiter may start the body or follow a preamble and a CRLF.
    let mut pos = if body.starts_with(&delimiter) {
        delimiter.len()
    } else {
        let mut crlf = b"\r\n".to_vec();
        crlf.extend_from_slice(&delimiter);
        find(body, &crlf, 0).ok_or("multipart: no opening boundary")? + crlf.len()
    };
    let mut close = b"\r\n".to_vec();
    close.extend_from_slice(&delimiter);
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding, then the CRLF that ends the delimiter line.
        while body.get(pos).is_some_and(|b| *b == b' ' || *b == b'\t') {
            pos += 1;
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err("multipart: malformed boundary line".to_string());
        }
        pos += 2;
        let (head, data_start) = if body[pos..].starts_with(b"\r\n") {
            ("", pos + 2)
        } else {
            let end = find(body, b"\r\n\r\n", pos).ok_or("multipart: part headers do not end")?;
            let head = std::str::from_utf8(&body[pos..end])
                .map_err(|_| "multipart: part headers are not UTF-8")?;
            (head, end + 4)
        };
        let data_end =
            next_delimiter(body, &close, data_start).ok_or("multipart: part does not end")?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: body[data_start..data_end].to_vec(),
        };
        let mut disposition = false;
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            let (k, v) = line
                .split_once(':')
                .ok_or_else(|| format!("multipart: malformed part header {line:?}"))?;
            let v = v.trim();
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                let (kind, params) = parse_header_params(v);
                if kind != "form-data" {
                    return Err(format!("multipart: unexpected disposition {kind:?}"));
                }
                disposition = true;
                let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
                part.name = get("name").unwrap_or_default();
                part.filename = get("filename*")
                    .and_then(|v| decode_ext_value(&v))
                    .or_else(|| get("filename"))
                    .map(|f| base_name(&f));
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(v.to_string());
            }
        }
        if !disposition {
            return Err("multipart: part without Content-Disposition".to_string());
        }
        parts.push(part);
        pos = data_end + close.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parameters() {
        assert_eq!(
            parse_header_params(r#"form-data; name="files"; filename="a \"b\".png""#),
            (
                "form-data".to_string(),
                vec![
                    ("name".to_string(), "files".to_string()),
                    ("filename".to_string(), "a \"b\".png".to_string())
                ]
            )
        );
        assert_eq!(
            boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW")
                .unwrap(),
            "----WebKitFormBoundary7MA4YWxkTrZu0gW"
        );
        assert_eq!(
            boundary(r#"Multipart/Form-Data; charset=utf-8; boundary="a b""#).unwrap(),
            "a b"
        );
        assert!(boundary("multipart/form-data").is_err());
        assert!(boundary("application/json; boundary=x").is_err());
    }

    #[test]
    fn parses_fields_and_files() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"channel_id\"\r\n\r\n\
abc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"C:\\\\pics\\\\dot.png\"\r\n\
Content-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ-not-a-boundary\r\n--XyZ\r\n\
content-disposition: form-data; name=\"files\"; filename*=UTF-8''%E2%82%AC%20rates.txt\r\n\r\n\
\r\n--XyZ  \r\nContent-Disposition: form-data; name=\"client_ids\"\r\n\r\nc1\r\n--XyZ--\r\nepilogue";
        let parts = parse(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0].name, "channel_id");
        assert_eq!(parts[0].filename, None);
        assert_eq!(parts[0].data, b"abc");
        assert_eq!(parts[1].name, "files");
        assert_eq!(parts[1].filename.as_deref(), Some("dot.png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[1].data, b"\x89PNG\r\n--XyZ-not-a-boundary");
        assert_eq!(parts[2].filename.as_deref(), Some("\u{20ac} rates.txt"));
        assert!(parts[2].data.is_empty());
        assert_eq!(parts[3].name, "client_ids");
        assert_eq!(parts[3].data, b"c1");
        // A part with no headers at all is refused, an empty form is not.
        assert!(parse(b"--b\r\n\r\nx\r\n--b--", "b").is_err());
        assert_eq!(parse(b"--b--\r\n", "b").unwrap(), Vec::new());
    }

    #[test]
    fn rejects_truncated_bodies() {
        for bad in [
            &b""[..],
            b"no boundary at all",
            b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
            b"--b\r\nContent-Disposition: form-data; name=\"a\"",
            b"--bxx\r\n",
            b"--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--b--",
        ] {
            assert!(
                parse(bad, "b").is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
