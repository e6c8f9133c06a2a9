//! The API-connector contract (`add-api-connector.md`).

use serde_json::{Value, json};
use trustframe_connector::{ExchangeOutcome, FailureReason, KeyStore};
use trustframe_policy::{ClaimRef, ClaimTypeId};

use crate::helpers::*;

const APP_ID: &str = "0123456789abcdef0123456789abcdef";
const STEPS: [&str; 3] = [
    "PostFederationSignup",
    "PostAttributeCollection",
    "PreTokenIssuance",
];

fn connector(url: &str, step: &str) -> Tp {
    tp(url)
        .connector(step)
        .meta("ExtensionsAppId", "01234567-89ab-cdef-0123-456789abcdef")
}

#[tokio::test]
async fn the_request_is_graph_shaped_json_with_step_client_id_and_ui_locales() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, _| {
        Reply::json(200, json!({"version": "1.0.0", "action": "Continue"}))
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = connector(&api.url("/connector"), "PreTokenIssuance")
        .input(ClaimRef::new("email"))
        .input(ClaimRef::new("identities"))
        .input(ClaimRef::new("displayName"))
        .input(ClaimRef::new("objectId"))
        .input(ClaimRef::new("extension_loyaltyNumber"))
        .input(ClaimRef::new("givenName")); // no value: not sent
    let identities = json!([{
        "signInType": "federated",
        "issuer": "facebook.com",
        "issuerAssignedId": "0123456789"
    }]);
    let c = claims(&[
        ("email", json!("johnsmith@fabrikam.example")),
        ("identities", identities.clone()),
        ("displayName", json!("John Smith")),
        ("objectId", json!("aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb")),
        ("extension_loyaltyNumber", json!("LN7")),
    ]);
    continued(h.exchange(&t, &c).await);
    let seen = api.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        seen.json(),
        json!({
            "email": "johnsmith@fabrikam.example",
            "identities": identities,
            "displayName": "John Smith",
            "objectId": "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb",
            format!("extension_{APP_ID}_loyaltyNumber"): "LN7",
            "client_id": "app-1234",
            "step": "PreTokenIssuance",
            "ui_locales": "fr-FR",
        })
    );
    let record = h.last_record();
    assert_eq!(
        record.detail["message"],
        json!("An API was called as part of a user flow")
    );
    assert_eq!(record.detail["numberOfAttempts"], json!(1));
    assert_eq!(record.step.as_deref(), Some("4"));
    assert_eq!(record.policy, "B2C_1A_signup_signin");
    assert_eq!(record.correlation_id, "corr-42");
}

#[tokio::test]
async fn continue_claims_overwrite_with_or_without_the_app_id() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, seen| {
        let with_id = seen.path == "/with-id";
        let key = if with_id {
            format!("extension_{APP_ID}_loyaltyNumber")
        } else {
            "extension_loyaltyNumber".to_owned()
        };
        let mut body = json!({"version": "1.0.0", "action": "Continue", "postalCode": "12349", "notAsked": "x"});
        body[key] = json!("LN-42");
        Reply::json(200, body)
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    for path in ["/with-id", "/without-id"] {
        let t = connector(&api.url(path), "PreTokenIssuance")
            .output(ClaimRef::new("postalCode"))
            .output(ClaimRef::new("extension_loyaltyNumber"));
        let (c, _) = continued(h.exchange(&t, &claims(&[])).await);
        assert_eq!(c.len(), 2, "{path}: {c:?}");
        assert_eq!(c[&"postalCode".into()], json!("12349"));
        assert_eq!(
            c[&ClaimTypeId::new("extension_loyaltyNumber")],
            json!("LN-42"),
            "{path}"
        );
    }
}

/// What each action does at each step: B2C allows Continue everywhere, ShowBlockPage after
/// federation and attribute collection, ValidationError after attribute collection only.
#[tokio::test]
async fn each_action_at_each_step() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, seen| match seen.path.as_str() {
        "/Continue" => Reply::json(
            200,
            json!({"version": "1.0.0", "action": "Continue", "givenName": "Ann"}),
        ),
        "/ShowBlockPage" => Reply::json(
            200,
            json!({
                "version": "1.0.0",
                "action": "ShowBlockPage",
                "userMessage": "Your account is pending approval."
            }),
        ),
        _ => Reply::json(
            400,
            json!({
                "version": "1.0.0",
                "status": 400,
                "action": "ValidationError",
                "userMessage": "Please enter a valid Postal Code."
            }),
        ),
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    for step in STEPS {
        for action in ["Continue", "ShowBlockPage", "ValidationError"] {
            let t =
                connector(&api.url(&format!("/{action}")), step).output(ClaimRef::new("givenName"));
            let outcome = h.exchange(&t, &claims(&[])).await;
            let allowed = match action {
                "Continue" => true,
                "ShowBlockPage" => step != "PreTokenIssuance",
                _ => step == "PostAttributeCollection",
            };
            let record = h.last_record();
            match (action, allowed, &outcome) {
                ("Continue", true, ExchangeOutcome::Continue { claims, .. }) => {
                    assert_eq!(claims[&"givenName".into()], json!("Ann"));
                    assert_eq!(record.outcome, "continue");
                }
                ("ShowBlockPage", true, ExchangeOutcome::Block { user_message }) => {
                    assert_eq!(user_message, "Your account is pending approval.");
                    assert_eq!(record.outcome, "block");
                }
                (
                    "ValidationError",
                    true,
                    ExchangeOutcome::ValidationError { user_message, .. },
                ) => {
                    assert_eq!(user_message, "Please enter a valid Postal Code.");
                    assert_eq!(record.outcome, "validation_error");
                }
                (
                    _,
                    false,
                    ExchangeOutcome::Failed {
                        reason: FailureReason::ActionNotAllowed,
                        user_message,
                    },
                ) => {
                    assert!(!user_message.is_empty());
                    assert_eq!(record.outcome, "failed:action_not_allowed");
                    assert_eq!(record.detail["apiConnectorStep"], json!(step));
                }
                _ => panic!("{action} at {step}: unexpected {outcome:?}"),
            }
        }
    }
}

#[tokio::test]
async fn responses_that_break_the_contract_fail_clearly() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, seen| match seen.path.as_str() {
        "/no-version" => Reply::json(200, json!({"action": "Continue", "givenName": "A"})),
        "/unknown-action" => Reply::json(200, json!({"version": "1.0.0", "action": "Maybe"})),
        "/no-action" => Reply::json(200, json!({"version": "1.0.0"})),
        "/not-json" => Reply::raw(200, "<html>oops</html>"),
        "/validation-200" => Reply::json(
            200,
            json!({"version": "1.0.0", "action": "ValidationError", "userMessage": "x"}),
        ),
        "/validation-no-version" => Reply::json(
            400,
            json!({"status": 400, "action": "ValidationError", "userMessage": "x"}),
        ),
        "/bad-request" => Reply::json(400, json!({"error": "bad"})),
        _ => Reply::json(200, json!({"version": "1.0.0", "action": "ShowBlockPage"})),
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    let cases: [(&str, &str); 8] = [
        ("/no-version", "version"),
        ("/unknown-action", "unknown action"),
        ("/no-action", "no action"),
        ("/not-json", "not JSON"),
        ("/validation-200", "HTTP 400"),
        ("/validation-no-version", "version"),
        ("/bad-request", ""),
        ("/block-without-message", "userMessage"),
    ];
    for (path, why) in cases {
        let t =
            connector(&api.url(path), "PostAttributeCollection").output(ClaimRef::new("givenName"));
        let outcome = h.exchange(&t, &claims(&[])).await;
        let reason = failure(&outcome);
        let record = h.last_record();
        if path == "/bad-request" {
            assert_eq!(reason, FailureReason::Status(400));
            continue;
        }
        match &reason {
            FailureReason::MalformedResponse(m) => assert!(m.contains(why), "{path}: {m}"),
            other => panic!("{path}: {other:?}"),
        }
        assert_eq!(record.outcome, "failed:malformed_response", "{path}");
        let error = record.detail["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(why),
            "{path}: the audit record says why: {error}"
        );
        assert_eq!(
            record.detail["message"],
            Value::from("An API was called as part of a user flow")
        );
    }
}
