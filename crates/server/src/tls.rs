//! TLS with rustls (ring provider): the server's own certificate (`[tls] cert_file, key_file`)
//! and the webhook client's trust (the Mozilla roots plus `alerts.webhook_ca_file`). Files are
//! read at start, so a missing or unreadable certificate stops the server with its path.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// `[tls]`: serve HTTPS directly (otherwise plain HTTP, e.g. behind a TLS-terminating proxy).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path, what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("{what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{what} {}: no PEM certificate in it", path.display());
    }
    Ok(certs)
}

/// The server's TLS acceptor.
pub fn acceptor(t: &TlsSettings) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let chain = certs(&t.cert_file, "tls.cert_file")?;
    let key = PrivateKeyDer::from_pem_file(&t.key_file)
        .map_err(|e| anyhow::anyhow!("tls.key_file {}: {e}", t.key_file.display()))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| anyhow::anyhow!("tls: the certificate and key do not fit: {e}"))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// An HTTP client's TLS (webhooks, the IdP): the Mozilla roots, plus the institution's own CA
/// when given (`setting` names it in errors).
pub fn client_config(
    extra_ca: Option<&Path>,
    setting: &str,
) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(p) = extra_ca {
        for c in certs(p, setting)? {
            roots
                .add(c)
                .map_err(|e| anyhow::anyhow!("{setting} {}: {e}", p.display()))?;
        }
    }
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("tls: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}
