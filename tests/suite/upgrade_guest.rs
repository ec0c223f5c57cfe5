//! Upgrades and rollbacks inside a booted Debian guest (bookworm; the whole path on trixie too),
//! against a mirror on the host with several stand-in releases: the admin's state survives,
//! failures roll back on their own, the lock holds, a killed upgrade is undone by the next run,
//! and a hand-made install is adopted.

use crate::common::texts;
use crate::guest::{Guest, Suite};
use crate::install_guest::{Artifacts, SITE_HOST, install_args, run_in, standin_binary, stdout};
use crate::mirror::{Mirror, releases_feed, standin_tarball};

const OLD: &str = "11.10.1";

fn name(version: &str) -> String {
    format!("mattermost-{version}-linux-amd64.tar.gz")
}

/// A guest with Mattermost `OLD` installed by mm-install from `mirror`.
pub struct Server {
    /// The guest trusts `artifacts.key` (`/srv/artifacts/key.asc`): releases are signed with it.
    artifacts: Artifacts,
    pub guest: Guest,
    mirror: Mirror,
}

impl Server {
    fn install() -> Server {
        Server::install_on(Suite::Bookworm)
    }

    fn install_on(suite: Suite) -> Server {
        let artifacts = Artifacts::new();
        let guest = Guest::boot_suite(suite, artifacts.path());
        let mirror = Mirror::start_on(guest.host_address());
        let server = Server {
            artifacts,
            guest,
            mirror,
        };
        server.publish(OLD, r#""fail_start": false"#);
        let mut args = install_args();
        args.extend(["--release-url".into(), server.mirror.base_url.clone()]);
        let output = run_in(&server.guest, &args);
        assert!(
            output.status.success(),
            "install on {suite} failed: {:?}\nmattermost journal:\n{}",
            texts(&output),
            server.guest.journal("mattermost")
        );
        server
    }

    /// Publish a stand-in release of `version`; `extra` is more standin.json fields.
    fn publish(&self, version: &str, extra: &str) {
        let json = format!(r#"{{"version": "{version}", {extra}}}"#);
        let tarball = standin_tarball(standin_binary(), &json);
        self.mirror
            .publish_tarball(&self.artifacts.key, version, &name(version), tarball);
    }

    fn feed(&self, versions: &[&str]) {
        self.mirror.file("/releases", releases_feed(versions));
    }

    /// `mm-install <args…>` in the guest with the mirror and feed.
    fn mm(&self, args: &[&str]) -> std::process::Output {
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

    pub fn sh(&self, script: &str) -> String {
        stdout(&self.guest.sh(script))
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

fn exit(output: &std::process::Output, code: i32) -> (String, String) {
    let (out, err) = texts(output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    (out, err)
}

#[test]
fn upgrades_keep_the_admins_state_and_roll_back_with_or_without_the_database() {
    let server = Server::install();
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
    let (out, err) = exit(&server.mm(&["upgrade", "--latest"]), 0);
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
    assert_eq!(server.sh("ls -d /opt/mattermost-11.10.1-* | wc -l"), "1");
    assert_eq!(
        server.sh("ls /var/lib/mm-install/backups/*-11.10.1-to-11.10.2/"),
        "config.json\ndatabase.dump"
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
    let (out, _) = exit(&server.mm(&["upgrade", "--latest"]), 0);
    assert!(out.contains("up to date: 11.10.2"), "{out}");
    assert_eq!(server.started_at(), started);
    assert_eq!(server.mirror.seen("/releases").len(), feed_requests + 1);
    assert!(
        server
            .mirror
            .seen(&format!("/11.11.0/{}", name("11.11.0")))
            .is_empty()
    );

    // Policy minor: 11.11.0.
    let (out, _) = exit(&server.mm(&["upgrade", "--policy", "minor", "--yes"]), 0);
    assert!(out.contains("upgraded: 11.10.2 -> 11.11.0"), "{out}");
    assert_eq!(server.served_version(), "11.11.0");

    // Status lists the kept releases.
    let (status, _) = exit(&server.mm(&["status", "--json"]), 0);
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
    let (out, _) = exit(&server.mm(&["rollback", "--yes"]), 0);
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
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let (out, err) = exit(
        &server.mm(&["rollback", "--to", "11.10.1", "--restore-database", "--yes"]),
        0,
    );
    assert!(out.contains("rolled back: 11.10.2 -> 11.10.1"), "{out}");
    assert!(err.contains("LOST"), "{err}");
    assert_eq!(server.served_version(), "11.10.1");
    assert_eq!(
        server.psql(
            "SELECT count(*) FROM pg_tables WHERE tablename IN ('before_upgrade', 'after_upgrade')"
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
pub fn install_verify_upgrade_and_roll_back_on(suite: Suite) -> Server {
    let server = Server::install_on(suite);
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
    let (out, _) = exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}");
    assert_eq!(server.served_version(), "11.10.2");

    let (_, err) = exit(&server.mm(&["upgrade", "--version", "11.10.3"]), 4);
    assert!(err.contains("11.10.2 is running again"), "{err}");
    assert_eq!(server.served_version(), "11.10.2");

    let (out, _) = exit(&server.mm(&["rollback", "--yes"]), 0);
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
    let server = Server::install();
    server.sh("echo 'keep me' > /opt/mattermost/data/keep.txt");
    let config_before = server.sh("cat /opt/mattermost/config/config.json");
    server.publish("11.10.2", r#""fail_start": true"#);
    server.publish("11.10.3", r#""report_version": "11.10.1""#);

    for version in ["11.10.2", "11.10.3"] {
        let started = std::time::Instant::now();
        let (_, err) = exit(&server.mm(&["upgrade", "--version", version]), 4);
        assert!(
            err.contains("rolled back") && err.contains("11.10.1 is running again"),
            "{err}"
        );
        // A wrong version never becomes right: no waiting out the health check's 90 s.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(45),
            "{version} took {:?} to roll back:\n{err}",
            started.elapsed()
        );
        assert_eq!(server.served_version(), OLD);
        assert_eq!(server.sh("systemctl is-active mattermost"), "active");
        assert_eq!(server.sh("cat /opt/mattermost/data/keep.txt"), "keep me");
        assert_eq!(
            server.sh("cat /opt/mattermost/config/config.json"),
            config_before
        );
        assert_eq!(
            server.sh("ls -d /opt/.mattermost-upgrade-* /opt/mattermost-11.* 2>/dev/null | wc -l"),
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

#[test]
fn a_tampered_release_leaves_the_running_server_untouched() {
    let server = Server::install();
    server.publish("11.10.2", r#""fail_start": false"#);
    let path = format!("/11.10.2/{}", name("11.10.2"));
    let mut tarball = standin_tarball(standin_binary(), r#"{"version": "11.10.2"}"#);
    let middle = tarball.len() / 2;
    tarball[middle] ^= 1;
    server.mirror.file(&path, tarball);
    let started = server.started_at();
    let (_, err) = exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 3);
    assert!(
        err.contains("BAD signature") || err.contains("checksum"),
        "{err}"
    );
    assert_eq!(server.started_at(), started, "the service was restarted");
    assert_eq!(server.served_version(), OLD);
}

#[test]
fn one_operation_at_a_time() {
    let server = Server::install();
    server.publish("11.10.2", r#""ready_delay_ms": 8000"#);
    let first = server.guest.sh(&format!(
        "/srv/artifacts/mm-install upgrade --version 11.10.2 --no-progress --keyring /srv/artifacts/key.asc --release-url {} > /tmp/first.log 2>&1 & echo started",
        server.mirror.base_url
    ));
    assert_eq!(stdout(&first), "started");
    // Wait until the first run holds the lock (it writes its pid into the lock file).
    server.sh("for i in $(seq 100); do grep -q upgrade /var/lib/mm-install/lock 2>/dev/null && break; sleep 0.1; done");
    let (_, err) = exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 5);
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

#[test]
fn an_upgrade_killed_at_any_step_is_undone_by_the_next_run() {
    let server = Server::install();
    server.sh("echo 'keep me' > /opt/mattermost/data/keep.txt");
    server.publish("11.10.2", r#""fail_start": false"#);
    for checkpoint in [
        "extract",
        "back up",
        "stop",
        "remember the database",
        "move config",
        "move /opt/mattermost to",
        "start",
        "prove",
    ] {
        let crashed = server.guest.sh(&format!(
            "MM_INSTALL_CRASH_AT='{checkpoint}' /srv/artifacts/mm-install upgrade --version 11.10.2 --no-progress --keyring /srv/artifacts/key.asc --release-url {}",
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
        let (_, err) = exit(
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
        // Any real run first undoes the interrupted upgrade (here one with nothing else to do).
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
            server.sh("ls -d /opt/.mattermost-upgrade-* /opt/mattermost-11.* 2>/dev/null | wc -l"),
            "0",
            "{checkpoint}"
        );
    }
    // And the upgrade still works afterwards.
    let (out, _) = exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}");
}

#[test]
fn a_server_installed_by_hand_is_adopted() {
    let artifacts = Artifacts::new();
    let guest = Guest::boot(artifacts.path());
    let mirror = Mirror::start_on(guest.host_address());
    for version in [OLD, "11.10.2"] {
        let tarball = standin_tarball(standin_binary(), &format!(r#"{{"version": "{version}"}}"#));
        mirror.publish_tarball(&artifacts.key, version, &name(version), tarball);
    }
    // Mattermost's manual procedure: tarball to /opt, user, chown, database, config, unit.
    let manual = guest.sh(&format!(
        "set -e; cd /tmp; curl -sSfO {base}/{OLD}/{file}; tar -xzf {file}; mv mattermost /opt; mkdir /opt/mattermost/data; \
         useradd --system --user-group mattermost; chown -R mattermost:mattermost /opt/mattermost; chmod -R g+w /opt/mattermost; \
         runuser -u postgres -- psql -c \"CREATE USER mmuser WITH PASSWORD 'manual-pass'\" -c 'CREATE DATABASE mattermost OWNER mmuser'; \
         sed -i 's|\"DataSource\": \"[^\"]*\"|\"DataSource\": \"postgres://mmuser:manual-pass@localhost:5432/mattermost?sslmode=disable\\\\u0026connect_timeout=10\"|' /opt/mattermost/config/config.json; \
         printf '[Unit]\\nDescription=Mattermost\\nAfter=network.target\\n[Service]\\nType=notify\\nExecStart=/opt/mattermost/bin/mattermost\\nTimeoutStartSec=3600\\nKillMode=mixed\\nRestart=always\\nRestartSec=10\\nWorkingDirectory=/opt/mattermost\\nUser=mattermost\\nGroup=mattermost\\nLimitNOFILE=49152\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/mattermost.service; \
         systemctl daemon-reload; systemctl enable --now mattermost",
        base = mirror.base_url,
        file = name(OLD),
    ));
    assert!(
        manual.status.success(),
        "manual install: {:?}",
        texts(&manual)
    );
    let output = run_in(
        &guest,
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
    let (out, err) = exit(&output, 0);
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

/// `certbot --nginx` on a plain-HTTP install: the site's server block moves to 443 with the
/// certificate and a new port-80 block answers `return 301 https://$host$request_uri;` (what
/// certbot-nginx's `_enable_redirect` writes, certbot/certbot-nginx `configurator.py`). The
/// upgrade's health check follows that redirect over loopback with the site's name as SNI,
/// instead of rolling back a good upgrade after 90 s.
#[test]
fn an_upgrade_behind_a_certbot_redirect_passes_its_health_check() {
    let server = Server::install();
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
    let (out, _) = exit(&server.mm(&["upgrade", "--version", "11.10.2"]), 0);
    assert!(out.contains("upgraded: 11.10.1 -> 11.10.2"), "{out}");
    let served = server.sh(&format!(
        "curl -sSk -D - -o /dev/null --resolve {SITE_HOST}:443:127.0.0.1 https://{SITE_HOST}/api/v4/system/ping | tr -d '\\r' | sed -n 's/^[Xx]-[Vv]ersion-[Ii]d: //p'"
    ));
    assert!(served.starts_with("11.10.2."), "{served}");
}
