//! HTTPS only (unless allowed), trusted roots, no redirects (ours: `[outbound]` in `docs/trustframe.toml`).

use serde_json::json;
use trustframe_connector::{ConnectorSettings, FailureReason, KeyStore};

use crate::helpers::*;

/// A profile that authenticates (so only the transport rule is in play).
fn authenticated(url: &str) -> Tp {
    let mut t = tp(url)
        .meta("AuthenticationType", "ApiKeyHeader")
        .key("x-api-key", "B2C_1A_Key");
    t.0.metadata
        .insert("AllowInsecureAuthInProduction", "false");
    t
}

fn keys() -> KeyStore {
    KeyStore::new().with("B2C_1A_Key", "k-123456")
}

#[tokio::test]
async fn plain_http_is_refused_in_production() {
    let pki = Pki::new();
    let api = spawn_api(Tls::None, ok).await;
    let h = Harness::new(&pki, keys());
    let outcome = h
        .exchange(&authenticated(&api.url("/x")), &claims(&[]))
        .await;
    assert_eq!(failure(&outcome), FailureReason::InsecureRefused);
    assert_eq!(api.hits(), 0);
    let record = h.last_record();
    assert_eq!(record.outcome, "failed:insecure_refused");
    assert_eq!(record.attempts, 0);
    assert!(
        record.detail["refused"]
            .as_str()
            .unwrap()
            .contains("http://")
    );
}

#[tokio::test]
async fn plain_http_is_allowed_by_the_profile_or_in_development() {
    let pki = Pki::new();
    let api = spawn_api(Tls::None, ok).await;

    let h = Harness::new(&pki, keys());
    let t = authenticated(&api.url("/x")).meta("AllowInsecureAuthInProduction", "true");
    continued(h.exchange(&t, &claims(&[])).await);

    let dev = Harness::with_settings(
        ConnectorSettings {
            development: true,
            ..ConnectorSettings::default()
        },
        keys(),
    );
    continued(
        dev.exchange(&authenticated(&api.url("/x")), &claims(&[]))
            .await,
    );
    assert_eq!(api.hits(), 2);
}

#[tokio::test]
async fn authentication_none_is_refused_in_production_even_over_https() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), ok).await;
    let h = Harness::new(&pki, keys());
    let mut t = tp(&api.url("/x"));
    t.0.metadata
        .insert("AllowInsecureAuthInProduction", "false");
    assert_eq!(
        failure(&h.exchange(&t, &claims(&[])).await),
        FailureReason::InsecureRefused
    );
    assert_eq!(api.hits(), 0);
    continued(
        h.exchange(
            &t.meta("AllowInsecureAuthInProduction", "true"),
            &claims(&[]),
        )
        .await,
    );
}

#[tokio::test]
async fn https_needs_a_trusted_root() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), ok).await;
    let t = authenticated(&api.url("/x")).meta("Retries", "0");
    // Trusted through extra_root_pems:
    continued(Harness::new(&pki, keys()).exchange(&t, &claims(&[])).await);
    // System roots only: the private CA is not trusted.
    let untrusted = Harness::with_settings(ConnectorSettings::default(), keys());
    let outcome = untrusted.exchange(&t, &claims(&[])).await;
    assert_eq!(failure(&outcome), FailureReason::Connect);
    assert_eq!(api.hits(), 1);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, seen| {
        if seen.path == "/old" {
            Reply::empty(302).header("location", "/new")
        } else {
            Reply::json(200, json!({}))
        }
    })
    .await;
    let h = Harness::new(&pki, keys());
    let outcome = h
        .exchange(&authenticated(&api.url("/old")), &claims(&[]))
        .await;
    assert_eq!(failure(&outcome), FailureReason::Redirect);
    let paths: Vec<String> = api.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        vec!["/old"],
        "the redirect target was never requested"
    );
    let record = h.last_record();
    assert_eq!(record.status, Some(302));
    assert_eq!(record.outcome, "failed:redirect");
}

#[tokio::test]
async fn bad_extra_roots_are_refused_at_construction() {
    let err = trustframe_connector::Connector::new(
        ConnectorSettings {
            extra_root_pems: vec![b"not a certificate".to_vec()],
            ..ConnectorSettings::default()
        },
        KeyStore::new(),
        std::sync::Arc::new(trustframe_connector::NoAudit),
    )
    .err()
    .expect("a CA file without a certificate is an error");
    assert!(err.to_string().contains("ca_files[0]"), "{err}");
}
