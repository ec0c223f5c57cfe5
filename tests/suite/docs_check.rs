//! `mm-install docs`: the statements of the Deployment Solutions Program printed for a tier
//! (the RHEL-equivalence statement filled in from an os-release fixture), and `docs --check`
//! on READMEs with every statement, one altered, one removed, lines wrapped differently, and a
//! file that does not exist.

use std::path::{Path, PathBuf};

use crate::common::{Ran, assert_exit, mm_install, run, texts, write_file};
use crate::os_release_fixtures::{DEBIAN_12, ROCKY_9};

/// The equivalence statement for `os`, as the program words it.
fn equivalence(os: &str) -> String {
    format!(
        "This deployment uses {os} as an equivalent to the officially supported version of Red Hat Enterprise Linux."
    )
}

/// `text` with every whitespace run made one space, to look for wrapped sentences.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `mm-install docs --tier TIER --os-release FILE`, asserting it exits 0; its stdout.
fn docs(tier: &str, os_release: &Path) -> String {
    let output = run(mm_install()
        .args(["docs", "--tier", tier, "--os-release"])
        .arg(os_release));
    assert_exit(&output, 0).0
}

/// `mm-install docs --check FILE --tier TIER`.
fn check(file: &Path, tier: &str) -> Ran {
    run(mm_install()
        .args(["docs", "--check"])
        .arg(file)
        .args(["--tier", tier]))
}

/// The certified statements for a Debian host (every equivalent listed), written as
/// `dir/README.md` between other sections, and that file's text.
fn certified_readme(dir: &Path) -> (PathBuf, String) {
    let debian = write_file(dir, "debian-os-release", DEBIAN_12.as_bytes());
    let text = format!(
        "# mm-install\n\nAn introduction.\n\n{}\n\n## Development\n\nMore text.\n",
        docs("certified", &debian)
    );
    (write_file(dir, "README.md", text.as_bytes()), text)
}

/// Each paragraph (not headings or lists) wrapped again at `width` columns.
fn rewrap(text: &str, width: usize) -> String {
    text.split("\n\n")
        .map(|block| {
            let first = block.trim_start();
            let list = first.starts_with("- ") || first.starts_with("1. ");
            if first.starts_with('#') || list {
                return block.to_owned();
            }
            let mut lines: Vec<String> = vec![String::new()];
            for word in block.split_whitespace() {
                let line = lines.last_mut().expect("one line");
                if !line.is_empty() && line.len() + 1 + word.len() > width {
                    lines.push(word.to_owned());
                } else {
                    if !line.is_empty() {
                        line.push(' ');
                    }
                    line.push_str(word);
                }
            }
            lines.join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[test]
fn printed_statements_pass_their_own_check() {
    let dir = tempfile::tempdir().unwrap();
    let (readme, text) = certified_readme(dir.path());
    let flat_text = flat(&text);
    for os in [
        "CentOS",
        "Amazon Linux",
        "Oracle Linux",
        "Scientific Linux",
        "Rocky Linux",
        "AlmaLinux",
    ] {
        assert!(flat_text.contains(&equivalence(os)), "{os}:\n{text}");
    }
    for sentence in [
        "Please see https://docs.mattermost.com for official documentation.",
        "Following automated deployment, the following steps are required to make your system production-ready:",
        "within 10 days.",
        "is `mm-install for Mattermost by the mm-install developers`.",
        "mm-install upgrade --latest",
    ] {
        assert!(flat_text.contains(sentence), "{sentence}:\n{text}");
    }

    let (stdout, _) = assert_exit(&check(&readme, "certified"), 0);
    assert_eq!(stdout.lines().count(), 8, "{stdout}");
    assert!(
        stdout.lines().all(|line| line.starts_with("✓ ")),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ Security updates: commitment"),
        "{stdout}"
    );
    // The certified README meets the lower tiers too.
    for tier in ["community", "registered"] {
        assert_exit(&check(&readme, tier), 0);
    }
}

#[test]
fn an_altered_statement_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (readme, text) = certified_readme(dir.path());
    // The rendered text may wrap between "10" and "days": change the number alone.
    let flat_text = flat(&text);
    assert!(flat_text.contains("within 10 days."));
    let at = text
        .match_indices("10")
        .map(|(at, _)| at)
        .find(|at| text[at + 2..].trim_start().starts_with("days."))
        .unwrap();
    let altered = format!("{}14{}", &text[..at], &text[at + 2..]);
    assert!(flat(&altered).contains("within 14 days."));
    std::fs::write(&readme, altered).unwrap();

    let (stdout, stderr) = assert_exit(&check(&readme, "certified"), 1);
    assert!(
        stdout.contains("✗ Security updates: commitment: altered (`10` changed to `14`)"),
        "{stdout}"
    );
    assert_eq!(stdout.matches('✗').count(), 1, "{stdout}");
    assert!(
        stderr.contains("error: ") && stderr.contains("Security updates: commitment (altered)"),
        "{stderr}"
    );
    assert!(stderr.contains(&readme.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("hint: ") && stderr.contains("mm-install docs --tier certified"),
        "{stderr}"
    );
}

#[test]
fn a_removed_statement_fails_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (readme, text) = certified_readme(dir.path());
    let without: Vec<&str> = text
        .split("\n\n")
        .filter(|block| !block.contains("The name for this deployment solution"))
        .collect();
    assert_eq!(without.len() + 1, text.split("\n\n").count());
    std::fs::write(&readme, without.join("\n\n")).unwrap();

    let (stdout, stderr) = assert_exit(&check(&readme, "certified"), 1);
    assert!(stdout.contains("✗ Branding: name: missing"), "{stdout}");
    assert_eq!(stdout.matches('✗').count(), 1, "{stdout}");
    assert!(stderr.contains("Branding: name (missing)"), "{stderr}");
    // The community tier does not ask for branding.
    assert_exit(&check(&readme, "community"), 0);
}

#[test]
fn line_wrapping_does_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let (readme, text) = certified_readme(dir.path());
    for width in [40, 72, 1000] {
        let wrapped = rewrap(&text, width);
        assert_ne!(wrapped, text);
        std::fs::write(&readme, &wrapped).unwrap();
        let output = check(&readme, "certified");
        let (stdout, stderr) = texts(&output);
        assert_eq!(
            output.status.code(),
            Some(0),
            "width {width}\nstdout:\n{stdout}\nstderr:\n{stderr}\n{wrapped}"
        );
    }
}

#[test]
fn the_statement_names_the_rhel_equivalent_of_the_os_release_file() {
    let dir = tempfile::tempdir().unwrap();
    let rocky = write_file(dir.path(), "rocky-os-release", ROCKY_9.as_bytes());
    let stdout = docs("registered", &rocky);
    let flat_text = flat(&stdout);
    assert!(flat_text.contains(&equivalence("Rocky Linux")), "{stdout}");
    assert!(!flat_text.contains(&equivalence("CentOS")), "{stdout}");
    assert!(flat_text.contains("### Branding"), "{stdout}");
    assert!(!flat_text.contains("### Upgrade"), "{stdout}");
    // The output passes the check of its tier.
    let readme = write_file(dir.path(), "README.md", stdout.as_bytes());
    assert_exit(&check(&readme, "registered"), 0);
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("NO-SUCH-README.md");
    let (stdout, stderr) = assert_exit(&check(&missing, "community"), 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(&format!("error: cannot read {}", missing.display())),
        "{stderr}"
    );

    let unreadable_os = run(mm_install()
        .args(["docs", "--tier", "community", "--os-release"])
        .arg(dir.path().join("no-os-release")));
    let (_, stderr) = assert_exit(&unreadable_os, 1);
    assert!(stderr.contains("no-os-release"), "{stderr}");
}

#[test]
fn an_unknown_tier_is_a_usage_error() {
    let output = run(mm_install().args(["docs", "--tier", "gold"]));
    let (_, stderr) = assert_exit(&output, 2);
    assert!(stderr.contains("gold"), "{stderr}");
}

#[test]
fn our_own_readme_meets_the_certified_tier() {
    let readme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let output = run(mm_install()
        .args(["docs", "--tier", "certified", "--check"])
        .arg(&readme));
    let (stdout, stderr) = texts(&output);
    assert!(
        output.status.success(),
        "README.md misses or alters a statement:\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains('✗'), "{stdout}");
}
