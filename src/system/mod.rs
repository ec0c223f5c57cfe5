//! Changing the server: system users, files and ownership, systemd services, packages,
//! PostgreSQL, nginx, SELinux and firewalld. Every function goes through the [`Context`] (root
//! prefix and command runner), so tests run it against a temporary root and scripted commands.
//! Each change has an inverse here too, used by the journal to undo it.

pub mod files;
pub mod nginx;
pub mod packages;
pub mod postgres;
pub mod security;
pub mod services;
pub mod users;

use crate::context::{CommandLine, CommandOutput, Context};
use crate::exit::{Diagnostic, ExitCode};

/// What can go wrong while changing the server.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    #[error("`{command}` failed (exit status {status}): {stderr}")]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("cannot run `{command}`")]
    CommandNotRun {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {detail}")]
    Unexpected { what: String, detail: String },
    /// `url` carries no password ([`postgres::Connection::url`]).
    #[error("cannot connect to the database at {url}: {detail}")]
    DatabaseUnreachable { url: String, detail: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Diagnostic for SystemError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Failure
    }

    fn hint(&self) -> Option<String> {
        match self {
            SystemError::CommandNotRun { .. } => {
                Some("is the tool installed and on PATH? mm-install runs as root".into())
            }
            SystemError::DatabaseUnreachable { .. } => Some(
                "check the host, port, user, password and database name in the URL, and that the server accepts password logins from this machine (listen_addresses and pg_hba.conf)"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// Run `command` and require exit status 0.
pub fn run_checked(ctx: &Context, command: &CommandLine) -> Result<CommandOutput, SystemError> {
    let output = ctx
        .run(command)
        .map_err(|source| SystemError::CommandNotRun {
            command: command.to_string(),
            source,
        })?;
    if output.success() {
        Ok(output)
    } else {
        Err(SystemError::CommandFailed {
            command: command.to_string(),
            status: output
                .status
                .map_or("killed by a signal".into(), |s| s.to_string()),
            stderr: output.stderr.trim().to_string(),
        })
    }
}

/// Run `command` and return its output whatever the exit status (for probes).
pub fn run_probe(ctx: &Context, command: &CommandLine) -> Result<CommandOutput, SystemError> {
    ctx.run(command)
        .map_err(|source| SystemError::CommandNotRun {
            command: command.to_string(),
            source,
        })
}

/// `program [--root DIR] args…` for tools that can act on another tree (`useradd`, `userdel`,
/// `groupdel`, `systemctl`): `--root` only when the context's root is not `/`.
fn rooted(ctx: &Context, program: &str, args: &[&str]) -> CommandLine {
    let mut command = CommandLine::new(program, &[]);
    if ctx.root() != std::path::Path::new("/") {
        command.args = vec!["--root".to_string(), ctx.root().display().to_string()];
    }
    command.args.extend(args.iter().map(|arg| arg.to_string()));
    command
}

#[cfg(test)]
pub mod fake {
    //! A scripted command runner for unit tests: records every command and answers from rules.

    use std::sync::Mutex;

    use crate::context::{CommandLine, CommandOutput, CommandRunner};

    /// A prefix, its answer, and how many more times it answers (`None`: always).
    type Rule = (String, CommandOutput, Option<usize>);

    /// Answers a command whose `program args…` line starts with a rule's prefix with that
    /// rule's output (the last matching rule that has answers left wins); anything else
    /// succeeds with no output.
    #[derive(Default)]
    pub struct FakeRunner {
        rules: Mutex<Vec<Rule>>,
        pub log: Mutex<Vec<CommandLine>>,
    }

    impl FakeRunner {
        pub fn answer(&self, prefix: &str, status: i32, stdout: &str) {
            self.rule(prefix, status, stdout, None);
        }

        /// Like [`FakeRunner::answer`], for the next `times` matching commands only (a state
        /// that changes, e.g. a unit that is still starting).
        pub fn answer_times(&self, prefix: &str, status: i32, stdout: &str, times: usize) {
            self.rule(prefix, status, stdout, Some(times));
        }

        fn rule(&self, prefix: &str, status: i32, stdout: &str, times: Option<usize>) {
            let output = CommandOutput {
                status: Some(status),
                stdout: stdout.to_string(),
                stderr: if status == 0 {
                    String::new()
                } else {
                    format!("{prefix} failed")
                },
            };
            self.rules
                .lock()
                .unwrap()
                .push((prefix.to_string(), output, times));
        }

        /// Every command run so far, as display lines.
        pub fn lines(&self) -> Vec<String> {
            self.log
                .lock()
                .unwrap()
                .iter()
                .map(|c| c.to_string())
                .collect()
        }
    }

    impl CommandRunner for FakeRunner {
        fn run(&self, command: &CommandLine) -> std::io::Result<CommandOutput> {
            self.log.lock().unwrap().push(command.clone());
            let line = command.to_string();
            let mut rules = self.rules.lock().unwrap();
            let answer = rules
                .iter_mut()
                .rev()
                .find(|(prefix, _, times)| line.starts_with(prefix.as_str()) && *times != Some(0));
            Ok(answer
                .map(|(_, output, times)| {
                    if let Some(left) = times {
                        *left -= 1;
                    }
                    output.clone()
                })
                .unwrap_or(CommandOutput {
                    status: Some(0),
                    ..CommandOutput::default()
                }))
        }
    }
}
