//! Rollback to the kept release: the schema decision (`--downgrade-schema`,
//! `--restore-database`, `--binary-only`), the plan and its run through [`crate::ops::plan`].

use super::*;

/// What a rollback does when the release it restores ran on an older database schema (the
/// `rollback` flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaChoice {
    /// `--downgrade-schema`: the live release's `mattermost db downgrade`, keeping every post.
    Downgrade,
    /// `--restore-database`: the dump taken before the kept release was replaced.
    RestoreDatabase,
    /// `--binary-only`: swap the binaries onto the newer schema.
    BinaryOnly,
}

/// The database part of a rollback, decided before anything stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaDecision {
    /// The kept release ran on the live schema (or on a newer one, which it migrates to at
    /// start): nothing to do.
    Unchanged,
    /// Undo these migrations (newest first) with the live release's binary.
    Downgrade { versions: Vec<i64> },
    /// Restore the dump taken before the kept release was replaced.
    Restore,
    /// Leave these migrations applied (none listed when the kept release's schema was not
    /// recorded).
    BinaryOnly { newer: Vec<i64> },
}

/// Decide what a rollback from Mattermost `from` to the kept `to` does about the database.
/// `live`: the applied migrations, highest first ([`postgres::applied_migrations`]); `kept`:
/// the schema `to` ran on (`None`: not recorded); `choice`: the flag given, if any. Without a
/// flag a newer schema is refused ([`UpgradeError::SchemaNewer`], exit 2).
pub fn decide_schema(
    live: &[postgres::AppliedMigration],
    kept: Option<postgres::SchemaHead>,
    choice: Option<SchemaChoice>,
    from: &str,
    to: &str,
) -> Result<SchemaDecision, UpgradeError> {
    if choice == Some(SchemaChoice::RestoreDatabase) {
        return Ok(SchemaDecision::Restore);
    }
    let Some(live_head) = live.first().map(|migration| migration.version) else {
        return Ok(SchemaDecision::Unchanged);
    };
    let Some(kept) = kept else {
        return match choice {
            Some(SchemaChoice::BinaryOnly) => Ok(SchemaDecision::BinaryOnly { newer: Vec::new() }),
            _ => Err(UpgradeError::SchemaNotRecorded {
                kept: to.to_string(),
                live_head,
            }),
        };
    };
    let newer: Vec<&postgres::AppliedMigration> = live
        .iter()
        .filter(|migration| kept.head.is_none_or(|head| migration.version > head))
        .collect();
    let versions: Vec<i64> = newer.iter().map(|migration| migration.version).collect();
    if versions.is_empty() {
        return Ok(SchemaDecision::Unchanged);
    }
    match choice {
        Some(SchemaChoice::Downgrade) => Ok(SchemaDecision::Downgrade { versions }),
        Some(SchemaChoice::BinaryOnly) => Ok(SchemaDecision::BinaryOnly { newer: versions }),
        _ => Err(UpgradeError::SchemaNewer {
            from: from.to_string(),
            kept: to.to_string(),
            live_head,
            kept_head: display_head(kept.head),
            migrations: newer
                .iter()
                .map(|migration| format!("{} {}", migration.version, migration.name))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// A rollback decided before any change.
#[derive(Clone, Debug)]
pub struct RollbackPlan {
    pub installed: Installed,
    pub kept: KeptRelease,
    pub steps: Vec<Step>,
    /// The database decision in words, for the plan.
    pub database: String,
    /// What the admin must know before the rollback runs (data lost, an unsupported schema).
    pub warning: Option<String>,
    /// The live `db_migrations` head, recorded for the release being replaced.
    live: postgres::SchemaHead,
    /// Where the dump before a schema downgrade goes.
    backup_dir: Option<PathBuf>,
}

/// `2026-11-29 03:12 UTC` from an RFC 3339 time (the text as it is when it does not parse).
fn display_time(time: &str) -> String {
    time.parse::<jiff::Timestamp>()
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| time.to_string())
}

/// Plan a rollback to a kept release (`to`: a version, or the newest kept one), deciding with
/// Mattermost's `db_migrations` what happens to the database ([`decide_schema`]).
pub fn plan_rollback(
    ctx: &Context,
    to: Option<&Version>,
    choice: Option<SchemaChoice>,
    settings: &Settings,
) -> Result<RollbackPlan, UpgradeError> {
    let installed = installed(ctx)?;
    let state = State::load(ctx)?;
    let kept = match to {
        Some(version) => state
            .kept
            .iter()
            .rev()
            .find(|k| k.installation.version == version.to_string()),
        None => state.kept.last(),
    }
    .cloned()
    .ok_or_else(|| UpgradeError::NothingToRollBack {
        detail: match to {
            Some(version) => format!(
                " at version {version} (kept: {})",
                state
                    .kept
                    .iter()
                    .map(|k| k.installation.version.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => String::new(),
        },
    })?;
    // A kept tree from before 0.x may still be /opt/mattermost-X (the service user's to write):
    // its server binary must be a regular file reached without symlinks.
    let tree = PathBuf::from(&kept.tree);
    Anchor::opt(ctx)
        .and_then(|opt| opt.open_file(&Anchor::relative(&tree)?.join("bin/mattermost")))
        .map_err(|err| UpgradeError::NothingToRollBack {
            detail: format!(": the kept tree {} is unusable: {err}", tree.display()),
        })?;
    let from = installed.installation.version.clone();
    let stamp = stamp();
    let outgoing = PathBuf::from(format!("{PRIVATE_DIR}/mattermost-{from}-{stamp}"));
    let connection = connection(ctx, &PathBuf::from(INSTALL_DIR).join("config/config.json"))?;
    let live = postgres::applied_migrations(ctx, &connection)?;
    let live_head = postgres::SchemaHead {
        head: live.first().map(|migration| migration.version),
    };
    let kept_metadata = backup::metadata(ctx, Path::new(&kept.backup_dir));
    let kept_head = kept.db_migrations.or_else(|| {
        kept_metadata
            .as_ref()
            .and_then(|metadata| metadata.db_migrations)
    });
    let to_version = kept.installation.version.clone();
    let schema = decide_schema(&live, kept_head, choice, &from, &to_version)?;
    let heads = format!(
        "db_migrations at {}, Mattermost {to_version} ran on {}",
        display_head(live_head.head),
        kept_head.map_or_else(|| "an unrecorded schema".into(), |h| display_head(h.head))
    );
    // The name the replaced schema is kept under, should the database be restored.
    let aside = postgres::aside_schema();
    let (database, warning) = match &schema {
        SchemaDecision::Unchanged => (format!("database: unchanged ({heads})"), None),
        SchemaDecision::Downgrade { versions } => (
            format!(
                "database: downgraded with Mattermost {from}'s `mattermost db downgrade {}` ({heads}); every post is kept",
                version_list(versions)
            ),
            None,
        ),
        SchemaDecision::Restore => {
            let time = display_time(
                kept_metadata
                    .as_ref()
                    .map_or(&kept.replaced_at, |metadata| &metadata.time),
            );
            (
                format!(
                    "database: restored from {}/{DUMP_FILE}, taken at {time} ({heads})",
                    kept.backup_dir
                ),
                Some(format!(
                    "the database goes back to its dump of {time} (before the upgrade from {to_version}): every post, user and setting written since {time} is LOST to the server (kept in the schema {aside} until you drop it)"
                )),
            )
        }
        SchemaDecision::BinaryOnly { newer } => (
            format!("database: left as it is ({heads})"),
            Some(format!(
                "Mattermost {to_version} will run on a schema {from} migrated{}: Mattermost does not support this, and {to_version} may fail or misbehave; `rollback --downgrade-schema` is the supported way",
                if newer.is_empty() {
                    String::new()
                } else {
                    format!(" (migrations {} stay applied)", version_list(newer))
                }
            )),
        ),
    };
    let backup_dir = matches!(schema, SchemaDecision::Downgrade { .. }).then(|| {
        PathBuf::from(BACKUP_DIR).join(format!("{stamp}-{from}-rollback-to-{to_version}"))
    });
    let mut steps = Vec::new();
    if let Some(dir) = &backup_dir {
        steps.push(Step::Backup { dir: dir.clone() });
    }
    steps.push(Step::Stop);
    match (&schema, &backup_dir) {
        (SchemaDecision::Restore, _) => steps.push(Step::RestoreDatabase {
            dir: PathBuf::from(&kept.backup_dir),
            aside: aside.clone(),
        }),
        (SchemaDecision::Downgrade { versions }, Some(dir)) => steps.extend([
            Step::DumpDatabase {
                dir: dir.clone(),
                from: from.clone(),
                to: to_version.clone(),
            },
            Step::GuardDatabase {
                dir: dir.clone(),
                db_migrations: live_head,
                database: connection.identity().to_string(),
            },
            Step::DowngradeSchema {
                from: from.clone(),
                versions: versions.clone(),
            },
        ]),
        _ => {}
    }
    steps.push(Step::MoveState {
        to: tree.clone(),
        paths: carried_paths(ctx, settings, &entry_names(&ctx.path(&tree))?)?,
        config_backup: None,
    });
    steps.push(Step::SwapTrees {
        incoming: tree,
        outgoing,
    });
    steps.extend(relabel_step(ctx));
    steps.extend([Step::Start, Step::Verify]);
    Ok(RollbackPlan {
        installed,
        kept,
        steps,
        database,
        warning,
        live: live_head,
        backup_dir,
    })
}

/// Run a planned rollback and record it.
pub fn execute_rollback(
    ctx: &Context,
    plan: RollbackPlan,
    reporter: &dyn Reporter,
) -> Result<Outcome, UpgradeError> {
    let RollbackPlan {
        installed,
        kept,
        steps,
        live,
        backup_dir,
        ..
    } = plan;
    let probe = probe_for(ctx, &installed)?;
    let expected: Version = kept.installation.version.parse()?;
    let from = installed.installation.version.clone();
    // The kept release recorded as current, the replaced one kept: saved on success, and kept
    // in the journal for `upgrade --keep-started` once the older server may run.
    let outgoing = steps.iter().find_map(|s| match s {
        Step::SwapTrees { outgoing, .. } => Some(outgoing.display().to_string()),
        _ => None,
    });
    let mut state = State::load(ctx)?;
    state.kept.retain(|k| k.tree != kept.tree);
    if let Some(current) = state.current.take() {
        state.kept.push(KeptRelease {
            installation: current.clone(),
            tree: outgoing.unwrap_or_default(),
            // The dump taken before a schema downgrade holds this release's database.
            backup_dir: backup_dir
                .map_or_else(|| kept.backup_dir.clone(), |dir| dir.display().to_string()),
            replaced_at: now_rfc3339(),
            db_migrations: Some(live),
        });
        state.history.push(current);
    }
    state.current = Some(Installation {
        installed_at: now_rfc3339(),
        ..kept.installation.clone()
    });
    let mut run = RunContext {
        ctx,
        tarball: PathBuf::new(),
        probe,
        expected,
        previous: from.parse()?,
        keep: Keep {
            state: state.clone(),
            leftovers: Vec::new(),
        },
        stopped_at: None,
    };
    plan::run(ctx, "rollback", &steps, &mut run, reporter).map_err(|failure| match failure {
        Failure::RolledBack { step, cause } => UpgradeError::RollbackUndone {
            installed: from.clone(),
            step,
            cause,
        },
        Failure::Stuck { step, cause, undo } => UpgradeError::NeedsAttention {
            operation: "rollback".into(),
            step,
            cause,
            undo: undo.chain(),
        },
        Failure::Before(err) => err,
    })?;
    let downtime = run.stopped_at.map(|t| t.elapsed()).unwrap_or_default();
    state.save(ctx)?;
    // The replaced schema may hold the only copy of what was written since the backup: kept,
    // with the SQL that drops it (docs/upgrade.md, "Restoring the database").
    let mut warnings = Vec::new();
    if let Some(aside) = steps.iter().find_map(|s| match s {
        Step::RestoreDatabase { aside, .. } => Some(aside),
        _ => None,
    }) {
        let config = PathBuf::from(INSTALL_DIR).join("config/config.json");
        let database = connection(ctx, &config)
            .map(|c| c.identity().to_string())
            .unwrap_or_else(|_| "Mattermost's database".into());
        warnings.push(crate::journal::kept_schema_note(aside, &database));
    }
    Ok(Outcome {
        from,
        to: kept.installation.version,
        downtime,
        warnings,
        pruned: Vec::new(),
    })
}
