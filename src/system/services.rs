//! systemd: daemon-reload, enable, start, stop, disable, is-active. Below another root only
//! `systemctl --root DIR enable/disable` make sense; nothing is started there.

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
