//! The systemd unit that runs Mattermost (`/etc/systemd/system/mattermost.service`): the unit
//! from Mattermost's docs, ordered after the network and a local database, with hardening that
//! keeps plugins, setcap and the mmctl local socket working.

use std::path::{Path, PathBuf};

use minijinja::context;

use super::templates::{UNIT, UPGRADE_SERVICE_UNIT, UPGRADE_TIMER_UNIT};
use super::{RenderError, Templates, check_path, check_token};

/// Directories `ProtectHome=true` makes inaccessible, so the server cannot live under them.
const PROTECTED_HOMES: [&str; 3] = ["/home", "/root", "/run/user"];

/// What the unit needs to know about the installation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitOptions {
    /// The Mattermost tree, e.g. `/opt/mattermost`; the server is `<install_dir>/bin/mattermost`.
    pub install_dir: PathBuf,
    /// The account the server runs as.
    pub user: String,
    pub group: String,
    /// The unit that really runs the local PostgreSQL, when the database runs on this host:
    /// Debian's `postgresql@15-main.service` (not its `postgresql.service` umbrella), PGDG's
    /// `postgresql-16.service`, or `postgresql.service` (see `system::postgres::detect_local`).
    pub local_database_unit: Option<String>,
}

/// The unit file's text for `options`.
pub fn render_systemd_unit(t: &Templates, o: &UnitOptions) -> Result<String, RenderError> {
    let install_dir = check_path(UNIT.name, "install directory", &o.install_dir)?;
    if let Some(home) = PROTECTED_HOMES
        .iter()
        .find(|home| Path::new(&install_dir).starts_with(home))
    {
        return Err(RenderError::UnsafeValue {
            template: UNIT.name,
            field: "install directory",
            value: install_dir.clone(),
            reason: match *home {
                "/home" => "the unit's ProtectHome=true hides /home from the server",
                "/root" => "the unit's ProtectHome=true hides /root from the server",
                _ => "the unit's ProtectHome=true hides /run/user from the server",
            },
        });
    }
    check_token(UNIT.name, "user", &o.user)?;
    check_token(UNIT.name, "group", &o.group)?;
    if let Some(unit) = &o.local_database_unit {
        check_token(UNIT.name, "database unit", unit)?;
    }
    let exec_start = Path::new(&install_dir).join("bin").join("mattermost");
    t.render(
        &UNIT,
        context! {
            install_dir,
            exec_start => exec_start.display().to_string(),
            user => o.user.as_str(),
            group => o.group.as_str(),
            local_database_unit => o.local_database_unit.as_deref(),
        },
    )
}

/// The unattended-upgrade service and timer (`mm-install-upgrade.service`, `.timer`), for
/// `binary` (the installed mm-install, e.g. `/usr/bin/mm-install`).
pub fn render_upgrade_timer(t: &Templates, binary: &Path) -> Result<(String, String), RenderError> {
    let binary = check_path(UPGRADE_SERVICE_UNIT.name, "mm-install binary", binary)?;
    let service = t.render(&UPGRADE_SERVICE_UNIT, context! { binary })?;
    let timer = t.render(&UPGRADE_TIMER_UNIT, context! {})?;
    Ok((service, timer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::{Diagnostic, ExitCode};

    fn options() -> UnitOptions {
        UnitOptions {
            install_dir: PathBuf::from("/opt/mattermost"),
            user: "mattermost".into(),
            group: "mattermost".into(),
            local_database_unit: None,
        }
    }

    /// The unit's directives (not comments or blank lines), in order.
    fn directives(unit: &str) -> Vec<&str> {
        unit.lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    }

    #[test]
    fn unit_has_the_docs_directives_and_hardening() {
        let unit = render_systemd_unit(&Templates::new(None), &options()).unwrap();
        assert_eq!(
            directives(&unit),
            [
                "[Unit]",
                "Description=Mattermost",
                "After=network-online.target",
                "Wants=network-online.target",
                "[Service]",
                "Type=notify",
                "ExecStart=/opt/mattermost/bin/mattermost",
                "TimeoutStartSec=3600",
                "KillMode=mixed",
                "Restart=always",
                "RestartSec=10",
                "WorkingDirectory=/opt/mattermost",
                "User=mattermost",
                "Group=mattermost",
                "LimitNOFILE=49152",
                "ProtectSystem=full",
                "ReadWritePaths=/opt/mattermost",
                "ProtectHome=true",
                "ProtectControlGroups=true",
                "ProtectProc=invisible",
                "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                "[Install]",
                "WantedBy=multi-user.target",
            ]
        );
        assert!(unit.starts_with("# Managed by mm-install"), "{unit}");
        assert!(unit.ends_with("WantedBy=multi-user.target\n"), "{unit:?}");
        assert!(!unit.contains("\n\n\n"), "no runs of blank lines: {unit}");
    }

    #[test]
    fn unit_leaves_out_what_breaks_setcap_or_the_local_socket() {
        let unit = render_systemd_unit(&Templates::new(None), &options()).unwrap();
        // Each of these is itself, or implies for a User= service, NoNewPrivileges=yes
        // (systemd.exec(5)), which stops setcap from working; PrivateTmp hides the mmctl socket.
        for banned in [
            "NoNewPrivileges",
            "PrivateTmp",
            "PrivateDevices",
            "ProtectKernelTunables",
            "ProtectKernelModules",
            "ProtectKernelLogs",
            "ProtectClock",
            "ProtectHostname",
            "RestrictSUIDSGID",
            "RestrictNamespaces",
            "RestrictRealtime",
            "RestrictAddressFamilies",
            "LockPersonality",
            "MemoryDenyWriteExecute",
            "SystemCallFilter",
            "SystemCallArchitectures",
            "DynamicUser",
            "BindsTo",
        ] {
            let set = directives(&unit)
                .into_iter()
                .any(|line| line.starts_with(&format!("{banned}=")));
            assert!(!set, "{banned}= must not be set:\n{unit}");
        }
    }

    #[test]
    fn local_database_is_wanted_and_ordered_before() {
        let mut o = options();
        o.local_database_unit = Some("postgresql.service".into());
        let unit = render_systemd_unit(&Templates::new(None), &o).unwrap();
        let d = directives(&unit);
        let unit_section = &d[..d.iter().position(|l| *l == "[Service]").unwrap()];
        assert_eq!(
            unit_section,
            [
                "[Unit]",
                "Description=Mattermost",
                "After=network-online.target",
                "Wants=network-online.target",
                "After=postgresql.service",
                "Wants=postgresql.service",
            ]
        );
    }

    #[test]
    fn other_install_dir_user_and_group() {
        let o = UnitOptions {
            install_dir: PathBuf::from("/srv/chat/mattermost/"),
            user: "mm".into(),
            group: "chat".into(),
            local_database_unit: Some("postgresql@15-main.service".into()),
        };
        let unit = render_systemd_unit(&Templates::new(None), &o).unwrap();
        let d = directives(&unit);
        for line in [
            "ExecStart=/srv/chat/mattermost/bin/mattermost",
            "WorkingDirectory=/srv/chat/mattermost",
            "ReadWritePaths=/srv/chat/mattermost",
            "User=mm",
            "Group=chat",
            "After=postgresql@15-main.service",
        ] {
            assert!(d.contains(&line), "{line} missing:\n{unit}");
        }
    }

    #[test]
    fn unsafe_values_are_refused() {
        let t = Templates::new(None);
        let mut o = options();
        o.install_dir = PathBuf::from("/opt/matter most");
        let err = render_systemd_unit(&t, &o).unwrap_err();
        assert!(err.to_string().contains("/opt/matter most"), "{err}");
        assert_eq!(err.exit_code(), ExitCode::Usage);

        let mut o = options();
        o.install_dir = PathBuf::from("/home/admin/mattermost");
        let err = render_systemd_unit(&t, &o).unwrap_err();
        assert!(err.to_string().contains("ProtectHome"), "{err}");

        let mut o = options();
        o.user = "matter\nExecStartPre=/bin/evil".into();
        assert!(render_systemd_unit(&t, &o).is_err());

        let mut o = options();
        o.local_database_unit = Some("postgresql.service ssh.service".into());
        assert!(render_systemd_unit(&t, &o).is_err());

        // `/homestead` is not under `/home`.
        let mut o = options();
        o.install_dir = PathBuf::from("/homestead/mattermost");
        render_systemd_unit(&t, &o).unwrap();
    }
}
