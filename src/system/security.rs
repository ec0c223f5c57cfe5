//! RHEL-family access controls: SELinux (nginx may connect to an upstream; the server binary
//! labelled `bin_t`) and firewalld (http/https open). Each change is made only when the
//! mechanism is active and the setting is not already in place, so undo never removes
//! something the admin had.

use super::{SystemError, run_checked, run_probe};
use crate::context::{CommandLine, Context};

/// The SELinux boolean that lets nginx proxy to Mattermost on 127.0.0.1:8065.
pub const NGINX_CONNECT_BOOLEAN: &str = "httpd_can_network_connect";

/// `true` when SELinux is enforcing.
pub fn selinux_enforcing(ctx: &Context) -> bool {
    run_probe(ctx, &CommandLine::new("getenforce", &[]))
        .map(|out| out.success() && out.stdout.trim() == "Enforcing")
        .unwrap_or(false)
}

/// `true` when SELinux is enabled (`selinuxenabled` exits 0; without the tool it is not).
pub fn selinux_enabled(ctx: &Context) -> bool {
    run_probe(ctx, &CommandLine::new("selinuxenabled", &[]))
        .map(|out| out.success())
        .unwrap_or(false)
}

/// Give every file below `tree` (a path on the host) the label the policy assigns to its path
/// (`restorecon -R`): a tree renamed into place keeps the labels of where it was unpacked.
pub fn relabel(ctx: &Context, tree: &std::path::Path) -> Result<(), SystemError> {
    let tree = tree.display().to_string();
    run_checked(ctx, &CommandLine::new("restorecon", &["-R", &tree])).map(drop)
}

/// The current value of an SELinux boolean.
pub fn selinux_boolean(ctx: &Context, name: &str) -> Result<bool, SystemError> {
    let output = run_checked(ctx, &CommandLine::new("getsebool", &[name]))?;
    Ok(output.stdout.trim().ends_with("on"))
}

/// Set an SELinux boolean persistently.
pub fn set_selinux_boolean(ctx: &Context, name: &str, on: bool) -> Result<(), SystemError> {
    let value = if on { "on" } else { "off" };
    run_checked(ctx, &CommandLine::new("setsebool", &["-P", name, value])).map(drop)
}

/// Label `<install_dir>/bin` as executables (`bin_t`), as Mattermost's RHEL guide does.
pub fn label_binaries(ctx: &Context, install_dir: &str) -> Result<(), SystemError> {
    let pattern = format!("{install_dir}/bin(/.*)?");
    run_checked(
        ctx,
        &CommandLine::new("semanage", &["fcontext", "-a", "-t", "bin_t", &pattern]),
    )?;
    run_checked(
        ctx,
        &CommandLine::new("restorecon", &["-RF", &format!("{install_dir}/bin")]),
    )
    .map(drop)
}

/// Remove the label rule added by [`label_binaries`].
pub fn unlabel_binaries(ctx: &Context, install_dir: &str) -> Result<(), SystemError> {
    let pattern = format!("{install_dir}/bin(/.*)?");
    let output = run_probe(
        ctx,
        &CommandLine::new("semanage", &["fcontext", "-d", &pattern]),
    )?;
    // "not defined" means it is already gone.
    if output.success() || output.stderr.contains("not defined") {
        Ok(())
    } else {
        Err(SystemError::Unexpected {
            what: format!("semanage fcontext -d {pattern}"),
            detail: output.stderr,
        })
    }
}

/// `true` when firewalld is running.
pub fn firewalld_running(ctx: &Context) -> bool {
    run_probe(ctx, &CommandLine::new("firewall-cmd", &["--state"])).is_ok_and(|o| o.success())
}

/// `true` when the permanent firewalld configuration allows `service` (http, https).
pub fn firewall_allows(ctx: &Context, service: &str) -> Result<bool, SystemError> {
    let query = format!("--query-service={service}");
    Ok(run_probe(
        ctx,
        &CommandLine::new("firewall-cmd", &["--permanent", &query]),
    )?
    .success())
}

/// Open (or, with `open == false`, close) `service` permanently and reload firewalld.
pub fn set_firewall_service(ctx: &Context, service: &str, open: bool) -> Result<(), SystemError> {
    let change = if open {
        format!("--add-service={service}")
    } else {
        format!("--remove-service={service}")
    };
    run_checked(
        ctx,
        &CommandLine::new("firewall-cmd", &["--permanent", &change]),
    )?;
    run_checked(ctx, &CommandLine::new("firewall-cmd", &["--reload"])).map(drop)
}
