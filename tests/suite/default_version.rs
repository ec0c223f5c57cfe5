//! The one-line version bump: the Mattermost version installed when none is given is
//! `release::DEFAULT_VERSION` and appears nowhere else in the code, packaging or templates, so a
//! security release is that one line (docs/releasing.md).

use std::path::Path;

use mm_install::release::DEFAULT_VERSION;

use crate::common::{assert_exit, mm_install, run, write_file};
use crate::os_release_fixtures::DEBIAN_12;

/// Every file below `dir` with one of `extensions`.
fn files(dir: &Path, extensions: &[&str], out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, extensions, out);
        } else if path
            .extension()
            .is_some_and(|e| extensions.iter().any(|x| e == *x))
        {
            out.push(path);
        }
    }
}

#[test]
fn the_default_version_is_named_in_exactly_one_place() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut candidates = Vec::new();
    files(&repo.join("src"), &["rs"], &mut candidates);
    files(&repo.join("packaging"), &["sh", "toml"], &mut candidates);
    files(
        &repo.join("templates"),
        &["service", "timer", "conf"],
        &mut candidates,
    );
    candidates.push(repo.join("Cargo.toml"));
    let mut places = Vec::new();
    for path in candidates {
        let text = std::fs::read_to_string(&path).unwrap();
        // Unit tests (at the end of each file) may use any version as an example.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (number, line) in code.lines().enumerate() {
            if line.contains(&format!("\"{DEFAULT_VERSION}\"")) {
                places.push(format!(
                    "{}:{}",
                    path.strip_prefix(repo).unwrap().display(),
                    number + 1
                ));
            }
        }
    }
    assert_eq!(
        places.len(),
        1,
        "DEFAULT_VERSION {DEFAULT_VERSION} is named in {places:?}"
    );
    assert!(places[0].starts_with("src/release/mod.rs:"), "{places:?}");
}

#[test]
fn install_without_a_version_plans_the_default_version() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    write_file(&root.join("etc"), "os-release", DEBIAN_12.as_bytes());
    std::fs::create_dir_all(root.join("usr/lib/systemd")).unwrap();
    write_file(&root.join("usr/lib/systemd"), "systemd", b"");
    std::fs::create_dir_all(root.join("opt")).unwrap();
    let output = run(mm_install()
        .args([
            "install",
            "--dry-run",
            "--no-database",
            "--arch",
            "amd64",
            "--site-url",
            "https://chat.example.test",
        ])
        .arg("--root")
        .arg(root));
    let (stdout, _) = assert_exit(&output, 0);
    assert!(
        stdout.contains(&format!(
            "install Mattermost {DEFAULT_VERSION} (enterprise, amd64)"
        )),
        "{stdout}"
    );
}
