//! `mm-install docs`: print the Deployment Solutions Program's statements for a tier as
//! Markdown, the RHEL-equivalence statement filled in for this system (or for `--os-release
//! FILE`), or check a README for them with `--check FILE`.

use std::path::Path;

use super::CommandResult;
use super::args::{DocsArgs, GlobalArgs};
use super::output::Printer;
use crate::context::Context;
use crate::host::{self, Arch, Support};
use crate::ops::docs::{self, DocsError, Tier};
use crate::report::Reporter;

/// Run the docs command.
pub fn run(global: &GlobalArgs, args: DocsArgs, printer: &Printer) -> CommandResult {
    match &args.check {
        Some(path) => check(path, args.tier, printer),
        None => print(global, &args, printer),
    }
}

/// Print the tier's statements; the RHEL-equivalence statement names this system when it is a
/// RHEL equivalent, and lists every equivalent otherwise (the README variant).
fn print(global: &GlobalArgs, args: &DocsArgs, printer: &Printer) -> CommandResult {
    let ctx = Context::new(&global.root);
    // The architecture plays no part in the statements: do not fail on a machine without a
    // Mattermost build.
    let arch = Arch::host().unwrap_or(Arch::Amd64);
    let equivalent = match host::detect(&ctx, args.os_release.as_deref(), Some(arch)) {
        Ok(platform) if platform.support == Support::Equivalent => {
            printer.step(&format!(
                "{} is a RHEL equivalent: the statement names it",
                platform.name
            ));
            Some(platform.name)
        }
        Ok(_) => None,
        // Without --os-release the statements are still useful (e.g. for a README written on
        // another machine): list every equivalent.
        Err(err) if args.os_release.is_none() => {
            printer.warn(&format!(
                "{err}; the RHEL-equivalence statement lists every equivalent"
            ));
            None
        }
        Err(err) => return Err(err.into()),
    };
    printer.data(docs::render_markdown(args.tier, equivalent.as_deref()).trim_end());
    Ok(())
}

/// Print a ✓ or ✗ line per requirement of the tier; fail naming each one not met.
fn check(path: &Path, tier: Tier, printer: &Printer) -> CommandResult {
    let findings = docs::check_file(path, tier)?;
    for statement in docs::statements(tier, None) {
        match findings
            .iter()
            .find(|finding| finding.requirement == statement.requirement)
        {
            Some(finding) => printer.data(&format!("✗ {finding}")),
            None => printer.data(&format!("✓ {}", statement.requirement)),
        }
    }
    if findings.is_empty() {
        printer.step(&format!(
            "{} carries every statement of the {tier} tier",
            path.display()
        ));
        return Ok(());
    }
    Err(DocsError::NotCompliant {
        path: path.to_path_buf(),
        tier,
        findings,
    }
    .into())
}
