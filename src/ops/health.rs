//! Proof that a server works the way users reach it: through nginx, `/api/v4/system/ping`
//! answers `{"status":"OK"}` with the expected version in `X-Version-Id`, and a websocket
//! handshake to `/api/v4/websocket` is answered with `101 Switching Protocols` and the right
//! `Sec-WebSocket-Accept` (a proxy that drops the `Upgrade`/`Connection` headers is exactly
//! what gives users the red "Mattermost unreachable" bar).
//!
//! The ping goes through reqwest pinned to the probe's address (`resolve()`), so `Host` and
//! SNI are the site's name while the connection stays on loopback. A redirect to `https://` on
//! the same host (what `certbot --nginx` puts on port 80) is followed the same way, to port 443
//! of the probe's address, and the websocket is then checked there; a redirect anywhere else
//! fails at once. A wrong version fails at once too (it never becomes right); a server still
//! starting (connection refused, nginx's 502) is retried for the whole patience.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::exit::{Diagnostic, ExitCode};
use crate::ops::websocket::{self, WebSocket};
use crate::release::Version;
use crate::report::Reporter;
use crate::site_url::SiteUrl;

/// How long to wait for a TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one exchange may take once connected.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// The statuses nginx's `return` uses for a redirect.
const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

/// Where to knock: the proxy's address, the `Host` it serves, and whether it speaks TLS there.
#[derive(Clone, Debug)]
pub struct Probe {
    pub address: SocketAddr,
    pub host: String,
    /// Talk TLS (nginx's port 443). The certificate is not checked: the probe proves the
    /// proxy and the server work, on this host's loopback, whatever certificate is installed.
    pub tls: bool,
}

impl Probe {
    /// Through mm-install's nginx site on this host's loopback (port 443 with `tls`, else 80),
    /// with the site URL's host as `Host` and SNI (`localhost` when the site answers any name).
    pub fn through_nginx(site: Option<&SiteUrl>, tls: bool) -> Probe {
        Probe {
            address: SocketAddr::from(([127, 0, 0, 1], if tls { 443 } else { 80 })),
            host: site.map_or_else(|| "localhost".to_string(), SiteUrl::host),
            tls,
        }
    }

    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// The host as it goes in a URL (IPv6 addresses in brackets).
    fn url_host(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
            _ => self.host.clone(),
        }
    }

    /// `Host` header value: the host, and the port unless it is the scheme's default.
    fn authority(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        match self.address.port() {
            port if port == default => self.url_host(),
            port => format!("{}:{port}", self.url_host()),
        }
    }

    /// The URL of `path`: by name (which the client resolves to `address`), or by `address`
    /// when the host is an IP address itself (with the site's address in `Host`).
    fn url(&self, path: &str) -> String {
        let authority = match self.host.parse::<IpAddr>() {
            Ok(_) => self.address.to_string(),
            Err(_) => format!("{}:{}", self.host, self.address.port()),
        };
        format!("{}://{authority}{path}", self.scheme())
    }
}

/// A failed health check.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("{what} through {address} (Host: {host}) failed: {detail}")]
    Failed {
        what: &'static str,
        address: SocketAddr,
        host: String,
        detail: String,
    },
    #[error(
        "the server through {address} (Host: {host}) reports version `{reported}`, expected {expected}"
    )]
    WrongVersion {
        address: SocketAddr,
        host: String,
        reported: String,
        expected: String,
    },
    #[error(
        "{url} through {address} redirects to {location}; the health check follows only one redirect, from http:// to https:// on {host}"
    )]
    Redirected {
        url: String,
        address: SocketAddr,
        host: String,
        location: String,
    },
}

impl HealthError {
    /// Whether waiting longer cannot help: the server answered, and the answer is wrong.
    fn is_final(&self) -> bool {
        matches!(
            self,
            HealthError::WrongVersion { .. } | HealthError::Redirected { .. }
        )
    }
}

impl Diagnostic for HealthError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Failure
    }

    fn hint(&self) -> Option<String> {
        match self {
            HealthError::Failed { .. } => Some("see `journalctl -u mattermost` and `journalctl -u nginx`; a websocket failure usually means the proxy drops the Upgrade/Connection headers".into()),
            HealthError::WrongVersion { .. } => Some("another server answers for this site: check which upstream the nginx site proxies to and `systemctl status mattermost`".into()),
            HealthError::Redirected { .. } => Some("check the `return`/`rewrite` lines of the nginx site: users are sent elsewhere too".into()),
        }
    }
}

/// What the checks saw.
#[derive(Clone, Debug)]
pub struct Healthy {
    /// The `X-Version-Id` header (`<version>.<build>.<hash>.<licensed>`).
    pub version_id: String,
}

/// Ping, then the websocket handshake, retrying both for up to `patience` while the server
/// finishes starting. A redirect to HTTPS on the same host is followed, and the websocket is
/// checked where it led.
pub fn check(
    probe: &Probe,
    expected: &Version,
    patience: Duration,
    reporter: &dyn Reporter,
) -> Result<Healthy, HealthError> {
    reporter.step(&format!(
        "checking {}://{}/api/v4/system/ping (Host: {})",
        probe.scheme(),
        probe.address,
        probe.host
    ));
    let deadline = Instant::now() + patience;
    let mut client = client(probe)?;
    let mut probe = probe.clone();
    // Ends: a redirect from HTTPS is refused by `moved`.
    let version_id = retry_until(deadline, || {
        loop {
            match ping(&client, &probe, Some(expected))? {
                Ping::Answered(version_id) => return Ok(version_id),
                Ping::Moved(to) => {
                    reporter.step(&format!(
                        "following the redirect to https://{}/api/v4/system/ping (Host: {})",
                        to.address, to.host
                    ));
                    client = self::client(&to)?;
                    probe = to;
                }
            }
        }
    })?;
    reporter.step(&format!(
        "checking a websocket handshake through {}://{}/api/v4/websocket",
        probe.scheme(),
        probe.address
    ));
    retry_until(deadline, || websocket(&probe))?;
    Ok(Healthy { version_id })
}

fn retry_until<T>(
    deadline: Instant,
    mut attempt: impl FnMut() -> Result<T, HealthError>,
) -> Result<T, HealthError> {
    loop {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(err) if err.is_final() || Instant::now() >= deadline => return Err(err),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

fn fail(probe: &Probe, what: &'static str, detail: impl ToString) -> HealthError {
    HealthError::Failed {
        what,
        address: probe.address,
        host: probe.host.clone(),
        detail: detail.to_string(),
    }
}

/// An HTTP client whose connections to the probe's host go to the probe's address, that
/// follows no redirect by itself and uses no proxy from the environment.
fn client(probe: &Probe) -> Result<reqwest::blocking::Client, HealthError> {
    let tls = any_certificate_config().map_err(|e| fail(probe, "the ping", e))?;
    reqwest::blocking::Client::builder()
        .resolve(&probe.host, probe.address)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CONNECT_TIMEOUT + ANSWER_TIMEOUT)
        .tls_backend_preconfigured(std::sync::Arc::unwrap_or_clone(tls))
        .build()
        .map_err(|e| fail(probe, "the ping", error_chain(&e)))
}

/// What one ping saw.
enum Ping {
    /// The expected server answered, with this `X-Version-Id`.
    Answered(String),
    /// A redirect to HTTPS on the same host: the probe to use instead.
    Moved(Probe),
}

/// One ping, following the redirect to HTTPS on the same host like [`check`]: the
/// `X-Version-Id` the server answers with (`<version>.<build>.<hash>.<licensed>`), whatever
/// version that is. No retries: a server that does not answer is an error.
pub fn served_version_id(probe: &Probe) -> Result<String, HealthError> {
    let mut probe = probe.clone();
    loop {
        // Ends: `moved` refuses any redirect from HTTPS.
        match ping(&client(&probe)?, &probe, None)? {
            Ping::Answered(version_id) => return Ok(version_id),
            Ping::Moved(to) => probe = to,
        }
    }
}

/// One ping; with `expected`, a server reporting another version is [`HealthError::WrongVersion`].
fn ping(
    client: &reqwest::blocking::Client,
    probe: &Probe,
    expected: Option<&Version>,
) -> Result<Ping, HealthError> {
    let fail = |detail: String| fail(probe, "the ping", detail);
    let url = probe.url("/api/v4/system/ping");
    let response = client
        .get(&url)
        .header(reqwest::header::HOST, probe.authority())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .map_err(|e| fail(error_chain(&e)))?;
    let status = response.status();
    if REDIRECTS.contains(&status.as_u16()) {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        return moved(probe, &url, &location).map(Ping::Moved);
    }
    if status != reqwest::StatusCode::OK {
        return Err(fail(format!(
            "answered `{:?} {status}`",
            response.version()
        )));
    }
    let version_id = response
        .headers()
        .get("x-version-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = response.text().map_err(|e| fail(error_chain(&e)))?;
    let json: serde_json::Value = serde_json::from_str(body.trim())
        .map_err(|_| fail(format!("answered `{}` instead of JSON", excerpt(&body))))?;
    if json["status"] != "OK" {
        return Err(fail(format!(
            "status is {} instead of \"OK\"",
            json["status"]
        )));
    }
    let version_id =
        version_id.ok_or_else(|| fail("no X-Version-Id header: is this Mattermost?".into()))?;
    if let Some(expected) = expected.filter(|e| !version_id.starts_with(&format!("{e}."))) {
        return Err(HealthError::WrongVersion {
            address: probe.address,
            host: probe.host.clone(),
            reported: version_id,
            expected: expected.to_string(),
        });
    }
    Ok(Ping::Answered(version_id))
}

/// The probe a redirect from `url` to `location` leads to: only `https://` on the same host
/// (any port, 443 by default), reached on the same loopback address.
fn moved(probe: &Probe, url: &str, location: &str) -> Result<Probe, HealthError> {
    let refused = || HealthError::Redirected {
        url: url.to_string(),
        address: probe.address,
        host: probe.host.clone(),
        location: if location.is_empty() {
            "nowhere (no Location header)".into()
        } else {
            location.to_string()
        },
    };
    let target = reqwest::Url::parse(url)
        .and_then(|base| base.join(location))
        .map_err(|_| refused())?;
    let same_host = target.host_str().is_some_and(|host| {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .eq_ignore_ascii_case(&probe.host)
    });
    if target.scheme() != "https" || !same_host || probe.tls {
        return Err(refused());
    }
    Ok(Probe {
        address: SocketAddr::new(probe.address.ip(), target.port().unwrap_or(443)),
        host: probe.host.clone(),
        tls: true,
    })
}

fn websocket(probe: &Probe) -> Result<(), HealthError> {
    let tls = if probe.tls {
        Some(any_certificate_config().map_err(|e| fail(probe, "the websocket handshake", e))?)
    } else {
        None
    };
    let request = websocket::Request {
        host: &probe.host,
        port: probe.address.port(),
        connect_to: Some(probe.address),
        host_header: &probe.authority(),
        path: "/api/v4/websocket",
        tls,
        headers: Vec::new(),
        timeout: ANSWER_TIMEOUT,
    };
    WebSocket::connect(&request)
        .map(WebSocket::close)
        .map_err(|e| fail(probe, "the websocket handshake", e))
}

/// A TLS client configuration that accepts any server certificate (see [`AnyCertificate`]);
/// shared with `mm-install verify --insecure`.
pub(crate) fn any_certificate_config() -> std::io::Result<std::sync::Arc<rustls::ClientConfig>> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

/// Accepts any server certificate (but still checks the handshake signatures): the probe
/// talks to this host's own nginx over loopback to prove the proxying works; whether the
/// certificate suits the users' browsers is the admin's choice of certificate.
#[derive(Debug)]
struct AnyCertificate(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An error and its causes on one line (reqwest's own message does not say why).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(&format!(": {error}"));
        cause = error.source();
    }
    text
}

fn excerpt(text: &str) -> String {
    text.trim().chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The probe through nginx knocks on loopback with the site URL's host as `Host` and SNI,
    /// whatever port the site URL names (nginx listens on 80 and 443).
    #[test]
    fn the_probe_through_nginx_names_the_sites_host() {
        for (url, tls, host, authority, target) in [
            (
                Some("https://Chat.Example.com:8443/"),
                true,
                "chat.example.com",
                "chat.example.com",
                "https://chat.example.com:443/api/v4/system/ping",
            ),
            (
                Some("http://[::1]:8080"),
                false,
                "::1",
                "[::1]",
                "http://127.0.0.1:80/api/v4/system/ping",
            ),
            (
                None,
                false,
                "localhost",
                "localhost",
                "http://localhost:80/api/v4/system/ping",
            ),
        ] {
            let site = url.map(|url| SiteUrl::parse(url).unwrap());
            let probe = Probe::through_nginx(site.as_ref(), tls);
            assert_eq!(probe.host, host, "{url:?}");
            assert_eq!(probe.authority(), authority, "{url:?}");
            assert_eq!(probe.url("/api/v4/system/ping"), target, "{url:?}");
            assert!(probe.address.ip().is_loopback());
        }
    }

    /// One request a test server saw: the TLS server name, if any, and the request head.
    #[derive(Clone, Debug)]
    struct Seen {
        sni: Option<String>,
        head: String,
    }

    /// A loopback server, with TLS when `tls` is given, answering each request (one per
    /// connection) with what `answer` makes of its head; it records what it saw.
    fn serve(
        tls: Option<Arc<rustls::ServerConfig>>,
        answer: impl Fn(&str) -> String + Send + 'static,
    ) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for socket in listener.incoming() {
                let socket = socket.unwrap();
                let mut stream: Box<dyn ReadWrite> = match &tls {
                    Some(config) => Box::new(rustls::StreamOwned::new(
                        rustls::ServerConnection::new(config.clone()).unwrap(),
                        socket,
                    )),
                    None => Box::new(socket),
                };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        break;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let reply = answer(&head);
                // Recorded before answering: the client may have finished by the time the
                // answer is written.
                record.lock().unwrap().push(Seen {
                    sni: stream.server_name(),
                    head,
                });
                let _ = stream.write_all(reply.as_bytes());
                let _ = stream.flush();
            }
        });
        (address, seen)
    }

    trait ReadWrite: Read + Write + Send {
        fn server_name(&self) -> Option<String>;
    }
    impl ReadWrite for std::net::TcpStream {
        fn server_name(&self) -> Option<String> {
            None
        }
    }
    impl ReadWrite for rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream> {
        fn server_name(&self) -> Option<String> {
            self.conn.server_name().map(str::to_string)
        }
    }

    /// A TLS server configuration with a self-signed certificate for `site.example`, made by
    /// openssl (as nginx's would be).
    fn self_signed() -> Arc<rustls::ServerConfig> {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let status = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "openssl {args:?}");
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.der",
            "-outform",
            "DER",
            "-days",
            "2",
            "-subj",
            "/CN=site.example",
            "-addext",
            "subjectAltName=DNS:site.example",
        ]);
        openssl(&[
            "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER", "-out", "key.der",
        ]);
        let cert = fs_err::read(dir.path().join("cert.der")).unwrap();
        let key = fs_err::read(dir.path().join("key.der")).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
        )
        .unwrap();
        Arc::new(config)
    }

    /// What Mattermost answers: the ping with `X-Version-Id`, and the websocket upgrade.
    fn mattermost(version_id: &'static str) -> impl Fn(&str) -> String + Send + 'static {
        move |head: &str| {
            if head.starts_with("GET /api/v4/websocket ") {
                let key = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                    .unwrap_or_default()
                    .trim();
                let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
                format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                )
            } else {
                let body = r#"{"ActiveSearchBackend":"database","status":"OK"}"#;
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Version-Id: {version_id}\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            }
        }
    }

    /// nginx's `return 301 https://$host$request_uri;` (with the HTTPS port when not 443).
    fn redirect(to: String) -> impl Fn(&str) -> String + Send + 'static {
        move |head: &str| {
            let uri = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            format!(
                "HTTP/1.1 301 Moved Permanently\r\nLocation: {to}{uri}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n"
            )
        }
    }

    fn probe(address: SocketAddr) -> Probe {
        Probe {
            address,
            host: "site.example".into(),
            tls: false,
        }
    }

    fn version() -> Version {
        "10.5.0".parse().unwrap()
    }

    #[test]
    fn a_redirect_to_https_on_the_same_host_is_followed_over_loopback_with_its_name() {
        let (https, seen) = serve(Some(self_signed()), mattermost("10.5.0.12345.abc.false"));
        let (http, _) = serve(
            None,
            redirect(format!("https://site.example:{}", https.port())),
        );
        let healthy = check(
            &probe(http),
            &version(),
            Duration::from_secs(20),
            &crate::report::Silent,
        )
        .unwrap();
        assert_eq!(healthy.version_id, "10.5.0.12345.abc.false");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen.len(),
            2,
            "the ping and the websocket over TLS: {seen:?}"
        );
        for request in &seen {
            assert_eq!(request.sni.as_deref(), Some("site.example"), "{request:?}");
            let host = format!("\r\nhost: site.example:{}\r\n", https.port());
            assert!(
                request.head.to_ascii_lowercase().contains(&host),
                "{request:?}"
            );
        }
        assert!(
            seen[1].head.starts_with("GET /api/v4/websocket "),
            "{seen:?}"
        );
    }

    #[test]
    fn a_redirect_to_another_host_is_refused_at_once() {
        let (http, seen) = serve(None, redirect("https://elsewhere.example".into()));
        let err = check(
            &probe(http),
            &version(),
            Duration::from_secs(90),
            &crate::report::Silent,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("https://elsewhere.example/api/v4/system/ping"),
            "{err}"
        );
        assert_eq!(seen.lock().unwrap().len(), 1, "not followed, not retried");
    }

    #[test]
    fn a_wrong_version_fails_at_once_naming_both() {
        let (http, seen) = serve(None, mattermost("10.4.2.12345.abc.false"));
        let err = check(
            &probe(http),
            &version(),
            Duration::from_secs(90),
            &crate::report::Silent,
        )
        .unwrap_err()
        .to_string();
        // Asked once: a wrong version never becomes right, so it is not asked again for 90 s.
        assert_eq!(seen.lock().unwrap().len(), 1, "{err}");
        assert!(err.contains("`10.4.2.12345.abc.false`"), "{err}");
        assert!(err.contains("expected 10.5.0"), "{err}");
    }

    #[test]
    fn a_server_still_starting_is_waited_for() {
        let attempts = std::sync::atomic::AtomicUsize::new(0);
        let healthy = mattermost("10.5.0.12345.abc.false");
        let (http, _) = serve(None, move |head: &str| {
            if attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
            } else {
                healthy(head)
            }
        });
        let healthy = check(
            &probe(http),
            &version(),
            Duration::from_secs(20),
            &crate::report::Silent,
        )
        .unwrap();
        assert_eq!(healthy.version_id, "10.5.0.12345.abc.false");
    }

    #[test]
    fn a_wrong_websocket_accept_key_fails() {
        let ping = mattermost("10.5.0.12345.abc.false");
        let (http, _) = serve(None, move |head: &str| {
            if head.starts_with("GET /api/v4/websocket ") {
                // The RFC 6455 example's answer, for a key the probe does not send.
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
                    .into()
            } else {
                ping(head)
            }
        });
        let err = check(
            &probe(http),
            &version(),
            Duration::from_secs(1),
            &crate::report::Silent,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("websocket"), "{err}");
        assert!(err.contains("Sec-WebSocket-Accept"), "{err}");
    }
}
