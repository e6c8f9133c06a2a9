//! The outbound HTTPS client (ours, `[outbound]` in `docs/trustframe.toml`): system roots plus `[outbound] ca_files`,
//! TLS 1.2 or later, no redirects followed. One client per client certificate (mutual TLS needs
//! the identity in the TLS configuration), built on first use and kept.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Certificate, Client, ClientBuilder, Identity, redirect, tls};

use crate::error::ConnectorError;
use crate::keys::KeyStore;

pub(crate) struct Clients {
    roots: Vec<Certificate>,
    base: Client,
    by_certificate: Mutex<HashMap<String, Client>>,
}

impl Clients {
    pub(crate) fn new(extra_root_pems: &[Vec<u8>]) -> Result<Self, ConnectorError> {
        let mut roots = Vec::new();
        for (i, pem) in extra_root_pems.iter().enumerate() {
            let certs =
                Certificate::from_pem_bundle(pem).map_err(|e| ConnectorError::BadCertificate {
                    name: format!("ca_files[{i}]"),
                    reason: e.to_string(),
                })?;
            if certs.is_empty() {
                return Err(ConnectorError::BadCertificate {
                    name: format!("ca_files[{i}]"),
                    reason: "no PEM certificate found".to_owned(),
                });
            }
            roots.extend(certs);
        }
        let base = builder(&roots)
            .build()
            .map_err(|e| ConnectorError::Client(e.to_string()))?;
        Ok(Self {
            roots,
            base,
            by_certificate: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn base(&self) -> &Client {
        &self.base
    }

    /// The client that presents the certificate stored under `reference` (PEM: certificate
    /// chain, leaf first, and its private key in PKCS#8, PKCS#1 or SEC1 form).
    pub(crate) fn with_certificate(
        &self,
        reference: &str,
        keys: &KeyStore,
    ) -> Result<Client, ConnectorError> {
        let cache_key = reference.to_lowercase();
        if let Some(client) = self.lock().get(&cache_key) {
            return Ok(client.clone());
        }
        let pem = keys
            .get(reference)
            .ok_or_else(|| ConnectorError::BadCertificate {
                name: reference.to_owned(),
                reason: "not in the key store".to_owned(),
            })?;
        if !contains_pem(pem, "CERTIFICATE") || !contains_pem(pem, "PRIVATE KEY") {
            return Err(ConnectorError::BadCertificate {
                name: reference.to_owned(),
                reason: "expected PEM with a CERTIFICATE and a PRIVATE KEY (PKCS#12/.pfx is not \
                         read: convert it with `openssl pkcs12 -nodes`)"
                    .to_owned(),
            });
        }
        let identity = Identity::from_pem(pem).map_err(|e| ConnectorError::BadCertificate {
            name: reference.to_owned(),
            reason: e.to_string(),
        })?;
        let client = builder(&self.roots)
            .identity(identity)
            .build()
            .map_err(|e| ConnectorError::BadCertificate {
                name: reference.to_owned(),
                reason: e.to_string(),
            })?;
        self.lock().insert(cache_key, client.clone());
        Ok(client)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Client>> {
        match self.by_certificate.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

fn contains_pem(pem: &[u8], label: &str) -> bool {
    let text = String::from_utf8_lossy(pem);
    text.lines()
        .any(|l| l.starts_with("-----BEGIN ") && l.contains(label))
}

fn builder(roots: &[Certificate]) -> ClientBuilder {
    Client::builder()
        .redirect(redirect::Policy::none())
        .tls_version_min(tls::Version::TLS_1_2)
        .tls_certs_merge(roots.iter().cloned())
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("Trustframe/", env!("CARGO_PKG_VERSION")))
}
