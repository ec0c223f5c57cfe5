//! `mm-install man` and `mm-install completions SHELL`, for users who install with cargo.

use crate::common::{mm_install, run, texts};

#[test]
fn the_man_page_and_completions_cover_every_command() {
    let output = run(mm_install().arg("man"));
    let (page, stderr) = texts(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(page.contains(".TH mm-install 1"), "{page}");
    for command in ["install", "download", "detect\\-os", "render"] {
        assert!(page.contains(command), "the man page lacks {command}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let output = run(mm_install().args(["completions", shell]));
        let (script, stderr) = texts(&output);
        assert!(output.status.success(), "{shell}: {stderr}");
        assert!(
            script.contains("detect-os") && script.contains("site-url"),
            "{shell}: {script}"
        );
    }
    let output = run(mm_install().args(["completions", "tcsh"]));
    assert_eq!(output.status.code(), Some(2));
}
