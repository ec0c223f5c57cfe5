//! What mm-install writes for Mattermost: the systemd unit and the nginx site, rendered from
//! templates in `templates/` (built in, overridable by the admin from
//! `/etc/mm-install/templates/`), and the few `config.json` settings mm-install owns, edited in
//! place so every other setting an admin chose survives. Everything here is pure text in, text
//! out, except reading an override template.

mod config;
mod nginx;
mod systemd;
mod templates;

use std::path::{Path, PathBuf};

use crate::exit::{Diagnostic, ExitCode};

pub use config::{DEFAULT_MAX_FILE_SIZE_MB, OwnedSettings, apply_owned_settings, max_file_size_mb};
pub use nginx::{Http2Syntax, NginxOptions, TlsFiles, http2_syntax, render_nginx_site};
pub use systemd::{UnitOptions, render_systemd_unit, render_upgrade_timer};
pub use templates::{NGINX_SITE, SYSTEMD_UNIT, Templates, UPGRADE_SERVICE, UPGRADE_TIMER};

/// Everything that can go wrong while rendering a template or editing `config.json`. No message
/// ever contains `SqlSettings.DataSource`: it holds the database password.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An admin's override template exists but cannot be read.
    #[error("cannot read the template override {}", .path.display())]
    ReadOverride {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A template does not parse, or uses a variable that is not defined.
    #[error("cannot render the template {}", template_origin(.name, .path.as_deref()))]
    Template {
        /// The template's file name, e.g. `mattermost.service`.
        name: &'static str,
        /// The override file, when the template came from one; `None` for the built-in one.
        path: Option<PathBuf>,
        #[source]
        source: minijinja::Error,
    },
    /// A value would not survive being written into the file (it would split a directive, or
    /// the file's syntax cannot express it).
    #[error("cannot write the {field} `{value}` into {template}: {reason}")]
    UnsafeValue {
        /// The file being rendered, e.g. `mattermost.service`.
        template: &'static str,
        /// What the value is, e.g. `install directory`.
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    /// `nginx -v` printed something without a version we recognise.
    #[error("cannot find the nginx version in the output of `nginx -v`: `{output}`")]
    NginxVersion { output: String },
    /// `config.json` is not valid JSON.
    #[error("{} is not valid JSON: {reason} at line {line}, column {column}", .path.display())]
    ConfigSyntax {
        path: PathBuf,
        /// serde_json's description, without the position.
        reason: String,
        line: usize,
        column: usize,
    },
    /// `config.json`, or one of the sections mm-install edits, is not a JSON object.
    #[error("{}: {location} is {found}, not a JSON object", .path.display())]
    ConfigShape {
        path: PathBuf,
        /// `the top level` or a section name such as `SqlSettings`.
        location: String,
        /// The JSON type found instead, e.g. `an array`.
        found: &'static str,
    },
}

impl Diagnostic for RenderError {
    fn exit_code(&self) -> ExitCode {
        match self {
            RenderError::UnsafeValue { .. } => ExitCode::Usage,
            RenderError::ReadOverride { .. }
            | RenderError::Template { .. }
            | RenderError::NginxVersion { .. }
            | RenderError::ConfigSyntax { .. }
            | RenderError::ConfigShape { .. } => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            RenderError::ReadOverride { path, .. } => format!(
                "make {} readable by root, or remove it to use mm-install's built-in template",
                path.display()
            ),
            RenderError::Template {
                path: Some(path), ..
            } => format!(
                "fix {} (its variables are listed at its top in mm-install's built-in template), \
                 or remove it to use the built-in template",
                path.display()
            ),
            RenderError::Template { path: None, .. } => {
                "this is a bug in mm-install; please report it".to_owned()
            }
            RenderError::UnsafeValue { .. } => "pass another value: mm-install writes only \
                 absolute, normalized paths and values without whitespace, quotes or \
                 `; { } \\ $ # %`"
                .to_owned(),
            RenderError::NginxVersion { .. } => {
                "check that `nginx -v` runs and prints `nginx version: nginx/X.Y.Z`".to_owned()
            }
            RenderError::ConfigSyntax { path, .. } => format!(
                "Mattermost cannot read {} either: fix the JSON at that position",
                path.display()
            ),
            RenderError::ConfigShape { path, .. } => format!(
                "fix {} by hand: Mattermost expects an object with one object per settings \
                 section",
                path.display()
            ),
        })
    }
}

/// How a template is named in error messages: its override path, or the built-in name.
fn template_origin(name: &str, path: Option<&Path>) -> String {
    match path {
        Some(path) => path.display().to_string(),
        None => format!("built-in {name}"),
    }
}

/// Characters that end or change a directive in an nginx or systemd file, or start a comment
/// or variable, and so never appear in a value mm-install writes.
const SPECIAL: &[char] = &[';', '{', '}', '"', '\'', '\\', '$', '#', '%'];

/// `value` as one token of `template`: non-empty, no whitespace, control or [`SPECIAL`]
/// characters.
fn check_token(
    template: &'static str,
    field: &'static str,
    value: &str,
) -> Result<(), RenderError> {
    let reason = if value.is_empty() {
        Some("it is empty")
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it contains whitespace or a control character")
    } else if value.contains(SPECIAL) {
        Some("it contains one of ; { } \" ' \\ $ # %, which the file would read as syntax")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(RenderError::UnsafeValue {
            template,
            field,
            value: value.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// `path` as an absolute, UTF-8 token of `template`, without `.` or `..` components or doubled
/// slashes.
fn check_path(
    template: &'static str,
    field: &'static str,
    path: &Path,
) -> Result<String, RenderError> {
    let unsafe_value = |reason| RenderError::UnsafeValue {
        template,
        field,
        value: path.display().to_string(),
        reason,
    };
    let Some(text) = path.to_str() else {
        return Err(unsafe_value("it is not valid UTF-8"));
    };
    if !path.is_absolute() {
        return Err(unsafe_value("it is not an absolute path"));
    }
    // `components()` drops `.` and doubled slashes, so any of them makes the two differ.
    let normalized: PathBuf = path.components().collect();
    let without_trailing_slash = match text.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    let has_parent = path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir));
    if has_parent || normalized.as_os_str() != without_trailing_slash {
        return Err(unsafe_value("it contains `.`, `..` or `//`"));
    }
    check_token(template, field, text)?;
    Ok(normalized.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_reject_what_would_split_a_directive() {
        for bad in [
            "", "a b", "a;b", "a{", "a}", "a\"", "a'", "a\\b", "$host", "a#b", "50%", "a\nb",
        ] {
            let err = check_token("t", "field", bad).unwrap_err();
            assert!(matches!(err, RenderError::UnsafeValue { .. }), "{bad:?}");
            assert_eq!(err.exit_code(), ExitCode::Usage);
        }
        for good in [
            "_",
            "chat.example.com",
            "127.0.0.1:8065",
            "[::1]:8065",
            "postgresql@15-main.service",
        ] {
            check_token("t", "field", good).unwrap();
        }
    }

    #[test]
    fn paths_must_be_absolute_and_normalized() {
        assert_eq!(
            check_path("t", "f", Path::new("/opt/mattermost/")).unwrap(),
            "/opt/mattermost"
        );
        assert_eq!(check_path("t", "f", Path::new("/")).unwrap(), "/");
        for bad in [
            "opt/mattermost",
            "/opt/../etc",
            "/opt/./mattermost",
            "/opt//mattermost",
            "/opt/my dir",
        ] {
            let err = check_path("t", "install directory", Path::new(bad)).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
