//! Release artifacts on the release server: tarball names per edition and architecture, and the
//! URLs of the tarball, its detached signature and its checksum file.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::{ReleaseError, Version};
use crate::host::Arch;

/// Mattermost's own release server; `--release-url` points elsewhere (a mirror, the test suite).
pub const DEFAULT_RELEASE_URL: &str = "https://releases.mattermost.com";

/// Whether `release_url` is Mattermost's own release host (whatever its scheme, port, or
/// trailing slash). That host is S3 behind a CDN: it publishes tarballs and signatures, no
/// `.sha256` files, and answers `403 AccessDenied` for anything it does not have
/// (`mattermost-facts.md` §10), so nothing optional is ever asked of it.
pub fn is_official_host(release_url: &str) -> bool {
    let host = |url: &str| {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = rest.split('/').next().unwrap_or_default();
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = host_port.split(':').next().unwrap_or_default();
        host.trim_end_matches('.').to_ascii_lowercase()
    };
    host(release_url) == host(DEFAULT_RELEASE_URL)
}

/// Which build of the server to install.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Edition {
    /// The default build: works without a licence, unlocks enterprise features with one.
    #[default]
    Enterprise,
    /// The MIT-licensed Team Edition.
    Team,
}

impl FromStr for Edition {
    type Err = ReleaseError;

    /// Reads the edition recorded in state.json, spelled as on the command line.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        <Edition as clap::ValueEnum>::from_str(text, false).map_err(|_| {
            ReleaseError::InvalidEdition {
                text: text.to_string(),
            }
        })
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::keyword::write(self, f)
    }
}

/// One release tarball: which version, edition and architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    pub version: Version,
    pub edition: Edition,
    pub arch: Arch,
}

impl Artifact {
    /// The tarball's file name, e.g. `mattermost-11.10.0-linux-amd64.tar.gz` or
    /// `mattermost-team-11.10.0-linux-arm64.tar.gz`.
    pub fn file_name(&self) -> String {
        let edition = match self.edition {
            Edition::Enterprise => "",
            Edition::Team => "team-",
        };
        format!(
            "mattermost-{edition}{}-linux-{}.tar.gz",
            self.version, self.arch
        )
    }

    /// The version in a tarball's [file name](Self::file_name), from its path (`--tarball`):
    /// `mattermost[-team]-X.Y.Z-linux-ARCH.tar.gz` → X.Y.Z.
    pub fn version_in_file_name(tarball: &Path) -> Result<Version, ReleaseError> {
        let name = tarball
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let version = name
            .strip_prefix("mattermost-")
            .map(|rest| rest.strip_prefix("team-").unwrap_or(rest))
            .and_then(|rest| rest.split("-linux-").next())
            .and_then(|text| text.parse::<Version>().ok());
        version.ok_or(ReleaseError::VersionNotInFileName { name })
    }

    /// `<release_url>/<version>/<file name>`.
    pub fn tarball_url(&self, release_url: &str) -> String {
        format!(
            "{}/{}/{}",
            release_url.trim_end_matches('/'),
            self.version,
            self.file_name()
        )
    }

    /// The detached OpenPGP signature published beside the tarball.
    pub fn signature_url(&self, release_url: &str) -> String {
        format!("{}.sig", self.tarball_url(release_url))
    }

    /// The `sha256sum`-style checksum file a mirror may publish beside the tarball; `None` for
    /// Mattermost's own host, which publishes none (the signature is the proof there).
    pub fn checksum_url(&self, release_url: &str) -> Option<String> {
        (!is_official_host(release_url))
            .then(|| format!("{}.sha256", self.tarball_url(release_url)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(version: &str, edition: Edition, arch: Arch) -> Artifact {
        Artifact {
            version: version.parse().unwrap(),
            edition,
            arch,
        }
    }

    #[test]
    fn the_version_is_read_back_from_a_tarball_name() {
        for (edition, arch) in [
            (Edition::Enterprise, Arch::Amd64),
            (Edition::Team, Arch::Arm64),
        ] {
            let artifact = artifact("11.10.0-rc2", edition, arch);
            let path = Path::new("/tmp").join(artifact.file_name());
            assert_eq!(
                Artifact::version_in_file_name(&path).unwrap(),
                artifact.version
            );
        }
        let err = Artifact::version_in_file_name(Path::new("/tmp/release.tar.gz")).unwrap_err();
        assert!(err.to_string().contains("release.tar.gz"), "{err}");
    }

    #[test]
    fn urls_match_the_release_server_layout() {
        let enterprise = artifact("11.10.0", Edition::Enterprise, Arch::Amd64);
        assert_eq!(
            enterprise.tarball_url(DEFAULT_RELEASE_URL),
            "https://releases.mattermost.com/11.10.0/mattermost-11.10.0-linux-amd64.tar.gz"
        );
        assert_eq!(
            enterprise.signature_url("https://mirror.example/mm/"),
            "https://mirror.example/mm/11.10.0/mattermost-11.10.0-linux-amd64.tar.gz.sig"
        );
        let team = artifact("11.10.0-rc2", Edition::Team, Arch::Arm64);
        assert_eq!(
            team.tarball_url(DEFAULT_RELEASE_URL),
            "https://releases.mattermost.com/11.10.0-rc2/mattermost-team-11.10.0-rc2-linux-arm64.tar.gz"
        );
        assert!(
            team.checksum_url("http://127.0.0.1:8080/mirror")
                .is_some_and(|url| url.ends_with(".tar.gz.sha256"))
        );
    }

    #[test]
    fn the_official_host_is_never_asked_for_a_checksum_file() {
        let release = artifact("11.10.0", Edition::Enterprise, Arch::Amd64);
        for official in [
            DEFAULT_RELEASE_URL,
            "https://releases.mattermost.com/",
            "http://RELEASES.mattermost.com:443",
            "https://releases.mattermost.com./",
        ] {
            assert!(is_official_host(official), "{official}");
            assert_eq!(release.checksum_url(official), None, "{official}");
        }
        for mirror in [
            "https://mirror.example/releases.mattermost.com",
            "https://releases.mattermost.com.mirror.example",
            "http://10.0.0.5:8080",
        ] {
            assert!(!is_official_host(mirror), "{mirror}");
            assert!(release.checksum_url(mirror).is_some(), "{mirror}");
        }
    }

    #[test]
    fn editions_parse_and_print() {
        assert_eq!("team".parse::<Edition>().unwrap(), Edition::Team);
        assert_eq!(Edition::default().to_string(), "enterprise");
        assert!(matches!(
            "free".parse::<Edition>(),
            Err(ReleaseError::InvalidEdition { .. })
        ));
    }
}
