//! Stable exit codes: part of the command-line interface, documented in the README.

/// What the process tells its caller. The numbers never change between releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Success, including "already up to date".
    Success = 0,
    /// Failure with nothing changed on the server.
    Failure = 1,
    /// Bad command line: unknown flag, invalid value, missing answer without a TTY.
    Usage = 2,
    /// A download failed verification (signature, key or checksum); nothing was kept.
    VerificationFailed = 3,
    /// An upgrade failed and was rolled back to the previous version.
    UpgradeRolledBack = 4,
    /// Another mm-install run holds the lock.
    Locked = 5,
    /// The platform (OS, architecture) is not supported.
    Unsupported = 6,
    /// Manual attention needed: a rollback itself failed; the message says what state the server is in.
    ManualAttention = 10,
}

impl ExitCode {
    /// The numeric code handed to the operating system.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

/// Implemented by every core error so the CLI can pick the exit code and print a hint.
pub trait Diagnostic: std::error::Error {
    /// The exit code this failure maps to.
    fn exit_code(&self) -> ExitCode {
        ExitCode::Failure
    }
    /// What the user can do next, printed as `hint: …` under the error.
    fn hint(&self) -> Option<String> {
        None
    }
}

/// An error and every `source` below it, joined by `: `: how an error embedded in another
/// error's message is shown, so no cause is lost and none is printed twice (messages never repeat
/// their own `source`; whoever prints the outermost error walks the chain once).
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}")]
    struct ReadFailed {
        path: &'static str,
        source: std::io::Error,
    }

    #[test]
    fn a_chain_shows_every_cause_once() {
        let err = ReadFailed {
            path: "/etc/x",
            source: std::io::Error::other("disk on fire"),
        };
        assert_eq!(Chain(&err).to_string(), "cannot read /etc/x: disk on fire");
    }
}
