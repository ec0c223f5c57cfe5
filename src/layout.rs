//! Every path mm-install reads or writes on a server, in one place. All are system paths:
//! [`crate::context::Context::path`] puts them below `--root` when one is given. Messages and
//! hints name paths through these constants too, so a path is spelled once.

/// The directory every service-user tree lives beneath, and the anchor of the fd-relative
/// operations in [`crate::system::beneath`].
pub const ANCHOR: &str = "/opt";
/// Where Mattermost lives, as in Mattermost's own documentation; owned by the service user.
pub const INSTALL_DIR: &str = "/opt/mattermost";
/// Root's private directory for staging and kept trees: 0700 root:root, on the same filesystem
/// as [`INSTALL_DIR`] so trees move in and out of it by `rename(2)`.
pub const PRIVATE_DIR: &str = "/opt/.mm-install";
/// The systemd unit of the Mattermost service.
pub const UNIT_FILE: &str = "/etc/systemd/system/mattermost.service";

/// mm-install's own state: root's alone (0700), checked before every operation.
pub const STATE_DIR: &str = "/var/lib/mm-install";
/// What was installed, the releases kept for rollback and the database pinned at install.
pub const STATE_PATH: &str = "/var/lib/mm-install/state.json";
/// The journal of the running (or interrupted) operation: the steps done and their undos.
pub const JOURNAL_PATH: &str = "/var/lib/mm-install/journal.json";
/// The operation lock (`flock`), holding the holder's pid, operation and start time.
pub const LOCK_PATH: &str = "/var/lib/mm-install/lock";
/// Verified tarballs.
pub const CACHE_DIR: &str = "/var/lib/mm-install/cache";
/// Files the install moves out of the way (e.g. nginx's stock default site).
pub const SET_ASIDE_DIR: &str = "/var/lib/mm-install/set-aside";
/// Backups of config.json and the database, one directory per upgrade.
pub const BACKUP_DIR: &str = "/var/lib/mm-install/backups";

/// mm-install's settings file (shipped commented out by the packages).
pub const SETTINGS_PATH: &str = "/etc/mm-install/mm-install.toml";
/// Where admins put their own templates.
pub const TEMPLATES_OVERRIDE_DIR: &str = "/etc/mm-install/templates";
