//! `mm-install upgrade`: take the lock, finish or undo an interrupted operation, decide the
//! target from the flags and the policy, show the plan, and report (and notify the webhook)
//! what happened. Without a terminal nothing is ever asked, so `upgrade --latest` is safe from
//! cron or a systemd timer.

use super::CommandResult;
use super::args::{GlobalArgs, UpgradeArgs};
use super::output::Printer;
use super::prompt::Asker;
use super::{UsageError, prepare};
use crate::context::Context;
use crate::fetch::{self, stable_releases, unpublished};
use crate::journal::Recovery;
use crate::notify::notify;
use crate::ops::install::TarballSource;
use crate::ops::upgrade;
use crate::release::{Artifact, Version};
use crate::report::Reporter;
use crate::settings::Settings;

/// Run the upgrade command.
pub fn run(global: &GlobalArgs, args: UpgradeArgs, printer: &Printer) -> CommandResult {
    let recovery = if args.keep_started {
        Recovery::KeepNewServer
    } else {
        Recovery::Automatic
    };
    let (ctx, guard, settings) = prepare(global, "upgrade", args.dry_run, recovery, printer)?;
    let Some(guard) = guard else {
        return Ok(());
    };
    let client = fetch::http_client(&ctx, &settings, global.ca_cert.as_deref())?;
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
    // The edition the server runs (changed in the product, perhaps), recorded by the upgrade.
    let (edition, changed) = upgrade::installed_edition(ctx, &installed)?;
    if let Some(warning) = changed {
        printer.warn(&warning);
    }
    let artifact_of = |version: &Version| -> CommandResult<Artifact> {
        Ok(Artifact {
            version: version.clone(),
            edition,
            arch: installed.installation.arch.parse()?,
        })
    };
    // Feed entries skipped because their files are not published: said now and in the webhook.
    let mut skipped = Vec::new();
    let (target, held_back) = match (&args.version, &args.tarball) {
        (Some(version), _) => (version.clone(), None),
        (None, Some(tarball)) => (Artifact::version_in_file_name(tarball)?, None),
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
    text.push_str(&crate::ops::plan::numbered(
        plan.steps.iter().map(|step| step.description()),
    ));
    if args.dry_run {
        printer.data(text.trim_end());
        return Ok(None);
    }
    printer.step(text.trim_end());
    let asker = Asker::new(args.yes);
    if asker.is_interactive() && !asker.confirm(&format!("Upgrade to {target} now?"), false)? {
        return Err(UsageError("cancelled; nothing was changed".into()).into());
    }
    let keyring = fetch::keyring(ctx, settings, &global.keyring)?;
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
