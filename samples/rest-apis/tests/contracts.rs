//! Each sample endpoint's contract, over real HTTP (and the binary once).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use trustframe_samples::SamplesState;

async fn spawn(state: SamplesState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, trustframe_samples::router_with(state)).await;
    });
    format!("http://{addr}")
}

async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn connector(step: &str, claims: Value) -> Value {
    let mut body = json!({"step": step, "client_id": "app-1", "ui_locales": "en-US"});
    body.as_object_mut()
        .unwrap()
        .extend(claims.as_object().unwrap().clone());
    body
}

#[tokio::test]
async fn access_code_88888_passes_anything_else_is_a_409() {
    let base = spawn(SamplesState::new()).await;
    let (status, body) = post(
        &base,
        "/validate-accesscode",
        json!({"accessCode": "88888"}),
    )
    .await;
    assert_eq!((status, body), (200, Value::Null));

    let (status, body) = post(
        &base,
        "/validate-accesscode",
        json!({"accessCode": "12345"}),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["version"], json!("1.0.0"));
    assert_eq!(body["status"], json!(409));
    assert_eq!(
        body["userMessage"],
        json!("Invalid access code. Please try again.")
    );
    for key in ["code", "requestId", "developerMessage", "moreInfo"] {
        assert!(body[key].is_string(), "{key} missing: {body}");
    }

    // A urlencoded form, as SendClaimsIn=Form sends it.
    let response = reqwest::Client::new()
        .post(format!("{base}/validate-accesscode"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("accessCode=88888")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn access_code_as_an_api_connector() {
    let base = spawn(SamplesState::new()).await;
    let ok = connector(
        "PostAttributeCollection",
        json!({"extension_0123456789abcdef0123456789abcdef_accessCode": "88888"}),
    );
    let (status, body) = post(&base, "/validate-accesscode", ok).await;
    assert_eq!(
        (status, body),
        (200, json!({"version": "1.0.0", "action": "Continue"}))
    );

    let bad = connector(
        "PostAttributeCollection",
        json!({"extension_accessCode": "1"}),
    );
    let (status, body) = post(&base, "/validate-accesscode", bad).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({
            "version": "1.0.0",
            "status": 400,
            "action": "ValidationError",
            "userMessage": "Invalid access code. Please try again."
        })
    );
}

#[tokio::test]
async fn get_profile_returns_known_balances_and_registers_new_users_at_50() {
    let state = SamplesState::new().with_balance("known", "760.50");
    let base = spawn(state.clone()).await;
    let (status, body) = post(
        &base,
        "/GetProfile",
        json!({"objectId": "known", "lang": "1033"}),
    )
    .await;
    assert_eq!((status, body), (200, json!({"balance": "760.50"})));

    assert_eq!(state.balance("fresh"), None);
    let (status, body) = post(
        &base,
        "/GetProfile",
        json!({"objectId": "fresh", "lang": "1033"}),
    )
    .await;
    assert_eq!((status, body), (200, json!({"balance": "50.00"})));
    assert_eq!(
        state.balance("fresh").as_deref(),
        Some("50.00"),
        "registered"
    );

    let (status, body) = post(&base, "/GetProfile", json!({"lang": "1036"})).await;
    assert_eq!(status, 409);
    assert_eq!(body["userMessage"], json!("Votre profil est introuvable."));

    let (status, body) = post(
        &base,
        "/GetProfile",
        connector("PreTokenIssuance", json!({"objectId": "known"})),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"version": "1.0.0", "action": "Continue", "extension_balance": "760.50"})
        )
    );
}

#[tokio::test]
async fn email_validation_in_both_contracts() {
    let base = spawn(SamplesState::new()).await;
    let (status, body) = post(
        &base,
        "/validate-email",
        json!({"email": "  Emily@Example.COM "}),
    )
    .await;
    assert_eq!((status, body), (200, json!({"email": "emily@example.com"})));
    let (status, body) = post(
        &base,
        "/validate-email",
        json!({"email": "TestUser@example.com"}),
    )
    .await;
    assert_eq!(status, 409);
    assert!(body["userMessage"].as_str().unwrap().contains("\"test\""));

    let (status, body) = post(
        &base,
        "/api-connector/validate-email",
        connector(
            "PostAttributeCollection",
            json!({"email": " Emily@Example.com"}),
        ),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"version": "1.0.0", "action": "Continue", "email": "emily@example.com"})
        )
    );
    let (status, body) = post(
        &base,
        "/api-connector/validate-email",
        connector(
            "PostAttributeCollection",
            json!({"email": "test@example.com"}),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["action"], json!("ValidationError"));
    assert_eq!(body["status"], json!(400));
}

#[tokio::test]
async fn names_are_capitalised() {
    let base = spawn(SamplesState::new()).await;
    let (status, body) = post(
        &base,
        "/api-connector/capitalize-names",
        connector(
            "PostAttributeCollection",
            json!({"givenName": "jEAN-luc", "surname": "PICARD", "email": "x@example.com"}),
        ),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"version": "1.0.0", "action": "Continue", "givenName": "Jean-Luc", "surname": "Picard"})
        )
    );
}

#[tokio::test]
async fn loyalty_numbers_are_stable_per_user() {
    let state = SamplesState::new();
    let base = spawn(state.clone()).await;
    let ask = |id: &str| connector("PreTokenIssuance", json!({"objectId": id}));
    let (_, first) = post(&base, "/api-connector/loyalty-number", ask("u1")).await;
    let (_, second) = post(&base, "/api-connector/loyalty-number", ask("u2")).await;
    let (status, again) = post(&base, "/api-connector/loyalty-number", ask("u1")).await;
    assert_eq!(status, 200);
    assert_eq!(first["action"], json!("Continue"));
    assert_eq!(first["extension_loyaltyNumber"], json!("LN100001"));
    assert_eq!(second["extension_loyaltyNumber"], json!("LN100002"));
    assert_eq!(again, first);
    assert_eq!(state.loyalty_number("u1").as_deref(), Some("LN100001"));
}

#[tokio::test]
async fn contacts_come_back_nested_with_the_users_loyalty_number() {
    let state = SamplesState::new();
    let base = spawn(state.clone()).await;
    let (status, body) = post(
        &base,
        "/GetContacts",
        json!({"email": " Emily.Smith@Example.com"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"contacts": [{
            "id": "MAINCONTACT_1",
            "person": {
                "name": "Emily Smith",
                "loyaltyNumber": "LN100001",
                "emails": [{"id": "EMAIL_1", "type": "WORK", "email": "emily.smith@example.com"}]
            }
        }]})
    );
    // The JSON paths a policy reads (restful-technical-profile.md, ResolveJsonPathsInJsonTokens).
    assert_eq!(
        body.pointer("/contacts/0/person/emails/0/email"),
        Some(&json!("emily.smith@example.com"))
    );
    assert_eq!(
        state.loyalty_number("emily.smith@example.com").as_deref(),
        Some("LN100001")
    );
    let (_, again) = post(
        &base,
        "/GetContacts",
        json!({"email": "emily.smith@example.com"}),
    )
    .await;
    assert_eq!(again, body, "stable per user");

    let (status, body) = post(&base, "/GetContacts", json!({"lang": "1033"})).await;
    assert_eq!(status, 409);
    assert_eq!(body["status"], json!(409));
    assert_eq!(
        body["userMessage"],
        json!("Please enter your email address.")
    );
}

#[tokio::test]
async fn the_binary_serves_the_samples() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustframe-samples"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    reader.read_line(&mut first).unwrap();
    // Keep reading so the server never writes to a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let base = first.trim().rsplit(' ').next().unwrap().to_owned();
    let result = post(
        &base,
        "/validate-accesscode",
        json!({"accessCode": "88888"}),
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    assert_eq!(result.0, 200);
}
