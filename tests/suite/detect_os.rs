//! `mm-install detect-os` on os-release fixtures: the support level, the RHEL-equivalence
//! statement and the family for each kind of system, in JSON and as text, and the error for a
//! missing file.

use crate::common::Ran;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{assert_exit, mm_install, run, write_file};
use crate::os_release_fixtures::{
    ALPINE_3_20, AMAZON_LINUX_2023, DEBIAN_12, DEBIAN_13, LINUX_MINT_21, ORACLE_LINUX_9, ROCKY_9,
    UBUNTU_24_04, UBUNTU_26_04,
};

// Debian 13 and the Ubuntu LTS releases users install on today, as their os-release files ship.
// Mattermost's support matrix (mattermost/docs, source/deployment-guide/
// software-hardware-requirements.rst, "Mattermost server operating system") names Ubuntu, Debian
// and Red Hat Enterprise Linux without versions; its Ubuntu guide (source/deployment-guide/server/
// linux/deploy-ubuntu.rst, mattermost/docs#8452) lists 20.04, 22.04 and 24.04 LTS, and the v12.0
// announcement names Debian 12 and Ubuntu 22.04/24.04 as remaining fully supported. So all three
// are official; the two releases no Mattermost page names yet (Debian 13, Ubuntu 26.04) carry a
// note to check the release notes.

/// The statement the Deployment Solutions Program requires for a RHEL equivalent named `name`.
fn equivalence(name: &str) -> String {
    format!(
        "This deployment uses {name} as an equivalent to the officially supported version of Red Hat Enterprise Linux."
    )
}

/// `mm-install detect-os --os-release FILE --arch amd64 EXTRA…`, asserting it exits 0.
fn detect_os(file: &Path, extra: &[&str]) -> String {
    assert_exit(&detect_os_output(file, extra), 0).0
}

fn detect_os_output(file: &Path, extra: &[&str]) -> Ran {
    let mut command = mm_install();
    command
        .arg("detect-os")
        .arg("--os-release")
        .arg(file)
        .args(["--arch", "amd64"])
        .args(extra);
    run(&mut command)
}

/// `detect-os --json` for the os-release `contents`, parsed.
fn detect_json(contents: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "os-release", contents.as_bytes());
    let stdout = detect_os(&file, &["--json"]);
    serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: not JSON:\n{stdout}"))
}

/// One row of [`detect_os_json_classifies_each_system`]: an os-release fixture and the JSON
/// `detect-os --json --arch amd64` prints for it.
struct Case {
    fixture: &'static str,
    id: &'static str,
    version_id: &'static str,
    name: &'static str,
    family: &'static str,
    support: &'static str,
    /// The distribution the RHEL-equivalence statement names, if there is a statement.
    equivalent: Option<&'static str>,
    package_manager: Option<&'static str>,
    /// Text each of which some note contains.
    notes: &'static [&'static str],
    /// How many notes there are, where the exact number matters.
    note_count: Option<usize>,
}

/// Check the release notes: the note for the Debian and Ubuntu releases no Mattermost page names.
const UNNAMED: &str = "check the release notes before upgrading to v12";

const CASES: [Case; 9] = [
    Case {
        fixture: ROCKY_9,
        id: "rocky",
        version_id: "9.4",
        name: "Rocky Linux",
        family: "rhel",
        support: "equivalent",
        equivalent: Some("Rocky Linux"),
        package_manager: Some("dnf"),
        notes: &["mm-install's judgement"],
        note_count: None,
    },
    // An equivalent by its ID (its ID_LIKE is only "fedora").
    Case {
        fixture: ORACLE_LINUX_9,
        id: "ol",
        version_id: "9.4",
        name: "Oracle Linux Server",
        family: "rhel",
        support: "equivalent",
        equivalent: Some("Oracle Linux Server"),
        package_manager: Some("dnf"),
        notes: &[],
        note_count: None,
    },
    // An equivalent by its ID (its ID_LIKE is only "fedora").
    Case {
        fixture: AMAZON_LINUX_2023,
        id: "amzn",
        version_id: "2023",
        name: "Amazon Linux",
        family: "rhel",
        support: "equivalent",
        equivalent: Some("Amazon Linux"),
        package_manager: Some("dnf"),
        notes: &[],
        note_count: None,
    },
    Case {
        fixture: DEBIAN_12,
        id: "debian",
        version_id: "12",
        name: "Debian GNU/Linux",
        family: "debian",
        support: "official",
        equivalent: None,
        package_manager: Some("apt"),
        notes: &[],
        note_count: Some(0),
    },
    Case {
        fixture: DEBIAN_13,
        id: "debian",
        version_id: "13",
        name: "Debian GNU/Linux",
        family: "debian",
        support: "official",
        equivalent: None,
        package_manager: Some("apt"),
        notes: &[UNNAMED],
        note_count: Some(1),
    },
    Case {
        fixture: UBUNTU_24_04,
        id: "ubuntu",
        version_id: "24.04",
        name: "Ubuntu",
        family: "debian",
        support: "official",
        equivalent: None,
        package_manager: Some("apt"),
        notes: &[],
        note_count: Some(0),
    },
    Case {
        fixture: UBUNTU_26_04,
        id: "ubuntu",
        version_id: "26.04",
        name: "Ubuntu",
        family: "debian",
        support: "official",
        equivalent: None,
        package_manager: Some("apt"),
        notes: &[UNNAMED],
        note_count: Some(1),
    },
    Case {
        fixture: LINUX_MINT_21,
        id: "linuxmint",
        version_id: "21.3",
        name: "Linux Mint",
        family: "debian",
        support: "unofficial",
        equivalent: None,
        package_manager: Some("apt"),
        notes: &["Linux Mint is not officially supported"],
        note_count: None,
    },
    // Unsupported, but detect-os still succeeds.
    Case {
        fixture: ALPINE_3_20,
        id: "alpine",
        version_id: "3.20.3",
        name: "Alpine Linux",
        family: "other",
        support: "unsupported",
        equivalent: None,
        package_manager: None,
        notes: &[],
        note_count: None,
    },
];

#[test]
fn detect_os_json_classifies_each_system() {
    for case in &CASES {
        let json = detect_json(case.fixture);
        let row = format!("{} {}: {json}", case.id, case.version_id);
        assert_eq!(json["id"], case.id, "{row}");
        assert_eq!(json["version_id"], case.version_id, "{row}");
        assert_eq!(json["name"], case.name, "{row}");
        assert_eq!(json["family"], case.family, "{row}");
        assert_eq!(json["support"], case.support, "{row}");
        let statement = case.equivalent.map(|name| Value::from(equivalence(name)));
        assert_eq!(json["statement"], statement.unwrap_or(Value::Null), "{row}");
        let package_manager = case.package_manager.map(Value::from);
        assert_eq!(
            json["package_manager"],
            package_manager.unwrap_or(Value::Null),
            "{row}"
        );
        assert_eq!(json["arch"], "amd64", "{row}");
        assert_eq!(json["last_supported_release"], Value::Null, "{row}");
        let notes = json["notes"].as_array().unwrap();
        for needle in case.notes {
            assert!(
                notes
                    .iter()
                    .any(|note| note.as_str().unwrap().contains(needle)),
                "{row}: no note has {needle:?}"
            );
        }
        if let Some(count) = case.note_count {
            assert_eq!(notes.len(), count, "{row}");
        }
    }
}

#[test]
fn text_output_names_the_system_and_the_statement() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "os-release", ROCKY_9.as_bytes());
    let stdout = detect_os(&file, &[]);
    assert!(stdout.contains("Rocky Linux"), "{stdout}");
    assert!(stdout.contains(&equivalence("Rocky Linux")), "{stdout}");
    assert!(stdout.contains("equivalent"), "{stdout}");
    assert!(
        serde_json::from_str::<Value>(&stdout).is_err(),
        "text output is JSON:\n{stdout}"
    );
}

#[test]
fn missing_os_release_file_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing: PathBuf = dir.path().join("no-such-os-release");
    let (stdout, stderr) = assert_exit(&detect_os_output(&missing, &["--json"]), 1);
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert!(stderr.contains("--os-release FILE"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
}
