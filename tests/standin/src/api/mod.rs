//! The REST API v4 and the websocket endpoint, one module per area. To add endpoints create a
//! module with a `routes()` function and list it in [`routes`].
//!
//! Shared here: Mattermost's `AppError` body ([`ApiError`]), and authentication as the real
//! server's handler does it ([`authenticate`]): the token comes from `Authorization: Bearer …`
//! (or `Token …`), else from the `MMAUTHTOKEN` cookie, where a cookie-authenticated request
//! other than `GET` must also carry `X-CSRF-Token` or `X-Requested-With: XMLHttpRequest`.

pub mod files;
pub mod posts;
pub mod system;
pub mod teams;
pub mod users;
pub mod websocket;

use serde_json::json;

use crate::clock;
use crate::http::{Request, Response};
use crate::router::{Call, Reply, Route};
use crate::server::App;

/// Every API route.
pub fn routes() -> Vec<Route> {
    let mut routes = Vec::new();
    routes.extend(system::routes());
    routes.extend(websocket::routes());
    routes.extend(users::routes());
    routes.extend(teams::routes());
    routes.extend(posts::routes());
    routes.extend(files::routes());
    routes
}

/// An error body in the shape of Mattermost's `model.AppError`.
pub fn app_error(
    status: u16,
    id: &str,
    message: &str,
    detailed: &str,
    request_id: &str,
) -> Response {
    Response::json(
        status,
        &json!({
            "id": id,
            "message": message,
            "detailed_error": detailed,
            "request_id": request_id,
            "status_code": status,
        }),
    )
}

/// The 404 of an unknown API path.
pub fn not_found(path: &str, request_id: &str) -> Response {
    app_error(
        404,
        "api.context.404.app_error",
        "Sorry, we could not find the page.",
        &format!(
            "There doesn't appear to be an api call for the url='{path}'.  Typo? are you missing a team_id or user_id as part of the url?"
        ),
        request_id,
    )
}

/// A failed request: status, i18n id and English message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub id: String,
    pub message: String,
    pub detailed: String,
}

impl ApiError {
    pub fn new(status: u16, id: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            id: id.into(),
            message: message.into(),
            detailed: String::new(),
        }
    }

    /// Adds the `detailed_error`.
    pub fn detail(mut self, detailed: impl Into<String>) -> ApiError {
        self.detailed = detailed.into();
        self
    }

    /// The response carrying this error.
    pub fn response(&self, request_id: &str) -> Response {
        app_error(
            self.status,
            &self.id,
            &self.message,
            &self.detailed,
            request_id,
        )
    }

    /// 401 `api.context.session_expired.app_error`.
    pub fn session_expired(detailed: &str) -> ApiError {
        ApiError::new(
            401,
            "api.context.session_expired.app_error",
            "Invalid or expired session, please login again.",
        )
        .detail(detailed)
    }

    /// 403 `api.context.permissions.app_error` for lacking `permission`.
    pub fn permission(caller: &Caller, permission: &str) -> ApiError {
        ApiError::new(
            403,
            "api.context.permissions.app_error",
            "You do not have the appropriate permissions.",
        )
        .detail(format!(
            "userId={}, permission={permission}",
            caller.user_id
        ))
    }

    /// 400 `api.context.invalid_body_param.app_error`.
    pub fn invalid_body_param(name: &str) -> ApiError {
        ApiError::new(
            400,
            "api.context.invalid_body_param.app_error",
            format!("Invalid or missing {name} in request body."),
        )
    }

    /// 400 `api.context.invalid_url_param.app_error`.
    pub fn invalid_url_param(name: &str) -> ApiError {
        ApiError::new(
            400,
            "api.context.invalid_url_param.app_error",
            format!("Invalid or missing {name} parameter in request URL."),
        )
    }

    /// 400 `api.context.invalid_param.app_error`.
    pub fn invalid_param(name: &str) -> ApiError {
        ApiError::new(
            400,
            "api.context.invalid_param.app_error",
            format!("Invalid {name} parameter."),
        )
    }
}

/// Turns a handler result into the reply.
pub fn reply(call: &Call, result: Result<Response, ApiError>) -> Reply {
    match result {
        Ok(resp) => resp.into(),
        Err(e) => e.response(call.request_id).into(),
    }
}

/// `{"status":"OK"}`, the body of Mattermost's `ReturnStatusOK`.
pub fn status_ok() -> Response {
    Response::json(200, &json!({"status": "OK"}))
}

/// The authenticated user of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub token: String,
    pub is_admin: bool,
}

/// Where a request's token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenLocation {
    Header,
    Cookie,
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The token a request carries (`ParseAuthTokenFromRequest`): `Authorization: Bearer <t>` or
/// `Token <t>` (either case), else the `MMAUTHTOKEN` cookie.
pub fn request_token(req: &Request) -> Option<(String, TokenLocation)> {
    if let Some(auth) = req.header("Authorization") {
        let auth = auth.trim();
        for scheme in ["bearer ", "token "] {
            if auth.len() > scheme.len() && auth[..scheme.len()].eq_ignore_ascii_case(scheme) {
                return Some((
                    auth[scheme.len()..].trim().to_string(),
                    TokenLocation::Header,
                ));
            }
        }
    }
    cookie(req, "MMAUTHTOKEN")
        .filter(|t| !t.is_empty())
        .map(|t| (t.to_string(), TokenLocation::Cookie))
}

/// The caller of `req`: `Ok(None)` without a token, `Err` (401 `session_expired`) for an
/// unknown or expired token, a deactivated user, or a cookie-authenticated write that fails the
/// CSRF check.
pub fn authenticate(app: &App, req: &Request) -> Result<Option<Caller>, ApiError> {
    let Some((token, location)) = request_token(req) else {
        return Ok(None);
    };
    let store = app.store();
    let invalid = || ApiError::session_expired("");
    let session = store
        .session(&token, clock::now_millis())
        .ok_or_else(invalid)?;
    let user = store
        .user(&session.user_id)
        .filter(|u| u.delete_at == 0)
        .ok_or_else(invalid)?;
    if location == TokenLocation::Cookie && req.method != "GET" && req.method != "HEAD" {
        let csrf_ok = req.header("X-CSRF-Token") == Some(session.csrf.as_str())
            || req.header("X-Requested-With") == Some("XMLHttpRequest");
        if !csrf_ok {
            return Err(ApiError::session_expired("Appears to be a CSRF attempt"));
        }
    }
    Ok(Some(Caller {
        user_id: user.id.clone(),
        token,
        is_admin: user.is_system_admin(),
    }))
}

/// The caller of an endpoint that needs a session (`APISessionRequired`).
pub fn require_session(app: &App, call: &Call) -> Result<Caller, ApiError> {
    authenticate(app, call.req)?.ok_or_else(|| ApiError::session_expired("UserRequired"))
}

/// The caller of an endpoint where a session is optional (`APIHandler`): a bad token counts as
/// none.
pub fn optional_session(app: &App, call: &Call) -> Option<Caller> {
    authenticate(app, call.req).ok().flatten()
}

/// Go's `strconv.ParseBool` acceptance of true.
pub fn parse_bool(value: Option<&str>) -> bool {
    matches!(value, Some("1" | "t" | "T" | "true" | "TRUE" | "True"))
}

/// The request body as a JSON object, or 400 `invalid_body_param` for `what`.
pub fn json_object(
    req: &Request,
    what: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    match req.json() {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        _ => Err(ApiError::invalid_body_param(what)),
    }
}

/// A string member of a JSON object (`""` when missing); other types are a 400.
pub fn string_field(
    obj: &serde_json::Map<String, serde_json::Value>,
    key: &str,
    what: &str,
) -> Result<String, ApiError> {
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => Ok(String::new()),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::invalid_body_param(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: method.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Request::default()
        }
    }

    #[test]
    fn tokens_from_headers_and_cookies() {
        let r = request("GET", &[("Authorization", "Bearer abc")]);
        assert_eq!(
            request_token(&r),
            Some(("abc".into(), TokenLocation::Header))
        );
        let r = request("GET", &[("authorization", "TOKEN xyz")]);
        assert_eq!(
            request_token(&r),
            Some(("xyz".into(), TokenLocation::Header))
        );
        let r = request(
            "GET",
            &[("Cookie", "MMUSERID=u; MMAUTHTOKEN=tok; MMCSRF=c")],
        );
        assert_eq!(
            request_token(&r),
            Some(("tok".into(), TokenLocation::Cookie))
        );
        assert_eq!(cookie(&r, "MMCSRF"), Some("c"));
        assert_eq!(
            request_token(&request("GET", &[("Authorization", "Basic x")])),
            None
        );
        assert_eq!(request_token(&request("GET", &[])), None);
    }

    #[test]
    fn go_bools() {
        assert!(parse_bool(Some("true")) && parse_bool(Some("1")) && parse_bool(Some("T")));
        assert!(!parse_bool(Some("yes")) && !parse_bool(Some("")) && !parse_bool(None));
    }
}
