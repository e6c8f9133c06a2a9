//! API connectors in user flows, end to end: a customer's REST API (a small axum app on port 0)
//! validates sign-up input, blocks sign-ups, and enriches tokens (`add-api-connector.md`,
//! `add-api-connector-token-enrichment.md`).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::{Value, json};

use crate::helpers::*;

const APP_ID: &str = "0123456789abcdef0123456789abcdef";

#[derive(Clone, Default)]
struct Api {
    calls: Arc<Mutex<Vec<Value>>>,
}

impl Api {
    fn calls(&self) -> Vec<Value> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

/// The customer's API, written from B2C's docs.
async fn start_api() -> (String, Api) {
    let api = Api::default();
    let validate = {
        let api = api.clone();
        move |Json(body): Json<Value>| {
            let api = api.clone();
            async move {
                if let Ok(mut calls) = api.calls.lock() {
                    calls.push(body.clone());
                }
                match body["givenName"].as_str() {
                    Some("blocked") => Json(json!({
                        "version": "1.0.0", "action": "ShowBlockPage",
                        "userMessage": "Sign-ups are closed for <b>you</b>."
                    }))
                    .into_response(),
                    Some("bad") => (
                        StatusCode::BAD_REQUEST,
                        Json(json!({
                            "version": "1.0.0", "status": 400, "action": "ValidationError",
                            "userMessage": "<script>alert('x')</script> is not a name we accept."
                        })),
                    )
                        .into_response(),
                    Some(name) => {
                        let mut chars = name.chars();
                        let capitalised: String = chars
                            .next()
                            .map(|c| c.to_uppercase().chain(chars).collect())
                            .unwrap_or_default();
                        Json(json!({
                            "version": "1.0.0", "action": "Continue",
                            "givenName": capitalised,
                            format!("extension_{APP_ID}_loyaltyNumber"): "L-100"
                        }))
                        .into_response()
                    }
                    None => (StatusCode::BAD_REQUEST, "no name").into_response(),
                }
            }
        }
    };
    let enrich = {
        let api = api.clone();
        move |Json(body): Json<Value>| {
            let api = api.clone();
            async move {
                if let Ok(mut calls) = api.calls.lock() {
                    calls.push(body.clone());
                }
                Json(
                    json!({ "version": "1.0.0", "action": "Continue", "extension_loyaltyNumber": "L-999", "postalCode": "12349" }),
                )
            }
        }
    };
    let router = axum::Router::new()
        .route("/validate", post(validate))
        .route("/enrich", post(enrich));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), api)
}

fn flows(api: &str) -> String {
    format!(
        r#"
[[api_connectors]]
name = "validate"
url = "{api}/validate"
auth = {{ type = "basic", username = "b2c", password = "s3cret-basic-pw" }}
allow_insecure = true
[[api_connectors]]
name = "enrich"
url = "{api}/enrich"
allow_insecure = true
[[user_flows]]
id = "B2C_1_apic"
type = "sign_up_or_sign_in"
# These tests drive the sign-up form by hand; e-mail verification has its own (email.rs).
email_verification = false
sign_up_attributes = ["givenName", "surname", "displayName"]
application_claims = ["email", "givenName", "objectId", "extension_loyaltyNumber"]
api_connectors = {{ post_attribute_collection = "validate" }}
[[user_flows]]
id = "B2C_1_enrich"
type = "sign_up_or_sign_in"
# These tests drive the sign-up form by hand; e-mail verification has its own (email.rs).
email_verification = false
sign_up_attributes = ["givenName", "surname", "displayName"]
application_claims = ["email", "objectId", "postalCode", "extension_loyaltyNumber"]
api_connectors = {{ pre_token_issuance = "enrich" }}
"#
    )
}

async fn sign_up_form(browser: &Browser, start: &str) -> Html {
    let page = browser.get(start).await.page();
    browser
        .get(
            &page
                .href_of("createAccount")
                .unwrap_or_else(|| panic!("no sign-up link")),
        )
        .await
        .page()
}

fn fields<'a>(email: &'a str, given: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("email", email),
        ("newPassword", PASSWORD),
        ("reenterPassword", PASSWORD),
        ("givenName", given),
        ("surname", "Smith"),
        ("displayName", "Dee Smith"),
    ]
}

#[tokio::test]
async fn post_attribute_collection_validates_overwrites_and_stores() {
    let (api_url, api) = start_api().await;
    let app = spawn_app(&flows(&api_url)).await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_apic", WEB_CLIENT, &[]);
    let email = unique_email("dee");
    let form = sign_up_form(&browser, &start).await;

    // ValidationError: the message on the same page, escaped; the user corrects and resubmits.
    let page = browser.submit(&form, &fields(&email, "bad")).await.page();
    assert_eq!(
        page.alert().as_deref(),
        Some("<script>alert('x')</script> is not a name we accept.")
    );
    assert!(
        !page.body.contains("<script>alert('x')</script>"),
        "the API's message must be escaped"
    );
    assert_eq!(page.input_value("givenName").as_deref(), Some("bad"));

    let callback = browser
        .submit(&page, &fields(&email, "dee"))
        .await
        .callback();
    let (status, tokens) = redeem_for(
        &app,
        "B2C_1_apic",
        callback
            .get("code")
            .unwrap_or_else(|| panic!("{callback:?}")),
        None,
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    assert_eq!(
        id["given_name"], "Dee",
        "Continue overwrites the collected value: {id}"
    );
    assert_eq!(
        id["extension_loyaltyNumber"], "L-100",
        "custom attribute with the app id accepted"
    );

    // The request had B2C's shape.
    let calls = api.calls();
    let last = calls.last().unwrap_or_else(|| panic!("no call"));
    assert_eq!(last["step"], "PostAttributeCollection");
    assert_eq!(last["client_id"], WEB_CLIENT);
    assert_eq!(last["email"], email);
    assert_eq!(last["identities"][0]["signInType"], "emailAddress");
    assert_eq!(last["identities"][0]["issuer"], "contoso.onmicrosoft.com");
    assert!(
        last.get("objectId").is_none(),
        "no object id before the user exists: {last}"
    );
    assert!(
        last.get("newPassword").is_none() && last.get("password").is_none(),
        "never a password: {last}"
    );

    // Stored: a later sign-in (no connector at sign-in) still has the API's values.
    let again = Browser::new(&app);
    let callback = sign_in(&again, &start, &email, PASSWORD).await.callback();
    let (_, tokens) = redeem_for(
        &app,
        "B2C_1_apic",
        callback.get("code").unwrap_or_default(),
        None,
    )
    .await;
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["given_name"], "Dee");
    assert_eq!(id["extension_loyaltyNumber"], "L-100");
    assert_eq!(
        api.calls().len(),
        2,
        "PostAttributeCollection runs at sign-up only"
    );

    // The audit log has each call, without the Basic password (and the sign-in besides).
    let records: Vec<_> = app.state.tenants[0]
        .store
        .audit_after(0, 100)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, r)| r.kind == "rest_call")
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    let text = serde_json::to_string(&records.iter().map(|(_, r)| r).collect::<Vec<_>>())
        .unwrap_or_default();
    assert!(
        text.contains("validation_error") && text.contains("continue"),
        "{text}"
    );
    assert!(
        !text.contains("s3cret-basic-pw"),
        "secrets never in the audit log"
    );
    assert!(!text.contains(PASSWORD), "passwords never in the audit log");

    // Metrics count the calls.
    let metrics = reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    let count = |name: &str, labels: &[&str]| {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let profile = "technical_profile=\"REST-ApiConnector-PostAttributeCollection-validate\"";
    for outcome in ["validation_error", "continue"] {
        assert_eq!(
            count(
                "trustframe_connector_calls_total",
                &[profile, &format!("outcome=\"{outcome}\"")]
            ),
            Some(1.0),
            "one {outcome} call counted: {metrics}"
        );
    }
    assert_eq!(
        count("trustframe_journeys_total", &["outcome=\"tokens\""]),
        Some(2.0),
        "sign-up and sign-in issued tokens: {metrics}"
    );
}

#[tokio::test]
async fn show_block_page_stops_the_sign_up_and_creates_nothing() {
    let (api_url, _api) = start_api().await;
    // The block page is B2C's exception page: the tenant's error layout (`api.error`) dresses
    // it, in the journey's language.
    let layouts = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let exception = layouts.path().join("exception.html");
    std::fs::write(
        &exception,
        "<html><head><title>Contoso: oops</title></head><body><div id=\"api\"></div></body></html>",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_app(&format!(
        "{}\n[ui]\npage_layouts = {{ \"api.error\" = {:?} }}\n",
        flows(&api_url),
        exception.display().to_string()
    ))
    .await;
    let browser = Browser::new(&app);
    let start = authorize_url(
        &app,
        "B2C_1_apic",
        WEB_CLIENT,
        &[("state", "blk"), ("ui_locales", "fr")],
    );
    let email = unique_email("blocked");
    let form = sign_up_form(&browser, &start).await;
    let page = browser
        .submit(&form, &fields(&email, "blocked"))
        .await
        .page();
    assert_eq!(page.status, 403);
    assert_eq!(
        page.alert().as_deref(),
        Some("Sign-ups are closed for <b>you</b>.")
    );
    assert!(
        page.body.contains("<title>Contoso: oops</title>"),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"<html lang="fr">"#), "{}", page.body);
    assert!(
        page.body.contains("Vous ne pouvez pas continuer"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("&lt;b&gt;you&lt;&#x2f;b&gt;")
            || page.body.contains("&lt;b&gt;you&lt;/b&gt;"),
        "escaped"
    );
    let back = browser
        .get(
            &page
                .href_of("continue")
                .unwrap_or_else(|| panic!("no way back")),
        )
        .await
        .callback();
    assert_eq!(back.get("error"), Some("access_denied"));
    assert_eq!(back.get("state"), Some("blk"));
    let user = app.state.tenants[0]
        .store
        .user_by_identity("emailAddress", "contoso.onmicrosoft.com", &email)
        .await
        .unwrap_or(None);
    assert!(user.is_none(), "no account for a blocked sign-up");
}

#[tokio::test]
async fn pre_token_issuance_enriches_tokens_and_refresh_does_not_call_again() {
    let (api_url, api) = start_api().await;
    let app = spawn_app(&flows(&api_url)).await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_enrich", WEB_CLIENT, &[("ui_locales", "fr-FR")]);
    let email = unique_email("enrich");
    let form = sign_up_form(&browser, &start).await;
    let callback = browser
        .submit(&form, &fields(&email, "erin"))
        .await
        .callback();
    let (_, tokens) = redeem_for(
        &app,
        "B2C_1_enrich",
        callback.get("code").unwrap_or_default(),
        None,
    )
    .await;
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["extension_loyaltyNumber"], "L-999");
    assert_eq!(id["postalCode"], "12349");
    let call = api.calls().last().cloned().unwrap_or_default();
    assert_eq!(call["step"], "PreTokenIssuance");
    assert_eq!(call["ui_locales"], "fr-FR");
    assert_eq!(call["objectId"], id["oid"], "the user exists at this step");

    // Not stored: the directory keeps no loyalty number; a refresh replays the initial values
    // without calling the API.
    let user = app.state.tenants[0]
        .store
        .user(id["oid"].as_str().unwrap_or_default())
        .await
        .unwrap_or(None);
    assert!(user.is_some_and(|u| !u.attributes.contains_key("extension_loyaltyNumber")));
    let before = api.calls().len();
    let (status, renewed) = token_request_for(
        &app,
        "B2C_1_enrich",
        &[
            ("grant_type", "refresh_token".to_owned()),
            ("client_id", WEB_CLIENT.to_owned()),
            ("client_secret", WEB_SECRET.to_owned()),
            (
                "refresh_token",
                tokens["refresh_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ),
        ],
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(
        claims(renewed["id_token"].as_str().unwrap_or_default())["extension_loyaltyNumber"],
        "L-999"
    );
    assert_eq!(
        api.calls().len(),
        before,
        "API connectors run only at the initial sign-in"
    );
}

#[tokio::test]
async fn an_api_that_is_down_fails_the_journey_with_a_clear_error() {
    // A port nothing listens on: connection refused, retried once, then the app gets an error.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{}",
        dead.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    drop(dead);
    let app = spawn_app(&flows(&url)).await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_apic", WEB_CLIENT, &[]);
    let form = sign_up_form(&browser, &start).await;
    let page = browser
        .submit(&form, &fields(&unique_email("down"), "dan"))
        .await
        .page();
    assert!(
        page.alert().is_some_and(|a| !a.is_empty()),
        "the page says the check failed"
    );
    let records = app.state.tenants[0]
        .store
        .audit_after(0, 10)
        .await
        .unwrap_or_default();
    assert_eq!(
        records.first().and_then(|(_, r)| r.attempts),
        Some(2),
        "{records:?}"
    );
}
