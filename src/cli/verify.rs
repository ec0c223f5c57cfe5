//! `mm-install verify` (and `install --verify`): pick the URL (the flag, the site URL recorded
//! at install, or http://localhost), run the four install tests, print the checklist or the JSON
//! report on stdout, and fail with the tests that did not pass.

use super::args::{GlobalArgs, VerifyArgs};
use super::output::Printer;
use super::{CommandResult, Failure};
use crate::context::Context;
use crate::ops::verify::{self, VerifyOptions, VerifyReport};
use crate::report::Reporter;

/// Run the verify command.
pub fn run(global: &GlobalArgs, args: VerifyArgs, printer: &Printer) -> CommandResult {
    let url = match args.url {
        Some(url) => url,
        None => verify::default_url(&Context::new(&global.root)).map_err(|err| {
            Failure::from(err)
                .context("cannot read the site URL recorded at install; pass --url".into())
        })?,
    };
    let options = VerifyOptions {
        insecure: args.insecure,
        keep: args.keep,
        admin_token: args.admin_token.filter(|t| !t.trim().is_empty()),
        ..VerifyOptions::new(url)
    };
    let report = verify::run(&options, printer)?;
    print(&report, args.json, printer)?;
    Ok(report.result()?)
}

/// The end of `install --verify`: the tests against the new server's site URL, cleaned up.
pub fn after_install(url: &str, printer: &Printer) -> CommandResult {
    printer.step(&format!("running the install tests against {url}"));
    let report = verify::run(&VerifyOptions::new(url), printer)?;
    print(&report, false, printer)?;
    Ok(report.result()?)
}

fn print(report: &VerifyReport, json: bool, printer: &Printer) -> CommandResult {
    if json {
        printer.data(&serde_json::to_string_pretty(report)?);
    } else {
        printer.data(&report.checklist());
    }
    Ok(())
}
