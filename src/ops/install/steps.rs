//! The steps of an install: what each one says and how it is undone.

use super::*;

/// One change the install makes, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    EnablePostgresStream {
        stream: String,
    },
    InstallPackages {
        manager: PackageManager,
        packages: Vec<String>,
    },
    /// Enable and start the PostgreSQL `unit`, creating its cluster first where the package
    /// does not (`initdb`). Its undo puts back the unit's state recorded just before.
    InitializePostgres {
        initdb: bool,
        unit: String,
    },
    CreateUser,
    /// `existing_role`: `None` when the role does not exist yet, otherwise its current
    /// password hash (restored on undo).
    ProvisionDatabase {
        existing_role: Option<Option<String>>,
    },
    /// Let the role log in with a password over 127.0.0.1 and ::1 where `pg_hba.conf` does not
    /// (RHEL's `ident` defaults), and reload PostgreSQL.
    AllowPasswordLogin,
    Extract {
        staging: PathBuf,
    },
    PlaceTree {
        staging: PathBuf,
    },
    Configure,
    LabelBinaries,
    WriteUnit,
    EnableService,
    StartService,
    WriteNginxSite {
        layout: SiteLayout,
        set_aside_default: bool,
    },
    AllowNginxUpstream,
    OpenFirewall {
        services: Vec<String>,
    },
    ReloadNginx,
    ProveItWorks,
    RecordState,
}

impl Step {
    /// The step as the plan and the log show it.
    pub fn description(&self, options: &InstallOptions) -> String {
        match self {
            Step::InstallPackages { manager, packages } => {
                format!("install {} with {manager}", packages.join(" "))
            }
            Step::EnablePostgresStream { stream } => {
                format!(
                    "enable the PostgreSQL {stream} module stream (dnf module enable postgresql:{stream})"
                )
            }
            Step::InitializePostgres { initdb: true, unit } => {
                format!(
                    "initialize PostgreSQL (postgresql-setup --initdb), enable and start {unit}"
                )
            }
            Step::InitializePostgres {
                initdb: false,
                unit,
            } => format!("enable and start PostgreSQL ({unit})"),
            Step::CreateUser => format!("create the system user and group `{SERVICE_USER}`"),
            Step::ProvisionDatabase { existing_role } => format!(
                "{} PostgreSQL role `{DATABASE_ROLE}` (new random password) and create the database `{DATABASE_NAME}`",
                if existing_role.is_some() {
                    "reset the password of the existing"
                } else {
                    "create the"
                }
            ),
            Step::AllowPasswordLogin => format!(
                "let `{DATABASE_ROLE}` log in to `{DATABASE_NAME}` with a password from 127.0.0.1 and ::1 (pg_hba.conf, where its rules do not already) and reload PostgreSQL"
            ),
            Step::Extract { staging } => format!(
                "extract {} into {}",
                options.artifact.file_name(),
                staging.display()
            ),
            Step::PlaceTree { .. } => {
                format!("move the release to {INSTALL_DIR} and create {INSTALL_DIR}/data")
            }
            Step::Configure => format!(
                "configure {INSTALL_DIR}/config/config.json (database, SiteURL `{}`, ListenAddress {LISTEN_ADDRESS}) and give the tree to `{SERVICE_USER}`",
                options
                    .site_url
                    .as_ref()
                    .map(SiteUrl::to_string)
                    .unwrap_or_default()
            ),
            Step::LabelBinaries => format!("label {INSTALL_DIR}/bin for SELinux (bin_t)"),
            Step::WriteUnit => format!("write {UNIT_FILE}"),
            Step::EnableService => "enable mattermost.service".into(),
            Step::StartService => "start mattermost.service and wait until it is ready".into(),
            Step::WriteNginxSite {
                layout,
                set_aside_default,
            } => {
                let mut text = format!("write the nginx site {}", layout.site_file().display());
                if *set_aside_default {
                    text.push_str(" and disable nginx's stock `default` site, which also claims port 80 (a copy is kept in ");
                    text.push_str(SET_ASIDE_DIR);
                    text.push(')');
                }
                text
            }
            Step::AllowNginxUpstream => format!(
                "allow nginx to connect to Mattermost (SELinux boolean {})",
                security::NGINX_CONNECT_BOOLEAN
            ),
            Step::OpenFirewall { services } => format!(
                "open the firewall (firewalld) for {}",
                services.join(" and ")
            ),
            Step::ReloadNginx => "check the nginx configuration (nginx -t) and reload nginx".into(),
            Step::ProveItWorks => {
                "prove it works: ping and a websocket handshake through nginx".into()
            }
            Step::RecordState => format!("record the install in {}", crate::layout::STATE_PATH),
        }
    }

    /// How to take the step back, computed just before it runs, from the server's state at
    /// that moment, so the journal is right whatever point a crash interrupts the step at.
    pub(super) fn undo(&self, ctx: &Context) -> Undo {
        match self {
            Step::InstallPackages { manager, packages } => Undo::RemovePackages {
                manager: *manager,
                packages: packages.clone(),
            },
            Step::EnablePostgresStream { .. } => Undo::DnfModuleReset {
                module: "postgresql".into(),
            },
            // Only what the step changes is taken back: a unit that was enabled stays enabled, one
            // that ran keeps running. If its state cannot be read, nothing is disabled or stopped.
            Step::InitializePostgres { unit, .. } => {
                match services::unit_state(ctx, unit, services::SETTLE_LIMIT) {
                    Ok(before) => Undo::Many {
                        undos: services::restore_state_args(unit, before)
                            .into_iter()
                            .map(|args| Undo::Systemctl { args })
                            .collect(),
                    },
                    Err(_) => Undo::Nothing,
                }
            }
            Step::Configure | Step::ProveItWorks => Undo::Nothing,
            Step::CreateUser => Undo::RemoveUser {
                name: SERVICE_USER.into(),
            },
            Step::ProvisionDatabase { .. } => provision_undo(ctx),
            Step::AllowPasswordLogin => {
                // The file as it is now, put back byte for byte; nothing if the server cannot be
                // asked (then the step cannot change the file either).
                let hba = postgres::hba_file(ctx)
                    .and_then(|path| Ok((fs_err::read_to_string(&path)?, path)));
                match hba {
                    Ok((content, path)) => Undo::RestorePgHba { path, content },
                    Err(_) => Undo::Nothing,
                }
            }
            Step::Extract { staging } => Undo::Many {
                undos: vec![
                    Undo::RemovePath {
                        path: staging.clone(),
                    },
                    Undo::RemoveEmptyDir {
                        path: PRIVATE_DIR.into(),
                    },
                ],
            },
            Step::PlaceTree { .. } => Undo::RemovePath {
                path: INSTALL_DIR.into(),
            },
            Step::LabelBinaries => Undo::SelinuxUnlabel {
                install_dir: INSTALL_DIR.into(),
            },
            Step::WriteUnit => Undo::Many {
                undos: vec![
                    restore_file_undo(ctx, Path::new(UNIT_FILE)),
                    if ctx.is_live_system() {
                        Undo::Systemctl {
                            args: vec!["daemon-reload".into()],
                        }
                    } else {
                        Undo::Nothing
                    },
                ],
            },
            Step::EnableService => Undo::Systemctl {
                args: vec!["disable".into(), "mattermost.service".into()],
            },
            Step::StartService => Undo::Systemctl {
                args: vec!["stop".into(), "mattermost.service".into()],
            },
            Step::WriteNginxSite {
                layout,
                set_aside_default,
            } => {
                let mut undo = vec![restore_file_undo(ctx, layout.site_file())];
                if let SiteLayout::SitesAvailable {
                    enabled,
                    stock_default,
                    ..
                } = layout
                {
                    if fs_err::symlink_metadata(ctx.path(enabled)).is_err() {
                        undo.push(Undo::RemovePath {
                            path: enabled.clone(),
                        });
                    }
                    if *set_aside_default {
                        undo.push(Undo::RestoreFile {
                            path: stock_default.clone(),
                            backup: Some(set_aside_path()),
                        });
                    }
                }
                if ctx.is_live_system() {
                    undo.push(Undo::Systemctl {
                        args: vec!["try-reload-or-restart".into(), "nginx.service".into()],
                    });
                }
                Undo::Many { undos: undo }
            }
            Step::AllowNginxUpstream => Undo::SelinuxBoolean {
                name: security::NGINX_CONNECT_BOOLEAN.into(),
                on: false,
            },
            Step::OpenFirewall { services } => Undo::Many {
                undos: services
                    .iter()
                    .map(|service| Undo::FirewallClose {
                        service: service.clone(),
                    })
                    .collect(),
            },
            Step::ReloadNginx => Undo::Systemctl {
                args: vec!["try-reload-or-restart".into(), "nginx.service".into()],
            },
            Step::RecordState => restore_file_undo(ctx, Path::new(crate::layout::STATE_PATH)),
        }
    }
}

/// Undo for provisioning the database, from what exists just before: the database is dropped
/// only if it did not exist, the role dropped only if it did not exist, else its password hash
/// put back. If the server cannot be asked, the step cannot create anything either: nothing.
fn provision_undo(ctx: &Context) -> Undo {
    let before = postgres::database_exists(ctx, DATABASE_NAME)
        .and_then(|db| Ok((db, postgres::role_password_hash(ctx, DATABASE_ROLE)?)));
    let Ok((database_existed, role)) = before else {
        return Undo::Nothing;
    };
    let mut undos = Vec::new();
    if !database_existed {
        undos.push(Undo::DropDatabase {
            name: DATABASE_NAME.into(),
        });
    }
    undos.push(match role {
        None => Undo::DropRole {
            name: DATABASE_ROLE.into(),
        },
        Some(hash) => Undo::RestoreRolePassword {
            role: DATABASE_ROLE.into(),
            hash,
        },
    });
    Undo::Many { undos }
}

/// Undo for replacing `path`: put the backup back if the file existed, else remove it.
fn restore_file_undo(ctx: &Context, path: &Path) -> Undo {
    let existed = fs_err::symlink_metadata(ctx.path(path)).is_ok();
    Undo::RestoreFile {
        path: path.to_path_buf(),
        backup: existed.then(|| files::backup_path(path)),
    }
}

/// Where nginx's stock default site is kept while ours serves port 80.
pub(super) fn set_aside_path() -> PathBuf {
    PathBuf::from(SET_ASIDE_DIR).join("nginx-sites-enabled-default")
}
