//! The Debian and RPM packages: `packaging/build.sh OUTDIR` builds both; lintian and rpmlint
//! report no errors; their metadata and file lists are what Cargo.toml declares; the .deb
//! installs, keeps an edited conffile and purges cleanly inside a booted Debian guest; the .rpm
//! installs into an empty root, keeps an edited `%config(noreplace)` file and erases cleanly.
//! The binary in each package needs no glibc newer than 2.28, so it starts on every supported
//! system (RHEL 8 and its equivalents have 2.28: `mattermost-facts.md` §10).
//!
//! Needs root, lintian, rpm, rpmlint and objdump (binutils) (`bash .ci/run` installs them) and,
//! the first time, a few minutes for build.sh to install cargo-deb, cargo-generate-rpm,
//! cargo-zigbuild and zig.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::common::{Ran, assert_exit, run, texts};
use crate::guest::{Guest, Suite};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const CONFFILE: &str = "/etc/mm-install/mm-install.toml";
/// The newest glibc the packaged binary may need: the oldest glibc of the supported systems,
/// RHEL 8 and its equivalents (`mattermost-facts.md` §10, "glibc floors of the supported
/// systems"; Debian 11 and Ubuntu 20.04 have 2.31). packaging/build.sh links for it.
const GLIBC_FLOOR: (u32, u32) = (2, 28);

/// Regular files in both packages.
const COMMON_FILES: &[&str] = &[
    "/usr/bin/mm-install",
    "/usr/share/man/man1/mm-install.1.gz",
    "/usr/share/bash-completion/completions/mm-install",
    "/usr/share/fish/vendor_completions.d/mm-install.fish",
    CONFFILE,
    "/usr/share/doc/mm-install/README.md",
    "/usr/share/doc/mm-install/CHANGELOG.md",
];
const DEB_FILES: &[&str] = &[
    "/lib/systemd/system/mm-install-upgrade.service",
    "/lib/systemd/system/mm-install-upgrade.timer",
    "/usr/share/zsh/vendor-completions/_mm-install",
    "/usr/share/doc/mm-install/copyright",
    "/usr/share/doc/mm-install/changelog.gz",
];
const RPM_FILES: &[&str] = &[
    "/usr/lib/systemd/system/mm-install-upgrade.service",
    "/usr/lib/systemd/system/mm-install-upgrade.timer",
    "/usr/share/zsh/site-functions/_mm-install",
    "/usr/share/licenses/mm-install/LICENSE",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn expected(specific: &[&str]) -> BTreeSet<String> {
    COMMON_FILES
        .iter()
        .chain(specific)
        .map(|f| f.to_string())
        .collect()
}

/// Run a host command (C locale, for parsing); panics only if it cannot start.
fn host(program: &str, args: &[&str]) -> Ran {
    let mut command = Command::new(program);
    command.args(args).env("LC_ALL", "C");
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (bash .ci/run installs it)"));
    Ran {
        command: format!("{command:?}"),
        output,
    }
}

/// Assert `output` succeeded; returns its stdout.
/// The one file in `dir` whose name starts with `prefix` and ends with `suffix`.
fn find(dir: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let names: Vec<String> = fs_err::read_dir(dir)
        .expect("read OUTDIR")
        .map(|e| {
            e.expect("OUTDIR entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let found: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "one {prefix}*{suffix} in OUTDIR: {names:?}");
    dir.join(found[0])
}

/// The glibc symbol versions `binary` needs, from its dynamic symbol table (`objdump -T`):
/// `(symbol, "GLIBC_x.y[.z]")` for each symbol bound to a glibc version. Panics if there is
/// none, so that a binary this check cannot read never passes it.
fn glibc_symbols(binary: &Path) -> Vec<(String, String)> {
    let path = binary.to_str().expect("UTF-8 path");
    let table = assert_exit(&host("objdump", &["-T", path]), 0).0;
    // `0000000000000000  w   DF *UND*  0000000000000000 (GLIBC_2.28) statx`
    let symbols: Vec<(String, String)> = table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let version = fields
                .iter()
                .map(|f| f.trim_start_matches('(').trim_end_matches(')'))
                .find(|f| f.starts_with("GLIBC_"))?;
            Some((fields.last()?.to_string(), version.to_string()))
        })
        .collect();
    assert!(
        !symbols.is_empty(),
        "objdump -T {path} shows no GLIBC_ symbol; is it a binary linked against glibc?\n{table}"
    );
    symbols
}

/// Whether the symbol version `GLIBC_x.y[.z]` is newer than [`GLIBC_FLOOR`]. A version that is
/// not `GLIBC_<major>.<minor>…` (`GLIBC_PRIVATE`) counts as newer: no release promises it.
fn glibc_version_above_floor(version: &str) -> bool {
    let mut numbers = version
        .strip_prefix("GLIBC_")
        .unwrap_or(version)
        .split('.')
        .map(|n| n.parse::<u32>().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) > GLIBC_FLOOR,
        _ => true,
    }
}

/// The symbols of `binary` that need a glibc newer than [`GLIBC_FLOOR`], as `name@GLIBC_x.y`.
fn above_glibc_floor(binary: &Path) -> Vec<String> {
    glibc_symbols(binary)
        .into_iter()
        .filter(|(_, version)| glibc_version_above_floor(version))
        .map(|(symbol, version)| format!("{symbol}@{version}"))
        .collect()
}

/// Assert that the packaged binary at `binary` (from `package`) starts on glibc 2.28.
fn assert_glibc_floor(binary: &Path, package: &str) {
    let newer = above_glibc_floor(binary);
    let (major, minor) = GLIBC_FLOOR;
    assert!(
        newer.is_empty(),
        "the mm-install in {package} needs a glibc newer than {major}.{minor}, so it does not \
         start on RHEL 8 and its equivalents; symbols:\n{}",
        newer.join("\n")
    );
}

/// The check above fails when it should: this test executable, linked by a plain cargo on the
/// Debian 12 host (glibc 2.36) as `cargo build` links target/release/mm-install, binds
/// `__libc_start_main` to GLIBC_2.34 (glibc 2.34's new entry point), and the check reports it.
#[test]
fn the_glibc_floor_check_reports_a_binary_linked_against_the_hosts_glibc() {
    let exe = std::env::current_exe().expect("current_exe");
    let newer = above_glibc_floor(&exe);
    assert!(
        newer.iter().any(|s| s == "__libc_start_main@GLIBC_2.34"),
        "{} is linked against the host's glibc (2.34 or later on the Debian 12 this suite runs \
         on), yet the check reports only: {newer:?}",
        exe.display()
    );
}

#[test]
fn packages_build_lint_clean_and_install_and_remove_cleanly() {
    let out = tempfile::tempdir().expect("OUTDIR");
    let started = Instant::now();
    let mut build = Command::new("bash");
    build
        .arg(repo().join("packaging/build.sh"))
        .arg(out.path())
        .current_dir(repo());
    // Run it as from a shell: without the variables cargo sets for tests (ring's build script
    // watches CARGO_MANIFEST_DIR, so they would rebuild the release binary every other run).
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name == "CARGO" || (name.starts_with("CARGO_") && name != "CARGO_HOME") {
            build.env_remove(&*name);
        }
    }
    let build = run(&mut build);
    assert_exit(&build, 0);
    let build_time = started.elapsed();

    let arch = assert_exit(&host("dpkg", &["--print-architecture"]), 0)
        .0
        .trim()
        .to_string();
    let deb = find(out.path(), &format!("mm-install_{VERSION}_{arch}"), ".deb");
    let rpm = find(out.path(), &format!("mm-install-{VERSION}-1."), ".rpm");
    assert_eq!(
        fs_err::read_dir(out.path()).unwrap().count(),
        2,
        "OUTDIR holds exactly the two packages"
    );
    let (deb_s, rpm_s) = (deb.to_str().unwrap(), rpm.to_str().unwrap());

    let started = Instant::now();
    check_deb(deb_s);
    check_rpm(rpm_s);
    let inspect_time = started.elapsed();

    let started = Instant::now();
    install_rpm_into_empty_root(rpm_s);
    let rpm_time = started.elapsed();

    let started = Instant::now();
    // Debian 11 (glibc 2.31) proves the glibc floor by running the packaged binary, not only by
    // reading its symbols; Debian 12 is what most of the suite runs.
    for suite in [Suite::Bullseye, Suite::Bookworm] {
        install_deb_in_guest(
            suite,
            out.path(),
            deb.file_name().unwrap().to_str().unwrap(),
        );
    }
    println!(
        "packages: build.sh {build_time:.1?}, lint and inspect {inspect_time:.1?}, \
         rpm root install {rpm_time:.1?}, guest deb install/purge {:.1?}",
        started.elapsed()
    );
}

fn check_deb(deb: &str) {
    let lintian = host("lintian", &["--fail-on", "error", deb]);
    let (report, stderr) = texts(&lintian);
    println!("lintian {deb}:\n{report}{stderr}");
    assert!(
        lintian.status.success(),
        "lintian failed:\n{report}{stderr}"
    );
    assert!(
        !report.lines().any(|l| l.starts_with("E:")),
        "lintian errors:\n{report}"
    );

    // Control fields.
    let field = |name: &str| {
        assert_exit(&host("dpkg-deb", &["-f", deb, name]), 0)
            .0
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), "mm-install");
    assert_eq!(
        field("Version"),
        VERSION,
        "the package version is the crate's"
    );
    assert_eq!(field("Section"), "admin");
    let depends = field("Depends");
    let depends: Vec<&str> = depends.split(", ").collect();
    assert!(depends.contains(&"ca-certificates"), "{depends:?}");
    // apt installs it where glibc is 2.28 or newer: the floor the binary is linked for.
    let (major, minor) = GLIBC_FLOOR;
    assert!(
        depends.contains(&format!("libc6 (>= {major}.{minor})").as_str()),
        "{depends:?}"
    );
    assert_eq!(field("Recommends"), "nginx, postgresql");
    let description = field("Description");
    let (synopsis, extended) = description.split_once('\n').expect("extended description");
    assert!(synopsis.len() < 80, "synopsis: {synopsis}");
    assert!(extended.contains("mm-install install"), "{extended}");

    // The conffile, and no maintainer scripts at all.
    let info = assert_exit(&host("dpkg-deb", &["-I", deb]), 0).0;
    for script in [
        "preinst",
        "postinst",
        "prerm",
        "postrm",
        "config",
        "templates",
    ] {
        assert!(
            !info
                .lines()
                .any(|l| l.contains(" bytes, ") && l.split_whitespace().any(|w| w == script)),
            "unexpected maintainer script {script}:\n{info}"
        );
    }
    let conffiles = assert_exit(&host("dpkg-deb", &["-I", deb, "conffiles"]), 0).0;
    assert_eq!(conffiles.trim(), CONFFILE);

    // Exactly the expected files, owned by root, the binary executable.
    let listing = assert_exit(&host("dpkg-deb", &["-c", deb]), 0).0;
    let mut files = BTreeSet::new();
    for line in listing.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[1], "0/0", "owned by root: {line}");
        let path = fields[5].trim_start_matches('.').to_string();
        match fields[0].chars().next() {
            Some('d') => {}
            Some('-') => {
                let mode = if path == "/usr/bin/mm-install" {
                    "-rwxr-xr-x"
                } else {
                    "-rw-r--r--"
                };
                assert_eq!(fields[0], mode, "{line}");
                files.insert(path);
            }
            _ => panic!("neither file nor directory: {line}"),
        }
    }
    assert_eq!(files, expected(DEB_FILES), "dpkg-deb -c:\n{listing}");

    let tree = tempfile::tempdir().expect("dpkg-deb -x dir");
    let dir = tree.path().to_str().unwrap();
    assert_exit(&host("dpkg-deb", &["-x", deb, dir]), 0);
    assert_glibc_floor(&tree.path().join("usr/bin/mm-install"), deb);
}

fn check_rpm(rpm: &str) {
    let config = repo().join("packaging/rpmlint.toml");
    let rpmlint = host("rpmlint", &["-c", config.to_str().unwrap(), rpm]);
    let (report, stderr) = texts(&rpmlint);
    println!("rpmlint {rpm}:\n{report}{stderr}");
    assert!(
        rpmlint.status.success(),
        "rpmlint failed:\n{report}{stderr}"
    );
    assert!(report.contains(" 0 errors"), "{report}");

    let query = |args: &[&str]| {
        let mut all = vec!["-qp"];
        all.extend(args);
        all.push(rpm);
        assert_exit(&host("rpm", &all), 0).0
    };
    let tags = query(&[
        "--qf",
        "%{NAME}|%{VERSION}|%{RELEASE}|%{LICENSE}|%{URL}|%{VENDOR}|%{SUMMARY}",
    ]);
    let tags: Vec<&str> = tags.split('|').collect();
    assert_eq!(tags[..4], ["mm-install", VERSION, "1", "MIT"], "{tags:?}");
    assert_eq!(tags[4], "https://github.com/mm-install/mm-install");
    assert_eq!(tags[5], "the mm-install developers");
    assert!(
        tags[6].starts_with("Install, upgrade and roll back"),
        "{tags:?}"
    );
    let requires = query(&["--requires"]);
    assert!(
        requires.lines().any(|l| l.trim() == "ca-certificates"),
        "{requires}"
    );
    // `libc.so.6(GLIBC_2.28)(64bit)`: dnf installs it where glibc is 2.28 or newer.
    let glibc: Vec<&str> = requires
        .lines()
        .filter_map(|l| l.split_once("(GLIBC_")?.1.split_once(')'))
        .map(|(version, _)| version)
        .collect();
    assert!(!glibc.is_empty(), "no GLIBC_ requirement:\n{requires}");
    let newer: Vec<&&str> = glibc
        .iter()
        .filter(|v| glibc_version_above_floor(&format!("GLIBC_{v}")))
        .collect();
    assert!(
        newer.is_empty(),
        "the .rpm requires a glibc newer than the floor: {newer:?}\n{requires}"
    );
    let recommends = query(&["--recommends"]);
    assert_eq!(
        recommends.lines().collect::<Vec<_>>(),
        ["nginx", "postgresql"]
    );
    assert_eq!(query(&["--scripts"]).trim(), "", "no scriptlets");

    // The file list, and the conffile flagged %config(noreplace) ("c" + "n").
    let files: BTreeSet<String> = query(&["-l"]).lines().map(String::from).collect();
    assert_eq!(files, expected(RPM_FILES));
    let flags = query(&[
        "--qf",
        "[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILENAMES}\n]",
    ]);
    let conf = flags
        .lines()
        .find(|l| l.ends_with(CONFFILE))
        .unwrap_or_else(|| panic!("{CONFFILE} missing:\n{flags}"));
    let fflags = conf.split_whitespace().next().unwrap();
    assert!(fflags.contains('c') && fflags.contains('n'), "{conf}");
    assert_eq!(
        flags
            .lines()
            .filter(|l| l.split_whitespace().next().unwrap().contains('c'))
            .count(),
        1,
        "only the conffile is %config:\n{flags}"
    );
    assert!(flags.contains("-rwxr-xr-x /usr/bin/mm-install"), "{flags}");
}

fn install_rpm_into_empty_root(rpm: &str) {
    let root = tempfile::tempdir().expect("rpm root");
    let dir = root.path().to_str().unwrap();
    let rpm_root = |args: &[&str]| {
        let mut all = vec!["--root", dir];
        all.extend(args);
        host("rpm", &all)
    };
    assert_exit(&rpm_root(&["-i", "--nodeps", "--noscripts", rpm]), 0);
    let listed: BTreeSet<String> = assert_exit(&rpm_root(&["-ql", "mm-install"]), 0)
        .0
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(listed, expected(RPM_FILES));
    for file in &listed {
        assert!(
            root.path().join(&file[1..]).is_file(),
            "{file} not installed"
        );
    }
    assert_glibc_floor(&root.path().join("usr/bin/mm-install"), rpm);
    let version = host(&format!("{dir}/usr/bin/mm-install"), &["--version"]);
    assert_eq!(
        assert_exit(&version, 0).0.trim(),
        format!("mm-install {VERSION}")
    );
    let shipped = fs_err::read_to_string(repo().join("packaging/mm-install.toml")).unwrap();
    let conffile = root.path().join(&CONFFILE[1..]);
    assert_eq!(fs_err::read_to_string(&conffile).unwrap(), shipped);

    // %config(noreplace): reinstalling keeps the admin's edit; erasing saves it as .rpmsave and
    // removes everything else.
    let edited = format!("{shipped}keep = 3\n");
    fs_err::write(&conffile, &edited).unwrap();
    assert_exit(
        &rpm_root(&["-U", "--replacepkgs", "--nodeps", "--noscripts", rpm]),
        0,
    );
    assert_eq!(fs_err::read_to_string(&conffile).unwrap(), edited);
    assert_exit(
        &rpm_root(&["-e", "--nodeps", "--noscripts", "mm-install"]),
        0,
    );
    for file in &listed {
        assert!(!root.path().join(&file[1..]).exists(), "{file} left behind");
    }
    let saved = root.path().join("etc/mm-install/mm-install.toml.rpmsave");
    assert_eq!(fs_err::read_to_string(&saved).unwrap(), edited);
}

/// The .deb on a booted `suite` guest: installs, runs (`--version`, `detect-os`,
/// `install --dry-run`), keeps the admin's conffile edit, purges cleanly.
fn install_deb_in_guest(suite: Suite, artifacts: &Path, deb_name: &str) {
    let guest = Guest::boot_suite(suite, artifacts);
    let deb = format!("/srv/artifacts/{deb_name}");
    let run = |script: &str| {
        let output = guest.sh(script);
        assert_exit(&output, 0).0
    };

    // dpkg, not apt: apt would try to fetch the Recommends from the (unreachable) network.
    run(&format!("dpkg -i {deb}"));
    assert_eq!(
        run("dpkg-query -W -f '${Status} ${Version}' mm-install"),
        format!("install ok installed {VERSION}")
    );
    assert_eq!(
        run("mm-install --version").trim(),
        format!("mm-install {VERSION}")
    );
    let os = run("mm-install detect-os");
    assert!(
        os.contains(&format!("Debian GNU/Linux {}", suite.version_id())) && os.contains("official"),
        "{os}"
    );
    // The plan for a local-database install on this release, or, where the release's
    // PostgreSQL is older than Mattermost's minimum (13 on bullseye), the pre-flight's refusal
    // (exit 1; suites_guest.rs checks that nothing changes).
    let plan = guest.run(&[
        "mm-install",
        "install",
        "--dry-run",
        "--yes",
        "--site-url",
        "http://chat.mm.test",
    ]);
    if suite.postgres_major() >= 14 {
        let plan = assert_exit(&plan, 0).0;
        assert!(plan.contains("plan: install Mattermost"), "{plan}");
    } else {
        let (out, err) = texts(&plan);
        assert_eq!(
            plan.status.code(),
            Some(1),
            "stdout:\n{out}\nstderr:\n{err}"
        );
        assert!(err.contains("14 or newer"), "{err}");
    }

    // The man page (the minimal guest has no man-db), the completions, the conffile.
    let page = run("zcat /usr/share/man/man1/mm-install.1.gz");
    assert!(page.contains(".TH mm-install 1"), "{page}");
    let complete = guest.run(&[
        "bash",
        "-c",
        ". /usr/share/bash-completion/completions/mm-install && complete -p mm-install",
    ]);
    let complete = assert_exit(&complete, 0).0;
    assert!(complete.contains("mm-install"), "{complete}");
    run("test -s /usr/share/zsh/vendor-completions/_mm-install");
    run("test -s /usr/share/fish/vendor_completions.d/mm-install.fish");
    let conffiles = run("dpkg-query -W -f '${Conffiles}' mm-install");
    assert!(conffiles.contains(CONFFILE), "{conffiles}");
    let shipped = fs_err::read_to_string(repo().join("packaging/mm-install.toml")).unwrap();
    assert_eq!(run(&format!("cat {CONFFILE}")), shipped);

    // Reinstalling keeps the admin's edit to the conffile, without asking.
    run(&format!("echo 'keep = 3' >> {CONFFILE}"));
    run(&format!("dpkg -i {deb} </dev/null"));
    assert_eq!(
        run(&format!("cat {CONFFILE}")),
        format!("{shipped}keep = 3\n")
    );

    // The unattended-upgrade timer is installed, known to systemd, and not enabled.
    let timer = guest.run(&["systemctl", "is-enabled", "mm-install-upgrade.timer"]);
    assert_eq!(texts(&timer).0.trim(), "disabled", "{timer:?}");
    run(
        "systemctl cat mm-install-upgrade.service | grep -q 'ExecStart=/usr/bin/mm-install upgrade --latest'",
    );

    // No Mattermost is installed or running here, and purging does not care.
    let active = guest.run(&["systemctl", "is-active", "mattermost"]);
    assert!(!active.status.success(), "{active:?}");
    run("dpkg --purge mm-install");
    let status = guest.sh("dpkg-query -W -f '${Status}' mm-install 2>/dev/null");
    let status = texts(&status).0;
    assert!(
        status.is_empty() || status.contains("not-installed"),
        "after purge: {status}"
    );
    let mut leftovers = vec![
        "/etc/mm-install".to_string(),
        "/usr/share/doc/mm-install".into(),
    ];
    leftovers.extend(expected(DEB_FILES));
    let left = run(&format!(
        "for f in {}; do [ -e \"$f\" ] && echo \"$f\"; done; true",
        leftovers.join(" ")
    ));
    assert_eq!(left, "", "left behind after dpkg --purge");
}
