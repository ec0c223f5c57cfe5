//! `mm-install status`: the installed version, the newest one the policy allows, the service,
//! the kept releases and backups, and whether an operation was interrupted, as text or JSON.

use std::path::Path;

use super::CommandResult;
use super::args::{GlobalArgs, StatusArgs};
use super::output::Printer;
use crate::context::Context;
use crate::fetch::{self, stable_releases};
use crate::ops::upgrade;
use crate::release::Version;
use crate::settings::Settings;
use crate::state::State;

/// Run the status command.
pub fn run(global: &GlobalArgs, args: StatusArgs, printer: &Printer) -> CommandResult {
    let ctx = Context::new(&global.root);
    let settings = Settings::load(&ctx)?;
    let installed = upgrade::installed(&ctx)?;
    let current: Version = installed.installation.version.parse()?;
    let newest_allowed = match stable_releases(
        &fetch::http_client(&ctx, &settings, global.ca_cert.as_deref())?,
        &global.releases_api,
        &crate::report::Silent,
    ) {
        Ok(available) => upgrade::newest_allowed(&current, &available, settings.policy)
            .map(|v| v.to_string())
            .unwrap_or_else(|| current.to_string()),
        Err(err) => format!("unknown ({err})"),
    };
    let active = crate::system::services::is_active(&ctx, "mattermost.service").unwrap_or(false);
    let state = State::load(&ctx)?;
    let kept: Vec<serde_json::Value> = state
        .kept
        .iter()
        .map(|k| {
            serde_json::json!({
                "version": k.installation.version,
                "tree": k.tree,
                "tree_bytes": size(&ctx.path(&k.tree)),
                "backup_dir": k.backup_dir,
                "backup_bytes": size(&ctx.path(&k.backup_dir)),
                "replaced_at": k.replaced_at,
            })
        })
        .collect();
    let report = serde_json::json!({
        "installed_version": current.to_string(),
        "adopted": installed.adopted,
        "policy": settings.policy.to_string(),
        "newest_allowed": newest_allowed,
        "service_active": active,
        "kept": kept,
        "interrupted_operation": ctx.path(crate::layout::JOURNAL_PATH).exists(),
    });
    if args.json {
        printer.data(&serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let mut text = format!(
        "installed:       Mattermost {current}{}\nnewest allowed:  {newest_allowed} (policy: {})\nservice:         {}\n",
        if installed.adopted {
            " (installed by hand; adopted on the first upgrade)"
        } else {
            ""
        },
        settings.policy,
        if active { "active" } else { "NOT active" }
    );
    if state.kept.is_empty() {
        text.push_str("kept releases:   none\n");
    }
    for k in &state.kept {
        text.push_str(&format!(
            "kept release:    {} in {} ({} MiB), backups {} ({} MiB)\n",
            k.installation.version,
            k.tree,
            size(&ctx.path(&k.tree)) >> 20,
            k.backup_dir,
            size(&ctx.path(&k.backup_dir)) >> 20
        ));
    }
    printer.data(text.trim_end());
    Ok(())
}

/// Bytes used by the files below `path` (0 when it is gone).
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
