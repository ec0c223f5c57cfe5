//! PostgreSQL: the local server administered as the `postgres` OS user over its Unix socket
//! (`runuser -u postgres -- psql`), and any server reached with a connection URL
//! ([`Connection`]): the URL without its password goes on the command line with `-d` (libpq
//! expands a URI only there, not in `PGDATABASE`: mattermost-facts.md §10), the password in
//! `PGPASSWORD`. SQL that carries a password goes to psql's stdin. So no password ever shows
//! up in `ps`, in logs or in error messages.

use super::{SystemError, run_checked};
use crate::context::{CommandLine, Context};

/// The oldest PostgreSQL Mattermost supports (`server_version_num` form): 14.0.
pub const MINIMUM_VERSION_NUM: u32 = 140000;

/// Run SQL as the `postgres` superuser on the local server, in database `database`, and return
/// psql's unaligned, tuples-only output.
fn local_sql(ctx: &Context, database: &str, sql: &str) -> Result<String, SystemError> {
    let command = CommandLine::new(
        "runuser",
        &[
            "-u",
            "postgres",
            "--",
            "psql",
            "-X",
            "-q",
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            database,
        ],
    )
    .with_stdin(sql);
    Ok(run_checked(ctx, &command)?.stdout.trim().to_string())
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

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for messages.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The last `@` ends the user information: a password may contain an unescaped `@`.
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
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

    /// `command` pointed at this database.
    ///
    /// `PGHOST` repeats the URL's host: libpq ignores it (the URL's host wins), but Debian's
    /// `pg_wrapper` (which `/usr/bin/psql` and `pg_dump` are there) reads it and then runs the
    /// newest installed client instead of the local cluster's version, which cannot dump a
    /// newer server.
    fn command(&self, program: &str, args: &[&str]) -> CommandLine {
        let mut command = CommandLine::new(program, args);
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
    run_checked(
        ctx,
        &connection.command("pg_dump", &["-Fc", "--no-owner", "-f", &file]),
    )
    .map(drop)
}

/// Put the database back exactly as it was in `file`: the current `public` schema is renamed
/// aside, the dump restored into a fresh one in a single transaction, and the old schema
/// dropped only once the restore succeeded (renamed back if it did not).
pub fn restore(
    ctx: &Context,
    connection: &Connection,
    file: &std::path::Path,
) -> Result<(), SystemError> {
    const ASIDE: &str = "mm_install_replaced";
    let psql = |sql: &str| {
        run_checked(
            ctx,
            &connection.command("psql", &["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql]),
        )
        .map(drop)
    };
    psql(&format!("DROP SCHEMA IF EXISTS {ASIDE} CASCADE"))?;
    psql(&format!(
        "BEGIN; ALTER SCHEMA public RENAME TO {ASIDE}; CREATE SCHEMA public; COMMIT;"
    ))?;
    let mut command = connection.command(
        "pg_restore",
        &["--no-owner", "--single-transaction", "--exit-on-error"],
    );
    command.args.push(file.display().to_string());
    match run_checked(ctx, &command) {
        Ok(_) => psql(&format!("DROP SCHEMA {ASIDE} CASCADE")),
        Err(err) => {
            psql(&format!(
                "BEGIN; DROP SCHEMA public CASCADE; ALTER SCHEMA {ASIDE} RENAME TO public; COMMIT;"
            ))?;
            Err(err)
        }
    }
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

/// A fingerprint of the database schema (tables, columns, types, indexes): it changes when a
/// new Mattermost version migrates the schema, which makes a database restore necessary on
/// rollback.
pub fn schema_fingerprint(ctx: &Context, connection: &Connection) -> Result<String, SystemError> {
    let sql = "SELECT md5(coalesce((SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' \
               ORDER BY table_name, column_name) FROM information_schema.columns WHERE table_schema = 'public'), '') \
               || coalesce((SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'), ''))";
    let command = connection.command(
        "psql",
        &["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql],
    );
    Ok(run_checked(ctx, &command)?.stdout.trim().to_string())
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
    fn redaction_hides_passwords_that_contain_an_at_sign() {
        assert_eq!(
            redact_password("postgres://u:p@ss@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
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
