//! A minimal PostgreSQL client for the schema migrations: connect with the `DataSource`, log in
//! (trust, cleartext, MD5 or SCRAM-SHA-256, as lib/pq can), and run simple-protocol queries whose
//! results come back as text. No TLS: a data source that requires it is refused with a message.
//!
//! A simple `Query` message holding several statements runs them as one transaction (PostgreSQL's
//! "Multiple Statements in a Simple Query"), which is how each migration and its `db_migrations`
//! row are committed together or not at all.

use std::io::{Read, Write};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha2::Sha256;

use crate::database::{self, Conn, DataSource};

type HmacSha256 = Hmac<Sha256>;

/// An open, authenticated session.
pub struct Client {
    conn: Box<dyn Conn>,
}

/// One result row: each column as text, `None` for NULL.
pub type Row = Vec<Option<String>>;

impl Client {
    /// Connects and logs in; `Err` is a message naming the endpoint.
    pub fn connect(ds: &DataSource) -> Result<Client, String> {
        let fail = |why: String| format!("cannot open the database at {}: {why}", ds.endpoint);
        if !matches!(
            ds.sslmode.as_deref().unwrap_or("require"),
            "disable" | "allow" | "prefer"
        ) {
            return Err(fail(
                "the stand-in speaks no TLS; use sslmode=disable to run migrations".into(),
            ));
        }
        let timeout = ds.connect_timeout.unwrap_or(Duration::from_secs(10));
        let conn = database::connect(&ds.endpoint, timeout).map_err(|e| fail(e.to_string()))?;
        let mut client = Client { conn };
        client.login(ds).map_err(fail)?;
        Ok(client)
    }

    fn send(&mut self, kind: u8, body: &[u8]) -> Result<(), String> {
        let mut msg = vec![kind];
        msg.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        msg.extend_from_slice(body);
        self.conn
            .write_all(&msg)
            .map_err(|e| format!("write to PostgreSQL: {e}"))
    }

    fn read(&mut self) -> Result<(u8, Vec<u8>), String> {
        database::read_message(&mut *self.conn).map_err(|e| format!("read from PostgreSQL: {e}"))
    }

    fn login(&mut self, ds: &DataSource) -> Result<(), String> {
        let user = database::effective_user(ds);
        self.conn
            .write_all(&database::startup_message(&user, &ds.database))
            .map_err(|e| format!("write to PostgreSQL: {e}"))?;
        let password = ds.password.clone().unwrap_or_default();
        let mut scram: Option<Scram> = None;
        loop {
            let (kind, body) = self.read()?;
            match kind {
                b'R' => {
                    let code = be_i32(&body);
                    let rest = body.get(4..).unwrap_or_default();
                    match code {
                        0 => {}
                        3 => {
                            let mut p = password.as_bytes().to_vec();
                            p.push(0);
                            self.send(b'p', &p)?;
                        }
                        5 => {
                            let inner = hex(&Md5::digest(format!("{password}{user}")));
                            let mut outer = Md5::new();
                            outer.update(inner.as_bytes());
                            outer.update(rest.get(..4).unwrap_or_default());
                            let mut p = format!("md5{}", hex(&outer.finalize())).into_bytes();
                            p.push(0);
                            self.send(b'p', &p)?;
                        }
                        10 => {
                            let mechanisms = String::from_utf8_lossy(rest);
                            if !mechanisms.split('\0').any(|m| m == "SCRAM-SHA-256") {
                                return Err(format!(
                                    "no supported SASL mechanism in {mechanisms:?}"
                                ));
                            }
                            let s = Scram::new()?;
                            let first = s.client_first();
                            let mut p = b"SCRAM-SHA-256\0".to_vec();
                            p.extend_from_slice(&(first.len() as i32).to_be_bytes());
                            p.extend_from_slice(first.as_bytes());
                            self.send(b'p', &p)?;
                            scram = Some(s);
                        }
                        11 => {
                            let s = scram.as_mut().ok_or("SASLContinue before SASL")?;
                            let last = s.client_final(&String::from_utf8_lossy(rest), &password)?;
                            self.send(b'p', last.as_bytes())?;
                        }
                        12 => {
                            let s = scram.as_ref().ok_or("SASLFinal before SASL")?;
                            s.verify_server(&String::from_utf8_lossy(rest))?;
                        }
                        other => return Err(format!("unsupported authentication request {other}")),
                    }
                }
                b'E' => return Err(error_text(&body)),
                b'Z' => return Ok(()),
                b'S' | b'K' | b'N' | b'v' => {}
                other => {
                    return Err(format!(
                        "unexpected PostgreSQL message {:?} during login",
                        char::from(other)
                    ));
                }
            }
        }
    }

    /// Runs `sql` (one or more statements, one implicit transaction) and returns the rows of
    /// the last statement that returned any. An error rolls the whole text back.
    pub fn query(&mut self, sql: &str) -> Result<Vec<Row>, String> {
        let mut body = sql.as_bytes().to_vec();
        body.push(0);
        self.send(b'Q', &body)?;
        let mut rows = Vec::new();
        let mut current = Vec::new();
        let mut error = None;
        loop {
            let (kind, body) = self.read()?;
            match kind {
                b'T' => current.clear(),
                b'D' => current.push(data_row(&body)?),
                b'C' if !current.is_empty() => rows = std::mem::take(&mut current),
                b'E' => error = Some(error_text(&body)),
                b'Z' => break,
                // EmptyQueryResponse, notices, parameter changes.
                _ => {}
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Terminate politely; the connection is going away either way.
        let _ = self.conn.write_all(&[b'X', 0, 0, 0, 4]);
    }
}

fn be_i32(b: &[u8]) -> i32 {
    b.get(..4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(-1)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A server error's text ([`database::error_text`]) from an ErrorResponse body.
fn error_text(body: &[u8]) -> String {
    database::error_text(&database::error_fields(body))
}

fn data_row(body: &[u8]) -> Result<Row, String> {
    let bad = || "malformed DataRow from PostgreSQL".to_string();
    let count = u16::from_be_bytes([
        *body.first().ok_or_else(bad)?,
        *body.get(1).ok_or_else(bad)?,
    ]);
    let mut at = 2;
    let mut row = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let len = be_i32(body.get(at..).ok_or_else(bad)?);
        at += 4;
        if len < 0 {
            row.push(None);
            continue;
        }
        let end = at + len as usize;
        let value = body.get(at..end).ok_or_else(bad)?;
        row.push(Some(String::from_utf8_lossy(value).into_owned()));
        at = end;
    }
    Ok(row)
}

/// The client side of SCRAM-SHA-256 (RFC 5802/7677) without channel binding, as libpq does it
/// over a plain connection: the user name is left empty (PostgreSQL uses the startup's).
struct Scram {
    nonce: String,
    auth_message: String,
    server_signature: Vec<u8>,
}

impl Scram {
    fn new() -> Result<Scram, String> {
        let mut raw = [0u8; 18];
        fs_err::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut raw))
            .map_err(|e| format!("cannot make a SCRAM nonce: {e}"))?;
        Ok(Scram {
            nonce: B64.encode(raw),
            auth_message: String::new(),
            server_signature: Vec::new(),
        })
    }

    fn client_first_bare(&self) -> String {
        format!("n=,r={}", self.nonce)
    }

    fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare())
    }

    fn client_final(&mut self, server_first: &str, password: &str) -> Result<String, String> {
        let attr = |k: &str| {
            server_first
                .split(',')
                .find_map(|p| p.strip_prefix(k))
                .ok_or_else(|| format!("SCRAM server-first-message lacks {k}"))
        };
        let nonce = attr("r=")?;
        if !nonce.starts_with(&self.nonce) {
            return Err("SCRAM server nonce does not extend ours".into());
        }
        let salt = B64
            .decode(attr("s=")?)
            .map_err(|e| format!("SCRAM salt: {e}"))?;
        let iterations: u32 = attr("i=")?
            .parse()
            .map_err(|_| "SCRAM iteration count is not a number".to_string())?;
        let salted = pbkdf2(password.as_bytes(), &salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = Sha256::digest(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        self.auth_message = format!(
            "{},{server_first},{without_proof}",
            self.client_first_bare()
        );
        let signature = hmac(&stored_key, self.auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac(&salted, b"Server Key");
        self.server_signature = hmac(&server_key, self.auth_message.as_bytes());
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    fn verify_server(&self, server_final: &str) -> Result<(), String> {
        let verifier = server_final
            .split(',')
            .find_map(|p| p.strip_prefix("v="))
            .ok_or("SCRAM server-final-message lacks its signature")?;
        if B64.decode(verifier).ok().as_deref() != Some(self.server_signature.as_slice()) {
            return Err("SCRAM server signature does not match: not the server we asked".into());
        }
        Ok(())
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// PBKDF2-HMAC-SHA-256 with one output block (32 bytes), SCRAM's `Hi()`.
fn pbkdf2(password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut block = salt.to_vec();
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password, &block);
    let mut out = u.clone();
    for _ in 1..iterations {
        u = hmac(password, &u);
        out.iter_mut().zip(&u).for_each(|(o, x)| *o ^= x);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3's example exchange (user "user", password "pencil").
    #[test]
    fn scram_matches_the_rfc_example() {
        let mut s = Scram {
            nonce: "rOprNGfwEbeRWgbNEkqO".into(),
            auth_message: String::new(),
            server_signature: Vec::new(),
        };
        // The RFC's client-first-bare names the user; ours leaves it empty, so rebuild the
        // RFC's auth message by hand from the same primitives.
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let salted = pbkdf2(
            b"pencil",
            &B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap(),
            4096,
        );
        let client_key = hmac(&salted, b"Client Key");
        let auth = format!(
            "n=user,r=rOprNGfwEbeRWgbNEkqO,{server_first},c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        );
        let sig = hmac(&Sha256::digest(&client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        assert_eq!(
            B64.encode(proof),
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        let server_sig = hmac(&hmac(&salted, b"Server Key"), auth.as_bytes());
        assert_eq!(
            B64.encode(server_sig),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        // And our own message shapes.
        assert_eq!(s.client_first(), "n,,n=,r=rOprNGfwEbeRWgbNEkqO");
        let last = s.client_final(server_first, "pencil").unwrap();
        assert!(last.starts_with("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="));
        assert!(s.verify_server("v=AAAA").is_err());
    }

    #[test]
    fn parses_data_rows_with_nulls() {
        let mut body = 2u16.to_be_bytes().to_vec();
        body.extend_from_slice(&3i32.to_be_bytes());
        body.extend_from_slice(b"127");
        body.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(data_row(&body).unwrap(), vec![Some("127".into()), None]);
        assert!(data_row(&body[..5]).is_err());
    }
}
