//! `mm-install completions SHELL`: a shell completion script, generated from the clap
//! definitions.

use clap::CommandFactory;

use super::CommandResult;
use super::args::Cli;

/// Print the completion script for `shell` on stdout.
pub fn run(shell: clap_complete::Shell) -> CommandResult {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "mm-install",
        &mut std::io::stdout(),
    );
    Ok(())
}
