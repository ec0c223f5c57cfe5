//! The machine Mattermost will run on: its operating system (read from os-release) and how
//! Mattermost supports it, its CPU architecture, whether it runs systemd, and the free space of
//! a filesystem. Nothing here changes the system; everything is read through the [`Context`].

use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::exit::{Diagnostic, ExitCode};

mod arch;
mod disk;
mod os_release;
mod platform;

/// The os-release fixtures shared with the integration suite (tests/fixtures/os_release.rs).
#[cfg(test)]
#[path = "../../tests/fixtures/os_release.rs"]
#[allow(dead_code)] // the unit tests use most fixtures, the suite others
mod os_release_fixtures;

pub use arch::Arch;
pub use disk::{FreeSpace, available_bytes, free_space};
pub use os_release::OsRelease;
pub use platform::{Family, PackageManager, Platform, Support, classify};

/// Where systemd's own binary lives on the distributions we handle (merged and split `/usr`).
const SYSTEMD_PATHS: [&str; 2] = ["/usr/lib/systemd/systemd", "/lib/systemd/systemd"];

/// Everything that can go wrong while looking at the host.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// None of the os-release files looked for exists.
    #[error("no os-release file found (looked for {})", display_paths(.tried))]
    OsReleaseNotFound {
        /// Every path tried, in order.
        tried: Vec<PathBuf>,
    },
    /// An os-release file exists but could not be read.
    #[error("could not read the os-release file {}", .path.display())]
    ReadOsRelease {
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// An architecture name given by the user is not one we know.
    #[error("unknown architecture `{value}`: expected amd64 (or x86_64) or arm64 (or aarch64)")]
    UnknownArch {
        /// The value as given.
        value: String,
    },
    /// This machine's CPU architecture has no Mattermost server build.
    #[error(
        "this machine's CPU architecture `{arch}` is not supported: Mattermost builds its Linux server for amd64 and arm64 only"
    )]
    UnsupportedArch {
        /// The architecture as Rust names it (`std::env::consts::ARCH`).
        arch: String,
    },
    /// The free space of the filesystem holding a path could not be read.
    #[error("could not read the free space of the filesystem holding {}", .path.display())]
    DiskSpace {
        /// The path that was asked about (statvfs was called on its nearest existing ancestor).
        path: PathBuf,
        /// The error statvfs(2) returned.
        #[source]
        source: nix::errno::Errno,
    },
}

impl Diagnostic for HostError {
    fn exit_code(&self) -> ExitCode {
        match self {
            HostError::UnknownArch { .. } => ExitCode::Usage,
            HostError::UnsupportedArch { .. } => ExitCode::Unsupported,
            HostError::OsReleaseNotFound { .. }
            | HostError::ReadOsRelease { .. }
            | HostError::DiskSpace { .. } => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            HostError::OsReleaseNotFound { .. } => {
                "pass the target system's os-release file with `--os-release FILE`".to_owned()
            }
            HostError::ReadOsRelease { path, .. } => format!(
                "check that {} is a readable file, or pass another one with `--os-release FILE`",
                path.display()
            ),
            HostError::UnknownArch { .. } => "use `--arch amd64` or `--arch arm64`".to_owned(),
            HostError::UnsupportedArch { .. } => {
                "run mm-install on an amd64 (x86_64) or arm64 (aarch64) machine".to_owned()
            }
            HostError::DiskSpace { .. } => {
                "check that the directory exists and is readable by this user".to_owned()
            }
        })
    }
}

/// The paths as a comma-separated list, for error messages.
fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Look at the host: read its os-release, take the architecture from `arch` or from this
/// machine, and classify the platform.
///
/// `os_release` names a file to read instead of the system's own (it is not resolved under the
/// root); systemd is then not probed, since the file may describe another machine. Otherwise
/// `/etc/os-release` (or `/usr/lib/os-release`) and systemd are looked for under `ctx`'s root.
pub fn detect(
    ctx: &Context,
    os_release: Option<&Path>,
    arch: Option<Arch>,
) -> Result<Platform, HostError> {
    let (os, path) = OsRelease::load(ctx, os_release)?;
    let arch = match arch {
        Some(arch) => arch,
        None => Arch::host()?,
    };
    let has_systemd = os_release.is_none().then(|| has_systemd(ctx));
    let mut platform = classify(&os, arch, has_systemd);
    platform.os_release_file = Some(path.display().to_string());
    Ok(platform)
}

/// Whether systemd is installed under `ctx`'s root.
fn has_systemd(ctx: &Context) -> bool {
    SYSTEMD_PATHS.iter().any(|path| ctx.path(path).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_12: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n";

    fn write(path: &Path, contents: &str) {
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).unwrap();
        }
        fs_err::write(path, contents).unwrap();
    }

    #[test]
    fn detect_probes_systemd_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        let ctx = Context::new(root.path());
        write(&ctx.path("/etc/os-release"), DEBIAN_12);

        let without = detect(&ctx, None, Some(Arch::Amd64)).unwrap();
        assert_eq!(without.support, Support::Unsupported);
        assert!(
            without
                .notes
                .iter()
                .any(|note| note.starts_with("no systemd found"))
        );
        assert_eq!(
            without.os_release_file.as_deref(),
            Some(ctx.path("/etc/os-release").display().to_string().as_str())
        );

        write(&ctx.path("/lib/systemd/systemd"), "");
        let with = detect(&ctx, None, Some(Arch::Arm64)).unwrap();
        assert_eq!(with.support, Support::Official);
        assert_eq!(with.arch, Arch::Arm64);
        assert!(!with.notes.iter().any(|note| note.contains("systemd")));
    }

    #[test]
    fn detect_with_an_explicit_file_does_not_probe_systemd() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("fixture-os-release");
        write(&file, DEBIAN_12);
        // The root has no systemd, but the file may describe another machine: not probed.
        let platform = detect(&Context::new(root.path()), Some(&file), Some(Arch::Amd64)).unwrap();
        assert_eq!(platform.support, Support::Official);
        assert_eq!(platform.os_release_file, Some(file.display().to_string()));
    }

    #[test]
    fn detect_fails_without_os_release() {
        let root = tempfile::tempdir().unwrap();
        let err = detect(&Context::new(root.path()), None, Some(Arch::Amd64)).unwrap_err();
        assert!(matches!(err, HostError::OsReleaseNotFound { .. }));
        assert_eq!(err.exit_code(), ExitCode::Failure);
        assert!(err.hint().unwrap().contains("--os-release FILE"));
    }

    #[test]
    fn exit_codes() {
        let unknown = HostError::UnknownArch {
            value: "ppc64le".into(),
        };
        assert_eq!(unknown.exit_code(), ExitCode::Usage);
        let unsupported = HostError::UnsupportedArch {
            arch: "riscv64".into(),
        };
        assert_eq!(unsupported.exit_code(), ExitCode::Unsupported);
        assert_eq!(unsupported.exit_code().code(), 6);
    }
}
