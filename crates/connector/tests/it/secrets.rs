//! No secret in call records or logs: authorization headers, keys, bearer claims, OAuth2 client
//! secrets and tokens, password-type claims — even when the API echoes them back.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use trustframe_connector::KeyStore;
use trustframe_policy::ClaimRef;

use crate::helpers::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const BASIC_PASSWORD: &str = "B4sic-Pa55word!";
const API_KEY: &str = "ApiKey-0123456789";
const BEARER_CLAIM: &str = "eyJ-bearer-claim-token";
const USER_PASSWORD: &str = "P@ssw0rd user typed";
const CLIENT_SECRET: &str = "client-secret-Qw3rty";
const ACCESS_TOKEN: &str = "access-token-SECRET-777";

/// An API that echoes everything it received (headers, query, body) in its answer.
fn echo(status: u16) -> impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static {
    move |_, seen| {
        let headers: Map<String, Value> = seen
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned()),
                )
            })
            .collect();
        Reply::json(
            status,
            json!({
                "version": "1.0.0",
                "status": status,
                "action": "Continue",
                "userMessage": format!("you sent {}", seen.text()),
                "echo": {"headers": headers, "query": seen.query, "body": seen.text()},
            }),
        )
    }
}

#[tokio::test(flavor = "current_thread")]
async fn secrets_never_reach_call_records_or_logs() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    // tracing registers a callsite on first use, and while one dispatcher exists it asks only
    // the registering thread's default: a connector callsite first hit by a test running on
    // another thread would be cached as "never" for ours. A second (silent) dispatcher makes
    // registration ask every live dispatcher, ours included.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _guard = tracing::subscriber::set_default(subscriber);

    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), echo(200)).await;
    let conflict = spawn_api(Tls::Server(&pki), echo(409)).await;
    let token_base = serve(
        Tls::Server(&pki),
        Router::new().route(
            "/token",
            post(|| async {
                axum::Json(json!({"access_token": ACCESS_TOKEN, "expires_in": 3600}))
            }),
        ),
    )
    .await;

    let keys = KeyStore::new()
        .with("B2C_1A_User", "b2c-user")
        .with("B2C_1A_Password", BASIC_PASSWORD)
        .with("B2C_1A_ApiKey", API_KEY)
        .with("B2C_1A_ClientId", "client-app")
        .with("B2C_1A_ClientSecret", CLIENT_SECRET);
    let shown = format!("{keys:?}");
    let h = Harness::new(&pki, keys);
    let c = claims(&[
        ("email", json!("emily@example.com")),
        ("password", json!(USER_PASSWORD)),
        ("apiToken", json!(BEARER_CLAIM)),
    ]);
    let with_inputs = |t: Tp| {
        t.input(ClaimRef::new("email"))
            .input(ClaimRef::new("password").partner("pwd"))
    };

    let profiles = vec![
        with_inputs(tp(&api.url("/basic?code=k")))
            .meta("AuthenticationType", "Basic")
            .key("BasicAuthenticationUsername", "B2C_1A_User")
            .key("BasicAuthenticationPassword", "B2C_1A_Password"),
        with_inputs(tp(&api.url("/key")))
            .meta("AuthenticationType", "ApiKeyHeader")
            .meta("SendClaimsIn", "Header")
            .key("x-functions-key", "B2C_1A_ApiKey"),
        with_inputs(tp(&api.url("/bearer")))
            .meta("AuthenticationType", "Bearer")
            .meta("SendClaimsIn", "QueryString")
            .meta("UseClaimAsBearerToken", "apiToken")
            // The bearer claim is also sent: it stays a secret there too.
            .input(ClaimRef::new("apiToken")),
        with_inputs(tp(&api.url("/form")))
            .meta("AuthenticationType", "Bearer")
            .meta("SendClaimsIn", "Form")
            .meta("UseClaimAsBearerToken", "apiToken")
            .input(ClaimRef::new("apiToken")),
        with_inputs(tp(&api.url("/oauth")))
            .connector("PostAttributeCollection")
            .meta("AuthenticationType", "ClientCredentials")
            .meta("TokenEndpoint", &format!("{token_base}/token"))
            .key("ClientId", "B2C_1A_ClientId")
            .key("ClientSecret", "B2C_1A_ClientSecret"),
        with_inputs(tp(&conflict.url("/conflict")))
            .meta("AuthenticationType", "ApiKeyHeader")
            .key("x-functions-key", "B2C_1A_ApiKey"),
        with_inputs(tp(&api.url("/{pwd}")))
            .meta("SendClaimsIn", "Url")
            .meta("AuthenticationType", "ApiKeyHeader")
            .key("x-functions-key", "B2C_1A_ApiKey"),
    ];
    for t in &profiles {
        h.exchange(t, &c).await;
    }

    // The secrets did reach the API (so the test can fail)…
    let seen = format!("{:?}", api.seen());
    assert!(seen.contains(API_KEY) && seen.contains(BEARER_CLAIM) && seen.contains(ACCESS_TOKEN));
    assert!(seen.contains("P%40ssw0rd+user+typed") || seen.contains(USER_PASSWORD));

    // …and nowhere else.
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("b2c-user:{BASIC_PASSWORD}"));
    let secrets = [
        BASIC_PASSWORD,
        basic.as_str(),
        API_KEY,
        BEARER_CLAIM,
        USER_PASSWORD,
        "P%40ssw0rd",
        "P@ssw0rd",
        CLIENT_SECRET,
        ACCESS_TOKEN,
    ];
    let records = h.records();
    assert_eq!(records.len(), profiles.len());
    let records_text = serde_json::to_string(&records).unwrap();
    assert!(records_text.contains("[redacted]"));
    assert!(
        records_text.contains("emily@example.com"),
        "non-secret claims are kept"
    );
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("REST claims exchange"),
        "the logs were captured: {logs}"
    );
    for secret in secrets {
        assert!(
            !records_text.contains(secret),
            "{secret:?} in a call record: {records_text}"
        );
        assert!(!logs.contains(secret), "{secret:?} in the logs: {logs}");
        assert!(!shown.contains(secret), "{secret:?} in KeyStore's Debug");
    }
}
