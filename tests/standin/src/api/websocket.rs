//! `GET /api/v4/websocket`: the upgrade check (400 `api.web_socket.connect.upgrade.app_error`
//! without websocket headers), authentication, and the messages clients send.
//!
//! As on the real server (`api4/websocket.go`, `platform/websocket_router.go`, `web_hub.go`):
//! - an upgrade request with a valid token (header or cookie) is authenticated at once and gets
//!   `hello` (seq 0) straight away;
//! - any other connection gets nothing until it sends
//!   `{"seq":1,"action":"authentication_challenge","data":{"token":"…"}}`; a valid token is
//!   answered with `hello` and then `{"status":"OK","seq_reply":1}` (the hub queues the hello
//!   while registering the connection, before the router sends the reply); a missing or invalid
//!   token makes the server drop the connection without a reply;
//! - unauthenticated connections receive no events and no replies;
//! - an authenticated connection's `user_typing`, `get_statuses` and `get_statuses_by_ids` are
//!   acknowledged, other actions get a `FAIL` reply, and a second challenge is ignored.

use std::io;

use serde_json::{Map, Value, json};

use crate::clock;
use crate::router::{Call, Reply, Route};
use crate::server::App;
use crate::websocket::{self, Peer, handshake_key};

pub fn routes() -> Vec<Route> {
    vec![Route::new("GET", "/api/v4/websocket", connect)]
}

fn connect(app: &App, call: &Call) -> Reply {
    match handshake_key(call.req) {
        Ok(key) => Reply::WebSocket {
            key,
            user_id: super::authenticate(app, call.req)
                .ok()
                .flatten()
                .map(|c| c.user_id),
        },
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

/// Says hello to a connection that just authenticated as `user_id`, then lets events reach it.
pub fn authenticated(app: &App, peer: &Peer, user_id: &str) -> io::Result<()> {
    let hello = websocket::event(
        "hello",
        json!({
            "connection_id": peer.connection_id,
            "server_hostname": app.hostname,
            "server_version": app.version_id,
        }),
        json!({"omit_users": null, "user_id": user_id, "channel_id": "", "team_id": ""}),
    );
    peer.send_event(hello)?;
    peer.set_user(user_id);
    Ok(())
}

/// `{"status":"FAIL","seq_reply":seq,"error":{…}}`.
fn failure(seq: i64, status: u16, id: &str, message: &str) -> String {
    json!({
        "status": "FAIL",
        "seq_reply": seq,
        "error": {"id": id, "message": message, "detailed_error": "", "status_code": status},
    })
    .to_string()
}

/// A text message from a client.
pub fn on_message(app: &App, peer: &Peer, text: &str) {
    let Ok(msg) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let seq = msg["seq"].as_i64().unwrap_or(0);
    let action = msg["action"].as_str().unwrap_or("");
    let user = peer.user();
    // Errors for unauthenticated connections are dropped by the hub, which does not know them.
    let reply = |text: String| {
        if peer.user().is_some() {
            let _ = peer.send_text(&text);
        }
    };
    if action.is_empty() {
        return reply(failure(
            seq,
            400,
            "api.web_socket_router.no_action.app_error",
            "No websocket action.",
        ));
    }
    if seq <= 0 {
        return reply(failure(
            seq,
            400,
            "api.web_socket_router.bad_seq.app_error",
            "Invalid sequence for WebSocket message.",
        ));
    }
    if action == "authentication_challenge" {
        if user.is_some() {
            return;
        }
        let Some(token) = msg["data"]["token"].as_str() else {
            return peer.drop_connection();
        };
        let user_id = {
            let store = app.store();
            store
                .session(token, clock::now_millis())
                .and_then(|s| store.user(&s.user_id))
                .filter(|u| u.delete_at == 0)
                .map(|u| u.id.clone())
        };
        match user_id {
            Some(user_id) => {
                if authenticated(app, peer, &user_id).is_ok() {
                    let _ = peer.send_text(&json!({"status": "OK", "seq_reply": seq}).to_string());
                }
            }
            None => peer.drop_connection(),
        }
        return;
    }
    if user.is_none() {
        return;
    }
    match action {
        "user_typing" => reply(json!({"status": "OK", "seq_reply": seq}).to_string()),
        "get_statuses" | "get_statuses_by_ids" => {
            let online: Map<String, Value> = app
                .hub
                .users()
                .into_iter()
                .map(|u| (u, json!("online")))
                .collect();
            reply(json!({"status": "OK", "seq_reply": seq, "data": online}).to_string())
        }
        _ => reply(failure(
            seq,
            500,
            "api.web_socket_router.bad_action.app_error",
            "Unknown WebSocket action.",
        )),
    }
}
