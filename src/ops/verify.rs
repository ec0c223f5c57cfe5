//! `mm-install verify`: the four manual install tests of Mattermost's Deployment Solutions
//! Program, automated against a live server over REST API v4 and the websocket, through the
//! site URL the way users reach it:
//!
//! 1. create user 1, use it to create a team and post in Town Square;
//! 2. create user 2, add it to the team, reply to user 1's post in the thread as user 2;
//! 3. as user 1, upload a generated PNG and reply with it attached;
//! 4. a websocket, opened as user 1 right after its login and held open for the whole run,
//!    receives the `posted` event of each of those posts (a websocket that does not get
//!    through is the red "Mattermost unreachable" bar of the manual test).
//!
//! On a server without accounts user 1 signs up anonymously and becomes the system admin (the
//! first account always does), then creates user 2 as admin. A server that already has accounts
//! refuses anonymous sign-up (403 `api.user.create_user.no_open_server`) unless it is an open
//! server: then an admin's token (`--admin-token`) creates both users. Afterwards the team is
//! archived and both users are deactivated (the API cannot delete them unless the admin enabled
//! it), unless `--keep`. The outcome is a [`VerifyReport`]; failures become [`VerifyError`] in
//! the CLI after the report is printed.

mod png;
mod rest;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use self::rest::{Api, Body};
use super::websocket::{self, Message, WebSocket, WsError};
use crate::context::Context;
use crate::exit::{Diagnostic, ExitCode};
use crate::fetch::tls::{self, TlsError};
use crate::report::Reporter;
use crate::site_url::{SiteUrl, SiteUrlError};
use crate::state::State;

/// The URL verified when neither `--url` nor the state file names one.
pub const DEFAULT_URL: &str = "http://localhost";
/// How long to wait for each `posted` event.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for `hello` after the handshake before sending the authentication challenge.
const HELLO_WAIT: Duration = Duration::from_secs(2);
/// How long the challenge may take to be answered.
const CHALLENGE_WAIT: Duration = Duration::from_secs(5);
/// Connecting, and each REST call as a whole.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The image attached in test 3.
const IMAGE_NAME: &str = "mm-install-verify.png";
const IMAGE_SIZE: (u32, u32) = (32, 32);
/// The error id of a refused anonymous sign-up on a server that already has accounts.
const NO_OPEN_SERVER: &str = "api.user.create_user.no_open_server";

/// What to verify and how.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// The site URL, e.g. `https://chat.example.com` (a subpath is allowed).
    pub url: String,
    /// Accept any TLS certificate (self-signed ones).
    pub insecure: bool,
    /// Trust the CA certificates in this PEM file besides the system store.
    pub ca_cert: Option<PathBuf>,
    /// Leave the test users and team in place.
    pub keep: bool,
    /// A system admin's personal access token or session token, to create the test users on a
    /// server that already has accounts.
    pub admin_token: Option<String>,
    /// How long to wait for each `posted` event.
    pub event_timeout: Duration,
}

impl VerifyOptions {
    pub fn new(url: impl Into<String>) -> Self {
        VerifyOptions {
            url: url.into(),
            insecure: false,
            ca_cert: None,
            keep: false,
            admin_token: None,
            event_timeout: EVENT_TIMEOUT,
        }
    }
}

/// The URL to verify when none is given: the site URL recorded at install, else
/// [`DEFAULT_URL`].
pub fn default_url(ctx: &Context) -> std::io::Result<String> {
    let state = State::load(ctx)?;
    Ok(state
        .current
        .map(|installation| installation.site_url)
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_string()))
}

/// Verification could not run, or some of the tests failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    InvalidUrl(#[from] SiteUrlError),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Trust(#[from] TlsError),
    #[error("cannot draw random names and passwords: {0}")]
    Random(String),
    #[error("install {} failed at {url}{}", numbers(failed), not_run_note(not_run))]
    Failed {
        url: String,
        /// The numbers of the tests that failed.
        failed: Vec<u8>,
        /// The numbers of the tests that could not run because an earlier one failed.
        not_run: Vec<u8>,
        /// Test 4 (the websocket) itself failed.
        websocket: bool,
        /// User 1's sign-up was refused because the server already has accounts.
        needs_admin_token: bool,
    },
}

/// " (tests 2 and 3 could not run)".
fn not_run_note(not_run: &[u8]) -> String {
    if not_run.is_empty() {
        String::new()
    } else {
        format!(" ({} could not run)", numbers(not_run))
    }
}

/// "test 4", "tests 1 and 3", "tests 1, 2 and 3".
fn numbers(failed: &[u8]) -> String {
    let list: Vec<String> = failed.iter().map(u8::to_string).collect();
    match list.as_slice() {
        [one] => format!("test {one}"),
        [init @ .., last] => format!("tests {} and {last}", init.join(", ")),
        [] => "tests".into(),
    }
}

impl Diagnostic for VerifyError {
    fn exit_code(&self) -> ExitCode {
        match self {
            VerifyError::InvalidUrl(err) => err.exit_code(),
            VerifyError::Trust(err) => err.exit_code(),
            VerifyError::Tls(_) | VerifyError::Random(_) | VerifyError::Failed { .. } => {
                ExitCode::Failure
            }
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            VerifyError::InvalidUrl(err) => err.hint(),
            VerifyError::Trust(err) => err.hint(),
            VerifyError::Tls(_) | VerifyError::Random(_) => None,
            VerifyError::Failed {
                websocket,
                needs_admin_token,
                ..
            } => {
                let mut hints = Vec::new();
                if *needs_admin_token {
                    hints.push(
                        "this server already has accounts: pass --admin-token TOKEN (or set \
                         MM_INSTALL_ADMIN_TOKEN), a personal access token or session token of a \
                         system admin"
                            .to_string(),
                    );
                }
                if *websocket {
                    hints.push(
                        "test 4 failing is the red \"Mattermost unreachable\" bar: every proxy in \
                         front of Mattermost must pass the websocket upgrade for /api/v4/websocket \
                         (nginx: `proxy_set_header Upgrade $http_upgrade;`, `proxy_set_header \
                         Connection \"upgrade\";`, `proxy_http_version 1.1;`)"
                            .to_string(),
                    );
                }
                hints.push(
                    "see docs/troubleshooting.md, `journalctl -u mattermost -u nginx` and \
                     /opt/mattermost/logs/mattermost.log"
                        .to_string(),
                );
                Some(hints.join("; "))
            }
        }
    }
}

/// How one test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    /// It could not run because an earlier test failed.
    NotRun,
}

/// One line of the checklist.
#[derive(Clone, Debug, Serialize)]
pub struct TestResult {
    pub number: u8,
    /// A short name: `websocket`, `image reply`, …
    pub name: &'static str,
    pub outcome: Outcome,
    /// What was done, or why it failed (the request, the HTTP status and an excerpt of the body).
    pub detail: String,
    /// The HTTP status of the failing request, if one answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
}

impl TestResult {
    /// `✓ 1. …` / `✗ 3. image reply: …`.
    pub fn line(&self) -> String {
        match self.outcome {
            Outcome::Passed if self.number == 4 => format!("✓ 4. websocket: {}", self.detail),
            Outcome::Passed => format!("✓ {}. {}", self.number, self.detail),
            Outcome::Failed | Outcome::NotRun => {
                format!("✗ {}. {}: {}", self.number, self.name, self.detail)
            }
        }
    }
}

/// A test account.
#[derive(Clone, Debug, Serialize)]
pub struct TestUser {
    pub username: String,
    pub id: String,
    pub system_admin: bool,
    /// Only with `--keep`: its password…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// …and its session token (usable as `--admin-token` when the user is a system admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// The test team.
#[derive(Clone, Debug, Serialize)]
pub struct TestTeam {
    pub name: String,
    pub id: String,
}

/// The outcome of a run.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub url: String,
    pub passed: bool,
    /// The server's `X-Version-Id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    pub tests: Vec<TestResult>,
    /// The team and users the run created (archived and deactivated afterwards unless `kept`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<TestTeam>,
    pub users: Vec<TestUser>,
    /// `--keep`: the team and users were left in place.
    pub kept: bool,
    /// Cleanup problems and other things worth knowing; they do not fail the run.
    pub warnings: Vec<String>,
    #[serde(skip)]
    needs_admin_token: bool,
}

impl VerifyReport {
    /// The checklist as printed: one line per test, then what `--keep` kept.
    pub fn checklist(&self) -> String {
        let mut lines: Vec<String> = self.tests.iter().map(TestResult::line).collect();
        if self.kept {
            if let Some(team) = &self.team {
                lines.push(format!("kept team {}", team.name));
            }
            for user in &self.users {
                lines.push(format!(
                    "kept user {}{} (password {})",
                    user.username,
                    if user.system_admin {
                        ", a system admin"
                    } else {
                        ""
                    },
                    user.password.as_deref().unwrap_or("unknown")
                ));
            }
        }
        lines.join("\n")
    }

    /// `Ok` if every test passed, else the [`VerifyError`] to exit with.
    pub fn result(&self) -> Result<(), VerifyError> {
        if self.passed {
            return Ok(());
        }
        Err(VerifyError::Failed {
            url: self.url.clone(),
            failed: self
                .tests
                .iter()
                .filter(|t| t.outcome == Outcome::Failed)
                .map(|t| t.number)
                .collect(),
            not_run: self
                .tests
                .iter()
                .filter(|t| t.outcome == Outcome::NotRun)
                .map(|t| t.number)
                .collect(),
            websocket: self
                .tests
                .iter()
                .any(|t| t.number == 4 && t.outcome == Outcome::Failed),
            needs_admin_token: self.needs_admin_token,
        })
    }
}

/// Run the four tests against `options.url`, then clean up (unless `--keep`). `Err` only when
/// nothing could be tried (an invalid URL, no TLS); failed tests are in the report.
pub fn run(options: &VerifyOptions, reporter: &dyn Reporter) -> Result<VerifyReport, VerifyError> {
    let site = SiteUrl::parse(&options.url)?;
    let trust = tls_config(options)?;
    let api = Api::new(&site, &trust)?;
    let tls = site.tls().then_some(trust);
    let id = hex::encode(random_bytes::<4>().map_err(|e| VerifyError::Random(e.to_string()))?);
    reporter.step(&format!(
        "verifying {} with test users and team mmverify-{id}",
        site.origin()
    ));
    let mut run = Run {
        options,
        reporter,
        site,
        tls,
        api,
        id,
        server_version: None,
        user1: None,
        user2: None,
        team: None,
        channel_id: None,
        root_id: None,
        posts: Vec::new(),
        socket: None,
        socket_error: None,
        needs_admin_token: false,
        warnings: Vec::new(),
    };
    let mut tests = Vec::new();
    let first = run.test_1();
    let first_passed = first.is_ok();
    tests.push(result(1, "user 1, team, post in Town Square", first));
    let second = if first_passed {
        run.test_2()
    } else {
        Err(Failure::not_run("test 1 failed"))
    };
    tests.push(result(2, "user 2 reply", second));
    let third = if first_passed {
        run.test_3()
    } else {
        Err(Failure::not_run("test 1 failed"))
    };
    tests.push(result(3, "image reply", third));
    tests.push(result(4, "websocket", run.test_4()));
    if let Some(socket) = run.socket.take() {
        socket.ws.close();
    }
    if !options.keep {
        run.clean_up();
    }
    let passed = tests.iter().all(|t| t.outcome == Outcome::Passed);
    let users = [&run.user1, &run.user2]
        .into_iter()
        .flatten()
        .map(|user| TestUser {
            username: user.username.clone(),
            id: user.id.clone(),
            system_admin: user.system_admin,
            password: options.keep.then(|| user.password.clone()),
            token: user.token.clone().filter(|_| options.keep),
        })
        .collect();
    Ok(VerifyReport {
        url: run.site.origin(),
        passed,
        server_version: run.server_version,
        tests,
        team: run.team.map(|(id, name)| TestTeam { name, id }),
        users,
        kept: options.keep,
        warnings: run.warnings,
        needs_admin_token: run.needs_admin_token,
    })
}

fn result(number: u8, name: &'static str, outcome: Result<String, Failure>) -> TestResult {
    match outcome {
        Ok(detail) => TestResult {
            number,
            name,
            outcome: Outcome::Passed,
            detail,
            http_status: None,
        },
        Err(failure) => TestResult {
            number,
            name,
            outcome: if failure.not_run {
                Outcome::NotRun
            } else {
                Outcome::Failed
            },
            detail: failure.message,
            http_status: failure.status,
        },
    }
}

/// Why a test did not pass.
#[derive(Debug)]
struct Failure {
    message: String,
    status: Option<u16>,
    /// The Mattermost error id of the answer (`api.…app_error`), if any.
    error_id: Option<String>,
    not_run: bool,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            status: None,
            error_id: None,
            not_run: false,
        }
    }

    fn not_run(why: &str) -> Self {
        Failure {
            not_run: true,
            ..Failure::new(format!("not run: {why}"))
        }
    }
}

/// A test account.
#[derive(Clone, Debug)]
struct Account {
    username: String,
    password: String,
    id: String,
    /// The session token once logged in.
    token: Option<String>,
    system_admin: bool,
}

impl Account {
    fn token(&self) -> &str {
        self.token.as_deref().unwrap_or_default()
    }
}

/// The websocket held open as user 1, and what arrived on it.
struct Socket {
    ws: WebSocket,
    events: Events,
}

/// What arrived on the websocket.
#[derive(Debug, Default)]
struct Events {
    /// Post id → whether the event said the post carries an image.
    posted: HashMap<String, bool>,
    hello: bool,
    /// The answer to the authentication challenge: `OK`, `FAIL`, …
    challenge_reply: Option<String>,
}

/// One post and whether its event arrived.
struct Posted {
    label: &'static str,
    arrived: bool,
}

/// One run's state.
struct Run<'a> {
    options: &'a VerifyOptions,
    reporter: &'a dyn Reporter,
    site: SiteUrl,
    tls: Option<Arc<rustls::ClientConfig>>,
    api: Api,
    /// The random part of every name: `mmverify-<id>`.
    id: String,
    server_version: Option<String>,
    user1: Option<Account>,
    user2: Option<Account>,
    /// The team's id and name.
    team: Option<(String, String)>,
    channel_id: Option<String>,
    /// User 1's post in Town Square, the root of the thread.
    root_id: Option<String>,
    posts: Vec<Posted>,
    socket: Option<Socket>,
    /// Why the websocket could not be opened or stopped working.
    socket_error: Option<String>,
    needs_admin_token: bool,
    warnings: Vec<String>,
}

impl Run<'_> {
    /// 1. Create user 1, log in, open the websocket, create a team, post in Town Square.
    fn test_1(&mut self) -> Result<String, Failure> {
        let ping = self
            .api
            .call("GET", "/api/v4/system/ping", None, Body::None)?;
        let answer = ping.expect(&[200])?;
        if answer["status"] != "OK" {
            return Err(Failure::new(format!(
                "GET /api/v4/system/ping answered {}: is this a Mattermost server?",
                excerpt(&ping.body)
            )));
        }
        self.server_version = ping.version_id.clone();
        let creator = self.options.admin_token.clone();
        if let Some(token) = &creator {
            self.check_admin_token(token)?;
        }
        let user = self.create_user(1, creator.as_deref())?;
        let user = self.log_in(user)?;
        let token = user.token().to_string();
        let admin = user.system_admin;
        self.user1 = Some(user);
        self.open_websocket(&token);

        let name = format!("mmverify-{}", self.id);
        self.reporter.step(&format!("creating team {name}"));
        let team = self
            .api
            .call(
                "POST",
                "/api/v4/teams",
                Some(&token),
                Body::Json(json!({
                    "name": name,
                    "display_name": format!("mm-install verify {}", self.id),
                    "type": "I",
                })),
            )?
            .expect(&[201])?;
        let team_id = string(&team, "id", "POST /api/v4/teams")?;
        self.team = Some((team_id.clone(), name.clone()));
        let path = format!("/api/v4/teams/{team_id}/channels/name/town-square");
        let channel = self
            .api
            .call("GET", &path, Some(&token), Body::None)?
            .expect(&[200])?;
        let channel_id = string(&channel, "id", &format!("GET {path}"))?;
        self.channel_id = Some(channel_id.clone());
        let post = self.post(
            &token,
            json!({
                "channel_id": channel_id,
                "message": format!("mm-install verify {}: test 1, a post in Town Square by user 1", self.id),
            }),
        )?;
        let post_id = string(&post, "id", "POST /api/v4/posts")?;
        self.await_posted("the post in Town Square", &post_id);
        self.root_id = Some(post_id);
        Ok(format!(
            "user 1 created{}, team created, posted in Town Square",
            if admin && self.options.admin_token.is_none() {
                " (the first account: a system admin)"
            } else {
                ""
            }
        ))
    }

    /// 2. Create user 2, add it to the team, reply in the thread as user 2.
    fn test_2(&mut self) -> Result<String, Failure> {
        let (user1_token, user1_admin) = match &self.user1 {
            Some(user) => (user.token().to_string(), user.system_admin),
            None => return Err(Failure::not_run("no user 1")),
        };
        // An admin creates user 2; without one (an open server) it signs up like user 1 did.
        let creator = self
            .options
            .admin_token
            .clone()
            .or_else(|| user1_admin.then(|| user1_token.clone()));
        let user = self.create_user(2, creator.as_deref())?;
        let user = self.log_in(user)?;
        let token = user.token().to_string();
        let user_id = user.id.clone();
        self.user2 = Some(user);
        let (team_id, _) = self.team.clone().unwrap_or_default();
        self.api
            .call(
                "POST",
                &format!("/api/v4/teams/{team_id}/members"),
                Some(&user1_token),
                Body::Json(json!({"team_id": team_id, "user_id": user_id})),
            )?
            .expect(&[201])?;
        let post = self.post(
            &token,
            json!({
                "channel_id": self.channel_id.clone().unwrap_or_default(),
                "message": format!("mm-install verify {}: test 2, a reply by user 2", self.id),
                "root_id": self.root_id.clone().unwrap_or_default(),
            }),
        )?;
        let post_id = string(&post, "id", "POST /api/v4/posts")?;
        self.await_posted("user 2's reply", &post_id);
        Ok("user 2 created, added to the team, replied in the thread".into())
    }

    /// 3. As user 1, upload a PNG and reply in the thread with it attached.
    fn test_3(&mut self) -> Result<String, Failure> {
        let token = match &self.user1 {
            Some(user) => user.token().to_string(),
            None => return Err(Failure::not_run("no user 1")),
        };
        let channel_id = self.channel_id.clone().unwrap_or_default();
        let image = png::gradient(IMAGE_SIZE.0, IMAGE_SIZE.1)
            .map_err(|e| Failure::new(format!("cannot make the test image: {e}")))?;
        self.reporter
            .step(&format!("uploading {IMAGE_NAME} ({} bytes)", image.len()));
        let boundary = format!(
            "mm-install-{}",
            hex::encode(random_bytes::<12>().map_err(|e| Failure::new(e.to_string()))?)
        );
        // channel_id before the file, so the server can stream the upload.
        let mut form = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"channel_id\"\r\n\r\n{channel_id}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{IMAGE_NAME}\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .into_bytes();
        form.extend_from_slice(&image);
        form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let uploaded = self
            .api
            .call(
                "POST",
                "/api/v4/files",
                Some(&token),
                Body::Multipart { boundary, form },
            )?
            .expect(&[201])?;
        let file_id = uploaded["file_infos"][0]["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                Failure::new(format!(
                    "POST /api/v4/files answered without a file id: {}",
                    excerpt(&uploaded.to_string())
                ))
            })?
            .to_string();
        let post = self.post(
            &token,
            json!({
                "channel_id": channel_id,
                "message": format!("mm-install verify {}: test 3, a reply with an image by user 1", self.id),
                "root_id": self.root_id.clone().unwrap_or_default(),
                "file_ids": [file_id],
            }),
        )?;
        let post_id = string(&post, "id", "POST /api/v4/posts")?;
        let attached = post["file_ids"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|id| id == file_id.as_str()));
        self.await_posted("the image reply", &post_id);
        let not_an_image = self
            .socket
            .as_ref()
            .is_some_and(|s| s.events.posted.get(&post_id) == Some(&false));
        if attached && not_an_image {
            self.warn(format!(
                "the `posted` event of the image reply does not mark it as an image; the server \
                 did not recognise {IMAGE_NAME} as a PNG"
            ));
        }
        if !attached {
            return Err(Failure::new(format!(
                "the reply was posted without its image: the server dropped file id {file_id} \
                 (its file_ids are {})",
                post["file_ids"]
            )));
        }
        Ok("user 1 replied in the thread with an image attached".into())
    }

    /// 4. Every post's `posted` event arrived on user 1's websocket, which is still open.
    fn test_4(&mut self) -> Result<String, Failure> {
        let url = self.site.websocket_url();
        if let Some(why) = &self.socket_error {
            return Err(Failure::new(why.clone()));
        }
        let Some(socket) = self.socket.as_mut() else {
            return Err(Failure::not_run("no user to open it as"));
        };
        if self.posts.is_empty() {
            return Err(Failure::not_run(&format!(
                "{url} is open and authenticated, but no post was made to wait for"
            )));
        }
        let missing: Vec<&str> = self
            .posts
            .iter()
            .filter(|p| !p.arrived)
            .map(|p| p.label)
            .collect();
        if !missing.is_empty() {
            return Err(Failure::new(format!(
                "no `posted` event on {url} within {} s for {} (users would see posts only \
                 after reloading)",
                self.options.event_timeout.as_secs(),
                missing.join(", ")
            )));
        }
        // Still open at the end: a ping is answered.
        let alive = socket.ws.ping(b"mm-install verify").and_then(|()| {
            let deadline = Instant::now() + CHALLENGE_WAIT;
            loop {
                match socket.ws.receive(deadline)? {
                    Some(Message::Pong(_)) => return Ok(true),
                    Some(Message::Text(text)) => socket.events.on_text(&text),
                    Some(Message::Binary(_)) => {}
                    None => return Ok(false),
                }
            }
        });
        match alive {
            Ok(true) => Ok(format!(
                "{} (no \"Mattermost unreachable\" bar)",
                match self.posts.len() {
                    1 => "the posted event arrived".to_string(),
                    2 => "both posted events arrived".to_string(),
                    n => format!("all {n} posted events arrived"),
                }
            )),
            Ok(false) => Err(Failure::new(format!(
                "{url} stopped answering pings by the end of the run"
            ))),
            Err(e) => Err(Failure::new(format!(
                "{url} did not stay open for the whole run: {e}"
            ))),
        }
    }

    /// `--admin-token` must be a live session of a system admin: the server would otherwise
    /// treat the sign-ups as anonymous and refuse them.
    fn check_admin_token(&self, token: &str) -> Result<(), Failure> {
        let me = self
            .api
            .call("GET", "/api/v4/users/me", Some(token), Body::None)?
            .expect(&[200])
            .map_err(|failure| Failure {
                message: format!("--admin-token is not accepted: {}", failure.message),
                ..failure
            })?;
        let admin = me["roles"]
            .as_str()
            .is_some_and(|roles| roles.split_whitespace().any(|r| r == "system_admin"));
        if admin {
            return Ok(());
        }
        Err(Failure::new(format!(
            "--admin-token belongs to {}, who is not a system admin (roles: {})",
            me["username"].as_str().unwrap_or("a user"),
            me["roles"].as_str().unwrap_or("none")
        )))
    }

    /// Sign user `n` up (anonymously, or with `creator`'s token).
    fn create_user(&mut self, n: u8, creator: Option<&str>) -> Result<Account, Failure> {
        let username = format!("mmverify-{}-{n}", self.id);
        let password = password().map_err(|e| Failure::new(e.to_string()))?;
        self.reporter.step(&format!("creating user {n} {username}"));
        let answer = self.api.call(
            "POST",
            "/api/v4/users",
            creator,
            Body::Json(json!({
                "email": format!("{username}@mm-install.invalid"),
                "username": username,
                "password": password,
            })),
        )?;
        let user = match answer.expect(&[201]) {
            Ok(user) => user,
            Err(failure)
                if failure.error_id.as_deref() == Some(NO_OPEN_SERVER) && creator.is_none() =>
            {
                self.needs_admin_token = true;
                return Err(Failure {
                    message: format!(
                        "this server already has accounts and refuses anonymous sign-up \
                         (POST /api/v4/users answered 403 {NO_OPEN_SERVER}): pass --admin-token \
                         TOKEN, a personal access token or session token of a system admin"
                    ),
                    ..failure
                });
            }
            Err(failure) => return Err(failure),
        };
        let id = string(&user, "id", "POST /api/v4/users")?;
        let system_admin = user["roles"]
            .as_str()
            .is_some_and(|roles| roles.split_whitespace().any(|r| r == "system_admin"));
        let account = Account {
            username,
            password,
            id,
            token: None,
            system_admin,
        };
        // Remember it at once, so that cleanup finds it even if the login fails.
        match n {
            1 => self.user1 = Some(account.clone()),
            _ => self.user2 = Some(account.clone()),
        }
        Ok(account)
    }

    /// Log `user` in; its session token comes in the `Token` header.
    fn log_in(&mut self, mut user: Account) -> Result<Account, Failure> {
        let answer = self.api.call(
            "POST",
            "/api/v4/users/login",
            None,
            Body::Json(json!({"login_id": user.username, "password": user.password})),
        )?;
        answer.expect(&[200, 201])?;
        match answer.token.filter(|t| !t.is_empty()) {
            Some(token) => {
                user.token = Some(token);
                Ok(user)
            }
            None => Err(Failure::new(
                "POST /api/v4/users/login answered without a Token header",
            )),
        }
    }

    /// `POST /api/v4/posts` as `token`.
    fn post(&self, token: &str, body: Value) -> Result<Value, Failure> {
        self.api
            .call("POST", "/api/v4/posts", Some(token), Body::Json(body))?
            .expect(&[201])
    }

    /// Open the websocket as user 1 through the site URL and authenticate: the token on the
    /// handshake, or (if no `hello` comes) the authentication challenge. Failures are kept for
    /// test 4; the other tests go on.
    fn open_websocket(&mut self, token: &str) {
        let url = self.site.websocket_url();
        self.reporter
            .step(&format!("opening the websocket {url} as user 1"));
        let request = websocket::Request {
            host: &self.site.host(),
            port: self.site.port(),
            connect_to: None,
            host_header: &self.site.authority(),
            path: "/api/v4/websocket",
            tls: self.tls.clone(),
            headers: vec![
                ("Authorization".into(), format!("Bearer {token}")),
                ("Origin".into(), self.site.origin()),
                (
                    "User-Agent".into(),
                    concat!("mm-install/", env!("CARGO_PKG_VERSION")).into(),
                ),
            ],
            timeout: CONNECT_TIMEOUT,
        };
        let ws = match WebSocket::connect(&request) {
            Ok(ws) => ws,
            Err(e) => {
                let advice = match e {
                    WsError::NotUpgraded { .. } | WsError::BadHandshake(_) => {
                        "; the proxy does not pass the websocket upgrade (the `Upgrade` and \
                         `Connection` headers), which users see as the red \"Mattermost \
                         unreachable\" bar"
                    }
                    _ => "",
                };
                self.socket_error = Some(format!("{url}: {e}{advice}"));
                return;
            }
        };
        let mut socket = Socket {
            ws,
            events: Events::default(),
        };
        let outcome = socket
            .wait(Instant::now() + HELLO_WAIT, |e| e.hello)
            .and_then(|hello| {
                if hello {
                    return Ok(true);
                }
                self.reporter
                    .step("no hello yet: sending the authentication challenge");
                let challenge = json!({
                    "seq": 1,
                    "action": "authentication_challenge",
                    "data": {"token": token},
                });
                socket.ws.send_text(&challenge.to_string())?;
                socket.wait(Instant::now() + CHALLENGE_WAIT, |e| {
                    e.hello && e.challenge_reply.is_some()
                })
            });
        match outcome {
            Ok(true)
                if socket
                    .events
                    .challenge_reply
                    .as_deref()
                    .is_none_or(|s| s == "OK") =>
            {
                self.socket = Some(socket);
            }
            Ok(true) => {
                self.socket_error = Some(format!(
                    "{url}: the authentication challenge was answered {}",
                    socket.events.challenge_reply.unwrap_or_default()
                ));
            }
            Ok(false) => {
                self.socket_error = Some(format!(
                    "{url}: opened, but the server never said hello (not authenticated)"
                ));
            }
            Err(WsError::Closed(detail)) => {
                self.socket_error = Some(format!(
                    "{url}: the server closed the websocket before authenticating it{detail} \
                     (it refused the token)"
                ));
            }
            Err(e) => self.socket_error = Some(format!("{url}: {e}")),
        }
    }

    /// Wait up to the event timeout for the `posted` event of `post_id`.
    fn await_posted(&mut self, label: &'static str, post_id: &str) {
        let timeout = self.options.event_timeout;
        let mut arrived = false;
        if let Some(socket) = self.socket.as_mut() {
            let deadline = Instant::now() + timeout;
            match socket.wait(deadline, |e| e.posted.contains_key(post_id)) {
                Ok(seen) => arrived = seen,
                Err(e) => {
                    self.socket_error = Some(format!(
                        "{} closed during the run: {e}",
                        self.site.websocket_url()
                    ));
                    self.socket = None;
                }
            }
        }
        if arrived {
            self.reporter
                .step(&format!("the websocket delivered {label}"));
        }
        self.posts.push(Posted { label, arrived });
    }

    /// Archive the team, deactivate user 2 then user 1. Problems are warnings.
    fn clean_up(&mut self) {
        let admin = self.options.admin_token.clone();
        let user1 = self.user1.clone();
        let user1_admin_token = user1
            .as_ref()
            .filter(|u| u.system_admin && u.token.is_some())
            .map(|u| u.token().to_string());
        if let Some((team_id, name)) = self.team.clone() {
            let token = admin
                .clone()
                .or_else(|| user1.as_ref().map(|u| u.token().to_string()));
            self.reporter.step(&format!("archiving team {name}"));
            let path = format!("/api/v4/teams/{team_id}");
            if let Err(failure) = self
                .api
                .call("DELETE", &path, token.as_deref(), Body::None)
                .and_then(|answer| answer.expect(&[200]))
            {
                self.warn(format!(
                    "cannot archive the test team {name}: {}; archive it in the System Console \
                     (User Management > Teams)",
                    failure.message
                ));
            }
        }
        let mut user1_deactivated = false;
        for (user, token) in [
            (
                self.user2.clone(),
                admin.clone().or(user1_admin_token.clone()),
            ),
            (user1.clone(), admin.clone()),
        ] {
            let Some(user) = user else { continue };
            // Without an admin, a user deactivates itself (allowed for admins, and for others
            // only with TeamSettings.EnableUserDeactivation).
            let token = token.or_else(|| user.token.clone());
            self.reporter
                .step(&format!("deactivating user {}", user.username));
            let path = format!("/api/v4/users/{}", user.id);
            match self
                .api
                .call("DELETE", &path, token.as_deref(), Body::None)
                .and_then(|answer| answer.expect(&[200]))
            {
                Ok(_) => user1_deactivated |= user1.as_ref().is_some_and(|u| u.id == user.id),
                Err(failure) => {
                    self.warn(format!(
                        "cannot deactivate the test user {}: {}; deactivate it in the System \
                         Console (User Management > Users)",
                        user.username, failure.message
                    ));
                    if let Some(token) = &user.token {
                        // At least end its session.
                        let _ =
                            self.api
                                .call("POST", "/api/v4/users/logout", Some(token), Body::None);
                    }
                }
            }
        }
        if user1_deactivated && admin.is_none() && user1.as_ref().is_some_and(|u| u.system_admin) {
            self.warn(
                "user 1 was this server's first account, which is always a system admin; \
                 deactivated accounts still count, so sign-up no longer makes anyone an admin: \
                 create your admin with `mmctl --local user create --system-admin …` (needs \
                 ServiceSettings.EnableLocalMode), and next time create it before verifying and \
                 pass --admin-token"
                    .to_string(),
            );
        }
    }

    fn warn(&mut self, message: String) {
        self.reporter.warn(&message);
        self.warnings.push(message);
    }
}

impl Socket {
    /// Read messages until `done` holds (`true`) or `deadline` passes (`false`).
    fn wait(&mut self, deadline: Instant, done: impl Fn(&Events) -> bool) -> Result<bool, WsError> {
        loop {
            if done(&self.events) {
                return Ok(true);
            }
            match self.ws.receive(deadline)? {
                Some(Message::Text(text)) => self.events.on_text(&text),
                Some(Message::Binary(_) | Message::Pong(_)) => {}
                None => return Ok(done(&self.events)),
            }
        }
    }
}

impl Events {
    /// Note `hello`, the challenge's reply and `posted` events; ignore everything else
    /// (`new_user`, `added_to_team`, system posts are `posted` too but match no id of ours).
    fn on_text(&mut self, text: &str) {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return;
        };
        if message.get("seq_reply").is_some() {
            self.challenge_reply = Some(
                message["status"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| excerpt(text)),
            );
            return;
        }
        match message["event"].as_str() {
            Some("hello") => self.hello = true,
            Some("posted") => {
                // The post is a JSON document inside a string.
                let post = message["data"]["post"]
                    .as_str()
                    .and_then(|text| serde_json::from_str::<Value>(text).ok());
                if let Some(id) = post.as_ref().and_then(|p| p["id"].as_str()) {
                    let image = message["data"]["image"] == "true";
                    self.posted.insert(id.to_string(), image);
                }
            }
            _ => {}
        }
    }
}

/// The JSON string field `key` of `value`, or a failure naming the call.
fn string(value: &Value, key: &str, call: &str) -> Result<String, Failure> {
    value[key]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            Failure::new(format!(
                "{call} answered without {key:?}: {}",
                excerpt(&value.to_string())
            ))
        })
}

/// The start of a response body for a message: trimmed, at most 120 characters.
pub(crate) fn excerpt(text: &str) -> String {
    const LIMIT: usize = 120;
    let text = text.trim();
    let mut out: String = text.chars().take(LIMIT).collect();
    if text.chars().count() > LIMIT {
        out.push('…');
    }
    out.replace(['\r', '\n'], " ")
}

fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes)
}

/// A strong random password that satisfies every `PasswordSettings` rule: 24 random letters and
/// digits (about 140 bits), then a symbol, an upper-case and a lower-case letter and a digit.
fn password() -> std::io::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let random: String = random_bytes::<24>()?
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    Ok(format!("{random}!Ka7"))
}

/// The TLS configuration of the REST calls and the websocket: the tool's trust (the system
/// store and `--ca-cert`), or any certificate with `--insecure`.
fn tls_config(options: &VerifyOptions) -> Result<Arc<rustls::ClientConfig>, VerifyError> {
    if options.insecure {
        return super::health::any_certificate_config()
            .map_err(|e| VerifyError::Tls(e.to_string()));
    }
    Ok(Arc::new(tls::client_config(options.ca_cert.as_deref())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_random_and_meet_every_rule() {
        let (a, b) = (password().unwrap(), password().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 28);
        assert!(a.chars().any(|c| c.is_ascii_uppercase()));
        assert!(a.chars().any(|c| c.is_ascii_lowercase()));
        assert!(a.chars().any(|c| c.is_ascii_digit()));
        assert!(a.chars().any(|c| c.is_ascii_punctuation()));
    }

    #[test]
    fn checklist_lines_and_the_error() {
        let report = VerifyReport {
            url: "http://chat.example.com".into(),
            passed: false,
            server_version: None,
            tests: vec![
                result(
                    1,
                    "user 1, team, post in Town Square",
                    Ok("user 1 created, team created, posted in Town Square".into()),
                ),
                result(2, "user 2 reply", Err(Failure::not_run("test 1 failed"))),
                result(
                    3,
                    "image reply",
                    Err(Failure::new("POST /api/v4/files answered 413")),
                ),
                result(
                    4,
                    "websocket",
                    Ok("all 3 posted events arrived (no \"Mattermost unreachable\" bar)".into()),
                ),
            ],
            team: None,
            users: Vec::new(),
            kept: false,
            warnings: Vec::new(),
            needs_admin_token: false,
        };
        assert_eq!(
            report.checklist(),
            "✓ 1. user 1 created, team created, posted in Town Square\n\
             ✗ 2. user 2 reply: not run: test 1 failed\n\
             ✗ 3. image reply: POST /api/v4/files answered 413\n\
             ✓ 4. websocket: all 3 posted events arrived (no \"Mattermost unreachable\" bar)"
        );
        let err = report.result().unwrap_err();
        assert_eq!(
            err.to_string(),
            "install test 3 failed at http://chat.example.com (test 2 could not run)"
        );
        assert_eq!(err.exit_code(), ExitCode::Failure);
        let hint = err.hint().unwrap();
        assert!(hint.contains("docs/troubleshooting.md"), "{hint}");
        assert!(!hint.contains("Upgrade"), "{hint}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["tests"][1]["outcome"], "not_run");
        assert_eq!(json["tests"][0]["outcome"], "passed");
    }

    #[test]
    fn events_hello_and_the_challenge_reply_in_either_order() {
        let mut events = Events::default();
        events.on_text(r#"{"status":"OK","seq_reply":1}"#);
        assert_eq!(events.challenge_reply.as_deref(), Some("OK"));
        assert!(!events.hello);
        events.on_text(r#"{"event":"hello","data":{"server_version":"11.10.1"},"seq":0}"#);
        assert!(events.hello);
        // The post is JSON inside a string; other events and junk are ignored.
        let posted = |id: &str, image: bool| {
            let mut data = json!({"post": json!({"id": id, "message": "m"}).to_string()});
            if image {
                data["image"] = json!("true");
                data["otherFile"] = json!("true");
            }
            json!({"event": "posted", "data": data, "broadcast": {"channel_id": "c"}, "seq": 2})
                .to_string()
        };
        events.on_text(&posted("abc", false));
        events.on_text(&posted("img", true));
        events.on_text(r#"{"event":"new_user","data":{"user_id":"u"},"seq":3}"#);
        events.on_text(r#"{"event":"posted","data":{"post":"not json"},"seq":4}"#);
        events.on_text("not json at all");
        assert_eq!(events.posted.len(), 2);
        assert_eq!(events.posted.get("abc"), Some(&false));
        assert_eq!(events.posted.get("img"), Some(&true));
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(numbers(&[4]), "test 4");
        assert_eq!(numbers(&[1, 3]), "tests 1 and 3");
        assert_eq!(numbers(&[1, 2, 3, 4]), "tests 1, 2, 3 and 4");
    }
}
