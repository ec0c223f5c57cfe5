//! Which TLS servers the tool trusts: the system's CA store (Debian's `/etc/ssl/certs`, RHEL's
//! `/etc/pki/tls/certs`, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set), where an on-prem CA or a
//! TLS-inspecting proxy's CA is installed, plus the certificates of an explicit `--ca-cert FILE`
//! (`ca_cert` in mm-install.toml). One rustls configuration on the `ring` provider serves the
//! downloads, the webhook and `verify`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::exit::{Diagnostic, ExitCode};

/// The trust cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot use {} as a CA certificate file: {reason}", path.display())]
    CaCert { path: PathBuf, reason: String },
    /// fs-err's message, which names the file.
    #[error("cannot read the CA certificate file: {0}")]
    CaCertUnreadable(String),
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

impl Diagnostic for TlsError {
    fn exit_code(&self) -> ExitCode {
        match self {
            TlsError::CaCert { .. } | TlsError::CaCertUnreadable(_) => ExitCode::Usage,
            TlsError::Setup(_) => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            TlsError::CaCert { .. } | TlsError::CaCertUnreadable(_) => Some(format!(
                "--ca-cert (or ca_cert in {}) expects a PEM file with one or more CA \
                 certificates (-----BEGIN CERTIFICATE-----)",
                crate::layout::SETTINGS_PATH
            )),
            TlsError::Setup(_) => None,
        }
    }
}

/// The client configuration trusting the system's CA store and the certificates in `ca_cert`.
pub fn client_config(ca_cert: Option<&Path>) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    // Unreadable entries of the system store are skipped: a certificate that is then missing
    // shows up as an untrusted server, whose hint names the ways to trust it.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = ca_cert {
        for certificate in read_ca_file(path)? {
            roots.add(certificate).map_err(|err| TlsError::CaCert {
                path: path.to_path_buf(),
                reason: err.to_string(),
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| TlsError::Setup(err.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Every certificate in the PEM file at `path`; none is an error.
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let invalid = |reason: String| TlsError::CaCert {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = fs_err::read(path).map_err(|err| TlsError::CaCertUnreadable(err.to_string()))?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| invalid(err.to_string()))?;
    if certificates.is_empty() {
        return Err(invalid("it holds no PEM certificate".into()));
    }
    Ok(certificates)
}

/// Whether `err` (or anything in its chain) is a server certificate rustls refused, and why.
pub fn untrusted_certificate(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    causes(err).find_map(|cause| match cause.downcast_ref::<rustls::Error>() {
        Some(rustls::Error::InvalidCertificate(why)) => Some(why.to_string()),
        _ => None,
    })
}

/// `err` and its causes, innermost last, looking inside `io::Error`s too (whose `source()`
/// skips the error they wrap).
pub fn causes<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |err| {
        match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = client_config(Some(&missing)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot read the CA certificate file: failed to open file `{}`: No such file or directory (os error 2)",
                missing.display()
            )
        );
        assert_eq!(err.exit_code(), ExitCode::Usage);
        let empty = dir.path().join("empty.pem");
        fs_err::write(&empty, "not a certificate\n").unwrap();
        let err = client_config(Some(&empty)).unwrap_err();
        assert!(
            err.to_string().ends_with("it holds no PEM certificate"),
            "{err}"
        );
        let broken = dir.path().join("broken.pem");
        fs_err::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = client_config(Some(&broken)).unwrap_err();
        assert!(err.to_string().contains("broken.pem"), "{err}");
    }

    #[test]
    fn ca_files_add_their_certificates() {
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        fs_err::write(&file, ca.pem().repeat(2)).unwrap();
        assert_eq!(read_ca_file(&file).unwrap().len(), 2);
        client_config(Some(&file)).unwrap();
    }

    #[test]
    fn untrusted_certificates_are_found_in_the_chain() {
        let rustls_err = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::other(rustls_err);
        assert!(untrusted_certificate(&io).is_some());
        let other = std::io::Error::other("connection refused");
        assert_eq!(untrusted_certificate(&other), None);
    }
}
