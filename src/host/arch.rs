//! CPU architectures Mattermost publishes Linux server tarballs for, named as in the tarball
//! names (`mattermost-X.Y.Z-linux-amd64.tar.gz`), and the architecture of this machine.

use std::str::FromStr;

use super::HostError;

/// A CPU architecture with a Mattermost server build. On the command line the kernel/Rust
/// names are accepted as aliases, in any case (`ignore_case` on each `--arch`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// 64-bit x86 (`x86_64`).
    #[value(alias = "x86_64")]
    Amd64,
    /// 64-bit ARM (`aarch64`).
    #[value(alias = "aarch64")]
    Arm64,
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::keyword::write(self, f)
    }
}

impl Arch {
    /// The architecture of the machine running mm-install; an error (exit code 6) on any
    /// architecture Mattermost does not build for.
    pub fn host() -> Result<Arch, HostError> {
        Arch::from_rust_name(std::env::consts::ARCH)
    }

    /// The architecture named by `std::env::consts::ARCH`-style `name`.
    fn from_rust_name(name: &str) -> Result<Arch, HostError> {
        name.parse().map_err(|_| HostError::UnsupportedArch {
            arch: name.to_owned(),
        })
    }
}

impl FromStr for Arch {
    type Err = HostError;

    /// Accepts the Debian/Go names (`amd64`, `arm64`) and the kernel/Rust names (`x86_64`,
    /// `aarch64`), in any case.
    fn from_str(value: &str) -> Result<Arch, HostError> {
        match value.to_ascii_lowercase().as_str() {
            "amd64" | "x86_64" => Ok(Arch::Amd64),
            "arm64" | "aarch64" => Ok(Arch::Arm64),
            _ => Err(HostError::UnknownArch {
                value: value.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::{Diagnostic, ExitCode};

    #[test]
    fn parses_both_spellings() {
        for (value, arch) in [
            ("amd64", Arch::Amd64),
            ("x86_64", Arch::Amd64),
            ("AMD64", Arch::Amd64),
            ("arm64", Arch::Arm64),
            ("aarch64", Arch::Arm64),
        ] {
            assert_eq!(value.parse::<Arch>().unwrap(), arch, "{value}");
        }
    }

    #[test]
    fn unknown_value_names_it_and_the_accepted_ones() {
        let err = "ppc64le".parse::<Arch>().unwrap_err();
        let message = err.to_string();
        for expected in ["ppc64le", "amd64", "x86_64", "arm64", "aarch64"] {
            assert!(message.contains(expected), "{message}");
        }
        assert_eq!(err.exit_code(), ExitCode::Usage);
        assert!(err.hint().is_some());
    }

    #[test]
    fn display_and_json_use_the_tarball_names() {
        assert_eq!(Arch::Amd64.to_string(), "amd64");
        assert_eq!(Arch::Arm64.to_string(), "arm64");
        assert_eq!(serde_json::to_string(&Arch::Arm64).unwrap(), "\"arm64\"");
        assert_eq!(
            Arch::Amd64.to_string().parse::<Arch>().unwrap(),
            Arch::Amd64
        );
    }

    #[test]
    fn host_architecture() {
        assert_eq!(Arch::from_rust_name("x86_64").unwrap(), Arch::Amd64);
        assert_eq!(Arch::from_rust_name("aarch64").unwrap(), Arch::Arm64);
        let err = Arch::from_rust_name("riscv64").unwrap_err();
        assert!(err.to_string().contains("riscv64"));
        assert_eq!(err.exit_code(), ExitCode::Unsupported);
        // The machine running these tests is one Mattermost builds for.
        assert!(Arch::host().is_ok());
    }
}
