//! The RHEL-shaped guest ([`Suite::RockyModel`], built by `rhel-model.sh`, which says what the
//! model covers and what it does not): the model has the shape mm-install meets on Rocky Linux 9,
//! and the tool's whole path works there with a local database.

use crate::guest::{Guest, Suite};
use crate::install_guest::{Artifacts, stdout};
use crate::upgrade_guest::install_verify_upgrade_and_roll_back_on;

/// The model is only worth testing against if it has RHEL's shape where the tool has failed
/// before: a password login over TCP is refused (`ident`, mattermost-facts.md §10), sites go in
/// conf.d, firewalld runs with http closed, and the OS reads as Rocky Linux 9 with dnf.
#[test]
fn the_rocky_model_has_the_shape_of_a_rhel_server() {
    let artifacts = Artifacts::new();
    let guest = Guest::boot_suite(Suite::RockyModel, artifacts.path());
    let sh = |script: &str| stdout(&guest.sh(script));

    let detected = sh("/srv/artifacts/mm-install detect-os --json");
    let detected: serde_json::Value = serde_json::from_str(&detected).expect("detect-os JSON");
    assert_eq!(detected["family"], "rhel", "{detected}");
    assert_eq!(detected["package_manager"], "dnf", "{detected}");
    assert_eq!(
        sh("rpm -q nginx postgresql-server >/dev/null && echo installed"),
        "installed"
    );
    let served = sh("dnf --quiet repoquery nginx postgresql-server 2>&1");
    assert!(
        served.contains("nginx-0:1.20.1-1.el9.noarch")
            && served.contains("postgresql-server-0:15.6-1.el9.noarch"),
        "the local repository serves the packages: {served}"
    );

    let hba = sh("runuser -u postgres -- psql -XtAc 'SHOW hba_file'");
    assert_eq!(hba, "/var/lib/pgsql/data/pg_hba.conf");
    let rules = sh(&format!("grep -Ev '^(#|$)' {hba} | tr -s ' '"));
    assert!(rules.contains("host all all 127.0.0.1/32 ident"), "{rules}");
    assert!(rules.contains("local all all peer"), "{rules}");
    let login = guest.sh(
        "runuser -u postgres -- psql -Xqc \"CREATE ROLE probe LOGIN PASSWORD 'secret'\" && \
         PGPASSWORD=secret psql -Xh 127.0.0.1 -U probe -d postgres -tAc 'SELECT 1'",
    );
    let (_, err) = crate::common::texts(&login);
    assert!(
        !login.status.success(),
        "a password login over TCP must fail"
    );
    assert!(err.contains("Ident authentication failed"), "{err}");

    assert_eq!(
        sh("test -d /etc/nginx/sites-enabled || echo absent"),
        "absent"
    );
    assert!(sh("nginx -T 2>/dev/null").contains("include /etc/nginx/conf.d/*.conf;"));
    let state = crate::common::texts(&guest.sh("firewall-cmd --state"));
    assert_eq!(
        state.0.trim(),
        "running",
        "{state:?}\n{}",
        guest.journal("firewalld")
    );
    assert_eq!(sh("firewall-cmd --permanent --query-service=http"), "no");
}

/// The whole path on the Rocky model with its own PostgreSQL: install, verify, upgrade, an
/// upgrade that rolls back on its own, and a rollback. Then what RHEL needs beyond Debian: a
/// password rule for Mattermost's role ahead of the `ident` rules (otherwise Mattermost cannot
/// log in over TCP), the site in conf.d, and http open in firewalld.
#[test]
fn the_rocky_model_installs_verifies_upgrades_and_rolls_back_with_its_local_database() {
    let server = install_verify_upgrade_and_roll_back_on(Suite::RockyModel);

    let rules = server
        .sh("grep -Ev '^[[:space:]]*(#|$)' /var/lib/pgsql/data/pg_hba.conf | tr -s ' \\t' ' '");
    let position = |wanted: &str| rules.lines().position(|line| line.starts_with(wanted));
    let scram = position("host mattermost mmuser 127.0.0.1/32 scram-sha-256");
    let scram6 = position("host mattermost mmuser ::1/128 scram-sha-256");
    let ident = position("host all all 127.0.0.1/32 ident");
    assert!(
        scram.is_some() && scram6.is_some() && ident.is_some() && scram < ident && scram6 < ident,
        "password rules must come before the ident rules:\n{rules}"
    );
    // Log in the way Mattermost does: over TCP, with the password from config.json.
    let login = server.sh(
        "password=$(sed -n 's/.*\"DataSource\": \"postgres:\\/\\/mmuser:\\([^@]*\\)@.*/\\1/p' /opt/mattermost/config/config.json) && \
         PGPASSWORD=\"$password\" psql -Xh 127.0.0.1 -U mmuser -d mattermost -tAc 'SELECT current_user'",
    );
    assert_eq!(login, "mmuser");

    assert_eq!(
        server.sh("test -f /etc/nginx/conf.d/mattermost.conf && test ! -e /etc/nginx/sites-enabled && echo conf.d"),
        "conf.d"
    );
    assert_eq!(
        server.sh("firewall-cmd --permanent --query-service=http"),
        "yes"
    );
    assert_eq!(server.sh("firewall-cmd --query-service=http"), "yes");
    assert_eq!(
        server.sh(
            "systemctl show -p After --value mattermost | tr ' ' '\\n' | grep -x postgresql.service"
        ),
        "postgresql.service"
    );
}
