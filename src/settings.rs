//! mm-install's own settings, `/etc/mm-install/mm-install.toml` (shipped commented out by the
//! packages). Read by `upgrade`, `rollback` and `status`: the update policy, the paths an
//! upgrade carries over, how many backups to keep, and the webhook to notify; and by every
//! command that makes HTTPS requests: a CA file trusted besides the system store. A flag always
//! wins over the file; a missing file means the defaults. A command loads it once, at its start,
//! and passes `&Settings` down, so a run never mixes two versions of the file.
//!
//! The file decides which keys are trusted and what root carries over, so it must be root's
//! alone: owned by root and writable by nobody else, or it is refused. The webhook URL is a
//! secret token: in a file others can read it is warned about, and `webhook_url_file` keeps it
//! in a file of its own (mode 0600).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::context::Context;
use crate::exit::{Diagnostic, ExitCode};
use crate::layout::SETTINGS_PATH;
use crate::system::files::{self, Exposure};

/// Which releases an unattended upgrade may move to.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, Deserialize, clap::ValueEnum,
)]
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
    /// A file (root's alone, mode 0600) whose first line is the webhook URL.
    pub webhook_url_file: Option<PathBuf>,
    /// OpenPGP public key files to trust besides Mattermost's release key (like `--keyring`).
    pub keyring: Vec<PathBuf>,
    /// What the admin should fix in the file, though it works as it is.
    #[serde(skip)]
    pub warnings: Vec<String>,
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
            webhook_url_file: None,
            keyring: Vec::new(),
            warnings: Vec::new(),
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
        check_root_only(&path, 0o022).map_err(invalid)?;
        let mut settings: Settings =
            toml::from_str(&text).map_err(|err| invalid(err.to_string()))?;
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
        // Files that decide what is trusted: root's alone.
        for file in settings.keyring.iter().chain(&settings.ca_cert) {
            check_root_only(&ctx.path(file), 0o022)
                .map_err(|reason| invalid(format!("{}: {reason}", file.display())))?;
        }
        if let Some(file) = &settings.webhook_url_file {
            if !settings.webhook_url.is_empty() {
                return Err(invalid(
                    "set webhook_url or webhook_url_file, not both".into(),
                ));
            }
            let unusable =
                |reason: String| invalid(format!("webhook_url_file {}: {reason}", file.display()));
            let file = ctx.path(file);
            check_root_only(&file, 0o077).map_err(unusable)?;
            let text = fs_err::read_to_string(&file).map_err(|err| unusable(err.to_string()))?;
            settings.webhook_url = text.lines().next().unwrap_or("").trim().to_string();
        } else if !settings.webhook_url.is_empty() && mode_of(&path) & 0o044 != 0 {
            settings.warnings.push(format!(
                "{} holds webhook_url, a secret token, and every user of this server can read it: `chmod 600` it, or move the URL to a file of its own named by webhook_url_file",
                path.display()
            ));
        }
        Ok(settings)
    }
}

/// The permission bits of `path` (0 if it cannot be read: the caller has read it already).
fn mode_of(path: &Path) -> u32 {
    fs_err::metadata(path).map_or(0, |meta| meta.permissions().mode() & 0o7777)
}

/// `path` belongs to the user mm-install runs as (root) and none of the `forbidden` permission
/// bits are set; the reason otherwise.
fn check_root_only(path: &Path, forbidden: u32) -> Result<(), String> {
    let meta = fs_err::metadata(path).map_err(|err| err.to_string())?;
    match files::exposure(&meta, forbidden) {
        Some(Exposure::Owner { uid, expected }) => Err(format!(
            "it belongs to uid {uid}, and only uid {expected} may decide what mm-install does"
        )),
        Some(Exposure::Mode { mode }) => Err(format!(
            "its mode {mode:04o} lets other users {} it; `chmod {:o}` it",
            if forbidden & 0o044 != 0 {
                "read"
            } else {
                "change"
            },
            0o666 & !forbidden & !0o111
        )),
        None => Ok(()),
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
            "policy = \"minor\"\npreserve = [\"bleve-indexes\"]\nkeep = 3\nedition = \"team\"\n",
        ))
        .unwrap();
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

    fn write(root: &Path, path: &str, text: &str, mode: u32) {
        let path = root.join(path.trim_start_matches('/'));
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, text).unwrap();
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_webhook_url_is_a_secret_kept_in_a_file_only_root_reads() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path());
        let hook = "https://chat.example.com/hooks/s3cret";
        // Inline in a file everyone can read: works, with a warning naming the file.
        write(
            dir.path(),
            SETTINGS_PATH,
            &format!("webhook_url = \"{hook}\"\n"),
            0o644,
        );
        let settings = Settings::load(&ctx).unwrap();
        assert_eq!(settings.webhook_url, hook);
        assert!(
            settings.warnings[0].contains("mm-install.toml"),
            "{:?}",
            settings.warnings
        );
        // Inline in a 0600 file: no warning.
        write(
            dir.path(),
            SETTINGS_PATH,
            &format!("webhook_url = \"{hook}\"\n"),
            0o600,
        );
        assert!(Settings::load(&ctx).unwrap().warnings.is_empty());
        // In a file of its own, which must be root's alone.
        let own_file = "webhook_url_file = \"/etc/mm-install/webhook-url\"\n";
        write(dir.path(), SETTINGS_PATH, own_file, 0o644);
        write(
            dir.path(),
            "/etc/mm-install/webhook-url",
            &format!("{hook}\n"),
            0o600,
        );
        let settings = Settings::load(&ctx).unwrap();
        assert_eq!(settings.webhook_url, hook);
        assert!(settings.warnings.is_empty());
        write(dir.path(), "/etc/mm-install/webhook-url", hook, 0o640);
        let err = Settings::load(&ctx).unwrap_err().to_string();
        assert!(err.contains("webhook-url") && err.contains("0640"), "{err}");
        // Not both.
        write(
            dir.path(),
            SETTINGS_PATH,
            &format!("webhook_url = \"{hook}\"\n{own_file}"),
            0o600,
        );
        let err = Settings::load(&ctx).unwrap_err().to_string();
        assert!(err.contains("not both"), "{err}");
    }

    #[test]
    fn only_root_may_change_the_settings_and_the_keys_they_trust() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path());
        write(dir.path(), SETTINGS_PATH, "keep = 3\n", 0o664);
        let err = Settings::load(&ctx).unwrap_err().to_string();
        assert!(err.contains("0664") && err.contains("change"), "{err}");
        write(
            dir.path(),
            SETTINGS_PATH,
            "keyring = [\"/etc/mm-install/mirror.asc\"]\n",
            0o644,
        );
        write(dir.path(), "/etc/mm-install/mirror.asc", "key", 0o644);
        let settings = Settings::load(&ctx).unwrap();
        assert_eq!(
            settings.keyring,
            [PathBuf::from("/etc/mm-install/mirror.asc")]
        );
        write(dir.path(), "/etc/mm-install/mirror.asc", "key", 0o666);
        let err = Settings::load(&ctx).unwrap_err().to_string();
        assert!(err.contains("mirror.asc"), "{err}");
        // The CA file trusted for HTTPS likewise.
        write(
            dir.path(),
            SETTINGS_PATH,
            "ca_cert = \"/etc/ssl/private-ca.pem\"\n",
            0o644,
        );
        write(dir.path(), "/etc/ssl/private-ca.pem", "pem", 0o644);
        let settings = Settings::load(&ctx).unwrap();
        assert_eq!(
            settings.ca_cert,
            Some(PathBuf::from("/etc/ssl/private-ca.pem"))
        );
        write(dir.path(), "/etc/ssl/private-ca.pem", "pem", 0o664);
        let err = Settings::load(&ctx).unwrap_err().to_string();
        assert!(err.contains("private-ca.pem"), "{err}");
    }
}
