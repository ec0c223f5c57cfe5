//! Schema migrations after Mattermost's engine, morph (github.com/mattermost/morph): a release's
//! `standin.json` declares `migrations` ({version, name, up, down}); the server applies those not
//! yet recorded in `db_migrations` at start, and the `db` subcommands read and undo them.
//!
//! What is modelled, with its source:
//! - The table: morph's `drivers/postgres/postgres.go` `CreateSchemaTableIfNotExists` runs
//!   `CREATE TABLE IF NOT EXISTS db_migrations (version bigint not null primary key, name
//!   varchar not null)`; `Apply` runs the migration's SQL and then `INSERT INTO db_migrations
//!   (version, name) VALUES (…)` (a down migration: `DELETE FROM db_migrations WHERE (Version=…
//!   AND NAME='…')`) in one transaction.
//! - Which migrations are pending: morph's `morph.go` `computePendingMigrations` keeps the
//!   source migrations whose *name* is not among the applied ones, in order. Applied rows the
//!   binary does not know are ignored: an older server started on a newer schema starts and
//!   leaves them alone. (Its only refusal, "migration mismatch, there are more migrations applied
//!   than those were specified in source", compares the number of applied rows with the number
//!   of migration *files*, up and down, which a real binary with 100+ migrations never meets; a
//!   stand-in declaring a handful would, so that count is not modelled.)
//! - The schema version: the largest applied `version` (`mattermost db version`).
//! - A plan: morph's `models/plan.go` `Plan{Version: 1, Auto, Migrations, RevertMigrations}`,
//!   written by `db migrate --save-plan` as `migration_plan_<from>_<to>.json`
//!   (mattermost/mattermost `server/channels/store/sqlstore/migrate.go`, `GetFileName`). The
//!   entries' fields (`Bytes`, `Name`, `RawName`, `Version`, `Direction`) are Go's default JSON
//!   of morph's `models.Migration` as we understand it; the stored copy of that file is too old
//!   to confirm them.

use serde_json::{Value, json};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::database::{self, DataSource};

/// morph's `models.CurrentPlanVersion`.
pub const PLAN_VERSION: u64 = 1;

/// One declared migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    pub version: u32,
    pub name: String,
    pub up: String,
    pub down: String,
}

/// A row of `db_migrations`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub version: i64,
    pub name: String,
}

/// Parses `standin.json`'s `migrations`: an array of {version, name, up, down} with strictly
/// increasing versions.
pub fn parse(value: &Value) -> Result<Vec<Migration>, String> {
    let items = value
        .as_array()
        .ok_or("\"migrations\" must be an array of {version, name, up, down}")?;
    let mut out: Vec<Migration> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let obj = item
            .as_object()
            .ok_or_else(|| format!("migrations[{i}] must be an object"))?;
        if let Some(k) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "version" | "name" | "up" | "down"))
        {
            return Err(format!("migrations[{i}]: unknown key {k:?}"));
        }
        let version = obj
            .get("version")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v > 0)
            .ok_or_else(|| format!("migrations[{i}].version must be a positive integer"))?;
        let text = |k: &str| {
            obj.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
                .ok_or_else(|| format!("migrations[{i}].{k} must be a non-empty string"))
        };
        if let Some(prev) = out.last()
            && prev.version >= version
        {
            return Err(format!(
                "migrations[{i}].version {version} does not increase (after {})",
                prev.version
            ));
        }
        let name = text("name")?;
        if out.iter().any(|m| m.name == name) {
            return Err(format!("migrations[{i}].name {name:?} is declared twice"));
        }
        out.push(Migration {
            version,
            name,
            up: text("up")?,
            down: text("down")?,
        });
    }
    Ok(out)
}

/// A database session for the migration engine.
pub struct Engine {
    client: postgres::Client,
}

impl Engine {
    /// Connects and creates `db_migrations` if missing.
    pub fn open(ds: &DataSource) -> Result<Engine, String> {
        let mut client = database::open(ds)?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS db_migrations \
                 (version bigint not null primary key, name varchar not null)",
            )
            .map_err(|e| {
                format!(
                    "cannot create the db_migrations table: {}",
                    database::describe(&e)
                )
            })?;
        Ok(Engine { client })
    }

    /// The applied migrations, by version.
    pub fn applied(&mut self) -> Result<Vec<Applied>, String> {
        let fail =
            |e: postgres::Error| format!("cannot read db_migrations: {}", database::describe(&e));
        self.client
            .query(
                "SELECT version, name FROM db_migrations ORDER BY version",
                &[],
            )
            .map_err(fail)?
            .iter()
            .map(|row| {
                Ok(Applied {
                    version: row.try_get(0).map_err(fail)?,
                    name: row.try_get(1).map_err(fail)?,
                })
            })
            .collect()
    }

    /// The schema version: the largest applied version, 0 when none.
    pub fn schema_version(&mut self) -> Result<i64, String> {
        Ok(self.applied()?.last().map_or(0, |a| a.version))
    }

    /// The declared migrations not applied yet (matched by name, as morph does), in order.
    pub fn pending<'m>(&mut self, declared: &'m [Migration]) -> Result<Vec<&'m Migration>, String> {
        let applied = self.applied()?;
        Ok(declared
            .iter()
            .filter(|m| !applied.iter().any(|a| a.name == m.name))
            .collect())
    }

    /// Runs `up` and records the row, in one transaction.
    pub fn apply_up(&mut self, m: &Migration) -> Result<(), String> {
        self.in_transaction(
            &m.up,
            "INSERT INTO db_migrations (version, name) VALUES ($1, $2)",
            m,
        )
        .map_err(|e| format!("migration {} {} failed: {e}", m.version, m.name))
    }

    /// Runs `down` and removes the row, in one transaction.
    pub fn apply_down(&mut self, m: &Migration) -> Result<(), String> {
        self.in_transaction(
            &m.down,
            "DELETE FROM db_migrations WHERE (version=$1 AND name=$2)",
            m,
        )
        .map_err(|e| {
            format!(
                "downgrade of migration {} {} failed: {e}",
                m.version, m.name
            )
        })
    }

    /// Runs the migration's `sql`, then `record` with its version and name, committed together
    /// or not at all (morph's `Apply`).
    fn in_transaction(&mut self, sql: &str, record: &str, m: &Migration) -> Result<(), String> {
        let mut tx = self
            .client
            .transaction()
            .map_err(|e| database::describe(&e))?;
        tx.batch_execute(sql)
            .and_then(|()| tx.execute(record, &[&i64::from(m.version), &m.name]))
            .map_err(|e| database::describe(&e))?;
        tx.commit().map_err(|e| database::describe(&e))
    }
}

/// One plan entry as morph serialises a `models.Migration` (Go's default JSON: field names as
/// declared, the SQL bytes in base64).
fn plan_entry(m: &Migration, up: bool) -> Value {
    let (sql, direction) = if up { (&m.up, "up") } else { (&m.down, "down") };
    json!({
        "Bytes": B64.encode(sql.as_bytes()),
        "Name": m.name,
        "RawName": format!("{:06}_{}.{direction}.sql", m.version, m.name),
        "Version": m.version,
        "Direction": direction,
    })
}

/// The plan for `pending`: forward migrations and their reverts.
pub fn plan(pending: &[&Migration]) -> Value {
    json!({
        "Version": PLAN_VERSION,
        "Auto": false,
        "Migrations": pending.iter().map(|m| plan_entry(m, true)).collect::<Vec<_>>(),
        "RevertMigrations": pending.iter().map(|m| plan_entry(m, false)).collect::<Vec<_>>(),
    })
}

/// The down migrations of a saved plan (its `RevertMigrations`), highest version first.
pub fn reverts_from_plan(plan: &Value) -> Result<Vec<Migration>, String> {
    if plan.get("Version").and_then(Value::as_u64) != Some(PLAN_VERSION) {
        return Err("invalid plan version".into());
    }
    let entries = plan
        .get("RevertMigrations")
        .and_then(Value::as_array)
        .ok_or("the plan has no RevertMigrations")?;
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let bad = || format!("RevertMigrations[{i}] is not a migration");
        let sql = e
            .get("Bytes")
            .and_then(Value::as_str)
            .and_then(|b| B64.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        out.push(Migration {
            version: e
                .get("Version")
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(bad)?,
            name: e
                .get("Name")
                .and_then(Value::as_str)
                .ok_or_else(bad)?
                .to_string(),
            up: String::new(),
            down: sql,
        });
    }
    out.sort_by_key(|m| std::cmp::Reverse(m.version));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(version: u32, name: &str) -> Migration {
        Migration {
            version,
            name: name.into(),
            up: format!("CREATE TABLE {name} (id int)"),
            down: format!("DROP TABLE {name}"),
        }
    }

    #[test]
    fn parses_and_rejects() {
        let ok = parse(&json!([
            {"version": 1, "name": "a", "up": "CREATE TABLE a (id int)", "down": "DROP TABLE a"},
            {"version": 5, "name": "b", "up": "x", "down": "y"}
        ]))
        .unwrap();
        assert_eq!(ok[1].version, 5);
        for bad in [
            json!({}),
            json!([{"version": 0, "name": "a", "up": "x", "down": "y"}]),
            json!([{"version": 1, "name": "a", "up": "x"}]),
            json!([{"version": 1, "name": "a", "up": "x", "down": "y", "extra": 1}]),
            json!([
                {"version": 2, "name": "a", "up": "x", "down": "y"},
                {"version": 2, "name": "b", "up": "x", "down": "y"}
            ]),
            json!([
                {"version": 1, "name": "a", "up": "x", "down": "y"},
                {"version": 2, "name": "a", "up": "x", "down": "y"}
            ]),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_plan_round_trips_its_reverts_highest_first() {
        let (a, b) = (m(1, "a'quote"), m(2, "b"));
        let plan = plan(&[&a, &b]);
        assert_eq!(plan["Migrations"][0]["Direction"], "up");
        assert_eq!(plan["Migrations"][1]["RawName"], "000002_b.up.sql");
        let reverts = reverts_from_plan(&plan).unwrap();
        assert_eq!(
            reverts.iter().map(|r| r.version).collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!(reverts[1].down, "DROP TABLE a'quote");
        assert_eq!(reverts[1].name, "a'quote");
        assert!(reverts_from_plan(&json!({"Version": 2})).is_err());
    }
}
