//! `/api/v4/teams`: create (with `town-square` and `off-topic`), channel by name, add member,
//! delete; after `api4/team.go`, `api4/channel.go`, `app/team.go` and `model/team.go`.

use serde_json::Value;

use super::{ApiError, Caller, json_object, reply, require_session, string_field};
use crate::clock;
use crate::http::Response;
use crate::router::{Call, Reply, Route};
use crate::server::App;
use crate::store::{Channel, NewTeam, OPEN, Requestor, Store, is_valid_id};

/// `model.TeamNameMaxLength` and `TeamDisplayNameMaxRunes`.
const TEAM_NAME_MAX_LENGTH: usize = 64;
/// `model.TeamNameMinLength`.
const TEAM_NAME_MIN_LENGTH: usize = 2;
/// Team names may not start with these (`model.IsReservedTeamName`).
const RESERVED_TEAM_NAMES: [&str; 17] = [
    "admin",
    "api",
    "channel",
    "claim",
    "error",
    "files",
    "help",
    "landing",
    "login",
    "mfa",
    "oauth",
    "plug",
    "plugins",
    "post",
    "signup",
    "boards",
    "playbooks",
];

pub fn routes() -> Vec<Route> {
    vec![
        Route::new("POST", "/api/v4/teams", create_team),
        Route::new(
            "GET",
            "/api/v4/teams/{team_id}/channels/name/{channel_name}",
            channel_by_name,
        ),
        Route::new(
            "GET",
            "/api/v4/teams/name/{team_name}/channels/name/{channel_name}",
            channel_by_team_and_channel_name,
        ),
        Route::new("POST", "/api/v4/teams/{team_id}/members", add_team_member),
        Route::new("DELETE", "/api/v4/teams/{team_id}", delete_team),
    ]
}

/// `model.IsValidTeamName`: `^[a-z0-9]+([a-z\-0-9]+|(__)?)[a-z0-9]+$`, at least 2 long.
pub fn is_valid_team_name(name: &str) -> bool {
    let b = name.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.len() < TEAM_NAME_MIN_LENGTH || !alnum(&b[0]) || !alnum(&b[b.len() - 1]) {
        return false;
    }
    let middle = &b[1..b.len() - 1];
    middle.iter().all(|c| alnum(c) || *c == b'-') || middle == b"__"
}

/// `model.IsReservedTeamName`: the name starts with a reserved word.
pub fn is_reserved_team_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    RESERVED_TEAM_NAMES.iter().any(|r| lower.starts_with(r))
}

/// A channel name as `RequireChannelName` accepts it: 1 to 64 of `a-z 0-9 - _`.
fn is_valid_channel_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

fn team_id_param(call: &Call) -> Result<String, ApiError> {
    call.param("team_id")
        .filter(|id| is_valid_id(id))
        .map(str::to_string)
        .ok_or_else(|| ApiError::invalid_url_param("team_id"))
}

fn team_not_found() -> ApiError {
    ApiError::new(
        404,
        "app.team.get.find.app_error",
        "Unable to find the existing team.",
    )
}

/// Whether the caller holds a team-scoped permission every team member has (`view_team`,
/// `add_user_to_team`, `read_public_channel`): system admins and active members.
fn is_team_user(store: &Store, caller: &Caller, team_id: &str) -> bool {
    caller.is_admin || store.team_member(team_id, &caller.user_id).is_some()
}

/// `manage_team`: system admins and team admins.
fn is_team_admin(store: &Store, caller: &Caller, team_id: &str) -> bool {
    caller.is_admin
        || store
            .team_member(team_id, &caller.user_id)
            .is_some_and(|m| m.scheme_admin)
}

/// `POST /api/v4/teams` `{"name","display_name","type"}`: 201 Team. Also creates `town-square`
/// ("Town Square") and `off-topic` ("Off-Topic") and makes the creator a team admin and a
/// member of both.
fn create_team(app: &App, call: &Call) -> Reply {
    reply(call, create_team_inner(app, call))
}

fn create_team_inner(app: &App, call: &Call) -> Result<Response, ApiError> {
    let caller = require_session(app, call)?;
    let body = json_object(call.req, "team")?;
    let name = string_field(&body, "name", "team")?;
    let display_name = string_field(&body, "display_name", "team")?;
    let kind = string_field(&body, "type", "team")?;
    let description = string_field(&body, "description", "team")?;
    let allow_open_invite = match body.get("allow_open_invite") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid_body_param("team")),
    };
    let invalid = |id: &str, message: &str| ApiError::new(400, id, message);
    let display_runes = display_name.chars().count();
    if display_runes == 0 || display_runes > TEAM_NAME_MAX_LENGTH {
        return Err(invalid(
            "model.team.is_valid.name.app_error",
            "Invalid name.",
        ));
    }
    if name.len() > TEAM_NAME_MAX_LENGTH {
        return Err(invalid(
            "model.team.is_valid.url.app_error",
            "Invalid URL Identifier.",
        ));
    }
    if description.chars().count() > 255 {
        return Err(invalid(
            "model.team.is_valid.description.app_error",
            "Invalid description.",
        ));
    }
    if is_reserved_team_name(&name) {
        return Err(invalid(
            "model.team.is_valid.reserved.app_error",
            "This URL is unavailable. Please try another.",
        ));
    }
    if !is_valid_team_name(&name) {
        return Err(invalid(
            "model.team.is_valid.characters.app_error",
            "Name must be 2 or more lowercase alphanumeric characters.",
        ));
    }
    if kind != "O" && kind != "I" {
        return Err(invalid(
            "model.team.is_valid.type.app_error",
            "Invalid type.",
        ));
    }
    let mut store = app.store();
    if store.team_by_name(&name).is_some() {
        return Err(invalid(
            "app.team.save.existing.app_error",
            "A team with that name already exists.",
        ));
    }
    let new = NewTeam {
        name: &name,
        display_name: &display_name,
        kind: &kind,
        allow_open_invite,
        description: &description,
    };
    let (team, events) = store
        .create_team(&caller.user_id, new, &app.settings, clock::now_millis())
        .map_err(|_| ApiError::session_expired(""))?;
    drop(store);
    app.publish(events);
    Ok(Response::json(201, &team.json()))
}

fn channel_not_found(team_id: &str, name: &str) -> ApiError {
    ApiError::new(
        404,
        "app.channel.get_by_name.missing.app_error",
        "Channel does not exist.",
    )
    .detail(format!("teamId={team_id}, name={name}"))
}

/// The channel if the caller may read it: public channels need team membership (else 403),
/// private ones channel membership (else 404, as if missing).
fn readable_channel(store: &Store, caller: &Caller, channel: &Channel) -> Result<Value, ApiError> {
    if channel.kind == OPEN {
        if !is_team_user(store, caller, &channel.team_id)
            && !store.is_channel_member(&channel.id, &caller.user_id)
        {
            return Err(ApiError::permission(caller, "read_public_channel"));
        }
    } else if !caller.is_admin && !store.is_channel_member(&channel.id, &caller.user_id) {
        return Err(channel_not_found(&channel.team_id, &channel.name));
    }
    Ok(channel.json())
}

fn channel_name_param(call: &Call) -> Result<String, ApiError> {
    call.param("channel_name")
        .filter(|n| is_valid_channel_name(n))
        .map(str::to_string)
        .ok_or_else(|| ApiError::invalid_url_param("channel_name"))
}

/// `GET /api/v4/teams/{team_id}/channels/name/{channel_name}`: 200 Channel, or 404
/// `app.channel.get_by_name.missing.app_error`.
fn channel_by_name(app: &App, call: &Call) -> Reply {
    let result = (|| {
        let caller = require_session(app, call)?;
        let team_id = team_id_param(call)?;
        let name = channel_name_param(call)?;
        let store = app.store();
        let channel = store
            .channel_by_name(&team_id, &name)
            .ok_or_else(|| channel_not_found(&team_id, &name))?;
        readable_channel(&store, &caller, channel).map(|json| Response::json(200, &json))
    })();
    reply(call, result)
}

/// `GET /api/v4/teams/name/{team_name}/channels/name/{channel_name}`: the same by team name;
/// an unknown team is 404 `app.team.get_by_name.missing.app_error`.
fn channel_by_team_and_channel_name(app: &App, call: &Call) -> Reply {
    let result = (|| {
        let caller = require_session(app, call)?;
        let team_name = call
            .param("team_name")
            .filter(|n| !n.is_empty() && n.len() <= TEAM_NAME_MAX_LENGTH)
            .ok_or_else(|| ApiError::invalid_url_param("team_name"))?;
        let name = channel_name_param(call)?;
        let store = app.store();
        let team = store.team_by_name(team_name).ok_or_else(|| {
            ApiError::new(
                404,
                "app.team.get_by_name.missing.app_error",
                "Unable to find the existing team.",
            )
            .detail(format!("teamName={team_name}"))
        })?;
        let channel = store
            .channel_by_name(&team.id, &name)
            .ok_or_else(|| channel_not_found(&team.id, &name))?;
        readable_channel(&store, &caller, channel).map(|json| Response::json(200, &json))
    })();
    reply(call, result)
}

/// `POST /api/v4/teams/{team_id}/members` `{"team_id","user_id"}`: 201 TeamMember; the user also
/// joins the default channels (with "added to the team/channel" system messages). Adding
/// someone else needs `add_user_to_team` (system admins and team members); joining oneself needs
/// an open team that allows open invites (or a system admin).
fn add_team_member(app: &App, call: &Call) -> Reply {
    reply(call, add_team_member_inner(app, call))
}

fn add_team_member_inner(app: &App, call: &Call) -> Result<Response, ApiError> {
    let caller = require_session(app, call)?;
    let team_id = team_id_param(call)?;
    let body = json_object(call.req, "team_member")?;
    if string_field(&body, "team_id", "team_id")? != team_id {
        return Err(ApiError::invalid_body_param("team_id"));
    }
    let user_id = string_field(&body, "user_id", "user_id")?;
    if !is_valid_id(&user_id) {
        return Err(ApiError::invalid_body_param("user_id"));
    }
    let mut store = app.store();
    let requestor = if user_id == caller.user_id {
        let team = store.team(&team_id).ok_or_else(team_not_found)?;
        let open = team.allow_open_invite && team.kind == OPEN;
        if !open && !caller.is_admin {
            return Err(ApiError::permission(&caller, "join_private_teams"));
        }
        Requestor::Themself
    } else {
        if !is_team_user(&store, &caller, &team_id) {
            return Err(ApiError::permission(&caller, "add_user_to_team"));
        }
        Requestor::Other(&caller.user_id)
    };
    if store.team(&team_id).is_none_or(|t| t.delete_at != 0) {
        return Err(team_not_found());
    }
    if store.user(&user_id).is_none() {
        return Err(ApiError::new(
            404,
            "app.user.missing_account.const",
            "Unable to find the user.",
        ));
    }
    let (member, events) = store
        .join_team(
            &team_id,
            &user_id,
            requestor,
            &app.settings,
            clock::now_millis(),
        )
        .map_err(|_| {
            ApiError::new(
                400,
                "app.team.join_user_to_team.max_accounts.app_error",
                "This team has reached the maximum number of allowed accounts. Contact your System Administrator to set a higher limit.",
            )
        })?;
    drop(store);
    app.publish(events);
    Ok(Response::json(201, &member.json()))
}

/// `DELETE /api/v4/teams/{team_id}`: archives the team (sets `delete_at`); 200
/// `{"status":"OK"}`. Needs `manage_team` (system or team admin). `?permanent=true` deletes it
/// with its channels and posts if `ServiceSettings.EnableAPITeamDeletion`, else 401
/// `api.user.delete_team.not_enabled.app_error` (the real server does not fall back to
/// archiving).
fn delete_team(app: &App, call: &Call) -> Reply {
    reply(call, delete_team_inner(app, call))
}

fn delete_team_inner(app: &App, call: &Call) -> Result<Response, ApiError> {
    let caller = require_session(app, call)?;
    let team_id = team_id_param(call)?;
    let mut store = app.store();
    if !is_team_admin(&store, &caller, &team_id) {
        return Err(ApiError::permission(&caller, "manage_team"));
    }
    if super::parse_bool(call.req.query("permanent")) {
        if !app.settings.enable_api_team_deletion {
            return Err(ApiError::new(
                401,
                "api.user.delete_team.not_enabled.app_error",
                "Permanent team deletion feature is not enabled. Please ask your System Administrator.",
            )
            .detail(format!("teamId={team_id}")));
        }
        if !store.remove_team(&team_id) {
            return Err(team_not_found());
        }
    } else {
        let event = store
            .archive_team(&team_id, clock::now_millis())
            .ok_or_else(team_not_found)?;
        drop(store);
        app.publish(vec![event]);
    }
    Ok(super::status_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_names() {
        for good in ["ab", "team1", "mm-verify-1", "a__b", "x-y-z"] {
            assert!(is_valid_team_name(good), "{good}");
        }
        for bad in ["a", "-ab", "ab-", "Team", "a_b", "a b", "a___b", "a_-b"] {
            assert!(!is_valid_team_name(bad), "{bad}");
        }
        assert!(is_reserved_team_name("api"));
        assert!(is_reserved_team_name("helpdesk"));
        assert!(!is_reserved_team_name("mm-verify"));
        assert!(is_valid_channel_name("town-square"));
        assert!(!is_valid_channel_name("Town Square"));
    }
}
