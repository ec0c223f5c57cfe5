//! Helpers shared by the suite's modules: running the CLI with a clean environment.

use std::path::Path;
use std::process::{Command, Output};

/// The `mm-install` binary built by cargo for this test run, with no proxy variables, colour
/// settings or mm-install variables inherited from the caller, so tests never leave loopback.
pub fn mm_install() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mm-install"));
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
        "MM_INSTALL_DATABASE_URL",
        "MM_INSTALL_ADMIN_TOKEN",
    ] {
        command.env_remove(var);
    }
    command.env("NO_COLOR", "1");
    command
}

/// Run `command`, returning its output; panics only if the process could not be started.
pub fn run(command: &mut Command) -> Output {
    command.output().expect("failed to start mm-install")
}

/// stdout and stderr of `output` as text, for assertions and failure messages.
pub fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Write `contents` to `dir/name` and return the path.
pub fn write_file(dir: &Path, name: &str, contents: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write fixture");
    path
}
