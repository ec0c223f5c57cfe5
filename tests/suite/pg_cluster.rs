//! A throwaway PostgreSQL cluster on the host: `initdb` into a temporary directory as the
//! `postgres` OS user (never root, never the host's own clusters), listening only on 127.0.0.1
//! (or on one test address, such as a guest's view of the host) at a free port, with
//! `scram-sha-256` password authentication for TCP like a real external server, and one role and
//! database for Mattermost. Stopped when dropped.
//! Binaries from Debian's `postgresql` package (installed by .ci/run).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's `postgresql` package puts the server programs.
const BIN: &str = "/usr/lib/postgresql/15/bin";
/// The OS user the cluster runs as.
const OS_USER: &str = "postgres";

pub struct Cluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    pub port: u16,
}

/// Run `program args…` as the cluster's OS user and require success.
fn as_postgres(program: &str, args: &[&str]) -> String {
    let output = Command::new("runuser")
        .args(["-u", OS_USER, "--", &format!("{BIN}/{program}")])
        .args(args)
        .output()
        .expect("run runuser");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

/// A port nothing listens on at this moment.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
        .port()
}

impl Cluster {
    /// A running cluster on 127.0.0.1 with login role `role` (password `password`) owning
    /// `database`.
    pub fn start(role: &str, password: &str, database: &str) -> Cluster {
        Cluster::start_on("127.0.0.1", role, password, database)
    }

    /// Like [`Cluster::start`], listening on `address` only (a guest's view of the host, say),
    /// and accepting password logins from that address's network (`samenet`).
    pub fn start_on(address: &str, role: &str, password: &str, database: &str) -> Cluster {
        assert!(
            nix::unistd::geteuid().is_root() && Path::new(BIN).join("initdb").exists(),
            "the PostgreSQL tests run as root with Debian's postgresql package installed (.ci/run does both)"
        );
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let mode = |path: &Path| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        mode(dir.path());
        let chown = Command::new("chown")
            .args([&format!("{OS_USER}:"), data.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(chown.success());
        let data_text = data.display().to_string();
        as_postgres(
            "initdb",
            &[
                "-D",
                &data_text,
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        );
        if address != "127.0.0.1" {
            let mut hba = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("pg_hba.conf"))
                .unwrap();
            std::io::Write::write_all(&mut hba, b"host all all samenet scram-sha-256\n").unwrap();
        }
        let port = free_port();
        let options = format!("-c listen_addresses={address} -p {port} -k {data_text}");
        let log = format!("{data_text}/server.log");
        as_postgres(
            "pg_ctl",
            &["-D", &data_text, "-l", &log, "-w", "-o", &options, "start"],
        );
        let cluster = Cluster {
            _dir: dir,
            data,
            port,
        };
        cluster.sql(&format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"));
        cluster.sql(&format!("CREATE DATABASE {database} OWNER {role}"));
        cluster
    }

    /// Run SQL as the superuser over the cluster's socket; returns the unaligned output.
    pub fn sql(&self, sql: &str) -> String {
        self.sql_in("postgres", sql)
    }

    /// Like [`Cluster::sql`], in `database`.
    pub fn sql_in(&self, database: &str, sql: &str) -> String {
        let port = self.port.to_string();
        let socket = self.data.display().to_string();
        as_postgres(
            "psql",
            &[
                "-X",
                "-q",
                "-tA",
                "-h",
                &socket,
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
        )
        .trim()
        .to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = Command::new("runuser")
            .args(["-u", OS_USER, "--", &format!("{BIN}/pg_ctl")])
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}
