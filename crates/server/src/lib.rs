//! Trustframe's HTTP server: B2C's URL shapes in, engine and OpenID provider calls, HTTP out.
//!
//! [`Server::build`] binds (port 0 works) and returns a server whose address is known before it
//! runs, so tests start the real thing.

// Handlers return `Result<_, Response>`: the error is the page or JSON to send, as axum does.
#![allow(clippy::result_large_err)]

pub mod audit;
pub mod client_ip;
pub mod config;
pub mod connections;
pub mod cookies;
pub mod directory;
pub mod federation;
#[doc(hidden)]
pub mod fuzz;
pub mod journeys;
pub mod key_files;
pub mod mail;
pub mod metrics;
pub mod pages;
pub mod password_blocklist;
pub mod policies;
pub mod refresh;
pub mod rest;
pub mod routes;
pub mod tenant;
pub mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;

pub use config::Config;
pub use tenant::{StartError, Tenant};

/// Shared by every request.
pub struct AppState {
    pub tenants: Vec<Arc<Tenant>>,
    pub pages: pages::Pages,
    /// `https://localhost:8443` (no trailing slash).
    pub public_url: String,
    /// Cookies get `Secure` when the public URL is HTTPS.
    pub secure_cookies: bool,
    pub metrics: metrics::Metrics,
    /// Extra links on the home page (the demo's samples and mailbox).
    pub home_links: Vec<(String, String)>,
    /// Whose `X-Forwarded-For` names the client (`[server] trusted_proxies`).
    pub trusted_proxies: client_ip::TrustedProxies,
}

impl AppState {
    pub fn tenant(&self, segment: &str) -> Option<&Arc<Tenant>> {
        self.tenants.iter().find(|t| t.answers_to(segment))
    }

    pub fn token_viewer_url(&self) -> String {
        format!("{}/token-viewer", self.public_url)
    }
}

/// TLS files for HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub struct Server {
    listener: std::net::TcpListener,
    router: Router,
    tls: Option<TlsFiles>,
    state: Arc<AppState>,
    limits: connections::ConnectionLimits,
}

/// What to build a server from: tenants' configs (the first names the listener and public URL)
/// and extra routes mounted beside Trustframe's (the demo's samples).
pub struct ServerOptions {
    pub configs: Vec<Config>,
    pub extra_routes: Option<Router>,
    pub home_links: Vec<(String, String)>,
    /// Use this listener instead of binding `server.listen` (the demo binds first to learn its
    /// public URL).
    pub listener: Option<std::net::TcpListener>,
}

impl Server {
    pub async fn build(options: ServerOptions) -> Result<Self, StartError> {
        let Some(first) = options.configs.first() else {
            return Err(StartError::Other("no tenant configured".into()));
        };
        let server = first.server.clone();
        if let Some(key) = &server.tls_key {
            key_files::check_owner_only("server.tls_key", key).map_err(StartError::Other)?;
        }
        let listener = match options.listener {
            Some(l) => l,
            None => std::net::TcpListener::bind(server.listen).map_err(|e| {
                StartError::Other(format!("server.listen: cannot bind {}: {e}", server.listen))
            })?,
        };
        listener
            .set_nonblocking(true)
            .map_err(|e| StartError::Other(format!("server.listen: {e}")))?;
        let mut tenants = Vec::new();
        for config in &options.configs {
            tenants.push(Arc::new(Tenant::build(config).await?));
        }
        let pages =
            pages::Pages::new().map_err(|e| StartError::Other(format!("templates: {e}")))?;
        let metrics = metrics::Metrics::new(&tenants);
        let public_url = server.public_url.trim_end_matches('/').to_owned();
        let state = Arc::new(AppState {
            tenants,
            pages,
            secure_cookies: public_url.starts_with("https://"),
            public_url,
            metrics,
            home_links: options.home_links,
            trusted_proxies: server.trusted_proxies.clone(),
        });
        let mut router = routes::router(state.clone());
        if let Some(extra) = options.extra_routes {
            router = router.merge(extra);
        }
        let router = routes::with_script_navigation(router);
        let router = routes::with_security_headers(router, state.secure_cookies)
            .layer(axum::extract::DefaultBodyLimit::max(server.max_body_bytes));
        let limits = server.connection_limits();
        let tls = match (server.tls_cert, server.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            _ => None,
        };
        Ok(Self {
            listener,
            router,
            tls,
            state,
            limits,
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, std::io::Error> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until the process ends (or the task is dropped).
    pub async fn run(self) -> Result<(), StartError> {
        let housekeeping = tokio::spawn(housekeeping(self.state.clone()));
        let result = self.serve().await;
        housekeeping.abort();
        result
    }

    async fn serve(self) -> Result<(), StartError> {
        let acceptor = match self.tls {
            Some(tls) => {
                let config =
                    axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                        .await
                        .map_err(|e| StartError::Other(format!("server.tls_cert/tls_key: {e}")))?;
                Some(tokio_rustls::TlsAcceptor::from(config.get_inner()))
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::from_std(self.listener)
            .map_err(|e| StartError::Other(format!("server.listen: {e}")))?;
        connections::serve(listener, acceptor, self.router, self.limits).await;
        Ok(())
    }
}

/// Every minute: pick up key rotations made by other nodes (or `trustframe keys rotate`), drop
/// retired keys whose tokens have expired, and purge expired journeys, sessions and codes.
async fn housekeeping(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.tick().await;
    loop {
        tick.tick().await;
        for tenant in &state.tenants {
            if let Err(e) = tenant.oidc.reload_keys().await {
                tracing::warn!(tenant = %tenant.name, error = %e, "could not reload signing keys");
            }
            if let Err(e) = tenant.oidc.prune_keys().await {
                tracing::warn!(tenant = %tenant.name, error = %e, "could not prune retired keys");
            }
            purge(tenant).await;
        }
    }
}

/// Deletes what expired and the audit records past their retention (`[audit]
/// retention_days`); housekeeping runs it every minute on every node.
pub async fn purge(tenant: &Tenant) {
    let now = tenant::now();
    if let Err(e) = tenant.store.purge_expired(now).await {
        tracing::warn!(tenant = %tenant.name, error = %e, "could not purge expired rows");
    }
    if tenant.audit_retention_days > 0 {
        let before = now - i64::from(tenant.audit_retention_days) * 86_400;
        match tenant.store.purge_audit_before(before).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(tenant = %tenant.name, records = n, "audit records past retention deleted")
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant.name, error = %e, "could not purge old audit records")
            }
        }
    }
}
