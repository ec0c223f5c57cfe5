//! Mattermost's `config/config.json`: the five settings mm-install owns (database, site URL,
//! listen address, file directory) are set in place; every other key, value and the key order
//! stay as they were, and the file is written the way Mattermost itself writes it (Go's
//! `json.MarshalIndent` with four spaces), so a file Mattermost wrote changes only where
//! mm-install changed it. The upload limit is read from here too, for nginx.

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

use super::RenderError;
use crate::site_url::SiteUrl;

/// Mattermost's upload limit when `FileSettings.MaxFileSize` is not set: 100 MiB.
pub const DEFAULT_MAX_FILE_SIZE_MB: u64 = 100;

/// Bytes in a mebibyte, nginx's `M`.
const MIB: u64 = 1024 * 1024;

/// The values mm-install sets in `config.json`. `Debug` never shows `data_source`.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedSettings {
    /// `SqlSettings.DriverName`, e.g. `postgres`.
    pub driver_name: String,
    /// `SqlSettings.DataSource`: the database URL, with its password.
    pub data_source: String,
    /// `ServiceSettings.SiteURL` (written without a trailing slash); `None` writes `""`
    /// (Mattermost then takes the address from each request).
    pub site_url: Option<SiteUrl>,
    /// `ServiceSettings.ListenAddress`, e.g. `127.0.0.1:8065`.
    pub listen_address: String,
    /// `FileSettings.Directory`, e.g. `./data/`.
    pub file_directory: String,
}

impl fmt::Debug for OwnedSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSettings")
            .field("driver_name", &self.driver_name)
            .field("data_source", &"<redacted>")
            .field("site_url", &self.site_url)
            .field("listen_address", &self.listen_address)
            .field("file_directory", &self.file_directory)
            .finish()
    }
}

/// `json_text` (the contents of `source`) with the owned settings set: existing keys keep
/// their place, a missing section or key is added at the end. Returns the whole file, indented
/// with four spaces and ending in a newline.
pub fn apply_owned_settings(
    json_text: &str,
    settings: &OwnedSettings,
    source: &Path,
) -> Result<String, RenderError> {
    let mut root = parse(json_text, source)?;
    let Value::Object(sections) = &mut root else {
        return Err(RenderError::ConfigShape {
            path: source.to_path_buf(),
            location: "the top level".to_owned(),
            found: kind(&root),
        });
    };
    let site_url = settings
        .site_url
        .as_ref()
        .map(SiteUrl::origin)
        .unwrap_or_default();
    for (section, key, value) in [
        ("SqlSettings", "DriverName", &settings.driver_name),
        ("SqlSettings", "DataSource", &settings.data_source),
        ("ServiceSettings", "SiteURL", &site_url),
        ("ServiceSettings", "ListenAddress", &settings.listen_address),
        ("FileSettings", "Directory", &settings.file_directory),
    ] {
        let entry = sections
            .entry(section)
            .or_insert_with(|| Value::Object(Map::new()));
        if entry.is_null() {
            *entry = Value::Object(Map::new());
        }
        let found = kind(entry);
        let Value::Object(settings) = entry else {
            return Err(RenderError::ConfigShape {
                path: source.to_path_buf(),
                location: format!("`{section}`"),
                found,
            });
        };
        settings.insert(key.to_owned(), Value::String(value.clone()));
    }
    let mut out = String::with_capacity(json_text.len() + 64);
    write_value(&mut out, &root, 0);
    out.push('\n');
    Ok(out)
}

/// The upload limit in MiB for nginx: `FileSettings.MaxFileSize` (bytes) rounded up, at least
/// 1 (to nginx, 0 would mean no limit at all); [`DEFAULT_MAX_FILE_SIZE_MB`] when it is not set.
/// `None` when `json_text` is not a JSON object or the value is not a non-negative integer
/// (Mattermost refuses such a file too).
pub fn max_file_size_mb(json_text: &str) -> Option<u64> {
    let root: Value = serde_json::from_str(json_text).ok()?;
    let value = root
        .as_object()?
        .get("FileSettings")
        .and_then(|section| section.get("MaxFileSize"))
        .unwrap_or(&Value::Null);
    if value.is_null() {
        return Some(DEFAULT_MAX_FILE_SIZE_MB);
    }
    Some(value.as_u64()?.div_ceil(MIB).max(1))
}

/// `json_text` as a JSON value, or an error naming `source` and the position.
fn parse(json_text: &str, source: &Path) -> Result<Value, RenderError> {
    serde_json::from_str(json_text).map_err(|err| {
        // serde_json's message ends with the position, which the error shows on its own.
        let message = err.to_string();
        let position = format!(" at line {} column {}", err.line(), err.column());
        RenderError::ConfigSyntax {
            path: source.to_path_buf(),
            reason: message
                .strip_suffix(&position)
                .unwrap_or(&message)
                .to_owned(),
            line: err.line(),
            column: err.column(),
        }
    })
}

/// The JSON type of `value`, with an article, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Append `value` to `out` as Go's `json.MarshalIndent(v, "", "    ")` writes it, `depth`
/// levels deep.
fn write_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(out, depth + 1);
                write_value(out, item, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(out, depth + 1);
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push('}');
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("    ");
    }
}

/// Append `s` as a JSON string escaped the way Go's encoder does by default: besides quotes,
/// backslashes and control characters, `<`, `>`, `&`, U+2028 and U+2029 become `\uXXXX`
/// (which is why Mattermost's files say `sslmode=disable\u0026connect_timeout=10`).
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\0'..='\u{1f}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "s3cr3t-pa55";

    fn owned() -> OwnedSettings {
        OwnedSettings {
            driver_name: "postgres".into(),
            data_source: format!(
                "postgres://mmuser:{PASSWORD}@localhost:5432/mattermost?sslmode=disable&connect_timeout=10"
            ),
            site_url: Some(SiteUrl::parse("https://Chat.Example.com/").unwrap()),
            listen_address: "127.0.0.1:8065".into(),
            file_directory: "./data/".into(),
        }
    }

    fn path() -> &'static Path {
        Path::new("/opt/mattermost/config/config.json")
    }

    /// A config.json shaped as Mattermost writes it (Go's MarshalIndent, four spaces, HTML
    /// characters escaped, no final newline), cut down to a few sections.
    const MATTERMOST_WRITTEN: &str = r#"{
    "ServiceSettings": {
        "SiteURL": "",
        "WebsocketURL": "",
        "LicenseFileLocation": "",
        "ListenAddress": ":8065",
        "ConnectionSecurity": "",
        "TLSCertFile": "",
        "TrustedProxyIPHeader": [],
        "ReadTimeout": 300,
        "EnableLinkPreviews": true,
        "RestrictLinkPreviews": "",
        "GoroutineHealthThreshold": -1,
        "AllowCorsFrom": "",
        "CorsExposedHeaders": "",
        "ManagedResourcePaths": "",
        "MaximumPayloadSizeBytes": 300000,
        "EnableAPIv3": null
    },
    "TeamSettings": {
        "SiteName": "Mattermost \u0026 Friends",
        "CustomDescriptionText": "Say \u003cb\u003ehi\u003c/b\u003e\nand \"welcome\" \\o/ — ünïcode",
        "MaxUsersPerTeam": 50,
        "ExperimentalDefaultChannels": [
            "town-square",
            "off-topic"
        ],
        "ExperimentalHiddenDefaultChannels": {}
    },
    "SqlSettings": {
        "DriverName": "mysql",
        "DataSource": "postgres://mmuser:mostest@localhost/mattermost_test?sslmode=disable\u0026connect_timeout=10\u0026binary_parameters=yes",
        "DataSourceReplicas": [],
        "DataSourceSearchReplicas": [],
        "MaxIdleConns": 20,
        "ConnMaxLifetimeMilliseconds": 3600000,
        "MaxOpenConns": 300,
        "Trace": false,
        "AtRestEncryptKey": "",
        "QueryTimeout": 30,
        "ReplicaLagSettings": [
            {
                "DataSource": "replica",
                "QueryAbsoluteLag": null
            }
        ]
    },
    "LogSettings": {
        "EnableConsole": true,
        "ConsoleLevel": "INFO",
        "FileLocation": "",
        "AdvancedLoggingJSON": {}
    },
    "FileSettings": {
        "EnableFileAttachments": true,
        "MaxFileSize": 104857600,
        "DriverName": "local",
        "Directory": "./data/",
        "AmazonS3Region": "",
        "AmazonS3SSL": true
    },
    "PluginSettings": {
        "Enable": true,
        "Plugins": {
            "com.mattermost.calls": {
                "defaultenabled": true,
                "icehostoverride": "",
                "tcpserverport": 8443
            }
        },
        "PluginStates": {
            "playbooks": {
                "Enable": true
            }
        },
        "SignaturePublicKeyFiles": []
    },
    "ExperimentalSettings": {
        "ClientSideCertEnable": false,
        "LinkMetadataTimeoutMilliseconds": 5000,
        "UsersStatusAndProfileFetchingPollIntervalMilliseconds": 3000,
        "ScaleRatio": 0.25
    }
}"#;

    #[test]
    fn changes_exactly_the_five_keys_and_nothing_else() {
        let settings = OwnedSettings {
            file_directory: "/var/opt/mattermost/data/".into(),
            ..owned()
        };
        let out = apply_owned_settings(MATTERMOST_WRITTEN, &settings, path()).unwrap();
        let expected = MATTERMOST_WRITTEN
            .replace(
                r#"        "DriverName": "mysql","#,
                r#"        "DriverName": "postgres","#,
            )
            .replace(
                r#"        "Directory": "./data/","#,
                r#"        "Directory": "/var/opt/mattermost/data/","#,
            )
            .replace(
                r#"        "SiteURL": "","#,
                r#"        "SiteURL": "https://chat.example.com","#,
            )
            .replace(
                r#"        "ListenAddress": ":8065","#,
                r#"        "ListenAddress": "127.0.0.1:8065","#,
            )
            .replace(
                r#"        "DataSource": "postgres://mmuser:mostest@localhost/mattermost_test?sslmode=disable\u0026connect_timeout=10\u0026binary_parameters=yes","#,
                &format!(
                    r#"        "DataSource": "postgres://mmuser:{PASSWORD}@localhost:5432/mattermost?sslmode=disable\u0026connect_timeout=10","#
                ),
            )
            + "\n";
        // Each replacement above hit exactly one line, and nothing else changed, byte for byte.
        assert_eq!(MATTERMOST_WRITTEN.lines().count(), expected.lines().count());
        let changed = MATTERMOST_WRITTEN
            .lines()
            .zip(expected.lines())
            .filter(|(a, b)| a != b)
            .count();
        // FileSettings.DriverName ("local") and the replica's DataSource are left alone.
        assert_eq!(changed, 5);
        assert_eq!(out, expected);
    }

    #[test]
    fn unchanged_values_round_trip_byte_for_byte() {
        // Applying the file's own values rewrites it identically (plus the final newline).
        let same = OwnedSettings {
            driver_name: "mysql".into(),
            data_source: "postgres://mmuser:mostest@localhost/mattermost_test?sslmode=disable&connect_timeout=10&binary_parameters=yes".into(),
            site_url: None,
            listen_address: ":8065".into(),
            file_directory: "./data/".into(),
        };
        let out = apply_owned_settings(MATTERMOST_WRITTEN, &same, path()).unwrap();
        assert_eq!(out, format!("{MATTERMOST_WRITTEN}\n"));
        // And applying twice changes nothing more.
        assert_eq!(apply_owned_settings(&out, &same, path()).unwrap(), out);
    }

    #[test]
    fn missing_sections_and_keys_are_added_at_the_end() {
        let input = r#"{"ServiceSettings": {"SiteURL": "x", "EnableTesting": false}, "TeamSettings": {"SiteName": "M"}, "SqlSettings": null}"#;
        let out = apply_owned_settings(input, &owned(), path()).unwrap();
        let expected = format!(
            r#"{{
    "ServiceSettings": {{
        "SiteURL": "https://chat.example.com",
        "EnableTesting": false,
        "ListenAddress": "127.0.0.1:8065"
    }},
    "TeamSettings": {{
        "SiteName": "M"
    }},
    "SqlSettings": {{
        "DriverName": "postgres",
        "DataSource": "postgres://mmuser:{PASSWORD}@localhost:5432/mattermost?sslmode=disable\u0026connect_timeout=10"
    }},
    "FileSettings": {{
        "Directory": "./data/"
    }}
}}
"#
        );
        assert_eq!(out, expected);

        let out = apply_owned_settings("{}", &owned(), path()).unwrap();
        let value: Value = serde_json::from_str(&out).unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["SqlSettings", "ServiceSettings", "FileSettings"]);
        assert_eq!(
            value["SqlSettings"]["DataSource"],
            owned().data_source.as_str()
        );
    }

    #[test]
    fn invalid_json_names_the_file_and_position() {
        let text = "{\n    \"SqlSettings\": {\n        \"DriverName\": \"postgres\"\n        \"DataSource\": \"\"\n    }\n}";
        let err = apply_owned_settings(text, &owned(), path()).unwrap_err();
        let message = err.to_string();
        assert_eq!(
            message,
            "/opt/mattermost/config/config.json is not valid JSON: expected `,` or `}` at line 4, column 9"
        );
        assert!(!message.contains(PASSWORD));
        let hint = crate::exit::Diagnostic::hint(&err).unwrap();
        assert!(hint.contains("config.json"), "{hint}");

        let err = apply_owned_settings("", &owned(), path()).unwrap_err();
        assert!(
            matches!(err, RenderError::ConfigSyntax { line: 1, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn non_object_root_or_section_is_an_error_without_secrets() {
        let err = apply_owned_settings("[1, 2]", &owned(), path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/opt/mattermost/config/config.json: the top level is an array, not a JSON object"
        );
        let text = r#"{"SqlSettings": {}, "ServiceSettings": "oops"}"#;
        let err = apply_owned_settings(text, &owned(), path()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("`ServiceSettings` is a string"),
            "{message}"
        );
        assert!(!message.contains(PASSWORD), "{message}");
        assert!(!format!("{err:?}").contains(PASSWORD));
    }

    #[test]
    fn debug_hides_the_data_source() {
        let debug = format!("{:?}", owned());
        assert!(!debug.contains(PASSWORD), "{debug}");
        assert!(debug.contains("chat.example.com"), "{debug}");
    }

    #[test]
    fn strings_are_escaped_like_go() {
        let mut out = String::new();
        write_string(
            &mut out,
            "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}<>&\u{2028}\u{2029}\u{7f}é😀",
        );
        assert_eq!(
            out,
            r#""a\"b\\c\n\r\t\b\f\u0001\u001f\u003c\u003e\u0026\u2028\u2029"#.to_owned()
                + "\u{7f}é😀\""
        );
    }

    #[test]
    fn max_file_size_in_mib() {
        let with = |size: &str| format!(r#"{{"FileSettings": {{"MaxFileSize": {size}}}}}"#);
        assert_eq!(max_file_size_mb(MATTERMOST_WRITTEN), Some(100));
        assert_eq!(max_file_size_mb(&with("52428800")), Some(50));
        assert_eq!(max_file_size_mb(&with("52428801")), Some(51));
        assert_eq!(max_file_size_mb(&with("1")), Some(1));
        assert_eq!(max_file_size_mb(&with("0")), Some(1));
        assert_eq!(
            max_file_size_mb(&with("null")),
            Some(DEFAULT_MAX_FILE_SIZE_MB)
        );
        assert_eq!(max_file_size_mb("{}"), Some(DEFAULT_MAX_FILE_SIZE_MB));
        assert_eq!(max_file_size_mb(r#"{"FileSettings": {}}"#), Some(100));
        assert_eq!(max_file_size_mb(&with("-1")), None);
        assert_eq!(max_file_size_mb(&with("\"big\"")), None);
        assert_eq!(max_file_size_mb("[]"), None);
        assert_eq!(max_file_size_mb("{"), None);
    }
}
