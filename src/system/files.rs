//! Files on the server that root owns: atomic writes with a chosen mode and backups for undo.
//! Files in trees the service user can write go through [`super::beneath`].

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use fs_err::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Write `contents` to `path` atomically (temporary file, fsync, rename, fsync of the directory)
/// with permission bits `mode`.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    fs_err::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.mm-install-tmp"));
    let mut file = fs_err::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)?;
    file.write_all(contents)?;
    fs_err::set_permissions(&temporary, std::fs::Permissions::from_mode(mode))?;
    file.sync_all()?;
    drop(file);
    fs_err::rename(&temporary, path)?;
    fs_err::File::open(dir)?.sync_all()
}

/// Where [`backup`] keeps the copy of `path`: `<path>.mm-install-backup`, a fixed name so an
/// undo recorded before the copy was made knows where to look.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".mm-install-backup");
    PathBuf::from(name)
}

/// Copy `path` to [`backup_path`], keeping its mode; returns the backup's path. Used before
/// changing a file we do not own.
pub fn backup(path: &Path) -> std::io::Result<PathBuf> {
    let backup = backup_path(path);
    fs_err::copy(path, &backup)?;
    Ok(backup)
}

/// Remove a file, symlink or directory tree if it exists.
pub fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match fs_err::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs_err::remove_dir_all(path),
        Ok(_) => fs_err::remove_file(path),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

/// Why a path is not the tool's alone (see [`exposure`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposure {
    /// It belongs to `uid`, not to `expected`, the user mm-install runs as.
    Owner { uid: u32, expected: u32 },
    /// Its permission bits `mode` include some of the forbidden ones.
    Mode { mode: u32 },
}

/// What, if anything, lets someone other than the user mm-install runs as (root) control the
/// file or directory `meta` describes: another owner, or any of the `forbidden` permission bits
/// (`0o022`: others may write; `0o077`: others may read or write).
pub fn exposure(meta: &std::fs::Metadata, forbidden: u32) -> Option<Exposure> {
    use std::os::unix::fs::MetadataExt;
    let expected = nix::unistd::geteuid().as_raw();
    let mode = meta.permissions().mode() & 0o7777;
    if meta.uid() != expected {
        Some(Exposure::Owner {
            uid: meta.uid(),
            expected,
        })
    } else if mode & forbidden != 0 {
        Some(Exposure::Mode { mode })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_set_the_mode_and_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc/app/config.json");
        write_atomic(&path, b"{}", 0o600).unwrap();
        assert_eq!(fs_err::read(&path).unwrap(), b"{}");
        assert_eq!(
            fs_err::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs_err::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        let copy = backup(&path).unwrap();
        write_atomic(&path, b"new", 0o644).unwrap();
        assert_eq!(fs_err::read(&copy).unwrap(), b"{}");
        remove_if_exists(&path).unwrap();
        remove_if_exists(&path).unwrap();
        assert!(!path.exists());
    }
}
