//! Helpers shared by the suite's modules: running the CLI with a clean environment, and the one
//! exit-code assertion, whose failure message names the command and prints its output.

use std::ops::Deref;
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

/// A command that ran: its command line, for failure messages, and its output. It dereferences
/// to the [`Output`], so `ran.status` and `texts(&ran)` work as on the output itself.
#[derive(Debug)]
pub struct Ran {
    pub command: String,
    pub output: Output,
}

impl Deref for Ran {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.output
    }
}

/// Run `command`, returning what it did; panics only if the process could not be started.
pub fn run(command: &mut Command) -> Ran {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
    Ran {
        command: format!("{command:?}"),
        output,
    }
}

/// Assert that `ran` exited with `code`; its stdout and stderr as text. The failure message
/// names the command and prints both streams.
#[track_caller]
pub fn assert_exit(ran: &Ran, code: i32) -> (String, String) {
    let (stdout, stderr) = texts(ran);
    assert_eq!(
        ran.status.code(),
        Some(code),
        "{} exited with {}, not {code}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        ran.command,
        ran.status
    );
    (stdout, stderr)
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
