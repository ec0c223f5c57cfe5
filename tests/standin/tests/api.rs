//! The REST API and websocket events that `mm-install verify` drives, end to end over real HTTP:
//! signup and login, a team with its default channels, posts and thread replies seen on
//! websockets authenticated both ways, a PNG upload attached to a reply, permissions, and the
//! cleanup calls.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// Asserts a Mattermost AppError body with `status` and `id`.
fn assert_error(reply: &Reply, status: u16, id: &str) {
    assert_eq!(
        reply.status,
        status,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert_eq!(body["id"], id, "{body}");
    assert_eq!(body["status_code"], status);
    assert_eq!(body["request_id"], reply.header("X-Request-Id").unwrap());
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["detailed_error"].is_string());
}

fn is_mattermost_id(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 26
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Logs in; returns the token from the `Token` header and the user JSON.
fn login(addr: std::net::SocketAddr, login_id: &str, password: &str) -> (String, Value) {
    let reply = api(
        addr,
        "POST",
        "/api/v4/users/login",
        None,
        json!({"login_id": login_id, "password": password}),
    );
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let token = reply.header("Token").expect("a Token header").to_string();
    (token, reply.json())
}

#[test]
fn checksums_match_known_values() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    let png = one_pixel_png([255, 0, 0]);
    assert_eq!(
        mm_standin::image::png_dimensions(&png),
        Some((1, 1)),
        "{png:?}"
    );
}

/// The stand-in every scenario test starts: uploads limited to 4096 bytes.
fn start() -> Server {
    Server::start(json!({"FileSettings": {"MaxFileSize": 4096}}))
}

/// Signs up `admin1` anonymously (the first user); returns the user JSON and the reply.
fn sign_up_admin(addr: SocketAddr) -> (Value, Reply) {
    let signup = api(
        addr,
        "POST",
        "/api/v4/users",
        None,
        json!({"email": "Admin@Example.com", "username": "admin1", "password": "admin-password"}),
    );
    assert_eq!(
        signup.status,
        201,
        "{}",
        String::from_utf8_lossy(&signup.body)
    );
    (signup.json(), signup)
}

/// The `Set-Cookie` values of a login reply.
fn set_cookies(reply: &Reply) -> Vec<&str> {
    reply
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Set-Cookie"))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The CSRF token among a login reply's cookies.
fn csrf_token(cookies: &[&str]) -> String {
    cookies
        .iter()
        .find_map(|c| c.strip_prefix("MMCSRF="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string()
}

/// What the scenario tests share: a [`start`]ed stand-in, its first user `admin1` (the system
/// admin) logged in by email, and the team `verify-team` with its town-square channel.
struct Scene {
    _server: Server,
    addr: SocketAddr,
    admin: Value,
    token1: String,
    /// `MMAUTHTOKEN=…` for the admin's session, and its CSRF token.
    cookie: String,
    csrf: String,
    team: Value,
    team_id: String,
    /// The town-square channel, and its ID.
    ts: Value,
    town_square: String,
}

impl Scene {
    fn new() -> Scene {
        let server = start();
        let addr = server.addr;
        let (admin, _) = sign_up_admin(addr);
        let reply = api(
            addr,
            "POST",
            "/api/v4/users/login",
            None,
            json!({"login_id": "admin@example.com", "password": "admin-password"}),
        );
        assert_eq!(reply.status, 200);
        let token1 = reply.header("Token").unwrap().to_string();
        let csrf = csrf_token(&set_cookies(&reply));
        let team = api(
            addr,
            "POST",
            "/api/v4/teams",
            Some(&token1),
            json!({"name": "verify-team", "display_name": "Verify Team", "type": "O"}),
        );
        assert_eq!(team.status, 201, "{}", String::from_utf8_lossy(&team.body));
        let team = team.json();
        let team_id = team["id"].as_str().unwrap().to_string();
        let ts = api(
            addr,
            "GET",
            &format!("/api/v4/teams/{team_id}/channels/name/town-square"),
            Some(&token1),
            Value::Null,
        );
        assert_eq!(ts.status, 200);
        let ts = ts.json();
        Scene {
            _server: server,
            addr,
            admin,
            cookie: format!("MMAUTHTOKEN={token1}"),
            token1,
            csrf,
            team,
            team_id,
            town_square: ts["id"].as_str().unwrap().to_string(),
            ts,
        }
    }

    /// `Bearer <admin token>`.
    fn bearer1(&self) -> String {
        format!("Bearer {}", self.token1)
    }

    /// The admin's websocket, authenticated by its upgrade request, past its hello.
    fn ws1(&self) -> Ws {
        let mut ws = Ws::connect(self.addr, &[("Authorization", &self.bearer1())]);
        assert_eq!(ws.next()["event"], "hello");
        ws
    }

    /// `name` (password `name-password`) created by the admin and logged in: its JSON and token.
    fn user(&self, name: &str) -> (Value, String) {
        let created = api(
            self.addr,
            "POST",
            "/api/v4/users",
            Some(&self.token1),
            json!({"email": format!("{name}@example.com"), "username": name,
                   "password": format!("{name}-password")}),
        );
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        let (token, _) = login(self.addr, name, &format!("{name}-password"));
        (created.json(), token)
    }

    /// `user` added to the team by the admin.
    fn join(&self, user: &Value) {
        let member = api(
            self.addr,
            "POST",
            &format!("/api/v4/teams/{}/members", self.team_id),
            Some(&self.token1),
            json!({"team_id": self.team_id, "user_id": user["id"]}),
        );
        assert_eq!(
            member.status,
            201,
            "{}",
            String::from_utf8_lossy(&member.body)
        );
    }

    /// A websocket authenticated with `authentication_challenge` by `token`, past its hello
    /// and the challenge's reply.
    fn ws_challenged(&self, token: &str) -> Ws {
        let mut ws = Ws::connect(self.addr, &[]);
        ws.send(&json!({"seq": 1, "action": "authentication_challenge", "data": {"token": token}}));
        assert_eq!(ws.next()["event"], "hello");
        assert_eq!(ws.next(), json!({"status": "OK", "seq_reply": 1}));
        ws
    }

    /// The admin's root post in town-square.
    fn root_post(&self) -> Value {
        let post = api(
            self.addr,
            "POST",
            "/api/v4/posts",
            Some(&self.token1),
            json!({"channel_id": self.town_square, "message": "verify: root post"}),
        );
        assert_eq!(post.status, 201, "{}", String::from_utf8_lossy(&post.body));
        post.json()
    }
}

/// A thread in town-square: user 2 in the team with its token, both users' sockets, and the
/// admin's root post (and its ID).
struct Thread {
    user2: Value,
    token2: String,
    ws1: Ws,
    ws2: Ws,
    root: Value,
    root_id: String,
}

impl Thread {
    fn new(scene: &Scene) -> Thread {
        let ws1 = scene.ws1();
        let (user2, token2) = scene.user("user2");
        scene.join(&user2);
        let ws2 = scene.ws_challenged(&token2);
        let root = scene.root_post();
        Thread {
            user2,
            token2,
            ws1,
            ws2,
            root_id: root["id"].as_str().unwrap().to_string(),
            root,
        }
    }
}

/// Nothing without a session.
#[test]
fn without_a_session_the_api_answers_401() {
    let server = start();
    let addr = server.addr;
    assert_error(
        &api(addr, "GET", "/api/v4/users/me", None, Value::Null),
        401,
        "api.context.session_expired.app_error",
    );
}

/// The first user may sign up anonymously and becomes the system admin.
#[test]
fn the_first_user_signs_up_anonymously_and_becomes_the_system_admin() {
    let server = start();
    let addr = server.addr;
    let signup = api(
        addr,
        "POST",
        "/api/v4/users",
        None,
        json!({"email": "Admin@Example.com", "username": "admin1", "password": "admin-password"}),
    );
    assert_eq!(
        signup.status,
        201,
        "{}",
        String::from_utf8_lossy(&signup.body)
    );
    assert_eq!(signup.header("Content-Type"), Some("application/json"));
    let admin = signup.json();
    assert!(is_mattermost_id(&admin["id"]), "{admin}");
    assert_eq!(admin["username"], "admin1");
    assert_eq!(admin["email"], "admin@example.com");
    assert_eq!(admin["roles"], "system_admin system_user");
    assert_eq!(admin["delete_at"], 0);
    assert!(admin["create_at"].as_i64().unwrap() > 1_600_000_000_000);
    assert!(admin["update_at"].is_i64());
    assert!(admin.get("password").is_none());
    assert!(!String::from_utf8_lossy(&signup.body).contains("admin-password"));
}

/// Wrong credentials are refused; a login by email puts the token in the Token header and the cookie.
#[test]
fn a_login_puts_the_token_in_the_token_header_and_a_cookie() {
    let server = start();
    let addr = server.addr;
    let (admin, _) = sign_up_admin(addr);
    for (login_id, password) in [("admin1", "wrong-password"), ("nobody", "admin-password")] {
        assert_error(
            &api(
                addr,
                "POST",
                "/api/v4/users/login",
                None,
                json!({"login_id": login_id, "password": password}),
            ),
            401,
            "api.user.login.invalid_credentials_email_username",
        );
    }
    let reply = api(
        addr,
        "POST",
        "/api/v4/users/login",
        None,
        json!({"login_id": "admin@example.com", "password": "admin-password"}),
    );
    assert_eq!(reply.status, 200);
    let token1 = reply.header("Token").unwrap().to_string();
    assert!(is_mattermost_id(&json!(token1)));
    assert_eq!(reply.json()["id"], admin["id"]);
    let cookies = set_cookies(&reply);
    let auth_cookie = cookies
        .iter()
        .find(|c| c.starts_with("MMAUTHTOKEN="))
        .expect("MMAUTHTOKEN cookie");
    assert!(auth_cookie.starts_with(&format!("MMAUTHTOKEN={token1}; Path=/;")));
    assert!(auth_cookie.contains("; HttpOnly"), "{auth_cookie}");
    // The CSRF token comes as a cookie too.
    assert!(!csrf_token(&cookies).is_empty(), "{cookies:?}");
}

/// The session works as a Bearer token, a Token token, and a cookie; a bogus token does not.
#[test]
fn a_session_works_as_bearer_token_token_and_cookie() {
    let scene = Scene::new();
    let addr = scene.addr;
    let token1 = scene.token1.clone();
    let admin = &scene.admin;
    let cookie = scene.cookie.clone();
    let me = api(addr, "GET", "/api/v4/users/me", Some(&token1), Value::Null);
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["id"], admin["id"]);
    let auth = format!("Token {token1}");
    let me = http(
        addr,
        "GET",
        "/api/v4/users/me",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(me.status, 200);
    let me = http(addr, "GET", "/api/v4/users/me", &[("Cookie", &cookie)], b"");
    assert_eq!(me.status, 200);
    assert_error(
        &api(addr, "GET", "/api/v4/users/me", Some("bogus"), Value::Null),
        401,
        "api.context.session_expired.app_error",
    );
}

/// A team; it comes with town-square and off-topic; names are unique and valid.
#[test]
fn a_team_comes_with_town_square_and_off_topic() {
    let server = start();
    let addr = server.addr;
    sign_up_admin(addr);
    let (token1, _) = login(addr, "admin@example.com", "admin-password");
    let team = api(
        addr,
        "POST",
        "/api/v4/teams",
        Some(&token1),
        json!({"name": "verify-team", "display_name": "Verify Team", "type": "O"}),
    );
    assert_eq!(team.status, 201, "{}", String::from_utf8_lossy(&team.body));
    let team = team.json();
    let team_id = team["id"].as_str().unwrap().to_string();
    assert!(is_mattermost_id(&team["id"]));
    assert_eq!(team["name"], "verify-team");
    assert_eq!(team["display_name"], "Verify Team");
    assert_eq!(team["type"], "O");
    assert_error(
        &api(
            addr,
            "POST",
            "/api/v4/teams",
            Some(&token1),
            json!({"name": "verify-team", "display_name": "Again", "type": "O"}),
        ),
        400,
        "app.team.save.existing.app_error",
    );
    assert_error(
        &api(
            addr,
            "POST",
            "/api/v4/teams",
            Some(&token1),
            json!({"name": "Bad Name", "display_name": "Bad", "type": "O"}),
        ),
        400,
        "model.team.is_valid.characters.app_error",
    );
    let ts = api(
        addr,
        "GET",
        &format!("/api/v4/teams/{team_id}/channels/name/town-square"),
        Some(&token1),
        Value::Null,
    );
    assert_eq!(ts.status, 200);
    let ts = ts.json();
    assert!(is_mattermost_id(&ts["id"]));
    assert_eq!(ts["team_id"], team["id"]);
    assert_eq!(ts["name"], "town-square");
    assert_eq!(ts["display_name"], "Town Square");
    assert_eq!(ts["type"], "O");
    let by_names = api(
        addr,
        "GET",
        "/api/v4/teams/name/verify-team/channels/name/town-square",
        Some(&token1),
        Value::Null,
    );
    assert_eq!(by_names.json()["id"], ts["id"]);
    let off_topic = api(
        addr,
        "GET",
        "/api/v4/teams/name/verify-team/channels/name/off-topic",
        Some(&token1),
        Value::Null,
    );
    assert_eq!(off_topic.json()["display_name"], "Off-Topic");
    assert_error(
        &api(
            addr,
            "GET",
            &format!("/api/v4/teams/{team_id}/channels/name/no-such-channel"),
            Some(&token1),
            Value::Null,
        ),
        404,
        "app.channel.get_by_name.missing.app_error",
    );
}

/// A websocket authenticated by the upgrade request's Bearer header gets hello at once; an unauthenticated one stays silent.
#[test]
fn a_bearer_websocket_gets_hello_and_an_anonymous_one_stays_silent() {
    let scene = Scene::new();
    let addr = scene.addr;
    let token1 = scene.token1.clone();
    let admin = &scene.admin;
    let bearer1 = format!("Bearer {token1}");
    let mut ws1 = Ws::connect(addr, &[("Authorization", &bearer1)]);
    let hello = ws1.next();
    assert_eq!(hello["event"], "hello");
    assert_eq!(hello["seq"], 0);
    assert_eq!(
        hello["data"]["server_version"],
        "11.10.1.11.10.1.standinhash.false"
    );
    assert_eq!(hello["data"]["server_hostname"], "standin");
    assert!(is_mattermost_id(&hello["data"]["connection_id"]));
    assert_eq!(
        hello["broadcast"],
        json!({"omit_users": null, "user_id": admin["id"], "channel_id": "", "team_id": ""})
    );
    // An unauthenticated connection, which must stay silent.
    let mut anonymous = Ws::connect(addr, &[]);
    assert!(anonymous.silent_for(Duration::from_millis(300)));
}

/// A post in town-square reaches the websocket as `posted`, and not an unauthenticated one.
#[test]
fn a_post_reaches_the_websocket_as_posted() {
    let scene = Scene::new();
    let addr = scene.addr;
    let token1 = scene.token1.clone();
    let town_square = scene.town_square.clone();
    let ts = &scene.ts;
    let admin = &scene.admin;
    let team = &scene.team;
    let mut ws1 = scene.ws1();
    let mut anonymous = Ws::connect(addr, &[]);
    let post = api(
        addr,
        "POST",
        "/api/v4/posts",
        Some(&token1),
        json!({"channel_id": town_square, "message": "verify: root post"}),
    );
    assert_eq!(post.status, 201, "{}", String::from_utf8_lossy(&post.body));
    let root = post.json();
    assert!(is_mattermost_id(&root["id"]));
    assert_eq!(root["channel_id"], ts["id"]);
    assert_eq!(root["user_id"], admin["id"]);
    assert_eq!(root["root_id"], "");
    assert_eq!(root["message"], "verify: root post");
    assert_eq!(root["type"], "");
    assert_eq!(root["props"], json!({}));
    assert!(root["create_at"].is_i64() && root["update_at"].is_i64());
    let (posted, _) =
        ws1.wait_for(|e| e["event"] == "posted" && posted_post(e)["id"] == root["id"]);
    assert!(posted["seq"].as_i64().unwrap() > 0);
    assert_eq!(posted_post(&posted), root);
    let data = &posted["data"];
    assert_eq!(data["channel_type"], "O");
    assert_eq!(data["channel_display_name"], "Town Square");
    assert_eq!(data["channel_name"], "town-square");
    assert_eq!(data["sender_name"], "@admin1");
    assert_eq!(data["team_id"], team["id"]);
    assert_eq!(data["set_online"], true);
    assert!(data.get("image").is_none() && data.get("otherFile").is_none());
    assert_eq!(
        posted["broadcast"],
        json!({"omit_users": null, "user_id": "", "channel_id": town_square, "team_id": ""})
    );
    assert!(anonymous.silent_for(Duration::from_millis(200)));
}

/// A second user: anonymous signup is closed now, the admin may create it; duplicates and invalid fields are refused.
#[test]
fn anonymous_signup_closes_after_the_first_user_and_the_admin_creates_valid_users() {
    let scene = Scene::new();
    let addr = scene.addr;
    let token1 = scene.token1.clone();
    let user2_body =
        json!({"email": "user2@example.com", "username": "user2", "password": "user2-password"});
    assert_error(
        &api(addr, "POST", "/api/v4/users", None, user2_body.clone()),
        403,
        "api.user.create_user.no_open_server",
    );
    let user2 = api(
        addr,
        "POST",
        "/api/v4/users",
        Some(&token1),
        user2_body.clone(),
    );
    assert_eq!(
        user2.status,
        201,
        "{}",
        String::from_utf8_lossy(&user2.body)
    );
    let user2 = user2.json();
    assert_eq!(user2["roles"], "system_user");
    assert_error(
        &api(addr, "POST", "/api/v4/users", Some(&token1), user2_body),
        400,
        "app.user.save.email_exists.app_error",
    );
    assert_error(
        &api(
            addr,
            "POST",
            "/api/v4/users",
            Some(&token1),
            json!({"email": "other@example.com", "username": "user2", "password": "user2-password"}),
        ),
        400,
        "app.user.save.username_exists.app_error",
    );
    assert_error(
        &api(
            addr,
            "POST",
            "/api/v4/users",
            Some(&token1),
            json!({"email": "short@example.com", "username": "short", "password": "1234567"}),
        ),
        400,
        "model.user.is_valid.pwd_min_length.app_error",
    );
    assert_error(
        &api(
            addr,
            "POST",
            "/api/v4/users",
            Some(&token1),
            json!({"email": "bad@example.com", "username": "bad name", "password": "long-enough"}),
        ),
        400,
        "model.user.is_valid.username.app_error",
    );
    assert_error(
        &api(
            addr,
            "POST",
            "/api/v4/users",
            Some(&token1),
            json!({"email": "not-an-address", "username": "bademail", "password": "long-enough"}),
        ),
        400,
        "model.user.is_valid.email.app_error",
    );
}

/// Adding user 2 to the team: the admin's socket sees the system message about it.
#[test]
fn a_new_team_member_is_announced_in_town_square() {
    let scene = Scene::new();
    let addr = scene.addr;
    let token1 = scene.token1.clone();
    let team_id = scene.team_id.clone();
    let team = &scene.team;
    let ts = &scene.ts;
    let mut ws1 = scene.ws1();
    let (user2, _) = scene.user("user2");
    let member = api(
        addr,
        "POST",
        &format!("/api/v4/teams/{team_id}/members"),
        Some(&token1),
        json!({"team_id": team_id, "user_id": user2["id"]}),
    );
    assert_eq!(
        member.status,
        201,
        "{}",
        String::from_utf8_lossy(&member.body)
    );
    let member = member.json();
    assert_eq!(member["team_id"], team["id"]);
    assert_eq!(member["user_id"], user2["id"]);
    assert_eq!(member["roles"], "team_user");
    let (added, _) =
        ws1.wait_for(|e| e["event"] == "posted" && posted_post(e)["type"] == "system_add_to_team");
    assert_eq!(posted_post(&added)["channel_id"], ts["id"]);
}

/// User 2 logs in and authenticates a socket with authentication_challenge; authenticated actions are acknowledged, unknown ones fail.
#[test]
fn a_websocket_authenticates_by_challenge_and_acknowledges_actions() {
    let scene = Scene::new();
    let addr = scene.addr;
    let town_square = scene.town_square.clone();
    let (user2, _) = scene.user("user2");
    scene.join(&user2);
    let (token2, me2) = login(addr, "user2", "user2-password");
    assert_eq!(me2["id"], user2["id"]);
    let mut ws2 = Ws::connect(addr, &[]);
    assert!(
        ws2.silent_for(Duration::from_millis(300)),
        "no hello before authenticating"
    );
    ws2.send(&json!({"seq": 1, "action": "authentication_challenge", "data": {"token": token2}}));
    let hello2 = ws2.next();
    assert_eq!(hello2["event"], "hello");
    assert_eq!(hello2["seq"], 0);
    assert_eq!(hello2["broadcast"]["user_id"], user2["id"]);
    assert_eq!(ws2.next(), json!({"status": "OK", "seq_reply": 1}));
    // Authenticated actions are acknowledged; unknown ones fail.
    ws2.send(&json!({"seq": 2, "action": "user_typing", "data": {"channel_id": town_square}}));
    assert_eq!(ws2.next(), json!({"status": "OK", "seq_reply": 2}));
    ws2.send(&json!({"seq": 3, "action": "no_such_action"}));
    let fail = ws2.next();
    assert_eq!(fail["status"], "FAIL");
    assert_eq!(fail["seq_reply"], 3);
    assert_eq!(
        fail["error"]["id"],
        "api.web_socket_router.bad_action.app_error"
    );
}

/// User 2 replies in the thread: both sockets see it; a reply must name an existing root post of the same channel.
#[test]
fn a_thread_reply_reaches_both_sockets_and_needs_a_root_in_the_channel() {
    let scene = Scene::new();
    let addr = scene.addr;
    let town_square = scene.town_square.clone();
    let Thread {
        user2,
        token2,
        mut ws1,
        mut ws2,
        root,
        root_id,
        ..
    } = Thread::new(&scene);
    let reply = api(
        addr,
        "POST",
        "/api/v4/posts",
        Some(&token2),
        json!({"channel_id": town_square, "message": "verify: reply", "root_id": root_id}),
    );
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let reply = reply.json();
    assert_eq!(reply["root_id"], root["id"]);
    assert_eq!(reply["user_id"], user2["id"]);
    for ws in [&mut ws1, &mut ws2] {
        let (event, _) =
            ws.wait_for(|e| e["event"] == "posted" && posted_post(e)["id"] == reply["id"]);
        assert_eq!(posted_post(&event)["root_id"], root["id"]);
        assert_eq!(event["data"]["sender_name"], "@user2");
    }
    // Replies must name an existing root post of the same channel.
    assert_error(
        &api(
            addr,
            "POST",
            "/api/v4/posts",
            Some(&token2),
            json!({"channel_id": town_square, "message": "x", "root_id": "a".repeat(26)}),
        ),
        400,
        "api.post.create_post.root_id.app_error",
    );
    assert_error(
        &api(
            addr,
            "POST",
            "/api/v4/posts",
            Some(&token2),
            json!({"channel_id": town_square, "message": "x", "root_id": reply["id"]}),
        ),
        400,
        "api.post.create_post.root_id.app_error",
    );
}

/// A user outside the team may not post there, nor read its channels, nor join it.
#[test]
fn an_outsider_may_not_post_read_or_join() {
    let scene = Scene::new();
    let addr = scene.addr;
    let token1 = scene.token1.clone();
    let town_square = scene.town_square.clone();
    let team_id = scene.team_id.clone();
    let user3 = api(
        addr,
        "POST",
        "/api/v4/users",
        Some(&token1),
        json!({"email": "user3@example.com", "username": "user3", "password": "user3-password"}),
    );
    assert_eq!(user3.status, 201);
    let (token3, _) = login(addr, "user3", "user3-password");
    assert_error(
        &api(
            addr,
            "POST",
            "/api/v4/posts",
            Some(&token3),
            json!({"channel_id": town_square, "message": "intruder"}),
        ),
        403,
        "api.context.permissions.app_error",
    );
    assert_error(
        &api(
            addr,
            "GET",
            &format!("/api/v4/teams/{team_id}/channels/name/town-square"),
            Some(&token3),
            Value::Null,
        ),
        403,
        "api.context.permissions.app_error",
    );
    assert_error(
        &api(
            addr,
            "POST",
            &format!("/api/v4/teams/{team_id}/members"),
            Some(&token3),
            json!({"team_id": team_id, "user_id": user3.json()["id"]}),
        ),
        403,
        "api.context.permissions.app_error",
    );
}

/// User 1 uploads a PNG (multipart) and attaches it to a reply: `posted` says image; the bytes come back; an attached file cannot be attached again.
#[test]
fn an_uploaded_png_attached_to_a_reply_comes_back_once() {
    let scene = Scene::new();
    let addr = scene.addr;
    let town_square = scene.town_square.clone();
    let bearer1 = scene.bearer1();
    let admin = &scene.admin;
    let ts = &scene.ts;
    let token1 = scene.token1.clone();
    let Thread {
        token2,
        mut ws1,
        mut ws2,
        root_id,
        ..
    } = Thread::new(&scene);
    let png = one_pixel_png([0, 128, 255]);
    let (content_type, body) = multipart(&[
        ("channel_id", None, None, town_square.as_bytes()),
        ("client_ids", None, None, b"client-1"),
        ("files", Some("pixel.png"), Some("image/png"), &png),
    ]);
    let upload = http(
        addr,
        "POST",
        "/api/v4/files",
        &[("Authorization", &bearer1), ("Content-Type", &content_type)],
        &body,
    );
    assert_eq!(
        upload.status,
        201,
        "{}",
        String::from_utf8_lossy(&upload.body)
    );
    let upload = upload.json();
    assert_eq!(upload["client_ids"], json!(["client-1"]));
    let info = &upload["file_infos"][0];
    let file_id = info["id"].as_str().unwrap().to_string();
    assert!(is_mattermost_id(&info["id"]));
    assert_eq!(info["user_id"], admin["id"]);
    assert_eq!(info["channel_id"], ts["id"]);
    assert_eq!(info["name"], "pixel.png");
    assert_eq!(info["extension"], "png");
    assert_eq!(info["size"], png.len());
    assert_eq!(info["mime_type"], "image/png");
    assert_eq!(info["width"], 1);
    assert_eq!(info["height"], 1);
    assert_eq!(info["has_preview_image"], true);
    assert!(info.get("post_id").is_none());

    let with_file = api(
        addr,
        "POST",
        "/api/v4/posts",
        Some(&token1),
        json!({"channel_id": town_square, "message": "verify: file", "root_id": root_id,
               "file_ids": [file_id]}),
    );
    assert_eq!(
        with_file.status,
        201,
        "{}",
        String::from_utf8_lossy(&with_file.body)
    );
    let with_file = with_file.json();
    assert_eq!(with_file["file_ids"], json!([file_id]));
    assert_eq!(with_file["metadata"]["files"][0]["id"], json!(file_id));
    assert_eq!(
        with_file["metadata"]["files"][0]["post_id"],
        with_file["id"]
    );
    for ws in [&mut ws1, &mut ws2] {
        let (event, _) =
            ws.wait_for(|e| e["event"] == "posted" && posted_post(e)["id"] == with_file["id"]);
        assert_eq!(event["data"]["image"], "true");
        assert_eq!(event["data"]["otherFile"], "true");
        assert_eq!(posted_post(&event)["file_ids"], json!([file_id]));
    }
    // The bytes come back; an attached file cannot be attached again (it is dropped).
    let download = http(
        addr,
        "GET",
        &format!("/api/v4/files/{file_id}"),
        &[("Authorization", &bearer1)],
        b"",
    );
    assert_eq!(download.status, 200);
    assert_eq!(download.body, png);
    assert_eq!(download.header("Content-Type"), Some("image/png"));
    let again = api(
        addr,
        "POST",
        "/api/v4/posts",
        Some(&token2),
        json!({"channel_id": town_square, "message": "steal", "file_ids": [file_id]}),
    );
    assert_eq!(again.status, 201);
    assert!(again.json().get("file_ids").is_none());
    assert_error(
        &http(
            addr,
            "GET",
            &format!("/api/v4/files/{}", "b".repeat(26)),
            &[("Authorization", &bearer1)],
            b"",
        ),
        404,
        "app.file_info.get.app_error",
    );
}

/// Files before channel_id (the server's buffered path) work too; client_ids must match.
#[test]
fn files_may_precede_channel_id_and_client_ids_must_match() {
    let scene = Scene::new();
    let addr = scene.addr;
    let town_square = scene.town_square.clone();
    let bearer1 = scene.bearer1();
    let png = one_pixel_png([0, 128, 255]);
    let (late_type, late_body) = multipart(&[
        ("files", Some("a.png"), None, &png),
        ("files", Some("b.png"), None, &png),
        ("channel_id", None, None, town_square.as_bytes()),
    ]);
    let late = http(
        addr,
        "POST",
        "/api/v4/files",
        &[("Authorization", &bearer1), ("Content-Type", &late_type)],
        &late_body,
    );
    assert_eq!(late.status, 201, "{}", String::from_utf8_lossy(&late.body));
    assert_eq!(late.json()["file_infos"].as_array().unwrap().len(), 2);
    let (mismatch_type, mismatch_body) = multipart(&[
        ("channel_id", None, None, town_square.as_bytes()),
        ("client_ids", None, None, b"only-one"),
        ("files", Some("a.png"), None, &png),
        ("files", Some("b.png"), None, &png),
    ]);
    assert_error(
        &http(
            addr,
            "POST",
            "/api/v4/files",
            &[
                ("Authorization", &bearer1),
                ("Content-Type", &mismatch_type),
            ],
            &mismatch_body,
        ),
        400,
        "api.file.upload_file.incorrect_number_of_client_ids.app_error",
    );
}

/// The raw-body upload form, the size limit, and a non-member's upload.
#[test]
fn a_raw_upload_works_within_the_size_limit_and_only_for_members() {
    let scene = Scene::new();
    let addr = scene.addr;
    let town_square = scene.town_square.clone();
    let bearer1 = scene.bearer1();
    let (_, token3) = scene.user("user3");
    let png = one_pixel_png([0, 128, 255]);
    let (content_type, body) = multipart(&[
        ("channel_id", None, None, town_square.as_bytes()),
        ("client_ids", None, None, b"client-1"),
        ("files", Some("pixel.png"), Some("image/png"), &png),
    ]);
    let raw = http(
        addr,
        "POST",
        &format!("/api/v4/files?channel_id={town_square}&filename=notes.txt"),
        &[("Authorization", &bearer1)],
        b"some notes",
    );
    assert_eq!(raw.status, 201, "{}", String::from_utf8_lossy(&raw.body));
    let raw = raw.json();
    assert_eq!(raw["file_infos"][0]["name"], "notes.txt");
    assert_eq!(
        raw["file_infos"][0]["mime_type"],
        "text/plain; charset=utf-8"
    );
    assert!(raw["file_infos"][0].get("width").is_none());
    assert_eq!(raw["client_ids"], json!([]));
    assert_error(
        &http(
            addr,
            "POST",
            &format!("/api/v4/files?channel_id={town_square}&filename=big.bin"),
            &[("Authorization", &bearer1)],
            &vec![0u8; 5000],
        ),
        413,
        "api.file.upload_file.too_large_detailed.app_error",
    );
    let bearer3 = format!("Bearer {token3}");
    assert_error(
        &http(
            addr,
            "POST",
            "/api/v4/files",
            &[("Authorization", &bearer3), ("Content-Type", &content_type)],
            &body,
        ),
        403,
        "api.context.permissions.app_error",
    );
}

/// Unauthenticated writes are refused; a cookie needs X-Requested-With (or the CSRF token); a websocket authenticates by the cookie.
#[test]
fn writes_need_a_session_and_a_cookie_needs_csrf_proof() {
    let scene = Scene::new();
    let addr = scene.addr;
    let town_square = scene.town_square.clone();
    let cookie = scene.cookie.clone();
    let csrf = scene.csrf.clone();
    assert_error(
        &api(
            addr,
            "POST",
            "/api/v4/posts",
            None,
            json!({"channel_id": town_square, "message": "anonymous"}),
        ),
        401,
        "api.context.session_expired.app_error",
    );
    let cookie_post = json!({"channel_id": town_square, "message": "by cookie"})
        .to_string()
        .into_bytes();
    let refused = http(
        addr,
        "POST",
        "/api/v4/posts",
        &[("Cookie", &cookie)],
        &cookie_post,
    );
    assert_error(&refused, 401, "api.context.session_expired.app_error");
    for header in [
        ("X-Requested-With", "XMLHttpRequest"),
        ("X-CSRF-Token", csrf.as_str()),
    ] {
        let accepted = http(
            addr,
            "POST",
            "/api/v4/posts",
            &[("Cookie", &cookie), header],
            &cookie_post,
        );
        assert_eq!(accepted.status, 201, "{header:?}");
    }
    // A websocket authenticated by the cookie.
    let mut ws_cookie = Ws::connect(addr, &[("Cookie", &cookie)]);
    assert_eq!(ws_cookie.next()["event"], "hello");
}

/// Deactivating user 2 ends its session and its logins.
#[test]
fn a_deactivated_user_loses_its_session_and_login() {
    let scene = Scene::new();
    let addr = scene.addr;
    let token1 = scene.token1.clone();
    let (user2, token2) = scene.user("user2");
    let deleted = api(
        addr,
        "DELETE",
        &format!("/api/v4/users/{}", user2["id"].as_str().unwrap()),
        Some(&token1),
        Value::Null,
    );
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json(), json!({"status": "OK"}));
    assert_error(
        &api(addr, "GET", "/api/v4/users/me", Some(&token2), Value::Null),
        401,
        "api.context.session_expired.app_error",
    );
    assert_error(
        &api(
            addr,
            "POST",
            "/api/v4/users/login",
            None,
            json!({"login_id": "user2", "password": "user2-password"}),
        ),
        401,
        "api.user.login.inactive.app_error",
    );
}

/// Users may not deactivate themselves by default.
#[test]
fn users_may_not_deactivate_themselves() {
    let scene = Scene::new();
    let addr = scene.addr;
    let (_, token3) = scene.user("user3");
    assert_error(
        &api(
            addr,
            "DELETE",
            "/api/v4/users/me",
            Some(&token3),
            Value::Null,
        ),
        401,
        "api.user.update_active.not_enable.app_error",
    );
}

/// Permanent deletion is off by default (ServiceSettings.EnableAPITeamDeletion) and the real server refuses it; a non-member may not archive the team, the admin may, and its socket is told.
#[test]
fn a_team_is_archived_not_deleted_and_its_socket_told() {
    let scene = Scene::new();
    let addr = scene.addr;
    let team_id = scene.team_id.clone();
    let token1 = scene.token1.clone();
    let (_, token3) = scene.user("user3");
    let mut ws1 = scene.ws1();
    let mut anonymous = Ws::connect(addr, &[]);
    let permanent = api(
        addr,
        "DELETE",
        &format!("/api/v4/teams/{team_id}?permanent=true"),
        Some(&token1),
        Value::Null,
    );
    assert_error(
        &permanent,
        401,
        "api.user.delete_team.not_enabled.app_error",
    );
    assert_error(
        &api(
            addr,
            "DELETE",
            &format!("/api/v4/teams/{team_id}"),
            Some(&token3),
            Value::Null,
        ),
        403,
        "api.context.permissions.app_error",
    );
    let archived = api(
        addr,
        "DELETE",
        &format!("/api/v4/teams/{team_id}"),
        Some(&token1),
        Value::Null,
    );
    assert_eq!(archived.status, 200);
    assert_eq!(archived.json(), json!({"status": "OK"}));
    let (deleted_team, _) = ws1.wait_for(|e| e["event"] == "delete_team");
    let team_json: Value =
        serde_json::from_str(deleted_team["data"]["team"].as_str().unwrap()).unwrap();
    assert!(team_json["delete_at"].as_i64().unwrap() > 0);
    assert!(anonymous.silent_for(Duration::from_millis(100)));
    // The admin is still logged in.
    assert_eq!(
        api(addr, "GET", "/api/v4/users/me", Some(&token1), Value::Null).status,
        200
    );
}

#[test]
fn permanent_deletion_and_the_first_user_rule() {
    let server = Server::start(json!({
        "ServiceSettings": {"EnableAPITeamDeletion": true, "EnableAPIUserDeletion": true}
    }));
    let addr = server.addr;
    let signup = api(
        addr,
        "POST",
        "/api/v4/users",
        None,
        json!({"email": "a@example.com", "username": "first", "password": "first-password"}),
    );
    assert_eq!(signup.status, 201);
    let (token, admin) = login(addr, "first", "first-password");
    let team = api(
        addr,
        "POST",
        "/api/v4/teams",
        Some(&token),
        json!({"name": "gone", "display_name": "Gone", "type": "I"}),
    )
    .json();
    let team_id = team["id"].as_str().unwrap();
    assert_eq!(team["type"], "I");
    let gone = api(
        addr,
        "DELETE",
        &format!("/api/v4/teams/{team_id}?permanent=true"),
        Some(&token),
        Value::Null,
    );
    assert_eq!(gone.status, 200);
    assert_eq!(gone.json(), json!({"status": "OK"}));
    // The name is free again, and the old channels are gone.
    assert_error(
        &api(
            addr,
            "GET",
            &format!("/api/v4/teams/{team_id}/channels/name/town-square"),
            Some(&token),
            Value::Null,
        ),
        404,
        "app.channel.get_by_name.missing.app_error",
    );
    let again = api(
        addr,
        "POST",
        "/api/v4/teams",
        Some(&token),
        json!({"name": "gone", "display_name": "Gone", "type": "O"}),
    );
    assert_eq!(again.status, 201);

    // The only user deactivates themself (an admin may): it still counts as an existing
    // account, so anonymous signup stays closed and nobody else becomes admin.
    let me = api(
        addr,
        "DELETE",
        "/api/v4/users/me",
        Some(&token),
        Value::Null,
    );
    assert_eq!(me.status, 200);
    assert_error(
        &api(
            addr,
            "POST",
            "/api/v4/users",
            None,
            json!({"email": "b@example.com", "username": "second", "password": "second-password"}),
        ),
        403,
        "api.user.create_user.no_open_server",
    );
    assert!(admin["roles"].as_str().unwrap().contains("system_admin"));
}

#[test]
fn open_server_allows_anonymous_signups() {
    let server = Server::start(json!({"TeamSettings": {"EnableOpenServer": true}}));
    let addr = server.addr;
    for (i, roles) in [(1, "system_admin system_user"), (2, "system_user")] {
        let signup = api(
            addr,
            "POST",
            "/api/v4/users",
            None,
            json!({"email": format!("u{i}@example.com"), "username": format!("u{i}"),
                   "password": "long-password"}),
        );
        assert_eq!(signup.status, 201);
        assert_eq!(signup.json()["roles"], roles);
    }
    // A regular user may create a team, and joins its default channels.
    let (token, _) = login(addr, "u2", "long-password");
    let team = api(
        addr,
        "POST",
        "/api/v4/teams",
        Some(&token),
        json!({"name": "u2-team", "display_name": "U2", "type": "O"}),
    );
    assert_eq!(team.status, 201);
    let ch = api(
        addr,
        "GET",
        "/api/v4/teams/name/u2-team/channels/name/off-topic",
        Some(&token),
        Value::Null,
    );
    assert_eq!(ch.status, 200);
    let post = api(
        addr,
        "POST",
        "/api/v4/posts",
        Some(&token),
        json!({"channel_id": ch.json()["id"], "message": "hello"}),
    );
    assert_eq!(post.status, 201);
}

#[test]
fn refuse_posts_refuses_every_post() {
    let server = Server::start_as(
        json!({"version": "11.10.1", "refuse_posts": true}),
        Value::Null,
    );
    let addr = server.addr;
    let signup = api(
        addr,
        "POST",
        "/api/v4/users",
        None,
        json!({"email": "a@example.com", "username": "a", "password": "long-password"}),
    );
    assert_eq!(signup.status, 201);
    let (token, _) = login(addr, "a", "long-password");
    let team = api(
        addr,
        "POST",
        "/api/v4/teams",
        Some(&token),
        json!({"name": "a-team", "display_name": "A", "type": "O"}),
    );
    assert_eq!(team.status, 201);
    let ch = api(
        addr,
        "GET",
        "/api/v4/teams/name/a-team/channels/name/town-square",
        Some(&token),
        Value::Null,
    );
    assert_eq!(ch.status, 200);
    let post = api(
        addr,
        "POST",
        "/api/v4/posts",
        Some(&token),
        json!({"channel_id": ch.json()["id"], "message": "hello"}),
    );
    assert_error(&post, 403, "api.context.permissions.app_error");
}
