//! AuthenticationType: Basic, Bearer (key or claim), ApiKeyHeader, ClientCertificate (mutual
//! TLS), ClientCredentials (OAuth2 with a cached token), and misconfigured keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use base64::Engine as _;
use serde_json::json;
use trustframe_connector::{ConnectorError, ExchangeOutcome, FailureReason, KeyStore};
use trustframe_policy::ClaimRef;

use crate::helpers::*;

/// An API that answers 200 only to this exact Authorization header, 401 otherwise.
async fn guarded(pki: &Pki, header: &str, expected: String) -> Api {
    let header = header.to_owned();
    spawn_api(Tls::Server(pki), move |_, seen| {
        if seen.header(&header).as_deref() == Some(expected.as_str()) {
            Reply::json(200, json!({"balance": "760.50"}))
        } else {
            Reply::json(401, json!({"error": "unauthorized"}))
        }
    })
    .await
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

#[tokio::test]
async fn basic_authentication_and_a_wrong_password() {
    let pki = Pki::new();
    let api = guarded(&pki, "authorization", basic("b2c", "Passw0rd!")).await;
    let t = tp(&api.url("/p"))
        .meta("AuthenticationType", "Basic")
        .key("BasicAuthenticationUsername", "B2C_1A_RestApiUsername")
        .key("BasicAuthenticationPassword", "B2C_1A_RestApiPassword")
        .output(ClaimRef::new("balance"));

    let good = KeyStore::new()
        .with("B2C_1A_RestApiUsername", "b2c")
        .with("B2C_1A_RestApiPassword", "Passw0rd!\n");
    let h = Harness::new(&pki, good);
    let (c, _) = continued(h.exchange(&t, &claims(&[])).await);
    assert_eq!(c[&"balance".into()], json!("760.50"));

    let wrong = KeyStore::new()
        .with("B2C_1A_RestApiUsername", "b2c")
        .with("B2C_1A_RestApiPassword", "nope");
    let h = Harness::new(&pki, wrong);
    let outcome = h.exchange(&t, &claims(&[])).await;
    assert_eq!(failure(&outcome), FailureReason::Status(401));
    assert_eq!(h.last_record().attempts, 1, "a 401 is not retried");
}

#[tokio::test]
async fn bearer_from_a_key_or_from_a_claim() {
    let pki = Pki::new();
    let api = guarded(&pki, "authorization", "Bearer tok-from-key-1".to_owned()).await;
    let t = tp(&api.url("/p"))
        .meta("AuthenticationType", "Bearer")
        .key("BearerAuthenticationToken", "B2C_1A_Bearer");
    let h = Harness::new(
        &pki,
        KeyStore::new().with("B2C_1A_Bearer", "tok-from-key-1"),
    );
    continued(h.exchange(&t, &claims(&[])).await);

    let api = guarded(
        &pki,
        "authorization",
        "Bearer user-access-token-9".to_owned(),
    )
    .await;
    let t = tp(&api.url("/p"))
        .meta("AuthenticationType", "Bearer")
        .meta("UseClaimAsBearerToken", "apiToken");
    let h = Harness::new(&pki, KeyStore::new());
    continued(
        h.exchange(&t, &claims(&[("apiToken", json!("user-access-token-9"))]))
            .await,
    );
    let wrong = h
        .exchange(&t, &claims(&[("apiToken", json!("someone-else"))]))
        .await;
    assert_eq!(failure(&wrong), FailureReason::Status(401));

    // No token: the call is not made.
    let hits = api.hits();
    let missing = h.exchange(&t, &claims(&[])).await;
    assert!(matches!(failure(&missing), FailureReason::Auth(_)));
    assert_eq!(api.hits(), hits);
    assert_eq!(h.last_record().attempts, 0);
}

#[tokio::test]
async fn api_key_header_uses_the_key_id_as_header_name() {
    let pki = Pki::new();
    let api = guarded(&pki, "x-functions-key", "fn-key-abc123".to_owned()).await;
    let t = tp(&api.url("/api/fn"))
        .meta("AuthenticationType", "ApiKeyHeader")
        .key("x-functions-key", "B2C_1A_FunctionKey");
    let h = Harness::new(
        &pki,
        KeyStore::new().with("B2C_1A_FunctionKey", "fn-key-abc123"),
    );
    continued(h.exchange(&t, &claims(&[])).await);

    let h = Harness::new(&pki, KeyStore::new().with("B2C_1A_FunctionKey", "wrong"));
    assert_eq!(
        failure(&h.exchange(&t, &claims(&[])).await),
        FailureReason::Status(401)
    );
}

#[tokio::test]
async fn client_certificate_mutual_tls() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Mutual(&pki), |_, _| {
        Reply::json(200, json!({"balance": "1.00"}))
    })
    .await;
    let t = tp(&api.url("/mtls"))
        .meta("AuthenticationType", "ClientCertificate")
        .key("ClientCertificate", "B2C_1A_RestApiClientCertificate")
        .meta("Retries", "0")
        .output(ClaimRef::new("balance"));

    let h = Harness::new(
        &pki,
        KeyStore::new().with("B2C_1A_RestApiClientCertificate", pki.client_pem.clone()),
    );
    let (c, _) = continued(h.exchange(&t, &claims(&[])).await);
    assert_eq!(c[&"balance".into()], json!("1.00"));
    // The client is cached: a second call works the same.
    continued(h.exchange(&t, &claims(&[])).await);
    assert_eq!(api.hits(), 2);

    // A certificate from a CA the API does not trust, and no certificate at all.
    let rogue = Harness::new(
        &pki,
        KeyStore::new().with(
            "B2C_1A_RestApiClientCertificate",
            pki.rogue_client_pem.clone(),
        ),
    );
    let outcome = rogue.exchange(&t, &claims(&[])).await;
    assert_eq!(failure(&outcome), FailureReason::Connect);

    let none = Harness::new(&pki, KeyStore::new().with("u", "user").with("p", "pass"));
    let t_basic = tp(&api.url("/mtls"))
        .meta("AuthenticationType", "Basic")
        .meta("Retries", "0")
        .key("BasicAuthenticationUsername", "u")
        .key("BasicAuthenticationPassword", "p");
    let outcome = none.exchange(&t_basic, &claims(&[])).await;
    assert_eq!(failure(&outcome), FailureReason::Connect);
    assert_eq!(
        api.hits(),
        2,
        "no request without a trusted certificate reached the API"
    );
}

#[tokio::test]
async fn a_certificate_that_is_not_pem_is_misconfiguration() {
    let pki = Pki::new();
    let t = tp("https://localhost:1/x")
        .meta("AuthenticationType", "ClientCertificate")
        .key("ClientCertificate", "B2C_1A_Cert");
    let h = Harness::new(
        &pki,
        KeyStore::new().with("B2C_1A_Cert", vec![0x30, 0x82, 0x01]),
    );
    let err = h.try_exchange(&t, &claims(&[])).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::BadCertificate { .. }),
        "{err}"
    );
    assert_eq!(h.last_record().outcome, "failed:misconfigured");
}

#[tokio::test]
async fn unknown_key_references_and_missing_service_url_are_errors() {
    let pki = Pki::new();
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp("https://localhost:1/x")
        .meta("AuthenticationType", "Basic")
        .key("BasicAuthenticationUsername", "B2C_1A_Nope")
        .key("BasicAuthenticationPassword", "B2C_1A_Nope2");
    let err = h.try_exchange(&t, &claims(&[])).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::UnknownKeyReference { ref reference, .. } if reference == "B2C_1A_Nope"),
        "{err}"
    );

    let mut t = tp("");
    t.0.metadata = Default::default();
    let err = h.try_exchange(&t, &claims(&[])).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::MissingMetadata {
                key: "ServiceUrl",
                ..
            }
        ),
        "{err}"
    );
    let records = h.records();
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|r| r.outcome == "failed:misconfigured" && r.attempts == 0)
    );
}

// ---------------------------------------------------------------------------------------------
// OAuth2 client credentials.

#[derive(Clone, Default)]
struct TokenServer {
    fetches: Arc<AtomicUsize>,
}

async fn token(
    State(s): State<TokenServer>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> (StatusCode, axum::Json<serde_json::Value>) {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("grant_type") != Some("client_credentials")
        || get("client_id") != Some("connector-app")
        || get("client_secret") != Some("client-secret-XYZ")
        || get("scope") != Some("api://loyalty/.default")
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        );
    }
    let n = s.fetches.fetch_add(1, Ordering::SeqCst) + 1;
    // Slow enough that concurrent callers overlap with the fetch.
    tokio::time::sleep(Duration::from_millis(200)).await;
    (
        StatusCode::OK,
        axum::Json(
            json!({"access_token": format!("oauth-token-{n}"), "token_type": "Bearer", "expires_in": 3600}),
        ),
    )
}

#[tokio::test]
async fn client_credentials_fetch_one_token_for_concurrent_calls_and_cache_it() {
    let pki = Pki::new();
    let server = TokenServer::default();
    let token_base = serve(
        Tls::Server(&pki),
        Router::new()
            .route("/oauth2/token", post(token))
            .with_state(server.clone()),
    )
    .await;
    let api = spawn_api(Tls::Server(&pki), |_, seen| {
        if seen
            .header("authorization")
            .is_some_and(|a| a.starts_with("Bearer oauth-token-"))
        {
            Reply::json(
                200,
                json!({"version": "1.0.0", "action": "Continue", "extension_loyaltyNumber": "LN1"}),
            )
        } else {
            Reply::json(401, json!({}))
        }
    })
    .await;
    let t = tp(&api.url("/enrich"))
        .connector("PreTokenIssuance")
        .meta("AuthenticationType", "ClientCredentials")
        .meta("TokenEndpoint", &format!("{token_base}/oauth2/token"))
        .meta("TokenScope", "api://loyalty/.default")
        .key("ClientId", "B2C_1A_ConnectorClientId")
        .key("ClientSecret", "B2C_1A_ConnectorClientSecret")
        .output(ClaimRef::new("extension_loyaltyNumber"));
    let keys = KeyStore::new()
        .with("B2C_1A_ConnectorClientId", "connector-app")
        .with("B2C_1A_ConnectorClientSecret", "client-secret-XYZ");
    let h = Harness::new(&pki, keys);

    let c = claims(&[]);
    let calls = (0..10).map(|_| h.exchange(&t, &c));
    for outcome in futures::future::join_all(calls).await {
        let (claims, _) = continued(outcome);
        assert_eq!(claims[&"extension_loyaltyNumber".into()], json!("LN1"));
    }
    continued(h.exchange(&t, &c).await);
    assert_eq!(
        server.fetches.load(Ordering::SeqCst),
        1,
        "one token fetch, then the cache"
    );
    assert_eq!(h.connector.token_fetches(), 1);
    assert_eq!(api.hits(), 11);

    // A wrong client secret: the token endpoint refuses, the API is never called.
    let wrong = Harness::new(
        &pki,
        KeyStore::new()
            .with("B2C_1A_ConnectorClientId", "connector-app")
            .with("B2C_1A_ConnectorClientSecret", "wrong-secret"),
    );
    let outcome = wrong.exchange(&t, &c).await;
    match failure(&outcome) {
        FailureReason::Auth(why) => assert!(why.contains("401"), "{why}"),
        other => panic!("expected Auth, got {other:?}"),
    }
    assert_eq!(api.hits(), 11);
    assert!(matches!(outcome, ExchangeOutcome::Failed { .. }));
}
