//! `mm-install download` against the loopback mirror: good downloads, every way a download can
//! fail, and resume after an interruption in the same run and across runs.

use std::path::{Path, PathBuf};

use pgp::crypto::hash::HashAlgorithm;
use sha2::{Digest, Sha256};

use crate::common::{Ran, assert_exit, mm_install, run, write_file};
use crate::mirror::{Mirror, Route, TestCa, TestKey, release_tarball, releases_feed};

const VERSION: &str = "11.10.1";
const NAME: &str = "mattermost-11.10.1-linux-amd64.tar.gz";
const PAYLOAD: usize = 3 * 1024 * 1024;

struct Setup {
    mirror: Mirror,
    key: TestKey,
    keyring: PathBuf,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Self::with_mirror(Mirror::start())
    }

    fn with_mirror(mirror: Mirror) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let key = TestKey::generate("release");
        let keyring = key.write_public(dir.path(), "release-key.asc");
        Setup {
            mirror,
            key,
            keyring,
            dir,
        }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn tarball_path(&self) -> String {
        format!("/{VERSION}/{NAME}")
    }

    /// `mm-install download` for `args`, trusting the test key, into `out/`.
    fn download(&self, args: &[&str]) -> Ran {
        self.download_env(args, &[])
    }

    fn download_env(&self, args: &[&str], env: &[(&str, &str)]) -> Ran {
        let mut command = mm_install();
        command
            .args([
                "download",
                "--no-progress",
                "--arch",
                "amd64",
                "--release-url",
            ])
            .arg(&self.mirror.base_url)
            .arg("--keyring")
            .arg(&self.keyring)
            .arg("--dir")
            .arg(self.out())
            .args(args)
            .env("MM_INSTALL_RETRY_BASE_MS", "10");
        for (name, value) in env {
            command.env(name, value);
        }
        run(&mut command)
    }

    /// `mm-install download --version VERSION` from `release_url`, a host only the proxy (our
    /// mirror, through `HTTP_PROXY`) answers for.
    fn download_through_proxy(&self, release_url: &str) -> Ran {
        let mut command = mm_install();
        command
            .args(["download", "--no-progress", "--version", VERSION])
            .args(["--arch", "amd64", "--release-url", release_url])
            .arg("--keyring")
            .arg(&self.keyring)
            .arg("--dir")
            .arg(self.out())
            .env("HTTP_PROXY", &self.mirror.base_url)
            .env("MM_INSTALL_RETRY_BASE_MS", "1");
        run(&mut command)
    }

    /// Files left in `out/` (nothing must be left after a failed verification).
    fn leftovers(&self) -> Vec<String> {
        match std::fs::read_dir(self.out()) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn assert_downloaded(setup: &Setup, output: &Ran, tarball: &[u8]) -> String {
    let (stdout, stderr) = assert_exit(output, 0);
    let path = Path::new(stdout.trim());
    assert_eq!(path, setup.out().join(NAME));
    assert_eq!(
        std::fs::read(path).unwrap(),
        tarball,
        "downloaded bytes differ"
    );
    let mut left = setup.leftovers();
    left.sort();
    assert_eq!(
        left,
        [NAME.to_string(), format!("{NAME}.sig")],
        "only the verified tarball and its signature are left"
    );
    assert!(stderr.contains(&sha256_hex(tarball)), "{stderr}");
    stderr
}

#[test]
fn a_good_release_downloads_and_verifies() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    let output = setup.download(&["--version", VERSION]);
    let stderr = assert_downloaded(&setup, &output, &tarball);
    assert!(stderr.contains("verified"), "{stderr}");
    assert_eq!(setup.mirror.seen(&setup.tarball_path()).len(), 1);

    // A second run finds the verified file and does not download it again.
    let again = setup.download(&["--version", VERSION]);
    let (_, stderr) = assert_exit(&again, 0);
    assert!(stderr.contains("already here"), "{stderr}");
    assert_eq!(setup.mirror.seen(&setup.tarball_path()).len(), 1);
}

impl Setup {
    fn key_publish(&self) -> Vec<u8> {
        self.mirror.publish(&self.key, VERSION, NAME, PAYLOAD)
    }
}

#[test]
fn latest_picks_the_newest_stable_release_from_the_feed() {
    let setup = Setup::new();
    setup
        .mirror
        .file("/releases", releases_feed(&["11.9.4", VERSION, "11.10.0"]));
    let tarball = setup.key_publish();
    let api = format!("{}/releases", setup.mirror.base_url);
    let output = setup.download(&["--latest", "--releases-api", &api]);
    let stderr = assert_downloaded(&setup, &output, &tarball);
    assert!(
        stderr.contains(&format!("newest release: {VERSION}")),
        "{stderr}"
    );
}

#[test]
fn team_edition_uses_its_own_file_name() {
    let setup = Setup::new();
    let name = format!("mattermost-team-{VERSION}-linux-arm64.tar.gz");
    setup.mirror.publish(&setup.key, VERSION, &name, 1024);
    let mut command = mm_install();
    command
        .args([
            "download",
            "--version",
            VERSION,
            "--edition",
            "team",
            "--arch",
            "arm64",
        ])
        .args(["--release-url", &setup.mirror.base_url])
        .arg("--keyring")
        .arg(&setup.keyring)
        .arg("--dir")
        .arg(setup.out());
    let output = run(&mut command);
    let (stdout, _) = assert_exit(&output, 0);
    assert!(stdout.trim().ends_with(&name), "{stdout}");
}

#[test]
fn a_tampered_byte_fails_verification_and_leaves_nothing() {
    let setup = Setup::new();
    let mut tarball = setup.key_publish();
    let middle = tarball.len() / 2;
    tarball[middle] ^= 0x01;
    setup.mirror.file(&setup.tarball_path(), tarball);
    let output = setup.download(&["--version", VERSION]);
    let (_, stderr) = assert_exit(&output, 3);
    assert!(stderr.contains("BAD signature"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(
        setup.leftovers().is_empty(),
        "left behind: {:?}",
        setup.leftovers()
    );
}

#[test]
fn a_signature_by_an_untrusted_key_is_refused() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    let stranger = TestKey::generate("stranger");
    let sig_path = format!("{}.sig", setup.tarball_path());
    setup
        .mirror
        .file(&sig_path, stranger.sign(&tarball, HashAlgorithm::Sha256));
    let output = setup.download(&["--version", VERSION]);
    let (_, stderr) = assert_exit(&output, 3);
    assert!(stderr.contains("not trusted"), "{stderr}");
    assert!(setup.leftovers().is_empty());
    assert!(
        setup.mirror.seen(&setup.tarball_path()).is_empty(),
        "tarball fetched before the signer was checked"
    );

    // Without --keyring only Mattermost's pinned key is trusted.
    let mut command = mm_install();
    command
        .args([
            "download",
            "--version",
            VERSION,
            "--arch",
            "amd64",
            "--release-url",
        ])
        .arg(&setup.mirror.base_url)
        .arg("--dir")
        .arg(setup.out());
    let (_, stderr) = assert_exit(&run(&mut command), 3);
    assert!(
        stderr.contains("A1B31D46F0F3A10B02CF2D44F8F2C31744774B28"),
        "{stderr}"
    );
}

#[test]
fn a_sha1_signature_is_refused_even_from_a_trusted_key() {
    let mut setup = Setup::new();
    setup.key = TestKey::generate_rsa("rsa-release");
    setup.keyring = setup.key.write_public(setup.dir.path(), "rsa-key.asc");
    let tarball = setup.key_publish();
    let sig_path = format!("{}.sig", setup.tarball_path());
    setup
        .mirror
        .file(&sig_path, setup.key.sign(&tarball, HashAlgorithm::Sha1));
    let (_, stderr) = assert_exit(&setup.download(&["--version", VERSION]), 3);
    assert!(stderr.contains("SHA1"), "{stderr}");
    assert!(setup.leftovers().is_empty());
}

#[test]
fn an_rsa_key_with_a_sha512_signature_verifies() {
    let mut setup = Setup::new();
    setup.key = TestKey::generate_rsa("rsa-release");
    setup.keyring = setup.key.write_public(setup.dir.path(), "rsa-key.asc");
    let tarball = setup.key_publish();
    let sig_path = format!("{}.sig", setup.tarball_path());
    setup
        .mirror
        .file(&sig_path, setup.key.sign(&tarball, HashAlgorithm::Sha512));
    assert_downloaded(&setup, &setup.download(&["--version", VERSION]), &tarball);
}

#[test]
fn checksums_given_or_published_are_enforced() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    let good = sha256_hex(&tarball);
    assert_downloaded(
        &setup,
        &setup.download(&["--version", VERSION, "--sha256", &good]),
        &tarball,
    );
    std::fs::remove_dir_all(setup.out()).unwrap();

    let wrong = "0".repeat(64);
    let (_, stderr) = assert_exit(
        &setup.download(&["--version", VERSION, "--sha256", &wrong]),
        3,
    );
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(setup.leftovers().is_empty());

    let sums = format!("{}.sha256", setup.tarball_path());
    setup
        .mirror
        .file(&sums, format!("{wrong}  {NAME}\n").into_bytes());
    let (_, stderr) = assert_exit(&setup.download(&["--version", VERSION]), 3);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(setup.leftovers().is_empty());

    setup
        .mirror
        .file(&sums, format!("{good}  {NAME}\n").into_bytes());
    assert_downloaded(&setup, &setup.download(&["--version", VERSION]), &tarball);
}

#[test]
fn an_interrupted_transfer_resumes_with_range() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    let cut = tarball.len() / 3;
    setup.mirror.route(
        &setup.tarball_path(),
        Route::CutFirst {
            after: cut,
            times: 1,
            then: Box::new(Route::File {
                body: tarball.clone(),
                content_type: "application/gzip",
            }),
        },
    );
    let stderr = assert_downloaded(&setup, &setup.download(&["--version", VERSION]), &tarball);
    assert!(stderr.contains("retrying"), "{stderr}");
    let seen = setup.mirror.seen(&setup.tarball_path());
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].range, None);
    let resumed_at: usize = seen[1].range.as_deref().unwrap()["bytes=".len()..]
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert!(
        resumed_at > 0 && resumed_at <= cut,
        "resumed at {resumed_at}, cut at {cut}"
    );
}

#[test]
fn a_partial_file_from_an_earlier_run_is_resumed() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    std::fs::create_dir_all(setup.out()).unwrap();
    let half = tarball.len() / 2;
    std::fs::write(
        setup.out().join(format!("{NAME}.partial")),
        &tarball[..half],
    )
    .unwrap();
    let stderr = assert_downloaded(&setup, &setup.download(&["--version", VERSION]), &tarball);
    assert!(stderr.contains("resuming"), "{stderr}");
    let seen = setup.mirror.seen(&setup.tarball_path());
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].range.as_deref(),
        Some(format!("bytes={half}-").as_str())
    );
}

#[test]
fn a_corrupt_partial_file_is_caught_and_deleted() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    std::fs::create_dir_all(setup.out()).unwrap();
    let mut partial = tarball[..tarball.len() / 2].to_vec();
    partial[100] ^= 0xff;
    std::fs::write(setup.out().join(format!("{NAME}.partial")), &partial).unwrap();
    let (_, stderr) = assert_exit(&setup.download(&["--version", VERSION]), 3);
    assert!(stderr.contains("BAD signature"), "{stderr}");
    assert!(setup.leftovers().is_empty(), "{:?}", setup.leftovers());
    // The next run starts clean and succeeds.
    assert_downloaded(&setup, &setup.download(&["--version", VERSION]), &tarball);
}

#[test]
fn a_server_that_ignores_range_makes_the_download_start_over() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    setup
        .mirror
        .route(&setup.tarball_path(), Route::IgnoresRange(tarball.clone()));
    std::fs::create_dir_all(setup.out()).unwrap();
    std::fs::write(
        setup.out().join(format!("{NAME}.partial")),
        &tarball[..1000],
    )
    .unwrap();
    let stderr = assert_downloaded(&setup, &setup.download(&["--version", VERSION]), &tarball);
    assert!(stderr.contains("starting over"), "{stderr}");
}

#[test]
fn server_errors_are_retried_then_succeed() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    setup.mirror.route(
        &setup.tarball_path(),
        Route::FailFirst {
            status: 500,
            times: 2,
            then: Box::new(Route::File {
                body: tarball.clone(),
                content_type: "application/gzip",
            }),
        },
    );
    let stderr = assert_downloaded(&setup, &setup.download(&["--version", VERSION]), &tarball);
    assert!(stderr.contains("HTTP 500; retrying"), "{stderr}");
    assert_eq!(setup.mirror.seen(&setup.tarball_path()).len(), 3);
}

#[test]
fn persistent_server_errors_give_up_with_exit_1() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    setup.mirror.route(
        &setup.tarball_path(),
        Route::FailFirst {
            status: 503,
            times: 100,
            then: Box::new(Route::File {
                body: tarball,
                content_type: "application/gzip",
            }),
        },
    );
    let (_, stderr) = assert_exit(&setup.download(&["--version", VERSION]), 1);
    assert!(stderr.contains("giving up after 5 attempts"), "{stderr}");
    assert_eq!(setup.mirror.seen(&setup.tarball_path()).len(), 5);
}

#[test]
fn an_unknown_version_is_not_published_whether_the_host_says_403_or_404() {
    // Mattermost's release host (S3) answers 403 AccessDenied for a missing object; a plain
    // mirror answers 404 (mattermost-facts.md §10). Both mean the same to the user.
    for (mirror, status) in [
        (Mirror::start(), "HTTP 403"),
        (Mirror::start_plain(), "HTTP 404"),
    ] {
        let setup = Setup {
            mirror,
            ..Setup::new()
        };
        setup.key_publish();
        let (_, stderr) = assert_exit(&setup.download(&["--version", "11.99.0"]), 1);
        let url = format!(
            "{}/11.99.0/mattermost-11.99.0-linux-amd64.tar.gz",
            setup.mirror.base_url
        );
        assert!(
            stderr.contains(&format!(
                "Mattermost 11.99.0 is not published at {url} ({status})"
            )),
            "{stderr}"
        );
        assert!(stderr.contains("hint: check --version"), "{stderr}");
        assert!(setup.leftovers().is_empty());
    }
}

#[test]
fn a_mirror_without_checksum_files_is_asked_once_and_its_403_means_none() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    assert_downloaded(&setup, &setup.download(&["--version", VERSION]), &tarball);
    let probes = setup
        .mirror
        .seen(&format!("{}.sha256", setup.tarball_path()));
    assert_eq!(
        probes.len(),
        1,
        "a custom mirror is asked for its checksum file once"
    );
}

#[test]
fn the_official_release_host_is_never_asked_for_files_it_does_not_publish() {
    // releases.mattermost.com publishes no .sha256 and answers 403 for it (mattermost-facts.md
    // §10): a default run must not even ask. The "official host" is reached through a proxy
    // (our S3-shaped mirror), the only way a test can stand in for it.
    let setup = Setup::new();
    let tarball = setup.key_publish();
    let output = setup.download_through_proxy("http://releases.mattermost.com");
    assert_downloaded(&setup, &output, &tarball);
    let seen = setup.mirror.all_seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    let expected_signature = format!("{}.sig", setup.tarball_path());
    assert_eq!(
        paths,
        [expected_signature.as_str(), setup.tarball_path().as_str()],
        "only the signature and the tarball are asked for"
    );
    assert!(seen.iter().all(|s| s.via_proxy), "{seen:?}");
}

#[test]
fn githubs_rate_limit_is_reported_at_once_with_a_way_forward() {
    let setup = Setup::new();
    setup.mirror.route("/releases", Route::RateLimited);
    let api = format!("{}/releases", setup.mirror.base_url);
    let (_, stderr) = assert_exit(&setup.download(&["--latest", "--releases-api", &api]), 1);
    assert!(stderr.contains("rate limit"), "{stderr}");
    assert!(stderr.contains("--version"), "{stderr}");
    assert_eq!(setup.mirror.seen("/releases").len(), 1, "no retries");
}

#[test]
fn invalid_version_text_is_a_usage_error() {
    let setup = Setup::new();
    for bad in ["latest", "11.10", "11.10.0-beta1"] {
        let (_, stderr) = assert_exit(&setup.download(&["--version", bad]), 2);
        assert!(stderr.contains(bad), "{stderr}");
    }
    let (_, stderr) = assert_exit(&setup.download(&[]), 2);
    assert!(stderr.contains("--version"), "{stderr}");
}

#[test]
fn a_missing_signature_is_a_verification_failure() {
    // The tarball is there, its signature is not: 403 from an S3-shaped host, 404 from a plain
    // mirror. Either way nothing unsigned is kept (exit 3), and the message is about the
    // signature, not about a missing release.
    for mirror in [Mirror::start(), Mirror::start_plain()] {
        let setup = Setup {
            mirror,
            ..Setup::new()
        };
        setup
            .mirror
            .file(&setup.tarball_path(), release_tarball(VERSION, 1024));
        let (_, stderr) = assert_exit(&setup.download(&["--version", VERSION]), 3);
        assert!(stderr.contains("no signature is published"), "{stderr}");
        assert!(setup.leftovers().is_empty());
    }
}

#[test]
fn an_html_page_instead_of_a_tarball_is_refused() {
    let setup = Setup::new();
    setup.key_publish();
    setup.mirror.route(
        &setup.tarball_path(),
        Route::File {
            body: b"<html><body>Please log in</body></html>".to_vec(),
            content_type: "text/html; charset=utf-8",
        },
    );
    let (_, stderr) = assert_exit(&setup.download(&["--version", VERSION]), 3);
    assert!(stderr.contains("text/html"), "{stderr}");
    assert!(setup.leftovers().is_empty(), "{:?}", setup.leftovers());
}

#[test]
fn a_download_larger_than_the_free_space_is_refused_before_writing() {
    let setup = Setup::new();
    setup.key_publish();
    setup.mirror.route(&setup.tarball_path(), Route::Enormous);
    let (_, stderr) = assert_exit(&setup.download(&["--version", VERSION]), 1);
    assert!(stderr.contains("not enough free space"), "{stderr}");
}

#[test]
fn an_unreachable_server_is_retried_then_reported() {
    let setup = Setup::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut command = mm_install();
    command
        .args([
            "download",
            "--version",
            VERSION,
            "--arch",
            "amd64",
            "--release-url",
            &url,
        ])
        .arg("--dir")
        .arg(setup.out())
        .env("MM_INSTALL_RETRY_BASE_MS", "1");
    let (_, stderr) = assert_exit(&run(&mut command), 1);
    assert!(stderr.contains("cannot reach"), "{stderr}");
    assert!(stderr.contains(&url), "{stderr}");
}

#[test]
fn proxy_environment_variables_are_honoured() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    // The release URL's host does not exist; only the proxy (our mirror) can answer for it.
    let output = setup.download_through_proxy("http://releases.mirror.invalid");
    assert_downloaded(&setup, &output, &tarball);
    let seen = setup.mirror.seen(&setup.tarball_path());
    assert!(seen.iter().all(|s| s.via_proxy), "{seen:?}");
}

#[test]
fn a_stale_file_at_the_destination_is_replaced_by_a_verified_download() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    std::fs::create_dir_all(setup.out()).unwrap();
    std::fs::write(setup.out().join(NAME), b"an older, unverified copy").unwrap();
    let stderr = assert_downloaded(&setup, &setup.download(&["--version", VERSION]), &tarball);
    assert!(
        stderr.contains("deleting it and downloading again"),
        "{stderr}"
    );
}

#[test]
fn extract_unpacks_the_verified_release_and_refuses_a_hostile_one() {
    let setup = Setup::new();
    setup.key_publish();
    let tree_dir = setup.dir.path().join("tree");
    let output = setup.download(&[
        "--version",
        VERSION,
        "--extract",
        tree_dir.to_str().unwrap(),
    ]);
    let (stdout, _) = assert_exit(&output, 0);
    assert_eq!(Path::new(stdout.trim()), tree_dir.join("mattermost"));
    assert!(tree_dir.join("mattermost/bin/mattermost").is_file());

    let hostile = crate::mirror::hostile_tarball();
    setup.mirror.file(&setup.tarball_path(), hostile.clone());
    let sig = format!("{}.sig", setup.tarball_path());
    setup
        .mirror
        .file(&sig, setup.key.sign(&hostile, HashAlgorithm::Sha256));
    std::fs::remove_dir_all(setup.out()).unwrap();
    let hostile_dir = setup.dir.path().join("hostile");
    let output = setup.download(&[
        "--version",
        VERSION,
        "--extract",
        hostile_dir.to_str().unwrap(),
    ]);
    let (_, stderr) = assert_exit(&output, 3);
    assert!(stderr.contains(".."), "{stderr}");
    assert!(!hostile_dir.exists());
}

/// An HTTPS mirror whose certificate comes from a private CA (an on-prem CA, or a TLS-inspecting
/// proxy's), and a download from it with the test's trust settings; the system store of the
/// host never knows that CA.
fn https_download(ca: &TestCa, args: &[&str], env: &[(&str, &str)]) -> (Setup, Vec<u8>, Ran) {
    let setup = Setup::with_mirror(Mirror::start_tls(ca));
    let tarball = setup.key_publish();
    let mut command = mm_install();
    command
        .args(["download", "--no-progress", "--version", VERSION])
        .args(["--arch", "amd64", "--release-url"])
        .arg(&setup.mirror.base_url)
        .arg("--keyring")
        .arg(&setup.keyring)
        .arg("--dir")
        .arg(setup.out())
        .args(args)
        .env("MM_INSTALL_RETRY_BASE_MS", "1")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = run(&mut command);
    (setup, tarball, output)
}

#[test]
fn an_https_mirror_with_an_untrusted_certificate_is_refused_with_a_hint() {
    let ca = TestCa::generate();
    let (setup, _, output) = https_download(&ca, &[], &[]);
    let (_, stderr) = assert_exit(&output, 1);
    let signature_url = format!("{}/{VERSION}/{NAME}.sig", setup.mirror.base_url);
    assert!(
        stderr.contains(&format!(
            "error: {signature_url} presented a certificate this host does not trust"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: ") && stderr.contains("--ca-cert FILE"),
        "{stderr}"
    );
    // Not a transient failure: no retries, and no request got through the handshake.
    assert!(!stderr.contains("retrying"), "{stderr}");
    assert!(setup.mirror.all_seen().is_empty());
    assert!(setup.leftovers().is_empty());
}

#[test]
fn ca_cert_trusts_a_private_ca() {
    let ca = TestCa::generate();
    let dir = tempfile::tempdir().unwrap();
    let pem = ca.write_pem(dir.path(), "private-ca.pem");
    let (setup, tarball, output) = https_download(&ca, &["--ca-cert", pem.to_str().unwrap()], &[]);
    assert_downloaded(&setup, &output, &tarball);
    assert_eq!(setup.mirror.seen(&setup.tarball_path()).len(), 1);
}

#[test]
fn a_private_ca_in_the_trust_store_named_by_ssl_cert_file_or_dir_is_trusted() {
    let ca = TestCa::generate();
    let store = tempfile::tempdir().unwrap();
    let pem = ca.write_pem(store.path(), "private-ca.pem");
    for env in [
        ("SSL_CERT_FILE", pem.to_str().unwrap()),
        ("SSL_CERT_DIR", store.path().to_str().unwrap()),
    ] {
        let (setup, tarball, output) = https_download(&ca, &[], &[env]);
        assert_downloaded(&setup, &output, &tarball);
    }
}

#[test]
fn ca_cert_in_the_settings_file_is_used_and_a_bad_one_is_named() {
    let ca = TestCa::generate();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc/mm-install")).unwrap();
    ca.write_pem(root.path(), "private-ca.pem");
    let settings = root.path().join("etc/mm-install/mm-install.toml");
    std::fs::write(&settings, "ca_cert = \"/private-ca.pem\"\n").unwrap();
    let root_arg = ["--root", root.path().to_str().unwrap()];
    let (setup, tarball, output) = https_download(&ca, &root_arg, &[]);
    assert_downloaded(&setup, &output, &tarball);

    // A file that holds no certificate: a usage error naming it, before any request.
    let bad = write_file(root.path(), "not-a-ca.pem", b"hello\n");
    let (setup, _, output) = https_download(&ca, &["--ca-cert", bad.to_str().unwrap()], &[]);
    let (_, stderr) = assert_exit(&output, 2);
    assert!(
        stderr.contains(&format!(
            "error: cannot use {} as a CA certificate file",
            bad.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("hint: --ca-cert"), "{stderr}");
    assert!(setup.mirror.all_seen().is_empty());
}

/// The settings file is read once per run, so its keys all come from one version of the file
/// (an admin editing it mid-run cannot make mm-install trust one version's keyring and
/// another's CA). Every open of `mm-install.toml` is counted with inotify; the one read must
/// also be the one used: the release verifies only with the keyring the file names.
#[test]
fn the_settings_file_is_read_once_per_run() {
    use rustix::fs::inotify;

    let setup = Setup::new();
    let tarball = setup.key_publish();
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc/mm-install");
    std::fs::create_dir_all(&etc).unwrap();
    setup.key.write_public(&etc, "mirror-key.asc");
    let settings = write_file(
        &etc,
        "mm-install.toml",
        b"keyring = [\"/etc/mm-install/mirror-key.asc\"]\n",
    );
    let watch =
        inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC).unwrap();
    // Closes are watched too: the kernel merges identical events in a row, and an open is
    // followed by its close before the next open.
    let opens_and_closes = inotify::WatchFlags::OPEN | inotify::WatchFlags::CLOSE;
    inotify::add_watch(&watch, &settings, opens_and_closes).unwrap();
    let mut command = mm_install();
    command
        .args(["download", "--no-progress", "--arch", "amd64"])
        .args(["--version", VERSION, "--root"])
        .arg(root.path())
        .arg("--release-url")
        .arg(&setup.mirror.base_url)
        .arg("--dir")
        .arg(setup.out())
        .env("MM_INSTALL_RETRY_BASE_MS", "10");
    let output = run(&mut command);
    assert_downloaded(&setup, &output, &tarball);
    let mut buffer = [std::mem::MaybeUninit::uninit(); 4096];
    let mut events = inotify::Reader::new(&watch, &mut buffer);
    let mut opens = 0;
    loop {
        match events.next() {
            Ok(event) if event.events().contains(inotify::ReadFlags::OPEN) => opens += 1,
            Ok(_) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => break,
            Err(err) => panic!("reading the inotify events: {err}"),
        }
    }
    assert_eq!(opens, 1, "opens of mm-install.toml");
}

/// `download --version VERSION` from `setup`'s mirror, trusting `ca` when it is given.
fn download_trusting(setup: &Setup, ca: Option<&TestCa>) -> Ran {
    let pem = ca.map(|ca| ca.write_pem(setup.dir.path(), "private-ca.pem"));
    let mut args = vec!["--version", VERSION];
    if let Some(pem) = &pem {
        args.extend(["--ca-cert", pem.to_str().unwrap()]);
    }
    setup.download(&args)
}

#[test]
fn a_redirect_from_https_to_plain_http_is_refused_naming_both_urls() {
    let ca = TestCa::generate();
    let setup = Setup::with_mirror(Mirror::start_tls(&ca));
    let tarball = setup.key_publish();
    let plain = Mirror::start();
    plain.file(&setup.tarball_path(), tarball);
    let from = format!("{}{}", setup.mirror.base_url, setup.tarball_path());
    let to = format!("{}{}", plain.base_url, setup.tarball_path());
    setup
        .mirror
        .route(&setup.tarball_path(), Route::Redirect(to.clone()));
    let (_, stderr) = assert_exit(&download_trusting(&setup, Some(&ca)), 1);
    assert!(
        stderr.contains(&format!(
            "error: {from} redirected to the plain HTTP URL {to}"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("retrying"), "{stderr}");
    assert!(plain.all_seen().is_empty(), "{:?}", plain.all_seen());
    assert!(!setup.out().join(NAME).exists());
}

#[test]
fn redirects_within_https_and_within_http_are_followed() {
    let ca = TestCa::generate();
    for (mirror, ca) in [(Mirror::start_tls(&ca), Some(&ca)), (Mirror::start(), None)] {
        let setup = Setup::with_mirror(mirror);
        let tarball = setup.key_publish();
        let moved = format!("/moved/{NAME}");
        setup.mirror.file(&moved, tarball.clone());
        let location = format!("{}{moved}", setup.mirror.base_url);
        setup
            .mirror
            .route(&setup.tarball_path(), Route::Redirect(location));
        assert_downloaded(&setup, &download_trusting(&setup, ca), &tarball);
        assert_eq!(setup.mirror.seen(&moved).len(), 1);
    }
}

#[test]
fn a_tarball_sent_without_content_length_is_accepted_up_to_the_cap() {
    let setup = Setup::new();
    let tarball = setup.key_publish();
    setup
        .mirror
        .route(&setup.tarball_path(), Route::Unsized(tarball.clone()));
    assert_downloaded(&setup, &setup.download(&["--version", VERSION]), &tarball);
}
