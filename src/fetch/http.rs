//! The HTTP client: one agent with connect and per-read timeouts (no total timeout, so a slow
//! but live download is never killed), proxies from the standard environment variables
//! (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), and bounded retries with exponential
//! backoff for network errors and 5xx/429 answers. A missing file is `NotFound` whether the
//! server says 404, 410 or, as S3 does, 403. HTTPS trusts what [`super::tls`] trusts, and a
//! redirect from HTTPS to plain HTTP is refused ([`redirect_policy`]); bodies are passed on as
//! sent (no transparent decompression: a `.tar.gz` stays one).

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use reqwest::blocking::{Client, Response};

use super::FetchError;
use super::tls::{TlsError, causes, client_config, untrusted_certificate};
use crate::report::Reporter;

/// How often and how patiently to retry transient failures.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub attempts: u32,
    /// Delay before the first retry; doubled for each further retry, capped at 30 s.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    fn delay_before(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base_delay
            .saturating_mul(factor)
            .min(Duration::from_secs(30))
    }
}

/// The result of one attempt: retry it, or give up at once.
pub enum AttemptError {
    Transient(FetchError),
    Fatal(FetchError),
}

/// The most a small document may weigh: a signature is under 1 KiB, a checksum file a line,
/// and GitHub's releases feed (100 entries with their notes) about 1 MiB; 16 MiB keeps a
/// misbehaving server from filling memory.
pub const MAX_SMALL_BYTES: u64 = 16 * 1024 * 1024;

/// The tool's HTTP client.
pub struct HttpClient {
    client: Client,
    retry: RetryPolicy,
}

/// Connect timeout: a mirror that does not accept a connection in this time is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Per-read timeout: a connection that delivers nothing for this long is dead.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

impl HttpClient {
    /// The client, trusting the system's CA store and the certificates in `ca_cert`.
    pub fn new(retry: RetryPolicy, ca_cert: Option<&Path>) -> Result<Self, FetchError> {
        // The blocking client's `timeout` bounds the wait for the response head, then each read
        // of the body on its own: a per-read timeout, never one on the whole download.
        let client = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(READ_TIMEOUT)
            .user_agent(concat!("mm-install/", env!("CARGO_PKG_VERSION")))
            .tls_backend_preconfigured(client_config(ca_cert)?)
            .redirect(redirect_policy())
            .build()
            .map_err(|err| TlsError::Setup(describe(&err)))?;
        Ok(HttpClient { client, retry })
    }

    /// Send a GET for `url`, from byte `offset` on when it is not 0.
    pub fn get(&self, url: &str, offset: u64) -> Result<Response, AttemptError> {
        let mut request = self.client.get(url);
        if offset > 0 {
            request = request.header("Range", format!("bytes={offset}-"));
        }
        let response = request.send().map_err(|err| network_error(url, &err))?;
        let status = response.status().as_u16();
        // GitHub's API answers 403 (or 429) with `x-ratelimit-remaining: 0` once an address has
        // used its hourly requests (mattermost-facts.md §10): retrying within the run is useless.
        let rate_limited = response
            .headers()
            .get("x-ratelimit-remaining")
            .is_some_and(|remaining| remaining.as_bytes() == b"0");
        match status {
            200..=299 | 416 => Ok(response),
            403 | 429 if rate_limited => Err(AttemptError::Fatal(FetchError::RateLimited {
                url: url.to_string(),
                status,
            })),
            // S3 (Mattermost's release host among them) answers 403 AccessDenied, not 404, for
            // an object it does not have (mattermost-facts.md §10).
            403 | 404 | 410 => Err(AttemptError::Fatal(FetchError::NotFound {
                url: url.to_string(),
                status,
            })),
            429 | 500..=599 => Err(AttemptError::Transient(FetchError::Status {
                url: url.to_string(),
                status,
            })),
            _ => Err(AttemptError::Fatal(FetchError::Status {
                url: url.to_string(),
                status,
            })),
        }
    }

    /// Run `attempt` until it succeeds, fails fatally, or the retries are used up.
    pub fn with_retries<T>(
        &self,
        reporter: &dyn Reporter,
        mut attempt: impl FnMut() -> Result<T, AttemptError>,
    ) -> Result<T, FetchError> {
        let mut retry = 0;
        loop {
            match attempt() {
                Ok(value) => return Ok(value),
                Err(AttemptError::Fatal(err)) => return Err(err),
                Err(AttemptError::Transient(err)) => {
                    retry += 1;
                    if retry >= self.retry.attempts {
                        return Err(FetchError::GaveUp {
                            attempts: self.retry.attempts,
                            last: Box::new(err),
                        });
                    }
                    let delay = self.retry.delay_before(retry);
                    reporter.warn(&format!(
                        "{err}; retrying in {:.1}s (attempt {} of {})",
                        delay.as_secs_f32(),
                        retry + 1,
                        self.retry.attempts
                    ));
                    std::thread::sleep(delay);
                }
            }
        }
    }

    /// GET a small document (a signature, a checksum file, the releases feed) into memory.
    pub fn get_small(&self, url: &str, reporter: &dyn Reporter) -> Result<Vec<u8>, FetchError> {
        self.with_retries(reporter, || {
            let mut bytes = Vec::new();
            self.get(url, 0)?
                .take(MAX_SMALL_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|err| read_error(url, &err))?;
            if bytes.len() as u64 > MAX_SMALL_BYTES {
                return Err(AttemptError::Fatal(FetchError::TooLarge {
                    url: url.to_string(),
                    limit: MAX_SMALL_BYTES,
                }));
            }
            Ok(bytes)
        })
    }

    /// [`get_small`](Self::get_small) for an optional file: `Ok(None)` when the server does not
    /// have it (404, 410, or S3's 403).
    pub fn get_optional(
        &self,
        url: &str,
        reporter: &dyn Reporter,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        match self.get_small(url, reporter) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(FetchError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

impl HttpClient {
    /// POST `body` as JSON to `url` once (no retries: a notification must not hold up the
    /// operation it reports on).
    pub fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<(), FetchError> {
        let response = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .map_err(|err| match network_error(&redact_query(url), &err) {
                AttemptError::Transient(err) | AttemptError::Fatal(err) => err,
            })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(FetchError::Status {
                url: redact_query(url),
                status,
            })
        }
    }
}

/// A webhook URL's secret is its path: show only scheme and host in messages.
fn redact_query(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}/…", rest.split('/').next().unwrap_or("")),
        None => "the webhook URL".into(),
    }
}

/// Redirects followed before giving up (reqwest's default).
const MAX_REDIRECTS: usize = 10;

/// A redirect from an HTTPS URL to a plain HTTP one, refused by [`redirect_policy`].
#[derive(Debug, thiserror::Error)]
#[error("{from} redirected to {to}, which is not HTTPS")]
struct Downgrade {
    from: String,
    to: String,
}

/// Follow up to [`MAX_REDIRECTS`] redirects, but never from HTTPS to HTTP: what TLS protected
/// (the release, its signature, the feed that picks the version) would travel in clear text for
/// the rest of the way. HTTPS→HTTPS and HTTP→HTTP are followed.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let from = attempt.previous().last().cloned();
        match from {
            Some(from) if from.scheme() == "https" && attempt.url().scheme() == "http" => {
                let to = attempt.url().to_string();
                attempt.error(Downgrade {
                    from: from.to_string(),
                    to,
                })
            }
            _ if attempt.previous().len() >= MAX_REDIRECTS => attempt.error("too many redirects"),
            _ => attempt.follow(),
        }
    })
}

/// Classify a failed request: connection trouble and timeouts are worth retrying; a refused
/// certificate, a bad URL or too many redirects are not.
fn network_error(url: &str, err: &reqwest::Error) -> AttemptError {
    if let Some(downgrade) = causes(err).find_map(|e| e.downcast_ref::<Downgrade>()) {
        return AttemptError::Fatal(FetchError::InsecureRedirect {
            from: downgrade.from.clone(),
            to: downgrade.to.clone(),
        });
    }
    if let Some(reason) = untrusted_certificate(err) {
        return AttemptError::Fatal(FetchError::Untrusted {
            url: url.to_string(),
            reason,
        });
    }
    let error = FetchError::Network {
        url: url.to_string(),
        reason: describe(err),
    };
    let tls = causes(err).any(|e| e.downcast_ref::<rustls::Error>().is_some());
    if !tls && (err.is_connect() || err.is_timeout() || err.is_request() || err.is_body()) {
        AttemptError::Transient(error)
    } else {
        AttemptError::Fatal(error)
    }
}

/// A failed read of a response body: the connection broke or stalled, worth retrying.
pub fn read_error(url: &str, err: &std::io::Error) -> AttemptError {
    AttemptError::Transient(FetchError::Network {
        url: url.to_string(),
        reason: match err.get_ref() {
            Some(inner) => innermost(inner).to_string(),
            None => err.to_string(),
        },
    })
}

/// What went wrong, without reqwest's "error sending request for url (…)" that only repeats the
/// URL the message already names: the innermost cause.
fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".into();
    }
    innermost(err).to_string()
}

fn innermost<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> &'a (dyn std::error::Error + 'static) {
    causes(err).last().unwrap_or(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy {
            attempts: 10,
            base_delay: Duration::from_millis(500),
        };
        assert_eq!(policy.delay_before(1), Duration::from_millis(500));
        assert_eq!(policy.delay_before(2), Duration::from_secs(1));
        assert_eq!(policy.delay_before(3), Duration::from_secs(2));
        assert_eq!(policy.delay_before(9), Duration::from_secs(30));
    }
}
