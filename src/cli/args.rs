//! The clap definitions of every command and flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::host::Arch;
use crate::ops::upgrade::SchemaChoice;
use crate::release::{DEFAULT_RELEASE_URL, DEFAULT_RELEASES_API, Edition, Version};
use crate::site_url::{self, SiteUrl};

/// `Option<SiteUrl>` under a name clap's derive does not read as "the flag is optional": the
/// value of a `--site-url` that may be `''` (no site URL).
type SiteUrlOrNone = Option<SiteUrl>;

/// Install, upgrade and roll back a self-hosted Mattermost server, with verified downloads.
///
/// Without a command, `mm-install` runs `mm-install install`, asking its questions on the
/// terminal.
#[derive(Debug, Parser)]
#[command(name = "mm-install", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Act on the filesystem tree below DIR instead of / (image building, tests).
    #[arg(long, global = true, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Base URL of the release server or a mirror of it.
    #[arg(long, global = true, value_name = "URL", default_value = DEFAULT_RELEASE_URL)]
    pub release_url: String,
    /// GitHub-releases-shaped JSON feed used by --latest.
    #[arg(long, global = true, value_name = "URL", default_value = DEFAULT_RELEASES_API)]
    pub releases_api: String,
    /// Also trust the OpenPGP public keys in FILE (armored or binary); repeatable.
    #[arg(long, global = true, value_name = "FILE")]
    pub keyring: Vec<PathBuf>,
    /// Also trust the CA certificates in FILE (PEM) for HTTPS, besides the system's trust
    /// store: a private CA or a TLS-inspecting proxy. Overrides `ca_cert` in
    /// /etc/mm-install/mm-install.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Print only errors and warnings.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Never draw progress bars (they are drawn only on a terminal anyway).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install Mattermost on this server (or below --root): PostgreSQL, the release, systemd,
    /// nginx; then prove it works through nginx.
    Install(InstallArgs),
    /// Show the operating system, its support level and the facts the installer uses.
    DetectOs(DetectOsArgs),
    /// Download a release and verify its signature and checksum (for air-gapped mirrors).
    Download(DownloadArgs),
    /// Print a rendered template: the systemd unit or the nginx site mm-install would write.
    Render(RenderArgs),
    /// Print the Deployment Solutions Program statements for a tier (filled in for this
    /// system), or check a README for them.
    Docs(DocsArgs),
    /// Upgrade to the newest release the policy allows (or --version X), with a backup, a
    /// health check and automatic rollback; safe to run unattended from cron or a timer.
    Upgrade(UpgradeArgs),
    /// Go back to the release before the current one (or --to VERSION), optionally with the
    /// database as it was before that upgrade.
    Rollback(RollbackArgs),
    /// Show the installed version, the newest one the policy allows, the service, and the kept
    /// releases and backups.
    Status(StatusArgs),
    /// Run the Deployment Solutions Program's four install tests against a live server, over
    /// REST API v4 and the websocket: users, a team, posts, an image reply, live events.
    Verify(VerifyArgs),
    /// Print the man page (roff) generated from this command line definition.
    Man,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(subcommand)]
    pub template: RenderTemplate,
}

#[derive(Debug, Subcommand)]
pub enum RenderTemplate {
    /// The systemd unit (`/etc/systemd/system/mattermost.service`).
    Systemd {
        /// Order the unit after the local PostgreSQL (as an install with a local database does).
        #[arg(long)]
        local_database: bool,
    },
    /// The nginx site.
    Nginx {
        /// The site URL; its host becomes `server_name` (default: any host name).
        #[arg(long, value_name = "URL", default_value = "", value_parser = site_url::parse_or_none)]
        site_url: SiteUrlOrNone,
        /// Serve HTTPS with this certificate (and redirect HTTP); requires --tls-key.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The TLS private key; requires --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// The nginx version whose HTTP/2 syntax to use (default: `http2` on the listen line,
        /// as nginx before 1.25.1 needs).
        #[arg(long, value_name = "VERSION", default_value = "1.22.1")]
        nginx_version: String,
        /// The largest upload in MiB (Mattermost's FileSettings.MaxFileSize).
        #[arg(long, value_name = "MIB", default_value_t = crate::render::DEFAULT_MAX_FILE_SIZE_MB)]
        max_upload_mb: u64,
        /// Do not claim port 80 as nginx's default server (RHEL's conf.d layout).
        #[arg(long)]
        no_default_server: bool,
    },
    /// The unattended-upgrade service and timer (mm-install-upgrade.service and .timer).
    Timer {
        /// Print only the service or only the timer; both by default.
        #[arg(long)]
        only: Option<TimerUnit>,
        /// The mm-install executable the service runs.
        #[arg(long, value_name = "PATH", default_value = "/usr/bin/mm-install")]
        binary: PathBuf,
    },
}

/// One of the two units `render timer --only` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TimerUnit {
    /// mm-install-upgrade.service.
    Service,
    /// mm-install-upgrade.timer.
    Timer,
}

#[derive(Debug, Args)]
pub struct DocsArgs {
    /// The program tier whose statements to print or check.
    #[arg(long)]
    pub tier: crate::ops::docs::Tier,
    /// Check FILE (the README or equivalent) for the tier's statements instead of printing
    /// them: a line per requirement, exit 1 if any is missing or altered.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
    /// Name the RHEL equivalent this os-release file describes instead of this system's
    /// (read as given, not below --root).
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub os_release: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// Upgrade to exactly this version.
    #[arg(long, value_name = "X.Y.Z", conflicts_with = "latest")]
    pub version: Option<Version>,
    /// Upgrade to the newest release the policy allows (the default).
    #[arg(long)]
    pub latest: bool,
    /// Which releases are allowed: patch (same MAJOR.MINOR; the default), minor (same MAJOR) or
    /// latest. Overrides `policy` in /etc/mm-install/mm-install.toml.
    #[arg(long)]
    pub policy: Option<crate::settings::Policy>,
    /// Upgrade from this release tarball instead of downloading (air-gapped servers); the
    /// version is --version or the one in the file name. It is read once, into the cache.
    #[arg(
        long,
        value_name = "FILE",
        requires = "signature",
        conflicts_with = "latest"
    )]
    pub tarball: Option<PathBuf>,
    /// The tarball's detached OpenPGP signature (with --tarball).
    #[arg(long, value_name = "FILE", requires = "tarball")]
    pub signature: Option<PathBuf>,
    /// An earlier upgrade or rollback was interrupted after it started the new server (exit
    /// 10): keep that server and record the operation as done, then stop.
    #[arg(long, conflicts_with = "dry_run")]
    pub keep_started: bool,
    /// Do not ask for confirmation on a terminal (nothing is ever asked without one).
    #[arg(short, long)]
    pub yes: bool,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Roll back to this kept version instead of the one before the current release.
    #[arg(long, value_name = "X.Y.Z")]
    pub to: Option<Version>,
    /// When the kept release ran on an older database schema (Mattermost's db_migrations):
    /// first undo the newer migrations with the current release's own `mattermost db
    /// downgrade`, as Mattermost's downgrade guide documents. Every post is kept; a verified
    /// dump is taken just before and restored if the rollback fails.
    #[arg(long, conflicts_with_all = ["restore_database", "binary_only"])]
    pub downgrade_schema: bool,
    /// Restore the database dump taken before that upgrade: everything written since is lost.
    #[arg(long, conflicts_with = "binary_only")]
    pub restore_database: bool,
    /// Swap the binaries only, leaving the database on a newer schema than the kept release
    /// ran on (Mattermost does not support this).
    #[arg(long)]
    pub binary_only: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub yes: bool,
    /// Print the plan, including what happens to the database, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl RollbackArgs {
    /// The database choice the flags make, if any.
    pub fn schema_choice(&self) -> Option<SchemaChoice> {
        if self.downgrade_schema {
            Some(SchemaChoice::Downgrade)
        } else if self.restore_database {
            Some(SchemaChoice::RestoreDatabase)
        } else if self.binary_only {
            Some(SchemaChoice::BinaryOnly)
        } else {
            None
        }
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `mm-install verify`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
The tests: (1) create user 1, use it to create a team and post in Town Square; (2) create user 2,
add it to the team and reply in the thread; (3) as user 1, reply with an uploaded PNG attached;
(4) a websocket opened as user 1 through the site URL, held open for the whole run, receives the
`posted` event of each post (a websocket that fails is the red \"Mattermost unreachable\" bar).
A checklist is printed (✓/✗ per test); the exit code is 0 only if all four pass.

On a server without accounts, user 1 becomes the system admin (the first account always does).
Once a server has accounts (deactivated ones count, including those of an earlier verify), sign-up
is closed, and the test users are created with --admin-token: a system admin's personal access
token or session token.

Afterwards the team is archived and both users are deactivated (the API does not delete them),
unless --keep, which prints their names and passwords (and, with --json, their session tokens).")]
pub struct VerifyArgs {
    /// The site URL to test (default: the one recorded at install, else http://localhost).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Keep the test users and team instead of deactivating and archiving them.
    #[arg(long)]
    pub keep: bool,
    /// Print a JSON report instead of the checklist.
    #[arg(long)]
    pub json: bool,
    /// Accept any TLS certificate (a self-signed one).
    #[arg(long)]
    pub insecure: bool,
    /// A system admin's personal access token or session token, needed once the server has
    /// accounts.
    #[arg(
        long,
        value_name = "TOKEN",
        env = crate::environment::ADMIN_TOKEN,
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
}

#[derive(Debug, Args)]
pub struct DetectOsArgs {
    /// Read this os-release file (as given, not below --root) instead of /etc/os-release.
    #[arg(long, value_name = "FILE")]
    pub os_release: Option<PathBuf>,
    /// Print JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Report for this architecture instead of the host's.
    #[arg(long, ignore_case = true)]
    pub arch: Option<Arch>,
}

/// Which release to act on.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ReleaseSelector {
    /// The Mattermost version, e.g. 11.10.0 (release candidates: 11.10.0-rc2).
    #[arg(long, value_name = "X.Y.Z")]
    pub version: Option<Version>,
    /// The newest stable release listed by --releases-api.
    #[arg(long)]
    pub latest: bool,
}

/// Which release to install: like [`ReleaseSelector`], but neither flag means the default
/// version this mm-install ships with.
#[derive(Debug, Default, Args)]
#[group(required = false, multiple = false)]
pub struct OptionalReleaseSelector {
    /// The Mattermost version (default: the version this mm-install was released with).
    #[arg(long, value_name = "X.Y.Z")]
    pub version: Option<Version>,
    /// The newest stable release listed by --releases-api.
    #[arg(long)]
    pub latest: bool,
}

#[derive(Debug, Default, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub release: OptionalReleaseSelector,
    /// enterprise (default) or team.
    #[arg(long)]
    pub edition: Option<Edition>,
    /// Install for this architecture instead of the host's.
    #[arg(long, ignore_case = true)]
    pub arch: Option<Arch>,
    /// The URL users will reach Mattermost at, e.g. https://chat.example.com (http or https, a
    /// host name or address, an optional port; no sub-path).
    /// `''` means none: nginx then answers any host name.
    #[arg(long, value_name = "URL", value_parser = site_url::parse_or_none)]
    pub site_url: Option<SiteUrlOrNone>,
    /// Use this existing PostgreSQL (>= 14) instead of installing one locally,
    /// e.g. postgres://mmuser:PASSWORD@db.example.com:5432/mattermost?sslmode=require.
    /// Every user can read a command line with `ps`: for a URL with a password, prefer
    /// --database-url-file or the environment variable.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with_all = ["no_database", "database_url_file"],
        env = crate::environment::DATABASE_URL,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Read the database URL from the first line of FILE (keep it readable by root only).
    #[arg(long, value_name = "FILE", conflicts_with = "no_database")]
    pub database_url_file: Option<PathBuf>,
    /// Leave the database unconfigured (only with --root, for images configured at first boot).
    #[arg(long)]
    pub no_database: bool,
    /// TLS certificate (full chain, PEM) for nginx; requires --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for nginx; requires --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Install from this release tarball instead of downloading (air-gapped servers).
    #[arg(long, value_name = "FILE", requires = "signature")]
    pub tarball: Option<PathBuf>,
    /// The tarball's detached OpenPGP signature (with --tarball).
    #[arg(long, value_name = "FILE", requires = "tarball")]
    pub signature: Option<PathBuf>,
    /// Expected SHA-256 of the tarball.
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// Install on a platform Mattermost does not support.
    #[arg(long)]
    pub allow_unsupported: bool,
    /// After installing, run `mm-install verify` against the site URL.
    #[arg(long)]
    pub verify: bool,
    /// Answer yes to the final confirmation (required without a terminal).
    #[arg(short, long)]
    pub yes: bool,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    #[command(flatten)]
    pub release: ReleaseSelector,
    /// enterprise (default) or team.
    #[arg(long, value_enum, default_value_t = Edition::Enterprise)]
    pub edition: Edition,
    /// The architecture to download for; defaults to the host's.
    #[arg(long, ignore_case = true)]
    pub arch: Option<Arch>,
    /// Directory to put the verified tarball in.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Expected SHA-256 of the tarball (otherwise a published <tarball>.sha256 is used if any).
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// Read the detached signature from FILE instead of <tarball URL>.sig.
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
    /// After verification, safely extract the release into DIR (which must not exist yet) and
    /// print the path of its `mattermost/` tree instead of the tarball's.
    #[arg(long, value_name = "DIR")]
    pub extract: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
