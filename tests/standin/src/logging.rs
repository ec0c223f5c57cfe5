//! Mattermost-style JSON log lines, written to stderr (systemd's journal) and appended to
//! `logs/mattermost.log` once [`open_file`] has been called.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value};

use crate::clock;

static FILE: OnceLock<Mutex<fs_err::File>> = OnceLock::new();

/// The log file below the working directory, as the real server defaults it.
pub const DEFAULT_FILE: &str = "logs/mattermost.log";

/// Creates the directory of `path` if needed and appends all later log lines to `path`.
pub fn open_file(path: &Path) -> Result<PathBuf, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs_err::create_dir_all(dir).map_err(|e| format!("failed to create log directory: {e}"))?;
    }
    let file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("failed to open log file: {e}"))?;
    let _ = FILE.set(Mutex::new(file));
    Ok(path.to_path_buf())
}

/// One log line: `{"timestamp":…,"level":…,"msg":…, <fields>}`.
pub fn line(level: &str, msg: &str, fields: &[(&str, Value)]) -> String {
    let mut obj = Map::new();
    obj.insert("timestamp".into(), Value::String(clock::log_timestamp()));
    obj.insert("level".into(), Value::String(level.into()));
    obj.insert("msg".into(), Value::String(msg.into()));
    obj.insert("caller".into(), Value::String("standin".into()));
    for (k, v) in fields {
        obj.insert((*k).into(), v.clone());
    }
    Value::Object(obj).to_string()
}

/// Writes a line at `level` to stderr and, when open, the log file.
pub fn log(level: &str, msg: &str, fields: &[(&str, Value)]) {
    let line = line(level, msg, fields);
    eprintln!("{line}");
    if let Some(file) = FILE.get() {
        let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(file, "{line}");
        let _ = file.flush();
    }
}

/// `log("info", …)`.
pub fn info(msg: &str, fields: &[(&str, Value)]) {
    log("info", msg, fields);
}

/// `log("warn", …)`.
pub fn warn(msg: &str, fields: &[(&str, Value)]) {
    log("warn", msg, fields);
}

/// `log("error", …)`.
pub fn error(msg: &str, fields: &[(&str, Value)]) {
    log("error", msg, fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_with_the_fields() {
        let l = line(
            "info",
            "Server is starting",
            &[("version", "11.10.1".into())],
        );
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["level"], "info");
        assert_eq!(v["msg"], "Server is starting");
        assert_eq!(v["version"], "11.10.1");
        assert!(v["timestamp"].as_str().unwrap().ends_with(" Z"));
    }
}
