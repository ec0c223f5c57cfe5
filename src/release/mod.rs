//! Mattermost releases: version numbers, editions, the artifact names and URLs on the release
//! server, and discovery of the newest release from a GitHub-releases-shaped JSON feed.

mod artifact;
mod feed;
mod version;

pub use artifact::{Artifact, DEFAULT_RELEASE_URL, Edition};
pub use feed::{DEFAULT_RELEASES_API, stable_versions};
pub use version::Version;

use crate::exit::{Diagnostic, ExitCode};

/// The Mattermost version installed when none is given. Shipping a security release is this
/// one-line change (see docs/releasing.md); nothing else names a default version.
pub const DEFAULT_VERSION: &str = "11.10.0";

/// What can go wrong while naming or discovering a release.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(
        "invalid version `{text}`: expected MAJOR.MINOR.PATCH such as 11.10.0, or a release candidate such as 11.10.0-rc2"
    )]
    InvalidVersion { text: String },
    #[error(
        "cannot tell the version from the file name {name}; pass --version X.Y.Z with --tarball"
    )]
    VersionNotInFileName { name: String },
    #[error("invalid edition `{text}`: expected `enterprise` or `team`")]
    InvalidEdition { text: String },
    #[error("the releases feed {url} is not a GitHub-releases-shaped JSON array: {reason}")]
    BadFeed { url: String, reason: String },
    #[error(
        "the releases feed {url} lists no stable release (every entry is a draft, a pre-release or has an unreadable tag)"
    )]
    EmptyFeed { url: String },
}

impl Diagnostic for ReleaseError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ReleaseError::InvalidVersion { .. }
            | ReleaseError::VersionNotInFileName { .. }
            | ReleaseError::InvalidEdition { .. } => ExitCode::Usage,
            ReleaseError::BadFeed { .. } | ReleaseError::EmptyFeed { .. } => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ReleaseError::InvalidVersion { .. } => Some(
                "pass --version with a released Mattermost version, or --latest for the newest one"
                    .into(),
            ),
            ReleaseError::VersionNotInFileName { .. } | ReleaseError::InvalidEdition { .. } => None,
            ReleaseError::BadFeed { .. } | ReleaseError::EmptyFeed { .. } => Some(
                "check --releases-api, or name the release with --version X.Y.Z instead of --latest"
                    .into(),
            ),
        }
    }
}
