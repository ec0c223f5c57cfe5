//! The nginx site that puts Mattermost behind a reverse proxy: Mattermost's recommended proxy
//! configuration (websocket upgrade, forwarded headers, upload limit), over plain HTTP or with
//! TLS and HTTP/2 in the syntax the installed nginx understands.

use std::path::PathBuf;

use minijinja::{Value, context};

use super::templates::SITE;
use super::{RenderError, Templates, check_path, check_token};
use crate::site_url::SiteUrl;

/// How nginx is told to speak HTTP/2, which depends on its version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Http2Syntax {
    /// `listen 443 ssl http2;`: nginx before 1.25.1 (later ones warn that it is deprecated).
    ListenFlag,
    /// `http2 on;`: nginx 1.25.1 and later.
    Directive,
}

impl Http2Syntax {
    /// The value of the template's `http2` variable.
    fn keyword(self) -> &'static str {
        match self {
            Http2Syntax::ListenFlag => "listen_flag",
            Http2Syntax::Directive => "directive",
        }
    }
}

/// The first nginx release with the `http2` directive.
const HTTP2_DIRECTIVE_SINCE: (u64, u64, u64) = (1, 25, 1);

/// The HTTP/2 syntax for the nginx whose `nginx -v` printed `nginx_v_output` (nginx prints it
/// on stderr), e.g. `nginx version: nginx/1.22.1`. OpenResty (`openresty/1.21.4.1`) and
/// freenginx number their releases after the nginx they are built on, so they are read the
/// same way.
pub fn http2_syntax(nginx_v_output: &str) -> Result<Http2Syntax, RenderError> {
    let version = ["nginx/", "openresty/"].iter().find_map(|marker| {
        let start = nginx_v_output.find(marker)? + marker.len();
        parse_version(&nginx_v_output[start..])
    });
    match version {
        Some(version) if version >= HTTP2_DIRECTIVE_SINCE => Ok(Http2Syntax::Directive),
        Some(_) => Ok(Http2Syntax::ListenFlag),
        None => Err(RenderError::NginxVersion {
            output: nginx_v_output.trim().chars().take(200).collect(),
        }),
    }
}

/// The `X.Y[.Z…]` version at the start of `text`, as (X, Y, Z); a missing Z counts as 0.
fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let token = text
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?;
    let mut parts = token.split('.').map(|part| part.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

/// The certificate and key nginx serves, as PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (e.g. Let's Encrypt's `fullchain.pem`).
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// What the nginx site needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NginxOptions {
    /// The site URL: its host becomes `server_name`; `None` answers any name (`_`).
    pub site_url: Option<SiteUrl>,
    /// Where Mattermost listens, e.g. `127.0.0.1:8065`.
    pub upstream: String,
    /// Serve HTTPS with these files (and redirect HTTP to it); `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
    /// How to enable HTTP/2 with TLS; see [`http2_syntax`].
    pub http2: Http2Syntax,
    /// The largest request body in MiB: Mattermost's `FileSettings.MaxFileSize`, see
    /// [`max_file_size_mb`](super::max_file_size_mb).
    pub client_max_body_size_mb: u64,
    /// Claim port 80 as nginx's `default_server` (Debian's layout, where the stock default site
    /// is set aside). `false` where the distribution's nginx.conf keeps its own default server
    /// (RHEL's `conf.d` layout), which a second `default_server` would make `nginx -t` reject.
    pub default_server: bool,
}

/// The site's text for `options`.
pub fn render_nginx_site(t: &Templates, o: &NginxOptions) -> Result<String, RenderError> {
    let server_name = o
        .site_url
        .as_ref()
        .map_or_else(|| "_".to_string(), SiteUrl::server_name);
    check_token(SITE.name, "server name", &server_name)?;
    check_token(SITE.name, "upstream address", &o.upstream)?;
    let tls = match &o.tls {
        Some(files) => Some(context! {
            certificate => check_path(SITE.name, "TLS certificate path", &files.certificate)?,
            key => check_path(SITE.name, "TLS key path", &files.key)?,
        }),
        None => None,
    };
    t.render(
        &SITE,
        context! {
            server_name => server_name,
            upstream => o.upstream.as_str(),
            tls => Value::from(tls),
            http2 => o.http2.keyword(),
            client_max_body_size_mb => o.client_max_body_size_mb,
            default_server => o.default_server,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> NginxOptions {
        NginxOptions {
            site_url: None,
            upstream: "127.0.0.1:8065".into(),
            tls: None,
            http2: Http2Syntax::ListenFlag,
            client_max_body_size_mb: 100,
            default_server: true,
        }
    }

    fn with_tls(http2: Http2Syntax) -> NginxOptions {
        NginxOptions {
            site_url: Some(SiteUrl::parse("https://chat.example.com").unwrap()),
            tls: Some(TlsFiles {
                certificate: "/etc/letsencrypt/live/chat.example.com/fullchain.pem".into(),
                key: "/etc/letsencrypt/live/chat.example.com/privkey.pem".into(),
            }),
            http2,
            ..plain()
        }
    }

    fn render(o: &NginxOptions) -> String {
        render_nginx_site(&Templates::new(None), o).unwrap()
    }

    /// The directives of the block opened by the line `opening` (trimmed, comments dropped),
    /// up to its closing brace; blocks here never nest.
    fn block<'a>(site: &'a str, opening: &str) -> Vec<&'a str> {
        let mut lines = site.lines().map(str::trim);
        assert!(
            lines.any(|line| line == opening),
            "no `{opening}` in:\n{site}"
        );
        lines
            .take_while(|line| *line != "}")
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    }

    /// The directives of the `server` blocks, in order (without their locations).
    fn servers(site: &str) -> Vec<Vec<&str>> {
        let mut servers = Vec::new();
        let mut current: Option<Vec<&str>> = None;
        let mut in_location = false;
        for line in site.lines().map(str::trim) {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            if line == "server {" {
                current = Some(Vec::new());
            } else if line.starts_with("location ") {
                in_location = true;
            } else if line == "}" && in_location {
                in_location = false;
            } else if line == "}" {
                servers.extend(current.take());
            } else if let (Some(server), false) = (current.as_mut(), in_location) {
                server.push(line);
            }
        }
        servers
    }

    const FORWARDED: [&str; 4] = [
        "proxy_set_header Host $host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
    ];

    #[test]
    fn upstream_and_locations() {
        let site = render(&NginxOptions {
            client_max_body_size_mb: 250,
            default_server: true,
            ..plain()
        });
        assert_eq!(
            block(&site, "upstream mattermost_backend {"),
            ["server 127.0.0.1:8065;", "keepalive 32;"]
        );

        let ws = block(&site, "location ~ /api/v[0-9]+/(users/)?websocket$ {");
        for directive in [
            "proxy_set_header Upgrade $http_upgrade;",
            "proxy_set_header Connection \"upgrade\";",
            "proxy_http_version 1.1;",
            "client_max_body_size 250M;",
            "proxy_buffers 256 16k;",
            "proxy_buffer_size 16k;",
            "client_body_timeout 60s;",
            "send_timeout 300s;",
            "lingering_timeout 5s;",
            "proxy_connect_timeout 90s;",
            "proxy_send_timeout 300s;",
            "proxy_read_timeout 90s;",
            "proxy_pass http://mattermost_backend;",
        ]
        .iter()
        .chain(&FORWARDED)
        {
            assert!(
                ws.contains(directive),
                "websocket location lacks {directive}: {ws:#?}"
            );
        }

        let root = block(&site, "location / {");
        for directive in [
            "proxy_set_header Connection \"\";",
            "proxy_http_version 1.1;",
            "client_max_body_size 250M;",
            "proxy_read_timeout 600s;",
            "proxy_pass http://mattermost_backend;",
        ]
        .iter()
        .chain(&FORWARDED)
        {
            assert!(
                root.contains(directive),
                "location / lacks {directive}: {root:#?}"
            );
        }
        assert!(!root.iter().any(|d| d.contains("Upgrade")), "{root:#?}");
    }

    #[test]
    fn plain_http_site() {
        let site = render(&plain());
        assert!(site.starts_with("# Managed by mm-install"), "{site}");
        assert!(
            site.contains("Edit /etc/mm-install/templates/nginx-mattermost.conf instead"),
            "{site}"
        );
        assert_eq!(
            servers(&site),
            [[
                "listen 80 default_server;",
                "listen [::]:80 default_server;",
                "server_name _;",
            ]]
        );
        for absent in [
            "ssl",
            "443",
            "http2",
            "return 301",
            "Strict-Transport-Security",
        ] {
            assert!(
                !site.contains(absent),
                "plain site mentions {absent}:\n{site}"
            );
        }
    }

    #[test]
    fn tls_site_with_listen_flag() {
        let site = render(&with_tls(Http2Syntax::ListenFlag));
        let servers = servers(&site);
        assert_eq!(
            servers[0],
            [
                "listen 80 default_server;",
                "listen [::]:80 default_server;",
                "server_name chat.example.com;",
                "return 301 https://$host$request_uri;",
            ]
        );
        assert_eq!(
            servers[1][..3],
            [
                "listen 443 ssl http2;",
                "listen [::]:443 ssl http2;",
                "server_name chat.example.com;",
            ]
        );
        assert!(!site.contains("http2 on;"), "{site}");
        assert_tls_directives(&servers[1]);
        assert_eq!(servers.len(), 2);
    }

    #[test]
    fn tls_site_with_http2_directive() {
        let site = render(&with_tls(Http2Syntax::Directive));
        let servers = servers(&site);
        assert_eq!(
            servers[1][..4],
            [
                "listen 443 ssl;",
                "listen [::]:443 ssl;",
                "http2 on;",
                "server_name chat.example.com;",
            ]
        );
        assert!(!site.contains("ssl http2"), "{site}");
        assert_tls_directives(&servers[1]);
    }

    fn assert_tls_directives(server: &[&str]) {
        for directive in [
            "ssl_certificate /etc/letsencrypt/live/chat.example.com/fullchain.pem;",
            "ssl_certificate_key /etc/letsencrypt/live/chat.example.com/privkey.pem;",
            "ssl_protocols TLSv1.2 TLSv1.3;",
            "ssl_session_timeout 1d;",
            "ssl_session_cache shared:mattermost_ssl:50m;",
            "add_header Strict-Transport-Security \"max-age=15768000\" always;",
        ] {
            assert!(
                server.contains(&directive),
                "TLS server lacks {directive}: {server:#?}"
            );
        }
        for absent in ["ssl_stapling", "ssl_early_data", "proxy_cache"] {
            assert!(
                !server.iter().any(|d| d.starts_with(absent)),
                "TLS server sets {absent}: {server:#?}"
            );
        }
    }

    #[test]
    fn the_rhel_layout_leaves_port_80_default_to_nginx_conf() {
        let site = render(&NginxOptions {
            default_server: false,
            ..plain()
        });
        assert!(
            site.contains("listen 80;\n") && site.contains("listen [::]:80;\n"),
            "{site}"
        );
        assert!(!site.contains("default_server"), "{site}");
    }

    #[test]
    fn no_cache_path_anywhere() {
        for o in [plain(), with_tls(Http2Syntax::Directive)] {
            let site = render(&o);
            assert!(!site.contains("proxy_cache"), "{site}");
            assert!(!site.contains("\n\n\n"), "no runs of blank lines:\n{site}");
            assert!(site.ends_with("}\n"), "{site:?}");
        }
    }

    #[test]
    fn the_site_urls_host_is_the_server_name() {
        for (url, server_name) in [
            (
                "https://Chat.Example.com:8443/",
                "server_name chat.example.com;",
            ),
            ("http://[::1]:8080", "server_name [::1];"),
            ("http://192.0.2.7", "server_name 192.0.2.7;"),
        ] {
            let site = render(&NginxOptions {
                site_url: Some(SiteUrl::parse(url).unwrap()),
                ..plain()
            });
            assert!(site.contains(server_name), "{url}:\n{site}");
        }
    }

    #[test]
    fn unsafe_values_are_refused() {
        let t = Templates::new(None);
        let o = NginxOptions {
            upstream: "127.0.0.1:8065}".into(),
            ..plain()
        };
        assert!(render_nginx_site(&t, &o).is_err());
        let mut o = with_tls(Http2Syntax::Directive);
        o.tls = Some(TlsFiles {
            certificate: "cert.pem".into(),
            key: "/etc/key.pem".into(),
        });
        let err = render_nginx_site(&t, &o).unwrap_err();
        assert!(err.to_string().contains("not an absolute path"), "{err}");
    }

    #[test]
    fn http2_syntax_follows_the_nginx_version() {
        for (output, expected) in [
            ("nginx version: nginx/1.22.1\n", Http2Syntax::ListenFlag),
            (
                "nginx version: nginx/1.18.0 (Ubuntu)\n",
                Http2Syntax::ListenFlag,
            ),
            ("nginx version: nginx/1.25.0", Http2Syntax::ListenFlag),
            ("nginx version: nginx/1.25.1", Http2Syntax::Directive),
            (
                "nginx version: nginx/1.26.3 (Ubuntu)",
                Http2Syntax::Directive,
            ),
            ("nginx version: nginx/1.9.15", Http2Syntax::ListenFlag),
            ("nginx version: nginx/2.0", Http2Syntax::Directive),
            ("nginx version: openresty/1.21.4.1", Http2Syntax::ListenFlag),
            ("nginx version: openresty/1.25.3.2", Http2Syntax::Directive),
            ("nginx version: freenginx/1.27.4", Http2Syntax::Directive),
        ] {
            assert_eq!(http2_syntax(output).unwrap(), expected, "{output}");
        }
        for output in [
            "",
            "bash: nginx: command not found",
            "nginx version: nginx/",
            "nginx/x.y",
        ] {
            let err = http2_syntax(output).unwrap_err();
            assert!(
                matches!(err, RenderError::NginxVersion { .. }),
                "{output}: {err}"
            );
        }
    }
}
