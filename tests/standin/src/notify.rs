//! systemd readiness: send `READY=1` to `$NOTIFY_SOCKET` (a Unix datagram socket, possibly in the
//! abstract namespace when the path starts with `@`), as the real server does once it listens.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` (e.g. `READY=1`) to the socket named by `notify_socket`.
pub fn send(notify_socket: &str, state: &str) -> io::Result<()> {
    let addr = match notify_socket.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
        None => SocketAddr::from_pathname(notify_socket)?,
    };
    let sock = UnixDatagram::unbound()?;
    sock.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

/// Sends `READY=1` if systemd asked for notifications; `Ok(false)` when it did not.
pub fn ready() -> io::Result<bool> {
    match std::env::var("NOTIFY_SOCKET") {
        Ok(path) if !path.is_empty() => {
            send(&path, "READY=1")?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::new_id;

    #[test]
    fn notifies_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        send(path.to_str().unwrap(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[test]
    fn notifies_an_abstract_socket() {
        let name = format!("mm-standin-test-{}", new_id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        send(&format!("@{name}"), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }
}
