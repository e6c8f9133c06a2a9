//! Local stand-ins for customers' APIs (HTTP, HTTPS, mutual TLS), a private PKI made with rcgen,
//! and builders for technical profiles, claims and the connector.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use trustframe_connector::{
    CallRecord, Connector, ConnectorSettings, ExchangeOutcome, KeyStore, MemoryAuditSink, RestCall,
};
use trustframe_policy::{
    ClaimRef, ClaimType, ClaimTypeId, ClaimValues, ClaimsSchema, ResolverContext, TechnicalProfile,
    TechnicalProfileKind,
};

// ---------------------------------------------------------------------------------------------
// A private PKI: a server CA (trusted through extra_root_pems), a client CA (trusted by the
// mutual-TLS server), and a client certificate from an unrelated CA.

pub struct Pki {
    pub ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
    client_ca_der: CertificateDer<'static>,
    /// PEM certificate + PKCS#8 key signed by the client CA.
    pub client_pem: String,
    /// PEM certificate + key signed by a CA nobody trusts.
    pub rogue_client_pem: String,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (params, key, cert.pem())
}

fn leaf(
    names: &[&str],
    eku: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, KeyPair>,
) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.extended_key_usages = vec![eku];
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert, key)
}

impl Pki {
    pub fn new() -> Self {
        let (ca_params, ca_key, ca_pem) = ca("Trustframe test server CA");
        let server_issuer = Issuer::new(ca_params, ca_key);
        let (server_cert, server_key) = leaf(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &server_issuer,
        );

        let (client_ca_params, client_ca_key, _) = ca("Trustframe test client CA");
        let client_ca_cert = client_ca_params.self_signed(&client_ca_key).unwrap();
        let client_issuer = Issuer::new(client_ca_params, client_ca_key);
        let (client_cert, client_key) = leaf(
            &["trustframe-connector"],
            ExtendedKeyUsagePurpose::ClientAuth,
            &client_issuer,
        );

        let (rogue_params, rogue_key, _) = ca("Somebody else's CA");
        let rogue_issuer = Issuer::new(rogue_params, rogue_key);
        let (rogue_cert, rogue_key) = leaf(
            &["trustframe-connector"],
            ExtendedKeyUsagePurpose::ClientAuth,
            &rogue_issuer,
        );

        Self {
            ca_pem,
            server_chain: vec![server_cert.der().clone()],
            server_key: server_key.serialize_der(),
            client_ca_der: client_ca_cert.der().clone(),
            client_pem: format!("{}{}", client_cert.pem(), client_key.serialize_pem()),
            rogue_client_pem: format!("{}{}", rogue_cert.pem(), rogue_key.serialize_pem()),
        }
    }

    fn server_config(&self, require_client_cert: bool) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.client_ca_der.clone()).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = builder
            .with_single_cert(self.server_chain.clone(), key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }
}

// ---------------------------------------------------------------------------------------------
// A customer's API that records what it receives and answers as a test scripts it.

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Reply {
    pub status: u16,
    pub body: Body,
    pub content_type: &'static str,
    pub delay: Duration,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, value: Value) -> Self {
        Self {
            status,
            body: Body::from(value.to_string()),
            content_type: "application/json",
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }

    pub fn raw(status: u16, body: impl Into<Body>) -> Self {
        Self {
            status,
            body: body.into(),
            content_type: "application/json",
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Self {
        Self::raw(status, Body::empty())
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// A chunked body (no Content-Length) of `chunks` pieces of `size` bytes, made lazily.
    pub fn endless(chunks: usize, size: usize) -> Self {
        let stream = futures::stream::iter(
            (0..chunks).map(move |_| Ok::<_, Infallible>(Bytes::from(vec![b' '; size]))),
        );
        Self::raw(200, Body::from_stream(stream))
    }
}

type Responder = Arc<dyn Fn(usize, &Seen) -> Reply + Send + Sync>;

#[derive(Clone)]
struct ApiState {
    seen: Arc<Mutex<Vec<Seen>>>,
    hits: Arc<AtomicUsize>,
    responder: Responder,
}

pub struct Api {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    hits: Arc<AtomicUsize>,
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Requests that reached the handler (after TLS).
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Seen {
        self.seen().last().cloned().expect("the API saw no request")
    }
}

async fn handle(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
    };
    let n = state.hits.fetch_add(1, Ordering::SeqCst);
    state.seen.lock().unwrap().push(seen.clone());
    let reply = (state.responder)(n, &seen);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap())
        .header("content-type", reply.content_type);
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder.body(reply.body).unwrap()
}

pub enum Tls<'a> {
    None,
    Server(&'a Pki),
    Mutual(&'a Pki),
}

/// Starts an API on 127.0.0.1:0; `responder(n, request)` answers the n-th request (from 0).
pub async fn spawn_api<F>(tls: Tls<'_>, responder: F) -> Api
where
    F: Fn(usize, &Seen) -> Reply + Send + Sync + 'static,
{
    let state = ApiState {
        seen: Arc::default(),
        hits: Arc::default(),
        responder: Arc::new(responder),
    };
    let app = Router::new().fallback(handle).with_state(state.clone());
    let base = serve(tls, app).await;
    Api {
        base,
        seen: state.seen,
        hits: state.hits,
    }
}

/// Serves a router on 127.0.0.1:0 and returns its base URL.
pub async fn serve(tls: Tls<'_>, app: Router) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let config = match tls {
        Tls::None => {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            return format!("http://{addr}");
        }
        Tls::Server(pki) => pki.server_config(false),
        Tls::Mutual(pki) => pki.server_config(true),
    };
    let config = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
    let server = axum_server::from_tcp_rustls(listener, config).unwrap();
    tokio::spawn(async move {
        let _ = server.serve(app.into_make_service()).await;
    });
    format!("https://localhost:{}", addr.port())
}

/// A 200 `{}` for every request.
pub fn ok(_: usize, _: &Seen) -> Reply {
    Reply::json(200, json!({}))
}

// ---------------------------------------------------------------------------------------------
// Policy pieces.

/// A claim type as the model holds it (built from JSON so that fields added to the model later,
/// all optional, do not break these tests).
pub fn claim_type(id: &str, data_type: &str, password: bool) -> ClaimType {
    serde_json::from_value(json!({
        "id": id,
        "display_name": id,
        "data_type": data_type,
        "user_input_type": if password { json!("password") } else { Value::Null },
        "user_help_text": null,
        "pattern": null,
        "enumeration": [],
        "span": {"file": "test", "line": 1, "column": 1},
    }))
    .unwrap()
}

pub fn schema() -> ClaimsSchema {
    let mut s = ClaimsSchema::default();
    for (id, ty, password) in [
        ("email", "string", false),
        ("password", "string", true),
        ("newPassword", "string", true),
        ("givenName", "string", false),
        ("surname", "string", false),
        ("displayName", "string", false),
        ("objectId", "string", false),
        ("userLanguage", "string", false),
        ("accessCode", "string", false),
        ("balance", "string", false),
        ("loyaltyNumber", "int", false),
        ("bigNumber", "long", false),
        ("isMember", "boolean", false),
        ("tags", "stringCollection", false),
        ("birthDate", "date", false),
        ("postalCode", "string", false),
        ("extension_loyaltyNumber", "string", false),
        ("extension_balance", "string", false),
        ("policyName", "string", false),
        ("apiToken", "string", false),
        ("payload", "string", false),
    ] {
        s.claim_types
            .insert(ClaimTypeId::new(id), claim_type(id, ty, password));
    }
    s
}

pub fn context() -> ResolverContext {
    ResolverContext {
        culture: "fr-FR".into(),
        policy_id: "B2C_1A_signup_signin".into(),
        tenant_id: "0d9e5c3e-0000-4000-8000-000000000001".into(),
        tenant_name: "contoso.onmicrosoft.com".into(),
        correlation_id: "corr-42".into(),
        oauth_params: [("client_id".to_owned(), "app-1234".to_owned())]
            .into_iter()
            .collect(),
        ..ResolverContext::default()
    }
}

/// A RESTful technical profile under construction.
pub struct Tp(pub TechnicalProfile);

pub fn tp(url: &str) -> Tp {
    let mut p = TechnicalProfile::new("REST-Test", TechnicalProfileKind::Restful);
    p.metadata.insert("ServiceUrl", url);
    p.metadata.insert("AuthenticationType", "None");
    p.metadata.insert("AllowInsecureAuthInProduction", "true");
    Tp(p)
}

impl Tp {
    pub fn id(mut self, id: &str) -> Self {
        self.0.id = id.into();
        self
    }

    pub fn meta(mut self, key: &str, value: &str) -> Self {
        self.0.metadata.insert(key, value);
        self
    }

    pub fn key(mut self, id: &str, reference: &str) -> Self {
        self.0
            .cryptographic_keys
            .insert(id.to_owned(), reference.to_owned());
        self
    }

    pub fn input(mut self, c: ClaimRef) -> Self {
        self.0.input_claims.push(c);
        self
    }

    pub fn output(mut self, c: ClaimRef) -> Self {
        self.0.output_claims.push(c);
        self
    }

    /// An API connector at `step`.
    pub fn connector(self, step: &str) -> Self {
        self.meta("ApiConnectorStep", step)
    }
}

pub fn claims(pairs: &[(&str, Value)]) -> ClaimValues {
    pairs
        .iter()
        .map(|(k, v)| (ClaimTypeId::new(*k), v.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The connector.

pub struct Harness {
    pub connector: Connector,
    pub audit: MemoryAuditSink,
    pub schema: ClaimsSchema,
    pub context: ResolverContext,
}

impl Harness {
    /// Production settings that trust the test CA.
    pub fn new(pki: &Pki, keys: KeyStore) -> Self {
        Self::with_settings(
            ConnectorSettings {
                extra_root_pems: vec![pki.ca_pem.clone().into_bytes()],
                ..ConnectorSettings::default()
            },
            keys,
        )
    }

    pub fn with_settings(settings: ConnectorSettings, keys: KeyStore) -> Self {
        let audit = MemoryAuditSink::new();
        let connector = Connector::new(settings, keys, Arc::new(audit.clone())).unwrap();
        Self {
            connector,
            audit,
            schema: schema(),
            context: context(),
        }
    }

    pub async fn exchange(&self, tp: &Tp, claims: &ClaimValues) -> ExchangeOutcome {
        self.try_exchange(tp, claims).await.unwrap()
    }

    pub async fn try_exchange(
        &self,
        tp: &Tp,
        claims: &ClaimValues,
    ) -> Result<ExchangeOutcome, trustframe_connector::ConnectorError> {
        self.connector
            .exchange(RestCall {
                profile: &tp.0,
                schema: &self.schema,
                claims,
                context: &self.context,
                step: Some("4"),
            })
            .await
    }

    pub fn records(&self) -> Vec<CallRecord> {
        self.audit.records()
    }

    pub fn last_record(&self) -> CallRecord {
        self.records().last().cloned().expect("no call record")
    }
}

/// The claims of a `Continue`, or a panic that shows what came instead.
pub fn continued(outcome: ExchangeOutcome) -> (ClaimValues, Vec<ClaimTypeId>) {
    match outcome {
        ExchangeOutcome::Continue { claims, cleared } => (claims, cleared),
        other => panic!("expected Continue, got {other:?}"),
    }
}

pub fn failure(outcome: &ExchangeOutcome) -> trustframe_connector::FailureReason {
    match outcome {
        ExchangeOutcome::Failed { reason, .. } => reason.clone(),
        other => panic!("expected Failed, got {other:?}"),
    }
}
