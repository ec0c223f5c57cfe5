//! `mm-install download`: fetch one release and verify its signature and checksum, without
//! installing it (air-gapped mirrors), optionally extracting it.

use super::CommandResult;
use super::args::{DownloadArgs, GlobalArgs};
use super::output::Printer;
use crate::context::Context;
use crate::fetch::{self, DownloadRequest};
use crate::host::Arch;
use crate::release::Artifact;
use crate::report::Reporter;
use crate::settings::Settings;

/// Run the download command.
pub fn run(global: &GlobalArgs, args: DownloadArgs, printer: &Printer) -> CommandResult {
    let arch = match args.arch {
        Some(arch) => arch,
        None => Arch::host()?,
    };
    let ctx = Context::new(&global.root);
    let settings = Settings::load(&ctx)?;
    let client = fetch::http_client(&ctx, &settings, global.ca_cert.as_deref())?;
    let keyring = fetch::keyring(&ctx, &settings, &global.keyring)?;
    let version = fetch::resolve_version(
        &client,
        &global.releases_api,
        args.release.version.as_ref(),
        printer,
    )?;
    let artifact = Artifact {
        version,
        edition: args.edition,
        arch,
    };
    fs_err::create_dir_all(&args.dir)?;
    let request = DownloadRequest::for_artifact(
        &artifact,
        &global.release_url,
        args.signature,
        args.sha256,
        &args.dir,
    );
    let downloaded = fetch::download_release(&client, &keyring, &request, printer)?;
    for warning in &downloaded.verified.warnings {
        printer.warn(warning);
    }
    printer.step(&format!(
        "verified {} ({} bytes): signed by {}, sha256 {}",
        downloaded.path.display(),
        downloaded.bytes,
        downloaded.verified.signer_fingerprint,
        downloaded.verified.sha256
    ));
    match &args.extract {
        Some(staging) => {
            let tree = crate::archive::extract_release(&downloaded.path, staging)?;
            printer.step(&format!("extracted into {}", tree.display()));
            printer.data(&tree.display().to_string());
        }
        None => printer.data(&downloaded.path.display().to_string()),
    }
    Ok(())
}
