//! End-to-end tests of the `mm-standin` binary: each test installs a copy of it as
//! `<tmp>/bin/mattermost` with its own `standin.json`, runs it from `<tmp>` like systemd would
//! (WorkingDirectory=/opt/mattermost), and talks to it over loopback.

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use tungstenite::Message;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

#[test]
fn version_prints_like_mattermost_version() {
    let install = Install::new(Some(identity("11.10.1")));
    let out = install.run(&["version"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Version: 11.10.1\nBuild Number: 11.10.1\nBuild Date: Wed Jan 15 00:00:00 UTC 2025\n\
         Build Hash: standin\nBuild Enterprise Ready: true\n"
    );
    // `version` needs no config, database or log directory.
    assert!(!install.path().join("logs").exists());
}

#[test]
fn missing_or_broken_standin_json_exits_2() {
    let install = Install::new(None);
    for args in [&["version"][..], &[][..]] {
        let out = install.run(args, &[]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("standin.json"));
    }
    fs_err::write(
        install.path().join("bin/standin.json"),
        "{\"verison\":\"1\"}",
    )
    .unwrap();
    let out = install.run(&["version"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("verison"));
}

#[test]
fn serves_ping_web_app_and_websocket_then_stops_on_sigterm() {
    let pg = FakePostgres::md5();
    let install = Install::new(Some(identity("11.10.1")));
    install.write_config(&config("127.0.0.1:0", &pg.data_source()));
    let notify_path = install.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let server = install.spawn(&[], &[("NOTIFY_SOCKET", notify_path.to_str().unwrap())]);
    let addr = server.wait_listening(Duration::from_secs(20));
    let version_id = "11.10.1.11.10.1.standinhash.false";

    // systemd readiness.
    let mut buf = [0u8; 64];
    let n = notify.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");

    // The startup database check sent a StartupMessage for the configured role and database.
    let startup = pg.startups.lock().unwrap()[0].clone();
    let text = String::from_utf8_lossy(&startup);
    assert!(
        text.contains("user\0mmuser\0database\0mattermost\0"),
        "{text:?}"
    );
    // The file store exists and the probe is gone; the log says the server started.
    let data = install.path().join("data");
    assert!(data.is_dir());
    assert_eq!(fs_err::read_dir(&data).unwrap().count(), 0);
    let log = install.log();
    let first: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(first["msg"], "Server is starting");
    assert_eq!(first["version"], "11.10.1");

    // Ping.
    let ping = get(addr, "/api/v4/system/ping");
    assert_eq!(ping.status, 200);
    assert_eq!(ping.header("Content-Type"), Some("application/json"));
    assert_eq!(ping.header("X-Version-Id"), Some(version_id));
    assert_eq!(ping.header("X-Request-Id").map(str::len), Some(26));
    assert_eq!(ping.header("Connection"), Some("close"));
    assert_eq!(
        ping.json(),
        json!({"status": "OK", "ActiveSearchBackend": "database"})
    );
    let deep = get(addr, "/api/v4/system/ping?get_server_status=true");
    assert_eq!(deep.status, 200);
    assert_eq!(deep.json()["database_status"], "OK");
    assert_eq!(deep.json()["filestore_status"], "OK");
    assert_eq!(deep.json()["status"], "OK");

    // The web app, for `/` and any other non-API path, also for HEAD.
    for path in ["/", "/login", "/team/channels/town-square"] {
        let page = get(addr, path);
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.header("Content-Type")
                .unwrap()
                .starts_with("text/html")
        );
        assert!(String::from_utf8_lossy(&page.body).contains("<title>Mattermost</title>"));
        assert_eq!(page.header("X-Version-Id"), Some(version_id));
    }
    let head = request(addr, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_ne!(head.header("Content-Length"), Some("0"));

    // Unknown API paths and wrong methods.
    let missing = get(addr, "/api/v4/nonexistent");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["id"], "api.context.404.app_error");
    assert_eq!(missing.json()["status_code"], 404);
    assert_eq!(
        missing.json()["request_id"],
        missing.header("X-Request-Id").unwrap()
    );
    let wrong = request(
        addr,
        "POST /api/v4/system/ping HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(wrong.status, 405);

    // Websocket without the upgrade headers.
    let plain = get(addr, "/api/v4/websocket");
    assert_eq!(plain.status, 400);
    assert_eq!(
        plain.json()["id"],
        "api.web_socket.connect.upgrade.app_error"
    );
    assert_eq!(plain.json()["status_code"], 400);
    assert_eq!(plain.header("X-Version-Id"), Some(version_id));

    // Websocket handshake without credentials: no hello (the real server greets only
    // authenticated connections), but ping/pong and the close handshake work.
    // Header tokens as browsers send them; the RFC 6455 example key, whose answer
    // tungstenite checks.
    let mut request = ws_request();
    let headers = request.headers_mut();
    headers.insert("Upgrade", "WebSocket".parse().unwrap());
    headers.insert("Connection", "keep-alive, Upgrade".parse().unwrap());
    headers.insert(
        "Sec-WebSocket-Key",
        "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap(),
    );
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut ws, response) = tungstenite::client::client(request, stream).unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(response.status(), 101);
    assert_eq!(
        header("Sec-WebSocket-Accept").as_deref(),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(header("Upgrade").as_deref(), Some("websocket"));
    assert_eq!(header("X-Version-Id").as_deref(), Some(version_id));

    // An action before authenticating is not answered.
    let typing = json!({"seq": 1, "action": "user_typing", "data": {"channel_id": "x"}});
    ws.send(Message::text(typing.to_string())).unwrap();
    ws.send(Message::Ping(b"hi".to_vec().into())).unwrap();
    // So the first message back is the pong.
    assert_eq!(ws.read().unwrap(), Message::Pong(b"hi".to_vec().into()));

    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
    .unwrap();
    match ws.read().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected the close answer, got {other:?}"),
    }
    // And the server ends the connection.
    let mut rest = Vec::new();
    assert_eq!(ws.get_mut().read_to_end(&mut rest).unwrap_or(0), 0);

    // An authentication challenge with an unknown token: the server drops the connection.
    let mut ws = Ws::connect(addr, &[]);
    ws.send(&json!({"seq": 1, "action": "authentication_challenge", "data": {"token": "t"}}));
    assert!(ws.closed_within(Duration::from_secs(10)));

    // SIGTERM stops it cleanly.
    server.terminate();
    let out = server.wait_output(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0));
    let log = install.log();
    assert!(
        log.lines().last().unwrap().contains("Server stopped"),
        "{log}"
    );
}

#[test]
fn report_version_env_overrides_and_ready_delay() {
    let pg = FakePostgres::md5();
    let install = Install::new(Some(json!({
        "version": "11.10.1",
        "report_version": "11.9.0",
        "ready_delay_ms": 400
    })));
    // The file points at a dead database, a different listen address and data directory; the
    // environment fixes all three, and MM_CONFIG moves the file.
    let elsewhere = install.path().join("elsewhere.json");
    fs_err::write(
        &elsewhere,
        json!({
            "ServiceSettings": {"ListenAddress": ":1"},
            "SqlSettings": {"DriverName": "postgres",
                            "DataSource": format!("postgres://u:p@127.0.0.1:{}/x?sslmode=disable", closed_port())},
            "FileSettings": {"Directory": "/proc/not-writable/"}
        })
        .to_string(),
    )
    .unwrap();
    let started = Instant::now();
    let server = install.spawn(
        &[],
        &[
            ("MM_CONFIG", elsewhere.to_str().unwrap()),
            ("MM_SERVICESETTINGS_LISTENADDRESS", "127.0.0.1:0"),
            ("MM_SQLSETTINGS_DATASOURCE", &pg.data_source()),
            ("MM_FILESETTINGS_DIRECTORY", "./files/"),
            ("STANDIN_DB_WAIT_MS", "0"),
        ],
    );
    let addr = server.wait_listening(Duration::from_secs(20));
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(install.path().join("files").is_dir());
    let ping = get(addr, "/api/v4/system/ping");
    assert_eq!(ping.status, 200);
    assert_eq!(
        ping.header("X-Version-Id"),
        Some("11.9.0.11.9.0.standinhash.false")
    );
    // `version` still tells the truth.
    let out = install.run(&["version"], &[]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Version: 11.10.1\n"));
}

#[test]
fn fail_start_exits_1_before_listening() {
    let pg = FakePostgres::md5();
    let install = Install::new(Some(json!({"version": "11.10.1", "fail_start": true})));
    install.write_config(&config("127.0.0.1:0", &pg.data_source()));
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("simulated start failure"), "{stderr}");
    assert!(!stderr.contains("Server is listening"), "{stderr}");
    assert!(install.log().contains("simulated start failure"));
}

#[test]
fn unreachable_database_exits_1_after_the_wait() {
    let port = closed_port();
    let install = Install::new(Some(identity("11.10.1")));
    install.write_config(&config(
        "127.0.0.1:0",
        &format!("postgres://mmuser:pw@127.0.0.1:{port}/mattermost?sslmode=disable"),
    ));
    let started = Instant::now();
    let out = install.run(&[], &[("STANDIN_DB_WAIT_MS", "700")]);
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "failed to connect to the database at 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("Server is listening"), "{stderr}");
}

#[test]
fn database_error_response_exits_1_with_the_servers_message() {
    let pg = FakePostgres::error("3D000", "database \"mattermost\" does not exist");
    let install = Install::new(Some(identity("11.10.1")));
    install.write_config(&config("127.0.0.1:0", &pg.data_source()));
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Error: failed to connect to the database at 127.0.0.1:")
            && stderr.contains("pq: database \"mattermost\" does not exist (SQLSTATE 3D000)"),
        "{stderr}"
    );
}

#[test]
fn missing_or_invalid_config_exits_1_naming_the_path() {
    let install = Install::new(Some(identity("11.10.1")));
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config/config.json"));

    fs_err::write(install.path().join("config/config.json"), "{not json").unwrap();
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config/config.json"));

    let out = install.run(&[], &[("MM_CONFIG", "/nonexistent/mm.json")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/mm.json"));
}

#[test]
fn unusable_settings_exit_1() {
    let pg = FakePostgres::md5();
    let install = Install::new(Some(identity("11.10.1")));

    // A file where the data directory should be.
    fs_err::write(install.path().join("data"), b"").unwrap();
    install.write_config(&config("127.0.0.1:0", &pg.data_source()));
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("file store directory ./data/"));

    // A setting of the wrong type.
    let mut bad = config("127.0.0.1:0", &pg.data_source());
    bad["FileSettings"]["MaxFileSize"] = json!("100MB");
    fs_err::remove_file(install.path().join("data")).unwrap();
    install.write_config(&bad);
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FileSettings.MaxFileSize"));
    fs_err::write(install.path().join("data"), b"").unwrap();

    // MySQL is not supported any more.
    let mut mysql = config("127.0.0.1:0", "mmuser:pw@tcp(localhost:3306)/mattermost");
    mysql["SqlSettings"]["DriverName"] = json!("mysql");
    install.write_config(&mysql);
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DriverName"));

    // The listen port is taken.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    fs_err::remove_file(install.path().join("data")).unwrap();
    install.write_config(&config(
        &taken.local_addr().unwrap().to_string(),
        &pg.data_source(),
    ));
    let out = install.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error starting server"));
}
