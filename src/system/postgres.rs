//! PostgreSQL: the local server found however it runs ([`detect_local`]) and administered as the
//! `postgres` OS user over its Unix socket (`runuser -u postgres -- psql -h DIR -p PORT`), its
//! `pg_hba.conf` opened to password logins where the distribution's defaults do not allow them,
//! and any server reached with a connection URL ([`Connection`]): the URL without its password
//! goes on the command line with `-d` (libpq expands a URI only there, not in `PGDATABASE`:
//! mattermost-facts.md §10), the password in `PGPASSWORD`. SQL that carries a password goes to
//! psql's stdin. So no password ever shows up in `ps`, in logs or in error messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::services::{self, SETTLE_LIMIT, UnitState};
use super::{SystemError, run_checked, run_probe};
use crate::context::{CommandLine, Context};

/// The oldest PostgreSQL Mattermost supports (`server_version_num` form): 14.0.
pub const MINIMUM_VERSION_NUM: u32 = 140000;

/// PostgreSQL's default port, for a DataSource when no local socket tells another.
pub const DEFAULT_PORT: u16 = 5432;

/// Run SQL as the `postgres` superuser on the local server, in database `database`, and return
/// psql's unaligned, tuples-only output.
/// The server is reached over the socket [`local_socket`] finds (psql's compiled-in default
/// `/var/run/postgresql:5432` when none is found, so the error names that).
fn local_sql(ctx: &Context, database: &str, sql: &str) -> Result<String, SystemError> {
    let mut command = CommandLine::new("runuser", &["-u", "postgres", "--", "psql"]);
    if let Some(socket) = local_socket(ctx)? {
        let (dir, port) = (socket.dir.display().to_string(), socket.port.to_string());
        command.args.extend(["-h".into(), dir, "-p".into(), port]);
    }
    for arg in ["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", database] {
        command.args.push(arg.into());
    }
    Ok(run_checked(ctx, &command.with_stdin(sql))?
        .stdout
        .trim()
        .to_string())
}

/// Where a local server listens for Unix-socket connections: `<dir>/.s.PGSQL.<port>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub dir: PathBuf,
    pub port: u16,
}

/// Socket directories of the distributions' and PGDG's builds (`/var/run` is `/run` on every
/// supported system; `/tmp` is the upstream default).
const SOCKET_DIRS: [&str; 2] = ["/run/postgresql", "/tmp"];

/// The local server's socket. With several (Debian keeps the old cluster running beside the new
/// one after `pg_upgradecluster`), the newest online cluster `pg_lsclusters` lists wins (the
/// lower port among equals), else the lowest port.
pub fn local_socket(ctx: &Context) -> Result<Option<Socket>, SystemError> {
    let mut sockets = Vec::new();
    for dir in SOCKET_DIRS {
        let dir = ctx.path(dir);
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let port = name
                .to_str()
                .and_then(|n| n.strip_prefix(".s.PGSQL."))
                .and_then(|p| p.parse::<u16>().ok());
            if let Some(port) = port.filter(|p| !sockets.iter().any(|s: &Socket| s.port == *p)) {
                sockets.push(Socket {
                    dir: dir.clone(),
                    port,
                });
            }
        }
    }
    sockets.sort_by_key(|s| s.port);
    if sockets.len() > 1 {
        if let Some(cluster) = debian_clusters(ctx)?
            .into_iter()
            .filter(|c| c.online)
            .max_by_key(|c| (c.version, std::cmp::Reverse(c.port)))
        {
            if let Some(i) = sockets.iter().position(|s| s.port == cluster.port) {
                return Ok(Some(sockets.swap_remove(i)));
            }
        }
    }
    Ok(sockets.into_iter().next())
}

/// A Debian/Ubuntu cluster as `pg_lsclusters` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cluster {
    version: u32,
    name: String,
    port: u16,
    online: bool,
}

/// Debian's clusters (`pg_lsclusters --no-header`: `15 main 5433 online postgres /var/lib/…`);
/// none where the tool does not exist.
fn debian_clusters(ctx: &Context) -> Result<Vec<Cluster>, SystemError> {
    let output = match run_probe(ctx, &CommandLine::new("pg_lsclusters", &["--no-header"])) {
        Ok(output) if output.success() => output,
        Ok(_) | Err(SystemError::CommandNotRun { .. }) => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    Ok(output
        .stdout
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            Some(Cluster {
                version: fields.first()?.parse().ok()?,
                name: fields.get(1)?.to_string(),
                port: fields.get(2)?.parse().ok()?,
                online: fields.get(3)?.starts_with("online"),
            })
        })
        .collect())
}

/// The local PostgreSQL as this host runs it (mattermost-facts.md §10): the distribution's
/// `postgresql.service`, Debian's clusters `postgresql@NN-main.service` under the
/// `postgresql.service` umbrella, PGDG's `postgresql-NN.service` on RHEL, or only a server
/// answering on a local socket or on 127.0.0.1:5432.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalServer {
    /// The unit an admin enables and starts (`postgresql.service`, `postgresql-16.service`)
    /// and its settled state.
    pub unit: Option<(String, UnitState)>,
    /// The unit whose process is the server, for `After=` in mattermost.service: Debian's
    /// `postgresql@15-main.service` rather than its umbrella.
    pub server_unit: Option<String>,
    /// Where the running server answers locally; its port goes into the DataSource.
    pub socket: Option<Socket>,
    /// Something answers on 127.0.0.1:5432 (checked only when no socket was found).
    pub tcp_only: bool,
}

impl LocalServer {
    /// A server runs here: never install or start a second one.
    pub fn running(&self) -> bool {
        self.socket.is_some() || self.tcp_only
    }
}

/// Find the local PostgreSQL. Units that are starting, stopping or reloading are waited for (up
/// to [`SETTLE_LIMIT`]) before their state counts, so a server still starting at boot is not
/// taken for a stopped one.
pub fn detect_local(ctx: &Context) -> Result<LocalServer, SystemError> {
    let mut units = Vec::new();
    for list in ["list-units", "list-unit-files"] {
        let mut args = vec![list, "--type=service", "--plain", "--no-legend", "--full"];
        if list == "list-units" {
            args.push("--all");
        }
        args.push("postgresql*");
        let output = run_checked(ctx, &CommandLine::new("systemctl", &args))?;
        for name in output
            .stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next())
        {
            let server = name == "postgresql.service"
                || (name.starts_with("postgresql@") && !name.ends_with("@.service"))
                || name
                    .strip_prefix("postgresql-")
                    .and_then(|rest| rest.strip_suffix(".service"))
                    .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()));
            if server && !units.iter().any(|(u, _)| u == name) {
                units.push((name.to_string(), UnitState::default()));
            }
        }
    }
    for (unit, state) in &mut units {
        *state = services::unit_state(ctx, unit, SETTLE_LIMIT)?;
    }
    let socket = local_socket(ctx)?;
    let pgdg_version = |name: &str| {
        name.strip_prefix("postgresql-")
            .and_then(|rest| rest.strip_suffix(".service"))
            .and_then(|v| v.parse::<u32>().ok())
    };
    // The unit to manage: the distribution's (or Debian's umbrella), else the newest PGDG one.
    let unit = units
        .iter()
        .find(|(name, _)| name == "postgresql.service")
        .or_else(|| {
            units
                .iter()
                .filter(|(name, _)| pgdg_version(name).is_some())
                .max_by_key(|(name, _)| pgdg_version(name))
        })
        .cloned();
    // The unit that runs the server: the Debian cluster on the socket's port, else the running
    // PGDG unit, else the managed unit.
    let cluster_unit = match &socket {
        Some(socket) => debian_clusters(ctx)?
            .into_iter()
            .find(|c| c.port == socket.port)
            .map(|c| format!("postgresql@{}-{}.service", c.version, c.name)),
        None => None,
    };
    let server_unit = cluster_unit
        .or_else(|| {
            units
                .iter()
                .filter(|(name, state)| pgdg_version(name).is_some() && state.active)
                .max_by_key(|(name, _)| pgdg_version(name))
                .map(|(name, _)| name.clone())
        })
        .or_else(|| unit.as_ref().map(|(name, _)| name.clone()));
    // The loopback address is this host's only when acting on `/` (tests use other roots).
    let tcp_only = socket.is_none()
        && ctx.root() == Path::new("/")
        && TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_PORT)),
            Duration::from_secs(2),
        )
        .is_ok();
    Ok(LocalServer {
        unit,
        server_unit,
        socket,
        tcp_only,
    })
}

/// The path of the running server's `pg_hba.conf` (`SHOW hba_file`): a path on this host as
/// the server sees it.
pub fn hba_file(ctx: &Context) -> Result<PathBuf, SystemError> {
    Ok(PathBuf::from(local_sql(ctx, "postgres", "SHOW hba_file;")?))
}

/// Make the server re-read its configuration (`pg_hba.conf` included), whatever unit runs it.
pub fn reload(ctx: &Context) -> Result<(), SystemError> {
    local_sql(ctx, "postgres", "SELECT pg_reload_conf();").map(drop)
}

/// `pg_hba.conf` `text` with rules that let `role` log in to `database` with a password over
/// TCP from 127.0.0.1 and ::1, or `None` when the rules that decide those logins already ask
/// for a password.
///
/// RHEL-family clusters (`postgresql-setup --initdb`) authenticate TCP logins with `ident`
/// (`host all all 127.0.0.1/32 ident`), so Mattermost, which connects over TCP with a password,
/// is refused. Mattermost's RHEL guide (mattermost/docs
/// `source/install/install-rhel-8-postgresql.rst`, "Modify the file pg_hba.conf") and
/// mattermost-facts.md §10 have the fix: password rules placed before the first rule that
/// matches, since PostgreSQL uses the first matching line. Only the two lines are added;
/// nothing else in the file changes.
pub fn with_password_rules(text: &str, database: &str, role: &str) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut insert_at = None;
    for loopback in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let first = lines
            .iter()
            .enumerate()
            .find_map(|(i, line)| hba_method(line, database, role, loopback).map(|m| (i, m)));
        match first {
            Some((_, method)) if PASSWORD_METHODS.contains(&method.as_str()) => {}
            Some((i, _)) => insert_at = Some(insert_at.map_or(i, |at: usize| at.min(i))),
            None => insert_at = Some(insert_at.unwrap_or(lines.len())),
        }
    }
    let at = insert_at?;
    let rules = format!(
        "# Added by mm-install: Mattermost logs in with a password over TCP.\n\
         host    {database}    {role}    127.0.0.1/32    scram-sha-256\n\
         host    {database}    {role}    ::1/128    scram-sha-256\n"
    );
    let mut edited: String = lines[..at].concat();
    if !edited.is_empty() && !edited.ends_with('\n') {
        edited.push('\n');
    }
    edited.push_str(&rules);
    edited.push_str(&lines[at..].concat());
    Some(edited)
}

/// Methods that accept Mattermost's password (`md5` also accepts SCRAM secrets).
const PASSWORD_METHODS: [&str; 3] = ["scram-sha-256", "md5", "password"];

/// The method of `line` if it is a rule that matches a non-SSL TCP login of `role` to
/// `database` from `address`.
fn hba_method(line: &str, database: &str, role: &str, address: IpAddr) -> Option<String> {
    let line = line.split('#').next().unwrap_or("");
    let fields: Vec<&str> = line.split_whitespace().collect();
    if !matches!(*fields.first()?, "host" | "hostnossl" | "hostnogssenc") {
        return None;
    }
    let listed =
        |field: &str, name: &str| field.split(',').any(|item| item == "all" || item == name);
    if !listed(fields.get(1)?, database) || !listed(fields.get(2)?, role) {
        return None;
    }
    let (matches, method) = match *fields.get(3)? {
        "all" | "samehost" | "samenet" | "localhost" => (true, fields.get(4)?),
        cidr if cidr.contains('/') => {
            let (net, bits) = cidr.split_once('/')?;
            (
                in_network(address, net.parse().ok()?, bits.parse().ok()?),
                fields.get(4)?,
            )
        }
        host => match (host.parse::<IpAddr>(), fields.get(4)?.parse::<IpAddr>()) {
            // `address mask` form.
            (Ok(net), Ok(mask)) => {
                let bits = match mask {
                    IpAddr::V4(m) => u32::from(m).count_ones(),
                    IpAddr::V6(m) => u128::from(m).count_ones(),
                };
                (in_network(address, net, bits), fields.get(5)?)
            }
            (Ok(ip), Err(_)) => (ip == address, fields.get(4)?),
            // A host name: may resolve to loopback; count it as matching.
            (Err(_), _) => (true, fields.get(4)?),
        },
    };
    matches.then(|| method.to_string())
}

fn in_network(address: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (address, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// `server_version_num` of the local server, e.g. 150018 for 15.18.
pub fn local_version_num(ctx: &Context) -> Result<u32, SystemError> {
    parse_version_num(
        &local_sql(ctx, "postgres", "SHOW server_version_num;")?,
        "the local PostgreSQL",
    )
}

fn parse_version_num(text: &str, server: &str) -> Result<u32, SystemError> {
    text.parse().map_err(|_| SystemError::Unexpected {
        what: format!("cannot read the version of {server}"),
        detail: format!("`SHOW server_version_num` returned `{text}`"),
    })
}

/// `postgres://user:secret@host/db?password=secret` → `postgres://user:***@host/db?password=***`,
/// for messages: the password in the user information and in a `password` parameter.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The last `@` ends the user information: a password may contain an unescaped `@`.
    let (userinfo, host_and_rest) = match rest.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, rest),
    };
    let userinfo = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((user, _)) => format!("{user}:***@"),
            None => format!("{info}@"),
        },
        None => String::new(),
    };
    let host_and_rest = match host_and_rest.split_once('?') {
        Some((path, query)) => {
            let parameters: Vec<String> = query
                .split('&')
                .map(|parameter| match parameter.split_once('=') {
                    Some(("password", _)) => "password=***".to_string(),
                    _ => parameter.to_string(),
                })
                .collect();
            format!("{path}?{}", parameters.join("&"))
        }
        None => host_and_rest.to_string(),
    };
    format!("{scheme}://{userinfo}{host_and_rest}")
}

/// SQL string literal quoting.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// SQL identifier quoting.
fn identifier(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The role's stored password hash: `None` when the role does not exist, `Some(None)` when it
/// exists without a password.
pub fn role_password_hash(
    ctx: &Context,
    role: &str,
) -> Result<Option<Option<String>>, SystemError> {
    let sql = format!(
        "SELECT 'exists:' || coalesce(rolpassword, '') FROM pg_authid WHERE rolname = {};",
        literal(role)
    );
    let output = local_sql(ctx, "postgres", &sql)?;
    Ok(output
        .strip_prefix("exists:")
        .map(|hash| (!hash.is_empty()).then(|| hash.to_string())))
}

/// Create a login role with `password`.
pub fn create_role(ctx: &Context, role: &str, password: &str) -> Result<(), SystemError> {
    let sql = format!(
        "CREATE ROLE {} LOGIN PASSWORD {};",
        identifier(role),
        literal(password)
    );
    local_sql(ctx, "postgres", &sql).map(drop)
}

/// Set (or restore) a role's password; `password` may be a stored SCRAM/MD5 hash, which
/// PostgreSQL keeps as is. `None` removes the password.
pub fn set_role_password(
    ctx: &Context,
    role: &str,
    password: Option<&str>,
) -> Result<(), SystemError> {
    let value = password.map_or("NULL".to_string(), literal);
    let sql = format!(
        "ALTER ROLE {} WITH LOGIN PASSWORD {value};",
        identifier(role)
    );
    local_sql(ctx, "postgres", &sql).map(drop)
}

/// `true` when the database exists.
pub fn database_exists(ctx: &Context, database: &str) -> Result<bool, SystemError> {
    let sql = format!(
        "SELECT 1 FROM pg_database WHERE datname = {};",
        literal(database)
    );
    Ok(local_sql(ctx, "postgres", &sql)? == "1")
}

/// Create `database` owned by `owner` per Mattermost's preparation guide: UTF8 from template0,
/// and (for PostgreSQL 15+, harmless before) the `public` schema owned by and open to `owner`.
pub fn create_database(ctx: &Context, database: &str, owner: &str) -> Result<(), SystemError> {
    let (db, owner) = (identifier(database), identifier(owner));
    let create = format!(
        "CREATE DATABASE {db} WITH OWNER {owner} ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0;\n\
         GRANT ALL PRIVILEGES ON DATABASE {db} TO {owner};"
    );
    local_sql(ctx, "postgres", &create)?;
    let schema = format!(
        "ALTER SCHEMA public OWNER TO {owner};\nGRANT USAGE, CREATE ON SCHEMA public TO {owner};"
    );
    local_sql(ctx, database, &schema).map(drop)
}

/// Drop the database if it exists (undo of [`create_database`]).
pub fn drop_database(ctx: &Context, database: &str) -> Result<(), SystemError> {
    local_sql(
        ctx,
        "postgres",
        &format!("DROP DATABASE IF EXISTS {};", identifier(database)),
    )
    .map(drop)
}

/// Drop the role if it exists (undo of [`create_role`]).
pub fn drop_role(ctx: &Context, role: &str) -> Result<(), SystemError> {
    local_sql(
        ctx,
        "postgres",
        &format!("DROP ROLE IF EXISTS {};", identifier(role)),
    )
    .map(drop)
}

/// A fresh random password of `length` letters and digits from the OS's CSPRNG (safe in URLs
/// and SQL without escaping).
pub fn generate_password(length: usize) -> Result<String, SystemError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut password = String::with_capacity(length);
    while password.len() < length {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes).map_err(|err| SystemError::Unexpected {
            what: "cannot read the operating system's random number generator".into(),
            detail: err.to_string(),
        })?;
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - (256 % ALPHABET.len());
        for byte in bytes.iter().filter(|b| (**b as usize) < limit) {
            if password.len() < length {
                password.push(ALPHABET[*byte as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(password)
}

/// A Mattermost `DataSource` turned into what libpq tools take: a URL without the password
/// (for `-d`, which is visible in `ps`) and the password on its own (for `PGPASSWORD`, which is
/// not). Query parameters libpq does not know (Mattermost's `binary_parameters`) are dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    url: String,
    password: Option<String>,
    /// The host named in the URL, if any (see [`Connection::command`]).
    host: Option<String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// libpq connection parameters that may appear in a Mattermost DataSource.
const LIBPQ_PARAMETERS: [&str; 7] = [
    "sslmode",
    "connect_timeout",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "target_session_attrs",
];

/// The connection `config` (a Mattermost config.json, a system path below `/opt`, read without
/// following links) names in `SqlSettings.DataSource`, with its client files checked
/// ([`Connection::check_client_files`]).
pub fn connection_from_config(ctx: &Context, config: &Path) -> Result<Connection, SystemError> {
    let text = super::beneath::read_to_string(ctx, config)?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| SystemError::Unexpected {
            what: ctx.path(config).display().to_string(),
            detail: format!("is not valid JSON: {err}"),
        })?;
    let data_source = json["SqlSettings"]["DataSource"]
        .as_str()
        .unwrap_or_default();
    let connection = Connection::from_data_source(data_source)?;
    connection.check_client_files(ctx)?;
    Ok(connection)
}

/// A path that can never exist (`/dev/null` is not a directory): libpq finds no password file.
const NO_PASSWORD_FILE: &str = "/dev/null/pgpass";

impl Connection {
    /// Parse `postgres://user:password@host:port/db?params`.
    pub fn from_data_source(data_source: &str) -> Result<Connection, SystemError> {
        let invalid = || SystemError::Unexpected {
            what: format!("the database URL {}", redact_password(data_source)),
            detail: "is not a postgres://user:password@host/database URL".into(),
        };
        let (scheme, rest) = data_source.split_once("://").ok_or_else(invalid)?;
        if scheme != "postgres" && scheme != "postgresql" {
            return Err(invalid());
        }
        let (authority_and_path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (userinfo, host_and_path) = authority_and_path.rsplit_once('@').ok_or_else(invalid)?;
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(percent_decode(password))),
            None => (userinfo, None),
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                pair.split('=')
                    .next()
                    .is_some_and(|key| LIBPQ_PARAMETERS.contains(&key))
            })
            .collect();
        let mut url = format!("postgres://{user}@{host_and_path}");
        if !kept.is_empty() {
            url.push('?');
            url.push_str(&kept.join("&"));
        }
        let authority = host_and_path.split('/').next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        Ok(Connection {
            url,
            password,
            host: (!host.is_empty()).then(|| host.to_string()),
        })
    }

    /// The URL without its password, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which database this is, `postgres://user@host:port/database` without parameters: what
    /// mm-install pins in its root-owned state, so that a `config.json` the service user edited
    /// cannot point root's database tools elsewhere.
    pub fn identity(&self) -> &str {
        self.url.split('?').next().unwrap_or(&self.url)
    }

    /// The client files the URL names (`sslcert`, `sslkey`, `sslrootcert`) must be root's
    /// alone: libpq reads them as root, so one the service user controls (or names, like
    /// `/etc/shadow`) would be read, and its contents could leak into error messages.
    pub fn check_client_files(&self, ctx: &Context) -> Result<(), SystemError> {
        let query = self.url.split_once('?').map_or("", |(_, query)| query);
        for (parameter, path) in query.split('&').filter_map(|pair| pair.split_once('=')) {
            if !["sslcert", "sslkey", "sslrootcert"].contains(&parameter) {
                continue;
            }
            let refuse = |reason: String| SystemError::Unexpected {
                what: format!("the database URL's {parameter}={path}"),
                detail: format!(
                    "{reason}; mm-install runs the database tools as root and reads only client files root alone controls"
                ),
            };
            let meta = fs_err::metadata(ctx.path(path)).map_err(|err| refuse(err.to_string()))?;
            if !meta.is_file() || super::files::exposure(&meta, 0o022).is_some() {
                let owner = nix::unistd::geteuid().as_raw();
                return Err(refuse(format!(
                    "it is not a regular file owned by uid {owner} and writable by it alone"
                )));
            }
        }
        Ok(())
    }

    /// `command` pointed at this database.
    ///
    /// `PGHOST` repeats the URL's host: libpq ignores it (the URL's host wins), but Debian's
    /// `pg_wrapper` (which `/usr/bin/psql` and `pg_dump` are there) reads it and then runs the
    /// newest installed client instead of the local cluster's version, which cannot dump a
    /// newer server.
    ///
    /// None of root's environment reaches the tool (`PGSSLKEY`, `PGSERVICE`, `PGOPTIONS`, …), and
    /// `PGPASSFILE` names a path that cannot exist, so root's `~/.pgpass` (which may hold
    /// passwords for other databases) is never consulted.
    fn command(&self, program: &str, args: &[&str]) -> CommandLine {
        let mut command = CommandLine::new(program, args)
            .with_clean_environment()
            .with_env("PGPASSFILE", NO_PASSWORD_FILE);
        command.args.extend(["-d".to_string(), self.url.clone()]);
        if let Some(password) = &self.password {
            command = command.with_env("PGPASSWORD", password);
        }
        if let Some(host) = &self.host {
            command = command.with_env("PGHOST", host);
        }
        command.with_env("PGCONNECT_TIMEOUT", "10")
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `pg_dump -Fc` of the database into `file` (custom format, restorable with [`restore`]).
pub fn dump(
    ctx: &Context,
    connection: &Connection,
    file: &std::path::Path,
) -> Result<(), SystemError> {
    let file = file.display().to_string();
    // Schemas a restore kept aside (the replaced data, until the admin drops it) are not part
    // of the server's database: dumping them would grow every later dump by a full copy.
    let kept_aside = format!("--exclude-schema={LEGACY_ASIDE}*");
    run_checked(
        ctx,
        &connection.command("pg_dump", &["-Fc", "--no-owner", &kept_aside, "-f", &file]),
    )
    .map(drop)
}

/// The table of contents of the custom-format dump `file` (`pg_restore --list`): reading it
/// proves the archive is complete and readable (a truncated or corrupt file fails here).
/// Returns the number of tables whose data the dump holds (`TABLE DATA` entries).
pub fn verify_dump(ctx: &Context, file: &std::path::Path) -> Result<usize, SystemError> {
    Ok(listing(ctx, file)?
        .lines()
        .filter(|line| !line.starts_with(';') && line.contains(" TABLE DATA "))
        .count())
}

/// `pg_restore --list` of the custom-format dump `file`.
fn listing(ctx: &Context, file: &std::path::Path) -> Result<String, SystemError> {
    let file = file.display().to_string();
    let command = CommandLine::new("pg_restore", &["--list", &file])
        .with_clean_environment()
        .with_env("PGPASSFILE", NO_PASSWORD_FILE);
    Ok(run_checked(ctx, &command)?.stdout)
}

/// The name an older mm-install gave the schema a restore set aside: one still there was left
/// by a restore of that version that was interrupted, and may hold the only copy of the data.
const LEGACY_ASIDE: &str = "mm_install_replaced";

/// The `application_name` of a restore's session: an undo finds one still running (its psql
/// outlived a killed mm-install) and ends it before deciding what the restore did.
const RESTORE_APPLICATION: &str = "mm-install restore";

/// The shell pipeline of [`restore`], with no interpolation: `$1` is the dump, the remaining
/// arguments the psql command. Only the `public` schema is restored (`-n public`): the one the
/// restore replaces; other schemas in the dump, such as one an earlier restore kept aside, stay
/// as they are in the database. The line that marks the script complete is written only when
/// `pg_restore` succeeded, and the final check refuses to commit without it.
const RESTORE_PIPELINE: &str = r#"dump="$1"; shift; { pg_restore --no-owner -n public -f - -- "$dump" && printf '%s\n' "SET LOCAL mm_install.restore_complete = 'yes';"; } | "$@""#;

/// A fresh name for the schema a restore sets aside: `mm_install_replaced_20261129t041500`.
pub fn aside_schema() -> String {
    format!(
        "{LEGACY_ASIDE}_{}",
        jiff::Timestamp::now().strftime("%Y%m%dt%H%M%S")
    )
}

/// Whether the schema `name` exists in `connection`'s database.
pub fn schema_exists(
    ctx: &Context,
    connection: &Connection,
    name: &str,
) -> Result<bool, SystemError> {
    let sql = format!(
        "SELECT count(*) FROM pg_namespace WHERE nspname = {}",
        literal(name)
    );
    let output = run_checked(
        ctx,
        &connection.command("psql", &["-X", "-q", "-tA", "-c", &sql]),
    )?;
    Ok(output.stdout.trim() != "0")
}

/// Put the database back exactly as it was in `file`, in ONE transaction: the current `public`
/// schema is renamed to `aside` (a name from [`aside_schema`]), the dump's SQL script
/// (`pg_restore -f -`, streamed, never held in memory) fills a fresh `public`, and a check
/// refuses to commit unless the script ran to its end and `public` holds as many tables as the
/// dump. A kill or a failure at any moment leaves either the old schema or the restored one
/// whole under `public`; the replaced one stays under `aside` (never dropped here: see
/// [`put_back`], and docs/upgrade.md for who drops it).
///
/// Refused before any change: a schema left under the fixed name an older mm-install used
/// (it may hold the only copy of the data, issue 11 gap 5), and a dump with large objects
/// (they live outside the schema, and their restore script commits on its own; Mattermost
/// stores none).
pub fn restore(
    ctx: &Context,
    connection: &Connection,
    file: &std::path::Path,
    aside: &str,
) -> Result<(), SystemError> {
    if schema_exists(ctx, connection, LEGACY_ASIDE)? {
        return Err(SystemError::Unexpected {
            what: format!("the schema {LEGACY_ASIDE} in {}", connection.url),
            detail: format!(
                "exists: an earlier restore of the database was interrupted, and that schema may hold the only copy of the data; compare it with `public`, keep the one you need (`ALTER SCHEMA {LEGACY_ASIDE} RENAME TO public` after dropping the other) and drop the rest before restoring {}",
                file.display()
            ),
        });
    }
    let listing = listing(ctx, file)?;
    let entries = || {
        listing
            .lines()
            .filter(|line| !line.starts_with(';'))
            .map(|line| line.split_whitespace().skip(3).collect::<Vec<_>>())
    };
    if entries().any(|fields| matches!(fields.first(), Some(&("BLOB" | "BLOBS")))) {
        return Err(SystemError::Unexpected {
            what: format!("the dump {}", file.display()),
            detail: "holds large objects, which live outside the schema a restore swaps and whose restore script commits on its own (Mattermost stores none); restore it by hand with pg_restore".into(),
        });
    }
    let tables = entries()
        .filter(|fields| fields.get(..2) == Some(&["TABLE", "public"][..]))
        .count();
    let swap = format!(
        "ALTER SCHEMA public RENAME TO {}; CREATE SCHEMA public",
        identifier(aside)
    );
    let check = format!(
        "DO $$ BEGIN \
         IF current_setting('mm_install.restore_complete', true) IS DISTINCT FROM 'yes' THEN \
         RAISE EXCEPTION 'the restore script did not run to its end'; END IF; \
         IF (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') <> {tables} THEN \
         RAISE EXCEPTION 'the restored schema has % tables, the dump {tables}', \
         (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'); END IF; END $$"
    );
    let psql = connection
        .command(
            "psql",
            &[
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "--single-transaction",
                "-c",
                &swap,
                "-f",
                "-",
                "-c",
                &check,
            ],
        )
        .with_env("PGAPPNAME", RESTORE_APPLICATION);
    let mut command = CommandLine {
        program: "sh".into(),
        args: vec![
            "-c".into(),
            RESTORE_PIPELINE.into(),
            "mm-install-restore".into(),
            file.display().to_string(),
            psql.program.clone(),
        ],
        ..psql.clone()
    };
    command.args.extend(psql.args);
    run_checked(ctx, &command).map(drop)
}

/// End every [`restore`] session still running in `connection`'s database (its psql can
/// outlive a killed mm-install), waiting up to 10 s for each: its transaction rolls back, unless
/// it had committed. Run before deciding what an interrupted restore did.
pub fn end_running_restores(ctx: &Context, connection: &Connection) -> Result<(), SystemError> {
    let terminate = format!(
        "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity \
         WHERE application_name = {} AND datname = current_database() AND pid <> pg_backend_pid()",
        literal(RESTORE_APPLICATION)
    );
    let command = connection.command(
        "psql",
        &["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", &terminate],
    );
    run_checked(ctx, &command).map(drop)
}

/// Take a [`restore`] back: end any restore session still running (its transaction is rolled
/// back, or it had committed), then, only if the schema `aside` exists (the restore committed),
/// drop the restored `public` (a copy of the dump) and rename `aside` to `public`, in one
/// transaction. Returns whether it swapped back.
pub fn put_back(ctx: &Context, connection: &Connection, aside: &str) -> Result<bool, SystemError> {
    end_running_restores(ctx, connection)?;
    if !schema_exists(ctx, connection, aside)? {
        return Ok(false);
    }
    let swap = format!(
        "DROP SCHEMA public CASCADE; ALTER SCHEMA {} RENAME TO public",
        identifier(aside)
    );
    run_checked(
        ctx,
        &connection.command(
            "psql",
            &[
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "--single-transaction",
                "-c",
                &swap,
            ],
        ),
    )?;
    Ok(true)
}

/// `server_version_num` of the server behind `connection`. This is the connection check: a
/// wrong password, an unreachable host or a missing database is a
/// [`SystemError::DatabaseUnreachable`] naming the URL without its password.
pub fn version_num(ctx: &Context, connection: &Connection) -> Result<u32, SystemError> {
    let command = connection.command(
        "psql",
        &["-X", "-q", "-tA", "-c", "SHOW server_version_num"],
    );
    let output = run_checked(ctx, &command).map_err(|err| match err {
        SystemError::CommandFailed { stderr, .. } => SystemError::DatabaseUnreachable {
            url: connection.url.clone(),
            detail: stderr,
        },
        other => other,
    })?;
    parse_version_num(output.stdout.trim(), &connection.url)
}

/// The size of `connection`'s database in bytes (`pg_database_size`): an upper bound for its
/// compressed custom-format dump.
pub fn database_size(ctx: &Context, connection: &Connection) -> Result<u64, SystemError> {
    let command = connection.command(
        "psql",
        &[
            "-X",
            "-q",
            "-tA",
            "-c",
            "SELECT pg_database_size(current_database())",
        ],
    );
    let output = run_checked(ctx, &command)?;
    let text = output.stdout.trim();
    text.parse().map_err(|_| SystemError::Unexpected {
        what: format!("the size of the database at {}", connection.url),
        detail: format!("`pg_database_size` returned `{text}`"),
    })
}

/// The version of the `pg_dump` that [`dump`] runs for `connection` (`15.18` from
/// `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`). Asked with the dump's own
/// connection arguments and environment, so Debian's `pg_wrapper` picks the same binary; every
/// PostgreSQL tool answers `--version` given first and ignores the rest.
pub fn pg_dump_version(ctx: &Context, connection: &Connection) -> Result<String, SystemError> {
    let output = run_checked(ctx, &connection.command("pg_dump", &["--version"]))?;
    output
        .stdout
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
        .ok_or_else(|| SystemError::Unexpected {
            what: "cannot read the version of pg_dump".into(),
            detail: format!("`pg_dump --version` printed `{}`", output.stdout.trim()),
        })
}

/// The major version in a PostgreSQL version string: `15.18` → 15, `16beta1` → 16, `9.6.24` → 9.
pub fn major_version(version: &str) -> Option<u32> {
    let digits: String = version.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// One row of Mattermost's `db_migrations` table, where its migration engine (morph) records
/// every applied migration: `version bigint`, `name varchar` (morph's
/// `drivers/postgres/postgres.go`, `CreateSchemaTableIfNotExists`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub name: String,
}

/// The migrations applied to `connection`'s database, highest version first; none when the
/// table does not exist yet (a database no Mattermost server has started on).
pub fn applied_migrations(
    ctx: &Context,
    connection: &Connection,
) -> Result<Vec<AppliedMigration>, SystemError> {
    let query = |sql: &str| {
        let command = connection.command(
            "psql",
            &[
                "-X",
                "-q",
                "-tA",
                "-F",
                "\t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
        );
        run_checked(ctx, &command).map(|output| output.stdout)
    };
    if query("SELECT to_regclass('db_migrations') IS NOT NULL")?.trim() != "t" {
        return Ok(Vec::new());
    }
    let text = query("SELECT version, name FROM db_migrations ORDER BY version DESC")?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (version, name) = line.split_once('\t').unwrap_or((line, ""));
            let version = version
                .trim()
                .parse()
                .map_err(|_| SystemError::Unexpected {
                    what: format!("the db_migrations table of {}", connection.url),
                    detail: format!("holds the row `{line}`, whose version is not a number"),
                })?;
            Ok(AppliedMigration {
                version,
                name: name.to_string(),
            })
        })
        .collect()
}

/// The schema a database was on when mm-install recorded it (a backup's `database.json`, a kept
/// release in the state file, a journaled guard): `{"head": 128}`, or `{"head": null}` when no
/// migration was recorded. Files written before mm-install read `db_migrations` have no such
/// record: an `Option<SchemaHead>` that is `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchemaHead {
    pub head: Option<i64>,
}

/// The highest migration version applied to `connection`'s database (`mattermost db version`):
/// the schema a Mattermost release runs on. `None` when no migration is recorded (the table
/// does not exist yet, or is empty).
pub fn migrations_head(ctx: &Context, connection: &Connection) -> Result<Option<i64>, SystemError> {
    Ok(applied_migrations(ctx, connection)?
        .first()
        .map(|migration| migration.version))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::system::fake::FakeRunner;

    #[test]
    fn data_sources_become_password_free_urls() {
        let connection = Connection::from_data_source(
            "postgres://mmuser:p%40ss@localhost:5432/mattermost?sslmode=disable&connect_timeout=10&binary_parameters=yes",
        )
        .unwrap();
        assert_eq!(
            connection.url,
            "postgres://mmuser@localhost:5432/mattermost?sslmode=disable&connect_timeout=10"
        );
        assert_eq!(connection.password.as_deref(), Some("p@ss"));
        assert!(!format!("{connection:?}").contains("p@ss"));
        let command = connection.command("pg_dump", &["-Fc"]);
        assert!(!command.to_string().contains("p@ss"));
        assert!(
            command
                .env
                .contains(&("PGPASSWORD".to_string(), "p@ss".to_string()))
        );
        let err = Connection::from_data_source("mysql://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn passwords_are_random_and_url_safe() {
        let a = generate_password(32).unwrap();
        let b = generate_password(32).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn passwords_go_to_stdin_never_to_the_command_line() {
        let runner = Arc::new(FakeRunner::default());
        let ctx = Context::default().with_runner(runner.clone());
        create_role(&ctx, "mmuser", "s3cretPass").unwrap();
        let log = runner.log.lock().unwrap();
        assert!(!log[0].to_string().contains("s3cretPass"));
        let sql = String::from_utf8(log[0].stdin.clone().unwrap()).unwrap();
        assert_eq!(sql, "CREATE ROLE \"mmuser\" LOGIN PASSWORD 's3cretPass';");
        assert!(
            log[0]
                .to_string()
                .starts_with("runuser -u postgres -- psql")
        );
    }

    #[test]
    fn the_connection_check_puts_the_url_on_the_command_line_and_redacts_failures() {
        // libpq expands a URI only as a command-line dbname, never from PGDATABASE
        // (mattermost-facts.md §10).
        let runner = Arc::new(FakeRunner::default());
        runner.answer("psql", 2, "");
        let ctx = Context::default().with_runner(runner.clone());
        let url = "postgres://mmuser:hunter2@db.example:5433/mattermost?sslmode=require";
        let connection = Connection::from_data_source(url).unwrap();
        let err = version_num(&ctx, &connection).unwrap_err();
        assert!(
            matches!(err, SystemError::DatabaseUnreachable { .. }),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("postgres://mmuser@db.example:5433/mattermost?sslmode=require"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        let log = runner.log.lock().unwrap();
        let line = log[0].to_string();
        assert!(!line.contains("hunter2"), "{line}");
        assert!(
            line.ends_with("-d 'postgres://mmuser@db.example:5433/mattermost?sslmode=require'")
                || line
                    .ends_with("-d postgres://mmuser@db.example:5433/mattermost?sslmode=require"),
            "{line}"
        );
        assert!(log[0].env.iter().all(|(name, _)| name != "PGDATABASE"));
        assert!(log[0].env.contains(&("PGHOST".into(), "db.example".into())));
        // Nothing of root's environment or ~/.pgpass reaches the tool.
        assert!(log[0].clean_environment);
        assert!(
            log[0]
                .env
                .contains(&("PGPASSFILE".into(), NO_PASSWORD_FILE.into()))
        );
        assert_eq!(
            connection.identity(),
            "postgres://mmuser@db.example:5433/mattermost"
        );
    }

    /// libpq reads `sslkey` and friends as root: a DataSource the service user wrote must not
    /// make root read a file that user controls, or any file (`/etc/shadow`) that is not a
    /// client file root set up.
    #[test]
    fn client_files_in_the_url_must_be_roots_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path());
        let key = dir.path().join("client.key");
        fs_err::write(&key, "key").unwrap();
        fs_err::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let url = |path: &str| {
            Connection::from_data_source(&format!(
                "postgres://mmuser:x@db/mattermost?sslmode=verify-full&sslkey={path}"
            ))
            .unwrap()
        };
        url("/client.key").check_client_files(&ctx).unwrap();
        fs_err::set_permissions(&key, std::fs::Permissions::from_mode(0o620)).unwrap();
        let err = url("/client.key").check_client_files(&ctx).unwrap_err();
        assert!(err.to_string().contains("sslkey=/client.key"), "{err}");
        fs_err::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(&key, Some(65534), None).unwrap();
            assert!(url("/client.key").check_client_files(&ctx).is_err());
        }
        let missing = url("/etc/missing-key")
            .check_client_files(&ctx)
            .unwrap_err();
        assert!(
            missing.to_string().contains("/etc/missing-key"),
            "{missing}"
        );
        // A directory is not a client file either.
        assert!(url("/").check_client_files(&ctx).is_err());
    }

    /// Issue 11, gap 5: a restore of an older mm-install killed after it renamed `public`
    /// aside left the data there; the next restore used to start with `DROP SCHEMA IF EXISTS
    /// … CASCADE`.
    #[test]
    fn a_schema_left_aside_by_an_interrupted_restore_is_never_dropped() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer(
            "psql -X -q -tA -c 'SELECT count(*) FROM pg_namespace WHERE nspname = '\\''mm_install_replaced'\\'''",
            0,
            "1\n",
        );
        let ctx = Context::default().with_runner(runner.clone());
        let connection =
            Connection::from_data_source("postgres://mmuser:pw@localhost/mattermost").unwrap();
        let dump = Path::new("/b/database.dump");
        let err = restore(&ctx, &connection, dump, "mm_install_replaced_1").unwrap_err();
        assert!(err.to_string().contains("may hold the only copy"), "{err}");
        assert_eq!(runner.lines().len(), 1, "{:?}", runner.lines());
    }

    /// The whole swap is one psql transaction fed by `pg_restore -f -` through a fixed shell
    /// script (the dump's path is an argument, never part of the script), and its check
    /// expects the dump's own table count.
    #[test]
    fn a_restore_is_one_transaction_checked_against_the_dump() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer(
            "psql -X -q -tA -c 'SELECT count(*) FROM pg_namespace",
            0,
            "0\n",
        );
        runner.answer(
            "pg_restore --list",
            0,
            ";\n; Archive created\n216; 1259 16395 TABLE public db_migrations mmuser\n\
             215; 1259 16387 TABLE public posts mmuser\n\
             3348; 0 16395 TABLE DATA public db_migrations mmuser\n",
        );
        let ctx = Context::default().with_runner(runner.clone());
        let connection =
            Connection::from_data_source("postgres://mmuser:pw@localhost/mattermost").unwrap();
        let dump = Path::new("/b/it's $(here).dump");
        restore(&ctx, &connection, dump, "mm_install_replaced_1").unwrap();
        let log = runner.log.lock().unwrap().clone();
        let swap = log.last().unwrap();
        assert_eq!(swap.program, "sh");
        assert_eq!(swap.args[1], RESTORE_PIPELINE);
        assert_eq!(swap.args[3], dump.display().to_string());
        assert!(swap.args[4..6] == ["psql", "-X"], "{swap}");
        assert!(
            swap.args.contains(&"--single-transaction".to_string()),
            "{swap}"
        );
        let aside = "ALTER SCHEMA public RENAME TO \"mm_install_replaced_1\"; CREATE SCHEMA public";
        assert!(swap.args.contains(&aside.to_string()), "{swap}");
        assert!(swap.args.iter().any(|a| a.contains("<> 2 THEN")), "{swap}");
        assert!(!swap.to_string().contains("DROP"), "{swap}");
        assert!(swap.env.contains(&("PGPASSWORD".into(), "pw".into())));
        assert!(
            swap.env
                .contains(&("PGAPPNAME".into(), RESTORE_APPLICATION.into()))
        );
        // Large objects are refused before any change.
        runner.answer(
            "pg_restore --list",
            0,
            "3349; 2613 16400 BLOB - 16400 mmuser\n",
        );
        let before = runner.lines().len();
        let err = restore(&ctx, &connection, dump, "mm_install_replaced_2").unwrap_err();
        assert!(err.to_string().contains("large objects"), "{err}");
        assert_eq!(runner.lines().len(), before + 2, "{:?}", runner.lines());
    }

    /// The undo ends a restore session still running first, then swaps back only if the
    /// replaced schema exists.
    #[test]
    fn a_restore_is_put_back_only_if_it_committed() {
        let runner = Arc::new(FakeRunner::default());
        let exists = "psql -X -q -tA -c 'SELECT count(*) FROM pg_namespace";
        runner.answer(exists, 0, "0\n");
        let ctx = Context::default().with_runner(runner.clone());
        let connection =
            Connection::from_data_source("postgres://mmuser:pw@localhost/mattermost").unwrap();
        assert!(!put_back(&ctx, &connection, "mm_install_replaced_1").unwrap());
        let lines = runner.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("pg_terminate_backend"), "{lines:?}");
        runner.answer(exists, 0, "1\n");
        assert!(put_back(&ctx, &connection, "mm_install_replaced_1").unwrap());
        let lines = runner.lines();
        let swap =
            "DROP SCHEMA public CASCADE; ALTER SCHEMA \"mm_install_replaced_1\" RENAME TO public";
        assert!(lines[4].contains(swap), "{lines:?}");
        assert!(lines[4].contains("--single-transaction"), "{lines:?}");
    }

    #[test]
    fn pg_dump_versions_are_read_from_its_banner() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer(
            "pg_dump --version",
            0,
            "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n",
        );
        let ctx = Context::default().with_runner(runner.clone());
        let connection =
            Connection::from_data_source("postgres://mmuser:pw@[::1]:5432/mattermost").unwrap();
        assert_eq!(pg_dump_version(&ctx, &connection).unwrap(), "15.18");
        assert!(
            runner.log.lock().unwrap()[0]
                .env
                .contains(&("PGHOST".into(), "::1".into()))
        );
        assert_eq!(major_version("15.18"), Some(15));
        assert_eq!(major_version("16beta1"), Some(16));
        assert_eq!(major_version("9.6.24"), Some(9));
        assert_eq!(major_version("x"), None);
    }

    #[test]
    fn redaction_hides_passwords_in_the_user_information_and_the_parameters() {
        for (url, redacted) in [
            ("postgres://u:p@ss@db:5432/x", "postgres://u:***@db:5432/x"),
            (
                "postgres://u@db/x?sslmode=require&password=s3cret",
                "postgres://u@db/x?sslmode=require&password=***",
            ),
            (
                "postgres://db/x?password=s3cret&user=u",
                "postgres://db/x?password=***&user=u",
            ),
            (
                "postgres://u:a@b/x?password=c",
                "postgres://u:***@b/x?password=***",
            ),
            (
                "postgres://u@db/x?sslmode=require",
                "postgres://u@db/x?sslmode=require",
            ),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_password(url), redacted, "{url}");
        }
    }

    /// A temporary root with PostgreSQL sockets named `<dir>/.s.PGSQL.<port>` (only the names
    /// are read).
    fn root_with_sockets(sockets: &[(&str, u16)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (dir, port) in sockets {
            let dir = root.path().join(dir.trim_start_matches('/'));
            fs_err::create_dir_all(&dir).unwrap();
            fs_err::write(dir.join(format!(".s.PGSQL.{port}")), "").unwrap();
            fs_err::write(dir.join(format!(".s.PGSQL.{port}.lock")), "").unwrap();
        }
        root
    }

    fn detect(root: &Path, runner: &Arc<FakeRunner>) -> LocalServer {
        detect_local(&Context::live_for_test(root, runner.clone())).unwrap()
    }

    const ACTIVE_ENABLED: &str = "ActiveState=active\nUnitFileState=enabled\n";

    // Debian/Ubuntu (postgresql-common): the umbrella postgresql.service (active, exited) and
    // one unit per cluster; a cluster created while 5432 was taken listens on 5433
    // (mattermost-facts.md §10).
    #[test]
    fn a_debian_cluster_is_found_with_its_unit_and_real_port() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer(
            "systemctl list-units",
            0,
            "postgresql.service loaded active exited PostgreSQL RDBMS\n\
             postgresql@15-main.service loaded active running PostgreSQL Cluster 15-main\n",
        );
        runner.answer(
            "systemctl list-unit-files",
            0,
            "postgresql.service enabled enabled\npostgresql@.service indirect enabled\n",
        );
        runner.answer("systemctl show", 0, ACTIVE_ENABLED);
        runner.answer(
            "pg_lsclusters",
            0,
            "15  main    5433 online postgres /var/lib/postgresql/15/main /var/log/postgresql/postgresql-15-main.log\n",
        );
        let root = root_with_sockets(&[("/run/postgresql", 5433)]);
        let local = detect(root.path(), &runner);
        assert!(local.running());
        assert_eq!(
            local.unit,
            Some((
                "postgresql.service".into(),
                UnitState {
                    enabled: true,
                    active: true
                }
            ))
        );
        assert_eq!(
            local.server_unit.as_deref(),
            Some("postgresql@15-main.service")
        );
        assert_eq!(
            local.socket,
            Some(Socket {
                dir: root.path().join("run/postgresql"),
                port: 5433
            })
        );
        // psql goes to that socket.
        local_version_num(&Context::live_for_test(root.path(), runner.clone())).unwrap_err();
        let psql = runner
            .lines()
            .into_iter()
            .find(|l| l.starts_with("runuser"))
            .unwrap();
        assert!(psql.contains(" -p 5433 "), "{psql}");
        // Templates are not units; each listed unit's state is read once.
        let shows: Vec<String> = runner
            .lines()
            .into_iter()
            .filter(|l| l.starts_with("systemctl show"))
            .collect();
        assert_eq!(shows.len(), 2, "{shows:?}");
    }

    // Debian after pg_upgradecluster: the old cluster still runs on 5432, the new one on 5433.
    #[test]
    fn the_newest_online_cluster_wins() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer(
            "pg_lsclusters",
            0,
            "15 main 5432 online postgres /a /b\n16 main 5433 online postgres /c /d\n",
        );
        let root = root_with_sockets(&[("/run/postgresql", 5432), ("/run/postgresql", 5433)]);
        let local = detect(root.path(), &runner);
        assert_eq!(local.socket.map(|s| s.port), Some(5433));
        assert_eq!(
            local.server_unit.as_deref(),
            Some("postgresql@16-main.service")
        );
    }

    // PGDG on RHEL: postgresql-NN.service, data in /var/lib/pgsql/NN/data, sockets in both
    // /run/postgresql and /tmp (mattermost-facts.md §10).
    #[test]
    fn a_pgdg_unit_on_rhel_is_found() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer(
            "systemctl list-units",
            0,
            "postgresql-16.service loaded active running PostgreSQL 16 database server\n",
        );
        runner.answer(
            "systemctl list-unit-files",
            0,
            "postgresql-16.service enabled disabled\n",
        );
        runner.answer("systemctl show", 0, ACTIVE_ENABLED);
        runner.answer("pg_lsclusters", 127, "");
        let root = root_with_sockets(&[("/run/postgresql", 5432), ("/tmp", 5432)]);
        let local = detect(root.path(), &runner);
        assert_eq!(
            local.unit.map(|(u, _)| u).as_deref(),
            Some("postgresql-16.service")
        );
        assert_eq!(local.server_unit.as_deref(), Some("postgresql-16.service"));
        assert_eq!(local.socket.map(|s| s.port), Some(5432));
    }

    // A server systemd does not run (started by hand, another init, a container with its
    // socket directory shared): still a server, never to be doubled.
    #[test]
    fn a_server_answering_only_on_its_socket_is_found() {
        let runner = Arc::new(FakeRunner::default());
        let root = root_with_sockets(&[("/tmp", 5432)]);
        let local = detect(root.path(), &runner);
        assert!(local.running());
        assert_eq!(local.unit, None);
        assert_eq!(local.server_unit, None);
        assert_eq!(
            local.socket,
            Some(Socket {
                dir: root.path().join("tmp"),
                port: 5432
            })
        );
        let empty = tempfile::tempdir().unwrap();
        let none = detect(empty.path(), &runner);
        assert!(!none.running());
        assert_eq!(none.unit, None);
    }

    // The reproduced CI failure (issue 9): the cluster was still `activating` when the plan was
    // made. The state is read again until it settles.
    #[test]
    fn a_starting_unit_is_waited_for() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer("systemctl show", 0, ACTIVE_ENABLED);
        runner.answer_times(
            "systemctl show",
            0,
            "ActiveState=activating\nUnitFileState=enabled\n",
            2,
        );
        let ctx = Context::default().with_runner(runner.clone());
        let state =
            services::unit_state(&ctx, "postgresql.service", Duration::from_secs(10)).unwrap();
        assert_eq!(
            state,
            UnitState {
                enabled: true,
                active: true
            }
        );
        assert_eq!(runner.lines().len(), 3);
        // The wait is bounded: past the limit, a unit still starting counts as not running.
        runner.answer(
            "systemctl show",
            0,
            "ActiveState=activating\nUnitFileState=disabled\n",
        );
        let started = std::time::Instant::now();
        let state = services::unit_state(&ctx, "postgresql.service", Duration::ZERO).unwrap();
        assert_eq!(state, UnitState::default());
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    /// RHEL's `postgresql-setup --initdb` pg_hba.conf rules (mattermost-facts.md §10).
    const RHEL_HBA: &str = "# TYPE  DATABASE        USER            ADDRESS                 METHOD\n\
        \n\
        # \"local\" is for Unix domain socket connections only\n\
        local   all             all                                     peer\n\
        # IPv4 local connections:\n\
        host    all             all             127.0.0.1/32            ident\n\
        # IPv6 local connections:\n\
        host    all             all             ::1/128                 ident\n\
        local   replication     all                                     peer\n\
        host    replication     all             127.0.0.1/32            ident\n\
        host    replication     all             ::1/128                 ident\n";

    #[test]
    fn password_rules_go_before_the_first_ident_rule_and_only_when_needed() {
        let edited = with_password_rules(RHEL_HBA, "mattermost", "mmuser").unwrap();
        let lines: Vec<&str> = edited.lines().collect();
        let ours = lines
            .iter()
            .position(|l| l.starts_with("host    mattermost"))
            .unwrap();
        let first_ident = lines.iter().position(|l| l.ends_with("ident")).unwrap();
        assert!(ours < first_ident, "{edited}");
        assert_eq!(
            lines[ours + 1],
            "host    mattermost    mmuser    ::1/128    scram-sha-256"
        );
        // Only lines were added.
        let kept: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| !l.contains("mmuser") && !l.contains("mm-install"))
            .collect();
        assert_eq!(kept, RHEL_HBA.lines().collect::<Vec<_>>());
        // Applying it again changes nothing.
        assert_eq!(with_password_rules(&edited, "mattermost", "mmuser"), None);
        // Debian's defaults already ask for a password on loopback.
        let debian = "local all postgres peer\nlocal all all peer\n\
                      host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n";
        assert_eq!(with_password_rules(debian, "mattermost", "mmuser"), None);
        // A peer-only file gets the rules at its end; a wider ident network is matched too.
        let peer_only = "local all all peer";
        let edited = with_password_rules(peer_only, "mattermost", "mmuser").unwrap();
        assert!(
            edited.starts_with("local all all peer\n# Added by mm-install"),
            "{edited}"
        );
        let wide = "host all all 127.0.0.0/8 ident\nhost all all ::1/128 md5\n";
        let edited = with_password_rules(wide, "mattermost", "mmuser").unwrap();
        assert!(
            edited.ends_with(
                "scram-sha-256\nhost all all 127.0.0.0/8 ident\nhost all all ::1/128 md5\n"
            ),
            "{edited}"
        );
        // Rules for other databases or users do not decide Mattermost's login.
        let others = "host postgres all 127.0.0.1/32 ident\nhost all mmuser 127.0.0.1 255.255.255.255 md5\nhost all all ::1/128 md5\n";
        assert_eq!(with_password_rules(others, "mattermost", "mmuser"), None);
    }

    #[test]
    fn role_lookup_tells_missing_from_passwordless() {
        let runner = Arc::new(FakeRunner::default());
        let ctx = Context::default().with_runner(runner.clone());
        assert_eq!(role_password_hash(&ctx, "mmuser").unwrap(), None);
        runner.answer("runuser", 0, "exists:\n");
        assert_eq!(role_password_hash(&ctx, "mmuser").unwrap(), Some(None));
        runner.answer("runuser", 0, "exists:SCRAM-SHA-256$4096:abc\n");
        assert_eq!(
            role_password_hash(&ctx, "mmuser").unwrap(),
            Some(Some("SCRAM-SHA-256$4096:abc".into()))
        );
    }
}
