//! `mm-install man` and `mm-install completions SHELL`, for users who install with cargo.

use crate::common::{assert_exit, mm_install, run, texts};

#[test]
fn the_man_page_and_completions_cover_every_command() {
    let output = run(mm_install().arg("man"));
    let (page, _) = assert_exit(&output, 0);
    assert!(page.contains(".TH mm-install 1"), "{page}");
    for command in ["install", "download", "detect\\-os", "render"] {
        assert!(page.contains(command), "the man page lacks {command}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let output = run(mm_install().args(["completions", shell]));
        let (script, _) = assert_exit(&output, 0);
        assert!(
            script.contains("detect-os") && script.contains("site-url"),
            "{shell}: {script}"
        );
    }
    let output = run(mm_install().args(["completions", "tcsh"]));
    assert_exit(&output, 2);
}

#[test]
fn help_and_completions_list_the_values_of_each_keyword_option() {
    for (args, values) in [
        (
            &["install", "--help"][..],
            &["enterprise", "team", "amd64", "arm64"][..],
        ),
        (&["upgrade", "--help"], &["patch", "minor", "latest"]),
        (
            &["docs", "--help"],
            &["community", "registered", "certified"],
        ),
        (&["render", "timer", "--help"], &["service", "timer"]),
    ] {
        let output = run(mm_install().args(args));
        let (help, _) = assert_exit(&output, 0);
        assert!(help.contains("Possible values"), "{args:?}: {help}");
        for value in values {
            assert!(
                help.contains(&format!("- {value}:")),
                "{args:?} lacks {value}: {help}"
            );
        }
    }
    let output = run(mm_install().args(["completions", "bash"]));
    let (script, _) = texts(&output);
    for values in [
        "enterprise team",
        "patch minor latest",
        "community registered certified",
    ] {
        assert!(script.contains(values), "bash completion lacks `{values}`");
    }
    // An invalid value is a usage error naming it and the accepted ones.
    let output = run(mm_install().args(["upgrade", "--policy", "nightly"]));
    let (_, stderr) = assert_exit(&output, 2);
    assert!(
        stderr.contains("nightly") && stderr.contains("patch, minor, latest"),
        "{stderr}"
    );
}
