//! Upgrades and rollbacks inside a booted Debian guest (bookworm; the whole path on trixie too),
//! against a mirror on the host with several stand-in releases: the admin's state survives,
//! failures roll back on their own, the lock holds, a killed upgrade is undone by the next run,
//! and a hand-made install is adopted.

use crate::common::{Ran, assert_exit, texts};
use crate::guest::Suite;
use crate::guest_server::{GuestServer, release_name};
use crate::install_guest::{SITE_HOST, run_in, standin_binary, stdout};
use crate::mirror::{releases_feed, standin_tarball};

const OLD: &str = "11.10.1";

/// What most tests here start from: `OLD` installed on a Debian 12 guest.
fn installed() -> GuestServer {
    installed_on(Suite::Bookworm)
}

/// `OLD` installed on a `suite` guest.
fn installed_on(suite: Suite) -> GuestServer {
    GuestServer::installed(suite, r#""fail_start": false"#)
}

/// What the upgrade tests add to a [`GuestServer`].
impl GuestServer {
    /// Publish a stand-in release of `version` whose signature says it was made a day ago.
    fn publish_signed_yesterday(&self, version: &str) {
        let json = format!(r#"{{"version": "{version}", "fail_start": false}}"#);
        let tarball = standin_tarball(standin_binary(), &json);
        let signature = self.artifacts.key.sign_dated(&tarball, 24 * 3600);
        let path = format!("/{version}/{}", release_name(version));
        self.mirror.file(&path, tarball);
        self.mirror.file(&format!("{path}.sig"), signature);
    }

    fn feed(&self, versions: &[&str]) {
        self.mirror.file("/releases", releases_feed(versions));
    }

    /// `mm-install <args…>` in the guest with the mirror and feed.
    fn mm(&self, args: &[&str]) -> Ran {
        let mut all: Vec<String> = vec!["/srv/artifacts/mm-install".into()];
        all.extend(args.iter().map(|a| a.to_string()));
        all.extend([
            "--no-progress".into(),
            "--keyring".into(),
            "/srv/artifacts/key.asc".into(),
            "--release-url".into(),
            self.mirror.base_url.clone(),
            "--releases-api".into(),
            format!("{}/releases", self.mirror.base_url),
        ]);
        run_in(&self.guest, &all)
    }

    /// The version the server reports through nginx.
    fn served_version(&self) -> String {
        let headers = self.sh(&format!(
            "curl -sS -D - -o /dev/null -H 'Host: {SITE_HOST}' http://127.0.0.1/api/v4/system/ping | tr -d '\\r' | sed -n 's/^[Xx]-[Vv]ersion-[Ii]d: //p'"
        ));
        headers.split('.').take(3).collect::<Vec<_>>().join(".")
    }

    /// When the service last started (unchanged means no restart, no downtime).
    fn started_at(&self) -> String {
        self.sh("systemctl show -p ActiveEnterTimestampMonotonic --value mattermost")
    }

    /// SQL in the Mattermost database as its owner `mmuser`, as Mattermost itself would.
    fn psql(&self, sql: &str) -> String {
        self.sh(&format!("runuser -u postgres -- psql -d mattermost -tAc \"SET ROLE mmuser; {sql}\" | grep -v '^SET$'"))
    }
}

#[test]
fn upgrades_keep_the_admins_state_and_roll_back_with_or_without_the_database() {
    let server = installed();
    // The admin's state: plugins, files, logs, a custom setting, a database change.
    server.sh(
        "mkdir -p /opt/mattermost/plugins/com.example.demo /opt/mattermost/client/plugins/com.example.demo /opt/mattermost/data/users \
         && echo '{\"id\":\"com.example.demo\"}' > /opt/mattermost/plugins/com.example.demo/plugin.json \
         && echo 'bundle' > /opt/mattermost/client/plugins/com.example.demo/main.js \
         && echo 'uploaded file' > /opt/mattermost/data/users/file.txt \
         && echo 'old log line' >> /opt/mattermost/logs/mattermost.log \
         && sed -i 's/\"MaxUsersPerTeam\": 50/\"MaxUsersPerTeam\": 77/' /opt/mattermost/config/config.json \
         && chown -R mattermost:mattermost /opt/mattermost",
    );
    server.psql("CREATE TABLE before_upgrade (id int)");
    server.sh("mkdir -p /etc/mm-install");
    server.mirror.file("/hooks/abc", b"ok".to_vec());
    server.sh(&format!(
        "printf 'webhook_url = \"{}/hooks/abc\"\\n' > /etc/mm-install/mm-install.toml",
        server.mirror.base_url
    ));
    server.publish("11.10.2", r#""fail_start": false"#);
    server.publish("11.11.0", r#""fail_start": false"#);
    server.feed(&[OLD, "11.10.2", "11.11.0"]);

    // Policy patch (the default): 11.10.2, with 11.11.0 held back.
    let (out, err) = assert_exit(&server.mm(&["upgrade", "--latest"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}\n{err}");
    assert!(err.contains("held back"), "{err}");
    assert_eq!(server.served_version(), "11.10.2");
    assert_eq!(
        server.sh("cat /opt/mattermost/plugins/com.example.demo/plugin.json"),
        "{\"id\":\"com.example.demo\"}"
    );
    assert_eq!(
        server.sh("cat /opt/mattermost/client/plugins/com.example.demo/main.js"),
        "bundle"
    );
    assert_eq!(
        server.sh("cat /opt/mattermost/data/users/file.txt"),
        "uploaded file"
    );
    assert!(
        server
            .sh("cat /opt/mattermost/logs/mattermost.log")
            .contains("old log line")
    );
    assert!(
        server
            .sh("cat /opt/mattermost/config/config.json")
            .contains("\"MaxUsersPerTeam\": 77")
    );
    assert_eq!(
        server.sh("stat -c '%U %a' /opt/mattermost/config/config.json"),
        "mattermost 600"
    );
    assert_eq!(
        server.sh("stat -c %U /opt/mattermost/bin/mattermost"),
        "mattermost"
    );
    // The old tree is kept in root's private directory, where the service user cannot write it.
    assert_eq!(
        server.sh("ls -d /opt/.mm-install/mattermost-11.10.1-* | wc -l"),
        "1"
    );
    assert_eq!(server.sh("stat -c '%U %a' /opt/.mm-install"), "root 700");
    assert_eq!(
        server.sh("ls /var/lib/mm-install/backups/*-11.10.1-to-11.10.2/"),
        "config.json\ndatabase.dump\ndatabase.json"
    );
    // The backups hold the database password and every post: root only.
    assert_eq!(
        server
            .sh("stat -c %a /var/lib/mm-install/backups /var/lib/mm-install/backups/*-to-11.10.2"),
        "700\n700"
    );
    assert_eq!(
        server.mirror.seen("/hooks/abc").len(),
        1,
        "the webhook was not told"
    );
    server.psql("CREATE TABLE after_upgrade (id int)");

    // Already current: one small request, no restart.
    let started = server.started_at();
    let feed_requests = server.mirror.seen("/releases").len();
    let (out, _) = assert_exit(&server.mm(&["upgrade", "--latest"]), 0);
    assert!(out.contains("up to date: 11.10.2"), "{out}");
    assert_eq!(server.started_at(), started);
    assert_eq!(server.mirror.seen("/releases").len(), feed_requests + 1);
    assert!(
        server
            .mirror
            .seen(&format!("/11.11.0/{}", release_name("11.11.0")))
            .is_empty()
    );

    // Policy minor: 11.11.0.
    let (out, _) = assert_exit(&server.mm(&["upgrade", "--policy", "minor", "--yes"]), 0);
    assert!(out.contains("upgraded: 11.10.2 -> 11.11.0"), "{out}");
    assert_eq!(server.served_version(), "11.11.0");

    // Status lists the kept releases.
    let (status, _) = assert_exit(&server.mm(&["status", "--json"]), 0);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["installed_version"], "11.11.0");
    assert_eq!(status["service_active"], true);
    let kept: Vec<&str> = status["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["version"].as_str().unwrap())
        .collect();
    assert_eq!(kept, ["11.10.1", "11.10.2"]);

    // Rollback without the database: back to 11.10.2, state intact.
    let (out, _) = assert_exit(&server.mm(&["rollback", "--yes"]), 0);
    assert!(out.contains("rolled back: 11.11.0 -> 11.10.2"), "{out}");
    assert_eq!(server.served_version(), "11.10.2");
    assert_eq!(
        server.sh("cat /opt/mattermost/data/users/file.txt"),
        "uploaded file"
    );
    assert_eq!(
        server.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'after_upgrade'"),
        "1"
    );

    // Rollback with the database: 11.10.1 and the database as it was before its upgrade.
    let refused = server
        .guest
        .sh("/srv/artifacts/mm-install rollback --to 11.10.1 --restore-database < /dev/null");
    assert_exit(&refused, 2);
    let (out, err) = assert_exit(
        &server.mm(&["rollback", "--to", "11.10.1", "--restore-database", "--yes"]),
        0,
    );
    assert!(out.contains("rolled back: 11.10.2 -> 11.10.1"), "{out}");
    assert!(err.contains("LOST"), "{err}");
    assert_eq!(server.served_version(), "11.10.1");
    assert_eq!(
        server.psql(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('before_upgrade', 'after_upgrade')"
        ),
        "1"
    );
    // What the restore replaced is kept, named, with the SQL that drops it.
    assert!(err.contains("DROP SCHEMA mm_install_replaced_"), "{err}");
    assert_eq!(
        server.psql(
            "SELECT count(*) FROM pg_tables WHERE schemaname LIKE 'mm_install_replaced_%' AND tablename = 'after_upgrade'"
        ),
        "1"
    );
    assert!(
        server
            .sh("cat /opt/mattermost/config/config.json")
            .contains("\"MaxUsersPerTeam\": 77")
    );
}

/// The whole path on one Debian release, with its own systemd, nginx and PostgreSQL: install,
/// the four install tests (`verify`), upgrade, an upgrade that fails and rolls back on its own,
/// and a rollback. Whatever differs between releases is the tool's business, not the test's.
/// Returns the server, rolled back to `OLD`, for the caller's own checks.
pub fn install_verify_upgrade_and_roll_back_on(suite: Suite) -> GuestServer {
    let server = installed_on(suite);
    assert_eq!(server.served_version(), OLD);
    // Mattermost reaches the cluster on the port it really listens on (5433 on the trixie
    // guest, as after `pg_upgradecluster`: mattermost-facts.md §10).
    let config = server.sh("cat /opt/mattermost/config/config.json");
    let port = suite.postgres_port();
    assert!(
        config.contains(&format!(":{port}/mattermost")),
        "config.json does not point at port {port}:\n{config}"
    );

    let hosts = server.sh(&format!(
        "echo '127.0.0.1 {SITE_HOST}' >> /etc/hosts && echo ok"
    ));
    assert_eq!(hosts, "ok");
    let verify = server.guest.run(&["/srv/artifacts/mm-install", "verify"]);
    let (out, err) = texts(&verify);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "verify on {suite}:\nstdout:\n{out}\nstderr:\n{err}\nmattermost journal:\n{}",
        server.guest.journal("mattermost")
    );

    server.publish("11.10.2", r#""fail_start": false"#);
    server.publish("11.10.3", r#""fail_start": true"#);
    let (out, _) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}");
    assert_eq!(server.served_version(), "11.10.2");

    let (_, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.3"]), 4);
    assert!(err.contains("11.10.2 is running again"), "{err}");
    assert_eq!(server.served_version(), "11.10.2");

    let (out, _) = assert_exit(&server.mm(&["rollback", "--yes"]), 0);
    assert!(out.contains("rolled back: 11.10.2 -> 11.10.1"), "{out}");
    assert_eq!(server.served_version(), OLD);
    assert_eq!(server.sh("systemctl is-active mattermost"), "active");
    server
}

#[test]
fn trixie_install_verify_upgrade_and_roll_back() {
    install_verify_upgrade_and_roll_back_on(Suite::Trixie);
}

#[test]
fn a_failing_upgrade_rolls_back_on_its_own() {
    let server = installed();
    server.sh("echo 'keep me' > /opt/mattermost/data/keep.txt");
    let config_before = server.sh("cat /opt/mattermost/config/config.json");
    server.publish("11.10.2", r#""fail_start": true"#);
    server.publish("11.10.3", r#""report_version": "11.10.1""#);

    for version in ["11.10.2", "11.10.3"] {
        server.sh(": > /var/log/nginx/access.log");
        let (_, err) = assert_exit(&server.mm(&["upgrade", "--version", version]), 4);
        assert!(
            err.contains("rolled back") && err.contains("11.10.1 is running again"),
            "{err}"
        );
        // A wrong version never becomes right: the health check stops at the first answer
        // instead of asking again every 500 ms for its 90 s (about 180 answered pings through
        // nginx with the old probe). Counted in nginx's access log, not timed: the new
        // server's answers plus the old server's once it is back.
        let answered = server
            .sh("grep -c 'GET /api/v4/system/ping[^\"]*\" 200 ' /var/log/nginx/access.log || true");
        assert!(
            answered.parse::<u32>().is_ok_and(|n| (1..10).contains(&n)),
            "{version}: {answered} answered pings:\n{err}\n{}",
            server.sh("tail -n 20 /var/log/nginx/access.log")
        );
        assert_eq!(server.served_version(), OLD);
        assert_eq!(server.sh("systemctl is-active mattermost"), "active");
        assert_eq!(server.sh("cat /opt/mattermost/data/keep.txt"), "keep me");
        assert_eq!(
            server.sh("cat /opt/mattermost/config/config.json"),
            config_before
        );
        assert_eq!(
            server.sh("ls -d /opt/.mm-install/* /opt/mattermost-11.* 2>/dev/null | wc -l"),
            "0"
        );
        assert_eq!(
            server.sh("test -e /var/lib/mm-install/journal.json && echo left || echo none"),
            "none"
        );
    }
    let state = server.sh("cat /var/lib/mm-install/state.json");
    assert!(
        state.contains("\"version\": \"11.10.1\"") && !state.contains("\"version\": \"11.10.2\""),
        "{state}"
    );
}

/// Issue 11: a release whose server migrates the schema (a table and a `db_migrations` row,
/// written by the stand-in into the real database) and then fails its health check. The
/// automatic rollback sees the schema changed and restores the dump: neither the migrated table
/// nor morph's `db_migrations` (which the old release, declaring no migrations, never created)
/// is left, and the old version serves again.
#[test]
fn an_automatic_rollback_after_a_migration_restores_the_pre_upgrade_schema() {
    let server = installed();
    server.publish(
        "11.10.2",
        r#""fail_start": true, "migrations": [{"version": 1, "name": "create_widgets", "up": "CREATE TABLE widgets (id int); INSERT INTO widgets VALUES (7)", "down": "DROP TABLE widgets"}]"#,
    );
    let tables = "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables \
                  WHERE table_schema = 'public' AND table_name IN ('widgets', 'db_migrations')";
    assert_eq!(server.psql(tables), "");

    let (_, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 4);
    assert!(
        err.contains("rolled back") && err.contains("11.10.1 is running again"),
        "{err}"
    );
    // The new server did migrate before failing (its log says so), and the restore undid it.
    assert!(
        server
            .sh("grep -c 'Applying migration' /opt/mattermost/logs/mattermost.log || true")
            .parse::<u32>()
            .unwrap_or(0)
            >= 1,
        "{}",
        server.sh("tail -n 20 /opt/mattermost/logs/mattermost.log")
    );
    assert_eq!(server.psql(tables), "");
    assert_eq!(server.served_version(), OLD);
}

/// The `db_migrations` head, as `mattermost db version` reads it (empty: none recorded).
fn migrations_head(server: &GuestServer) -> String {
    server.psql("SELECT max(version) FROM db_migrations")
}

/// A migration of the stand-in's `standin.json`.
fn migration(version: u32, name: &str, up: &str, down: &str) -> String {
    format!(r#"{{"version": {version}, "name": "{name}", "up": "{up}", "down": "{down}"}}"#)
}

/// A rollback that fails after its schema downgrade (the older release does not come up) is
/// undone: the dump taken just before the downgrade is restored, so 11.10.2 serves again on
/// its own schema with every post.
#[test]
fn a_failed_rollback_after_a_schema_downgrade_restores_the_newer_schema() {
    let server = upgraded_across_a_migration();
    server.sh(r#"sed -i 's/"fail_start": false/"fail_start": true/' /opt/.mm-install/mattermost-11.10.1-*/bin/standin.json"#);

    let (_, err) = assert_exit(&server.mm(&["rollback", "--downgrade-schema", "--yes"]), 4);
    assert!(err.contains("11.10.2 is running again"), "{err}");
    assert_eq!(server.served_version(), "11.10.2");
    assert_eq!(migrations_head(&server), "2", "{err}");
    assert_eq!(
        server.psql("SELECT note || ':' || coalesce(priority, 0) FROM posts_written ORDER BY note"),
        "written on 11.10.1:0\nwritten on 11.10.2:1"
    );
}

/// Issue 11, gap 4: a migration that changes data but no table (Mattermost ships such
/// migrations, e.g. ones that rewrite rows) is still a schema change: morph records it in
/// `db_migrations`. When the new release then fails, the automatic rollback restores the dump,
/// so the old release runs on its own head and the rows as it left them.
#[test]
fn an_automatic_rollback_undoes_a_data_only_migration() {
    let posts = migration(
        1,
        "create_posts_written",
        "CREATE TABLE posts_written (note text)",
        "DROP TABLE posts_written",
    );
    let rewrite = migration(
        2,
        "rewrite_posts_written",
        "UPDATE posts_written SET note = upper(note)",
        "UPDATE posts_written SET note = lower(note)",
    );
    let server = GuestServer::installed(
        Suite::Bookworm,
        &format!(r#""fail_start": false, "migrations": [{posts}]"#),
    );
    server.psql("INSERT INTO posts_written VALUES ('written on 11.10.1')");
    server.publish(
        "11.10.2",
        &format!(r#""fail_start": true, "migrations": [{posts}, {rewrite}]"#),
    );
    let (_, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 4);
    assert!(err.contains("11.10.1 is running again"), "{err}");
    assert_eq!(server.served_version(), OLD);
    assert_eq!(migrations_head(&server), "1", "{err}");
    assert_eq!(
        server.psql("SELECT note FROM posts_written"),
        "written on 11.10.1"
    );
}

/// Issue 11, gap 3: after an upgrade whose release applied a migration, `rollback` without a
/// choice refuses (exit 2) before anything stops, naming the heads, the migration and the
/// three choices; `--dry-run` shows the downgrade it would run and changes nothing; then
/// `--binary-only` is the explicit opt-out: the old release runs on the newer schema.
#[test]
fn a_rollback_onto_an_older_schema_waits_for_the_admins_choice() {
    let widgets = migration(
        1,
        "create_widgets",
        "CREATE TABLE widgets (id int)",
        "DROP TABLE widgets",
    );
    let server = installed();
    server.publish(
        "11.10.2",
        &format!(r#""fail_start": false, "migrations": [{widgets}]"#),
    );
    assert_exit(&server.mm(&["upgrade", "--version", "11.10.2", "--yes"]), 0);
    assert_eq!(migrations_head(&server), "1");
    let started = server.started_at();
    let trees = "ls -d /opt/.mm-install/mattermost-* /opt/mattermost/bin/mattermost";
    let before = server.sh(trees);

    let (_, err) = assert_exit(&server.mm(&["rollback", "--yes"]), 2);
    assert!(
        err.contains("db_migrations is at 1, Mattermost 11.10.1 ran on none")
            && err.contains("11.10.2 applied 1 create_widgets")
            && err.contains("--downgrade-schema (recommended")
            && err.contains("--restore-database")
            && err.contains("--binary-only"),
        "{err}"
    );
    // The plan goes to stderr.
    let (_, plan) = assert_exit(
        &server.mm(&["rollback", "--downgrade-schema", "--dry-run"]),
        0,
    );
    assert!(
        plan.contains("`mattermost db downgrade 1`") && plan.contains("every post is kept"),
        "{plan}"
    );
    // Nothing changed: the same server, trees and schema.
    assert_eq!(server.started_at(), started);
    assert_eq!(server.served_version(), "11.10.2");
    assert_eq!(server.sh(trees), before);
    assert_eq!(migrations_head(&server), "1");
    assert!(server.sh("ls /var/lib/mm-install/backups").lines().count() == 1);

    let (out, err) = assert_exit(&server.mm(&["rollback", "--binary-only", "--yes"]), 0);
    assert!(out.contains("rolled back: 11.10.2 -> 11.10.1"), "{out}");
    assert!(err.contains("Mattermost does not support this"), "{err}");
    assert_eq!(server.served_version(), OLD);
    assert_eq!(migrations_head(&server), "1");
    assert_eq!(
        server.psql("SELECT to_regclass('widgets') IS NOT NULL"),
        "t"
    );
}

/// Mattermost `OLD` whose release creates the posts table (migration 1) with a post, upgraded
/// to 11.10.2, whose release adds a column to it (migration 2), and a post written there.
fn upgraded_across_a_migration() -> GuestServer {
    let posts = migration(
        1,
        "create_posts_written",
        "CREATE TABLE posts_written (note text)",
        "DROP TABLE posts_written",
    );
    let priority = migration(
        2,
        "add_posts_written_priority",
        "ALTER TABLE posts_written ADD COLUMN priority int",
        "ALTER TABLE posts_written DROP COLUMN priority",
    );
    let server = GuestServer::installed(
        Suite::Bookworm,
        &format!(r#""fail_start": false, "migrations": [{posts}]"#),
    );
    assert_eq!(migrations_head(&server), "1");
    server.psql("INSERT INTO posts_written VALUES ('written on 11.10.1')");
    server.publish(
        "11.10.2",
        &format!(r#""fail_start": false, "migrations": [{posts}, {priority}]"#),
    );
    assert_exit(&server.mm(&["upgrade", "--version", "11.10.2", "--yes"]), 0);
    assert_eq!(migrations_head(&server), "2");
    server.psql("INSERT INTO posts_written VALUES ('written on 11.10.2', 1)");
    server
}

/// Issue 11, gap 3, the documented way: a post written on 11.10.2 survives `rollback
/// --downgrade-schema`, which runs 11.10.2's own `mattermost db downgrade 2` with the server
/// stopped, after a verified dump that records the newer head; 11.10.1 then serves on its own
/// schema (head 1, the column gone).
#[test]
fn a_schema_downgrade_keeps_the_posts_written_on_the_newer_version() {
    let server = upgraded_across_a_migration();
    let (out, err) = assert_exit(&server.mm(&["rollback", "--downgrade-schema", "--yes"]), 0);
    assert!(
        out.contains("rolled back: 11.10.2 -> 11.10.1"),
        "{out}\n{err}"
    );
    assert!(err.contains("`mattermost db downgrade 2`"), "{err}");
    assert_eq!(server.served_version(), OLD);
    assert_eq!(migrations_head(&server), "1");
    assert_eq!(
        server.psql("SELECT note FROM posts_written ORDER BY note"),
        "written on 11.10.1\nwritten on 11.10.2"
    );
    assert_eq!(
        server.psql(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'posts_written' AND column_name = 'priority'"
        ),
        "0"
    );
    // The dump taken before the downgrade holds 11.10.2's schema, and says so.
    let metadata =
        server.sh("cat /var/lib/mm-install/backups/*-11.10.2-rollback-to-11.10.1/database.json");
    assert!(
        metadata.contains(r#""from": "11.10.2""#) && metadata.contains(r#""head": 2"#),
        "{metadata}"
    );
}

/// Issue 11, gap 1: an automatic rollback that restores the database must not lose a write the
/// old server acknowledged. A real `pg_dump` of a large database runs for minutes, and every
/// write the old server acknowledges after the dump's snapshot is missing from it. A wrapper
/// around `pg_dump` (first on mm-install's `PATH`) acts that out: once the real dump is written,
/// if the old server still serves, a post lands in the database as the server would write it
/// (as `mmuser`) and is logged as acknowledged. The new release migrates the schema (a declared
/// migration creates a table and records itself in `db_migrations`, as a real one does) and
/// then fails, so the rollback restores the dump. Every acknowledged write must survive.
#[test]
fn a_write_the_old_server_acknowledged_survives_an_automatic_rollback() {
    let server = installed();
    server.psql("CREATE TABLE posts_written (note text)");
    server.psql("INSERT INTO posts_written VALUES ('before the upgrade')");
    server.sh(WRITE_DURING_THE_DUMP);
    server.publish(
        "11.10.2",
        r#""fail_start": true, "migrations": [{"version": 1, "name": "migrated_by_11_10_2", "up": "CREATE TABLE migrated_by_11_10_2 (id int)", "down": "DROP TABLE migrated_by_11_10_2"}]"#,
    );

    let (_, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 4);
    assert!(err.contains("11.10.1 is running again"), "{err}");
    assert_eq!(server.served_version(), OLD);
    // The rollback did restore the dump: the new version's migration is gone.
    assert_eq!(
        server.psql("SELECT to_regclass('migrated_by_11_10_2') IS NULL"),
        "t",
        "the schema change was not rolled back: {err}"
    );
    let acknowledged: usize = server
        .sh("cat /root/acknowledged 2>/dev/null | wc -l")
        .parse()
        .unwrap();
    let mut expected = vec!["before the upgrade"];
    expected.extend(std::iter::repeat_n("during the backup", acknowledged));
    assert_eq!(
        server.psql("SELECT note FROM posts_written ORDER BY note <> 'before the upgrade', note"),
        expected.join("\n"),
        "an acknowledged write was lost by the automatic rollback"
    );
    // The dump that was restored was verified and described when it was written.
    let backup = "/var/lib/mm-install/backups/*-11.10.1-to-11.10.2";
    let metadata = server.sh(&format!("cat {backup}/database.json"));
    let sha = server.sh(&format!("sha256sum {backup}/database.dump | cut -d' ' -f1"));
    assert!(
        metadata.contains(r#""from": "11.10.1""#)
            && metadata.contains(&format!(r#""sha256": "{sha}""#)),
        "{metadata} / {sha}"
    );
}

/// The guest side of the test above: the `pg_dump` wrapper.
const WRITE_DURING_THE_DUMP: &str = r#"cat > /usr/local/bin/pg_dump <<'END'
#!/bin/sh
/usr/bin/pg_dump "$@" || exit $?
[ "$1" = --version ] && exit 0
if systemctl is-active -q mattermost; then
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin runuser -u postgres -- psql -X -q -d mattermost \
        -c 'SET ROLE mmuser' -c "INSERT INTO posts_written VALUES ('during the backup')" \
        && echo acknowledged >> /root/acknowledged
fi
exit 0
END
chmod 755 /usr/local/bin/pg_dump"#;

/// Issue 10, hole 1, acted out as the `mattermost` user: `config/config.json` replaced by a
/// symlink to a root-owned file under `/etc`, once before an upgrade (the backup refuses to read
/// through it) and once by the new server itself as it starts, before failing its health check
/// (the automatic rollback's restore replaces the link and never writes through it). Either way
/// the `/etc` file keeps its content, owner and mode, and the old version serves again.
#[test]
fn a_config_symlinked_into_etc_is_never_followed_by_an_upgrade_or_its_rollback() {
    let server = installed();
    server.sh("printf 'root only\\n' > /etc/mm-victim && chmod 640 /etc/mm-victim");
    let victim = || server.sh("stat -c '%U:%G %a' /etc/mm-victim; sha256sum /etc/mm-victim");
    let before = victim();
    let config = server.sh("cat /opt/mattermost/config/config.json");
    server.publish(
        "11.10.2",
        r#""fail_start": true, "link_config_to": "/etc/mm-victim""#,
    );

    server.sh(
        "runuser -u mattermost -- sh -c 'cd /opt/mattermost && cp config/config.json /tmp/config.json && ln -sf /etc/mm-victim config/config.json'",
    );
    let refused = server.mm(&["upgrade", "--version", "11.10.2"]);
    let (_, err) = texts(&refused);
    assert!(!refused.status.success(), "{err}");
    assert!(
        err.contains("/opt/mattermost/config/config.json is a symlink; mm-install never follows links inside /opt/mattermost"),
        "{err}"
    );
    assert_eq!(victim(), before);
    assert_eq!(server.served_version(), OLD);

    // The admin puts the file back; this time the new server plants the link itself.
    server.sh("runuser -u mattermost -- sh -c 'cd /opt/mattermost && rm config/config.json && cp /tmp/config.json config/config.json && chmod 600 config/config.json'");
    let (_, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 4);
    assert!(
        err.contains("rolled back") && err.contains("11.10.1 is running again"),
        "{err}"
    );
    assert!(
        server
            .guest
            .journal("mattermost")
            .contains("Replaced the config file with a symlink"),
        "the new server did not plant the link"
    );
    assert_eq!(victim(), before, "root wrote through the symlink");
    assert_eq!(server.served_version(), OLD);
    assert_eq!(server.sh("systemctl is-active mattermost"), "active");
    assert_eq!(
        server.sh("stat -c '%F %U %a' /opt/mattermost/config/config.json"),
        "regular file mattermost 600"
    );
    assert_eq!(server.sh("cat /opt/mattermost/config/config.json"), config);
    assert_eq!(
        server.sh("ls -A /opt/.mm-install /opt | grep -c mattermost-11 || true"),
        "0"
    );
    // Where staging and kept trees live, the service user cannot even look.
    assert_eq!(
        server.sh("stat -c '%U:%G %a' /opt/.mm-install"),
        "root:root 700"
    );
    assert_eq!(
        server.sh(
            "runuser -u mattermost -- ls /opt/.mm-install >/dev/null 2>&1 && echo entered || echo denied"
        ),
        "denied"
    );
}

/// Issue 10, hole 3, acted out: while an upgrade runs, a process of the `mattermost` user swaps
/// every directory it can reach in the staging tree for a symlink to `/etc` (before, the staging
/// tree sat world-traversable at `/opt/.mattermost-upgrade-<pid>` and `chown -R` walked it by
/// path, top-down, so whether root then handed files under `/etc` to that user depended on
/// timing). Now the tree is extracted and chowned inside root's 0700 `/opt/.mm-install`: the
/// process reaches nothing, the upgrade completes, and nothing under `/etc` changes owner or
/// mode.
#[test]
fn a_service_user_racing_the_upgrade_changes_nothing_outside_the_trees() {
    let server = installed();
    let etc = || server.sh("find /etc -xdev -printf '%p %U:%G %m\\n' | sort | sha256sum");
    let before = etc();
    server.publish("11.10.2", r#""fail_start": false"#);
    server.sh(
        "setsid runuser -u mattermost -- timeout 300 sh -c 'while :; do \
           for d in /opt/.mattermost-upgrade-*/mattermost/* /opt/.mattermost-upgrade-*/mattermost/*/* \
                    /opt/.mm-install/*/mattermost/* /opt/.mm-install/*/mattermost/*/*; do \
             [ -d \"$d\" ] && [ ! -L \"$d\" ] && mv \"$d\" \"$d.moved\" 2>/dev/null && ln -s /etc \"$d\" 2>/dev/null; \
           done; done' >/dev/null 2>&1 < /dev/null & echo started",
    );
    let (out, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}\n{err}");
    server.sh("pkill -u mattermost -f 'while :' || true");
    assert_eq!(etc(), before, "something under /etc changed owner or mode");
    assert_eq!(server.sh("find /etc -xdev -user mattermost | head -5"), "");
    assert_eq!(
        server.sh("find /opt/mattermost -maxdepth 3 -type l | head -5"),
        ""
    );
    assert_eq!(server.served_version(), "11.10.2");
}

/// Issue 10, hole 2: a kept tree recorded at the path used before `/opt/.mm-install`
/// (`/opt/mattermost-<version>-<time>`, the service user's to write) whose `client` the service
/// user swapped for a link to a root-owned directory: the rollback refuses the link, undoes
/// itself and leaves that directory alone. Repaired, the same old-path tree rolls back, and the
/// replaced tree goes into `/opt/.mm-install`.
#[test]
fn a_kept_tree_at_the_old_path_rolls_back_but_never_through_its_symlinks() {
    let server = installed();
    server.publish("11.10.2", r#""fail_start": false"#);
    let (out, _) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}");
    server.sh(
        "set -e; kept=$(ls -d /opt/.mm-install/mattermost-11.10.1-* /opt/mattermost-11.10.1-2* 2>/dev/null || true); \
         mv \"$kept\" /opt/mattermost-11.10.1-old; \
         sed -i \"s|$kept|/opt/mattermost-11.10.1-old|\" /var/lib/mm-install/state.json; \
         mkdir -p /srv/system/plugins; echo precious > /srv/system/plugins/keep",
    );
    // The admin's client plugins are among the state folders that move back.
    server.sh("runuser -u mattermost -- mkdir -p /opt/mattermost/client/plugins/com.example.demo");
    assert_eq!(
        server.sh(
            "runuser -u mattermost -- sh -c 'cd /opt/mattermost-11.10.1-old && mkdir -p /tmp/client && { [ ! -e client ] || mv client /tmp/client/; } && ln -s /srv/system client && echo linked'"
        ),
        "linked"
    );
    let system =
        || server.sh("find /srv/system -printf '%p %u %m\\n' | sort; cat /srv/system/plugins/keep");
    let before = system();

    let (_, err) = assert_exit(&server.mm(&["rollback", "--yes"]), 4);
    assert!(
        err.contains("/opt/mattermost-11.10.1-old/client is a symlink; mm-install never follows links inside /opt/mattermost")
            && err.contains("11.10.2 is running again"),
        "{err}"
    );
    assert_eq!(system(), before);
    assert_eq!(server.served_version(), "11.10.2");
    assert_eq!(
        server.sh("ls /opt/mattermost/client/plugins"),
        "com.example.demo"
    );

    server.sh(
        "cd /opt/mattermost-11.10.1-old && rm client && if [ -e /tmp/client/client ]; then mv /tmp/client/client client; fi",
    );
    let (out, _) = assert_exit(&server.mm(&["rollback", "--yes"]), 0);
    assert!(out.contains("rolled back: 11.10.2 -> 11.10.1"), "{out}");
    assert_eq!(server.served_version(), OLD);
    assert_eq!(
        server.sh("ls /opt/mattermost/client/plugins"),
        "com.example.demo"
    );
    assert_eq!(
        server.sh("ls -d /opt/.mm-install/mattermost-11.10.2-* | wc -l; test -e /opt/mattermost-11.10.1-old || echo moved"),
        "1\nmoved"
    );
    assert_eq!(system(), before);
}

#[test]
fn a_tampered_release_leaves_the_running_server_untouched() {
    let server = installed();
    server.publish("11.10.2", r#""fail_start": false"#);
    let path = format!("/11.10.2/{}", release_name("11.10.2"));
    let mut tarball = standin_tarball(standin_binary(), r#"{"version": "11.10.2"}"#);
    let middle = tarball.len() / 2;
    tarball[middle] ^= 1;
    server.mirror.file(&path, tarball);
    let started = server.started_at();
    let (_, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 3);
    assert!(
        err.contains("BAD signature") || err.contains("checksum"),
        "{err}"
    );
    assert_eq!(server.started_at(), started, "the service was restarted");
    assert_eq!(server.served_version(), OLD);
}

/// Issue 10, hole 9: the signature proves the bytes, not the name. An older signed release
/// served under a newer version's name is refused after extraction (its `bin/mattermost version`
/// names another version): exit 3, and the running server is never stopped or swapped.
#[test]
fn an_older_signed_release_under_a_newer_name_is_refused() {
    let server = installed();
    let tarball = standin_tarball(standin_binary(), r#"{"version": "11.9.0"}"#);
    server.mirror.publish_tarball(
        &server.artifacts.key,
        "11.10.2",
        &release_name("11.10.2"),
        tarball,
    );
    let started = server.started_at();
    let (_, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 3);
    assert!(
        err.contains("published as Mattermost 11.10.2 is Mattermost 11.9.0"),
        "{err}"
    );
    assert_eq!(server.started_at(), started, "the service was restarted");
    assert_eq!(server.served_version(), OLD);
    assert_eq!(
        server.sh("ls -d /opt/.mm-install/* /opt/.mm-install-version-* 2>/dev/null | wc -l"),
        "0"
    );
    assert_eq!(
        server.sh("test -e /var/lib/mm-install/journal.json && echo left || echo none"),
        "none"
    );
}

/// Air-gapped upgrades: `upgrade --tarball FILE --signature FILE` (the version from the file
/// name) copies FILE into the root-only cache while it is verified and upgrades from the copy.
#[test]
fn an_air_gapped_upgrade_uses_the_verified_copy_of_a_local_tarball() {
    let server = installed();
    let tarball = standin_tarball(standin_binary(), r#"{"version": "11.10.2"}"#);
    let signature = server
        .artifacts
        .key
        .sign(&tarball, pgp::crypto::hash::HashAlgorithm::Sha256);
    let file = release_name("11.10.2");
    std::fs::write(server.artifacts.path().join(&file), &tarball).unwrap();
    std::fs::write(
        server.artifacts.path().join(format!("{file}.sig")),
        signature,
    )
    .unwrap();
    let (local, sig) = (
        format!("/srv/artifacts/{file}"),
        format!("/srv/artifacts/{file}.sig"),
    );
    let (out, _) = assert_exit(
        &server.mm(&["upgrade", "--tarball", &local, "--signature", &sig]),
        0,
    );
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}");
    assert_eq!(server.served_version(), "11.10.2");
    assert_eq!(
        server.sh(&format!(
            "cmp /var/lib/mm-install/cache/{file} {local} && stat -c %a /var/lib/mm-install/cache"
        )),
        "700"
    );
}

#[test]
fn one_operation_at_a_time() {
    let server = installed();
    server.publish("11.10.2", r#""ready_delay_ms": 8000"#);
    let first = server.guest.sh(&format!(
        "/srv/artifacts/mm-install upgrade --version 11.10.2 --no-progress --keyring /srv/artifacts/key.asc --release-url {} > /tmp/first.log 2>&1 & echo started",
        server.mirror.base_url
    ));
    assert_eq!(stdout(&first), "started");
    // Wait until the first run holds the lock (it writes its pid into the lock file).
    server.sh("for i in $(seq 100); do grep -q upgrade /var/lib/mm-install/lock 2>/dev/null && break; sleep 0.1; done");
    let (_, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 5);
    assert!(err.contains("(upgrade)") && err.contains("pid"), "{err}");
    server.sh("while pgrep -f '^/srv/artifacts/mm-install upgrade' >/dev/null; do sleep 0.2; done");
    assert!(
        server
            .sh("cat /tmp/first.log")
            .contains("upgraded: 11.10.1 -> 11.10.2"),
        "{}",
        server.sh("cat /tmp/first.log")
    );
}

/// A kill before the new server starts is undone by the next run; a kill after it leaves the
/// decision about the database to the operator.
#[test]
fn an_upgrade_killed_at_any_step_is_undone_by_the_next_run() {
    let server = installed();
    server.sh("echo 'keep me' > /opt/mattermost/data/keep.txt");
    server.publish("11.10.2", r#""fail_start": false"#);
    // Every step of the plan the dry run prints, so that a new step is covered too.
    let (plan, _) = assert_exit(
        &server.mm(&["upgrade", "--version", "11.10.2", "--dry-run"]),
        0,
    );
    let steps = plan_steps(&plan);
    let starts = steps
        .iter()
        .position(|step| step.starts_with("start mattermost.service"))
        .unwrap_or_else(|| panic!("no step starts the server: {plan}"));
    assert!(starts > 0 && starts + 1 < steps.len(), "{plan}");
    for (index, step) in steps.iter().enumerate() {
        let number = index + 1;
        let checkpoint = format!("{number}. {step}");
        let checkpoint = checkpoint.as_str();
        let crashed = server.guest.sh(&format!(
            "MM_INSTALL_CRASH_AT='{number}' /srv/artifacts/mm-install upgrade --version 11.10.2 --no-progress --keyring /srv/artifacts/key.asc --release-url {}",
            server.mirror.base_url
        ));
        assert_eq!(
            crashed.status.code(),
            Some(134),
            "{checkpoint}: {:?}",
            texts(&crashed)
        );
        assert!(
            texts(&crashed).1.contains("crashing on purpose"),
            "{checkpoint}: {:?}",
            texts(&crashed)
        );
        // A dry run only reports the interrupted upgrade: it changes nothing, recovery included.
        let (_, err) = assert_exit(
            &server.mm(&["upgrade", "--version", "11.10.2", "--dry-run"]),
            0,
        );
        assert!(
            err.contains("an earlier upgrade did not finish"),
            "{checkpoint}: {err}"
        );
        assert_eq!(
            server.sh("test -e /var/lib/mm-install/journal.json && echo left"),
            "left",
            "{checkpoint}: the dry run recovered"
        );
        if index >= starts {
            the_operator_decides_once_the_new_server_started(&server, checkpoint);
        } else {
            // Any real run first undoes the interrupted upgrade (here one with nothing else to
            // do).
            let recovered = server.mm(&["upgrade", "--version", OLD]);
            if recovered.status.code() != Some(0) {
                panic!(
                    "{checkpoint}: recovery failed: {:?}\nmattermost journal:\n{}",
                    texts(&recovered),
                    server.guest.journal("mattermost")
                );
            }
            let err = texts(&recovered).1;
            assert!(
                err.contains("interrupted upgrade was undone"),
                "{checkpoint}: {err}"
            );
        }
        assert_eq!(
            server.sh("systemctl is-active mattermost"),
            "active",
            "{checkpoint}"
        );
        assert_eq!(server.served_version(), OLD, "{checkpoint}");
        assert_eq!(
            server.sh("cat /opt/mattermost/data/keep.txt"),
            "keep me",
            "{checkpoint}"
        );
        assert_eq!(
            server.sh("ls -d /opt/.mm-install/* /opt/mattermost-11.* 2>/dev/null | wc -l"),
            "0",
            "{checkpoint}"
        );
    }
    // And the upgrade still works afterwards.
    let (out, _) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}");
}

/// Issue 11, gap 5: `rollback --restore-database` killed at each step before the older server
/// starts, and with its whole process group in the middle of the restore's transaction (a
/// `pg_restore` wrapper kills it once the script is written, before psql may commit). Each time
/// the next run undoes the rollback and the newer release serves again with its database whole,
/// a row written after the upgrade included; nothing is left aside. Then the rollback runs to
/// its end and keeps the replaced schema.
#[test]
fn a_restoring_rollback_killed_at_any_step_leaves_one_database_whole() {
    let server = installed();
    server.publish("11.10.2", r#""fail_start": false"#);
    assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 0);
    server.psql("CREATE TABLE after_upgrade (note text)");
    server.psql("INSERT INTO after_upgrade VALUES ('written on 11.10.2')");
    server.sh(KILL_THE_RESTORE_MID_TRANSACTION);
    let rollback = "/srv/artifacts/mm-install rollback --restore-database --yes --no-progress";
    // Every step of the plan the dry run prints before the older server starts, so that a new
    // step is covered too; then the kill inside the restore's transaction.
    let planned = server.guest.sh(&format!("{rollback} --dry-run"));
    let (out, err) = texts(&planned);
    let plan = format!("{out}\n{err}");
    assert_eq!(planned.status.code(), Some(0), "{plan}");
    let steps = plan_steps(&plan);
    let starts = steps
        .iter()
        .position(|step| step.starts_with("start mattermost.service"))
        .unwrap_or_else(|| panic!("no step starts the server: {plan}"));
    assert!(
        steps[..starts]
            .iter()
            .any(|step| step.starts_with("restore the database")),
        "{plan}"
    );
    let checkpoints = (1..=starts)
        .map(|number| (Some(number), format!("{number}. {}", steps[number - 1])))
        .chain([(None, "in the transaction".to_string())]);
    for (number, checkpoint) in checkpoints {
        let checkpoint = checkpoint.as_str();
        let crashed = match number {
            None => {
                server.sh("touch /root/kill-restore");
                server.guest.sh(&format!("setsid -w {rollback}"))
            }
            Some(number) => server
                .guest
                .sh(&format!("MM_INSTALL_CRASH_AT='{number}' {rollback}")),
        };
        assert_ne!(crashed.status.code(), Some(0), "{checkpoint}");
        assert_eq!(
            server.sh("test -e /var/lib/mm-install/journal.json && echo left"),
            "left",
            "{checkpoint}: {:?}",
            texts(&crashed)
        );
        let recovered = server.mm(&["upgrade", "--version", "11.10.2"]);
        let (_, err) = texts(&recovered);
        assert_eq!(recovered.status.code(), Some(0), "{checkpoint}: {err}");
        assert!(
            err.contains("interrupted rollback was undone"),
            "{checkpoint}: {err}"
        );
        assert_eq!(server.served_version(), "11.10.2", "{checkpoint}");
        assert_eq!(
            server.psql("SELECT note FROM public.after_upgrade"),
            "written on 11.10.2",
            "{checkpoint}"
        );
        assert_eq!(
            server.psql("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'mm_install%'"),
            "0",
            "{checkpoint}"
        );
    }
    assert_eq!(
        server.sh("test -e /root/kill-restore && echo armed || echo fired"),
        "fired"
    );
    let (out, err) = assert_exit(&server.mm(&["rollback", "--restore-database", "--yes"]), 0);
    assert!(out.contains("rolled back: 11.10.2 -> 11.10.1"), "{out}");
    assert!(err.contains("DROP SCHEMA mm_install_replaced_"), "{err}");
    assert_eq!(server.served_version(), OLD);
    assert_eq!(
        server.psql("SELECT to_regclass('public.after_upgrade') IS NULL"),
        "t"
    );
}

/// The steps of a plan as the CLI prints them (`  1. extract ...`), in order.
fn plan_steps(plan: &str) -> Vec<String> {
    plan.lines()
        .filter_map(|line| {
            let (number, step) = line.trim_start().split_once(". ")?;
            number.parse::<usize>().ok()?;
            Some(step.to_string())
        })
        .collect()
}

/// The guest side of the test above: a `pg_restore` that, once armed, kills its process group
/// (mm-install, the pipeline and psql) after writing the restore script, while psql's
/// transaction is open.
const KILL_THE_RESTORE_MID_TRANSACTION: &str = r#"cat > /usr/local/bin/pg_restore <<'END'
#!/bin/sh
/usr/bin/pg_restore "$@" || exit $?
case "$*" in
*"-f -"*)
    if [ -e /root/kill-restore ]; then
        rm -f /root/kill-restore
        kill -9 "-$(cut -d' ' -f5 /proc/$$/stat)"
    fi ;;
esac
exit 0
END
chmod 755 /usr/local/bin/pg_restore"#;

/// Issue 11, gap 7: state.json says Team Edition, but the installed binary is Enterprise
/// (Mattermost's in-product Team → Enterprise upgrade replaces the binary only; the stand-in's
/// `mattermost version` says `Build Enterprise Ready: true`). The upgrade says so and installs
/// and records the Enterprise Edition; it used to ask for the Team tarball, which is not
/// published here.
#[test]
fn an_edition_changed_in_the_product_is_kept_by_the_upgrade() {
    let server = installed();
    let state = "/var/lib/mm-install/state.json";
    server.sh(&format!(
        "sed -i 's/\"edition\": \"enterprise\"/\"edition\": \"team\"/' {state}"
    ));
    assert_eq!(
        server.sh(&format!("grep -c '\"edition\": \"team\"' {state}")),
        "1"
    );
    server.publish("11.10.2", r#""fail_start": false"#);
    let (out, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}");
    assert!(
        err.contains("the installed server is the enterprise edition")
            && err.contains("not the team edition"),
        "{err}"
    );
    let recorded = server.sh(&format!("cat {state}"));
    let current = recorded.split("\"history\"").next().unwrap_or_default();
    assert!(
        current.contains("\"edition\": \"enterprise\""),
        "{recorded}"
    );
}

/// Issue 11, gap 7: where SELinux is enabled, the tree an upgrade or a rollback swaps in is
/// relabelled (`restorecon -R`; it carries the labels of `/opt/.mm-install`). The guest has no
/// SELinux: `selinuxenabled` and `restorecon` stand-ins first on the `PATH` say it is enabled
/// and log what they are asked.
#[test]
fn where_selinux_is_enabled_the_swapped_in_tree_is_relabelled() {
    let server = installed();
    server.sh(
        "printf '#!/bin/sh\\nexit 0\\n' > /usr/local/bin/selinuxenabled; \
         printf '#!/bin/sh\\necho \"$*\" >> /root/restorecon.log\\n' > /usr/local/bin/restorecon; \
         chmod 755 /usr/local/bin/selinuxenabled /usr/local/bin/restorecon",
    );
    server.publish("11.10.2", r#""fail_start": false"#);
    let (out, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}");
    assert!(
        err.contains("relabel /opt/mattermost for SELinux, which is enabled (restorecon -R)"),
        "{err}"
    );
    assert_eq!(server.sh("cat /root/restorecon.log"), "-R /opt/mattermost");
    assert_exit(&server.mm(&["rollback", "--yes"]), 0);
    assert_eq!(
        server.sh("cat /root/restorecon.log"),
        "-R /opt/mattermost\n-R /opt/mattermost"
    );
    assert_eq!(server.served_version(), OLD);
}

/// Issue 10, hole 5: the upgrade was killed once the new server may have started (the journal
/// says so before `systemctl start`), so it may have migrated the schema and taken writes. The
/// next run changes nothing (exit 10, a row written after the kill survives) and names the one
/// command that restores the dump; that command then brings the old release and database back.
fn the_operator_decides_once_the_new_server_started(server: &GuestServer, checkpoint: &str) {
    let psql = |sql: &str| {
        server.sh(&format!(
            "runuser -u postgres -- psql -X -q -tA -d mattermost -c 'SET ROLE mmuser' -c \"{sql}\""
        ))
    };
    psql(
        "CREATE TABLE after_kill (note text); INSERT INTO after_kill VALUES ('written after the kill')",
    );
    let service = server.sh("systemctl is-active mattermost");
    let trees = server.sh("ls -d /opt/mattermost* /opt/.mattermost-upgrade-* 2>/dev/null");
    let (_, err) = assert_exit(&server.mm(&["upgrade", "--version", OLD]), 10);
    assert!(
        err.contains("interrupted after it started the new server")
            && err.contains("nothing was undone")
            && err.contains("database.dump")
            && err.contains("mm-install rollback --restore-database --yes"),
        "{checkpoint}: {err}"
    );
    assert_eq!(
        psql("SELECT note FROM after_kill"),
        "written after the kill",
        "{checkpoint}: the database was touched"
    );
    assert_eq!(
        server.sh("systemctl is-active mattermost"),
        service,
        "{checkpoint}"
    );
    assert_eq!(
        server.sh("ls -d /opt/mattermost* /opt/.mattermost-upgrade-* 2>/dev/null"),
        trees,
        "{checkpoint}: the trees were touched"
    );
    assert_eq!(
        server.sh("test -e /var/lib/mm-install/journal.json && echo left"),
        "left",
        "{checkpoint}"
    );
    // The operator's choice: undo the upgrade, database included.
    let restored = server.mm(&["rollback", "--restore-database", "--yes"]);
    if restored.status.code() != Some(0) {
        panic!(
            "{checkpoint}: the restore failed: {:?}\nmattermost journal:\n{}",
            texts(&restored),
            server.guest.journal("mattermost")
        );
    }
    let (out, err) = texts(&restored);
    assert!(
        err.contains("restored its database dump") && out.contains("rolled back"),
        "{checkpoint}: {out}\n{err}"
    );
    assert_eq!(
        psql("SELECT to_regclass('public.after_kill') IS NULL"),
        "t",
        "{checkpoint}: the dump was not restored"
    );
    assert_eq!(
        server.sh("test -e /var/lib/mm-install/journal.json && echo left || echo none"),
        "none",
        "{checkpoint}"
    );
}

/// The other choice after exit 10: keep the server the killed upgrade started. It is recorded as
/// installed (what was written since stays), and the release it replaced can be rolled back to.
#[test]
fn the_server_a_killed_upgrade_started_can_be_kept() {
    let server = installed();
    server.publish("11.10.2", r#""fail_start": false"#);
    let crashed = server.guest.sh(&format!(
        "MM_INSTALL_CRASH_AT='prove' /srv/artifacts/mm-install upgrade --version 11.10.2 --no-progress --keyring /srv/artifacts/key.asc --release-url {}",
        server.mirror.base_url
    ));
    assert_exit(&crashed, 134);
    let psql = |sql: &str| {
        server.sh(&format!(
            "runuser -u postgres -- psql -X -q -tA -d mattermost -c 'SET ROLE mmuser' -c \"{sql}\""
        ))
    };
    psql("CREATE TABLE after_kill (note text); INSERT INTO after_kill VALUES ('kept')");
    server.sh("mkdir -p /etc/mm-install");
    server.mirror.file("/hooks/abc", b"ok".to_vec());
    server.sh(&format!(
        "printf 'webhook_url = \"{}/hooks/abc\"\\n' > /etc/mm-install/mm-install.toml",
        server.mirror.base_url
    ));
    assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 10);
    assert_eq!(
        server.mirror.seen("/hooks/abc").len(),
        1,
        "the webhook was not told about the exit 10"
    );
    let (out, _) = assert_exit(&server.mm(&["upgrade", "--keep-started"]), 0);
    assert!(out.contains("kept: 11.10.2"), "{out}");
    assert_eq!(psql("SELECT note FROM after_kill"), "kept");
    assert_eq!(server.served_version(), "11.10.2");
    assert_eq!(
        server.sh("test -e /var/lib/mm-install/journal.json && echo left || echo none; ls -d /opt/.mattermost-upgrade-* 2>/dev/null | wc -l"),
        "none\n0"
    );
    let (status, _) = assert_exit(&server.mm(&["status", "--json"]), 0);
    assert!(
        status.contains("\"installed_version\": \"11.10.2\""),
        "{status}"
    );
    // Nothing is left waiting, and the replaced release is a normal rollback target.
    let (out, _) = assert_exit(&server.mm(&["rollback", "--yes"]), 0);
    assert!(out.contains("rolled back: 11.10.2 -> 11.10.1"), "{out}");
    assert_eq!(server.served_version(), OLD);
}

#[test]
fn a_server_installed_by_hand_is_adopted() {
    let server = GuestServer::boot(Suite::Bookworm);
    for version in [OLD, "11.10.2"] {
        server.publish(version, "");
    }
    let (guest, mirror) = (&server.guest, &server.mirror);
    // Mattermost's manual procedure: tarball to /opt, user, chown, database, config, unit.
    let manual = guest.sh(&format!(
        "set -e; cd /tmp; curl -sSfO {base}/{OLD}/{file}; tar -xzf {file}; mv mattermost /opt; mkdir /opt/mattermost/data; \
         useradd --system --user-group mattermost; chown -R mattermost:mattermost /opt/mattermost; chmod -R g+w /opt/mattermost; \
         runuser -u postgres -- psql -c \"CREATE USER mmuser WITH PASSWORD 'manual-pass'\" -c 'CREATE DATABASE mattermost OWNER mmuser'; \
         sed -i 's|\"DataSource\": \"[^\"]*\"|\"DataSource\": \"postgres://mmuser:manual-pass@localhost:5432/mattermost?sslmode=disable\\\\u0026connect_timeout=10\"|' /opt/mattermost/config/config.json; \
         printf '[Unit]\\nDescription=Mattermost\\nAfter=network.target\\n[Service]\\nType=notify\\nExecStart=/opt/mattermost/bin/mattermost\\nTimeoutStartSec=3600\\nKillMode=mixed\\nRestart=always\\nRestartSec=10\\nWorkingDirectory=/opt/mattermost\\nUser=mattermost\\nGroup=mattermost\\nLimitNOFILE=49152\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/mattermost.service; \
         systemctl daemon-reload; systemctl enable --now mattermost",
        base = mirror.base_url,
        file = release_name(OLD),
    ));
    assert!(
        manual.status.success(),
        "manual install: {:?}",
        texts(&manual)
    );
    let output = run_in(
        guest,
        &[
            "/srv/artifacts/mm-install",
            "upgrade",
            "--version",
            "11.10.2",
            "--no-progress",
            "--keyring",
            "/srv/artifacts/key.asc",
            "--release-url",
            &mirror.base_url,
        ]
        .map(String::from),
    );
    let (out, err) = assert_exit(&output, 0);
    assert!(
        err.contains("adopting the Mattermost 11.10.1 installed by hand"),
        "{err}"
    );
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}");
    let version = stdout(&guest.sh(
        "curl -sS -D - -o /dev/null http://127.0.0.1:8065/api/v4/system/ping | tr -d '\\r' | sed -n 's/^[Xx]-[Vv]ersion-[Ii]d: //p'",
    ));
    assert!(version.starts_with("11.10.2."), "{version}");
}

/// Issue 11, gap 2: a file store at `./files/` and a directory an admin added used to stay in the
/// old tree, and went with it when retention pruned it.
#[test]
fn a_custom_file_store_and_an_extra_directory_survive_three_upgrades_with_keep_1() {
    let server = installed();
    server.sh(
        "sed -i 's|\"Directory\": \"./data/\"|\"Directory\": \"./files/\"|' /opt/mattermost/config/config.json \
         && mkdir -p /opt/mattermost/files/users /opt/mattermost/extra-certs \
         && echo 'uploaded file' > /opt/mattermost/files/users/file.txt \
         && echo 'certificate' > /opt/mattermost/extra-certs/x \
         && mkdir -p /opt/mattermost/templates && echo 'custom' > /opt/mattermost/templates/custom.html \
         && chown -R mattermost:mattermost /opt/mattermost \
         && mkdir -p /etc/mm-install && echo 'keep = 1' > /etc/mm-install/mm-install.toml",
    );
    assert!(
        server
            .sh("cat /opt/mattermost/config/config.json")
            .contains("\"Directory\": \"./files/\""),
        "the file store was not moved to ./files/"
    );
    let survived = |when: &str| {
        for (path, content) in [
            ("files/users/file.txt", "uploaded file"),
            ("extra-certs/x", "certificate"),
        ] {
            assert_eq!(
                server.sh(&format!(
                    "test ! -L /opt/mattermost/{} && runuser -u mattermost -- cat /opt/mattermost/{path}",
                    path.split('/').next().unwrap()
                )),
                content,
                "{path} {when}"
            );
        }
    };
    let versions = ["11.10.2", "11.10.3", "11.10.4"];
    for version in versions {
        server.publish(version, r#""fail_start": false"#);
    }
    // The plan names what it carries over.
    let (plan, _) = assert_exit(
        &server.mm(&["upgrade", "--version", "11.10.2", "--dry-run"]),
        0,
    );
    assert!(
        plan.lines().any(|line| line.contains("move ")
            && line.contains("files")
            && line.contains("extra-certs")
            && !line.contains("bin")
            && !line.contains("templates")),
        "{plan}"
    );
    for version in versions {
        let (out, err) = assert_exit(&server.mm(&["upgrade", "--version", version]), 0);
        assert!(out.contains(&format!("-> {version}")), "{out}\n{err}");
        survived(&format!("after the upgrade to {version}"));
        // Mattermost's releases ship `templates/`, so the plan did not list it; the stand-in's
        // does not, and its tarball decides.
        assert!(
            format!("{out}{err}").contains("decided from the downloaded release: carrying over")
                && server.sh("cat /opt/mattermost/templates/custom.html") == "custom",
            "{out}\n{err}"
        );
    }
    assert_eq!(server.served_version(), "11.10.4");
    // keep = 1: the older trees were pruned, so nothing is read from them.
    assert_eq!(
        server.sh("ls -d /opt/.mm-install/mattermost-11.* | xargs -n1 basename | cut -d- -f2"),
        "11.10.3"
    );
    // A rollback carries them the other way.
    let (out, _) = assert_exit(&server.mm(&["rollback", "--yes"]), 0);
    assert!(out.contains("rolled back: 11.10.4 -> 11.10.3"), "{out}");
    survived("after the rollback");
}

/// `certbot --nginx` on a plain-HTTP install: the site's server block moves to 443 with the
/// certificate and a new port-80 block answers `return 301 https://$host$request_uri;` (what
/// certbot-nginx's `_enable_redirect` writes, certbot/certbot-nginx `configurator.py`). The
/// upgrade's health check follows that redirect over loopback with the site's name as SNI,
/// instead of rolling back a good upgrade after 90 s.
#[test]
fn an_upgrade_behind_a_certbot_redirect_passes_its_health_check() {
    let server = installed();
    let dir = server.artifacts.path();
    let generated = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg(format!("/CN={SITE_HOST}"))
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("run openssl (installed by .ci/run)");
    assert!(generated.status.success(), "{generated:?}");
    let certbot = format!(
        r#"set -e
f=/etc/nginx/sites-available/mattermost
sed -i -e 's|^    listen 80\(.*\);|    listen 443 ssl\1;|' \
    -e 's|^    listen \[::\]:80\(.*\);|    listen [::]:443 ssl\1;|' \
    -e 's|^    server_name \(.*\);|    server_name \1;\n    ssl_certificate /srv/artifacts/cert.pem;\n    ssl_certificate_key /srv/artifacts/key.pem;|' $f
cat >> $f <<'SITE'
server {{
    listen 80;
    listen [::]:80;
    server_name {SITE_HOST};
    return 301 https://$host$request_uri;
}}
SITE
nginx -t 2>/dev/null && systemctl reload nginx && echo reloaded"#
    );
    assert_eq!(server.sh(&certbot), "reloaded");
    // A reload returns before the new workers serve: ask until they do (10 s at most).
    let redirect = server.sh(&format!(
        "for i in $(seq 50); do a=$(curl -sS -o /dev/null -w '%{{http_code}} %{{redirect_url}}' -H 'Host: {SITE_HOST}' http://127.0.0.1/api/v4/system/ping); case $a in 301*) break;; esac; sleep 0.2; done; echo \"$a\""
    ));
    assert_eq!(
        redirect,
        format!("301 https://{SITE_HOST}/api/v4/system/ping"),
        "the site:\n{}",
        server.sh("cat /etc/nginx/sites-enabled/mattermost")
    );

    server.publish("11.10.2", r#""fail_start": false"#);
    let (out, _) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}");
    let served = server.sh(&format!(
        "curl -sSk -D - -o /dev/null --resolve {SITE_HOST}:443:127.0.0.1 https://{SITE_HOST}/api/v4/system/ping | tr -d '\\r' | sed -n 's/^[Xx]-[Vv]ersion-[Ii]d: //p'"
    ));
    assert!(served.starts_with("11.10.2."), "{served}");
}

#[test]
fn an_unattended_upgrade_skips_a_feed_entry_whose_files_are_not_published() {
    let server = installed();
    server.publish("11.10.2", r#""fail_start": false"#);
    // 11.10.3 is in the feed, but the release host has no file for it: S3 answers 403.
    server.feed(&[OLD, "11.10.2", "11.10.3"]);
    server.mirror.file("/hooks/skip", b"ok".to_vec());
    server.sh(&format!(
        "mkdir -p /etc/mm-install && printf 'webhook_url = \"{}/hooks/skip\"\\n' > /etc/mm-install/mm-install.toml",
        server.mirror.base_url
    ));
    let missing = format!(
        "{}/11.10.3/{}.sig",
        server.mirror.base_url,
        release_name("11.10.3")
    );

    // Naming it still fails as before, and changes nothing.
    let (_, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.3", "--yes"]), 1);
    assert!(err.contains("11.10.3"), "{err}");
    assert_eq!(server.served_version(), OLD);

    let (out, err) = assert_exit(&server.mm(&["upgrade", "--latest"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}\n{err}");
    assert!(
        err.contains(&format!(
            "skipped Mattermost 11.10.3 from the releases feed: nothing is published at {missing} (HTTP 403)"
        )),
        "{err}"
    );
    assert_eq!(server.served_version(), "11.10.2");
    let told: Vec<String> = server
        .mirror
        .seen("/hooks/skip")
        .iter()
        .map(|hook| String::from_utf8_lossy(&hook.body).into_owned())
        .collect();
    assert!(
        told.last().is_some_and(|message| message
            .contains("upgraded Mattermost 11.10.1 to 11.10.2")
            && message.contains("skipped Mattermost 11.10.3 from the releases feed")),
        "{told:?}"
    );
}

#[test]
fn a_release_signed_before_the_installed_one_is_refused_unless_the_state_predates_the_record() {
    let server = installed();
    let state = "/var/lib/mm-install/state.json";
    assert!(
        server.sh(&format!("grep -c '\"signed_at\": \"20' {state}")) == "1",
        "{}",
        server.sh(&format!("cat {state}"))
    );
    // 11.10.2 is genuinely signed by the release key, but a day before the installed 11.10.1:
    // an old release under a new name.
    server.publish_signed_yesterday("11.10.2");
    let before = server.sh(&format!("cat {state}"));
    let (_, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2", "--yes"]), 3);
    assert!(
        err.contains("error: the signature of Mattermost 11.10.2 was made at ")
            && err.contains("before the installed Mattermost 11.10.1's"),
        "{err}"
    );
    assert_eq!(server.served_version(), OLD);
    assert_eq!(server.sh(&format!("cat {state}")), before);
    assert_eq!(server.sh("ls /opt/.mm-install | wc -l"), "0");

    // A state file written before the signature time was recorded: the check is skipped with
    // a note, and the new release's time is recorded.
    server.sh(&format!("sed -i '/\"signed_at\"/d' {state}"));
    let (out, err) = assert_exit(&server.mm(&["upgrade", "--version", "11.10.2", "--yes"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}\n{err}");
    assert!(
        err.contains("the signature time of the installed Mattermost 11.10.1 is not recorded"),
        "{err}"
    );
    assert_eq!(server.served_version(), "11.10.2");
    assert_eq!(server.sh(&format!("grep -c '\"signed_at\"' {state}")), "1");
}
