//! mm-install's own settings, `/etc/mm-install/mm-install.toml` (shipped commented out by the
//! packages). Read by `upgrade`, `rollback` and `status`: the update policy, the paths an
//! upgrade carries over, how many backups to keep, and the webhook to notify; and by every
//! command that makes HTTPS requests: a CA file trusted besides the system store. A flag always
//! wins over the file; a missing file means the defaults.

use std::path::PathBuf;

use serde::Deserialize;

use crate::context::Context;
use crate::exit::{Diagnostic, ExitCode};

/// The settings file's path below the root.
pub const SETTINGS_PATH: &str = "/etc/mm-install/mm-install.toml";

/// Which releases an unattended upgrade may move to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Only patch releases of the installed MAJOR.MINOR: security and bug fixes.
    #[default]
    Patch,
    /// Newer minor releases of the same major version too.
    Minor,
    /// The newest stable release, even a new major version.
    Latest,
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::keyword::write(self, f)
    }
}

/// The settings file's content (only the keys the commands read; unknown keys are kept for
/// the future and ignored).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub policy: Policy,
    /// Extra paths below /opt/mattermost an upgrade carries over.
    pub preserve: Vec<PathBuf>,
    /// Previous releases and backups to keep.
    pub keep: usize,
    /// Incoming-webhook URL told about unattended upgrades; empty for none.
    pub webhook_url: String,
    /// A PEM file of CA certificates trusted for HTTPS besides the system store.
    pub ca_cert: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            policy: Policy::Patch,
            preserve: Vec::new(),
            keep: 2,
            webhook_url: String::new(),
            ca_cert: None,
        }
    }
}

/// The settings file is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{path} is not valid: {reason}")]
pub struct SettingsError {
    pub path: String,
    pub reason: String,
}

impl Diagnostic for SettingsError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Usage
    }

    fn hint(&self) -> Option<String> {
        Some("fix the file (every key is documented in the shipped copy) or move it away to use the defaults".into())
    }
}

impl Settings {
    /// Read the settings below the root; a missing file is the defaults.
    pub fn load(ctx: &Context) -> Result<Settings, SettingsError> {
        let path = ctx.path(SETTINGS_PATH);
        let invalid = |reason: String| SettingsError {
            path: path.display().to_string(),
            reason,
        };
        let text = match fs_err::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Settings::default());
            }
            Err(err) => return Err(invalid(err.to_string())),
        };
        let settings: Settings = toml::from_str(&text).map_err(|err| invalid(err.to_string()))?;
        if settings.keep == 0 {
            return Err(invalid(
                "keep must be at least 1 (the release before the current one)".into(),
            ));
        }
        if let Some(bad) = settings.preserve.iter().find(|p| {
            p.is_absolute()
                || p.components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
        }) {
            return Err(invalid(format!(
                "preserve entry {} must be a relative path inside /opt/mattermost",
                bad.display()
            )));
        }
        if let Some(path) = settings.ca_cert.as_ref().filter(|p| !p.is_absolute()) {
            return Err(invalid(format!(
                "ca_cert {} must be an absolute path",
                path.display()
            )));
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: Option<&str>) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = text {
            fs_err::create_dir_all(dir.path().join("etc/mm-install")).unwrap();
            fs_err::write(dir.path().join("etc/mm-install/mm-install.toml"), text).unwrap();
        }
        Settings::load(&Context::new(dir.path()))
    }

    #[test]
    fn defaults_apply_without_a_file_or_with_everything_commented() {
        for text in [None, Some("# policy = \"latest\"\n")] {
            let settings = load(text).unwrap();
            assert_eq!(settings.policy, Policy::Patch);
            assert_eq!(settings.keep, 2);
            assert!(settings.preserve.is_empty() && settings.webhook_url.is_empty());
        }
    }

    #[test]
    fn keys_are_read_and_checked() {
        let settings = load(Some(
            "policy = \"minor\"\npreserve = [\"bleve-indexes\"]\nkeep = 3\nedition = \"team\"\n\
             ca_cert = \"/etc/ssl/private-ca.pem\"\n",
        ))
        .unwrap();
        assert_eq!(
            settings.ca_cert,
            Some(PathBuf::from("/etc/ssl/private-ca.pem"))
        );
        assert_eq!(settings.policy, Policy::Minor);
        assert_eq!(settings.preserve, [PathBuf::from("bleve-indexes")]);
        assert_eq!(settings.keep, 3);
        for bad in [
            "policy = \"newest\"",
            "keep = 0",
            "preserve = [\"../etc\"]",
            "keep = [",
            "ca_cert = \"ca.pem\"",
        ] {
            let err = load(Some(bad)).unwrap_err();
            assert!(err.to_string().contains("mm-install.toml"), "{bad}: {err}");
        }
    }
}
