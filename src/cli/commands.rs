//! Each command's glue: turn parsed arguments into core calls and print the results.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::CommandFactory;

use super::CommandResult;
use super::args::{
    Cli, Command, DetectOsArgs, DownloadArgs, GlobalArgs, InstallArgs, ReleaseSelector,
    RenderTemplate, TimerUnit,
};
use super::output::Printer;
use crate::context::Context;
use crate::fetch::{
    DownloadRequest, HttpClient, Keyring, RetryPolicy, download_release, newest_release,
};
use crate::host::{self, Arch};
use crate::ops::install;
use crate::release::{Artifact, Version};
use crate::render::{self, NginxOptions, Templates, TlsFiles, UnitOptions};
use crate::report::Reporter;
use crate::settings::Settings;

/// Run the parsed command line.
pub fn run(cli: Cli, printer: &Printer) -> CommandResult {
    match cli.command {
        None => super::install::run(&cli.global, InstallArgs::default(), printer),
        Some(Command::Install(args)) => super::install::run(&cli.global, args, printer),
        Some(Command::DetectOs(args)) => detect_os(&cli.global, args, printer),
        Some(Command::Download(args)) => download(&cli.global, args, printer),
        Some(Command::Render(args)) => render_template(&cli.global, args.template, printer),
        Some(Command::Docs(args)) => super::docs::run(&cli.global, args, printer),
        Some(Command::Upgrade(args)) => super::upgrade::upgrade(&cli.global, args, printer),
        Some(Command::Rollback(args)) => super::upgrade::rollback(&cli.global, args, printer),
        Some(Command::Status(args)) => super::upgrade::status(&cli.global, args, printer),
        Some(Command::Verify(args)) => super::verify::run(&cli.global, args, printer),
        Some(Command::Man) => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            std::io::Write::write_all(&mut std::io::stdout(), &page)?;
            Ok(())
        }
        Some(Command::Completions { shell }) => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "mm-install",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

fn render_template(
    global: &GlobalArgs,
    template: RenderTemplate,
    printer: &Printer,
) -> CommandResult {
    let ctx = Context::new(&global.root);
    let templates = Templates::new(Some(ctx.path(crate::layout::TEMPLATES_OVERRIDE_DIR)));
    let text = match template {
        RenderTemplate::Systemd { local_database } => render::render_systemd_unit(
            &templates,
            &UnitOptions {
                install_dir: crate::layout::INSTALL_DIR.into(),
                user: install::SERVICE_USER.into(),
                group: install::SERVICE_USER.into(),
                local_database_unit: local_database.then(|| "postgresql.service".to_string()),
            },
        )?,
        RenderTemplate::Timer { only, binary } => {
            let (service, timer) = render::render_upgrade_timer(&templates, &binary)?;
            match only {
                Some(TimerUnit::Service) => service,
                Some(TimerUnit::Timer) => timer,
                None => format!(
                    "# {}\n{service}\n# {}\n{timer}",
                    render::UPGRADE_SERVICE,
                    render::UPGRADE_TIMER
                ),
            }
        }
        RenderTemplate::Nginx {
            site_url,
            tls_cert,
            tls_key,
            nginx_version,
            max_upload_mb,
            no_default_server,
        } => render::render_nginx_site(
            &templates,
            &NginxOptions {
                site_url,
                upstream: install::LISTEN_ADDRESS.into(),
                tls: tls_cert
                    .zip(tls_key)
                    .map(|(certificate, key)| TlsFiles { certificate, key }),
                http2: render::http2_syntax(&format!("nginx version: nginx/{nginx_version}"))?,
                client_max_body_size_mb: max_upload_mb,
                default_server: !no_default_server,
            },
        )?,
    };
    printer.data(text.trim_end());
    Ok(())
}

fn detect_os(global: &GlobalArgs, args: DetectOsArgs, printer: &Printer) -> CommandResult {
    let ctx = Context::new(&global.root);
    let platform = host::detect(&ctx, args.os_release.as_deref(), args.arch)?;
    if args.json {
        printer.data(&serde_json::to_string_pretty(&platform)?);
    } else {
        printer.data(platform.to_string().trim_end());
    }
    Ok(())
}

fn download(global: &GlobalArgs, args: DownloadArgs, printer: &Printer) -> CommandResult {
    let arch = match args.arch {
        Some(arch) => arch,
        None => Arch::host()?,
    };
    let client = http_client(global)?;
    let keyring = keyring(global)?;
    let version = resolve_version(&client, global, &args.release, printer)?;
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
    let downloaded = download_release(&client, &keyring, &request, printer)?;
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

/// The version named on the command line, or the newest one from the releases feed.
pub fn resolve_version(
    client: &HttpClient,
    global: &GlobalArgs,
    selector: &ReleaseSelector,
    reporter: &dyn Reporter,
) -> CommandResult<Version> {
    latest_or(client, global, selector.version.as_ref(), reporter)
}

/// `version` when given, otherwise the newest release from the feed.
pub fn latest_or(
    client: &HttpClient,
    global: &GlobalArgs,
    version: Option<&Version>,
    reporter: &dyn Reporter,
) -> CommandResult<Version> {
    match version {
        Some(version) => Ok(version.clone()),
        None => {
            let version = newest_release(client, &global.releases_api, reporter)?;
            reporter.step(&format!("newest release: {version}"));
            Ok(version)
        }
    }
}

/// The embedded Mattermost key plus every `keyring` file of the settings and every `--keyring`
/// file.
pub fn keyring(global: &GlobalArgs) -> CommandResult<Keyring> {
    let ctx = Context::new(&global.root);
    let mut keyring = Keyring::mattermost()?;
    let from_settings = Settings::load(&ctx)?
        .keyring
        .into_iter()
        .map(|path| ctx.path(path));
    for path in from_settings.chain(global.keyring.iter().cloned()) {
        keyring.add_file(&path)?;
    }
    Ok(keyring)
}

/// The CA file trusted besides the system store: `--ca-cert`, else `ca_cert` from the settings
/// file (a path on the system below `--root`).
pub fn ca_cert(global: &GlobalArgs) -> CommandResult<Option<PathBuf>> {
    if let Some(path) = &global.ca_cert {
        return Ok(Some(path.clone()));
    }
    let ctx = Context::new(&global.root);
    Ok(Settings::load(&ctx)?.ca_cert.map(|path| ctx.path(path)))
}

pub fn http_client(global: &GlobalArgs) -> CommandResult<HttpClient> {
    let mut retry = RetryPolicy::default();
    if let Ok(text) = std::env::var(crate::environment::RETRY_BASE_MS) {
        let millis: u64 = text.parse().with_context(|| {
            format!(
                "{}={text} is not a number of milliseconds",
                crate::environment::RETRY_BASE_MS
            )
        })?;
        retry.base_delay = Duration::from_millis(millis);
    }
    Ok(HttpClient::new(retry, ca_cert(global)?.as_deref())?)
}
