//! Free disk space: how many bytes an unprivileged process can still write on the filesystem
//! that holds (or will hold) a path, so an install or upgrade can refuse to start rather than
//! fill the disk half-way.

use std::path::Path;

use nix::sys::statvfs::statvfs;

use super::HostError;

/// Bytes available to unprivileged users (statvfs `f_bavail * f_frsize`, i.e. excluding the
/// blocks reserved for root) on the filesystem holding `path`. When `path` does not exist yet,
/// its nearest existing ancestor is asked instead.
pub fn available_bytes(path: &Path) -> Result<u64, HostError> {
    Ok(free_space(path)?.available)
}

/// The free space of the filesystem holding `path`, and which filesystem that is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeSpace {
    /// The filesystem's id (statvfs `f_fsid`): equal for paths on the same filesystem.
    pub filesystem: u64,
    /// Bytes available to unprivileged users, as [`available_bytes`].
    pub available: u64,
}

/// [`FreeSpace`] of the filesystem holding `path` (or its nearest existing ancestor).
pub fn free_space(path: &Path) -> Result<FreeSpace, HostError> {
    let stats = statvfs(nearest_existing(path)).map_err(|source| HostError::DiskSpace {
        path: path.to_path_buf(),
        source,
    })?;
    // Both are u64 on 64-bit Linux but narrower on some 32-bit targets.
    #[allow(clippy::useless_conversion)]
    let available =
        u64::from(stats.blocks_available()).saturating_mul(u64::from(stats.fragment_size()));
    #[allow(clippy::useless_conversion)]
    let filesystem = u64::from(stats.filesystem_id());
    Ok(FreeSpace {
        filesystem,
        available,
    })
}

/// `path` itself or its closest ancestor that exists; a relative path with no existing
/// ancestor resolves to the current directory.
fn nearest_existing(path: &Path) -> &Path {
    path.ancestors()
        .map(|ancestor| {
            if ancestor.as_os_str().is_empty() {
                Path::new(".")
            } else {
                ancestor
            }
        })
        .find(|ancestor| ancestor.exists())
        .unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_up_to_an_existing_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("opt/mattermost/data");
        assert_eq!(nearest_existing(&missing), dir.path());
        assert_eq!(nearest_existing(dir.path()), dir.path());
        assert_eq!(
            nearest_existing(Path::new("no/such/relative/dir")),
            Path::new(".")
        );
    }

    #[test]
    fn reports_free_space_for_existing_and_future_paths() {
        let dir = tempfile::tempdir().unwrap();
        available_bytes(dir.path()).unwrap();
        available_bytes(&dir.path().join("not/yet/created")).unwrap();
    }
}
