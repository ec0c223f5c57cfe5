//! Schema migrations against a real, throwaway PostgreSQL cluster (`tests/suite/pg_cluster.rs`:
//! root, Debian's postgresql 15 binaries, SCRAM password logins on loopback): applied once at
//! start and recorded in morph's `db_migrations`, reported and undone by the `db` subcommands,
//! and left alone by an older binary started on the newer schema; logins with SCRAM-SHA-256
//! (the cluster's default, and Debian's and RHEL's) or an MD5 role, over TCP or the Unix socket.

mod common;

// Shared with the suite, which allows std::fs there as it does here.
#[allow(dead_code, clippy::disallowed_methods)]
#[path = "../../suite/pg_cluster.rs"]
mod pg_cluster;

use std::time::Duration;

use common::*;
use pg_cluster::Cluster;
use serde_json::{Value, json};

const PASSWORD: &str = "Migr8Secret";

fn cluster() -> (Cluster, String) {
    let cluster = Cluster::start("mmuser", PASSWORD, "mattermost");
    let ds = format!(
        "postgres://mmuser:{PASSWORD}@127.0.0.1:{}/mattermost?sslmode=disable&connect_timeout=10",
        cluster.port
    );
    (cluster, ds)
}

/// Version 1 creates a table with a row, version 2 adds a column.
fn two_migrations() -> Value {
    json!([
        {"version": 1, "name": "create_widgets",
         "up": "CREATE TABLE widgets (id int); INSERT INTO widgets VALUES (7)",
         "down": "DROP TABLE widgets"},
        {"version": 2, "name": "add_widget_colour",
         "up": "ALTER TABLE widgets ADD COLUMN colour text",
         "down": "ALTER TABLE widgets DROP COLUMN colour"}
    ])
}

fn install(version: &str, migrations: Value, fail_start: bool, ds: &str) -> Install {
    let install = Install::new(Some(json!({
        "version": version, "fail_start": fail_start, "migrations": migrations
    })));
    install.write_config(&config("127.0.0.1:0", ds));
    install
}

fn rows(cluster: &Cluster) -> String {
    cluster.sql_in(
        "mattermost",
        "SELECT version || '|' || name FROM db_migrations ORDER BY version",
    )
}

fn has_column(cluster: &Cluster, table: &str, column: &str) -> bool {
    cluster.sql_in(
        "mattermost",
        &format!(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = '{table}' AND column_name = '{column}'"
        ),
    ) == "1"
}

fn stdout_of(install: &Install, args: &[&str]) -> String {
    let out = install.run(args, &[]);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn migrations_are_applied_once_at_start_and_recorded() {
    let (cluster, ds) = cluster();
    let install = install("11.1.0", two_migrations(), true, &ds);
    for _ in 0..2 {
        // fail_start exits after the migrations ran, like a release that fails its health check.
        let out = install.run(&[], &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("simulated start failure"));
    }
    assert_eq!(rows(&cluster), "1|create_widgets\n2|add_widget_colour");
    // The second start applied nothing again: one row, and the column exists once.
    assert_eq!(
        cluster.sql_in("mattermost", "SELECT count(*) FROM widgets"),
        "1"
    );
    assert!(has_column(&cluster, "widgets", "colour"));
    // morph's table shape.
    assert_eq!(
        cluster.sql_in(
            "mattermost",
            "SELECT column_name || ' ' || data_type || ' ' || is_nullable \
             FROM information_schema.columns WHERE table_name = 'db_migrations' \
             ORDER BY ordinal_position"
        ),
        "version bigint NO\nname character varying NO"
    );
    assert_eq!(
        stdout_of(&install, &["db", "version"]),
        "Current database schema version is: 2\n"
    );
    assert_eq!(
        stdout_of(&install, &["db", "version", "--all"]),
        "Varsion: 1, Name: create_widgets\nVarsion: 2, Name: add_widget_colour\n"
    );
    assert!(install.log().contains("Applying migration"));
}

#[test]
fn a_failing_migration_leaves_neither_its_changes_nor_its_row() {
    let (cluster, ds) = cluster();
    let broken = json!([
        {"version": 1, "name": "create_widgets",
         "up": "CREATE TABLE widgets (id int)", "down": "DROP TABLE widgets"},
        {"version": 2, "name": "broken",
         "up": "CREATE TABLE gadgets (id int); SELECT no_such_column FROM widgets",
         "down": "DROP TABLE gadgets"}
    ]);
    let install = install("11.1.0", broken, false, &ds);
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // PostgreSQL's own message in lib/pq's words, as the real server logs it.
    assert!(
        stderr.contains(
            "migration 2 broken failed: pq: column \"no_such_column\" does not exist (SQLSTATE 42703)"
        ),
        "{stderr}"
    );
    assert_eq!(rows(&cluster), "1|create_widgets");
    assert_eq!(
        cluster.sql_in(
            "mattermost",
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'gadgets'"
        ),
        "0"
    );
}

#[test]
fn migrate_saves_a_plan_and_downgrade_reverts_tables_and_rows() {
    let (cluster, ds) = cluster();
    let install = install("11.1.0", two_migrations(), false, &ds);

    assert_eq!(
        stdout_of(&install, &["db", "migrate", "--dry-run"]),
        "Would apply migration 1 create_widgets\nWould apply migration 2 add_widget_colour\n\
         Database successfully migrated\n"
    );
    assert_eq!(rows(&cluster), "");

    let out = stdout_of(&install, &["db", "migrate", "--save-plan"]);
    assert!(
        out.contains("Migration plan saved to migration_plan_0_2.json"),
        "{out}"
    );
    assert!(out.ends_with("Database successfully migrated\n"), "{out}");
    assert_eq!(rows(&cluster), "1|create_widgets\n2|add_widget_colour");
    let plan: Value = serde_json::from_str(
        &fs_err::read_to_string(install.path().join("migration_plan_0_2.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(plan["Version"], 1);
    assert_eq!(plan["Migrations"].as_array().unwrap().len(), 2);
    assert_eq!(plan["RevertMigrations"][1]["Direction"], "down");

    // By version, as in Mattermost's downgrade guide: version 2 only.
    assert_eq!(
        stdout_of(&install, &["db", "downgrade", "2"]),
        "Database successfully downgraded\n"
    );
    assert_eq!(rows(&cluster), "1|create_widgets");
    assert!(!has_column(&cluster, "widgets", "colour"));
    assert_eq!(
        stdout_of(&install, &["db", "version"]),
        "Current database schema version is: 1\n"
    );

    // By the saved plan, with a binary that declares no migrations at all (the plan carries
    // the SQL): 2 is no longer applied and is skipped, 1 is reverted.
    let bare = Install::new(Some(json!({"version": "11.0.0", "migrations": []})));
    bare.write_config(&config("127.0.0.1:0", &ds));
    let plan_path = install.path().join("migration_plan_0_2.json");
    let out = bare.run(&["db", "downgrade", plan_path.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not applied, skipped"));
    assert_eq!(rows(&cluster), "");
    assert_eq!(
        cluster.sql_in(
            "mattermost",
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'widgets'"
        ),
        "0"
    );

    let out = install.run(&["db", "downgrade", "nonsense"], &[]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn an_older_binary_on_a_newer_schema_starts_and_leaves_it_alone() {
    let (cluster, ds) = cluster();
    let newer = install("11.1.0", two_migrations(), false, &ds);
    stdout_of(&newer, &["db", "migrate"]);

    let older_migrations = json!([two_migrations()[0].clone()]);
    let older = install("11.0.0", older_migrations, false, &ds);
    let running = older.spawn(&[], &[]);
    running.wait_listening(Duration::from_secs(30));
    running.terminate();
    // morph ignores applied migrations it does not know: nothing reverted, nothing refused.
    assert_eq!(rows(&cluster), "1|create_widgets\n2|add_widget_colour");
    assert!(has_column(&cluster, "widgets", "colour"));
    assert_eq!(
        stdout_of(&older, &["db", "version"]),
        "Current database schema version is: 2\n"
    );
    // And it cannot downgrade what it does not carry.
    let out = older.run(&["db", "downgrade", "2"], &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not carry it"));
    assert_eq!(rows(&cluster), "1|create_widgets\n2|add_widget_colour");
}

/// An MD5 role (a password set under `password_encryption = md5`, a `pg_hba.conf` line saying
/// `md5`, as clusters upgraded from before PostgreSQL 14 still have) runs its migrations over
/// TCP; the Unix socket named by `host=` works too; a wrong password and an unknown database
/// fail the `db` commands and the server's start with PostgreSQL's message in lib/pq's words
/// and the endpoint.
#[test]
fn md5_roles_unix_sockets_and_login_errors() {
    let (cluster, _) = cluster();
    cluster.sql("SET password_encryption = 'md5'; CREATE ROLE mmmd5 LOGIN PASSWORD 'Md5Secret'");
    cluster.sql("GRANT ALL ON SCHEMA public TO mmmd5");
    cluster.sql_in("mattermost", "GRANT ALL ON SCHEMA public TO mmmd5");
    assert!(
        cluster
            .sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'mmmd5'")
            .starts_with("md5")
    );
    let hba = cluster.sql("SHOW hba_file");
    let rules = fs_err::read_to_string(&hba).unwrap();
    fs_err::write(&hba, format!("host all mmmd5 127.0.0.1/32 md5\n{rules}")).unwrap();
    cluster.sql("SELECT pg_reload_conf()");
    let md5 = format!(
        "postgres://mmmd5:Md5Secret@127.0.0.1:{}/mattermost?sslmode=disable&connect_timeout=10",
        cluster.port
    );
    assert_eq!(
        cluster.sql("SELECT auth_method FROM pg_hba_file_rules WHERE 'mmmd5' = ANY(user_name)"),
        "md5"
    );
    let md5_install = install("11.1.0", two_migrations(), false, &md5);
    // pg_reload_conf only signals the postmaster: wait until the new rule is in force.
    let mut out = md5_install.run(&["db", "migrate"], &[]);
    for _ in 0..25 {
        if out.status.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        out = md5_install.run(&["db", "migrate"], &[]);
    }
    assert!(out.status.success(), "{out:?}");
    assert_eq!(rows(&cluster), "1|create_widgets\n2|add_widget_colour");

    // The socket directory (the cluster's data directory, local logins trusted) as lib/pq's
    // `host=` parameter.
    let socket_dir = cluster.sql("SHOW unix_socket_directories");
    let unix = format!(
        "postgres://mmmd5@/mattermost?host={socket_dir}&port={}&sslmode=disable",
        cluster.port
    );
    let over_socket = install("11.1.0", two_migrations(), false, &unix);
    assert_eq!(
        stdout_of(&over_socket, &["db", "version"]),
        "Current database schema version is: 2\n"
    );

    for (ds, message) in [
        (
            md5.replace("Md5Secret", "WrongPass"),
            "pq: password authentication failed for user \"mmmd5\" (SQLSTATE 28P01)",
        ),
        (
            md5.replace("/mattermost?", "/nosuchdb?"),
            "pq: database \"nosuchdb\" does not exist (SQLSTATE 3D000)",
        ),
    ] {
        let wrong = install("11.1.0", two_migrations(), false, &ds);
        let out = wrong.run(&["db", "version"], &[]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let endpoint = format!("cannot open the database at 127.0.0.1:{}: ", cluster.port);
        assert!(stderr.contains(&format!("{endpoint}{message}")), "{stderr}");
        // The server's startup check logs in too, as the real server's first ping does.
        let out = wrong.run(&[], &[("STANDIN_DB_WAIT_MS", "0")]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let endpoint = format!(
            "failed to connect to the database at 127.0.0.1:{}: ",
            cluster.port
        );
        assert!(stderr.contains(&format!("{endpoint}{message}")), "{stderr}");
        assert!(!stderr.contains("Server is listening"), "{stderr}");
    }
}
