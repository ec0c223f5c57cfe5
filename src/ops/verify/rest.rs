//! The REST side of `mm-install verify`: a small API v4 client ([`Api`], on reqwest) for the
//! site URL ([`SiteUrl`]) that follows no redirects and uses no proxy (the server is tested
//! directly), returning every answer with its status so that failures can name the call, the
//! HTTP status and the start of the body.

use std::io::Read;
use std::sync::Arc;

use reqwest::blocking::{Client, RequestBuilder};
use serde_json::Value;

use super::{CONNECT_TIMEOUT, Failure, REQUEST_TIMEOUT, VerifyError, excerpt};
use crate::fetch::tls::{causes, untrusted_certificate};
use crate::site_url::SiteUrl;

/// A request body.
pub(super) enum Body {
    None,
    Json(Value),
    Multipart { boundary: String, form: Vec<u8> },
}

/// An answer to a REST call.
pub(super) struct Answer {
    /// `POST /api/v4/users`, for messages.
    pub call: String,
    pub status: u16,
    /// The `Token` header (login).
    pub token: Option<String>,
    /// `X-Version-Id`.
    pub version_id: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

impl Answer {
    /// The JSON body if the status is one of `ok`, else a failure with the status, the error id
    /// and an excerpt of the body.
    pub(super) fn expect(&self, ok: &[u16]) -> Result<Value, Failure> {
        let json = serde_json::from_str::<Value>(&self.body).ok();
        if ok.contains(&self.status) {
            return json.ok_or_else(|| {
                Failure::new(format!(
                    "{} answered {} with something that is not JSON: {}",
                    self.call,
                    self.status,
                    excerpt(&self.body)
                ))
            });
        }
        let mut message = format!("{} answered {}", self.call, self.status);
        if let Some(location) = &self.location {
            message.push_str(&format!(
                " (a redirect to {location}: pass that address with --url)"
            ));
        }
        if !self.body.trim().is_empty() {
            message.push_str(&format!(": {}", excerpt(&self.body)));
        }
        Err(Failure {
            message,
            status: Some(self.status),
            error_id: json.and_then(|j| j["id"].as_str().map(str::to_string)),
            not_run: false,
        })
    }
}

/// The REST client: no redirects followed, no proxy (the server is tested directly).
pub(super) struct Api {
    client: Client,
    base: String,
}

impl Api {
    /// The client for `site`, trusting what `tls` trusts.
    pub(super) fn new(site: &SiteUrl, tls: &Arc<rustls::ClientConfig>) -> Result<Api, VerifyError> {
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .tls_backend_preconfigured(rustls::ClientConfig::clone(tls))
            .user_agent(concat!("mm-install/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| VerifyError::Tls(err.to_string()))?;
        Ok(Api {
            client,
            base: site.origin(),
        })
    }

    pub(super) fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
    ) -> Result<Answer, Failure> {
        let url = format!("{}{path}", self.base);
        let call = format!("{method} {path}");
        let request: RequestBuilder = match method {
            "GET" => self.client.get(&url),
            "DELETE" => self.client.delete(&url),
            _ => self.client.post(&url),
        };
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let request = match body {
            Body::None => request,
            Body::Json(json) => request
                .header("Content-Type", "application/json")
                .body(json.to_string()),
            Body::Multipart { boundary, form } => request
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(form),
        };
        let response = request.send().map_err(|err| {
            let advice = if untrusted_certificate(&err).is_some() {
                " (a self-signed certificate? pass --insecure to accept it, or its CA with --ca-cert)"
            } else {
                ""
            };
            let cause = causes(&err).last().map(ToString::to_string).unwrap_or_default();
            Failure::new(format!("{call} failed: {cause}{advice}"))
        })?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let token = header("token");
        let version_id = header("x-version-id");
        let location = header("location");
        let status = response.status().as_u16();
        let mut body = String::new();
        // A body that cannot be read (or is not UTF-8) is reported as empty, as before.
        if response
            .take(1024 * 1024)
            .read_to_string(&mut body)
            .is_err()
        {
            body.clear();
        }
        Ok(Answer {
            call,
            status,
            token,
            version_id,
            location,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_the_call_status_and_body() {
        let answer = Answer {
            call: "POST /api/v4/files".into(),
            status: 413,
            token: None,
            version_id: None,
            location: None,
            body: format!(
                r#"{{"id":"api.file.upload_file.too_large_detailed.app_error","message":"{}"}}"#,
                "x".repeat(200)
            ),
        };
        let failure = answer.expect(&[201]).unwrap_err();
        assert!(
            failure.message.starts_with(
                r#"POST /api/v4/files answered 413: {"id":"api.file.upload_file.too_large"#
            ),
            "{}",
            failure.message
        );
        assert!(failure.message.ends_with('…'));
        assert_eq!(failure.status, Some(413));
        assert_eq!(
            failure.error_id.as_deref(),
            Some("api.file.upload_file.too_large_detailed.app_error")
        );
        let redirect = Answer {
            status: 301,
            location: Some("https://chat.example.com/api/v4/users".into()),
            body: String::new(),
            ..answer
        };
        let failure = redirect.expect(&[201]).unwrap_err();
        assert_eq!(
            failure.message,
            "POST /api/v4/files answered 301 (a redirect to https://chat.example.com/api/v4/users: pass that address with --url)"
        );
    }
}
