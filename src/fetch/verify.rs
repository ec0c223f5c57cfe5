//! Verification of a release tarball while its bytes stream past: the detached OpenPGP
//! signature (against the [`Keyring`]) and the SHA-256 checksum are computed in the same pass
//! as the download, so nothing reads the file twice. When the signature itself uses SHA-256
//! (Mattermost's does), one hasher serves both checks.

use std::io::{BufReader, Cursor, Read};
use std::path::Path;

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
    signature_hasher: Box<dyn DynDigest + Send>,
    /// A separate SHA-256 only when the signature uses another algorithm.
    separate_sha256: Option<Sha256>,
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
            signature_hasher,
            separate_sha256,
        })
    }

    /// Feed the next bytes of the file.
    pub fn update(&mut self, bytes: &[u8]) {
        self.signature_hasher.update(bytes);
        if let Some(sha256) = &mut self.separate_sha256 {
            Digest::update(sha256, bytes);
        }
    }

    /// Forget everything hashed so far (the download restarted from byte 0).
    pub fn restart(&mut self) {
        self.signature_hasher.reset();
        if let Some(sha256) = &mut self.separate_sha256 {
            *sha256 = Sha256::new();
        }
    }

    /// Feed the whole content of `reader` (a partial download being resumed, or a local file).
    pub fn update_from(&mut self, mut reader: impl Read) -> std::io::Result<u64> {
        let mut buffer = vec![0u8; super::CHUNK_SIZE];
        let mut total = 0;
        loop {
            let read = reader.read(&mut buffer)?;
            if read == 0 {
                return Ok(total);
            }
            self.update(&buffer[..read]);
            total += read as u64;
        }
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
        let mut hasher = std::mem::replace(&mut self.signature_hasher, fresh);
        let separate_sha256 = self.separate_sha256.as_mut().map(std::mem::take);
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

    #[test]
    fn garbage_is_not_a_signature() {
        let err = ReleaseSignature::parse(b"<html>404</html>", "http://m/x.sig")
            .err()
            .unwrap();
        assert!(err.to_string().contains("http://m/x.sig"), "{err}");
    }
}
