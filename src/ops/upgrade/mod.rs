//! `mm-install upgrade` and `mm-install rollback`: one command instead of Mattermost's manual
//! procedure, as a journaled transaction whose downtime is a handful of renames.
//!
//! While the old server still runs, the new release is fetched, verified and extracted into a
//! staging tree beside `/opt/mattermost` (same filesystem), owned by the service user, and
//! config.json and the database are backed up. Then: stop; move the state folders (`config`,
//! `data`, `logs`, `plugins`, `client/plugins`) and everything else the release does not ship
//! (see [`carry`]) into the new tree with `rename(2)`; move the old tree aside (kept for
//! rollback) and the new one into place; restore file capabilities; start; prove health through
//! the proxy (served version included).
//! Any failure undoes the journal in reverse: the new server is stopped, the trees and state
//! folders swapped back, the database restored if the new version changed its schema, and the
//! old server started and checked again (exit 4; exit 10 if even that fails). The journal records
//! when the new server is about to start: a run killed after that is not undone by the next run
//! (see [`crate::journal::recover`]).
//!
//! A rollback is the same swap towards a kept tree, optionally with the matching database dump.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::context::{CommandLine, Context};
use crate::exit::{Diagnostic, ExitCode};
use crate::fetch::verify::Verified;
use crate::fetch::{FetchError, HttpClient, Keyring};
use crate::host::Family;
use crate::journal::{JournalError, Keep, Undo};
use crate::layout::{ANCHOR, BACKUP_DIR, INSTALL_DIR, PRIVATE_DIR, SETTINGS_PATH};
use crate::ops::backup::{self, DUMP_FILE};
use crate::ops::carry;
use crate::ops::health::{self, HealthError, Probe};
use crate::ops::install::{SERVICE_USER, TarballSource};
use crate::ops::plan::{self, Failure, Operation};
use crate::release::{Artifact, Edition, ReleaseError, Version};
use crate::report::Reporter;
use crate::settings::{Policy, Settings};
use crate::site_url::SiteUrl;
use crate::state::{Installation, KeptRelease, State, now_rfc3339, rfc3339};
use crate::system::beneath::{self, Anchor};
use crate::system::{self, SystemError, files, postgres, services, users};

mod execute;
mod preflight;
mod rollback;
mod steps;
pub use execute::{Outcome, execute_upgrade};
pub use preflight::{
    RELEASE_SPACE_BYTES, UpgradePlan, check_pg_dump, check_upgrade_path, plan_upgrade,
};
use preflight::{
    carried_paths, connection, entry_names, listen_probe, live_config, probe_for, stamp,
};
pub use rollback::{
    RollbackPlan, SchemaChoice, SchemaDecision, decide_schema, execute_rollback, plan_rollback,
};
pub use steps::Step;
use steps::{RunContext, display_head, display_paths, relabel_step, version_list};

/// The folders of `/opt/mattermost` that belong to the admin, never to a release.
pub const STATE_FOLDERS: [&str; 5] = ["config", "data", "logs", "plugins", "client/plugins"];
/// How long the new (or restored) server has to answer after `systemctl start` returned.
const HEALTH_PATIENCE: Duration = Duration::from_secs(90);

/// Why an upgrade or rollback did not complete.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("no Mattermost installation found in {path}")]
    NotInstalled { path: String },
    #[error("cannot tell the installed version: `{command}` printed `{output}`")]
    UnknownVersion { command: String, output: String },
    #[error(
        "the verified release published as Mattermost {expected} is Mattermost {found} (its bin/mattermost version says so); nothing was changed"
    )]
    VersionMismatch { expected: Version, found: Version },
    #[error(
        "the signature of Mattermost {target} was made at {signed_at}, before the installed Mattermost {installed}'s ({installed_signed_at}): an older release served under a newer name is refused"
    )]
    SignedBeforeInstalled {
        target: Version,
        signed_at: String,
        installed: String,
        installed_signed_at: String,
    },
    #[error("Mattermost {target} is not newer than the installed {installed}")]
    NotNewer { installed: Version, target: Version },
    #[error("upgrading from {from} to {to} is not a supported path: {reason}")]
    UnsupportedPath {
        from: Version,
        to: Version,
        reason: String,
    },
    #[error(
        "not enough free space in {dir}: the upgrade needs {needed} bytes there ({what}), {available} are available"
    )]
    NoSpace {
        dir: String,
        what: String,
        needed: u64,
        available: u64,
    },
    #[error(
        "the database runs PostgreSQL {found}, but Mattermost {target} needs {needed} or newer ({source_note})"
    )]
    DatabaseTooOld {
        found: String,
        target: Version,
        needed: u32,
        source_note: String,
    },
    #[error(
        "Mattermost {target} does not start with {} = \"{}\" in config.json: {} ({})",
        .blocker.setting, .blocker.value, .blocker.reason, .blocker.source
    )]
    BlockingSetting {
        target: Version,
        blocker: Box<crate::ops::requirements::BlockingSetting>,
    },
    #[error(
        "pg_dump {pg_dump} cannot back up the database: the server at {url} runs PostgreSQL {server}, and pg_dump refuses servers newer than itself"
    )]
    PgDumpTooOld {
        pg_dump: String,
        server: String,
        url: String,
        /// What to install, per platform family.
        package: String,
    },
    #[error(
        "config.json names the database {configured}, but mm-install recorded {recorded} at install: it runs its database tools as root only on the recorded one"
    )]
    DatabaseMoved {
        recorded: String,
        configured: String,
    },
    #[error(
        "the database schema is newer than the one Mattermost {kept} ran on: db_migrations is at {live_head}, Mattermost {kept} ran on {kept_head}; {from} applied {migrations}. Starting {kept} on it is not supported: choose --downgrade-schema (recommended: `mattermost db downgrade` with {from}'s binary, every post is kept), --restore-database (the dump taken before the upgrade: everything written since is lost) or --binary-only (swap the binaries anyway); nothing was changed"
    )]
    SchemaNewer {
        from: String,
        kept: String,
        live_head: i64,
        kept_head: String,
        migrations: String,
    },
    #[error(
        "the database has Mattermost migrations up to {live_head}, but which of them Mattermost {kept} ran on was not recorded (its backup predates mm-install's record of db_migrations), so they cannot be downgraded; choose --restore-database (the dump taken before the upgrade) or --binary-only (swap the binaries anyway); nothing was changed"
    )]
    SchemaNotRecorded { kept: String, live_head: i64 },
    #[error("there is no kept release to roll back to{detail}")]
    NothingToRollBack { detail: String },
    #[error(
        "the upgrade to {target} failed while trying to {step}: {}\nit was rolled back: Mattermost {installed} is running again and answering",
        crate::exit::Chain(&**.cause)
    )]
    RolledBack {
        installed: String,
        target: String,
        step: String,
        cause: Box<UpgradeError>,
    },
    #[error(
        "the {operation} failed while trying to {step}: {}\nundoing it failed too: {undo}",
        crate::exit::Chain(&**.cause)
    )]
    NeedsAttention {
        operation: String,
        step: String,
        cause: Box<UpgradeError>,
        undo: String,
    },
    #[error(
        "the rollback failed while trying to {step}: {}\nit was undone: Mattermost {installed} is running again",
        crate::exit::Chain(&**.cause)
    )]
    RollbackUndone {
        installed: String,
        step: String,
        cause: Box<UpgradeError>,
    },
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    #[error(transparent)]
    System(#[from] SystemError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Health(#[from] HealthError),
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Diagnostic for UpgradeError {
    fn exit_code(&self) -> ExitCode {
        match self {
            // A release that is not the version it was published as fails verification, even
            // when found in the extract step (before the server was touched).
            UpgradeError::RolledBack { cause, .. }
                if matches!(**cause, UpgradeError::VersionMismatch { .. }) =>
            {
                ExitCode::VerificationFailed
            }
            UpgradeError::VersionMismatch { .. } | UpgradeError::SignedBeforeInstalled { .. } => {
                ExitCode::VerificationFailed
            }
            UpgradeError::RolledBack { .. } | UpgradeError::RollbackUndone { .. } => {
                ExitCode::UpgradeRolledBack
            }
            UpgradeError::NeedsAttention { .. } => ExitCode::ManualAttention,
            UpgradeError::SchemaNewer { .. } | UpgradeError::SchemaNotRecorded { .. } => {
                ExitCode::Usage
            }
            UpgradeError::Fetch(err) => err.exit_code(),
            UpgradeError::Archive(err) => err.exit_code(),
            UpgradeError::Journal(err) => err.exit_code(),
            UpgradeError::Release(err) => err.exit_code(),
            _ => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            UpgradeError::NotInstalled { .. } => Some("install first with `mm-install install`".into()),
            UpgradeError::NotNewer { .. } => Some("to go back to an older release, use `mm-install rollback`".into()),
            UpgradeError::UnsupportedPath { .. } => Some("upgrade in steps with --version (see Mattermost's \"Prepare to upgrade\" guide)".into()),
            UpgradeError::NoSpace { .. } => Some(format!("free that much, or lower `keep` in {SETTINGS_PATH} so fewer old releases and backups are kept")),
            UpgradeError::DatabaseTooOld { needed, .. } => Some(format!("upgrade PostgreSQL to {needed} or newer first, or upgrade Mattermost to an older release with --version")),
            UpgradeError::BlockingSetting { blocker, .. } => Some(blocker.fix.clone()),
            UpgradeError::DatabaseMoved { .. } => Some(format!("if you moved the database on purpose, delete the \"database\" entry of {} (it is root's alone) and run again: the next upgrade records the new one", crate::layout::STATE_PATH)),
            UpgradeError::PgDumpTooOld { package, .. } => Some(format!("install {package}, then run the upgrade again; nothing was changed")),
            UpgradeError::VersionMismatch { .. } => Some("the release server or mirror serves another release under that name: re-sync the mirror from releases.mattermost.com; the running server was not touched".into()),
            UpgradeError::SignedBeforeInstalled { .. } => Some("nothing was changed; re-sync the mirror from releases.mattermost.com. A release built before the installed one (say, a new major that predates the installed ESR patch) cannot replace it: take a newer patch of that line".into()),
            UpgradeError::RolledBack { cause, .. } if matches!(**cause, UpgradeError::VersionMismatch { .. }) => cause.hint(),
            UpgradeError::RolledBack { .. } => Some(format!("see `journalctl -u mattermost` for why the new version failed; the backups are in {BACKUP_DIR}")),
            UpgradeError::SchemaNewer { .. } => Some("run `mm-install rollback --downgrade-schema --dry-run` to see the plan; Mattermost's downgrade guide (\"Downgrade Mattermost Server\") documents this way".into()),
            UpgradeError::NeedsAttention { .. } => Some(format!("{} lists the steps still to undo; the next mm-install run retries them", crate::layout::JOURNAL_PATH)),
            UpgradeError::Fetch(err) => err.hint(),
            UpgradeError::Archive(err) => err.hint(),
            UpgradeError::Journal(err) => err.hint(),
            UpgradeError::Health(err) => err.hint(),
            UpgradeError::System(err) => err.hint(),
            UpgradeError::Release(err) => err.hint(),
            _ => None,
        }
    }
}

/// What is installed now, from mm-install's state or, for a server installed by hand per
/// Mattermost's documentation, from the server itself (adoption).
#[derive(Clone, Debug)]
pub struct Installed {
    pub installation: Installation,
    /// `true` when there was no state file: the install was made by hand and is adopted.
    pub adopted: bool,
}

/// Read the installed release.
pub fn installed(ctx: &Context) -> Result<Installed, UpgradeError> {
    let tree = ctx.path(INSTALL_DIR);
    if !tree.join("bin/mattermost").exists() {
        return Err(UpgradeError::NotInstalled {
            path: tree.display().to_string(),
        });
    }
    if let Some(installation) = State::load(ctx)?.current {
        return Ok(Installed {
            installation,
            adopted: false,
        });
    }
    let version = server_version(ctx)?;
    let config = beneath::read_to_string(ctx, &Path::new(INSTALL_DIR).join("config/config.json"))
        .map_err(SystemError::from)?;
    let json: serde_json::Value = serde_json::from_str(&config).unwrap_or_default();
    // Team Edition ships MIT-COMPILED-LICENSE.md, Enterprise Edition its own licence file.
    let edition = if tree.join("MIT-COMPILED-LICENSE.md").exists() {
        Edition::Team
    } else {
        Edition::Enterprise
    };
    Ok(Installed {
        installation: Installation {
            version: version.to_string(),
            edition: edition.to_string(),
            arch: crate::host::Arch::host()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "amd64".into()),
            install_dir: INSTALL_DIR.into(),
            installed_at: String::new(),
            tarball_sha256: String::new(),
            signed_by: String::new(),
            signed_at: None,
            site_url: json["ServiceSettings"]["SiteURL"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            database: "adopted".into(),
            tls: json["ServiceSettings"]["SiteURL"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://")),
        },
        adopted: true,
    })
}

/// The version of a server installed by hand (no state file): what the running server answers
/// in `X-Version-Id`, else what `bin/mattermost version` prints. That binary belongs to the
/// service user, so it never runs as root's child in root's session: it runs as the service
/// user in a new session (`setsid`), with a cleared environment (no root tokens or proxy
/// credentials) and no terminal (the runner gives every command `/dev/null` as stdin).
fn server_version(ctx: &Context) -> Result<Version, UpgradeError> {
    if let Some(version) = listen_probe(ctx)
        .ok()
        .and_then(|probe| health::served_version_id(&probe).ok())
        .and_then(|id| version_from_id(&id))
    {
        return Ok(version);
    }
    binary_version(ctx, Path::new(INSTALL_DIR))
}

/// What `<tree>/bin/mattermost version` prints as `Version:` (`tree` is a system path). Since
/// v6.5 the command touches no database (mattermost-facts.md §7); it runs isolated as the
/// service user ([`version_command`]).
fn binary_version(ctx: &Context, tree: &Path) -> Result<Version, UpgradeError> {
    let command = version_command(tree);
    let output = system::run_checked(ctx, &command)?;
    output
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("Version:"))
        .and_then(|text| text.trim().parse::<Version>().ok())
        .ok_or_else(|| UpgradeError::UnknownVersion {
            command: command.to_string(),
            output: output.stdout.trim().to_string(),
        })
}

/// The edition of the installed server, as its binary reports it: `bin/mattermost version`
/// prints `Build Enterprise Ready: true|false` (`model.BuildEnterpriseReady`, mattermost/mattermost
/// `server/cmd/mattermost/commands/version.go`). Mattermost's in-product Team → Enterprise
/// upgrade (`UpgradeToE0`, `server/channels/app/server.go`) replaces that binary and nothing
/// that mm-install records, so state.json may still say `team`. `X-Version-Id` cannot tell:
/// its last field is whether a licence is loaded (`License() != nil`,
/// `server/channels/web/handlers.go`), false for an unlicensed Enterprise build too.
///
/// Returns the edition to upgrade to (the recorded one when the binary does not say, or on an
/// image below another root) and, when it differs from the recorded one, a warning saying so.
pub fn installed_edition(
    ctx: &Context,
    installed: &Installed,
) -> Result<(Edition, Option<String>), UpgradeError> {
    let recorded: Edition = installed.installation.edition.parse()?;
    if !ctx.is_live_system() {
        return Ok((recorded, None));
    }
    // A binary that cannot say (it fails to run) leaves the recorded edition: the upgrade
    // replaces it anyway, and checks the new one before the swap.
    let output = system::run_probe(ctx, &version_command(Path::new(INSTALL_DIR)))?;
    let reported = output
        .stdout
        .lines()
        .filter(|_| output.success())
        .find_map(|line| line.strip_prefix("Build Enterprise Ready:"))
        .and_then(|value| match value.trim() {
            "true" => Some(Edition::Enterprise),
            "false" => Some(Edition::Team),
            _ => None,
        });
    Ok(match reported {
        Some(edition) if edition != recorded => (
            edition,
            Some(format!(
                "the installed server is the {edition} edition (`bin/mattermost version`: Build Enterprise Ready), not the {recorded} edition mm-install recorded (changed in the product?): upgrading to the {edition} edition"
            )),
        ),
        _ => (recorded, None),
    })
}

/// Where [`staged_version`] links a staged release's `bin/` for the service user to run.
fn version_check_dir() -> PathBuf {
    PathBuf::from(format!("{PRIVATE_DIR}-version-{}", std::process::id()))
}

/// [`binary_version`] of a release staged in root's 0700 directory, which the service user
/// cannot enter: its `bin/` is hard-linked (the same root-owned files, nothing copied) into
/// [`version_check_dir`], which that user may traverse but not write, and removed again. Run
/// before the tree is handed to the service user, so the linked files are root's throughout.
fn staged_version(ctx: &Context, staged_tree: &Path) -> Result<Version, UpgradeError> {
    let check = version_check_dir();
    let dir = ctx.path(&check);
    files::remove_if_exists(&dir)?;
    let result = link_bin(&ctx.path(staged_tree).join("bin"), &dir.join("bin"))
        .map_err(UpgradeError::from)
        .and_then(|()| binary_version(ctx, &check));
    files::remove_if_exists(&dir)?;
    result
}

/// Hard-link every regular file of `from` into `to` (created 0755 with its parent).
fn link_bin(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for dir in [to.parent().unwrap_or(to), to] {
        fs_err::create_dir(dir)?;
        fs_err::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    for entry in fs_err::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs_err::hard_link(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// `11.10.1` from an `X-Version-Id` of `11.10.1.123.abc.true`.
fn version_from_id(id: &str) -> Option<Version> {
    let parts: Vec<&str> = id.split('.').collect();
    parts.get(..3)?.join(".").parse().ok()
}

/// `<tree>/bin/mattermost version` as the service user, isolated from root's session and
/// environment.
fn version_command(tree: &Path) -> CommandLine {
    mattermost_command(tree, &[], &["version"])
}

/// `<tree>/bin/mattermost <args…>` as the service user in a session of its own (`setsid`, no
/// controlling terminal to push input into), with none of root's environment (`env -i`);
/// `env_options` go to `env` (`-C DIR`: run there).
fn mattermost_command(tree: &Path, env_options: &[&str], args: &[&str]) -> CommandLine {
    let binary = tree.join("bin/mattermost").display().to_string();
    let home = format!("HOME={INSTALL_DIR}");
    let mut command = CommandLine::new(
        "setsid",
        &["--wait", "runuser", "-u", SERVICE_USER, "--", "env", "-i"],
    );
    let environment = ["PATH=/usr/bin:/bin", &home, "LANG=C.UTF-8", &binary];
    command.args.extend(
        env_options
            .iter()
            .chain(&environment)
            .chain(args)
            .map(|arg| arg.to_string()),
    );
    command
}

/// `mattermost db downgrade <versions>` with the live (newer) release's binary, as Mattermost's
/// downgrade guide documents it (mattermost/docs `source/administration-guide/upgrade/
/// downgrading-mattermost-server.rst`: "If the database schema has changed between versions,
/// you must downgrade the schema" with the newer binary, which carries the down SQL, e.g.
/// `mattermost db downgrade 128,127,126`). The command lives in mattermost/mattermost
/// `server/cmd/mattermost/commands/db.go` and applies `Migrator.DowngradeMigrations`
/// (`server/channels/store/sqlstore/migrate.go`); the stored copies of db.go predate it, so
/// the form follows the guide. Versions are given newest first, comma separated; the config
/// is named with the command's `--config` flag, and it runs in the install directory, where
/// the server itself runs (`WorkingDirectory` of the unit).
fn downgrade_command(versions: &[i64]) -> CommandLine {
    let list = version_list(versions);
    let config = PathBuf::from(INSTALL_DIR).join("config/config.json");
    let config = config.display().to_string();
    mattermost_command(
        Path::new(INSTALL_DIR),
        &["-C", INSTALL_DIR],
        &["db", "downgrade", &list, "--config", &config],
    )
}

/// The newest version in `available` that `policy` allows from `installed`.
pub fn newest_allowed(
    installed: &Version,
    available: &[Version],
    policy: Policy,
) -> Option<Version> {
    let (major, minor, _) = installed.triple();
    available
        .iter()
        .filter(|v| match policy {
            Policy::Patch => v.triple().0 == major && v.triple().1 == minor,
            Policy::Minor => v.triple().0 == major,
            Policy::Latest => true,
        })
        .max()
        .cloned()
}

/// The newest version in `available` that `policy` allows from `installed` and whose files are
/// published, asking `unpublished` about each candidate from the newest down (`Some(reason)`:
/// skip it). A releases feed may list a release before, or without, its files being on the
/// release host; an unattended upgrade then takes the newest one that is. Returns the version
/// (`None`: nothing newer is published) and one line per skipped entry.
pub fn newest_published<E>(
    installed: &Version,
    available: &[Version],
    policy: Policy,
    mut unpublished: impl FnMut(&Version) -> Result<Option<String>, E>,
) -> Result<(Option<Version>, Vec<String>), E> {
    let mut candidates: Vec<Version> = available
        .iter()
        .filter(|v| *v > installed)
        .cloned()
        .collect();
    let mut skipped = Vec::new();
    while let Some(version) = newest_allowed(installed, &candidates, policy) {
        match unpublished(&version)? {
            None => return Ok((Some(version), skipped)),
            Some(reason) => {
                skipped.push(format!(
                    "skipped Mattermost {version} from the releases feed: {reason}"
                ));
                candidates.retain(|candidate| *candidate != version);
            }
        }
    }
    Ok((None, skipped))
}

#[cfg(test)]
mod tests {
    use super::execute::{check_signature_age, prune, referenced_paths};
    use super::preflight::first_shortage;
    use super::steps::{move_state, run_step};
    use std::sync::Arc;

    use super::*;
    use crate::system::fake::FakeRunner;

    fn v(text: &str) -> Version {
        text.parse().unwrap()
    }

    /// Issue 11, gap 7: where SELinux is enabled the swapped-in tree is relabelled (it carries
    /// the labels of `/opt/.mm-install`); where it is disabled or its tools are absent, not.
    #[test]
    fn the_swapped_in_tree_is_relabelled_only_where_selinux_is_enabled() {
        let runner = Arc::new(FakeRunner::default());
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::live_for_test(dir.path(), runner.clone());
        let step = relabel_step(&ctx).unwrap();
        assert_eq!(
            step.description(),
            "relabel /opt/mattermost for SELinux, which is enabled (restorecon -R)"
        );
        assert_eq!(step.undo(), Undo::Nothing);
        let probe = RunContext {
            ctx: &ctx,
            tarball: PathBuf::new(),
            probe: Probe {
                address: "127.0.0.1:8065".parse().unwrap(),
                host: "localhost".into(),
                tls: false,
            },
            expected: v("11.10.1"),
            previous: v("11.10.1"),
            keep: Keep {
                state: State::default(),
                leftovers: Vec::new(),
            },
            stopped_at: None,
        };
        run_step(&ctx, &step, &mut { probe }, &crate::report::Silent).unwrap();
        let relabel = format!(
            "restorecon -R {}",
            dir.path().join("opt/mattermost").display()
        );
        assert_eq!(runner.lines(), ["selinuxenabled".to_string(), relabel]);
        runner.answer("selinuxenabled", 1, "");
        assert_eq!(relabel_step(&ctx), None);
        // An image below another root is never asked.
        let image = Context::new(dir.path()).with_runner(runner.clone());
        assert_eq!(relabel_step(&image), None);
        assert_eq!(runner.lines().len(), 3);
    }

    /// Issue 11, gap 7: a Team Edition changed to Enterprise in the product is upgraded as
    /// Enterprise, with a warning; a binary that does not say keeps the recorded edition.
    #[test]
    fn the_edition_comes_from_the_installed_binary() {
        let runner = Arc::new(FakeRunner::default());
        let ctx = Context::default().with_runner(runner.clone());
        let team = Installed {
            installation: Installation {
                version: "11.10.1".into(),
                edition: "team".into(),
                arch: "amd64".into(),
                install_dir: INSTALL_DIR.into(),
                installed_at: String::new(),
                tarball_sha256: String::new(),
                signed_by: String::new(),
                signed_at: None,
                site_url: String::new(),
                database: "local".into(),
                tls: false,
            },
            adopted: false,
        };
        runner.answer(
            "setsid --wait runuser -u mattermost",
            0,
            "Version: 11.10.1\nBuild Enterprise Ready: true\n",
        );
        let (edition, warning) = installed_edition(&ctx, &team).unwrap();
        assert_eq!(edition, Edition::Enterprise);
        let warning = warning.unwrap();
        assert!(
            warning.contains("enterprise edition") && warning.contains("not the team edition"),
            "{warning}"
        );
        assert!(
            runner.lines()[0].ends_with("/opt/mattermost/bin/mattermost version"),
            "{:?}",
            runner.lines()
        );
        runner.answer(
            "setsid --wait runuser -u mattermost",
            0,
            "Version: 11.10.1\nBuild Enterprise Ready: false\n",
        );
        assert_eq!(
            installed_edition(&ctx, &team).unwrap(),
            (Edition::Team, None)
        );
        runner.answer(
            "setsid --wait runuser -u mattermost",
            0,
            "Version: 11.10.1\n",
        );
        assert_eq!(
            installed_edition(&ctx, &team).unwrap(),
            (Edition::Team, None)
        );
        runner.answer(
            "setsid --wait runuser -u mattermost",
            1,
            "Build Enterprise Ready: true\n",
        );
        assert_eq!(
            installed_edition(&ctx, &team).unwrap(),
            (Edition::Team, None)
        );
        // An image below another root is never asked.
        let image = Context::new("/nonexistent").with_runner(runner.clone());
        let asked = runner.lines().len();
        assert_eq!(
            installed_edition(&image, &team).unwrap(),
            (Edition::Team, None)
        );
        assert_eq!(runner.lines().len(), asked);
    }

    /// Rows of `db_migrations`, highest first, as [`postgres::applied_migrations`] returns them.
    fn applied(versions: &[i64]) -> Vec<postgres::AppliedMigration> {
        let mut rows: Vec<_> = versions
            .iter()
            .map(|&version| postgres::AppliedMigration {
                version,
                name: format!("migration_{version}"),
            })
            .collect();
        rows.sort_by_key(|row| std::cmp::Reverse(row.version));
        rows
    }

    #[test]
    fn the_rollbacks_database_step_follows_db_migrations_and_the_flag() {
        use SchemaChoice::{BinaryOnly, Downgrade, RestoreDatabase};
        use SchemaDecision as D;
        let head = |head| Some(postgres::SchemaHead { head });
        let none: Option<SchemaChoice> = None;
        // (live migrations, head the kept release ran on, flag, decision or the refusal's text)
        let cases: Vec<(Vec<i64>, _, _, Result<D, &str>)> = vec![
            // The schema did not change: no flag needed, and a downgrade has nothing to do.
            (vec![1, 2], head(Some(2)), none, Ok(D::Unchanged)),
            (vec![1, 2], head(Some(2)), Some(Downgrade), Ok(D::Unchanged)),
            (
                vec![1, 2],
                head(Some(2)),
                Some(BinaryOnly),
                Ok(D::Unchanged),
            ),
            (vec![], head(None), none, Ok(D::Unchanged)),
            (vec![], None, none, Ok(D::Unchanged)),
            // Rolling "back" to a newer release: it migrates at start.
            (vec![1], head(Some(3)), none, Ok(D::Unchanged)),
            // The restore is asked for: always, as before.
            (
                vec![1, 2],
                head(Some(2)),
                Some(RestoreDatabase),
                Ok(D::Restore),
            ),
            (
                vec![1, 2, 3],
                head(Some(1)),
                Some(RestoreDatabase),
                Ok(D::Restore),
            ),
            // Newer: refused without a flag, naming the heads and the migrations.
            (
                vec![1, 2, 3],
                head(Some(1)),
                none,
                Err(
                    "db_migrations is at 3, Mattermost 11.10.1 ran on 1; 11.10.2 applied 3 migration_3, 2 migration_2",
                ),
            ),
            (
                vec![1],
                head(None),
                none,
                Err("db_migrations is at 1, Mattermost 11.10.1 ran on none"),
            ),
            (
                vec![1, 2, 3],
                head(Some(1)),
                Some(Downgrade),
                Ok(D::Downgrade {
                    versions: vec![3, 2],
                }),
            ),
            (
                vec![1],
                head(None),
                Some(Downgrade),
                Ok(D::Downgrade { versions: vec![1] }),
            ),
            (
                vec![1, 2, 3],
                head(Some(1)),
                Some(BinaryOnly),
                Ok(D::BinaryOnly { newer: vec![3, 2] }),
            ),
            // The kept release's schema was never recorded: nothing to downgrade by.
            (vec![1, 2], None, none, Err("cannot be downgraded")),
            (
                vec![1, 2],
                None,
                Some(Downgrade),
                Err("cannot be downgraded"),
            ),
            (
                vec![1, 2],
                None,
                Some(BinaryOnly),
                Ok(D::BinaryOnly { newer: vec![] }),
            ),
        ];
        for (live, kept, choice, expected) in cases {
            let decided = decide_schema(&applied(&live), kept, choice, "11.10.2", "11.10.1");
            let case = format!("live {live:?}, kept {kept:?}, {choice:?}");
            match (decided, expected) {
                (Ok(decision), Ok(expected)) => assert_eq!(decision, expected, "{case}"),
                (Err(err), Err(text)) => {
                    assert_eq!(err.exit_code(), ExitCode::Usage, "{case}");
                    let message = err.to_string();
                    assert!(message.contains(text), "{case}: {message}");
                    assert!(
                        message.contains("--restore-database")
                            && message.contains("--binary-only")
                            && message.contains("nothing was changed"),
                        "{case}: {message}"
                    );
                }
                (decided, expected) => panic!("{case}: {decided:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn a_schema_downgrade_runs_the_newer_binary_as_the_service_user_outside_roots_session() {
        let command = downgrade_command(&[128, 127, 126]);
        assert_eq!(
            command.to_string(),
            "setsid --wait runuser -u mattermost -- env -i -C /opt/mattermost PATH=/usr/bin:/bin HOME=/opt/mattermost LANG=C.UTF-8 /opt/mattermost/bin/mattermost db downgrade 128,127,126 --config /opt/mattermost/config/config.json"
        );
        let step = Step::DowngradeSchema {
            from: "11.10.2".into(),
            versions: vec![128, 127],
        };
        assert!(
            step.description()
                .contains("Mattermost 11.10.2's `mattermost db downgrade 128,127` (mm-install cannot undo this step"),
            "{}",
            step.description()
        );
        assert_eq!(step.undo(), Undo::Nothing);
    }

    #[test]
    fn policies_pick_the_newest_allowed_release() {
        let available: Vec<Version> = ["11.9.4", "11.10.1", "11.10.3", "11.11.0", "12.0.1"]
            .map(v)
            .to_vec();
        assert_eq!(
            newest_allowed(&v("11.10.1"), &available, Policy::Patch),
            Some(v("11.10.3"))
        );
        assert_eq!(
            newest_allowed(&v("11.10.1"), &available, Policy::Minor),
            Some(v("11.11.0"))
        );
        assert_eq!(
            newest_allowed(&v("11.10.1"), &available, Policy::Latest),
            Some(v("12.0.1"))
        );
        assert_eq!(
            newest_allowed(&v("10.11.2"), &available, Policy::Patch),
            None
        );
    }

    #[test]
    fn state_moves_refuse_a_kept_tree_whose_folder_is_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path());
        let live = ctx.path(INSTALL_DIR);
        fs_err::create_dir_all(live.join("client/plugins/p")).unwrap();
        fs_err::create_dir_all(live.join("data")).unwrap();
        // A root-owned directory, and a kept tree (at the pre-/opt/.mm-install path) whose
        // `client` the service user swapped for a link to it.
        let system = ctx.path("/usr/lib/system");
        fs_err::create_dir_all(system.join("plugins/keep")).unwrap();
        let kept = PathBuf::from("/opt/mattermost-11.9.0-x");
        fs_err::create_dir_all(ctx.path(&kept)).unwrap();
        std::os::unix::fs::symlink(&system, ctx.path(&kept).join("client")).unwrap();
        let err = move_state(&ctx, &kept, &["data".into(), "client/plugins".into()]).unwrap_err();
        assert!(
            err.to_string()
                .contains("mattermost-11.9.0-x/client is a symlink; mm-install never follows"),
            "{err}"
        );
        assert!(system.join("plugins/keep").exists());
        assert!(live.join("client/plugins/p").exists());
        // A real directory: the live folder replaces the kept tree's own.
        fs_err::remove_file(ctx.path(&kept).join("client")).unwrap();
        fs_err::create_dir_all(ctx.path(&kept).join("client/plugins/old")).unwrap();
        move_state(&ctx, &kept, &["client/plugins".into()]).unwrap();
        assert!(ctx.path(&kept).join("client/plugins/p").exists());
        assert!(!ctx.path(&kept).join("client/plugins/old").exists());
        assert!(!live.join("client/plugins").exists());
    }

    /// State with kept releases 11.8.0, 11.9.0 and 11.10.0, their trees and backups on disk.
    fn kept_releases(ctx: &Context) -> State {
        let mut state = State::default();
        for version in ["11.8.0", "11.9.0", "11.10.0"] {
            let tree = format!("/opt/mattermost-{version}-x");
            let backup_dir = format!("/var/lib/mm-install/backups/{version}");
            fs_err::create_dir_all(ctx.path(&tree)).unwrap();
            fs_err::create_dir_all(ctx.path(&backup_dir)).unwrap();
            let installation = Installation {
                version: version.into(),
                edition: "enterprise".into(),
                arch: "amd64".into(),
                install_dir: INSTALL_DIR.into(),
                installed_at: String::new(),
                tarball_sha256: String::new(),
                signed_by: String::new(),
                signed_at: None,
                site_url: String::new(),
                database: "local".into(),
                tls: false,
            };
            state.kept.push(KeptRelease {
                installation,
                tree,
                backup_dir,
                replaced_at: String::new(),
                db_migrations: None,
            });
        }
        state
    }

    #[test]
    fn retention_removes_the_oldest_kept_releases_but_never_the_only_one() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path());
        let state = &mut kept_releases(&ctx);
        let pruned = prune(&ctx, state, 2, &[]).unwrap().pruned;
        assert_eq!(pruned, ["11.8.0 (/opt/mattermost-11.8.0-x)"]);
        assert!(!ctx.path("/opt/mattermost-11.8.0-x").exists());
        assert!(!ctx.path("/var/lib/mm-install/backups/11.8.0").exists());
        assert!(ctx.path("/opt/mattermost-11.9.0-x").exists());
        // keep = 0 would delete everything: at least one stays.
        prune(&ctx, state, 0, &[]).unwrap();
        assert_eq!(state.kept.len(), 1);
        assert_eq!(state.kept[0].installation.version, "11.10.0");
    }

    #[test]
    fn free_space_is_counted_once_per_filesystem() {
        use crate::host::FreeSpace;
        let on = |filesystem, available| FreeSpace {
            filesystem,
            available,
        };
        let gb = 1_000_000_000;
        let release = ("/opt", "2 GB for the new release", 2 * gb);
        let dump = (
            "/var/lib/mm-install/backups",
            "the database's size, for its dump",
            3 * gb,
        );
        let measure = |opt: FreeSpace, backups: FreeSpace| {
            let measured = [
                (release.0.to_string(), release.1, release.2, opt),
                (dump.0.to_string(), dump.1, dump.2, backups),
            ];
            first_shortage(&measured)
                .map(|(dir, what, needed, available)| (dir, what, needed / gb, available / gb))
        };
        // Separate filesystems, each with enough.
        assert_eq!(measure(on(1, 2 * gb), on(2, 3 * gb)), None);
        // One filesystem: 4 GB free is not 2 + 3.
        assert_eq!(
            measure(on(1, 4 * gb), on(1, 4 * gb)),
            Some((dump.0.into(), format!("{} + {}", release.1, dump.1), 5, 4))
        );
        assert_eq!(measure(on(1, 5 * gb), on(1, 5 * gb)), None);
        // /opt alone short.
        assert_eq!(
            measure(on(1, gb), on(2, 9 * gb)),
            Some((release.0.into(), release.1.into(), 2, 1))
        );
    }

    #[test]
    fn retention_spares_a_kept_tree_that_the_live_config_points_into() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path());
        let state = &mut kept_releases(&ctx);
        fs_err::create_dir_all(ctx.path("/opt/mattermost-11.9.0-x/files")).unwrap();
        // The file store is a symlink into 11.9.0's tree, the Bleve index an absolute path into
        // 11.8.0's.
        let live = ctx.path(INSTALL_DIR);
        fs_err::create_dir_all(live.join("config")).unwrap();
        std::os::unix::fs::symlink("../mattermost-11.9.0-x/files", live.join("files")).unwrap();
        let config = serde_json::json!({
            "FileSettings": {"DriverName": "local", "Directory": "./files/"},
            "BleveSettings": {"IndexDir": "/opt/mattermost-11.8.0-x/files/bleve"},
        });
        fs_err::write(live.join("config/config.json"), config.to_string()).unwrap();
        fs_err::create_dir_all(ctx.path("/opt/mattermost-11.8.0-x/files/bleve")).unwrap();

        let retention = prune(&ctx, state, 1, &referenced_paths(&ctx)).unwrap();
        assert!(retention.pruned.is_empty(), "{:?}", retention.pruned);
        assert_eq!(retention.spared.len(), 2);
        assert!(
            retention.spared[0].contains("11.8.0")
                && retention.spared[0].contains("BleveSettings.IndexDir"),
            "{}",
            retention.spared[0]
        );
        assert!(
            retention.spared[1].contains("11.9.0")
                && retention.spared[1].contains("FileSettings.Directory"),
            "{}",
            retention.spared[1]
        );
        let versions: Vec<&str> = state
            .kept
            .iter()
            .map(|k| k.installation.version.as_str())
            .collect();
        assert_eq!(versions, ["11.8.0", "11.9.0", "11.10.0"]);
        assert!(ctx.path("/opt/mattermost-11.9.0-x/files").exists());

        // Once the config no longer points there, the old trees go.
        fs_err::write(live.join("config/config.json"), "{}").unwrap();
        let retention = prune(&ctx, state, 1, &referenced_paths(&ctx)).unwrap();
        assert_eq!(retention.pruned.len(), 2);
        assert!(retention.spared.is_empty());
        assert!(!ctx.path("/opt/mattermost-11.8.0-x").exists());
    }

    /// config.json is the service user's to write: pointing its DataSource at another database
    /// does not point root's pg_dump and pg_restore there.
    #[test]
    fn the_database_recorded_at_install_is_the_only_one_root_acts_on() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path());
        let config = PathBuf::from("/opt/mattermost/config/config.json");
        fs_err::create_dir_all(ctx.path("/opt/mattermost/config")).unwrap();
        let write_config = |data_source: &str| {
            let json = serde_json::json!({"SqlSettings": {"DataSource": data_source}});
            fs_err::write(ctx.path(&config), json.to_string()).unwrap();
        };
        let state = State {
            database: Some("postgres://mmuser@localhost:5432/mattermost".into()),
            ..State::default()
        };
        state.save(&ctx).unwrap();
        // The same database with another password or parameters: fine.
        write_config("postgres://mmuser:new@localhost:5432/mattermost?sslmode=disable");
        connection(&ctx, &config).unwrap();
        write_config("postgres://postgres:x@attacker.example:5432/mattermost");
        let err = connection(&ctx, &config).unwrap_err();
        assert!(matches!(err, UpgradeError::DatabaseMoved { .. }), "{err}");
        assert!(err.to_string().contains("attacker.example"), "{err}");
        assert!(err.hint().unwrap().contains("state.json"));
        // The undo of the database step refuses too, and runs nothing.
        let runner = Arc::new(FakeRunner::default());
        let ctx = Context::new(dir.path()).with_runner(runner.clone());
        let undo = Undo::RestoreDatabase {
            dump: "/var/lib/mm-install/backups/x/database.dump".into(),
            config: config.clone(),
            database: state.database.clone(),
            unless_db_migrations: None,
            legacy_fingerprint: None,
            aside: None,
        };
        let err = undo.apply(&ctx, false, &crate::report::Silent).unwrap_err();
        assert!(err.to_string().contains("attacker.example"), "{err}");
        assert!(runner.lines().is_empty(), "{:?}", runner.lines());
    }

    /// A MySQL deployment cannot start v11: refused from the data file before anything, not
    /// even the database, is touched; v10.11 is still allowed past that check.
    #[test]
    fn a_setting_the_target_refuses_blocks_the_upgrade_before_any_change() {
        let runner = Arc::new(FakeRunner::default());
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path()).with_runner(runner.clone());
        let config = ctx.path("/opt/mattermost/config/config.json");
        fs_err::create_dir_all(config.parent().unwrap()).unwrap();
        fs_err::write(
            &config,
            r#"{"SqlSettings": {"DriverName": "mysql", "DataSource": "mmuser:x@tcp(db:3306)/mattermost"}}"#,
        )
        .unwrap();
        let mut state = kept_releases(&ctx);
        let mut installation = state.kept.remove(0).installation;
        installation.version = "10.11.4".into();
        let installed = || Installed {
            installation: installation.clone(),
            adopted: false,
        };
        let target = |version: &str| Artifact {
            version: version.parse().unwrap(),
            edition: Edition::Enterprise,
            arch: crate::host::Arch::Amd64,
        };
        let err = plan_upgrade(&ctx, installed(), target("11.0.0"), &Settings::default())
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(
            text.contains(
                "Mattermost 11.0.0 does not start with SqlSettings.DriverName = \"mysql\""
            ),
            "{text}"
        );
        assert!(err.hint().unwrap().contains("postgres-migration"));
        assert!(
            runner.lines().is_empty(),
            "nothing ran: {:?}",
            runner.lines()
        );
        // 10.11 is not blocked by it (it fails later, at the MySQL DataSource, which
        // mm-install cannot back up).
        let err = plan_upgrade(&ctx, installed(), target("10.11.5"), &Settings::default())
            .err()
            .unwrap();
        assert!(
            !matches!(err, UpgradeError::BlockingSetting { .. }),
            "{err}"
        );

        // PostgreSQL 13: enough for 10.11 (10.6 raised the minimum to 13), not for 11.0.
        fs_err::write(
            &config,
            r#"{"SqlSettings": {"DriverName": "postgres", "DataSource": "postgres://mmuser:x@db:5432/mattermost"}}"#,
        )
        .unwrap();
        runner.answer("psql", 0, "130011\n");
        let err = plan_upgrade(&ctx, installed(), target("11.0.0"), &Settings::default())
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(
            text.contains("PostgreSQL 13.11, but Mattermost 11.0.0 needs 14 or newer"),
            "{text}"
        );
        let err = plan_upgrade(&ctx, installed(), target("10.11.5"), &Settings::default())
            .err()
            .unwrap();
        assert!(!matches!(err, UpgradeError::DatabaseTooOld { .. }), "{err}");
    }

    #[test]
    fn an_old_pg_dump_fails_the_preflight_naming_both_versions_and_the_package() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer(
            "pg_dump --version",
            0,
            "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n",
        );
        let ctx = Context::default().with_runner(runner.clone());
        let connection =
            postgres::Connection::from_data_source("postgres://mmuser:hunter2@db:5432/mattermost")
                .unwrap();
        // Same or older server: fine.
        check_pg_dump(&ctx, &connection, 150010, Some(Family::Debian)).unwrap();
        check_pg_dump(&ctx, &connection, 140012, Some(Family::Debian)).unwrap();
        // A newer server: refused before any change, naming what to install.
        let err = check_pg_dump(&ctx, &connection, 160004, Some(Family::Debian)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("pg_dump 15.18") && text.contains("PostgreSQL 16.4"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(err.exit_code(), ExitCode::Failure);
        assert!(err.hint().unwrap().contains("postgresql-client-16"));
        let err = check_pg_dump(&ctx, &connection, 170002, Some(Family::Rhel)).unwrap_err();
        let hint = err.hint().unwrap();
        assert!(
            hint.contains("dnf install postgresql17") && hint.contains("postgresql:17"),
            "{hint}"
        );
        let err = check_pg_dump(&ctx, &connection, 170002, None).unwrap_err();
        let hint = err.hint().unwrap();
        assert!(
            hint.contains("postgresql-client-17") && hint.contains("postgresql17"),
            "{hint}"
        );
        // Only `pg_dump --version` ran: nothing was changed.
        assert!(
            runner
                .lines()
                .iter()
                .all(|l| l.starts_with("pg_dump --version"))
        );
    }

    // Issue 10, hole 8: the service user's binary never runs in root's session or environment,
    // and not at all when the state file knows the version.
    #[test]
    fn the_installed_version_comes_from_state_else_an_isolated_binary() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Arc::new(FakeRunner::default());
        runner.answer("setsid", 0, "Version: 11.10.1\nBuild Number: 123\n");
        let ctx = Context::new(dir.path()).with_runner(runner.clone());
        let tree = ctx.path(INSTALL_DIR);
        fs_err::create_dir_all(tree.join("bin")).unwrap();
        fs_err::create_dir_all(tree.join("config")).unwrap();
        fs_err::write(tree.join("bin/mattermost"), "").unwrap();
        // A listen port where nothing answers: the ping fails, so the binary is asked.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(r#"{{"ServiceSettings": {{"ListenAddress": ":{port}"}}}}"#);
        fs_err::write(tree.join("config/config.json"), config).unwrap();

        let adopted = installed(&ctx).unwrap();
        assert!(adopted.adopted);
        assert_eq!(adopted.installation.version, "11.10.1");
        assert_eq!(
            runner.lines(),
            [
                "setsid --wait runuser -u mattermost -- env -i PATH=/usr/bin:/bin HOME=/opt/mattermost LANG=C.UTF-8 /opt/mattermost/bin/mattermost version"
            ]
        );

        let state = State {
            current: Some(Installation {
                version: "11.9.0".into(),
                ..adopted.installation
            }),
            ..State::default()
        };
        state.save(&ctx).unwrap();
        let recorded = installed(&ctx).unwrap();
        assert!(!recorded.adopted);
        assert_eq!(recorded.installation.version, "11.9.0");
        assert_eq!(runner.lines().len(), 1, "the binary ran again");
        assert_eq!(
            version_from_id("11.10.1.123.abcdef.true"),
            Some(v("11.10.1"))
        );
        assert_eq!(version_from_id("garbage"), None);
    }

    #[test]
    fn an_unattended_upgrade_skips_feed_entries_whose_files_are_not_published() {
        let available = [
            v("11.9.0"),
            v("11.10.0"),
            v("11.10.1"),
            v("11.10.2"),
            v("12.0.0"),
        ];
        let mut asked = Vec::new();
        let missing = [v("11.10.2"), v("11.10.1")];
        let (chosen, skipped) =
            newest_published(&v("11.9.0"), &available, Policy::Minor, |version| {
                asked.push(version.to_string());
                Ok::<_, ()>(missing.contains(version).then(|| "HTTP 403".to_string()))
            })
            .unwrap();
        assert_eq!(chosen, Some(v("11.10.0")));
        assert_eq!(asked, ["11.10.2", "11.10.1", "11.10.0"]);
        assert_eq!(
            skipped,
            [
                "skipped Mattermost 11.10.2 from the releases feed: HTTP 403",
                "skipped Mattermost 11.10.1 from the releases feed: HTTP 403"
            ]
        );
        // Nothing newer published: up to date, with the skips said; nothing older is asked.
        let (chosen, skipped) = newest_published(&v("11.10.0"), &available, Policy::Patch, |_| {
            Ok::<_, ()>(Some("HTTP 404".to_string()))
        })
        .unwrap();
        assert_eq!((chosen, skipped.len()), (None, 2));
        // Any other failure stops the search.
        let failed = newest_published(&v("11.9.0"), &available, Policy::Latest, |_| {
            Err::<Option<String>, _>("network down")
        });
        assert_eq!(failed.unwrap_err(), "network down");
    }

    #[test]
    fn a_release_signed_before_the_installed_one_is_refused() {
        let at = |text: &str| text.parse::<jiff::Timestamp>().unwrap();
        let root = tempfile::tempdir().unwrap();
        let mut installed = kept_releases(&Context::new(root.path()))
            .kept
            .remove(2)
            .installation;
        installed.signed_at = Some("2026-11-20T10:00:00Z".into());
        let verified = |signed_at: Option<&str>| Verified {
            sha256: String::new(),
            signer_fingerprint: String::new(),
            signed_at: signed_at.map(at),
            warnings: Vec::new(),
        };
        // Another line (a new minor or major, perhaps first released before the installed
        // patch): not compared.
        for other_line in ["11.11.0", "12.0.0"] {
            assert!(
                check_signature_age(
                    &installed,
                    &verified(Some("2026-01-01T00:00:00Z")),
                    &v(other_line)
                )
                .unwrap()
                .is_none()
            );
        }
        let target = v("11.10.1");
        let older =
            check_signature_age(&installed, &verified(Some("2026-11-20T09:59:59Z")), &target)
                .unwrap_err();
        assert_eq!(
            older.to_string(),
            "the signature of Mattermost 11.10.1 was made at 2026-11-20T09:59:59Z, before the installed Mattermost 11.10.0's (2026-11-20T10:00:00Z): an older release served under a newer name is refused"
        );
        assert_eq!(older.exit_code(), ExitCode::VerificationFailed);
        for same_or_newer in ["2026-11-20T10:00:00Z", "2026-11-27T08:00:00Z"] {
            assert!(
                check_signature_age(&installed, &verified(Some(same_or_newer)), &target)
                    .unwrap()
                    .is_none()
            );
        }
        let unknown = check_signature_age(&installed, &verified(None), &target).unwrap();
        assert!(unknown.unwrap().contains("carries no creation time"));
        // A state file from before the field existed: the check is skipped with a note.
        installed.signed_at = None;
        let old_state =
            check_signature_age(&installed, &verified(Some("2020-01-01T00:00:00Z")), &target)
                .unwrap();
        assert!(
            old_state
                .as_deref()
                .is_some_and(|note| note.contains("is not recorded")),
            "{old_state:?}"
        );
    }

    #[test]
    fn upgrade_paths_follow_mattermosts_rules() {
        assert!(check_upgrade_path(&v("11.10.1"), &v("12.0.0")).is_ok());
        assert!(check_upgrade_path(&v("10.11.5"), &v("11.10.0")).is_ok());
        let err = check_upgrade_path(&v("9.11.0"), &v("11.10.0")).unwrap_err();
        assert!(err.to_string().contains("skips major version 10"), "{err}");
        let err = check_upgrade_path(&v("6.3.0"), &v("7.8.0")).unwrap_err();
        assert!(err.to_string().contains("v7.1 ESR"), "{err}");
        assert!(check_upgrade_path(&v("6.3.0"), &v("7.1.9")).is_ok());
    }
}
