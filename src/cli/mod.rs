//! The command line: clap definitions, dispatch to the core, and the one place where errors
//! become `error: …` / `hint: …` lines and exit codes. Everything printed goes through here or
//! through [`output`].

mod args;
mod commands;
mod completions;
mod detect_os;
mod docs;
mod download;
mod install;
mod man;
mod output;
mod prompt;
mod render;
mod rollback;
mod status;
mod upgrade;
mod verify;

use clap::Parser;

use crate::exit::{Diagnostic, ExitCode};

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
    global: &args::GlobalArgs,
    ctx: &crate::context::Context,
    settings: &crate::settings::Settings,
    operation: &str,
    dry_run: bool,
    recovery: crate::journal::Recovery,
    printer: &output::Printer,
) -> CommandResult<Option<Guard>> {
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
            let client = crate::fetch::http_client(ctx, settings, global.ca_cert.as_deref())?;
            crate::notify::notify(
                &client,
                &settings.webhook_url,
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

/// The live system, its settings (read once, here), locked, with any interrupted operation
/// undone: what `upgrade` and `rollback` start from. No guard when a dry run found an
/// interrupted operation (and said so).
fn prepare(
    global: &args::GlobalArgs,
    operation: &str,
    dry_run: bool,
    recovery: crate::journal::Recovery,
    printer: &output::Printer,
) -> CommandResult<(
    crate::context::Context,
    Option<Guard>,
    crate::settings::Settings,
)> {
    use crate::report::Reporter;
    let ctx = crate::context::Context::new(&global.root);
    if !ctx.is_live_system() {
        return Err(UsageError(format!(
            "{operation} acts on a running server; it does not support --root"
        ))
        .into());
    }
    let settings = crate::settings::Settings::load(&ctx)?;
    let guard = lock_and_recover(
        global, &ctx, &settings, operation, dry_run, recovery, printer,
    )?;
    for warning in &settings.warnings {
        printer.warn(warning);
    }
    Ok((ctx, guard, settings))
}

/// Parse the command line, run the command, print errors, return the exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let printer = output::Printer::new(&cli.global);
    match commands::run(cli, &printer) {
        Ok(()) => ExitCode::Success.into(),
        Err(failure) => {
            printer.error(&failure);
            failure.code.into()
        }
    }
}

/// What every command returns.
pub type CommandResult<T = ()> = Result<T, Failure>;

/// A failed command: the error with its chain of causes, and the exit code and hint its core
/// error chose. Every core error type implements [`Diagnostic`], and `?` turns one into a
/// `Failure` through the blanket `From` below, so the code and hint are taken from the error
/// itself when it leaves the core: no list of error types to keep up to date, and a new core
/// error type that forgets `Diagnostic` does not compile at the edge.
#[derive(Debug)]
pub struct Failure {
    error: anyhow::Error,
    code: ExitCode,
    hint: Option<String>,
}

impl Failure {
    /// The same failure, with `message` printed before its cause.
    pub fn context(self, message: String) -> Self {
        Failure {
            error: self.error.context(message),
            ..self
        }
    }

    /// The error and every cause below it, each once.
    pub fn message(&self) -> String {
        format!("{:#}", self.error)
    }
}

/// What the user reads: `error: …`, then `hint: …` when there is something to do.
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error: {}", self.message())?;
        match &self.hint {
            Some(hint) => write!(f, "\nhint: {hint}"),
            None => Ok(()),
        }
    }
}

impl<E: Diagnostic + Send + Sync + 'static> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure {
            code: error.exit_code(),
            hint: error.hint(),
            error: error.into(),
        }
    }
}

/// Failures outside the core (writing to stdout, a terminal prompt): exit 1, no hint.
impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure {
            error,
            code: ExitCode::Failure,
            hint: None,
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        anyhow::Error::from(error).into()
    }
}

impl From<dialoguer::Error> for Failure {
    fn from(error: dialoguer::Error) -> Self {
        anyhow::Error::from(error).into()
    }
}

impl From<serde_json::Error> for Failure {
    fn from(error: serde_json::Error) -> Self {
        anyhow::Error::from(error).into()
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

/// The rendered text of representative failures, pinned: a change to any of them is a change to
/// what admins read and what scripts may match, so it shows up here first.
#[cfg(test)]
mod golden {
    use super::*;
    use crate::fetch::{FetchError, VerifyError};
    use crate::ops::health::HealthError;
    use crate::ops::install::InstallError;
    use crate::ops::upgrade::UpgradeError;

    fn rendered(failure: Failure) -> (String, ExitCode) {
        (failure.to_string(), failure.code)
    }

    #[test]
    fn not_root() {
        assert_eq!(
            rendered(InstallError::NotRoot.into()),
            (
                "error: mm-install must run as root to install a server\n\
                 hint: run it with sudo, or use --root DIR to build an image"
                    .into(),
                ExitCode::Failure
            )
        );
    }

    #[test]
    fn lock_held() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = crate::context::Context::new(dir.path());
        let _held = crate::lock::OperationLock::acquire(&ctx, "upgrade").unwrap();
        let err = crate::lock::OperationLock::acquire(&ctx, "install")
            .err()
            .unwrap();
        let (text, code) = rendered(err.into());
        let text = text.replace(&dir.path().display().to_string(), "ROOT");
        let text = text.replace(&std::process::id().to_string(), "PID");
        let since = text.find(" since ").unwrap() + " since ".len();
        let text = format!("{}TIME{}", &text[..since], &text[since + 20..]);
        assert_eq!(
            (text.as_str(), code),
            (
                "error: another mm-install run holds the lock ROOT/var/lib/mm-install/lock: \
                 pid PID (upgrade) since TIME\n\
                 hint: wait for it to finish, then run the command again",
                ExitCode::Locked
            )
        );
    }

    #[test]
    fn bad_signature() {
        let err = FetchError::Verify(VerifyError::BadSignature {
            file: "mattermost-11.1.0-linux-amd64.tar.gz".into(),
            source_name: "mattermost-11.1.0-linux-amd64.tar.gz.sig".into(),
            fingerprint: "A1B3 1D46 F0F3 A10B 02CF  2D44 F8F2 E6E5 5F1C 6EB9".into(),
            reason: "the signature does not verify".into(),
        });
        assert_eq!(
            rendered(err.into()),
            (
                "error: BAD signature: mattermost-11.1.0-linux-amd64.tar.gz does not match \
                 mattermost-11.1.0-linux-amd64.tar.gz.sig (signed by A1B3 1D46 F0F3 A10B 02CF  \
                 2D44 F8F2 E6E5 5F1C 6EB9): the signature does not verify\n\
                 hint: nothing was kept; if you use a mirror, re-sync it from \
                 releases.mattermost.com, then try again"
                    .into(),
                ExitCode::VerificationFailed
            )
        );
    }

    #[test]
    fn unreachable_mirror() {
        let err = FetchError::GaveUp {
            attempts: 5,
            last: Box::new(FetchError::Network {
                url: "https://releases.example.org/11.1.0/mattermost-11.1.0-linux-amd64.tar.gz"
                    .into(),
                reason: "Connection refused (os error 111)".into(),
            }),
        };
        assert_eq!(
            rendered(err.into()),
            (
                "error: giving up after 5 attempts: cannot reach \
                 https://releases.example.org/11.1.0/mattermost-11.1.0-linux-amd64.tar.gz: \
                 Connection refused (os error 111)\n\
                 hint: run the same command again later: a partial download is kept and resumed"
                    .into(),
                ExitCode::Failure
            )
        );
    }

    #[test]
    fn bad_site_url() {
        let err = crate::site_url::SiteUrl::parse("chat.example.com")
            .err()
            .unwrap();
        assert_eq!(
            rendered(err.into()),
            (
                "error: invalid site URL `chat.example.com`: it must start with https:// or http://\n\
                 hint: pass the address users will type in their browser, such as \
                 https://chat.example.com"
                    .into(),
                ExitCode::Usage
            )
        );
    }

    #[test]
    fn failed_upgrade_rolled_back() {
        let err = UpgradeError::RolledBack {
            installed: "11.0.4".into(),
            target: "11.1.0".into(),
            step: "prove the new server answers through the proxy".into(),
            cause: Box::new(UpgradeError::Health(HealthError::Failed {
                what: "GET /api/v4/system/ping",
                address: "127.0.0.1:80".parse().unwrap(),
                host: "chat.example.com".into(),
                detail: "HTTP 502".into(),
            })),
        };
        assert_eq!(
            rendered(err.into()),
            (
                "error: the upgrade to 11.1.0 failed while trying to prove the new server \
                 answers through the proxy: GET /api/v4/system/ping through 127.0.0.1:80 \
                 (Host: chat.example.com) failed: HTTP 502\n\
                 it was rolled back: Mattermost 11.0.4 is running again and answering\n\
                 hint: see `journalctl -u mattermost` for why the new version failed; the \
                 backups are in /var/lib/mm-install/backups"
                    .into(),
                ExitCode::UpgradeRolledBack
            )
        );
    }

    #[test]
    fn a_cause_is_printed_once_even_inside_a_rollback_message() {
        let cannot_run = || crate::system::SystemError::CommandNotRun {
            command: "pg_dump -Fc mattermost".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let (text, _) = rendered(UpgradeError::System(cannot_run()).into());
        assert_eq!(
            text.lines().next().unwrap(),
            "error: cannot run `pg_dump -Fc mattermost`: entity not found"
        );
        let err = UpgradeError::RolledBack {
            installed: "11.0.4".into(),
            target: "11.1.0".into(),
            step: "back up the database".into(),
            cause: Box::new(UpgradeError::System(cannot_run())),
        };
        let (text, _) = rendered(err.into());
        assert_eq!(
            text.lines().next().unwrap(),
            "error: the upgrade to 11.1.0 failed while trying to back up the database: \
             cannot run `pg_dump -Fc mattermost`: entity not found"
        );
    }
}
