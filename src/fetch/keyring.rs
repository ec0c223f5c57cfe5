//! The keys a release signature may come from: Mattermost's release key, embedded and pinned by
//! fingerprint, plus any key the admin trusts explicitly with `--keyring FILE`.
//!
//! Expiry policy: Mattermost extends the expiry of the same release key instead of replacing it
//! (it lapsed in 2020, 2022 and 2024 and was extended each time), so a copy of the *pinned* key
//! whose self-signature shows it expired is still trusted, with a warning. Any other key must be
//! unexpired. A key with a revocation signature (or whose signing subkey has one), an unknown key, a bad signature or a weak hash
//! (MD5, SHA-1, RIPEMD-160, SHA-224) is never accepted.

use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};

use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::packet::{PublicKey, PublicSubkey, Signature, SignatureType};
use pgp::types::{Fingerprint, KeyDetails, KeyId, Timestamp};

use super::FetchError;

/// Fingerprint of `Mattermost Build <dev-ops@mattermost.com>`, the release-signing key.
pub const MATTERMOST_RELEASE_KEY_FINGERPRINT: &str = "A1B31D46F0F3A10B02CF2D44F8F2C31744774B28";

/// Mattermost's public release key as published (its self-signature says it expired 2024-04-06).
const EMBEDDED_RELEASE_KEY: &str = include_str!("mattermost-release-key.asc");

/// Where a trusted key came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    Embedded,
    File(PathBuf),
}

impl std::fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyOrigin::Embedded => f.write_str("the embedded Mattermost release key"),
            KeyOrigin::File(path) => write!(f, "keyring {}", path.display()),
        }
    }
}

struct TrustedKey {
    cert: SignedPublicKey,
    origin: KeyOrigin,
}

/// The set of keys allowed to sign releases.
pub struct Keyring {
    /// Keys from `--keyring` files first: a refreshed copy of the pinned key wins over the
    /// embedded one.
    keys: Vec<TrustedKey>,
}

/// The key that made a signature, with what the policy says about it.
pub struct Signer<'k> {
    key: SignerKey<'k>,
    /// Upper-case hex fingerprint of the certificate (primary key).
    pub fingerprint: String,
    pub origin: &'k KeyOrigin,
    /// Set when the pinned key's copy shows it expired: the date it says, `YYYY-MM-DD`.
    pub pinned_key_expired_on: Option<String>,
}

enum SignerKey<'k> {
    Primary(&'k PublicKey),
    Subkey(&'k PublicSubkey),
}

impl Signer<'_> {
    /// Check `signature` over a digest already computed by the caller.
    pub fn verify_digest(&self, signature: &Signature, digest: &[u8]) -> Result<(), String> {
        use pgp::types::VerifyingKey;
        let (Some(hash_alg), Some(bytes)) = (signature.hash_alg(), signature.signature()) else {
            return Err("the signature packet has an unsupported version".into());
        };
        let result = match self.key {
            SignerKey::Primary(key) => key.verify(hash_alg, digest, bytes),
            SignerKey::Subkey(key) => key.verify(hash_alg, digest, bytes),
        };
        result.map_err(|err| err.to_string())
    }
}

impl Keyring {
    /// Only Mattermost's embedded release key.
    pub fn mattermost() -> Result<Keyring, FetchError> {
        let invalid = |reason: String| FetchError::Keyring {
            origin: KeyOrigin::Embedded.to_string(),
            reason,
        };
        let cert = SignedPublicKey::from_armor_single(Cursor::new(EMBEDDED_RELEASE_KEY))
            .map_err(|err| invalid(err.to_string()))?
            .0;
        let fingerprint = fingerprint_hex(&cert.primary_key.fingerprint());
        if fingerprint != MATTERMOST_RELEASE_KEY_FINGERPRINT {
            return Err(invalid(format!(
                "fingerprint {fingerprint} is not the pinned {MATTERMOST_RELEASE_KEY_FINGERPRINT}"
            )));
        }
        Ok(Keyring {
            keys: vec![TrustedKey {
                cert,
                origin: KeyOrigin::Embedded,
            }],
        })
    }

    /// Trust every public key in `path` (ASCII-armored or binary, one or more keys). Each key's
    /// self-signatures must verify.
    pub fn add_file(&mut self, path: &Path) -> Result<(), FetchError> {
        let invalid = |reason: String| FetchError::Keyring {
            origin: KeyOrigin::File(path.to_path_buf()).to_string(),
            reason,
        };
        let bytes = fs_err::read(path)?;
        let certs: Vec<SignedPublicKey> = if looks_armored(&bytes) {
            SignedPublicKey::from_armor_many(Cursor::new(&bytes))
                .map_err(|err| invalid(err.to_string()))?
                .0
                .collect::<Result<_, _>>()
        } else {
            SignedPublicKey::from_bytes_many(BufReader::new(Cursor::new(&bytes)))
                .map_err(|err| invalid(err.to_string()))?
                .collect::<Result<_, _>>()
        }
        .map_err(|err| invalid(err.to_string()))?;
        if certs.is_empty() {
            return Err(invalid("it holds no OpenPGP public key".into()));
        }
        for (position, cert) in certs.into_iter().enumerate() {
            cert.verify_bindings().map_err(|err| {
                invalid(format!(
                    "the self-signatures of key {} do not verify: {err}",
                    fingerprint_hex(&cert.primary_key.fingerprint())
                ))
            })?;
            let key = TrustedKey {
                cert,
                origin: KeyOrigin::File(path.to_path_buf()),
            };
            self.keys.insert(position, key);
        }
        Ok(())
    }

    /// Fingerprints of every trusted key, for messages.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|key| fingerprint_hex(&key.cert.primary_key.fingerprint()))
            .collect()
    }

    /// The trusted key that issued `signature`, checked against the expiry and revocation policy.
    pub fn signer_of(&self, signature: &Signature) -> Result<Signer<'_>, SignerError> {
        let issuer_fingerprints = signature.issuer_fingerprint();
        let issuer_ids = signature.issuer_key_id();
        let matches = |fingerprint: Fingerprint, key_id: KeyId| {
            issuer_fingerprints.iter().any(|f| **f == fingerprint)
                || issuer_ids.iter().any(|id| **id == key_id)
        };
        for trusted in &self.keys {
            let cert = &trusted.cert;
            let primary = &cert.primary_key;
            let key = if matches(primary.fingerprint(), primary.legacy_key_id()) {
                Some((SignerKey::Primary(primary), self_signatures(cert)))
            } else {
                cert.public_subkeys
                    .iter()
                    .find(|sub| {
                        matches(sub.key.fingerprint(), sub.key.legacy_key_id())
                            && sub.signatures.iter().any(|s| s.key_flags().sign())
                    })
                    .map(|sub| (SignerKey::Subkey(&sub.key), sub.signatures.iter().collect()))
            };
            let Some((key, binding_signatures)) = key else {
                continue;
            };
            let fingerprint = fingerprint_hex(&primary.fingerprint());
            // The whole key revoked, or the signing subkey alone (a subkey revocation sits
            // among its binding signatures). A revocation is honoured even unverified: it can
            // only make mm-install refuse, which whoever could plant one could cause anyway by
            // removing the key.
            let subkey_revoked = binding_signatures
                .iter()
                .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation));
            if subkey_revoked || !cert.details.revocation_signatures.is_empty() {
                let revoked = match key {
                    SignerKey::Subkey(subkey) if subkey_revoked => {
                        format!(
                            "{fingerprint} (its signing subkey {})",
                            fingerprint_hex(&subkey.fingerprint())
                        )
                    }
                    _ => fingerprint,
                };
                return Err(SignerError::Revoked {
                    fingerprint: revoked,
                    origin: trusted.origin.clone(),
                });
            }
            let created = match key {
                SignerKey::Primary(key) => key.created_at(),
                SignerKey::Subkey(key) => key.created_at(),
            };
            let mut pinned_key_expired_on = None;
            if let Some(expiry) = expiry(created, &binding_signatures) {
                if expiry <= Timestamp::now().as_secs() as i64 {
                    let date = format_date(expiry);
                    if fingerprint == MATTERMOST_RELEASE_KEY_FINGERPRINT {
                        pinned_key_expired_on = Some(date);
                    } else {
                        return Err(SignerError::Expired {
                            fingerprint,
                            origin: trusted.origin.clone(),
                            date,
                        });
                    }
                }
            }
            return Ok(Signer {
                key,
                fingerprint,
                origin: &trusted.origin,
                pinned_key_expired_on,
            });
        }
        let issuer = issuer_fingerprints
            .first()
            .map(|f| fingerprint_hex(f))
            .or_else(|| issuer_ids.first().map(|id| hex::encode_upper(id.as_ref())))
            .unwrap_or_else(|| "an unnamed key".into());
        Err(SignerError::Unknown {
            issuer,
            trusted: self.fingerprints(),
        })
    }
}

/// Why no trusted signer could be found for a signature.
#[derive(Debug)]
pub enum SignerError {
    Unknown {
        issuer: String,
        trusted: Vec<String>,
    },
    Revoked {
        fingerprint: String,
        origin: KeyOrigin,
    },
    Expired {
        fingerprint: String,
        origin: KeyOrigin,
        date: String,
    },
}

impl std::fmt::Display for SignerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignerError::Unknown { issuer, trusted } => write!(
                f,
                "it was made by key {issuer}, which is not trusted (trusted: {})",
                trusted.join(", ")
            ),
            SignerError::Revoked {
                fingerprint,
                origin,
            } => {
                write!(f, "key {fingerprint} from {origin} is revoked")
            }
            SignerError::Expired {
                fingerprint,
                origin,
                date,
            } => {
                write!(f, "key {fingerprint} from {origin} expired on {date}")
            }
        }
    }
}

fn self_signatures(cert: &SignedPublicKey) -> Vec<&Signature> {
    cert.details
        .users
        .iter()
        .flat_map(|user| user.signatures.iter())
        .chain(cert.details.direct_signatures.iter())
        .collect()
}

/// When the key expires (unix seconds) according to its newest binding or self-signature.
fn expiry(created: Timestamp, signatures: &[&Signature]) -> Option<i64> {
    let newest = signatures
        .iter()
        .max_by_key(|sig| sig.created().map(|t| t.as_secs()))?;
    let lifetime = newest.key_expiration_time()?.as_secs();
    (lifetime > 0).then(|| created.as_secs() as i64 + lifetime as i64)
}

fn format_date(unix_seconds: i64) -> String {
    jiff::Timestamp::from_second(unix_seconds)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| format!("unix time {unix_seconds}"))
}

/// Upper-case hex without spaces, as `gpg --with-colons` prints it.
pub fn fingerprint_hex(fingerprint: &Fingerprint) -> String {
    hex::encode_upper(fingerprint.as_bytes())
}

/// `true` when `bytes` start (after whitespace) with an ASCII armor header.
pub fn looks_armored(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN PGP")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_key_is_the_pinned_mattermost_key() {
        let keyring = Keyring::mattermost().unwrap();
        assert_eq!(keyring.fingerprints(), [MATTERMOST_RELEASE_KEY_FINGERPRINT]);
        let cert = &keyring.keys[0].cert;
        let date = expiry(cert.primary_key.created_at(), &self_signatures(cert)).map(format_date);
        assert_eq!(date.as_deref(), Some("2024-04-06"));
    }

    #[test]
    fn a_missing_or_empty_keyring_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut keyring = Keyring::mattermost().unwrap();
        let missing = dir.path().join("missing.asc");
        let err = keyring.add_file(&missing).unwrap_err();
        assert!(err.to_string().contains("missing.asc"), "{err}");
        let garbage = dir.path().join("garbage.asc");
        fs_err::write(
            &garbage,
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n",
        )
        .unwrap();
        let err = keyring.add_file(&garbage).unwrap_err();
        assert!(err.to_string().contains("garbage.asc"), "{err}");
        assert_eq!(keyring.fingerprints().len(), 1);
    }

    /// A key whose signing subkey was revoked (what a publisher does when only the subkey leaked)
    /// no longer vouches for anything that subkey signs; before, only whole-key revocations
    /// counted.
    #[test]
    fn a_revoked_signing_subkey_is_refused() {
        use pgp::composed::{
            ArmorOptions, DetachedSignature, KeyType, SecretKeyParamsBuilder, SubkeyParamsBuilder,
        };
        use pgp::crypto::hash::HashAlgorithm;
        use pgp::packet::{SignatureConfig, Subpacket, SubpacketData};
        use pgp::types::Password;

        let subkey = SubkeyParamsBuilder::default()
            .key_type(KeyType::Ed25519Legacy)
            .can_sign(true)
            .build()
            .unwrap();
        let secret = SecretKeyParamsBuilder::default()
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id("mirror <mirror@example.test>".into())
            .subkey(subkey)
            .build()
            .unwrap()
            .generate(rand::thread_rng())
            .unwrap();
        let signature = DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            &secret.secret_subkeys[0].key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            &b"release"[..],
        )
        .unwrap()
        .signature;
        let dir = tempfile::tempdir().unwrap();
        let trust = |public: &SignedPublicKey| {
            let path = dir.path().join("key.asc");
            let armored = public.to_armored_string(ArmorOptions::default()).unwrap();
            fs_err::write(&path, armored).unwrap();
            let mut keyring = Keyring::mattermost().unwrap();
            keyring.add_file(&path).unwrap();
            keyring
        };
        let mut public = secret.to_public_key();
        let keyring = trust(&public);
        let signer = keyring.signer_of(&signature).unwrap();
        assert!(matches!(signer.key, SignerKey::Subkey(_)));

        let mut revocation = SignatureConfig::v4(
            SignatureType::SubkeyRevocation,
            secret.primary_key.algorithm(),
            HashAlgorithm::Sha256,
        );
        revocation.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now())).unwrap(),
            Subpacket::regular(SubpacketData::IssuerFingerprint(
                secret.primary_key.fingerprint(),
            ))
            .unwrap(),
        ];
        let revocation = revocation
            .sign_subkey_binding(
                &secret.primary_key,
                secret.primary_key.public_key(),
                &Password::empty(),
                &public.public_subkeys[0].key,
            )
            .unwrap();
        public.public_subkeys[0].signatures.push(revocation);
        let keyring = trust(&public);
        let err = keyring.signer_of(&signature).err().unwrap().to_string();
        assert!(
            err.contains("is revoked") && err.contains("signing subkey"),
            "{err}"
        );
    }
}
