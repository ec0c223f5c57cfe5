//! systemd: daemon-reload, enable, start, stop, disable, is-active, and a unit's settled state
//! (enabled? active?) for undos that put back exactly what was there. Below another root only
//! `systemctl --root DIR enable/disable` make sense; nothing is started there.

use std::time::{Duration, Instant};

use super::{SystemError, rooted, run_checked, run_probe};
use crate::context::{CommandLine, Context};

/// Run `systemctl [--root DIR] <args>`.
pub fn systemctl(ctx: &Context, args: &[&str]) -> Result<(), SystemError> {
    run_checked(ctx, &rooted(ctx, "systemctl", args)).map(drop)
}

/// Start `unit`, clearing systemd's start rate limit first: an upgrade, its rollback and a
/// retry may restart the service more often than `StartLimitBurst` allows, and an admin tool
/// must still be able to start it.
pub fn start(ctx: &Context, unit: &str) -> Result<(), SystemError> {
    run_probe(ctx, &CommandLine::new("systemctl", &["reset-failed", unit]))?;
    systemctl(ctx, &["start", unit])
}

/// `true` when the unit is active (`systemctl is-active`).
pub fn is_active(ctx: &Context, unit: &str) -> Result<bool, SystemError> {
    Ok(run_probe(
        ctx,
        &CommandLine::new("systemctl", &["is-active", "--quiet", unit]),
    )?
    .success())
}

/// `true` when systemd knows the unit (`systemctl cat` succeeds).
pub fn unit_exists(ctx: &Context, unit: &str) -> Result<bool, SystemError> {
    Ok(run_probe(ctx, &CommandLine::new("systemctl", &["cat", unit]))?.success())
}

/// How long [`unit_state`] waits for a unit that is starting, stopping or reloading.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// Whether a unit is enabled and whether it runs, once it is no longer changing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnitState {
    /// `enabled`, `enabled-runtime`, `alias`, `indirect` or `linked` (it starts at boot, or
    /// another unit pulls it in).
    pub enabled: bool,
    /// `active` (for a oneshot umbrella such as Debian's postgresql.service, `active (exited)`).
    pub active: bool,
}

/// The state of `unit`, waiting up to `limit` while it is `activating`, `deactivating`,
/// `reloading` or `refreshing`: a plan made from a transient state would start a server that is
/// already starting, and its undo would stop it.
pub fn unit_state(ctx: &Context, unit: &str, limit: Duration) -> Result<UnitState, SystemError> {
    let deadline = Instant::now() + limit;
    loop {
        let output = run_checked(
            ctx,
            &CommandLine::new(
                "systemctl",
                &["show", "-p", "ActiveState", "-p", "UnitFileState", unit],
            ),
        )?;
        let value = |key: &str| {
            output
                .stdout
                .lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let active = value("ActiveState");
        let transient = matches!(
            active.as_str(),
            "activating" | "deactivating" | "reloading" | "refreshing"
        );
        if !transient || Instant::now() >= deadline {
            return Ok(UnitState {
                enabled: matches!(
                    value("UnitFileState").as_str(),
                    "enabled" | "enabled-runtime" | "alias" | "indirect" | "linked"
                ),
                active: matches!(active.as_str(), "active" | "reloading" | "refreshing"),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The undo that takes `unit` back to `before` after a step enabled and started it: stop it only
/// if it was not running, disable it only if it was not enabled, nothing else.
pub fn restore_state_args(unit: &str, before: UnitState) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    if !before.active {
        commands.push(vec!["stop".to_string(), unit.to_string()]);
    }
    if !before.enabled {
        commands.push(vec!["disable".to_string(), unit.to_string()]);
    }
    commands
}
