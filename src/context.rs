//! The outside world as one value: the filesystem root every path is resolved under, and the
//! runner that executes system commands (`systemctl`, `useradd`, `psql`, `nginx -t`, package
//! managers). Tests hand the core a temporary root and a recording runner instead of `/` and
//! the real one, so nothing touches the host.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

/// One command to run: program, arguments, optional standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine {
    pub program: String,
    pub args: Vec<String>,
    /// Bytes fed to the command's stdin (SQL with a password, for example). Never logged.
    pub stdin: Option<Vec<u8>>,
    /// Extra environment variables (`PGPASSWORD`, `DEBIAN_FRONTEND`). Values are never logged.
    pub env: Vec<(String, String)>,
    /// Start from an empty environment (plus `PATH` and `LC_ALL`) instead of mm-install's own:
    /// for commands whose behaviour the caller's variables could redirect (`PGSSLKEY`,
    /// `PGSERVICE`, …).
    pub clean_environment: bool,
}

impl CommandLine {
    pub fn new(program: &str, args: &[&str]) -> Self {
        CommandLine {
            program: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin: None,
            env: Vec::new(),
            clean_environment: false,
        }
    }

    /// Run the command with none of mm-install's environment but `PATH`, `LC_ALL` and what
    /// [`with_env`](Self::with_env) sets.
    pub fn with_clean_environment(mut self) -> Self {
        self.clean_environment = true;
        self
    }

    /// Set an environment variable for the command.
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Feed `input` to the command's standard input.
    pub fn with_stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }
}

impl fmt::Display for CommandLine {
    /// The command as a shell-like line, for logs and error messages (stdin is not shown).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.program)?;
        for arg in &self.args {
            if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '\'') {
                write!(f, " '{}'", arg.replace('\'', "'\\''"))?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        Ok(())
    }
}

/// What a finished command produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit status; `None` when the command was killed by a signal.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// Runs system commands. The real one is [`HostRunner`]; tests record and script answers.
pub trait CommandRunner: Send + Sync {
    /// Run `command` to completion. `Err` only when it could not be started at all.
    fn run(&self, command: &CommandLine) -> std::io::Result<CommandOutput>;
}

/// Runs commands on the host with `std::process::Command`, with a minimal, predictable
/// environment (`PATH`, `LANG=C`) so output parsing does not depend on the caller's locale.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostRunner;

impl CommandRunner for HostRunner {
    fn run(&self, command: &CommandLine) -> std::io::Result<CommandOutput> {
        let mut process = std::process::Command::new(&command.program);
        if command.clean_environment {
            process.env_clear();
        }
        let mut child = process
            .args(&command.args)
            .env("LC_ALL", "C")
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .envs(command.env.iter().map(|(name, value)| (name, value)))
            .stdin(if command.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let (Some(input), Some(mut stdin)) = (&command.stdin, child.stdin.take()) {
            stdin.write_all(input)?;
        }
        let output = child.wait_with_output()?;
        Ok(CommandOutput {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// Where the core reads and writes the system, and how it runs commands.
#[derive(Clone)]
pub struct Context {
    root: PathBuf,
    runner: Arc<dyn CommandRunner>,
    /// Acting on a running system (start services, install packages) rather than on an image.
    live: bool,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context acting on the tree below `root` (`/` for the live system), running commands
    /// on the host.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let live = root == Path::new("/");
        Context {
            root,
            runner: Arc::new(HostRunner),
            live,
        }
    }

    /// A live system whose files are below `root` and whose commands go to `runner`: lets unit
    /// tests drive the live-system logic without touching the host.
    #[cfg(test)]
    pub fn live_for_test(root: impl Into<PathBuf>, runner: Arc<dyn CommandRunner>) -> Self {
        Context {
            root: root.into(),
            runner,
            live: true,
        }
    }

    /// The same root, with commands run by `runner`.
    pub fn with_runner(mut self, runner: Arc<dyn CommandRunner>) -> Self {
        self.runner = runner;
        self
    }

    /// The root prefix.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `true` when acting on the live system rather than on an image below another directory.
    pub fn is_live_system(&self) -> bool {
        self.live
    }

    /// Map an absolute system path such as `/etc/os-release` into the root prefix.
    pub fn path(&self, system_path: impl AsRef<Path>) -> PathBuf {
        let system_path = system_path.as_ref();
        let relative = system_path.strip_prefix("/").unwrap_or(system_path);
        self.root.join(relative)
    }

    /// Run a system command through the context's runner.
    pub fn run(&self, command: &CommandLine) -> std::io::Result<CommandOutput> {
        self.runner.run(command)
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::new("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_resolved_under_the_root() {
        let ctx = Context::new("/tmp/image");
        assert_eq!(
            ctx.path("/etc/os-release"),
            Path::new("/tmp/image/etc/os-release")
        );
        assert_eq!(
            ctx.path("etc/os-release"),
            Path::new("/tmp/image/etc/os-release")
        );
        assert!(!ctx.is_live_system());
        assert!(Context::default().is_live_system());
    }

    #[test]
    fn the_host_runner_feeds_stdin_and_captures_output() {
        let ctx = Context::default();
        let output = ctx
            .run(&CommandLine::new("sh", &["-c", "cat; echo err >&2; exit 3"]).with_stdin("hi"))
            .unwrap();
        assert_eq!(
            output,
            CommandOutput {
                status: Some(3),
                stdout: "hi".into(),
                stderr: "err\n".into()
            }
        );
        // The caller names the command (`SystemError::CommandNotRun`), once.
        let err = crate::system::run_checked(&ctx, &CommandLine::new("/nonexistent/tool", &[]))
            .unwrap_err();
        assert_eq!(
            crate::exit::Chain(&err).to_string(),
            "cannot run `/nonexistent/tool`: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn command_lines_print_like_shell() {
        let line = CommandLine::new("psql", &["-c", "SELECT 1", "it's"]);
        assert_eq!(line.to_string(), "psql -c 'SELECT 1' 'it'\\''s'");
    }
}
