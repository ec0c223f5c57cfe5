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

/// One change the install makes, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    EnablePostgresStream {
        stream: String,
    },
    InstallPackages {
        manager: PackageManager,
        packages: Vec<String>,
    },
    /// Enable and start the PostgreSQL `unit`, creating its cluster first where the package
    /// does not (`initdb`). Its undo puts back the unit's state recorded just before.
    InitializePostgres {
        initdb: bool,
        unit: String,
    },
    CreateUser,
    /// `existing_role`: `None` when the role does not exist yet, otherwise its current
    /// password hash (restored on undo).
    ProvisionDatabase {
        existing_role: Option<Option<String>>,
    },
    /// Let the role log in with a password over 127.0.0.1 and ::1 where `pg_hba.conf` does not
    /// (RHEL's `ident` defaults), and reload PostgreSQL.
    AllowPasswordLogin,
    Extract {
        staging: PathBuf,
    },
    PlaceTree {
        staging: PathBuf,
    },
    Configure,
    LabelBinaries,
    WriteUnit,
    EnableService,
    StartService,
    WriteNginxSite {
        layout: SiteLayout,
        set_aside_default: bool,
    },
    AllowNginxUpstream,
    OpenFirewall {
        services: Vec<String>,
    },
    ReloadNginx,
    ProveItWorks,
    RecordState,
}

impl Step {
    /// The step as the plan and the log show it.
    pub fn description(&self, options: &InstallOptions) -> String {
        match self {
            Step::InstallPackages { manager, packages } => {
                format!("install {} with {manager}", packages.join(" "))
            }
            Step::EnablePostgresStream { stream } => {
                format!(
                    "enable the PostgreSQL {stream} module stream (dnf module enable postgresql:{stream})"
                )
            }
            Step::InitializePostgres { initdb: true, unit } => {
                format!(
                    "initialize PostgreSQL (postgresql-setup --initdb), enable and start {unit}"
                )
            }
            Step::InitializePostgres {
                initdb: false,
                unit,
            } => format!("enable and start PostgreSQL ({unit})"),
            Step::CreateUser => format!("create the system user and group `{SERVICE_USER}`"),
            Step::ProvisionDatabase { existing_role } => format!(
                "{} PostgreSQL role `{DATABASE_ROLE}` (new random password) and create the database `{DATABASE_NAME}`",
                if existing_role.is_some() {
                    "reset the password of the existing"
                } else {
                    "create the"
                }
            ),
            Step::AllowPasswordLogin => format!(
                "let `{DATABASE_ROLE}` log in to `{DATABASE_NAME}` with a password from 127.0.0.1 and ::1 (pg_hba.conf, where its rules do not already) and reload PostgreSQL"
            ),
            Step::Extract { staging } => format!(
                "extract {} into {}",
                options.artifact.file_name(),
                staging.display()
            ),
            Step::PlaceTree { .. } => {
                format!("move the release to {INSTALL_DIR} and create {INSTALL_DIR}/data")
            }
            Step::Configure => format!(
                "configure {INSTALL_DIR}/config/config.json (database, SiteURL `{}`, ListenAddress {LISTEN_ADDRESS}) and give the tree to `{SERVICE_USER}`",
                options
                    .site_url
                    .as_ref()
                    .map(SiteUrl::to_string)
                    .unwrap_or_default()
            ),
            Step::LabelBinaries => format!("label {INSTALL_DIR}/bin for SELinux (bin_t)"),
            Step::WriteUnit => format!("write {UNIT_FILE}"),
            Step::EnableService => "enable mattermost.service".into(),
            Step::StartService => "start mattermost.service and wait until it is ready".into(),
            Step::WriteNginxSite {
                layout,
                set_aside_default,
            } => {
                let mut text = format!("write the nginx site {}", layout.site_file().display());
                if *set_aside_default {
                    text.push_str(" and disable nginx's stock `default` site, which also claims port 80 (a copy is kept in ");
                    text.push_str(SET_ASIDE_DIR);
                    text.push(')');
                }
                text
            }
            Step::AllowNginxUpstream => format!(
                "allow nginx to connect to Mattermost (SELinux boolean {})",
                security::NGINX_CONNECT_BOOLEAN
            ),
            Step::OpenFirewall { services } => format!(
                "open the firewall (firewalld) for {}",
                services.join(" and ")
            ),
            Step::ReloadNginx => "check the nginx configuration (nginx -t) and reload nginx".into(),
            Step::ProveItWorks => {
                "prove it works: ping and a websocket handshake through nginx".into()
            }
            Step::RecordState => format!("record the install in {}", crate::layout::STATE_PATH),
        }
    }

    /// How to take the step back, computed just before it runs, from the server's state at
    /// that moment, so the journal is right whatever point a crash interrupts the step at.
    fn undo(&self, ctx: &Context) -> Undo {
        match self {
            Step::InstallPackages { manager, packages } => Undo::RemovePackages {
                manager: *manager,
                packages: packages.clone(),
            },
            Step::EnablePostgresStream { .. } => Undo::DnfModuleReset {
                module: "postgresql".into(),
            },
            // Only what the step changes is taken back: a unit that was enabled stays enabled, one
            // that ran keeps running. If its state cannot be read, nothing is disabled or stopped.
            Step::InitializePostgres { unit, .. } => {
                match services::unit_state(ctx, unit, services::SETTLE_LIMIT) {
                    Ok(before) => Undo::Many {
                        undos: services::restore_state_args(unit, before)
                            .into_iter()
                            .map(|args| Undo::Systemctl { args })
                            .collect(),
                    },
                    Err(_) => Undo::Nothing,
                }
            }
            Step::Configure | Step::ProveItWorks => Undo::Nothing,
            Step::CreateUser => Undo::RemoveUser {
                name: SERVICE_USER.into(),
            },
            Step::ProvisionDatabase { .. } => provision_undo(ctx),
            Step::AllowPasswordLogin => {
                // The file as it is now, put back byte for byte; nothing if the server cannot be
                // asked (then the step cannot change the file either).
                let hba = postgres::hba_file(ctx)
                    .and_then(|path| Ok((fs_err::read_to_string(&path)?, path)));
                match hba {
                    Ok((content, path)) => Undo::RestorePgHba { path, content },
                    Err(_) => Undo::Nothing,
                }
            }
            Step::Extract { staging } => Undo::Many {
                undos: vec![
                    Undo::RemovePath {
                        path: staging.clone(),
                    },
                    Undo::RemoveEmptyDir {
                        path: PRIVATE_DIR.into(),
                    },
                ],
            },
            Step::PlaceTree { .. } => Undo::RemovePath {
                path: INSTALL_DIR.into(),
            },
            Step::LabelBinaries => Undo::SelinuxUnlabel {
                install_dir: INSTALL_DIR.into(),
            },
            Step::WriteUnit => Undo::Many {
                undos: vec![
                    restore_file_undo(ctx, Path::new(UNIT_FILE)),
                    if ctx.is_live_system() {
                        Undo::Systemctl {
                            args: vec!["daemon-reload".into()],
                        }
                    } else {
                        Undo::Nothing
                    },
                ],
            },
            Step::EnableService => Undo::Systemctl {
                args: vec!["disable".into(), "mattermost.service".into()],
            },
            Step::StartService => Undo::Systemctl {
                args: vec!["stop".into(), "mattermost.service".into()],
            },
            Step::WriteNginxSite {
                layout,
                set_aside_default,
            } => {
                let mut undo = vec![restore_file_undo(ctx, layout.site_file())];
                if let SiteLayout::SitesAvailable {
                    enabled,
                    stock_default,
                    ..
                } = layout
                {
                    if fs_err::symlink_metadata(ctx.path(enabled)).is_err() {
                        undo.push(Undo::RemovePath {
                            path: enabled.clone(),
                        });
                    }
                    if *set_aside_default {
                        undo.push(Undo::RestoreFile {
                            path: stock_default.clone(),
                            backup: Some(set_aside_path()),
                        });
                    }
                }
                if ctx.is_live_system() {
                    undo.push(Undo::Systemctl {
                        args: vec!["try-reload-or-restart".into(), "nginx.service".into()],
                    });
                }
                Undo::Many { undos: undo }
            }
            Step::AllowNginxUpstream => Undo::SelinuxBoolean {
                name: security::NGINX_CONNECT_BOOLEAN.into(),
                on: false,
            },
            Step::OpenFirewall { services } => Undo::Many {
                undos: services
                    .iter()
                    .map(|service| Undo::FirewallClose {
                        service: service.clone(),
                    })
                    .collect(),
            },
            Step::ReloadNginx => Undo::Systemctl {
                args: vec!["try-reload-or-restart".into(), "nginx.service".into()],
            },
            Step::RecordState => restore_file_undo(ctx, Path::new(crate::layout::STATE_PATH)),
        }
    }
}

/// Undo for provisioning the database, from what exists just before: the database is dropped
/// only if it did not exist, the role dropped only if it did not exist, else its password hash
/// put back. If the server cannot be asked, the step cannot create anything either: nothing.
fn provision_undo(ctx: &Context) -> Undo {
    let before = postgres::database_exists(ctx, DATABASE_NAME)
        .and_then(|db| Ok((db, postgres::role_password_hash(ctx, DATABASE_ROLE)?)));
    let Ok((database_existed, role)) = before else {
        return Undo::Nothing;
    };
    let mut undos = Vec::new();
    if !database_existed {
        undos.push(Undo::DropDatabase {
            name: DATABASE_NAME.into(),
        });
    }
    undos.push(match role {
        None => Undo::DropRole {
            name: DATABASE_ROLE.into(),
        },
        Some(hash) => Undo::RestoreRolePassword {
            role: DATABASE_ROLE.into(),
            hash,
        },
    });
    Undo::Many { undos }
}

/// Undo for replacing `path`: put the backup back if the file existed, else remove it.
fn restore_file_undo(ctx: &Context, path: &Path) -> Undo {
    let existed = fs_err::symlink_metadata(ctx.path(path)).is_ok();
    Undo::RestoreFile {
        path: path.to_path_buf(),
        backup: existed.then(|| files::backup_path(path)),
    }
}

/// Where nginx's stock default site is kept while ours serves port 80.
fn set_aside_path() -> PathBuf {
    PathBuf::from(SET_ASIDE_DIR).join("nginx-sites-enabled-default")
}

/// Which package provides a PostgreSQL >= 14 server on a platform, and the dnf module stream to
/// enable first where the distribution's default stream is older.
struct PostgresPackage {
    package: &'static str,
    module_stream: Option<&'static str>,
}

fn postgres_packages(platform: &Platform) -> Result<PostgresPackage, InstallError> {
    let major = platform
        .version_id
        .as_deref()
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    let too_old = || InstallError::NoSuitablePostgres {
        platform: platform.pretty_name.clone(),
    };
    let plain = |package| {
        Ok(PostgresPackage {
            package,
            module_stream: None,
        })
    };
    match (platform.family, platform.id.as_str(), major) {
        (Family::Debian, _, _) => plain("postgresql"),
        (_, "amzn", Some(year)) if year >= 2022 => plain("postgresql15-server"),
        (_, "amzn", _) => Err(too_old()),
        (_, "fedora", _) => plain("postgresql-server"),
        // RHEL 8 and 9 (and rebuilds) default to PostgreSQL 10 and 13: enable the 15 stream.
        (Family::Rhel, _, Some(8 | 9)) => Ok(PostgresPackage {
            package: "postgresql-server",
            module_stream: Some("15"),
        }),
        (Family::Rhel, _, Some(major)) if major >= 10 => plain("postgresql-server"),
        _ => Err(too_old()),
    }
}

/// The checked platform and the steps to run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub platform: Platform,
    pub steps: Vec<Step>,
}

/// What the plan should say about a check the pre-flight skipped: with `--root`, the
/// connection to an existing database is not tried.
pub fn database_note(ctx: &Context, options: &InstallOptions) -> Option<String> {
    match &options.database {
        DatabaseChoice::External(url) if !ctx.is_live_system() => Some(format!(
            "the database at {} was not checked: with --root it is usually not reachable from where the image is built; Mattermost connects to it when the image boots",
            postgres::redact_password(url)
        )),
        _ => None,
    }
}

/// Check everything that can be checked without changing the server.
pub fn preflight(
    ctx: &Context,
    options: &InstallOptions,
    reporter: &dyn Reporter,
) -> Result<Platform, InstallError> {
    if ctx.is_live_system() && !nix::unistd::geteuid().is_root() {
        return Err(InstallError::NotRoot);
    }
    let platform = host::detect(ctx, None, Some(options.artifact.arch))?;
    if let Some(statement) = &platform.statement {
        reporter.step(statement);
    }
    for note in &platform.notes {
        reporter.step(&format!("note: {note}"));
    }
    let refuse = |reason: String| InstallError::Unsupported {
        name: platform.pretty_name.clone(),
        reason,
    };
    if platform.support == Support::Unsupported {
        let reason = platform
            .notes
            .first()
            .cloned()
            .unwrap_or_else(|| "Mattermost does not support it".into());
        if !options.allow_unsupported {
            return Err(refuse(reason));
        }
        reporter.warn(&format!(
            "{}: {reason}; continuing because of --allow-unsupported",
            platform.pretty_name
        ));
    }
    if let Some(last) = &platform.last_supported_release {
        let (major, minor, _) = options.artifact.version.triple();
        if let Some((last_major, last_minor)) = last
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        {
            if (major, minor) > (last_major, last_minor) && !options.allow_unsupported {
                return Err(refuse(format!(
                    "Mattermost {} no longer supports it; the last release for it is v{last}",
                    options.artifact.version
                )));
            }
        }
    }
    if let Some((dir, available)) = short_of_space(ctx)? {
        return Err(InstallError::NoSpace {
            dir,
            available,
            needed: MINIMUM_FREE_BYTES,
        });
    }
    if ctx.path(INSTALL_DIR).exists() {
        return Err(InstallError::AlreadyInstalled {
            path: ctx.path(INSTALL_DIR).display().to_string(),
        });
    }
    if let Some(tls) = &options.tls {
        for (what, path) in [("certificate", &tls.certificate), ("key", &tls.key)] {
            if !path.exists() {
                return Err(InstallError::MissingTlsFile {
                    what,
                    path: path.display().to_string(),
                });
            }
        }
    }
    match &options.database {
        DatabaseChoice::External(url) => {
            let connection = postgres::Connection::from_data_source(url)?;
            // An image is usually built where its database is not reachable: the plan says
            // the check was skipped (`database_note`).
            if ctx.is_live_system() {
                let version = postgres::version_num(ctx, &connection)?;
                if version < postgres::MINIMUM_VERSION_NUM {
                    return Err(InstallError::DatabaseTooOld {
                        url: connection.url().to_string(),
                        found: describe_version_num(version),
                    });
                }
            }
        }
        DatabaseChoice::Local if !ctx.is_live_system() => {
            return Err(InstallError::RootNeedsDatabase);
        }
        DatabaseChoice::Local => {
            let local = postgres::detect_local(ctx)?;
            if local.tcp_only {
                return Err(InstallError::PostgresWithoutSocket);
            }
            if local.running() {
                check_local_database(ctx)?;
            }
        }
        DatabaseChoice::Skip => {}
    }
    if ctx.is_live_system() {
        check_port_free(ctx, 8065, false)?;
        check_port_free(ctx, 80, true)?;
        if options.tls.is_some() {
            check_port_free(ctx, 443, true)?;
        }
    }
    Ok(platform)
}

/// The first of `/opt` (releases) and `/var/lib` (cache, backups) with less than
/// [`MINIMUM_FREE_BYTES`] free, and what it has.
pub fn short_of_space(ctx: &Context) -> Result<Option<(String, u64)>, HostError> {
    for dir in ["/opt", "/var/lib"] {
        let available = host::available_bytes(&ctx.path(dir))?;
        if available < MINIMUM_FREE_BYTES {
            return Ok(Some((ctx.path(dir).display().to_string(), available)));
        }
    }
    Ok(None)
}

/// The local PostgreSQL can take Mattermost's database: version 14 or newer, no `mattermost`
/// database yet.
fn check_local_database(ctx: &Context) -> Result<(), InstallError> {
    let version = postgres::local_version_num(ctx)?;
    if version < postgres::MINIMUM_VERSION_NUM {
        return Err(InstallError::LocalDatabaseTooOld {
            found: describe_version_num(version),
        });
    }
    if postgres::database_exists(ctx, DATABASE_NAME)? {
        return Err(InstallError::DatabaseExists {
            name: DATABASE_NAME.into(),
        });
    }
    Ok(())
}

fn describe_version_num(version: u32) -> String {
    format!("{}.{}", version / 10000, version % 10000)
}

/// A port must be free, or (for 80/443) held by nginx, which we configure.
fn check_port_free(ctx: &Context, port: u16, nginx_may_hold_it: bool) -> Result<(), InstallError> {
    let free = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).is_ok();
    if free {
        return Ok(());
    }
    let sport = format!("sport = :{port}");
    let holder = system::run_probe(ctx, &CommandLine::new("ss", &["-Hltnp", &sport]))
        .map(|out| out.stdout)
        .unwrap_or_default();
    if nginx_may_hold_it && holder.contains("\"nginx\"") {
        return Ok(());
    }
    let program = holder
        .split("users:((\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|name| format!(" (held by {name})"))
        .unwrap_or_default();
    Err(InstallError::PortBusy {
        port,
        holder: program,
    })
}

/// Turn the options and the host's state into the ordered steps.
pub fn plan(
    ctx: &Context,
    platform: Platform,
    options: &InstallOptions,
) -> Result<Plan, InstallError> {
    let live = ctx.is_live_system();
    let local_database = matches!(options.database, DatabaseChoice::Local);
    let mut steps = Vec::new();
    if live {
        let manager = platform
            .package_manager
            .ok_or_else(|| InstallError::Unsupported {
                name: platform.pretty_name.clone(),
                reason: "it has no package manager mm-install knows (apt, dnf, yum)".into(),
            })?;
        let mut packages = system::packages::missing(ctx, manager, &["nginx"])?;
        let local = if local_database {
            Some(postgres::detect_local(ctx)?)
        } else {
            None
        };
        // A PostgreSQL that runs, or that systemd knows, is the one to use: never a second.
        let initialize = match &local {
            Some(local) if !local.running() => {
                let unit = match &local.unit {
                    Some((unit, _)) => unit.clone(),
                    None => {
                        let choice = postgres_packages(&platform)?;
                        let missing = system::packages::missing(ctx, manager, &[choice.package])?;
                        if !missing.is_empty() {
                            if let Some(stream) = choice.module_stream {
                                steps.push(Step::EnablePostgresStream {
                                    stream: stream.into(),
                                });
                            }
                            packages.extend(missing);
                        }
                        "postgresql.service".to_string()
                    }
                };
                // RHEL's packages leave the cluster to `postgresql-setup --initdb`.
                let initdb = platform.family == Family::Rhel
                    && unit == "postgresql.service"
                    && !ctx.path(RHEL_DATA_DIR).join("PG_VERSION").exists();
                Some(Step::InitializePostgres { initdb, unit })
            }
            _ => None,
        };
        if !packages.is_empty() {
            steps.push(Step::InstallPackages { manager, packages });
        }
        steps.extend(initialize);
    }
    if users::lookup(ctx, SERVICE_USER)?.is_none() {
        steps.push(Step::CreateUser);
    }
    if live && local_database {
        let existing_role = if postgres::local_socket(ctx)?.is_some() {
            postgres::role_password_hash(ctx, DATABASE_ROLE)?
        } else {
            None
        };
        steps.push(Step::ProvisionDatabase { existing_role });
        steps.push(Step::AllowPasswordLogin);
    }
    let staging = PathBuf::from(format!("{PRIVATE_DIR}/staging-{}", std::process::id()));
    steps.push(Step::Extract {
        staging: staging.clone(),
    });
    steps.push(Step::PlaceTree { staging });
    steps.push(Step::Configure);
    let selinux = live && platform.family == Family::Rhel && security::selinux_enforcing(ctx);
    if selinux {
        steps.push(Step::LabelBinaries);
    }
    steps.push(Step::WriteUnit);
    steps.push(Step::EnableService);
    if live {
        steps.push(Step::StartService);
    }
    let layout = SiteLayout::detect(ctx);
    let set_aside_default = match &layout {
        SiteLayout::SitesAvailable { stock_default, .. } => {
            fs_err::symlink_metadata(ctx.path(stock_default)).is_ok()
        }
        SiteLayout::ConfD { .. } => false,
    };
    steps.push(Step::WriteNginxSite {
        layout,
        set_aside_default,
    });
    if live {
        if selinux && !security::selinux_boolean(ctx, security::NGINX_CONNECT_BOOLEAN)? {
            steps.push(Step::AllowNginxUpstream);
        }
        if platform.family == Family::Rhel && security::firewalld_running(ctx) {
            let mut services = vec!["http".to_string()];
            if options.tls.is_some() {
                services.push("https".into());
            }
            let mut closed = Vec::new();
            for service in services {
                if !security::firewall_allows(ctx, &service)? {
                    closed.push(service);
                }
            }
            if !closed.is_empty() {
                steps.push(Step::OpenFirewall { services: closed });
            }
        }
        steps.push(Step::ReloadNginx);
        steps.push(Step::ProveItWorks);
    }
    steps.push(Step::RecordState);
    Ok(Plan { platform, steps })
}

/// What a finished install reports.
#[derive(Clone, Debug)]
pub struct InstallReport {
    pub installation: Installation,
    pub warnings: Vec<String>,
    /// The proxy's answer to the ping (`X-Version-Id`), when the server was started.
    pub version_id: Option<String>,
}

/// Values produced by one step and used by later ones.
struct Progress {
    tarball: PathBuf,
    verified: Verified,
    data_source: Option<String>,
    /// The unit that runs the local PostgreSQL, for mattermost.service's `After=`.
    database_unit: Option<String>,
    ids: Option<users::Ids>,
    version_id: Option<String>,
}

/// Fetch and verify the release, then run the plan as one transaction.
pub fn execute(
    ctx: &Context,
    plan: &Plan,
    options: &InstallOptions,
    client: &HttpClient,
    keyring: &Keyring,
    reporter: &dyn Reporter,
) -> Result<InstallReport, InstallError> {
    let (tarball, verified) = obtain_release(
        ctx,
        &options.source,
        &options.artifact,
        client,
        keyring,
        reporter,
    )?;
    let mut progress = Progress {
        tarball,
        verified,
        data_source: None,
        database_unit: None,
        ids: None,
        version_id: None,
    };
    if let DatabaseChoice::External(url) = &options.database {
        progress.data_source = Some(url.clone());
    }
    let mut run = InstallRun {
        ctx,
        options,
        progress,
    };
    plan::run(ctx, "install", &plan.steps, &mut run, reporter).map_err(
        |failure| match failure {
            Failure::Before(err) => err,
            Failure::RolledBack { step, cause } => InstallError::RolledBack { step, cause },
            // Install has no check after the undo: only the undo itself can fail.
            Failure::Stuck { undo, .. } => match undo {
                UndoFailure::Journal(err) => InstallError::Journal(err),
                UndoFailure::Check(err) => err,
            },
        },
    )?;
    let progress = run.progress;
    Ok(InstallReport {
        installation: installation_record(options, &progress.verified),
        warnings: progress.verified.warnings,
        version_id: progress.version_id,
    })
}

/// An install's steps, run by [`plan::run`].
struct InstallRun<'a> {
    ctx: &'a Context,
    options: &'a InstallOptions,
    progress: Progress,
}

impl Operation for InstallRun<'_> {
    type Step = Step;
    type Error = InstallError;

    fn description(&self, step: &Step) -> String {
        step.description(self.options)
    }

    fn undo(&self, step: &Step) -> Undo {
        step.undo(self.ctx)
    }

    fn run(&mut self, step: &Step, reporter: &dyn Reporter) -> Result<(), InstallError> {
        run_step(self.ctx, step, self.options, &mut self.progress, reporter)
    }
}

fn installation_record(options: &InstallOptions, verified: &Verified) -> Installation {
    Installation {
        version: options.artifact.version.to_string(),
        edition: options.artifact.edition.to_string(),
        arch: options.artifact.arch.to_string(),
        install_dir: INSTALL_DIR.into(),
        installed_at: now_rfc3339(),
        tarball_sha256: verified.sha256.clone(),
        signed_by: verified.signer_fingerprint.clone(),
        signed_at: verified.signed_at.map(rfc3339),
        site_url: options
            .site_url
            .as_ref()
            .map(SiteUrl::to_string)
            .unwrap_or_default(),
        database: match options.database {
            DatabaseChoice::Local => "local",
            DatabaseChoice::External(_) => "external",
            DatabaseChoice::Skip => "none",
        }
        .into(),
        tls: options.tls.is_some(),
    }
}

/// Download the release (or copy the local file into the root-only cache) and verify it before
/// any server change; returns the verified file, which is what gets extracted.
pub fn obtain_release(
    ctx: &Context,
    source: &TarballSource,
    artifact: &Artifact,
    client: &HttpClient,
    keyring: &Keyring,
    reporter: &dyn Reporter,
) -> Result<(PathBuf, Verified), FetchError> {
    let cache = ctx.path(CACHE_DIR);
    fs_err::create_dir_all(&cache)?;
    match source {
        TarballSource::Local {
            tarball,
            signature,
            sha256,
        } => {
            // The copy in the root-only cache is what gets extracted: FILE is read once.
            fs_err::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
            let name = tarball
                .file_name()
                .map_or_else(|| "release.tar.gz".into(), |n| n.to_os_string());
            let copy = cache.join(name);
            reporter.step(&format!(
                "copying {} to {} and verifying it",
                tarball.display(),
                copy.display()
            ));
            let verified = copy_verified(keyring, tarball, signature, sha256.as_deref(), &copy)?;
            Ok((copy, verified))
        }
        TarballSource::Mirror {
            release_url,
            sha256,
        } => {
            let request =
                DownloadRequest::for_artifact(artifact, release_url, None, sha256.clone(), &cache);
            let downloaded = download_release(client, keyring, &request, reporter)?;
            Ok((downloaded.path, downloaded.verified))
        }
    }
}

/// Run one step.
fn run_step(
    ctx: &Context,
    step: &Step,
    options: &InstallOptions,
    progress: &mut Progress,
    reporter: &dyn Reporter,
) -> Result<(), InstallError> {
    match step {
        Step::InstallPackages { manager, packages } => {
            system::packages::install(ctx, *manager, packages)?;
        }
        Step::EnablePostgresStream { stream } => {
            let module = format!("postgresql:{stream}");
            system::run_checked(
                ctx,
                &CommandLine::new("dnf", &["module", "enable", "-y", &module]),
            )?;
        }
        Step::InitializePostgres { initdb, unit } => {
            if *initdb {
                system::run_checked(ctx, &CommandLine::new("postgresql-setup", &["--initdb"]))?;
            }
            services::systemctl(ctx, &["enable", "--now", unit])?;
        }
        Step::CreateUser => {
            progress.ids = Some(users::create_system_user(ctx, SERVICE_USER, INSTALL_DIR)?);
        }
        Step::ProvisionDatabase { .. } => {
            check_local_database(ctx)?;
            // The port the cluster really listens on (a Debian cluster is often on 5433,
            // mattermost-facts.md §10), and the unit that runs it.
            let local = postgres::detect_local(ctx)?;
            let port = local
                .socket
                .as_ref()
                .map_or(postgres::DEFAULT_PORT, |socket| socket.port);
            progress.database_unit = local.server_unit;
            let password = postgres::generate_password(32)?;
            if postgres::role_password_hash(ctx, DATABASE_ROLE)?.is_some() {
                postgres::set_role_password(ctx, DATABASE_ROLE, Some(&password))?;
            } else {
                postgres::create_role(ctx, DATABASE_ROLE, &password)?;
            }
            postgres::create_database(ctx, DATABASE_NAME, DATABASE_ROLE)?;
            progress.data_source = Some(format!(
                "postgres://{DATABASE_ROLE}:{password}@localhost:{port}/{DATABASE_NAME}?sslmode=disable&connect_timeout=10"
            ));
        }
        Step::AllowPasswordLogin => allow_password_login(ctx)?,
        Step::Extract { staging } => {
            beneath::private_dir(&ctx.path(ANCHOR)).map_err(SystemError::from)?;
            extract_release(&progress.tarball, &ctx.path(staging))?;
        }
        Step::PlaceTree { staging } => {
            let staging = ctx.path(staging);
            fs_err::rename(staging.join("mattermost"), ctx.path(INSTALL_DIR))?;
            fs_err::remove_dir(&staging)?;
            fs_err::create_dir_all(ctx.path(INSTALL_DIR).join("data"))?;
        }
        Step::Configure => configure(ctx, options, progress)?,
        Step::LabelBinaries => security::label_binaries(ctx, INSTALL_DIR)?,
        Step::WriteUnit => {
            let local_database = matches!(options.database, DatabaseChoice::Local);
            let unit = render::render_systemd_unit(
                &templates(ctx),
                &UnitOptions {
                    install_dir: INSTALL_DIR.into(),
                    user: SERVICE_USER.into(),
                    group: SERVICE_USER.into(),
                    local_database_unit: local_database.then(|| {
                        progress
                            .database_unit
                            .clone()
                            .unwrap_or_else(|| "postgresql.service".into())
                    }),
                },
            )?;
            replace_file(&ctx.path(UNIT_FILE), unit.as_bytes())?;
            if ctx.is_live_system() {
                services::systemctl(ctx, &["daemon-reload"])?;
            }
        }
        Step::EnableService => services::systemctl(ctx, &["enable", "mattermost.service"])?,
        Step::StartService => services::start(ctx, "mattermost.service")?,
        Step::WriteNginxSite {
            layout,
            set_aside_default,
        } => {
            write_nginx_site(ctx, options, layout, *set_aside_default)?;
        }
        Step::AllowNginxUpstream => {
            security::set_selinux_boolean(ctx, security::NGINX_CONNECT_BOOLEAN, true)?
        }
        Step::OpenFirewall { services: wanted } => {
            for service in wanted {
                security::set_firewall_service(ctx, service, true)?;
            }
        }
        Step::ReloadNginx => {
            system::nginx::test_configuration(ctx)?;
            if services::is_active(ctx, "nginx.service")? {
                services::systemctl(ctx, &["reload", "nginx.service"])?;
            } else {
                services::systemctl(ctx, &["enable", "--now", "nginx.service"])?;
            }
        }
        Step::ProveItWorks => {
            let probe = Probe::through_nginx(options.site_url.as_ref(), options.tls.is_some());
            let healthy = health::check(
                &probe,
                &options.artifact.version,
                Duration::from_secs(90),
                reporter,
            )?;
            progress.version_id = Some(healthy.version_id);
        }
        Step::RecordState => {
            let path = ctx.path(crate::layout::STATE_PATH);
            if path.exists() {
                files::backup(&path)?;
            }
            let mut state = State::load(ctx)?;
            state.record(installation_record(options, &progress.verified));
            if let Some(data_source) = &progress.data_source {
                let connection = postgres::Connection::from_data_source(data_source)?;
                state.database = Some(connection.identity().to_string());
            }
            state.save(ctx)?;
        }
    }
    Ok(())
}

/// Add the password rules to the running server's `pg_hba.conf` if it needs them (see
/// [`postgres::with_password_rules`]) and reload the server.
fn allow_password_login(ctx: &Context) -> Result<(), SystemError> {
    let path = postgres::hba_file(ctx)?;
    let text = fs_err::read_to_string(&path)?;
    if let Some(edited) = postgres::with_password_rules(&text, DATABASE_NAME, DATABASE_ROLE) {
        // In place, so the file keeps its owner, mode and SELinux label.
        fs_err::write(&path, edited)?;
        postgres::reload(ctx)?;
    }
    Ok(())
}

/// Write `contents` to `path`, keeping a backup of what was there for undo.
fn replace_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        files::backup(path)?;
    }
    files::write_atomic(path, contents, 0o644)
}

fn templates(ctx: &Context) -> Templates {
    Templates::new(Some(ctx.path(crate::layout::TEMPLATES_OVERRIDE_DIR)))
}

/// Edit config.json (only the keys we own), then hand the tree to the service user.
fn configure(
    ctx: &Context,
    options: &InstallOptions,
    progress: &mut Progress,
) -> Result<(), InstallError> {
    let config_path = ctx.path(INSTALL_DIR).join("config/config.json");
    let text = fs_err::read_to_string(&config_path)?;
    let edited = render::apply_owned_settings(
        &text,
        &OwnedSettings {
            driver_name: "postgres".into(),
            data_source: progress.data_source.clone().unwrap_or_default(),
            site_url: options.site_url.clone(),
            listen_address: LISTEN_ADDRESS.into(),
            file_directory: "./data/".into(),
        },
        &config_path,
    )?;
    files::write_atomic(&config_path, edited.as_bytes(), 0o600)?;
    let ids = match progress.ids {
        Some(ids) => ids,
        None => users::lookup(ctx, SERVICE_USER)?.ok_or_else(|| SystemError::Unexpected {
            what: format!("the user `{SERVICE_USER}`"),
            detail: format!("is missing from {}", ctx.path("/etc/passwd").display()),
        })?,
    };
    beneath::chown_tree(&ctx.path(INSTALL_DIR), ids.uid, ids.gid).map_err(SystemError::from)?;
    Ok(())
}

/// Write the site, enable it, and set the stock default site aside.
fn write_nginx_site(
    ctx: &Context,
    options: &InstallOptions,
    layout: &SiteLayout,
    set_aside_default: bool,
) -> Result<(), InstallError> {
    let config_text = fs_err::read_to_string(ctx.path(INSTALL_DIR).join("config/config.json"))?;
    let http2 = if ctx.is_live_system() {
        render::http2_syntax(&system::nginx::version_output(ctx)?)?
    } else {
        render::Http2Syntax::ListenFlag
    };
    let site = render::render_nginx_site(
        &templates(ctx),
        &NginxOptions {
            site_url: options.site_url.clone(),
            upstream: LISTEN_ADDRESS.into(),
            tls: options.tls.clone(),
            http2,
            client_max_body_size_mb: render::max_file_size_mb(&config_text)
                .unwrap_or(render::DEFAULT_MAX_FILE_SIZE_MB),
            default_server: matches!(layout, SiteLayout::SitesAvailable { .. }),
        },
    )?;
    replace_file(&ctx.path(layout.site_file()), site.as_bytes())?;
    if let SiteLayout::SitesAvailable {
        available,
        enabled,
        stock_default,
    } = layout
    {
        let link = ctx.path(enabled);
        if fs_err::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(available, &link).map_err(|err| {
                std::io::Error::new(
                    err.kind(),
                    format!("cannot create the symlink {}: {err}", link.display()),
                )
            })?;
        }
        if set_aside_default {
            fs_err::create_dir_all(ctx.path(SET_ASIDE_DIR))?;
            fs_err::rename(ctx.path(stock_default), ctx.path(set_aside_path()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
