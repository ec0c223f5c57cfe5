//! `mm-install status`: print [`crate::ops::status`] as text or JSON.

use super::CommandResult;
use super::args::{GlobalArgs, StatusArgs};
use super::output::Printer;
use crate::context::Context;
use crate::fetch;
use crate::ops::status;
use crate::settings::Settings;

/// Run the status command.
pub fn run(global: &GlobalArgs, args: StatusArgs, printer: &Printer) -> CommandResult {
    let ctx = Context::new(&global.root);
    let settings = Settings::load(&ctx)?;
    let client = fetch::http_client(&ctx, &settings, global.ca_cert.as_deref())?;
    let status = status::gather(&ctx, &settings, &client, &global.releases_api)?;
    if args.json {
        printer.data(&serde_json::to_string_pretty(&status)?);
    } else {
        printer.data(&status.to_string());
    }
    Ok(())
}
