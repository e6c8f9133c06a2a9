//! B2C custom policies (`custom-policy-overview.md`): the starter-pack-shaped set of
//! `samples/custom-policies/contoso` (Base ← Localization ← Extensions ← relying parties),
//! served beside the user flows and run against the sample REST APIs.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::verification::{Codes, has_verification, verify_email};

/// Request bodies the stand-in for the customer's APIs received, by path.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// The docs' sample APIs, with `/GetProfile` recording what it is sent (to check `lang`).
async fn spawn_apis() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let router = axum::Router::new()
        .route(
            "/GetProfile",
            post(move |Json(body): Json<Value>| {
                let record = record.clone();
                async move {
                    if let Ok(mut s) = record.lock() {
                        s.push(("/GetProfile".into(), body));
                    }
                    Json(json!({ "balance": "12.34" }))
                }
            }),
        )
        .fallback_service(trustframe_samples::router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), seen)
}

fn policy_folder() -> String {
    format!(
        "{}/../../samples/custom-policies/contoso",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The test tenant with the custom policy set; the REST profiles call `apis`.
async fn spawn_custom(apis: &str) -> TestApp {
    spawn_policies(&policy_folder(), Some(apis)).await
}

/// The test tenant serving the policy folder `dir` (settings: `RestApiBaseUrl` = `apis`).
async fn spawn_policies(dir: &str, apis: Option<&str>) -> TestApp {
    let settings_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut extra = format!("[custom_policies]\ndir = {dir:?}\n");
    if let Some(apis) = apis {
        let settings = settings_dir.path().join("settings.json");
        std::fs::write(&settings, json!({ "RestApiBaseUrl": apis }).to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        extra.push_str(&format!(
            "settings = {:?}\n",
            settings.display().to_string()
        ));
    }
    // The settings are read at start; the folder may go once the server runs.
    spawn_app(&extra).await
}

async fn sign_up_custom(browser: &Browser, start: &str, email: &str, given: &str) -> Step {
    let page = browser.get(start).await.page();
    let link = page
        .href_of("createAccount")
        .unwrap_or_else(|| panic!("no createAccount link: {}", page.body));
    let mut form = browser.get(&link).await.page();
    assert!(has_verification(&form), "{}", form.body);
    form = verify_email(browser, &form, email, Codes::Mailbox).await;
    browser
        .submit(
            &form,
            &[
                ("email", email),
                ("newPassword", PASSWORD),
                ("reenterPassword", PASSWORD),
                ("givenName", given),
                ("surname", "Smith"),
                ("displayName", &format!("{given} Smith")),
                ("action", "continue"),
            ],
        )
        .await
}

/// A refresh grant of the web app at `policy`.
async fn refresh_grant(app: &TestApp, policy: &str, token: String) -> (reqwest::StatusCode, Value) {
    token_request_for(
        app,
        policy,
        &[
            ("grant_type", "refresh_token".into()),
            ("client_id", WEB_CLIENT.into()),
            ("client_secret", WEB_SECRET.into()),
            ("refresh_token", token),
        ],
    )
    .await
}

/// The reset's second half: continue from the verified address, choose `new_password`, and
/// reach the app with a code.
async fn choose_new_password(browser: &Browser, verified: &Html, email: &str, new_password: &str) {
    let page = browser
        .submit(verified, &[("email", email), ("action", "continue")])
        .await
        .page();
    assert!(page.has_input("newPassword"), "{}", page.body);
    let callback = browser
        .submit(
            &page,
            &[
                ("newPassword", new_password),
                ("reenterPassword", new_password),
                ("action", "continue"),
            ],
        )
        .await
        .callback();
    assert!(callback.get("code").is_some(), "{callback:?}");
}

/// Redeems the callback's code at `policy` and returns the token response (status 200 asserted).
async fn tokens_for(app: &TestApp, policy: &str, callback: &Callback) -> Value {
    let (status, tokens) =
        redeem_for(app, policy, callback.get("code").unwrap_or_default(), None).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

fn id_claims(tokens: &Value) -> Value {
    claims(tokens["id_token"].as_str().unwrap_or_default())
}

#[tokio::test]
async fn the_starter_pack_shaped_set_signs_up_signs_in_edits_and_refreshes() {
    let (apis, _) = spawn_apis().await;
    let app = spawn_custom(&apis).await;
    let policy = "B2C_1A_signup_signin";
    let email = unique_email("cp");

    // Metadata in B2C's shapes, ids matched without regard to case.
    let meta: Value = reqwest::get(format!(
        "{}/contoso/b2c_1a_SIGNUP_signin/v2.0/.well-known/openid-configuration",
        app.base
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .json()
    .await
    .unwrap_or_default();
    assert!(
        meta["token_endpoint"]
            .as_str()
            .is_some_and(|t| t.contains("/oauth2/v2.0/token")),
        "{meta}"
    );

    // Sign-up: "Sign up now" is the profile's SignUpTarget; Verified.Email verifies by code.
    let browser = Browser::new(&app);
    let start = authorize_url(&app, policy, WEB_CLIENT, &[("state", "s1")]);
    let callback = sign_up_custom(&browser, &start, &email, "ada")
        .await
        .callback();
    assert_eq!(callback.get("state"), Some("s1"));
    let tokens = tokens_for(&app, policy, &callback).await;
    let id = id_claims(&tokens);
    assert_eq!(id["tfp"], policy);
    assert_eq!(id["given_name"], "ada");
    assert_eq!(id["family_name"], "Smith");
    assert_eq!(id["name"], "ada Smith");
    assert_eq!(id["tid"], TENANT_ID);
    let oid = id["sub"].clone();
    assert!(oid.as_str().is_some_and(|s| !s.is_empty()));
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Sign-in: login-NonInteractive's check, with B2C's message for a wrong password.
    let other = Browser::new(&app);
    let page = sign_in(&other, &start, &email, "Wrong-passw0rd")
        .await
        .page();
    assert!(
        page.alert().is_some_and(|a| a.contains("password")),
        "{:?}",
        page.alert()
    );
    let callback = sign_in(&other, &start, &email.to_uppercase(), PASSWORD)
        .await
        .callback();
    let (_, tokens) =
        redeem_for(&app, policy, callback.get("code").unwrap_or_default(), None).await;
    assert_eq!(id_claims(&tokens)["sub"], oid);

    // Profile edit in the same browser: SM-AAD skips the sign-in page; the user is read.
    let edit = authorize_url(&app, "B2C_1A_ProfileEdit", WEB_CLIENT, &[]);
    let page = other.get(&edit).await.page();
    assert_eq!(page.input_value("givenName").as_deref(), Some("ada"));
    assert!(!page.has_input("password"), "{}", page.body);
    let callback = other
        .submit(
            &page,
            &[
                ("givenName", "Ada"),
                ("surname", "Lovelace"),
                ("action", "continue"),
            ],
        )
        .await
        .callback();
    let tokens = tokens_for(&app, "B2C_1A_ProfileEdit", &callback).await;
    assert_eq!(id_claims(&tokens)["family_name"], "Lovelace");

    // Refresh: the token journey (RedeemRefreshToken) reads the user again, so the first
    // session's refresh token now carries the edited names; the refresh token rotates.
    let (status, refreshed) = refresh_grant(&app, policy, refresh.clone()).await;
    assert_eq!(status, 200, "{refreshed}");
    let id = id_claims(&refreshed);
    assert_eq!(id["given_name"], "Ada");
    assert_eq!(id["family_name"], "Lovelace");
    assert_eq!(id["sub"], oid);
    assert_ne!(refreshed["refresh_token"].as_str(), Some(refresh.as_str()));
}

#[tokio::test]
async fn forgot_password_runs_the_reset_sub_journey_and_ends_old_refresh_tokens() {
    let (apis, _) = spawn_apis().await;
    let app = spawn_custom(&apis).await;
    let policy = "B2C_1A_signup_signin";
    let email = unique_email("reset");
    let browser = Browser::new(&app);
    let start = authorize_url(&app, policy, WEB_CLIENT, &[]);
    let callback = sign_up_custom(&browser, &start, &email, "rita")
        .await
        .callback();
    let (_, tokens) =
        redeem_for(&app, policy, callback.get("code").unwrap_or_default(), None).await;
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // "Forgot your password?" selects ForgotPasswordExchange; the PasswordReset sub journey
    // verifies the address, then asks for the new password, then returns to the main journey.
    let other = Browser::new(&app);
    let page = other.get(&start).await.page();
    let link = page
        .href_of("forgotPassword")
        .unwrap_or_else(|| panic!("no forgotPassword link: {}", page.body));
    let form = other.get(&link).await.page();
    assert!(has_verification(&form), "{}", form.body);
    let verified = verify_email(&other, &form, &email, Codes::Mailbox).await;
    let new_password = "N3w-Passw0rd!";
    choose_new_password(&other, &verified, &email, new_password).await;

    // The new password signs in; the old one does not; the old refresh token is void.
    let third = Browser::new(&app);
    let page = sign_in(&third, &start, &email, PASSWORD).await.page();
    assert!(page.alert().is_some(), "{}", page.body);
    sign_in(&Browser::new(&app), &start, &email, new_password)
        .await
        .callback();
    let (status, body) = refresh_grant(&app, policy, refresh).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_409_from_a_validation_profile_is_shown_on_the_page_and_the_page_is_kept() {
    // The access-code API (`custom-policies-series-call-rest-api.md`) answers 409 + userMessage
    // unless the code is 88888.
    let (apis, _) = spawn_apis().await;
    let app = spawn_custom(&apis).await;
    let policy = "B2C_1A_signup_signin_accesscode";
    let email = unique_email("code");
    let browser = Browser::new(&app);
    let start = authorize_url(&app, policy, WEB_CLIENT, &[]);
    let page = browser.get(&start).await.page();
    let link = page
        .href_of("createAccount")
        .unwrap_or_else(|| panic!("no createAccount link: {}", page.body));
    let form = browser.get(&link).await.page();
    assert!(form.has_input("accessCode"), "{}", form.body);
    let form = verify_email(&browser, &form, &email, Codes::Mailbox).await;
    let fields = |code: &'static str| {
        vec![
            ("email", email.clone()),
            ("newPassword", PASSWORD.to_owned()),
            ("reenterPassword", PASSWORD.to_owned()),
            ("givenName", "Cy".to_owned()),
            ("surname", "Code".to_owned()),
            ("displayName", "Cy Code".to_owned()),
            ("accessCode", code.to_owned()),
            ("action", "continue".to_owned()),
        ]
    };
    let wrong_fields = fields("12345");
    let wrong: Vec<(&str, &str)> = wrong_fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = browser.submit(&form, &wrong).await.page();
    assert_eq!(
        page.alert().as_deref(),
        Some("Invalid access code. Please try again."),
        "{}",
        page.body
    );
    // The page is kept: what the user typed is still there, no account was written.
    assert_eq!(page.input_value("givenName").as_deref(), Some("Cy"));
    let right_fields = fields("88888");
    let right: Vec<(&str, &str)> = right_fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let callback = browser.submit(&page, &right).await.callback();
    let tokens = tokens_for(&app, policy, &callback).await;
    assert_eq!(id_claims(&tokens)["given_name"], "Cy");
}

#[tokio::test]
async fn an_orchestration_step_adds_the_balance_and_sends_the_lcid_as_lang() {
    // `add-api-connector-token-enrichment.md`: REST-GetProfile after the user is read; `lang`
    // is {Culture:LCID}.
    let (apis, seen) = spawn_apis().await;
    let app = spawn_custom(&apis).await;
    let policy = "B2C_1A_signup_signin_balance";
    let email = unique_email("bal");
    let browser = Browser::new(&app);
    let start = authorize_url(&app, policy, WEB_CLIENT, &[("ui_locales", "fr-FR")]);
    let callback = sign_up_custom(&browser, &start, &email, "bea")
        .await
        .callback();
    let tokens = tokens_for(&app, policy, &callback).await;
    let id = id_claims(&tokens);
    assert_eq!(id["balance"], "12.34", "{id}");
    let sent = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let (_, body) = sent
        .iter()
        .find(|(path, _)| path == "/GetProfile")
        .unwrap_or_else(|| panic!("GetProfile was not called"));
    assert_eq!(body["objectId"], id["sub"], "{body}");
    assert_eq!(
        body["lang"]
            .as_str()
            .or(body["lang"].as_i64().map(|_| "1036")),
        Some("1036"),
        "{body}"
    );
}

#[tokio::test]
async fn json_paths_read_nested_answers_into_the_token() {
    // `restful-technical-profile.md`: `contacts.0.person.name` and
    // `contacts[0].person.emails[0].email`.
    let (apis, _) = spawn_apis().await;
    let app = spawn_custom(&apis).await;
    let policy = "B2C_1A_rest_jsonpath";
    let email = unique_email("emily.smith");
    let browser = Browser::new(&app);
    let start = authorize_url(&app, policy, WEB_CLIENT, &[]);
    let callback = sign_up_custom(&browser, &start, &email, "em")
        .await
        .callback();
    let tokens = tokens_for(&app, policy, &callback).await;
    let id = id_claims(&tokens);
    assert!(
        id["contact_name"].as_str().is_some_and(|n| !n.is_empty()),
        "{id}"
    );
    assert!(
        id["contact_email"]
            .as_str()
            .is_some_and(|e| e.contains('@')),
        "{id}"
    );
    assert!(id["loyaltyNumber"].is_string(), "{id}");
}

#[tokio::test]
async fn a_409_from_an_orchestration_step_returns_to_the_app_with_the_message() {
    // `api-connectors-overview.md`: a REST profile called directly by an orchestration step.
    let (apis, _) = spawn_apis().await;
    let app = spawn_custom(&apis).await;
    let policy = "B2C_1A_rest_step_accesscode";
    let browser = Browser::new(&app);
    let refused = authorize_url(&app, policy, WEB_CLIENT, &[("access_code", "12345")]);
    let callback = browser.get(&refused).await.callback();
    assert_eq!(callback.get("error"), Some("access_denied"), "{callback:?}");
    assert!(
        callback
            .get("error_description")
            .is_some_and(|d| d.contains("Invalid access code. Please try again.")),
        "{callback:?}"
    );
    let accepted = authorize_url(&app, policy, WEB_CLIENT, &[("access_code", "88888")]);
    let page = browser.get(&accepted).await.page();
    assert!(page.has_input("signInName"), "{}", page.body);
}

/// Microsoft's own starter pack (`LocalAccounts` of
/// Azure-Samples/active-directory-b2c-custom-policy-starterpack, `yourtenant` replaced by
/// `contoso`), unchanged. Its files are not ours to commit: set `TRUSTFRAME_STARTER_PACK` to
/// such a folder to run this test (`docs/custom-policies.md` says how to prepare it).
#[tokio::test]
async fn microsofts_local_accounts_starter_pack_runs_unchanged() {
    let Ok(dir) = std::env::var("TRUSTFRAME_STARTER_PACK") else {
        eprintln!("TRUSTFRAME_STARTER_PACK is not set: Microsoft's starter pack not run");
        return;
    };
    let app = spawn_policies(&dir, None).await;
    let email = unique_email("ms");
    let susi = "B2C_1A_signup_signin";

    // Sign-up, then sign-in in another browser, with the pack's own password rule.
    let browser = Browser::new(&app);
    let start = authorize_url(&app, susi, WEB_CLIENT, &[]);
    let callback = sign_up_custom(&browser, &start, &email, "mia")
        .await
        .callback();
    let tokens = tokens_for(&app, susi, &callback).await;
    let id = id_claims(&tokens);
    assert_eq!(id["given_name"], "mia", "{id}");
    assert_eq!(id["tfp"], susi);
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let other = Browser::new(&app);
    let callback = sign_in(&other, &start, &email, PASSWORD).await.callback();
    let (status, _) = redeem_for(&app, susi, callback.get("code").unwrap_or_default(), None).await;
    assert_eq!(status, 200);

    // Profile edit in the signed-in browser.
    let edit = authorize_url(&app, "B2C_1A_ProfileEdit", WEB_CLIENT, &[]);
    let page = other.get(&edit).await.page();
    let callback = other
        .submit(
            &page,
            &[
                ("givenName", "Mila"),
                ("surname", "Stone"),
                ("action", "continue"),
            ],
        )
        .await
        .callback();
    let tokens = tokens_for(&app, "B2C_1A_ProfileEdit", &callback).await;
    // The pack's ProfileEdit relying party puts only `sub` and `tid` in its token.
    assert_eq!(id_claims(&tokens)["sub"], id["sub"]);
    assert_eq!(id_claims(&tokens)["tid"], TENANT_ID);

    // Refresh through RedeemRefreshToken: the edited name.
    let (status, refreshed) = refresh_grant(&app, susi, refresh).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(id_claims(&refreshed)["given_name"], "Mila");

    // Password reset (its own policy in this pack), then sign-in with the new password.
    let reset = authorize_url(&app, "B2C_1A_PasswordReset", WEB_CLIENT, &[]);
    let third = Browser::new(&app);
    let form = third.get(&reset).await.page();
    let verified = verify_email(&third, &form, &email, Codes::Mailbox).await;
    let new_password = "N3w-Passw0rd!";
    choose_new_password(&third, &verified, &email, new_password).await;
    sign_in(&Browser::new(&app), &start, &email, new_password)
        .await
        .callback();
}

/// A test-only RSA key (PKCS#1, `RSA PRIVATE KEY`), generated once with openssl. Git keeps no
/// read permissions, so the fixture is copied to a file readable by its owner only, as the
/// server demands of a private key file.
fn token_signing_key_file() -> String {
    let fixture = format!(
        "{}/tests/fixtures/token-signing-key.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&fixture).unwrap_or_else(|e| panic!("{fixture}: {e}"));
    let path = std::env::temp_dir().join(format!(
        "trustframe-token-signing-key-{}.pem",
        uuid::Uuid::new_v4().simple()
    ));
    crate::connections::write_private(&path, &bytes);
    path.display().to_string()
}

async fn jwks(url: &str) -> Value {
    let r = reqwest::get(url).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Verifies a JWT with the keys of a JWKS fetched over HTTP, as an app would.
fn verify_with(jwks: &Value, token: &str, audience: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
        .ok_or_else(|| format!("kid {kid} is not published"))?;
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap_or_default(),
        jwk["e"].as_str().unwrap_or_default(),
    )
    .map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|h| h.kid)
        .unwrap_or_else(|| panic!("no kid in {token}"))
}

#[tokio::test]
async fn the_token_signing_key_container_signs_the_custom_policies_tokens() {
    let (apis, _) = spawn_apis().await;
    let dir = policy_folder();
    let settings_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let settings = settings_dir.path().join("settings.json");
    std::fs::write(&settings, json!({ "RestApiBaseUrl": apis }).to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let extra = format!(
        "[custom_policies]\ndir = {dir:?}\nsettings = {:?}\n\
         [[policy_keys]]\nname = \"B2C_1A_TokenSigningKeyContainer\"\nfile = {:?}\n",
        settings.display().to_string(),
        token_signing_key_file()
    );
    let app = spawn_edited(&extra, None, |text, _| text).await;
    let policy = "B2C_1A_signup_signin";

    // The policy's JWKS (both URL forms) publishes its key first, then the tenant's.
    let keys = jwks(&format!(
        "{}/contoso/{policy}/discovery/v2.0/keys",
        app.base
    ))
    .await;
    let by_p = jwks(&format!(
        "{}/contoso/discovery/v2.0/keys?p=b2c_1a_signup_SIGNIN",
        app.base
    ))
    .await;
    assert_eq!(keys, by_p);
    let flow_keys = jwks(&format!(
        "{}/contoso/B2C_1_susi/discovery/v2.0/keys",
        app.base
    ))
    .await;
    let published = keys["keys"].as_array().cloned().unwrap_or_default();
    assert_eq!(published.len(), 2, "{keys}");
    assert_eq!(
        published[1], flow_keys["keys"][0],
        "the tenant's key follows"
    );
    let policy_kid = published[0]["kid"].as_str().unwrap_or_default().to_owned();
    assert_eq!(published[0]["kty"], "RSA");
    assert_eq!(published[0]["use"], "sig");
    // Metadata is unchanged: its jwks_uri is the policy's keys.
    let meta: Value = reqwest::get(format!(
        "{}/contoso/{policy}/v2.0/.well-known/openid-configuration",
        app.base
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .json()
    .await
    .unwrap_or_default();
    let jwks_uri = meta["jwks_uri"].as_str().unwrap_or_default();
    assert_eq!(jwks(jwks_uri).await, keys, "{jwks_uri}");

    // Code redemption: the ID token carries the policy key's kid and verifies with the
    // policy's JWKS, not with the user flow's.
    let browser = Browser::new(&app);
    let start = authorize_url(&app, policy, WEB_CLIENT, &[]);
    let callback = sign_up_custom(&browser, &start, &unique_email("pk"), "ada")
        .await
        .callback();
    let tokens = tokens_for(&app, policy, &callback).await;
    let id_token = tokens["id_token"].as_str().unwrap_or_default();
    assert_eq!(kid_of(id_token), policy_kid);
    let claims = verify_with(&keys, id_token, WEB_CLIENT).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claims["tfp"], policy);
    let refused = verify_with(&flow_keys, id_token, WEB_CLIENT);
    assert!(refused.is_err_and(|e| e.contains("not published")));

    // Refresh (the token journey) signs with the same key.
    let (status, refreshed) = token_request_for(
        &app,
        policy,
        &[
            ("grant_type", "refresh_token".into()),
            ("client_id", WEB_CLIENT.into()),
            ("client_secret", WEB_SECRET.into()),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().unwrap_or_default().into(),
            ),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    let id_token = refreshed["id_token"].as_str().unwrap_or_default();
    assert_eq!(kid_of(id_token), policy_kid);
    verify_with(&keys, id_token, WEB_CLIENT).unwrap_or_else(|e| panic!("{e}"));

    // The user flow keeps the tenant's key.
    let tenant = app
        .state
        .tenant("contoso")
        .unwrap_or_else(|| panic!("no tenant"));
    assert_eq!(flow_keys["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        Some(tenant.oidc.signing_kid("B2C_1_susi").as_str()),
        flow_keys["keys"][0]["kid"].as_str()
    );
}

#[tokio::test]
async fn a_signing_key_that_is_no_rsa_key_or_a_near_miss_stops_the_start() {
    let dir = policy_folder();
    let settings_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let settings = settings_dir.path().join("settings.json");
    std::fs::write(
        &settings,
        json!({ "RestApiBaseUrl": "http://127.0.0.1:9" }).to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let start = |keys: &str| {
        let config_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let text = config_text(
            "http://127.0.0.1:9",
            &format!(
                "[custom_policies]\ndir = {dir:?}\nsettings = {:?}\n{keys}",
                settings.display().to_string()
            ),
        );
        let config = trustframe_server::Config::parse(
            &text,
            &config_dir.path().join("trustframe.toml"),
            std::iter::empty(),
        )
        .unwrap_or_else(|e| panic!("config: {e}"));
        async move {
            let _keep = config_dir;
            trustframe_server::Server::build(trustframe_server::ServerOptions {
                configs: vec![config],
                extra_routes: None,
                home_links: Vec::new(),
                listener: None,
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
        }
    };

    let err = start(
        "[[policy_keys]]\nname = \"B2C_1A_TokenSigningKeyContainer\"\nvalue = \"a shared secret\"\n",
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("a secret is no signing key"));
    assert!(
        err.contains("B2C_1A_TokenSigningKeyContainer") && err.contains("not an RSA private key"),
        "{err}"
    );

    let err = start(&format!(
        "[[policy_keys]]\nname = \"B2C_1A_TokenSigningKeyContaner\"\nfile = {:?}\n",
        token_signing_key_file()
    ))
    .await
    .err()
    .unwrap_or_else(|| panic!("a near miss is a typo"));
    assert!(
        err.contains("TrustFrameworkBase.xml")
            && err.contains("'B2C_1A_TokenSigningKeyContainer', which is not configured")
            && err.contains("did you mean 'B2C_1A_TokenSigningKeyContaner'"),
        "{err}"
    );
}

/// A copy of the sample set with one edit (`from` → `to`) in the file `name`.
pub(crate) fn folder_with_edit(name: &str, from: &str, to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let entries = std::fs::read_dir(policy_folder()).unwrap_or_else(|e| panic!("{e}"));
    for entry in entries.filter_map(Result::ok) {
        let mut text = std::fs::read_to_string(entry.path()).unwrap_or_else(|e| panic!("{e}"));
        if entry.file_name() == name {
            assert!(text.contains(from), "{name} has no {from}");
            text = text.replacen(from, to, 1);
        }
        std::fs::write(dir.path().join(entry.file_name()), text).unwrap_or_else(|e| panic!("{e}"));
    }
    dir
}

/// A copy of the sample set whose `B2C_1A_signup_signin` relying party has these behaviours.
fn folder_with_behaviors(behaviors: &str) -> tempfile::TempDir {
    folder_with_edit(
        "SignUpOrSignin.xml",
        "</Endpoints>",
        &format!("</Endpoints>\n    <UserJourneyBehaviors>{behaviors}</UserJourneyBehaviors>"),
    )
}

#[tokio::test]
async fn a_session_restores_what_its_session_provider_persisted() {
    // SM-AAD persists signInName (`custom-policy-reference-sso.md`): in the SSO session of a
    // later journey it is back in the claims, with the provider's objectIdFromSession.
    let (apis, _) = spawn_apis().await;
    let folder = folder_with_edit(
        "ProfileEdit.xml",
        r#"<OutputClaim ClaimTypeReferenceId="displayName" />"#,
        r#"<OutputClaim ClaimTypeReferenceId="displayName" />
        <OutputClaim ClaimTypeReferenceId="signInName" PartnerClaimType="signin_name" />
        <OutputClaim ClaimTypeReferenceId="objectIdFromSession" PartnerClaimType="from_session" />"#,
    );
    let app = spawn_policies(&folder.path().display().to_string(), Some(&apis)).await;
    let email = unique_email("sso");
    let start = authorize_url(&app, "B2C_1A_signup_signin", WEB_CLIENT, &[]);
    sign_up_custom(&Browser::new(&app), &start, &email, "sam")
        .await
        .callback();
    let browser = Browser::new(&app);
    sign_in(&browser, &start, &email, PASSWORD).await.callback();
    let edit = authorize_url(&app, "B2C_1A_ProfileEdit", WEB_CLIENT, &[]);
    let page = browser.get(&edit).await.page();
    let callback = browser
        .submit(&page, &[("givenName", "Sam"), ("action", "continue")])
        .await
        .callback();
    let tokens = tokens_for(&app, "B2C_1A_ProfileEdit", &callback).await;
    let id = id_claims(&tokens);
    assert_eq!(id["signin_name"], email.as_str(), "{id}");
    assert_eq!(id["from_session"], true, "{id}");
}

#[tokio::test]
async fn a_relying_party_that_suppresses_sso_asks_every_time() {
    let (apis, _) = spawn_apis().await;
    let folder = folder_with_behaviors(
        r#"<SingleSignOn Scope="Suppressed" /><SessionExpiryType>Absolute</SessionExpiryType><SessionExpiryInSeconds>900</SessionExpiryInSeconds>"#,
    );
    let app = spawn_policies(&folder.path().display().to_string(), Some(&apis)).await;
    let policy = "B2C_1A_signup_signin";
    let email = unique_email("nosso");
    let browser = Browser::new(&app);
    let start = authorize_url(&app, policy, WEB_CLIENT, &[]);
    sign_up_custom(&browser, &start, &email, "noel")
        .await
        .callback();
    // No session was created: the same browser sees the sign-in page again, and profile edit
    // (which needs a session) asks who the user is.
    let page = browser.get(&start).await.page();
    assert!(page.has_input("signInName"), "{}", page.body);
    let edit = authorize_url(&app, "B2C_1A_ProfileEdit", WEB_CLIENT, &[]);
    let page = browser.get(&edit).await.page();
    assert!(!page.has_input("givenName"), "{}", page.body);
}

#[tokio::test]
async fn without_ui_locales_the_browsers_language_is_the_lcid() {
    let (apis, seen) = spawn_apis().await;
    let app = spawn_custom(&apis).await;
    let policy = "B2C_1A_signup_signin_balance";
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        reqwest::header::HeaderValue::from_static("de-DE,de;q=0.9,en;q=0.5"),
    );
    let browser = Browser::with_client(&app, reqwest::Client::builder().default_headers(headers));
    let start = authorize_url(&app, policy, WEB_CLIENT, &[]);
    sign_up_custom(&browser, &start, &unique_email("de"), "dora")
        .await
        .callback();
    let sent = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let (_, body) = sent
        .iter()
        .find(|(path, _)| path == "/GetProfile")
        .unwrap_or_else(|| panic!("GetProfile was not called"));
    assert_eq!(body["lang"], "1031", "{body}");
}

/// One relying party whose page has every kind of choice B2C offers.
const CHOICES: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<TrustFrameworkPolicy xmlns="http://schemas.microsoft.com/online/cpim/schemas/2013/06"
    PolicySchemaVersion="0.3.0.0" TenantId="contoso.onmicrosoft.com" PolicyId="B2C_1A_choices"
    PublicPolicyUri="http://contoso.onmicrosoft.com/B2C_1A_choices">
  <BuildingBlocks>
    <ClaimsSchema>
      <ClaimType Id="objectId"><DisplayName>Object id</DisplayName><DataType>string</DataType></ClaimType>
      <ClaimType Id="color"><DisplayName>Favourite colour</DisplayName><DataType>string</DataType>
        <UserInputType>RadioSingleSelect</UserInputType>
        <Restriction><Enumeration Text="Red" Value="red" /><Enumeration Text="Blue" Value="blue" /></Restriction>
      </ClaimType>
      <ClaimType Id="interests"><DisplayName>Interests</DisplayName><DataType>stringCollection</DataType>
        <UserInputType>CheckboxMultiSelect</UserInputType>
        <Restriction><Enumeration Text="Art" Value="art" /><Enumeration Text="Books" Value="books" /><Enumeration Text="Chess" Value="chess" /></Restriction>
      </ClaimType>
      <ClaimType Id="birthDate"><DisplayName>Date of birth</DisplayName><DataType>date</DataType>
        <UserInputType>DateTimeDropdown</UserInputType>
      </ClaimType>
      <ClaimType Id="terms"><DisplayName>Our terms</DisplayName><DataType>string</DataType>
        <UserInputType>Paragraph</UserInputType>
      </ClaimType>
    </ClaimsSchema>
  </BuildingBlocks>
  <ClaimsProviders>
    <ClaimsProvider>
      <DisplayName>Choices</DisplayName>
      <TechnicalProfiles>
        <TechnicalProfile Id="Choose">
          <DisplayName>Tell us about you</DisplayName>
          <Protocol Name="Proprietary" Handler="Web.TPEngine.Providers.SelfAssertedAttributeProvider, Web.TPEngine, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null" />
          <Metadata><Item Key="setting.showCancelButton">false</Item></Metadata>
          <InputClaims><InputClaim ClaimTypeReferenceId="terms" DefaultValue="By continuing you accept our terms." /></InputClaims>
          <OutputClaims>
            <OutputClaim ClaimTypeReferenceId="terms" />
            <OutputClaim ClaimTypeReferenceId="color" Required="true" />
            <OutputClaim ClaimTypeReferenceId="interests" />
            <OutputClaim ClaimTypeReferenceId="birthDate" Required="true" />
            <OutputClaim ClaimTypeReferenceId="objectId" DefaultValue="00000000-0000-4000-8000-000000000001" />
          </OutputClaims>
        </TechnicalProfile>
        <TechnicalProfile Id="JwtIssuer">
          <Protocol Name="OpenIdConnect" />
          <OutputTokenFormat>JWT</OutputTokenFormat>
        </TechnicalProfile>
      </TechnicalProfiles>
    </ClaimsProvider>
  </ClaimsProviders>
  <UserJourneys>
    <UserJourney Id="Choices">
      <OrchestrationSteps>
        <OrchestrationStep Order="1" Type="ClaimsExchange">
          <ClaimsExchanges><ClaimsExchange Id="ChooseExchange" TechnicalProfileReferenceId="Choose" /></ClaimsExchanges>
        </OrchestrationStep>
        <OrchestrationStep Order="2" Type="SendClaims" CpimIssuerTechnicalProfileReferenceId="JwtIssuer" />
      </OrchestrationSteps>
    </UserJourney>
  </UserJourneys>
  <RelyingParty>
    <DefaultUserJourney ReferenceId="Choices" />
    <TechnicalProfile Id="PolicyProfile">
      <DisplayName>PolicyProfile</DisplayName>
      <Protocol Name="OpenIdConnect" />
      <OutputClaims>
        <OutputClaim ClaimTypeReferenceId="objectId" PartnerClaimType="sub" />
        <OutputClaim ClaimTypeReferenceId="color" />
        <OutputClaim ClaimTypeReferenceId="interests" />
        <OutputClaim ClaimTypeReferenceId="birthDate" PartnerClaimType="birthdate" />
      </OutputClaims>
      <SubjectNamingInfo ClaimType="sub" />
    </TechnicalProfile>
  </RelyingParty>
</TrustFrameworkPolicy>
"#;

#[tokio::test]
async fn radio_buttons_multi_selects_dates_and_paragraphs_post_what_b2c_posts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("Choices.xml"), CHOICES).unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_policies(&dir.path().display().to_string(), None).await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1A_choices", WEB_CLIENT, &[]);
    let page = browser.get(&start).await.page();
    for needle in [
        r#"type="radio" id="color_blue" name="color" value="blue""#,
        r#"type="checkbox" id="interests_chess" name="interests" value="chess""#,
        r#"id="birthDate" name="birthDate"
        type="date""#,
        r#"<p id="terms">By continuing you accept our terms.</p>"#,
    ] {
        assert!(
            page.body.contains(needle),
            "{needle} missing: {}",
            page.body
        );
    }
    // setting.showCancelButton=false.
    assert!(!page.body.contains(r#"id="cancel""#), "{}", page.body);

    // A value outside the enumeration is refused with the page kept.
    let page = browser
        .submit(
            &page,
            &[
                ("color", "green"),
                ("birthDate", "1990-05-17"),
                ("action", "continue"),
            ],
        )
        .await
        .page();
    assert!(
        page.body.contains("Please select a valid value"),
        "{}",
        page.body
    );

    // Each ticked box is posted under the claim id, as a browser does.
    let action = page
        .form_action()
        .unwrap_or_else(|| panic!("no form: {}", page.body));
    let csrf = page.input_value("csrf").unwrap_or_default();
    let form: Vec<(String, String)> = [
        ("csrf", csrf.as_str()),
        ("color", "blue"),
        ("interests", "art"),
        ("interests", "chess"),
        ("birthDate", "1990-05-17"),
        ("action", "continue"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let callback = browser.post_form(&action, &form).await.callback();
    let tokens = tokens_for(&app, "B2C_1A_choices", &callback).await;
    let id = id_claims(&tokens);
    assert_eq!(id["color"], "blue");
    assert_eq!(id["interests"], json!(["art", "chess"]));
    assert_eq!(id["birthdate"], "1990-05-17");
}

#[tokio::test]
async fn delete_my_account_removes_the_user_its_sessions_and_refresh_tokens() {
    let (apis, _) = spawn_apis().await;
    let app = spawn_custom(&apis).await;
    let susi = "B2C_1A_signup_signin";
    let email = unique_email("gone");
    let browser = Browser::new(&app);
    let start = authorize_url(&app, susi, WEB_CLIENT, &[]);
    let callback = sign_up_custom(&browser, &start, &email, "gus")
        .await
        .callback();
    let (_, tokens) = redeem_for(&app, susi, callback.get("code").unwrap_or_default(), None).await;
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // In the signed-in browser: a confirmation page (a Paragraph), then the deletion.
    let delete = authorize_url(&app, "B2C_1A_DeleteMyAccount", WEB_CLIENT, &[]);
    let page = browser.get(&delete).await.page();
    assert!(page.body.contains("will be deleted"), "{}", page.body);
    let callback = browser
        .submit(&page, &[("action", "continue")])
        .await
        .callback();
    assert!(callback.get("code").is_some(), "{callback:?}");
    // No session names the deleted user: the same browser is asked to sign in.
    let page = browser.get(&start).await.page();
    assert!(page.has_input("signInName"), "{}", page.body);
    // The deletion is audited, naming the user by object id.
    let oid = claims(tokens["id_token"].as_str().unwrap_or_default())["sub"].clone();
    let audit = app.state.tenants[0]
        .store
        .audit_after(0, 1000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        audit
            .iter()
            .any(|(_, r)| r.kind == "account_deleted" && oid.as_str() == r.subject.as_deref()),
        "no account_deleted record for {oid}"
    );

    // The account is gone: no sign-in, no refresh, and the address can sign up again.
    let page = sign_in(&Browser::new(&app), &start, &email, PASSWORD)
        .await
        .page();
    assert!(page.alert().is_some(), "{}", page.body);
    let (status, body) = refresh_grant(&app, susi, refresh).await;
    assert_eq!(status, 400, "{body}");
    sign_up_custom(&Browser::new(&app), &start, &email, "gus")
        .await
        .callback();
}

#[tokio::test]
async fn a_content_definitions_load_uri_lays_out_the_page_and_script_execution_keeps_its_scripts() {
    // The sample set, with the sign-in page's LoadUri pointing at a template in the policy
    // folder and the relying party allowing JavaScript (`javascript-and-page-layout.md`).
    let folder = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(policy_folder()).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let name = path.file_name().unwrap_or_default().to_owned();
        let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        if name == "TrustFrameworkBase.xml" {
            text = text.replacen(
                "<LoadUri>~/tenant/templates/AzureBlue/unified.cshtml</LoadUri>",
                "<LoadUri>layouts/unified.html</LoadUri>",
                1,
            );
        }
        if name == "SignUpOrSignin.xml" {
            text = text.replacen(
                "<TechnicalProfile Id=\"PolicyProfile\">",
                "<UserJourneyBehaviors><ScriptExecution>Allow</ScriptExecution></UserJourneyBehaviors>\n    <TechnicalProfile Id=\"PolicyProfile\">",
                1,
            );
        }
        std::fs::write(folder.path().join(&name), text).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::create_dir_all(folder.path().join("layouts")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        folder.path().join("layouts/unified.html"),
        "<!DOCTYPE html><html><head><title>Woodgrove</title><script src=\"js/brand.js\"></script></head><body><div id=\"api\"></div></body></html>",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_policies(
        &folder.path().display().to_string(),
        Some("http://127.0.0.1:9"),
    )
    .await;
    let browser = Browser::new(&app);
    for (policy, scripts) in [
        ("B2C_1A_signup_signin", true),
        ("B2C_1A_signup_signin_balance", false),
    ] {
        let start = authorize_url(&app, policy, WEB_CLIENT, &[]);
        let page = browser.get(&start).await.page();
        assert!(
            page.body.contains("<title>Woodgrove</title>"),
            "{policy}: {}",
            page.body
        );
        assert!(
            page.body.contains(r#"<div id="api" data-name="Unified">"#)
                || page.body.contains(r#"id="localAccountForm""#),
            "{policy}: {}",
            page.body
        );
        let response = browser
            .client
            .get(&page.url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let csp = response
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.text().await.unwrap_or_default();
        // The template's script stays only where the relying party allows it, with the
        // page's nonce.
        assert_eq!(body.contains("js/brand.js"), scripts, "{policy}: {body}");
        assert_eq!(csp.contains("'nonce-"), scripts, "{policy}: {csp}");
        assert!(!csp.contains("script-src 'unsafe-inline'"), "{csp}");
    }
}
