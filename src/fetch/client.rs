//! What a command fetches with, built from plain values (the `--root` context, the settings
//! file read once by the command, the flags' paths): the HTTP client with its retry policy and
//! the CA trusted besides the system store, and the keyring of OpenPGP keys trusted to sign
//! releases. A flag adds to or overrides the settings file, as its `--help` says.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{FetchError, HttpClient, Keyring, RetryPolicy};
use crate::context::Context;
use crate::environment::RETRY_BASE_MS;
use crate::exit::{Diagnostic, ExitCode};
use crate::settings::Settings;

/// The HTTP client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{RETRY_BASE_MS}={text} is not a number of milliseconds")]
    RetryDelay {
        text: String,
        source: std::num::ParseIntError,
    },
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

impl Diagnostic for ClientError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ClientError::RetryDelay { .. } => ExitCode::Failure,
            ClientError::Fetch(err) => err.exit_code(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ClientError::RetryDelay { .. } => None,
            ClientError::Fetch(err) => err.hint(),
        }
    }
}

/// The CA file trusted besides the system store: `flag` (`--ca-cert`), else `ca_cert` from the
/// settings (a path on the system below the context's root).
pub fn ca_cert(ctx: &Context, settings: &Settings, flag: Option<&Path>) -> Option<PathBuf> {
    match flag {
        Some(path) => Some(path.to_path_buf()),
        None => settings.ca_cert.as_ref().map(|path| ctx.path(path)),
    }
}

/// The retry policy, its base delay lowered or raised by [`RETRY_BASE_MS`] when set.
fn retry_policy() -> Result<RetryPolicy, ClientError> {
    let mut retry = RetryPolicy::default();
    if let Ok(text) = std::env::var(RETRY_BASE_MS) {
        let millis: u64 = text
            .parse()
            .map_err(|source| ClientError::RetryDelay { text, source })?;
        retry.base_delay = Duration::from_millis(millis);
    }
    Ok(retry)
}

/// The client every request of a command goes through: [`retry_policy`], trusting the system
/// store plus [`ca_cert`].
pub fn http_client(
    ctx: &Context,
    settings: &Settings,
    ca_cert_flag: Option<&Path>,
) -> Result<HttpClient, ClientError> {
    let retry = retry_policy()?;
    Ok(HttpClient::new(
        retry,
        ca_cert(ctx, settings, ca_cert_flag).as_deref(),
    )?)
}

/// The embedded Mattermost key plus every `keyring` file of the settings (below the context's
/// root) and every file of `extra` (`--keyring`).
pub fn keyring(
    ctx: &Context,
    settings: &Settings,
    extra: &[PathBuf],
) -> Result<Keyring, FetchError> {
    let mut keyring = Keyring::mattermost()?;
    let from_settings = settings.keyring.iter().map(|path| ctx.path(path));
    for path in from_settings.chain(extra.iter().cloned()) {
        keyring.add_file(&path)?;
    }
    Ok(keyring)
}
