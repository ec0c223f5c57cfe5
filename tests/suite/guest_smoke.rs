//! The guest harness itself: a booted guest has systemd as PID 1, the artifacts, running nginx
//! and PostgreSQL, and a network that reaches the host's test address and nothing else.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{assert_exit, texts, write_file};
use crate::guest::Guest;

/// Serve one HTTP request on `listener` with `body`; returns the request line it got.
fn serve_once(listener: TcpListener, body: &'static str) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
        let mut request_line = String::new();
        reader.read_line(&mut request_line).expect("read request");
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).expect("answer");
        request_line.trim().to_string()
    })
}

#[test]
fn guest_boots_with_systemd_nginx_postgres_and_host_only_network() {
    let artifacts = tempfile::tempdir().unwrap();
    write_file(artifacts.path(), "hello.txt", b"artifact contents\n");

    let started = Instant::now();
    let guest = Guest::boot(artifacts.path());
    let boot = started.elapsed();
    println!("guest boot (including base root if not cached): {boot:.1?}");

    // systemd is PID 1.
    let pid1 = guest.run(&["ps", "-p", "1", "-o", "comm="]);
    assert_eq!(texts(&pid1).0.trim(), "systemd", "{pid1:?}");
    let state = guest.run(&["systemctl", "is-system-running"]);
    assert!(
        matches!(texts(&state).0.trim(), "running" | "degraded"),
        "{state:?}"
    );

    // The artifacts are there, read-only.
    let cat = guest.run(&["cat", "/srv/artifacts/hello.txt"]);
    assert_eq!(texts(&cat).0, "artifact contents\n", "{cat:?}");
    let write = guest.sh("echo x > /srv/artifacts/new 2>/dev/null");
    assert!(!write.status.success(), "artifacts must be read-only");

    // nginx and PostgreSQL run, and answer.
    let active = guest.run(&["systemctl", "is-active", "nginx", "postgresql@15-main"]);
    assert!(
        active.status.success(),
        "{active:?}\nnginx:\n{}\npostgresql:\n{}",
        guest.journal("nginx"),
        guest.journal("postgresql@15-main")
    );
    let psql = guest.run(&[
        "runuser", "-u", "postgres", "--", "psql", "-tAc", "select 1",
    ]);
    assert_eq!(
        texts(&psql).0.trim(),
        "1",
        "{psql:?}\n{}",
        guest.journal("postgresql@15-main")
    );
    let nginx = guest.run(&[
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://127.0.0.1/",
    ]);
    assert_eq!(
        texts(&nginx).0,
        "200",
        "{nginx:?}\n{}",
        guest.journal("nginx")
    );

    // The guest reaches a server the test runs on the host's address for it...
    let host = guest.host_address().to_string();
    let listener = TcpListener::bind((host.as_str(), 0)).expect("bind host address");
    let port = listener.local_addr().unwrap().port();
    let served = serve_once(listener, "from the host\n");
    let fetch = guest.run(&[
        "curl",
        "-sf",
        "--max-time",
        "10",
        &format!("http://{host}:{port}/x"),
    ]);
    assert_eq!(texts(&fetch).0, "from the host\n", "{fetch:?}");
    assert_eq!(served.join().unwrap(), "GET /x HTTP/1.1");

    // ...but not the host's loopback (127.0.0.1 inside is the guest's own)...
    let loopback = TcpListener::bind("127.0.0.1:0").unwrap();
    let loopback_port = loopback.local_addr().unwrap().port();
    loopback.set_nonblocking(true).unwrap();
    let fetch = guest.run(&[
        "curl",
        "-sf",
        "--max-time",
        "5",
        &format!("http://127.0.0.1:{loopback_port}/x"),
    ]);
    assert!(!fetch.status.success(), "{fetch:?}");
    assert!(
        loopback.accept().is_err(),
        "the guest reached the host's loopback"
    );

    // ...and has no route anywhere else.
    let routes = guest.run(&["ip", "-4", "route", "show", "table", "all"]);
    let (routes_text, _) = assert_exit(&routes, 0);
    assert!(!routes_text.contains("default"), "{routes_text}");
    let outside = guest.run(&["curl", "-s", "--max-time", "3", "http://192.0.2.1/"]);
    assert!(!outside.status.success(), "{outside:?}");

    // A command that hangs is killed at its limit and fails the test, naming the command and
    // showing the guest's console log, instead of stalling the run.
    let started = Instant::now();
    let hung = catch_unwind(AssertUnwindSafe(|| {
        guest.run_for(&["sleep", "600"], Duration::from_secs(2))
    }));
    let waited = started.elapsed();
    let message = match hung {
        Ok(output) => panic!("a 600 s sleep returned within a 2 s limit: {output:?}"),
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default(),
    };
    assert!(
        waited < Duration::from_secs(10),
        "the limit was 2 s, the wait {waited:?}"
    );
    assert!(
        message.contains("`sleep 600` did not finish within 2 s")
            && message.contains("guest journal")
            && message.contains("nspawn log"),
        "{message}"
    );
    // Killed, not left behind in the guest (given a moment for its PID 1 to reap it).
    let left = guest.sh(
        "for i in $(seq 50); do pgrep -f '^sleep 600$' >/dev/null || exit 0; sleep 0.1; done; \
         ps -eo pid,stat,args; exit 1",
    );
    assert!(
        left.status.success(),
        "the timed-out command still runs: {left:?}"
    );

    let stopping = Instant::now();
    drop(guest);
    println!(
        "guest boot {boot:.1?}, checks, shutdown and cleanup {:.1?}",
        stopping.elapsed()
    );
}
