//! The per-endpoint circuit breaker (`CircuitBreakerFailures`, `CircuitBreakerSeconds`,
//! `UserMessageIfCircuitOpen`) against a real local API that counts its requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use serde_json::json;
use trustframe_connector::{ConnectorError, ExchangeOutcome, FailureReason, KeyStore};

use crate::helpers::*;

const OPEN_MESSAGE: &str = "The loyalty service is resting. Try again shortly.";

/// An API answering with the status in `status` (an empty JSON object).
async fn switchable_api(pki: &Pki, status: &Arc<AtomicU16>) -> Api {
    let status = Arc::clone(status);
    spawn_api(Tls::Server(pki), move |_, _| {
        Reply::json(status.load(Ordering::SeqCst), json!({}))
    })
    .await
}

fn circuit_open(message: &str) -> ExchangeOutcome {
    ExchangeOutcome::Failed {
        user_message: message.to_owned(),
        reason: FailureReason::CircuitOpen,
    }
}

/// A little over the 1 s cool-down.
async fn cool_down() {
    tokio::time::sleep(Duration::from_millis(1150)).await;
}

#[tokio::test]
async fn opens_after_n_failures_refuses_without_calling_then_half_opens_and_closes() {
    let pki = Pki::new();
    let status = Arc::new(AtomicU16::new(503));
    let api = switchable_api(&pki, &status).await;
    let h = Harness::new(&pki, KeyStore::new());
    let mut registry = Registry::default();
    h.connector.register_metrics(&mut registry);
    let t = tp(&api.url("/loyalty"))
        .id("REST-Loyalty")
        .meta("Retries", "1")
        .meta("CircuitBreakerFailures", "3")
        .meta("CircuitBreakerSeconds", "1")
        .meta("UserMessageIfCircuitOpen", OPEN_MESSAGE)
        .meta("DefaultUserMessageIfRequestFailed", "Down.");

    // Closed: three failed exchanges (two tries each) reach the API.
    for _ in 0..3 {
        assert_eq!(
            failure(&h.exchange(&t, &claims(&[])).await),
            FailureReason::Status(503)
        );
    }
    assert_eq!(api.hits(), 6, "N counts exchanges, not tries");

    // Open: refused at once, the API sees nothing.
    for _ in 0..3 {
        assert_eq!(
            h.exchange(&t, &claims(&[])).await,
            circuit_open(OPEN_MESSAGE)
        );
    }
    assert_eq!(api.hits(), 6, "an open circuit made a network call");
    let record = h.last_record();
    assert_eq!(record.outcome, "failed:circuit_open");
    assert_eq!(record.attempts, 0);
    assert_eq!(record.status, None);
    assert_eq!(record.technical_profile, "REST-Loyalty");
    assert_eq!(record.detail["circuit"]["state"], json!("open"));
    assert_eq!(record.detail["circuit"]["consecutiveFailures"], json!(3));
    assert_eq!(record.detail["userMessage"], json!(OPEN_MESSAGE));
    assert_eq!(record.detail["tries"], json!([]));

    // Half-open after the cool-down: one trial reaches the API; it fails, so open again.
    cool_down().await;
    assert_eq!(
        failure(&h.exchange(&t, &claims(&[])).await),
        FailureReason::Status(503)
    );
    assert_eq!(
        api.hits(),
        8,
        "the trial call (with its retry) reached the API"
    );
    assert_eq!(
        h.last_record().detail["circuit"]["state"],
        json!("half_open")
    );
    assert_eq!(
        h.exchange(&t, &claims(&[])).await,
        circuit_open(OPEN_MESSAGE)
    );
    assert_eq!(api.hits(), 8);

    // The API recovers: the next trial closes the circuit and calls flow again.
    status.store(200, Ordering::SeqCst);
    assert_eq!(
        h.exchange(&t, &claims(&[])).await,
        circuit_open(OPEN_MESSAGE),
        "still cooling down"
    );
    cool_down().await;
    for n in 0..3 {
        continued(h.exchange(&t, &claims(&[])).await);
        assert_eq!(api.hits(), 9 + n);
    }
    assert_eq!(h.last_record().outcome, "continue");

    // Closed again: it takes N fresh failures to open it.
    status.store(503, Ordering::SeqCst);
    for _ in 0..2 {
        assert_eq!(
            failure(&h.exchange(&t, &claims(&[])).await),
            FailureReason::Status(503)
        );
    }
    assert_eq!(api.hits(), 15);

    let mut text = String::new();
    encode(&mut text, &registry).unwrap();
    for line in [
        r#"trustframe_connector_errors_total{technical_profile="REST-Loyalty",reason="circuit_open"} 5"#,
        r#"trustframe_connector_circuit_opened_total{technical_profile="REST-Loyalty"} 2"#,
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
}

#[tokio::test]
async fn the_message_falls_back_to_the_default_failure_message() {
    let pki = Pki::new();
    let status = Arc::new(AtomicU16::new(500));
    let api = switchable_api(&pki, &status).await;
    let h = Harness::new(&pki, KeyStore::new());

    let t = tp(&api.url("/a"))
        .meta("Retries", "0")
        .meta("CircuitBreakerFailures", "1")
        .meta("DefaultUserMessageIfRequestFailed", "Our partner is down.");
    h.exchange(&t, &claims(&[])).await;
    assert_eq!(
        h.exchange(&t, &claims(&[])).await,
        circuit_open("Our partner is down.")
    );

    let t = tp(&api.url("/b"))
        .meta("Retries", "0")
        .meta("CircuitBreakerFailures", "1");
    h.exchange(&t, &claims(&[])).await;
    match h.exchange(&t, &claims(&[])).await {
        ExchangeOutcome::Failed {
            user_message,
            reason: FailureReason::CircuitOpen,
        } => assert!(!user_message.is_empty()),
        other => panic!("{other:?}"),
    }
    assert_eq!(api.hits(), 2);
}

#[tokio::test]
async fn five_consecutive_failures_by_default_and_connection_failures_count() {
    let pki = Pki::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&format!("https://127.0.0.1:{port}/x")).meta("Retries", "0");
    for _ in 0..5 {
        assert_eq!(
            failure(&h.exchange(&t, &claims(&[])).await),
            FailureReason::Connect
        );
    }
    assert_eq!(
        failure(&h.exchange(&t, &claims(&[])).await),
        FailureReason::CircuitOpen
    );
}

#[tokio::test]
async fn client_errors_validation_errors_and_block_pages_never_open_it() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, seen| match seen.path.as_str() {
        "/400" => Reply::json(400, json!({})),
        "/404" => Reply::json(404, json!({})),
        "/429" => Reply::json(429, json!({})),
        "/409" => Reply::json(
            409,
            json!({"version": "1.0.0", "status": 409, "userMessage": "Bad number."}),
        ),
        "/validation" => Reply::json(
            400,
            json!({"version": "1.0.0", "status": 400, "action": "ValidationError",
                   "userMessage": "Fix it."}),
        ),
        _ => Reply::json(
            200,
            json!({"version": "1.0.0", "action": "ShowBlockPage", "userMessage": "No."}),
        ),
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    let profiles = [
        tp(&api.url("/400")),
        tp(&api.url("/404")),
        tp(&api.url("/429")),
        tp(&api.url("/409")),
        tp(&api.url("/validation")).connector("PostAttributeCollection"),
        tp(&api.url("/block")).connector("PostAttributeCollection"),
    ];
    for (i, t) in profiles.into_iter().enumerate() {
        let t = t.meta("CircuitBreakerFailures", "1");
        for _ in 0..3 {
            let outcome = h.exchange(&t, &claims(&[])).await;
            assert!(
                !matches!(
                    outcome,
                    ExchangeOutcome::Failed {
                        reason: FailureReason::CircuitOpen,
                        ..
                    }
                ),
                "{outcome:?}"
            );
        }
        assert_eq!(api.hits(), 3 * (i + 1), "profile {i}");
    }
}

#[tokio::test]
async fn zero_failures_disables_the_breaker() {
    let pki = Pki::new();
    let status = Arc::new(AtomicU16::new(503));
    let api = switchable_api(&pki, &status).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&api.url("/x"))
        .meta("Retries", "0")
        .meta("CircuitBreakerFailures", "0");
    for _ in 0..8 {
        assert_eq!(
            failure(&h.exchange(&t, &claims(&[])).await),
            FailureReason::Status(503)
        );
    }
    assert_eq!(api.hits(), 8);
}

#[tokio::test]
async fn circuits_are_per_profile_and_url_without_query_and_shared_by_clones() {
    let pki = Pki::new();
    let status = Arc::new(AtomicU16::new(503));
    let api = switchable_api(&pki, &status).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = |id: &str, path: &str| {
        tp(&api.url(path))
            .id(id)
            .meta("Retries", "0")
            .meta("CircuitBreakerFailures", "2")
    };
    h.exchange(&t("REST-A", "/x?code=1"), &claims(&[])).await;
    h.exchange(&t("REST-A", "/x?code=2"), &claims(&[])).await;
    assert_eq!(api.hits(), 2);
    // Same profile and URL, another query string: the same (open) circuit.
    assert_eq!(
        failure(&h.exchange(&t("REST-A", "/x?code=3"), &claims(&[])).await),
        FailureReason::CircuitOpen
    );
    // A clone of the connector shares it.
    let clone = h.connector.clone();
    let other = t("REST-A", "/x");
    let outcome = clone
        .exchange(trustframe_connector::RestCall {
            profile: &other.0,
            schema: &h.schema,
            claims: &claims(&[]),
            context: &h.context,
            step: None,
        })
        .await
        .unwrap();
    assert_eq!(failure(&outcome), FailureReason::CircuitOpen);
    assert_eq!(api.hits(), 2);
    // Another profile on the same URL, or the same profile on another path: their own circuits.
    h.exchange(&t("REST-B", "/x"), &claims(&[])).await;
    h.exchange(&t("REST-A", "/y"), &claims(&[])).await;
    assert_eq!(api.hits(), 4);
}

#[tokio::test]
async fn invalid_breaker_metadata_is_misconfiguration() {
    let pki = Pki::new();
    let h = Harness::new(&pki, KeyStore::new());
    for (key, value) in [
        ("CircuitBreakerFailures", "-1"),
        ("CircuitBreakerFailures", "five"),
        ("CircuitBreakerSeconds", "0"),
        ("CircuitBreakerSeconds", "soon"),
    ] {
        let t = tp("https://127.0.0.1:9/x").meta(key, value);
        match h.try_exchange(&t, &claims(&[])).await {
            Err(ConnectorError::InvalidMetadata { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key}={value}: {other:?}"),
        }
        assert_eq!(h.last_record().outcome, "failed:misconfigured");
    }
}
