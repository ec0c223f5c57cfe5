//! The steps of an upgrade or rollback: what each one says, how it is undone and how it runs
//! (through [`crate::ops::plan`]).

use super::*;

/// One change of an upgrade or rollback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Extract the verified release into `staging` and give it to the service user.
    Extract {
        staging: PathBuf,
    },
    /// Copy config.json into `dir` (before the stop: the plan reads it anyway).
    Backup {
        dir: PathBuf,
    },
    Stop,
    /// `pg_dump` the database into `dir` once the server is stopped, so the dump holds every
    /// write the old server acknowledged; then verify it and record its metadata beside it.
    DumpDatabase {
        dir: PathBuf,
        from: String,
        to: String,
    },
    /// No change; its undo restores the database from `dir` if `db_migrations` is no longer at
    /// `db_migrations`.
    GuardDatabase {
        dir: PathBuf,
        db_migrations: postgres::SchemaHead,
        /// The database backed up ([`postgres::Connection::identity`]): the only one its
        /// undo restores into.
        database: String,
    },
    /// Restore the database from the dump in `dir` (rollback with `--restore-database`) in one
    /// transaction, keeping the replaced schema as `aside`; undone by renaming it back.
    RestoreDatabase {
        dir: PathBuf,
        aside: String,
    },
    /// Undo the migrations `versions` (newest first) with the live release's own `mattermost
    /// db downgrade` ([`downgrade_command`]), the server stopped (rollback with
    /// `--downgrade-schema`). mm-install cannot undo it; a [`Step::GuardDatabase`] before it
    /// restores the dump taken just before if the rollback fails.
    DowngradeSchema {
        from: String,
        versions: Vec<i64>,
    },
    /// Move the state folders from the live tree into `to`. On undo they move back, and
    /// config.json is put back from `config_backup` when given (the state before the new
    /// version could rewrite it).
    MoveState {
        to: PathBuf,
        paths: Vec<PathBuf>,
        config_backup: Option<PathBuf>,
    },
    /// Move the live tree to `outgoing` and `incoming` into its place.
    SwapTrees {
        incoming: PathBuf,
        outgoing: PathBuf,
    },
    /// Relabel the swapped-in tree for SELinux (`restorecon -R`): it was unpacked, or kept,
    /// under `/opt/.mm-install`, whose labels it still carries. Planned only where SELinux is
    /// enabled.
    Relabel {
        tree: PathBuf,
    },
    /// Give the new server binary the file capabilities the old one had.
    RestoreCapabilities {
        capabilities: String,
    },
    Start,
    Verify,
}

impl Step {
    pub fn description(&self) -> String {
        match self {
            Step::Extract { staging } => {
                format!("extract the verified release into {}", staging.display())
            }
            Step::Backup { dir } => format!("back up config.json into {}", dir.display()),
            Step::Stop => "stop mattermost.service".into(),
            Step::DumpDatabase { dir, .. } => format!(
                "dump the stopped server's database (pg_dump, verified) into {}",
                dir.display()
            ),
            Step::GuardDatabase { db_migrations, .. } => format!(
                "remember the database schema (db_migrations at {}; the dump is restored on rollback if it changed)",
                display_head(db_migrations.head)
            ),
            Step::DowngradeSchema { from, versions } => format!(
                "downgrade the database schema with Mattermost {from}'s `mattermost db downgrade {}` (mm-install cannot undo this step; if the rollback fails, the dump just taken is restored)",
                version_list(versions)
            ),
            Step::RestoreDatabase { dir, aside } => format!(
                "restore the database from {}/database.dump in one transaction (the replaced schema kept as {aside})",
                dir.display()
            ),
            Step::MoveState { to, paths, .. } => {
                format!("move {} into {}", display_paths(paths), to.display())
            }
            Step::SwapTrees { incoming, outgoing } => format!(
                "move {INSTALL_DIR} to {} and {} to {INSTALL_DIR}",
                outgoing.display(),
                incoming.display()
            ),
            Step::Relabel { tree } => format!(
                "relabel {} for SELinux, which is enabled (restorecon -R)",
                tree.display()
            ),
            Step::RestoreCapabilities { capabilities } => {
                format!("restore the file capabilities of bin/mattermost ({capabilities})")
            }
            Step::Start => "start mattermost.service and wait until it is ready".into(),
            Step::Verify => {
                "prove it works: ping (served version) and a websocket handshake through the proxy"
                    .into()
            }
        }
    }

    pub(super) fn undo(&self) -> Undo {
        let live = PathBuf::from(INSTALL_DIR);
        match self {
            Step::Extract { staging } => Undo::Many {
                undos: vec![
                    Undo::RemovePath {
                        path: staging.clone(),
                    },
                    Undo::RemovePath {
                        path: version_check_dir(),
                    },
                ],
            },
            Step::Backup { .. }
            | Step::DumpDatabase { .. }
            | Step::RestoreCapabilities { .. }
            | Step::Relabel { .. }
            | Step::Verify
            | Step::DowngradeSchema { .. } => Undo::Nothing,
            Step::RestoreDatabase { aside, .. } => Undo::UnrestoreDatabase {
                config: live.join("config/config.json"),
                aside: aside.clone(),
            },
            Step::Stop => Undo::StartService {
                unit: "mattermost.service".into(),
            },
            Step::GuardDatabase {
                dir,
                db_migrations,
                database,
            } => Undo::RestoreDatabase {
                dump: dir.join(DUMP_FILE),
                config: live.join("config/config.json"),
                database: Some(database.clone()),
                unless_db_migrations: Some(*db_migrations),
                legacy_fingerprint: None,
                aside: Some(postgres::aside_schema()),
            },
            Step::MoveState {
                to,
                paths,
                config_backup,
            } => {
                let mut undos: Vec<Undo> = paths
                    .iter()
                    .rev()
                    .map(|p| Undo::Rename {
                        from: to.join(p),
                        to: live.join(p),
                    })
                    .collect();
                if let Some(backup) = config_backup {
                    undos.push(Undo::CopyFile {
                        from: backup.clone(),
                        to: live.join("config/config.json"),
                    });
                }
                Undo::Many { undos }
            }
            Step::SwapTrees { incoming, outgoing } => Undo::Many {
                undos: vec![
                    Undo::Rename {
                        from: live.clone(),
                        to: incoming.clone(),
                    },
                    Undo::Rename {
                        from: outgoing.clone(),
                        to: live,
                    },
                ],
            },
            Step::Start => Undo::Systemctl {
                args: vec!["stop".into(), "mattermost.service".into()],
            },
        }
    }
}

/// [`Step::Relabel`] of the live tree, on a live system where SELinux is enabled.
pub(super) fn relabel_step(ctx: &Context) -> Option<Step> {
    (ctx.is_live_system() && system::security::selinux_enabled(ctx)).then(|| Step::Relabel {
        tree: PathBuf::from(INSTALL_DIR),
    })
}

/// `128,127,126`: migration versions as `mattermost db downgrade` takes them.
pub(super) fn version_list(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A `db_migrations` head for messages: `128`, or `none` when no migration is recorded.
pub(super) fn display_head(head: Option<i64>) -> String {
    head.map_or_else(|| "none".into(), |head| head.to_string())
}

/// `a, b, c`.
pub(super) fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Values the steps share while they run.
pub(super) struct RunContext<'a> {
    pub(super) ctx: &'a Context,
    pub(super) tarball: PathBuf,
    pub(super) probe: Probe,
    pub(super) expected: Version,
    /// The version running before the operation, which an undo brings back.
    pub(super) previous: Version,
    /// What keeping the new server means, should the run be killed once it may have started.
    pub(super) keep: Keep,
    pub(super) stopped_at: Option<Instant>,
}

impl Operation for RunContext<'_> {
    type Step = Step;
    type Error = UpgradeError;

    fn description(&self, step: &Step) -> String {
        step.description()
    }

    fn undo(&self, step: &Step) -> Undo {
        step.undo()
    }

    fn starts_server(&self, step: &Step) -> Option<Keep> {
        matches!(step, Step::Start).then(|| self.keep.clone())
    }

    fn run(&mut self, step: &Step, reporter: &dyn Reporter) -> Result<(), UpgradeError> {
        let ctx = self.ctx;
        run_step(ctx, step, self, reporter)
    }

    /// Once the server was stopped, a failure must end with the previous server answering.
    fn after_undo(&mut self, ran: &[Step], reporter: &dyn Reporter) -> Result<(), UpgradeError> {
        if ran.iter().any(|step| matches!(step, Step::Stop)) {
            check_old_server(self.ctx, self, reporter)?;
        }
        Ok(())
    }
}

/// After an undo: the previous server runs and answers with the version it had.
fn check_old_server(
    ctx: &Context,
    run: &RunContext,
    reporter: &dyn Reporter,
) -> Result<(), UpgradeError> {
    if !services::is_active(ctx, "mattermost.service")? {
        return Err(SystemError::Unexpected {
            what: "mattermost.service".into(),
            detail: "is not running after the undo".into(),
        }
        .into());
    }
    // The version that ran before the operation (from the state file, or adopted): nothing
    // of the service user's runs to find out.
    health::check(&run.probe, &run.previous, HEALTH_PATIENCE, reporter)?;
    Ok(())
}

pub(super) fn run_step(
    ctx: &Context,
    step: &Step,
    run: &mut RunContext,
    reporter: &dyn Reporter,
) -> Result<(), UpgradeError> {
    let live = ctx.path(INSTALL_DIR);
    match step {
        Step::Extract { staging } => {
            // Extracted, chowned and filled in root's 0700 directory, where the service user
            // cannot reach it until SwapTrees renames it live.
            beneath::private_dir(&ctx.path(ANCHOR)).map_err(SystemError::from)?;
            let tree = crate::archive::extract_release(&run.tarball, &ctx.path(staging))?;
            // The release's own state folders are replaced by the live ones.
            for folder in STATE_FOLDERS {
                files::remove_if_exists(&tree.join(folder))?;
            }
            let ids = users::lookup(ctx, SERVICE_USER)?.ok_or_else(|| SystemError::Unexpected {
                what: format!("the user `{SERVICE_USER}`"),
                detail: "does not exist".into(),
            })?;
            // The signature covers the bytes, not the name they were published under: an older
            // signed release served as a newer one must not be swapped in. Asked while the tree
            // is still root's.
            let found = staged_version(ctx, &staging.join("mattermost"))?;
            if found != run.expected {
                return Err(UpgradeError::VersionMismatch {
                    expected: run.expected.clone(),
                    found,
                });
            }
            beneath::chown_tree(&tree, ids.uid, ids.gid).map_err(SystemError::from)?;
        }
        Step::Backup { dir } => {
            // The dump holds every post and password hash, config.json the database password:
            // root only.
            let dir = ctx.path(dir);
            fs_err::create_dir_all(&dir)?;
            for private in [ctx.path(BACKUP_DIR), dir.clone()] {
                fs_err::set_permissions(
                    &private,
                    std::os::unix::fs::PermissionsExt::from_mode(0o700),
                )?;
            }
            let config = PathBuf::from(INSTALL_DIR).join("config/config.json");
            Anchor::opt(ctx)
                .and_then(|opt| opt.copy_out(Anchor::relative(&config)?, &dir.join("config.json")))
                .map_err(SystemError::from)?;
        }
        Step::DumpDatabase { dir, from, to } => {
            let connection =
                connection(ctx, &PathBuf::from(INSTALL_DIR).join("config/config.json"))?;
            let dump = dir.join(DUMP_FILE);
            postgres::dump(ctx, &connection, &ctx.path(&dump))?;
            // Read with the server stopped: the schema the dump holds.
            let head = postgres::migrations_head(ctx, &connection)?;
            let metadata = backup::record(ctx, &dump, from, to, head)?;
            reporter.step(&format!(
                "database dump verified: {} bytes, {} tables, sha256 {}",
                metadata.size, metadata.tables, metadata.sha256
            ));
        }
        Step::Stop => {
            run.stopped_at = Some(Instant::now());
            services::systemctl(ctx, &["stop", "mattermost.service"])?;
        }
        Step::RestoreDatabase { dir, aside } => {
            let connection =
                connection(ctx, &PathBuf::from(INSTALL_DIR).join("config/config.json"))?;
            postgres::restore(ctx, &connection, &ctx.path(dir).join(DUMP_FILE), aside)?;
        }
        Step::MoveState { to, paths, .. } => move_state(ctx, to, paths)?,
        Step::SwapTrees { incoming, outgoing } => swap_trees(ctx, incoming, outgoing)?,
        Step::Relabel { tree } => system::security::relabel(ctx, &ctx.path(tree))?,
        Step::RestoreCapabilities { capabilities } => {
            let binary = live.join("bin/mattermost").display().to_string();
            system::run_checked(ctx, &CommandLine::new("setcap", &[capabilities, &binary]))?;
        }
        Step::Start => services::start(ctx, "mattermost.service")?,
        Step::Verify => {
            let healthy = health::check(&run.probe, &run.expected, HEALTH_PATIENCE, reporter)?;
            reporter.step(&format!("healthy: X-Version-Id {}", healthy.version_id));
        }
        Step::DowngradeSchema { versions, .. } => {
            system::run_checked(ctx, &downgrade_command(versions))?;
        }
        Step::GuardDatabase { .. } => {}
    }
    Ok(())
}

/// Move the state `paths` from the live tree into the tree `to`, replacing what `to` has
/// there: by descriptor, refusing any symlink on the way (the service user writes both trees).
pub(super) fn move_state(ctx: &Context, to: &Path, paths: &[PathBuf]) -> Result<(), SystemError> {
    let opt = Anchor::opt(ctx)?;
    let live = Anchor::relative(Path::new(INSTALL_DIR))?;
    let to = Anchor::relative(to)?;
    for path in paths {
        opt.remove(&to.join(path))?;
        opt.rename(&live.join(path), &to.join(path))?;
    }
    Ok(())
}

/// Move the live tree to `outgoing` and `incoming` into its place (entries of root's
/// directories, renamed by descriptor).
fn swap_trees(ctx: &Context, incoming: &Path, outgoing: &Path) -> Result<(), SystemError> {
    // A rollback has no extract step to create (or check) root's directory.
    beneath::private_dir(&ctx.path(ANCHOR))?;
    let opt = Anchor::opt(ctx)?;
    let live = Anchor::relative(Path::new(INSTALL_DIR))?;
    opt.rename(live, Anchor::relative(outgoing)?)?;
    opt.rename(Anchor::relative(incoming)?, live)?;
    Ok(())
}
