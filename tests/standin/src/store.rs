//! The in-memory database behind the REST API: users and sessions, teams and their default
//! channels, memberships, posts and uploaded files, with the JSON shapes the real server sends
//! (server/public/model/*.go field order) and the websocket events its app layer publishes
//! (`posted`, `new_user`, `added_to_team`, `user_added`, `delete_team`).
//!
//! It lives behind a mutex in [`crate::server::App`]; operations that publish events return
//! [`Outgoing`] events, which the caller hands to the websocket hub after unlocking.

use std::collections::HashSet;

use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};

use crate::ids::new_id;
use crate::settings::Settings;

/// The role string of the first account.
pub const FIRST_USER_ROLES: &str = "system_admin system_user";
/// The role string of every other account.
pub const USER_ROLES: &str = "system_user";
/// Channel type of public channels.
pub const OPEN: &str = "O";
/// `model.PostMessageMaxRunesV2`.
pub const POST_MESSAGE_MAX_RUNES: usize = 16_383;
/// `model.PostFileidsMaxRunes`: the JSON array of file ids may not be longer.
pub const POST_FILE_IDS_MAX_RUNES: usize = 300;

/// Whether `id` looks like a Mattermost id (`model.IsValidId`): 26 letters or digits.
pub fn is_valid_id(id: &str) -> bool {
    id.len() == 26 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Who receives an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Every authenticated connection.
    All,
    /// The connections of these users.
    Users(HashSet<String>),
}

/// A websocket event to publish once the store is unlocked.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    /// The event, in [`crate::websocket::event`]'s shape.
    pub event: Value,
    pub audience: Audience,
}

fn broadcast(user_id: &str, channel_id: &str, team_id: &str) -> Value {
    json!({"omit_users": null, "user_id": user_id, "channel_id": channel_id, "team_id": team_id})
}

fn event(name: &str, data: Value, broadcast: Value, audience: Audience) -> Outgoing {
    Outgoing {
        event: crate::websocket::event(name, data, broadcast),
        audience,
    }
}

/// An account.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub create_at: i64,
    pub update_at: i64,
    /// Non-zero once deactivated.
    pub delete_at: i64,
    pub username: String,
    pub email: String,
    pub roles: String,
    pub last_password_update: i64,
    /// Consecutive wrong passwords (`ServiceSettings.MaximumLoginAttempts`).
    pub failed_attempts: i64,
    salt: String,
    password_hash: Vec<u8>,
}

fn hash_password(salt: &str, password: &str) -> Vec<u8> {
    let mut sha = Sha1::new();
    sha.update(salt.as_bytes());
    sha.update([0]);
    sha.update(password.as_bytes());
    sha.finalize().to_vec()
}

impl User {
    /// A new account; the password is kept only as a salted hash.
    pub fn new(username: &str, email: &str, password: &str, roles: &str, now: i64) -> User {
        let salt = new_id();
        User {
            id: new_id(),
            create_at: now,
            update_at: now,
            delete_at: 0,
            username: username.to_string(),
            email: email.to_string(),
            roles: roles.to_string(),
            last_password_update: now,
            failed_attempts: 0,
            password_hash: hash_password(&salt, password),
            salt,
        }
    }

    pub fn check_password(&self, password: &str) -> bool {
        hash_password(&self.salt, password) == self.password_hash
    }

    pub fn is_system_admin(&self) -> bool {
        self.roles.split_whitespace().any(|r| r == "system_admin")
    }

    /// The sanitized User JSON (no password, no MFA secret).
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "create_at": self.create_at,
            "update_at": self.update_at,
            "delete_at": self.delete_at,
            "username": self.username,
            "auth_data": "",
            "auth_service": "",
            "email": self.email,
            "email_verified": false,
            "nickname": "",
            "first_name": "",
            "last_name": "",
            "position": "",
            "roles": self.roles,
            "notify_props": {
                "channel": "true",
                "comments": "never",
                "desktop": "mention",
                "desktop_sound": "true",
                "desktop_threads": "all",
                "email": "true",
                "email_threads": "all",
                "first_name": "false",
                "mention_keys": "",
                "push": "mention",
                "push_status": "online",
                "push_threads": "all"
            },
            "last_password_update": self.last_password_update,
            "locale": "en",
            "timezone": {
                "automaticTimezone": "",
                "manualTimezone": "",
                "useAutomaticTimezone": "true"
            },
            "disable_welcome_email": false
        })
    }
}

/// A login session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The bearer token (`Token` header, `MMAUTHTOKEN` cookie).
    pub token: String,
    pub user_id: String,
    /// The `MMCSRF` cookie value, checked for cookie-authenticated writes.
    pub csrf: String,
    pub create_at: i64,
    pub expires_at: i64,
}

/// A team.
#[derive(Clone, Debug)]
pub struct Team {
    pub id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// The creator's address: team admins are the members whose email matches.
    pub email: String,
    /// `"O"` open or `"I"` invite-only.
    pub kind: String,
    pub invite_id: String,
    pub allow_open_invite: bool,
}

impl Team {
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "create_at": self.create_at,
            "update_at": self.update_at,
            "delete_at": self.delete_at,
            "display_name": self.display_name,
            "name": self.name,
            "description": self.description,
            "email": self.email,
            "type": self.kind,
            "company_name": "",
            "allowed_domains": "",
            "invite_id": self.invite_id,
            "allow_open_invite": self.allow_open_invite,
            "scheme_id": null,
            "group_constrained": null,
            "policy_id": null,
            "cloud_limits_archived": false
        })
    }
}

/// A team membership.
#[derive(Clone, Debug)]
pub struct TeamMember {
    pub team_id: String,
    pub user_id: String,
    pub scheme_admin: bool,
    pub delete_at: i64,
    pub create_at: i64,
}

impl TeamMember {
    pub fn json(&self) -> Value {
        let roles = if self.scheme_admin {
            "team_user team_admin"
        } else {
            "team_user"
        };
        json!({
            "team_id": self.team_id,
            "user_id": self.user_id,
            "roles": roles,
            "delete_at": self.delete_at,
            "scheme_guest": false,
            "scheme_user": true,
            "scheme_admin": self.scheme_admin,
            "explicit_roles": "",
            "create_at": self.create_at
        })
    }
}

/// A channel.
#[derive(Clone, Debug)]
pub struct Channel {
    pub id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    pub team_id: String,
    /// `"O"` public, `"P"` private.
    pub kind: String,
    pub name: String,
    pub display_name: String,
    pub creator_id: String,
    pub last_post_at: i64,
    pub last_root_post_at: i64,
    pub total_msg_count: i64,
    pub total_msg_count_root: i64,
}

impl Channel {
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "create_at": self.create_at,
            "update_at": self.update_at,
            "delete_at": self.delete_at,
            "team_id": self.team_id,
            "type": self.kind,
            "display_name": self.display_name,
            "name": self.name,
            "header": "",
            "purpose": "",
            "last_post_at": self.last_post_at,
            "total_msg_count": self.total_msg_count,
            "extra_update_at": 0,
            "creator_id": self.creator_id,
            "scheme_id": null,
            "props": null,
            "group_constrained": null,
            "shared": null,
            "total_msg_count_root": self.total_msg_count_root,
            "policy_id": null,
            "last_root_post_at": self.last_root_post_at
        })
    }
}

/// A post.
#[derive(Clone, Debug)]
pub struct Post {
    pub id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub user_id: String,
    pub channel_id: String,
    pub root_id: String,
    pub message: String,
    /// `""` for user posts, `system_*` for the server's own messages.
    pub kind: String,
    pub props: Map<String, Value>,
    pub file_ids: Vec<String>,
    /// Echoed in the create response and the `posted` event only.
    pub pending_post_id: String,
}

impl Post {
    pub fn is_system_message(&self) -> bool {
        self.kind.starts_with("system_")
    }
}

/// An uploaded file and its bytes.
#[derive(Clone, Debug)]
pub struct StoredFile {
    pub id: String,
    pub user_id: String,
    /// Empty until a post attaches it.
    pub post_id: String,
    pub channel_id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub name: String,
    pub extension: String,
    pub mime_type: String,
    pub width: u32,
    pub height: u32,
    pub has_preview_image: bool,
    pub data: Vec<u8>,
}

impl StoredFile {
    pub fn is_image(&self) -> bool {
        self.mime_type.starts_with("image")
    }

    /// FileInfo JSON (`post_id`, `width`, `height` and `has_preview_image` are omitempty).
    pub fn json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("user_id".into(), json!(self.user_id));
        if !self.post_id.is_empty() {
            m.insert("post_id".into(), json!(self.post_id));
        }
        m.insert("channel_id".into(), json!(self.channel_id));
        m.insert("create_at".into(), json!(self.create_at));
        m.insert("update_at".into(), json!(self.update_at));
        m.insert("delete_at".into(), json!(0));
        m.insert("name".into(), json!(self.name));
        m.insert("extension".into(), json!(self.extension));
        m.insert("size".into(), json!(self.data.len()));
        m.insert("mime_type".into(), json!(self.mime_type));
        if self.width > 0 {
            m.insert("width".into(), json!(self.width));
        }
        if self.height > 0 {
            m.insert("height".into(), json!(self.height));
        }
        if self.has_preview_image {
            m.insert("has_preview_image".into(), json!(true));
        }
        m.insert("mini_preview".into(), Value::Null);
        m.insert("remote_id".into(), json!(""));
        m.insert("archived".into(), json!(false));
        Value::Object(m)
    }
}

/// What `POST /teams` asks for.
#[derive(Clone, Copy, Debug)]
pub struct NewTeam<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    /// `"O"` or `"I"`.
    pub kind: &'a str,
    pub allow_open_invite: bool,
    pub description: &'a str,
}

/// Who is adding a user to a team: the user themself (join messages) or someone else
/// (added-by messages).
#[derive(Clone, Copy, Debug)]
pub enum Requestor<'a> {
    Themself,
    Other(&'a str),
}

/// The whole database.
#[derive(Default)]
pub struct Store {
    pub users: Vec<User>,
    pub sessions: Vec<Session>,
    pub teams: Vec<Team>,
    pub team_members: Vec<TeamMember>,
    pub channels: Vec<Channel>,
    /// `(channel_id, user_id)` pairs.
    pub channel_members: HashSet<(String, String)>,
    pub posts: Vec<Post>,
    pub files: Vec<StoredFile>,
}

impl Store {
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn user_mut(&mut self, id: &str) -> Option<&mut User> {
        self.users.iter_mut().find(|u| u.id == id)
    }

    /// The account whose username or email is `login_id` (case-insensitively).
    pub fn user_for_login(&self, login_id: &str) -> Option<&User> {
        let wanted = login_id.to_lowercase();
        self.users
            .iter()
            .find(|u| u.username == wanted || u.email == wanted)
    }

    /// The live session for `token` at `now`.
    pub fn session(&self, token: &str, now: i64) -> Option<&Session> {
        self.sessions
            .iter()
            .find(|s| s.token == token && s.expires_at > now)
    }

    /// Starts a session for `user_id` lasting `hours`.
    pub fn create_session(&mut self, user_id: &str, hours: i64, now: i64) -> Session {
        let session = Session {
            token: new_id(),
            user_id: user_id.to_string(),
            csrf: new_id(),
            create_at: now,
            expires_at: now.saturating_add(hours.saturating_mul(3_600_000)),
        };
        self.sessions.push(session.clone());
        session
    }

    pub fn revoke_sessions_of(&mut self, user_id: &str) {
        self.sessions.retain(|s| s.user_id != user_id);
    }

    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id)
    }

    pub fn team_by_name(&self, name: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.name == name)
    }

    /// The active membership of `user_id` in `team_id`.
    pub fn team_member(&self, team_id: &str, user_id: &str) -> Option<&TeamMember> {
        self.team_members
            .iter()
            .find(|m| m.team_id == team_id && m.user_id == user_id && m.delete_at == 0)
    }

    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// A live channel of `team_id` called `name`.
    pub fn channel_by_name(&self, team_id: &str, name: &str) -> Option<&Channel> {
        self.channels
            .iter()
            .find(|c| c.team_id == team_id && c.name == name && c.delete_at == 0)
    }

    pub fn is_channel_member(&self, channel_id: &str, user_id: &str) -> bool {
        self.channel_members
            .contains(&(channel_id.to_string(), user_id.to_string()))
    }

    /// The ids of the members of `channel_id`.
    pub fn channel_member_ids(&self, channel_id: &str) -> HashSet<String> {
        self.channel_members
            .iter()
            .filter(|(c, _)| c == channel_id)
            .map(|(_, u)| u.clone())
            .collect()
    }

    pub fn post(&self, id: &str) -> Option<&Post> {
        self.posts.iter().find(|p| p.id == id)
    }

    pub fn file(&self, id: &str) -> Option<&StoredFile> {
        self.files.iter().find(|f| f.id == id)
    }

    /// Adds an account and announces it (`new_user` to everyone).
    pub fn insert_user(&mut self, user: User) -> Outgoing {
        let out = event(
            "new_user",
            json!({"user_id": user.id}),
            broadcast("", "", ""),
            Audience::All,
        );
        self.users.push(user);
        out
    }

    /// Creates a team with its default channels and joins `creator` to it as team admin.
    pub fn create_team(
        &mut self,
        creator_id: &str,
        new: NewTeam,
        settings: &Settings,
        now: i64,
    ) -> Result<(Team, Vec<Outgoing>), String> {
        let email = self
            .user(creator_id)
            .map(|u| u.email.clone())
            .ok_or_else(|| format!("no user {creator_id}"))?;
        let team = Team {
            id: new_id(),
            create_at: now,
            update_at: now,
            delete_at: 0,
            name: new.name.to_string(),
            display_name: new.display_name.to_string(),
            description: new.description.to_string(),
            email,
            kind: new.kind.to_string(),
            invite_id: new_id(),
            allow_open_invite: new.allow_open_invite,
        };
        self.teams.push(team.clone());
        for (name, display) in [("town-square", "Town Square"), ("off-topic", "Off-Topic")] {
            self.channels.push(Channel {
                id: new_id(),
                create_at: now,
                update_at: now,
                delete_at: 0,
                team_id: team.id.clone(),
                kind: OPEN.to_string(),
                name: name.to_string(),
                display_name: display.to_string(),
                creator_id: String::new(),
                last_post_at: now,
                last_root_post_at: now,
                total_msg_count: 0,
                total_msg_count_root: 0,
            });
        }
        let (_, events) =
            self.join_team(&team.id, creator_id, Requestor::Themself, settings, now)?;
        Ok((team, events))
    }

    /// Makes `user_id` a member of `team_id` and of its default channels, posting the join
    /// (or added-by) system messages there (app `JoinUserToTeam`). Joining again returns the
    /// existing membership and changes nothing.
    pub fn join_team(
        &mut self,
        team_id: &str,
        user_id: &str,
        requestor: Requestor,
        settings: &Settings,
        now: i64,
    ) -> Result<(TeamMember, Vec<Outgoing>), String> {
        if let Some(m) = self.team_member(team_id, user_id) {
            return Ok((m.clone(), Vec::new()));
        }
        let team = self
            .team(team_id)
            .cloned()
            .ok_or_else(|| format!("no team {team_id}"))?;
        let user = self
            .user(user_id)
            .cloned()
            .ok_or_else(|| format!("no user {user_id}"))?;
        let active = self
            .team_members
            .iter()
            .filter(|m| m.team_id == team_id && m.delete_at == 0)
            .count();
        if i64::try_from(active).unwrap_or(i64::MAX) >= settings.max_users_per_team {
            return Err("max_accounts".to_string());
        }
        self.team_members
            .retain(|m| !(m.team_id == team_id && m.user_id == user_id));
        let member = TeamMember {
            team_id: team_id.to_string(),
            user_id: user_id.to_string(),
            scheme_admin: team.email == user.email,
            delete_at: 0,
            create_at: now,
        };
        self.team_members.push(member.clone());
        let mut events = Vec::new();
        for name in settings.default_channel_names() {
            let Some(channel) = self.channel_by_name(team_id, &name).cloned() else {
                continue;
            };
            if !self
                .channel_members
                .insert((channel.id.clone(), user_id.to_string()))
            {
                continue;
            }
            events.push(event(
                "user_added",
                json!({"team_id": team_id, "user_id": user_id}),
                broadcast("", &channel.id, ""),
                Audience::Users(self.channel_member_ids(&channel.id)),
            ));
            let (kind, message, props) = match requestor {
                Requestor::Themself if name == "town-square" => (
                    "system_join_team",
                    format!("{} joined the team.", user.username),
                    json!({"username": user.username}),
                ),
                Requestor::Themself => (
                    "system_join_channel",
                    format!("{} joined the channel.", user.username),
                    json!({"username": user.username}),
                ),
                Requestor::Other(by) => {
                    let by_name = self
                        .user(by)
                        .map(|u| u.username.clone())
                        .unwrap_or_default();
                    let (kind, what) = if name == "town-square" {
                        ("system_add_to_team", "team")
                    } else {
                        ("system_add_to_channel", "channel")
                    };
                    (
                        kind,
                        format!("{} added to the {what} by {by_name}.", user.username),
                        json!({"userId": by, "username": by_name,
                               "addedUserId": user.id, "addedUsername": user.username}),
                    )
                }
            };
            let author = match requestor {
                Requestor::Themself => user_id,
                Requestor::Other(by) => by,
            };
            let post = Post {
                id: new_id(),
                create_at: now,
                update_at: now,
                user_id: author.to_string(),
                channel_id: channel.id.clone(),
                root_id: String::new(),
                message,
                kind: kind.to_string(),
                props: props.as_object().cloned().unwrap_or_default(),
                file_ids: Vec::new(),
                pending_post_id: String::new(),
            };
            let (_, posted) = self.save_post(post, true);
            events.push(posted);
        }
        events.push(event(
            "added_to_team",
            json!({"team_id": team_id, "user_id": user_id}),
            broadcast(user_id, "", ""),
            Audience::Users(HashSet::from([user_id.to_string()])),
        ));
        Ok((member, events))
    }

    /// Stores a checked post: attaches those of its files the author uploaded and no post has
    /// yet (silently dropping the others, as `attachFilesToPost` does), updates the channel and
    /// the thread root, and returns the prepared post JSON with its `posted` event.
    pub fn save_post(&mut self, mut post: Post, set_online: bool) -> (Value, Outgoing) {
        let mut attached = Vec::new();
        for file_id in std::mem::take(&mut post.file_ids) {
            if attached.contains(&file_id) {
                continue;
            }
            if let Some(f) = self
                .files
                .iter_mut()
                .find(|f| f.id == file_id && f.user_id == post.user_id && f.post_id.is_empty())
            {
                f.post_id = post.id.clone();
                f.channel_id = post.channel_id.clone();
                attached.push(file_id);
            }
        }
        post.file_ids = attached;
        if let Some(c) = self.channels.iter_mut().find(|c| c.id == post.channel_id) {
            c.last_post_at = c.last_post_at.max(post.create_at);
            c.total_msg_count += 1;
            if post.root_id.is_empty() {
                c.last_root_post_at = c.last_root_post_at.max(post.create_at);
                c.total_msg_count_root += 1;
            }
        }
        if let Some(root) = self.posts.iter_mut().find(|p| p.id == post.root_id) {
            root.update_at = root.update_at.max(post.create_at);
        }
        self.posts.push(post.clone());
        let json = self.post_json(&post);
        let posted = self.posted_event(&post, &json, set_online);
        (json, posted)
    }

    /// The prepared Post JSON, with `metadata.files` for attachments.
    pub fn post_json(&self, post: &Post) -> Value {
        let thread = if post.root_id.is_empty() {
            &post.id
        } else {
            &post.root_id
        };
        let reply_count = self.posts.iter().filter(|p| &p.root_id == thread).count();
        let mut m = Map::new();
        m.insert("id".into(), json!(post.id));
        m.insert("create_at".into(), json!(post.create_at));
        m.insert("update_at".into(), json!(post.update_at));
        m.insert("edit_at".into(), json!(0));
        m.insert("delete_at".into(), json!(0));
        m.insert("is_pinned".into(), json!(false));
        m.insert("user_id".into(), json!(post.user_id));
        m.insert("channel_id".into(), json!(post.channel_id));
        m.insert("root_id".into(), json!(post.root_id));
        m.insert("original_id".into(), json!(""));
        m.insert("message".into(), json!(post.message));
        m.insert("type".into(), json!(post.kind));
        m.insert("props".into(), Value::Object(post.props.clone()));
        m.insert("hashtags".into(), json!(""));
        if !post.file_ids.is_empty() {
            m.insert("file_ids".into(), json!(post.file_ids));
        }
        m.insert("pending_post_id".into(), json!(post.pending_post_id));
        m.insert("reply_count".into(), json!(reply_count));
        m.insert("last_reply_at".into(), json!(0));
        m.insert("participants".into(), Value::Null);
        let mut metadata = Map::new();
        if !post.file_ids.is_empty() {
            let files: Vec<Value> = post
                .file_ids
                .iter()
                .filter_map(|id| self.file(id))
                .map(StoredFile::json)
                .collect();
            metadata.insert("files".into(), Value::Array(files));
        }
        m.insert("metadata".into(), Value::Object(metadata));
        Value::Object(m)
    }

    /// The `posted` event for `post` (app `SendNotifications`): sent to the channel's members,
    /// `data.post` is the Post JSON as a string, the data keys in Go's (sorted) map order.
    fn posted_event(&self, post: &Post, post_json: &Value, set_online: bool) -> Outgoing {
        let channel = self.channel(&post.channel_id);
        let members = self.channel_member_ids(&post.channel_id);
        let sender = self.user(&post.user_id);
        let sender_name = if post.is_system_message() {
            "System".to_string()
        } else {
            format!("@{}", sender.map(|u| u.username.as_str()).unwrap_or(""))
        };
        let files: Vec<&StoredFile> = post
            .file_ids
            .iter()
            .filter_map(|id| self.file(id))
            .collect();
        let mentions = if post.is_system_message() {
            Vec::new()
        } else {
            self.mentions(&post.message, &post.user_id, &members)
        };
        let mut data = Map::new();
        data.insert(
            "channel_display_name".into(),
            json!(channel.map(|c| c.display_name.as_str()).unwrap_or("")),
        );
        data.insert(
            "channel_name".into(),
            json!(channel.map(|c| c.name.as_str()).unwrap_or("")),
        );
        data.insert(
            "channel_type".into(),
            json!(channel.map(|c| c.kind.as_str()).unwrap_or(OPEN)),
        );
        if files.iter().any(|f| f.is_image()) {
            data.insert("image".into(), json!("true"));
        }
        if !mentions.is_empty() {
            data.insert("mentions".into(), json!(json!(mentions).to_string()));
        }
        if !post.file_ids.is_empty() {
            data.insert("otherFile".into(), json!("true"));
        }
        data.insert("post".into(), json!(post_json.to_string()));
        data.insert("sender_name".into(), json!(sender_name));
        data.insert("set_online".into(), json!(set_online));
        data.insert(
            "team_id".into(),
            json!(channel.map(|c| c.team_id.as_str()).unwrap_or("")),
        );
        event(
            "posted",
            Value::Object(data),
            broadcast("", &post.channel_id, ""),
            Audience::Users(members),
        )
    }

    /// The channel members other than the author that `message` mentions: `@username`, or
    /// everybody for `@channel` and `@all`.
    fn mentions(&self, message: &str, author: &str, members: &HashSet<String>) -> Vec<String> {
        let mut words = HashSet::new();
        for (i, _) in message.match_indices('@') {
            let before_ok = message[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || "._-".contains(c)));
            if !before_ok {
                continue;
            }
            let word: String = message[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .collect::<String>()
                .to_lowercase();
            words.insert(word.trim_end_matches(['.', '-', '_']).to_string());
            words.insert(word);
        }
        let everyone = words.contains("channel") || words.contains("all");
        let mut ids: Vec<String> = members
            .iter()
            .filter(|id| id.as_str() != author)
            .filter(|id| everyone || self.user(id).is_some_and(|u| words.contains(&u.username)))
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// Archives a team (`SoftDeleteTeam`) and tells its members.
    pub fn archive_team(&mut self, team_id: &str, now: i64) -> Option<Outgoing> {
        let team = self.teams.iter_mut().find(|t| t.id == team_id)?;
        team.delete_at = now;
        team.update_at = now;
        let json = team.json();
        let members: HashSet<String> = self
            .team_members
            .iter()
            .filter(|m| m.team_id == team_id && m.delete_at == 0)
            .map(|m| m.user_id.clone())
            .collect();
        Some(event(
            "delete_team",
            json!({"team": json.to_string()}),
            broadcast("", "", team_id),
            Audience::Users(members),
        ))
    }

    /// Deletes a team with its channels, memberships, posts and files (`PermanentDeleteTeam`).
    pub fn remove_team(&mut self, team_id: &str) -> bool {
        let before = self.teams.len();
        self.teams.retain(|t| t.id != team_id);
        if self.teams.len() == before {
            return false;
        }
        let channels: HashSet<String> = self
            .channels
            .iter()
            .filter(|c| c.team_id == team_id)
            .map(|c| c.id.clone())
            .collect();
        self.channels.retain(|c| c.team_id != team_id);
        self.channel_members.retain(|(c, _)| !channels.contains(c));
        self.team_members.retain(|m| m.team_id != team_id);
        self.posts.retain(|p| !channels.contains(&p.channel_id));
        self.files.retain(|f| !channels.contains(&f.channel_id));
        true
    }

    /// Deletes an account and everything that refers to it (`PermanentDeleteUser`).
    pub fn remove_user(&mut self, user_id: &str) {
        self.users.retain(|u| u.id != user_id);
        self.revoke_sessions_of(user_id);
        self.team_members.retain(|m| m.user_id != user_id);
        self.channel_members.retain(|(_, u)| u != user_id);
        self.posts.retain(|p| p.user_id != user_id);
        self.files.retain(|f| f.user_id != user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_team() -> (Store, String, String) {
        let mut store = Store::default();
        let admin = User::new(
            "admin",
            "admin@example.com",
            "password1",
            FIRST_USER_ROLES,
            1,
        );
        let admin_id = admin.id.clone();
        store.insert_user(admin);
        let (team, events) = store
            .create_team(
                &admin_id,
                NewTeam {
                    name: "team",
                    display_name: "Team",
                    kind: OPEN,
                    allow_open_invite: false,
                    description: "",
                },
                &Settings::default(),
                2,
            )
            .unwrap();
        // user_added and a join message for each default channel, then added_to_team.
        let names: Vec<&str> = events
            .iter()
            .map(|e| e.event["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "user_added",
                "posted",
                "user_added",
                "posted",
                "added_to_team"
            ]
        );
        (store, admin_id, team.id)
    }

    #[test]
    fn users_keep_only_a_password_hash() {
        let u = User::new("alice", "alice@example.com", "s3cret-pw", USER_ROLES, 7);
        assert!(u.check_password("s3cret-pw"));
        assert!(!u.check_password("s3cret-pW"));
        assert!(!u.is_system_admin());
        let json = u.json().to_string();
        assert!(!json.contains("s3cret"), "{json}");
        assert_eq!(u.json()["roles"], "system_user");
        assert_eq!(u.json()["delete_at"], 0);
        assert!(is_valid_id(&u.id));
    }

    #[test]
    fn teams_get_default_channels_and_an_admin() {
        let (store, admin_id, team_id) = store_with_team();
        let ts = store.channel_by_name(&team_id, "town-square").unwrap();
        assert_eq!(ts.display_name, "Town Square");
        assert!(store.is_channel_member(&ts.id, &admin_id));
        let off = store.channel_by_name(&team_id, "off-topic").unwrap();
        assert_eq!(off.display_name, "Off-Topic");
        assert!(store.is_channel_member(&off.id, &admin_id));
        let member = store.team_member(&team_id, &admin_id).unwrap();
        assert_eq!(member.json()["roles"], "team_user team_admin");
        let join = &store.posts[0];
        assert_eq!(join.kind, "system_join_team");
        assert_eq!(join.message, "admin joined the team.");
    }

    #[test]
    fn posts_attach_only_the_authors_free_files_and_mention_members() {
        let (mut store, admin_id, team_id) = store_with_team();
        let bob = User::new("bob", "bob@example.com", "password1", USER_ROLES, 3);
        let bob_id = bob.id.clone();
        store.insert_user(bob);
        let (_, events) = store
            .join_team(
                &team_id,
                &bob_id,
                Requestor::Other(&admin_id),
                &Settings::default(),
                4,
            )
            .unwrap();
        let added: Vec<&Value> = events
            .iter()
            .filter(|e| e.event["event"] == "posted")
            .map(|e| &e.event)
            .collect();
        let post: Value = serde_json::from_str(added[0]["data"]["post"].as_str().unwrap()).unwrap();
        assert_eq!(post["type"], "system_add_to_team");
        assert_eq!(post["message"], "bob added to the team by admin.");
        assert_eq!(added[0]["data"]["sender_name"], "System");

        let channel = store
            .channel_by_name(&team_id, "town-square")
            .unwrap()
            .clone();
        let file = |id: &str, user: &str, post: &str| StoredFile {
            id: id.into(),
            user_id: user.into(),
            post_id: post.into(),
            channel_id: channel.id.clone(),
            create_at: 5,
            update_at: 5,
            name: "a.png".into(),
            extension: "png".into(),
            mime_type: "image/png".into(),
            width: 1,
            height: 1,
            has_preview_image: true,
            data: vec![1, 2, 3],
        };
        store.files.push(file("f1", &admin_id, ""));
        store.files.push(file("f2", &bob_id, ""));
        store.files.push(file("f3", &admin_id, "someotherpost"));
        let post = Post {
            id: new_id(),
            create_at: 6,
            update_at: 6,
            user_id: admin_id.clone(),
            channel_id: channel.id.clone(),
            root_id: String::new(),
            message: "hi @bob, see @nobody".into(),
            kind: String::new(),
            props: Map::new(),
            file_ids: vec!["f1".into(), "f2".into(), "f3".into(), "f1".into()],
            pending_post_id: "p1".into(),
        };
        let (json, posted) = store.save_post(post, true);
        assert_eq!(json["file_ids"], json!(["f1"]));
        assert_eq!(json["metadata"]["files"][0]["post_id"], json["id"]);
        assert_eq!(json["pending_post_id"], "p1");
        let data = &posted.event["data"];
        assert_eq!(data["image"], "true");
        assert_eq!(data["otherFile"], "true");
        assert_eq!(data["sender_name"], "@admin");
        assert_eq!(data["mentions"], json!([bob_id]).to_string());
        assert_eq!(data["channel_name"], "town-square");
        assert_eq!(data["team_id"], json!(team_id));
        assert_eq!(
            posted.audience,
            Audience::Users(HashSet::from([admin_id.clone(), bob_id.clone()]))
        );
        let keys: Vec<&String> = data.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "Go marshals map keys in order");
        assert_eq!(
            serde_json::from_str::<Value>(data["post"].as_str().unwrap()).unwrap(),
            json
        );
    }

    #[test]
    fn removing_a_team_removes_its_content() {
        let (mut store, _, team_id) = store_with_team();
        assert!(store.archive_team(&team_id, 9).is_some());
        assert_eq!(store.team(&team_id).unwrap().delete_at, 9);
        assert!(store.remove_team(&team_id));
        assert!(store.team(&team_id).is_none());
        assert!(store.channels.is_empty() && store.posts.is_empty());
        assert!(store.channel_members.is_empty() && store.team_members.is_empty());
        assert!(!store.remove_team(&team_id));
    }
}
