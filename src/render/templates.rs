//! The templates: built in from `templates/` at build time, each replaceable by a file of the
//! same name in the admin's override directory, rendered with minijinja in strict mode (a
//! variable the template uses but mm-install does not define is an error, not an empty string).

use std::io;
use std::path::PathBuf;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use super::RenderError;

/// The systemd unit's file name, in `templates/` and in the override directory.
pub const SYSTEMD_UNIT: &str = "mattermost.service";
/// The nginx site's file name, in `templates/` and in the override directory.
pub const NGINX_SITE: &str = "nginx-mattermost.conf";
/// The unattended-upgrade service's file name.
pub const UPGRADE_SERVICE: &str = "mm-install-upgrade.service";
/// The unattended-upgrade timer's file name.
pub const UPGRADE_TIMER: &str = "mm-install-upgrade.timer";

/// One template shipped inside the binary.
pub(super) struct BuiltIn {
    /// Its file name, also looked for in the override directory.
    pub(super) name: &'static str,
    text: &'static str,
}

/// The built-in systemd unit.
pub(super) const UNIT: BuiltIn = BuiltIn {
    name: SYSTEMD_UNIT,
    text: include_str!("../../templates/mattermost.service"),
};

/// The built-in nginx site.
pub(super) const SITE: BuiltIn = BuiltIn {
    name: NGINX_SITE,
    text: include_str!("../../templates/nginx-mattermost.conf"),
};

/// The built-in unattended-upgrade service.
pub(super) const UPGRADE_SERVICE_UNIT: BuiltIn = BuiltIn {
    name: UPGRADE_SERVICE,
    text: include_str!("../../templates/mm-install-upgrade.service"),
};

/// The built-in unattended-upgrade timer.
pub(super) const UPGRADE_TIMER_UNIT: BuiltIn = BuiltIn {
    name: UPGRADE_TIMER,
    text: include_str!("../../templates/mm-install-upgrade.timer"),
};

/// Where templates come from: the built-in ones, unless the override directory has a file of
/// the same name.
#[derive(Clone, Debug)]
pub struct Templates {
    override_dir: Option<PathBuf>,
}

impl Templates {
    /// Templates overridable from `override_dir` (normally [`crate::layout::TEMPLATES_OVERRIDE_DIR`] under the root);
    /// `None` uses the built-in ones only. Overrides are read when rendering, not here.
    pub fn new(override_dir: Option<PathBuf>) -> Self {
        Templates { override_dir }
    }

    /// Render `template` (or its override) with `context`.
    pub(super) fn render(&self, template: &BuiltIn, context: Value) -> Result<String, RenderError> {
        let (text, path) = self.source(template)?;
        let error = |source| RenderError::Template {
            name: template.name,
            path: path.clone(),
            source,
        };
        let syntax = SyntaxConfig::builder()
            // Lines holding only a `{% … %}` tag leave no blank line behind.
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(error)?;
        let mut env = Environment::new();
        env.set_syntax(syntax);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.template_from_named_str(template.name, &text)
            .and_then(|compiled| compiled.render(context))
            .map_err(error)
    }

    /// The text of `template`: the override file if there is one, else the built-in text; with
    /// the override's path when one was used.
    fn source(&self, template: &BuiltIn) -> Result<(String, Option<PathBuf>), RenderError> {
        if let Some(dir) = &self.override_dir {
            let path = dir.join(template.name);
            match fs_err::read_to_string(&path) {
                Ok(text) => return Ok((text, Some(path))),
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(RenderError::ReadOverride { path, source }),
            }
        }
        Ok((template.text.to_owned(), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn built_in_is_used_without_an_override() {
        let dir = tempfile::tempdir().unwrap();
        for templates in [
            Templates::new(None),
            Templates::new(Some(dir.path().to_path_buf())),
        ] {
            let (text, path) = templates.source(&UNIT).unwrap();
            assert_eq!(text, UNIT.text);
            assert_eq!(path, None);
        }
    }

    #[test]
    fn override_dir_wins() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(
            dir.path().join(SYSTEMD_UNIT),
            "ExecStart={{ exec_start }}\n",
        )
        .unwrap();
        let templates = Templates::new(Some(dir.path().to_path_buf()));
        let out = templates
            .render(&UNIT, context! { exec_start => "/x/bin/mattermost" })
            .unwrap();
        assert_eq!(out, "ExecStart=/x/bin/mattermost\n");
        // The other template is still the built-in one.
        assert_eq!(
            templates.source(&SITE).unwrap(),
            (SITE.text.to_owned(), None)
        );
    }

    #[test]
    fn undefined_variable_in_an_override_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(NGINX_SITE);
        fs_err::write(&path, "server_name {{ sever_name }};\n").unwrap();
        let templates = Templates::new(Some(dir.path().to_path_buf()));
        let err = templates
            .render(&SITE, context! { server_name => "_" })
            .unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        let hint = crate::exit::Diagnostic::hint(&err).unwrap();
        assert!(hint.contains("remove it"), "{hint}");
    }

    #[test]
    fn syntax_error_in_an_override_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join(NGINX_SITE), "{% if tls %}\n").unwrap();
        let templates = Templates::new(Some(dir.path().to_path_buf()));
        let err = templates
            .render(&SITE, context! { tls => false })
            .unwrap_err();
        assert!(
            matches!(err, RenderError::Template { path: Some(_), .. }),
            "{err:?}"
        );
    }

    #[test]
    fn unreadable_override_is_an_error_not_a_silent_fallback() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be cannot be read as text.
        fs_err::create_dir(dir.path().join(SYSTEMD_UNIT)).unwrap();
        let templates = Templates::new(Some(dir.path().to_path_buf()));
        let err = templates.render(&UNIT, context! {}).unwrap_err();
        assert!(matches!(err, RenderError::ReadOverride { .. }), "{err:?}");
    }
}
