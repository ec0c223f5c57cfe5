//! A private CA in a booted Debian 12 guest's trust store: `mm-install download` from an HTTPS
//! mirror whose certificate that CA issued fails (exit 1, with the hint about `--ca-cert` and the
//! system store) until the CA is installed the Debian way (`update-ca-certificates`), then
//! succeeds with no flag. The mirror runs on the host's address for the guest.

use crate::common::{assert_exit, texts, write_file};
use crate::guest::Guest;
use crate::mirror::{Mirror, TestCa, TestKey};

const VERSION: &str = "11.10.1";
const NAME: &str = "mattermost-11.10.1-linux-amd64.tar.gz";

#[test]
fn a_ca_installed_with_update_ca_certificates_is_trusted_without_a_flag() {
    let artifacts = tempfile::tempdir().unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_mm-install"),
        artifacts.path().join("mm-install"),
    )
    .unwrap();
    let key = TestKey::generate("release");
    key.write_public(artifacts.path(), "key.asc");
    let guest = Guest::boot(artifacts.path());

    let host = guest.host_address().to_string();
    let ca = TestCa::generate_for(&[&host]);
    write_file(artifacts.path(), "private-ca.crt", ca.pem.as_bytes());
    let mirror = Mirror::start_tls_on(&host, &ca);
    let tarball = mirror.publish(&key, VERSION, NAME, 64 * 1024);
    let download = format!(
        "MM_INSTALL_RETRY_BASE_MS=1 /srv/artifacts/mm-install download --no-progress \
         --version {VERSION} --arch amd64 --release-url {} --keyring /srv/artifacts/key.asc \
         --dir /root/out",
        mirror.base_url
    );

    let refused = guest.sh(&download);
    let (_, stderr) = assert_exit(&refused, 1);
    assert!(
        stderr.contains("presented a certificate this host does not trust")
            && stderr.contains("update-ca-certificates"),
        "{stderr}"
    );
    assert!(mirror.all_seen().is_empty(), "{:?}", mirror.all_seen());

    let installed = guest.sh(
        "cp /srv/artifacts/private-ca.crt /usr/local/share/ca-certificates/ \
         && update-ca-certificates",
    );
    assert_exit(&installed, 0);
    let trusted = guest.sh(&download);
    let (stdout, _) = assert_exit(&trusted, 0);
    assert_eq!(stdout.trim(), format!("/root/out/{NAME}"));
    let copied = guest.run(&["sha256sum", &format!("/root/out/{NAME}")]);
    assert!(
        texts(&copied)
            .0
            .starts_with(&hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                &tarball
            ))),
        "{copied:?}"
    );
}
