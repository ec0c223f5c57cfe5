//! Running an install: fetch and verify the release, then run the plan through
//! [`crate::ops::plan`].

use super::*;

/// What a finished install reports.
#[derive(Clone, Debug)]
pub struct InstallReport {
    pub installation: Installation,
    pub warnings: Vec<String>,
    /// The proxy's answer to the ping (`X-Version-Id`), when the server was started.
    pub version_id: Option<String>,
}

/// Values produced by one step and used by later ones.
pub(super) struct Progress {
    pub(super) tarball: PathBuf,
    pub(super) verified: Verified,
    pub(super) data_source: Option<String>,
    /// The unit that runs the local PostgreSQL, for mattermost.service's `After=`.
    pub(super) database_unit: Option<String>,
    pub(super) ids: Option<users::Ids>,
    pub(super) version_id: Option<String>,
}

/// Fetch and verify the release, then run the plan as one transaction.
pub fn execute(
    ctx: &Context,
    plan: &Plan,
    options: &InstallOptions,
    client: &HttpClient,
    keyring: &Keyring,
    reporter: &dyn Reporter,
) -> Result<InstallReport, InstallError> {
    let (tarball, verified) = obtain_release(
        ctx,
        &options.source,
        &options.artifact,
        client,
        keyring,
        reporter,
    )?;
    let mut progress = Progress {
        tarball,
        verified,
        data_source: None,
        database_unit: None,
        ids: None,
        version_id: None,
    };
    if let DatabaseChoice::External(url) = &options.database {
        progress.data_source = Some(url.clone());
    }
    let mut run = InstallRun {
        ctx,
        options,
        progress,
    };
    plan::run(ctx, "install", &plan.steps, &mut run, reporter).map_err(
        |failure| match failure {
            Failure::Before(err) => err,
            Failure::RolledBack { step, cause } => InstallError::RolledBack { step, cause },
            // Install has no check after the undo: only the undo itself can fail.
            Failure::Stuck { undo, .. } => match undo {
                UndoFailure::Journal(err) => InstallError::Journal(err),
                UndoFailure::Check(err) => err,
            },
        },
    )?;
    let progress = run.progress;
    Ok(InstallReport {
        installation: installation_record(options, &progress.verified),
        warnings: progress.verified.warnings,
        version_id: progress.version_id,
    })
}

/// An install's steps, run by [`plan::run`].
struct InstallRun<'a> {
    ctx: &'a Context,
    options: &'a InstallOptions,
    progress: Progress,
}

impl Operation for InstallRun<'_> {
    type Step = Step;
    type Error = InstallError;

    fn description(&self, step: &Step) -> String {
        step.description(self.options)
    }

    fn undo(&self, step: &Step) -> Undo {
        step.undo(self.ctx)
    }

    fn run(&mut self, step: &Step, reporter: &dyn Reporter) -> Result<(), InstallError> {
        run_step(self.ctx, step, self.options, &mut self.progress, reporter)
    }
}

fn installation_record(options: &InstallOptions, verified: &Verified) -> Installation {
    Installation {
        version: options.artifact.version.to_string(),
        edition: options.artifact.edition.to_string(),
        arch: options.artifact.arch.to_string(),
        install_dir: INSTALL_DIR.into(),
        installed_at: now_rfc3339(),
        tarball_sha256: verified.sha256.clone(),
        signed_by: verified.signer_fingerprint.clone(),
        signed_at: verified.signed_at.map(rfc3339),
        site_url: options
            .site_url
            .as_ref()
            .map(SiteUrl::to_string)
            .unwrap_or_default(),
        database: match options.database {
            DatabaseChoice::Local => "local",
            DatabaseChoice::External(_) => "external",
            DatabaseChoice::Skip => "none",
        }
        .into(),
        tls: options.tls.is_some(),
    }
}

/// Download the release (or copy the local file into the root-only cache) and verify it before
/// any server change; returns the verified file, which is what gets extracted.
pub fn obtain_release(
    ctx: &Context,
    source: &TarballSource,
    artifact: &Artifact,
    client: &HttpClient,
    keyring: &Keyring,
    reporter: &dyn Reporter,
) -> Result<(PathBuf, Verified), FetchError> {
    let cache = ctx.path(CACHE_DIR);
    fs_err::create_dir_all(&cache)?;
    match source {
        TarballSource::Local {
            tarball,
            signature,
            sha256,
        } => {
            // The copy in the root-only cache is what gets extracted: FILE is read once.
            fs_err::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
            let name = tarball
                .file_name()
                .map_or_else(|| "release.tar.gz".into(), |n| n.to_os_string());
            let copy = cache.join(name);
            reporter.step(&format!(
                "copying {} to {} and verifying it",
                tarball.display(),
                copy.display()
            ));
            let verified = copy_verified(keyring, tarball, signature, sha256.as_deref(), &copy)?;
            Ok((copy, verified))
        }
        TarballSource::Mirror {
            release_url,
            sha256,
        } => {
            let request =
                DownloadRequest::for_artifact(artifact, release_url, None, sha256.clone(), &cache);
            let downloaded = download_release(client, keyring, &request, reporter)?;
            Ok((downloaded.path, downloaded.verified))
        }
    }
}

/// Run one step.
pub(super) fn run_step(
    ctx: &Context,
    step: &Step,
    options: &InstallOptions,
    progress: &mut Progress,
    reporter: &dyn Reporter,
) -> Result<(), InstallError> {
    match step {
        Step::InstallPackages { manager, packages } => {
            system::packages::install(ctx, *manager, packages)?;
        }
        Step::EnablePostgresStream { stream } => {
            let module = format!("postgresql:{stream}");
            system::run_checked(
                ctx,
                &CommandLine::new("dnf", &["module", "enable", "-y", &module]),
            )?;
        }
        Step::InitializePostgres { initdb, unit } => {
            if *initdb {
                system::run_checked(ctx, &CommandLine::new("postgresql-setup", &["--initdb"]))?;
            }
            services::systemctl(ctx, &["enable", "--now", unit])?;
        }
        Step::CreateUser => {
            progress.ids = Some(users::create_system_user(ctx, SERVICE_USER, INSTALL_DIR)?);
        }
        Step::ProvisionDatabase { .. } => {
            check_local_database(ctx)?;
            // The port the cluster really listens on (a Debian cluster is often on 5433,
            // mattermost-facts.md §10), and the unit that runs it.
            let local = postgres::detect_local(ctx)?;
            let port = local
                .socket
                .as_ref()
                .map_or(postgres::DEFAULT_PORT, |socket| socket.port);
            progress.database_unit = local.server_unit;
            let password = postgres::generate_password(32)?;
            if postgres::role_password_hash(ctx, DATABASE_ROLE)?.is_some() {
                postgres::set_role_password(ctx, DATABASE_ROLE, Some(&password))?;
            } else {
                postgres::create_role(ctx, DATABASE_ROLE, &password)?;
            }
            postgres::create_database(ctx, DATABASE_NAME, DATABASE_ROLE)?;
            progress.data_source = Some(format!(
                "postgres://{DATABASE_ROLE}:{password}@localhost:{port}/{DATABASE_NAME}?sslmode=disable&connect_timeout=10"
            ));
        }
        Step::AllowPasswordLogin => allow_password_login(ctx)?,
        Step::Extract { staging } => {
            beneath::private_dir(&ctx.path(ANCHOR)).map_err(SystemError::from)?;
            extract_release(&progress.tarball, &ctx.path(staging))?;
        }
        Step::PlaceTree { staging } => {
            let staging = ctx.path(staging);
            fs_err::rename(staging.join("mattermost"), ctx.path(INSTALL_DIR))?;
            fs_err::remove_dir(&staging)?;
            fs_err::create_dir_all(ctx.path(INSTALL_DIR).join("data"))?;
        }
        Step::Configure => configure(ctx, options, progress)?,
        Step::LabelBinaries => security::label_binaries(ctx, INSTALL_DIR)?,
        Step::WriteUnit => {
            let local_database = matches!(options.database, DatabaseChoice::Local);
            let unit = render::render_systemd_unit(
                &templates(ctx),
                &UnitOptions {
                    install_dir: INSTALL_DIR.into(),
                    user: SERVICE_USER.into(),
                    group: SERVICE_USER.into(),
                    local_database_unit: local_database.then(|| {
                        progress
                            .database_unit
                            .clone()
                            .unwrap_or_else(|| "postgresql.service".into())
                    }),
                },
            )?;
            replace_file(&ctx.path(UNIT_FILE), unit.as_bytes())?;
            if ctx.is_live_system() {
                services::systemctl(ctx, &["daemon-reload"])?;
            }
        }
        Step::EnableService => services::systemctl(ctx, &["enable", "mattermost.service"])?,
        Step::StartService => services::start(ctx, "mattermost.service")?,
        Step::WriteNginxSite {
            layout,
            set_aside_default,
        } => {
            write_nginx_site(ctx, options, layout, *set_aside_default)?;
        }
        Step::AllowNginxUpstream => {
            security::set_selinux_boolean(ctx, security::NGINX_CONNECT_BOOLEAN, true)?
        }
        Step::OpenFirewall { services: wanted } => {
            for service in wanted {
                security::set_firewall_service(ctx, service, true)?;
            }
        }
        Step::ReloadNginx => {
            system::nginx::test_configuration(ctx)?;
            if services::is_active(ctx, "nginx.service")? {
                services::systemctl(ctx, &["reload", "nginx.service"])?;
            } else {
                services::systemctl(ctx, &["enable", "--now", "nginx.service"])?;
            }
        }
        Step::ProveItWorks => {
            let probe = Probe::through_nginx(options.site_url.as_ref(), options.tls.is_some());
            let healthy = health::check(
                &probe,
                &options.artifact.version,
                Duration::from_secs(90),
                reporter,
            )?;
            progress.version_id = Some(healthy.version_id);
        }
        Step::RecordState => {
            let path = ctx.path(crate::layout::STATE_PATH);
            if path.exists() {
                files::backup(&path)?;
            }
            let mut state = State::load(ctx)?;
            state.record(installation_record(options, &progress.verified));
            if let Some(data_source) = &progress.data_source {
                let connection = postgres::Connection::from_data_source(data_source)?;
                state.database = Some(connection.identity().to_string());
            }
            state.save(ctx)?;
        }
    }
    Ok(())
}

/// Add the password rules to the running server's `pg_hba.conf` if it needs them (see
/// [`postgres::with_password_rules`]) and reload the server.
pub(super) fn allow_password_login(ctx: &Context) -> Result<(), SystemError> {
    let path = postgres::hba_file(ctx)?;
    let text = fs_err::read_to_string(&path)?;
    if let Some(edited) = postgres::with_password_rules(&text, DATABASE_NAME, DATABASE_ROLE) {
        // In place, so the file keeps its owner, mode and SELinux label.
        fs_err::write(&path, edited)?;
        postgres::reload(ctx)?;
    }
    Ok(())
}

/// Write `contents` to `path`, keeping a backup of what was there for undo.
fn replace_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        files::backup(path)?;
    }
    files::write_atomic(path, contents, 0o644)
}

fn templates(ctx: &Context) -> Templates {
    Templates::new(Some(ctx.path(crate::layout::TEMPLATES_OVERRIDE_DIR)))
}

/// Edit config.json (only the keys we own), then hand the tree to the service user.
pub(super) fn configure(
    ctx: &Context,
    options: &InstallOptions,
    progress: &mut Progress,
) -> Result<(), InstallError> {
    let config_path = ctx.path(INSTALL_DIR).join("config/config.json");
    let text = fs_err::read_to_string(&config_path)?;
    let edited = render::apply_owned_settings(
        &text,
        &OwnedSettings {
            driver_name: "postgres".into(),
            data_source: progress.data_source.clone().unwrap_or_default(),
            site_url: options.site_url.clone(),
            listen_address: LISTEN_ADDRESS.into(),
            file_directory: "./data/".into(),
        },
        &config_path,
    )?;
    files::write_atomic(&config_path, edited.as_bytes(), 0o600)?;
    let ids = match progress.ids {
        Some(ids) => ids,
        None => users::lookup(ctx, SERVICE_USER)?.ok_or_else(|| SystemError::Unexpected {
            what: format!("the user `{SERVICE_USER}`"),
            detail: format!("is missing from {}", ctx.path("/etc/passwd").display()),
        })?,
    };
    beneath::chown_tree(&ctx.path(INSTALL_DIR), ids.uid, ids.gid).map_err(SystemError::from)?;
    Ok(())
}

/// Write the site, enable it, and set the stock default site aside.
fn write_nginx_site(
    ctx: &Context,
    options: &InstallOptions,
    layout: &SiteLayout,
    set_aside_default: bool,
) -> Result<(), InstallError> {
    let config_text = fs_err::read_to_string(ctx.path(INSTALL_DIR).join("config/config.json"))?;
    let http2 = if ctx.is_live_system() {
        render::http2_syntax(&system::nginx::version_output(ctx)?)?
    } else {
        render::Http2Syntax::ListenFlag
    };
    let site = render::render_nginx_site(
        &templates(ctx),
        &NginxOptions {
            site_url: options.site_url.clone(),
            upstream: LISTEN_ADDRESS.into(),
            tls: options.tls.clone(),
            http2,
            client_max_body_size_mb: render::max_file_size_mb(&config_text)
                .unwrap_or(render::DEFAULT_MAX_FILE_SIZE_MB),
            default_server: matches!(layout, SiteLayout::SitesAvailable { .. }),
        },
    )?;
    replace_file(&ctx.path(layout.site_file()), site.as_bytes())?;
    if let SiteLayout::SitesAvailable {
        available,
        enabled,
        stock_default,
    } = layout
    {
        let link = ctx.path(enabled);
        if fs_err::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(available, &link).map_err(|err| {
                std::io::Error::new(
                    err.kind(),
                    format!("cannot create the symlink {}: {err}", link.display()),
                )
            })?;
        }
        if set_aside_default {
            fs_err::create_dir_all(ctx.path(SET_ASIDE_DIR))?;
            fs_err::rename(ctx.path(stock_default), ctx.path(set_aside_path()))?;
        }
    }
    Ok(())
}
