//! The database backup an upgrade takes once the server is stopped: the `pg_dump` file, checked
//! with `pg_restore --list` as soon as it is written, and its metadata (time, versions, size,
//! SHA-256, Mattermost's `db_migrations` head) in a small JSON file beside it, so that a later restore or an admin can tell what
//! the dump holds and that it is still the file that was written.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::context::Context;
use crate::system::{SystemError, postgres};

/// The dump's file name in a backup directory.
pub const DUMP_FILE: &str = "database.dump";
/// Its metadata's file name, beside it.
pub const METADATA_FILE: &str = "database.json";

/// What `database.json` records about a dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// When the dump was verified (RFC 3339, UTC): no write after the server stopped is
    /// missing from it.
    pub time: String,
    /// The version whose database this is, and the one being installed.
    pub from: String,
    pub to: String,
    /// The dump's size in bytes and its SHA-256 (lowercase hex).
    pub size: u64,
    pub sha256: String,
    /// How many tables' data the dump holds (`TABLE DATA` entries of `pg_restore --list`).
    pub tables: usize,
    /// The highest migration in its `db_migrations` table: the schema `from` runs on. Absent
    /// from the metadata of dumps taken before mm-install read `db_migrations`.
    #[serde(default)]
    pub db_migrations: Option<postgres::SchemaHead>,
}

/// Verify the dump `dump` (a system path) of a database whose `db_migrations` head is `head`,
/// and write its metadata beside it.
pub fn record(
    ctx: &Context,
    dump: &Path,
    from: &str,
    to: &str,
    head: Option<i64>,
) -> Result<Metadata, SystemError> {
    let file = ctx.path(dump);
    let tables = postgres::verify_dump(ctx, &file)?;
    let (size, sha256) = digest(&file)?;
    let metadata = Metadata {
        time: crate::state::now_rfc3339(),
        from: from.to_string(),
        to: to.to_string(),
        size,
        sha256,
        tables,
        db_migrations: Some(postgres::SchemaHead { head }),
    };
    let json = serde_json::to_string_pretty(&metadata).map_err(|err| SystemError::Unexpected {
        what: format!("the metadata of {}", file.display()),
        detail: err.to_string(),
    })?;
    fs_err::write(metadata_path(&file), json + "\n")?;
    Ok(metadata)
}

/// The metadata recorded beside the dump in the backup directory `dir` (a system path): `None`
/// when there is none or it cannot be read (a backup taken before mm-install wrote it).
pub fn metadata(ctx: &Context, dir: &Path) -> Option<Metadata> {
    let text = fs_err::read_to_string(ctx.path(dir).join(METADATA_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// `database.json` beside the dump `dump`.
pub fn metadata_path(dump: &Path) -> PathBuf {
    dump.with_file_name(METADATA_FILE)
}

/// The size and SHA-256 of `file`, read once.
fn digest(file: &Path) -> Result<(u64, String), SystemError> {
    let mut reader = fs_err::File::open(file)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok((size, hex))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::system::fake::FakeRunner;

    /// `pg_restore --list` of a dump with two tables (PostgreSQL 15's format).
    const LISTING: &str = ";\n; Archive created at 2026-11-29 01:40:00 UTC\n;     dbname: mattermost\n\
        ;\n215; 1259 16390 TABLE public posts mmuser\n216; 1259 16395 TABLE public users mmuser\n\
        3350; 0 16390 TABLE DATA public posts mmuser\n3351; 0 16395 TABLE DATA public users mmuser\n";

    #[test]
    fn a_verified_dump_records_its_size_checksum_and_versions() {
        let root = tempfile::tempdir().unwrap();
        let runner = Arc::new(FakeRunner::default());
        runner.answer("pg_restore --list", 0, LISTING);
        let ctx = Context::live_for_test(root.path(), runner.clone());
        let dir = root.path().join("var/lib/mm-install/backups/b");
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join(DUMP_FILE), "abc").unwrap();
        let dump = Path::new("/var/lib/mm-install/backups/b").join(DUMP_FILE);
        let metadata = record(&ctx, &dump, "11.10.1", "11.10.2", Some(128)).unwrap();
        assert_eq!(metadata.size, 3);
        assert_eq!(
            metadata.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(metadata.tables, 2);
        assert_eq!(
            (metadata.from.as_str(), metadata.to.as_str()),
            ("11.10.1", "11.10.2")
        );
        let written: Metadata =
            serde_json::from_str(&fs_err::read_to_string(dir.join(METADATA_FILE)).unwrap())
                .unwrap();
        assert_eq!(written, metadata);
        assert_eq!(
            metadata.db_migrations,
            Some(postgres::SchemaHead { head: Some(128) })
        );
        assert!(
            fs_err::read_to_string(dir.join(METADATA_FILE))
                .unwrap()
                .contains("\"db_migrations\": {\n    \"head\": 128\n  }")
        );
        assert_eq!(
            super::metadata(&ctx, Path::new("/var/lib/mm-install/backups/b")),
            Some(written)
        );
        // The dump named is the one listed, with none of root's environment.
        let log = runner.log.lock().unwrap();
        assert!(log[0].clean_environment);
        assert!(
            log[0].to_string().ends_with("backups/b/database.dump"),
            "{}",
            log[0]
        );
    }

    #[test]
    fn a_dump_pg_restore_cannot_read_is_an_error_and_records_nothing() {
        let root = tempfile::tempdir().unwrap();
        let runner = Arc::new(FakeRunner::default());
        runner.answer("pg_restore --list", 1, "");
        let ctx = Context::live_for_test(root.path(), runner);
        fs_err::write(root.path().join(DUMP_FILE), "truncated").unwrap();
        let err = record(&ctx, Path::new("/database.dump"), "a", "b", None).unwrap_err();
        assert!(err.to_string().contains("pg_restore --list"), "{err}");
        assert!(!root.path().join(METADATA_FILE).exists());
    }

    #[test]
    fn metadata_written_before_db_migrations_was_recorded_still_reads() {
        let root = tempfile::tempdir().unwrap();
        let ctx = Context::live_for_test(root.path(), Arc::new(FakeRunner::default()));
        fs_err::write(
            root.path().join(METADATA_FILE),
            r#"{"time": "2026-11-29T03:12:00Z", "from": "a", "to": "b", "size": 1, "sha256": "x", "tables": 0}"#,
        )
        .unwrap();
        let old = metadata(&ctx, Path::new("/")).unwrap();
        assert_eq!(
            (old.time.as_str(), old.db_migrations),
            ("2026-11-29T03:12:00Z", None)
        );
    }
}
