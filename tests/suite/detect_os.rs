//! `mm-install detect-os` on os-release fixtures: the support level, the RHEL-equivalence
//! statement and the family for each kind of system, in JSON and as text, and the error for a
//! missing file.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::{mm_install, run, texts, write_file};

pub const ROCKY_9: &str = r#"NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.4"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
"#;

const ORACLE_LINUX_9: &str = r#"NAME="Oracle Linux Server"
VERSION="9.4"
ID="ol"
ID_LIKE="fedora"
VARIANT="Server"
VARIANT_ID="server"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Oracle Linux Server 9.4"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:oracle:linux:9:4:server"
HOME_URL="https://linux.oracle.com/"
BUG_REPORT_URL="https://github.com/oracle/oracle-linux"

ORACLE_BUGZILLA_PRODUCT="Oracle Linux 9"
ORACLE_BUGZILLA_PRODUCT_VERSION=9.4
ORACLE_SUPPORT_PRODUCT="Oracle Linux"
ORACLE_SUPPORT_PRODUCT_VERSION=9.4
"#;

const AMAZON_LINUX_2023: &str = r#"NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023.6.20241010"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"
DOCUMENTATION_URL="https://docs.aws.amazon.com/linux/"
SUPPORT_URL="https://aws.amazon.com/premiumsupport/"
BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"
VENDOR_NAME="AWS"
VENDOR_URL="https://aws.amazon.com/"
SUPPORT_END="2029-06-30"
"#;

pub const DEBIAN_12: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"#;

// Debian 13 and the Ubuntu LTS releases users install on today, as their os-release files ship.
// Mattermost's support matrix (mattermost/docs, source/deployment-guide/
// software-hardware-requirements.rst, "Mattermost server operating system") names Ubuntu, Debian
// and Red Hat Enterprise Linux without versions; its Ubuntu guide (source/deployment-guide/server/
// linux/deploy-ubuntu.rst, mattermost/docs#8452) lists 20.04, 22.04 and 24.04 LTS, and the v12.0
// announcement names Debian 12 and Ubuntu 22.04/24.04 as remaining fully supported. So all three
// are official; the two releases no Mattermost page names yet (Debian 13, Ubuntu 26.04) carry a
// note to check the release notes.

const DEBIAN_13: &str = r#"PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
VERSION_CODENAME=trixie
DEBIAN_VERSION_FULL=13.2
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"#;

const UBUNTU_24_04: &str = r#"PRETTY_NAME="Ubuntu 24.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.3 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
"#;

const UBUNTU_26_04: &str = r#"PRETTY_NAME="Ubuntu 26.04 LTS"
NAME="Ubuntu"
VERSION_ID="26.04"
VERSION="26.04 LTS (Resolute Raccoon)"
VERSION_CODENAME=resolute
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=resolute
LOGO=ubuntu-logo
"#;

const LINUX_MINT_21: &str = r#"NAME="Linux Mint"
VERSION="21.3 (Virginia)"
ID=linuxmint
ID_LIKE="ubuntu debian"
PRETTY_NAME="Linux Mint 21.3"
VERSION_ID="21.3"
HOME_URL="https://www.linuxmint.com/"
SUPPORT_URL="https://forums.linuxmint.com/"
BUG_REPORT_URL="http://linuxmint-troubleshooting-guide.readthedocs.io/en/latest/"
PRIVACY_POLICY_URL="https://www.linuxmint.com/"
VERSION_CODENAME=virginia
UBUNTU_CODENAME=jammy
"#;

const ALPINE_3_20: &str = r#"NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
"#;

/// The statement the Deployment Solutions Program requires for a RHEL equivalent named `name`.
fn equivalence(name: &str) -> String {
    format!(
        "This deployment uses {name} as an equivalent to the officially supported version of Red Hat Enterprise Linux."
    )
}

/// `mm-install detect-os --os-release FILE --arch amd64 EXTRA…`, asserting it exits 0.
fn detect_os(file: &Path, extra: &[&str]) -> String {
    let output = detect_os_output(file, extra);
    let (stdout, stderr) = texts(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

fn detect_os_output(file: &Path, extra: &[&str]) -> Output {
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
    let output = detect_os_output(&missing, &["--json"]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert!(stderr.contains("--os-release FILE"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
}
