//! The tool's record of what it installed: `/var/lib/mm-install/state.json` (the current
//! installation and the ones before it), read by later upgrades, rollbacks and `status`.

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::layout::STATE_PATH;
use crate::system::files;

/// One installed release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    pub version: String,
    pub edition: String,
    pub arch: String,
    pub install_dir: String,
    /// RFC 3339 time of the install or upgrade.
    pub installed_at: String,
    /// SHA-256 of the verified tarball and the fingerprint of the key that signed it.
    pub tarball_sha256: String,
    pub signed_by: String,
    /// RFC 3339 creation time of the release's OpenPGP signature: a later upgrade refuses a
    /// release signed before it. Absent in state files written before mm-install recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<String>,
    pub site_url: String,
    /// `local`, `external` or `none`.
    pub database: String,
    /// nginx serves the site over TLS (health checks go to port 443).
    #[serde(default)]
    pub tls: bool,
}

/// A release replaced by an upgrade (or a rollback), kept for `mm-install rollback`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptRelease {
    pub installation: Installation,
    /// Where its tree was moved to, e.g. `/opt/mattermost-11.9.2-20261125T081500`.
    pub tree: String,
    /// The backups taken just before it was replaced (config.json, database dump).
    pub backup_dir: String,
    /// RFC 3339 time it was replaced.
    pub replaced_at: String,
    /// The `db_migrations` head of the database when it was replaced: the schema it runs on,
    /// which a rollback to it compares with the live one. Absent in state files written before
    /// mm-install recorded it; a rollback then reads the head from the backup's
    /// `database.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_migrations: Option<crate::system::postgres::SchemaHead>,
}

/// Everything the tool remembers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub current: Option<Installation>,
    /// Earlier installations, oldest first.
    #[serde(default)]
    pub history: Vec<Installation>,
    /// Replaced releases still on disk for rollbacks, oldest first.
    #[serde(default)]
    pub kept: Vec<KeptRelease>,
    /// The database root's tools may act on, `postgres://user@host:port/database`
    /// ([`crate::system::postgres::Connection::identity`]): recorded at install (or at the first
    /// upgrade of a server installed by hand), so a `config.json` the service user edits cannot
    /// point `pg_dump` and `pg_restore` elsewhere.
    #[serde(default)]
    pub database: Option<String>,
}

impl State {
    /// Read the state file; a missing file is an empty state.
    pub fn load(ctx: &Context) -> std::io::Result<State> {
        match fs_err::read(ctx.path(STATE_PATH)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} is not valid: {err}", ctx.path(STATE_PATH).display()),
                )
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(err) => Err(err),
        }
    }

    /// Write the state file atomically.
    pub fn save(&self, ctx: &Context) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        files::write_atomic(&ctx.path(STATE_PATH), &text, 0o644)
    }

    /// Make `installation` current, keeping the previous one in the history.
    pub fn record(&mut self, installation: Installation) {
        if let Some(previous) = self.current.replace(installation) {
            self.history.push(previous);
        }
    }
}

/// Now as RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    rfc3339(jiff::Timestamp::now())
}

/// `time` as RFC 3339 in UTC, to the second.
pub fn rfc3339(time: jiff::Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
