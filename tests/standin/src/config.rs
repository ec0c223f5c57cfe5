//! `config.json` as the real server reads it: the file (default `config/config.json` relative to
//! the working directory, or `MM_CONFIG`, or `--config`), with `MM_<SECTION>_<SETTING>`
//! environment variables taking precedence over the file.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where the server looks for its configuration when nothing else is said.
pub const DEFAULT_PATH: &str = "config/config.json";
/// `ServiceSettings.ListenAddress` default.
pub const DEFAULT_LISTEN_ADDRESS: &str = ":8065";
/// `SqlSettings.DriverName` default.
pub const DEFAULT_DRIVER_NAME: &str = "postgres";
/// `SqlSettings.DataSource` default (server/public/model/config.go).
pub const DEFAULT_DATA_SOURCE: &str = "postgres://mmuser:mostest@localhost/mattermost_test?sslmode=disable&connect_timeout=10&binary_parameters=yes";
/// `FileSettings.Directory` default.
pub const DEFAULT_FILE_DIRECTORY: &str = "./data/";

/// The effective configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// `ServiceSettings.ListenAddress`.
    pub listen_address: String,
    /// `SqlSettings.DriverName`.
    pub driver_name: String,
    /// `SqlSettings.DataSource`.
    pub data_source: String,
    /// `FileSettings.Directory`.
    pub file_directory: String,
    raw: Value,
    env: BTreeMap<String, String>,
}

/// Picks the config file: `--config PATH`/`-c PATH`/`--config=PATH` first, then `MM_CONFIG`,
/// then [`DEFAULT_PATH`].
pub fn resolve_path(args: &[String], mm_config: Option<String>) -> Result<PathBuf, String> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if let Some(p) = arg.strip_prefix("--config=") {
            return Ok(PathBuf::from(p));
        }
        if arg == "--config" || arg == "-c" {
            return iter
                .next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{arg} needs a path"));
        }
    }
    match mm_config {
        Some(dsn) if dsn.starts_with("postgres://") || dsn.starts_with("mysql://") => {
            Err("MM_CONFIG points at a database; the stand-in only reads config files".to_string())
        }
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Ok(PathBuf::from(DEFAULT_PATH)),
    }
}

impl Config {
    /// Reads `path` and applies overrides from `env` (typically `std::env::vars()`).
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, String> {
        let text = fs_err::read_to_string(path)
            .map_err(|e| format!("failed to load configuration from {}: {e}", path.display()))?;
        Config::parse(path, &text, env)
    }

    /// Parses `text` (the contents of `path`) and applies overrides from `env`.
    pub fn parse(
        path: &Path,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, String> {
        let invalid = |why: String| format!("invalid configuration in {}: {why}", path.display());
        let raw: Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let obj = raw
            .as_object()
            .ok_or_else(|| invalid("the top level must be a JSON object".into()))?;
        for (section, value) in obj {
            if !value.is_object() && !value.is_null() {
                return Err(invalid(format!("{section} must be an object")));
            }
        }
        let mut config = Config {
            path: path.to_path_buf(),
            listen_address: String::new(),
            driver_name: String::new(),
            data_source: String::new(),
            file_directory: String::new(),
            raw: raw.clone(),
            env: env
                .into_iter()
                .filter(|(k, _)| k.starts_with("MM_"))
                .collect(),
        };
        let get = |section: &str, key: &str, default: &str| -> Result<String, String> {
            Ok(config
                .string(section, key)
                .map_err(invalid)?
                .unwrap_or_else(|| default.to_string()))
        };
        let listen_address = get("ServiceSettings", "ListenAddress", DEFAULT_LISTEN_ADDRESS)?;
        let driver_name = get("SqlSettings", "DriverName", DEFAULT_DRIVER_NAME)?;
        let data_source = get("SqlSettings", "DataSource", DEFAULT_DATA_SOURCE)?;
        let file_directory = get("FileSettings", "Directory", DEFAULT_FILE_DIRECTORY)?;
        config.listen_address = listen_address;
        config.driver_name = driver_name;
        config.data_source = data_source;
        config.file_directory = file_directory;
        Ok(config)
    }

    /// The environment variable that overrides `section.key`, e.g. `MM_SQLSETTINGS_DATASOURCE`.
    pub fn env_name(section: &str, key: &str) -> String {
        format!("MM_{}_{}", section.to_uppercase(), key.to_uppercase())
    }

    /// A string setting: the environment override if set, else the file's value, else `None`.
    pub fn string(&self, section: &str, key: &str) -> Result<Option<String>, String> {
        if let Some(v) = self.env.get(&Config::env_name(section, key)) {
            return Ok(Some(v.clone()));
        }
        match self.raw.get(section).and_then(|s| s.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{section}.{key} must be a string")),
        }
    }

    /// A boolean setting, with the same precedence as [`Config::string`].
    pub fn bool(&self, section: &str, key: &str) -> Result<Option<bool>, String> {
        let name = Config::env_name(section, key);
        if let Some(v) = self.env.get(&name) {
            return match v.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(format!("{name}={v:?} is not a boolean")),
            };
        }
        match self.raw.get(section).and_then(|s| s.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("{section}.{key} must be true or false")),
        }
    }

    /// An integer setting, with the same precedence as [`Config::string`].
    pub fn int(&self, section: &str, key: &str) -> Result<Option<i64>, String> {
        let name = Config::env_name(section, key);
        if let Some(v) = self.env.get(&name) {
            return v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}={v:?} is not an integer"));
        }
        match self.raw.get(section).and_then(|s| s.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("{section}.{key} must be an integer")),
        }
    }

    /// A list of strings; the environment form separates the items with spaces, as Go's
    /// envconfig does.
    pub fn strings(&self, section: &str, key: &str) -> Result<Option<Vec<String>>, String> {
        if let Some(v) = self.env.get(&Config::env_name(section, key)) {
            return Ok(Some(v.split_whitespace().map(str::to_string).collect()));
        }
        let invalid = || format!("{section}.{key} must be a list of strings");
        match self.raw.get(section).and_then(|s| s.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string).ok_or_else(invalid))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(invalid()),
        }
    }

    /// The file store directory, relative paths taken from the working directory.
    pub fn file_directory_path(&self) -> PathBuf {
        PathBuf::from(&self.file_directory)
    }
}

/// Resolves a Go-style listen address: `":8065"` means every IPv4 address, `"127.0.0.1:8065"`,
/// `"[::1]:8065"` and `"localhost:8065"` mean what they say; an empty address means the default.
pub fn listen_addrs(address: &str) -> Result<Vec<SocketAddr>, String> {
    let address = if address.trim().is_empty() {
        DEFAULT_LISTEN_ADDRESS
    } else {
        address.trim()
    };
    let full = match address.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => address.to_string(),
    };
    let addrs: Vec<SocketAddr> = full
        .to_socket_addrs()
        .map_err(|e| format!("invalid ServiceSettings.ListenAddress {address:?}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!(
            "invalid ServiceSettings.ListenAddress {address:?}: no address"
        ));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const FILE: &str = r#"{
        "ServiceSettings": {"SiteURL": "", "ListenAddress": "127.0.0.1:8065"},
        "SqlSettings": {"DriverName": "postgres",
                        "DataSource": "postgres://mmuser:pw@db:5432/mattermost?sslmode=disable"},
        "FileSettings": {"Directory": "/srv/mm-data/", "MaxFileSize": 1024},
        "TeamSettings": {"EnableOpenServer": false,
                         "ExperimentalDefaultChannels": ["town-square", "off-topic"]}
    }"#;

    #[test]
    fn reads_the_file() {
        let c = Config::parse(Path::new("config/config.json"), FILE, env(&[])).unwrap();
        assert_eq!(c.listen_address, "127.0.0.1:8065");
        assert_eq!(c.driver_name, "postgres");
        assert_eq!(
            c.data_source,
            "postgres://mmuser:pw@db:5432/mattermost?sslmode=disable"
        );
        assert_eq!(c.file_directory, "/srv/mm-data/");
        assert_eq!(c.bool("TeamSettings", "EnableOpenServer"), Ok(Some(false)));
        assert_eq!(
            c.string("ServiceSettings", "SiteURL"),
            Ok(Some(String::new()))
        );
        assert_eq!(c.string("ServiceSettings", "Nope"), Ok(None));
        assert_eq!(c.int("FileSettings", "MaxFileSize"), Ok(Some(1024)));
        assert_eq!(
            c.strings("TeamSettings", "ExperimentalDefaultChannels"),
            Ok(Some(vec![
                "town-square".to_string(),
                "off-topic".to_string()
            ]))
        );
        assert!(c.int("FileSettings", "Directory").is_err());
        assert!(c.strings("FileSettings", "Directory").is_err());
    }

    #[test]
    fn environment_wins_over_the_file() {
        let c = Config::parse(
            Path::new("c.json"),
            FILE,
            env(&[
                ("MM_SERVICESETTINGS_LISTENADDRESS", ":9000"),
                ("MM_SQLSETTINGS_DATASOURCE", "postgres://u:p@other/db"),
                ("MM_FILESETTINGS_DIRECTORY", "./files/"),
                ("MM_TEAMSETTINGS_ENABLEOPENSERVER", "true"),
                ("MM_FILESETTINGS_MAXFILESIZE", "2048"),
                (
                    "MM_TEAMSETTINGS_EXPERIMENTALDEFAULTCHANNELS",
                    "town-square extra",
                ),
                ("PATH", "/usr/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen_address, ":9000");
        assert_eq!(c.data_source, "postgres://u:p@other/db");
        assert_eq!(c.file_directory, "./files/");
        assert_eq!(c.driver_name, "postgres");
        assert_eq!(c.bool("TeamSettings", "EnableOpenServer"), Ok(Some(true)));
        assert_eq!(c.int("FileSettings", "MaxFileSize"), Ok(Some(2048)));
        assert_eq!(
            c.strings("TeamSettings", "ExperimentalDefaultChannels"),
            Ok(Some(vec!["town-square".to_string(), "extra".to_string()]))
        );
    }

    #[test]
    fn missing_settings_take_the_server_defaults() {
        let c = Config::parse(Path::new("c.json"), "{}", env(&[])).unwrap();
        assert_eq!(c.listen_address, DEFAULT_LISTEN_ADDRESS);
        assert_eq!(c.driver_name, "postgres");
        assert_eq!(c.data_source, DEFAULT_DATA_SOURCE);
        assert_eq!(c.file_directory, "./data/");
    }

    #[test]
    fn invalid_files_name_the_path() {
        for bad in [
            "",
            "[]",
            "{\"SqlSettings\": 3}",
            "{\"ServiceSettings\": {\"ListenAddress\": 8065}}",
        ] {
            let err = Config::parse(
                Path::new("/opt/mattermost/config/config.json"),
                bad,
                env(&[]),
            )
            .unwrap_err();
            assert!(err.contains("/opt/mattermost/config/config.json"), "{err}");
        }
        let err = Config::load(Path::new("/nonexistent/config.json"), env(&[])).unwrap_err();
        assert!(err.contains("/nonexistent/config.json"), "{err}");
    }

    #[test]
    fn config_path_resolution() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            resolve_path(&args(&[]), None).unwrap(),
            PathBuf::from(DEFAULT_PATH)
        );
        assert_eq!(
            resolve_path(&args(&[]), Some("/etc/mm.json".into())).unwrap(),
            PathBuf::from("/etc/mm.json")
        );
        assert_eq!(
            resolve_path(&args(&["--config", "a.json"]), Some("/etc/mm.json".into())).unwrap(),
            PathBuf::from("a.json")
        );
        assert_eq!(
            resolve_path(&args(&["--config=b.json"]), None).unwrap(),
            PathBuf::from("b.json")
        );
        assert!(resolve_path(&args(&["-c"]), None).is_err());
        assert!(resolve_path(&args(&[]), Some("postgres://x".into())).is_err());
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            listen_addrs(":8065").unwrap(),
            vec!["0.0.0.0:8065".parse().unwrap()]
        );
        assert_eq!(
            listen_addrs("127.0.0.1:8065").unwrap(),
            vec!["127.0.0.1:8065".parse().unwrap()]
        );
        assert_eq!(
            listen_addrs("[::1]:8065").unwrap(),
            vec!["[::1]:8065".parse().unwrap()]
        );
        assert_eq!(
            listen_addrs("").unwrap(),
            vec!["0.0.0.0:8065".parse().unwrap()]
        );
        assert!(listen_addrs("8065").is_err());
        assert!(listen_addrs(":http-alt-nope").is_err());
    }
}
