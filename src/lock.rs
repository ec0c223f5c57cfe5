//! One operation at a time: install, upgrade and rollback hold an exclusive `flock` on
//! `/var/lib/mm-install/lock` for their whole run, recovery of an interrupted run included. A
//! `--dry-run` holds it shared and writes nothing: it may read the journal beside other dry runs,
//! never while an operation runs. A run that cannot take the lock fails at once (exit 5) and
//! says which process holds it and what it is doing. The kernel releases the lock when the
//! holder exits, however it exits, so a killed run never leaves a stale lock behind.

use std::io::{Read, Seek, Write};

use nix::fcntl::{Flock, FlockArg};
use std::os::unix::fs::DirBuilderExt;

use crate::context::Context;
use crate::exit::{Diagnostic, ExitCode};
use crate::layout::LOCK_PATH;

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another mm-install run holds the lock {path}: {holder}")]
    Held { path: String, holder: String },
    /// The directory holding the lock and the journal (a list of commands root will run) is
    /// not root's alone.
    #[error("{path} {reason}, so mm-install cannot trust the journal and backups in it")]
    UnsafeDirectory { path: String, reason: String },
    #[error("cannot take the lock {path}")]
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
            LockError::Io { .. } | LockError::UnsafeDirectory { .. } => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            LockError::Held { .. } => {
                Some("wait for it to finish, then run the command again".into())
            }
            LockError::UnsafeDirectory { path, .. } => Some(format!(
                "find out who changed it, then `chown root:root {path} && chmod 0700 {path}`"
            )),
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
            // Only the state directory itself is private: parents such as /var/lib keep the
            // usual mode (an image built with --root needs them traversable).
            if let Some(parent) = dir.parent() {
                fs_err::create_dir_all(parent).map_err(io)?;
            }
            match std::fs::DirBuilder::new().mode(0o700).create(dir) {
                Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => return Err(io(err)),
                _ => {}
            }
            check_private(dir)?;
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
        let mut file = lock(
            file,
            FlockArg::LockExclusiveNonblock,
            &path.display().to_string(),
        )?;
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

    /// The lock shared, for a `--dry-run` that reads the journal: fails at once (exit 5) while
    /// an operation holds it, and neither creates nor writes anything. `None` when no operation
    /// ever ran here (no lock file, so no journal either).
    pub fn shared(ctx: &Context) -> Result<Option<OperationLock>, LockError> {
        let path = ctx.path(LOCK_PATH);
        if let Some(dir) = path.parent().filter(|dir| dir.exists()) {
            check_private(dir)?;
        }
        let file = match fs_err::File::open(&path) {
            Ok(file) => file.into_parts().0,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LockError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let file = lock(
            file,
            FlockArg::LockSharedNonblock,
            &path.display().to_string(),
        )?;
        Ok(Some(OperationLock { _file: file }))
    }
}

/// `dir` (mm-install's state directory) is a real directory owned by the user mm-install runs
/// as (root) and writable by nobody else: whoever could write there could add a step to the
/// journal, and the next run would undo it as root.
fn check_private(dir: &std::path::Path) -> Result<(), LockError> {
    use crate::system::files::{Exposure, exposure};
    let unsafe_because = |reason: String| LockError::UnsafeDirectory {
        path: dir.display().to_string(),
        reason,
    };
    let meta = fs_err::symlink_metadata(dir).map_err(|source| LockError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(unsafe_because("is not a directory (a symlink?)".into()));
    }
    match exposure(&meta, 0o022) {
        Some(Exposure::Owner { uid, expected }) => Err(unsafe_because(format!(
            "belongs to uid {uid}, not to uid {expected}"
        ))),
        Some(Exposure::Mode { mode }) => Err(unsafe_because(format!(
            "is writable by its group or by everyone (mode {mode:04o})"
        ))),
        None => Ok(()),
    }
}

/// `flock` `file` without waiting; a lock held by another run is [`LockError::Held`], naming the
/// holder the lock file records.
fn lock(file: std::fs::File, how: FlockArg, path: &str) -> Result<Flock<std::fs::File>, LockError> {
    match Flock::lock(file, how) {
        Ok(locked) => Ok(locked),
        Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            Err(LockError::Held {
                path: path.to_string(),
                holder: if holder.is_empty() {
                    "unknown process".into()
                } else {
                    holder.to_string()
                },
            })
        }
        Err((_, errno)) => Err(LockError::Io {
            path: path.to_string(),
            source: std::io::Error::from(errno),
        }),
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

    #[test]
    fn the_state_directory_must_be_private_to_root() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path());
        drop(OperationLock::acquire(&ctx, "install").unwrap());
        let state = ctx.path("/var/lib/mm-install");
        let mode = |path: &std::path::Path| fs_err::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode(&state) & 0o777, 0o700, "created private");
        assert_eq!(
            mode(&ctx.path("/var/lib")) & 0o777,
            0o755,
            "parents keep the usual mode"
        );
        for (mode, reason) in [(0o775, "group"), (0o757, "everyone")] {
            fs_err::set_permissions(&state, std::fs::Permissions::from_mode(mode)).unwrap();
            for err in [
                OperationLock::acquire(&ctx, "upgrade").err().unwrap(),
                OperationLock::shared(&ctx).err().unwrap(),
            ] {
                assert!(matches!(err, LockError::UnsafeDirectory { .. }), "{err}");
                assert!(err.to_string().contains(reason), "{err}");
            }
        }
        fs_err::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
        drop(OperationLock::acquire(&ctx, "upgrade").unwrap());
        // Another owner (the tests run as root, so they can hand it to nobody).
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(&state, Some(65534), None).unwrap();
            let err = OperationLock::acquire(&ctx, "upgrade").err().unwrap();
            assert!(err.to_string().contains("uid 65534"), "{err}");
            std::os::unix::fs::chown(&state, Some(0), None).unwrap();
        }
        // A symlink to a directory someone else controls.
        let elsewhere = dir.path().join("elsewhere");
        fs_err::create_dir(&elsewhere).unwrap();
        fs_err::rename(&state, dir.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &state).unwrap();
        let err = OperationLock::acquire(&ctx, "upgrade").err().unwrap();
        assert!(err.to_string().contains("not a directory"), "{err}");
        assert_eq!(fs_err::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn a_dry_run_shares_the_lock_with_dry_runs_only_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path());
        assert!(OperationLock::shared(&ctx).unwrap().is_none());
        assert!(
            !ctx.path(LOCK_PATH).exists(),
            "a dry run creates no lock file"
        );

        let operation = OperationLock::acquire(&ctx, "upgrade").unwrap();
        let recorded = fs_err::read(ctx.path(LOCK_PATH)).unwrap();
        let err = OperationLock::shared(&ctx).err().unwrap();
        assert_eq!(err.exit_code(), ExitCode::Locked);
        assert!(err.to_string().contains("(upgrade)"), "{err}");
        drop(operation);

        let first = OperationLock::shared(&ctx).unwrap().unwrap();
        let second = OperationLock::shared(&ctx).unwrap().unwrap();
        assert!(OperationLock::acquire(&ctx, "install").is_err());
        assert_eq!(fs_err::read(ctx.path(LOCK_PATH)).unwrap(), recorded);
        drop((first, second));
        OperationLock::acquire(&ctx, "install").unwrap();
    }
}
