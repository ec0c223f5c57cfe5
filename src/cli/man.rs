//! `mm-install man`: the man page (roff), generated from the clap definitions.

use clap::CommandFactory;

use super::CommandResult;
use super::args::Cli;

/// Print the man page on stdout.
pub fn run() -> CommandResult {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    std::io::Write::write_all(&mut std::io::stdout(), &page)?;
    Ok(())
}
