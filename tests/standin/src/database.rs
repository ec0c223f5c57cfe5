//! The stand-in's PostgreSQL sessions: parse `SqlSettings.DataSource` the way lib/pq does, log in
//! with the `postgres` crate over TCP or the Unix socket (trust, cleartext, MD5 or SCRAM-SHA-256),
//! and report server errors in lib/pq's words.
//!
//! The startup check logs in as the real server's first ping does (retrying while PostgreSQL is
//! unreachable or still starting): a wrong password, an unknown role or database, or a
//! `pg_hba.conf` refusal fails the start with PostgreSQL's message. The stand-in speaks no TLS:
//! a data source whose `sslmode` requires it (lib/pq's default when `sslmode` is absent) is
//! refused with a message instead.

use std::fmt;
use std::time::{Duration, Instant};

use postgres::error::SqlState;

use crate::url::percent_decode;

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
    /// PostgreSQL refused us for good (wrong password, unknown role or database, pg_hba), or
    /// the data source requires TLS: give up.
    Rejected(String),
}

/// Logs in, retrying unreachable or still-starting servers until `wait` has passed. `Ok` means
/// PostgreSQL accepted the role, its password and the database; `Err` carries the message to
/// exit with.
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
    refuse_tls(ds).map_err(Failure::Rejected)?;
    match connect(ds) {
        // Dropping the client says goodbye (Terminate).
        Ok(_client) => Ok(()),
        Err(e) => Err(match e.as_db_error() {
            // The server is starting up or shutting down: worth retrying.
            Some(db) if *db.code() == SqlState::CANNOT_CONNECT_NOW => {
                Failure::Starting(describe(&e))
            }
            Some(_) => Failure::Rejected(describe(&e)),
            // Refused, unresolvable, timed out, or closed before PostgreSQL answered.
            None => Failure::Unreachable(describe(&e)),
        }),
    }
}

/// The role to log in as: the URL's user, else the OS user as lib/pq does.
fn effective_user(ds: &DataSource) -> String {
    if ds.user.is_empty() {
        std::env::var("USER").unwrap_or_else(|_| "postgres".to_string())
    } else {
        ds.user.clone()
    }
}

/// `pq: <message> (SQLSTATE <code>)`, as lib/pq words a server error.
fn error_text(message: &str, sqlstate: &str) -> String {
    format!("pq: {message} (SQLSTATE {sqlstate})")
}

/// A `postgres` error as the stand-in reports it: a server error in lib/pq's words
/// ([`error_text`]), anything else (I/O, protocol) as the crate words it.
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => error_text(db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// `Err` when the data source's `sslmode` requires TLS, which the stand-in does not speak.
fn refuse_tls(ds: &DataSource) -> Result<(), String> {
    let mode = ds.sslmode.as_deref().unwrap_or("require");
    if matches!(mode, "disable" | "allow" | "prefer") {
        Ok(())
    } else {
        Err(format!(
            "the stand-in speaks no TLS (sslmode={mode}); use sslmode=disable"
        ))
    }
}

/// Logs in as the data source says, without TLS.
fn connect(ds: &DataSource) -> Result<postgres::Client, postgres::Error> {
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
    config.connect(postgres::NoTls)
}

/// Opens a session for the schema migrations and the `db` subcommands; `Err` names the
/// endpoint.
pub fn open(ds: &DataSource) -> Result<postgres::Client, String> {
    let fail = |why: String| format!("cannot open the database at {}: {why}", ds.endpoint);
    refuse_tls(ds).map_err(fail)?;
    connect(ds).map_err(|e| fail(describe(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
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

    /// Answers one connection's StartupMessage with `reply` (raw backend messages).
    fn fake_postgres(
        listener: impl FnOnce() -> Box<dyn ReadWrite> + Send + 'static,
        reply: Vec<u8>,
    ) {
        std::thread::spawn(move || {
            let mut s = listener();
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            let mut rest = vec![0u8; i32::from_be_bytes(len) as usize - 4];
            s.read_exact(&mut rest).unwrap();
            s.write_all(&reply).unwrap();
        });
    }

    trait ReadWrite: Read + Write {}
    impl<T: Read + Write> ReadWrite for T {}

    fn tcp_fake(reply: Vec<u8>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        fake_postgres(move || Box::new(listener.accept().unwrap().0), reply);
        port
    }

    fn source(port: u16) -> DataSource {
        parse_data_source(&format!(
            "postgres://mmuser:pw@127.0.0.1:{port}/mattermost?sslmode=disable"
        ))
        .unwrap()
    }

    /// AuthenticationOk, a ParameterStatus, ReadyForQuery: a trusted login.
    fn trusted_login() -> Vec<u8> {
        let mut reply = vec![b'R', 0, 0, 0, 8, 0, 0, 0, 0];
        reply.extend_from_slice(b"S\0\0\0\x11TimeZone\0UTC\0");
        reply.extend_from_slice(&[b'Z', 0, 0, 0, 5, b'I']);
        reply
    }

    #[test]
    fn a_trusted_login_is_good() {
        let port = tcp_fake(trusted_login());
        check(&source(port), Duration::from_secs(5), &mut |_| {}).unwrap();
    }

    #[test]
    fn an_error_response_fails_with_the_servers_message() {
        let fields = b"SFATAL\0VFATAL\0C3D000\0Mdatabase \"mattermost\" does not exist\0\0";
        let mut reply = vec![b'E'];
        reply.extend_from_slice(&((fields.len() + 4) as i32).to_be_bytes());
        reply.extend_from_slice(fields);
        let port = tcp_fake(reply);
        let err = check(&source(port), Duration::from_secs(5), &mut |_| {}).unwrap_err();
        assert_eq!(
            err,
            format!(
                "failed to connect to the database at 127.0.0.1:{port}: \
                 pq: database \"mattermost\" does not exist (SQLSTATE 3D000)"
            )
        );
    }

    #[test]
    fn connects_over_a_unix_socket() {
        use std::os::unix::net::UnixListener;
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join(".s.PGSQL.5433")).unwrap();
        fake_postgres(
            move || Box::new(listener.accept().unwrap().0),
            trusted_login(),
        );
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
    fn tls_is_refused_without_connecting() {
        // Nothing listens: the refusal comes before any connection attempt, and is final.
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        for query in ["?sslmode=require", "?sslmode=verify-full", ""] {
            let ds =
                parse_data_source(&format!("postgres://u:p@127.0.0.1:{port}/db{query}")).unwrap();
            let started = Instant::now();
            let err = check(&ds, Duration::from_secs(5), &mut |_| {}).unwrap_err();
            assert!(started.elapsed() < Duration::from_secs(1), "{query}");
            assert!(err.contains("the stand-in speaks no TLS"), "{err}");
            let err = open(&ds).err().unwrap();
            assert!(err.contains("the stand-in speaks no TLS"), "{err}");
        }
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
