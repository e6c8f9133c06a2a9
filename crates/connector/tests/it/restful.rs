//! The RESTful technical profile's error contract: HTTP 409 (`restful-technical-profile.md`).

use serde_json::json;
use trustframe_connector::{ExchangeOutcome, FailureReason, KeyStore};
use trustframe_policy::ClaimRef;

use crate::helpers::*;

fn conflict(user_message: &str) -> serde_json::Value {
    json!({
        "version": "1.0.0",
        "status": 409,
        "code": "API12345",
        "requestId": "50f0bd91-2ff4-4b8f-828f-00f170519ddb",
        "userMessage": user_message,
        "developerMessage": "Verbose description of problem and how to fix it.",
        "moreInfo": "https://restapi/error/API12345/moreinfo"
    })
}

#[tokio::test]
async fn a_409_is_a_validation_error_with_the_user_message_verbatim() {
    let pki = Pki::new();
    let html = "<b>Invalid</b> code <script>alert(1)</script> & \"quotes\"";
    let api = spawn_api(Tls::Server(&pki), move |_, _| {
        Reply::json(409, conflict(html))
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&api.url("/validate"))
        .input(ClaimRef::new("accessCode"))
        .output(ClaimRef::new("balance"));
    let outcome = h.exchange(&t, &claims(&[("accessCode", json!("1"))])).await;
    assert_eq!(
        outcome,
        ExchangeOutcome::ValidationError {
            user_message: html.to_owned(),
            developer_message: None,
            code: Some("API12345".into()),
        }
    );
    let record = h.last_record();
    assert_eq!(record.outcome, "validation_error");
    assert_eq!(record.status, Some(409));
    assert_eq!(record.attempts, 1);
}

#[tokio::test]
async fn debug_mode_adds_the_developer_message() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, _| {
        Reply::json(409, conflict("Try again."))
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&api.url("/validate")).meta("DebugMode", "true");
    match h.exchange(&t, &claims(&[])).await {
        ExchangeOutcome::ValidationError {
            developer_message, ..
        } => assert_eq!(
            developer_message.as_deref(),
            Some("Verbose description of problem and how to fix it.")
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_409_without_a_user_message_is_malformed() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, _| {
        Reply::json(409, json!({"status": 409}))
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    let outcome = h.exchange(&tp(&api.url("/v")), &claims(&[])).await;
    assert!(
        matches!(failure(&outcome), FailureReason::MalformedResponse(m) if m.contains("userMessage"))
    );
}

#[tokio::test]
async fn a_bare_200_validates_and_other_statuses_fail() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, seen| match seen.path.as_str() {
        "/ok" => Reply::empty(200),
        "/gone" => Reply::json(404, json!({})),
        _ => Reply::json(401, json!({})),
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    let (c, cleared) = continued(h.exchange(&tp(&api.url("/ok")), &claims(&[])).await);
    assert!(c.is_empty() && cleared.is_empty());
    assert_eq!(h.last_record().outcome, "continue");

    let outcome = h.exchange(&tp(&api.url("/gone")), &claims(&[])).await;
    assert_eq!(failure(&outcome), FailureReason::Status(404));
    match outcome {
        ExchangeOutcome::Failed { user_message, .. } => {
            assert!(user_message.contains("try again"), "{user_message}")
        }
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn malformed_json_fails_with_the_default_message() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, _| Reply::raw(200, "{\"balance\": ")).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&api.url("/x"))
        .meta("DefaultUserMessageIfRequestFailed", "Sorry, try later.")
        .output(ClaimRef::new("balance"));
    let outcome = h.exchange(&t, &claims(&[])).await;
    match outcome {
        ExchangeOutcome::Failed {
            user_message,
            reason: FailureReason::MalformedResponse(why),
        } => {
            assert_eq!(user_message, "Sorry, try later.");
            assert!(why.contains("not JSON"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    let record = h.last_record();
    assert_eq!(record.outcome, "failed:malformed_response");
    assert!(
        record.detail["error"]
            .as_str()
            .unwrap()
            .contains("not JSON")
    );
}
