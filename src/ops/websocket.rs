//! The websocket client of `mm-install verify` and of the health probe: tungstenite's opening
//! handshake (which checks `101` and `Sec-WebSocket-Accept`) and its framing (masked frames
//! out, fragmented messages reassembled, pings answered, close answered), over a blocking TCP
//! stream that is plain or wrapped in rustls, with deadlines instead of threads. Just enough to
//! hold Mattermost's `/api/v4/websocket` open and read its events.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest as _;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::HeaderValue;
use tungstenite::http::header::HeaderName;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

/// The largest message we accept; Mattermost's events are a few KiB.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Where to connect and what to ask for.
pub struct Request<'a> {
    /// Host name or IP address of the site (no brackets around IPv6 addresses): connected to
    /// unless `connect_to` says otherwise, and the TLS server name (SNI).
    pub host: &'a str,
    pub port: u16,
    /// Connect to this address instead of resolving `host` (the health probe's loopback).
    pub connect_to: Option<SocketAddr>,
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
    /// Displayed whole (not as a `source`): verify reports websocket failures as one line.
    #[error("cannot connect to {address}: {cause}")]
    Connect {
        address: String,
        cause: std::io::Error,
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

/// A TCP stream, plain or wrapped in TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    /// The socket under the TLS layer, for read timeouts.
    fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(socket) => socket,
            Stream::Tls(tls) => &tls.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.read(buf),
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(socket) => socket.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

/// An open websocket.
pub struct WebSocket {
    ws: tungstenite::WebSocket<Stream>,
    closed: bool,
}

impl WebSocket {
    /// Connect, send the upgrade request and check the answer. Frames the server sends right
    /// after the handshake (Mattermost's `hello`) stay buffered for [`WebSocket::receive`].
    pub fn connect(request: &Request<'_>) -> Result<WebSocket, WsError> {
        let deadline = Instant::now() + request.timeout;
        let address = match request.connect_to {
            Some(address) => address.to_string(),
            None => format!("{}:{}", request.host, request.port),
        };
        let connect_error = |cause| WsError::Connect {
            address: address.clone(),
            cause,
        };
        let socket = match request.connect_to {
            Some(address) => TcpStream::connect_timeout(&address, request.timeout),
            None => connect(request.host, request.port, request.timeout),
        }
        .map_err(connect_error)?;
        socket.set_nodelay(true).map_err(connect_error)?;
        socket
            .set_write_timeout(Some(request.timeout))
            .map_err(connect_error)?;
        socket
            .set_read_timeout(Some(request.timeout))
            .map_err(connect_error)?;
        let stream = match &request.tls {
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(request.host.to_string())
                    .map_err(|e| connect_error(std::io::Error::other(e)))?;
                let connection = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(|e| connect_error(std::io::Error::other(e)))?;
                Stream::Tls(Box::new(rustls::StreamOwned::new(connection, socket)))
            }
            None => Stream::Plain(socket),
        };
        let scheme = if request.tls.is_some() { "wss" } else { "ws" };
        let mut upgrade = format!("{scheme}://{}{}", request.host_header, request.path)
            .into_client_request()
            .map_err(|e| WsError::BadHandshake(format!("cannot build the request: {e}")))?;
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes());
            let value = HeaderValue::from_str(value);
            match (name, value) {
                (Ok(name), Ok(value)) => {
                    upgrade.headers_mut().insert(name, value);
                }
                _ => {
                    return Err(WsError::BadHandshake(
                        "a request header that HTTP cannot carry".into(),
                    ));
                }
            }
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let mut outcome = tungstenite::client::client_with_config(upgrade, stream, Some(config));
        loop {
            match outcome {
                Ok((ws, _)) => return Ok(WebSocket { ws, closed: false }),
                Err(HandshakeError::Interrupted(partial)) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(WsError::BadHandshake(
                            "no answer to the upgrade request in time".into(),
                        ));
                    }
                    let wait = (deadline - now).max(Duration::from_millis(1));
                    partial
                        .get_ref()
                        .get_ref()
                        .socket()
                        .set_read_timeout(Some(wait))?;
                    outcome = partial.handshake();
                }
                Err(HandshakeError::Failure(error)) => return Err(handshake_error(error)),
            }
        }
    }

    /// Send a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        self.send(tungstenite::Message::text(text))
    }

    /// Send a ping; its pong comes back through [`WebSocket::receive`].
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), WsError> {
        self.send(tungstenite::Message::Ping(payload.to_vec().into()))
    }

    /// Say goodbye (status 1000) and stop; errors are ignored, the connection is ending anyway.
    pub fn close(mut self) {
        if !self.closed {
            let _ = self.ws.close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }));
            let _ = self.ws.flush();
            self.closed = true;
        }
    }

    fn send(&mut self, message: tungstenite::Message) -> Result<(), WsError> {
        self.ws.send(message).map_err(|e| self.read_error(e))
    }

    /// The next message, or `None` if none arrived before `deadline`. Pings are answered here;
    /// a close frame (or the end of the connection) is [`WsError::Closed`].
    pub fn receive(&mut self, deadline: Instant) -> Result<Option<Message>, WsError> {
        loop {
            if self.closed {
                return Err(WsError::Closed(String::new()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            // A zero timeout means "block forever" to the socket: never pass one.
            let wait = (deadline - now).max(Duration::from_millis(1));
            self.ws.get_ref().socket().set_read_timeout(Some(wait))?;
            match self.ws.read() {
                Ok(tungstenite::Message::Text(text)) => {
                    return Ok(Some(Message::Text(text.as_str().to_string())));
                }
                Ok(tungstenite::Message::Binary(data)) => {
                    return Ok(Some(Message::Binary(data.to_vec())));
                }
                Ok(tungstenite::Message::Pong(data)) => {
                    return Ok(Some(Message::Pong(data.to_vec())));
                }
                // tungstenite queued the pong; send it now rather than with the next read.
                Ok(tungstenite::Message::Ping(_)) => self.flush_quietly()?,
                Ok(tungstenite::Message::Close(frame)) => {
                    // tungstenite queued the close answer, echoing the status.
                    let _ = self.ws.flush();
                    self.closed = true;
                    let detail = match frame {
                        Some(frame) if frame.reason.is_empty() => {
                            format!(" (status {})", u16::from(frame.code))
                        }
                        Some(frame) => {
                            format!(" (status {}: {})", u16::from(frame.code), frame.reason)
                        }
                        None => String::new(),
                    };
                    return Err(WsError::Closed(detail));
                }
                Ok(tungstenite::Message::Frame(_)) => {}
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
                Err(e) => return Err(self.read_error(e)),
            }
        }
    }

    /// Flush queued frames; a write that would block is left for later.
    fn flush_quietly(&mut self) -> Result<(), WsError> {
        match self.ws.flush() {
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => Ok(()),
            Err(e) => Err(self.read_error(e)),
            Ok(()) => Ok(()),
        }
    }

    /// Our error for one of tungstenite's once the websocket is open.
    fn read_error(&mut self, error: tungstenite::Error) -> WsError {
        use tungstenite::error::ProtocolError;
        match error {
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                self.closed = true;
                WsError::Closed(String::new())
            }
            tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                self.closed = true;
                WsError::Closed(" (the connection ended)".into())
            }
            tungstenite::Error::Io(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::UnexpectedEof
                        | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                self.closed = true;
                WsError::Closed(format!(" ({e})"))
            }
            tungstenite::Error::Io(e) => WsError::Io(e),
            other => WsError::Protocol(other.to_string()),
        }
    }
}

fn is_timeout(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::Interrupted
    )
}

/// Our error for a failed opening handshake.
fn handshake_error(error: tungstenite::Error) -> WsError {
    match error {
        tungstenite::Error::Http(response) => {
            // Show the start of the body the proxy or server sent with its refusal.
            let body = response
                .body()
                .as_deref()
                .map(|body| super::verify::excerpt(&String::from_utf8_lossy(body)))
                .unwrap_or_default();
            WsError::NotUpgraded {
                status: format!("{:?} {}", response.version(), response.status()),
                body: if body.is_empty() {
                    String::new()
                } else {
                    format!(": {body}")
                },
            }
        }
        tungstenite::Error::Io(e) if is_timeout(&e) => {
            WsError::BadHandshake("no answer to the upgrade request in time".into())
        }
        tungstenite::Error::Io(e) => WsError::Io(e),
        other => WsError::BadHandshake(other.to_string()),
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

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use tungstenite::handshake::server::{ErrorResponse, Request as Upgrade, Response};
    use tungstenite::protocol::frame::Frame;
    use tungstenite::protocol::frame::coding::{Data, OpCode};

    use super::*;

    /// The upgrade request carries our headers.
    #[allow(clippy::result_large_err)] // tungstenite's callback signature
    fn check(request: &Upgrade, response: Response) -> Result<Response, ErrorResponse> {
        assert_eq!(request.headers()["authorization"], "Bearer t0ken");
        assert_eq!(request.headers()["host"], "localhost");
        Ok(response)
    }

    /// A one-shot server: answers the handshake (checking the `Authorization` header), sends
    /// `messages`, and returns every message the client sends until its close.
    fn server(
        messages: Vec<tungstenite::Message>,
    ) -> (u16, std::thread::JoinHandle<Vec<tungstenite::Message>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            let mut ws = tungstenite::accept_hdr(socket, check).unwrap();
            for message in messages {
                ws.send(message).unwrap();
            }
            let mut back = Vec::new();
            loop {
                match ws.read() {
                    Ok(message) => {
                        let close = message.is_close();
                        back.push(message);
                        if close {
                            return back;
                        }
                    }
                    Err(_) => return back,
                }
            }
        });
        (port, handle)
    }

    fn request(port: u16) -> Request<'static> {
        Request {
            host: "127.0.0.1",
            port,
            connect_to: None,
            host_header: "localhost",
            path: "/api/v4/websocket",
            tls: None,
            headers: vec![("Authorization".into(), "Bearer t0ken".into())],
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn reads_messages_answers_pings_and_reassembles_fragments() {
        let (port, handle) = server(vec![
            tungstenite::Message::text(r#"{"event":"hello"}"#),
            tungstenite::Message::Ping(b"are you there".to_vec().into()),
            tungstenite::Message::Frame(Frame::message(
                b"frag".to_vec(),
                OpCode::Data(Data::Text),
                false,
            )),
            tungstenite::Message::Frame(Frame::message(
                b"mented".to_vec(),
                OpCode::Data(Data::Continue),
                true,
            )),
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
        // The ping was answered with a pong carrying its payload, then the close.
        let back = handle.join().unwrap();
        assert_eq!(back.len(), 2, "{back:?}");
        assert_eq!(
            back[0],
            tungstenite::Message::Pong(b"are you there".to_vec().into())
        );
        assert!(back[1].is_close(), "{back:?}");
    }

    #[test]
    fn a_refused_upgrade_names_the_status_and_the_body() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            // The whole request head, so closing never resets a connection with unread bytes
            // (the client would see a reset instead of the answer).
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let body = r#"{"id":"api.web_socket.connect.upgrade.app_error"}"#;
            // One write: tungstenite keeps the body only if it arrives with the head.
            let answer = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes());
            let _ = socket.shutdown(std::net::Shutdown::Write);
            let _ = std::io::copy(&mut socket, &mut std::io::sink());
        });
        let err = WebSocket::connect(&request(port)).err().unwrap();
        let text = err.to_string();
        assert!(text.contains("`HTTP/1.1 400 Bad Request`"), "{text}");
        assert!(
            text.contains("api.web_socket.connect.upgrade.app_error"),
            "{text}"
        );
    }

    /// A server that answers every upgrade `101` with a `Sec-WebSocket-Accept` that does not
    /// belong to the client's key (what a proxy replaying a cached answer would send).
    fn wrong_accept_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for socket in listener.incoming() {
                let mut socket = socket.unwrap();
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).unwrap();
                // The RFC 6455 example's answer, for the key `dGhlIHNhbXBsZSBub25jZQ==`.
                let _ = socket.write_all(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                      Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                );
            }
        });
        address
    }

    #[test]
    fn a_wrong_accept_key_is_not_a_websocket() {
        let address = wrong_accept_server();
        let err = WebSocket::connect(&request(address.port())).err().unwrap();
        assert!(matches!(err, WsError::BadHandshake(_)), "{err:?}");
        assert!(err.to_string().contains("Sec-WebSocket-Accept"), "{err}");
    }

    #[test]
    fn a_close_frame_ends_the_connection() {
        let (port, handle) = server(vec![tungstenite::Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }))]);
        let mut ws = WebSocket::connect(&request(port)).unwrap();
        let err = ws
            .receive(Instant::now() + Duration::from_secs(5))
            .unwrap_err();
        assert!(err.to_string().contains("status 1000"), "{err}");
        // Our close answer echoes the status.
        let back = handle.join().unwrap();
        assert_eq!(
            back,
            [tungstenite::Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into()
            }))]
        );
    }
}
