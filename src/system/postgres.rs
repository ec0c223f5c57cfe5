//! PostgreSQL: the local server administered as the `postgres` OS user over its Unix socket
//! (`runuser -u postgres -- psql`), and external servers reached with a connection URL that is
//! passed through the environment, never on a command line. SQL that carries a password goes
//! to psql's stdin, so it never shows up in `ps` or in logs.

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

/// `server_version_num` of the server at `url` (a `postgres://user:password@host/db` URL).
pub fn external_version_num(ctx: &Context, url: &str) -> Result<u32, SystemError> {
    let command = CommandLine::new(
        "psql",
        &["-X", "-q", "-tA", "-c", "SHOW server_version_num;"],
    )
    .with_env("PGDATABASE", url)
    .with_env("PGCONNECT_TIMEOUT", "10");
    let output = run_checked(ctx, &command).map_err(|err| match err {
        SystemError::CommandFailed { stderr, .. } => SystemError::Unexpected {
            what: format!("cannot connect to the database at {}", redact_password(url)),
            detail: stderr,
        },
        other => other,
    })?;
    parse_version_num(output.stdout.trim(), &redact_password(url))
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
    let Some((userinfo, host)) = rest.split_once('@') else {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::system::fake::FakeRunner;

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
    fn external_urls_travel_in_the_environment_and_are_redacted_in_errors() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer("psql", 2, "");
        let ctx = Context::default().with_runner(runner.clone());
        let url = "postgres://mmuser:hunter2@db.example:5432/mattermost?sslmode=require";
        let err = external_version_num(&ctx, url).unwrap_err().to_string();
        assert!(
            err.contains("postgres://mmuser:***@db.example:5432/mattermost"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        assert!(!runner.lines()[0].contains("hunter2"));
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
