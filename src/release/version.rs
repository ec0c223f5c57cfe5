//! Mattermost version numbers: `MAJOR.MINOR.PATCH`, optionally a release candidate `-rcN`.
//!
//! A thin layer over [`semver::Version`] for the rules where Mattermost's versions differ from
//! SemVer's: the only pre-release tag is `rcN` (SemVer would order `rc10` before `rc9`, since it
//! compares alphanumeric identifiers as text; here candidates are ordered by number), there is
//! no build metadata, and a leading `v` (as in git tags) is accepted.

use std::fmt;
use std::str::FromStr;

use super::ReleaseError;

/// A Mattermost server version as it appears in release URLs (`11.10.0`, `11.10.0-rc2`).
/// Ordered numerically; a release candidate sorts before its release.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    /// Always without build metadata, and with no pre-release or exactly `rcN`.
    semver: semver::Version,
}

impl Version {
    /// The `MAJOR.MINOR.PATCH` numbers.
    pub fn triple(&self) -> (u64, u64, u64) {
        (self.semver.major, self.semver.minor, self.semver.patch)
    }

    /// `true` for a release candidate (`-rcN`).
    pub fn is_release_candidate(&self) -> bool {
        self.release_candidate().is_some()
    }

    /// `N` of `-rcN`.
    fn release_candidate(&self) -> Option<u64> {
        self.semver.pre.as_str().strip_prefix("rc").and_then(number)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // The release (no candidate) must sort after every candidate: compare "is final" first.
        let key = |v: &Version| {
            let candidate = v.release_candidate();
            (v.triple(), candidate.is_none(), candidate)
        };
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A decimal number without sign or leading zeros.
fn number(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// Versions in data files (`src/ops/requirements.toml`) are strings with the same rules.
impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for Version {
    type Err = ReleaseError;

    /// Accepts `X.Y.Z` and `X.Y.Z-rcN`, with an optional leading `v` as in git tags.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || ReleaseError::InvalidVersion {
            text: text.to_string(),
        };
        let trimmed = text.strip_prefix('v').unwrap_or(text);
        let semver = semver::Version::parse(trimmed).map_err(|_| invalid())?;
        let version = Version { semver };
        let pre_release_ok = version.semver.pre.is_empty() || version.release_candidate().is_some();
        if !pre_release_ok || !version.semver.build.is_empty() {
            return Err(invalid());
        }
        Ok(version)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.semver.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_releases_and_release_candidates() {
        for (text, shown) in [
            ("11.10.0", "11.10.0"),
            ("v10.11.23", "10.11.23"),
            ("11.10.0-rc2", "11.10.0-rc2"),
        ] {
            assert_eq!(text.parse::<Version>().unwrap().to_string(), shown);
        }
        assert!(
            "11.10.0-rc2"
                .parse::<Version>()
                .unwrap()
                .is_release_candidate()
        );
        assert!(!"11.10.0".parse::<Version>().unwrap().is_release_candidate());
    }

    #[test]
    fn rejects_anything_else() {
        for text in [
            "",
            "11",
            "11.10",
            "latest",
            "11.10.0-beta1",
            "11.10.0-rc",
            "11.10.0+build",
            "1.2.3.4",
            "11.10.0-rc2x",
            "11.10.0-rc02",
            "11.10.0-rc1.1",
            "011.10.0",
            "../11.10.0",
        ] {
            let err = text.parse::<Version>().unwrap_err();
            assert!(
                matches!(&err, ReleaseError::InvalidVersion { text: t } if t == text),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn orders_numerically_with_candidates_before_the_release() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert!(v("11.10.0") > v("11.9.3"));
        assert!(v("11.10.0") > v("11.10.0-rc3"));
        assert!(v("11.10.0-rc10") > v("11.10.0-rc9"));
    }
}
