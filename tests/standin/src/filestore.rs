//! The local file store (`FileSettings.Directory`): created when missing and proven writable by
//! writing and deleting a probe file, as the real server's file-store connection test does.

use std::path::Path;

/// Name of the probe file, the same as the real local file backend's connection test uses.
const PROBE: &str = "testfile";

/// Creates `dir` if needed and writes, reads back and deletes a probe file in it.
pub fn check(dir: &Path) -> Result<(), String> {
    let fail = |e: std::io::Error| {
        format!(
            "file store directory {} is not usable by this user: {e}",
            dir.display()
        )
    };
    fs_err::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(PROBE);
    fs_err::write(&probe, b"testingwrite").map_err(fail)?;
    let back = fs_err::read(&probe).map_err(fail)?;
    fs_err::remove_file(&probe).map_err(fail)?;
    if back != b"testingwrite" {
        return Err(format!(
            "file store directory {} returned different bytes than written",
            dir.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_and_probes_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data/nested");
        check(&dir).unwrap();
        assert!(dir.is_dir());
        assert_eq!(fs_err::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn a_file_in_the_way_names_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        fs_err::write(&dir, b"").unwrap();
        let err = check(&dir).unwrap_err();
        assert!(err.contains(&dir.display().to_string()), "{err}");
    }

    #[test]
    fn a_read_only_directory_fails_unless_root() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        fs_err::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        let result = check(&dir);
        if nix::unistd::geteuid().is_root() {
            assert!(result.is_ok()); // root ignores the mode bits
        } else {
            assert!(result.unwrap_err().contains(&dir.display().to_string()));
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}
