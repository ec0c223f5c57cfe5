//! `mm-install install --root DIR` (image building) against the loopback mirror: every write
//! lands below DIR, nothing is started, and a hostile or tampered release leaves DIR as it was.
//! These tests run as root (useradd --root chroots), which CI is.

use crate::common::Ran;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::common::{assert_exit, mm_install, run, texts};
use crate::mirror::{Mirror, TestKey, hostile_tarball};
use crate::os_release_fixtures::{ALPINE_3_20, DEBIAN_12, ROCKY_9};
use crate::pg_cluster::Cluster;

const VERSION: &str = "11.10.1";
const NAME: &str = "mattermost-11.10.1-linux-amd64.tar.gz";

struct Image {
    dir: tempfile::TempDir,
    mirror: Mirror,
    key: TestKey,
    keyring: PathBuf,
}

impl Image {
    /// A Debian-like tree with accounts files, systemd and nginx's stock layout.
    fn new() -> Image {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the --root install tests need root (useradd --root chroots); run them as root, as CI does"
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("etc/os-release", DEBIAN_12);
        write("usr/lib/systemd/systemd", "");
        std::fs::create_dir_all(root.join("opt")).unwrap();
        write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
        write("etc/group", "root:x:0:\n");
        write("etc/shadow", "root:*:19000:0:99999:7:::\n");
        write("etc/gshadow", "root:*::\n");
        write(
            "etc/nginx/sites-available/default",
            "server { listen 80 default_server; }\n",
        );
        std::fs::create_dir_all(root.join("etc/nginx/sites-enabled")).unwrap();
        std::os::unix::fs::symlink(
            "/etc/nginx/sites-available/default",
            root.join("etc/nginx/sites-enabled/default"),
        )
        .unwrap();
        let key = TestKey::generate("release");
        let keyring = key.write_public(dir.path(), "key.asc");
        Image {
            dir,
            mirror: Mirror::start(),
            key,
            keyring,
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn install(&self, extra: &[&str]) -> Ran {
        self.install_with_env(extra, &[])
    }

    fn install_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Ran {
        let mut command = mm_install();
        command.envs(env.iter().copied());
        command
            .args([
                "install",
                "--no-progress",
                "--arch",
                "amd64",
                "--version",
                VERSION,
            ])
            .arg("--root")
            .arg(self.root())
            .args(["--release-url", &self.mirror.base_url])
            .arg("--keyring")
            .arg(&self.keyring)
            .args(extra)
            .env("MM_INSTALL_RETRY_BASE_MS", "1");
        run(&mut command)
    }

    /// Every path below the root, for before/after comparisons, leaving out what is not the
    /// server's: mm-install's own cache and journal under /var/lib/mm-install, and the `-`
    /// backups and lock file that useradd/userdel always leave beside the account files.
    fn tree(&self) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                out.push(path.strip_prefix(base).unwrap().display().to_string());
                if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                    walk(base, &path, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root(), &self.root(), &mut out);
        out.retain(|p| {
            !["var", "var/lib"].contains(&p.as_str()) && !p.starts_with("var/lib/mm-install")
        });
        out.retain(|p| !(p.starts_with("etc/") && (p.ends_with('-') || p.ends_with(".pwd.lock"))));
        out.sort();
        out
    }
}

const STANDARD: [&str; 4] = [
    "--no-database",
    "--site-url",
    "https://chat.example.test",
    "--yes",
];

#[test]
fn an_image_install_writes_only_below_the_root() {
    let image = Image::new();
    image.mirror.publish(&image.key, VERSION, NAME, 4096);
    let host_had_opt_mattermost = Path::new("/opt/mattermost").exists();
    let (stdout, stderr) = assert_exit(&image.install(&STANDARD), 0);
    assert!(stdout.contains("installed Mattermost 11.10.1"), "{stdout}");
    assert!(stderr.contains("production-ready"), "{stderr}");
    assert!(stderr.contains("https://docs.mattermost.com"), "{stderr}");
    for step in [
        "Serve Mattermost over TLS",
        "Create the first account right away",
    ] {
        assert!(stderr.contains(step), "{step}:\n{stderr}");
    }
    let root = image.root();

    // The release, its data directory, owned by the user created below the root.
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    let entry = passwd
        .lines()
        .find(|l| l.starts_with("mattermost:"))
        .expect("user below the root");
    let uid: u32 = entry.split(':').nth(2).unwrap().parse().unwrap();
    assert!(
        std::fs::read_to_string(root.join("etc/group"))
            .unwrap()
            .contains("\nmattermost:")
    );
    assert!(root.join("opt/mattermost/bin/mattermost").is_file());
    assert!(root.join("opt/mattermost/data").is_dir());
    let config = root.join("opt/mattermost/config/config.json");
    let meta = std::fs::metadata(&config).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), uid);
    assert_eq!(
        std::fs::metadata(root.join("opt/mattermost/bin/mattermost"))
            .unwrap()
            .uid(),
        uid
    );

    // config.json: our keys changed, everything else kept in order.
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    assert_eq!(
        json["ServiceSettings"]["SiteURL"],
        "https://chat.example.test"
    );
    assert_eq!(json["ServiceSettings"]["ListenAddress"], "127.0.0.1:8065");
    assert_eq!(json["ServiceSettings"]["EnableCustomEmoji"], true);
    assert_eq!(json["TeamSettings"]["MaxUsersPerTeam"], 50);
    assert_eq!(json["FileSettings"]["Directory"], "./data/");
    let sections: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(
        sections,
        [
            "ServiceSettings",
            "TeamSettings",
            "SqlSettings",
            "LogSettings",
            "FileSettings",
            "PluginSettings"
        ]
    );

    // systemd: the unit, enabled with systemctl --root.
    let unit = std::fs::read_to_string(root.join("etc/systemd/system/mattermost.service")).unwrap();
    assert!(
        unit.contains("Type=notify") && unit.contains("ExecStart=/opt/mattermost/bin/mattermost"),
        "{unit}"
    );
    assert!(
        std::fs::symlink_metadata(
            root.join("etc/systemd/system/multi-user.target.wants/mattermost.service")
        )
        .is_ok(),
        "the unit is not enabled"
    );

    // nginx: our site enabled, the stock default set aside.
    let site = std::fs::read_to_string(root.join("etc/nginx/sites-available/mattermost")).unwrap();
    assert!(site.contains("server_name chat.example.test;"), "{site}");
    assert!(
        site.contains("proxy_set_header Upgrade $http_upgrade;"),
        "{site}"
    );
    assert!(std::fs::symlink_metadata(root.join("etc/nginx/sites-enabled/mattermost")).is_ok());
    assert!(std::fs::symlink_metadata(root.join("etc/nginx/sites-enabled/default")).is_err());
    assert!(
        std::fs::symlink_metadata(
            root.join("var/lib/mm-install/set-aside/nginx-sites-enabled-default")
        )
        .is_ok()
    );

    // The tool's state, no journal left, nothing on the host.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("var/lib/mm-install/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["current"]["version"], VERSION);
    assert_eq!(state["current"]["database"], "none");
    assert!(!root.join("var/lib/mm-install/journal.json").exists());
    assert_eq!(
        Path::new("/opt/mattermost").exists(),
        host_had_opt_mattermost
    );

    // A second install refuses and points to upgrade.
    let (_, stderr) = assert_exit(&image.install(&STANDARD), 1);
    assert!(
        stderr.contains("already installed") && stderr.contains("upgrade"),
        "{stderr}"
    );
}

#[test]
fn a_hostile_release_is_refused_and_the_root_is_left_as_it_was() {
    let image = Image::new();
    let tarball = hostile_tarball();
    image
        .mirror
        .file(&format!("/{VERSION}/{NAME}"), tarball.clone());
    image.mirror.file(
        &format!("/{VERSION}/{NAME}.sig"),
        image
            .key
            .sign(&tarball, pgp::crypto::hash::HashAlgorithm::Sha256),
    );
    let before = image.tree();
    let (_, stderr) = assert_exit(&image.install(&STANDARD), 3);
    assert!(stderr.contains(".."), "{stderr}");
    assert!(stderr.contains("every change was undone"), "{stderr}");
    assert_eq!(image.tree(), before, "the root changed");
    assert!(!image.dir.path().join("etc/evil").exists());
    assert!(
        !std::fs::read_to_string(image.root().join("etc/passwd"))
            .unwrap()
            .contains("mattermost")
    );
}

/// Issue 10, hole 10: `--tarball FILE` is read once, into the root-only cache, and the verified
/// copy is what gets extracted. FILE here is a named pipe that serves the signed release to the
/// first reader and an unsigned one (another version) to any later one, the way whoever can write
/// FILE could swap it between the verification and the extraction.
#[test]
fn a_local_tarball_is_read_once_and_the_verified_copy_is_extracted() {
    use std::io::Write;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let image = Image::new();
    let signed = crate::mirror::release_tarball(VERSION, 4096);
    let swapped = crate::mirror::release_tarball("6.6.6", 4096);
    let signature = crate::common::write_file(
        image.dir.path(),
        &format!("{NAME}.sig"),
        &image
            .key
            .sign(&signed, pgp::crypto::hash::HashAlgorithm::Sha256),
    );
    let fifo = image.dir.path().join(NAME);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let reopened = Arc::new(AtomicBool::new(false));
    let writer = {
        let (fifo, reopened) = (fifo.clone(), reopened.clone());
        std::thread::spawn(move || {
            // Each open for writing waits for a reader.
            let mut first = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            let _ = first.write_all(&signed);
            drop(first);
            // Let that reader see the end of the file and close it, so that the next open
            // waits for a new reader (one still open would read on into the second copy).
            std::thread::sleep(std::time::Duration::from_millis(500));
            let mut second = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            reopened.store(true, Ordering::SeqCst);
            let _ = second.write_all(&swapped);
        })
    };
    let fifo_arg = fifo.display().to_string();
    let signature_arg = signature.display().to_string();
    let mut args = STANDARD.to_vec();
    args.extend(["--tarball", &fifo_arg, "--signature", &signature_arg]);
    let output = image.install(&args);
    let reopened_by_install = reopened.load(Ordering::SeqCst);
    // Release the writer if it still waits for a second reader.
    let unblock = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    writer.join().unwrap();
    drop(unblock);
    let (_, stderr) = assert_exit(&output, 0);
    assert!(
        !reopened_by_install,
        "FILE was opened again after it was verified\n{stderr}"
    );
    let server =
        std::fs::read_to_string(image.root().join("opt/mattermost/bin/mattermost")).unwrap();
    assert!(server.contains(&format!("Version: {VERSION}")), "{server}");
    let copy = image.root().join("var/lib/mm-install/cache").join(NAME);
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        crate::mirror::release_tarball(VERSION, 4096),
        "the verified copy sits in the cache"
    );
    let cache = std::fs::metadata(copy.parent().unwrap()).unwrap();
    assert_eq!(cache.permissions().mode() & 0o777, 0o700);
}

#[test]
fn a_tampered_release_is_refused_before_any_change() {
    let image = Image::new();
    let mut tarball = image.mirror.publish(&image.key, VERSION, NAME, 4096);
    let last = tarball.len() - 10;
    tarball[last] ^= 1;
    image.mirror.file(&format!("/{VERSION}/{NAME}"), tarball);
    let before = image.tree();
    let (_, stderr) = assert_exit(&image.install(&STANDARD), 3);
    assert!(stderr.contains("BAD signature"), "{stderr}");
    assert_eq!(image.tree(), before);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let image = Image::new();
    image.mirror.publish(&image.key, VERSION, NAME, 4096);
    let before = image.tree();
    let (stdout, _) = assert_exit(
        &image.install(&[
            "--no-database",
            "--site-url",
            "https://chat.example.test",
            "--dry-run",
        ]),
        0,
    );
    for expected in [
        "create the system user",
        "extract mattermost-11.10.1-linux-amd64.tar.gz",
        "write /etc/systemd/system/mattermost.service",
        "nginx's stock `default` site",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
    assert_eq!(image.tree(), before);
    assert!(
        image.mirror.seen(&format!("/{VERSION}/{NAME}")).is_empty(),
        "a dry run downloaded the release"
    );
}

#[test]
fn missing_answers_without_a_terminal_are_usage_errors() {
    let image = Image::new();
    let (_, stderr) = assert_exit(&image.install(&["--no-database", "--yes"]), 2);
    assert!(stderr.contains("--site-url"), "{stderr}");
    let (_, stderr) = assert_exit(
        &image.install(&["--no-database", "--site-url", "https://chat.example.test"]),
        2,
    );
    assert!(stderr.contains("--yes"), "{stderr}");
    let (_, stderr) = assert_exit(
        &image.install(&["--site-url", "https://chat.example.test", "--yes"]),
        2,
    );
    assert!(
        stderr.contains("--database-url") && stderr.contains("--no-database"),
        "{stderr}"
    );
    let (_, stderr) = assert_exit(
        &image.install(&["--no-database", "--site-url", "chat.example.test", "--yes"]),
        2,
    );
    assert!(stderr.contains("https://"), "{stderr}");
}

/// One site URL type (`src/site_url.rs`) decides for every consumer: an IPv6 address in
/// brackets is a site URL for install (which refused it while it parsed the URL by hand),
/// config.json, the nginx site and the state; each refused value gets the same message from
/// `install --site-url`, `render nginx --site-url` and `verify --url`.
#[test]
fn one_site_url_is_accepted_or_refused_alike_everywhere() {
    let image = Image::new();
    image.mirror.publish(&image.key, VERSION, NAME, 4096);
    let (_, stderr) = assert_exit(
        &image.install(&["--no-database", "--site-url", "http://[::1]:8080/", "--yes"]),
        0,
    );
    let root = image.root();
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("opt/mattermost/config/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["ServiceSettings"]["SiteURL"], "http://[::1]:8080",
        "{stderr}"
    );
    let site = std::fs::read_to_string(root.join("etc/nginx/sites-available/mattermost")).unwrap();
    assert!(site.contains("server_name [::1];"), "{site}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("var/lib/mm-install/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["current"]["site_url"], "http://[::1]:8080");

    // Refused values: the reason each consumer gives is the same sentence.
    for (url, reason) in [
        (
            "https://chat.example.test/mattermost",
            "a sub-path is not supported",
        ),
        (
            "chat.example.test",
            "it must start with https:// or http://",
        ),
        (
            "ftp://chat.example.test",
            "it must start with https:// or http://",
        ),
        ("https://admin@chat.example.test", "credentials"),
        ("https://chat.example.test/?team=a", "query"),
        ("https://", "it has no host name"),
    ] {
        let message = format!("invalid site URL `{url}`: ");
        let before = image.tree();
        let (_, install) = assert_exit(
            &image.install(&["--no-database", "--site-url", url, "--yes"]),
            2,
        );
        assert_eq!(image.tree(), before, "{url}");
        let mut command = mm_install();
        command.args(["render", "nginx", "--site-url", url]);
        let (_, render) = assert_exit(&run(&mut command), 2);
        let mut command = mm_install();
        command.args(["verify", "--url", url]);
        let (_, verify) = assert_exit(&run(&mut command), 2);
        let sentence = |stderr: &str| {
            let at = stderr
                .find(&message)
                .unwrap_or_else(|| panic!("no `{message}` in:\n{stderr}"));
            stderr[at..].lines().next().unwrap().to_string()
        };
        assert!(sentence(&install).contains(reason), "{install}");
        assert_eq!(sentence(&install), sentence(&render), "{url}");
        assert_eq!(sentence(&install), sentence(&verify), "{url}");
    }
    // `--site-url ''` is no site URL: nginx answers any host name.
    let image = Image::new();
    image.mirror.publish(&image.key, VERSION, NAME, 4096);
    assert_exit(
        &image.install(&["--no-database", "--site-url", "", "--yes"]),
        0,
    );
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(image.root().join("opt/mattermost/config/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["ServiceSettings"]["SiteURL"], "");
    let site =
        std::fs::read_to_string(image.root().join("etc/nginx/sites-available/mattermost")).unwrap();
    assert!(site.contains("server_name _;"), "{site}");

    // And an accepted value is one verify tries (exit 1: nothing answers on port 9).
    let mut command = mm_install();
    command.args(["verify", "--url", "http://[::1]:9"]);
    let (_, verify) = assert_exit(&run(&mut command), 1);
    assert!(
        verify.contains("install test 1 failed at http://[::1]:9"),
        "{verify}"
    );
}

/// The summary's production-ready steps are the program statements' (`statements.toml`),
/// selected by key: no TLS step when the install serves TLS, and with `--verify` the admin
/// account is made with mmctl (the install tests take the first sign-up).
#[test]
fn the_summary_leaves_out_the_steps_this_install_took() {
    let image = Image::new();
    image.mirror.publish(&image.key, VERSION, NAME, 4096);
    let certificate = image.dir.path().join("cert.pem");
    let key = image.dir.path().join("key.pem");
    std::fs::write(&certificate, "certificate").unwrap();
    std::fs::write(&key, "key").unwrap();
    let (_, stderr) = assert_exit(
        &image.install(&[
            "--no-database",
            "--site-url",
            "https://chat.example.test",
            "--tls-cert",
            certificate.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--verify",
            "--yes",
        ]),
        0,
    );
    assert!(stderr.contains("production-ready"), "{stderr}");
    assert!(stderr.contains("Configure SMTP"), "{stderr}");
    assert!(stderr.contains("mmctl --local user create"), "{stderr}");
    for step in [
        "Serve Mattermost over TLS",
        "Create the first account right away",
    ] {
        assert!(!stderr.contains(step), "{step}:\n{stderr}");
    }
}

#[test]
fn an_unsupported_system_is_refused_with_exit_6() {
    let image = Image::new();
    std::fs::write(image.root().join("etc/os-release"), ALPINE_3_20).unwrap();
    let (_, stderr) = assert_exit(&image.install(&STANDARD), 6);
    assert!(
        stderr.contains("Alpine") && stderr.contains("--allow-unsupported"),
        "{stderr}"
    );
}

#[test]
fn rhel_equivalents_print_the_program_statement() {
    let image = Image::new();
    image.mirror.publish(&image.key, VERSION, NAME, 4096);
    std::fs::write(image.root().join("etc/os-release"), ROCKY_9).unwrap();
    let (stdout, _) = assert_exit(
        &image.install(&[
            "--no-database",
            "--site-url",
            "https://chat.example.test",
            "--dry-run",
        ]),
        0,
    );
    assert!(stdout.contains("Rocky Linux"), "{stdout}");
    let mut command = mm_install();
    command
        .args([
            "install",
            "--arch",
            "amd64",
            "--no-database",
            "--site-url",
            "https://c.example.test",
            "--dry-run",
            "--version",
            VERSION,
        ])
        .arg("--root")
        .arg(image.root());
    let (_, stderr) = texts(&run(&mut command));
    assert!(
        stderr.contains("This deployment uses Rocky Linux as an equivalent to the officially supported version of Red Hat Enterprise Linux."),
        "{stderr}"
    );
}

#[test]
fn an_image_with_a_database_url_skips_the_connection_check_and_says_so() {
    // An existing PostgreSQL that answers (scram-sha-256 over TCP); the image install must not
    // depend on reaching it, and must say in its plan that it did not check it.
    let cluster = Cluster::start("mmuser", "ImageSecret9", "mattermost");
    let url = format!(
        "postgres://mmuser:ImageSecret9@127.0.0.1:{}/mattermost?sslmode=disable&connect_timeout=10",
        cluster.port
    );
    let image = Image::new();
    image.mirror.publish(&image.key, VERSION, NAME, 4096);
    // Not tried at all: a URL nothing answers at passes too (a dry run changes nothing).
    let unreachable = format!(
        "postgres://mmuser:x@127.0.0.1:{}/mattermost",
        crate::pg_cluster::free_port()
    );
    let (plan, _) = assert_exit(
        &image.install(&[
            "--database-url",
            &unreachable,
            "--site-url",
            "https://chat.example.test",
            "--dry-run",
        ]),
        0,
    );
    assert!(plan.contains("was not checked: with --root"), "{plan}");
    let (stdout, stderr) = assert_exit(
        &image.install(&[
            "--database-url",
            &url,
            "--site-url",
            "https://chat.example.test",
            "--yes",
        ]),
        0,
    );
    assert!(stdout.contains("installed Mattermost 11.10.1"), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "note: the database at postgres://mmuser:***@127.0.0.1:{}/mattermost",
            cluster.port
        )) && stderr.contains("was not checked: with --root"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("ImageSecret9") && !stderr.contains("ImageSecret9"),
        "the password was printed"
    );
    let config = image.root().join("opt/mattermost/config/config.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(config).unwrap()).unwrap();
    assert_eq!(json["SqlSettings"]["DriverName"], "postgres");
    assert_eq!(json["SqlSettings"]["DataSource"], url.as_str());
}

/// A password on the command line is visible to every user in `ps` while the install runs: it is
/// warned about, and the same URL from a file or the environment is taken without a warning.
#[test]
fn the_database_url_can_stay_off_the_command_line() {
    let image = Image::new();
    image.mirror.publish(&image.key, VERSION, NAME, 4096);
    let url = "postgres://mmuser:Hidden5ecret@db.example.test:5432/mattermost?sslmode=require";
    let file = crate::common::write_file(
        image.dir.path(),
        "database-url",
        format!("{url}\n").as_bytes(),
    );
    let site = ["--site-url", "https://chat.example.test", "--dry-run"];
    let warning = "visible to every user of this server in `ps`";
    let from_file = ["--database-url-file", file.to_str().unwrap()];
    type Run<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], bool);
    let runs: [Run; 3] = [
        (&["--database-url", url], &[], true),
        (&[], &[("MM_INSTALL_DATABASE_URL", url)], false),
        (&from_file, &[], false),
    ];
    for (flags, env, warned) in runs {
        let args: Vec<&str> = flags.iter().chain(site.iter()).copied().collect();
        let (plan, stderr) = assert_exit(&image.install_with_env(&args, env), 0);
        assert!(
            plan.contains("postgres://mmuser:***@db.example.test:5432/mattermost"),
            "{flags:?} {env:?}: {plan}"
        );
        assert_eq!(
            stderr.contains(warning),
            warned,
            "{flags:?} {env:?}: {stderr}"
        );
        assert!(!plan.contains("Hidden5ecret") && !stderr.contains("Hidden5ecret"));
    }
    let empty = crate::common::write_file(image.dir.path(), "empty", b"\n");
    let (_, stderr) = assert_exit(
        &image.install(&[&["--database-url-file", empty.to_str().unwrap()], &site[..]].concat()),
        2,
    );
    assert!(
        stderr.contains("empty") && stderr.contains("first line"),
        "{stderr}"
    );
}

/// A journal left by a run that is still going (or was killed) is undone only by an operation
/// that holds the lock exclusively: a `--dry-run` reports it and changes nothing, and neither a
/// dry run nor an install gets past a lock another run holds (exit 5). Before, an
/// `install --dry-run` started during the timer's upgrade ran recovery and rolled it back.
#[test]
fn only_an_operation_holding_the_lock_undoes_an_interrupted_one_and_a_dry_run_never_does() {
    let image = Image::new();
    image.mirror.publish(&image.key, VERSION, NAME, 4096);
    let root = image.root();
    // What an upgrade in progress has journaled: it created /srv/marker.
    let marker = root.join("srv/marker");
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, "made by the running upgrade").unwrap();
    let state_dir = root.join("var/lib/mm-install");
    std::fs::create_dir_all(&state_dir).unwrap();
    let journal = state_dir.join("journal.json");
    std::fs::write(
        &journal,
        r#"{"operation":"upgrade","pid":4242,"entries":[{"description":"create /srv/marker","undo":{"undo":"remove_path","path":"/srv/marker"},"done":true}]}"#,
    )
    .unwrap();
    let journal_before = std::fs::read(&journal).unwrap();
    let lock_path = state_dir.join("lock");
    std::fs::write(
        &lock_path,
        "pid 4242 (upgrade) since 2026-11-28T23:00:00Z\n",
    )
    .unwrap();
    let lock_before = std::fs::read(&lock_path).unwrap();
    let unchanged = |what: &str| {
        assert!(
            marker.exists(),
            "{what}: the running upgrade's work was undone"
        );
        assert_eq!(
            std::fs::read(&journal).unwrap(),
            journal_before,
            "{what}: journal"
        );
        assert_eq!(
            std::fs::read(&lock_path).unwrap(),
            lock_before,
            "{what}: lock file"
        );
    };

    // The upgrade still runs: it holds the lock.
    let held = nix::fcntl::Flock::lock(
        std::fs::File::open(&lock_path).unwrap(),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    )
    .unwrap();
    for extra in [&["--dry-run"][..], &[][..]] {
        let mut args = STANDARD.to_vec();
        args.extend(extra);
        let (_, stderr) = assert_exit(&image.install(&args), 5);
        assert!(stderr.contains("(upgrade)"), "names the holder: {stderr}");
        unchanged(&format!("install {extra:?} while the upgrade runs"));
    }
    drop(held);

    // The upgrade was killed: a dry run says a real run will undo it first, undoes nothing,
    // and shows no plan made from the half-changed tree.
    let mut dry_run = STANDARD.to_vec();
    dry_run.push("--dry-run");
    let (stdout, stderr) = assert_exit(&image.install(&dry_run), 0);
    assert!(
        stderr.contains("an earlier upgrade did not finish"),
        "{stderr}"
    );
    assert!(!stdout.contains("plan:"), "{stdout}");
    unchanged("install --dry-run after the upgrade died");

    // A real run takes the lock, undoes the interrupted upgrade first, then installs.
    let (stdout, stderr) = assert_exit(&image.install(&STANDARD), 0);
    assert!(
        stderr.contains("the interrupted upgrade was undone"),
        "{stderr}"
    );
    assert!(stdout.contains("installed Mattermost 11.10.1"), "{stdout}");
    assert!(!marker.exists());
    assert!(!journal.exists());
}
