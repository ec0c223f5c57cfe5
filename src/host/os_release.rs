//! The os-release file (os-release(5)): which Linux distribution and version a system runs,
//! parsed from its shell-style `KEY=VALUE` lines, and found at `/etc/os-release` or
//! `/usr/lib/os-release` under the context's root.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::HostError;
use crate::context::Context;

/// Where os-release(5) says to look, in order: the first that exists wins.
const SYSTEM_PATHS: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// The fields of an os-release file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OsRelease {
    fields: BTreeMap<String, String>,
}

impl OsRelease {
    /// Parse the text of an os-release file. Comments, blank lines and lines that are not valid
    /// assignments are skipped; when a key repeats, the last assignment wins (as in a shell).
    pub fn parse(text: &str) -> OsRelease {
        OsRelease {
            fields: text.lines().filter_map(parse_line).collect(),
        }
    }

    /// Read the os-release file: exactly `explicit` when given (not resolved under the root),
    /// otherwise `/etc/os-release`, then `/usr/lib/os-release`, under `ctx`'s root. Returns the
    /// parsed file and the path it was read from.
    pub fn load(ctx: &Context, explicit: Option<&Path>) -> Result<(OsRelease, PathBuf), HostError> {
        let candidates: Vec<PathBuf> = match explicit {
            Some(path) => vec![path.to_path_buf()],
            None => SYSTEM_PATHS.iter().map(|path| ctx.path(path)).collect(),
        };
        for path in &candidates {
            match fs_err::read(path) {
                Ok(bytes) => {
                    let os = OsRelease::parse(&String::from_utf8_lossy(&bytes));
                    return Ok((os, path.clone()));
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(HostError::ReadOsRelease {
                        path: path.clone(),
                        source,
                    });
                }
            }
        }
        Err(HostError::OsReleaseNotFound { tried: candidates })
    }

    /// The raw value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// `ID`, lowercased; `linux` when unset, as os-release(5) specifies.
    pub fn id(&self) -> String {
        self.non_empty("ID").unwrap_or("linux").to_lowercase()
    }

    /// `ID_LIKE`: the IDs of the distributions this one derives from, closest first, lowercased.
    pub fn id_like(&self) -> Vec<String> {
        self.get("ID_LIKE")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_lowercase)
            .collect()
    }

    /// `VERSION_ID`, e.g. `24.04` or `9.4`; unset on rolling distributions.
    pub fn version_id(&self) -> Option<&str> {
        self.non_empty("VERSION_ID")
    }

    /// `NAME`, e.g. `Rocky Linux`; `Linux` when unset, as os-release(5) specifies.
    pub fn name(&self) -> &str {
        self.non_empty("NAME").unwrap_or("Linux")
    }

    /// `PRETTY_NAME`, e.g. `Debian GNU/Linux 12 (bookworm)`; `Linux` when unset, as
    /// os-release(5) specifies.
    pub fn pretty_name(&self) -> &str {
        self.non_empty("PRETTY_NAME").unwrap_or("Linux")
    }

    /// The value of `key` unless it is unset or empty.
    fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|value| !value.is_empty())
    }
}

/// One `KEY=VALUE` line as a key and its unquoted value; `None` for comments, blank lines and
/// malformed lines.
fn parse_line(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (key, raw) = line.split_once('=')?;
    if !is_valid_key(key) {
        return None;
    }
    Some((key.to_owned(), unquote(raw)?))
}

/// A shell variable name: ASCII letters, digits and `_`, not starting with a digit.
fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The value of a shell-style assignment: single quotes taken literally, double quotes with
/// the backslash escapes `\"`, `\\`, `\$` and `` \` ``, and an unquoted word with any character
/// escapable by a backslash. `None` when the value is malformed: an unterminated quote, or text
/// after the value other than a `#` comment (os-release(5) does not allow concatenation).
fn unquote(raw: &str) -> Option<String> {
    let mut value = String::new();
    let mut chars = raw.chars();
    let rest = match raw.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            chars.next();
            loop {
                match chars.next()? {
                    c if c == quote => break,
                    '\\' if quote == '"' => {
                        let escaped = chars.next()?;
                        if !matches!(escaped, '"' | '\\' | '$' | '`') {
                            value.push('\\');
                        }
                        value.push(escaped);
                    }
                    c => value.push(c),
                }
            }
            chars.as_str()
        }
        _ => loop {
            match chars.next() {
                None => break "",
                Some(c) if c.is_whitespace() => break chars.as_str(),
                Some('"' | '\'') => return None,
                Some('\\') => value.push(chars.next().unwrap_or('\\')),
                Some(c) => value.push(c),
            }
        },
    };
    let rest = rest.trim_start();
    (rest.is_empty() || rest.starts_with('#')).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Diagnostic;

    #[test]
    fn parses_quotes_comments_and_blank_lines() {
        let os = OsRelease::parse(
            "# a comment\n\
             \n\
             NAME=\"Rocky Linux\"\n\
             ID=rocky\n\
             ID_LIKE=\"rhel centos fedora\"\n\
             VERSION_ID='9.4'\n\
             \t# an indented comment\n\
             ANSI_COLOR=\"0;32\"  # trailing comment\n\
             EMPTY=\n\
             EMPTY_QUOTED=\"\"\n",
        );
        assert_eq!(os.name(), "Rocky Linux");
        assert_eq!(os.id(), "rocky");
        assert_eq!(os.id_like(), ["rhel", "centos", "fedora"]);
        assert_eq!(os.version_id(), Some("9.4"));
        assert_eq!(os.get("ANSI_COLOR"), Some("0;32"));
        assert_eq!(os.get("EMPTY"), Some(""));
        assert_eq!(os.get("EMPTY_QUOTED"), Some(""));
        assert_eq!(os.get("# a comment"), None);
    }

    #[test]
    fn double_quotes_take_shell_escapes() {
        let os = OsRelease::parse(concat!(
            r#"PRETTY_NAME="Say \"hi\" \\ \$HOME \`date\` \n""#,
            "\n",
            r#"SINGLE='no \"escapes\" $HERE'"#,
            "\n",
            r#"UNQUOTED=Server\ Edition\$"#,
            "\n",
        ));
        assert_eq!(os.pretty_name(), r#"Say "hi" \ $HOME `date` \n"#);
        assert_eq!(os.get("SINGLE"), Some(r#"no \"escapes\" $HERE"#));
        assert_eq!(os.get("UNQUOTED"), Some("Server Edition$"));
    }

    #[test]
    fn skips_invalid_lines() {
        let os = OsRelease::parse(concat!(
            "ID=debian\n",
            "just some words\n",
            "=value\n",
            "1ID=digit\n",
            "BAD KEY=x\n",
            "export ID=shell\n",
            "UNTERMINATED=\"Debian\n",
            "CONCATENATED=\"a\"'b'\n",
            "TWO_WORDS=a b\n",
            "MIXED=a\"b\"\n",
            "VERSION_ID=\"12\"\r\n",
        ));
        assert_eq!(os.id(), "debian");
        assert_eq!(os.version_id(), Some("12"));
        for key in [
            "UNTERMINATED",
            "CONCATENATED",
            "TWO_WORDS",
            "MIXED",
            "BAD KEY",
            "1ID",
            "",
        ] {
            assert_eq!(os.get(key), None, "{key}");
        }
    }

    #[test]
    fn later_assignments_win() {
        let os = OsRelease::parse("ID=first\nID=second\n");
        assert_eq!(os.id(), "second");
    }

    #[test]
    fn defaults_follow_os_release_5() {
        let os = OsRelease::parse("ID=\nID_LIKE=\"\"\n");
        assert_eq!(os.id(), "linux");
        assert_eq!(os.name(), "Linux");
        assert_eq!(os.pretty_name(), "Linux");
        assert_eq!(os.version_id(), None);
        assert!(os.id_like().is_empty());
    }

    #[test]
    fn ids_are_lowercased() {
        let os = OsRelease::parse("ID=Ubuntu\nID_LIKE=\"Debian\"\n");
        assert_eq!(os.id(), "ubuntu");
        assert_eq!(os.id_like(), ["debian"]);
    }

    fn write(path: &Path, contents: &str) {
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, contents).unwrap();
    }

    #[test]
    fn loads_etc_first_then_usr_lib_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        let ctx = Context::new(root.path());
        let usr_lib = root.path().join("usr/lib/os-release");
        write(&usr_lib, "ID=fallback\n");

        let (os, path) = OsRelease::load(&ctx, None).unwrap();
        assert_eq!(os.id(), "fallback");
        assert_eq!(path, usr_lib);

        let etc = root.path().join("etc/os-release");
        write(&etc, "ID=primary\n");
        let (os, path) = OsRelease::load(&ctx, None).unwrap();
        assert_eq!(os.id(), "primary");
        assert_eq!(path, etc);
    }

    #[test]
    fn explicit_file_is_not_resolved_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        write(&root.path().join("etc/os-release"), "ID=from_root\n");
        let elsewhere = tempfile::tempdir().unwrap();
        let file = elsewhere.path().join("os-release");
        write(&file, "ID=explicit\n");

        let (os, path) = OsRelease::load(&Context::new(root.path()), Some(&file)).unwrap();
        assert_eq!(os.id(), "explicit");
        assert_eq!(path, file);
    }

    #[test]
    fn missing_files_name_every_path_tried() {
        let root = tempfile::tempdir().unwrap();
        let ctx = Context::new(root.path());
        let err = OsRelease::load(&ctx, None).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&ctx.path("/etc/os-release").display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&ctx.path("/usr/lib/os-release").display().to_string()),
            "{message}"
        );
        assert!(err.hint().unwrap().contains("--os-release FILE"));

        let missing = root.path().join("no-such-file");
        let err = OsRelease::load(&ctx, Some(&missing)).unwrap_err();
        match &err {
            HostError::OsReleaseNotFound { tried } => {
                assert_eq!(tried, std::slice::from_ref(&missing))
            }
            other => panic!("unexpected error: {other:?}"),
        }
        assert!(err.to_string().contains(&missing.display().to_string()));
    }

    #[test]
    fn unreadable_file_is_a_read_error() {
        let root = tempfile::tempdir().unwrap();
        // A directory where the file should be: exists, but cannot be read as a file.
        fs_err::create_dir_all(root.path().join("etc/os-release")).unwrap();
        let err = OsRelease::load(&Context::new(root.path()), None).unwrap_err();
        assert!(matches!(err, HostError::ReadOsRelease { .. }), "{err:?}");
        assert!(err.to_string().contains("etc/os-release"));
    }
}
