//! The Debian releases other than bookworm, booted: trixie (Debian 13, PostgreSQL 17 with its
//! cluster on 5433) boots with its services up and `detect-os` calls it supported; on bullseye
//! (Debian 11, PostgreSQL 13) a local-database install is refused by the pre-flight, before any
//! change, and an install with `--database-url` to a PostgreSQL 14+ elsewhere succeeds, as it
//! does on the Rocky model.

use std::path::Path;

use serde_json::Value;

use crate::common::{assert_exit, run, texts};
use crate::guest::{Guest, Suite};
use crate::install_guest::{Artifacts, NAME, SITE_HOST, VERSION, static_standin_binary, stdout};
use crate::mirror::{Mirror, standin_tarball};
use crate::pg_cluster::Cluster;

/// `output` succeeded; its stdout.
#[test]
fn trixie_guest_runs_postgresql_17_on_5433_and_detect_os_supports_it() {
    let artifacts = Artifacts::new();
    let guest = Guest::boot_suite(Suite::Trixie, artifacts.path());

    let pid1 = guest.run(&["ps", "-p", "1", "-o", "comm="]);
    assert_eq!(stdout(&pid1), "systemd", "{pid1:?}");
    let state = guest.run(&["systemctl", "is-system-running"]);
    assert!(
        matches!(stdout(&state).as_str(), "running" | "degraded"),
        "{state:?}"
    );
    let os = assert_exit(&guest.run(&["cat", "/etc/os-release"]), 0).0;
    assert!(
        os.contains("VERSION_ID=\"13\"") && os.contains("VERSION_CODENAME=trixie"),
        "{os}"
    );

    let unit = Suite::Trixie.postgres_unit();
    assert_eq!(unit, "postgresql@17-main");
    let active = guest.run(&["systemctl", "is-active", "nginx", &unit]);
    assert!(
        active.status.success(),
        "{active:?}\n{}",
        guest.journal(&unit)
    );

    // The cluster listens on 5433 and nothing listens on 5432, as on a server after
    // `pg_upgradecluster` (mattermost-facts.md §10, from Debian's postgresql-common).
    assert_eq!(Suite::Trixie.postgres_port(), 5433);
    let on_5433 = assert_exit(&guest.run(&["ss", "-Hltn", "sport = :5433"]), 0).0;
    assert!(!on_5433.trim().is_empty(), "nothing listens on 5433");
    let on_5432 = assert_exit(&guest.run(&["ss", "-Hltn", "sport = :5432"]), 0).0;
    assert!(
        on_5432.trim().is_empty(),
        "something listens on 5432: {on_5432}"
    );
    let clusters = assert_exit(&guest.run(&["pg_lsclusters", "-h"]), 0).0;
    let fields: Vec<&str> = clusters.split_whitespace().collect();
    assert_eq!(fields[..4], ["17", "main", "5433", "online"], "{clusters}");
    // Debian's psql wrapper finds the one cluster's port; the server agrees.
    let port = guest.run(&[
        "runuser",
        "-u",
        "postgres",
        "--",
        "psql",
        "-X",
        "-tAc",
        "SHOW port",
    ]);
    assert_eq!(stdout(&port), "5433", "{port:?}");

    // mm-install itself says Debian 13 is an officially supported Debian-family system.
    let json = assert_exit(
        &guest.run(&["/srv/artifacts/mm-install", "detect-os", "--json"]),
        0,
    )
    .0;
    let json: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(json["id"], "debian", "{json}");
    assert_eq!(json["version_id"], "13", "{json}");
    assert_eq!(json["family"], "debian", "{json}");
    assert_eq!(json["support"], "official", "{json}");
    assert_eq!(json["package_manager"], "apt", "{json}");
}

/// Put the host's dynamic loader and the libraries the host-built `mm-install` links into
/// `artifacts/glibc`, and return the command prefix that runs it with them.
///
/// The binary built for this test run links against the host's glibc (Debian 12: 2.36) and does
/// not start on bullseye's 2.31. This test is about the pre-flight on a real PostgreSQL 13, not
/// about the glibc floor (the packages, linked for glibc 2.28, are proven on their own), so it
/// runs the binary through the host's loader. The programs mm-install starts (psql, systemctl)
/// are the guest's own, with the guest's libraries: `--library-path` is not inherited.
fn with_host_glibc(artifacts: &Path) -> Vec<String> {
    let dir = artifacts.join("glibc");
    fs_err::create_dir_all(&dir).unwrap();
    let ldd = run(std::process::Command::new("ldd").arg(artifacts.join("mm-install")));
    let ldd = assert_exit(&ldd, 0).0;
    let mut loader = None;
    for line in ldd.lines() {
        // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`
        let Some(path) = line
            .split_whitespace()
            .find(|word| word.starts_with('/'))
            .map(Path::new)
        else {
            continue;
        };
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        fs_err::copy(path, dir.join(&name)).unwrap();
        if name.starts_with("ld-linux") {
            loader = Some(name);
        }
    }
    let loader = loader.unwrap_or_else(|| panic!("no dynamic loader in ldd's output:\n{ldd}"));
    vec![
        format!("/srv/artifacts/glibc/{loader}"),
        "--library-path".into(),
        "/srv/artifacts/glibc".into(),
        "/srv/artifacts/mm-install".into(),
    ]
}

/// What an install could change: files under the paths it writes, users, services,
/// PostgreSQL roles and databases. Equal before and after means nothing changed. mm-install's
/// own lock file (and the directory holding it) is left out: an install takes the lock before
/// its pre-flight, so that it never checks a server another run is changing, and the kernel
/// lock on it ends with the process.
const FINGERPRINT: &str = "\
    find /opt /etc /var/lib/mm-install /usr/local -xdev \
      ! -path /var/lib/mm-install ! -path /var/lib/mm-install/lock \
      -printf '%p %y %m %u %s %T@\\n' 2>/dev/null | sort; \
    getent passwd mattermost; getent group mattermost; \
    systemctl list-unit-files --no-legend --no-pager | sort; \
    systemctl is-active nginx postgresql; \
    runuser -u postgres -- psql -X -tAc \
      \"select rolname from pg_roles union all select datname from pg_database order by 1\"";

#[test]
fn bullseye_postgresql_13_is_refused_before_any_change() {
    let artifacts = Artifacts::new();
    let mm = with_host_glibc(artifacts.path());
    let guest = Guest::boot_suite(Suite::Bullseye, artifacts.path());
    let mm_run = |args: &[&str]| {
        let mut all: Vec<&str> = mm.iter().map(String::as_str).collect();
        all.extend(args);
        guest.run(&all)
    };

    let version = assert_exit(&mm_run(&["--version"]), 0).0;
    assert!(version.starts_with("mm-install "), "{version}");
    let json = assert_exit(&mm_run(&["detect-os", "--json"]), 0).0;
    let json: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(json["version_id"], "11", "{json}");
    assert_eq!(json["support"], "official", "{json}");
    let server = assert_exit(
        &guest.run(&[
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-X",
            "-tAc",
            "SHOW server_version_num",
        ]),
        0,
    )
    .0;
    assert!(
        server.trim().starts_with("13"),
        "bullseye's PostgreSQL: {server}"
    );

    let before = assert_exit(&guest.sh(FINGERPRINT), 0).0;
    let site_url = format!("http://{SITE_HOST}");
    let install = [
        "install",
        "--yes",
        "--no-progress",
        "--keyring",
        "/srv/artifacts/key.asc",
        "--site-url",
        &site_url,
        "--version",
        VERSION,
    ];
    for dry_run in [true, false] {
        let mut args = install.to_vec();
        if dry_run {
            args.push("--dry-run");
        }
        let refused = mm_run(&args);
        // README "Exit codes": 1 = failure, nothing was changed.
        let (out, err) = assert_exit(&refused, 1);
        assert!(
            err.contains("PostgreSQL 13") && err.contains("14 or newer"),
            "the error names the version found and the minimum:\n{err}"
        );
        assert!(
            err.contains("hint:") && err.contains("--database-url"),
            "a way forward:\n{err}"
        );
        assert!(!out.contains("plan:"), "refused after planning:\n{out}");
        assert_eq!(
            assert_exit(&guest.sh(FINGERPRINT), 0).0,
            before,
            "install{} changed the guest although it refused",
            if dry_run { " --dry-run" } else { "" }
        );
    }
}

/// The way forward the refusal names: on bullseye, with its own PostgreSQL 13 still running, an
/// install pointed at a PostgreSQL 14+ elsewhere (a cluster on the host end of the guest's
/// network) succeeds and leaves the local PostgreSQL alone.
#[test]
fn bullseye_installs_with_a_database_url_to_postgresql_14_or_newer() {
    installs_with_a_database_url_on_the_host(Suite::Bullseye);
}

/// The same on the Rocky model, whose local PostgreSQL refuses password logins over TCP: an
/// external database needs nothing from it.
#[test]
fn the_rocky_model_installs_with_a_database_url_on_the_host() {
    installs_with_a_database_url_on_the_host(Suite::RockyModel);
}

/// `install --database-url` on `suite` against a PostgreSQL 14+ on the host end of the guest's
/// network: the server starts with it, the local PostgreSQL keeps its databases as they were.
/// The stand-in is linked statically and mm-install runs through the host's loader where the
/// guest's glibc is older than the host's (bullseye).
fn installs_with_a_database_url_on_the_host(suite: Suite) {
    let artifacts = Artifacts::new();
    let mm = match suite {
        Suite::Bullseye => with_host_glibc(artifacts.path()),
        _ => vec!["/srv/artifacts/mm-install".to_string()],
    };
    let guest = Guest::boot_suite(suite, artifacts.path());
    let password = "Ext3rnal-pw";
    let cluster = Cluster::start_on(guest.host_address(), "mmuser", password, "mattermost");
    let mirror = Mirror::start_on(guest.host_address());
    let json = format!(r#"{{"version": "{VERSION}", "fail_start": false}}"#);
    let tarball = standin_tarball(static_standin_binary(), &json);
    mirror.publish_tarball(&artifacts.key, VERSION, NAME, tarball);
    let local_databases =
        || {
            assert_exit(&guest.sh(
                "runuser -u postgres -- psql -XtAc 'SELECT datname FROM pg_database ORDER BY 1'",
            ), 0).0
        };
    let local_before = local_databases();

    let url = format!(
        "postgres://mmuser:{password}@{}:{}/mattermost?sslmode=disable",
        guest.host_address(),
        cluster.port
    );
    let site_url = format!("http://{SITE_HOST}");
    let mut args: Vec<&str> = mm.iter().map(String::as_str).collect();
    args.extend([
        "install",
        "--yes",
        "--no-progress",
        "--keyring",
        "/srv/artifacts/key.asc",
        "--site-url",
        &site_url,
        "--version",
        VERSION,
        "--release-url",
        &mirror.base_url,
        "--database-url",
        &url,
    ]);
    let output = guest.run(&args);
    let (out, err) = texts(&output);
    assert!(
        output.status.success(),
        "install --database-url on {suite}:\nstdout:\n{out}\nstderr:\n{err}\nmattermost journal:\n{}",
        guest.journal("mattermost")
    );
    assert!(!err.contains(password) && !out.contains(password), "{err}");
    assert_eq!(
        stdout(&guest.sh("systemctl is-active mattermost")),
        "active"
    );
    let ping = stdout(&guest.sh(&format!(
        "curl -sS -H 'Host: {SITE_HOST}' http://127.0.0.1/api/v4/system/ping"
    )));
    assert!(ping.contains("OK"), "{ping}");
    assert_eq!(
        local_databases(),
        local_before,
        "the local PostgreSQL is left alone"
    );
}
