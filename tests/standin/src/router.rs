//! Route table: `(method, pattern, handler)` triples, where a pattern segment `{name}` matches one
//! path segment and is handed to the handler as a parameter. API modules contribute their own
//! routes (see `api::routes`), so new endpoints never touch the server loop.

use crate::http::{Request, Response};
use crate::server::App;

/// What a handler produces.
pub enum Reply {
    /// An ordinary response.
    Response(Response),
    /// Switch the connection to the websocket protocol; carries the client's `Sec-WebSocket-Key`
    /// and the user the upgrade request authenticated (if it carried a valid token).
    WebSocket {
        key: String,
        user_id: Option<String>,
    },
}

impl From<Response> for Reply {
    fn from(r: Response) -> Self {
        Reply::Response(r)
    }
}

/// Everything a handler gets about one request.
pub struct Call<'a> {
    pub req: &'a Request,
    /// Values of the pattern's `{name}` segments.
    pub params: Vec<(&'static str, String)>,
    /// The `X-Request-Id` of this request (also used in error bodies).
    pub request_id: &'a str,
}

impl Call<'_> {
    /// The value of pattern parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request handler.
pub type Handler = fn(&App, &Call) -> Reply;

/// One route.
pub struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    pub handler: Handler,
}

impl Route {
    /// Shorthand constructor.
    pub const fn new(method: &'static str, pattern: &'static str, handler: Handler) -> Route {
        Route {
            method,
            pattern,
            handler,
        }
    }

    /// The parameters if `path` matches the pattern.
    fn matches(&self, path: &str) -> Option<Vec<(&'static str, String)>> {
        let mut params = Vec::new();
        let mut want = self.pattern.split('/');
        let mut got = path.split('/');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return Some(params),
                (Some(w), Some(g)) => {
                    if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                        if g.is_empty() {
                            return None;
                        }
                        params.push((name, g.to_string()));
                    } else if w != g {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }
}

/// The outcome of looking a request up.
pub enum Found<'r> {
    Route(&'r Route, Vec<(&'static str, String)>),
    /// The path exists but not for this method.
    MethodNotAllowed,
    NotFound,
}

/// A list of routes, searched in order.
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    pub fn new(routes: Vec<Route>) -> Router {
        Router { routes }
    }

    /// Finds the route for `method` (`HEAD` is served by `GET` routes) and `path`.
    pub fn find(&self, method: &str, path: &str) -> Found<'_> {
        let method = if method == "HEAD" { "GET" } else { method };
        let mut path_known = false;
        for route in &self.routes {
            if let Some(params) = route.matches(path) {
                if route.method == method {
                    return Found::Route(route, params);
                }
                path_known = true;
            }
        }
        if path_known {
            Found::MethodNotAllowed
        } else {
            Found::NotFound
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing(_: &App, _: &Call) -> Reply {
        Reply::Response(Response::new(204))
    }

    #[test]
    fn matches_patterns_and_methods() {
        let router = Router::new(vec![
            Route::new("GET", "/api/v4/system/ping", nothing),
            Route::new(
                "GET",
                "/api/v4/teams/{team_id}/channels/name/{channel_name}",
                nothing,
            ),
        ]);
        assert!(matches!(
            router.find("HEAD", "/api/v4/system/ping"),
            Found::Route(..)
        ));
        match router.find("GET", "/api/v4/teams/t1/channels/name/town-square") {
            Found::Route(_, params) => assert_eq!(
                params,
                vec![
                    ("team_id", "t1".to_string()),
                    ("channel_name", "town-square".to_string())
                ]
            ),
            _ => panic!("no match"),
        }
        assert!(matches!(
            router.find("POST", "/api/v4/system/ping"),
            Found::MethodNotAllowed
        ));
        assert!(matches!(
            router.find("GET", "/api/v4/teams//channels/name/x"),
            Found::NotFound
        ));
        assert!(matches!(
            router.find("GET", "/api/v4/system/ping/extra"),
            Found::NotFound
        ));
    }
}
