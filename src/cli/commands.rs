//! Dispatch: each command's glue lives in its own file; this only picks it.

use super::CommandResult;
use super::args::{Cli, Command, InstallArgs};
use super::output::Printer;
use super::{
    completions, detect_os, docs, download, install, man, render, rollback, status, upgrade, verify,
};

/// Run the parsed command line.
pub fn run(cli: Cli, printer: &Printer) -> CommandResult {
    let global = &cli.global;
    match cli.command {
        None => install::run(global, InstallArgs::default(), printer),
        Some(Command::Install(args)) => install::run(global, args, printer),
        Some(Command::DetectOs(args)) => detect_os::run(global, args, printer),
        Some(Command::Download(args)) => download::run(global, args, printer),
        Some(Command::Render(args)) => render::run(global, args.template, printer),
        Some(Command::Docs(args)) => docs::run(global, args, printer),
        Some(Command::Upgrade(args)) => upgrade::run(global, args, printer),
        Some(Command::Rollback(args)) => rollback::run(global, args, printer),
        Some(Command::Status(args)) => status::run(global, args, printer),
        Some(Command::Verify(args)) => verify::run(global, args, printer),
        Some(Command::Man) => man::run(),
        Some(Command::Completions { shell }) => completions::run(shell),
    }
}
