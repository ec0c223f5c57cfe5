//! `mm-install install`: a fresh server becomes a working Mattermost behind nginx.
//!
//! Three phases. **Pre-flight** checks everything it can before any change (root, OS support,
//! an existing install, ports, the database, TLS files). **Planning** turns the options and the
//! host's state into an ordered list of [`Step`]s; `--dry-run` prints it. **Execution** fetches
//! and verifies the release (a cache, not a server change), then runs each step inside a
//! journaled [`Transaction`], so a failure, including a failed health check at the end, undoes
//! everything and leaves no half-installed server behind.
//!
//! With `--root DIR` (image building) every write goes below DIR, the user is created with
//! `useradd --root`, the unit is enabled with `systemctl --root`, and nothing is started,
//! installed or reloaded on the host.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::archive::{ArchiveError, extract_release};
use crate::context::{CommandLine, Context};
use crate::exit::{Diagnostic, ExitCode};
use crate::fetch::verify::Verified;
use crate::fetch::{
    DownloadRequest, FetchError, HttpClient, Keyring, copy_verified, download_release,
};
use crate::host::{self, Family, HostError, PackageManager, Platform, Support};
use crate::journal::{JournalError, Undo};
use crate::layout::{ANCHOR, CACHE_DIR, INSTALL_DIR, PRIVATE_DIR, SET_ASIDE_DIR, UNIT_FILE};
use crate::ops::health::{self, HealthError, Probe};
use crate::ops::plan::{self, Failure, Operation, UndoFailure};
use crate::release::Artifact;
use crate::render::{
    self, NginxOptions, OwnedSettings, RenderError, Templates, TlsFiles, UnitOptions,
};
use crate::report::Reporter;
use crate::site_url::SiteUrl;
use crate::state::{Installation, State, now_rfc3339, rfc3339};
use crate::system::beneath::{self};
use crate::system::nginx::SiteLayout;
use crate::system::{self, SystemError, files, postgres, security, services, users};

mod execute;
mod preflight;
mod steps;
pub use execute::{InstallReport, execute, obtain_release};
use preflight::check_local_database;
pub use preflight::{Plan, database_note, plan, preflight, short_of_space};
pub use steps::Step;
use steps::set_aside_path;

/// The service account and group.
pub const SERVICE_USER: &str = "mattermost";
/// The local database and its role.
pub const DATABASE_NAME: &str = "mattermost";
pub const DATABASE_ROLE: &str = "mmuser";
/// Mattermost listens here; only nginx talks to it.
pub const LISTEN_ADDRESS: &str = "127.0.0.1:8065";
/// Where `postgresql-setup --initdb` creates the RHEL family's cluster.
const RHEL_DATA_DIR: &str = "/var/lib/pgsql/data";
/// Free space required on the filesystems of /opt (the release) and /var/lib (the cache).
pub const MINIMUM_FREE_BYTES: u64 = 1 << 30;

/// Where the release comes from.
#[derive(Clone, Debug)]
pub enum TarballSource {
    /// Download from the release server or a mirror.
    Mirror {
        release_url: String,
        sha256: Option<String>,
    },
    /// Air-gapped: a tarball and its detached signature already on disk.
    Local {
        tarball: PathBuf,
        signature: PathBuf,
        sha256: Option<String>,
    },
}

/// Which database Mattermost uses.
#[derive(Clone, Debug)]
pub enum DatabaseChoice {
    /// Install (if needed) and provision PostgreSQL on this host.
    Local,
    /// An existing PostgreSQL ≥ 14 at this URL.
    External(String),
    /// No database settings (image building with `--root`; configured at first boot).
    Skip,
}

/// Everything the user decided.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    pub artifact: Artifact,
    pub source: TarballSource,
    /// The address users reach Mattermost at, e.g. `https://chat.example.com`, or `None`
    /// (`--site-url ''`: nginx then answers any host name).
    pub site_url: Option<SiteUrl>,
    pub database: DatabaseChoice,
    pub tls: Option<TlsFiles>,
    pub allow_unsupported: bool,
}

/// Why the install did not happen.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("mm-install must run as root to install a server")]
    NotRoot,
    #[error("{name} is not a supported platform: {reason}")]
    Unsupported { name: String, reason: String },
    #[error("Mattermost is already installed in {path}")]
    AlreadyInstalled { path: String },
    #[error("port {port} is in use{holder}")]
    PortBusy { port: u16, holder: String },
    #[error("the database at {url} runs PostgreSQL {found}, but Mattermost needs 14 or newer")]
    DatabaseTooOld { url: String, found: String },
    #[error("the local database runs PostgreSQL {found}, but Mattermost needs 14 or newer")]
    LocalDatabaseTooOld { found: String },
    #[error("{platform} has no PostgreSQL 14 or newer in its own repositories")]
    NoSuitablePostgres { platform: String },
    #[error(
        "not enough free space in {dir}: {available} bytes available, mm-install needs at least {needed}"
    )]
    NoSpace {
        dir: String,
        available: u64,
        needed: u64,
    },
    #[error(
        "a PostgreSQL answers on 127.0.0.1:5432, but has no local socket in /run/postgresql or /tmp to administer it through"
    )]
    PostgresWithoutSocket,
    #[error("the local PostgreSQL already has a database `{name}`")]
    DatabaseExists { name: String },
    #[error("with --root, pass --database-url URL (an existing PostgreSQL) or --no-database")]
    RootNeedsDatabase,
    #[error("the TLS {what} {path} does not exist")]
    MissingTlsFile { what: &'static str, path: String },
    #[error(
        "the install failed while trying to {step}: {}\nevery change was undone; the server is as it was before",
        crate::exit::Chain(&**.cause)
    )]
    RolledBack {
        step: String,
        cause: Box<InstallError>,
    },
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    System(#[from] SystemError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Health(#[from] HealthError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Diagnostic for InstallError {
    fn exit_code(&self) -> ExitCode {
        match self {
            InstallError::Unsupported { .. } => ExitCode::Unsupported,
            InstallError::RootNeedsDatabase | InstallError::MissingTlsFile { .. } => {
                ExitCode::Usage
            }
            InstallError::RolledBack { cause, .. } => cause.exit_code(),
            InstallError::Fetch(err) => err.exit_code(),
            InstallError::Archive(err) => err.exit_code(),
            InstallError::Journal(err) => err.exit_code(),
            InstallError::Host(err) => err.exit_code(),
            _ => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            InstallError::NotRoot => {
                Some("run it with sudo, or use --root DIR to build an image".into())
            }
            InstallError::Unsupported { .. } => {
                Some("pass --allow-unsupported to try anyway (not supported by Mattermost)".into())
            }
            InstallError::AlreadyInstalled { .. } => {
                Some("use `mm-install upgrade` to change the version of an existing server".into())
            }
            InstallError::PortBusy { .. } => Some(
                "stop the program that holds the port, or free it, then run the install again"
                    .into(),
            ),
            InstallError::LocalDatabaseTooOld { .. } => Some(
                "point the install at a PostgreSQL 14 or newer elsewhere with --database-url URL, or install PostgreSQL 14+ from the PostgreSQL project's repositories (https://www.postgresql.org/download/) and move the cluster to it (pg_upgradecluster on Debian and Ubuntu)"
                    .into(),
            ),
            InstallError::DatabaseTooOld { .. } => Some(
                "upgrade that server to PostgreSQL 14 or newer, or give --database-url another one"
                    .into(),
            ),
            InstallError::NoSuitablePostgres { .. } => Some(
                "install PostgreSQL 14+ from the PostgreSQL project's repositories first, or use an existing server with --database-url"
                    .into(),
            ),
            InstallError::NoSpace { .. } => Some(
                "free some space: the download, its extraction and the installed release need about 1 GiB each"
                    .into(),
            ),
            InstallError::PostgresWithoutSocket => Some(
                "create the role and database yourself and pass --database-url URL (mm-install does not install a second PostgreSQL)"
                    .into(),
            ),
            InstallError::DatabaseExists { .. } => Some(
                "point the install at it with --database-url, or drop it if it is a leftover"
                    .into(),
            ),
            InstallError::RolledBack { cause, .. } => cause.hint(),
            InstallError::Fetch(err) => err.hint(),
            InstallError::Archive(err) => err.hint(),
            InstallError::Journal(err) => err.hint(),
            InstallError::Health(err) => err.hint(),
            InstallError::Host(err) => err.hint(),
            InstallError::System(err) => err.hint(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::execute::{Progress, allow_password_login, run_step};
    use std::sync::Arc;

    use super::*;
    use crate::host::{Arch, OsRelease, classify};
    use crate::release::Edition;
    use crate::system::fake::FakeRunner;

    fn platform(os_release: &str) -> Platform {
        classify(&OsRelease::parse(os_release), Arch::Amd64, Some(true))
    }

    fn options() -> InstallOptions {
        InstallOptions {
            artifact: Artifact {
                version: "11.10.1".parse().unwrap(),
                edition: Edition::Enterprise,
                arch: Arch::Amd64,
            },
            source: TarballSource::Mirror {
                release_url: "http://mirror.test".into(),
                sha256: None,
            },
            site_url: Some(SiteUrl::parse("https://chat.example.com").unwrap()),
            database: DatabaseChoice::Local,
            tls: None,
            allow_unsupported: false,
        }
    }

    fn live_host(runner: &Arc<FakeRunner>) -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("etc")).unwrap();
        fs_err::write(dir.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        let ctx = Context::live_for_test(dir.path(), runner.clone());
        (dir, ctx)
    }

    fn kinds(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .map(|step| {
                format!("{step:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn debian_with_nginx_and_postgresql_running_gets_the_short_plan() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer(
            "dpkg-query -W -f=${Status} nginx",
            0,
            "install ok installed",
        );
        let (dir, ctx) = live_host(&runner);
        fs_err::create_dir_all(dir.path().join("run/postgresql")).unwrap();
        fs_err::write(dir.path().join("run/postgresql/.s.PGSQL.5432"), "").unwrap();
        fs_err::create_dir_all(dir.path().join("etc/nginx/sites-available")).unwrap();
        fs_err::create_dir_all(dir.path().join("etc/nginx/sites-enabled")).unwrap();
        std::os::unix::fs::symlink(
            "../sites-available/default",
            dir.path().join("etc/nginx/sites-enabled/default"),
        )
        .unwrap();
        let plan = plan(
            &ctx,
            platform("ID=debian\nVERSION_ID=12\nNAME=Debian\n"),
            &options(),
        )
        .unwrap();
        assert_eq!(
            kinds(&plan),
            [
                "CreateUser",
                "ProvisionDatabase",
                "AllowPasswordLogin",
                "Extract",
                "PlaceTree",
                "Configure",
                "WriteUnit",
                "EnableService",
                "StartService",
                "WriteNginxSite",
                "ReloadNginx",
                "ProveItWorks",
                "RecordState"
            ]
        );
        assert!(plan.steps.contains(&Step::ProvisionDatabase {
            existing_role: None
        }));
        assert!(matches!(
            plan.steps
                .iter()
                .find(|s| matches!(s, Step::WriteNginxSite { .. })),
            Some(Step::WriteNginxSite {
                layout: SiteLayout::SitesAvailable { .. },
                set_aside_default: true
            })
        ));
    }

    #[test]
    fn rocky_9_gets_a_newer_postgresql_stream_selinux_and_firewalld() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer("rpm -q", 1, "");
        runner.answer("systemctl is-active --quiet postgresql.service", 3, "");
        runner.answer("getenforce", 0, "Enforcing\n");
        runner.answer("getsebool", 0, "httpd_can_network_connect --> off\n");
        runner.answer("firewall-cmd --permanent --query-service", 1, "no\n");
        let (_dir, ctx) = live_host(&runner);
        let rocky = platform(
            "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\nNAME=\"Rocky Linux\"\n",
        );
        let plan = plan(&ctx, rocky, &options()).unwrap();
        assert_eq!(
            plan.steps[0],
            Step::EnablePostgresStream {
                stream: "15".into()
            }
        );
        assert_eq!(
            plan.steps[1],
            Step::InstallPackages {
                manager: PackageManager::Dnf,
                packages: vec!["nginx".into(), "postgresql-server".into()]
            }
        );
        assert_eq!(
            plan.steps[2],
            Step::InitializePostgres {
                initdb: true,
                unit: "postgresql.service".into()
            }
        );
        assert!(plan.steps.contains(&Step::AllowPasswordLogin));
        assert!(plan.steps.contains(&Step::LabelBinaries));
        assert!(plan.steps.contains(&Step::AllowNginxUpstream));
        assert!(plan.steps.contains(&Step::OpenFirewall {
            services: vec!["http".into()]
        }));
        let site = plan
            .steps
            .iter()
            .find(|s| matches!(s, Step::WriteNginxSite { .. }))
            .unwrap();
        assert_eq!(
            site,
            &Step::WriteNginxSite {
                layout: SiteLayout::ConfD {
                    file: "/etc/nginx/conf.d/mattermost.conf".into()
                },
                set_aside_default: false
            }
        );
        // The undo of the stream and of opening the firewall are recorded.
        assert_eq!(
            plan.steps[0].undo(&ctx),
            Undo::DnfModuleReset {
                module: "postgresql".into()
            }
        );
    }

    #[test]
    fn amazon_linux_2_has_no_suitable_postgresql() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer("rpm -q", 1, "");
        runner.answer("systemctl is-active --quiet postgresql.service", 3, "");
        let (_dir, ctx) = live_host(&runner);
        let amazon = platform(
            "ID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\nNAME=\"Amazon Linux\"\n",
        );
        let err = plan(&ctx, amazon, &options()).unwrap_err();
        assert!(
            matches!(err, InstallError::NoSuitablePostgres { .. }),
            "{err}"
        );
        assert!(err.hint().unwrap().contains("--database-url"));
    }

    #[test]
    fn an_existing_role_gets_its_password_back_on_undo() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer("dpkg-query", 0, "install ok installed");
        runner.answer(
            "runuser -u postgres -- psql",
            0,
            "exists:SCRAM-SHA-256$4096:old\n",
        );
        let (_dir, ctx) = live_host(&runner);
        let plan = plan(
            &ctx,
            platform("ID=debian\nVERSION_ID=12\nNAME=Debian\n"),
            &options(),
        )
        .unwrap();
        let step = plan
            .steps
            .iter()
            .find(|s| matches!(s, Step::ProvisionDatabase { .. }))
            .unwrap();
        assert_eq!(
            step.undo(&ctx),
            Undo::Many {
                undos: vec![
                    Undo::DropDatabase {
                        name: DATABASE_NAME.into()
                    },
                    Undo::RestoreRolePassword {
                        role: DATABASE_ROLE.into(),
                        hash: Some("SCRAM-SHA-256$4096:old".into())
                    },
                ]
            }
        );
    }

    /// A Debian host whose `postgresql.service` is in `state` (`systemctl show` output) and runs
    /// no server.
    fn debian_with_stopped_postgresql(
        state: &str,
    ) -> (Arc<FakeRunner>, tempfile::TempDir, Context) {
        let runner = Arc::new(FakeRunner::default());
        runner.answer("dpkg-query", 0, "install ok installed");
        runner.answer(
            "systemctl list-unit-files",
            0,
            "postgresql.service enabled enabled\npostgresql@.service indirect enabled\n",
        );
        runner.answer("systemctl show", 0, state);
        let (dir, ctx) = live_host(&runner);
        (runner, dir, ctx)
    }

    // Issue 9: a failed install disabled the admin's enabled-but-stopped PostgreSQL. The step
    // starts the unit systemd knows (no package, no second server), and its undo takes back
    // only what it changed.
    #[test]
    fn postgresql_gets_back_exactly_its_state_before() {
        let (runner, _dir, ctx) =
            debian_with_stopped_postgresql("ActiveState=inactive\nUnitFileState=enabled\n");
        let plan = plan(
            &ctx,
            platform("ID=debian\nVERSION_ID=12\nNAME=Debian\n"),
            &options(),
        )
        .unwrap();
        let step = Step::InitializePostgres {
            initdb: false,
            unit: "postgresql.service".into(),
        };
        assert_eq!(plan.steps[0], step, "{:?}", plan.steps);
        assert!(!kinds(&plan).contains(&"InstallPackages".to_string()));
        let systemctl = |args: &[&str]| Undo::Systemctl {
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        // Enabled and stopped: stays enabled, is stopped again.
        assert_eq!(
            step.undo(&ctx),
            Undo::Many {
                undos: vec![systemctl(&["stop", "postgresql.service"])]
            }
        );
        // Disabled and stopped: both taken back.
        runner.answer(
            "systemctl show",
            0,
            "ActiveState=inactive\nUnitFileState=disabled\n",
        );
        assert_eq!(
            step.undo(&ctx),
            Undo::Many {
                undos: vec![
                    systemctl(&["stop", "postgresql.service"]),
                    systemctl(&["disable", "postgresql.service"])
                ]
            }
        );
        // Enabled and running (it started meanwhile): nothing to take back.
        runner.answer(
            "systemctl show",
            0,
            "ActiveState=active\nUnitFileState=enabled\n",
        );
        assert_eq!(step.undo(&ctx), Undo::Many { undos: vec![] });
        // systemd cannot be asked: nothing is disabled or stopped.
        runner.answer("systemctl show", 1, "");
        assert_eq!(step.undo(&ctx), Undo::Nothing);
    }

    // The CI failure of issue 9: PostgreSQL still starting when the plan is made is not taken
    // for stopped.
    #[test]
    fn a_postgresql_still_starting_is_not_planned_as_stopped() {
        let (runner, dir, ctx) =
            debian_with_stopped_postgresql("ActiveState=active\nUnitFileState=enabled\n");
        runner.answer_times(
            "systemctl show",
            0,
            "ActiveState=activating\nUnitFileState=enabled\n",
            3,
        );
        // The socket appears once the cluster has started.
        fs_err::create_dir_all(dir.path().join("run/postgresql")).unwrap();
        fs_err::write(dir.path().join("run/postgresql/.s.PGSQL.5432"), "").unwrap();
        let plan = plan(
            &ctx,
            platform("ID=debian\nVERSION_ID=12\nNAME=Debian\n"),
            &options(),
        )
        .unwrap();
        assert!(
            !kinds(&plan).contains(&"InitializePostgres".to_string()),
            "{:?}",
            plan.steps
        );
        assert!(
            runner
                .lines()
                .iter()
                .filter(|l| l.starts_with("systemctl show"))
                .count()
                >= 4
        );
    }

    // An existing database is never dropped by the undo (the step refuses it), an existing role
    // keeps its old password hash.
    #[test]
    fn the_database_undo_drops_only_what_the_step_creates() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer(
            "runuser -u postgres -- psql",
            0,
            "exists:SCRAM-SHA-256$4096:old\n",
        );
        runner.answer_times("runuser -u postgres -- psql", 0, "1\n", 1);
        let (_dir, ctx) = live_host(&runner);
        let step = Step::ProvisionDatabase {
            existing_role: None,
        };
        assert_eq!(
            step.undo(&ctx),
            Undo::Many {
                undos: vec![Undo::RestoreRolePassword {
                    role: DATABASE_ROLE.into(),
                    hash: Some("SCRAM-SHA-256$4096:old".into())
                }]
            }
        );
        runner.answer("runuser -u postgres -- psql", 0, "");
        assert_eq!(
            step.undo(&ctx),
            Undo::Many {
                undos: vec![
                    Undo::DropDatabase {
                        name: DATABASE_NAME.into()
                    },
                    Undo::DropRole {
                        name: DATABASE_ROLE.into()
                    }
                ]
            }
        );
    }

    /// A throwaway PostgreSQL cluster run by the `postgres` OS user below `root`, with its
    /// socket in `<root>/run/postgresql` (where the code looks under that root) and TCP on
    /// 127.0.0.1:`port` (testing.md).
    struct Cluster {
        data: PathBuf,
        bin: PathBuf,
        port: u16,
    }

    impl Cluster {
        fn start(root: &Path, hba: &str) -> Cluster {
            let bin = fs_err::read_dir("/usr/lib/postgresql")
                .expect("PostgreSQL's server binaries (Debian's postgresql package, installed by .ci/run)")
                .map(|e| e.unwrap().path().join("bin"))
                .max()
                .unwrap();
            let as_postgres = |program: &str, args: &[&str]| {
                let out = std::process::Command::new("runuser")
                    .args(["-u", "postgres", "--"])
                    .arg(bin.join(program))
                    .args(args)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{program} {args:?}: {out:?}");
            };
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
            let sockets = root.join("run/postgresql");
            let data = root.join("data");
            for dir in [root.join("run"), sockets.clone(), data.clone()] {
                fs_err::create_dir_all(&dir).unwrap();
                let _ = std::process::Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(&dir)
                    .status();
            }
            let data_arg = data.display().to_string();
            as_postgres(
                "initdb",
                &[
                    "-D",
                    &data_arg,
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
            );
            fs_err::write(data.join("pg_hba.conf"), hba).unwrap();
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {}",
                sockets.display()
            );
            let log = data.join("server.log").display().to_string();
            as_postgres(
                "pg_ctl",
                &["-D", &data_arg, "-l", &log, "-w", "-o", &options, "start"],
            );
            Cluster { data, bin, port }
        }

        /// `true` when `mmuser` logs in to `mattermost` with `password` over TCP.
        fn password_login(&self, password: &str) -> bool {
            std::process::Command::new(self.bin.join("psql"))
                .arg(format!(
                    "host=127.0.0.1 port={} dbname={DATABASE_NAME} user={DATABASE_ROLE}",
                    self.port
                ))
                .args(["-X", "-tAc", "SELECT 1"])
                .env("PGPASSWORD", password)
                .env("PGCONNECT_TIMEOUT", "5")
                .output()
                .unwrap()
                .status
                .success()
        }
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            let _ = std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "stop"])
                .output();
        }
    }

    // Against a real PostgreSQL whose pg_hba.conf has RHEL's defaults (`postgresql-setup
    // --initdb`, mattermost-facts.md §10; Mattermost's RHEL guide, "Modify the file
    // pg_hba.conf"): Mattermost's password login over TCP fails until the step runs, works
    // after it, and the undo puts the file back byte for byte.
    #[test]
    fn rhel_pg_hba_gets_password_rules_and_the_undo_restores_it() {
        let root = tempfile::tempdir().unwrap();
        let hba = "# TYPE  DATABASE        USER            ADDRESS                 METHOD\n\
                   local   all             all                                     peer\n\
                   host    all             all             127.0.0.1/32            ident\n\
                   host    all             all             ::1/128                 ident\n";
        let cluster = Cluster::start(root.path(), hba);
        let ctx = Context::live_for_test(root.path(), Arc::new(crate::context::HostRunner));
        postgres::create_role(&ctx, DATABASE_ROLE, "Secret123").unwrap();
        postgres::create_database(&ctx, DATABASE_NAME, DATABASE_ROLE).unwrap();
        assert!(!cluster.password_login("Secret123"), "ident must refuse it");
        let path = postgres::hba_file(&ctx).unwrap();
        assert_eq!(path, cluster.data.join("pg_hba.conf"));
        let before = fs_err::read(&path).unwrap();

        let undo = Step::AllowPasswordLogin.undo(&ctx);
        allow_password_login(&ctx).unwrap();
        assert!(cluster.password_login("Secret123"));
        assert!(!cluster.password_login("wrong"));
        // Running it again adds nothing.
        let edited = fs_err::read(&path).unwrap();
        allow_password_login(&ctx).unwrap();
        assert_eq!(fs_err::read(&path).unwrap(), edited);

        undo.apply(&ctx, false, &crate::report::Silent).unwrap();
        assert_eq!(fs_err::read(&path).unwrap(), before);
        assert!(!cluster.password_login("Secret123"));
        // The undo is idempotent.
        undo.apply(&ctx, false, &crate::report::Silent).unwrap();
        assert_eq!(fs_err::read(&path).unwrap(), before);
    }

    /// The host's commands, but no systemd (the test host has none): `systemctl` lists nothing.
    struct HostWithoutSystemd;

    impl crate::context::CommandRunner for HostWithoutSystemd {
        fn run(&self, command: &CommandLine) -> std::io::Result<crate::context::CommandOutput> {
            if command.program == "systemctl" {
                return Ok(crate::context::CommandOutput {
                    status: Some(0),
                    ..Default::default()
                });
            }
            crate::context::HostRunner.run(command)
        }
    }

    /// `true` when `mmuser` logs in with `password` over TCP (to `postgres`: whether the
    /// `mattermost` database exists does not matter).
    fn role_login(cluster: &Cluster, password: &str) -> bool {
        std::process::Command::new(cluster.bin.join("psql"))
            .arg(format!(
                "host=127.0.0.1 port={} dbname=postgres user={DATABASE_ROLE}",
                cluster.port
            ))
            .args(["-X", "-tAc", "SELECT 1"])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "5")
            .output()
            .unwrap()
            .status
            .success()
    }

    // Issue 10, hole 6, against a real cluster: the database step's undo (decided just before the
    // step, from what exists) never drops a database or role it did not create, and an existing
    // role gets its old password back.
    #[test]
    fn the_database_undo_removes_only_what_the_step_created_on_a_real_cluster() {
        let root = tempfile::tempdir().unwrap();
        let hba = "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
        let cluster = Cluster::start(root.path(), hba);
        let ctx = Context::live_for_test(root.path(), Arc::new(HostWithoutSystemd));
        let step = Step::ProvisionDatabase {
            existing_role: None,
        };
        let mut progress = Progress {
            tarball: PathBuf::new(),
            verified: Verified {
                sha256: String::new(),
                signer_fingerprint: String::new(),
                signed_at: None,
                warnings: Vec::new(),
            },
            data_source: None,
            database_unit: None,
            ids: None,
            version_id: None,
        };
        let provision = |progress: &mut Progress| {
            run_step(&ctx, &step, &options(), progress, &crate::report::Silent)
        };

        // Nothing exists: the undo drops both.
        let undo = step.undo(&ctx);
        provision(&mut progress).unwrap();
        assert!(postgres::database_exists(&ctx, DATABASE_NAME).unwrap());
        undo.apply(&ctx, false, &crate::report::Silent).unwrap();
        assert!(!postgres::database_exists(&ctx, DATABASE_NAME).unwrap());
        assert_eq!(
            postgres::role_password_hash(&ctx, DATABASE_ROLE).unwrap(),
            None
        );

        // An admin's role: the step gives it a new password, the undo puts the old one back and
        // keeps the role.
        postgres::create_role(&ctx, DATABASE_ROLE, "Existing1").unwrap();
        let undo = step.undo(&ctx);
        provision(&mut progress).unwrap();
        assert!(
            !role_login(&cluster, "Existing1"),
            "the step sets a new password"
        );
        undo.apply(&ctx, false, &crate::report::Silent).unwrap();
        assert!(
            role_login(&cluster, "Existing1"),
            "the old password is lost"
        );
        assert!(!postgres::database_exists(&ctx, DATABASE_NAME).unwrap());

        // An admin's database too: the step refuses it, and the undo drops nothing.
        postgres::create_database(&ctx, DATABASE_NAME, DATABASE_ROLE).unwrap();
        let undo = step.undo(&ctx);
        let err = provision(&mut progress).unwrap_err();
        assert!(matches!(err, InstallError::DatabaseExists { .. }), "{err}");
        undo.apply(&ctx, false, &crate::report::Silent).unwrap();
        assert!(postgres::database_exists(&ctx, DATABASE_NAME).unwrap());
        assert!(role_login(&cluster, "Existing1"));
        assert!(cluster.password_login("Existing1"));
    }
}
