//! A small HTTP/1.1 implementation over blocking streams: request parsing (with `Content-Length`
//! or chunked bodies) and response writing. Each connection serves one request
//! (`Connection: close`) unless it is upgraded to a websocket.

use std::io::{self, BufRead, Read, Write};

use serde_json::Value;

use crate::url::{parse_query, percent_decode};

/// Longest request line or header line accepted.
const MAX_LINE: usize = 16 * 1024;
/// Most header lines accepted.
const MAX_HEADERS: usize = 128;
/// Largest request body accepted (above Mattermost's default 100 MiB file limit plus framing).
pub const MAX_BODY: usize = 128 * 1024 * 1024;

/// A parsed request.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target as sent (`/api/v4/system/ping?get_server_status=true`).
    pub target: String,
    /// The percent-decoded path (`/api/v4/system/ping`).
    pub path: String,
    /// The decoded query pairs in order.
    pub query: Vec<(String, String)>,
    /// Header names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// Why a request could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The connection failed or timed out.
    Io(io::Error),
    /// Malformed request: answer with this status and message, then close.
    Bad(u16, String),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

fn bad(msg: impl Into<String>) -> ReadError {
    ReadError::Bad(400, msg.into())
}

/// Reads one CRLF- (or LF-) terminated line without its terminator; `None` at a clean EOF.
fn read_line(r: &mut dyn BufRead) -> Result<Option<String>, ReadError> {
    let mut buf = Vec::new();
    let n = r.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        return Err(if buf.len() > MAX_LINE {
            ReadError::Bad(431, "header line too long".into())
        } else {
            ReadError::Io(io::ErrorKind::UnexpectedEof.into())
        });
    }
    buf.pop();
    if buf.ends_with(b"\r") {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| bad("request head is not UTF-8"))
}

impl Request {
    /// Reads a request; `Ok(None)` when the peer closed before sending anything.
    pub fn read_from(r: &mut dyn BufRead) -> Result<Option<Request>, ReadError> {
        let line = loop {
            match read_line(r)? {
                None => return Ok(None),
                Some(l) if l.is_empty() => continue, // tolerate stray CRLFs between requests
                Some(l) => break l,
            }
        };
        let mut parts = line.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad(format!("malformed request line {line:?}")));
        };
        if !version.starts_with("HTTP/1.") {
            return Err(ReadError::Bad(505, format!("unsupported {version}")));
        }
        let mut req = Request {
            method: method.to_string(),
            target: target.to_string(),
            ..Request::default()
        };
        // Absolute-form targets (`http://host/path`) are reduced to their path.
        let origin = match target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => target,
        };
        let (path, query) = origin.split_once('?').unwrap_or((origin, ""));
        req.path = percent_decode(path, false).map_err(bad)?;
        req.query = parse_query(query);
        loop {
            let line = read_line(r)?.ok_or(ReadError::Io(io::ErrorKind::UnexpectedEof.into()))?;
            if line.is_empty() {
                break;
            }
            if req.headers.len() >= MAX_HEADERS {
                return Err(ReadError::Bad(431, "too many headers".into()));
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| bad(format!("malformed header line {line:?}")))?;
            if name.is_empty() || name.ends_with(' ') || name.ends_with('\t') {
                return Err(bad(format!("malformed header name {name:?}")));
            }
            req.headers
                .push((name.to_string(), value.trim().to_string()));
        }
        req.body = req.read_body(r)?;
        Ok(Some(req))
    }

    fn read_body(&self, r: &mut dyn BufRead) -> Result<Vec<u8>, ReadError> {
        if self.header_has_token("Transfer-Encoding", "chunked") {
            return read_chunked(r);
        }
        let Some(len) = self.header("Content-Length") else {
            return Ok(Vec::new());
        };
        let len: usize = len
            .parse()
            .map_err(|_| bad(format!("invalid Content-Length {len:?}")))?;
        if len > MAX_BODY {
            return Err(ReadError::Bad(413, "request body too large".into()));
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body)?;
        Ok(body)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether any `name` header lists `token` among its comma-separated values (case-insensitive).
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The first value of query parameter `key`.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| e.to_string())
    }
}

fn read_chunked(r: &mut dyn BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?.ok_or(ReadError::Io(io::ErrorKind::UnexpectedEof.into()))?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| bad(format!("invalid chunk size {size:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while read_line(r)?.is_some_and(|l| !l.is_empty()) {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadError::Bad(413, "request body too large".into()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        if read_line(r)?.is_none_or(|l| !l.is_empty()) {
            return Err(bad("chunk not followed by CRLF"));
        }
    }
}

/// The reason phrase of a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Request Entity Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A response to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON response.
    pub fn json(status: u16, value: &Value) -> Response {
        Response::new(status)
            .with_header("Content-Type", "application/json")
            .with_body(value.to_string().into_bytes())
    }

    /// An HTML response.
    pub fn html(status: u16, html: impl Into<String>) -> Response {
        Response::new(status)
            .with_header("Content-Type", "text/html; charset=utf-8")
            .with_body(html.into().into_bytes())
    }

    /// A plain-text response.
    pub fn text(status: u16, text: impl Into<String>) -> Response {
        Response::new(status)
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_body(text.into().into_bytes())
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: Vec<u8>) -> Response {
        self.body = body;
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status line and headers. `Content-Length` is added for every status that may carry a
    /// body, `Date` always, and `Connection: close` unless a `Connection` header is already set.
    pub fn head(&self) -> String {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Date: {}\r\n", crate::clock::http_date()));
        if self.status >= 200 && self.status != 204 && self.status != 304 {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        if self.header("Connection").is_none() {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        head
    }

    /// Writes the response; `head_only` for `HEAD` requests.
    pub fn write_to(&self, w: &mut dyn Write, head_only: bool) -> io::Result<()> {
        w.write_all(self.head().as_bytes())?;
        if !head_only {
            w.write_all(&self.body)?;
        }
        w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parse(raw: &str) -> Result<Option<Request>, ReadError> {
        Request::read_from(&mut Cursor::new(raw.as_bytes().to_vec()))
    }

    #[test]
    fn parses_a_get_with_query_and_headers() {
        let req = parse(
            "GET /api/v4/system/ping?get_server_status=true HTTP/1.1\r\nHost: localhost\r\n\
             Connection: keep-alive, Upgrade\r\nupgrade: WebSocket\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/api/v4/system/ping");
        assert_eq!(req.query("get_server_status"), Some("true"));
        assert_eq!(req.header("host"), Some("localhost"));
        assert!(req.header_has_token("connection", "upgrade"));
        assert!(!req.header_has_token("connection", "close"));
        assert_eq!(req.header("Upgrade"), Some("WebSocket"));
        assert!(req.body.is_empty());
    }

    #[test]
    fn reads_bodies() {
        let req =
            parse("POST /api/v4/users HTTP/1.1\r\nContent-Length: 13\r\n\r\n{\"a\":\"hello\"}")
                .unwrap()
                .unwrap();
        assert_eq!(req.json().unwrap()["a"], "hello");
        let req = parse(
            "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(req.body, b"hello world");
    }

    #[test]
    fn rejects_malformed_requests() {
        assert!(parse("").unwrap().is_none());
        for raw in [
            "GET /\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n",
        ] {
            assert!(
                matches!(parse(raw), Err(ReadError::Bad(..))),
                "{raw:?} should be rejected"
            );
        }
        assert!(matches!(
            parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort"),
            Err(ReadError::Io(_))
        ));
    }

    #[test]
    fn writes_responses() {
        let resp = Response::json(200, &serde_json::json!({"status": "OK"}))
            .with_header("X-Version-Id", "1.2.3.1.2.3.standinhash.false");
        let mut out = Vec::new();
        resp.write_to(&mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"));
        assert!(text.contains("\r\nContent-Length: 15\r\n"));
        assert!(text.contains("\r\nConnection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n{\"status\":\"OK\"}"));

        let mut out = Vec::new();
        Response::new(101)
            .with_header("Connection", "Upgrade")
            .write_to(&mut out, false)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("Content-Length"));
        assert!(!text.contains("close"));
    }
}
