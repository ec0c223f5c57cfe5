//! The clap definitions of every command and flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::host::Arch;
use crate::release::{DEFAULT_RELEASE_URL, DEFAULT_RELEASES_API, Edition, Version};

/// Install, upgrade and roll back a self-hosted Mattermost server, with verified downloads.
#[derive(Debug, Parser)]
#[command(name = "mm-install", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
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
    /// Print only errors and warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Never draw progress bars (they are drawn only on a terminal anyway).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the operating system, its support level and the facts the installer uses.
    DetectOs(DetectOsArgs),
    /// Download a release and verify its signature and checksum (for air-gapped mirrors).
    Download(DownloadArgs),
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
    #[arg(long, value_name = "amd64|arm64")]
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

#[derive(Debug, Args)]
pub struct DownloadArgs {
    #[command(flatten)]
    pub release: ReleaseSelector,
    /// enterprise (default) or team.
    #[arg(long, default_value_t = Edition::Enterprise, value_name = "enterprise|team")]
    pub edition: Edition,
    /// The architecture to download for; defaults to the host's.
    #[arg(long, value_name = "amd64|arm64")]
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
}
