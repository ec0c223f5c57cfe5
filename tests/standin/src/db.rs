//! `mattermost db …`: the database subcommands a tool drives around upgrades, after the real
//! server's `server/cmd/mattermost/commands/db.go` (mattermost/mattermost):
//!
//! - `db version [--all]` prints `Current database schema version is: N`; with `--all` one
//!   `Varsion: N, Name: NAME` line per applied migration (the real command's spelling).
//! - `db migrate [--save-plan] [--dry-run] [--auto-recover]` applies the pending migrations and
//!   prints `Database successfully migrated`; `--save-plan` first writes the plan (forward and
//!   backward SQL) to `migration_plan_<from>_<to>.json` in the working directory and says so;
//!   `--dry-run` applies nothing.
//! - `db downgrade <versions|plan file> [--dry-run]` takes, like the real command
//!   (`mattermost db downgrade 128,127,126` in Mattermost's downgrade guide; `Migrator.
//!   DowngradeMigrations` in `server/channels/store/sqlstore/migrate.go`), a comma-separated
//!   list of versions whose `down` SQL this binary carries, or the path of a plan saved by
//!   `--save-plan` whose `RevertMigrations` are applied (the stored copies of db.go predate
//!   `downgrade`, so this plan-file form follows `Migrator`'s API and the issue, not a read of
//!   the command itself). Highest version first, each with its
//!   `db_migrations` row removed in one transaction; versions not applied are skipped with a
//!   warning. Prints `Database successfully downgraded`.
//!
//! The config comes from `--config`, `MM_CONFIG` or `config/config.json`, as for the server.
//! Errors print `Error: …` and exit 1.

use std::path::Path;

use serde_json::Value;

use crate::config::{self, Config};
use crate::database;
use crate::identity::Identity;
use crate::migrations::{self, Engine, Migration};

/// Runs `db <args>`; `Err` is the message for `Error: …`.
pub fn run(identity: &Identity, args: &[String]) -> Result<(), String> {
    let (command, rest) = args
        .split_first()
        .ok_or("db needs a command: version, migrate or downgrade")?;
    let flag = |name: &str| rest.iter().any(|a| a == name);
    let positional: Vec<&String> = {
        let mut out = Vec::new();
        let mut iter = rest.iter();
        while let Some(a) = iter.next() {
            if a == "--config" || a == "-c" {
                iter.next();
            } else if !a.starts_with('-') {
                out.push(a);
            }
        }
        out
    };
    let declared = identity.migrations.as_deref().unwrap_or_default();
    let open = || -> Result<Engine, String> {
        let path = config::resolve_path(rest, std::env::var("MM_CONFIG").ok())?;
        let config = Config::load(&path, std::env::vars())?;
        Engine::open(&database::parse_data_source(&config.data_source)?)
    };
    match command.as_str() {
        "version" => {
            let mut engine = open()?;
            if flag("--all") {
                for a in engine.applied()? {
                    println!("Varsion: {}, Name: {}", a.version, a.name);
                }
            } else {
                println!(
                    "Current database schema version is: {}",
                    engine.schema_version()?
                );
            }
            Ok(())
        }
        "migrate" => {
            let mut engine = open()?;
            let pending = engine.pending(declared)?;
            if flag("--save-plan")
                && let Some(last) = pending.last()
            {
                let from = engine.schema_version()?;
                let file = format!("migration_plan_{from}_{}.json", last.version);
                let text = serde_json::to_string_pretty(&migrations::plan(&pending))
                    .map_err(|e| format!("cannot encode the plan: {e}"))?;
                fs_err::write(&file, text).map_err(|e| format!("cannot save the plan: {e}"))?;
                println!("Migration plan saved to {file}");
            }
            for m in &pending {
                if flag("--dry-run") {
                    println!("Would apply migration {} {}", m.version, m.name);
                } else {
                    engine.apply_up(m)?;
                }
            }
            println!("Database successfully migrated");
            Ok(())
        }
        "downgrade" => {
            let [target] = positional.as_slice() else {
                return Err(
                    "db downgrade takes one argument: versions (128,127) or a plan file".into(),
                );
            };
            let chosen = downgrade_targets(target, declared)?;
            let mut engine = open()?;
            let applied = engine.applied()?;
            for m in chosen {
                if !applied
                    .iter()
                    .any(|a| a.name == m.name && a.version == i64::from(m.version))
                {
                    eprintln!(
                        "could not match migration version {} ({}): not applied, skipped",
                        m.version, m.name
                    );
                } else if flag("--dry-run") {
                    println!("Would downgrade migration {} {}", m.version, m.name);
                } else {
                    engine.apply_down(&m)?;
                }
            }
            println!("Database successfully downgraded");
            Ok(())
        }
        other => Err(format!("unknown command \"{other}\" for \"mattermost db\"")),
    }
}

/// The down migrations `target` names: a plan file's reverts, or the declared migrations of a
/// comma-separated version list; highest version first.
fn downgrade_targets(target: &str, declared: &[Migration]) -> Result<Vec<Migration>, String> {
    if Path::new(target).is_file() {
        let text = fs_err::read_to_string(target).map_err(|e| e.to_string())?;
        let plan: Value = serde_json::from_str(&text)
            .map_err(|e| format!("cannot parse the plan {target}: {e}"))?;
        return migrations::reverts_from_plan(&plan).map_err(|e| format!("{target}: {e}"));
    }
    let mut chosen = Vec::new();
    for v in target.split(',') {
        let version: u32 = v
            .trim()
            .parse()
            .map_err(|_| format!("{v:?} is neither a migration version nor a plan file"))?;
        match declared.iter().find(|m| m.version == version) {
            Some(m) => chosen.push(m.clone()),
            None => eprintln!(
                "could not match migration version {version}: this binary does not carry it"
            ),
        }
    }
    chosen.sort_by_key(|m| std::cmp::Reverse(m.version));
    Ok(chosen)
}
