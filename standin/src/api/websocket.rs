//! `GET /api/v4/websocket`: the upgrade check (400 `api.web_socket.connect.upgrade.app_error`
//! without websocket headers) and the handling of messages clients send over the connection.

use serde_json::{Value, json};

use crate::router::{Call, Reply, Route};
use crate::server::App;
use crate::websocket::{Peer, handshake_key};

pub fn routes() -> Vec<Route> {
    vec![Route::new("GET", "/api/v4/websocket", connect)]
}

fn connect(_app: &App, call: &Call) -> Reply {
    match handshake_key(call.req) {
        Ok(key) => Reply::WebSocket { key },
        Err(why) => super::app_error(
            400,
            "api.web_socket.connect.upgrade.app_error",
            "Failed to upgrade websocket connection.",
            &why,
            call.request_id,
        )
        .into(),
    }
}

/// A text message from a client, e.g.
/// `{"seq":1,"action":"authentication_challenge","data":{"token":"…"}}`: every action with a
/// `seq` is acknowledged with `{"status":"OK","seq_reply":seq}`.
pub fn on_message(_app: &App, peer: &Peer, text: &str) {
    let Ok(msg) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let (Some(seq), Some(_action)) = (msg["seq"].as_i64(), msg["action"].as_str()) else {
        return;
    };
    let _ = peer.send_text(&json!({"status": "OK", "seq_reply": seq}).to_string());
}
