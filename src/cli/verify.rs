//! `mm-install verify`: pick the URL (the flag, the site URL recorded at install, or
//! http://localhost), run the four install tests, print the checklist or the JSON report on
//! stdout, and fail with the tests that did not pass.

use super::args::{GlobalArgs, VerifyArgs};
use super::output::Printer;
use super::{CommandResult, Failure};
use crate::context::Context;
use crate::ops::verify::{self, VerifyOptions};
use crate::settings::Settings;

/// Run the verify command.
pub fn run(global: &GlobalArgs, args: VerifyArgs, printer: &Printer) -> CommandResult {
    let ctx = Context::new(&global.root);
    let url = match args.url {
        Some(url) => url,
        None => verify::default_url(&ctx).map_err(|err| {
            Failure::from(err)
                .context("cannot read the site URL recorded at install; pass --url".into())
        })?,
    };
    // `--ca-cert` makes the settings file's `ca_cert`, the only key verify uses, irrelevant:
    // the file is read only without it.
    let ca_cert = match &global.ca_cert {
        Some(path) => Some(path.clone()),
        None => crate::fetch::ca_cert(&ctx, &Settings::load(&ctx)?, None),
    };
    let options = VerifyOptions {
        insecure: args.insecure,
        ca_cert,
        keep: args.keep,
        admin_token: args.admin_token.filter(|t| !t.trim().is_empty()),
        ..VerifyOptions::new(url)
    };
    let report = verify::run(&options, printer)?;
    printer.verify_report(&report, args.json)?;
    Ok(report.result()?)
}
