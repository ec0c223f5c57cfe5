//! `mm-install rollback`: take the lock, go back to the kept release before the current one
//! (or `--to VERSION`), with its database dump only when asked and confirmed, or finish the
//! rollback an interrupted operation's recovery already was; report and notify the webhook.

use super::CommandResult;
use super::args::{GlobalArgs, RollbackArgs};
use super::output::Printer;
use super::prompt::Asker;
use super::{UsageError, prepare};
use crate::fetch;
use crate::journal::Recovery;
use crate::notify::notify;
use crate::ops::upgrade;
use crate::report::Reporter;

/// Run the rollback command.
pub fn run(global: &GlobalArgs, args: RollbackArgs, printer: &Printer) -> CommandResult {
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
            &fetch::http_client(&ctx, &settings, global.ca_cert.as_deref())?,
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
    text.push_str(&crate::ops::plan::numbered(
        plan.steps.iter().map(|step| step.description()),
    ));
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
    for warning in &outcome.warnings {
        printer.warn(warning);
    }
    let message = format!(
        "rolled Mattermost {} back to {} (downtime {:.1}s)",
        outcome.from,
        outcome.to,
        outcome.downtime.as_secs_f64()
    );
    printer.step(&message);
    notify(
        &fetch::http_client(&ctx, &settings, global.ca_cert.as_deref())?,
        &settings.webhook_url,
        &message,
        printer,
    );
    printer.data(&format!("rolled back: {} -> {}", outcome.from, outcome.to));
    Ok(())
}
