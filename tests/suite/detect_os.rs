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

#[test]
fn rocky_is_an_equivalent_with_the_exact_statement() {
    let json = detect_json(ROCKY_9);
    assert_eq!(json["id"], "rocky");
    assert_eq!(json["version_id"], "9.4");
    assert_eq!(json["name"], "Rocky Linux");
    assert_eq!(json["family"], "rhel");
    assert_eq!(json["support"], "equivalent");
    assert_eq!(json["statement"], equivalence("Rocky Linux").as_str());
    assert_eq!(json["package_manager"], "dnf");
    assert_eq!(json["arch"], "amd64");
    assert_eq!(json["last_supported_release"], Value::Null);
    let notes = json["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|note| note.as_str().unwrap().contains("mm-install's judgement")),
        "{notes:?}"
    );
}

#[test]
fn oracle_linux_9_is_an_equivalent_by_its_id() {
    let json = detect_json(ORACLE_LINUX_9);
    assert_eq!(json["id"], "ol");
    assert_eq!(json["family"], "rhel");
    assert_eq!(json["support"], "equivalent");
    assert_eq!(
        json["statement"],
        equivalence("Oracle Linux Server").as_str()
    );
    assert_eq!(json["package_manager"], "dnf");
}

#[test]
fn amazon_linux_2023_is_an_equivalent_by_its_id() {
    let json = detect_json(AMAZON_LINUX_2023);
    assert_eq!(json["id"], "amzn");
    assert_eq!(json["version_id"], "2023");
    assert_eq!(json["support"], "equivalent");
    assert_eq!(json["statement"], equivalence("Amazon Linux").as_str());
    assert_eq!(json["package_manager"], "dnf");
}

#[test]
fn debian_12_is_official_without_a_statement() {
    let json = detect_json(DEBIAN_12);
    assert_eq!(json["id"], "debian");
    assert_eq!(json["version_id"], "12");
    assert_eq!(json["family"], "debian");
    assert_eq!(json["support"], "official");
    assert_eq!(json["statement"], Value::Null);
    assert_eq!(json["package_manager"], "apt");
    assert_eq!(json["notes"], Value::Array(Vec::new()));
}

#[test]
fn current_debian_and_ubuntu_lts_releases_are_official() {
    // (fixture, ID, VERSION_ID, named by Mattermost's pages: no note)
    for (fixture, id, version, named) in [
        (DEBIAN_13, "debian", "13", false),
        (UBUNTU_24_04, "ubuntu", "24.04", true),
        (UBUNTU_26_04, "ubuntu", "26.04", false),
    ] {
        let json = detect_json(fixture);
        assert_eq!(json["id"], id, "{json}");
        assert_eq!(json["version_id"], version, "{json}");
        assert_eq!(json["family"], "debian", "{json}");
        assert_eq!(json["support"], "official", "{json}");
        assert_eq!(json["statement"], Value::Null, "{json}");
        assert_eq!(json["package_manager"], "apt", "{json}");
        assert_eq!(json["last_supported_release"], Value::Null, "{json}");
        let notes = json["notes"].as_array().unwrap();
        if named {
            assert!(notes.is_empty(), "{id} {version}: {notes:?}");
        } else {
            assert!(
                notes.len() == 1
                    && notes[0]
                        .as_str()
                        .unwrap()
                        .contains("check the release notes before upgrading to v12"),
                "{id} {version}: {notes:?}"
            );
        }
    }
}

#[test]
fn linux_mint_is_unofficial() {
    let json = detect_json(LINUX_MINT_21);
    assert_eq!(json["id"], "linuxmint");
    assert_eq!(json["family"], "debian");
    assert_eq!(json["support"], "unofficial");
    assert_eq!(json["statement"], Value::Null);
    assert_eq!(json["package_manager"], "apt");
    assert!(!json["notes"].as_array().unwrap().is_empty());
}

#[test]
fn alpine_is_unsupported_but_detect_os_still_succeeds() {
    let json = detect_json(ALPINE_3_20);
    assert_eq!(json["id"], "alpine");
    assert_eq!(json["family"], "other");
    assert_eq!(json["support"], "unsupported");
    assert_eq!(json["statement"], Value::Null);
    assert_eq!(json["package_manager"], Value::Null);
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
