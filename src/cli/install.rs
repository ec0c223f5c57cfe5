//! `mm-install install` (and bare `mm-install`): gather the answers (flags, or questions on a
//! terminal), run the pre-flight checks, show the plan, confirm, install, and print what the
//! admin still has to do to be production-ready.

use std::path::PathBuf;

use super::CommandResult;
use super::args::{GlobalArgs, InstallArgs};
use super::output::Printer;
use super::prompt::Asker;
use super::{UsageError, lock_and_recover};
use crate::context::Context;
use crate::fetch;
use crate::host::Arch;
use crate::ops::docs::{self, key};
use crate::ops::install::{self, DatabaseChoice, InstallOptions, TarballSource};
use crate::ops::verify::{self, VerifyOptions};
use crate::release::{Artifact, DEFAULT_VERSION, Edition};
use crate::render::TlsFiles;
use crate::report::Reporter;
use crate::settings::Settings;
use crate::site_url::{self, SiteUrl};

/// Run the install command.
pub fn run(global: &GlobalArgs, args: InstallArgs, printer: &Printer) -> CommandResult {
    let ctx = Context::new(&global.root);
    let settings = Settings::load(&ctx)?;
    let asker = Asker::new(args.yes);
    let options = gather_options(&ctx, &settings, global, &args, &asker, printer)?;
    let Some(_guard) = lock_and_recover(
        global,
        &ctx,
        &settings,
        "install",
        args.dry_run,
        crate::journal::Recovery::Automatic,
        printer,
    )?
    else {
        return Ok(());
    };
    let platform = install::preflight(&ctx, &options, printer)?;
    let plan = install::plan(&ctx, platform, &options)?;
    let mut text = format!(
        "plan: install Mattermost {} ({}, {}) on {}{}\n",
        options.artifact.version,
        options.artifact.edition,
        options.artifact.arch,
        plan.platform.pretty_name,
        if ctx.is_live_system() {
            String::new()
        } else {
            format!(" below {}", ctx.root().display())
        }
    );
    text.push_str(&crate::ops::plan::numbered(
        plan.steps.iter().map(|step| step.description(&options)),
    ));
    if let Some(note) = install::database_note(&ctx, &options) {
        text.push_str(&format!("  note: {note}\n"));
    }
    if args.dry_run {
        printer.data(text.trim_end());
        return Ok(());
    }
    printer.step(text.trim_end());
    if !args.yes {
        if !asker.is_interactive() {
            return Err(UsageError(
                "pass --yes to install without a terminal (review the plan with --dry-run first)"
                    .into(),
            )
            .into());
        }
        if !asker.confirm("Install now?", false)? {
            return Err(UsageError("cancelled; nothing was changed".into()).into());
        }
    }
    let client = fetch::http_client(&ctx, &settings, global.ca_cert.as_deref())?;
    let keyring = fetch::keyring(&ctx, &settings, &global.keyring)?;
    let report = install::execute(&ctx, &plan, &options, &client, &keyring, printer)?;
    for warning in &report.warnings {
        printer.warn(warning);
    }
    printer.step(&summary(
        &ctx,
        &options,
        &plan.platform,
        report.version_id.as_deref(),
        args.verify,
    ));
    printer.data(&format!(
        "installed Mattermost {}",
        report.installation.version
    ));
    if args.verify {
        if ctx.is_live_system() {
            let url = options
                .site_url
                .as_ref()
                .map_or_else(|| verify::DEFAULT_URL.to_string(), SiteUrl::to_string);
            let ca_cert = fetch::ca_cert(&ctx, &settings, global.ca_cert.as_deref());
            run_install_tests(&url, ca_cert, printer).map_err(|err| {
                err.context(format!(
                    "Mattermost {} is installed and stays installed, but it failed the install tests",
                    report.installation.version
                ))
            })?;
        } else {
            printer.warn("--verify skipped: nothing runs below --root");
        }
    }
    Ok(())
}

/// The end of `install --verify`: the install tests against the new server's site URL,
/// cleaned up.
fn run_install_tests(url: &str, ca_cert: Option<PathBuf>, printer: &Printer) -> CommandResult {
    printer.step(&format!("running the install tests against {url}"));
    let options = VerifyOptions {
        ca_cert,
        ..VerifyOptions::new(url)
    };
    let report = verify::run(&options, printer)?;
    printer.verify_report(&report, false)?;
    Ok(report.result()?)
}

/// The options from flags, questions on a terminal, and defaults.
fn gather_options(
    ctx: &Context,
    settings: &Settings,
    global: &GlobalArgs,
    args: &InstallArgs,
    asker: &Asker,
    reporter: &dyn Reporter,
) -> CommandResult<InstallOptions> {
    // A flag's value was parsed by clap; a typed answer is parsed here, by the same type.
    let site_url = match &args.site_url {
        Some(url) => url.clone(),
        None => site_url::parse_or_none(&asker.text(
            None,
            "--site-url URL",
            "Site URL users will reach Mattermost at (e.g. https://chat.example.com)",
        )?)?,
    };
    let edition = match args.edition {
        Some(edition) => edition,
        None => [Edition::Enterprise, Edition::Team][asker.choose(
            "Edition",
            &[
                "Enterprise (default; free without a licence)",
                "Team (MIT licensed)",
            ],
        )?],
    };
    let database = if let Some(url) = database_url(args, reporter)? {
        DatabaseChoice::External(url)
    } else if args.no_database {
        DatabaseChoice::Skip
    } else if asker.choose(
        "Database",
        &[
            "install PostgreSQL on this server",
            "use an existing PostgreSQL server",
        ],
    )? == 1
    {
        DatabaseChoice::External(asker.text(
            None,
            "--database-url URL",
            "PostgreSQL URL (postgres://user:password@host:5432/db?sslmode=require)",
        )?)
    } else {
        DatabaseChoice::Local
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(certificate), Some(key)) => Some(TlsFiles {
            certificate: certificate.clone(),
            key: key.clone(),
        }),
        _ if asker.is_interactive()
            && asker.confirm(
                "Configure TLS in nginx with an existing certificate and key?",
                false,
            )? =>
        {
            Some(TlsFiles {
                certificate: asker.path("--tls-cert FILE", "Certificate file (full chain, PEM)")?,
                key: asker.path("--tls-key FILE", "Private key file (PEM)")?,
            })
        }
        _ => None,
    };
    let arch = match args.arch {
        Some(arch) => arch,
        None => Arch::host()?,
    };
    let version = match (&args.tarball, &args.release.version, args.release.latest) {
        (_, Some(version), _) => version.clone(),
        (Some(tarball), None, _) => Artifact::version_in_file_name(tarball)?,
        (None, None, true) => fetch::resolve_version(
            &fetch::http_client(ctx, settings, global.ca_cert.as_deref())?,
            &global.releases_api,
            None,
            reporter,
        )?,
        (None, None, false) => DEFAULT_VERSION.parse()?,
    };
    let source = match (&args.tarball, &args.signature) {
        (Some(tarball), Some(signature)) => TarballSource::Local {
            tarball: tarball.clone(),
            signature: signature.clone(),
            sha256: args.sha256.clone(),
        },
        _ => TarballSource::Mirror {
            release_url: global.release_url.clone(),
            sha256: args.sha256.clone(),
        },
    };
    Ok(InstallOptions {
        artifact: Artifact {
            version,
            edition,
            arch,
        },
        source,
        site_url,
        database,
        tls,
        allow_unsupported: args.allow_unsupported,
    })
}

/// The external database's URL from `--database-url-file`, `--database-url` or
/// `MM_INSTALL_DATABASE_URL`; a password typed on the command line is warned about, since every
/// user on the server can read it with `ps` while the install runs.
fn database_url(args: &InstallArgs, reporter: &dyn Reporter) -> CommandResult<Option<String>> {
    if let Some(file) = &args.database_url_file {
        let unreadable = |reason: String| {
            UsageError(format!(
                "cannot read the database URL from {}: {reason}",
                file.display()
            ))
        };
        let text = fs_err::read_to_string(file).map_err(|err| unreadable(err.to_string()))?;
        let url = text.lines().next().unwrap_or("").trim();
        if url.is_empty() {
            return Err(unreadable("its first line is empty".into()).into());
        }
        return Ok(Some(url.to_string()));
    }
    let Some(url) = &args.database_url else {
        return Ok(None);
    };
    let from_environment =
        std::env::var(crate::environment::DATABASE_URL).is_ok_and(|value| &value == url);
    if !from_environment && crate::system::postgres::redact_password(url) != *url {
        reporter.warn(&format!(
            "the database password on the command line is visible to every user of this server in `ps`; next time use --database-url-file FILE or {}",
            crate::environment::DATABASE_URL
        ));
    }
    Ok(Some(url.clone()))
}

/// What was installed, and what the admin still has to do.
fn summary(
    ctx: &Context,
    options: &InstallOptions,
    platform: &crate::host::Platform,
    version_id: Option<&str>,
    verifying: bool,
) -> String {
    let mut text = format!("Mattermost {} is installed", options.artifact.version);
    if ctx.is_live_system() {
        let url = options
            .site_url
            .as_ref()
            .map_or_else(|| "http://<this server>".to_string(), SiteUrl::to_string);
        text.push_str(&format!(" and answering at {url}"));
        if let Some(version_id) = version_id {
            text.push_str(&format!(
                " (X-Version-Id {version_id}; websocket through nginx: OK)"
            ));
        }
    } else {
        text.push_str(&format!(
            " below {} (enabled, not started)",
            ctx.root().display()
        ));
    }
    text.push('.');
    if let Some(statement) = &platform.statement {
        text.push_str(&format!("\n{statement}"));
    }
    // The same list as the README's program statements (`mm-install docs`), without the TLS
    // step when this install already has it.
    text.push_str(&format!("\n\n{}", docs::text(key::PRODUCTION_READY)));
    for step in docs::items(key::PRODUCTION_READY) {
        if step.key == key::TLS_STEP && options.tls.is_some() {
            continue;
        }
        if verifying && step.key == key::FIRST_ACCOUNT_STEP {
            // The install tests sign up the first account (always a system admin) and
            // deactivate it afterwards, which closes sign-up.
            text.push_str(
                "\n  - Create your admin account with `mmctl --local user create --system-admin …` \
                 (needs ServiceSettings.EnableLocalMode): the install tests about to run use the \
                 server's first account, and afterwards sign-up no longer makes anyone an admin.",
            );
            continue;
        }
        text.push_str(&format!("\n  - {}", step.text));
    }
    text.push_str(&format!("\n{}", docs::text(key::OFFICIAL_DOCS)));
    text
}
