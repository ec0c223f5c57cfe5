//! The HTTP server: shared state ([`App`]: settings, the in-memory [`Store`], the websocket
//! [`Hub`]), the accept loop with one thread per connection, dispatch through the [`Router`],
//! the headers every response carries, the web-app fallback for non-API paths, and the
//! websocket upgrade (with `hello` at once when the upgrade request was authenticated).

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::api;
use crate::database::{self, DataSource};
use crate::filestore;
use crate::http::{ReadError, Request, Response};
use crate::ids::new_id;
use crate::router::{Call, Found, Reply, Router};
use crate::settings::Settings;
use crate::store::{Audience, Outgoing, Store};
use crate::websocket::{self, Hub, accept_key};

/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a write to a websocket client may block before the connection is dropped.
const WEBSOCKET_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The web app's stand-in page.
const INDEX_HTML: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Mattermost</title></head><body><noscript>To use Mattermost, please enable JavaScript.\
</noscript><div id=\"root\"></div></body></html>\n";

/// State shared by every connection.
pub struct App {
    /// `X-Version-Id` and the hello's `server_version`.
    pub version_id: String,
    /// `server_hostname` in hello.
    pub hostname: String,
    /// The database checked at startup (re-checked by the deep ping).
    pub database: DataSource,
    /// The local file store directory.
    pub file_directory: PathBuf,
    /// The config.json settings the API consults.
    pub settings: Settings,
    /// `standin.json`'s `refuse_posts`: every new post is refused with 403.
    pub refuse_posts: bool,
    /// Users, teams, channels, posts and files, in memory.
    store: Mutex<Store>,
    /// Open websocket connections.
    pub hub: Hub,
    router: Router,
}

impl App {
    pub fn new(
        version_id: String,
        database: DataSource,
        file_directory: PathBuf,
        settings: Settings,
    ) -> App {
        App {
            version_id,
            hostname: "standin".to_string(),
            database,
            file_directory,
            settings,
            refuse_posts: false,
            store: Mutex::new(Store::default()),
            hub: Hub::default(),
            router: Router::new(api::routes()),
        }
    }

    /// The store, locked. Do not hold it while writing to sockets: collect [`Outgoing`] events
    /// and [`App::publish`] them after unlocking.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends each event to the authenticated connections of its audience.
    pub fn publish(&self, events: Vec<Outgoing>) {
        for out in events {
            self.hub
                .broadcast(&out.event, &|peer| match (&out.audience, peer.user()) {
                    (_, None) => false,
                    (Audience::All, Some(_)) => true,
                    (Audience::Users(ids), Some(user)) => ids.contains(&user),
                });
        }
    }

    /// One login to the database, without retries.
    pub fn database_healthy(&self) -> bool {
        database::check(&self.database, Duration::ZERO, &mut |_| {}).is_ok()
    }

    /// A write/delete probe of the file store.
    pub fn filestore_healthy(&self) -> bool {
        filestore::check(&self.file_directory).is_ok()
    }

    /// Routes one request.
    pub fn dispatch(&self, req: &Request, request_id: &str) -> Reply {
        match self.router.find(&req.method, &req.path) {
            Found::Route(route, params) => {
                let call = Call {
                    req,
                    params,
                    request_id,
                };
                (route.handler)(self, &call)
            }
            Found::MethodNotAllowed => Response::new(405).into(),
            Found::NotFound if req.path == "/api" || req.path.starts_with("/api/") => {
                api::not_found(&req.path, request_id).into()
            }
            Found::NotFound if req.method == "GET" || req.method == "HEAD" => {
                Response::html(200, INDEX_HTML).into()
            }
            Found::NotFound => Response::new(405).into(),
        }
    }

    /// Adds the headers every response carries.
    fn finish(&self, resp: Response, request_id: &str) -> Response {
        resp.with_header("X-Request-Id", request_id)
            .with_header("X-Version-Id", self.version_id.as_str())
    }
}

/// Accepts connections forever, one thread each.
pub fn run(listener: TcpListener, app: Arc<App>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let app = Arc::clone(&app);
        let spawned = std::thread::Builder::new()
            .name("conn".into())
            .spawn(move || handle(&app, stream));
        if let Err(e) = spawned {
            crate::logging::error(
                "cannot start a connection thread",
                &[("error", e.to_string().into())],
            );
        }
    }
}

fn handle(app: &App, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    let request_id = new_id();
    let req = match Request::read_from(&mut reader) {
        Ok(Some(req)) => req,
        Ok(None) | Err(ReadError::Io(_)) => return,
        Err(ReadError::Bad(status, msg)) => {
            let resp = app.finish(Response::text(status, msg), &request_id);
            let _ = resp.write_to(&mut writer, false);
            return;
        }
    };
    let head_only = req.method == "HEAD";
    match app.dispatch(&req, &request_id) {
        Reply::Response(resp) => {
            let _ = app
                .finish(resp, &request_id)
                .write_to(&mut writer, head_only);
        }
        Reply::WebSocket { key, user_id } => {
            upgrade(app, reader, writer, &key, user_id.as_deref(), &request_id)
        }
    }
}

/// Completes the handshake, registers the connection, says hello if the upgrade request was
/// authenticated, and serves it until it closes.
fn upgrade(
    app: &App,
    reader: BufReader<TcpStream>,
    mut writer: TcpStream,
    key: &str,
    user_id: Option<&str>,
    request_id: &str,
) {
    let resp = Response::new(101)
        .with_header("Upgrade", "websocket")
        .with_header("Connection", "Upgrade")
        .with_header("Sec-WebSocket-Accept", accept_key(key));
    if app
        .finish(resp, request_id)
        .write_to(&mut writer, false)
        .is_err()
    {
        return;
    }
    let _ = writer.flush();
    let _ = reader.get_ref().set_read_timeout(None);
    // A client that stops reading must not block the request threads that publish events.
    let _ = writer.set_write_timeout(Some(WEBSOCKET_WRITE_TIMEOUT));
    let connection_id = new_id();
    let peer = app.hub.register(connection_id.clone(), writer);
    let greeted = match user_id {
        Some(user_id) => api::websocket::authenticated(app, &peer, user_id).is_ok(),
        None => true,
    };
    if greeted {
        websocket::serve(&peer, reader, &mut |peer, text| {
            api::websocket::on_message(app, peer, text)
        });
    }
    app.hub.unregister(&connection_id);
}
