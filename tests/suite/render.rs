//! The rendered files, checked by the real tools instead of by eye: `nginx -t` accepts the
//! site with and without TLS (and rejects a broken one), a websocket handshake passes through
//! a running nginx with the site to a loopback upstream (and fails without the upgrade
//! headers), and `systemd-analyze verify` accepts the unit without a single warning.
//!
//! Needs the Debian packages nginx, openssl and systemd (`.ci/run` installs them); a missing
//! tool fails the test with a message saying which package to install. Everything runs in
//! temporary directories and on 127.0.0.1 high ports; nothing of the host's nginx or systemd
//! configuration is read or changed (the host's unit directory is only copied from).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mm_install::render::{
    Http2Syntax, NginxOptions, Templates, TlsFiles, UnitOptions, http2_syntax, render_nginx_site,
    render_systemd_unit,
};
use mm_install::site_url::SiteUrl;

/// The path of `program`, searched in PATH and the sbin directories (not always in a
/// non-root PATH); panics naming the Debian package to install when it is missing.
fn tool(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{program}` is not installed; this test needs it: \
                 `apt-get install --no-install-recommends {package}` (see .ci/run)"
            )
        })
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

// ---------------------------------------------------------------------------------------------
// nginx

/// The HTTP/2 syntax for the installed nginx, from `nginx -v` (which prints on stderr).
fn installed_http2_syntax() -> Http2Syntax {
    let output = run(Command::new(tool("nginx", "nginx")).arg("-v"));
    assert!(
        output.status.success(),
        "nginx -v failed: {}",
        stderr(&output)
    );
    http2_syntax(&stderr(&output)).expect("nginx -v output has a version")
}

fn other(syntax: Http2Syntax) -> Http2Syntax {
    match syntax {
        Http2Syntax::ListenFlag => Http2Syntax::Directive,
        Http2Syntax::Directive => Http2Syntax::ListenFlag,
    }
}

fn plain_site(upstream: &str) -> NginxOptions {
    NginxOptions {
        site_url: None,
        upstream: upstream.into(),
        tls: None,
        http2: installed_http2_syntax(),
        client_max_body_size_mb: 100,
        default_server: true,
    }
}

fn render_site(options: &NginxOptions) -> String {
    render_nginx_site(&Templates::new(None), options).expect("render the nginx site")
}

/// A throwaway nginx prefix: a main config that keeps every file nginx writes (pid, logs,
/// temp directories) inside a temporary directory and includes the site under test.
struct NginxPrefix {
    dir: tempfile::TempDir,
}

impl NginxPrefix {
    fn new(site: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().display();
        std::fs::write(dir.path().join("site.conf"), site).expect("write site");
        // One process (no workers to outlive a killed master, no user switch when root).
        let main = format!(
            "pid {d}/nginx.pid;\n\
             error_log {d}/error.log;\n\
             master_process off;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             \x20   access_log off;\n\
             \x20   client_body_temp_path {d}/client_body;\n\
             \x20   proxy_temp_path {d}/proxy;\n\
             \x20   fastcgi_temp_path {d}/fastcgi;\n\
             \x20   uwsgi_temp_path {d}/uwsgi;\n\
             \x20   scgi_temp_path {d}/scgi;\n\
             \x20   include {d}/site.conf;\n\
             }}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).expect("write nginx.conf");
        NginxPrefix { dir }
    }

    /// nginx with `-p`, `-c` and `-e` pointing into the prefix.
    fn nginx(&self) -> Command {
        let mut command = Command::new(tool("nginx", "nginx"));
        command
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(self.dir.path().join("nginx.conf"))
            .arg("-e")
            .arg(self.dir.path().join("startup.log"));
        command
    }

    /// `nginx -t`: whether it passed, and everything it said.
    fn test(&self) -> (bool, String) {
        let output = run(self.nginx().arg("-t"));
        (output.status.success(), stderr(&output))
    }

    fn error_log(&self) -> String {
        ["startup.log", "error.log", "stderr.log"]
            .iter()
            .map(|name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default())
            .collect()
    }
}

/// Assert `nginx -t` passes on `site` without a warning.
fn assert_nginx_accepts(site: &str) {
    let prefix = NginxPrefix::new(site);
    let (ok, said) = prefix.test();
    assert!(ok, "nginx -t failed:\n{said}\nsite:\n{site}");
    assert!(said.contains("test is successful"), "{said}");
    assert!(
        !said.contains("[warn]") && !said.contains("[emerg]"),
        "nginx -t warned:\n{said}\nsite:\n{site}"
    );
}

/// A self-signed certificate and key for `localhost`, made by openssl in `dir`.
fn self_signed(dir: &Path) -> TlsFiles {
    let files = TlsFiles {
        certificate: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    let output = run(Command::new(tool("openssl", "openssl"))
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&files.key)
        .arg("-out")
        .arg(&files.certificate));
    assert!(
        output.status.success(),
        "openssl failed: {}",
        stderr(&output)
    );
    files
}

#[test]
fn nginx_accepts_the_plain_http_site() {
    assert_nginx_accepts(&render_site(&plain_site("127.0.0.1:8065")));
}

/// A site URL on an address (IPv6 in brackets, as `SiteUrl::server_name` writes it) is a
/// `server_name` nginx accepts.
#[test]
fn nginx_accepts_a_site_on_an_ip_address() {
    for url in ["http://[::1]:8080", "http://192.0.2.7"] {
        let site = render_site(&NginxOptions {
            site_url: Some(SiteUrl::parse(url).unwrap()),
            ..plain_site("127.0.0.1:8065")
        });
        assert_nginx_accepts(&site);
    }
}

#[test]
fn nginx_accepts_the_tls_site() {
    let certs = tempfile::tempdir().expect("temp dir");
    let site = render_site(&NginxOptions {
        site_url: Some(SiteUrl::parse("https://localhost").unwrap()),
        tls: Some(self_signed(certs.path())),
        ..plain_site("127.0.0.1:8065")
    });
    assert!(site.contains("ssl_certificate "), "{site}");
    assert_nginx_accepts(&site);
}

#[test]
fn nginx_notices_the_wrong_http2_syntax() {
    // Proves the version detection matters and the warning check above can fail: the other
    // syntax is an unknown directive before nginx 1.25.1 and deprecated (a warning) after.
    let certs = tempfile::tempdir().expect("temp dir");
    let site = render_site(&NginxOptions {
        site_url: Some(SiteUrl::parse("https://localhost").unwrap()),
        tls: Some(self_signed(certs.path())),
        http2: other(installed_http2_syntax()),
        ..plain_site("127.0.0.1:8065")
    });
    let (ok, said) = NginxPrefix::new(&site).test();
    assert!(
        !ok || said.contains("[warn]"),
        "nginx -t said nothing:\n{said}"
    );
}

#[test]
fn nginx_rejects_a_broken_site() {
    let site = render_site(&plain_site("127.0.0.1:8065"));
    let broken = site.replacen("proxy_http_version 1.1;", "proxy_http_versio 1.1;", 1);
    assert_ne!(site, broken);
    let (ok, said) = NginxPrefix::new(&broken).test();
    assert!(!ok, "nginx -t accepted a broken site:\n{said}");
    assert!(said.contains("proxy_http_versio"), "{said}");
}

/// A fake Mattermost on 127.0.0.1: answers a websocket handshake with 101 only when the
/// request is HTTP/1.1 with `Upgrade: websocket` and `Connection: upgrade`, else 400; after a
/// 101 it echoes what it receives. Sends each request's head to the returned channel.
fn fake_mattermost() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let address = listener.local_addr().expect("upstream address").to_string();
    let (heads, received) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let heads = heads.clone();
            thread::spawn(move || serve(stream, &heads));
        }
    });
    (address, received)
}

fn serve(mut stream: TcpStream, heads: &mpsc::Sender<String>) {
    let Some(head) = read_head(&mut stream) else {
        return;
    };
    let _ = heads.send(head.clone());
    let http11 = head
        .lines()
        .next()
        .is_some_and(|line| line.ends_with(" HTTP/1.1"));
    let header = |name: &str| {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_ascii_lowercase())
    };
    let upgrade = header("upgrade").as_deref() == Some("websocket");
    let connection =
        header("connection").is_some_and(|v| v.split(',').any(|t| t.trim() == "upgrade"));
    if !(http11 && upgrade && connection) {
        let _ = stream.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    // The accept value for the RFC 6455 sample key the client sends.
    let _ = stream.write_all(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    let mut buffer = [0; 1024];
    while let Ok(n @ 1..) = stream.read(&mut buffer) {
        if stream.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
}

/// The request or response head (up to the blank line) read from `stream`, byte by byte so
/// nothing after it is consumed.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    String::from_utf8(head).ok()
}

/// A free port on 127.0.0.1 (free when this returns; the test binds it right after).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

/// nginx running in the foreground; killed when dropped, so a failing test leaves nothing.
struct RunningNginx {
    child: Child,
    prefix: NginxPrefix,
    port: u16,
}

impl RunningNginx {
    /// Start nginx with `site`, its port-80 listen moved to a free loopback port, and wait
    /// until it accepts connections.
    fn start(site: &str) -> Self {
        let port = free_port();
        assert!(site.contains("listen 80 default_server;\n"), "{site}");
        assert!(site.contains("listen [::]:80 default_server;\n"), "{site}");
        let site = site
            .replace(
                "listen 80 default_server;",
                &format!("listen 127.0.0.1:{port};"),
            )
            .replace("listen [::]:80 default_server;", "");
        let prefix = NginxPrefix::new(&site);
        let stderr_log =
            std::fs::File::create(prefix.dir.path().join("stderr.log")).expect("stderr log");
        let child = prefix
            .nginx()
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr_log)
            .spawn()
            .expect("start nginx");
        let mut nginx = RunningNginx {
            child,
            prefix,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!("nginx exited with {status}:\n{}", nginx.prefix.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on 127.0.0.1:{port} within 10 s:\n{}",
                nginx.prefix.error_log()
            );
            thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    /// Send a websocket handshake for Mattermost's websocket path; return the response's
    /// status line and the connection (positioned after the response head).
    fn handshake(&self) -> (String, TcpStream) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to nginx");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream
            .write_all(
                b"GET /api/v4/websocket HTTP/1.1\r\nHost: chat.example.com\r\n\
                  Upgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .expect("send handshake");
        let head = read_head(&mut stream)
            .unwrap_or_else(|| panic!("no response from nginx:\n{}", self.prefix.error_log()));
        let status = head.lines().next().unwrap_or_default().to_owned();
        (status, stream)
    }
}

impl Drop for RunningNginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn websocket_handshake_passes_through_nginx() {
    let (upstream, heads) = fake_mattermost();
    let nginx = RunningNginx::start(&render_site(&plain_site(&upstream)));
    let (status, mut stream) = nginx.handshake();
    assert!(
        status.starts_with("HTTP/1.1 101 "),
        "expected 101, got `{status}`:\n{}",
        nginx.prefix.error_log()
    );

    // The tunnel carries data both ways once upgraded.
    stream.write_all(b"hello").expect("send through the tunnel");
    let mut echoed = [0; 5];
    stream.read_exact(&mut echoed).expect("read the echo");
    assert_eq!(&echoed, b"hello");

    // Mattermost was told who the client is and how it connected.
    let head = heads
        .recv_timeout(Duration::from_secs(5))
        .expect("request head");
    let head = head.to_ascii_lowercase();
    for header in [
        "host: chat.example.com",
        "x-real-ip: 127.0.0.1",
        "x-forwarded-for: 127.0.0.1",
        "x-forwarded-proto: http",
    ] {
        assert!(
            head.contains(header),
            "upstream did not get `{header}`:\n{head}"
        );
    }
}

#[test]
fn websocket_handshake_fails_without_the_upgrade_headers() {
    // The same site minus the two headers: proves the test above can fail.
    let (upstream, _heads) = fake_mattermost();
    let site = render_site(&plain_site(&upstream));
    let stripped: String = site
        .lines()
        .filter(|line| {
            !line.contains("proxy_set_header Upgrade")
                && !line.contains("proxy_set_header Connection \"upgrade\"")
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(site.lines().count() - 2, stripped.lines().count());
    let nginx = RunningNginx::start(&stripped);
    let (status, _) = nginx.handshake();
    // The fake Mattermost's refusal, passed on by nginx (not an nginx error page).
    assert!(
        status.starts_with("HTTP/1.1 400 "),
        "expected the upstream's 400 without the upgrade headers, got `{status}`:\n{}",
        nginx.prefix.error_log()
    );
}

// ---------------------------------------------------------------------------------------------
// systemd

/// A temporary root with the host's systemd units (for the targets the unit is ordered
/// against), the Mattermost binary as an executable stub, and `unit` as
/// /etc/systemd/system/mattermost.service; returns `systemd-analyze verify`'s output.
fn verify_unit(unit: &str, with_binary: bool) -> Output {
    let binaries: &[&str] = if with_binary {
        &["opt/mattermost/bin/mattermost"]
    } else {
        &[]
    };
    verify_units(&[("mattermost.service", unit)], binaries)
}

/// `systemd-analyze verify` of `units` (file name, text) in /etc/systemd/system of a temporary
/// root that also has the host's units and executable stubs at `binaries` (relative paths).
fn verify_units(units: &[(&str, &str)], binaries: &[&str]) -> Output {
    let analyze = tool("systemd-analyze", "systemd");
    let root = tempfile::tempdir().expect("temp dir");
    let host_units = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .iter()
        .map(Path::new)
        .find(|dir| dir.join("multi-user.target").is_file())
        .unwrap_or_else(|| {
            panic!("systemd's units are not installed; `apt-get install systemd` (see .ci/run)")
        });
    let system_units = root.path().join("usr/lib/systemd/system");
    std::fs::create_dir_all(&system_units).expect("unit dir");
    for entry in std::fs::read_dir(host_units).expect("read the host's unit dir") {
        let entry = entry.expect("dir entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), system_units.join(entry.file_name())).expect("copy unit");
        }
    }
    for binary in binaries {
        let binary = root.path().join(binary);
        std::fs::create_dir_all(binary.parent().expect("a parent")).expect("bin dir");
        std::fs::write(&binary, "#!/bin/sh\n").expect("stub binary");
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))
            .expect("chmod stub");
    }
    let unit_dir = root.path().join("etc/systemd/system");
    std::fs::create_dir_all(&unit_dir).expect("etc unit dir");
    let mut command = Command::new(analyze);
    // The man page named in Documentation= ships with the package, not in this temporary root.
    command
        .arg("verify")
        .arg("--man=no")
        .arg(format!("--root={}", root.path().display()));
    for (name, text) in units {
        let path = unit_dir.join(name);
        std::fs::write(&path, text).expect("write unit");
        command.arg(path);
    }
    run(&mut command)
}

#[test]
fn systemd_accepts_the_upgrade_timer_and_its_service() {
    let (service, timer) = mm_install::render::render_upgrade_timer(
        &Templates::new(None),
        Path::new("/usr/bin/mm-install"),
    )
    .expect("render the timer");
    assert!(
        timer.contains("Persistent=true") && timer.contains("RandomizedDelaySec="),
        "{timer}"
    );
    assert!(
        service.contains("ExecStart=/usr/bin/mm-install upgrade --latest"),
        "{service}"
    );
    let output = verify_units(
        &[
            ("mm-install-upgrade.service", &service),
            ("mm-install-upgrade.timer", &timer),
        ],
        &["usr/bin/mm-install"],
    );
    assert!(
        output.status.success() && output.stderr.is_empty() && output.stdout.is_empty(),
        "systemd-analyze verify complained:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
}

fn unit(local_database_unit: Option<&str>) -> String {
    render_systemd_unit(
        &Templates::new(None),
        &UnitOptions {
            install_dir: PathBuf::from("/opt/mattermost"),
            user: "mattermost".into(),
            group: "mattermost".into(),
            local_database_unit: local_database_unit.map(str::to_owned),
        },
    )
    .expect("render the unit")
}

/// Assert systemd-analyze verify exits 0 and prints nothing (it exits 0 on parse warnings).
fn assert_systemd_accepts(unit: &str) {
    let output = verify_unit(unit, true);
    assert!(
        output.status.success() && output.stderr.is_empty() && output.stdout.is_empty(),
        "systemd-analyze verify complained ({}):\n{}{}\nunit:\n{unit}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
}

#[test]
fn systemd_accepts_the_unit() {
    assert_systemd_accepts(&unit(None));
}

#[test]
fn systemd_accepts_the_unit_with_a_local_database() {
    assert_systemd_accepts(&unit(Some("postgresql.service")));
}

#[test]
fn systemd_analyze_catches_mistakes() {
    // Proves the checks above can fail: a misspelt value only warns (exit 0), a missing
    // binary is an error.
    let typo = unit(None).replace("ProtectSystem=full", "ProtectSystem=fulll");
    let output = verify_unit(&typo, true);
    assert!(stderr(&output).contains("fulll"), "{}", stderr(&output));

    let output = verify_unit(&unit(None), false);
    assert!(!output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("/opt/mattermost/bin/mattermost"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_render_command_prints_what_install_would_write() {
    let mut command = crate::common::mm_install();
    command.args([
        "render",
        "nginx",
        "--site-url",
        "https://chat.example.test",
        "--nginx-version",
        "1.26.0",
    ]);
    let output = crate::common::run(&mut command);
    let (stdout, stderr) = crate::common::texts(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("server_name chat.example.test;"),
        "{stdout}"
    );
    assert!(
        stdout.contains("proxy_set_header Connection \"upgrade\";"),
        "{stdout}"
    );

    let mut command = crate::common::mm_install();
    command.args(["render", "systemd", "--local-database"]);
    let output = crate::common::run(&mut command);
    let (stdout, _) = crate::common::texts(&output);
    assert!(
        stdout.contains("Type=notify") && stdout.contains("After=postgresql.service"),
        "{stdout}"
    );

    let mut command = crate::common::mm_install();
    command.args(["render", "nginx", "--site-url", "chat.example.test"]);
    let output = crate::common::run(&mut command);
    crate::common::assert_exit(&output, 2);
}
