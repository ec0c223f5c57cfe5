//! The connection check of `install --database-url` against a real PostgreSQL (a throwaway
//! cluster on loopback, `pg_cluster`). libpq expands a URI only as a command-line dbname, never
//! from `PGDATABASE` (mattermost-facts.md §10): a check that got this wrong connected to the
//! local socket as root, so these tests connect over TCP with a password, as Mattermost does.
//! The upgrade's pg_dump pre-flight runs here against the real `pg_dump` too.

use mm_install::context::Context;
use mm_install::host::Family;
use mm_install::ops::upgrade::{UpgradeError, check_pg_dump};
use mm_install::system::SystemError;
use mm_install::system::postgres::{Connection, version_num};

use crate::pg_cluster::{Cluster, free_port};

const PASSWORD: &str = "Ext3rnalSecret";

fn check(url: &str) -> Result<u32, SystemError> {
    version_num(
        &Context::default(),
        &Connection::from_data_source(url).unwrap(),
    )
}

/// The failure names the host and port (the URL without its password), never the password.
fn assert_unreachable(url: &str, port: u16, cause: &str) {
    let err = check(url).expect_err(url);
    let text = err.to_string();
    assert!(
        matches!(err, SystemError::DatabaseUnreachable { .. }),
        "{text}"
    );
    assert!(text.contains(&format!("@127.0.0.1:{port}/")), "{text}");
    assert!(text.contains(cause), "{text}");
    assert!(
        !text.contains(PASSWORD) && !text.contains("WrongPass"),
        "{text}"
    );
}

#[test]
fn the_connection_check_passes_with_the_right_password_and_names_the_host_otherwise() {
    let cluster = Cluster::start("mmuser", PASSWORD, "mattermost");
    let port = cluster.port;
    let url = format!(
        "postgres://mmuser:{PASSWORD}@127.0.0.1:{port}/mattermost?sslmode=disable&connect_timeout=10"
    );
    let version = check(&url).unwrap();
    assert!((150000..160000).contains(&version), "{version}");

    assert_unreachable(
        &format!("postgres://mmuser:WrongPass@127.0.0.1:{port}/mattermost?sslmode=disable"),
        port,
        "password authentication failed",
    );
    assert_unreachable(
        &format!("postgres://mmuser:{PASSWORD}@127.0.0.1:{port}/nosuchdb?sslmode=disable"),
        port,
        "does not exist",
    );
    let closed = free_port();
    assert_unreachable(
        &format!("postgres://mmuser:{PASSWORD}@127.0.0.1:{closed}/mattermost?sslmode=disable"),
        closed,
        "Connection refused",
    );
}

/// The upgrade's pg_dump check with the real `pg_dump` (Debian's `pg_wrapper`, asked exactly as
/// the backup will run it): version 15 backs up the PostgreSQL 15 cluster; a server one major
/// version ahead (claimed: only 15 is installable here) is refused, naming both versions and
/// `postgresql-client-16`.
#[test]
fn the_real_pg_dump_is_checked_against_the_server_version() {
    let cluster = Cluster::start("mmuser", PASSWORD, "mattermost");
    let url = format!(
        "postgres://mmuser:{PASSWORD}@127.0.0.1:{}/mattermost?sslmode=disable",
        cluster.port
    );
    let ctx = Context::default();
    let connection = Connection::from_data_source(&url).unwrap();
    let server = version_num(&ctx, &connection).unwrap();
    check_pg_dump(&ctx, &connection, server, Some(Family::Debian)).unwrap();
    let err = check_pg_dump(&ctx, &connection, 160004, Some(Family::Debian)).unwrap_err();
    assert!(matches!(err, UpgradeError::PgDumpTooOld { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("pg_dump 15.") && text.contains("PostgreSQL 16.4"),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");
}
