//! Websockets: the handshake checks (with gorilla's messages), and the connections, framed by
//! tungstenite, in a hub so that later modules can push events (e.g. `posted`) to every client.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use crate::http::Request;

/// Largest message the server accepts from a client.
pub const MAX_MESSAGE: usize = 8 * 1024 * 1024;

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    tungstenite::handshake::derive_accept_key(key.trim().as_bytes())
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

/// An event in Mattermost's websocket shape (`seq` is filled in per connection).
pub fn event(name: &str, data: Value, broadcast: Value) -> Value {
    json!({"event": name, "data": data, "broadcast": broadcast, "seq": 0})
}

/// The empty broadcast object of events sent to one connection.
pub fn no_broadcast() -> Value {
    json!({"omit_users": null, "user_id": "", "channel_id": "", "team_id": ""})
}

/// The socket's writing side, shared by a connection's reading loop (pongs, the close
/// answer) and the threads that publish events: each write goes out whole under the lock, so
/// frames from the two never interleave.
#[derive(Clone)]
struct Outgoing(Arc<Mutex<TcpStream>>);

impl Outgoing {
    fn lock(&self) -> std::sync::MutexGuard<'_, TcpStream> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Read for Outgoing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the publishing side of a websocket does not read",
        ))
    }
}

impl Write for Outgoing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock().flush()
    }
}

/// The reading loop's stream: reads from the connection (with what the HTTP parser had
/// already buffered), writes through [`Outgoing`].
struct Incoming {
    reader: BufReader<TcpStream>,
    writer: Outgoing,
}

impl Read for Incoming {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Write for Incoming {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// One open websocket connection.
pub struct Peer {
    /// The `connection_id` announced in `hello`.
    pub connection_id: String,
    /// The authenticated user; connections without one receive no events.
    pub user_id: Mutex<Option<String>>,
    writer: Mutex<WebSocket<Outgoing>>,
    socket: Outgoing,
    seq: AtomicI64,
}

impl Peer {
    /// Sends a text message.
    pub fn send_text(&self, text: &str) -> io::Result<()> {
        let mut ws = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        ws.send(Message::text(text)).map_err(io::Error::other)
    }

    /// Sends an event built by [`event`], numbering it with this connection's next `seq`; the
    /// numbering happens under the write lock, so events leave in `seq` order.
    pub fn send_event(&self, mut event: Value) -> io::Result<()> {
        let mut ws = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        event["seq"] = json!(self.seq.fetch_add(1, Ordering::SeqCst));
        ws.send(Message::text(event.to_string()))
            .map_err(io::Error::other)
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
        let _ = self.socket.lock().shutdown(Shutdown::Both);
    }
}

/// The set of open websocket connections.
#[derive(Default)]
pub struct Hub {
    peers: Mutex<HashMap<String, Arc<Peer>>>,
}

impl Hub {
    /// Registers a connection whose writes go to `writer` (the handshake answered).
    pub fn register(&self, connection_id: String, writer: TcpStream) -> Arc<Peer> {
        let socket = Outgoing(Arc::new(Mutex::new(writer)));
        let peer = Arc::new(Peer {
            connection_id: connection_id.clone(),
            user_id: Mutex::new(None),
            writer: Mutex::new(WebSocket::from_raw_socket(
                socket.clone(),
                Role::Server,
                Some(config()),
            )),
            socket,
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

/// Reads client messages until the peer closes, handing each text message to `on_text`;
/// tungstenite answers pings, echoes the close, reassembles fragmented messages and refuses
/// unmasked or invalid frames, which close the connection with 1002 (1009 if too big).
pub fn serve(peer: &Peer, reader: BufReader<TcpStream>, on_text: &mut dyn FnMut(&Peer, &str)) {
    let stream = Incoming {
        reader,
        writer: peer.socket.clone(),
    };
    let mut ws = WebSocket::from_raw_socket(stream, Role::Server, Some(config()));
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => on_text(peer, text.as_str()),
            // The pong tungstenite queued goes out now, not with the next read.
            Ok(Message::Ping(_)) => {
                if ws.flush().is_err() {
                    break;
                }
            }
            Ok(Message::Close(_)) => {
                // tungstenite queued the echo of the client's status.
                let _ = ws.flush();
                break;
            }
            Ok(Message::Binary(_) | Message::Pong(_) | Message::Frame(_)) => {}
            Err(tungstenite::Error::Capacity(_)) => {
                close(&mut ws, CloseCode::Size);
                break;
            }
            Err(tungstenite::Error::Protocol(_) | tungstenite::Error::Utf8(_)) => {
                close(&mut ws, CloseCode::Protocol);
                break;
            }
            Err(_) => break,
        }
    }
    peer.drop_connection();
}

/// Closes with `code` after a client's error.
fn close(ws: &mut WebSocket<Incoming>, code: CloseCode) {
    let _ = ws.close(Some(CloseFrame {
        code,
        reason: "".into(),
    }));
    let _ = ws.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
