//! `mm-install detect-os`: the operating system, its support level and the facts the
//! installer uses, as text or JSON.

use super::CommandResult;
use super::args::{DetectOsArgs, GlobalArgs};
use super::output::Printer;
use crate::context::Context;
use crate::host;

/// Run the detect-os command.
pub fn run(global: &GlobalArgs, args: DetectOsArgs, printer: &Printer) -> CommandResult {
    let ctx = Context::new(&global.root);
    let platform = host::detect(&ctx, args.os_release.as_deref(), args.arch)?;
    if args.json {
        printer.data(&serde_json::to_string_pretty(&platform)?);
    } else {
        printer.data(platform.to_string().trim_end());
    }
    Ok(())
}
