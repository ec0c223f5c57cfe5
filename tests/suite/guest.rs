//! Throwaway Debian guests for end-to-end tests: systemd as PID 1, real nginx and PostgreSQL,
//! booted with `systemd-nspawn` from a cached debootstrap root (see /work/shared/testing.md).
//!
//! - Guests run one of the Debian releases users run ([`Suite`]: bullseye, bookworm, trixie);
//!   what differs between them (PostgreSQL major version and port) is in one table, [`SUITES`].
//! - Each suite's base root is built once into `<target>/e2e/base-<suite>-<hash>` (about a
//!   minute), under an exclusive `flock`, into a temporary name that is renamed only when
//!   complete. The hash covers the suite, the packages and the recipe. Build and boot times are
//!   printed per suite on stderr, uncaptured, for the CI log.
//! - Every command run inside a guest has a time limit ([`COMMAND_TIMEOUT`] unless the test
//!   asks for another with [`Guest::run_for`]): a command past it is killed, and the test fails
//!   naming the command, with its output so far and the tail of the guest's console log, instead
//!   of stalling CI.
//! - Every guest boots from its own overlay (`lowerdir` = the base), so guests share nothing and
//!   several can run at once; at most [`MAX_GUESTS`] per test process (CI has 2 cores).
//! - Every guest gets its own network namespace holding `lo` and one end of a veth pair
//!   (`10.213.N.2/30`); the host end is `10.213.N.1/30` ([`Guest::host_address`]). There is no
//!   default route, so the guest reaches the host's test servers bound to that address and nothing
//!   else (its 127.0.0.1 is its own).
//! - Dropping a [`Guest`] powers it off (killing it if stuck), unmounts its overlay and deletes its
//!   network namespace and directories. If the test process dies instead, nspawn gets SIGTERM (an
//!   orderly guest shutdown) and the next boot garbage-collects what was left.
//!
//! Needs root and debootstrap, systemd-nspawn, nsenter, ip: `bash .ci/run` (or
//! `scripts/e2e-packages.sh`) installs them. A missing tool is a test failure, never a skip.

use std::fmt;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

use crate::common::Ran;

/// Print a line on the process's stderr, past libtest's output capture, so that the build and
/// boot times of each suite show in the CI log of passing tests too.
macro_rules! timing {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Guests that may run at once in one test process.
pub const MAX_GUESTS: usize = 2;

/// A Debian release a guest can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// Debian 11, in long-term support: glibc 2.31, PostgreSQL 13.
    Bullseye,
    /// Debian 12: glibc 2.36, PostgreSQL 15. What [`Guest::boot`] boots.
    Bookworm,
    /// Debian 13, stable since August 2025: PostgreSQL 17, its cluster on port 5433.
    Trixie,
    /// Rocky Linux 9 as far as mm-install can tell: a bookworm root reshaped by
    /// `rhel-model.sh` (os-release, rpm database and a local dnf repository, RHEL's nginx
    /// layout, one `postgresql.service` cluster with RHEL's `ident` rules for TCP, firewalld).
    /// Real RHEL images cannot be fetched here; the script says what the model does not cover.
    RockyModel,
}

/// What differs between the suites: everything the harness and the tests need to know.
struct SuiteFacts {
    suite: Suite,
    /// How the guest is named in messages and in its cached root's directory.
    name: &'static str,
    /// The Debian release debootstrap installs.
    codename: &'static str,
    /// os-release `VERSION_ID`.
    version_id: &'static str,
    /// The PostgreSQL major version of the suite's `postgresql` package.
    postgres_major: u32,
    /// The port the cluster `NN/main` listens on, set explicitly in the base root. Not always
    /// 5432 on real servers: `pg_createcluster` takes the next free port when 5432 is in use and
    /// `pg_upgradecluster` leaves the new cluster on 5433 (mattermost-facts.md §10, from
    /// Debian's postgresql-common). Set explicitly because debootstrap runs the package scripts
    /// in the host's network namespace, where 5432 may be taken by the host's own PostgreSQL.
    postgres_port: u16,
    /// The unit that runs the cluster, `nginx` beside it, active once the guest has booted.
    postgres_unit: &'static str,
    /// Packages added to [`PACKAGES`] for this guest.
    extra_packages: &'static [&'static str],
    /// A script run in the root (`chroot ROOT sh -s`) after the common recipe, reshaping it.
    reshape: Option<&'static str>,
}

/// One row per [`Suite`], in declaration order.
const SUITES: [SuiteFacts; 4] = [
    SuiteFacts {
        suite: Suite::Bullseye,
        name: "bullseye",
        codename: "bullseye",
        version_id: "11",
        postgres_major: 13,
        postgres_port: 5432,
        postgres_unit: "postgresql@13-main",
        extra_packages: &[],
        reshape: None,
    },
    SuiteFacts {
        suite: Suite::Bookworm,
        name: "bookworm",
        codename: "bookworm",
        version_id: "12",
        postgres_major: 15,
        postgres_port: 5432,
        postgres_unit: "postgresql@15-main",
        extra_packages: &[],
        reshape: None,
    },
    SuiteFacts {
        suite: Suite::Trixie,
        name: "trixie",
        codename: "trixie",
        version_id: "13",
        postgres_major: 17,
        // As a server looks after `pg_upgradecluster` (facts §10).
        postgres_port: 5433,
        postgres_unit: "postgresql@17-main",
        extra_packages: &[],
        reshape: None,
    },
    SuiteFacts {
        suite: Suite::RockyModel,
        name: "rocky9-model",
        codename: "bookworm",
        version_id: "9.4",
        postgres_major: 15,
        postgres_port: 5432,
        postgres_unit: "postgresql",
        // dnf and createrepo_c for the local repository, rpm's rpmbuild for its packages,
        // firewalld (whose polkitd needs a logind: libpam-systemd).
        extra_packages: &["dnf", "createrepo-c", "rpm", "firewalld", "libpam-systemd"],
        reshape: Some(include_str!("rhel-model.sh")),
    },
];

impl Suite {
    fn facts(self) -> &'static SuiteFacts {
        let facts = &SUITES[self as usize];
        debug_assert_eq!(facts.suite, self);
        facts
    }

    /// The os-release `VERSION_ID`: "11", "12", "13" (Debian), "9.4" (the Rocky model).
    pub fn version_id(self) -> &'static str {
        self.facts().version_id
    }

    /// The PostgreSQL major version of the suite's `postgresql` package.
    pub fn postgres_major(self) -> u32 {
        self.facts().postgres_major
    }

    /// The cluster's systemd unit, e.g. `postgresql@15-main`, or `postgresql` on the Rocky
    /// model.
    pub fn postgres_unit(self) -> String {
        self.facts().postgres_unit.to_string()
    }

    /// The port the guest's cluster listens on.
    pub fn postgres_port(self) -> u16 {
        self.facts().postgres_port
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.facts().name)
    }
}

/// Packages added to debootstrap's minbase, for every suite. Part of the cache key.
const PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "iproute2",
    "ca-certificates",
    "curl",
    "nginx",
    "postgresql",
    "passwd",
    "procps",
];

/// Bump when the steps after debootstrap change, to rebuild cached roots. Part of the cache key.
const RECIPE: &str = "3";

/// PATH for every command, on the host and inside the guest.
const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
const SERVICES_TIMEOUT: Duration = Duration::from_secs(60);
const POWEROFF_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a command inside a guest may run unless the test says otherwise ([`Guest::run_for`]).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// A booted guest. See the module documentation.
pub struct Guest {
    // Fields drop in this order, after `Drop for Guest` has stopped the container.
    name: String,
    suite: Suite,
    nspawn_pid: u32,
    /// The guest's PID 1 as seen from the host (0 until found).
    leader: u32,
    exited: Mutex<NspawnExit>,
    log: PathBuf,
    _overlay: Overlay,
    net: Netns,
    _permit: Permit,
}

struct NspawnExit {
    rx: Receiver<std::io::Result<ExitStatus>>,
    status: Option<String>,
}

impl Guest {
    /// Boot a fresh Debian 12 (bookworm) guest: [`Guest::boot_suite`] with [`Suite::Bookworm`].
    pub fn boot(artifacts: &Path) -> Guest {
        Guest::boot_suite(Suite::Bookworm, artifacts)
    }

    /// Boot a fresh guest of `suite` from its cached base root. `artifacts` is bind-mounted
    /// read-only at /srv/artifacts. Returns once systemd is up and nginx and the suite's
    /// PostgreSQL cluster (`postgresql@NN-main`) are active.
    pub fn boot_suite(suite: Suite, artifacts: &Path) -> Guest {
        preflight();
        let base = base_root(suite);
        let artifacts = artifacts
            .canonicalize()
            .unwrap_or_else(|e| panic!("artifacts dir {}: {e}", artifacts.display()));
        assert!(
            !artifacts.to_string_lossy().contains([':', ',']),
            "artifacts path {} must not contain ':' or ','",
            artifacts.display()
        );
        let permit = Permit::acquire();
        collect_garbage();
        let net = Netns::create();
        let name = format!("mmtest-{}-{}", net.index, std::process::id());
        let overlay = Overlay::mount(&base, &guests_dir().join(&name));
        let log = overlay.dir.join("nspawn.log");
        let log_file = fs_err::File::create(&log).expect("create nspawn log");
        let log_err = log_file.try_clone().expect("clone nspawn log");

        let mut command = Command::new("setpriv");
        command
            // If the test process dies, nspawn gets SIGTERM and powers the guest off. The
            // "parent" is the waiter thread below, which lives as long as nspawn.
            .args(["--pdeathsig", "TERM", "--", "systemd-nspawn", "--boot"])
            .arg("--directory")
            .arg(&overlay.merged)
            .args([
                "--register=no",
                "--keep-unit",
                "--console=pipe",
                "--link-journal=no",
            ])
            .arg(format!("--machine={name}"))
            .arg(format!("--network-namespace-path={}", net.path()))
            // nspawn keeps CAP_NET_ADMIN for --private-network but not for a namespace given by
            // path; the guest's own network namespace is its to configure (firewalld's
            // nftables on the Rocky model needs it).
            .arg("--capability=CAP_NET_ADMIN")
            .arg(format!("--bind-ro={}:/srv/artifacts", artifacts.display()))
            .env_clear()
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .stdout(log_file.into_parts().0)
            .stderr(log_err.into_parts().0)
            // Keep Ctrl-C in the terminal away from nspawn: the pdeathsig handles it.
            .process_group(0);
        let (pid_tx, pid_rx) = mpsc::channel();
        let (exit_tx, exit_rx) = mpsc::channel();
        thread::Builder::new()
            .name(format!("{name}-nspawn"))
            .spawn(move || match command.spawn() {
                Ok(mut child) => {
                    let _ = pid_tx.send(Ok(child.id()));
                    let _ = exit_tx.send(child.wait());
                }
                Err(e) => {
                    let _ = pid_tx.send(Err(e));
                }
            })
            .expect("spawn nspawn waiter thread");
        let nspawn_pid = pid_rx
            .recv()
            .expect("nspawn waiter thread")
            .unwrap_or_else(|e| panic!("cannot start systemd-nspawn: {e}"));

        let booting = Instant::now();
        let mut guest = Guest {
            name,
            suite,
            nspawn_pid,
            leader: 0,
            exited: Mutex::new(NspawnExit {
                rx: exit_rx,
                status: None,
            }),
            log,
            _overlay: overlay,
            net,
            _permit: permit,
        };
        guest.find_leader();
        guest.wait_ready();
        timing!(
            "guest {}: {suite} booted, nginx and {} active, in {:.1} s",
            guest.name,
            suite.postgres_unit(),
            booting.elapsed().as_secs_f64()
        );
        guest
    }

    /// Run a command inside (as root, clean env with PATH), capturing output; never panics on
    /// non-zero exit. Killed, and the test failed, after [`COMMAND_TIMEOUT`].
    pub fn run(&self, args: &[&str]) -> Ran {
        self.run_for(args, COMMAND_TIMEOUT)
    }

    /// `sh -c script` inside, like [`Guest::run`].
    pub fn sh(&self, script: &str) -> Ran {
        self.run(&["sh", "-c", script])
    }

    /// Like [`Guest::run`], with its own time limit: for commands known to take long, or to
    /// prove that a command does not hang.
    pub fn run_for(&self, args: &[&str], limit: Duration) -> Ran {
        let output = self.try_run(args, limit).unwrap_or_else(|partial| {
            panic!(
                "guest {} ({}): `{}` did not finish within {} s and was killed.\n\
                 its stdout so far:\n{}\nits stderr so far:\n{}\n\
                 guest journal (last lines):\n{}\nnspawn log (last lines):\n{}",
                self.name,
                self.suite,
                args.join(" "),
                limit.as_secs_f64(),
                String::from_utf8_lossy(&partial.stdout),
                String::from_utf8_lossy(&partial.stderr),
                String::from_utf8_lossy(
                    &self
                        .probe(
                            &[
                                "journalctl",
                                "--no-pager",
                                "-o",
                                "short-monotonic",
                                "-n",
                                "60"
                            ],
                            Duration::from_secs(20)
                        )
                        .stdout
                ),
                self.log_text()
            )
        });
        Ran {
            command: format!("in guest {}: `{}`", self.name, args.join(" ")),
            output,
        }
    }

    /// The host-side IPv4 address the guest can reach the host at: bind test servers here.
    pub fn host_address(&self) -> &str {
        &self.net.host_address
    }

    /// The guest's journal for a unit (for failure messages).
    pub fn journal(&self, unit: &str) -> String {
        let out = self.probe(
            &[
                "journalctl",
                "--no-pager",
                "-o",
                "short-monotonic",
                "-u",
                unit,
            ],
            Duration::from_secs(20),
        );
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        text
    }

    /// Run `args` inside, in a process group of its own that is killed (`SIGKILL`) once `limit`
    /// has passed. `Err` carries what it printed until then.
    fn try_run(&self, args: &[&str], limit: Duration) -> Result<Output, Output> {
        assert!(self.leader != 0, "guest {} has no PID 1", self.name);
        let deadline = Instant::now() + limit;
        let mut child = Command::new("nsenter")
            .arg("-t")
            .arg(self.leader.to_string())
            .args(["-a", "env", "-i"])
            .arg(format!("PATH={PATH}"))
            .args(args)
            .env_clear()
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // nsenter forks to enter the guest's PID namespace: the group holds both.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run nsenter: {e}"));
        let (tx, rx) = mpsc::channel();
        let pipes: [(usize, Box<dyn Read + Send>); 2] = [
            (0, Box::new(child.stdout.take().expect("piped stdout"))),
            (1, Box::new(child.stderr.take().expect("piped stderr"))),
        ];
        for (index, mut pipe) in pipes {
            let tx = tx.clone();
            thread::spawn(move || {
                let mut buffer = Vec::new();
                let _ = pipe.read_to_end(&mut buffer);
                let _ = tx.send((index, buffer));
            });
        }
        drop(tx);
        let group = format!("-{}", child.id());
        let kill_group = || host("kill", &["-KILL", "--", &group]);

        let mut timed_out = false;
        let status = loop {
            match child.try_wait().expect("wait for nsenter") {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    timed_out = true;
                    kill_group();
                    break child.wait().expect("wait for killed nsenter");
                }
                None => thread::sleep(Duration::from_millis(20)),
            }
        };
        let mut streams = [Vec::new(), Vec::new()];
        for _ in 0..2 {
            // Once killed, a grace period; otherwise until the deadline (a process the command
            // left behind may hold its output open: then it is killed too).
            let wait = if timed_out {
                Duration::from_secs(2)
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            match rx.recv_timeout(wait) {
                Ok((index, buffer)) => streams[index] = buffer,
                Err(_) if !timed_out => {
                    timed_out = true;
                    kill_group();
                }
                Err(_) => {}
            }
        }
        let [stdout, stderr] = streams;
        let output = Output {
            status,
            stdout,
            stderr,
        };
        if timed_out { Err(output) } else { Ok(output) }
    }

    /// [`Guest::try_run`] for the harness's own polling and diagnostics: a timeout is an answer
    /// (killed, no output), not a test failure.
    fn probe(&self, args: &[&str], limit: Duration) -> Output {
        self.try_run(args, limit).unwrap_or_else(|partial| partial)
    }

    /// nspawn's exit status, if it has exited.
    fn exit_status(&self) -> Option<String> {
        let mut exited = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        if exited.status.is_none() {
            match exited.rx.try_recv() {
                Ok(status) => exited.status = Some(format!("{status:?}")),
                Err(TryRecvError::Disconnected) => exited.status = Some("unknown".into()),
                Err(TryRecvError::Empty) => {}
            }
        }
        exited.status.clone()
    }

    fn wait_exit(&self, limit: Duration) -> bool {
        let mut exited = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        if exited.status.is_some() {
            return true;
        }
        match exited.rx.recv_timeout(limit) {
            Ok(status) => exited.status = Some(format!("{status:?}")),
            Err(RecvTimeoutError::Disconnected) => exited.status = Some("unknown".into()),
            Err(RecvTimeoutError::Timeout) => return false,
        }
        true
    }

    fn log_text(&self) -> String {
        let text = fs_err::read_to_string(&self.log).unwrap_or_else(|e| e.to_string());
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(150);
        lines[start..].join("\n")
    }

    fn find_leader(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = host(
                "pgrep",
                &["-P", &self.nspawn_pid.to_string(), "-x", "systemd"],
            );
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(pid) = text.lines().next().and_then(|l| l.trim().parse().ok()) {
                self.leader = pid;
                return;
            }
            if let Some(status) = self.exit_status() {
                panic!(
                    "systemd-nspawn exited ({status}) before the guest started.\nnspawn log:\n{}",
                    self.log_text()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "no systemd child of systemd-nspawn (pid {}) after 15 s.\nnspawn log:\n{}",
                    self.nspawn_pid,
                    self.log_text()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_ready(&self) {
        let postgres = self.suite.postgres_unit();
        let deadline = Instant::now() + BOOT_TIMEOUT;
        let mut state;
        loop {
            let out = self.probe(&["systemctl", "is-system-running"], Duration::from_secs(10));
            state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if state == "running" || state == "degraded" {
                break;
            }
            if let Some(status) = self.exit_status() {
                panic!(
                    "guest {} stopped while booting: nspawn exited ({status}).\nnspawn log:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            if Instant::now() > deadline {
                let failed = self.probe(
                    &["systemctl", "--failed", "--no-pager"],
                    Duration::from_secs(10),
                );
                let jobs = self.probe(
                    &["systemctl", "list-jobs", "--no-pager"],
                    Duration::from_secs(10),
                );
                panic!(
                    "guest {} not running after {} s (systemctl is-system-running: {state:?}).\n\
                     systemctl --failed:\n{}\nsystemctl list-jobs:\n{}\nnspawn log:\n{}",
                    self.name,
                    BOOT_TIMEOUT.as_secs(),
                    String::from_utf8_lossy(&failed.stdout),
                    String::from_utf8_lossy(&jobs.stdout),
                    self.log_text()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }

        let deadline = Instant::now() + SERVICES_TIMEOUT;
        loop {
            let out = self.probe(
                &["systemctl", "is-active", "nginx", &postgres],
                Duration::from_secs(10),
            );
            if out.status.success() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "guest {} ({}) is {state}, but nginx and {postgres} are not both active \
                     after {} s: {}\nsystemctl --failed:\n{}\nnginx journal:\n{}\n\
                     {postgres} journal:\n{}",
                    self.name,
                    self.suite,
                    SERVICES_TIMEOUT.as_secs(),
                    String::from_utf8_lossy(&out.stdout).replace('\n', " "),
                    String::from_utf8_lossy(
                        &self
                            .probe(
                                &["systemctl", "--failed", "--no-pager"],
                                Duration::from_secs(10)
                            )
                            .stdout
                    ),
                    self.journal("nginx"),
                    self.journal(&postgres),
                );
            }
            thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if self.exit_status().is_none() {
            if self.leader != 0 {
                self.probe(&["systemctl", "poweroff"], Duration::from_secs(10));
            } else {
                // No PID 1 yet: ask nspawn itself (SIGTERM = orderly shutdown).
                host("kill", &["-TERM", &self.nspawn_pid.to_string()]);
            }
            if !self.wait_exit(POWEROFF_TIMEOUT) {
                eprintln!(
                    "guest {}: still running {} s after poweroff; killing it",
                    self.name,
                    POWEROFF_TIMEOUT.as_secs()
                );
                // Killing the guest's PID 1 kills its whole PID namespace.
                if self.leader != 0 {
                    host("kill", &["-KILL", &self.leader.to_string()]);
                }
                host("kill", &["-KILL", &self.nspawn_pid.to_string()]);
                if !self.wait_exit(Duration::from_secs(10)) {
                    eprintln!("guest {}: systemd-nspawn did not die", self.name);
                }
            }
        }
        // Then `_overlay` unmounts and deletes its directory, `net` deletes the namespace and
        // `_permit` lets the next guest boot.
    }
}

// ---------------------------------------------------------------------------------------------
// Preconditions

fn preflight() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let status = fs_err::read_to_string("/proc/self/status").expect("read /proc/self/status");
        let euid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?");
        let missing: Vec<&str> = [
            "debootstrap",
            "systemd-nspawn",
            "nsenter",
            "ip",
            "setpriv",
            "pgrep",
            "mount",
            "umount",
            "timeout",
        ]
        .into_iter()
        .filter(|tool| {
            !PATH
                .split(':')
                .any(|dir| Path::new(dir).join(tool).is_file())
        })
        .collect();
        let mut problems = Vec::new();
        if euid != "0" {
            problems.push(format!("they must run as root (this is uid {euid})"));
        }
        if !missing.is_empty() {
            problems.push(format!("missing commands: {}", missing.join(", ")));
        }
        if !problems.is_empty() {
            panic!(
                "cannot boot an end-to-end test guest: {}. The guest tests need root and \
                 debootstrap, systemd-nspawn (systemd-container), nsenter and setpriv \
                 (util-linux), ip (iproute2) and pgrep (procps): run `bash .ci/run` as root, which \
                 installs them through scripts/e2e-packages.sh, or run that script yourself.",
                problems.join("; ")
            );
        }
    });
}

/// Run a host command with a clean environment; never panics on non-zero exit.
fn host(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", PATH)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Run a host command that must succeed.
fn host_ok(program: &str, args: &[&str]) -> Output {
    let out = host(program, args);
    assert!(
        out.status.success(),
        "`{program} {}` failed ({}): {}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

// ---------------------------------------------------------------------------------------------
// Directories and the cached base root

/// `<target>/e2e`, honouring CARGO_TARGET_DIR.
pub fn e2e_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_TARGET_DIR").map(PathBuf::from))
        .map(|dir| manifest.join(dir)) // no-op when absolute
        .unwrap_or_else(|| manifest.join("target"));
    target.join("e2e")
}

fn guests_dir() -> PathBuf {
    e2e_dir().join("guests")
}

/// The Debian mirror the host's apt uses.
fn debian_mirror() -> String {
    if let Ok(text) = fs_err::read_to_string("/etc/apt/sources.list.d/debian.sources") {
        let uris = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("URIs:"))
            .flat_map(str::split_whitespace);
        let mut first = None;
        for uri in uris {
            if !uri.contains("security") {
                return uri.to_string();
            }
            first.get_or_insert(uri.to_string());
        }
        if let Some(uri) = first {
            return uri;
        }
    }
    if let Ok(text) = fs_err::read_to_string("/etc/apt/sources.list") {
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("deb") {
                continue;
            }
            let mut url = words.next();
            if url.is_some_and(|w| w.starts_with('[')) {
                url = words.find(|w| w.ends_with(']')).and_then(|_| words.next());
            }
            if let Some(url) = url.filter(|u| !u.contains("security")) {
                return url.to_string();
            }
        }
    }
    "http://deb.debian.org/debian".to_string()
}

/// The cached base root of `suite`, built on first use.
fn base_root(suite: Suite) -> PathBuf {
    static BASES: [OnceLock<PathBuf>; SUITES.len()] = [const { OnceLock::new() }; SUITES.len()];
    BASES[suite as usize]
        .get_or_init(|| build_base_root(suite))
        .clone()
}

fn build_base_root(suite: Suite) -> PathBuf {
    let facts = suite.facts();
    let codename = facts.codename;
    let name = facts.name;
    let packages = [PACKAGES, facts.extra_packages].concat().join(",");
    let mut hasher = Sha256::new();
    hasher.update(format!(
        "{codename}\nminbase\n{packages}\n{RECIPE}\npostgresql {} on port {}\n",
        facts.postgres_major, facts.postgres_port
    ));
    if let Some(script) = facts.reshape {
        hasher.update(script);
    }
    let key = &hex::encode(hasher.finalize())[..12];
    let dir = e2e_dir();
    fs_err::create_dir_all(&dir).expect("create e2e dir");
    let base = dir.join(format!("base-{name}-{key}"));
    let partial = dir.join(format!("base-{name}-{key}.partial"));
    let lock_path = dir.join(format!("base-{name}-{key}.lock"));

    let lock_file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .expect("open base root lock");
    let lock = Flock::lock(lock_file.into_parts().0, FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("flock {}: {e}", lock_path.display()));
    if base.join("etc/os-release").exists() {
        timing!("guest: {name} base root cached at {}", base.display());
        return base;
    }

    // A build killed half-way: debootstrap may have left /proc and /sys mounted inside.
    if partial.exists() {
        unmount_under(&partial);
        host_ok(
            "rm",
            &["-rf", "--one-file-system", &partial.to_string_lossy()],
        );
    }
    let mirror = debian_mirror();
    let log = dir.join(format!("base-{name}-{key}.log"));
    timing!(
        "guest: building the {name} base root {} from {mirror} (about a minute; log in {})",
        base.display(),
        log.display()
    );
    let started = Instant::now();
    let log_file = fs_err::File::create(&log).expect("create debootstrap log");
    let log_err = log_file.try_clone().expect("clone debootstrap log");
    let status = Command::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--include={packages}"))
        .arg(codename)
        .arg(&partial)
        .arg(&mirror)
        .env_clear()
        .env("PATH", PATH)
        .env("DEBIAN_FRONTEND", "noninteractive")
        // debootstrap and everything it starts inherit the locked file (as stdin, where it reads
        // as empty), so if this process is killed the lock stays held until they have all
        // exited, and the next build never races a leftover debootstrap.
        .stdin(lock.try_clone().expect("dup base root lock"))
        .stdout(log_file.into_parts().0)
        .stderr(log_err.into_parts().0)
        .status()
        .expect("run debootstrap");
    if !status.success() {
        unmount_under(&partial);
        let text = fs_err::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        panic!(
            "debootstrap {codename} from {mirror} failed ({status}); last lines of {}:\n{}",
            log.display(),
            lines[lines.len().saturating_sub(40)..].join("\n")
        );
    }
    let debootstrap = started.elapsed();
    customize_base(suite, &partial);
    fs_err::rename(&partial, &base).expect("publish base root");
    timing!(
        "guest: {name} base root built in {:.1} s (debootstrap {:.1} s)",
        started.elapsed().as_secs_f64(),
        debootstrap.as_secs_f64()
    );
    base
}

/// Steps after debootstrap, run on the not-yet-published root.
fn customize_base(suite: Suite, root: &Path) {
    let root_s = root.to_string_lossy().into_owned();
    let major = suite.facts().postgres_major;
    // An empty machine-id: each guest's systemd makes up its own instead of sharing one.
    fs_err::write(root.join("etc/machine-id"), "").expect("empty machine-id");
    let dbus_id = root.join("var/lib/dbus/machine-id");
    if dbus_id.is_file() && !dbus_id.is_symlink() {
        fs_err::remove_file(&dbus_id).expect("remove dbus machine-id");
    }
    fs_err::write(root.join("etc/hostname"), "mmtest-guest\n").expect("write hostname");
    // Guests have no DNS and no route out; don't carry the host's resolver over.
    fs_err::write(
        root.join("etc/resolv.conf"),
        "# mm-install test guest: no DNS\n",
    )
    .expect("write resolv.conf");
    // Root without a password (a throwaway guest; only reachable through nsenter).
    host_ok("chroot", &[&root_s, "passwd", "--delete", "root"]);
    // nginx and postgresql are enabled by their packages; make sure.
    host_ok(
        "chroot",
        &[&root_s, "systemctl", "enable", "nginx", "postgresql"],
    );
    // The apt timers would only try to reach the network from inside the guest.
    for timer in ["apt-daily.timer", "apt-daily-upgrade.timer"] {
        host_ok("chroot", &[&root_s, "systemctl", "mask", timer]);
    }
    for needed in [
        format!("etc/postgresql/{major}/main/postgresql.conf"),
        format!("var/lib/postgresql/{major}/main/PG_VERSION"),
        "etc/systemd/system/multi-user.target.wants/nginx.service".into(),
        "etc/systemd/system/multi-user.target.wants/postgresql.service".into(),
        "sbin/init".into(),
    ] {
        // The entry itself: enablement links are absolute, so following them would look at
        // the host's /lib.
        assert!(
            fs_err::symlink_metadata(root.join(&needed)).is_ok(),
            "{suite} base root {}: {needed} is missing after debootstrap",
            root.display()
        );
    }
    set_postgres_port(suite, root);
    if let Some(script) = suite.facts().reshape {
        let mut reshape = Command::new("chroot")
            .arg(root)
            .args(["sh", "-s"])
            .env_clear()
            .env("PATH", PATH)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the reshaping script in the root");
        {
            use std::io::Write as _;
            let mut stdin = reshape.stdin.take().expect("script stdin");
            stdin.write_all(script.as_bytes()).expect("feed the script");
        }
        let out = reshape.wait_with_output().expect("wait for the script");
        assert!(
            out.status.success(),
            "reshaping the {suite} root failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // debootstrap cleans its own mounts on success; be sure before renaming.
    unmount_under(root);
}

/// Give the cluster `NN/main` the suite's port, whatever `pg_createcluster` picked while
/// debootstrap ran in the host's network namespace.
fn set_postgres_port(suite: Suite, root: &Path) {
    let facts = suite.facts();
    let conf = root.join(format!(
        "etc/postgresql/{}/main/postgresql.conf",
        facts.postgres_major
    ));
    let text = fs_err::read_to_string(&conf).expect("read postgresql.conf");
    let mut replaced = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let is_port = line
                .strip_prefix("port")
                .is_some_and(|rest| rest.trim_start().starts_with('='));
            if is_port {
                replaced += 1;
                format!("port = {}", facts.postgres_port)
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert_eq!(
        replaced,
        1,
        "{}: expected one `port =` line",
        conf.display()
    );
    fs_err::write(&conf, lines.join("\n") + "\n").expect("write postgresql.conf");
}

/// Unmount (lazily, deepest first) every mount at or below `dir`.
fn unmount_under(dir: &Path) {
    let prefix = dir.to_string_lossy().into_owned();
    let Ok(info) = fs_err::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mount_path)
        .filter(|p| p == &prefix || p.starts_with(&format!("{prefix}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    points.dedup();
    for point in points {
        host("umount", &["-l", &point]);
    }
}

fn unescape_mount_path(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            if let Ok(c) = u8::from_str_radix(&field[i + 1..i + 4], 8) {
                out.push(c);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_mounted(dir: &Path) -> bool {
    let path = dir.to_string_lossy();
    fs_err::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|p| unescape_mount_path(p) == path)
}

/// Remove what guests of dead test processes left: overlays, directories, network namespaces.
fn collect_garbage() {
    let alive = |pid: &str| Path::new("/proc").join(pid).exists();
    if let Ok(entries) = fs_err::read_dir(guests_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix("mmtest-")
                .and_then(|r| r.split('-').nth(1))
            else {
                continue;
            };
            if !alive(pid) {
                unmount_under(&entry.path());
                host(
                    "rm",
                    &["-rf", "--one-file-system", &entry.path().to_string_lossy()],
                );
            }
        }
    }
    if let Ok(entries) = fs_err::read_dir("/run/netns") {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix("mmtest-")
                .and_then(|r| r.split('-').nth(1))
            else {
                continue;
            };
            if !alive(pid) {
                host("ip", &["netns", "delete", &name]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Per-guest resources

/// One of the [`MAX_GUESTS`] slots.
struct Permit;

static SLOTS: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

impl Permit {
    fn acquire() -> Permit {
        let (lock, cvar) = &SLOTS;
        let mut used = lock.lock().unwrap_or_else(|e| e.into_inner());
        while *used >= MAX_GUESTS {
            used = cvar.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += 1;
        Permit
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let (lock, cvar) = &SLOTS;
        let mut used = lock.lock().unwrap_or_else(|e| e.into_inner());
        *used -= 1;
        cvar.notify_one();
    }
}

/// A network namespace `mmtest-N-PID` holding `mmtN-g` (10.213.N.2/30) and `lo`; the host keeps
/// `mmtN-h` (10.213.N.1/30).
struct Netns {
    index: u32,
    name: String,
    host_if: String,
    host_address: String,
}

impl Netns {
    fn create() -> Netns {
        static COUNTER: Mutex<u32> = Mutex::new(0);
        let start = {
            let mut counter = COUNTER.lock().unwrap_or_else(|e| e.into_inner());
            *counter += 1;
            std::process::id().wrapping_mul(7).wrapping_add(*counter)
        };
        let routes =
            String::from_utf8_lossy(&host("ip", &["-4", "route", "show", "table", "all"]).stdout)
                .into_owned();
        for i in 0..250 {
            let index = (start + i) % 250 + 1;
            if routes.contains(&format!("10.213.{index}.")) {
                continue;
            }
            let host_if = format!("mmt{index}-h");
            let guest_if = format!("mmt{index}-g");
            // Creating the host interface claims the index, atomically, across processes.
            let claim = host(
                "ip",
                &[
                    "link", "add", &host_if, "type", "veth", "peer", "name", &guest_if,
                ],
            );
            if !claim.status.success() {
                continue;
            }
            let name = format!("mmtest-{index}-{}", std::process::id());
            let net = Netns {
                index,
                name,
                host_if,
                host_address: format!("10.213.{index}.1"),
            };
            let ns = net.name.as_str();
            host_ok("ip", &["netns", "add", ns]);
            host_ok("ip", &["link", "set", &guest_if, "netns", ns]);
            host_ok(
                "ip",
                &[
                    "addr",
                    "add",
                    &format!("{}/30", net.host_address),
                    "dev",
                    &net.host_if,
                ],
            );
            host_ok("ip", &["link", "set", &net.host_if, "up"]);
            host_ok(
                "ip",
                &[
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("10.213.{index}.2/30"),
                    "dev",
                    &guest_if,
                ],
            );
            host_ok("ip", &["-n", ns, "link", "set", &guest_if, "up"]);
            host_ok("ip", &["-n", ns, "link", "set", "lo", "up"]);
            return net;
        }
        panic!("no free 10.213.N.0/30 network for a guest (mmtN-h interfaces all taken?)");
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting either end of a veth pair deletes both.
        host("ip", &["link", "delete", &self.host_if]);
        let out = host("ip", &["netns", "delete", &self.name]);
        if !out.status.success() && Path::new(&self.path()).exists() {
            eprintln!(
                "guest: cannot delete netns {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `dir/{upper,work,merged}` with an overlay of the base root mounted on `merged`.
struct Overlay {
    dir: PathBuf,
    merged: PathBuf,
}

impl Overlay {
    fn mount(base: &Path, dir: &Path) -> Overlay {
        if dir.exists() {
            unmount_under(dir);
            host_ok("rm", &["-rf", "--one-file-system", &dir.to_string_lossy()]);
        }
        let (upper, work, merged) = (dir.join("upper"), dir.join("work"), dir.join("merged"));
        for d in [&upper, &work, &merged] {
            fs_err::create_dir_all(d).expect("create overlay dirs");
        }
        let overlay = Overlay {
            dir: dir.to_path_buf(),
            merged,
        };
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            base.display(),
            upper.display(),
            work.display()
        );
        assert!(
            !dir.to_string_lossy().contains([':', ',']),
            "guest dir {} must not contain ':' or ','",
            dir.display()
        );
        host_ok(
            "mount",
            &[
                "-t",
                "overlay",
                "-o",
                &options,
                "overlay",
                &overlay.merged.to_string_lossy(),
            ],
        );
        overlay
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let merged = self.merged.to_string_lossy().into_owned();
        for _ in 0..50 {
            if !is_mounted(&self.merged) {
                break;
            }
            host("umount", &[&merged]);
            if is_mounted(&self.merged) {
                thread::sleep(Duration::from_millis(100));
            }
        }
        if is_mounted(&self.merged) {
            eprintln!("guest: {merged} busy; unmounting lazily");
            host("umount", &["-l", &merged]);
        }
        let out = host(
            "rm",
            &["-rf", "--one-file-system", &self.dir.to_string_lossy()],
        );
        if !out.status.success() {
            eprintln!(
                "guest: cannot remove {}: {}",
                self.dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
