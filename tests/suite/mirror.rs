//! A local Mattermost release mirror for the tests: tarballs shaped like Mattermost's, signed at
//! test time with a freshly generated OpenPGP key, a GitHub-shaped releases feed, and an HTTP/1.1
//! server on 127.0.0.1 whose routes can fail on purpose (404, 500 then success, a connection cut
//! mid-body, an HTML page instead of a tarball, a server that ignores `Range`, GitHub's rate
//! limit, a redirect, a body without `Content-Length`). It also answers proxy-style absolute-form requests, so a test can point `HTTP_PROXY`
//! at it. [`Mirror::start_tls`] serves the same over HTTPS with a certificate from a private
//! [`TestCa`], as a mirror behind an on-prem CA does.
//!
//! By default it has the shape of Mattermost's real release host, which is S3 behind a CDN
//! (`mattermost-facts.md` §10): it publishes tarballs and `.sig` files only, honours byte ranges,
//! and answers anything it does not have with `403` and an `AccessDenied` XML body, not 404
//! (evidence: mattermost/mattermost#34967, mattermost/mattermost-mobile#7727). A plain mirror
//! that answers 404 is [`Mirror::start_plain`], for tests about such mirrors only.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

use pgp::composed::{
    ArmorOptions, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedSecretKey,
    SubpacketConfig,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize;
use pgp::types::Password;
use rand::{RngCore, SeedableRng};

/// A private certificate authority generated for one test, and the server certificate it
/// issued (for `127.0.0.1` and `localhost`, or the names given).
pub struct TestCa {
    /// The CA certificate, PEM: what `--ca-cert` or a trust store is given.
    pub pem: String,
    server: rustls::ServerConfig,
}

impl TestCa {
    pub fn generate() -> TestCa {
        Self::generate_for(&["127.0.0.1", "localhost"])
    }

    /// A CA whose server certificate is for `names` (host names or IP addresses).
    pub fn generate_for(names: &[&str]) -> TestCa {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mm-install test CA");
        let ca = ca_params.self_signed(&ca_key).expect("self-sign CA");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().expect("server key");
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let params = rcgen::CertificateParams::new(names).expect("server certificate");
        let certificate = params.signed_by(&key, &issuer).expect("sign server");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![certificate.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("server TLS config");
        TestCa {
            pem: ca.pem(),
            server,
        }
    }

    /// The CA certificate written to `dir/<name>`.
    pub fn write_pem(&self, dir: &Path, name: &str) -> PathBuf {
        crate::common::write_file(dir, name, self.pem.as_bytes())
    }
}

/// An OpenPGP signing key generated for one test.
pub struct TestKey {
    secret: SignedSecretKey,
}

impl TestKey {
    /// An Ed25519 key: fast to generate.
    pub fn generate(name: &str) -> TestKey {
        Self::generate_with(name, KeyType::Ed25519Legacy)
    }

    /// An RSA-2048 key like Mattermost's own (slower to generate; it can also make the SHA-1
    /// signatures that Ed25519 refuses).
    pub fn generate_rsa(name: &str) -> TestKey {
        Self::generate_with(name, KeyType::Rsa(2048))
    }

    fn generate_with(name: &str, key_type: KeyType) -> TestKey {
        let params = SecretKeyParamsBuilder::default()
            .key_type(key_type)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(format!("{name} <{name}@mirror.test>"))
            .build()
            .expect("key parameters");
        let secret = params
            .generate(rand::thread_rng())
            .expect("generate test key");
        TestKey { secret }
    }

    /// The public key, ASCII-armored, written to `dir/<name>.asc` for `--keyring`.
    pub fn write_public(&self, dir: &Path, name: &str) -> PathBuf {
        let armored = self
            .secret
            .to_public_key()
            .to_armored_string(ArmorOptions::default())
            .expect("armor public key");
        crate::common::write_file(dir, name, armored.as_bytes())
    }

    /// A binary detached signature over `data`.
    pub fn sign(&self, data: &[u8], hash: HashAlgorithm) -> Vec<u8> {
        DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            &self.secret.primary_key,
            &Password::empty(),
            hash,
            data,
        )
        .expect("sign")
        .to_bytes()
        .expect("serialize signature")
    }

    /// A binary SHA-256 detached signature over `data` that says it was made `secs_ago` seconds
    /// ago (an old release's signature).
    pub fn sign_dated(&self, data: &[u8], secs_ago: u32) -> Vec<u8> {
        use pgp::packet::{Subpacket, SubpacketData};
        use pgp::types::{KeyDetails, Timestamp};
        let created = Timestamp::from_secs(Timestamp::now().as_secs() - secs_ago);
        let key = &self.secret.primary_key;
        let subpackets = SubpacketConfig::UserDefined {
            hashed: vec![
                Subpacket::regular(SubpacketData::IssuerFingerprint(key.fingerprint()))
                    .expect("subpacket"),
                Subpacket::regular(SubpacketData::SignatureCreationTime(created))
                    .expect("subpacket"),
            ],
            unhashed: vec![
                Subpacket::regular(SubpacketData::IssuerKeyId(key.legacy_key_id()))
                    .expect("subpacket"),
            ],
        };
        DetachedSignature::sign_binary_data_with_subpackets(
            rand::thread_rng(),
            key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            data,
            subpackets,
        )
        .expect("sign")
        .to_bytes()
        .expect("serialize signature")
    }
}

/// A gzip-compressed tar shaped like a Mattermost release: one top-level `mattermost/` with
/// `bin/mattermost` (a script printing its version), `config/config.json` (0600), the web client,
/// and `payload_bytes` of incompressible data so transfers are big enough to interrupt.
pub fn release_tarball(version: &str, payload_bytes: usize) -> Vec<u8> {
    let mut payload = vec![0u8; payload_bytes];
    rand::rngs::StdRng::seed_from_u64(payload_bytes as u64).fill_bytes(&mut payload);
    let server = format!("#!/bin/sh\necho 'Version: {version}'\n").into_bytes();
    tarball_with_server(
        server,
        vec![("mattermost/prepackaged_plugins/payload.bin", 0o644, payload)],
    )
}

/// A release whose `bin/mattermost` is the stand-in server (`tests/standin/`), configured by
/// `standin_json` (see tests/standin/README.md), for installs that really start the server.
pub fn standin_tarball(standin_binary: &[u8], standin_json: &str) -> Vec<u8> {
    tarball_with_server(
        standin_binary.to_vec(),
        vec![(
            "mattermost/bin/standin.json",
            0o644,
            standin_json.as_bytes().to_vec(),
        )],
    )
}

/// The release layout around `server` (as `bin/mattermost`) plus `extra` files.
fn tarball_with_server(server: Vec<u8>, extra: Vec<(&str, u32, Vec<u8>)>) -> Vec<u8> {
    let mut files: Vec<(&str, u32, Vec<u8>)> = vec![
        ("mattermost/bin/mattermost", 0o755, server),
        ("mattermost/bin/mmctl", 0o755, b"#!/bin/sh\n".to_vec()),
        (
            "mattermost/config/config.json",
            0o600,
            CONFIG_JSON.as_bytes().to_vec(),
        ),
        (
            "mattermost/client/root.html",
            0o644,
            b"<html></html>".to_vec(),
        ),
        ("mattermost/NOTICE.txt", 0o644, b"notice\n".to_vec()),
        (
            "mattermost/ENTERPRISE-EDITION-LICENSE.txt",
            0o644,
            b"licence\n".to_vec(),
        ),
    ];
    files.extend(extra);
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for dir in [
        "mattermost/",
        "mattermost/bin/",
        "mattermost/config/",
        "mattermost/logs/",
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        builder
            .append_data(&mut header, dir, std::io::empty())
            .expect("tar dir");
    }
    for (path, mode, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, path, data.as_slice())
            .expect("tar file");
    }
    builder
        .into_inner()
        .expect("finish tar")
        .finish()
        .expect("finish gzip")
}

/// A trimmed `config.json` shaped like the one in Mattermost's tarball (4-space indents, the
/// sections and keys the installer edits among others it must leave alone).
pub const CONFIG_JSON: &str = r#"{
    "ServiceSettings": {
        "SiteURL": "",
        "WebsocketURL": "",
        "ListenAddress": ":8065",
        "ConnectionSecurity": "",
        "EnableCustomEmoji": true
    },
    "TeamSettings": {
        "SiteName": "Mattermost",
        "MaxUsersPerTeam": 50,
        "EnableOpenServer": false
    },
    "SqlSettings": {
        "DriverName": "postgres",
        "DataSource": "postgres://mmuser:mostest@localhost/mattermost_test?sslmode=disable\u0026connect_timeout=10\u0026binary_parameters=yes",
        "MaxIdleConns": 20
    },
    "LogSettings": {
        "EnableConsole": true,
        "ConsoleLevel": "INFO"
    },
    "FileSettings": {
        "DriverName": "local",
        "Directory": "./data/",
        "MaxFileSize": 104857600
    },
    "PluginSettings": {
        "Enable": true,
        "Directory": "./plugins",
        "ClientDirectory": "./client/plugins"
    }
}
"#;

/// A signed-looking release whose archive tries to write outside its tree.
pub fn hostile_tarball() -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    let mut add = |name: &[u8], data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_mode(0o755);
        header.set_size(data.len() as u64);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, data).expect("tar entry");
    };
    add(b"mattermost/bin/mattermost", b"#!/bin/sh\n");
    add(b"mattermost/../../../../etc/evil", b"owned\n");
    builder
        .into_inner()
        .expect("finish tar")
        .finish()
        .expect("finish gzip")
}

/// A GitHub-shaped releases feed listing `stable` versions plus a draft and a pre-release that
/// are newer and must be ignored.
pub fn releases_feed(stable: &[&str]) -> Vec<u8> {
    let mut entries: Vec<serde_json::Value> = stable
        .iter()
        .map(|v| serde_json::json!({"tag_name": format!("v{v}"), "draft": false, "prerelease": false}))
        .collect();
    entries.push(serde_json::json!({"tag_name": "v99.0.0", "draft": true, "prerelease": false}));
    entries
        .push(serde_json::json!({"tag_name": "v98.0.0-rc1", "draft": false, "prerelease": true}));
    serde_json::to_vec(&entries).expect("feed json")
}

/// How the mirror answers one path.
#[derive(Clone)]
pub enum Route {
    /// The bytes, honouring `Range: bytes=N-` with 206.
    File {
        body: Vec<u8>,
        content_type: &'static str,
    },
    /// The bytes, always 200 and whole, whatever `Range` says.
    IgnoresRange(Vec<u8>),
    /// Answer `status` for the first `times` requests, then behave like `then`.
    FailFirst {
        status: u16,
        times: usize,
        then: Box<Route>,
    },
    /// Send full headers but only `after` bytes of the body, then close, for the first `times`
    /// requests; then behave like the inner route.
    CutFirst {
        after: usize,
        times: usize,
        then: Box<Route>,
    },
    /// Headers claiming an enormous body, and no body.
    Enormous,
    /// `302 Found` to this absolute URL, as a CDN or a mirror that moved does.
    Redirect(String),
    /// The bytes with no `Content-Length`, ended by closing the connection (as a server that
    /// streams or compresses on the fly does).
    Unsized(Vec<u8>),
    /// GitHub's answer once an address has used its hourly API requests: 403 with
    /// `x-ratelimit-remaining: 0` (mattermost-facts.md §10).
    RateLimited,
}

/// How the mirror answers a path it has no route for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// S3's answer, and so releases.mattermost.com's: 403 with an `AccessDenied` XML body.
    AccessDenied,
    /// A plain web server's answer: 404.
    NotFound,
}

/// One request as the mirror saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
    /// `true` when the request line carried an absolute URL (the client used us as a proxy).
    pub via_proxy: bool,
    /// The request body (a webhook's JSON), empty for a GET.
    pub body: Vec<u8>,
}

/// A running mirror on 127.0.0.1; stops when the test process ends.
pub struct Mirror {
    pub base_url: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Mirror {
    /// An S3-shaped mirror (see the module documentation) on 127.0.0.1.
    pub fn start() -> Mirror {
        Self::start_on("127.0.0.1")
    }

    /// An S3-shaped mirror listening on `address` (e.g. a booted guest's view of the host).
    pub fn start_on(address: &str) -> Mirror {
        Self::start_with(address, Missing::AccessDenied)
    }

    /// A plain mirror on 127.0.0.1 that answers 404 for what it does not have.
    pub fn start_plain() -> Mirror {
        Self::start_with("127.0.0.1", Missing::NotFound)
    }

    /// An S3-shaped mirror on 127.0.0.1 over HTTPS, with a server certificate issued by `ca`.
    pub fn start_tls(ca: &TestCa) -> Mirror {
        Self::start_tls_on("127.0.0.1", ca)
    }

    /// [`Mirror::start_tls`] listening on `address` (a booted guest's view of the host).
    pub fn start_tls_on(address: &str, ca: &TestCa) -> Mirror {
        Self::start_with_tls(address, Missing::AccessDenied, Some(ca))
    }

    fn start_with(address: &str, missing: Missing) -> Mirror {
        Self::start_with_tls(address, missing, None)
    }

    fn start_with_tls(address: &str, missing: Missing, ca: Option<&TestCa>) -> Mirror {
        let listener = TcpListener::bind((address, 0)).expect("bind mirror");
        let scheme = if ca.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{}", listener.local_addr().expect("mirror addr"));
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (r, s) = (routes.clone(), seen.clone());
        let tls = ca.map(|ca| Arc::new(ca.server.clone()));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, s, tls) = (r.clone(), s.clone(), tls.clone());
                thread::spawn(move || match tls {
                    None => serve(stream, &r, &s, missing),
                    Some(config) => {
                        let Ok(connection) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        let stream = rustls::StreamOwned::new(connection, stream);
                        serve_request(&mut BufReader::new(stream), &r, &s, missing, false);
                    }
                });
            }
        });
        Mirror {
            base_url,
            routes,
            seen,
        }
    }

    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    /// Serve a file with the default content type.
    pub fn file(&self, path: &str, body: Vec<u8>) {
        self.route(
            path,
            Route::File {
                body,
                content_type: "application/octet-stream",
            },
        );
    }

    /// Every request for `path` so far.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    /// Every request so far, in order.
    pub fn all_seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Publish a signed release: tarball, `.sig` by `key`, returning the tarball bytes.
    pub fn publish(
        &self,
        key: &TestKey,
        version: &str,
        file_name: &str,
        payload: usize,
    ) -> Vec<u8> {
        let tarball = release_tarball(version, payload);
        self.publish_tarball(key, version, file_name, tarball.clone());
        tarball
    }

    /// Publish `tarball` and its signature by `key` as `/<version>/<file_name>`.
    pub fn publish_tarball(&self, key: &TestKey, version: &str, file_name: &str, tarball: Vec<u8>) {
        let signature = key.sign(&tarball, HashAlgorithm::Sha256);
        self.file(&format!("/{version}/{file_name}"), tarball);
        self.file(&format!("/{version}/{file_name}.sig"), signature);
    }
}

fn serve(
    stream: TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    seen: &Mutex<Vec<Seen>>,
    missing: Missing,
) {
    serve_request(&mut BufReader::new(stream), routes, seen, missing, false);
}

/// A client connection, plain or TLS: read through the `BufReader` around it, written to
/// directly (the reader buffers only what it reads).
trait Connection: Read + Write {
    /// Close the connection at once (mid-answer for the routes that cut transfers).
    fn close(&mut self);
}

impl Connection for TcpStream {
    fn close(&mut self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Connection for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn close(&mut self) {
        let _ = self.flush();
        let _ = self.sock.shutdown(Shutdown::Both);
    }
}

/// One request's method, target, `Range` header and `Content-Length`.
struct Head {
    method: String,
    target: String,
    range: Option<String>,
    length: usize,
}

/// Read one request's line and headers.
fn read_head(reader: &mut BufReader<impl Read>) -> Option<Head> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut words = request_line.split_whitespace();
    let method = words.next()?.to_string();
    let target = words.next()?.to_string();
    let mut range = None;
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    Some(Head {
        method,
        target,
        range,
        length,
    })
}

fn serve_request(
    reader: &mut BufReader<impl Connection>,
    routes: &Mutex<HashMap<String, Route>>,
    seen: &Mutex<Vec<Seen>>,
    missing: Missing,
    tunnelled: bool,
) {
    let Some(Head {
        method,
        target,
        range,
        length,
    }) = read_head(reader)
    else {
        return;
    };
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    if method == "CONNECT" {
        // Act as the proxy: open the "tunnel" and answer the request sent through it ourselves.
        let _ = reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
        return serve_request(reader, routes, seen, missing, true);
    }
    let stream = reader.get_mut();
    let via_proxy = tunnelled || target.starts_with("http://");
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest
            .find('/')
            .map_or("/".to_string(), |i| rest[i..].to_string()),
        None => target,
    };
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        range: range.clone(),
        via_proxy,
        body,
    });
    let route = {
        let mut routes = routes.lock().unwrap();
        let Some(route) = routes.get_mut(&path) else {
            match missing {
                Missing::AccessDenied => respond(
                    stream,
                    403,
                    "application/xml",
                    &[],
                    ACCESS_DENIED.as_bytes(),
                ),
                Missing::NotFound => respond(stream, 404, "text/plain", &[], b"not found"),
            }
            return;
        };
        take_turn(route)
    };
    match route {
        Route::File { body, content_type } => {
            let start = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.strip_suffix('-'))
                .and_then(|n| n.parse::<usize>().ok());
            match start {
                Some(start) if start >= body.len() => respond(stream, 416, content_type, &[], b""),
                Some(start) => {
                    let header = format!(
                        "Content-Range: bytes {start}-{}/{}",
                        body.len() - 1,
                        body.len()
                    );
                    respond(stream, 206, content_type, &[&header], &body[start..]);
                }
                None => respond(stream, 200, content_type, &[], &body),
            }
        }
        Route::IgnoresRange(body) => respond(stream, 200, "application/octet-stream", &[], &body),
        Route::FailFirst { status, .. } => {
            let page = format!("<html><body>error {status}</body></html>");
            respond(stream, status, "text/html", &[], page.as_bytes());
        }
        Route::CutFirst { after, then, .. } => {
            let Route::File { body, .. } = *then else {
                panic!("CutFirst wraps a File route")
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body[..after.min(body.len())]);
            stream.close();
        }
        Route::RateLimited => respond(
            stream,
            403,
            "application/json",
            &["x-ratelimit-limit: 60", "x-ratelimit-remaining: 0"],
            br#"{"message":"API rate limit exceeded"}"#,
        ),
        Route::Redirect(location) => respond(
            stream,
            302,
            "text/plain",
            &[&format!("Location: {location}")],
            b"moved",
        ),
        Route::Unsized(body) => {
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
            stream.close();
        }
        Route::Enormous => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nContent-Length: 1152921504606846976\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            stream.close();
        }
    }
    // Wait for the client to close, so it sees the whole answer.
    let _ = reader.read(&mut [0u8; 1]);
}

/// S3's body for a missing object in a bucket that does not allow listing (the shape quoted in
/// mattermost/mattermost-mobile#7727).
const ACCESS_DENIED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>MMTEST0000000001</RequestId><HostId>bW0taW5zdGFsbC10ZXN0</HostId></Error>";

/// The behaviour for this request, advancing FailFirst/CutFirst counters.
fn take_turn(route: &mut Route) -> Route {
    match route {
        Route::FailFirst { times, then, .. } | Route::CutFirst { times, then, .. }
            if *times == 0 =>
        {
            let inner = (**then).clone();
            *route = inner;
            take_turn(route)
        }
        Route::FailFirst { times, .. } | Route::CutFirst { times, .. } => {
            *times -= 1;
            route.clone()
        }
        other => other.clone(),
    }
}

fn respond(
    stream: &mut impl Write,
    status: u16,
    content_type: &str,
    headers: &[&str],
    body: &[u8],
) {
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        403 => "Forbidden",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}
