//! `mm-install upgrade`, `mm-install rollback` and `mm-install status`: take the lock, finish
//! or undo an interrupted operation, decide the target from the flags and the policy, show the
//! plan, and report (and notify the webhook) what happened. Without a terminal nothing is ever
//! asked, so `upgrade --latest` is safe from cron or a systemd timer.

use std::path::Path;

use super::CommandResult;
use super::args::{GlobalArgs, RollbackArgs, StatusArgs, UpgradeArgs};
use super::commands::{http_client, keyring};
use super::output::Printer;
use super::prompt::Asker;
use super::{Guard, UsageError, lock_and_recover};
use crate::context::Context;
use crate::fetch::{stable_releases, unpublished};
use crate::journal::Recovery;
use crate::notify::notify;
use crate::ops::install::TarballSource;
use crate::ops::upgrade;
use crate::release::{Artifact, Version};
use crate::report::Reporter;
use crate::settings::Settings;
use crate::state::State;

/// The live system, locked, with any interrupted operation undone; no guard when a dry run
/// found an interrupted operation (and said so).
fn prepare(
    global: &GlobalArgs,
    operation: &str,
    dry_run: bool,
    recovery: Recovery,
    printer: &Printer,
) -> CommandResult<(Context, Option<Guard>, Settings)> {
    let ctx = Context::new(&global.root);
    if !ctx.is_live_system() {
        return Err(UsageError(format!(
            "{operation} acts on a running server; it does not support --root"
        ))
        .into());
    }
    let guard = lock_and_recover(global, &ctx, operation, dry_run, recovery, printer)?;
    let settings = Settings::load(&ctx)?;
    for warning in &settings.warnings {
        printer.warn(warning);
    }
    Ok((ctx, guard, settings))
}

pub fn upgrade(global: &GlobalArgs, args: UpgradeArgs, printer: &Printer) -> CommandResult {
    let recovery = if args.keep_started {
        Recovery::KeepNewServer
    } else {
        Recovery::Automatic
    };
    let (ctx, guard, settings) = prepare(global, "upgrade", args.dry_run, recovery, printer)?;
    let Some(guard) = guard else {
        return Ok(());
    };
    let client = http_client(global)?;
    if let Some(recovered) = guard.recovered.as_ref().filter(|r| r.kept) {
        // That was the upgrade asked for: the interrupted operation is done.
        let installed = upgrade::installed(&ctx)?;
        let message = format!(
            "kept the server the interrupted {} started: Mattermost {} is installed",
            recovered.operation, installed.installation.version
        );
        printer.step(&message);
        notify(&client, &settings.webhook_url, &message, printer);
        printer.data(&format!("kept: {}", installed.installation.version));
        return Ok(());
    }
    if args.keep_started {
        printer.step("no interrupted operation had started a new server: nothing to keep");
        return Ok(());
    }
    let result = run_upgrade(&ctx, global, &args, &settings, &client, printer);
    let message = match &result {
        Ok(Some(text)) => Some(text.clone()),
        Ok(None) => None,
        Err(failure) => Some(format!("upgrade failed: {}", failure.message())),
    };
    if let (Some(message), false) = (message, args.dry_run) {
        notify(&client, &settings.webhook_url, &message, printer);
    }
    result.map(drop)
}

/// Run the upgrade; returns the message for the webhook (`None`: nothing worth telling).
fn run_upgrade(
    ctx: &Context,
    global: &GlobalArgs,
    args: &UpgradeArgs,
    settings: &Settings,
    client: &crate::fetch::HttpClient,
    printer: &Printer,
) -> CommandResult<Option<String>> {
    let installed = upgrade::installed(ctx)?;
    if installed.adopted {
        printer.step(&format!(
            "no mm-install state: adopting the Mattermost {} installed by hand in {}",
            installed.installation.version,
            crate::layout::INSTALL_DIR
        ));
    }
    let current: Version = installed.installation.version.parse()?;
    let policy = args.policy.unwrap_or(settings.policy);
    let artifact_of = |version: &Version| -> CommandResult<Artifact> {
        Ok(Artifact {
            version: version.clone(),
            edition: installed.installation.edition.parse()?,
            arch: installed.installation.arch.parse()?,
        })
    };
    // Feed entries skipped because their files are not published: said now and in the webhook.
    let mut skipped = Vec::new();
    let (target, held_back) = match (&args.version, &args.tarball) {
        (Some(version), _) => (version.clone(), None),
        (None, Some(tarball)) => (super::install::version_from_file_name(tarball)?, None),
        (None, None) => {
            let available = stable_releases(client, &global.releases_api, printer)?;
            let (allowed, skips) =
                upgrade::newest_published(&current, &available, policy, |version| {
                    let artifact = artifact_of(version)?;
                    let missing = unpublished(client, &artifact, &global.release_url, printer)?;
                    CommandResult::Ok(missing.map(|err| err.to_string()))
                })?;
            for line in &skips {
                printer.warn(line);
            }
            skipped = skips;
            let newest = available.last().cloned();
            let held_back = newest.filter(|n| {
                Some(n) != allowed.as_ref()
                    && *n > current
                    && upgrade::newest_allowed(&current, std::slice::from_ref(n), policy).is_none()
            });
            match allowed {
                Some(version) => (version, held_back),
                None => {
                    printer.step(&format!(
                        "Mattermost {current} is up to date (policy: {policy})"
                    ));
                    let mut lines = skipped;
                    if let Some(newer) = &held_back {
                        let text = format!(
                            "Mattermost {newer} is available but the `{policy}` policy holds it back (installed: {current})"
                        );
                        printer.step(&text);
                        lines.push(text);
                    }
                    printer.data(&format!("up to date: {current}"));
                    return Ok((!lines.is_empty()).then(|| lines.join("\n")));
                }
            }
        }
    };
    if target <= current {
        printer.data(&format!("up to date: {current}"));
        return Ok(None);
    }
    let artifact = artifact_of(&target)?;
    let plan = upgrade::plan_upgrade(ctx, installed, artifact, settings)?;
    let mut text = format!("plan: upgrade Mattermost {current} to {target}\n");
    for (number, step) in plan.steps.iter().enumerate() {
        text.push_str(&format!("  {:>2}. {}\n", number + 1, step.description()));
    }
    if args.dry_run {
        printer.data(text.trim_end());
        return Ok(None);
    }
    printer.step(text.trim_end());
    let asker = Asker::new(args.yes);
    if asker.is_interactive() && !asker.confirm(&format!("Upgrade to {target} now?"), false)? {
        return Err(UsageError("cancelled; nothing was changed".into()).into());
    }
    let keyring = keyring(global)?;
    let source = match (&args.tarball, &args.signature) {
        (Some(tarball), Some(signature)) => TarballSource::Local {
            tarball: tarball.clone(),
            signature: signature.clone(),
            sha256: None,
        },
        _ => TarballSource::Mirror {
            release_url: global.release_url.clone(),
            sha256: None,
        },
    };
    let outcome =
        upgrade::execute_upgrade(ctx, plan, &source, client, &keyring, settings, printer)?;
    for warning in &outcome.warnings {
        printer.warn(warning);
    }
    for pruned in &outcome.pruned {
        printer.step(&format!(
            "removed the old release and backups of {pruned} (keep = {})",
            settings.keep
        ));
    }
    let mut message = format!(
        "upgraded Mattermost {} to {} (downtime {:.1}s)",
        outcome.from,
        outcome.to,
        outcome.downtime.as_secs_f64()
    );
    if let Some(newer) = held_back {
        message.push_str(&format!(
            "; {newer} is available but held back by the `{policy}` policy"
        ));
    }
    printer.step(&message);
    for line in &skipped {
        message.push_str(&format!("; {line}"));
    }
    printer.data(&format!("upgraded: {} -> {}", outcome.from, outcome.to));
    Ok(Some(message))
}

pub fn rollback(global: &GlobalArgs, args: RollbackArgs, printer: &Printer) -> CommandResult {
    // `--restore-database --yes` is also the operator's consent to undo an interrupted
    // operation whose new server had started, database included.
    let recovery = if args.restore_database && args.yes {
        Recovery::RestoreDatabase
    } else {
        Recovery::Automatic
    };
    let (ctx, guard, settings) = prepare(global, "rollback", args.dry_run, recovery, printer)?;
    if let Some(recovered) = guard
        .as_ref()
        .and_then(|g| g.recovered.as_ref())
        .filter(|r| r.database_restored)
    {
        // That undo was the rollback asked for: the server is back as before the operation.
        let installed = upgrade::installed(&ctx)?;
        let message = format!(
            "undid the interrupted {} and restored its database dump: Mattermost {} is back",
            recovered.operation, installed.installation.version
        );
        printer.step(&message);
        notify(
            &http_client(global)?,
            &settings.webhook_url,
            &message,
            printer,
        );
        printer.data(&format!(
            "rolled back: interrupted {} -> {}",
            recovered.operation, installed.installation.version
        ));
        return Ok(());
    }
    if guard.is_none() {
        // A dry run found an interrupted operation, and said so.
        return Ok(());
    }
    let plan = upgrade::plan_rollback(&ctx, args.to.as_ref(), args.schema_choice(), &settings)?;
    let mut text = format!(
        "plan: roll Mattermost {} back to {}\n  {}\n",
        plan.installed.installation.version, plan.kept.installation.version, plan.database
    );
    for (number, step) in plan.steps.iter().enumerate() {
        text.push_str(&format!("  {:>2}. {}\n", number + 1, step.description()));
    }
    printer.step(text.trim_end());
    if let Some(warning) = &plan.warning {
        printer.warn(warning);
    }
    if args.dry_run {
        return Ok(());
    }
    let asker = Asker::new(args.yes);
    if args.restore_database && !args.yes && !asker.is_interactive() {
        return Err(UsageError(
            "--restore-database loses data: pass --yes to confirm without a terminal".into(),
        )
        .into());
    }
    if asker.is_interactive() && !asker.confirm("Roll back now?", false)? {
        return Err(UsageError("cancelled; nothing was changed".into()).into());
    }
    let outcome = upgrade::execute_rollback(&ctx, plan, printer)?;
    let message = format!(
        "rolled Mattermost {} back to {} (downtime {:.1}s)",
        outcome.from,
        outcome.to,
        outcome.downtime.as_secs_f64()
    );
    printer.step(&message);
    notify(
        &http_client(global)?,
        &settings.webhook_url,
        &message,
        printer,
    );
    printer.data(&format!("rolled back: {} -> {}", outcome.from, outcome.to));
    Ok(())
}

pub fn status(global: &GlobalArgs, args: StatusArgs, printer: &Printer) -> CommandResult {
    let ctx = Context::new(&global.root);
    let settings = Settings::load(&ctx)?;
    let installed = upgrade::installed(&ctx)?;
    let current: Version = installed.installation.version.parse()?;
    let newest_allowed = match stable_releases(
        &http_client(global)?,
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
