//! The command line: clap definitions, dispatch to the core, and the one place where errors
//! become `error: …` / `hint: …` lines and exit codes. Everything printed goes through here or
//! through [`output`].

mod args;
mod commands;
mod docs;
mod install;
mod output;
mod prompt;
mod upgrade;
mod verify;

use clap::Parser;

use crate::archive::ArchiveError;
use crate::exit::{Diagnostic, ExitCode};
use crate::fetch::FetchError;
use crate::host::HostError;
use crate::journal::JournalError;
use crate::ops::install::InstallError;
use crate::release::ReleaseError;

pub use args::Cli;

/// The operation lock, held while a command runs (none for a dry run where nothing ever ran),
/// and the interrupted operation recovery settled before it, if any.
struct Guard {
    _lock: Option<crate::lock::OperationLock>,
    recovered: Option<crate::journal::Recovered>,
}

/// Take the operation lock and settle the journal an earlier run may have left. An operation
/// holds the lock exclusively and undoes the interrupted one before anything else, as far as
/// `recovery` allows: an interrupted operation whose new server had started is left alone
/// unless the operator asked for the database dump (exit 10, the webhook told). A `--dry-run`
/// holds it shared (so never while an operation runs) and changes nothing, not even by
/// recovering: if a run was interrupted, it says so and returns `None`, since a plan made from a
/// half-changed server would show the wrong steps.
fn lock_and_recover(
    ctx: &crate::context::Context,
    operation: &str,
    dry_run: bool,
    recovery: crate::journal::Recovery,
    printer: &output::Printer,
) -> anyhow::Result<Option<Guard>> {
    use crate::report::Reporter;
    if dry_run {
        let lock = crate::lock::OperationLock::shared(ctx)?;
        if let Some(interrupted) = crate::journal::pending(ctx)? {
            printer.warn(&format!(
                "an earlier {interrupted} did not finish, and --dry-run changes nothing, so there is no plan to show yet: a run without --dry-run settles the {interrupted} first (undoes it, or says what state it left if its new server had started)"
            ));
            return Ok(None);
        }
        return Ok(Some(Guard {
            _lock: lock,
            recovered: None,
        }));
    }
    let lock = crate::lock::OperationLock::acquire(ctx, operation)?;
    let recovered = match crate::journal::recover(ctx, recovery, printer) {
        Ok(recovered) => recovered,
        Err(err @ crate::journal::JournalError::ServerStarted { .. }) => {
            let webhook = crate::settings::Settings::load(ctx)
                .map(|settings| settings.webhook_url)
                .unwrap_or_default();
            let client = commands::http_client()?;
            crate::notify::notify(
                &client,
                &webhook,
                &format!("needs attention: {err}"),
                printer,
            );
            return Err(err.into());
        }
        Err(err) => return Err(err.into()),
    };
    if let Some(interrupted) = recovered.as_ref().filter(|r| !r.kept) {
        printer.step(&format!(
            "the interrupted {} was undone{}; the server is back as it was before it",
            interrupted.operation,
            if interrupted.database_restored {
                ", its database dump restored"
            } else {
                ""
            }
        ));
    }
    Ok(Some(Guard {
        _lock: Some(lock),
        recovered,
    }))
}

/// Parse the command line, run the command, print errors, return the exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let printer = output::Printer::new(&cli.global);
    match commands::run(cli, &printer) {
        Ok(()) => ExitCode::Success.into(),
        Err(err) => {
            let (code, hint) = diagnose(&err);
            printer.error(&format!("{err:#}"), hint.as_deref());
            code.into()
        }
    }
}

/// A command line that cannot work (a missing answer without a terminal, for example): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl Diagnostic for UsageError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Usage
    }
}

/// The exit code and hint of the first core error found in `err`'s chain.
fn diagnose(err: &anyhow::Error) -> (ExitCode, Option<String>) {
    fn of(diagnostic: &dyn Diagnostic) -> (ExitCode, Option<String>) {
        (diagnostic.exit_code(), diagnostic.hint())
    }
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<FetchError>() {
            return of(e);
        }
        if let Some(e) = cause.downcast_ref::<ReleaseError>() {
            return of(e);
        }
        if let Some(e) = cause.downcast_ref::<HostError>() {
            return of(e);
        }
        if let Some(e) = cause.downcast_ref::<ArchiveError>() {
            return of(e);
        }
        if let Some(e) = cause.downcast_ref::<InstallError>() {
            return of(e);
        }
        if let Some(e) = cause.downcast_ref::<JournalError>() {
            return of(e);
        }
        if let Some(e) = cause.downcast_ref::<crate::render::RenderError>() {
            return of(e);
        }
        if let Some(e) = cause.downcast_ref::<crate::ops::docs::DocsError>() {
            return of(e);
        }
        if let Some(e) = cause.downcast_ref::<crate::ops::upgrade::UpgradeError>() {
            return of(e);
        }
        if let Some(e) = cause.downcast_ref::<crate::ops::verify::VerifyError>() {
            return of(e);
        }
        if let Some(e) = cause.downcast_ref::<crate::lock::LockError>() {
            return of(e);
        }
        if let Some(e) = cause.downcast_ref::<crate::settings::SettingsError>() {
            return of(e);
        }
        if let Some(e) = cause.downcast_ref::<UsageError>() {
            return of(e);
        }
    }
    (ExitCode::Failure, None)
}
