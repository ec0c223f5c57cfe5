//! The checks made before an install changes anything, and its plan.

use super::*;

/// Which package provides a PostgreSQL >= 14 server on a platform, and the dnf module stream to
/// enable first where the distribution's default stream is older.
struct PostgresPackage {
    package: &'static str,
    module_stream: Option<&'static str>,
}

fn postgres_packages(platform: &Platform) -> Result<PostgresPackage, InstallError> {
    let major = platform
        .version_id
        .as_deref()
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    let too_old = || InstallError::NoSuitablePostgres {
        platform: platform.pretty_name.clone(),
    };
    let plain = |package| {
        Ok(PostgresPackage {
            package,
            module_stream: None,
        })
    };
    match (platform.family, platform.id.as_str(), major) {
        (Family::Debian, _, _) => plain("postgresql"),
        (_, "amzn", Some(year)) if year >= 2022 => plain("postgresql15-server"),
        (_, "amzn", _) => Err(too_old()),
        (_, "fedora", _) => plain("postgresql-server"),
        // RHEL 8 and 9 (and rebuilds) default to PostgreSQL 10 and 13: enable the 15 stream.
        (Family::Rhel, _, Some(8 | 9)) => Ok(PostgresPackage {
            package: "postgresql-server",
            module_stream: Some("15"),
        }),
        (Family::Rhel, _, Some(major)) if major >= 10 => plain("postgresql-server"),
        _ => Err(too_old()),
    }
}

/// The checked platform and the steps to run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub platform: Platform,
    pub steps: Vec<Step>,
}

/// What the plan should say about a check the pre-flight skipped: with `--root`, the
/// connection to an existing database is not tried.
pub fn database_note(ctx: &Context, options: &InstallOptions) -> Option<String> {
    match &options.database {
        DatabaseChoice::External(url) if !ctx.is_live_system() => Some(format!(
            "the database at {} was not checked: with --root it is usually not reachable from where the image is built; Mattermost connects to it when the image boots",
            postgres::redact_password(url)
        )),
        _ => None,
    }
}

/// Check everything that can be checked without changing the server.
pub fn preflight(
    ctx: &Context,
    options: &InstallOptions,
    reporter: &dyn Reporter,
) -> Result<Platform, InstallError> {
    if ctx.is_live_system() && !nix::unistd::geteuid().is_root() {
        return Err(InstallError::NotRoot);
    }
    let platform = host::detect(ctx, None, Some(options.artifact.arch))?;
    if let Some(statement) = &platform.statement {
        reporter.step(statement);
    }
    for note in &platform.notes {
        reporter.step(&format!("note: {note}"));
    }
    let refuse = |reason: String| InstallError::Unsupported {
        name: platform.pretty_name.clone(),
        reason,
    };
    if platform.support == Support::Unsupported {
        let reason = platform
            .notes
            .first()
            .cloned()
            .unwrap_or_else(|| "Mattermost does not support it".into());
        if !options.allow_unsupported {
            return Err(refuse(reason));
        }
        reporter.warn(&format!(
            "{}: {reason}; continuing because of --allow-unsupported",
            platform.pretty_name
        ));
    }
    if let Some(last) = &platform.last_supported_release {
        let (major, minor, _) = options.artifact.version.triple();
        if let Some((last_major, last_minor)) = last
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        {
            if (major, minor) > (last_major, last_minor) && !options.allow_unsupported {
                return Err(refuse(format!(
                    "Mattermost {} no longer supports it; the last release for it is v{last}",
                    options.artifact.version
                )));
            }
        }
    }
    if let Some((dir, available)) = short_of_space(ctx)? {
        return Err(InstallError::NoSpace {
            dir,
            available,
            needed: MINIMUM_FREE_BYTES,
        });
    }
    if ctx.path(INSTALL_DIR).exists() {
        return Err(InstallError::AlreadyInstalled {
            path: ctx.path(INSTALL_DIR).display().to_string(),
        });
    }
    if let Some(tls) = &options.tls {
        for (what, path) in [("certificate", &tls.certificate), ("key", &tls.key)] {
            if !path.exists() {
                return Err(InstallError::MissingTlsFile {
                    what,
                    path: path.display().to_string(),
                });
            }
        }
    }
    match &options.database {
        DatabaseChoice::External(url) => {
            let connection = postgres::Connection::from_data_source(url)?;
            // An image is usually built where its database is not reachable: the plan says
            // the check was skipped (`database_note`).
            if ctx.is_live_system() {
                let version = postgres::version_num(ctx, &connection)?;
                if version < postgres::MINIMUM_VERSION_NUM {
                    return Err(InstallError::DatabaseTooOld {
                        url: connection.url().to_string(),
                        found: describe_version_num(version),
                    });
                }
            }
        }
        DatabaseChoice::Local if !ctx.is_live_system() => {
            return Err(InstallError::RootNeedsDatabase);
        }
        DatabaseChoice::Local => {
            let local = postgres::detect_local(ctx)?;
            if local.tcp_only {
                return Err(InstallError::PostgresWithoutSocket);
            }
            if local.running() {
                check_local_database(ctx)?;
            }
        }
        DatabaseChoice::Skip => {}
    }
    if ctx.is_live_system() {
        check_port_free(ctx, 8065, false)?;
        check_port_free(ctx, 80, true)?;
        if options.tls.is_some() {
            check_port_free(ctx, 443, true)?;
        }
    }
    Ok(platform)
}

/// The first of `/opt` (releases) and `/var/lib` (cache, backups) with less than
/// [`MINIMUM_FREE_BYTES`] free, and what it has.
pub fn short_of_space(ctx: &Context) -> Result<Option<(String, u64)>, HostError> {
    for dir in ["/opt", "/var/lib"] {
        let available = host::available_bytes(&ctx.path(dir))?;
        if available < MINIMUM_FREE_BYTES {
            return Ok(Some((ctx.path(dir).display().to_string(), available)));
        }
    }
    Ok(None)
}

/// The local PostgreSQL can take Mattermost's database: version 14 or newer, no `mattermost`
/// database yet.
pub(super) fn check_local_database(ctx: &Context) -> Result<(), InstallError> {
    let version = postgres::local_version_num(ctx)?;
    if version < postgres::MINIMUM_VERSION_NUM {
        return Err(InstallError::LocalDatabaseTooOld {
            found: describe_version_num(version),
        });
    }
    if postgres::database_exists(ctx, DATABASE_NAME)? {
        return Err(InstallError::DatabaseExists {
            name: DATABASE_NAME.into(),
        });
    }
    Ok(())
}

fn describe_version_num(version: u32) -> String {
    format!("{}.{}", version / 10000, version % 10000)
}

/// A port must be free, or (for 80/443) held by nginx, which we configure.
fn check_port_free(ctx: &Context, port: u16, nginx_may_hold_it: bool) -> Result<(), InstallError> {
    let free = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).is_ok();
    if free {
        return Ok(());
    }
    let sport = format!("sport = :{port}");
    let holder = system::run_probe(ctx, &CommandLine::new("ss", &["-Hltnp", &sport]))
        .map(|out| out.stdout)
        .unwrap_or_default();
    if nginx_may_hold_it && holder.contains("\"nginx\"") {
        return Ok(());
    }
    let program = holder
        .split("users:((\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|name| format!(" (held by {name})"))
        .unwrap_or_default();
    Err(InstallError::PortBusy {
        port,
        holder: program,
    })
}

/// Turn the options and the host's state into the ordered steps.
pub fn plan(
    ctx: &Context,
    platform: Platform,
    options: &InstallOptions,
) -> Result<Plan, InstallError> {
    let live = ctx.is_live_system();
    let local_database = matches!(options.database, DatabaseChoice::Local);
    let mut steps = Vec::new();
    if live {
        let manager = platform
            .package_manager
            .ok_or_else(|| InstallError::Unsupported {
                name: platform.pretty_name.clone(),
                reason: "it has no package manager mm-install knows (apt, dnf, yum)".into(),
            })?;
        let mut packages = system::packages::missing(ctx, manager, &["nginx"])?;
        let local = if local_database {
            Some(postgres::detect_local(ctx)?)
        } else {
            None
        };
        // A PostgreSQL that runs, or that systemd knows, is the one to use: never a second.
        let initialize = match &local {
            Some(local) if !local.running() => {
                let unit = match &local.unit {
                    Some((unit, _)) => unit.clone(),
                    None => {
                        let choice = postgres_packages(&platform)?;
                        let missing = system::packages::missing(ctx, manager, &[choice.package])?;
                        if !missing.is_empty() {
                            if let Some(stream) = choice.module_stream {
                                steps.push(Step::EnablePostgresStream {
                                    stream: stream.into(),
                                });
                            }
                            packages.extend(missing);
                        }
                        "postgresql.service".to_string()
                    }
                };
                // RHEL's packages leave the cluster to `postgresql-setup --initdb`.
                let initdb = platform.family == Family::Rhel
                    && unit == "postgresql.service"
                    && !ctx.path(RHEL_DATA_DIR).join("PG_VERSION").exists();
                Some(Step::InitializePostgres { initdb, unit })
            }
            _ => None,
        };
        if !packages.is_empty() {
            steps.push(Step::InstallPackages { manager, packages });
        }
        steps.extend(initialize);
    }
    if users::lookup(ctx, SERVICE_USER)?.is_none() {
        steps.push(Step::CreateUser);
    }
    if live && local_database {
        let existing_role = if postgres::local_socket(ctx)?.is_some() {
            postgres::role_password_hash(ctx, DATABASE_ROLE)?
        } else {
            None
        };
        steps.push(Step::ProvisionDatabase { existing_role });
        steps.push(Step::AllowPasswordLogin);
    }
    let staging = PathBuf::from(format!("{PRIVATE_DIR}/staging-{}", std::process::id()));
    steps.push(Step::Extract {
        staging: staging.clone(),
    });
    steps.push(Step::PlaceTree { staging });
    steps.push(Step::Configure);
    let selinux = live && platform.family == Family::Rhel && security::selinux_enforcing(ctx);
    if selinux {
        steps.push(Step::LabelBinaries);
    }
    steps.push(Step::WriteUnit);
    steps.push(Step::EnableService);
    if live {
        steps.push(Step::StartService);
    }
    let layout = SiteLayout::detect(ctx);
    let set_aside_default = match &layout {
        SiteLayout::SitesAvailable { stock_default, .. } => {
            fs_err::symlink_metadata(ctx.path(stock_default)).is_ok()
        }
        SiteLayout::ConfD { .. } => false,
    };
    steps.push(Step::WriteNginxSite {
        layout,
        set_aside_default,
    });
    if live {
        if selinux && !security::selinux_boolean(ctx, security::NGINX_CONNECT_BOOLEAN)? {
            steps.push(Step::AllowNginxUpstream);
        }
        if platform.family == Family::Rhel && security::firewalld_running(ctx) {
            let mut services = vec!["http".to_string()];
            if options.tls.is_some() {
                services.push("https".into());
            }
            let mut closed = Vec::new();
            for service in services {
                if !security::firewall_allows(ctx, &service)? {
                    closed.push(service);
                }
            }
            if !closed.is_empty() {
                steps.push(Step::OpenFirewall { services: closed });
            }
        }
        steps.push(Step::ReloadNginx);
        steps.push(Step::ProveItWorks);
    }
    steps.push(Step::RecordState);
    Ok(Plan { platform, steps })
}
