//! `mm-install verify` and `install --verify` inside a booted Debian guest, through the real
//! nginx at the site URL (`http://chat.mm.test`, resolved by the guest's /etc/hosts) against the
//! stand-in server: the four install tests pass on a fresh install; a server with accounts needs
//! `--admin-token`; a proxy that drops the websocket headers fails test 4; a server that refuses
//! posts or images fails tests 1 and 3 with the HTTP status and the start of the body.
//!
//! The stand-in keeps accounts in memory, so restarting `mattermost` gives a server without
//! accounts again.

use serde_json::Value;

use crate::common::{assert_exit, texts};
use crate::guest::Suite;
use crate::guest_server::GuestServer;
use crate::install_guest::{SITE_HOST, VERSION, install_args, run_in};

/// A Debian 12 guest where the site host resolves to itself, with the stand-in release
/// [`VERSION`] on the mirror, not installed yet.
fn booted() -> GuestServer {
    let server = GuestServer::boot(Suite::Bookworm);
    server.publish(VERSION, "");
    let hosts = server
        .guest
        .sh(&format!("echo '127.0.0.1 {SITE_HOST}' >> /etc/hosts"));
    assert_exit(&hosts, 0);
    server
}

/// What the verify tests add to a [`GuestServer`].
impl GuestServer {
    /// Restart the server: the stand-in forgets every account.
    fn restart(&self) {
        let out = self
            .guest
            .sh("systemctl daemon-reload && systemctl restart mattermost");
        assert!(
            out.status.success(),
            "{out:?}\n{}",
            self.guest.journal("mattermost")
        );
    }

    /// `curl` a REST call through nginx at the site URL: the status code, then the body.
    fn api(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
        let auth = token
            .map(|t| format!("-H 'Authorization: Bearer {t}'"))
            .unwrap_or_default();
        let out = self.sh(&format!(
            "curl -sS -X {method} {auth} -H 'Content-Type: application/json' -d '{body}' \
             -w '\\n%{{http_code}}' http://{SITE_HOST}{path}"
        ));
        let (body, status) = out.rsplit_once('\n').unwrap_or(("", &out));
        (
            status.trim().parse().unwrap_or(0),
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    }

    /// Log in and return the session token (the `Token` header).
    fn log_in(&self, username: &str, password: &str) -> Option<String> {
        let headers = self.sh(&format!(
            "curl -sS -D - -o /dev/null -H 'Content-Type: application/json' \
             -d '{{\"login_id\":\"{username}\",\"password\":\"{password}\"}}' \
             http://{SITE_HOST}/api/v4/users/login | tr -d '\\r'"
        ));
        headers
            .lines()
            .find_map(|l| {
                l.strip_prefix("Token: ")
                    .or_else(|| l.strip_prefix("token: "))
            })
            .map(str::to_string)
    }
}

fn report(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not a JSON report ({e}):\n{out}"))
}

fn outcomes(report: &Value) -> Vec<String> {
    report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["outcome"].as_str().unwrap().to_string())
        .collect()
}

const CHECKLIST: [&str; 4] = [
    "✓ 1. user 1 created (the first account: a system admin), team created, posted in Town Square",
    "✓ 2. user 2 created, added to the team, replied in the thread",
    "✓ 3. user 1 replied in the thread with an image attached",
    "✓ 4. websocket: all 3 posted events arrived (no \"Mattermost unreachable\" bar)",
];

#[test]
fn install_verify_passes_and_later_runs_need_an_admin_token() {
    let server = booted();
    let output = server.install(&["--verify"]);
    let (out, err) = texts(&output);
    assert!(
        output.status.success(),
        "install --verify failed\nstdout:\n{out}\nstderr:\n{err}\nmattermost journal:\n{}",
        server.guest.journal("mattermost")
    );
    assert!(
        out.contains(&format!("installed Mattermost {VERSION}")),
        "{out}"
    );
    for line in CHECKLIST {
        assert!(out.contains(line), "missing `{line}` in:\n{out}");
    }
    assert_eq!(out.matches('✗').count(), 0, "{out}");
    // Cleaned up without trouble, and the consequence for the first account is explained.
    assert!(
        !err.contains("cannot archive") && !err.contains("cannot deactivate"),
        "{err}"
    );
    assert!(
        err.contains("user 1 was this server's first account"),
        "{err}"
    );

    // The server now has (deactivated) accounts: anonymous sign-up is refused, and the default
    // URL is the site URL recorded at install.
    let (out, err) = assert_exit(&server.mm_install(&["verify", "--json"]), 1);
    let refused = report(&out);
    assert_eq!(refused["url"], format!("http://{SITE_HOST}"));
    assert_eq!(refused["passed"], false);
    assert_eq!(
        outcomes(&refused),
        ["failed", "not_run", "not_run", "not_run"]
    );
    assert_eq!(refused["tests"][0]["http_status"], 403);
    let detail = refused["tests"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("already has accounts") && detail.contains("--admin-token"),
        "{detail}"
    );
    assert!(
        err.contains("hint: this server already has accounts: pass --admin-token"),
        "{err}"
    );

    // An admin of our own (a fresh stand-in), whose token creates the test users.
    server.restart();
    let (status, admin) = server.api(
        "POST",
        "/api/v4/users",
        None,
        r#"{"email":"admin@example.com","username":"admin","password":"Admin-password-1"}"#,
    );
    assert_eq!(status, 201, "{admin}");
    assert!(admin["roles"].as_str().unwrap().contains("system_admin"));
    let token = server.log_in("admin", "Admin-password-1").expect("a token");
    let (out, _) = assert_exit(
        &server.mm_install(&["verify", "--json", "--admin-token", &token]),
        0,
    );
    let passed = report(&out);
    assert_eq!(passed["passed"], true, "{passed:#}");
    assert_eq!(outcomes(&passed), ["passed"; 4]);
    assert_eq!(passed["kept"], false);
    let users = passed["users"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    for user in users {
        assert_eq!(user["system_admin"], false, "{user}");
        assert!(
            user.get("password").is_none() && user.get("token").is_none(),
            "{user}"
        );
    }
    // The team was archived: nobody can be added to it any more.
    let team_id = passed["team"]["id"].as_str().unwrap();
    let (status, body) = server.api(
        "POST",
        &format!("/api/v4/teams/{team_id}/members"),
        Some(&token),
        &format!(
            r#"{{"team_id":"{team_id}","user_id":"{}"}}"#,
            admin["id"].as_str().unwrap()
        ),
    );
    assert_eq!(status, 404, "{body}");

    // --keep (token from the environment): the accounts stay usable, with their passwords shown.
    let output = server.guest.run(&[
        "env",
        &format!("MM_INSTALL_ADMIN_TOKEN={token}"),
        "/srv/artifacts/mm-install",
        "verify",
        "--keep",
    ]);
    let (out, _) = assert_exit(&output, 0);
    assert_eq!(out.matches('✓').count(), 4, "{out}");
    let kept: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| l.strip_prefix("kept user "))
        .map(|rest| {
            let (name, password) = rest.split_once(" (password ").unwrap();
            (name.to_string(), password.trim_end_matches(')').to_string())
        })
        .collect();
    assert_eq!(kept.len(), 2, "{out}");
    assert!(out.contains("kept team mmverify-"), "{out}");
    for (name, password) in &kept {
        assert!(
            server.log_in(name, password).is_some(),
            "kept user {name} cannot log in"
        );
    }
}

#[test]
fn a_proxy_without_the_websocket_headers_fails_test_4() {
    let server = booted();
    let output = server.install(&[]);
    assert!(output.status.success(), "{:?}", texts(&output));
    let edited = server.guest.sh(
        "sed -i -e '/proxy_set_header Upgrade/d' -e '/proxy_set_header Connection \"upgrade\"/d' \
         /etc/nginx/sites-available/mattermost && ! grep -q 'proxy_set_header Upgrade' /etc/nginx/sites-available/mattermost \
         && nginx -t -q && systemctl reload nginx",
    );
    assert!(edited.status.success(), "{edited:?}");
    // `systemctl reload` returns before the new workers take over: wait until they do.
    let refused = server.guest.sh(&format!(
        "for i in $(seq 100); do \
           curl -s -o /dev/null -w '%{{http_code}}' --max-time 2 -H 'Connection: Upgrade' \
             -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
             -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
             http://{SITE_HOST}/api/v4/websocket | grep -q 400 && exit 0; sleep 0.1; \
         done; exit 1"
    ));
    assert!(
        refused.status.success(),
        "nginx still upgrades: {refused:?}"
    );

    let (out, err) = assert_exit(&server.mm_install(&["verify"]), 1);
    for line in &CHECKLIST[..3] {
        assert!(out.contains(line), "missing `{line}` in:\n{out}");
    }
    let websocket = out
        .lines()
        .find(|l| l.starts_with("✗ 4. websocket: "))
        .unwrap_or_else(|| panic!("no failed test 4 in:\n{out}"));
    assert!(
        websocket.contains(&format!("ws://{SITE_HOST}/api/v4/websocket"))
            && websocket.contains("400")
            && websocket.contains("api.web_socket.connect.upgrade.app_error")
            && websocket.contains("the proxy does not pass the websocket upgrade"),
        "{websocket}"
    );
    assert!(
        err.contains("error: install test 4 failed at http://chat.mm.test"),
        "{err}"
    );
    assert!(
        err.contains("proxy_set_header Upgrade $http_upgrade"),
        "{err}"
    );
    assert!(err.contains("docs/troubleshooting.md"), "{err}");
}

#[test]
fn a_server_refusing_images_or_posts_fails_tests_3_or_1_with_the_answer() {
    let server = booted();
    let output = server.install(&[]);
    assert!(output.status.success(), "{:?}", texts(&output));

    // Uploads limited to 100 bytes: the image reply is refused with 413.
    server.sh(
        "mkdir -p /etc/systemd/system/mattermost.service.d && printf \
         '[Service]\\nEnvironment=MM_FILESETTINGS_MAXFILESIZE=100\\n' \
         > /etc/systemd/system/mattermost.service.d/small-files.conf",
    );
    server.restart();
    let (out, err) = assert_exit(&server.mm_install(&["verify"]), 1);
    for line in &CHECKLIST[..2] {
        assert!(out.contains(line), "missing `{line}` in:\n{out}");
    }
    assert!(
        out.contains(
            "✗ 3. image reply: POST /api/v4/files answered 413: \
             {\"id\":\"api.file.upload_file.too_large_detailed.app_error\""
        ),
        "{out}"
    );
    assert!(
        out.contains("✓ 4. websocket: both posted events arrived"),
        "{out}"
    );
    assert!(err.contains("error: install test 3 failed"), "{err}");
    assert!(!err.contains("proxy_set_header"), "{err}");

    // A server that refuses every post (standin.json `refuse_posts`): test 1 fails with 403.
    server.sh(
        "rm /etc/systemd/system/mattermost.service.d/small-files.conf && \
         printf '{\"version\": \"11.10.1\", \"refuse_posts\": true}' > /opt/mattermost/bin/standin.json",
    );
    server.restart();
    let (out, err) = assert_exit(&server.mm_install(&["verify", "--json"]), 1);
    let refused = report(&out);
    assert_eq!(
        outcomes(&refused),
        ["failed", "not_run", "not_run", "not_run"]
    );
    let first = &refused["tests"][0];
    assert_eq!(first["http_status"], 403);
    assert!(
        first["detail"].as_str().unwrap().starts_with(
            "POST /api/v4/posts answered 403: {\"id\":\"api.context.permissions.app_error\""
        ),
        "{first}"
    );
    // The websocket itself worked; there was just nothing to wait for.
    assert!(
        refused["tests"][3]["detail"]
            .as_str()
            .unwrap()
            .contains("open and authenticated"),
        "{refused:#}"
    );
    assert!(
        err.contains(
            "error: install test 1 failed at http://chat.mm.test (tests 2, 3 and 4 could not run)"
        ),
        "{err}"
    );
    // Cleanup of what the run did create (user 1, the team) went through.
    assert!(
        !err.contains("cannot archive") && !err.contains("cannot deactivate"),
        "{err}"
    );
}

#[test]
fn a_self_signed_https_site_needs_insecure() {
    let server = booted();
    let dir = server.artifacts.path();
    let generated = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg(format!("/CN={SITE_HOST}"))
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("run openssl (installed by .ci/run)");
    assert!(generated.status.success(), "{generated:?}");
    let mut args = install_args();
    let site = args.iter().position(|a| a == "--site-url").unwrap();
    args[site + 1] = format!("https://{SITE_HOST}");
    args.extend(
        [
            "--release-url",
            &server.mirror.base_url,
            "--tls-cert",
            "/srv/artifacts/cert.pem",
            "--tls-key",
            "/srv/artifacts/key.pem",
        ]
        .map(String::from),
    );
    let output = run_in(&server.guest, &args);
    assert!(output.status.success(), "{:?}", texts(&output));

    // The certificate is checked like a browser would: refused, with the way out.
    let (out, err) = assert_exit(&server.mm_install(&["verify"]), 1);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first
            .starts_with("✗ 1. user 1, team, post in Town Square: GET /api/v4/system/ping failed:")
            && first.contains("certificate")
            && first.contains("pass --insecure"),
        "{out}"
    );
    assert!(
        err.contains("error: install test 1 failed at https://chat.mm.test"),
        "{err}"
    );

    // --insecure: everything, websocket included, over TLS.
    let (out, _) = assert_exit(&server.mm_install(&["verify", "--insecure"]), 0);
    for line in CHECKLIST {
        assert!(out.contains(line), "missing `{line}` in:\n{out}");
    }
}
