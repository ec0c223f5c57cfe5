//! Proof that a server works the way users reach it: through nginx, `/api/v4/system/ping`
//! answers `{"status":"OK"}` with the expected version in `X-Version-Id`, and a websocket
//! handshake to `/api/v4/websocket` is answered with `101 Switching Protocols` (a proxy that
//! drops the `Upgrade`/`Connection` headers is exactly what gives users the red
//! "Mattermost unreachable" bar).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::exit::{Diagnostic, ExitCode};
use crate::release::Version;
use crate::report::Reporter;

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
    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
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
}

impl Diagnostic for HealthError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Failure
    }

    fn hint(&self) -> Option<String> {
        Some("see `journalctl -u mattermost` and `journalctl -u nginx`; a websocket failure usually means the proxy drops the Upgrade/Connection headers".into())
    }
}

/// What the checks saw.
#[derive(Clone, Debug)]
pub struct Healthy {
    /// The `X-Version-Id` header (`<version>.<build>.<hash>.<licensed>`).
    pub version_id: String,
}

/// Ping, then the websocket handshake, retrying both for up to `patience` while the server
/// finishes starting.
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
    let version_id = retry_until(deadline, || ping(probe, expected))?;
    reporter.step(&format!(
        "checking a websocket handshake through {}://{}/api/v4/websocket",
        probe.scheme(),
        probe.address
    ));
    retry_until(deadline, || websocket(probe))?;
    Ok(Healthy { version_id })
}

fn retry_until<T>(
    deadline: Instant,
    mut attempt: impl FnMut() -> Result<T, HealthError>,
) -> Result<T, HealthError> {
    loop {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(err) if Instant::now() >= deadline => return Err(err),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// An HTTP answer: status line, lower-cased header names with values, body.
struct Answer {
    status: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// Send one HTTP/1.1 request and read the status line and headers (and the body if
/// `read_body`).
fn exchange(probe: &Probe, request: &str, read_body: bool) -> std::io::Result<Answer> {
    let stream = TcpStream::connect_timeout(&probe.address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut stream: Box<dyn ReadWrite> = if probe.tls {
        Box::new(tls_stream(stream, &probe.host)?)
    } else {
        Box::new(stream)
    };
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let mut body = String::new();
    if read_body {
        std::io::Read::read_to_string(&mut reader, &mut body)?;
    }
    Ok(Answer {
        status: status.trim().to_string(),
        headers,
        body,
    })
}

fn ping(probe: &Probe, expected: &Version) -> Result<String, HealthError> {
    let version_id = served_version_id(probe)?;
    if !version_id.starts_with(&format!("{expected}.")) {
        return Err(HealthError::Failed {
            what: "the ping",
            address: probe.address,
            host: probe.host.clone(),
            detail: format!("the server reports version `{version_id}`, expected {expected}"),
        });
    }
    Ok(version_id)
}

/// One ping: the `X-Version-Id` the server answers with (`<version>.<build>.<hash>.<licensed>`),
/// whatever version that is. No retries: a server that does not answer is an error.
pub fn served_version_id(probe: &Probe) -> Result<String, HealthError> {
    let fail = |detail: String| HealthError::Failed {
        what: "the ping",
        address: probe.address,
        host: probe.host.clone(),
        detail,
    };
    let request = format!(
        "GET /api/v4/system/ping HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        probe.host
    );
    let Answer {
        status,
        headers,
        body,
    } = exchange(probe, &request, true).map_err(|e| fail(e.to_string()))?;
    if !status.contains(" 200") {
        return Err(fail(format!("answered `{status}`")));
    }
    let json: serde_json::Value = serde_json::from_str(body.trim())
        .map_err(|_| fail(format!("answered `{}` instead of JSON", excerpt(&body))))?;
    if json["status"] != "OK" {
        return Err(fail(format!(
            "status is {} instead of \"OK\"",
            json["status"]
        )));
    }
    let version_id = headers
        .iter()
        .find(|(name, _)| name == "x-version-id")
        .map(|(_, value)| value.clone())
        .ok_or_else(|| fail("no X-Version-Id header: is this Mattermost?".into()))?;
    Ok(version_id)
}

fn websocket(probe: &Probe) -> Result<(), HealthError> {
    let fail = |detail: String| HealthError::Failed {
        what: "the websocket handshake",
        address: probe.address,
        host: probe.host.clone(),
        detail,
    };
    let request = format!(
        "GET /api/v4/websocket HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: bW0taW5zdGFsbC1wcm9iZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        probe.host
    );
    let status = exchange(probe, &request, false)
        .map_err(|e| fail(e.to_string()))?
        .status;
    if status.contains(" 101") {
        Ok(())
    } else {
        Err(fail(format!(
            "answered `{status}` instead of 101 Switching Protocols"
        )))
    }
}

/// A byte stream either plain or wrapped in TLS.
trait ReadWrite: std::io::Read + Write {}
impl<T: std::io::Read + Write> ReadWrite for T {}

/// A TLS client connection to our own proxy on loopback, with SNI set to `host`.
fn tls_stream(
    stream: TcpStream,
    host: &str,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).unwrap_or_else(|_| {
        rustls::pki_types::ServerName::try_from("localhost").expect("a valid name")
    });
    let connection = rustls::ClientConnection::new(any_certificate_config()?, name)
        .map_err(std::io::Error::other)?;
    Ok(rustls::StreamOwned::new(connection, stream))
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

fn excerpt(text: &str) -> String {
    text.trim().chars().take(120).collect()
}
