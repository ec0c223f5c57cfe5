//! Running an upgrade: fetch and verify the release, run the plan through
//! [`crate::ops::plan`], then retention of kept releases.

use super::*;

/// What a finished upgrade or rollback reports.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub from: String,
    pub to: String,
    /// From `systemctl stop` to healthy again.
    pub downtime: Duration,
    pub warnings: Vec<String>,
    /// Kept trees and backups removed by retention.
    pub pruned: Vec<String>,
}

/// Fetch, verify and run the upgrade plan.
pub fn execute_upgrade(
    ctx: &Context,
    mut plan: UpgradePlan,
    source: &TarballSource,
    client: &HttpClient,
    keyring: &Keyring,
    settings: &Settings,
    reporter: &dyn Reporter,
) -> Result<Outcome, UpgradeError> {
    let (tarball, verified) =
        crate::ops::install::obtain_release(ctx, source, &plan.target, client, keyring, reporter)?;
    if let Some(note) = check_signature_age(
        &plan.installed.installation,
        &verified,
        &plan.target.version,
    )? {
        reporter.step(&note);
    }
    // What the release really ships decides what is carried over.
    let carried = carried_paths(ctx, settings, &crate::archive::release_entries(&tarball)?)?;
    for step in &mut plan.steps {
        if let Step::MoveState { paths, .. } = step {
            if *paths != carried {
                reporter.step(&format!(
                    "decided from the downloaded release: carrying over {} (the plan said {})",
                    display_paths(&carried),
                    display_paths(paths)
                ));
                *paths = carried.clone();
            }
        }
    }
    let probe = probe_for(ctx, &plan.installed)?;
    let from = plan.installed.installation.version.clone();
    let to = plan.target.version.to_string();
    // The new release recorded, the old one kept for rollbacks: saved on success, and kept in
    // the journal for `upgrade --keep-started` once the new server may run.
    let mut state = State::load(ctx)?;
    let previous = plan.installed.installation.clone();
    state.kept.push(KeptRelease {
        installation: previous.clone(),
        tree: plan.previous_tree.display().to_string(),
        backup_dir: plan.backup_dir.display().to_string(),
        replaced_at: now_rfc3339(),
        db_migrations: plan.steps.iter().find_map(|step| match step {
            Step::GuardDatabase { db_migrations, .. } => Some(*db_migrations),
            _ => None,
        }),
    });
    state.record(Installation {
        version: to.clone(),
        edition: plan.target.edition.to_string(),
        arch: plan.target.arch.to_string(),
        installed_at: now_rfc3339(),
        tarball_sha256: verified.sha256.clone(),
        signed_by: verified.signer_fingerprint.clone(),
        signed_at: verified.signed_at.map(rfc3339),
        ..previous
    });
    if state.database.is_none() {
        let config = PathBuf::from(INSTALL_DIR).join("config/config.json");
        state.database = Some(connection(ctx, &config)?.identity().to_string());
    }
    let mut context = RunContext {
        ctx,
        tarball,
        probe,
        expected: plan.target.version.clone(),
        previous: from.parse()?,
        keep: Keep {
            state: state.clone(),
            leftovers: vec![plan.staging.clone()],
        },
        stopped_at: None,
    };
    plan::run(ctx, "upgrade", &plan.steps, &mut context, reporter).map_err(
        |failure| match failure {
            Failure::RolledBack { step, cause } => UpgradeError::RolledBack {
                installed: from.clone(),
                target: to.clone(),
                step,
                cause,
            },
            Failure::Stuck { step, cause, undo } => UpgradeError::NeedsAttention {
                operation: "upgrade".into(),
                step,
                cause,
                undo: undo.chain(),
            },
            Failure::Before(err) => err,
        },
    )?;
    let downtime = context.stopped_at.map(|t| t.elapsed()).unwrap_or_default();
    files::remove_if_exists(&ctx.path(&plan.staging))?;
    // Prune beyond `keep`.
    let retention = prune(ctx, &mut state, settings.keep, &referenced_paths(ctx))?;
    state.save(ctx)?;
    let mut warnings = verified.warnings;
    warnings.extend(retention.spared);
    Ok(Outcome {
        from,
        to,
        downtime,
        warnings,
        pruned: retention.pruned,
    })
}

/// Refuse a patch release of the installed line whose signature was made before the installed
/// release's: within one `MAJOR.MINOR` line each patch is built and signed after the one before,
/// so an older signature means an old release replayed under a newer name. Across lines the
/// order does not hold (an ESR patch is often signed after the next major's first release), so
/// there the staged binary's own version ([`staged_version`]) is the check. Returns a note when
/// the check cannot be made (the installed release's signature time was never recorded, or a
/// signature carries none).
pub(super) fn check_signature_age(
    installed: &Installation,
    verified: &Verified,
    target: &Version,
) -> Result<Option<String>, UpgradeError> {
    let same_line = installed.version.parse::<Version>().is_ok_and(|version| {
        version.triple().0 == target.triple().0 && version.triple().1 == target.triple().1
    });
    if !same_line {
        return Ok(None);
    }
    let recorded = installed
        .signed_at
        .as_deref()
        .and_then(|text| text.parse::<jiff::Timestamp>().ok());
    match (recorded, verified.signed_at) {
        (Some(installed_at), Some(signed_at)) if signed_at < installed_at => {
            Err(UpgradeError::SignedBeforeInstalled {
                target: target.clone(),
                signed_at: rfc3339(signed_at),
                installed: installed.version.clone(),
                installed_signed_at: rfc3339(installed_at),
            })
        }
        (Some(_), Some(_)) => Ok(None),
        (None, _) => Ok(Some(format!(
            "the signature time of the installed Mattermost {} is not recorded (installed before mm-install kept it), so the release's signature is not compared with it; it is recorded from now on",
            installed.version
        ))),
        (Some(_), None) => Ok(Some(format!(
            "the signature of Mattermost {target} carries no creation time, so it is not compared with the installed release's"
        ))),
    }
}

/// Every path the live config.json names, as `(setting, path on disk)`, through symlinks where
/// it exists.
pub(super) fn referenced_paths(ctx: &Context) -> Vec<(String, PathBuf)> {
    carry::config_paths(&live_config(ctx))
        .into_iter()
        .map(|(setting, path)| {
            let path = ctx.path(&path);
            (setting, fs_err::canonicalize(&path).unwrap_or(path))
        })
        .collect()
}

/// What retention did.
pub(super) struct Retention {
    /// Kept releases removed.
    pub(super) pruned: Vec<String>,
    /// Why kept releases beyond `keep` were not removed.
    pub(super) spared: Vec<String>,
}

/// Remove kept releases beyond `keep` (oldest first); never the only one, and never one that a
/// path of `referenced` (see [`referenced_paths`]) lies in.
pub(super) fn prune(
    ctx: &Context,
    state: &mut State,
    keep: usize,
    referenced: &[(String, PathBuf)],
) -> Result<Retention, UpgradeError> {
    let excess = state.kept.len().saturating_sub(keep.max(1));
    let mut retention = Retention {
        pruned: Vec::new(),
        spared: Vec::new(),
    };
    let mut spared = Vec::new();
    for old in state.kept.drain(..excess).collect::<Vec<_>>() {
        let tree = ctx.path(&old.tree);
        let tree = fs_err::canonicalize(&tree).unwrap_or(tree);
        if let Some((setting, path)) = referenced.iter().find(|(_, p)| p.starts_with(&tree)) {
            retention.spared.push(format!(
                "kept the old release {} in {} although keep = {keep}: config.json's {setting} points into it ({}); move that data into {INSTALL_DIR} and update {setting}, and the next upgrade removes it",
                old.installation.version,
                old.tree,
                path.display()
            ));
            spared.push(old);
            continue;
        }
        Anchor::opt(ctx)
            .and_then(|opt| opt.remove(Anchor::relative(Path::new(&old.tree))?))
            .map_err(SystemError::from)?;
        files::remove_if_exists(&ctx.path(&old.backup_dir))?;
        retention
            .pruned
            .push(format!("{} ({})", old.installation.version, old.tree));
    }
    state.kept.splice(0..0, spared);
    Ok(retention)
}
