//! Which paths of the live tree an upgrade or rollback carries over into the incoming tree: the
//! state folders, every path config.json points to inside the tree, and every top-level entry
//! that the incoming release does not ship. Everything else is the release's, and the incoming
//! release wins there. The decision is pure (config.json, two listings, the admin's `preserve`
//! list in; relative paths out); `Step::MoveState` does the moves.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::layout::INSTALL_DIR;
use crate::ops::upgrade::STATE_FOLDERS;

/// A config.json setting that names a file or directory the server reads or writes.
struct PathSetting {
    section: &'static str,
    key: &'static str,
    /// The key of the same section that must be `local` (or unset) for the path to be used.
    driver: Option<&'static str>,
}

const fn setting(section: &'static str, key: &'static str) -> PathSetting {
    PathSetting {
        section,
        key,
        driver: None,
    }
}

/// The path settings of Mattermost's `server/public/model/config.go` (mattermost/mattermost at
/// 33b68c603c01: the structs and their `SetDefaults`).
/// Relative values are relative to the server's working directory, which is the install dir
/// (`WorkingDirectory=` of templates/mattermost.service). An empty value means the default,
/// which is a state folder (`./data/`, `logs/`, `config/`) or a top-level directory that the
/// release does not ship (`./export`, `./import`), carried anyway.
const PATH_SETTINGS: [PathSetting; 14] = [
    // `FileSettingsDefaultDirectory = "./data/"`; only read when `DriverName` is `local`.
    PathSetting {
        section: "FileSettings",
        key: "Directory",
        driver: Some("DriverName"),
    },
    // The dedicated export store, `local` by default (`ExportDriverName`).
    PathSetting {
        section: "FileSettings",
        key: "ExportDirectory",
        driver: Some("ExportDriverName"),
    },
    // `BleveSettingsDefaultIndexDir = ""` (Bleve disabled).
    setting("BleveSettings", "IndexDir"),
    // Directories of `mattermost.log` and `notifications.log` (`""`: `logs/`).
    setting("LogSettings", "FileLocation"),
    setting("NotificationLogSettings", "FileLocation"),
    setting("ExperimentalAuditSettings", "FileName"),
    // `ExportSettingsDefaultDirectory = "./export"`, `ImportSettingsDefaultDirectory = "./import"`.
    setting("ExportSettings", "Directory"),
    setting("ImportSettings", "Directory"),
    setting("ComplianceSettings", "Directory"),
    setting("ServiceSettings", "TLSCertFile"),
    setting("ServiceSettings", "TLSKeyFile"),
    setting("ServiceSettings", "LicenseFileLocation"),
    // `./plugins` and `./client/plugins` by default: state folders.
    setting("PluginSettings", "Directory"),
    setting("PluginSettings", "ClientDirectory"),
];

/// The top level of Mattermost's release tarballs (`mattermost-X.Y.Z-linux-ARCH.tar.gz`, both
/// editions), used to show the plan before the release is downloaded; the downloaded tarball's
/// own listing decides.
pub const RELEASE_LAYOUT: [&str; 13] = [
    "bin",
    "client",
    "config",
    "fonts",
    "i18n",
    "logs",
    "prepackaged_plugins",
    "templates",
    "ENTERPRISE-EDITION-LICENSE.txt",
    "MIT-COMPILED-LICENSE.md",
    "NOTICE.txt",
    "README.md",
    "manifest.txt",
];

/// Every path config.json names, as `(setting, absolute path)`; relative values resolved against
/// the install dir. Inside or outside the tree.
pub fn config_paths(config: &serde_json::Value) -> Vec<(String, PathBuf)> {
    PATH_SETTINGS
        .iter()
        .filter(|s| {
            s.driver.is_none_or(|driver| {
                config[s.section][driver]
                    .as_str()
                    .is_none_or(|d| d.is_empty() || d == "local")
            })
        })
        .filter_map(|s| {
            let value = config[s.section][s.key].as_str()?.trim();
            (!value.is_empty()).then(|| {
                (
                    format!("{}.{}", s.section, s.key),
                    Path::new(INSTALL_DIR).join(value),
                )
            })
        })
        .collect()
}

/// `path` relative to the install dir, resolved lexically (`.`, `..`), when it lies strictly
/// inside the tree.
fn inside_tree(path: &Path) -> Option<PathBuf> {
    let mut absolute = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                absolute.pop();
            }
            Component::CurDir => {}
            other => absolute.push(other),
        }
    }
    let relative = absolute.strip_prefix(INSTALL_DIR).ok()?;
    (relative != Path::new("")).then(|| relative.to_path_buf())
}

/// The paths (relative to the tree) to move from the live tree into the incoming one.
///
/// `live` and `release` are the top-level entry names of the live tree and of the incoming
/// release (its tarball, or the kept tree for a rollback); `preserve` is the admin's list. The
/// state folders and `preserve` are always carried; a path config.json points to inside the tree
/// is carried unless it is itself a top-level entry of the release (the release wins there); every
/// live top-level entry the release does not contain is carried. Only what exists at the live
/// tree's top level is kept, and a path inside another carried path is carried by that ancestor.
/// The state folders come first, in [`STATE_FOLDERS`] order.
pub fn carried_paths(
    config: &serde_json::Value,
    live: &[String],
    release: &[String],
    preserve: &[PathBuf],
) -> Vec<PathBuf> {
    let in_release = |path: &Path| release.iter().any(|entry| Path::new(entry) == path);
    let mut wanted: BTreeSet<PathBuf> = STATE_FOLDERS.iter().map(PathBuf::from).collect();
    wanted.extend(preserve.iter().cloned());
    wanted.extend(
        config_paths(config)
            .iter()
            .filter_map(|(_, path)| inside_tree(path))
            .filter(|path| !in_release(path)),
    );
    wanted.extend(
        live.iter()
            .map(PathBuf::from)
            .filter(|entry| !in_release(entry)),
    );
    wanted.retain(|path| {
        path.components()
            .next()
            .is_some_and(|top| live.iter().any(|entry| Path::new(entry) == Path::new(&top)))
    });
    let mut carried: Vec<PathBuf> = wanted
        .iter()
        .filter(|path| {
            !wanted
                .iter()
                .any(|other| other != *path && path.starts_with(other))
        })
        .cloned()
        .collect();
    // The state folders first, in their usual order, then the rest by name.
    carried.sort_by_key(|path| {
        let state = STATE_FOLDERS.iter().position(|f| path == Path::new(f));
        (state.unwrap_or(STATE_FOLDERS.len()), path.clone())
    });
    carried
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// A live tree as installed: the release plus `data` and `plugins`.
    const LIVE: [&str; 14] = [
        "bin",
        "client",
        "config",
        "data",
        "fonts",
        "i18n",
        "logs",
        "plugins",
        "prepackaged_plugins",
        "templates",
        "ENTERPRISE-EDITION-LICENSE.txt",
        "NOTICE.txt",
        "README.md",
        "manifest.txt",
    ];

    #[test]
    fn carried_paths_follow_the_config_and_the_release_layout() {
        // (what, config.json, extra live entries, expected beyond the state folders)
        let cases: Vec<(&str, serde_json::Value, Vec<&str>, Vec<&str>)> = vec![
            ("a default install", json!({}), vec![], vec![]),
            (
                "a relative file store and an admin's directory",
                json!({"FileSettings": {"DriverName": "local", "Directory": "./files/"}}),
                vec!["files", "extra-certs"],
                vec!["extra-certs", "files"],
            ),
            (
                "an absolute file store inside the tree",
                json!({"FileSettings": {"Directory": "/opt/mattermost/attachments"}}),
                vec!["attachments"],
                vec!["attachments"],
            ),
            (
                "an S3 file store names no local directory",
                json!({"FileSettings": {"DriverName": "amazons3", "Directory": "./client/files"}}),
                vec![],
                vec![],
            ),
            (
                "a path nested in a release directory is carried alone",
                json!({"FileSettings": {"Directory": "./client/files"}, "BleveSettings": {"IndexDir": "/opt/mattermost/client/../client/bleve"}}),
                vec![],
                vec!["client/bleve", "client/files"],
            ),
            (
                "nested paths go with their outermost carried ancestor",
                json!({"ServiceSettings": {"TLSCertFile": "certs/cert.pem", "TLSKeyFile": "./config/key.pem"}, "BleveSettings": {"IndexDir": "./data/bleve"}}),
                vec!["certs"],
                vec!["certs"],
            ),
            (
                "the release wins on its own top-level entries",
                json!({"FileSettings": {"Directory": "./i18n"}, "ExportSettings": {"Directory": "bin"}}),
                vec![],
                vec![],
            ),
            (
                "paths outside the tree, or the tree itself, are not carried",
                json!({"FileSettings": {"Directory": "/srv/files"}, "LogSettings": {"FileLocation": "./"}, "ComplianceSettings": {"Directory": "../mattermost-compliance"}}),
                vec![],
                vec![],
            ),
            (
                "a configured path that does not exist is not carried",
                json!({"ExportSettings": {"Directory": "./export"}}),
                vec![],
                vec![],
            ),
            (
                "exports, imports and audit logs at the top level",
                json!({"ExportSettings": {"Directory": "./export"}, "ExperimentalAuditSettings": {"FileName": "audit/audit.log"}}),
                vec!["export", "import", "audit", ".bash_history"],
                vec![".bash_history", "audit", "export", "import"],
            ),
        ];
        for (what, config, extra, expected) in cases {
            let live: Vec<String> = names(&LIVE).into_iter().chain(names(&extra)).collect();
            let carried = carried_paths(&config, &live, &names(&RELEASE_LAYOUT), &[]);
            let want: Vec<PathBuf> = STATE_FOLDERS
                .iter()
                .chain(&expected)
                .map(PathBuf::from)
                .collect();
            assert_eq!(carried, want, "{what}");
        }
    }

    #[test]
    fn preserve_entries_and_a_release_that_dropped_an_entry() {
        // The new release no longer ships `fonts`: the old one stays with the live tree's data.
        let release: Vec<String> = names(&RELEASE_LAYOUT)
            .into_iter()
            .filter(|e| e != "fonts")
            .collect();
        let carried = carried_paths(
            &json!({}),
            &names(&LIVE),
            &release,
            &[PathBuf::from("templates/custom"), PathBuf::from("data/x")],
        );
        let carried: Vec<&str> = carried.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            carried,
            [
                "config",
                "data",
                "logs",
                "plugins",
                "client/plugins",
                "fonts",
                "templates/custom"
            ]
        );
    }

    #[test]
    fn config_paths_name_every_setting_in_and_out_of_the_tree() {
        let config = json!({
            "FileSettings": {"DriverName": "local", "Directory": "./files/", "ExportDriverName": "amazons3", "ExportDirectory": "./exports"},
            "BleveSettings": {"IndexDir": "/var/lib/bleve"},
            "ServiceSettings": {"TLSCertFile": "", "TLSKeyFile": "certs/key.pem"},
        });
        assert_eq!(
            config_paths(&config),
            [
                (
                    "FileSettings.Directory".to_string(),
                    PathBuf::from("/opt/mattermost/./files/")
                ),
                (
                    "BleveSettings.IndexDir".to_string(),
                    PathBuf::from("/var/lib/bleve")
                ),
                (
                    "ServiceSettings.TLSKeyFile".to_string(),
                    PathBuf::from("/opt/mattermost/certs/key.pem")
                ),
            ]
        );
    }
}
