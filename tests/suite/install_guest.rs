//! The product's main job, end to end: `mm-install install --yes` inside a booted Debian guest
//! with systemd, real nginx and real PostgreSQL, against the release mirror on the host (or an
//! air-gapped tarball), with the stand-in server (`tests/standin/`) as `bin/mattermost`. A good
//! release ends in a working server behind nginx; a server that fails to start ends in a guest
//! exactly as it was.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::common::{Ran, assert_exit, texts, write_file};
use crate::guest::{Guest, Suite, e2e_dir};
use crate::guest_server::GuestServer;
use crate::mirror::{TestKey, hostile_tarball, standin_tarball};

pub const VERSION: &str = "11.10.1";
pub const NAME: &str = "mattermost-11.10.1-linux-amd64.tar.gz";
pub const SITE_HOST: &str = "chat.mm.test";

/// The stand-in server, built once per test run into its own target directory (so this works
/// while cargo holds the main one).
pub fn standin_binary() -> &'static [u8] {
    static BINARY: OnceLock<Vec<u8>> = OnceLock::new();
    BINARY.get_or_init(|| build_standin(false))
}

/// The stand-in linked statically (glibc's `crt-static`), for guests whose glibc is older than
/// the host's (Debian 11: 2.31). Its database URL must use an IP address: a static glibc has no
/// NSS modules to resolve names with.
pub fn static_standin_binary() -> &'static [u8] {
    static BINARY: OnceLock<Vec<u8>> = OnceLock::new();
    BINARY.get_or_init(|| build_standin(true))
}

fn build_standin(statically: bool) -> Vec<u8> {
    let target = e2e_dir().join(if statically {
        "standin-static-target"
    } else {
        "standin-target"
    });
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--locked", "-p", "mm-standin", "--target-dir"])
        .arg(&target)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    let binary = if statically {
        // An explicit --target keeps the flag off the build scripts and proc macros.
        let host = "x86_64-unknown-linux-gnu";
        command
            .args(["--target", host])
            .env("RUSTFLAGS", "-C target-feature=+crt-static");
        target.join(host).join("debug/mm-standin")
    } else {
        target.join("debug/mm-standin")
    };
    let status = command.status().expect("run cargo build -p mm-standin");
    assert!(status.success(), "cargo build -p mm-standin failed");
    std::fs::read(binary).expect("read the stand-in binary")
}

/// Everything the guest gets in /srv/artifacts: mm-install, the trusted key, and releases.
pub struct Artifacts {
    pub dir: tempfile::TempDir,
    pub key: TestKey,
}

impl Artifacts {
    pub fn new() -> Artifacts {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            env!("CARGO_BIN_EXE_mm-install"),
            dir.path().join("mm-install"),
        )
        .unwrap();
        let key = TestKey::generate("release");
        key.write_public(dir.path(), "key.asc");
        Artifacts { dir, key }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A signed stand-in release written beside mm-install (for `--tarball`).
    fn add_release(&self, standin_json: &str) -> PathBuf {
        let tarball = standin_tarball(standin_binary(), standin_json);
        let signature = self
            .key
            .sign(&tarball, pgp::crypto::hash::HashAlgorithm::Sha256);
        write_file(self.path(), &format!("{NAME}.sig"), &signature);
        write_file(self.path(), NAME, &tarball)
    }
}

fn standin_json(fail_start: bool) -> String {
    format!(r#"{{"version": "{VERSION}", "fail_start": {fail_start}}}"#)
}

pub fn install_args() -> Vec<String> {
    [
        "/srv/artifacts/mm-install",
        "install",
        "--yes",
        "--no-progress",
        "--keyring",
        "/srv/artifacts/key.asc",
        "--site-url",
        &format!("http://{SITE_HOST}"),
        "--version",
        VERSION,
    ]
    .map(String::from)
    .to_vec()
}

pub fn run_in(guest: &Guest, args: &[String]) -> Ran {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    guest.run(&args)
}

pub fn stdout(output: &Output) -> String {
    texts(output).0.trim().to_string()
}

#[test]
fn install_on_a_fresh_server_leaves_mattermost_working_behind_nginx() {
    // The release comes from the mirror on the host, the only address the guest can reach.
    let server = GuestServer::boot(Suite::Bookworm);
    server.publish(VERSION, r#""fail_start": false"#);
    let (guest, mirror) = (&server.guest, &server.mirror);

    let output = server.install(&[]);
    let (out, err) = texts(&output);
    assert!(
        output.status.success(),
        "install failed\nstdout:\n{out}\nstderr:\n{err}\nmattermost journal:\n{}",
        guest.journal("mattermost")
    );
    assert!(
        out.contains(&format!("installed Mattermost {VERSION}")),
        "{out}"
    );
    assert!(err.contains("websocket through nginx: OK"), "{err}");
    assert_eq!(mirror.seen(&format!("/{VERSION}/{NAME}")).len(), 1);

    // The service runs, is enabled, and answers through nginx, websocket included.
    assert_eq!(
        stdout(&guest.run(&["systemctl", "is-active", "mattermost"])),
        "active"
    );
    assert_eq!(
        stdout(&guest.run(&["systemctl", "is-enabled", "mattermost"])),
        "enabled"
    );
    let ping = guest.run(&[
        "curl",
        "-sS",
        "-i",
        "-H",
        &format!("Host: {SITE_HOST}"),
        "http://127.0.0.1/api/v4/system/ping",
    ]);
    let ping = stdout(&ping);
    assert!(ping.contains("\"status\":\"OK\""), "{ping}");
    assert!(
        ping.to_ascii_lowercase()
            .contains(&format!("x-version-id: {VERSION}.")),
        "{ping}"
    );
    let upgrade = guest.run(&[
        "curl",
        "-sS",
        "-i",
        "--max-time",
        "3",
        "-H",
        &format!("Host: {SITE_HOST}"),
        "-H",
        "Connection: Upgrade",
        "-H",
        "Upgrade: websocket",
        "-H",
        "Sec-WebSocket-Version: 13",
        "-H",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "http://127.0.0.1/api/v4/websocket",
    ]);
    assert!(stdout(&upgrade).starts_with("HTTP/1.1 101"), "{upgrade:?}");
    // Mattermost itself only listens on loopback.
    let listening = stdout(&guest.run(&["ss", "-Hltn", "sport = :8065"]));
    assert!(listening.contains("127.0.0.1:8065"), "{listening}");

    // Files, ownership and modes.
    let config = stdout(&guest.run(&[
        "stat",
        "-c",
        "%U:%G %a",
        "/opt/mattermost/config/config.json",
    ]));
    assert_eq!(config, "mattermost:mattermost 600");
    let data = stdout(&guest.run(&["stat", "-c", "%U %F", "/opt/mattermost/data"]));
    assert_eq!(data, "mattermost directory");
    let config_json = stdout(&guest.run(&["cat", "/opt/mattermost/config/config.json"]));
    let json: serde_json::Value = serde_json::from_str(&config_json).unwrap();
    assert_eq!(
        json["ServiceSettings"]["SiteURL"],
        format!("http://{SITE_HOST}")
    );
    assert_eq!(
        json["TeamSettings"]["MaxUsersPerTeam"], 50,
        "an unrelated key changed"
    );
    let data_source = json["SqlSettings"]["DataSource"]
        .as_str()
        .unwrap()
        .to_string();
    let password = data_source
        .split(':')
        .nth(2)
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_string();
    assert!(password.len() >= 32, "{data_source}");
    assert!(
        !out.contains(&password) && !err.contains(&password),
        "the database password was printed"
    );

    // PostgreSQL: the role and the database it owns.
    let owner = guest.run(&[
        "runuser",
        "-u",
        "postgres",
        "--",
        "psql",
        "-tAc",
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'mattermost'",
    ]);
    assert_eq!(stdout(&owner), "mmuser", "{owner:?}");

    // nginx: our site enabled, the stock default set aside, the configuration valid.
    assert!(
        guest
            .run(&["test", "-L", "/etc/nginx/sites-enabled/mattermost"])
            .status
            .success()
    );
    assert!(
        !guest
            .run(&["test", "-e", "/etc/nginx/sites-enabled/default"])
            .status
            .success()
    );
    assert_exit(&guest.run(&["nginx", "-t", "-q"]), 0);

    // The record, and no journal left behind.
    let state = stdout(&guest.run(&["cat", "/var/lib/mm-install/state.json"]));
    assert!(
        state.contains(&format!("\"version\": \"{VERSION}\"")),
        "{state}"
    );
    assert!(
        !guest
            .run(&["test", "-e", "/var/lib/mm-install/journal.json"])
            .status
            .success()
    );

    // A second install refuses and changes nothing.
    let again = server.install(&[]);
    let (_, err) = assert_exit(&again, 1);
    assert!(err.contains("mm-install upgrade"), "{again:?}");
    assert_eq!(
        stdout(&guest.run(&["systemctl", "is-active", "mattermost"])),
        "active"
    );
}

#[test]
fn a_server_that_fails_to_start_is_undone_completely() {
    let artifacts = Artifacts::new();
    let tarball = artifacts.add_release(&standin_json(true));
    let guest = Guest::boot(artifacts.path());
    let before_default = stdout(&guest.run(&["readlink", "/etc/nginx/sites-enabled/default"]));
    let mut args = install_args();
    args.extend([
        "--tarball".into(),
        format!(
            "/srv/artifacts/{}",
            tarball.file_name().unwrap().to_string_lossy()
        ),
        "--signature".into(),
        format!("/srv/artifacts/{NAME}.sig"),
    ]);

    let (_, err) = assert_exit(&run_in(&guest, &args), 1);
    assert!(err.contains("start mattermost.service"), "{err}");
    assert!(err.contains("every change was undone"), "{err}");

    // Nothing of the install is left.
    for path in [
        "/opt/mattermost",
        "/etc/systemd/system/mattermost.service",
        "/etc/nginx/sites-enabled/mattermost",
        "/etc/nginx/sites-available/mattermost",
        "/var/lib/mm-install/journal.json",
        "/var/lib/mm-install/state.json",
    ] {
        assert!(
            !guest.run(&["test", "-e", path]).status.success(),
            "{path} is left behind"
        );
    }
    assert!(
        !guest
            .run(&["getent", "passwd", "mattermost"])
            .status
            .success(),
        "the user is left behind"
    );
    let leftovers = guest.run(&[
        "runuser", "-u", "postgres", "--", "psql", "-tAc",
        "SELECT (SELECT count(*) FROM pg_database WHERE datname = 'mattermost') + (SELECT count(*) FROM pg_roles WHERE rolname = 'mmuser')",
    ]);
    assert_eq!(stdout(&leftovers), "0", "database or role left behind");
    // nginx serves its stock default site again.
    assert_eq!(
        stdout(&guest.run(&["readlink", "/etc/nginx/sites-enabled/default"])),
        before_default
    );
    assert_eq!(
        stdout(&guest.run(&["systemctl", "is-active", "nginx"])),
        "active"
    );
    let page = guest.run(&[
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://127.0.0.1/",
    ]);
    assert_eq!(stdout(&page), "200");
}

/// What an install may change in a guest, listed: users, files under the paths it writes, the
/// enabled nginx sites, systemd units, databases and roles.
fn guest_snapshot(guest: &Guest) -> String {
    stdout(&guest.sh(
        "getent passwd | cut -d: -f1; getent group | cut -d: -f1; \
         find /opt /etc/nginx /etc/systemd/system | sort; \
         runuser -u postgres -- psql -tAc 'SELECT datname FROM pg_database UNION ALL SELECT rolname FROM pg_roles'; \
         systemctl list-unit-files --no-legend | sort",
    ))
}

#[test]
fn a_hostile_release_leaves_the_guest_unchanged() {
    let artifacts = Artifacts::new();
    let tarball = hostile_tarball();
    let signature = artifacts
        .key
        .sign(&tarball, pgp::crypto::hash::HashAlgorithm::Sha256);
    write_file(artifacts.path(), NAME, &tarball);
    write_file(artifacts.path(), &format!("{NAME}.sig"), &signature);
    let guest = Guest::boot(artifacts.path());
    let before = guest_snapshot(&guest);
    let mut args = install_args();
    args.extend([
        "--tarball".into(),
        format!("/srv/artifacts/{NAME}"),
        "--signature".into(),
        format!("/srv/artifacts/{NAME}.sig"),
    ]);
    let (_, err) = assert_exit(&run_in(&guest, &args), 3);
    assert!(err.contains("every change was undone"), "{err}");
    assert_eq!(guest_snapshot(&guest), before);
    assert!(!guest.run(&["test", "-e", "/etc/evil"]).status.success());
    // PostgreSQL was enabled and running (the snapshot has the enabled state): still running.
    assert_eq!(
        postgresql_state(&guest),
        "postgresql.service enabled active\npostgresql@15-main.service active"
    );
    assert_eq!(
        stdout(&guest.run(&["systemctl", "is-active", "nginx"])),
        "active"
    );
}

#[test]
fn a_tls_install_is_proven_over_https_and_redirects_plain_http() {
    let artifacts = Artifacts::new();
    let tarball = artifacts.add_release(&standin_json(false));
    let generated = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg(format!("/CN={SITE_HOST}"))
        .arg("-keyout")
        .arg(artifacts.path().join("key.pem"))
        .arg("-out")
        .arg(artifacts.path().join("cert.pem"))
        .output()
        .expect("run openssl (installed by .ci/run)");
    assert!(generated.status.success(), "{generated:?}");
    let guest = Guest::boot(artifacts.path());
    let mut args = install_args();
    args.retain(|a| !a.starts_with("http://"));
    let site = args.iter().position(|a| a == "--site-url").unwrap();
    args.insert(site + 1, format!("https://{SITE_HOST}"));
    args.extend(
        [
            "--tarball",
            &format!(
                "/srv/artifacts/{}",
                tarball.file_name().unwrap().to_string_lossy()
            ),
            "--signature",
            &format!("/srv/artifacts/{NAME}.sig"),
            "--tls-cert",
            "/srv/artifacts/cert.pem",
            "--tls-key",
            "/srv/artifacts/key.pem",
        ]
        .map(String::from),
    );
    let output = run_in(&guest, &args);
    let (_, err) = texts(&output);
    assert!(output.status.success(), "{err}\n{}", guest.journal("nginx"));
    assert!(
        err.contains(&format!(
            "checking https://127.0.0.1:443/api/v4/system/ping (Host: {SITE_HOST})"
        )),
        "{err}"
    );
    let ping = guest.run(&[
        "curl",
        "-sS",
        "-k",
        "--resolve",
        &format!("{SITE_HOST}:443:127.0.0.1"),
        &format!("https://{SITE_HOST}/api/v4/system/ping"),
    ]);
    assert!(stdout(&ping).contains("\"status\":\"OK\""), "{ping:?}");
    // `systemctl reload nginx` returns before the workers switch to the new site: poll.
    let redirect = guest.sh(&format!(
        "for i in $(seq 50); do \
           r=$(curl -sS -o /dev/null -w '%{{http_code}} %{{redirect_url}}' -H 'Host: {SITE_HOST}' http://127.0.0.1/api/v4/system/ping); \
           [ \"${{r%% *}}\" = 301 ] && break; sleep 0.1; \
         done; echo \"$r\""
    ));
    assert_eq!(
        stdout(&redirect),
        format!("301 https://{SITE_HOST}/api/v4/system/ping")
    );
}

/// An install against an existing PostgreSQL the tool must treat as external: a second cluster
/// in the guest on port 5440 (as `pg_createcluster` makes when 5432 is taken, facts §10), a
/// role with a password, reached over TCP with scram-sha-256 (Debian's default for host lines).
/// A wrong password stops the install before any change; the right one gives a server that
/// starts with that DataSource (the stand-in checks the database at startup).
#[test]
fn install_with_a_database_url_uses_an_existing_postgresql() {
    const PASSWORD: &str = "GuestExtSecret7";
    let artifacts = Artifacts::new();
    let tarball = artifacts.add_release(&standin_json(false));
    let guest = Guest::boot(artifacts.path());
    let created = guest.sh(&format!(
        "pg_createcluster 15 ext -p 5440 --start >/dev/null && \
         runuser -u postgres -- psql -X -q -p 5440 -v ON_ERROR_STOP=1 \
           -c \"CREATE ROLE mmuser LOGIN PASSWORD '{PASSWORD}'\" \
           -c 'CREATE DATABASE mattermost OWNER mmuser'"
    ));
    assert_exit(&created, 0);
    let url = |password: &str| {
        format!(
            "postgres://mmuser:{password}@127.0.0.1:5440/mattermost?sslmode=disable&connect_timeout=10"
        )
    };
    let mut args = install_args();
    args.extend([
        "--tarball".into(),
        format!(
            "/srv/artifacts/{}",
            tarball.file_name().unwrap().to_string_lossy()
        ),
        "--signature".into(),
        format!("/srv/artifacts/{NAME}.sig"),
        "--database-url".into(),
    ]);

    // A wrong password: exit 1, the host named, the password nowhere, nothing changed.
    let before = guest_snapshot(&guest);
    let mut wrong = args.clone();
    wrong.push(url("WrongSecret"));
    let (out, err) = assert_exit(&run_in(&guest, &wrong), 1);
    assert!(
        err.contains(
            "cannot connect to the database at postgres://mmuser@127.0.0.1:5440/mattermost"
        ) && err.contains("password authentication failed"),
        "{err}"
    );
    assert!(
        !err.contains("WrongSecret") && !out.contains("WrongSecret"),
        "{err}"
    );
    assert_eq!(guest_snapshot(&guest), before);
    assert!(
        !guest
            .run(&["test", "-e", "/opt/mattermost"])
            .status
            .success()
    );
    assert!(
        !guest
            .run(&["getent", "passwd", "mattermost"])
            .status
            .success()
    );
    assert!(
        !guest
            .run(&["test", "-e", "/etc/systemd/system/mattermost.service"])
            .status
            .success()
    );

    // The right password: installed, started, and configured with exactly that DataSource.
    let mut right = args;
    right.push(url(PASSWORD));
    let output = run_in(&guest, &right);
    let (out, err) = texts(&output);
    assert!(
        output.status.success(),
        "install failed\nstdout:\n{out}\nstderr:\n{err}\nmattermost journal:\n{}",
        guest.journal("mattermost")
    );
    assert!(!err.contains(PASSWORD) && !out.contains(PASSWORD), "{err}");
    assert!(
        !err.contains("PostgreSQL role"),
        "a local database was provisioned: {err}"
    );
    assert_eq!(
        stdout(&guest.run(&["systemctl", "is-active", "mattermost"])),
        "active"
    );
    let config_json = stdout(&guest.run(&["cat", "/opt/mattermost/config/config.json"]));
    let json: serde_json::Value = serde_json::from_str(&config_json).unwrap();
    assert_eq!(json["SqlSettings"]["DataSource"], url(PASSWORD).as_str());
    // No database or role was created in the guest's own cluster.
    let local = guest.run(&[
        "runuser",
        "-u",
        "postgres",
        "--",
        "psql",
        "-tAc",
        "SELECT count(*) FROM pg_database WHERE datname = 'mattermost'",
    ]);
    assert_eq!(stdout(&local), "0", "{local:?}");
}

/// `postgresql.service <is-enabled> <is-active>` and the cluster unit's `is-active`, once no unit
/// is still starting or stopping (up to 30 s: stopping Debian's umbrella returns before its
/// cluster, which is ordered before it, has stopped).
fn postgresql_state(guest: &Guest) -> String {
    let mut state = String::new();
    for _ in 0..150 {
        state = stdout(&guest.sh(
            "echo postgresql.service $(systemctl is-enabled postgresql) $(systemctl is-active postgresql); \
             echo postgresql@15-main.service $(systemctl is-active postgresql@15-main)",
        ));
        if !state.contains("activating") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    state
}

/// The install arguments with the release in /srv/artifacts (`--tarball`).
fn tarball_args(tarball: &Path) -> Vec<String> {
    let mut args = install_args();
    args.extend([
        "--tarball".into(),
        format!(
            "/srv/artifacts/{}",
            tarball.file_name().unwrap().to_string_lossy()
        ),
        "--signature".into(),
        format!("/srv/artifacts/{NAME}.sig"),
    ]);
    args
}

// Issue 9: an admin's PostgreSQL that is enabled but stopped. The install starts it (it must
// not install a second one), fails, and the undo leaves it enabled and stopped: before the fix
// it ran `systemctl disable --now postgresql`.
#[test]
fn a_failed_install_leaves_an_enabled_but_stopped_postgresql_so() {
    let artifacts = Artifacts::new();
    let tarball = artifacts.add_release(&standin_json(true));
    let guest = Guest::boot(artifacts.path());
    let stop = guest.run(&["timeout", "60", "systemctl", "stop", "postgresql"]);
    assert_exit(&stop, 0);
    let before = postgresql_state(&guest);
    assert_eq!(
        before,
        "postgresql.service enabled inactive\npostgresql@15-main.service inactive"
    );

    let (out, err) = assert_exit(&run_in(&guest, &tarball_args(&tarball)), 1);
    assert!(
        format!("{out}{err}").contains("enable and start PostgreSQL (postgresql.service)"),
        "{out}\n{err}"
    );
    assert!(err.contains("every change was undone"), "{err}");
    assert!(
        !err.contains("apt-get"),
        "a second PostgreSQL was planned: {err}"
    );
    assert_eq!(postgresql_state(&guest), before);
    // The database and role were created by the install, so they are gone again.
    let started = guest.run(&["timeout", "60", "systemctl", "start", "postgresql"]);
    assert_exit(&started, 0);
    let leftovers = guest.run(&[
        "runuser", "-u", "postgres", "--", "psql", "-tAc",
        "SELECT (SELECT count(*) FROM pg_database WHERE datname = 'mattermost') + (SELECT count(*) FROM pg_roles WHERE rolname = 'mmuser')",
    ]);
    assert_eq!(stdout(&leftovers), "0", "database or role left behind");
}

// Issue 13 / mattermost-facts.md §10: a Debian cluster is often not on 5432 (pg_createcluster
// takes the next free port, pg_upgradecluster leaves the new cluster on 5433). The install finds
// the port the cluster listens on, the stand-in server (which connects to its DataSource at
// start) starts, and mattermost.service is ordered after the cluster's own unit.
#[test]
fn install_uses_the_port_the_cluster_really_listens_on() {
    let artifacts = Artifacts::new();
    let tarball = artifacts.add_release(&standin_json(false));
    let guest = Guest::boot(artifacts.path());
    let moved = guest.sh(
        "sed -i 's/^#\\?port = [0-9]*/port = 5433/' /etc/postgresql/15/main/postgresql.conf && \
         timeout 60 systemctl restart postgresql@15-main && pg_lsclusters --no-header",
    );
    assert!(
        stdout(&moved).contains(" 5433 online"),
        "{moved:?}\n{}",
        guest.journal("postgresql@15-main")
    );

    let output = run_in(&guest, &tarball_args(&tarball));
    let (out, err) = texts(&output);
    assert!(
        output.status.success(),
        "install failed\nstdout:\n{out}\nstderr:\n{err}\nmattermost journal:\n{}",
        guest.journal("mattermost")
    );
    let config_json = stdout(&guest.run(&["cat", "/opt/mattermost/config/config.json"]));
    let json: serde_json::Value = serde_json::from_str(&config_json).unwrap();
    let data_source = json["SqlSettings"]["DataSource"].as_str().unwrap();
    assert!(
        data_source.contains("@localhost:5433/mattermost?"),
        "{}",
        data_source.split('@').nth(1).unwrap_or("")
    );
    assert_eq!(
        stdout(&guest.run(&["systemctl", "is-active", "mattermost"])),
        "active"
    );
    let unit = stdout(&guest.run(&["cat", "/etc/systemd/system/mattermost.service"]));
    assert!(unit.contains("After=postgresql@15-main.service"), "{unit}");
    let ping = guest.run(&[
        "curl",
        "-sS",
        "-H",
        &format!("Host: {SITE_HOST}"),
        "http://127.0.0.1/api/v4/system/ping",
    ]);
    assert!(stdout(&ping).contains("\"status\":\"OK\""), "{ping:?}");
}
