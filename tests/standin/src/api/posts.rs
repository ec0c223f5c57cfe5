//! `POST /api/v4/posts`: create a post or a reply, attach uploaded files, and publish `posted`
//! to the channel's members; after `api4/post.go` and `app/post.go`.

use serde_json::{Map, Value, json};

use super::{ApiError, json_object, reply, require_session, string_field};
use crate::clock;
use crate::http::Response;
use crate::ids::new_id;
use crate::router::{Call, Reply, Route};
use crate::server::App;
use crate::store::{POST_FILE_IDS_MAX_RUNES, POST_MESSAGE_MAX_RUNES, Post};

pub fn routes() -> Vec<Route> {
    vec![Route::new("POST", "/api/v4/posts", create_post)]
}

/// `POST /api/v4/posts` `{"channel_id","message","root_id"?,"file_ids"?,"props"?,
/// "pending_post_id"?}`: 201 Post.
///
/// - The caller must be a member of the channel (or a system admin), else 403.
/// - `root_id` must name a root post (not a reply) of the same channel, else 400
///   `api.post.create_post.root_id.app_error` (or `…channel_root_id…` for another channel's).
/// - File ids the caller did not upload, or that another post has, are dropped silently, as
///   the real server does; the JSON array of ids may not exceed 300 characters (10 ids).
/// - `?set_online=false` is echoed as the event's `set_online`.
/// - With `refuse_posts` in `standin.json`, every post is refused (403), as when a role lacks
///   `create_post`.
fn create_post(app: &App, call: &Call) -> Reply {
    reply(call, create_post_inner(app, call))
}

fn create_post_inner(app: &App, call: &Call) -> Result<Response, ApiError> {
    let caller = require_session(app, call)?;
    if app.refuse_posts {
        return Err(ApiError::permission(&caller, "create_post"));
    }
    let body = json_object(call.req, "post")?;
    let channel_id = string_field(&body, "channel_id", "post")?;
    let message = string_field(&body, "message", "post")?;
    let root_id = string_field(&body, "root_id", "post")?;
    let kind = string_field(&body, "type", "post")?;
    let pending_post_id = string_field(&body, "pending_post_id", "post")?;
    let file_ids: Vec<String> = match body.get("file_ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| id.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| ApiError::invalid_body_param("post"))?,
        Some(_) => return Err(ApiError::invalid_body_param("post")),
    };
    let props: Map<String, Value> = match body.get("props") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => return Err(ApiError::invalid_body_param("post")),
    };
    let set_online = call
        .req
        .query("set_online")
        .is_none_or(|v| v != "false" && v != "0" && v != "f" && v != "F" && v != "FALSE");
    if kind.starts_with("system_") {
        return Err(ApiError::invalid_body_param("post.type"));
    }

    let mut store = app.store();
    let channel = store.channel(&channel_id).cloned();
    let member = store.is_channel_member(&channel_id, &caller.user_id);
    let allowed = caller.is_admin || (channel.is_some() && member);
    if !allowed {
        return Err(ApiError::permission(&caller, "create_post"));
    }
    let Some(channel) = channel else {
        return Err(ApiError::invalid_param("post.channel_id"));
    };
    if channel.delete_at != 0 {
        return Err(ApiError::new(
            400,
            "api.post.create_post.can_not_post_to_deleted.error",
            "Can not post to deleted channel.",
        ));
    }
    if !root_id.is_empty() {
        let bad_root = || {
            ApiError::new(
                400,
                "api.post.create_post.root_id.app_error",
                "Invalid RootId parameter.",
            )
        };
        let root = store.post(&root_id).ok_or_else(bad_root)?;
        if root.channel_id != channel.id {
            return Err(ApiError::new(
                400,
                "api.post.create_post.channel_root_id.app_error",
                "Invalid ChannelId for RootId parameter.",
            ));
        }
        if !root.root_id.is_empty() {
            return Err(bad_root());
        }
    }
    let post_id = new_id();
    if message.chars().count() > POST_MESSAGE_MAX_RUNES {
        return Err(ApiError::new(
            400,
            "model.post.is_valid.message_length.app_error",
            format!(
                "Post Message property is longer than the maximum permitted length of {POST_MESSAGE_MAX_RUNES} characters."
            ),
        )
        .detail(format!("id={post_id}")));
    }
    if !kind.is_empty() && !kind.starts_with("custom_") && kind != "me" && kind != "reminder" {
        return Err(
            ApiError::new(400, "model.post.is_valid.type.app_error", "Invalid type.")
                .detail(format!("id={kind}")),
        );
    }
    if json!(file_ids).to_string().chars().count() > POST_FILE_IDS_MAX_RUNES {
        return Err(ApiError::new(
            400,
            "model.post.is_valid.file_ids.app_error",
            "Invalid file ids.",
        )
        .detail(format!("id={post_id}")));
    }
    let now = clock::now_millis();
    let post = Post {
        id: post_id,
        create_at: now,
        update_at: now,
        user_id: caller.user_id.clone(),
        channel_id: channel.id.clone(),
        root_id,
        message,
        kind,
        props,
        file_ids,
        pending_post_id,
    };
    let (json, posted) = store.save_post(post, set_online);
    drop(store);
    // Like the real server, the event may reach the websocket before this response.
    app.publish(vec![posted]);
    Ok(Response::json(201, &json))
}
