//! Planning an upgrade and the checks made before any change: the upgrade path, free space,
//! `pg_dump`, file capabilities, where the server answers and its database connection.

use super::*;

/// Everything an upgrade needs, decided before any change.
#[derive(Clone, Debug)]
pub struct UpgradePlan {
    pub installed: Installed,
    pub target: Artifact,
    pub steps: Vec<Step>,
    pub backup_dir: PathBuf,
    pub staging: PathBuf,
    pub previous_tree: PathBuf,
}

/// Names that sort by time: `20261125T081500`.
pub(super) fn stamp() -> String {
    jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S").to_string()
}

/// The live config.json (`null` when it cannot be read: then it names no path).
pub(super) fn live_config(ctx: &Context) -> serde_json::Value {
    fs_err::read_to_string(ctx.path(INSTALL_DIR).join("config/config.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// The names of the entries of `dir`.
pub(super) fn entry_names(dir: &Path) -> Result<Vec<String>, UpgradeError> {
    let mut names = Vec::new();
    for entry in fs_err::read_dir(dir)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}

/// What moves from the live tree into a tree holding `release` (its top-level names): see
/// [`carry::carried_paths`]; only paths that exist.
pub(super) fn carried_paths(
    ctx: &Context,
    settings: &Settings,
    release: &[String],
) -> Result<Vec<PathBuf>, UpgradeError> {
    let live = ctx.path(INSTALL_DIR);
    Ok(carry::carried_paths(
        &live_config(ctx),
        &entry_names(&live)?,
        release,
        &settings.preserve,
    )
    .into_iter()
    .filter(|p| fs_err::symlink_metadata(live.join(p)).is_ok())
    .collect())
}

/// Plan the upgrade of `installed` to `target`.
pub fn plan_upgrade(
    ctx: &Context,
    installed: Installed,
    target: Artifact,
    settings: &Settings,
) -> Result<UpgradePlan, UpgradeError> {
    let from: Version = installed.installation.version.parse()?;
    if target.version <= from {
        return Err(UpgradeError::NotNewer {
            installed: from,
            target: target.version,
        });
    }
    check_upgrade_path(&from, &target.version)?;
    let requirements = crate::ops::requirements::Requirements::embedded()?;
    if let Some(blocker) = requirements
        .blocking_settings(&target.version, &live_config(ctx))
        .first()
    {
        return Err(UpgradeError::BlockingSetting {
            target: target.version.clone(),
            blocker: Box::new((*blocker).clone()),
        });
    }
    let stamp = stamp();
    let backup_dir =
        PathBuf::from(BACKUP_DIR).join(format!("{stamp}-{from}-to-{}", target.version));
    let staging = PathBuf::from(format!("{PRIVATE_DIR}/upgrade-{}", std::process::id()));
    let new_tree = staging.join("mattermost");
    let previous_tree = PathBuf::from(format!("{PRIVATE_DIR}/mattermost-{from}-{stamp}"));
    let capabilities = file_capabilities(ctx)?;
    // The schema as the running version left it: also proves the database is reachable before
    // anything changes.
    let connection = connection(ctx, &PathBuf::from(INSTALL_DIR).join("config/config.json"))?;
    let server = postgres::version_num(ctx, &connection)?;
    if let Some(minimum) = requirements
        .postgres_minimum(&target.version)
        .filter(|minimum| server / 10000 < minimum.minimum_major)
    {
        return Err(UpgradeError::DatabaseTooOld {
            found: format!("{}.{}", server / 10000, server % 10000),
            target: target.version.clone(),
            needed: minimum.minimum_major,
            source_note: minimum.source.clone(),
        });
    }
    let family = crate::host::detect(ctx, None, None).ok().map(|p| p.family);
    check_pg_dump(ctx, &connection, server, family)?;
    check_free_space(ctx, postgres::database_size(ctx, &connection)?)?;
    let db_migrations = postgres::SchemaHead {
        head: postgres::migrations_head(ctx, &connection)?,
    };
    let mut steps = vec![
        Step::Extract {
            staging: staging.clone(),
        },
        Step::Backup {
            dir: backup_dir.clone(),
        },
        Step::Stop,
        Step::DumpDatabase {
            dir: backup_dir.clone(),
            from: from.to_string(),
            to: target.version.to_string(),
        },
        Step::GuardDatabase {
            dir: backup_dir.clone(),
            db_migrations,
            database: connection.identity().to_string(),
        },
        // Decided again from the downloaded tarball before anything changes.
        Step::MoveState {
            to: new_tree.clone(),
            paths: carried_paths(ctx, settings, &carry::RELEASE_LAYOUT.map(String::from))?,
            config_backup: Some(backup_dir.join("config.json")),
        },
        Step::SwapTrees {
            incoming: new_tree,
            outgoing: previous_tree.clone(),
        },
    ];
    steps.extend(relabel_step(ctx));
    if let Some(capabilities) = capabilities {
        steps.push(Step::RestoreCapabilities { capabilities });
    }
    steps.extend([Step::Start, Step::Verify]);
    Ok(UpgradePlan {
        installed,
        target,
        steps,
        backup_dir,
        staging,
        previous_tree,
    })
}

/// Free space Mattermost's upgrade guide asks for where releases are extracted and swapped: 2 GB
/// "for extraction, copy and cleanup" (mattermost-facts.md, "Other facts about upgrading").
pub const RELEASE_SPACE_BYTES: u64 = 2_000_000_000;

/// Room for the new release under /opt ([`RELEASE_SPACE_BYTES`]) and for the database dump
/// under the backups (the database's size: its compressed dump is never larger), counted once
/// per filesystem, checked before anything stops.
fn check_free_space(ctx: &Context, database_bytes: u64) -> Result<(), UpgradeError> {
    let needs = [
        ("/opt", RELEASE_SPACE_BYTES, "2 GB for the new release"),
        (
            BACKUP_DIR,
            database_bytes,
            "the database's size, for its dump",
        ),
    ];
    let mut measured = Vec::new();
    for (dir, needed, what) in needs {
        let space =
            crate::host::free_space(&ctx.path(dir)).map_err(|err| SystemError::Unexpected {
                what: "the free space".into(),
                detail: crate::exit::Chain(&err).to_string(),
            })?;
        measured.push((ctx.path(dir).display().to_string(), what, needed, space));
    }
    match first_shortage(&measured) {
        Some((dir, what, needed, available)) => Err(UpgradeError::NoSpace {
            dir,
            what,
            needed,
            available,
        }),
        None => Ok(()),
    }
}

/// The first directory whose filesystem cannot hold what it and every earlier directory on the
/// same filesystem need: (directory, what, bytes needed in total there, bytes available).
pub(super) fn first_shortage(
    measured: &[(String, &str, u64, crate::host::FreeSpace)],
) -> Option<(String, String, u64, u64)> {
    for (position, (dir, _, _, space)) in measured.iter().enumerate() {
        let sharing: Vec<_> = measured[..=position]
            .iter()
            .filter(|(_, _, _, other)| other.filesystem == space.filesystem)
            .collect();
        let needed: u64 = sharing.iter().map(|(_, _, needed, _)| needed).sum();
        if needed > space.available {
            let what = sharing
                .iter()
                .map(|(_, what, _, _)| *what)
                .collect::<Vec<_>>()
                .join(" + ");
            return Some((dir.clone(), what, needed, space.available));
        }
    }
    None
}

/// The backup step's `pg_dump` must be at least the server's major version (pg_dump refuses a
/// newer server: "aborting because of server version mismatch"), checked before any change
/// rather than found halfway. `family` names the package to install.
pub fn check_pg_dump(
    ctx: &Context,
    connection: &postgres::Connection,
    server_version_num: u32,
    family: Option<Family>,
) -> Result<(), UpgradeError> {
    let pg_dump = postgres::pg_dump_version(ctx, connection)?;
    let server_major = server_version_num / 10000;
    if postgres::major_version(&pg_dump).is_some_and(|major| major >= server_major) {
        return Ok(());
    }
    let debian = format!(
        "postgresql-client-{server_major} (apt-get install postgresql-client-{server_major})"
    );
    let rhel = format!(
        "postgresql{server_major} from the PostgreSQL project's repository (PGDG: dnf install postgresql{server_major}), or the postgresql client of the {server_major} module stream (dnf module switch-to postgresql:{server_major}, then dnf install postgresql)"
    );
    Err(UpgradeError::PgDumpTooOld {
        pg_dump,
        server: format!("{server_major}.{}", server_version_num % 10000),
        url: connection.url().to_string(),
        package: match family {
            Some(Family::Debian) => debian,
            Some(Family::Rhel) => rhel,
            _ => format!(
                "a PostgreSQL {server_major} client: on Debian/Ubuntu {debian}; on the RHEL family {rhel}"
            ),
        },
    })
}

/// Mattermost's supported upgrade paths: anything older than v7.1 must go to the v7.1 ESR first
/// (refused here), and jumping more than one major version skips ESRs, which Mattermost calls
/// "supported, but not tested" (refused: go through each major version's last ESR).
pub fn check_upgrade_path(from: &Version, to: &Version) -> Result<(), UpgradeError> {
    let ((from_major, from_minor, _), (to_major, _, _)) = (from.triple(), to.triple());
    if (from_major, from_minor) < (7, 1) && (to_major, to.triple().1) > (7, 1) {
        return Err(UpgradeError::UnsupportedPath {
            from: from.clone(),
            to: to.clone(),
            reason: "Mattermost requires upgrading to the v7.1 ESR first".into(),
        });
    }
    if to_major > from_major + 1 {
        return Err(UpgradeError::UnsupportedPath {
            from: from.clone(),
            to: to.clone(),
            reason: format!(
                "it skips major version {}; Mattermost only guarantees compatibility with the last ESR, so upgrade through the ESR of each major version",
                from_major + 1
            ),
        });
    }
    Ok(())
}

/// `getcap bin/mattermost` (e.g. `cap_net_bind_service=ep`), if any.
fn file_capabilities(ctx: &Context) -> Result<Option<String>, UpgradeError> {
    let binary = ctx
        .path(INSTALL_DIR)
        .join("bin/mattermost")
        .display()
        .to_string();
    let output = match system::run_probe(ctx, &CommandLine::new("getcap", &[&binary])) {
        Ok(output) => output,
        Err(_) => return Ok(None), // no getcap: no capabilities can have been set with setcap
    };
    Ok(output
        .stdout
        .split_whitespace()
        .nth(1)
        .map(str::to_string)
        .filter(|c| c.starts_with("cap_")))
}

/// Where the server is reached for the health check: through our nginx site when mm-install
/// installed it, else directly on Mattermost's own listen address.
pub(super) fn probe_for(ctx: &Context, installed: &Installed) -> Result<Probe, UpgradeError> {
    let installation = &installed.installation;
    if !installed.adopted {
        let site = match installation.site_url.as_str() {
            "" => None,
            url => Some(SiteUrl::parse(url).map_err(|err| SystemError::Unexpected {
                what: "the recorded site URL".into(),
                detail: err.to_string(),
            })?),
        };
        return Ok(Probe::through_nginx(site.as_ref(), installation.tls));
    }
    listen_probe(ctx)
}

/// Mattermost's own listen address from config.json (a server installed by hand).
pub(super) fn listen_probe(ctx: &Context) -> Result<Probe, UpgradeError> {
    let config = beneath::read_to_string(ctx, &Path::new(INSTALL_DIR).join("config/config.json"))
        .map_err(SystemError::from)?;
    let json: serde_json::Value = serde_json::from_str(&config).unwrap_or_default();
    let listen = json["ServiceSettings"]["ListenAddress"]
        .as_str()
        .unwrap_or(":8065");
    let port = listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8065);
    let tls = json["ServiceSettings"]["ConnectionSecurity"] == "TLS";
    Ok(Probe {
        address: SocketAddr::from(([127, 0, 0, 1], port)),
        host: "localhost".into(),
        tls,
    })
}

/// The database connection from config.json's DataSource, which the service user can write:
/// it must name the database recorded in mm-install's state (only its password is taken as it
/// is), and any client file it names must be root's alone.
pub(super) fn connection(
    ctx: &Context,
    config: &Path,
) -> Result<postgres::Connection, UpgradeError> {
    let connection = postgres::connection_from_config(ctx, config)?;
    if let Some(recorded) = State::load(ctx)?.database {
        if recorded != connection.identity() {
            return Err(UpgradeError::DatabaseMoved {
                recorded,
                configured: connection.identity().to_string(),
            });
        }
    }
    Ok(connection)
}
