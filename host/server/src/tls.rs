//! Inbound TLS (`--tls-cert`, `--tls-key`): rustls with the ring provider, HTTP/2 or HTTP/1.1
//! chosen by ALPN, and the certificate read again on every reload (SIGHUP) so a renewed one
//! is used without a restart — handshakes after the reload get it, open connections keep
//! theirs. A certificate that cannot be read on a reload is logged and the one before it stays.
//!
//! ```no_run
//! # fn example() -> anyhow::Result<()> {
//! let files = karman::TlsFiles { cert: "cert.pem".into(), key: "key.pem".into() };
//! let certificates = karman::tls::Certificates::load(files)?;
//! let acceptor = certificates.acceptor();
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Where the server's certificate chain and private key are (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The server's certificate, replaced whole by [`Certificates::reload`].
pub struct Certificates {
    files: TlsFiles,
    current: ArcSwap<CertifiedKey>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for Certificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificates")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Certificates {
    /// Reads the certificate and key; an error names the file and what is wrong with it.
    pub fn load(files: TlsFiles) -> anyhow::Result<Arc<Self>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = read(&files, &provider)?;
        Ok(Arc::new(Self {
            files,
            current: ArcSwap::from_pointee(key),
            provider,
        }))
    }

    /// Reads the files again; on success new handshakes use them, on failure the certificate
    /// before stays (and the error says why).
    pub fn reload(&self) -> anyhow::Result<()> {
        let key = read(&self.files, &self.provider)?;
        self.current.store(Arc::new(key));
        Ok(())
    }

    /// The certificate new handshakes get.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.load_full()
    }

    /// An acceptor offering HTTP/2 and HTTP/1.1 (ALPN), with the certificate current at each
    /// handshake.
    pub fn acceptor(self: &Arc<Self>) -> TlsAcceptor {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(self.clone())));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    }
}

/// Hands every handshake the current certificate.
#[derive(Debug)]
struct Resolver(Arc<Certificates>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }
}

fn read(files: &TlsFiles, provider: &CryptoProvider) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("cannot read the certificate `{}`", files.cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!(
            "`{}` holds no certificate (PEM `CERTIFICATE` blocks)",
            files.cert.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("cannot read the private key `{}`", files.key.display()))?;
    CertifiedKey::from_der(chain, key, provider).with_context(|| {
        format!(
            "the key `{}` cannot be used with the certificate `{}`",
            files.key.display(),
            files.cert.display()
        )
    })
}
