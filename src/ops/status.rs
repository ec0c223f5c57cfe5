//! What `mm-install status` reports, gathered in one value: the installed release, the newest
//! one the policy allows, the service, the kept releases with the space their trees and
//! backups take, and whether an operation was interrupted. The CLI prints it as text
//! ([`fmt::Display`]) or JSON ([`Serialize`]).

use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::context::Context;
use crate::fetch::{self, HttpClient};
use crate::ops::upgrade::{self, UpgradeError};
use crate::release::Version;
use crate::settings::{Policy, Settings};
use crate::state::State;

/// The state of the server, as `status` reports it.
#[derive(Debug, Serialize)]
pub struct Status {
    pub installed_version: String,
    /// Installed by hand; adopted on the first upgrade.
    pub adopted: bool,
    pub policy: Policy,
    /// The newest release the policy allows, or `unknown (<why>)` when the feed did not answer.
    pub newest_allowed: String,
    pub service_active: bool,
    pub kept: Vec<KeptStatus>,
    pub interrupted_operation: bool,
}

/// One kept release and the space it takes.
#[derive(Debug, Serialize)]
pub struct KeptStatus {
    pub version: String,
    pub tree: String,
    pub tree_bytes: u64,
    pub backup_dir: String,
    pub backup_bytes: u64,
    pub replaced_at: String,
}

/// Gather the status; the feed at `releases_api` says which release is newest (a feed that
/// does not answer is reported, not an error).
pub fn gather(
    ctx: &Context,
    settings: &Settings,
    client: &HttpClient,
    releases_api: &str,
) -> Result<Status, UpgradeError> {
    let installed = upgrade::installed(ctx)?;
    let current: Version = installed.installation.version.parse()?;
    let newest_allowed = match fetch::stable_releases(client, releases_api, &crate::report::Silent)
    {
        Ok(available) => upgrade::newest_allowed(&current, &available, settings.policy)
            .map(|v| v.to_string())
            .unwrap_or_else(|| current.to_string()),
        Err(err) => format!("unknown ({err})"),
    };
    let state = State::load(ctx)?;
    let kept = state
        .kept
        .iter()
        .map(|k| KeptStatus {
            version: k.installation.version.clone(),
            tree: k.tree.clone(),
            tree_bytes: size(&ctx.path(&k.tree)),
            backup_dir: k.backup_dir.clone(),
            backup_bytes: size(&ctx.path(&k.backup_dir)),
            replaced_at: k.replaced_at.clone(),
        })
        .collect();
    Ok(Status {
        installed_version: current.to_string(),
        adopted: installed.adopted,
        policy: settings.policy,
        newest_allowed,
        service_active: crate::system::services::is_active(ctx, "mattermost.service")
            .unwrap_or(false),
        kept,
        interrupted_operation: ctx.path(crate::layout::JOURNAL_PATH).exists(),
    })
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "installed:       Mattermost {}{}",
            self.installed_version,
            if self.adopted {
                " (installed by hand; adopted on the first upgrade)"
            } else {
                ""
            }
        )?;
        writeln!(
            f,
            "newest allowed:  {} (policy: {})",
            self.newest_allowed, self.policy
        )?;
        write!(
            f,
            "service:         {}",
            if self.service_active {
                "active"
            } else {
                "NOT active"
            }
        )?;
        if self.kept.is_empty() {
            write!(f, "\nkept releases:   none")?;
        }
        for k in &self.kept {
            write!(
                f,
                "\nkept release:    {} in {} ({} MiB), backups {} ({} MiB)",
                k.version,
                k.tree,
                k.tree_bytes >> 20,
                k.backup_dir,
                k.backup_bytes >> 20
            )?;
        }
        Ok(())
    }
}

/// Bytes used by the files below `path` (0 when it is gone). Links are not followed.
fn size(path: &Path) -> u64 {
    let Ok(meta) = fs_err::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs_err::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| size(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(kept: Vec<KeptStatus>) -> Status {
        Status {
            installed_version: "11.10.2".into(),
            adopted: false,
            policy: Policy::Patch,
            newest_allowed: "11.10.3".into(),
            service_active: true,
            kept,
            interrupted_operation: false,
        }
    }

    #[test]
    fn status_reads_as_text_and_json() {
        assert_eq!(
            status(Vec::new()).to_string(),
            "installed:       Mattermost 11.10.2\nnewest allowed:  11.10.3 (policy: patch)\nservice:         active\nkept releases:   none"
        );
        let kept = status(vec![KeptStatus {
            version: "11.10.1".into(),
            tree: "/opt/.mm-install/mattermost-11.10.1-x".into(),
            tree_bytes: 3 << 20,
            backup_dir: "/var/lib/mm-install/backups/x".into(),
            backup_bytes: 1 << 20,
            replaced_at: "2026-11-29T04:00:00Z".into(),
        }]);
        assert!(
            kept.to_string().ends_with(
                "\nkept release:    11.10.1 in /opt/.mm-install/mattermost-11.10.1-x (3 MiB), backups /var/lib/mm-install/backups/x (1 MiB)"
            ),
            "{kept}"
        );
        let json = serde_json::to_value(&kept).unwrap();
        assert_eq!(json["policy"], "patch");
        assert_eq!(json["kept"][0]["tree_bytes"], 3 << 20);
        assert_eq!(json["service_active"], true);
        assert_eq!(json["interrupted_operation"], false);
    }

    #[test]
    fn sizes_do_not_follow_links() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("a"), [0u8; 100]).unwrap();
        std::os::unix::fs::symlink("/usr", dir.path().join("link")).unwrap();
        let link_bytes = fs_err::symlink_metadata(dir.path().join("link"))
            .unwrap()
            .len();
        assert_eq!(size(dir.path()), 100 + link_bytes);
        assert_eq!(size(&dir.path().join("gone")), 0);
    }
}
