//! End-to-end tests of the `mm-standin` binary: each test installs a copy of it as
//! `<tmp>/bin/mattermost` with its own `standin.json`, runs it from `<tmp>` like systemd would
//! (WorkingDirectory=/opt/mattermost), and talks to it over loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mm_standin::websocket::{Frame, accept_key, opcode};
use serde_json::{Value, json};

/// A stand-in installed in a temporary directory.
struct Install {
    dir: tempfile::TempDir,
    exe: PathBuf,
}

impl Install {
    /// Copies the binary to `<tmp>/bin/mattermost` and writes `standin.json` beside it
    /// (unless `standin_json` is `None`).
    fn new(standin_json: Option<Value>) -> Install {
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

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `config/config.json`.
    fn write_config(&self, config: &Value) {
        fs_err::write(self.path().join("config/config.json"), config.to_string()).unwrap();
    }

    /// A command running the stand-in from the install directory with a clean MM_* environment.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
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
    fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Running {
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
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                    tries += 1;
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("spawn {}: {e}", self.exe.display()),
            }
        }
    }

    /// Runs to completion with a time limit.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.spawn(args, env).wait_output(Duration::from_secs(30))
    }

    fn log(&self) -> String {
        fs_err::read_to_string(self.path().join("logs/mattermost.log")).unwrap_or_default()
    }
}

/// A running stand-in whose stderr is collected line by line; killed when dropped.
struct Running {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    fn new(mut child: Child) -> Running {
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
    fn wait_listening(&self, limit: Duration) -> SocketAddr {
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

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for exit (killing it after `limit`) and returns status, stdout and stderr.
    fn wait_output(mut self, limit: Duration) -> Output {
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

    fn terminate(&self) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback listener playing PostgreSQL: reads each StartupMessage (recorded) and sends `reply`.
struct FakePostgres {
    port: u16,
    startups: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl FakePostgres {
    fn start(reply: Vec<u8>) -> FakePostgres {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let startups = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&startups);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut len = [0u8; 4];
                if s.read_exact(&mut len).is_err() {
                    continue;
                }
                let mut rest = vec![0u8; (i32::from_be_bytes(len) as usize).saturating_sub(4)];
                if s.read_exact(&mut rest).is_err() {
                    continue;
                }
                seen.lock().unwrap().push(rest);
                let _ = s.write_all(&reply);
            }
        });
        FakePostgres { port, startups }
    }

    /// AuthenticationMD5Password: 'R', length 12, code 5, four salt bytes.
    fn md5() -> FakePostgres {
        FakePostgres::start(vec![b'R', 0, 0, 0, 12, 0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef])
    }

    fn error(code: &str, message: &str) -> FakePostgres {
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
        FakePostgres::start(reply)
    }

    fn data_source(&self) -> String {
        format!(
            "postgres://mmuser:mmuser-password@127.0.0.1:{}/mattermost?sslmode=disable&connect_timeout=10",
            self.port
        )
    }
}

/// A port on which nothing listens (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn identity(version: &str) -> Value {
    json!({"version": version, "fail_start": false, "report_version": null, "ready_delay_ms": 0})
}

fn config(listen: &str, data_source: &str) -> Value {
    json!({
        "ServiceSettings": {"SiteURL": "", "ListenAddress": listen},
        "SqlSettings": {"DriverName": "postgres", "DataSource": data_source},
        "FileSettings": {"DriverName": "local", "Directory": "./data/"}
    })
}

/// A parsed HTTP response.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Reads a response head byte by byte (so nothing after it is consumed).
fn read_head(stream: &mut TcpStream) -> (u16, Vec<(String, String)>) {
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
fn request(addr: SocketAddr, raw: &str) -> Reply {
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

fn get(addr: SocketAddr, path: &str) -> Reply {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n"),
    )
}

#[test]
fn version_prints_like_mattermost_version() {
    let install = Install::new(Some(identity("11.10.1")));
    let out = install.run(&["version"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Version: 11.10.1\nBuild Number: 11.10.1\nBuild Date: Wed Jan 15 00:00:00 UTC 2025\n\
         Build Hash: standin\nBuild Enterprise Ready: true\n"
    );
    // `version` needs no config, database or log directory.
    assert!(!install.path().join("logs").exists());
}

#[test]
fn missing_or_broken_standin_json_exits_2() {
    let install = Install::new(None);
    for args in [&["version"][..], &[][..]] {
        let out = install.run(args, &[]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("standin.json"));
    }
    fs_err::write(
        install.path().join("bin/standin.json"),
        "{\"verison\":\"1\"}",
    )
    .unwrap();
    let out = install.run(&["version"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("verison"));
}

#[test]
fn serves_ping_web_app_and_websocket_then_stops_on_sigterm() {
    let pg = FakePostgres::md5();
    let install = Install::new(Some(identity("11.10.1")));
    install.write_config(&config("127.0.0.1:0", &pg.data_source()));
    let notify_path = install.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let server = install.spawn(&[], &[("NOTIFY_SOCKET", notify_path.to_str().unwrap())]);
    let addr = server.wait_listening(Duration::from_secs(20));
    let version_id = "11.10.1.11.10.1.standinhash.false";

    // systemd readiness.
    let mut buf = [0u8; 64];
    let n = notify.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");

    // The startup database check sent a StartupMessage for the configured role and database.
    let startup = pg.startups.lock().unwrap()[0].clone();
    let text = String::from_utf8_lossy(&startup);
    assert!(
        text.contains("user\0mmuser\0database\0mattermost\0"),
        "{text:?}"
    );
    // The file store exists and the probe is gone; the log says the server started.
    let data = install.path().join("data");
    assert!(data.is_dir());
    assert_eq!(fs_err::read_dir(&data).unwrap().count(), 0);
    let log = install.log();
    let first: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(first["msg"], "Server is starting");
    assert_eq!(first["version"], "11.10.1");

    // Ping.
    let ping = get(addr, "/api/v4/system/ping");
    assert_eq!(ping.status, 200);
    assert_eq!(ping.header("Content-Type"), Some("application/json"));
    assert_eq!(ping.header("X-Version-Id"), Some(version_id));
    assert_eq!(ping.header("X-Request-Id").map(str::len), Some(26));
    assert_eq!(ping.header("Connection"), Some("close"));
    assert_eq!(
        ping.json(),
        json!({"status": "OK", "ActiveSearchBackend": "database"})
    );
    let deep = get(addr, "/api/v4/system/ping?get_server_status=true");
    assert_eq!(deep.status, 200);
    assert_eq!(deep.json()["database_status"], "OK");
    assert_eq!(deep.json()["filestore_status"], "OK");
    assert_eq!(deep.json()["status"], "OK");

    // The web app, for `/` and any other non-API path, also for HEAD.
    for path in ["/", "/login", "/team/channels/town-square"] {
        let page = get(addr, path);
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.header("Content-Type")
                .unwrap()
                .starts_with("text/html")
        );
        assert!(String::from_utf8_lossy(&page.body).contains("<title>Mattermost</title>"));
        assert_eq!(page.header("X-Version-Id"), Some(version_id));
    }
    let head = request(addr, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_ne!(head.header("Content-Length"), Some("0"));

    // Unknown API paths and wrong methods.
    let missing = get(addr, "/api/v4/nonexistent");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["id"], "api.context.404.app_error");
    assert_eq!(missing.json()["status_code"], 404);
    assert_eq!(
        missing.json()["request_id"],
        missing.header("X-Request-Id").unwrap()
    );
    let wrong = request(
        addr,
        "POST /api/v4/system/ping HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(wrong.status, 405);

    // Websocket without the upgrade headers.
    let plain = get(addr, "/api/v4/websocket");
    assert_eq!(plain.status, 400);
    assert_eq!(
        plain.json()["id"],
        "api.web_socket.connect.upgrade.app_error"
    );
    assert_eq!(plain.json()["status_code"], 400);
    assert_eq!(plain.header("X-Version-Id"), Some(version_id));

    // Websocket handshake, hello, ping/pong, an acknowledged action, close.
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let mut ws = TcpStream::connect(addr).unwrap();
    ws.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    ws.write_all(
        format!(
            "GET /api/v4/websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: WebSocket\r\n\
             Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {key}\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let (status, headers) = read_head(&mut ws);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(status, 101);
    assert_eq!(
        header("Sec-WebSocket-Accept").as_deref(),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(accept_key(key), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(header("Upgrade").as_deref(), Some("websocket"));
    assert_eq!(header("X-Version-Id").as_deref(), Some(version_id));

    let hello = Frame::read_from(&mut ws, 1 << 20).unwrap();
    assert_eq!(hello.opcode, opcode::TEXT);
    assert!(hello.fin && !hello.masked);
    let hello_text = String::from_utf8(hello.payload).unwrap();
    let hello: Value = serde_json::from_str(&hello_text).unwrap();
    assert_eq!(hello["event"], "hello");
    assert_eq!(hello["seq"], 0);
    assert_eq!(hello["data"]["server_version"], version_id);
    assert_eq!(hello["data"]["server_hostname"], "standin");
    assert_eq!(hello["data"]["connection_id"].as_str().unwrap().len(), 26);
    assert_eq!(
        hello["broadcast"],
        json!({"omit_users": null, "user_id": "", "channel_id": "", "team_id": ""})
    );
    assert!(
        hello_text.starts_with("{\"event\":\"hello\",\"data\":{\"server_version\":"),
        "{hello_text}"
    );

    let mask = Some([1, 2, 3, 4]);
    ws.write_all(&Frame::new(opcode::PING, b"hi".to_vec()).encode(mask))
        .unwrap();
    let pong = Frame::read_from(&mut ws, 1 << 20).unwrap();
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (opcode::PONG, &b"hi"[..])
    );

    let challenge = json!({"seq": 1, "action": "authentication_challenge", "data": {"token": "t"}});
    ws.write_all(&Frame::new(opcode::TEXT, challenge.to_string().into_bytes()).encode(mask))
        .unwrap();
    let ack = Frame::read_from(&mut ws, 1 << 20).unwrap();
    let ack: Value = serde_json::from_slice(&ack.payload).unwrap();
    assert_eq!(ack, json!({"status": "OK", "seq_reply": 1}));

    ws.write_all(&Frame::close(1000).encode(mask)).unwrap();
    let close = Frame::read_from(&mut ws, 1 << 20).unwrap();
    assert_eq!(close.opcode, opcode::CLOSE);
    assert_eq!(close.close_code(), Some(1000));
    let mut rest = Vec::new();
    assert_eq!(ws.read_to_end(&mut rest).unwrap_or(0), 0);

    // SIGTERM stops it cleanly.
    server.terminate();
    let out = server.wait_output(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0));
    let log = install.log();
    assert!(
        log.lines().last().unwrap().contains("Server stopped"),
        "{log}"
    );
}

#[test]
fn report_version_env_overrides_and_ready_delay() {
    let pg = FakePostgres::md5();
    let install = Install::new(Some(json!({
        "version": "11.10.1",
        "report_version": "11.9.0",
        "ready_delay_ms": 400
    })));
    // The file points at a dead database, a different listen address and data directory; the
    // environment fixes all three, and MM_CONFIG moves the file.
    let elsewhere = install.path().join("elsewhere.json");
    fs_err::write(
        &elsewhere,
        json!({
            "ServiceSettings": {"ListenAddress": ":1"},
            "SqlSettings": {"DriverName": "postgres",
                            "DataSource": format!("postgres://u:p@127.0.0.1:{}/x?sslmode=disable", closed_port())},
            "FileSettings": {"Directory": "/proc/not-writable/"}
        })
        .to_string(),
    )
    .unwrap();
    let started = Instant::now();
    let server = install.spawn(
        &[],
        &[
            ("MM_CONFIG", elsewhere.to_str().unwrap()),
            ("MM_SERVICESETTINGS_LISTENADDRESS", "127.0.0.1:0"),
            ("MM_SQLSETTINGS_DATASOURCE", &pg.data_source()),
            ("MM_FILESETTINGS_DIRECTORY", "./files/"),
            ("STANDIN_DB_WAIT_MS", "0"),
        ],
    );
    let addr = server.wait_listening(Duration::from_secs(20));
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(install.path().join("files").is_dir());
    let ping = get(addr, "/api/v4/system/ping");
    assert_eq!(ping.status, 200);
    assert_eq!(
        ping.header("X-Version-Id"),
        Some("11.9.0.11.9.0.standinhash.false")
    );
    // `version` still tells the truth.
    let out = install.run(&["version"], &[]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Version: 11.10.1\n"));
}

#[test]
fn fail_start_exits_1_before_listening() {
    let pg = FakePostgres::md5();
    let install = Install::new(Some(json!({"version": "11.10.1", "fail_start": true})));
    install.write_config(&config("127.0.0.1:0", &pg.data_source()));
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("simulated start failure"), "{stderr}");
    assert!(!stderr.contains("Server is listening"), "{stderr}");
    assert!(install.log().contains("simulated start failure"));
}

#[test]
fn unreachable_database_exits_1_after_the_wait() {
    let port = closed_port();
    let install = Install::new(Some(identity("11.10.1")));
    install.write_config(&config(
        "127.0.0.1:0",
        &format!("postgres://mmuser:pw@127.0.0.1:{port}/mattermost?sslmode=disable"),
    ));
    let started = Instant::now();
    let out = install.run(&[], &[("STANDIN_DB_WAIT_MS", "700")]);
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "failed to connect to the database at 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("Server is listening"), "{stderr}");
}

#[test]
fn database_error_response_exits_1_with_the_servers_message() {
    let pg = FakePostgres::error("3D000", "database \"mattermost\" does not exist");
    let install = Install::new(Some(identity("11.10.1")));
    install.write_config(&config("127.0.0.1:0", &pg.data_source()));
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Error: failed to connect to the database at 127.0.0.1:")
            && stderr.contains("pq: database \"mattermost\" does not exist (SQLSTATE 3D000)"),
        "{stderr}"
    );
}

#[test]
fn missing_or_invalid_config_exits_1_naming_the_path() {
    let install = Install::new(Some(identity("11.10.1")));
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config/config.json"));

    fs_err::write(install.path().join("config/config.json"), "{not json").unwrap();
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config/config.json"));

    let out = install.run(&[], &[("MM_CONFIG", "/nonexistent/mm.json")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/mm.json"));
}

#[test]
fn unusable_settings_exit_1() {
    let pg = FakePostgres::md5();
    let install = Install::new(Some(identity("11.10.1")));

    // A file where the data directory should be.
    fs_err::write(install.path().join("data"), b"").unwrap();
    install.write_config(&config("127.0.0.1:0", &pg.data_source()));
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("file store directory ./data/"));

    // MySQL is not supported any more.
    let mut mysql = config("127.0.0.1:0", "mmuser:pw@tcp(localhost:3306)/mattermost");
    mysql["SqlSettings"]["DriverName"] = json!("mysql");
    install.write_config(&mysql);
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DriverName"));

    // The listen port is taken.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    fs_err::remove_file(install.path().join("data")).unwrap();
    install.write_config(&config(
        &taken.local_addr().unwrap().to_string(),
        &pg.data_source(),
    ));
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error starting server"));
}
