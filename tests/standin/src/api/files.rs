//! `/api/v4/files`: uploads (multipart, or the raw body with `?channel_id=&filename=`) kept in
//! memory, and downloads; after `api4/file.go` and `app/file.go`.

use serde_json::json;

use super::{ApiError, Caller, reply, require_session};
use crate::clock;
use crate::http::Response;
use crate::ids::new_id;
use crate::image;
use crate::multipart;
use crate::router::{Call, Reply, Route};
use crate::server::App;
use crate::store::{Store, StoredFile, is_valid_id};

pub fn routes() -> Vec<Route> {
    vec![
        Route::new("POST", "/api/v4/files", upload),
        Route::new("GET", "/api/v4/files/{file_id}", download),
        Route::new("GET", "/api/v4/files/{file_id}/info", info),
    ]
}

fn read_error(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        400,
        "api.file.upload_file.read_request.app_error",
        "Unable to upload file(s). Error reading or parsing request data.",
    )
    .detail(detail)
}

/// `upload_file` on the channel: its members and system admins. A system admin naming a
/// channel that does not exist gets 400 `api.file.upload_file.incorrect_channelId.app_error`.
fn check_upload_permission(
    store: &Store,
    caller: &Caller,
    channel_id: &str,
) -> Result<(), ApiError> {
    let exists = store.channel(channel_id).is_some();
    if caller.is_admin && !exists {
        return Err(ApiError::new(
            400,
            "api.file.upload_file.incorrect_channelId.app_error",
            format!("Unable to upload the file. Incorrect channel ID: {channel_id}"),
        ));
    }
    let allowed =
        caller.is_admin || (exists && store.is_channel_member(channel_id, &caller.user_id));
    if !allowed {
        return Err(ApiError::permission(caller, "upload_file"));
    }
    Ok(())
}

/// The upload's name and bytes, the channel and the client ids, from either request form.
struct Upload {
    channel_id: String,
    files: Vec<(String, Vec<u8>)>,
    client_ids: Vec<String>,
}

fn parse_multipart(
    store: &Store,
    caller: &Caller,
    call: &Call,
    content_type: &str,
) -> Result<Upload, ApiError> {
    let boundary = multipart::boundary(content_type).map_err(read_error)?;
    let parts = multipart::parse(&call.req.body, &boundary).map_err(read_error)?;
    let mut channel_id = call.req.query("channel_id").unwrap_or("").to_string();
    let mut files = Vec::new();
    let mut client_ids = Vec::new();
    for part in parts {
        if part.name.is_empty() {
            continue;
        }
        let Some(filename) = part.filename else {
            let value = String::from_utf8(part.data).map_err(|_| read_error("not UTF-8"))?;
            match part.name.as_str() {
                "channel_id" => {
                    if !channel_id.is_empty() && channel_id != value {
                        return Err(ApiError::new(
                            400,
                            "api.file.upload_file.multiple_channel_ids.app_error",
                            "Unable to upload the file(s). Multiple conflicting channel_ids.",
                        ));
                    }
                    if !value.is_empty() {
                        channel_id = value;
                    }
                    if !is_valid_id(&channel_id) {
                        return Err(ApiError::invalid_body_param("channel_id"));
                    }
                    check_upload_permission(store, caller, &channel_id)?;
                }
                "client_ids" => {
                    if !value.is_empty() {
                        client_ids.push(value);
                    }
                }
                other => return Err(ApiError::invalid_body_param(other)),
            }
            continue;
        };
        files.push((filename, part.data));
    }
    if !is_valid_id(&channel_id) {
        return Err(ApiError::invalid_body_param("channel_id"));
    }
    check_upload_permission(store, caller, &channel_id)?;
    if files.is_empty() {
        return Err(ApiError::invalid_body_param("files"));
    }
    if !client_ids.is_empty() && client_ids.len() != files.len() {
        return Err(ApiError::new(
            400,
            "api.file.upload_file.incorrect_number_of_client_ids.app_error",
            format!(
                "Unable to upload files. Have {} client_ids for {} files.",
                client_ids.len(),
                files.len()
            ),
        ));
    }
    Ok(Upload {
        channel_id,
        files,
        client_ids,
    })
}

fn parse_simple(store: &Store, caller: &Caller, call: &Call) -> Result<Upload, ApiError> {
    let channel_id = call
        .req
        .query("channel_id")
        .filter(|id| is_valid_id(id))
        .ok_or_else(|| ApiError::invalid_url_param("channel_id"))?;
    let filename = call
        .req
        .query("filename")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| ApiError::invalid_url_param("filename"))?;
    check_upload_permission(store, caller, channel_id)?;
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    Ok(Upload {
        channel_id: channel_id.to_string(),
        files: vec![(base.to_string(), call.req.body.clone())],
        client_ids: call
            .req
            .query("client_id")
            .filter(|c| !c.is_empty())
            .map(|c| vec![c.to_string()])
            .unwrap_or_default(),
    })
}

/// `POST /api/v4/files`: 201 `{"file_infos":[FileInfo…],"client_ids":[…]}`.
///
/// Either `multipart/form-data` with a `channel_id` field, one or more file parts (`files`) and
/// optional `client_ids` fields (as many as files), or the raw file as the body with
/// `?channel_id=&filename=` (and optional `client_id`). Each file may be at most
/// `FileSettings.MaxFileSize` bytes (else 413). The MIME type follows the extension, and PNG,
/// GIF and JPEG images get `width`, `height` and `has_preview_image`.
fn upload(app: &App, call: &Call) -> Reply {
    reply(call, upload_inner(app, call))
}

fn upload_inner(app: &App, call: &Call) -> Result<Response, ApiError> {
    let caller = require_session(app, call)?;
    if !app.settings.enable_file_attachments {
        return Err(ApiError::new(
            403,
            "api.file.attachments.disabled.app_error",
            "File attachments have been disabled on this server.",
        ));
    }
    if call.req.body.is_empty() {
        return Err(read_error("Content-Length should not be 0"));
    }
    let content_type = call.req.header("Content-Type").unwrap_or("");
    let (media, _) = multipart::parse_header_params(content_type);
    let mut store = app.store();
    let upload = if media == "multipart/form-data" {
        parse_multipart(&store, &caller, call, content_type)?
    } else {
        parse_simple(&store, &caller, call)?
    };
    let limit = app.settings.max_file_size;
    let now = clock::now_millis();
    let mut infos = Vec::new();
    for (name, data) in upload.files {
        let length = i64::try_from(data.len()).unwrap_or(i64::MAX);
        if length > limit {
            return Err(ApiError::new(
                413,
                "api.file.upload_file.too_large_detailed.app_error",
                format!(
                    "Unable to upload file {name}. {length} bytes exceeds the maximum allowed {limit} bytes."
                ),
            ));
        }
        let extension = name
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_lowercase())
            .unwrap_or_default();
        let mime_type = image::mime_type(&extension).to_string();
        let (width, height) = image::dimensions(&mime_type, &data).unwrap_or((0, 0));
        let file = StoredFile {
            id: new_id(),
            user_id: caller.user_id.clone(),
            post_id: String::new(),
            channel_id: upload.channel_id.clone(),
            create_at: now,
            update_at: now,
            name,
            extension,
            mime_type,
            width,
            height,
            has_preview_image: width > 0,
            data,
        };
        infos.push(file.json());
        store.files.push(file);
    }
    Ok(Response::json(
        201,
        &json!({"file_infos": infos, "client_ids": upload.client_ids}),
    ))
}

/// The file if the caller may read it: its uploader, members of the channel of the post it is
/// attached to, and system admins.
fn readable_file(store: &Store, caller: &Caller, call: &Call) -> Result<StoredFile, ApiError> {
    let id = call
        .param("file_id")
        .filter(|id| is_valid_id(id))
        .ok_or_else(|| ApiError::invalid_url_param("file_id"))?;
    let file = store.file(id).ok_or_else(|| {
        ApiError::new(
            404,
            "app.file_info.get.app_error",
            "Unable to get the file info.",
        )
    })?;
    let allowed = caller.is_admin
        || file.user_id == caller.user_id
        || (!file.post_id.is_empty() && store.is_channel_member(&file.channel_id, &caller.user_id));
    if !allowed {
        return Err(ApiError::permission(caller, "read_channel_content"));
    }
    Ok(file.clone())
}

/// `GET /api/v4/files/{file_id}`: the bytes, inline for images, else as an attachment.
fn download(app: &App, call: &Call) -> Reply {
    let result = require_session(app, call).and_then(|caller| {
        let file = readable_file(&app.store(), &caller, call)?;
        let inline = matches!(
            file.mime_type.as_str(),
            "image/png" | "image/jpeg" | "image/gif"
        );
        let content_type = if file.mime_type.is_empty() {
            "application/octet-stream"
        } else {
            file.mime_type.as_str()
        };
        let disposition = format!(
            "{}; filename=\"{}\"",
            if inline { "inline" } else { "attachment" },
            file.name.replace(['"', '\\'], "_")
        );
        Ok(Response::new(200)
            .with_header("Content-Type", content_type)
            .with_header("Content-Disposition", disposition)
            .with_header("X-Content-Type-Options", "nosniff")
            .with_header("Cache-Control", "private, no-cache")
            .with_body(file.data))
    });
    reply(call, result)
}

/// `GET /api/v4/files/{file_id}/info`: 200 FileInfo.
fn info(app: &App, call: &Call) -> Reply {
    let result = require_session(app, call).and_then(|caller| {
        let file = readable_file(&app.store(), &caller, call)?;
        Ok(Response::json(200, &file.json()))
    });
    reply(call, result)
}
