//! nginx on the host: where a site file goes (Debian's `sites-available` + `sites-enabled`
//! symlink, or RHEL's `conf.d`), the stock default site that claims port 80, the installed
//! version, `nginx -t`, and reloads.

use std::path::PathBuf;

use super::{SystemError, run_checked, run_probe};
use crate::context::{CommandLine, Context};

/// Where our site lives, as system paths (resolve with [`Context::path`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteLayout {
    /// Debian/Ubuntu: the file in `sites-available`, enabled by a symlink in `sites-enabled`.
    SitesAvailable {
        available: PathBuf,
        enabled: PathBuf,
        stock_default: PathBuf,
    },
    /// RHEL family: one file in `conf.d`.
    ConfD { file: PathBuf },
}

impl SiteLayout {
    /// The layout of the nginx installed below the context's root.
    pub fn detect(ctx: &Context) -> SiteLayout {
        if ctx.path("/etc/nginx/sites-available").is_dir() {
            SiteLayout::SitesAvailable {
                available: "/etc/nginx/sites-available/mattermost".into(),
                enabled: "/etc/nginx/sites-enabled/mattermost".into(),
                stock_default: "/etc/nginx/sites-enabled/default".into(),
            }
        } else {
            SiteLayout::ConfD {
                file: "/etc/nginx/conf.d/mattermost.conf".into(),
            }
        }
    }

    /// The file holding the site's configuration.
    pub fn site_file(&self) -> &PathBuf {
        match self {
            SiteLayout::SitesAvailable { available, .. } => available,
            SiteLayout::ConfD { file } => file,
        }
    }
}

/// `nginx -v` output (nginx prints its version on stderr).
pub fn version_output(ctx: &Context) -> Result<String, SystemError> {
    let output = run_checked(ctx, &CommandLine::new("nginx", &["-v"]))?;
    Ok(format!("{}{}", output.stdout, output.stderr))
}

/// `nginx -t`: `Ok` when the whole configuration is valid, otherwise nginx's complaint.
pub fn test_configuration(ctx: &Context) -> Result<(), SystemError> {
    let output = run_probe(ctx, &CommandLine::new("nginx", &["-t", "-q"]))?;
    if output.success() {
        Ok(())
    } else {
        Err(SystemError::Unexpected {
            what: "nginx rejects the configuration (`nginx -t`)".into(),
            detail: output.stderr.trim().to_string(),
        })
    }
}
