//! Getting release files onto the host safely: HTTP with retries and resume ([`http`]) over
//! the TLS trust of [`tls`], the trusted keys ([`keyring`]), both set up for a command from its
//! flags and settings ([`client`]), streaming OpenPGP + SHA-256 verification ([`verify`]) and the
//! download itself ([`download`]), which keeps bytes under `<name>.partial` until they verify.

pub mod client;
pub mod download;
pub mod http;
pub mod keyring;
pub mod tls;
pub mod verify;

pub use client::{ClientError, ca_cert, http_client, keyring};
pub use download::{
    ChecksumSource, DownloadRequest, Downloaded, SignatureSource, copy_verified, download_release,
    unpublished,
};
pub use http::{HttpClient, RetryPolicy};
pub use keyring::{Keyring, MATTERMOST_RELEASE_KEY_FINGERPRINT};
pub use tls::TlsError;
pub use verify::{VerifyError, parse_sha256};

use crate::exit::{Diagnostic, ExitCode};
use crate::host::HostError;
use crate::release::{ReleaseError, Version, stable_versions};
use crate::report::Reporter;

/// What can go wrong while fetching or verifying a release.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot reach {url}: {reason}")]
    Network { url: String, reason: String },
    #[error("{url} presented a certificate this host does not trust: {reason}")]
    Untrusted { url: String, reason: String },
    #[error("{from} redirected to the plain HTTP URL {to}; mm-install refuses to leave HTTPS")]
    InsecureRedirect { from: String, to: String },
    #[error("{url} sent more than {limit} bytes, the most mm-install accepts for it")]
    TooLarge { url: String, limit: u64 },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    /// 404 or 410, or 403 (what S3, and so Mattermost's release host, answers for a missing
    /// object: `mattermost-facts.md` §10).
    #[error("nothing is published at {url} (HTTP {status})")]
    NotFound { url: String, status: u16 },
    #[error("{release} is not published at {url} (HTTP {status})")]
    NotPublished {
        release: String,
        url: String,
        status: u16,
    },
    #[error(
        "{url} refused the request: its rate limit for this address is used up (HTTP {status})"
    )]
    RateLimited { url: String, status: u16 },
    #[error("giving up after {attempts} attempts: {last}")]
    GaveUp {
        attempts: u32,
        last: Box<FetchError>,
    },
    #[error("no signature is published at {url}, so the release cannot be verified")]
    MissingSignature { url: String },
    #[error("{url} returned {content_type} instead of a release tarball")]
    NotATarball { url: String, content_type: String },
    #[error(
        "not enough free space in {dir}: the download needs {needed} bytes, {available} are available"
    )]
    NoSpace {
        dir: String,
        needed: u64,
        available: u64,
    },
    #[error("cannot use {origin} as a trusted key: {reason}")]
    Keyring { origin: String, reason: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Diagnostic for FetchError {
    fn exit_code(&self) -> ExitCode {
        match self {
            FetchError::MissingSignature { .. }
            | FetchError::NotATarball { .. }
            | FetchError::Verify(_) => ExitCode::VerificationFailed,
            FetchError::Release(err) => err.exit_code(),
            FetchError::Host(err) => err.exit_code(),
            FetchError::Tls(err) => err.exit_code(),
            _ => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            FetchError::Network { .. } | FetchError::Status { .. } => Some(
                "check the network, the URL, and HTTPS_PROXY/HTTP_PROXY/NO_PROXY if this host needs a proxy"
                    .into(),
            ),
            FetchError::Untrusted { .. } => Some(format!(
                "if the server's certificate comes from a private CA or a TLS-inspecting proxy, \
                 pass that CA with --ca-cert FILE (PEM), set ca_cert in {}, or add it to the \
                 system trust store (update-ca-certificates on Debian/Ubuntu, update-ca-trust \
                 on RHEL)",
                crate::layout::SETTINGS_PATH
            )),
            FetchError::NotFound { .. } | FetchError::NotPublished { .. } => Some(
                "check --version, --edition and --arch (and --release-url for a mirror); the server has no file at that URL (S3-based hosts such as releases.mattermost.com answer 403 for a missing file)"
                    .into(),
            ),
            FetchError::InsecureRedirect { .. } => Some(
                "fix the mirror or proxy so it redirects to an https:// URL, or point --release-url at the final HTTPS address"
                    .into(),
            ),
            FetchError::TooLarge { .. } => Some(
                "the server sent more than it announced or than mm-install accepts (the limits are in docs/security.md); nothing was kept: check --release-url and the mirror"
                    .into(),
            ),
            FetchError::RateLimited { .. } => Some(
                "GitHub allows 60 unauthenticated requests an hour per address: wait an hour, or name the release with --version instead of --latest"
                    .into(),
            ),
            FetchError::GaveUp { .. } => Some(
                "run the same command again later: a partial download is kept and resumed".into(),
            ),
            FetchError::MissingSignature { .. } => Some(
                "mm-install never installs an unsigned release; check --release-url, or pass the signature with --signature FILE"
                    .into(),
            ),
            FetchError::NotATarball { .. } | FetchError::Verify(_) => Some(
                "nothing was kept; if you use a mirror, re-sync it from releases.mattermost.com, then try again"
                    .into(),
            ),
            FetchError::NoSpace { .. } => {
                Some("free some space or choose another directory with --dir".into())
            }
            FetchError::Keyring { .. } => Some(
                "--keyring expects a file with OpenPGP public keys, ASCII-armored or binary".into(),
            ),
            FetchError::Release(err) => err.hint(),
            FetchError::Host(err) => err.hint(),
            FetchError::Tls(err) => err.hint(),
            FetchError::Io(_) => None,
        }
    }
}

/// Every stable Mattermost version the releases feed at `api_url` lists, oldest first.
pub fn stable_releases(
    client: &HttpClient,
    api_url: &str,
    reporter: &dyn Reporter,
) -> Result<Vec<Version>, FetchError> {
    reporter.step(&format!("asking {api_url} for the releases"));
    let body = client.get_small(api_url, reporter)?;
    Ok(stable_versions(api_url, &body)?)
}

/// The newest stable Mattermost version in the releases feed at `api_url`.
pub fn newest_release(
    client: &HttpClient,
    api_url: &str,
    reporter: &dyn Reporter,
) -> Result<Version, FetchError> {
    stable_releases(client, api_url, reporter)?
        .pop()
        .ok_or_else(|| {
            ReleaseError::EmptyFeed {
                url: api_url.to_string(),
            }
            .into()
        })
}

/// `version` when the command line named one, otherwise the newest stable release of the feed
/// at `api_url` (`--latest`), said through `reporter`.
pub fn resolve_version(
    client: &HttpClient,
    api_url: &str,
    version: Option<&Version>,
    reporter: &dyn Reporter,
) -> Result<Version, FetchError> {
    match version {
        Some(version) => Ok(version.clone()),
        None => {
            let version = newest_release(client, api_url, reporter)?;
            reporter.step(&format!("newest release: {version}"));
            Ok(version)
        }
    }
}
