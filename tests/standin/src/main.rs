//! `mm-standin`: a stand-in for the Mattermost server binary (`bin/mattermost`) that mm-install's
//! tests ship inside the release tarballs they build. `mm-standin version` prints what the real
//! `mattermost version` prints; with no arguments it starts like the real server: reads
//! `config/config.json` (env overrides win), checks PostgreSQL and the file store, listens,
//! notifies systemd and serves the ping, web-app and websocket endpoints until SIGTERM.
//! `standin.json` beside the executable says which version it is and how it should misbehave.

#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use mm_standin::config::{self, Config};
use mm_standin::identity::Identity;
use mm_standin::migrations::Engine;
use mm_standin::settings::Settings;
use mm_standin::{database, db, filestore, logging, notify, server, signals};

/// Environment variable bounding how long startup waits for the database (milliseconds).
const DB_WAIT_ENV: &str = "STANDIN_DB_WAIT_MS";
/// The real server keeps retrying its database for about this long.
const DEFAULT_DB_WAIT_MS: u64 = 30_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("version") => version(),
        Some("db") => db(args.get(1..).unwrap_or_default()),
        None | Some("server") => server(args.get(1..).unwrap_or_default()),
        Some(flag) if flag.starts_with("--config") || flag == "-c" => server(&args),
        Some("help" | "--help" | "-h") => {
            println!(
                "Usage:\n  mattermost [command]\n\nAvailable Commands:\n  db          Commands related to the database\n  server      Run the Mattermost server\n  version     Display version information\n\nFlags:\n  -c, --config string   Configuration file to use."
            );
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("Error: unknown command \"{other}\" for \"mattermost\"");
            eprintln!("Run 'mattermost --help' for usage.");
            ExitCode::from(1)
        }
    }
}

/// Loads `standin.json`; a missing or broken one is a broken test setup (exit 2).
fn identity() -> Result<Identity, ExitCode> {
    Identity::path_beside_exe()
        .and_then(|p| Identity::load(&p))
        .map_err(|e| {
            eprintln!("mm-standin: {e}");
            ExitCode::from(2)
        })
}

fn version() -> ExitCode {
    match identity() {
        Ok(id) => {
            print!("{}", id.version_text());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `mattermost db …` (see `mm_standin::db`).
fn db(args: &[String]) -> ExitCode {
    let identity = match identity() {
        Ok(id) => id,
        Err(code) => return code,
    };
    match db::run(&identity, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Logs a fatal startup error (log file and stderr) and returns exit code 1.
fn fatal(msg: &str) -> ExitCode {
    logging::error(msg, &[]);
    eprintln!("Error: {msg}");
    ExitCode::from(1)
}

fn server(args: &[String]) -> ExitCode {
    // Before any thread exists, so that every thread inherits the blocked mask.
    let termination = match signals::Termination::block() {
        Ok(t) => t,
        Err(e) => return fatal(&format!("cannot block termination signals: {e}")),
    };
    let identity = match identity() {
        Ok(id) => id,
        Err(code) => return code,
    };
    let config_path = match config::resolve_path(args, std::env::var("MM_CONFIG").ok()) {
        Ok(p) => p,
        Err(e) => return fatal(&e),
    };
    let config = match Config::load(&config_path, std::env::vars()) {
        Ok(c) => c,
        Err(e) => return fatal(&e),
    };
    if let Err(e) = logging::open_file(Path::new(logging::DEFAULT_FILE)) {
        return fatal(&e);
    }
    termination.on_signal(|sig| {
        logging::info(
            "Received signal, stopping",
            &[("signal", sig.as_str().into())],
        );
        logging::info("Stopping Server...", &[]);
        logging::info("Server stopped", &[]);
        std::process::exit(0);
    });
    logging::info(
        "Server is starting",
        &[
            ("version", identity.version.as_str().into()),
            ("build_number", identity.version.as_str().into()),
            ("build_hash", "standin".into()),
            ("config", config_path.display().to_string().into()),
        ],
    );
    match start(&identity, &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => fatal(&msg),
    }
}

/// Everything after the config is loaded; `Err` is the fatal message.
fn start(identity: &Identity, config: &Config) -> Result<(), String> {
    if config.driver_name != "postgres" {
        return Err(format!(
            "invalid configuration in {}: SqlSettings.DriverName {:?} is not supported, only \"postgres\"",
            config.path.display(),
            config.driver_name
        ));
    }
    let data_source = database::parse_data_source(&config.data_source)?;
    let settings = Settings::from_config(config)?;
    let wait_ms = match std::env::var(DB_WAIT_ENV) {
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("{DB_WAIT_ENV}={v:?} is not a number of milliseconds"))?,
        Err(_) => DEFAULT_DB_WAIT_MS,
    };
    logging::info(
        "Pinging SQL",
        &[("database", data_source.endpoint.to_string().into())],
    );
    database::check(&data_source, Duration::from_millis(wait_ms), &mut |why| {
        logging::warn(
            "Failed to ping DB, retrying",
            &[("error", why.into()), ("retry_for_ms", wait_ms.into())],
        );
    })?;
    if let Some(declared) = &identity.migrations {
        migrate(&data_source, declared)?;
    }
    filestore::check(&config.file_directory_path())?;
    if let Some(target) = &identity.link_config_to {
        let replace = |e: std::io::Error| {
            format!(
                "cannot replace {} with a symlink: {e}",
                config.path.display()
            )
        };
        fs_err::remove_file(&config.path).map_err(replace)?;
        std::os::unix::fs::symlink(target, &config.path).map_err(replace)?;
        logging::warn(
            "Replaced the config file with a symlink",
            &[("target", target.as_str().into())],
        );
    }
    if identity.ready_delay_ms > 0 {
        logging::info(
            "Running database migrations",
            &[("delay_ms", identity.ready_delay_ms.into())],
        );
        std::thread::sleep(Duration::from_millis(identity.ready_delay_ms));
    }
    if identity.fail_start {
        return Err("simulated start failure".to_string());
    }
    let listener = bind(&config.listen_address)?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    logging::info(
        &format!("Server is listening on {local}"),
        &[("address", local.to_string().into())],
    );
    match notify::ready() {
        Ok(true) => logging::info("Sent READY=1 to systemd", &[]),
        Ok(false) => {}
        Err(e) => logging::warn(
            "Failed to notify systemd",
            &[("error", e.to_string().into())],
        ),
    }
    let mut app = server::App::new(
        identity.version_id(),
        data_source,
        config.file_directory_path(),
        settings,
    );
    app.refuse_posts = identity.refuse_posts;
    server::run(listener, Arc::new(app));
    Ok(())
}

/// Applies the release's pending migrations, as the real server does while its store starts.
fn migrate(
    data_source: &database::DataSource,
    declared: &[mm_standin::migrations::Migration],
) -> Result<(), String> {
    let mut engine = Engine::open(data_source)?;
    for m in engine.pending(declared)? {
        logging::info(
            "Applying migration",
            &[
                ("version", m.version.into()),
                ("name", m.name.as_str().into()),
            ],
        );
        engine.apply_up(m)?;
    }
    Ok(())
}

/// Binds the first usable address of `ServiceSettings.ListenAddress`.
fn bind(address: &str) -> Result<TcpListener, String> {
    let mut last = String::new();
    for addr in config::listen_addrs(address)? {
        match TcpListener::bind(addr) {
            Ok(l) => return Ok(l),
            Err(e) => last = format!("listen tcp {addr}: {e}"),
        }
    }
    Err(format!("Error starting server, err:{last}"))
}
