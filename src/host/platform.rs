//! The support policy: from an os-release file, which distribution family a system belongs to,
//! how Mattermost supports it (official, RHEL equivalent, unofficial, unsupported), which package
//! manager installs its dependencies, and what Mattermost has announced about its end of support.
//!
//! Sources: Mattermost's software requirements page and the v12.0 announcement (RHEL 7 and 8
//! dropped; v11.11 is their last release), and the Deployment Solutions Program, which accepts
//! CentOS, Amazon Linux, Oracle Linux and Scientific Linux as RHEL equivalents when the
//! deployment says so in a fixed statement. Notes that are mm-install's own judgement say so.

use std::fmt;

use serde::Serialize;

use super::{Arch, OsRelease, SYSTEMD_PATHS};

/// The distribution family, which decides the package manager and package names.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Debian, Ubuntu and their derivatives.
    Debian,
    /// Red Hat Enterprise Linux, its equivalents, Fedora and other RHEL-like systems.
    Rhel,
    /// Anything else.
    Other,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::keyword::write(self, f)
    }
}

/// How Mattermost supports running its server on a system.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Support {
    /// Officially supported: Ubuntu, Debian, Red Hat Enterprise Linux.
    Official,
    /// Accepted as equivalent to RHEL; the deployment must carry the equivalence statement.
    Equivalent,
    /// Can work, but is not officially supported.
    Unofficial,
    /// Not supported: mm-install cannot install Mattermost here.
    Unsupported,
}

impl fmt::Display for Support {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::keyword::write(self, f)
    }
}

/// The package manager that installs nginx, PostgreSQL and friends.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    /// Debian family.
    Apt,
    /// RHEL family, RHEL 8 and newer (and Fedora, Amazon Linux 2023).
    Dnf,
    /// RHEL family, RHEL 7 and older (and Amazon Linux 2).
    Yum,
}

impl fmt::Display for PackageManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::keyword::write(self, f)
    }
}

impl Support {
    /// A short explanation for text output.
    fn meaning(self) -> &'static str {
        match self {
            Support::Official => "officially supported by Mattermost",
            Support::Equivalent => "treated as equivalent to Red Hat Enterprise Linux",
            Support::Unofficial => "not officially supported by Mattermost, but can work",
            Support::Unsupported => "not supported",
        }
    }
}

/// What mm-install knows about the system it installs on, and how Mattermost supports it.
/// Serialised as is for `detect-os --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Platform {
    /// os-release `ID`, lowercased (`linux` when unset).
    pub id: String,
    /// os-release `VERSION_ID`.
    pub version_id: Option<String>,
    /// os-release `NAME`.
    pub name: String,
    /// os-release `PRETTY_NAME`.
    pub pretty_name: String,
    /// The distribution family.
    pub family: Family,
    /// How Mattermost supports this system.
    pub support: Support,
    /// For RHEL equivalents, the sentence the Deployment Solutions Program requires in the
    /// deployment's documentation; `None` for every other support level.
    pub statement: Option<String>,
    /// The package manager to install dependencies with; `None` outside the known families.
    pub package_manager: Option<PackageManager>,
    /// The CPU architecture.
    pub arch: Arch,
    /// The newest Mattermost minor release line (e.g. `11.11`) supported on this OS version,
    /// when Mattermost has announced an end of support for it.
    pub last_supported_release: Option<String>,
    /// Remarks for the administrator, one sentence each.
    pub notes: Vec<String>,
    /// The os-release file the facts were read from, when known.
    pub os_release_file: Option<String>,
}

/// The last Mattermost release for RHEL 7 and 8: v12.0 (October 2026) drops them.
const LAST_RELEASE_FOR_RHEL_7_AND_8: &str = "11.11";

/// Amazon Linux releases from this `VERSION_ID` on (2022, 2023) are Fedora-based and use dnf;
/// earlier ones (2018.03, 2) are RHEL 7-era and use yum.
const FIRST_FEDORA_BASED_AMAZON_LINUX: u64 = 2022;

/// os-release IDs of the systems Mattermost names as RHEL equivalents.
const NAMED_RHEL_EQUIVALENTS: [&str; 4] = ["centos", "amzn", "ol", "scientific"];

/// os-release IDs of RHEL rebuilds that mm-install treats as equivalents although Mattermost
/// does not name them.
const UNNAMED_RHEL_EQUIVALENTS: [&str; 2] = ["rocky", "almalinux"];

/// Systems Mattermost lists as having community support only.
const COMMUNITY_SUPPORTED: [&str; 2] = ["arch", "freebsd"];

/// Whether mm-install treats the os-release `id` as a RHEL equivalent.
fn is_rhel_equivalent(id: &str) -> bool {
    NAMED_RHEL_EQUIVALENTS.contains(&id) || UNNAMED_RHEL_EQUIVALENTS.contains(&id)
}

/// The family an `ID_LIKE` entry points to.
fn family_of_like(like: &str) -> Option<Family> {
    match like {
        "debian" | "ubuntu" => Some(Family::Debian),
        "rhel" | "fedora" => Some(Family::Rhel),
        like if is_rhel_equivalent(like) => Some(Family::Rhel),
        _ => None,
    }
}

/// The leading number of a version such as `9.4`, `2` or `2023`.
fn major_version(version_id: Option<&str>) -> Option<u64> {
    let version = version_id?;
    let end = version
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(version.len());
    version[..end].parse().ok()
}

/// Classify a system from its os-release, its architecture and whether it runs systemd
/// (`None` when not probed, e.g. for an os-release file from another machine).
///
/// The os-release `ID` decides first, `ID_LIKE` only when the ID is not one we know: Oracle
/// Linux and Amazon Linux 2023 declare only `ID_LIKE="fedora"`, yet are RHEL equivalents.
pub fn classify(os: &OsRelease, arch: Arch, has_systemd: Option<bool>) -> Platform {
    let facts = Facts::of(os);
    let mut notes = Vec::new();

    if has_systemd == Some(false) {
        notes.push(format!(
            "no systemd found (looked for {}): mm-install runs Mattermost as a systemd service",
            SYSTEMD_PATHS.join(" and ")
        ));
    }
    let (family, support) = facts.family_and_support(&mut notes);
    let rhel_major = facts.rhel_major();
    facts.version_notes(rhel_major, &mut notes);

    let last_supported_release = match rhel_major {
        Some(major) if major <= 8 => {
            notes.push(format!(
                "Mattermost v12.0 (October 2026) drops support for RHEL 7 and 8: \
                 v{LAST_RELEASE_FOR_RHEL_7_AND_8} is the last Mattermost release for {}; move \
                 to RHEL 9 or an equivalent to keep upgrading",
                facts.name_version
            ));
            if major < 7 {
                notes.push(format!(
                    "Mattermost's announcement names RHEL 7 and 8 only; mm-install assumes it \
                     covers the older {} too (mm-install's judgement)",
                    facts.name_version
                ));
            }
            Some(LAST_RELEASE_FOR_RHEL_7_AND_8.to_owned())
        }
        _ => None,
    };

    if arch == Arch::Arm64 {
        notes.push(
            "Mattermost's version archive lists checksums and signatures for amd64 tarballs \
             only, and its arm64 tarballs ship without prepackaged plugins"
                .to_owned(),
        );
    }

    let package_manager = match family {
        Family::Debian => Some(PackageManager::Apt),
        Family::Rhel if rhel_major.is_some_and(|major| major <= 7) => Some(PackageManager::Yum),
        Family::Rhel => Some(PackageManager::Dnf),
        Family::Other => None,
    };
    let support = if has_systemd == Some(false) {
        Support::Unsupported
    } else {
        support
    };
    let statement = (support == Support::Equivalent).then(|| {
        format!(
            "This deployment uses {} as an equivalent to the officially supported version of \
             Red Hat Enterprise Linux.",
            facts.name
        )
    });

    Platform {
        id: facts.id,
        version_id: facts.version_id.map(str::to_owned),
        name: facts.name.to_owned(),
        pretty_name: os.pretty_name().to_owned(),
        family,
        support,
        statement,
        package_manager,
        arch,
        last_supported_release,
        notes,
        os_release_file: None,
    }
}

/// The os-release fields classification looks at.
struct Facts<'a> {
    id: String,
    id_like: Vec<String>,
    name: &'a str,
    version_id: Option<&'a str>,
    /// `NAME VERSION_ID`, or `NAME` alone, for notes.
    name_version: String,
}

impl<'a> Facts<'a> {
    fn of(os: &'a OsRelease) -> Self {
        let name = os.name();
        let version_id = os.version_id();
        Facts {
            id: os.id(),
            id_like: os.id_like(),
            name,
            version_id,
            name_version: match version_id {
                Some(version) => format!("{name} {version}"),
                None => name.to_owned(),
            },
        }
    }

    /// The family and support level, by `ID` first and `ID_LIKE` second, with a note
    /// explaining any level below official-or-equivalent.
    fn family_and_support(&self, notes: &mut Vec<String>) -> (Family, Support) {
        let name = self.name;
        match self.id.as_str() {
            "ubuntu" | "debian" => (Family::Debian, Support::Official),
            "rhel" => (Family::Rhel, Support::Official),
            id if is_rhel_equivalent(id) => (Family::Rhel, Support::Equivalent),
            "fedora" => {
                notes.push(
                    "Mattermost gives Fedora community support only; mm-install treats it as a \
                     RHEL-family system"
                        .to_owned(),
                );
                (Family::Rhel, Support::Unofficial)
            }
            id => match self.id_like.iter().find_map(|like| family_of_like(like)) {
                Some(family) => {
                    let treated_as = match family {
                        Family::Debian => "Debian/Ubuntu-family",
                        Family::Rhel | Family::Other => "RHEL-family",
                    };
                    notes.push(format!(
                        "{name} is not officially supported by Mattermost; mm-install treats it \
                         as a {treated_as} system because its ID_LIKE is \"{}\"",
                        self.id_like.join(" ")
                    ));
                    (family, Support::Unofficial)
                }
                None if COMMUNITY_SUPPORTED.contains(&id) => {
                    notes.push(format!(
                        "Mattermost gives {name} community support only, and mm-install does \
                         not know how to install Mattermost's dependencies on it"
                    ));
                    (Family::Other, Support::Unsupported)
                }
                None => {
                    notes.push(format!(
                        "{name} (ID \"{id}\") is neither Debian/Ubuntu nor RHEL-family: \
                         Mattermost supports Ubuntu, Debian, Red Hat Enterprise Linux and its \
                         equivalents, and container-based deployments"
                    ));
                    (Family::Other, Support::Unsupported)
                }
            },
        }
    }

    /// The RHEL major release this system corresponds to, for systems whose versions follow
    /// RHEL's (RHEL, its rebuilds and RHEL-likes), and for the RHEL 7-era Amazon Linux
    /// releases (mm-install's judgement). `None` for Fedora, Fedora-based Amazon Linux and
    /// anything else.
    fn rhel_major(&self) -> Option<u64> {
        let major = major_version(self.version_id);
        match self.id.as_str() {
            "amzn" => major
                .filter(|&major| major < FIRST_FEDORA_BASED_AMAZON_LINUX)
                .map(|_| 7),
            "fedora" => None,
            "rhel" => major,
            id if is_rhel_equivalent(id) => major,
            _ if self
                .id_like
                .iter()
                .any(|like| like == "rhel" || like == "centos") =>
            {
                major
            }
            _ => None,
        }
    }

    /// Notes on the particular distribution and version: our judgements on systems Mattermost
    /// does not name, and Debian/Ubuntu releases its v12.0 announcement does not name.
    fn version_notes(&self, rhel_major: Option<u64>, notes: &mut Vec<String>) {
        let (name, name_version) = (self.name, &self.name_version);
        match self.id.as_str() {
            "centos" if name.contains("Stream") => notes.push(format!(
                "{name} is the upstream development branch of RHEL rather than a rebuild of it; \
                 mm-install treats it like CentOS, which Mattermost names as a RHEL equivalent \
                 (mm-install's judgement)"
            )),
            "amzn" if rhel_major.is_some() => notes.push(format!(
                "{name_version} is built from RHEL 7-era packages; mm-install assumes \
                 Mattermost's end of support for RHEL 7 applies to it (mm-install's judgement)"
            )),
            "amzn" => notes.push(format!(
                "{name_version} is based on Fedora rather than RHEL; mm-install accepts it \
                 because Mattermost names Amazon Linux as a RHEL equivalent (mm-install's \
                 judgement)"
            )),
            id if UNNAMED_RHEL_EQUIVALENTS.contains(&id) => notes.push(format!(
                "Mattermost's documentation does not name {name} as a RHEL equivalent (it names \
                 CentOS, Amazon Linux, Oracle Linux and Scientific Linux); mm-install treats it \
                 as one because it is a rebuild of RHEL (mm-install's judgement)"
            )),
            "ubuntu" if !matches!(self.version_id, Some("22.04" | "24.04")) => notes.push(format!(
                "Mattermost's v12.0 announcement names Ubuntu 22.04 and 24.04 LTS as \
                     remaining fully supported; {name_version} is not named there, so check the \
                     release notes before upgrading to v12"
            )),
            "debian" if self.version_id != Some("12") => notes.push(format!(
                "Mattermost's v12.0 announcement names Debian 12 (bookworm) as remaining fully \
                 supported; {name_version} is not named there, so check the release notes \
                 before upgrading to v12"
            )),
            _ => {}
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version_id {
            Some(version) => writeln!(f, "{} {version}", self.name)?,
            None => writeln!(f, "{}", self.name)?,
        }
        writeln!(f, "  family:          {}", self.family)?;
        writeln!(
            f,
            "  support:         {} ({})",
            self.support,
            self.support.meaning()
        )?;
        match self.package_manager {
            Some(manager) => writeln!(f, "  package manager: {manager}")?,
            None => writeln!(f, "  package manager: none known")?,
        }
        writeln!(f, "  architecture:    {}", self.arch)?;
        if let Some(release) = &self.last_supported_release {
            writeln!(f, "  last supported Mattermost release: {release}")?;
        }
        if let Some(file) = &self.os_release_file {
            writeln!(f, "  read from:       {file}")?;
        }
        if let Some(statement) = &self.statement {
            writeln!(f, "statement: {statement}")?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::os_release_fixtures::*;

    fn classify_fixture(text: &str) -> Platform {
        classify(&OsRelease::parse(text), Arch::Amd64, None)
    }

    fn equivalence(name: &str) -> Option<String> {
        Some(format!(
            "This deployment uses {name} as an equivalent to the officially supported version of Red Hat Enterprise Linux."
        ))
    }

    fn has_note(platform: &Platform, needle: &str) -> bool {
        platform.notes.iter().any(|note| note.contains(needle))
    }

    #[track_caller]
    fn assert_kind(
        platform: &Platform,
        family: Family,
        support: Support,
        package_manager: Option<PackageManager>,
    ) {
        assert_eq!(
            (platform.family, platform.support, platform.package_manager),
            (family, support, package_manager),
            "{platform:#?}"
        );
    }

    /// What `classify` must make of one os-release fixture (amd64, systemd not probed).
    struct Case {
        os_release: String,
        id: &'static str,
        version_id: Option<&'static str>,
        name: &'static str,
        family: Family,
        support: Support,
        package_manager: Option<PackageManager>,
        /// The distribution the RHEL-equivalence statement names, if there is a statement.
        equivalent: Option<&'static str>,
        last_supported_release: Option<&'static str>,
        /// Text each of which some note contains.
        notes: &'static [&'static str],
        /// How many notes there are, where the exact number matters.
        note_count: Option<usize>,
    }

    /// The rows of [`every_fixture_is_classified_as_documented`]: one per fixture, plus a Rocky
    /// 8 derived from Rocky 9, an unknown RHEL-like and an empty file.
    fn cases() -> Vec<Case> {
        use Family::{Debian, Other, Rhel};
        use PackageManager::{Apt, Dnf, Yum};
        use Support::{Equivalent, Official, Unofficial, Unsupported};
        let case =
            |os_release: &str, id, version_id, name, family, support, package_manager| Case {
                os_release: os_release.to_owned(),
                id,
                version_id,
                name,
                family,
                support,
                package_manager,
                equivalent: None,
                last_supported_release: None,
                notes: &[],
                note_count: None,
            };
        vec![
            Case {
                note_count: Some(0),
                ..case(
                    UBUNTU_24_04,
                    "ubuntu",
                    Some("24.04"),
                    "Ubuntu",
                    Debian,
                    Official,
                    Some(Apt),
                )
            },
            Case {
                notes: &["Ubuntu 20.04 is not named"],
                note_count: Some(1),
                ..case(
                    UBUNTU_20_04,
                    "ubuntu",
                    Some("20.04"),
                    "Ubuntu",
                    Debian,
                    Official,
                    Some(Apt),
                )
            },
            Case {
                note_count: Some(0),
                ..case(
                    UBUNTU_22_04,
                    "ubuntu",
                    Some("22.04"),
                    "Ubuntu",
                    Debian,
                    Official,
                    Some(Apt),
                )
            },
            Case {
                note_count: Some(0),
                ..case(
                    DEBIAN_12,
                    "debian",
                    Some("12"),
                    "Debian GNU/Linux",
                    Debian,
                    Official,
                    Some(Apt),
                )
            },
            Case {
                notes: &["Debian GNU/Linux 11 is not named"],
                ..case(
                    DEBIAN_11,
                    "debian",
                    Some("11"),
                    "Debian GNU/Linux",
                    Debian,
                    Official,
                    Some(Apt),
                )
            },
            Case {
                note_count: Some(0),
                ..case(
                    RHEL_9,
                    "rhel",
                    Some("9.4"),
                    "Red Hat Enterprise Linux",
                    Rhel,
                    Official,
                    Some(Dnf),
                )
            },
            Case {
                last_supported_release: Some("11.11"),
                notes: &[
                    "Mattermost v12.0 (October 2026) drops support for RHEL 7 and 8: v11.11 is the last Mattermost release for Red Hat Enterprise Linux 8.10",
                ],
                ..case(
                    RHEL_8,
                    "rhel",
                    Some("8.10"),
                    "Red Hat Enterprise Linux",
                    Rhel,
                    Official,
                    Some(Dnf),
                )
            },
            Case {
                equivalent: Some("CentOS Linux"),
                last_supported_release: Some("11.11"),
                notes: &["v11.11 is the last Mattermost release for CentOS Linux 7"],
                ..case(
                    CENTOS_7,
                    "centos",
                    Some("7"),
                    "CentOS Linux",
                    Rhel,
                    Equivalent,
                    Some(Yum),
                )
            },
            Case {
                equivalent: Some("CentOS Stream"),
                notes: &[
                    "upstream development branch of RHEL",
                    "(mm-install's judgement)",
                ],
                note_count: Some(1),
                ..case(
                    CENTOS_STREAM_9,
                    "centos",
                    Some("9"),
                    "CentOS Stream",
                    Rhel,
                    Equivalent,
                    Some(Dnf),
                )
            },
            Case {
                equivalent: Some("Amazon Linux"),
                last_supported_release: Some("11.11"),
                notes: &["Amazon Linux 2 is built from RHEL 7-era packages"],
                ..case(
                    AMAZON_LINUX_2,
                    "amzn",
                    Some("2"),
                    "Amazon Linux",
                    Rhel,
                    Equivalent,
                    Some(Yum),
                )
            },
            // An equivalent by its ID despite ID_LIKE="fedora".
            Case {
                equivalent: Some("Amazon Linux"),
                notes: &["Amazon Linux 2023 is based on Fedora rather than RHEL"],
                ..case(
                    AMAZON_LINUX_2023,
                    "amzn",
                    Some("2023"),
                    "Amazon Linux",
                    Rhel,
                    Equivalent,
                    Some(Dnf),
                )
            },
            // An equivalent by its ID despite ID_LIKE="fedora".
            Case {
                equivalent: Some("Oracle Linux Server"),
                note_count: Some(0),
                ..case(
                    ORACLE_LINUX_9,
                    "ol",
                    Some("9.4"),
                    "Oracle Linux Server",
                    Rhel,
                    Equivalent,
                    Some(Dnf),
                )
            },
            Case {
                equivalent: Some("Scientific Linux"),
                last_supported_release: Some("11.11"),
                notes: &["last Mattermost release for Scientific Linux 7.9"],
                ..case(
                    SCIENTIFIC_LINUX_7,
                    "scientific",
                    Some("7.9"),
                    "Scientific Linux",
                    Rhel,
                    Equivalent,
                    Some(Yum),
                )
            },
            // Equivalents by our judgement.
            Case {
                equivalent: Some("Rocky Linux"),
                notes: &[
                    "does not name Rocky Linux as a RHEL equivalent",
                    "(mm-install's judgement)",
                ],
                note_count: Some(1),
                ..case(
                    ROCKY_9,
                    "rocky",
                    Some("9.4"),
                    "Rocky Linux",
                    Rhel,
                    Equivalent,
                    Some(Dnf),
                )
            },
            Case {
                equivalent: Some("AlmaLinux"),
                notes: &["does not name AlmaLinux as a RHEL equivalent"],
                ..case(
                    ALMALINUX_9,
                    "almalinux",
                    Some("9.4"),
                    "AlmaLinux",
                    Rhel,
                    Equivalent,
                    Some(Dnf),
                )
            },
            Case {
                equivalent: Some("Rocky Linux"),
                last_supported_release: Some("11.11"),
                ..case(
                    &ROCKY_9.replace("9.4", "8.10"),
                    "rocky",
                    Some("8.10"),
                    "Rocky Linux",
                    Rhel,
                    Equivalent,
                    Some(Dnf),
                )
            },
            Case {
                notes: &["community support only", "RHEL-family"],
                ..case(
                    FEDORA_40,
                    "fedora",
                    Some("40"),
                    "Fedora Linux",
                    Rhel,
                    Unofficial,
                    Some(Dnf),
                )
            },
            Case {
                notes: &[
                    "Linux Mint is not officially supported by Mattermost; mm-install treats it as a Debian/Ubuntu-family system because its ID_LIKE is \"ubuntu debian\"",
                ],
                ..case(
                    LINUX_MINT_21,
                    "linuxmint",
                    Some("21.3"),
                    "Linux Mint",
                    Debian,
                    Unofficial,
                    Some(Apt),
                )
            },
            // An unknown RHEL-like follows its RHEL version.
            Case {
                last_supported_release: Some("11.11"),
                notes: &["treats it as a RHEL-family system"],
                ..case(
                    "NAME=\"EuroLinux\"\nID=\"eurolinux\"\nID_LIKE=\"rhel fedora centos\"\nVERSION_ID=\"7.9\"\n",
                    "eurolinux",
                    Some("7.9"),
                    "EuroLinux",
                    Rhel,
                    Unofficial,
                    Some(Yum),
                )
            },
            Case {
                notes: &["Alpine Linux (ID \"alpine\") is neither Debian/Ubuntu nor RHEL-family"],
                ..case(
                    ALPINE_3_20,
                    "alpine",
                    Some("3.20.3"),
                    "Alpine Linux",
                    Other,
                    Unsupported,
                    None,
                )
            },
            // An unknown ID without ID_LIKE.
            Case {
                notes: &["NixOS (ID \"nixos\")"],
                ..case(
                    NIXOS_24_05,
                    "nixos",
                    Some("24.05"),
                    "NixOS",
                    Other,
                    Unsupported,
                    None,
                )
            },
            case("", "linux", None, "Linux", Other, Unsupported, None),
            Case {
                notes: &["Mattermost gives Arch Linux community support only"],
                ..case(
                    ARCH_LINUX,
                    "arch",
                    None,
                    "Arch Linux",
                    Other,
                    Unsupported,
                    None,
                )
            },
        ]
    }

    #[test]
    fn every_fixture_is_classified_as_documented() {
        for case in cases() {
            let p = classify_fixture(&case.os_release);
            let row = format!("{} {:?}", case.id, case.version_id);
            assert_eq!(
                (p.id.as_str(), p.version_id.as_deref(), p.name.as_str()),
                (case.id, case.version_id, case.name),
                "{row}"
            );
            assert_kind(&p, case.family, case.support, case.package_manager);
            assert_eq!(p.statement, case.equivalent.and_then(equivalence), "{row}");
            assert_eq!(
                p.last_supported_release.as_deref(),
                case.last_supported_release,
                "{row}"
            );
            for needle in case.notes {
                assert!(
                    has_note(&p, needle),
                    "{row}: no note has {needle:?}: {:?}",
                    p.notes
                );
            }
            if let Some(count) = case.note_count {
                assert_eq!(p.notes.len(), count, "{row}: {:?}", p.notes);
            }
        }
        assert_eq!(
            classify_fixture(UBUNTU_24_04).pretty_name,
            "Ubuntu 24.04.3 LTS"
        );
    }

    #[test]
    fn the_statement_is_the_programs_exact_sentence() {
        for (fixture, expected) in [
            (
                CENTOS_7,
                "This deployment uses CentOS Linux as an equivalent to the officially supported version of Red Hat Enterprise Linux.",
            ),
            (
                AMAZON_LINUX_2,
                "This deployment uses Amazon Linux as an equivalent to the officially supported version of Red Hat Enterprise Linux.",
            ),
            (
                ORACLE_LINUX_9,
                "This deployment uses Oracle Linux Server as an equivalent to the officially supported version of Red Hat Enterprise Linux.",
            ),
            (
                ROCKY_9,
                "This deployment uses Rocky Linux as an equivalent to the officially supported version of Red Hat Enterprise Linux.",
            ),
            (
                ALMALINUX_9,
                "This deployment uses AlmaLinux as an equivalent to the officially supported version of Red Hat Enterprise Linux.",
            ),
        ] {
            assert_eq!(
                classify_fixture(fixture).statement.as_deref(),
                Some(expected)
            );
        }
    }

    #[test]
    fn no_systemd_is_unsupported() {
        let os = OsRelease::parse(ROCKY_9);
        let p = classify(&os, Arch::Amd64, Some(false));
        assert_kind(
            &p,
            Family::Rhel,
            Support::Unsupported,
            Some(PackageManager::Dnf),
        );
        assert_eq!(p.statement, None);
        assert!(
            p.notes[0].starts_with(
                "no systemd found (looked for /usr/lib/systemd/systemd and /lib/systemd/systemd)"
            ),
            "{:?}",
            p.notes
        );

        let with = classify(&os, Arch::Amd64, Some(true));
        assert_eq!(with.support, Support::Equivalent);
        assert_eq!(with.statement, equivalence("Rocky Linux"));
        assert!(!has_note(&with, "systemd"));
    }

    #[test]
    fn arm64_gets_a_note() {
        let p = classify(&OsRelease::parse(DEBIAN_12), Arch::Arm64, None);
        assert_eq!(p.arch, Arch::Arm64);
        assert_eq!(p.support, Support::Official);
        assert!(has_note(
            &p,
            "arm64 tarballs ship without prepackaged plugins"
        ));
    }

    #[test]
    fn major_versions() {
        assert_eq!(major_version(Some("9.4")), Some(9));
        assert_eq!(major_version(Some("2")), Some(2));
        assert_eq!(major_version(Some("2018.03")), Some(2018));
        assert_eq!(major_version(Some("rolling")), None);
        assert_eq!(major_version(None), None);
    }

    #[test]
    fn json_has_the_documented_keys() {
        let mut p = classify_fixture(RHEL_8);
        p.os_release_file = Some("/etc/os-release".to_owned());
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["id"], "rhel");
        assert_eq!(json["version_id"], "8.10");
        assert_eq!(json["name"], "Red Hat Enterprise Linux");
        assert_eq!(json["family"], "rhel");
        assert_eq!(json["support"], "official");
        assert_eq!(json["statement"], serde_json::Value::Null);
        assert_eq!(json["package_manager"], "dnf");
        assert_eq!(json["arch"], "amd64");
        assert_eq!(json["last_supported_release"], "11.11");
        assert_eq!(json["notes"].as_array().unwrap().len(), 1);
        assert_eq!(json["os_release_file"], "/etc/os-release");

        let alpine = serde_json::to_value(classify_fixture(ALPINE_3_20)).unwrap();
        assert_eq!(alpine["package_manager"], serde_json::Value::Null);
        assert_eq!(alpine["support"], "unsupported");
        assert_eq!(alpine["family"], "other");
        let rolling = serde_json::to_value(classify_fixture(ARCH_LINUX)).unwrap();
        assert_eq!(rolling["version_id"], serde_json::Value::Null);
        let rocky = serde_json::to_value(classify_fixture(ROCKY_9)).unwrap();
        assert_eq!(rocky["support"], "equivalent");
        let mint = serde_json::to_value(classify_fixture(LINUX_MINT_21)).unwrap();
        assert_eq!(mint["support"], "unofficial");
        let centos = serde_json::to_value(classify_fixture(CENTOS_7)).unwrap();
        assert_eq!(centos["package_manager"], "yum");
    }

    #[test]
    fn display_summarises_everything() {
        let mut p = classify(&OsRelease::parse(ROCKY_9), Arch::Arm64, Some(true));
        p.os_release_file = Some("/etc/os-release".to_owned());
        let text = p.to_string();
        for expected in [
            "Rocky Linux 9.4\n",
            "family:          rhel",
            "support:         equivalent (treated as equivalent to Red Hat Enterprise Linux)",
            "package manager: dnf",
            "architecture:    arm64",
            "read from:       /etc/os-release",
            "statement: This deployment uses Rocky Linux as an equivalent to the officially supported version of Red Hat Enterprise Linux.\n",
            "note: Mattermost's documentation does not name Rocky Linux",
            "note: Mattermost's version archive lists checksums",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }

        let rhel_8 = classify_fixture(RHEL_8).to_string();
        assert!(
            rhel_8.contains("last supported Mattermost release: 11.11"),
            "{rhel_8}"
        );
        assert!(!rhel_8.contains("statement:"), "{rhel_8}");
        let alpine = classify_fixture(ALPINE_3_20).to_string();
        assert!(alpine.contains("package manager: none known"), "{alpine}");
        assert!(
            classify_fixture("NAME=Rolling\n")
                .to_string()
                .starts_with("Rolling\n")
        );
    }
}
