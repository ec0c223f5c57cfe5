//! Who this stand-in pretends to be: `standin.json`, read from the directory of the running
//! executable so that every test tarball can carry its own version and failure switches.
//!
//! ```json
//! {"version": "11.10.1", "fail_start": false, "report_version": null, "ready_delay_ms": 0}
//! ```

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::migrations::{self, Migration};

/// File name looked up beside the executable.
pub const FILE_NAME: &str = "standin.json";

/// The parsed `standin.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The version this binary is (printed by `version`).
    pub version: String,
    /// Exit 1 during startup, before listening or notifying systemd.
    pub fail_start: bool,
    /// Version claimed over HTTP (`X-Version-Id`) and in the websocket hello, if not `version`.
    pub report_version: Option<String>,
    /// Delay before listening and sending `READY=1`, like long schema migrations.
    pub ready_delay_ms: u64,
    /// Answer every `POST /api/v4/posts` with 403 `api.context.permissions.app_error`.
    pub refuse_posts: bool,
    /// At start, replace the config file with a symlink to this path, as code running as the
    /// service user can (a compromised server attacking the root that undoes its upgrade).
    pub link_config_to: Option<String>,
    /// Schema migrations this release carries; `None` (the key absent) leaves the database
    /// alone beyond the startup check.
    pub migrations: Option<Vec<Migration>>,
}

impl Identity {
    /// Path of `standin.json` beside the running executable.
    pub fn path_beside_exe() -> Result<PathBuf, String> {
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot locate the running executable: {e}"))?;
        let dir = exe
            .parent()
            .ok_or_else(|| format!("executable {} has no parent directory", exe.display()))?;
        Ok(dir.join(FILE_NAME))
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Identity, String> {
        let text = fs_err::read_to_string(path)
            .map_err(|e| format!("mm-standin needs {FILE_NAME} beside its executable: {e}"))?;
        Identity::parse(&text).map_err(|e| format!("invalid {}: {e}", path.display()))
    }

    /// Parses the JSON text; unknown keys are rejected so a typo in a test cannot go unnoticed.
    pub fn parse(text: &str) -> Result<Identity, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let obj = value
            .as_object()
            .ok_or_else(|| "expected a JSON object".to_string())?;
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "version"
                    | "fail_start"
                    | "report_version"
                    | "ready_delay_ms"
                    | "refuse_posts"
                    | "link_config_to"
                    | "migrations"
            ) {
                return Err(format!("unknown key {key:?}"));
            }
        }
        let version = match obj.get("version") {
            Some(Value::String(v)) if !v.trim().is_empty() => v.trim().to_string(),
            _ => return Err("\"version\" must be a non-empty string".into()),
        };
        let fail_start = match obj.get("fail_start") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("\"fail_start\" must be true or false".into()),
        };
        let report_version = match obj.get("report_version") {
            None | Some(Value::Null) => None,
            Some(Value::String(v)) if !v.trim().is_empty() => Some(v.trim().to_string()),
            Some(_) => return Err("\"report_version\" must be null or a non-empty string".into()),
        };
        let ready_delay_ms = match obj.get("ready_delay_ms") {
            None | Some(Value::Null) => 0,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| "\"ready_delay_ms\" must be a non-negative integer".to_string())?,
        };
        let refuse_posts = match obj.get("refuse_posts") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("\"refuse_posts\" must be true or false".into()),
        };
        let link_config_to = match obj.get("link_config_to") {
            None | Some(Value::Null) => None,
            Some(Value::String(v)) if !v.trim().is_empty() => Some(v.trim().to_string()),
            Some(_) => return Err("\"link_config_to\" must be null or a non-empty string".into()),
        };
        let migrations = obj.get("migrations").map(migrations::parse).transpose()?;
        Ok(Identity {
            version,
            fail_start,
            report_version,
            ready_delay_ms,
            refuse_posts,
            link_config_to,
            migrations,
        })
    }

    /// The version the running server claims: `report_version` if set, else `version`.
    pub fn reported_version(&self) -> &str {
        self.report_version.as_deref().unwrap_or(&self.version)
    }

    /// The `X-Version-Id` header value (also the hello's `server_version`):
    /// `<version>.<build number>.<config hash>.<licensed>` as the real server builds it.
    pub fn version_id(&self) -> String {
        let v = self.reported_version();
        format!("{v}.{v}.standinhash.false")
    }

    /// What `mattermost version` prints.
    pub fn version_text(&self) -> String {
        let v = &self.version;
        format!(
            "Version: {v}\nBuild Number: {v}\nBuild Date: Wed Jan 15 00:00:00 UTC 2025\n\
             Build Hash: standin\nBuild Enterprise Ready: true\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_and_minimal_files() {
        let full = Identity::parse(
            r#"{"version":"11.10.1","fail_start":true,"report_version":"11.9.0","ready_delay_ms":250}"#,
        )
        .unwrap();
        assert_eq!(full.version, "11.10.1");
        assert!(full.fail_start);
        assert_eq!(full.reported_version(), "11.9.0");
        assert_eq!(full.version_id(), "11.9.0.11.9.0.standinhash.false");
        assert_eq!(full.ready_delay_ms, 250);
        assert!(!full.refuse_posts);
        let refusing = Identity::parse(r#"{"version":"1.0.0","refuse_posts":true}"#).unwrap();
        assert!(refusing.refuse_posts);
        assert_eq!(refusing.link_config_to, None);
        let linking =
            Identity::parse(r#"{"version":"1.0.0","link_config_to":"/etc/victim"}"#).unwrap();
        assert_eq!(linking.link_config_to.as_deref(), Some("/etc/victim"));
        assert_eq!(linking.migrations, None);
        let migrating = Identity::parse(
            r#"{"version":"1.0.0","migrations":[{"version":3,"name":"x","up":"u","down":"d"}]}"#,
        )
        .unwrap();
        assert_eq!(migrating.migrations.unwrap()[0].version, 3);

        let min = Identity::parse(r#"{"version":"10.11.3","report_version":null}"#).unwrap();
        assert!(!min.fail_start);
        assert_eq!(min.ready_delay_ms, 0);
        assert_eq!(min.version_id(), "10.11.3.10.11.3.standinhash.false");
        assert_eq!(
            min.version_text(),
            "Version: 10.11.3\nBuild Number: 10.11.3\nBuild Date: Wed Jan 15 00:00:00 UTC 2025\n\
             Build Hash: standin\nBuild Enterprise Ready: true\n"
        );
    }

    #[test]
    fn rejects_bad_files() {
        for bad in [
            "[]",
            "{}",
            r#"{"version":""}"#,
            r#"{"version":"1.0.0","fail_start":"yes"}"#,
            r#"{"version":"1.0.0","ready_delay_ms":-1}"#,
            r#"{"version":"1.0.0","refuse_posts":1}"#,
            r#"{"version":"1.0.0","link_config_to":""}"#,
            r#"{"version":"1.0.0","fail_strat":true}"#,
            r#"{"version":"1.0.0","migrations":{}}"#,
            "not json",
        ] {
            assert!(Identity::parse(bad).is_err(), "{bad}");
        }
    }
}
