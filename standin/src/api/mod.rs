//! The REST API v4 and the websocket endpoint, one module per area. To add endpoints (users,
//! teams, posts, files, …) create a module with a `routes()` function and list it in [`routes`].

pub mod system;
pub mod websocket;

use serde_json::json;

use crate::http::Response;
use crate::router::Route;

/// Every API route.
pub fn routes() -> Vec<Route> {
    let mut routes = Vec::new();
    routes.extend(system::routes());
    routes.extend(websocket::routes());
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
