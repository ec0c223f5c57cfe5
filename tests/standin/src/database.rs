//! The startup database check: parse `SqlSettings.DataSource` the way lib/pq does, connect to
//! PostgreSQL over TCP or its Unix socket (retrying while it is unreachable), and speak just
//! enough of the v3 wire protocol to learn whether the role and database are accepted.
//!
//! Password authentication is never attempted: an authentication request (cleartext, MD5,
//! SCRAM) already proves a PostgreSQL server is listening for that role and database, which is
//! all the stand-in needs. With `trust` authentication PostgreSQL goes on to check the role and
//! database, and an `ErrorResponse` such as `database "x" does not exist` fails the start.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::url::percent_decode;

/// Protocol version 3.0 as sent in a StartupMessage.
const PROTOCOL_V3: i32 = 196_608;
/// The request code of an SSLRequest.
const SSL_REQUEST_CODE: i32 = 80_877_103;
/// SQLSTATE `cannot_connect_now`: the server is starting up or shutting down; worth retrying.
const CANNOT_CONNECT_NOW: &str = "57P03";
/// Largest backend message the check will read.
const MAX_MESSAGE: usize = 1 << 20;

/// Where the database listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP host name or address and port.
    Tcp { host: String, port: u16 },
    /// A Unix socket directory; the socket is `<dir>/.s.PGSQL.<port>`.
    Unix { dir: String, port: u16 },
}

impl Endpoint {
    /// The socket file of a Unix endpoint.
    pub fn socket_path(&self) -> Option<String> {
        match self {
            Endpoint::Tcp { .. } => None,
            Endpoint::Unix { dir, port } => {
                Some(format!("{}/.s.PGSQL.{port}", dir.trim_end_matches('/')))
            }
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Unix { .. } => f.write_str(&self.socket_path().unwrap_or_default()),
        }
    }
}

/// A parsed `postgres://` data source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSource {
    pub endpoint: Endpoint,
    /// Empty when the URL names no user (lib/pq then uses the OS user).
    pub user: String,
    pub password: Option<String>,
    /// Empty when the URL names no database (PostgreSQL then uses the user name).
    pub database: String,
    /// `sslmode`, `None` when absent (lib/pq then behaves as `require`).
    pub sslmode: Option<String>,
    /// `connect_timeout` in seconds, when given and positive.
    pub connect_timeout: Option<Duration>,
}

/// Parses a `postgres://user:pass@host:port/db?param=value` data source.
pub fn parse_data_source(source: &str) -> Result<DataSource, String> {
    let bad = |why: &str| format!("invalid SqlSettings.DataSource: {why}");
    let lower = source.to_ascii_lowercase();
    let rest = if lower.starts_with("postgres://") {
        &source["postgres://".len()..]
    } else if lower.starts_with("postgresql://") {
        &source["postgresql://".len()..]
    } else {
        return Err(bad(
            "expected a postgres://user:password@host:port/database URL",
        ));
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (String::new(), None),
        Some(info) => match info.split_once(':') {
            Some((u, p)) => (
                percent_decode(u, false).map_err(|e| bad(&e))?,
                Some(percent_decode(p, false).map_err(|e| bad(&e))?),
            ),
            None => (percent_decode(info, false).map_err(|e| bad(&e))?, None),
        },
    };
    let (mut host, mut port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unterminated [IPv6] host"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ]"))?),
        };
        (h.to_string(), port.map(str::to_string))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (hostport.to_string(), None),
        }
    };
    host = percent_decode(&host, false).map_err(|e| bad(&e))?;
    let database = percent_decode(path, false).map_err(|e| bad(&e))?;
    let mut sslmode = None;
    let mut connect_timeout = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k, true).map_err(|e| bad(&e))?;
        let v = percent_decode(v, true).map_err(|e| bad(&e))?;
        match k.as_str() {
            "host" => host = v,
            "port" => port = Some(v),
            "sslmode" => sslmode = Some(v),
            "connect_timeout" => {
                let secs: u64 = v
                    .parse()
                    .map_err(|_| bad(&format!("connect_timeout={v:?} is not a number")))?;
                connect_timeout = (secs > 0).then(|| Duration::from_secs(secs));
            }
            _ => {}
        }
    }
    let port = match port.as_deref() {
        None | Some("") => 5432,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad(&format!("invalid port {p:?}")))?,
    };
    if host.is_empty() {
        host = "localhost".to_string();
    }
    let endpoint = if host.starts_with('/') {
        Endpoint::Unix { dir: host, port }
    } else {
        Endpoint::Tcp { host, port }
    };
    Ok(DataSource {
        endpoint,
        user,
        password,
        database,
        sslmode,
        connect_timeout,
    })
}

/// Why one connection attempt did not succeed.
#[derive(Debug)]
enum Failure {
    /// Nothing accepted the connection (or it broke before PostgreSQL answered): retry.
    Unreachable(String),
    /// PostgreSQL answered that it cannot take connections yet: retry.
    Starting(String),
    /// PostgreSQL refused us for good (unknown role or database, pg_hba, SSL): give up.
    Rejected(String),
}

/// A connected byte stream, TCP or Unix.
/// A byte stream to PostgreSQL: TCP or Unix socket.
pub trait Conn: Read + Write {}
impl<T: Read + Write> Conn for T {}

/// Connects, retrying unreachable or still-starting servers until `wait` has passed; then
/// checks the handshake. `Ok` means PostgreSQL accepted the role and database or asked for a
/// password; `Err` carries the message to exit with.
pub fn check(
    ds: &DataSource,
    wait: Duration,
    on_retry: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let deadline = Instant::now() + wait;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let failure = match attempt(ds) {
            Ok(()) => return Ok(()),
            Err(Failure::Rejected(msg)) => {
                return Err(format!(
                    "failed to connect to the database at {}: {msg}",
                    ds.endpoint
                ));
            }
            Err(Failure::Unreachable(msg) | Failure::Starting(msg)) => msg,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(format!(
                "failed to connect to the database at {} after {attempts} attempts: {failure}",
                ds.endpoint
            ));
        }
        if attempts == 1 {
            on_retry(&failure);
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(250)));
    }
}

fn attempt(ds: &DataSource) -> Result<(), Failure> {
    let timeout = ds.connect_timeout.unwrap_or(Duration::from_secs(10));
    let mut conn =
        connect(&ds.endpoint, timeout).map_err(|e| Failure::Unreachable(e.to_string()))?;
    handshake(&mut *conn, ds)
}

/// Opens a stream to `endpoint` with read and write timeouts.
pub fn connect(endpoint: &Endpoint, timeout: Duration) -> io::Result<Box<dyn Conn>> {
    match endpoint {
        Endpoint::Unix { .. } => {
            let path = endpoint.socket_path().unwrap_or_default();
            let stream = UnixStream::connect(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
            stream.set_read_timeout(Some(timeout))?;
            stream.set_write_timeout(Some(timeout))?;
            Ok(Box::new(stream))
        }
        Endpoint::Tcp { host, port } => {
            let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"));
            for addr in (host.as_str(), *port).to_socket_addrs()? {
                match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(stream) => {
                        stream.set_read_timeout(Some(timeout))?;
                        stream.set_write_timeout(Some(timeout))?;
                        return Ok(Box::new(stream));
                    }
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
    }
}

/// The role to log in as: the URL's user, else the OS user as lib/pq does.
pub fn effective_user(ds: &DataSource) -> String {
    if ds.user.is_empty() {
        std::env::var("USER").unwrap_or_else(|_| "postgres".to_string())
    } else {
        ds.user.clone()
    }
}

/// A StartupMessage for `user` and `database`.
pub fn startup_message(user: &str, database: &str) -> Vec<u8> {
    let mut body = PROTOCOL_V3.to_be_bytes().to_vec();
    for (k, v) in [
        ("user", user),
        ("database", database),
        ("application_name", "mattermost"),
    ] {
        if v.is_empty() {
            continue;
        }
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    msg
}

/// Reads one backend message: its type byte and body.
pub fn read_message(r: &mut dyn Read) -> io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head)?;
    let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    let len = usize::try_from(len)
        .ok()
        .filter(|l| (4..=MAX_MESSAGE).contains(l))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "not a PostgreSQL server (bad message length)",
            )
        })?;
    let mut body = vec![0u8; len - 4];
    r.read_exact(&mut body)?;
    Ok((head[0], body))
}

/// The fields of an ErrorResponse, keyed by their one-byte codes (`S`, `C`, `M`, …).
pub fn error_fields(body: &[u8]) -> Vec<(u8, String)> {
    let mut fields = Vec::new();
    let mut rest = body;
    while let Some((&code, tail)) = rest.split_first() {
        if code == 0 {
            break;
        }
        let end = tail.iter().position(|b| *b == 0).unwrap_or(tail.len());
        fields.push((code, String::from_utf8_lossy(&tail[..end]).into_owned()));
        rest = tail.get(end + 1..).unwrap_or_default();
    }
    fields
}

/// The value of an ErrorResponse field (`M` message, `C` SQLSTATE, …); empty when absent.
pub fn error_field(fields: &[(u8, String)], code: u8) -> &str {
    fields
        .iter()
        .find(|(k, _)| *k == code)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// `pq: <message> (SQLSTATE <code>)`, as lib/pq words a server error.
pub fn error_text(message: &str, sqlstate: &str) -> String {
    format!("pq: {message} (SQLSTATE {sqlstate})")
}

/// Opens an authenticated session for the schema migrations with the `postgres` crate: over
/// TCP or the Unix socket, logging in as lib/pq can (trust, cleartext, MD5, SCRAM-SHA-256).
/// No TLS: a data source that requires it is refused with a message. `Err` names the endpoint.
pub fn open(ds: &DataSource) -> Result<postgres::Client, String> {
    let fail = |why: String| format!("cannot open the database at {}: {why}", ds.endpoint);
    if !matches!(
        ds.sslmode.as_deref().unwrap_or("require"),
        "disable" | "allow" | "prefer"
    ) {
        return Err(fail(
            "the stand-in speaks no TLS; use sslmode=disable to run migrations".into(),
        ));
    }
    let mut config = postgres::Config::new();
    config
        .user(&effective_user(ds))
        .application_name("mattermost")
        .ssl_mode(postgres::config::SslMode::Disable)
        .connect_timeout(ds.connect_timeout.unwrap_or(Duration::from_secs(10)));
    match &ds.endpoint {
        Endpoint::Tcp { host, port } => config.host(host).port(*port),
        Endpoint::Unix { dir, port } => config.host_path(dir).port(*port),
    };
    if let Some(password) = &ds.password {
        config.password(password);
    }
    if !ds.database.is_empty() {
        config.dbname(&ds.database);
    }
    config
        .connect(postgres::NoTls)
        .map_err(|e| fail(describe(&e)))
}

/// A `postgres` error as the stand-in reports it: a server error in lib/pq's words
/// ([`error_text`]), anything else (I/O, protocol) as the crate words it.
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => error_text(db.message(), db.code().code()),
        None => e.to_string(),
    }
}

fn handshake(conn: &mut dyn Conn, ds: &DataSource) -> Result<(), Failure> {
    let io_err =
        |e: io::Error| Failure::Unreachable(format!("connection broke during startup: {e}"));
    let sslmode = ds.sslmode.as_deref().unwrap_or("require");
    if !matches!(sslmode, "disable" | "allow" | "prefer") {
        let mut req = 8i32.to_be_bytes().to_vec();
        req.extend_from_slice(&SSL_REQUEST_CODE.to_be_bytes());
        conn.write_all(&req).map_err(io_err)?;
        let mut answer = [0u8; 1];
        conn.read_exact(&mut answer).map_err(io_err)?;
        return match answer[0] {
            // The stand-in speaks no TLS; a server ready for it is as far as the check goes.
            b'S' => Ok(()),
            b'N' => Err(Failure::Rejected(format!(
                "pq: SSL is not enabled on the server (sslmode={sslmode})"
            ))),
            other => Err(Failure::Rejected(format!(
                "unexpected answer {:?} to SSLRequest",
                char::from(other)
            ))),
        };
    }
    let user = effective_user(ds);
    conn.write_all(&startup_message(&user, &ds.database))
        .map_err(io_err)?;
    loop {
        let (kind, body) = read_message(conn).map_err(io_err)?;
        match kind {
            b'R' => {
                let code = body
                    .get(..4)
                    .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(-1);
                if code != 0 {
                    // A password (3), MD5 (5) or SASL (10) request: PostgreSQL is there for us.
                    return Ok(());
                }
            }
            b'E' => {
                let fields = error_fields(&body);
                let msg = error_text(error_field(&fields, b'M'), error_field(&fields, b'C'));
                return Err(if error_field(&fields, b'C') == CANNOT_CONNECT_NOW {
                    Failure::Starting(msg)
                } else {
                    Failure::Rejected(msg)
                });
            }
            b'Z' => {
                // ReadyForQuery: role and database exist. Say goodbye politely.
                let _ = conn.write_all(&[b'X', 0, 0, 0, 4]);
                return Ok(());
            }
            // ParameterStatus, BackendKeyData, NoticeResponse, NegotiateProtocolVersion.
            b'S' | b'K' | b'N' | b'v' => {}
            other => {
                return Err(Failure::Rejected(format!(
                    "unexpected PostgreSQL message {:?}",
                    char::from(other)
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn tcp(host: &str, port: u16) -> Endpoint {
        Endpoint::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_the_documented_data_source() {
        let ds = parse_data_source(
            "postgres://mmuser:mmuser-password@db.example.com:5433/mattermost?sslmode=disable&connect_timeout=10",
        )
        .unwrap();
        assert_eq!(ds.endpoint, tcp("db.example.com", 5433));
        assert_eq!(ds.endpoint.to_string(), "db.example.com:5433");
        assert_eq!(ds.user, "mmuser");
        assert_eq!(ds.password.as_deref(), Some("mmuser-password"));
        assert_eq!(ds.database, "mattermost");
        assert_eq!(ds.sslmode.as_deref(), Some("disable"));
        assert_eq!(ds.connect_timeout, Some(Duration::from_secs(10)));
    }

    #[test]
    fn defaults_and_escapes() {
        let ds = parse_data_source("postgresql://mm%40user:p%3Ass@/mattermost_test").unwrap();
        assert_eq!(ds.endpoint, tcp("localhost", 5432));
        assert_eq!(ds.user, "mm@user");
        assert_eq!(ds.password.as_deref(), Some("p:ss"));
        assert_eq!(ds.sslmode, None);

        let ds = parse_data_source(crate::config::DEFAULT_DATA_SOURCE).unwrap();
        assert_eq!(ds.endpoint, tcp("localhost", 5432));
        assert_eq!(ds.database, "mattermost_test");

        let ds = parse_data_source("postgres://u@127.0.0.1").unwrap();
        assert_eq!(ds.endpoint, tcp("127.0.0.1", 5432));
        assert_eq!(ds.password, None);
        assert_eq!(ds.database, "");

        let ds = parse_data_source("postgres://u:p@[::1]:6543/db").unwrap();
        assert_eq!(ds.endpoint, tcp("::1", 6543));
        assert_eq!(ds.endpoint.to_string(), "[::1]:6543");
    }

    #[test]
    fn unix_sockets() {
        let ds =
            parse_data_source("postgres://mmuser:pw@%2Fvar%2Frun%2Fpostgresql/mattermost").unwrap();
        assert_eq!(
            ds.endpoint.socket_path().as_deref(),
            Some("/var/run/postgresql/.s.PGSQL.5432")
        );
        let ds = parse_data_source(
            "postgres://mmuser:pw@/mattermost?host=/var/run/postgresql/&port=5433&sslmode=disable",
        )
        .unwrap();
        assert_eq!(
            ds.endpoint,
            Endpoint::Unix {
                dir: "/var/run/postgresql/".into(),
                port: 5433
            }
        );
        assert_eq!(ds.endpoint.to_string(), "/var/run/postgresql/.s.PGSQL.5433");
        let ds = parse_data_source("postgres://u:p@localhost/db?host=%2Ftmp").unwrap();
        assert_eq!(ds.endpoint.to_string(), "/tmp/.s.PGSQL.5432");
    }

    #[test]
    fn rejects_what_is_not_a_postgres_url() {
        for bad in [
            "mmuser:pw@tcp(localhost:3306)/mattermost",
            "mysql://u:p@h/db",
            "postgres://u:p@h:99999/db",
            "postgres://u:p@h:abc/db",
            "postgres://u:p@[::1/db",
            "postgres://u:p@h/db?connect_timeout=soon",
            "postgres://u:p%zz@h/db",
        ] {
            assert!(parse_data_source(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builds_a_startup_message() {
        let msg = startup_message("mmuser", "mattermost");
        assert_eq!(
            i32::from_be_bytes(msg[..4].try_into().unwrap()) as usize,
            msg.len()
        );
        assert_eq!(&msg[4..8], &PROTOCOL_V3.to_be_bytes());
        assert!(msg.ends_with(b"application_name\0mattermost\0\0"));
        assert!(
            msg.windows(b"user\0mmuser\0database\0mattermost\0".len())
                .any(|w| w == b"user\0mmuser\0database\0mattermost\0")
        );
    }

    /// Serves one connection with `reply` after reading the startup packet.
    fn fake_postgres(reply: Vec<u8>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            let mut rest = vec![0u8; i32::from_be_bytes(len) as usize - 4];
            s.read_exact(&mut rest).unwrap();
            s.write_all(&reply).unwrap();
        });
        port
    }

    fn source(port: u16) -> DataSource {
        parse_data_source(&format!(
            "postgres://mmuser:pw@127.0.0.1:{port}/mattermost?sslmode=disable"
        ))
        .unwrap()
    }

    #[test]
    fn an_md5_request_is_good_enough() {
        let port = fake_postgres(vec![b'R', 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4]);
        check(&source(port), Duration::from_secs(5), &mut |_| {}).unwrap();
    }

    #[test]
    fn trust_auth_then_ready_is_good() {
        let mut reply = vec![b'R', 0, 0, 0, 8, 0, 0, 0, 0];
        reply.extend_from_slice(b"S\0\0\0\x11TimeZone\0UTC\0");
        reply.extend_from_slice(&[b'Z', 0, 0, 0, 5, b'I']);
        let port = fake_postgres(reply);
        check(&source(port), Duration::from_secs(5), &mut |_| {}).unwrap();
    }

    #[test]
    fn an_error_response_fails_with_the_servers_message() {
        let fields = b"SFATAL\0C3D000\0Mdatabase \"mattermost\" does not exist\0\0";
        let mut reply = vec![b'E'];
        reply.extend_from_slice(&((fields.len() + 4) as i32).to_be_bytes());
        reply.extend_from_slice(fields);
        let port = fake_postgres(reply);
        let err = check(&source(port), Duration::from_secs(5), &mut |_| {}).unwrap_err();
        assert!(
            err.contains("database \"mattermost\" does not exist"),
            "{err}"
        );
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    }

    #[test]
    fn connects_over_a_unix_socket() {
        use std::os::unix::net::UnixListener;
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join(".s.PGSQL.5433")).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            let mut rest = vec![0u8; i32::from_be_bytes(len) as usize - 4];
            s.read_exact(&mut rest).unwrap();
            // AuthenticationSASL with SCRAM-SHA-256.
            s.write_all(b"R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0")
                .unwrap();
        });
        let encoded = dir.path().display().to_string().replace('/', "%2F");
        let ds = parse_data_source(&format!(
            "postgres://mmuser:pw@{encoded}:5433/mattermost?sslmode=disable"
        ))
        .unwrap();
        assert_eq!(
            ds.endpoint.to_string(),
            format!("{}/.s.PGSQL.5433", dir.path().display())
        );
        check(&ds, Duration::from_secs(5), &mut |_| {}).unwrap();
    }

    #[test]
    fn ssl_modes() {
        // sslmode=require against a server without SSL fails like lib/pq.
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            std::thread::spawn(move || {
                for answer in [b'N', b'S'] {
                    let (mut s, _) = listener.accept().unwrap();
                    let mut req = [0u8; 8];
                    s.read_exact(&mut req).unwrap();
                    assert_eq!(&req[4..], &SSL_REQUEST_CODE.to_be_bytes());
                    s.write_all(&[answer]).unwrap();
                }
            });
            port
        };
        let ds = parse_data_source(&format!(
            "postgres://u:p@127.0.0.1:{port}/db?sslmode=require"
        ))
        .unwrap();
        let err = check(&ds, Duration::from_secs(5), &mut |_| {}).unwrap_err();
        assert!(err.contains("SSL is not enabled on the server"), "{err}");
        // A server willing to speak TLS is as far as the stand-in can check (no sslmode = require).
        let ds = parse_data_source(&format!("postgres://u:p@127.0.0.1:{port}/db")).unwrap();
        check(&ds, Duration::from_secs(5), &mut |_| {}).unwrap();
    }

    #[test]
    fn nothing_listening_fails_after_the_wait() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let started = Instant::now();
        let mut retries = 0;
        let err = check(&source(port), Duration::from_millis(600), &mut |_| {
            retries += 1
        })
        .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(600));
        assert!(
            err.starts_with(&format!(
                "failed to connect to the database at 127.0.0.1:{port}"
            )),
            "{err}"
        );
        assert_eq!(retries, 1);
    }
}
