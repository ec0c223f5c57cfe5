//! The `config.json` settings the REST API reads, with the real server's defaults
//! (server/public/model/config.go) for every key the file does not set.

use crate::config::Config;

/// Password rules (`PasswordSettings`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordRules {
    /// `MinimumLength`, default 8.
    pub minimum_length: usize,
    pub lowercase: bool,
    pub uppercase: bool,
    pub number: bool,
    pub symbol: bool,
}

/// Everything the API handlers consult.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `TeamSettings.EnableOpenServer` (default false): anonymous signups after the first user.
    pub enable_open_server: bool,
    /// `TeamSettings.EnableUserCreation` (default true).
    pub enable_user_creation: bool,
    /// `EmailSettings.EnableSignUpWithEmail` (default true).
    pub enable_sign_up_with_email: bool,
    /// `TeamSettings.EnableUserDeactivation` (default false): may users deactivate themselves.
    pub enable_user_deactivation: bool,
    /// `TeamSettings.MaxUsersPerTeam` (default 50).
    pub max_users_per_team: i64,
    /// `TeamSettings.ExperimentalDefaultChannels` (default empty: town-square and off-topic).
    pub experimental_default_channels: Vec<String>,
    /// `ServiceSettings.EnableAPITeamDeletion` (default false): `DELETE /teams/{id}?permanent=true`.
    pub enable_api_team_deletion: bool,
    /// `ServiceSettings.EnableAPIUserDeletion` (default false): `DELETE /users/{id}?permanent=true`.
    pub enable_api_user_deletion: bool,
    /// `ServiceSettings.SessionLengthWebInHours` (default 720).
    pub session_length_web_hours: i64,
    /// `ServiceSettings.MaximumLoginAttempts` (default 10).
    pub maximum_login_attempts: i64,
    /// `FileSettings.EnableFileAttachments` (default true).
    pub enable_file_attachments: bool,
    /// `FileSettings.MaxFileSize` in bytes (default 104857600, 100 MiB).
    pub max_file_size: i64,
    /// `PasswordSettings`.
    pub password: PasswordRules,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            enable_open_server: false,
            enable_user_creation: true,
            enable_sign_up_with_email: true,
            enable_user_deactivation: false,
            max_users_per_team: 50,
            experimental_default_channels: Vec::new(),
            enable_api_team_deletion: false,
            enable_api_user_deletion: false,
            session_length_web_hours: 720,
            maximum_login_attempts: 10,
            enable_file_attachments: true,
            max_file_size: 104_857_600,
            password: PasswordRules {
                minimum_length: 8,
                lowercase: false,
                uppercase: false,
                number: false,
                symbol: false,
            },
        }
    }
}

impl Settings {
    /// Reads the settings from `config` (environment overrides included); a value of the wrong
    /// type is an error naming the file.
    pub fn from_config(config: &Config) -> Result<Settings, String> {
        let invalid =
            |why: String| format!("invalid configuration in {}: {why}", config.path.display());
        let d = Settings::default();
        let flag = |section: &str, key: &str, default: bool| -> Result<bool, String> {
            Ok(config
                .bool(section, key)
                .map_err(invalid)?
                .unwrap_or(default))
        };
        let int = |section: &str, key: &str, default: i64| -> Result<i64, String> {
            Ok(config
                .int(section, key)
                .map_err(invalid)?
                .unwrap_or(default))
        };
        let minimum_length = int(
            "PasswordSettings",
            "MinimumLength",
            d.password.minimum_length as i64,
        )?;
        Ok(Settings {
            enable_open_server: flag("TeamSettings", "EnableOpenServer", d.enable_open_server)?,
            enable_user_creation: flag(
                "TeamSettings",
                "EnableUserCreation",
                d.enable_user_creation,
            )?,
            enable_sign_up_with_email: flag(
                "EmailSettings",
                "EnableSignUpWithEmail",
                d.enable_sign_up_with_email,
            )?,
            enable_user_deactivation: flag(
                "TeamSettings",
                "EnableUserDeactivation",
                d.enable_user_deactivation,
            )?,
            max_users_per_team: int("TeamSettings", "MaxUsersPerTeam", d.max_users_per_team)?,
            experimental_default_channels: config
                .strings("TeamSettings", "ExperimentalDefaultChannels")
                .map_err(invalid)?
                .unwrap_or_default(),
            enable_api_team_deletion: flag(
                "ServiceSettings",
                "EnableAPITeamDeletion",
                d.enable_api_team_deletion,
            )?,
            enable_api_user_deletion: flag(
                "ServiceSettings",
                "EnableAPIUserDeletion",
                d.enable_api_user_deletion,
            )?,
            session_length_web_hours: int(
                "ServiceSettings",
                "SessionLengthWebInHours",
                d.session_length_web_hours,
            )?,
            maximum_login_attempts: int(
                "ServiceSettings",
                "MaximumLoginAttempts",
                d.maximum_login_attempts,
            )?,
            enable_file_attachments: flag(
                "FileSettings",
                "EnableFileAttachments",
                d.enable_file_attachments,
            )?,
            max_file_size: int("FileSettings", "MaxFileSize", d.max_file_size)?,
            password: PasswordRules {
                minimum_length: usize::try_from(minimum_length).unwrap_or(0),
                lowercase: flag("PasswordSettings", "Lowercase", false)?,
                uppercase: flag("PasswordSettings", "Uppercase", false)?,
                number: flag("PasswordSettings", "Number", false)?,
                symbol: flag("PasswordSettings", "Symbol", false)?,
            },
        })
    }

    /// The channels every new team member joins: town-square, then off-topic unless
    /// `ExperimentalDefaultChannels` names others (app `DefaultChannelNames`).
    pub fn default_channel_names(&self) -> Vec<String> {
        let mut names = vec!["town-square".to_string()];
        if self.experimental_default_channels.is_empty() {
            names.push("off-topic".to_string());
        } else {
            for name in &self.experimental_default_channels {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::parse(Path::new("c.json"), "{}", Vec::new()).unwrap();
        assert_eq!(Settings::from_config(&c).unwrap(), Settings::default());
        assert_eq!(
            Settings::default().default_channel_names(),
            ["town-square", "off-topic"]
        );

        let c = Config::parse(
            Path::new("c.json"),
            r#"{"TeamSettings": {"EnableOpenServer": true, "ExperimentalDefaultChannels": ["town-square"]},
                "ServiceSettings": {"EnableAPITeamDeletion": true},
                "FileSettings": {"MaxFileSize": 10},
                "PasswordSettings": {"MinimumLength": 5, "Number": true}}"#,
            vec![("MM_TEAMSETTINGS_MAXUSERSPERTEAM".to_string(), "3".to_string())],
        )
        .unwrap();
        let s = Settings::from_config(&c).unwrap();
        assert!(s.enable_open_server && s.enable_api_team_deletion);
        assert_eq!(s.max_file_size, 10);
        assert_eq!(s.max_users_per_team, 3);
        assert_eq!(s.password.minimum_length, 5);
        assert!(s.password.number && !s.password.symbol);
        assert_eq!(s.default_channel_names(), ["town-square"]);

        let c = Config::parse(
            Path::new("/opt/mattermost/config/config.json"),
            r#"{"FileSettings": {"MaxFileSize": "big"}}"#,
            Vec::new(),
        )
        .unwrap();
        let err = Settings::from_config(&c).unwrap_err();
        assert!(err.contains("/opt/mattermost/config/config.json"), "{err}");
    }
}
