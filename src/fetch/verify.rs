//! Verification of a release tarball while its bytes stream past: the detached OpenPGP
//! signature (against the [`Keyring`]) and the SHA-256 checksum are computed in the same pass
//! as the download, so nothing reads the file twice. When the signature itself uses SHA-256
//! (Mattermost's does), one hasher serves both checks: the checksum is a clone of its state at
//! the end of the data, and the signature's trailer continues the original. The hashing runs on
//! a thread of its own beside the reads ([`StreamVerifier::beside`]), so the network, the disk
//! and the hash overlap instead of taking turns.

use std::io::{BufReader, Cursor, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use digest::DynDigest;
use pgp::composed::{Deserializable, DetachedSignature};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Signature, SignatureType, SignatureVersion};
use sha2::{Digest, Sha256};

use super::keyring::{Keyring, Signer, looks_armored};

/// Why a release failed verification. Every variant means: do not use these bytes.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{source_name} is not a detached OpenPGP signature: {reason}")]
    MalformedSignature { source_name: String, reason: String },
    #[error("the signature {source_name} is not acceptable: {reason}")]
    UnacceptableSignature { source_name: String, reason: String },
    #[error("the signature {source_name} cannot be trusted: {reason}")]
    UntrustedSigner { source_name: String, reason: String },
    #[error(
        "BAD signature: {file} does not match {source_name} (signed by {fingerprint}): {reason}"
    )]
    BadSignature {
        file: String,
        source_name: String,
        fingerprint: String,
        reason: String,
    },
    #[error("checksum mismatch for {file}: expected SHA-256 {expected}, got {actual}")]
    ChecksumMismatch {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("invalid SHA-256 `{text}` from {origin}: expected 64 hexadecimal digits")]
    InvalidChecksum { text: String, origin: String },
}

/// A parsed detached signature and where it came from (URL or path), for messages.
pub struct ReleaseSignature {
    signature: Signature,
    source_name: String,
}

impl ReleaseSignature {
    /// Parse a binary or ASCII-armored detached signature holding exactly one signature packet.
    pub fn parse(bytes: &[u8], source_name: &str) -> Result<Self, VerifyError> {
        let malformed = |reason: String| VerifyError::MalformedSignature {
            source_name: source_name.to_string(),
            reason,
        };
        let detached = if looks_armored(bytes) {
            DetachedSignature::from_armor_single(Cursor::new(bytes)).map(|(sig, _)| sig)
        } else {
            DetachedSignature::from_bytes(BufReader::new(Cursor::new(bytes)))
        }
        .map_err(|err| malformed(err.to_string()))?;
        Ok(ReleaseSignature {
            signature: detached.signature,
            source_name: source_name.to_string(),
        })
    }

    /// The URL or path the signature was read from.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }
}

/// The outcome of a successful verification.
#[derive(Clone, Debug)]
pub struct Verified {
    /// Lower-case hex SHA-256 of the verified bytes.
    pub sha256: String,
    /// Fingerprint of the certificate whose key made the signature.
    pub signer_fingerprint: String,
    /// When the signature says it was made (its creation time subpacket), if it says.
    pub signed_at: Option<jiff::Timestamp>,
    /// Things the user should know (e.g. the pinned key's copy shows it expired).
    pub warnings: Vec<String>,
}

/// Hashes a byte stream for one signature and an optional expected checksum.
pub struct StreamVerifier<'k> {
    signature: ReleaseSignature,
    signer: Signer<'k>,
    hash_alg: HashAlgorithm,
    hashers: Hashers,
}

/// The running digests: the signature's, and a separate SHA-256 only when the signature uses
/// another algorithm.
struct Hashers {
    signature: Box<dyn DynDigest + Send>,
    separate_sha256: Option<Sha256>,
}

/// A filled buffer and how many of its bytes count, shared by the hashing threads.
type Filled = (Arc<Vec<u8>>, usize);

impl Hashers {
    /// Run `produce`, hashing every buffer it hands to the [`Feed`] while it goes on reading
    /// into the next (at most [`BUFFERS`] buffers exist): on one thread per digest, so a
    /// separate SHA-256 runs beside the signature's SHA-512 instead of after it. Returns when
    /// `produce` has returned and every buffer it handed over is hashed.
    fn beside<T>(&mut self, produce: impl FnOnce(&mut Feed) -> T) -> T {
        let (emptied, empty) = sync_channel::<Vec<u8>>(BUFFERS);
        let Hashers {
            signature,
            separate_sha256,
        } = self;
        std::thread::scope(|scope| {
            let mut full = vec![spawn_hasher(scope, emptied.clone(), move |bytes| {
                signature.update(bytes)
            })];
            if let Some(sha256) = separate_sha256 {
                full.push(spawn_hasher(scope, emptied.clone(), move |bytes| {
                    Digest::update(sha256, bytes)
                }));
            }
            drop(emptied);
            let mut feed = Feed {
                full,
                empty,
                unallocated: BUFFERS,
            };
            let result = produce(&mut feed);
            // Closing the channels ends the hashing threads, which the scope then joins.
            drop(feed);
            result
        })
    }

    /// Feed the whole content of `reader` and write it to `copy` on the way; returns the
    /// number of bytes.
    fn copy_from(&mut self, mut reader: impl Read, mut copy: impl Write) -> std::io::Result<u64> {
        self.beside(|feed| {
            let mut total = 0;
            loop {
                let mut buffer = feed.buffer();
                let read = reader.read(&mut buffer)?;
                if read == 0 {
                    return Ok(total);
                }
                copy.write_all(&buffer[..read])?;
                feed.hash(buffer, read);
                total += read as u64;
            }
        })
    }
}

/// A thread in `scope` that feeds each buffer it receives to `update`, in order, and hands the
/// buffer back through `emptied` once every thread is done with it (the last holder of it).
fn spawn_hasher<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    emptied: SyncSender<Vec<u8>>,
    mut update: impl FnMut(&[u8]) + Send + 'scope,
) -> SyncSender<Filled> {
    let (full, filled) = sync_channel::<Filled>(BUFFERS);
    scope.spawn(move || {
        for (buffer, len) in filled {
            update(&buffer[..len]);
            if let Some(buffer) = Arc::into_inner(buffer) {
                // The feed may be gone already (the reads ended): the buffer is dropped.
                let _ = emptied.try_send(buffer);
            }
        }
    });
    full
}

/// Buffers in flight between the reads and the hashing thread, and the size of each: one read
/// of a network body yields up to 128 KiB, of a file the whole buffer, so 16 × 256 KiB lets the
/// reads run well ahead of the hash while peak memory stays far under 32 MiB.
const BUFFERS: usize = 16;
const BUFFER_SIZE: usize = 256 * 1024;

/// The reading side of [`StreamVerifier::beside`]: hands out buffers to fill and takes them
/// back, filled, for the hashing thread.
pub struct Feed {
    /// One channel per hashing thread.
    full: Vec<SyncSender<Filled>>,
    empty: Receiver<Vec<u8>>,
    /// Buffers not allocated yet.
    unallocated: usize,
}

impl Feed {
    /// An empty buffer of [`BUFFER_SIZE`] bytes: a new one while fewer than [`BUFFERS`] exist,
    /// else the next one the hashing thread is done with (waiting for it if need be).
    pub fn buffer(&mut self) -> Vec<u8> {
        if self.unallocated > 0 {
            self.unallocated -= 1;
            return vec![0; BUFFER_SIZE];
        }
        // The hashing threads return every buffer until `full` closes, which only this feed
        // does when dropped; a fresh buffer covers the impossible case anyway.
        self.empty.recv().unwrap_or_else(|_| vec![0; BUFFER_SIZE])
    }

    /// Hash the first `len` bytes of `buffer` (taken from [`buffer`](Self::buffer)), in order
    /// after those handed over before.
    pub fn hash(&mut self, buffer: Vec<u8>, len: usize) {
        // No reference stays here (the last channel gets the original), so the last hashing
        // thread to finish gets the buffer back. The receivers live until this feed is dropped
        // (see `beside`).
        let buffer = Arc::new(buffer);
        if let Some((last, others)) = self.full.split_last() {
            for full in others {
                let _ = full.send((Arc::clone(&buffer), len));
            }
            let _ = last.send((buffer, len));
        }
    }
}

const ACCEPTED_HASHES: [HashAlgorithm; 5] = [
    HashAlgorithm::Sha256,
    HashAlgorithm::Sha384,
    HashAlgorithm::Sha512,
    HashAlgorithm::Sha3_256,
    HashAlgorithm::Sha3_512,
];

impl<'k> StreamVerifier<'k> {
    /// Check the signature's form and its signer against `keyring` before any data is hashed.
    pub fn new(keyring: &'k Keyring, signature: ReleaseSignature) -> Result<Self, VerifyError> {
        let unacceptable = |reason: String| VerifyError::UnacceptableSignature {
            source_name: signature.source_name.clone(),
            reason,
        };
        let sig = &signature.signature;
        if sig.version() != SignatureVersion::V4 {
            return Err(unacceptable(format!(
                "signature version {:?} is not supported (only v4)",
                sig.version()
            )));
        }
        if sig.typ() != Some(SignatureType::Binary) {
            return Err(unacceptable(format!(
                "it is a {:?} signature, not a signature over binary data",
                sig.typ()
            )));
        }
        let hash_alg = sig
            .hash_alg()
            .ok_or_else(|| unacceptable("it names no hash algorithm".into()))?;
        if !ACCEPTED_HASHES.contains(&hash_alg) {
            return Err(unacceptable(format!(
                "it uses the {hash_alg} hash, which is too weak (accepted: SHA256, SHA384, SHA512, SHA3-256, SHA3-512)"
            )));
        }
        if let (Some(created), Some(lifetime)) = (sig.created(), sig.signature_expiration_time()) {
            let expires = created.as_secs() as u64 + lifetime.as_secs() as u64;
            let now = pgp::types::Timestamp::now().as_secs() as u64;
            if lifetime.as_secs() > 0 && expires <= now {
                return Err(unacceptable("the signature itself has expired".into()));
            }
        }
        let signer = keyring
            .signer_of(sig)
            .map_err(|err| VerifyError::UntrustedSigner {
                source_name: signature.source_name.clone(),
                reason: err.to_string(),
            })?;
        let signature_hasher = hash_alg
            .new_hasher()
            .map_err(|err| unacceptable(err.to_string()))?;
        let separate_sha256 = (hash_alg != HashAlgorithm::Sha256).then(Sha256::new);
        Ok(StreamVerifier {
            signature,
            signer,
            hash_alg,
            hashers: Hashers {
                signature: signature_hasher,
                separate_sha256,
            },
        })
    }

    /// Run `produce`, hashing on a second thread every buffer it hands to the [`Feed`] while it
    /// goes on reading into the next (at most [`BUFFERS`] buffers exist). Returns when
    /// `produce` has returned and every buffer it handed over is hashed.
    pub fn beside<T>(&mut self, produce: impl FnOnce(&mut Feed) -> T) -> T {
        self.hashers.beside(produce)
    }

    /// Forget everything hashed so far (the download restarted from byte 0).
    pub fn restart(&mut self) {
        self.hashers.signature.reset();
        if let Some(sha256) = &mut self.hashers.separate_sha256 {
            *sha256 = Sha256::new();
        }
    }

    /// Feed the whole content of `reader` (a partial download being resumed, or a local file).
    pub fn update_from(&mut self, reader: impl Read) -> std::io::Result<u64> {
        self.copy_from(reader, std::io::sink())
    }

    /// Feed the whole content of `reader` and write it to `copy` on the way; returns the
    /// number of bytes.
    pub fn copy_from(&mut self, reader: impl Read, copy: impl Write) -> std::io::Result<u64> {
        self.hashers.copy_from(reader, copy)
    }

    /// Finish both checks on everything fed so far and start over, so the verifier is ready
    /// for another copy of the file. `file` names the data in messages; `expected_sha256` is
    /// lower- or upper-case hex.
    pub fn finish(
        &mut self,
        file: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<Verified, VerifyError> {
        let file = file.display().to_string();
        let fresh =
            self.hash_alg
                .new_hasher()
                .map_err(|err| VerifyError::UnacceptableSignature {
                    source_name: self.signature.source_name.clone(),
                    reason: err.to_string(),
                })?;
        let mut hasher = std::mem::replace(&mut self.hashers.signature, fresh);
        let separate_sha256 = self.hashers.separate_sha256.as_mut().map(std::mem::take);
        let sha256 = match separate_sha256 {
            Some(sha256) => hex::encode(sha256.finalize()),
            None => hex::encode(hasher.box_clone().finalize()),
        };
        if let Some(expected) = expected_sha256 {
            if !expected.eq_ignore_ascii_case(&sha256) {
                return Err(VerifyError::ChecksumMismatch {
                    file,
                    expected: expected.to_ascii_lowercase(),
                    actual: sha256,
                });
            }
        }
        let bad = |reason: String| VerifyError::BadSignature {
            file: file.clone(),
            source_name: self.signature.source_name.clone(),
            fingerprint: self.signer.fingerprint.clone(),
            reason,
        };
        let sig = &self.signature.signature;
        let config = sig
            .config()
            .ok_or_else(|| bad("unsupported signature packet".into()))?;
        // The OpenPGP digest: data, then the signature's hashed part, then the v4 trailer.
        let hashed_len = config
            .hash_signature_data(&mut hasher)
            .map_err(|e| bad(e.to_string()))?;
        hasher.update(&config.trailer(hashed_len).map_err(|e| bad(e.to_string()))?);
        let digest = hasher.finalize();
        if sig.signed_hash_value().as_ref().map(|v| &v[..]) != digest.get(..2) {
            return Err(bad(
                "the digest does not match the signed hash prefix".into()
            ));
        }
        self.signer.verify_digest(sig, &digest).map_err(bad)?;
        let mut warnings = Vec::new();
        if let Some(date) = &self.signer.pinned_key_expired_on {
            warnings.push(format!(
                "the Mattermost release key {} in {} says it expired on {date}; Mattermost extends this same key instead of replacing it, so the pinned fingerprint is still trusted (pass a refreshed copy with --keyring to silence this warning)",
                self.signer.fingerprint, self.signer.origin
            ));
        }
        Ok(Verified {
            sha256,
            signer_fingerprint: self.signer.fingerprint.clone(),
            signed_at: sig
                .created()
                .and_then(|created| jiff::Timestamp::from_second(created.as_secs().into()).ok()),
            warnings,
        })
    }
}

/// Parse a `sha256sum`-style checksum file (`<hex>  <name>` or just `<hex>`), taking the line
/// for `file_name` when there are several.
pub fn parse_checksum_file(
    text: &str,
    file_name: &str,
    origin: &str,
) -> Result<String, VerifyError> {
    let lines: Vec<(&str, Option<&str>)> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let hash = fields.next()?;
            Some((hash, fields.next().map(|name| name.trim_start_matches('*'))))
        })
        .collect();
    let chosen = lines
        .iter()
        .find(|(_, name)| *name == Some(file_name))
        .or_else(|| lines.first().filter(|_| lines.len() == 1))
        .map(|(hash, _)| *hash)
        .unwrap_or("");
    parse_sha256(chosen, origin)
}

/// Validate a SHA-256 given as hex text; returns it lower-cased.
pub fn parse_sha256(text: &str, origin: &str) -> Result<String, VerifyError> {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(VerifyError::InvalidChecksum {
            text: text.to_string(),
            origin: origin.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_files_in_sha256sum_format() {
        let hash = "ab".repeat(32);
        let text = format!("{hash}  mattermost-11.10.0-linux-amd64.tar.gz\n");
        assert_eq!(
            parse_checksum_file(&text, "mattermost-11.10.0-linux-amd64.tar.gz", "x").unwrap(),
            hash
        );
        assert_eq!(
            parse_checksum_file(&hash.to_uppercase(), "any", "x").unwrap(),
            hash
        );
        let two = format!("{}  other.tar.gz\n{hash} *wanted.tar.gz\n", "cd".repeat(32));
        assert_eq!(
            parse_checksum_file(&two, "wanted.tar.gz", "x").unwrap(),
            hash
        );
        assert!(parse_checksum_file("<html>", "wanted.tar.gz", "mirror").is_err());
        assert!(
            parse_sha256("xyz", "--sha256")
                .unwrap_err()
                .to_string()
                .contains("--sha256")
        );
    }

    /// A reader that yields at most `step` bytes per read, as a network body does.
    struct Trickle {
        data: Cursor<Vec<u8>>,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let step = self.step.min(buf.len());
            self.data.read(&mut buf[..step])
        }
    }

    #[test]
    fn hashing_beside_the_reads_sees_every_byte_in_order() {
        // Twice as many bytes as the buffers hold, so they are recycled, and an odd tail.
        let data: Vec<u8> = (0..BUFFERS * BUFFER_SIZE * 2 + 12_345)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let expected = hex::encode(Sha256::digest(&data));
        // The signature's hasher alone (a SHA-256 signature), or with a separate SHA-256.
        for separate in [false, true] {
            let mut hashers = Hashers {
                signature: Box::new(Sha256::new()),
                separate_sha256: separate.then(Sha256::new),
            };
            let mut copy = Vec::new();
            let total = hashers
                .copy_from(
                    Trickle {
                        data: Cursor::new(data.clone()),
                        step: 100_000,
                    },
                    &mut copy,
                )
                .unwrap();
            assert_eq!(total, data.len() as u64);
            assert!(copy == data, "the copy differs from the data");
            assert_eq!(hex::encode(hashers.signature.finalize()), expected);
            if let Some(sha256) = hashers.separate_sha256 {
                assert_eq!(hex::encode(sha256.finalize()), expected);
            }
        }
    }

    #[test]
    fn garbage_is_not_a_signature() {
        let err = ReleaseSignature::parse(b"<html>404</html>", "http://m/x.sig")
            .err()
            .unwrap();
        assert!(err.to_string().contains("http://m/x.sig"), "{err}");
    }
}
