//! The site URL (`--site-url`, `ServiceSettings.SiteURL`, `verify --url`): one type, parsed once
//! by the `url` crate, so a value is accepted or refused the same way by `install`, the nginx
//! and config.json rendering, the health probe and `verify`, with one message.
//!
//! Accepted: `http://` or `https://`, a host (a DNS name, an IPv4 address or a bracketed IPv6
//! address; lower-cased), an optional port, and an optional trailing `/`. Refused: any other
//! scheme, credentials, a query, a fragment, and a sub-path. Mattermost can be served under a
//! sub-path, but that takes `mattermost config subpath` on every upgrade and a proxy site that
//! serves only that path; mm-install's nginx site and health probe serve the root of the host,
//! so a sub-path is refused everywhere rather than half supported.

use std::fmt;
use std::str::FromStr;

use url::{Host, Url};

use crate::exit::{Diagnostic, ExitCode};

/// A site URL that passed [`SiteUrl::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteUrl {
    url: Url,
}

/// A value that is not a site URL mm-install can serve.
#[derive(Debug, thiserror::Error)]
#[error("invalid site URL `{url}`: {reason}")]
pub struct SiteUrlError {
    pub url: String,
    pub reason: String,
}

impl Diagnostic for SiteUrlError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Usage
    }

    fn hint(&self) -> Option<String> {
        Some(
            "pass the address users will type in their browser, such as https://chat.example.com"
                .into(),
        )
    }
}

impl SiteUrl {
    /// Parse `text` (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<SiteUrl, SiteUrlError> {
        let invalid = |reason: &str| SiteUrlError {
            url: text.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        if !lower.starts_with("http://") && !lower.starts_with("https://") {
            return Err(invalid("it must start with https:// or http://"));
        }
        let url = Url::parse(trimmed).map_err(|err| match err {
            url::ParseError::EmptyHost => invalid("it has no host name"),
            url::ParseError::InvalidPort => invalid("its port is not a number from 1 to 65535"),
            err => invalid(&format!("it has no valid host name ({err})")),
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("it must not contain credentials (user@)"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("it must not contain a query (?) or a fragment (#)"));
        }
        if let Some(Host::Domain(name)) = url.host() {
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(invalid(
                    "it has no valid host name (a DNS name has only letters, digits, - and .)",
                ));
            }
        }
        if url.port() == Some(0) {
            return Err(invalid("its port is not a number from 1 to 65535"));
        }
        if url.path() != "/" {
            return Err(invalid(
                "a sub-path is not supported: mm-install serves Mattermost at the root of its host name",
            ));
        }
        Ok(SiteUrl { url })
    }

    /// HTTPS rather than HTTP.
    pub fn tls(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// The host to connect to and to present in SNI: a name or an address, IPv6 without
    /// brackets.
    pub fn host(&self) -> String {
        match self.url.host() {
            Some(Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => String::new(),
        }
    }

    /// The host as nginx's `server_name` and URLs write it (IPv6 in brackets).
    pub fn server_name(&self) -> String {
        self.url.host_str().unwrap_or_default().to_string()
    }

    /// The port, the scheme's default when none is written.
    pub fn port(&self) -> u16 {
        self.url
            .port_or_known_default()
            .unwrap_or(if self.tls() { 443 } else { 80 })
    }

    /// `host[:port]`, the port only when it is not the scheme's default: the `Host` header.
    pub fn authority(&self) -> String {
        match self.url.port() {
            Some(port) => format!("{}:{port}", self.server_name()),
            None => self.server_name(),
        }
    }

    /// `scheme://authority`, without a trailing slash: what a browser sends as `Origin`, and
    /// what config.json's `SiteURL` holds.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.url.scheme(), self.authority())
    }

    /// The websocket URL of Mattermost's API v4.
    pub fn websocket_url(&self) -> String {
        let scheme = if self.tls() { "wss" } else { "ws" };
        format!("{scheme}://{}/api/v4/websocket", self.authority())
    }
}

/// A command-line value that may be empty: `""` is no site URL (`None`), anything else must be
/// a [`SiteUrl`]. For `install --site-url ''`, where nginx then answers any host name.
pub fn parse_or_none(text: &str) -> Result<Option<SiteUrl>, SiteUrlError> {
    match text {
        "" => Ok(None),
        text => SiteUrl::parse(text).map(Some),
    }
}

impl fmt::Display for SiteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin())
    }
}

impl FromStr for SiteUrl {
    type Err = SiteUrlError;

    fn from_str(text: &str) -> Result<SiteUrl, SiteUrlError> {
        SiteUrl::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepted values: (input, origin, host, server_name, port).
    #[test]
    fn accepted() {
        for (input, origin, host, server_name, port) in [
            (
                "https://chat.example.com",
                "https://chat.example.com",
                "chat.example.com",
                "chat.example.com",
                443,
            ),
            (
                "https://Chat.Example.COM/",
                "https://chat.example.com",
                "chat.example.com",
                "chat.example.com",
                443,
            ),
            (
                " HTTP://chat.example.com:8080 ",
                "http://chat.example.com:8080",
                "chat.example.com",
                "chat.example.com",
                8080,
            ),
            (
                "http://chat.example.com:80/",
                "http://chat.example.com",
                "chat.example.com",
                "chat.example.com",
                80,
            ),
            (
                "http://127.0.0.1:8065",
                "http://127.0.0.1:8065",
                "127.0.0.1",
                "127.0.0.1",
                8065,
            ),
            (
                "http://[::1]:8080",
                "http://[::1]:8080",
                "::1",
                "[::1]",
                8080,
            ),
            ("https://[::1]", "https://[::1]", "::1", "[::1]", 443),
            (
                "http://localhost",
                "http://localhost",
                "localhost",
                "localhost",
                80,
            ),
        ] {
            let url = SiteUrl::parse(input).unwrap_or_else(|err| panic!("{input}: {err}"));
            assert_eq!(url.origin(), origin, "{input}");
            assert_eq!(url.to_string(), origin, "{input}");
            assert_eq!(url.host(), host, "{input}");
            assert_eq!(url.server_name(), server_name, "{input}");
            assert_eq!(url.port(), port, "{input}");
        }
        let url = SiteUrl::parse("http://[::1]:8080").unwrap();
        assert_eq!(url.authority(), "[::1]:8080");
        assert_eq!(url.websocket_url(), "ws://[::1]:8080/api/v4/websocket");
        assert!(!url.tls());
        let url = SiteUrl::parse("https://chat.example.com/").unwrap();
        assert!(url.tls());
        assert_eq!(
            url.websocket_url(),
            "wss://chat.example.com/api/v4/websocket"
        );
    }

    #[test]
    fn only_the_empty_value_is_none() {
        assert_eq!(parse_or_none("").unwrap(), None);
        assert_eq!(
            parse_or_none("http://[::1]:8080").unwrap(),
            Some(SiteUrl::parse("http://[::1]:8080").unwrap())
        );
        assert!(parse_or_none(" ").is_err());
        assert!(parse_or_none("https://chat.example.com/mm").is_err());
    }

    /// Refused values, each with the reason its message gives.
    #[test]
    fn refused() {
        for (input, reason) in [
            ("", "must start with https:// or http://"),
            ("chat.example.com", "must start with https:// or http://"),
            (
                "ftp://chat.example.com",
                "must start with https:// or http://",
            ),
            ("http://", "no host name"),
            ("http://:80", "no host name"),
            ("http://host:http", "port"),
            ("http://host:0", "port"),
            ("http://host:65536", "port"),
            ("http://user:pw@host", "credentials"),
            ("http://user@host", "credentials"),
            ("http://host/?q", "query"),
            ("http://host#top", "fragment"),
            ("http://[::1", "no valid host name"),
            ("http://exa mple.com", "no valid host name"),
            ("http://999.1.1.1", "no valid host name"),
            ("http://example.com;include", "no valid host name"),
            ("http://{example}.com", "no valid host name"),
            ("https://chat.example.com/mm", "sub-path is not supported"),
            ("https://chat.example.com/mm/", "sub-path is not supported"),
        ] {
            let err = SiteUrl::parse(input).expect_err(input);
            assert!(err.reason.contains(reason), "{input}: {err}");
            assert_eq!(
                err.to_string(),
                format!("invalid site URL `{input}`: {}", err.reason)
            );
            assert_eq!(err.exit_code(), ExitCode::Usage);
        }
    }
}
