//! Downloading a release tarball: the signature first, then the tarball streamed into
//! `<name>.partial` while it is hashed, resumed with `Range` after an interruption (in the same
//! run or the next), and renamed to its final name only after the signature and checksum verify.
//! A failed verification deletes the partial file, so no unverified tarball is ever left behind.

use fs_err::os::unix::fs::OpenOptionsExt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::FetchError;
use super::http::{AttemptError, HttpClient, read_error};
use super::keyring::Keyring;
use super::verify::{ReleaseSignature, StreamVerifier, Verified, parse_checksum_file};
use crate::host::available_bytes;
use crate::release::Artifact;
use crate::report::Reporter;

/// Where the detached signature comes from.
#[derive(Clone, Debug)]
pub enum SignatureSource {
    Url(String),
    File(PathBuf),
}

/// Where the expected SHA-256 comes from.
#[derive(Clone, Debug)]
pub enum ChecksumSource {
    /// Given by the user (`--sha256`).
    Given(String),
    /// A `sha256sum`-style file that a mirror may publish; absent (403, 404 or 410) means no
    /// checksum.
    Published(String),
    /// None: Mattermost's own host publishes no checksum files, so none is asked for and the
    /// signature alone proves the tarball.
    Unpublished,
}

/// One tarball to fetch and verify.
#[derive(Clone, Debug)]
pub struct DownloadRequest {
    /// What is downloaded, for messages: `Mattermost 11.10.1`.
    pub release: String,
    pub tarball_url: String,
    pub signature: SignatureSource,
    pub checksum: ChecksumSource,
    /// The verified tarball's final path; the partial download sits beside it.
    pub destination: PathBuf,
}

impl DownloadRequest {
    /// The download of `artifact` from `release_url` into `dir`: the signature published beside
    /// the tarball unless `signature` names a file, and `sha256` if given, else the mirror's
    /// checksum file where a mirror may publish one.
    pub fn for_artifact(
        artifact: &Artifact,
        release_url: &str,
        signature: Option<PathBuf>,
        sha256: Option<String>,
        dir: &Path,
    ) -> DownloadRequest {
        DownloadRequest {
            release: format!("Mattermost {}", artifact.version),
            tarball_url: artifact.tarball_url(release_url),
            signature: match signature {
                Some(path) => SignatureSource::File(path),
                None => SignatureSource::Url(artifact.signature_url(release_url)),
            },
            checksum: match (sha256, artifact.checksum_url(release_url)) {
                (Some(hex), _) => ChecksumSource::Given(hex),
                (None, Some(url)) => ChecksumSource::Published(url),
                (None, None) => ChecksumSource::Unpublished,
            },
            destination: dir.join(artifact.file_name()),
        }
    }
}

/// A verified tarball on disk.
#[derive(Clone, Debug)]
pub struct Downloaded {
    pub path: PathBuf,
    pub bytes: u64,
    pub verified: Verified,
    /// `true` when a verified file already at the destination was reused.
    pub reused: bool,
}

/// Fetch and verify `request`, reporting progress to `reporter`. A tarball the host does not
/// have (403 from S3, 404, 410) is reported as a release that is not published.
pub fn download_release(
    client: &HttpClient,
    keyring: &Keyring,
    request: &DownloadRequest,
    reporter: &dyn Reporter,
) -> Result<Downloaded, FetchError> {
    fetch_and_verify(client, keyring, request, reporter).map_err(|err| match err {
        FetchError::NotFound { url, status } if url == request.tarball_url => {
            FetchError::NotPublished {
                release: request.release.clone(),
                url,
                status,
            }
        }
        other => other,
    })
}

fn fetch_and_verify(
    client: &HttpClient,
    keyring: &Keyring,
    request: &DownloadRequest,
    reporter: &dyn Reporter,
) -> Result<Downloaded, FetchError> {
    let (signature, signature_bytes) = load_signature(client, request, reporter)?;
    let mut verifier = StreamVerifier::new(keyring, signature)?;
    let expected_sha256 = load_checksum(client, request, reporter)?;
    let destination = &request.destination;

    if destination.exists() {
        let bytes = verifier.update_from(fs_err::File::open(destination)?)?;
        match verifier.finish(destination, expected_sha256.as_deref()) {
            Ok(verified) => {
                reporter.step(&format!(
                    "{} is already here and verified",
                    destination.display()
                ));
                keep_signature(request, &signature_bytes)?;
                return Ok(Downloaded {
                    path: destination.clone(),
                    bytes,
                    verified,
                    reused: true,
                });
            }
            Err(err) => {
                reporter.warn(&format!("{err}; deleting it and downloading again"));
                // `finish` left the verifier ready for a fresh copy.
                fs_err::remove_file(destination)?;
            }
        }
    }

    let partial = partial_path(destination);
    let mut file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&partial)?;
    let mut position = verifier.update_from(fs_err::File::open(&partial)?)?;
    if position > 0 {
        reporter.step(&format!(
            "resuming {} from byte {position}",
            partial.display()
        ));
    }
    reporter.step(&format!("downloading {}", request.tarball_url));
    let outcome = client.with_retries(reporter, || {
        fetch_into(
            client,
            request,
            &partial,
            &mut file,
            &mut position,
            &mut verifier,
            reporter,
        )
    });
    reporter.transfer_finished();
    if let Err(FetchError::TooLarge { .. }) = outcome {
        // Not worth resuming: the same server would send the same excess.
        fs_err::remove_file(&partial)?;
    }
    outcome?;
    file.sync_all()?;
    drop(file);

    match verifier.finish(destination, expected_sha256.as_deref()) {
        Ok(verified) => {
            fs_err::rename(&partial, destination)?;
            if let Some(dir) = destination.parent() {
                fs_err::File::open(dir)?.sync_all()?;
            }
            keep_signature(request, &signature_bytes)?;
            Ok(Downloaded {
                path: destination.clone(),
                bytes: position,
                verified,
                reused: false,
            })
        }
        Err(err) => {
            fs_err::remove_file(&partial)?;
            Err(err.into())
        }
    }
}

/// Write the downloaded signature beside the verified tarball (`<tarball>.sig`), so the
/// directory can serve as a mirror or be carried to an air-gapped server as is.
fn keep_signature(request: &DownloadRequest, bytes: &[u8]) -> Result<(), FetchError> {
    if let SignatureSource::Url(_) = request.signature {
        let mut path = request.destination.as_os_str().to_owned();
        path.push(".sig");
        crate::system::files::write_atomic(std::path::Path::new(&path), bytes, 0o644)?;
    }
    Ok(())
}

/// Why `artifact` cannot be fetched from `release_url` when its host does not publish it (the
/// tarball or its signature answers 403, 404 or 410: see [`FetchError::NotFound`]); `None` when
/// both are there. Only the signature and the tarball's response head are fetched.
pub fn unpublished(
    client: &HttpClient,
    artifact: &Artifact,
    release_url: &str,
    reporter: &dyn Reporter,
) -> Result<Option<FetchError>, FetchError> {
    let tarball_url = artifact.tarball_url(release_url);
    for url in [artifact.signature_url(release_url), tarball_url.clone()] {
        let found = if url == tarball_url {
            client.with_retries(reporter, || client.get(&url, 0).map(drop))
        } else {
            client.get_small(&url, reporter).map(drop)
        };
        match found {
            Ok(()) => {}
            Err(err @ FetchError::NotFound { .. }) => return Ok(Some(err)),
            Err(err) => return Err(err),
        }
    }
    Ok(None)
}

/// `<destination>.partial`.
pub fn partial_path(destination: &Path) -> PathBuf {
    let mut name = destination.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// The detached signature, parsed, and its bytes (kept beside the tarball).
fn load_signature(
    client: &HttpClient,
    request: &DownloadRequest,
    reporter: &dyn Reporter,
) -> Result<(ReleaseSignature, Vec<u8>), FetchError> {
    match &request.signature {
        SignatureSource::File(path) => read_signature(path),
        SignatureSource::Url(url) => match client.get_optional(url, reporter)? {
            Some(bytes) => Ok((ReleaseSignature::parse(&bytes, url)?, bytes)),
            None => {
                // Tell "no such release" (exit 1) from "release without signature" (exit 3).
                client.with_retries(reporter, || client.get(&request.tarball_url, 0).map(drop))?;
                Err(FetchError::MissingSignature { url: url.clone() })
            }
        },
    }
}

/// A detached signature file, parsed, and its bytes.
fn read_signature(path: &Path) -> Result<(ReleaseSignature, Vec<u8>), FetchError> {
    let bytes = fs_err::read(path)?;
    Ok((
        ReleaseSignature::parse(&bytes, &path.display().to_string())?,
        bytes,
    ))
}

fn load_checksum(
    client: &HttpClient,
    request: &DownloadRequest,
    reporter: &dyn Reporter,
) -> Result<Option<String>, FetchError> {
    match &request.checksum {
        ChecksumSource::Given(hex) => Ok(Some(super::parse_sha256(hex, "--sha256")?)),
        ChecksumSource::Unpublished => Ok(None),
        ChecksumSource::Published(url) => {
            let Some(bytes) = client.get_optional(url, reporter)? else {
                return Ok(None);
            };
            let file_name = request
                .destination
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(Some(parse_checksum_file(
                &String::from_utf8_lossy(&bytes),
                &file_name,
                url,
            )?))
        }
    }
}

/// One attempt: request the bytes from `position` on and append them to `file`.
fn fetch_into(
    client: &HttpClient,
    request: &DownloadRequest,
    partial: &Path,
    file: &mut fs_err::File,
    position: &mut u64,
    verifier: &mut StreamVerifier<'_>,
    reporter: &dyn Reporter,
) -> Result<(), AttemptError> {
    let url = &request.tarball_url;
    let io = |err: std::io::Error| AttemptError::Fatal(FetchError::Io(err));
    let response = client.get(url, *position)?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if status == 416 {
        restart(file, position, verifier)?;
        return Err(AttemptError::Transient(FetchError::Status {
            url: url.clone(),
            status,
        }));
    }
    if let Some(content_type) = header("content-type") {
        if content_type.starts_with("text/html") {
            fs_err::remove_file(partial).map_err(io)?;
            return Err(AttemptError::Fatal(FetchError::NotATarball {
                url: url.clone(),
                content_type,
            }));
        }
    }
    let range_start = header("content-range").and_then(|range| parse_content_range(&range));
    match (status, range_start) {
        (206, Some((start, _))) if start == *position => {}
        (206, _) => {
            restart(file, position, verifier)?;
            return Err(AttemptError::Transient(FetchError::Status {
                url: url.clone(),
                status,
            }));
        }
        _ if *position > 0 => {
            reporter.warn(&format!("{url} does not support resuming; starting over"));
            restart(file, position, verifier)?;
        }
        _ => {}
    }
    let length: Option<u64> = header("content-length").and_then(|v| v.parse().ok());
    let total = range_start
        .and_then(|(_, total)| total)
        .or(length.map(|l| l + *position));
    if let Some(needed) = length {
        let dir = partial.parent().unwrap_or(Path::new("."));
        let available = available_bytes(dir).map_err(|e| AttemptError::Fatal(e.into()))?;
        if available < needed {
            return Err(AttemptError::Fatal(FetchError::NoSpace {
                dir: dir.display().to_string(),
                needed,
                available,
            }));
        }
    }
    let label = request
        .destination
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    reporter.transfer_started(&label, total, *position);
    let limit = total.unwrap_or(MAX_TARBALL_BYTES);
    let mut body = response;
    verifier.beside(|feed| {
        loop {
            let mut buffer = feed.buffer();
            let read = match read_capped(&mut body, &mut buffer, *position, limit, url)? {
                0 => return Ok(()),
                read => read,
            };
            file.write_all(&buffer[..read]).map_err(io)?;
            feed.hash(buffer, read);
            *position += read as u64;
            reporter.transfer_progress(*position);
        }
    })?;
    match total {
        Some(total) if *position < total => Err(AttemptError::Transient(FetchError::Network {
            url: url.clone(),
            reason: format!("the connection closed after {position} of {total} bytes"),
        })),
        _ => Ok(()),
    }
}

/// The most a tarball may weigh when its server sends no `Content-Length`. Mattermost's release
/// tarballs weigh about 500 MB (Enterprise, amd64) and have grown slowly; 2 GiB leaves room for
/// years of growth while a server that streams without end cannot fill the cache's disk.
pub const MAX_TARBALL_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Read the next bytes of `body` into `buffer`, refusing to go beyond `limit` bytes in all
/// (`position` are already on disk): the size the server announced, else [`MAX_TARBALL_BYTES`].
fn read_capped(
    body: &mut impl Read,
    buffer: &mut [u8],
    position: u64,
    limit: u64,
    url: &str,
) -> Result<usize, AttemptError> {
    let read = body.read(buffer).map_err(|err| read_error(url, &err))?;
    if position.saturating_add(read as u64) > limit {
        return Err(AttemptError::Fatal(FetchError::TooLarge {
            url: url.to_string(),
            limit,
        }));
    }
    Ok(read)
}

/// Throw away what was downloaded so far and start again from byte 0.
fn restart(
    file: &mut fs_err::File,
    position: &mut u64,
    verifier: &mut StreamVerifier<'_>,
) -> Result<(), AttemptError> {
    file.set_len(0)
        .map_err(|err| AttemptError::Fatal(FetchError::Io(err)))?;
    *position = 0;
    verifier.restart();
    Ok(())
}

/// `bytes START-END/TOTAL` → (START, TOTAL if known).
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let range = value.trim().strip_prefix("bytes ")?;
    let (span, total) = range.split_once('/')?;
    let start = span.split_once('-')?.0.trim().parse().ok()?;
    Some((start, total.trim().parse().ok()))
}

/// Copy a tarball on disk (`install --tarball FILE`) to `destination` (in the root-only cache)
/// while hashing it: FILE is opened once, the copy goes to `<destination>.partial` (0600) and is
/// renamed into place only once the signature (and `expected_sha256`, if given) verify. Callers
/// use `destination` from then on and never reopen FILE by path, so whoever can write FILE cannot
/// swap it between the verification and the extraction.
pub fn copy_verified(
    keyring: &Keyring,
    tarball: &Path,
    signature: &Path,
    expected_sha256: Option<&str>,
    destination: &Path,
) -> Result<Verified, FetchError> {
    let mut verifier = StreamVerifier::new(keyring, read_signature(signature)?.0)?;
    let expected = expected_sha256
        .map(|hex| super::parse_sha256(hex, "--sha256"))
        .transpose()?;
    let partial = partial_path(destination);
    crate::system::files::remove_if_exists(&partial)?;
    let source = fs_err::File::open(tarball)?;
    let mut copy = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)?;
    verifier.copy_from(source, &mut copy)?;
    copy.sync_all()?;
    drop(copy);
    match verifier.finish(tarball, expected.as_deref()) {
        Ok(verified) => {
            fs_err::rename(&partial, destination)?;
            Ok(verified)
        }
        Err(err) => {
            fs_err::remove_file(&partial)?;
            Err(err.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_is_parsed() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some((100, Some(200)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }

    #[test]
    fn a_body_beyond_its_limit_is_refused_naming_the_url() {
        let url = "https://mirror.test/x.tar.gz";
        let mut buffer = [0u8; 8];
        let mut body = std::io::Cursor::new(vec![7u8; 20]);
        assert_eq!(
            read_capped(&mut body, &mut buffer, 0, 20, url).ok(),
            Some(8)
        );
        assert_eq!(
            read_capped(&mut body, &mut buffer, 8, 20, url).ok(),
            Some(8)
        );
        // 4 bytes remain; with 10 already on disk (a resume) they pass a 20-byte limit…
        let mut tail = std::io::Cursor::new(vec![7u8; 4]);
        assert_eq!(
            read_capped(&mut tail, &mut buffer, 16, 20, url).ok(),
            Some(4)
        );
        // …and one byte too many is refused at once, not retried.
        let mut over = std::io::Cursor::new(vec![7u8; 5]);
        match read_capped(&mut over, &mut buffer, 16, 20, url) {
            Err(AttemptError::Fatal(err)) => assert_eq!(
                err.to_string(),
                "https://mirror.test/x.tar.gz sent more than 20 bytes, the most mm-install accepts for it"
            ),
            _ => panic!("not refused"),
        }
    }

    #[test]
    fn partial_files_sit_beside_the_destination() {
        assert_eq!(
            partial_path(Path::new("/cache/mattermost-1.2.3-linux-amd64.tar.gz")),
            Path::new("/cache/mattermost-1.2.3-linux-amd64.tar.gz.partial")
        );
    }
}
