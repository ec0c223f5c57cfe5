//! `mm-install render`: print the systemd unit, the upgrade timer or the nginx site that
//! mm-install would write, from the same templates (and the admin's overrides below `--root`).

use super::CommandResult;
use super::args::{GlobalArgs, RenderTemplate, TimerUnit};
use super::output::Printer;
use crate::context::Context;
use crate::ops::install;
use crate::render::{self, NginxOptions, Templates, TlsFiles, UnitOptions};

/// Run the render command.
pub fn run(global: &GlobalArgs, template: RenderTemplate, printer: &Printer) -> CommandResult {
    let ctx = Context::new(&global.root);
    let templates = Templates::new(Some(ctx.path(crate::layout::TEMPLATES_OVERRIDE_DIR)));
    let text = match template {
        RenderTemplate::Systemd { local_database } => render::render_systemd_unit(
            &templates,
            &UnitOptions {
                install_dir: crate::layout::INSTALL_DIR.into(),
                user: install::SERVICE_USER.into(),
                group: install::SERVICE_USER.into(),
                local_database_unit: local_database.then(|| "postgresql.service".to_string()),
            },
        )?,
        RenderTemplate::Timer { only, binary } => {
            let (service, timer) = render::render_upgrade_timer(&templates, &binary)?;
            match only {
                Some(TimerUnit::Service) => service,
                Some(TimerUnit::Timer) => timer,
                None => format!(
                    "# {}\n{service}\n# {}\n{timer}",
                    render::UPGRADE_SERVICE,
                    render::UPGRADE_TIMER
                ),
            }
        }
        RenderTemplate::Nginx {
            site_url,
            tls_cert,
            tls_key,
            nginx_version,
            max_upload_mb,
            no_default_server,
        } => render::render_nginx_site(
            &templates,
            &NginxOptions {
                site_url,
                upstream: install::LISTEN_ADDRESS.into(),
                tls: tls_cert
                    .zip(tls_key)
                    .map(|(certificate, key)| TlsFiles { certificate, key }),
                http2: render::http2_syntax(&format!("nginx version: nginx/{nginx_version}"))?,
                client_max_body_size_mb: max_upload_mb,
                default_server: !no_default_server,
            },
        )?,
    };
    printer.data(text.trim_end());
    Ok(())
}
