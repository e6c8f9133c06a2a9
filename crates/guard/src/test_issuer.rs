//! A local OpenID provider shaped like an Azure AD B2C policy, for tests of protected APIs
//! (feature `test-issuer`; never enable it in production builds).
//!
//! It serves the metadata in both B2C URL shapes and a JWKS on `127.0.0.1:0`, over HTTP or
//! HTTPS (with its own CA), with an issuer that differs from its metadata URL like B2C's. It
//! mints RS256 tokens, rotates keys, counts the requests it gets, and can be stopped and
//! resumed on the same port to play a provider that is down.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use trustframe_guard::{Guard, test_issuer::{AUDIENCE, TestIssuer}};
//!
//! let issuer = TestIssuer::start().await?;
//! let guard = Guard::builder(issuer.metadata_url()).audience(AUDIENCE).build();
//! let token = issuer.token().scopes("tasks.read").sign();
//! # Ok(()) }
//! ```
//!
//! Test support: panics on misuse like the tests it serves, and keeps a process-wide pool of
//! generated RSA keys, because generating them is the slow part of a test suite.

// Signing with a freshly generated key cannot fail short of a bug; tests want the panic.
#![allow(clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

/// The tenant name in the URLs.
pub const TENANT: &str = "contoso.onmicrosoft.com";
/// The tenant id in the issuer (`{base}/{TENANT_ID}/v2.0/`), as B2C does.
pub const TENANT_ID: &str = "8c2a4b4e-3f36-4c59-9d5b-6c0f1b6e2a11";
/// The policy of [`TestIssuer::metadata_url`] and the default `tfp` of tokens.
pub const POLICY: &str = "B2C_1_susi";
/// The default `aud` of tokens: the client id of the API under test.
pub const AUDIENCE: &str = "0239a9cc-309c-4d41-87f1-31288feb2e82";
/// The default `azp` of access tokens: the client id of the app that asked for them.
pub const CLIENT: &str = "11112222-bbbb-3333-cccc-4444dddd5555";

/// A running (or stopped) test provider. Stops when dropped.
pub struct TestIssuer {
    addr: SocketAddr,
    state: Arc<IssuerState>,
    tls: Option<Tls>,
    server: Mutex<Option<Running>>,
}

struct IssuerState {
    base: String,
    keys: Mutex<KeyRing>,
    metadata_requests: AtomicU64,
    jwks_requests: AtomicU64,
}

struct KeyRing {
    /// Indexes into the key pool; the last one signs.
    published: Vec<usize>,
    next: usize,
}

struct Tls {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

struct Running {
    stop: Stop,
    task: JoinHandle<()>,
}

enum Stop {
    Http(tokio::sync::oneshot::Sender<()>),
    Https(axum_server::Handle<SocketAddr>),
}

/// Pool index 0 is never published: it signs the tokens of an unknown key.
const STRANGER: usize = 0;

impl TestIssuer {
    /// Starts a provider over plain HTTP on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(None).await
    }

    /// Starts a provider over HTTPS on `127.0.0.1:0`, with a certificate for `127.0.0.1` and
    /// `localhost` issued by a fresh CA ([`TestIssuer::ca_pem`]).
    pub async fn start_https() -> std::io::Result<Self> {
        Self::start_with(Some(Tls::generate())).await
    }

    async fn start_with(tls: Option<Tls>) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let issuer = Self {
            addr,
            state: Arc::new(IssuerState {
                base: format!("{scheme}://{addr}"),
                keys: Mutex::new(KeyRing {
                    published: vec![1],
                    next: 2,
                }),
                metadata_requests: AtomicU64::new(0),
                jwks_requests: AtomicU64::new(0),
            }),
            tls,
            server: Mutex::new(None),
        };
        issuer.serve(listener).await?;
        Ok(issuer)
    }

    /// The per-policy metadata URL: `{base}/{tenant}/{policy}/v2.0/.well-known/openid-configuration`.
    pub fn metadata_url(&self) -> String {
        format!(
            "{}/{TENANT}/{POLICY}/v2.0/.well-known/openid-configuration",
            self.state.base
        )
    }

    /// The `?p=` metadata URL: `{base}/{tenant}/v2.0/.well-known/openid-configuration?p={policy}`.
    pub fn metadata_url_with_query(&self) -> String {
        format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration?p={POLICY}",
            self.state.base
        )
    }

    /// The `iss` of its tokens: `{base}/{TENANT_ID}/v2.0/`, unlike the metadata URL.
    pub fn issuer(&self) -> String {
        self.state.issuer()
    }

    /// The PEM of the CA that issued the HTTPS certificate (`None` over HTTP).
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|tls| tls.ca_pem.as_str())
    }

    /// The JWKS it publishes now.
    pub fn jwks(&self) -> Value {
        self.state.jwks()
    }

    /// An ID token of the app [`AUDIENCE`] (an API and its client registered as one app), as
    /// B2C issues it: the claims of [`TestIssuer::token`] without `azp`, with a `nonce`.
    pub fn id_token(&self) -> TokenBuilder<'_> {
        self.token().without("azp").claim("nonce", "defaultNonce")
    }

    /// An access token signed with the current key and B2C-like claims: `iss`, `sub`, `aud` =
    /// [`AUDIENCE`], `azp` = [`CLIENT`], `tfp` = [`POLICY`], `exp` in an hour, `nbf`/`iat` now,
    /// `ver`, `name`.
    pub fn token(&self) -> TokenBuilder<'_> {
        let now = now();
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer().into());
        claims.insert("sub".into(), "00000000-0000-0000-0000-000000000001".into());
        claims.insert("aud".into(), AUDIENCE.into());
        claims.insert("azp".into(), CLIENT.into());
        claims.insert("exp".into(), (now + 3600).into());
        claims.insert("nbf".into(), now.into());
        claims.insert("iat".into(), now.into());
        claims.insert("tfp".into(), POLICY.into());
        claims.insert("ver".into(), "1.0".into());
        claims.insert("name".into(), "Test User".into());
        TokenBuilder {
            issuer: self,
            key: None,
            kid: None,
            claims,
        }
    }

    /// Publishes a new key in place of the current one; later tokens are signed with it.
    pub fn rotate_keys(&self) {
        let mut ring = self.state.lock_keys();
        let fresh = ring.next;
        // Generate it now rather than inside the JWKS handler.
        let _ = pool_key(fresh);
        ring.next += 1;
        ring.published = vec![fresh];
    }

    /// How many times its metadata was fetched.
    pub fn metadata_requests(&self) -> u64 {
        self.state.metadata_requests.load(Ordering::SeqCst)
    }

    /// How many times its JWKS was fetched.
    pub fn jwks_requests(&self) -> u64 {
        self.state.jwks_requests.load(Ordering::SeqCst)
    }

    /// Stops answering: connections are refused until [`TestIssuer::resume`].
    pub async fn stop(&self) {
        let running = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Running { stop, task }) = running {
            match stop {
                Stop::Http(sender) => {
                    let _ = sender.send(());
                }
                Stop::Https(handle) => handle.graceful_shutdown(Some(Duration::from_secs(1))),
            }
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// Answers again, on the same address, with the same keys.
    pub async fn resume(&self) -> std::io::Result<()> {
        let listener = std::net::TcpListener::bind(self.addr)?;
        self.serve(listener).await
    }

    async fn serve(&self, listener: std::net::TcpListener) -> std::io::Result<()> {
        listener.set_nonblocking(true)?;
        let app = router(self.state.clone());
        let running = match &self.tls {
            None => {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(async move {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = receiver.await;
                        })
                        .await;
                });
                Running {
                    stop: Stop::Http(sender),
                    task,
                }
            }
            Some(tls) => {
                let config = axum_server::tls_rustls::RustlsConfig::from_pem(
                    tls.cert_pem.clone().into_bytes(),
                    tls.key_pem.clone().into_bytes(),
                )
                .await?;
                let handle = axum_server::Handle::new();
                let server = axum_server::from_tcp_rustls(listener, config)?.handle(handle.clone());
                let task = tokio::spawn(async move {
                    let _ = server.serve(app.into_make_service()).await;
                });
                Running {
                    stop: Stop::Https(handle),
                    task,
                }
            }
        };
        *self.server.lock().unwrap_or_else(PoisonError::into_inner) = Some(running);
        Ok(())
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        if let Some(running) = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            running.task.abort();
        }
    }
}

impl IssuerState {
    fn issuer(&self) -> String {
        format!("{}/{TENANT_ID}/v2.0/", self.base)
    }

    fn lock_keys(&self) -> std::sync::MutexGuard<'_, KeyRing> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn jwks(&self) -> Value {
        let published = self.lock_keys().published.clone();
        let keys: Vec<Value> = published
            .into_iter()
            .map(|i| pool_key(i).jwk.clone())
            .collect();
        json!({ "keys": keys })
    }

    fn metadata(&self, policy: &str) -> Value {
        let base = &self.base;
        let policy = policy.to_ascii_lowercase();
        json!({
            "issuer": self.issuer(),
            "authorization_endpoint": format!("{base}/{TENANT}/{policy}/oauth2/v2.0/authorize"),
            "token_endpoint": format!("{base}/{TENANT}/{policy}/oauth2/v2.0/token"),
            "end_session_endpoint": format!("{base}/{TENANT}/{policy}/oauth2/v2.0/logout"),
            "jwks_uri": format!("{base}/{TENANT}/{policy}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code", "code id_token", "code token", "code id_token token", "id_token", "id_token token", "token", "token id_token"],
            "scopes_supported": ["openid"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["name", "sub", "tfp", "iss", "iat", "exp", "aud", "acr", "nonce", "auth_time"]
        })
    }
}

fn router(state: Arc<IssuerState>) -> Router {
    Router::new()
        .route(
            "/{tenant}/{policy}/v2.0/.well-known/openid-configuration",
            get(metadata_by_path),
        )
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(metadata_by_query),
        )
        .route("/{tenant}/{policy}/discovery/v2.0/keys", get(keys))
        .with_state(state)
}

async fn metadata_by_path(
    State(state): State<Arc<IssuerState>>,
    Path((_tenant, policy)): Path<(String, String)>,
) -> Json<Value> {
    state.metadata_requests.fetch_add(1, Ordering::SeqCst);
    Json(state.metadata(&policy))
}

#[derive(serde::Deserialize)]
struct PolicyQuery {
    p: Option<String>,
}

async fn metadata_by_query(
    State(state): State<Arc<IssuerState>>,
    Query(query): Query<PolicyQuery>,
) -> Response {
    state.metadata_requests.fetch_add(1, Ordering::SeqCst);
    match query.p {
        Some(policy) => Json(state.metadata(&policy)).into_response(),
        None => (StatusCode::NOT_FOUND, "the policy (p) is missing").into_response(),
    }
}

async fn keys(State(state): State<Arc<IssuerState>>) -> Json<Value> {
    state.jwks_requests.fetch_add(1, Ordering::SeqCst);
    Json(state.jwks())
}

/// A token being made by [`TestIssuer::token`]; change claims, then [`TokenBuilder::sign`].
#[must_use]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    key: Option<usize>,
    kid: Option<String>,
    claims: Map<String, Value>,
}

impl TokenBuilder<'_> {
    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// `aud`.
    pub fn audience(self, audience: &str) -> Self {
        self.claim("aud", audience)
    }

    /// `iss`.
    pub fn issuer(self, issuer: &str) -> Self {
        self.claim("iss", issuer)
    }

    /// `tfp`, the policy.
    pub fn policy(self, policy: &str) -> Self {
        self.claim("tfp", policy)
    }

    /// `scp`, space-separated scopes.
    pub fn scopes(self, scopes: &str) -> Self {
        self.claim("scp", scopes)
    }

    /// `roles`.
    pub fn roles(self, roles: &[&str]) -> Self {
        self.claim("roles", roles.to_vec())
    }

    /// `exp` this many seconds from now (negative: in the past).
    pub fn expires_in(self, seconds: i64) -> Self {
        self.claim("exp", now().saturating_add_signed(seconds))
    }

    /// `nbf` this many seconds from now.
    pub fn not_before_in(self, seconds: i64) -> Self {
        self.claim("nbf", now().saturating_add_signed(seconds))
    }

    /// Signs with a key the issuer never publishes (`kid` `stranger`).
    pub fn unpublished_key(mut self) -> Self {
        self.key = Some(STRANGER);
        self.kid = Some("stranger".into());
        self
    }

    /// The RS256 JWT.
    pub fn sign(self) -> String {
        let index = self.key.unwrap_or_else(|| {
            let ring = self.issuer.state.lock_keys();
            ring.published.last().copied().unwrap_or(1)
        });
        let key = pool_key(index);
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.unwrap_or_else(|| kid(index)));
        jsonwebtoken::encode(&header, &self.claims, &key.encoding).expect("signing a test token")
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn kid(index: usize) -> String {
    format!("key-{index}")
}

struct PoolKey {
    encoding: EncodingKey,
    jwk: Value,
}

/// RSA-2048 keys, generated once per process and shared by every issuer.
fn pool_key(index: usize) -> Arc<PoolKey> {
    static POOL: OnceLock<Mutex<Vec<Arc<PoolKey>>>> = OnceLock::new();
    let mut pool = POOL
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    while pool.len() <= index {
        let generated = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .expect("generating an RSA test key");
        let encoding = EncodingKey::from_rsa_pem(generated.serialize_pem().as_bytes())
            .expect("reading the generated RSA key");
        let mut jwk = serde_json::to_value(
            Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("making a JWK"),
        )
        .expect("serializing a JWK");
        if let Value::Object(fields) = &mut jwk {
            fields.insert("kid".into(), kid(pool.len()).into());
            fields.insert("use".into(), "sig".into());
        }
        pool.push(Arc::new(PoolKey { encoding, jwk }));
    }
    pool[index].clone()
}

impl Tls {
    fn generate() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "trustframe-guard test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");

        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server certificate parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, "trustframe-guard test issuer");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &ca).expect("server certificate");
        Self {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}
