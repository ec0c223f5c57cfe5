//! The database restore against a real PostgreSQL (a throwaway cluster on loopback,
//! `pg_cluster`): one transaction, so a kill -9 at any moment leaves either the old schema or
//! the restored one whole under `public`, and the journaled undo puts the old one back. The
//! restore runs in a child process (this test binary again, in its own process group) that
//! the test kills with everything it started, as a power cut or systemd's stop would.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use mm_install::context::Context;
use mm_install::system::postgres::{self, Connection};

use crate::pg_cluster::Cluster;

/// Set in the child: `URL\nDUMP\nASIDE` of the restore it runs.
const CHILD: &str = "MM_INSTALL_TEST_RESTORE_CHILD";
/// Rows in the posts table: enough for the restore's COPY to take a while.
const ROWS: u32 = 400_000;

fn connection(cluster: &Cluster) -> Connection {
    let url = format!(
        "postgres://mmuser:RestoreSecret@127.0.0.1:{}/mm",
        cluster.port
    );
    Connection::from_data_source(&url).unwrap()
}

/// Posts, a sequence, Mattermost's migrations table, and a schema an earlier restore kept
/// aside (left out of the dump, never restored over); dumped by the library's `dump`.
fn populated(dump: &Path) -> Cluster {
    let cluster = Cluster::start("mmuser", "RestoreSecret", "mm");
    cluster.sql_in(
        "mm",
        &format!(
            "SET ROLE mmuser; \
             CREATE TABLE posts (id serial PRIMARY KEY, message text); \
             INSERT INTO posts (message) SELECT 'post ' || g FROM generate_series(1, {ROWS}) g; \
             CREATE TABLE db_migrations (version bigint PRIMARY KEY, name text); \
             INSERT INTO db_migrations VALUES (1, 'create_posts'), (2, 'add_index'); \
             CREATE SCHEMA mm_install_replaced_0; \
             CREATE TABLE mm_install_replaced_0.posts (id int, message text)"
        ),
    );
    postgres::dump(&Context::default(), &connection(&cluster), dump).unwrap();
    // A schema kept aside is the admin's to drop, not part of the server's data: a dump that
    // carried it would grow by a full copy after every restore.
    let listing = Command::new("pg_restore")
        .arg("--list")
        .arg(dump)
        .output()
        .unwrap();
    assert!(listing.status.success());
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("TABLE DATA public posts"), "{listing}");
    assert!(!listing.contains("mm_install_replaced"), "{listing}");
    // Written after the dump: only the replaced schema holds it.
    cluster.sql_in(
        "mm",
        "INSERT INTO posts (message) VALUES ('after the dump')",
    );
    cluster
}

/// What the database holds: `public`'s posts / those written after the dump, and the schemas
/// a restore set aside.
fn public(cluster: &Cluster) -> (String, String) {
    let posts = cluster.sql_in(
        "mm",
        "SELECT count(*) || '/' || count(*) FILTER (WHERE message = 'after the dump') FROM public.posts",
    );
    let schemas = cluster.sql_in(
        "mm",
        "SELECT coalesce(string_agg(nspname, ',' ORDER BY nspname), '') FROM pg_namespace WHERE nspname LIKE 'mm_install%'",
    );
    (posts, schemas)
}

/// The restore, in a child process of its own group.
fn spawn_restore(cluster: &Cluster, dump: &Path, aside: &str) -> Child {
    let url = format!(
        "postgres://mmuser:RestoreSecret@127.0.0.1:{}/mm",
        cluster.port
    );
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "restore_db::a_restore_killed_at_any_moment_leaves_one_schema_whole",
            "--nocapture",
        ])
        .env(CHILD, format!("{url}\n{}\n{aside}", dump.display()))
        .process_group(0)
        .spawn()
        .unwrap()
}

/// Wait until the restore's session copies table data (its transaction has renamed `public`
/// aside by then), then kill the child's whole process group.
fn kill_while_copying(cluster: &Cluster, mut child: Child) {
    let start = Instant::now();
    loop {
        let copying = cluster.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'mm' AND state = 'active' AND query LIKE 'COPY%'",
        );
        if copying != "0" {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the restore ended before the test saw it copy"
        );
        assert!(start.elapsed() < Duration::from_secs(60), "no COPY seen");
        std::thread::sleep(Duration::from_millis(10));
    }
    let group = format!("-{}", child.id());
    assert!(
        Command::new("kill")
            .args(["-KILL", "--", &group])
            .status()
            .unwrap()
            .success()
    );
    child.wait().unwrap();
}

#[test]
fn a_restore_killed_at_any_moment_leaves_one_schema_whole() {
    if let Ok(job) = std::env::var(CHILD) {
        // The child: run the restore, the way an upgrade's step does.
        let mut lines = job.lines();
        let (url, dump, aside) = (lines.next(), lines.next(), lines.next());
        let connection = Connection::from_data_source(url.unwrap()).unwrap();
        postgres::restore(
            &Context::default(),
            &connection,
            Path::new(dump.unwrap()),
            aside.unwrap(),
        )
        .unwrap();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("database.dump");
    let cluster = populated(&dump);
    let ctx = Context::default();
    let db = connection(&cluster);
    let old = (
        format!("{}/1", ROWS + 1),
        "mm_install_replaced_0".to_string(),
    );
    assert_eq!(public(&cluster), old);

    // Killed (with its pg_restore and psql) in the middle of the transaction: the old schema
    // is whole, nothing is aside, and the journaled undo finds nothing to put back.
    kill_while_copying(
        &cluster,
        spawn_restore(&cluster, &dump, "mm_install_replaced_1"),
    );
    assert_eq!(public(&cluster), old, "a restore killed mid-way");
    assert!(!postgres::put_back(&ctx, &db, "mm_install_replaced_1").unwrap());
    assert_eq!(public(&cluster), old);

    // Only the tool killed: its psql outlives it and may still commit; the undo ends that
    // session first, then puts back whatever committed. The old schema is whole either way.
    let mut child = spawn_restore(&cluster, &dump, "mm_install_replaced_2");
    while cluster
        .sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mm-install restore'")
        == "0"
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the restore ended early"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    postgres::put_back(&ctx, &db, "mm_install_replaced_2").unwrap();
    assert_eq!(
        public(&cluster),
        old,
        "the undo after the tool alone was killed"
    );

    // Run to its end: `public` is the dump whole (sequence included), the replaced schema is
    // kept with the write made after the dump, and the undo swaps it back.
    postgres::restore(&ctx, &db, &dump, "mm_install_replaced_3").unwrap();
    assert_eq!(
        public(&cluster),
        (
            format!("{ROWS}/0"),
            "mm_install_replaced_0,mm_install_replaced_3".into()
        )
    );
    assert_eq!(
        cluster.sql_in("mm", "SELECT nextval('public.posts_id_seq')"),
        (ROWS + 1).to_string()
    );
    assert_eq!(
        cluster.sql_in("mm", "SELECT max(version) FROM public.db_migrations"),
        "2"
    );
    assert!(postgres::put_back(&ctx, &db, "mm_install_replaced_3").unwrap());
    assert_eq!(public(&cluster), old, "put back after a complete restore");
}
