//! RFC 6455 websockets: handshake checks and the accept key, frame encoding/decoding, and a hub
//! of open connections so that later modules can push events (e.g. `posted`) to every client.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::http::Request;

/// The GUID appended to the client's key before hashing (RFC 6455 §1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Largest message the server accepts from a client.
pub const MAX_MESSAGE: usize = 8 * 1024 * 1024;

/// Frame opcodes.
pub mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// Close status codes used by the server.
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const TOO_BIG: u16 = 1009;
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.trim().as_bytes());
    sha.update(GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// Checks that `req` asks for a websocket upgrade; returns the client's key, or why not.
pub fn handshake_key(req: &Request) -> Result<String, String> {
    if req.method != "GET" {
        return Err(
            "websocket: the client is not using the websocket protocol: request method is not GET"
                .into(),
        );
    }
    if !req.header_has_token("Connection", "upgrade") {
        return Err("websocket: the client is not using the websocket protocol: 'upgrade' token not found in 'Connection' header".into());
    }
    if !req.header_has_token("Upgrade", "websocket") {
        return Err("websocket: the client is not using the websocket protocol: 'websocket' token not found in 'Upgrade' header".into());
    }
    if !req.header_has_token("Sec-WebSocket-Version", "13") {
        return Err(
            "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header".into(),
        );
    }
    let key = req.header("Sec-WebSocket-Key").unwrap_or_default().trim();
    match BASE64.decode(key) {
        Ok(raw) if raw.len() == 16 => Ok(key.to_string()),
        _ => Err("websocket: not a websocket handshake: 'Sec-WebSocket-Key' header must be Base64 encoded value of 16-byte length".into()),
    }
}

/// One frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    /// Whether the frame arrived masked (clients must mask, servers must not).
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl Frame {
    /// A final frame with `opcode` and `payload`.
    pub fn new(opcode: u8, payload: impl Into<Vec<u8>>) -> Frame {
        Frame {
            fin: true,
            opcode,
            masked: false,
            payload: payload.into(),
        }
    }

    /// A close frame carrying `code`.
    pub fn close(code: u16) -> Frame {
        Frame::new(opcode::CLOSE, code.to_be_bytes().to_vec())
    }

    /// The status code of a close frame, if it carries one.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == opcode::CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    /// Encodes the frame, masking the payload with `mask` when given (clients must mask).
    pub fn encode(&self, mask: Option<[u8; 4]>) -> Vec<u8> {
        let len = self.payload.len();
        let mut out = Vec::with_capacity(len + 14);
        out.push(u8::from(self.fin) << 7 | (self.opcode & 0x0F));
        let mask_bit = if mask.is_some() { 0x80 } else { 0 };
        if len < 126 {
            out.push(mask_bit | len as u8);
        } else if len <= usize::from(u16::MAX) {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        match mask {
            Some(m) => {
                out.extend_from_slice(&m);
                out.extend(self.payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
            }
            None => out.extend_from_slice(&self.payload),
        }
        out
    }

    /// Reads and unmasks one frame, refusing payloads above `max` bytes.
    pub fn read_from(r: &mut dyn Read, max: usize) -> io::Result<Frame> {
        let invalid = |msg: &str| io::Error::new(io::ErrorKind::InvalidData, msg.to_string());
        let mut head = [0u8; 2];
        r.read_exact(&mut head)?;
        if head[0] & 0x70 != 0 {
            return Err(invalid("reserved bits set without a negotiated extension"));
        }
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0F;
        let masked = head[1] & 0x80 != 0;
        let len = match head[1] & 0x7F {
            126 => {
                let mut b = [0u8; 2];
                r.read_exact(&mut b)?;
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                r.read_exact(&mut b)?;
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        if opcode >= 0x8 && (len > 125 || !fin) {
            return Err(invalid("control frame too long or fragmented"));
        }
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| invalid("frame too large"))?;
        let mut mask = [0u8; 4];
        if masked {
            r.read_exact(&mut mask)?;
        }
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload)?;
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        Ok(Frame {
            fin,
            opcode,
            masked,
            payload,
        })
    }
}

/// An event in Mattermost's websocket shape (`seq` is filled in per connection).
pub fn event(name: &str, data: Value, broadcast: Value) -> Value {
    json!({"event": name, "data": data, "broadcast": broadcast, "seq": 0})
}

/// The empty broadcast object of events sent to one connection.
pub fn no_broadcast() -> Value {
    json!({"omit_users": null, "user_id": "", "channel_id": "", "team_id": ""})
}

/// One open websocket connection.
pub struct Peer {
    /// The `connection_id` announced in `hello`.
    pub connection_id: String,
    /// The authenticated user; connections without one receive no events.
    pub user_id: Mutex<Option<String>>,
    writer: Mutex<TcpStream>,
    seq: AtomicI64,
}

impl Peer {
    /// Sends one unmasked frame.
    pub fn send_frame(&self, frame: &Frame) -> io::Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.write_all(&frame.encode(None))?;
        w.flush()
    }

    /// Sends a text message.
    pub fn send_text(&self, text: &str) -> io::Result<()> {
        self.send_frame(&Frame::new(opcode::TEXT, text.as_bytes().to_vec()))
    }

    /// Sends an event built by [`event`], numbering it with this connection's next `seq`; the
    /// numbering happens under the write lock, so events leave in `seq` order.
    pub fn send_event(&self, mut event: Value) -> io::Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        event["seq"] = json!(self.seq.fetch_add(1, Ordering::SeqCst));
        let frame = Frame::new(opcode::TEXT, event.to_string().into_bytes());
        w.write_all(&frame.encode(None))?;
        w.flush()
    }

    /// The authenticated user, if any.
    pub fn user(&self) -> Option<String> {
        self.user_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Marks the connection as authenticated for `user_id`: from now on it receives events.
    pub fn set_user(&self, user_id: &str) {
        *self.user_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(user_id.to_string());
    }

    /// Drops the connection without a close frame (as gorilla's `Conn.Close` does); the
    /// reading loop then ends.
    pub fn drop_connection(&self) {
        let w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let _ = w.shutdown(Shutdown::Both);
    }
}

/// The set of open websocket connections.
#[derive(Default)]
pub struct Hub {
    peers: Mutex<HashMap<String, Arc<Peer>>>,
}

impl Hub {
    /// Registers a connection whose writes go to `writer`.
    pub fn register(&self, connection_id: String, writer: TcpStream) -> Arc<Peer> {
        let peer = Arc::new(Peer {
            connection_id: connection_id.clone(),
            user_id: Mutex::new(None),
            writer: Mutex::new(writer),
            seq: AtomicI64::new(0),
        });
        self.lock().insert(connection_id, Arc::clone(&peer));
        peer
    }

    /// Forgets a connection.
    pub fn unregister(&self, connection_id: &str) {
        self.lock().remove(connection_id);
    }

    /// Number of open connections.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The distinct users of the authenticated connections.
    pub fn users(&self) -> Vec<String> {
        let mut users: Vec<String> = self.lock().values().filter_map(|p| p.user()).collect();
        users.sort();
        users.dedup();
        users
    }

    /// Sends `event` to every connection `to` accepts; returns how many received it. A
    /// connection whose write fails (or times out) is dropped.
    pub fn broadcast(&self, event: &Value, to: &dyn Fn(&Peer) -> bool) -> usize {
        let peers: Vec<Arc<Peer>> = self.lock().values().cloned().collect();
        peers
            .iter()
            .filter(|p| to(p))
            .filter(|p| match p.send_event(event.clone()) {
                Ok(()) => true,
                Err(_) => {
                    p.drop_connection();
                    false
                }
            })
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Peer>>> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Reads client frames until the peer closes: answers pings, echoes close, reassembles
/// fragmented messages and hands each text message to `on_text`.
pub fn serve(peer: &Peer, reader: &mut dyn Read, on_text: &mut dyn FnMut(&Peer, &str)) {
    let mut message: Option<(u8, Vec<u8>)> = None;
    loop {
        let frame = match Frame::read_from(reader, MAX_MESSAGE) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let _ = peer.send_frame(&Frame::close(close_code::PROTOCOL_ERROR));
                break;
            }
            Err(_) => break,
        };
        if !frame.masked {
            // RFC 6455 §5.1: a server must close on an unmasked client frame.
            let _ = peer.send_frame(&Frame::close(close_code::PROTOCOL_ERROR));
            break;
        }
        match frame.opcode {
            opcode::PING => {
                if peer
                    .send_frame(&Frame::new(opcode::PONG, frame.payload))
                    .is_err()
                {
                    break;
                }
            }
            opcode::PONG => {}
            opcode::CLOSE => {
                let code = frame.close_code().unwrap_or(close_code::NORMAL);
                let _ = peer.send_frame(&Frame::close(code));
                break;
            }
            opcode::TEXT | opcode::BINARY | opcode::CONTINUATION => {
                let (kind, mut data) = match (frame.opcode, message.take()) {
                    (opcode::CONTINUATION, Some(m)) => m,
                    (opcode::CONTINUATION, None) | (_, Some(_)) => {
                        let _ = peer.send_frame(&Frame::close(close_code::PROTOCOL_ERROR));
                        break;
                    }
                    (op, None) => (op, Vec::new()),
                };
                if data.len() + frame.payload.len() > MAX_MESSAGE {
                    let _ = peer.send_frame(&Frame::close(close_code::TOO_BIG));
                    break;
                }
                data.extend_from_slice(&frame.payload);
                if !frame.fin {
                    message = Some((kind, data));
                } else if kind == opcode::TEXT {
                    match String::from_utf8(data) {
                        Ok(text) => on_text(peer, &text),
                        Err(_) => {
                            let _ = peer.send_frame(&Frame::close(close_code::PROTOCOL_ERROR));
                            break;
                        }
                    }
                }
            }
            _ => {
                let _ = peer.send_frame(&Frame::close(close_code::PROTOCOL_ERROR));
                break;
            }
        }
    }
    let w = peer.writer.lock().unwrap_or_else(|p| p.into_inner());
    let _ = w.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn rfc_6455_accept_key() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    fn upgrade_request(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            path: "/api/v4/websocket".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Request::default()
        }
    }

    #[test]
    fn handshake_requirements() {
        let good = [
            ("upgrade", "WebSocket"),
            ("connection", "keep-alive, Upgrade"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ];
        assert_eq!(
            handshake_key(&upgrade_request(&good)).unwrap(),
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        for skip in 0..good.len() {
            let partial: Vec<_> = good
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, h)| *h)
                .collect();
            assert!(handshake_key(&upgrade_request(&partial)).is_err(), "{skip}");
        }
        let mut old = good;
        old[3] = ("Sec-WebSocket-Version", "8");
        assert!(handshake_key(&upgrade_request(&old)).is_err());
        let mut short = good;
        short[2] = ("Sec-WebSocket-Key", "c2hvcnQ=");
        assert!(handshake_key(&upgrade_request(&short)).is_err());
    }

    #[test]
    fn frames_round_trip_at_every_length_encoding() {
        for len in [0usize, 5, 125, 126, 65_535, 65_536, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for mask in [None, Some([0x37, 0xfa, 0x21, 0x3d])] {
                let frame = Frame::new(opcode::BINARY, payload.clone());
                let bytes = frame.encode(mask);
                let header = match len {
                    0..=125 => 2,
                    126..=65_535 => 4,
                    _ => 10,
                } + if mask.is_some() { 4 } else { 0 };
                assert_eq!(bytes.len(), header + len);
                let back = Frame::read_from(&mut Cursor::new(bytes), usize::MAX).unwrap();
                assert_eq!(back.payload, payload);
                assert_eq!(back.opcode, opcode::BINARY);
                assert!(back.fin);
                assert_eq!(back.masked, mask.is_some());
            }
        }
    }

    #[test]
    fn rfc_6455_examples() {
        // §5.7: a single-frame unmasked text message "Hello" and its masked form.
        assert_eq!(
            Frame::new(opcode::TEXT, b"Hello".to_vec()).encode(None),
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
        assert_eq!(
            Frame::new(opcode::TEXT, b"Hello".to_vec()).encode(Some([0x37, 0xfa, 0x21, 0x3d])),
            [
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
        // A fragmented message: "Hel" then "lo".
        let first =
            Frame::read_from(&mut Cursor::new(vec![0x01, 0x03, 0x48, 0x65, 0x6c]), 100).unwrap();
        assert!(!first.fin);
        assert_eq!(first.opcode, opcode::TEXT);
        assert_eq!(Frame::close(1000).encode(None), [0x88, 0x02, 0x03, 0xe8]);
        assert_eq!(Frame::close(1001).close_code(), Some(1001));
    }

    #[test]
    fn rejects_bad_frames() {
        // Reserved bit.
        assert!(Frame::read_from(&mut Cursor::new(vec![0xC1, 0x00]), 100).is_err());
        // Control frame longer than 125 bytes.
        let mut long_ping = vec![0x89, 0x7E, 0x00, 0x80];
        long_ping.extend(vec![0u8; 128]);
        assert!(Frame::read_from(&mut Cursor::new(long_ping), 1000).is_err());
        // Over the caller's limit.
        let big = Frame::new(opcode::TEXT, vec![b'a'; 200]).encode(None);
        assert!(Frame::read_from(&mut Cursor::new(big), 100).is_err());
        // Truncated.
        assert!(Frame::read_from(&mut Cursor::new(vec![0x81, 0x05, b'H']), 100).is_err());
    }
}
