//! A small RFC 6455 websocket client for `mm-install verify`: the opening handshake (checking
//! `101` and `Sec-WebSocket-Accept`), masked text frames out, text/ping/pong/close frames in
//! (fragmented messages reassembled, pings answered), over plain TCP or rustls, blocking, with
//! deadlines instead of threads. Just enough to hold Mattermost's `/api/v4/websocket` open and
//! read its events.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The GUID every server appends to the client's key (RFC 6455 §1.3).
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The largest handshake answer (status line and headers) we read.
const MAX_HEAD: usize = 16 * 1024;
/// The largest message we accept; Mattermost's events are a few KiB.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// Where to connect and what to ask for.
pub struct Request<'a> {
    /// Host name or IP address to connect to (no brackets around IPv6 addresses).
    pub host: &'a str,
    pub port: u16,
    /// The `Host` header (host, and port when not the scheme's default).
    pub host_header: &'a str,
    /// The request path, e.g. `/api/v4/websocket`.
    pub path: &'a str,
    /// Speak TLS with this configuration (SNI = `host`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// More request headers, e.g. `Authorization` and `Origin`.
    pub headers: Vec<(String, String)>,
    /// For connecting, the TLS handshake and the upgrade answer together.
    pub timeout: Duration,
}

/// Why the websocket could not be opened or stopped working.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error(
        "the upgrade request was answered `{status}` instead of `101 Switching Protocols`{body}"
    )]
    NotUpgraded { status: String, body: String },
    #[error("the upgrade answer is not a websocket handshake: {0}")]
    BadHandshake(String),
    #[error("the server closed the websocket{0}")]
    Closed(String),
    #[error("the server sent an invalid websocket frame: {0}")]
    Protocol(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A message from the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
    Pong(Vec<u8>),
}

/// A byte stream either plain or wrapped in TLS.
trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// An open websocket.
pub struct WebSocket {
    stream: Box<dyn Stream>,
    /// The same socket, for setting read timeouts under the TLS layer.
    socket: TcpStream,
    /// Bytes read but not yet parsed into frames.
    buffer: Vec<u8>,
    /// A fragmented message being reassembled: its opcode and payload so far.
    partial: Option<(u8, Vec<u8>)>,
    closed: bool,
}

impl WebSocket {
    /// Connect, send the upgrade request and check the answer. Frames the server sends right
    /// after the handshake (Mattermost's `hello`) stay buffered for [`WebSocket::receive`].
    pub fn connect(request: &Request<'_>) -> Result<WebSocket, WsError> {
        let deadline = Instant::now() + request.timeout;
        let address = format!("{}:{}", request.host, request.port);
        let connect_error = |source| WsError::Connect {
            address: address.clone(),
            source,
        };
        let socket = connect(request.host, request.port, request.timeout).map_err(connect_error)?;
        socket.set_nodelay(true).map_err(connect_error)?;
        socket
            .set_write_timeout(Some(request.timeout))
            .map_err(connect_error)?;
        let clone = socket.try_clone().map_err(connect_error)?;
        let stream: Box<dyn Stream> = match &request.tls {
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(request.host.to_string())
                    .map_err(|e| connect_error(std::io::Error::other(e)))?;
                let connection = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(|e| connect_error(std::io::Error::other(e)))?;
                Box::new(rustls::StreamOwned::new(connection, clone))
            }
            None => Box::new(clone),
        };
        let mut ws = WebSocket {
            stream,
            socket,
            buffer: Vec::new(),
            partial: None,
            closed: false,
        };
        let key = random_key()?;
        let mut head = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
            request.path, request.host_header
        );
        for (name, value) in &request.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        ws.stream.write_all(head.as_bytes())?;
        ws.stream.flush()?;
        ws.read_handshake(&key, deadline)?;
        Ok(ws)
    }

    /// Read the answer to the upgrade request up to the blank line; keep what follows.
    fn read_handshake(&mut self, key: &str, deadline: Instant) -> Result<(), WsError> {
        let end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at;
            }
            if self.buffer.len() > MAX_HEAD {
                return Err(WsError::BadHandshake(
                    "the answer's headers are too long".into(),
                ));
            }
            if !self.fill(deadline)? {
                return Err(WsError::BadHandshake(
                    "no answer to the upgrade request in time".into(),
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
        self.buffer.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap_or_default().trim().to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if status.split_whitespace().nth(1) != Some("101") {
            // Show the start of the body the proxy or server sent with its refusal.
            let length = header("content-length")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
                .min(4096);
            let short = Instant::now() + Duration::from_secs(2);
            while self.buffer.len() < length && self.fill(short.min(deadline)).unwrap_or(false) {}
            let body = super::excerpt(&String::from_utf8_lossy(&self.buffer));
            return Err(WsError::NotUpgraded {
                status,
                body: if body.is_empty() {
                    String::new()
                } else {
                    format!(": {body}")
                },
            });
        }
        if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
            return Err(WsError::BadHandshake(
                "no `Upgrade: websocket` header".into(),
            ));
        }
        let expected = accept_key(key);
        match header("sec-websocket-accept") {
            Some(accept) if accept == expected => Ok(()),
            Some(accept) => Err(WsError::BadHandshake(format!(
                "Sec-WebSocket-Accept is {accept}, expected {expected}"
            ))),
            None => Err(WsError::BadHandshake(
                "no Sec-WebSocket-Accept header".into(),
            )),
        }
    }

    /// Send a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        self.send_frame(opcode::TEXT, text.as_bytes())
    }

    /// Send a ping; its pong comes back through [`WebSocket::receive`].
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), WsError> {
        self.send_frame(opcode::PING, payload)
    }

    /// Say goodbye (status 1000) and stop; errors are ignored, the connection is ending anyway.
    pub fn close(mut self) {
        if !self.closed {
            let _ = self.send_frame(opcode::CLOSE, &1000u16.to_be_bytes());
            self.closed = true;
        }
    }

    fn send_frame(&mut self, op: u8, payload: &[u8]) -> Result<(), WsError> {
        let mut mask = [0u8; 4];
        getrandom::fill(&mut mask).map_err(|e| std::io::Error::other(e.to_string()))?;
        let frame = encode_frame(op, payload, mask);
        self.stream.write_all(&frame)?;
        self.stream.flush()?;
        Ok(())
    }

    /// The next message, or `None` if none arrived before `deadline`. Pings are answered here;
    /// a close frame (or the end of the connection) is [`WsError::Closed`].
    pub fn receive(&mut self, deadline: Instant) -> Result<Option<Message>, WsError> {
        loop {
            if self.closed {
                return Err(WsError::Closed(String::new()));
            }
            while let Some(frame) = parse_frame(&mut self.buffer)? {
                if let Some(message) = self.on_frame(frame)? {
                    return Ok(Some(message));
                }
            }
            if !self.fill(deadline)? {
                return Ok(None);
            }
        }
    }

    fn on_frame(&mut self, frame: Frame) -> Result<Option<Message>, WsError> {
        match frame.opcode {
            opcode::PING => {
                self.send_frame(opcode::PONG, &frame.payload)?;
                Ok(None)
            }
            opcode::PONG => Ok(Some(Message::Pong(frame.payload))),
            opcode::CLOSE => {
                let _ = self.send_frame(opcode::CLOSE, &frame.payload);
                self.closed = true;
                let detail = match frame.payload.get(..2) {
                    Some(code) => {
                        let code = u16::from_be_bytes([code[0], code[1]]);
                        let reason = String::from_utf8_lossy(&frame.payload[2..]);
                        if reason.is_empty() {
                            format!(" (status {code})")
                        } else {
                            format!(" (status {code}: {reason})")
                        }
                    }
                    None => String::new(),
                };
                Err(WsError::Closed(detail))
            }
            opcode::TEXT | opcode::BINARY | opcode::CONTINUATION => {
                let (op, mut payload) = match (frame.opcode, self.partial.take()) {
                    (opcode::CONTINUATION, Some(partial)) => partial,
                    (opcode::CONTINUATION, None) => {
                        return Err(WsError::Protocol("a continuation without a start".into()));
                    }
                    (_, Some(_)) => {
                        return Err(WsError::Protocol(
                            "a new message inside a fragmented one".into(),
                        ));
                    }
                    (op, None) => (op, Vec::new()),
                };
                payload.extend_from_slice(&frame.payload);
                if payload.len() > MAX_MESSAGE {
                    return Err(WsError::Protocol("a message larger than 16 MiB".into()));
                }
                if !frame.fin {
                    self.partial = Some((op, payload));
                    return Ok(None);
                }
                if op == opcode::TEXT {
                    String::from_utf8(payload)
                        .map(|text| Some(Message::Text(text)))
                        .map_err(|_| WsError::Protocol("a text message that is not UTF-8".into()))
                } else {
                    Ok(Some(Message::Binary(payload)))
                }
            }
            other => Err(WsError::Protocol(format!("unknown opcode {other:#x}"))),
        }
    }

    /// Read more bytes into the buffer; `false` if `deadline` passed first.
    fn fill(&mut self, deadline: Instant) -> Result<bool, WsError> {
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        // A zero timeout means "block forever" to the socket: never pass one.
        let wait = (deadline - now).max(Duration::from_millis(1));
        self.socket.set_read_timeout(Some(wait))?;
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.closed = true;
                Err(WsError::Closed(" (the connection ended)".into()))
            }
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                Ok(Instant::now() < deadline)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::UnexpectedEof
                        | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                self.closed = true;
                Err(WsError::Closed(format!(" ({e})")))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Connect to the first address of `host:port` that answers.
fn connect(host: &str, port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
    let mut last = None;
    for address in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("the name has no address")))
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64.
fn random_key() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// What a server must answer in `Sec-WebSocket-Accept` for `key`.
pub fn accept_key(key: &str) -> String {
    let digest = Sha1::digest(format!("{key}{ACCEPT_GUID}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// One frame as received.
#[derive(Debug, PartialEq, Eq)]
struct Frame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// A client frame: FIN set, masked with `mask`.
fn encode_frame(op: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | (op & 0x0F));
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, byte)| byte ^ mask[i % 4]),
    );
    out
}

/// Take one complete frame off the front of `buffer`, if there is one.
fn parse_frame(buffer: &mut Vec<u8>) -> Result<Option<Frame>, WsError> {
    let Some(&[first, second]) = buffer.get(..2) else {
        return Ok(None);
    };
    let fin = first & 0x80 != 0;
    let op = first & 0x0F;
    if first & 0x70 != 0 {
        return Err(WsError::Protocol(
            "reserved bits set (no extension was negotiated)".into(),
        ));
    }
    let masked = second & 0x80 != 0;
    let (length, mut at) = match second & 0x7F {
        126 => match buffer.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buffer.get(2..10) {
            Some(b) => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(b);
                (u64::from_be_bytes(bytes), 10)
            }
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    if op >= 0x8 && (length > 125 || !fin) {
        return Err(WsError::Protocol(
            "a control frame that is fragmented or too long".into(),
        ));
    }
    let length = usize::try_from(length)
        .ok()
        .filter(|&l| l <= MAX_MESSAGE)
        .ok_or_else(|| WsError::Protocol("a frame larger than 16 MiB".into()))?;
    let mask = if masked {
        let Some(key) = buffer.get(at..at + 4) else {
            return Ok(None);
        };
        let key = [key[0], key[1], key[2], key[3]];
        at += 4;
        Some(key)
    } else {
        None
    };
    if buffer.len() < at + length {
        return Ok(None);
    }
    let mut payload: Vec<u8> = buffer.drain(..at + length).skip(at).collect();
    if let Some(mask) = mask {
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
    }
    Ok(Some(Frame {
        fin,
        opcode: op,
        payload,
    }))
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn the_accept_key_is_the_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn frames_round_trip_with_and_without_masks() {
        // RFC 6455 §5.7: a masked "Hello".
        let masked = encode_frame(opcode::TEXT, b"Hello", [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(
            masked,
            [
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
        let mut buffer = masked.clone();
        buffer.extend_from_slice(&[0x81, 0x05, b'H', b'e', b'l']);
        let frame = parse_frame(&mut buffer).unwrap().unwrap();
        assert_eq!(frame.payload, b"Hello");
        assert!(frame.fin);
        // The second (unmasked) frame is incomplete: nothing yet, nothing consumed.
        assert_eq!(parse_frame(&mut buffer).unwrap(), None);
        buffer.extend_from_slice(b"lo");
        assert_eq!(parse_frame(&mut buffer).unwrap().unwrap().payload, b"Hello");
        assert!(buffer.is_empty());
        // 16-bit and 64-bit lengths.
        for size in [126, 300, 70_000] {
            let payload = vec![7u8; size];
            let mut buffer = encode_frame(opcode::BINARY, &payload, [1, 2, 3, 4]);
            assert_eq!(parse_frame(&mut buffer).unwrap().unwrap().payload, payload);
        }
        let mut bad = vec![0x89, 0x7E, 0, 200];
        assert!(parse_frame(&mut bad).is_err(), "a long control frame");
    }

    /// A one-shot server: answers the handshake, sends `frames`, and returns every frame the
    /// client sends until its close frame.
    fn server(frames: Vec<Vec<u8>>) -> (u16, std::thread::JoinHandle<Vec<Frame>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                socket.read_exact(&mut byte).unwrap();
                request.push(byte[0]);
            }
            let text = String::from_utf8(request).unwrap();
            let key = text
                .lines()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap()
                .trim()
                .to_string();
            assert!(text.contains("Authorization: Bearer t0ken\r\n"), "{text}");
            let mut answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\n\r\n",
                accept_key(&key)
            )
            .into_bytes();
            // The first frame in the same packet as the handshake answer.
            answer.extend(frames.first().cloned().unwrap_or_default());
            socket.write_all(&answer).unwrap();
            for frame in frames.iter().skip(1) {
                socket.write_all(frame).unwrap();
            }
            let mut back = Vec::new();
            let mut frames = Vec::new();
            let mut chunk = [0u8; 256];
            loop {
                while let Some(frame) = parse_frame(&mut back).unwrap() {
                    let close = frame.opcode == opcode::CLOSE;
                    frames.push(frame);
                    if close {
                        return frames;
                    }
                }
                match socket.read(&mut chunk).unwrap() {
                    0 => return frames,
                    n => back.extend_from_slice(&chunk[..n]),
                }
            }
        });
        (port, handle)
    }

    fn request(port: u16) -> Request<'static> {
        Request {
            host: "127.0.0.1",
            port,
            host_header: "localhost",
            path: "/api/v4/websocket",
            tls: None,
            headers: vec![("Authorization".into(), "Bearer t0ken".into())],
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn reads_messages_answers_pings_and_reassembles_fragments() {
        let unmasked = |first: u8, payload: &[u8]| {
            let mut frame = vec![first, payload.len() as u8];
            frame.extend_from_slice(payload);
            frame
        };
        let (port, handle) = server(vec![
            unmasked(0x81, br#"{"event":"hello"}"#),
            unmasked(0x89, b"are you there"),
            unmasked(0x01, b"frag"),
            unmasked(0x80, b"mented"),
        ]);
        let mut ws = WebSocket::connect(&request(port)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(
            ws.receive(deadline).unwrap(),
            Some(Message::Text(r#"{"event":"hello"}"#.into()))
        );
        assert_eq!(
            ws.receive(deadline).unwrap(),
            Some(Message::Text("fragmented".into()))
        );
        // Nothing more: a timeout, not an error.
        let soon = Instant::now() + Duration::from_millis(200);
        assert_eq!(ws.receive(soon).unwrap(), None);
        ws.close();
        // The ping was answered with a (masked) pong carrying its payload, then the close.
        let back = handle.join().unwrap();
        assert_eq!(back.len(), 2, "{back:?}");
        assert_eq!(back[0].opcode, opcode::PONG);
        assert_eq!(back[0].payload, b"are you there");
        assert_eq!(back[1].opcode, opcode::CLOSE);
    }

    #[test]
    fn a_refused_upgrade_names_the_status_and_the_body() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).unwrap();
            let body = r#"{"id":"api.web_socket.connect.upgrade.app_error"}"#;
            let _ = write!(
                socket,
                "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        });
        let err = WebSocket::connect(&request(port)).err().unwrap();
        let text = err.to_string();
        assert!(text.contains("`HTTP/1.1 400 Bad Request`"), "{text}");
        assert!(
            text.contains("api.web_socket.connect.upgrade.app_error"),
            "{text}"
        );
    }

    #[test]
    fn a_close_frame_ends_the_connection() {
        let (port, handle) = server(vec![vec![0x88, 0x02, 0x03, 0xE8]]);
        let mut ws = WebSocket::connect(&request(port)).unwrap();
        let err = ws
            .receive(Instant::now() + Duration::from_secs(5))
            .unwrap_err();
        assert!(err.to_string().contains("status 1000"), "{err}");
        // Our close answer echoes the status.
        let back = handle.join().unwrap();
        assert_eq!(
            back,
            [Frame {
                fin: true,
                opcode: opcode::CLOSE,
                payload: vec![0x03, 0xE8]
            }]
        );
    }
}
