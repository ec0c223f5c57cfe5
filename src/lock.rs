//! One operation at a time: install, upgrade and rollback hold an exclusive `flock` on
//! `/var/lib/mm-install/lock` for their whole run. A second run fails at once (exit 5) and says
//! which process holds the lock and what it is doing. The kernel releases the lock when the
//! holder exits, however it exits, so a killed run never leaves a stale lock behind.

use std::io::{Read, Seek, Write};

use nix::fcntl::{Flock, FlockArg};

use crate::context::Context;
use crate::exit::{Diagnostic, ExitCode};

/// The lock file's path below the root.
pub const LOCK_PATH: &str = "/var/lib/mm-install/lock";

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another mm-install run holds the lock {path}: {holder}")]
    Held { path: String, holder: String },
    #[error("cannot take the lock {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Diagnostic for LockError {
    fn exit_code(&self) -> ExitCode {
        match self {
            LockError::Held { .. } => ExitCode::Locked,
            LockError::Io { .. } => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            LockError::Held { .. } => {
                Some("wait for it to finish, then run the command again".into())
            }
            LockError::Io { .. } => None,
        }
    }
}

/// The held lock; released when dropped (or when the process ends).
pub struct OperationLock {
    _file: Flock<std::fs::File>,
}

impl OperationLock {
    /// Take the lock for `operation`, or fail at once if another process holds it.
    pub fn acquire(ctx: &Context, operation: &str) -> Result<OperationLock, LockError> {
        let path = ctx.path(LOCK_PATH);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir).map_err(io)?;
        }
        let file = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?
            .into_parts()
            .0;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Held {
                    path: path.display().to_string(),
                    holder: if holder.is_empty() {
                        "unknown process".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err((_, errno)) => return Err(io(std::io::Error::from(errno))),
        };
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(
            file,
            "pid {} ({operation}) since {}",
            std::process::id(),
            crate::state::now_rfc3339()
        )
        .map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(OperationLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path());
        let first = OperationLock::acquire(&ctx, "upgrade").unwrap();
        let err = OperationLock::acquire(&ctx, "rollback").err().unwrap();
        assert_eq!(err.exit_code(), ExitCode::Locked);
        assert!(
            err.to_string()
                .contains(&format!("pid {} (upgrade)", std::process::id())),
            "{err}"
        );
        drop(first);
        OperationLock::acquire(&ctx, "rollback").unwrap();
    }
}
