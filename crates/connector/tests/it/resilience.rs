//! Timeouts, retries, response size (`restful-technical-profile.md`, `add-api-connector.md`).

use std::time::{Duration, Instant};

use serde_json::json;
use trustframe_connector::{ExchangeOutcome, FailureReason, KeyStore};
use trustframe_policy::ClaimRef;

use crate::helpers::*;

#[tokio::test]
async fn a_5xx_is_retried_twice_for_technical_profiles() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, _| Reply::json(503, json!({}))).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&api.url("/x")).meta("DefaultUserMessageIfRequestFailed", "Our partner is down.");
    let outcome = h.exchange(&t, &claims(&[])).await;
    assert_eq!(
        outcome,
        ExchangeOutcome::Failed {
            user_message: "Our partner is down.".into(),
            reason: FailureReason::Status(503)
        }
    );
    assert_eq!(
        api.hits(),
        3,
        "3 tries in total (restful-technical-profile.md)"
    );
    let record = h.last_record();
    assert_eq!(record.attempts, 3);
    assert_eq!(record.outcome, "failed:status_503");
    assert_eq!(record.detail["tries"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_5xx_is_retried_once_for_api_connectors_and_success_ends_the_retries() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, _| Reply::json(500, json!({}))).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&api.url("/x")).connector("PreTokenIssuance");
    assert_eq!(
        failure(&h.exchange(&t, &claims(&[])).await),
        FailureReason::Status(500)
    );
    assert_eq!(api.hits(), 2, "one retry (add-api-connector.md)");
    let record = h.last_record();
    assert_eq!(record.detail["numberOfAttempts"], json!(2));

    let flaky = spawn_api(Tls::Server(&pki), |n, _| {
        if n == 0 {
            Reply::json(502, json!({}))
        } else {
            Reply::json(200, json!({"balance": "9.99"}))
        }
    })
    .await;
    let t = tp(&flaky.url("/x")).output(ClaimRef::new("balance"));
    let (c, _) = continued(h.exchange(&t, &claims(&[])).await);
    assert_eq!(c[&"balance".into()], json!("9.99"));
    assert_eq!(flaky.hits(), 2);
    assert_eq!(h.last_record().attempts, 2);
}

#[tokio::test]
async fn a_4xx_or_409_is_never_retried() {
    let pki = Pki::new();
    for status in [400, 404, 409, 429] {
        let api = spawn_api(Tls::Server(&pki), move |_, _| {
            Reply::json(
                status,
                json!({"version": "1.0", "status": status, "userMessage": "no"}),
            )
        })
        .await;
        let h = Harness::new(&pki, KeyStore::new());
        let _ = h.exchange(&tp(&api.url("/x")), &claims(&[])).await;
        assert_eq!(api.hits(), 1, "HTTP {status} was retried");
        assert_eq!(h.last_record().attempts, 1);
    }
}

#[tokio::test]
async fn a_slow_api_times_out_on_every_try() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, _| {
        Reply::json(200, json!({})).after(Duration::from_secs(5))
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&api.url("/slow"))
        .meta("TimeoutSeconds", "1")
        .meta("Retries", "1")
        .meta(
            "UserMessageIfRequestTimeout",
            "Still thinking. Try again in a minute.",
        );
    let started = Instant::now();
    let outcome = h.exchange(&t, &claims(&[])).await;
    let took = started.elapsed();
    assert_eq!(
        outcome,
        ExchangeOutcome::Failed {
            user_message: "Still thinking. Try again in a minute.".into(),
            reason: FailureReason::Timeout
        }
    );
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert_eq!(api.hits(), 2);
    let record = h.last_record();
    assert_eq!(record.attempts, 2);
    assert_eq!(record.status, None);
    assert_eq!(record.outcome, "failed:timeout");
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_while_streaming() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, seen| {
        if seen.path == "/sized" {
            Reply::raw(200, format!("{{\"balance\": \"{}\"}}", "9".repeat(4096)))
        } else {
            // ~6 GiB if anyone read it all: only a bounded reader returns promptly.
            Reply::endless(100_000, 64 * 1024)
        }
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());

    let t = tp(&api.url("/sized"))
        .meta("MaxResponseBytes", "1024")
        .output(ClaimRef::new("balance"));
    assert_eq!(
        failure(&h.exchange(&t, &claims(&[])).await),
        FailureReason::TooLarge
    );
    assert_eq!(api.hits(), 1, "not retried");

    // No Content-Length: cut while streaming, at the 1 MiB default.
    let started = Instant::now();
    let t = tp(&api.url("/endless")).output(ClaimRef::new("balance"));
    assert_eq!(
        failure(&h.exchange(&t, &claims(&[])).await),
        FailureReason::TooLarge
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(h.last_record().outcome, "failed:too_large");
}

#[tokio::test]
async fn dns_failures_have_their_own_message() {
    let pki = Pki::new();
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp("https://nosuch-host.invalid/api")
        .meta("Retries", "0")
        .meta("TimeoutSeconds", "5")
        .meta(
            "UserMessageIfDnsResolutionFailed",
            "Cannot find the service.",
        );
    let outcome = h.exchange(&t, &claims(&[])).await;
    assert_eq!(
        outcome,
        ExchangeOutcome::Failed {
            user_message: "Cannot find the service.".into(),
            reason: FailureReason::Dns
        }
    );
}

#[tokio::test]
async fn refused_connections_are_retried_then_fail() {
    let pki = Pki::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&format!("https://127.0.0.1:{port}/x"));
    let outcome = h.exchange(&t, &claims(&[])).await;
    match outcome {
        ExchangeOutcome::Failed {
            reason: FailureReason::Connect,
            user_message,
        } => assert!(!user_message.is_empty()),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.last_record().attempts, 3);
}
