//! What a target version of Mattermost needs from the server it is upgraded on, as data
//! (`requirements.toml`, embedded): the PostgreSQL minimum per target version and the settings
//! that stop a target version from starting. Each entry carries its source; the upgrade
//! pre-flight checks them before anything stops.

use serde::Deserialize;

use crate::release::Version;
use crate::system::SystemError;

/// The embedded requirements file.
const REQUIREMENTS: &str = include_str!("requirements.toml");

/// Every documented requirement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    postgresql: Vec<PostgresMinimum>,
    blocking_setting: Vec<BlockingSetting>,
}

/// From `from` on, Mattermost needs PostgreSQL `minimum_major` or newer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresMinimum {
    from: Version,
    pub minimum_major: u32,
    pub source: String,
}

/// From `from` on, a server whose config.json has `setting` equal to `value` does not start.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingSetting {
    from: Version,
    /// Dotted path into config.json, e.g. `SqlSettings.DriverName`.
    pub setting: String,
    pub value: String,
    pub reason: String,
    pub fix: String,
    pub source: String,
}

impl Requirements {
    /// The embedded requirements (its unit tests parse it, so this fails only in a binary built
    /// without running them).
    pub fn embedded() -> Result<Requirements, SystemError> {
        toml::from_str(REQUIREMENTS).map_err(|err| SystemError::Unexpected {
            what: "the embedded src/ops/requirements.toml".into(),
            detail: err.to_string(),
        })
    }

    /// The PostgreSQL minimum for `target`: the newest entry at or before it.
    pub fn postgres_minimum(&self, target: &Version) -> Option<&PostgresMinimum> {
        self.postgresql
            .iter()
            .filter(|entry| &entry.from <= target)
            .max_by(|a, b| a.from.cmp(&b.from))
    }

    /// The settings in `config` (config.json) that stop `target` from starting.
    pub fn blocking_settings(
        &self,
        target: &Version,
        config: &serde_json::Value,
    ) -> Vec<&BlockingSetting> {
        self.blocking_setting
            .iter()
            .filter(|entry| &entry.from <= target)
            .filter(|entry| {
                entry
                    .setting
                    .split('.')
                    .try_fold(config, |value, key| value.get(key))
                    .and_then(|value| value.as_str())
                    .is_some_and(|value| value.eq_ignore_ascii_case(&entry.value))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> Version {
        text.parse().unwrap()
    }

    #[test]
    fn the_embedded_file_parses_and_every_entry_names_a_source() {
        let requirements: Requirements = toml::from_str(REQUIREMENTS).unwrap();
        assert!(!requirements.postgresql.is_empty());
        for entry in &requirements.postgresql {
            assert!(!entry.source.trim().is_empty(), "{entry:?}");
        }
        for entry in &requirements.blocking_setting {
            assert!(!entry.source.trim().is_empty() && !entry.fix.trim().is_empty());
        }
    }

    #[test]
    fn the_postgres_minimum_follows_the_target_version() {
        let requirements = Requirements::embedded().unwrap();
        let minimum = |target| {
            requirements
                .postgres_minimum(&version(target))
                .map(|entry| entry.minimum_major)
        };
        assert_eq!(minimum("10.5.1"), None);
        assert_eq!(minimum("10.6.0"), Some(13));
        assert_eq!(minimum("10.11.4"), Some(13));
        assert_eq!(minimum("11.0.0"), Some(14));
        assert_eq!(minimum("11.10.2"), Some(14));
    }

    #[test]
    fn mysql_blocks_v11_only() {
        let requirements = Requirements::embedded().unwrap();
        let mysql = serde_json::json!({"SqlSettings": {"DriverName": "mysql"}});
        let postgres = serde_json::json!({"SqlSettings": {"DriverName": "postgres"}});
        assert!(
            requirements
                .blocking_settings(&version("10.11.4"), &mysql)
                .is_empty()
        );
        let blocked = requirements.blocking_settings(&version("11.0.0"), &mysql);
        assert_eq!(blocked.len(), 1);
        assert_eq!(blocked[0].setting, "SqlSettings.DriverName");
        assert!(
            requirements
                .blocking_settings(&version("11.0.0"), &postgres)
                .is_empty()
        );
        assert!(
            requirements
                .blocking_settings(&version("11.0.0"), &serde_json::json!({}))
                .is_empty()
        );
    }
}
