//! Operations as journaled transactions (rustup's `transaction.rs` is the model): before each
//! change to the server, the way to undo it is written to `/var/lib/mm-install/journal.json`
//! and fsync'd; after it, the step is marked done. A failed operation undoes its recorded steps
//! in reverse. A run that was killed leaves the journal behind, and the next run of any command
//! finds it and undoes the unfinished operation before doing anything else, with one exception:
//! once an operation has recorded that it starts the new server ([`Transaction::server_starts`]),
//! that server may have written to the database, so recovery changes nothing on its own and asks
//! the operator ([`JournalError::ServerStarted`], exit 10); undoing it then takes their explicit
//! [`Recovery::RestoreDatabase`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::exit::{Diagnostic, ExitCode};
use crate::host::PackageManager;
use crate::layout::JOURNAL_PATH;
use crate::report::Reporter;
use crate::system::beneath::Anchor;
use crate::system::{self, SystemError, files};

/// How often an undo tries to start the previous server again before giving up.
const START_ATTEMPTS: u32 = 3;

/// The one command that undoes an interrupted operation whose new server had started,
/// restoring the database from the operation's dump.
pub const RESTORE_COMMAND: &str = "mm-install rollback --restore-database --yes";
/// The command that keeps an interrupted operation's started server and records it as done.
pub const KEEP_COMMAND: &str = "mm-install upgrade --keep-started";

/// How to take one change back. Paths are system paths, resolved under the root at undo time.
/// Every undo is idempotent: undoing a change that never happened is harmless.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "snake_case")]
pub enum Undo {
    /// Nothing to undo (a check, or a change undone by a later step's undo).
    Nothing,
    /// Remove a file, symlink or directory tree that the step created.
    RemovePath { path: PathBuf },
    /// Remove a directory the step may have created, if it is empty (a shared one, such as
    /// root's `/opt/.mm-install`, stays while it holds anything).
    RemoveEmptyDir { path: PathBuf },
    /// Put back a file the step replaced: `backup: Some(b)` means the file existed and `b` is
    /// moved back over it if the step got as far as making `b`; `backup: None` means there was
    /// no file before, so it is removed.
    RestoreFile {
        path: PathBuf,
        backup: Option<PathBuf>,
    },
    /// Remove the system user and group the step created.
    RemoveUser { name: String },
    /// Remove the packages the step installed.
    RemovePackages {
        manager: PackageManager,
        packages: Vec<String>,
    },
    /// Drop the database the step created.
    DropDatabase { name: String },
    /// Drop the role the step created.
    DropRole { name: String },
    /// Put a role's previous password (hash) back.
    RestoreRolePassword { role: String, hash: Option<String> },
    /// Run `systemctl <args>` (e.g. `disable mattermost.service`, `stop …`, `daemon-reload`);
    /// `--root DIR` is added when the context acts on an image.
    Systemctl { args: Vec<String> },
    /// `dnf module reset -y <module>`: forget a module stream the step enabled.
    DnfModuleReset { module: String },
    /// Start a service again (clearing systemd's start rate limit first).
    StartService { unit: String },
    /// Set an SELinux boolean back.
    SelinuxBoolean { name: String, on: bool },
    /// Remove the SELinux label rule for `<install_dir>/bin`.
    SelinuxUnlabel { install_dir: String },
    /// Close a firewalld service again.
    FirewallClose { service: String },
    /// Move `from` back to `to` (if `from` exists and `to` does not); both below `/opt`, moved
    /// by descriptor without following symlinks ([`system::beneath`]).
    Rename { from: PathBuf, to: PathBuf },
    /// Put a copy of `from` (a file root owns) at `to` (below `/opt`, if `from` exists):
    /// written beside it and renamed over it, replacing a symlink rather than following it,
    /// with `to`'s owner.
    CopyFile { from: PathBuf, to: PathBuf },
    /// Restore the database from `dump` (connection from `config`'s DataSource, which must
    /// still name `database` when recorded), unless Mattermost's `db_migrations` is still at
    /// `unless_db_migrations` (no migration ran or was undone since: nothing to undo then).
    /// The replaced schema is kept as `aside` (a fresh name when none was recorded); a schema
    /// of that name already there means the restore was done.
    RestoreDatabase {
        dump: PathBuf,
        config: PathBuf,
        #[serde(default)]
        database: Option<String>,
        #[serde(default)]
        unless_db_migrations: Option<system::postgres::SchemaHead>,
        /// Read from journals written before mm-install read `db_migrations`, whose guard held
        /// a home-made schema fingerprint instead. Such a guard was journaled before the new
        /// server started (a run killed later is never undone on its own), so the schema it
        /// guards cannot have changed: it restores nothing unless the operator forces the
        /// database back.
        #[serde(default, rename = "unless_fingerprint", skip_serializing)]
        legacy_fingerprint: Option<String>,
        #[serde(default)]
        aside: Option<String>,
    },
    /// Take back a restore that kept the replaced schema as `aside`: if `aside` exists, the
    /// restored `public` is dropped and `aside` renamed back to `public`
    /// ([`system::postgres::put_back`]).
    UnrestoreDatabase { config: PathBuf, aside: String },
    /// Write PostgreSQL's `pg_hba.conf` back to `content` (if it differs) and reload the server.
    /// `path` is the server's own (`SHOW hba_file`), not resolved under the root.
    RestorePgHba { path: PathBuf, content: String },
    /// Several undos, applied in the order given.
    Many { undos: Vec<Undo> },
}

impl Undo {
    /// Take the change back. `force_database`: the operator asked for the database dump, so a
    /// [`Undo::RestoreDatabase`] restores it even if the schema looks unchanged.
    /// The restore of a database tells `reporter` where the schema it replaced is kept.
    pub fn apply(
        &self,
        ctx: &Context,
        force_database: bool,
        reporter: &dyn Reporter,
    ) -> Result<(), SystemError> {
        match self {
            Undo::Nothing => Ok(()),
            Undo::RemovePath { path } => Ok(files::remove_if_exists(&ctx.path(path))?),
            Undo::RemoveEmptyDir { path } => match fs_err::remove_dir(ctx.path(path)) {
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::DirectoryNotEmpty
                    ) =>
                {
                    Ok(())
                }
                other => Ok(other?),
            },
            Undo::RestoreFile { path, backup } => match backup {
                Some(backup) if ctx.path(backup).exists() => {
                    Ok(fs_err::rename(ctx.path(backup), ctx.path(path))?)
                }
                Some(_) => Ok(()),
                None => Ok(files::remove_if_exists(&ctx.path(path))?),
            },
            Undo::RemoveUser { name } => system::users::remove_system_user(ctx, name),
            Undo::RemovePackages { manager, packages } => {
                system::packages::remove(ctx, *manager, packages)
            }
            Undo::DropDatabase { name } => system::postgres::drop_database(ctx, name),
            Undo::DropRole { name } => system::postgres::drop_role(ctx, name),
            Undo::RestoreRolePassword { role, hash } => {
                system::postgres::set_role_password(ctx, role, hash.as_deref())
            }
            Undo::Systemctl { args } => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                system::services::systemctl(ctx, &args)
            }
            Undo::DnfModuleReset { module } => system::run_checked(
                ctx,
                &crate::context::CommandLine::new("dnf", &["module", "reset", "-y", module]),
            )
            .map(drop),
            Undo::StartService { unit } => {
                // Bringing the previous server back must not give up on a transient failure
                // (a database still restarting, a slow disk): try a few times.
                let mut attempt = 1;
                loop {
                    match system::services::start(ctx, unit) {
                        Ok(()) => return Ok(()),
                        Err(err) if attempt >= START_ATTEMPTS => return Err(err),
                        Err(_) => {
                            attempt += 1;
                            std::thread::sleep(std::time::Duration::from_secs(2));
                        }
                    }
                }
            }
            Undo::SelinuxBoolean { name, on } => {
                system::security::set_selinux_boolean(ctx, name, *on)
            }
            Undo::SelinuxUnlabel { install_dir } => {
                system::security::unlabel_binaries(ctx, install_dir)
            }
            Undo::FirewallClose { service } => {
                system::security::set_firewall_service(ctx, service, false)
            }
            Undo::Rename { from, to } => {
                let opt = Anchor::opt(ctx)?;
                let (from, to) = (Anchor::relative(from)?, Anchor::relative(to)?);
                if opt.exists(from)? && !opt.exists(to)? {
                    opt.rename(from, to)?;
                }
                Ok(())
            }
            Undo::CopyFile { from, to } => {
                if ctx.path(from).exists() {
                    Anchor::opt(ctx)?.restore(Anchor::relative(to)?, &ctx.path(from))?;
                }
                Ok(())
            }
            Undo::RestoreDatabase {
                dump,
                config,
                database,
                unless_db_migrations,
                legacy_fingerprint,
                aside,
            } => {
                if legacy_fingerprint.is_some() && !force_database {
                    return Ok(());
                }
                let unless_db_migrations = unless_db_migrations.filter(|_| !force_database);
                let connection = system::postgres::connection_from_config(ctx, config)?;
                if let Some(recorded) = database.as_deref().filter(|d| *d != connection.identity())
                {
                    return Err(SystemError::Unexpected {
                        what: format!("the database config.json names, {}", connection.identity()),
                        detail: format!(
                            "is not {recorded}, the one backed up before the change; restore {} by hand if you are sure",
                            dump.display()
                        ),
                    });
                }
                // A restore of an interrupted undo may still run: ended before anything is read.
                system::postgres::end_running_restores(ctx, &connection)?;
                if let Some(expected) = unless_db_migrations {
                    if system::postgres::migrations_head(ctx, &connection)? == expected.head {
                        return Ok(());
                    }
                }
                let aside = match aside {
                    // Restored already, by an undo that was interrupted before it was recorded.
                    Some(aside) if system::postgres::schema_exists(ctx, &connection, aside)? => {
                        return Ok(());
                    }
                    Some(aside) => aside.clone(),
                    None => system::postgres::aside_schema(),
                };
                system::postgres::restore(ctx, &connection, &ctx.path(dump), &aside)?;
                reporter.warn(&kept_schema_note(&aside, connection.identity()));
                Ok(())
            }
            Undo::UnrestoreDatabase { config, aside } => {
                let connection = system::postgres::connection_from_config(ctx, config)?;
                system::postgres::put_back(ctx, &connection, aside).map(drop)
            }
            Undo::RestorePgHba { path, content } => {
                if fs_err::read_to_string(path)? != *content {
                    fs_err::write(path, content)?;
                    system::postgres::reload(ctx)?;
                }
                Ok(())
            }
            Undo::Many { undos } => undos
                .iter()
                .try_for_each(|undo| undo.apply(ctx, force_database, reporter)),
        }
    }
}

/// What a restore that replaced a schema tells the operator: where the replaced data is kept
/// and the exact SQL that drops it once it is not needed.
pub fn kept_schema_note(aside: &str, database: &str) -> String {
    format!(
        "the database schema the restore replaced is kept as `{aside}` in {database} (it holds what was there before the restore); once you are sure you do not need it: `DROP SCHEMA {aside} CASCADE;`"
    )
}

/// One recorded step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub description: String,
    pub undo: Undo,
    /// `false` while the step runs: it may have been half done when the process died.
    pub done: bool,
}

/// The journal file's content.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Journal {
    /// `install`, `upgrade`, `rollback`.
    pub operation: String,
    /// The process that wrote it, for messages.
    pub pid: u32,
    pub entries: Vec<Entry>,
    /// Set (and fsync'd) just before the operation starts the new server: from then on that
    /// server may have written to the database, and recovery no longer undoes on its own.
    #[serde(default)]
    pub server_started: bool,
    /// What keeping that server means, recorded with `server_started`.
    #[serde(default)]
    pub keep: Option<Keep>,
}

/// How to keep an operation whose new server started, instead of undoing it: the state file
/// the operation would have recorded on success, and what it would have cleaned up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keep {
    pub state: crate::state::State,
    /// Paths (system paths) to remove, e.g. the emptied staging directory.
    pub leftovers: Vec<PathBuf>,
}

impl Journal {
    /// The database dumps the recorded undos would restore.
    fn dumps(&self) -> Vec<PathBuf> {
        fn collect(undo: &Undo, dumps: &mut Vec<PathBuf>) {
            match undo {
                Undo::RestoreDatabase { dump, .. } => dumps.push(dump.clone()),
                Undo::Many { undos } => undos.iter().for_each(|u| collect(u, dumps)),
                _ => {}
            }
        }
        let mut dumps = Vec::new();
        self.entries
            .iter()
            .for_each(|entry| collect(&entry.undo, &mut dumps));
        dumps
    }
}

/// What recovery may do with an interrupted operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// Undo it only if its new server never started; otherwise stop with
    /// [`JournalError::ServerStarted`].
    Automatic,
    /// The operator asked (`mm-install rollback --restore-database`): undo it in any case,
    /// restoring the database from its dump.
    RestoreDatabase,
    /// The operator asked (`mm-install upgrade --keep-started`): if its new server started,
    /// keep it and record the operation as done; otherwise undo it as usual.
    KeepNewServer,
}

/// How an interrupted operation was settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// `install`, `upgrade`, `rollback`.
    pub operation: String,
    /// Its new server had started, so the database was restored from its dump too.
    pub database_restored: bool,
    /// Its new server had started and was kept: the operation was recorded as done.
    pub kept: bool,
}

/// What can go wrong with the journal itself or with undoing.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot write the journal {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the journal {path} is unreadable: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("undoing the {operation} failed; the server needs manual attention:\n{failures}")]
    UndoFailed { operation: String, failures: String },
    #[error(
        "an earlier {operation} (pid {pid}) was interrupted after it started the new server, which may have written to the database since; nothing was undone\n{state}"
    )]
    ServerStarted {
        operation: String,
        pid: u32,
        /// What the server and database look like now, one line each.
        state: String,
    },
}

impl Diagnostic for JournalError {
    fn exit_code(&self) -> ExitCode {
        match self {
            JournalError::UndoFailed { .. } | JournalError::ServerStarted { .. } => {
                ExitCode::ManualAttention
            }
            _ => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            JournalError::UndoFailed { .. } => Some(format!(
                "fix each listed step by hand; {JOURNAL_PATH} still lists what is left, and the next mm-install run retries it"
            )),
            JournalError::Corrupt { path, .. } => Some(format!(
                "inspect {path}; move it away once the server is in a known state"
            )),
            JournalError::ServerStarted { operation, .. } => Some(format!(
                "every mm-install run stops here until you decide. To put everything back as it was before the {operation}, database included (data written since is lost to the server, kept aside in a schema `mm_install_replaced_<time>` until you drop it): `{RESTORE_COMMAND}`. To keep the new server instead (check that it works first): `{KEEP_COMMAND}`"
            )),
            JournalError::Write { .. } => None,
        }
    }
}

/// An operation in progress.
pub struct Transaction<'a> {
    ctx: &'a Context,
    journal: Journal,
}

impl<'a> Transaction<'a> {
    /// Start `operation`. The caller has already run [`recover`], so no journal exists.
    pub fn begin(ctx: &'a Context, operation: &str) -> Result<Self, JournalError> {
        let transaction = Transaction {
            ctx,
            journal: Journal {
                operation: operation.to_string(),
                pid: std::process::id(),
                entries: Vec::new(),
                server_started: false,
                keep: None,
            },
        };
        transaction.save()?;
        Ok(transaction)
    }

    /// Run one change: record `undo` first, then `run`, then mark the step done. If `run`
    /// fails its undo stays recorded (the step may be half done) and the error is returned;
    /// the caller then calls [`Transaction::rollback`].
    pub fn step<T, E>(
        &mut self,
        reporter: &dyn Reporter,
        description: &str,
        undo: Undo,
        run: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, StepError<E>> {
        reporter.step(description);
        self.journal.entries.push(Entry {
            description: description.to_string(),
            undo,
            done: false,
        });
        self.save().map_err(StepError::Journal)?;
        let value = run().map_err(StepError::Step)?;
        if let Some(entry) = self.journal.entries.last_mut() {
            entry.done = true;
        }
        self.save().map_err(StepError::Journal)?;
        Ok(value)
    }

    /// Record that the next step starts the new server, and how to keep it. Call it before that
    /// step is journaled: a run killed from here on leaves the decision to the operator.
    pub fn server_starts(&mut self, keep: Keep) -> Result<(), JournalError> {
        self.journal.server_started = true;
        self.journal.keep = Some(keep);
        self.save()
    }

    /// Undo every recorded step in reverse and remove the journal. This run watched its own
    /// steps fail, so it undoes them all (a database only if its schema changed).
    pub fn rollback(self, reporter: &dyn Reporter) -> Result<(), JournalError> {
        undo_all(self.ctx, self.journal, false, reporter)
    }

    /// Keep every change: the operation is complete.
    pub fn commit(self) -> Result<(), JournalError> {
        remove_journal(self.ctx)
    }

    fn save(&self) -> Result<(), JournalError> {
        save(self.ctx, &self.journal)
    }
}

/// A step failed, or the journal could not record it.
#[derive(Debug)]
pub enum StepError<E> {
    Step(E),
    Journal(JournalError),
}

fn save(ctx: &Context, journal: &Journal) -> Result<(), JournalError> {
    let path = ctx.path(JOURNAL_PATH);
    let write_error = |source| JournalError::Write {
        path: path.display().to_string(),
        source,
    };
    let text = serde_json::to_vec_pretty(journal)
        .map_err(|err| write_error(std::io::Error::other(err)))?;
    files::write_atomic(&path, &text, 0o600).map_err(write_error)
}

fn remove_journal(ctx: &Context) -> Result<(), JournalError> {
    let path = ctx.path(JOURNAL_PATH);
    files::remove_if_exists(&path).map_err(|source| JournalError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Undo `journal`'s steps in reverse, keeping the journal up to date so an interrupted undo is
/// resumed by the next run; remove it when everything is undone.
fn undo_all(
    ctx: &Context,
    mut journal: Journal,
    force_database: bool,
    reporter: &dyn Reporter,
) -> Result<(), JournalError> {
    let mut failures = Vec::new();
    // Steps whose undo failed, latest first; they stay in the journal for a later retry.
    let mut failed: Vec<Entry> = Vec::new();
    while let Some(entry) = journal.entries.pop() {
        if entry.undo != Undo::Nothing {
            reporter.step(&format!("undoing: {}", entry.description));
        }
        if let Err(err) = entry.undo.apply(ctx, force_database, reporter) {
            failures.push(format!(
                "- {}: {}",
                entry.description,
                crate::exit::Chain(&err)
            ));
            failed.push(entry);
        }
        let mut remaining = journal.clone();
        remaining.entries.extend(failed.iter().rev().cloned());
        save(ctx, &remaining)?;
    }
    if failures.is_empty() {
        remove_journal(ctx)
    } else {
        Err(JournalError::UndoFailed {
            operation: journal.operation,
            failures: failures.join("\n"),
        })
    }
}

/// The journal an earlier run left (it was killed, or its undo failed), if any. Reads only.
fn read_journal(ctx: &Context) -> Result<Option<Journal>, JournalError> {
    let path = ctx.path(JOURNAL_PATH);
    let corrupt = |reason: String| JournalError::Corrupt {
        path: path.display().to_string(),
        reason,
    };
    let text = match fs_err::read(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(corrupt(err.to_string())),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|err| corrupt(err.to_string()))
}

/// The name of the operation an earlier run left unfinished, without undoing anything (for
/// `--dry-run`, which changes nothing). The caller holds the lock, at least shared.
pub fn pending(ctx: &Context) -> Result<Option<String>, JournalError> {
    Ok(read_journal(ctx)?.map(|journal| journal.operation))
}

/// If an earlier run left a journal (it was killed, or its undo failed), undo what it recorded,
/// unless its new server had started and the operator did not ask for
/// [`Recovery::RestoreDatabase`]: then nothing changes and the error says what state the server
/// is in. Returns the interrupted operation when there was one. The caller holds the lock
/// exclusively: undoing another run's operation while it still runs would tear it apart.
pub fn recover(
    ctx: &Context,
    recovery: Recovery,
    reporter: &dyn Reporter,
) -> Result<Option<Recovered>, JournalError> {
    let Some(journal) = read_journal(ctx)? else {
        return Ok(None);
    };
    let operation = journal.operation.clone();
    let database_restored = journal.server_started;
    if journal.server_started {
        match (recovery, &journal.keep) {
            (Recovery::RestoreDatabase, _) => {}
            (Recovery::KeepNewServer, Some(keep)) => {
                reporter.warn(&format!(
                    "an earlier {operation} (pid {}) was interrupted after it started the new server; keeping that server as asked",
                    journal.pid
                ));
                keep_new_server(ctx, keep)?;
                return Ok(Some(Recovered {
                    operation,
                    database_restored: false,
                    kept: true,
                }));
            }
            (Recovery::Automatic | Recovery::KeepNewServer, _) => {
                return Err(JournalError::ServerStarted {
                    state: describe(ctx, &journal),
                    operation,
                    pid: journal.pid,
                });
            }
        }
    }
    reporter.warn(&format!(
        "an earlier {operation} (pid {}) did not finish; undoing its {} recorded step(s) first{}",
        journal.pid,
        journal.entries.len(),
        if database_restored {
            ", restoring the database from its dump as asked"
        } else {
            ""
        }
    ));
    undo_all(ctx, journal, database_restored, reporter)?;
    Ok(Some(Recovered {
        operation,
        database_restored,
        kept: false,
    }))
}

/// Record the interrupted operation as done: its state file, its clean-up, no journal.
fn keep_new_server(ctx: &Context, keep: &Keep) -> Result<(), JournalError> {
    let write_error = |path: String, source| JournalError::Write { path, source };
    keep.state.save(ctx).map_err(|source| {
        write_error(
            ctx.path(crate::layout::STATE_PATH).display().to_string(),
            source,
        )
    })?;
    for leftover in &keep.leftovers {
        let path = ctx.path(leftover);
        files::remove_if_exists(&path)
            .map_err(|source| write_error(path.display().to_string(), source))?;
    }
    remove_journal(ctx)
}

/// The state an interrupted operation left, for the operator: the service, the database, and
/// the recorded steps (done, or possibly half done).
fn describe(ctx: &Context, journal: &Journal) -> String {
    let service = match system::services::is_active(ctx, "mattermost.service") {
        Ok(true) => "running".to_string(),
        Ok(false) => "NOT running".to_string(),
        Err(err) => format!("unknown ({err})"),
    };
    let dumps = journal.dumps();
    let database = if dumps.is_empty() {
        format!(
            "as the {} and the server left it (no dump of it was made)",
            journal.operation
        )
    } else {
        format!(
            "as the new server left it (possibly migrated, with data written since); the dump made before the {} is {}",
            journal.operation,
            dumps
                .iter()
                .map(|d| ctx.path(d).display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut text = format!("  mattermost.service: {service}\n  database: {database}\n");
    text.push_str(&format!(
        "  steps recorded in {JOURNAL_PATH} (all kept as they are):\n"
    ));
    for entry in &journal.entries {
        text.push_str(&format!(
            "    - {}{}\n",
            entry.description,
            if entry.done {
                ""
            } else {
                " (may be half done)"
            }
        ));
    }
    text.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Silent;

    fn ctx() -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(dir.path());
        (dir, ctx)
    }

    #[test]
    fn undos_in_the_service_users_tree_never_follow_its_symlinks() {
        let (_dir, ctx) = ctx();
        let config = ctx.path("/opt/mattermost/config/config.json");
        fs_err::create_dir_all(config.parent().unwrap()).unwrap();
        let victim = ctx.path("/etc/victim");
        fs_err::create_dir_all(victim.parent().unwrap()).unwrap();
        fs_err::write(&victim, "victim").unwrap();
        std::os::unix::fs::symlink(&victim, &config).unwrap();
        let backup = PathBuf::from("/var/lib/mm-install/backups/x/config.json");
        fs_err::create_dir_all(ctx.path(&backup).parent().unwrap()).unwrap();
        fs_err::write(ctx.path(&backup), "backup").unwrap();
        Undo::CopyFile {
            from: backup,
            to: "/opt/mattermost/config/config.json".into(),
        }
        .apply(&ctx, false, &crate::report::Silent)
        .unwrap();
        assert_eq!(fs_err::read_to_string(&victim).unwrap(), "victim");
        assert!(fs_err::symlink_metadata(&config).unwrap().is_file());
        assert_eq!(fs_err::read_to_string(&config).unwrap(), "backup");
        // A kept tree swapped for a link to /etc: nothing behind it is moved out of /etc, and
        // moving into it is refused.
        std::os::unix::fs::symlink(victim.parent().unwrap(), ctx.path("/opt/kept")).unwrap();
        Undo::Rename {
            from: "/opt/kept/victim".into(),
            to: "/opt/mattermost/victim".into(),
        }
        .apply(&ctx, false, &crate::report::Silent)
        .unwrap();
        assert!(!ctx.path("/opt/mattermost/victim").exists());
        let err = Undo::Rename {
            from: "/opt/mattermost/config/config.json".into(),
            to: "/opt/kept/config.json".into(),
        }
        .apply(&ctx, false, &crate::report::Silent)
        .unwrap_err();
        assert!(
            err.to_string().ends_with(
                "opt/kept is a symlink; mm-install never follows links inside /opt/mattermost"
            ),
            "{err}"
        );
        assert_eq!(fs_err::read_to_string(&victim).unwrap(), "victim");
        assert!(!ctx.path("/etc/config.json").exists());
        assert!(config.exists());
    }

    #[test]
    fn a_failed_operation_undoes_its_steps_in_reverse() {
        let (dir, ctx) = ctx();
        let mut tx = Transaction::begin(&ctx, "install").unwrap();
        let created = dir.path().join("opt/mattermost");
        tx.step(
            &Silent,
            "create the tree",
            Undo::RemovePath {
                path: "/opt/mattermost".into(),
            },
            || fs_err::create_dir_all(&created),
        )
        .unwrap();
        let file = dir.path().join("etc/app.conf");
        fs_err::create_dir_all(file.parent().unwrap()).unwrap();
        fs_err::write(&file, "original").unwrap();
        let backup = files::backup(&file).unwrap();
        let undo = Undo::RestoreFile {
            path: "/etc/app.conf".into(),
            backup: Some(backup.strip_prefix(dir.path()).unwrap().to_path_buf()),
        };
        tx.step(&Silent, "edit the config", undo, || {
            fs_err::write(&file, "changed")
        })
        .unwrap();
        let failed: Result<(), StepError<&str>> =
            tx.step(&Silent, "a step that fails", Undo::Nothing, || Err("boom"));
        assert!(matches!(failed, Err(StepError::Step("boom"))));
        tx.rollback(&Silent).unwrap();
        assert!(!created.exists());
        assert_eq!(fs_err::read_to_string(&file).unwrap(), "original");
        assert!(!ctx.path(JOURNAL_PATH).exists());
    }

    #[test]
    fn a_journal_left_by_a_killed_run_is_undone_by_the_next_run() {
        let (dir, ctx) = ctx();
        let mut tx = Transaction::begin(&ctx, "install").unwrap();
        let created = dir.path().join("opt/mattermost");
        tx.step(
            &Silent,
            "create",
            Undo::RemovePath {
                path: "/opt/mattermost".into(),
            },
            || fs_err::create_dir_all(&created),
        )
        .unwrap();
        std::mem::forget(tx); // the process "dies" here
        assert!(created.exists());
        let journal = fs_err::read(ctx.path(JOURNAL_PATH)).unwrap();
        assert_eq!(pending(&ctx).unwrap().as_deref(), Some("install"));
        assert_eq!(
            fs_err::read(ctx.path(JOURNAL_PATH)).unwrap(),
            journal,
            "pending() only reads"
        );
        assert!(created.exists(), "pending() undoes nothing");
        let recovered = recover(&ctx, Recovery::Automatic, &Silent).unwrap();
        assert_eq!(
            recovered,
            Some(Recovered {
                operation: "install".into(),
                database_restored: false,
                kept: false,
            })
        );
        assert_eq!(pending(&ctx).unwrap(), None);
        assert!(!created.exists());
        assert_eq!(recover(&ctx, Recovery::Automatic, &Silent).unwrap(), None);
    }

    #[test]
    fn once_the_new_server_started_recovery_changes_nothing_without_the_operator() {
        use std::sync::Arc;
        let (dir, ctx) = ctx();
        let runner = Arc::new(crate::system::fake::FakeRunner::default());
        runner.answer("systemctl is-active", 0, "active\n");
        let ctx = ctx.with_runner(runner.clone());
        let staging = dir.path().join("opt/staging");
        let mut tx = Transaction::begin(&ctx, "upgrade").unwrap();
        tx.step(
            &Silent,
            "extract",
            Undo::RemovePath {
                path: "/opt/staging".into(),
            },
            || fs_err::create_dir_all(&staging),
        )
        .unwrap();
        let guard = Undo::RestoreDatabase {
            dump: "/var/lib/mm-install/backups/x/database.dump".into(),
            config: "/opt/mattermost/config/config.json".into(),
            database: None,
            unless_db_migrations: Some(crate::system::postgres::SchemaHead { head: Some(1) }),
            legacy_fingerprint: None,
            aside: None,
        };
        tx.step(&Silent, "remember the schema", guard, || Ok::<_, ()>(()))
            .unwrap();
        let keep = Keep {
            state: crate::state::State::default(),
            leftovers: vec!["/opt/staging".into()],
        };
        tx.server_starts(keep).unwrap();
        let start = Undo::Systemctl {
            args: vec!["stop".into(), "mattermost.service".into()],
        };
        tx.step(&Silent, "start the new server", start, || Ok::<_, ()>(()))
            .unwrap();
        std::mem::forget(tx); // killed while the new server runs
        let journal = fs_err::read(ctx.path(JOURNAL_PATH)).unwrap();

        let err = recover(&ctx, Recovery::Automatic, &Silent).unwrap_err();
        assert_eq!(err.exit_code(), ExitCode::ManualAttention);
        let text = err.to_string();
        assert!(
            text.contains("interrupted after it started the new server")
                && text.contains("mattermost.service: running")
                && text.contains("backups/x/database.dump")
                && text.contains("start the new server"),
            "{text}"
        );
        assert!(err.hint().unwrap().contains(RESTORE_COMMAND));
        assert_eq!(fs_err::read(ctx.path(JOURNAL_PATH)).unwrap(), journal);
        assert!(staging.exists(), "nothing is undone");
        assert!(
            runner
                .lines()
                .iter()
                .all(|l| l.starts_with("systemctl is-active")),
            "{:?}",
            runner.lines()
        );

        // Keeping it records the state it would have recorded and cleans up, undoing nothing.
        let kept = recover(&ctx, Recovery::KeepNewServer, &Silent)
            .unwrap()
            .unwrap();
        assert!(kept.kept && !kept.database_restored);
        assert!(ctx.path(crate::layout::STATE_PATH).exists());
        assert!(!staging.exists() && !ctx.path(JOURNAL_PATH).exists());
        assert!(
            runner
                .lines()
                .iter()
                .all(|l| l.starts_with("systemctl is-active")),
            "{:?}",
            runner.lines()
        );

        // The operator's consent undoes everything and restores the dump (whatever the schema
        // looks like): the restore runs, here failing on the missing config.json.
        fs_err::write(ctx.path(JOURNAL_PATH), &journal).unwrap();
        fs_err::create_dir_all(&staging).unwrap();
        let err = recover(&ctx, Recovery::RestoreDatabase, &Silent).unwrap_err();
        assert!(
            err.to_string().contains("remember the schema")
                && err.to_string().contains("config.json"),
            "{err}"
        );
        assert!(!staging.exists());
        assert!(
            runner
                .lines()
                .iter()
                .any(|l| l.ends_with("stop mattermost.service")),
            "{:?}",
            runner.lines()
        );
    }

    #[test]
    fn an_empty_directory_is_removed_and_a_used_one_kept() {
        let (_dir, ctx) = ctx();
        let undo = Undo::RemoveEmptyDir {
            path: "/opt/.mm-install".into(),
        };
        fs_err::create_dir_all(ctx.path("/opt/.mm-install/kept")).unwrap();
        undo.apply(&ctx, false, &crate::report::Silent).unwrap();
        assert!(ctx.path("/opt/.mm-install/kept").exists());
        fs_err::remove_dir(ctx.path("/opt/.mm-install/kept")).unwrap();
        undo.apply(&ctx, false, &crate::report::Silent).unwrap();
        assert!(!ctx.path("/opt/.mm-install").exists());
        undo.apply(&ctx, false, &crate::report::Silent).unwrap();
    }

    /// A guard of the database as an upgrade journals it, over a config.json naming a database.
    fn database_guard(root: &std::path::Path, head: Option<i64>) -> Undo {
        let config = root.join("opt/mattermost/config/config.json");
        fs_err::create_dir_all(config.parent().unwrap()).unwrap();
        fs_err::write(
            &config,
            r#"{"SqlSettings": {"DriverName": "postgres", "DataSource": "postgres://mmuser:pw@localhost:5432/mattermost?sslmode=disable"}}"#,
        )
        .unwrap();
        Undo::RestoreDatabase {
            dump: "/var/lib/mm-install/backups/x/database.dump".into(),
            config: "/opt/mattermost/config/config.json".into(),
            database: None,
            unless_db_migrations: Some(crate::system::postgres::SchemaHead { head }),
            legacy_fingerprint: None,
            aside: None,
        }
    }

    #[test]
    fn the_database_is_restored_only_when_db_migrations_moved() {
        let dir = tempfile::tempdir().unwrap();
        // db_migrations exists and its head is 2: as guarded, nothing to restore.
        let runner = std::sync::Arc::new(crate::system::fake::FakeRunner::default());
        runner.answer("psql", 0, "2\tsecond\n1\tfirst\n");
        runner.answer_times("psql", 0, "t\n", 1);
        // First, any restore session still running is ended.
        runner.answer_times("psql", 0, "0\n", 1);
        let ctx = Context::new(dir.path()).with_runner(runner.clone());
        database_guard(dir.path(), Some(2))
            .apply(&ctx, false, &crate::report::Silent)
            .unwrap();
        assert!(
            !runner.lines().iter().any(|l| l.starts_with("pg_restore")),
            "{:?}",
            runner.lines()
        );
        // The new version applied migration 3 (a data-only one changes no table, and still
        // counts): the dump is restored.
        let runner = std::sync::Arc::new(crate::system::fake::FakeRunner::default());
        runner.answer("psql", 0, "0\n");
        runner.answer_times("psql", 0, "3\tthird\n2\tsecond\n", 1);
        runner.answer_times("psql", 0, "t\n", 1);
        // First, any restore session still running is ended.
        runner.answer_times("psql", 0, "0\n", 1);
        let ctx = Context::new(dir.path()).with_runner(runner.clone());
        database_guard(dir.path(), Some(2))
            .apply(&ctx, false, &crate::report::Silent)
            .unwrap();
        assert!(
            runner.lines().iter().any(|l| l.starts_with("pg_restore")),
            "{:?}",
            runner.lines()
        );
        // Before any migration the table does not exist: a head of none, unchanged.
        let runner = std::sync::Arc::new(crate::system::fake::FakeRunner::default());
        runner.answer("psql", 0, "f\n");
        let ctx = Context::new(dir.path()).with_runner(runner.clone());
        database_guard(dir.path(), None)
            .apply(&ctx, false, &crate::report::Silent)
            .unwrap();
        // Ending restore sessions, then the one query for db_migrations.
        assert_eq!(runner.lines().len(), 2, "{:?}", runner.lines());
    }

    #[test]
    fn a_guard_journaled_with_a_schema_fingerprint_restores_only_when_forced() {
        // As mm-install wrote it before it read db_migrations.
        let old = r#"{"undo": "restore_database", "dump": "/var/lib/mm-install/backups/x/database.dump",
            "config": "/opt/mattermost/config/config.json", "database": null, "unless_fingerprint": "9e107d9d"}"#;
        let undo: Undo = serde_json::from_str(old).unwrap();
        assert!(
            matches!(&undo, Undo::RestoreDatabase { legacy_fingerprint: Some(f), unless_db_migrations: None, .. } if f == "9e107d9d"),
            "{undo:?}"
        );
        let dir = tempfile::tempdir().unwrap();
        let runner = std::sync::Arc::new(crate::system::fake::FakeRunner::default());
        let ctx = Context::new(dir.path()).with_runner(runner.clone());
        undo.apply(&ctx, false, &crate::report::Silent).unwrap();
        assert!(runner.lines().is_empty(), "{:?}", runner.lines());
        // Written again, it no longer carries the fingerprint.
        assert!(
            !serde_json::to_string(&undo)
                .unwrap()
                .contains("fingerprint")
        );
        // The operator's `rollback --restore-database --yes` restores it.
        database_guard(dir.path(), None);
        runner.answer("psql", 0, "0\n");
        undo.apply(&ctx, true, &crate::report::Silent).unwrap();
        assert!(
            runner.lines().iter().any(|l| l.starts_with("pg_restore")),
            "{:?}",
            runner.lines()
        );
    }

    #[test]
    fn every_undo_survives_the_journal_file() {
        let undo = Undo::Many {
            undos: vec![
                Undo::RemovePath {
                    path: "/opt/mattermost".into(),
                },
                Undo::RestoreFile {
                    path: "/etc/x".into(),
                    backup: None,
                },
                Undo::RemoveEmptyDir {
                    path: "/opt/.mm-install".into(),
                },
                Undo::RemovePackages {
                    manager: PackageManager::Dnf,
                    packages: vec!["nginx".into()],
                },
                Undo::RestoreRolePassword {
                    role: "mmuser".into(),
                    hash: Some("SCRAM-SHA-256$x".into()),
                },
                Undo::Many {
                    undos: vec![Undo::Nothing],
                },
            ],
        };
        let text = serde_json::to_string(&undo).unwrap();
        assert_eq!(serde_json::from_str::<Undo>(&text).unwrap(), undo);
    }

    #[test]
    fn a_commit_keeps_the_changes_and_removes_the_journal() {
        let (dir, ctx) = ctx();
        let mut tx = Transaction::begin(&ctx, "install").unwrap();
        let created = dir.path().join("opt/mattermost");
        tx.step(
            &Silent,
            "create",
            Undo::RemovePath {
                path: "/opt/mattermost".into(),
            },
            || fs_err::create_dir_all(&created),
        )
        .unwrap();
        tx.commit().unwrap();
        assert!(created.exists());
        assert_eq!(recover(&ctx, Recovery::Automatic, &Silent).unwrap(), None);
    }

    #[test]
    fn an_undo_that_fails_keeps_the_journal_and_asks_for_attention() {
        use std::sync::Arc;
        let (_dir, ctx) = ctx();
        let runner = Arc::new(crate::system::fake::FakeRunner::default());
        runner.answer("systemctl", 1, "");
        let ctx = ctx.with_runner(runner);
        let mut tx = Transaction::begin(&ctx, "install").unwrap();
        let undo = Undo::Systemctl {
            args: vec!["disable".into(), "mattermost.service".into()],
        };
        tx.step(&Silent, "enable the service", undo, || Ok::<_, ()>(()))
            .unwrap();
        let err = tx.rollback(&Silent).unwrap_err();
        assert_eq!(err.exit_code(), ExitCode::ManualAttention);
        assert!(err.to_string().contains("enable the service"), "{err}");
        assert!(ctx.path(JOURNAL_PATH).exists());
    }
}
