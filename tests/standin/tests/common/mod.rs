//! The test harness shared by the integration tests: a stand-in installed in a temporary
//! directory and run like systemd would, a fake PostgreSQL, a raw HTTP client, and a websocket
//! client written independently of the server's own frame code.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A stand-in installed in a temporary directory.
pub struct Install {
    pub dir: tempfile::TempDir,
    pub exe: PathBuf,
}

impl Install {
    /// Copies the binary to `<tmp>/bin/mattermost` and writes `standin.json` beside it
    /// (unless `standin_json` is `None`).
    pub fn new(standin_json: Option<Value>) -> Install {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        fs_err::create_dir_all(&bin).unwrap();
        let exe = bin.join("mattermost");
        fs_err::copy(env!("CARGO_BIN_EXE_mm-standin"), &exe).unwrap();
        if let Some(json) = standin_json {
            fs_err::write(bin.join("standin.json"), json.to_string()).unwrap();
        }
        fs_err::create_dir_all(dir.path().join("config")).unwrap();
        Install { dir, exe }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `config/config.json`.
    pub fn write_config(&self, config: &Value) {
        fs_err::write(self.path().join("config/config.json"), config.to_string()).unwrap();
    }

    /// A command running the stand-in from the install directory with a clean MM_* environment.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.args(args).current_dir(self.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("MM_") || k == "NOTIFY_SOCKET" || k.starts_with("STANDIN_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().copied());
        cmd
    }

    /// Spawns the command, retrying while the freshly copied binary is still "busy" (another
    /// test thread may hold an inherited write descriptor for a moment between fork and exec).
    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut tries = 0;
        loop {
            let spawned = self
                .command(args, env)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn();
            match spawned {
                Ok(child) => return Running::new(child),
                Err(e)
                    if e.raw_os_error() == Some(nix::errno::Errno::ETXTBSY as i32)
                        && tries < 50 =>
                {
                    tries += 1;
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("spawn {}: {e}", self.exe.display()),
            }
        }
    }

    /// Runs to completion with a time limit.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.spawn(args, env).wait_output(Duration::from_secs(30))
    }

    pub fn log(&self) -> String {
        fs_err::read_to_string(self.path().join("logs/mattermost.log")).unwrap_or_default()
    }
}

/// A running stand-in whose stderr is collected line by line; killed when dropped.
pub struct Running {
    pub child: Child,
    pub lines: Receiver<String>,
    pub stderr: Arc<Mutex<String>>,
}

impl Running {
    pub fn new(mut child: Child) -> Running {
        let (tx, lines) = mpsc::channel();
        let stderr = Arc::new(Mutex::new(String::new()));
        let all = Arc::clone(&stderr);
        let pipe = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                all.lock().unwrap().push_str(&line);
                all.lock().unwrap().push('\n');
                let _ = tx.send(line);
            }
        });
        Running {
            child,
            lines,
            stderr,
        }
    }

    /// Waits for "Server is listening on …" and returns the address.
    pub fn wait_listening(&self, limit: Duration) -> SocketAddr {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains("Server is listening on") => {
                    let v: Value = serde_json::from_str(&line).unwrap();
                    return v["address"].as_str().unwrap().parse().unwrap();
                }
                Ok(_) => {}
                Err(_) => panic!(
                    "the stand-in did not start listening; stderr:\n{}",
                    self.stderr()
                ),
            }
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for exit (killing it after `limit`) and returns status, stdout and stderr.
    pub fn wait_output(mut self, limit: Duration) -> Output {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the stand-in did not exit in time; stderr:\n{}",
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = Vec::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut stdout)
            .unwrap();
        // Let the reader thread drain the pipe.
        let drained = Instant::now() + Duration::from_secs(5);
        while self.lines.recv_timeout(Duration::from_millis(50)).is_ok() && Instant::now() < drained
        {
        }
        Output {
            status,
            stdout,
            stderr: self.stderr().into_bytes(),
        }
    }

    pub fn terminate(&self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback listener playing PostgreSQL: records each StartupMessage and answers with canned
/// backend messages.
pub struct FakePostgres {
    pub port: u16,
    pub startups: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl FakePostgres {
    /// Answers every connection's StartupMessage with `replies[0]`, and each further message
    /// from the client with the next reply.
    pub fn start(replies: Vec<Vec<u8>>) -> FakePostgres {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let startups = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&startups);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let Some(startup) = read_body(&mut s) else {
                    continue;
                };
                seen.lock().unwrap().push(startup);
                for (i, reply) in replies.iter().enumerate() {
                    // After the startup packet, each client message starts with its type byte.
                    if i > 0
                        && (s.read_exact(&mut [0u8; 1]).is_err() || read_body(&mut s).is_none())
                    {
                        break;
                    }
                    if s.write_all(reply).is_err() {
                        break;
                    }
                }
            }
        });
        FakePostgres { port, startups }
    }

    /// An MD5 login that succeeds: AuthenticationMD5Password ('R', length 12, code 5, four salt
    /// bytes); after the client's PasswordMessage, AuthenticationOk and ReadyForQuery (idle).
    pub fn md5() -> FakePostgres {
        FakePostgres::start(vec![
            vec![b'R', 0, 0, 0, 12, 0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef],
            vec![b'R', 0, 0, 0, 8, 0, 0, 0, 0, b'Z', 0, 0, 0, 5, b'I'],
        ])
    }

    pub fn error(code: &str, message: &str) -> FakePostgres {
        let mut fields = Vec::new();
        for (k, v) in [(b'S', "FATAL"), (b'C', code), (b'M', message)] {
            fields.push(k);
            fields.extend_from_slice(v.as_bytes());
            fields.push(0);
        }
        fields.push(0);
        let mut reply = vec![b'E'];
        reply.extend_from_slice(&((fields.len() + 4) as i32).to_be_bytes());
        reply.extend_from_slice(&fields);
        FakePostgres::start(vec![reply])
    }

    pub fn data_source(&self) -> String {
        format!(
            "postgres://mmuser:mmuser-password@127.0.0.1:{}/mattermost?sslmode=disable&connect_timeout=10",
            self.port
        )
    }
}

/// A port on which nothing listens (bound, then released).
/// A length-prefixed message body (the length counts itself).
fn read_body(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; (i32::from_be_bytes(len) as usize).saturating_sub(4)];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn identity(version: &str) -> Value {
    json!({"version": version, "fail_start": false, "report_version": null, "ready_delay_ms": 0})
}

pub fn config(listen: &str, data_source: &str) -> Value {
    json!({
        "ServiceSettings": {"SiteURL": "", "ListenAddress": listen},
        "SqlSettings": {"DriverName": "postgres", "DataSource": data_source},
        "FileSettings": {"DriverName": "local", "Directory": "./data/"}
    })
}

/// A parsed HTTP response.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Reads a response head byte by byte (so nothing after it is consumed).
pub fn read_head(stream: &mut TcpStream) -> (u16, Vec<(String, String)>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    (status, headers)
}

/// Sends a raw request and reads the response to EOF (the server closes every connection).
pub fn request(addr: SocketAddr, raw: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let (status, headers) = read_head(&mut stream);
    let mut body = Vec::new();
    stream.read_to_end(&mut body).unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

pub fn get(addr: SocketAddr, path: &str) -> Reply {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n"),
    )
}

/// Sends `method path` with extra headers and a body, and reads the whole response.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    stream.write_all(&raw).unwrap();
    let (status, headers) = read_head(&mut stream);
    let mut body = Vec::new();
    stream.read_to_end(&mut body).unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

/// A JSON request, authenticated with `Authorization: Bearer <token>` when a token is given.
pub fn api(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Value) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth.as_str()));
    }
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    http(addr, method, path, &headers, &body)
}

/// A stand-in started with `config/config.json` = `config` (listening on a free loopback port,
/// with a fake PostgreSQL), and the address it listens on.
pub struct Server {
    pub install: Install,
    pub running: Running,
    pub addr: SocketAddr,
    _pg: FakePostgres,
}

impl Server {
    /// `extra` is merged into the minimal config section by section.
    pub fn start(extra: Value) -> Server {
        Server::start_as(identity("11.10.1"), extra)
    }

    /// Like [`Server::start`], with its own `standin.json`.
    pub fn start_as(standin_json: Value, extra: Value) -> Server {
        let pg = FakePostgres::md5();
        let install = Install::new(Some(standin_json));
        let mut cfg = config("127.0.0.1:0", &pg.data_source());
        if let Value::Object(sections) = extra {
            for (section, settings) in sections {
                let merged = match (
                    cfg.get_mut(&section).and_then(Value::as_object_mut),
                    &settings,
                ) {
                    (Some(target), Value::Object(extra)) => {
                        target.extend(extra.clone());
                        true
                    }
                    _ => false,
                };
                if !merged {
                    cfg[section.as_str()] = settings;
                }
            }
        }
        install.write_config(&cfg);
        let running = install.spawn(&[], &[]);
        let addr = running.wait_listening(Duration::from_secs(20));
        Server {
            install,
            running,
            addr,
            _pg: pg,
        }
    }
}

/// A websocket client: tungstenite over a plain TCP stream.
pub struct Ws {
    ws: tungstenite::WebSocket<TcpStream>,
}

/// What reading the next message gave.
#[derive(Debug)]
pub enum WsRead {
    Text(Value),
    /// Nothing arrived in time.
    Timeout,
    /// The server closed the connection (close frame or EOF).
    Closed,
}

/// A websocket upgrade request for `/api/v4/websocket` on `localhost`.
pub fn ws_request() -> tungstenite::handshake::client::Request {
    use tungstenite::client::IntoClientRequest as _;
    "ws://localhost/api/v4/websocket"
        .into_client_request()
        .unwrap()
}

impl Ws {
    /// Opens `/api/v4/websocket` with extra handshake headers; panics unless answered 101.
    pub fn connect(addr: SocketAddr, headers: &[(&str, &str)]) -> Ws {
        let mut request = ws_request();
        for (k, v) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (ws, _) = tungstenite::client::client(request, stream).unwrap();
        Ws { ws }
    }

    /// Sends a JSON text message.
    pub fn send(&mut self, msg: &Value) {
        self.ws
            .send(tungstenite::Message::text(msg.to_string()))
            .unwrap();
    }

    /// The next text message within `wait`, answering pings on the way.
    pub fn read(&mut self, wait: Duration) -> WsRead {
        self.ws.get_ref().set_read_timeout(Some(wait)).unwrap();
        loop {
            match self.ws.read() {
                Ok(tungstenite::Message::Text(text)) => {
                    return WsRead::Text(serde_json::from_str(text.as_str()).unwrap());
                }
                Ok(tungstenite::Message::Close(_)) => return WsRead::Closed,
                Ok(tungstenite::Message::Ping(_)) => {
                    let _ = self.ws.flush();
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return WsRead::Timeout;
                }
                Err(_) => return WsRead::Closed,
            }
        }
    }

    /// The next text message, which must come within 10 s.
    pub fn next(&mut self) -> Value {
        match self.read(Duration::from_secs(10)) {
            WsRead::Text(v) => v,
            other => panic!("expected a websocket message, got {other:?}"),
        }
    }

    /// Reads until an event satisfying `want` arrives (within 10 s), returning it and the
    /// events skipped on the way.
    pub fn wait_for(&mut self, want: impl Fn(&Value) -> bool) -> (Value, Vec<Value>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read(left.max(Duration::from_millis(1))) {
                WsRead::Text(v) if want(&v) => return (v, skipped),
                WsRead::Text(v) => skipped.push(v),
                other => panic!("no matching event; got {other:?} after {skipped:#?}"),
            }
        }
    }

    /// Whether nothing arrives within `wait`.
    pub fn silent_for(&mut self, wait: Duration) -> bool {
        matches!(self.read(wait), WsRead::Timeout)
    }

    /// Whether the server dropped the connection within `wait`.
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.read(left) {
                WsRead::Closed => return true,
                WsRead::Timeout => return false,
                WsRead::Text(_) => {}
            }
        }
    }
}

/// The `posted` event's post, decoded from its JSON string.
pub fn posted_post(event: &Value) -> Value {
    assert_eq!(event["event"], "posted");
    serde_json::from_str(
        event["data"]["post"]
            .as_str()
            .expect("data.post is a string"),
    )
    .unwrap()
}

/// CRC-32 (ISO-HDLC, as PNG uses), by flate2 (the gzip CRC is the same one).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

/// A valid 1×1 RGB PNG: signature, IHDR, an IDAT holding one filtered row in a zlib stream
/// (by flate2, stored without compression), and IEND.
pub fn one_pixel_png(rgb: [u8; 3]) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    let mut png = vec![0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    // Width 1, height 1, bit depth 8, colour type 2 (RGB), deflate, adaptive filter, no interlace.
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&1u32.to_be_bytes());
    ihdr.extend_from_slice(&1u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    let row = [0, rgb[0], rgb[1], rgb[2]]; // filter type 0, then the pixel
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::none());
    zlib.write_all(&row).unwrap();
    chunk(&mut png, b"IDAT", &zlib.finish().unwrap());
    chunk(&mut png, b"IEND", &[]);
    png
}

/// One part for [`multipart`]: name, filename, content type, bytes.
pub type FormPart<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A `multipart/form-data` body; returns the Content-Type header value and the body.
pub fn multipart(parts: &[FormPart]) -> (String, Vec<u8>) {
    let boundary = "----standin-test-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, filename, content_type, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(f) = filename {
            disposition.push_str(&format!("; filename=\"{f}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
