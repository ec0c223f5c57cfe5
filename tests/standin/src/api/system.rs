//! `/api/v4/system/*`: the health check `ping`, with the optional deep check of the database
//! and the file store (`?get_server_status=true`).

use serde_json::json;

use crate::http::Response;
use crate::router::{Call, Reply, Route};
use crate::server::App;

/// The status strings the real server uses.
const OK: &str = "OK";
const UNHEALTHY: &str = "UNHEALTHY";

pub fn routes() -> Vec<Route> {
    vec![Route::new("GET", "/api/v4/system/ping", ping)]
}

/// `GET /api/v4/system/ping`: 200 `{"status":"OK",…}`; with `get_server_status=true` also
/// `database_status` and `filestore_status`, and 500 when either is unhealthy (unless
/// `use_rest_semantics=true`).
fn ping(app: &App, call: &Call) -> Reply {
    let mut body = json!({"status": OK, "ActiveSearchBackend": "database"});
    if call.req.query("get_server_status") == Some("true") {
        let db = if app.database_healthy() {
            OK
        } else {
            UNHEALTHY
        };
        let files = if app.filestore_healthy() {
            OK
        } else {
            UNHEALTHY
        };
        body["database_status"] = json!(db);
        body["filestore_status"] = json!(files);
        if db != OK || files != OK {
            body["status"] = json!(UNHEALTHY);
        }
    }
    let healthy = body["status"] == OK;
    let status = if healthy || call.req.query("use_rest_semantics") == Some("true") {
        200
    } else {
        500
    };
    Response::json(status, &body).into()
}
