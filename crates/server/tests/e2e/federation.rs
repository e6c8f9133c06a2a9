//! Sign-in through external OpenID Connect providers
//! (`identity-provider-generic-openid-connect.md`) and the PostFederationSignup API connector
//! (`add-api-connector.md`).
//!
//! The provider is a second Trustframe (tenant `fabrikam`, whose app registration has
//! contoso's authresp URL as redirect URI), or, for what a correct provider never does (a
//! token signed by an unknown key, a wrong nonce), a small fake provider on port 0.

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use trustframe_server::{Config, Server, ServerOptions};

use crate::helpers::*;

const FAB_TENANT_ID: &str = "7a1b2c3d-4444-4555-8666-777788889999";
const FAB_CLIENT: &str = "44445555-eeee-6666-ffff-777788889999";
const FAB_SECRET: &str = "fabrikam-client-secret-9d2e";
const FAKE_SECRET: &str = "fake-provider-secret-51ab";

fn bind() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = l
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"))
        .port();
    (l, format!("http://127.0.0.1:{port}"))
}

/// Starts Trustframe from config text on a bound listener.
async fn start(text: &str, listener: TcpListener, base: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let config = Config::parse(
        text,
        &dir.path().join("trustframe.toml"),
        std::iter::empty(),
    )
    .unwrap_or_else(|e| panic!("test config: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let server = Server::build(ServerOptions {
        configs: vec![config],
        extra_routes: None,
        home_links: Vec::new(),
        listener: Some(listener),
    })
    .await
    .unwrap_or_else(|e| panic!("server: {e}"));
    let state = server.state();
    let task = tokio::spawn(async move {
        if let Err(e) = server.run().await {
            eprintln!("server stopped: {e}");
        }
    });
    TestApp::from_parts(addr, base.to_owned(), dir, state, task)
}

/// Redeems a code at `B2C_1_fed`'s token endpoint with the web app's secret.
async fn redeem_fed(app: &TestApp, code: &str, verifier: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("client_id", WEB_CLIENT.to_owned()),
        ("client_secret", WEB_SECRET.to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v.to_owned()));
    }
    let r = reqwest::Client::new()
        .post(format!("{}/contoso/B2C_1_fed/oauth2/v2.0/token", app.base))
        .form(&form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("token: {e}"));
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

fn authresp(consumer: &str) -> String {
    format!("{consumer}/contoso.onmicrosoft.com/oauth2/authresp")
}

/// The provider tenant: Trustframe as `fabrikam`, with contoso registered as an app.
fn provider_text(base: &str, consumer: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
public_url = "{base}"
development = true
[storage]
url = "sqlite://fabrikam.db"
[tenant]
name = "fabrikam"
id = "{FAB_TENANT_ID}"
[passwords]
argon2_memory_kib = 256
argon2_iterations = 1
[[applications]]
name = "contoso (federation)"
client_id = "{FAB_CLIENT}"
client_secret = "{FAB_SECRET}"
redirect_uris = ["{}"]
[[user_flows]]
id = "B2C_1_susi"
type = "sign_up_or_sign_in"
sign_up_attributes = ["givenName", "surname", "displayName"]
email_verification = false
"#,
        authresp(consumer)
    )
}

/// Contoso's flow `B2C_1_fed` offering local accounts and `fabrikam`.
fn consumer_extra(provider: &str, more: &str) -> String {
    format!(
        r#"
[[identity_providers]]
id = "fabrikam"
type = "openid_connect"
display_name = "Fabrikam"
metadata_url = "{provider}/fabrikam/B2C_1_susi/v2.0/.well-known/openid-configuration"
client_id = "{FAB_CLIENT}"
client_secret = "{FAB_SECRET}"
scope = "openid profile email"
claims = {{ user_id = "sub", display_name = "name", given_name = "given_name", surname = "family_name", email = "emails" }}
[[user_flows]]
id = "B2C_1_fed"
type = "sign_up_or_sign_in"
identity_providers = ["local", "fabrikam"]
sign_up_attributes = ["givenName", "surname", "displayName"]
{more}
"#
    )
}

struct Pair {
    provider: TestApp,
    consumer: TestApp,
}

async fn pair() -> Pair {
    let (pl, pbase) = bind();
    let (cl, cbase) = bind();
    let provider = start(&provider_text(&pbase, &cbase), pl, &pbase).await;
    let consumer = start(
        &config_text(&cbase, &consumer_extra(&pbase, "")),
        cl,
        &cbase,
    )
    .await;
    Pair { provider, consumer }
}

fn resolve(page: &Html, href: &str) -> String {
    url::Url::parse(&page.url)
        .and_then(|u| u.join(href))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| href.to_owned())
}

/// Clicks a provider's button on the sign-in page.
async fn click_provider(browser: &Browser, page: &Html, exchange: &str) -> Step {
    assert!(
        page.body.contains(&format!("id=\"{exchange}\"")),
        "no button {exchange}: {}",
        page.body
    );
    let csrf = page.input_value("csrf").unwrap_or_default();
    let action = resolve(page, &page.form_action().unwrap_or_default());
    browser
        .post_form(
            &action,
            &[("csrf".into(), csrf), ("select".into(), exchange.into())],
        )
        .await
}

/// Signs up at the provider (its sign-in page is `page`); returns where the journey lands
/// back at the consumer.
async fn sign_up_at_provider(browser: &Browser, page: &Html, email: &str) -> Step {
    let link = page
        .href_of("createAccount")
        .unwrap_or_else(|| panic!("no sign-up link at the provider: {}", page.body));
    let form = browser.get(&resolve(page, &link)).await.page();
    browser
        .submit(
            &form,
            &[
                ("email", email),
                ("newPassword", PASSWORD),
                ("reenterPassword", PASSWORD),
                ("givenName", "Fiona"),
                ("surname", "Fabrikam"),
                ("displayName", "Fiona F."),
                ("action", "continue"),
            ],
        )
        .await
}

#[tokio::test]
async fn federated_first_sign_in_then_second_sign_in_and_domain_hint() {
    let Pair { provider, consumer } = pair().await;
    let browser = Browser::new(&consumer);
    let email = unique_email("fiona");
    let (verifier, challenge) = pkce();
    let start = authorize_url(
        &consumer,
        "B2C_1_fed",
        WEB_CLIENT,
        &[
            ("nonce", "n-fed"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let page = browser.get(&start).await.page();
    assert!(page.has_input("signInName"), "local accounts stay offered");
    assert!(page.body.contains(">Fabrikam</button>"), "{}", page.body);

    // To the provider, sign up there; back at contoso, the attribute page is prefilled.
    let at_provider = click_provider(&browser, &page, "fabrikamExchange")
        .await
        .page();
    assert!(
        at_provider.url.starts_with(&provider.base),
        "{}",
        at_provider.url
    );
    let attributes = sign_up_at_provider(&browser, &at_provider, &email)
        .await
        .page();
    assert!(
        attributes.url.starts_with(&consumer.base),
        "{} {:?} {}",
        attributes.url,
        attributes.alert(),
        attributes.body
    );
    assert_eq!(attributes.input_value("email"), Some(email.clone()));
    assert_eq!(
        attributes.input_value("givenName").as_deref(),
        Some("Fiona")
    );
    assert_eq!(
        attributes.input_value("surname").as_deref(),
        Some("Fabrikam")
    );
    assert_eq!(
        attributes.input_value("displayName").as_deref(),
        Some("Fiona F.")
    );
    assert!(!attributes.has_input("newPassword"));
    let callback = browser
        .submit(
            &attributes,
            &[
                ("email", &email),
                ("givenName", "Fi"),
                ("surname", "Fabrikam"),
                ("displayName", "Fiona F."),
                ("action", "continue"),
            ],
        )
        .await
        .callback();
    let (status, tokens) = redeem_fed(
        &consumer,
        callback.get("code").unwrap_or_default(),
        Some(&verifier),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    let provider_issuer = format!("{}/{FAB_TENANT_ID}/v2.0/", provider.base);
    assert_eq!(id["idp"], provider_issuer);
    assert_eq!(id["newUser"], true);
    assert_eq!(id["given_name"], "Fi", "the user's edit wins");
    assert_eq!(id["emails"], json!([email]));
    assert_eq!(id["nonce"], "n-fed");

    // identities = [{federated, provider issuer, provider subject}].
    let oid = id["oid"].as_str().unwrap_or_default().to_owned();
    let user = consumer.state.tenants[0]
        .store
        .user(&oid)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("user {oid} not stored"));
    let identity = user
        .identities
        .iter()
        .find(|i| i.sign_in_type == "federated")
        .unwrap_or_else(|| panic!("no federated identity: {:?}", user.identities));
    assert_eq!(identity.issuer, provider_issuer);
    let provider_user = provider.state.tenants[0]
        .store
        .user_by_identity("emailAddress", "fabrikam.onmicrosoft.com", &email)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no user at the provider"));
    assert_eq!(identity.issuer_assigned_id, provider_user.object_id);

    // Second sign-in: the provider's session answers at once; the user is found by (issuer,
    // subject): no attribute page, not new.
    let again = authorize_url(&consumer, "B2C_1_fed", WEB_CLIENT, &[("prompt", "login")]);
    let page = browser.get(&again).await.page();
    let callback = click_provider(&browser, &page, "fabrikamExchange")
        .await
        .callback();
    let (_, tokens) = redeem_fed(&consumer, callback.get("code").unwrap_or_default(), None).await;
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["oid"], oid.as_str());
    assert!(id["newUser"].is_null(), "{id}");
    assert_eq!(id["idp"], provider_issuer);

    // domain_hint (id or display name, any case) skips contoso's page.
    for hint in ["fabrikam", "FABRIKAM"] {
        let hinted = authorize_url(
            &consumer,
            "B2C_1_fed",
            WEB_CLIENT,
            &[("prompt", "login"), ("domain_hint", hint)],
        );
        let callback = browser.get(&hinted).await.callback();
        assert!(callback.get("code").is_some(), "{callback:?}");
    }
    // An unknown hint shows the page.
    let unknown = authorize_url(
        &consumer,
        "B2C_1_fed",
        WEB_CLIENT,
        &[("prompt", "login"), ("domain_hint", "contoso.com")],
    );
    assert!(browser.get(&unknown).await.page().has_input("signInName"));
    // Each federated sign-in is audited with its provider.
    let audit = consumer.state.tenants[0]
        .store
        .audit_after(0, 1000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        audit.iter().any(|(_, r)| r.kind == "sign_in"
            && r.outcome == "success"
            && r.detail["identityProvider"].is_string()),
        "{audit:?}"
    );
}

#[tokio::test]
async fn cancel_at_the_provider_comes_back_as_access_denied() {
    let Pair {
        consumer,
        provider: _provider,
    } = pair().await;
    let browser = Browser::new(&consumer);
    let start = authorize_url(&consumer, "B2C_1_fed", WEB_CLIENT, &[("state", "app-s")]);
    let page = browser.get(&start).await.page();
    let at_provider = click_provider(&browser, &page, "fabrikamExchange")
        .await
        .page();
    // The provider's own Cancel button: it answers error=access_denied.
    let failed = browser
        .submit(&at_provider, &[("action", "cancel")])
        .await
        .page();
    assert_eq!(failed.status, 401);
    let alert = failed.alert().unwrap_or_default();
    assert!(
        alert.contains("AADB2C90273") && alert.contains("access_denied"),
        "{alert}"
    );
    let back = failed
        .href_of("continue")
        .unwrap_or_else(|| panic!("no way back: {}", failed.body));
    let callback = browser.get(&resolve(&failed, &back)).await.callback();
    assert_eq!(callback.get("error"), Some("access_denied"));
    assert_eq!(callback.get("state"), Some("app-s"));
    assert!(
        callback
            .get("error_description")
            .is_some_and(|d| d.starts_with("AADB2C90273")),
        "{callback:?}"
    );
}

/// The first redirect after clicking a provider: the provider's authorize URL.
async fn provider_authorize_url(browser: &Browser, page: &Html, exchange: &str) -> url::Url {
    let csrf = page.input_value("csrf").unwrap_or_default();
    let action = resolve(page, &page.form_action().unwrap_or_default());
    let r = browser
        .client
        .post(&action)
        .form(&[("csrf", csrf.as_str()), ("select", exchange)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no redirect to the provider ({})", r.status()))
        .to_owned();
    url::Url::parse(&location).unwrap_or_else(|e| panic!("{location}: {e}"))
}

fn param(url: &url::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn state_mismatch_and_unknown_state_are_refused() {
    let Pair {
        consumer,
        provider: _provider,
    } = pair().await;
    let browser = Browser::new(&consumer);
    let start = authorize_url(&consumer, "B2C_1_fed", WEB_CLIENT, &[]);
    let page = browser.get(&start).await.page();
    let to_provider = provider_authorize_url(&browser, &page, "fabrikamExchange").await;
    assert_eq!(
        param(&to_provider, "redirect_uri"),
        authresp(&consumer.base)
    );
    assert_eq!(param(&to_provider, "code_challenge_method"), "S256");
    assert_eq!(param(&to_provider, "response_type"), "code");
    assert!(!param(&to_provider, "nonce").is_empty());
    let state = param(&to_provider, "state");
    let (journey, _) = state
        .split_once('.')
        .unwrap_or_else(|| panic!("state {state}"));

    // Not ours at all: a page, nothing to go back to.
    let stray = browser
        .get(&format!(
            "{}?state=nobody.x&code=abc",
            authresp(&consumer.base)
        ))
        .await
        .page();
    assert_eq!(stray.status, 400);
    assert!(stray.href_of("continue").is_none());

    // The journey's id with another secret (the tenant-id form of the URI works too).
    let forged = browser
        .get(&format!(
            "{}/{TENANT_ID}/oauth2/authresp?state={journey}.forged&code=abc",
            consumer.base
        ))
        .await
        .page();
    assert_eq!(forged.status, 400);
    assert!(
        forged
            .alert()
            .unwrap_or_default()
            .contains("state mismatch"),
        "{}",
        forged.body
    );
    let back = forged
        .href_of("continue")
        .unwrap_or_else(|| panic!("no way back"));
    let callback = browser.get(&resolve(&forged, &back)).await.callback();
    assert_eq!(callback.get("error"), Some("access_denied"));

    // The real answer after that finds nothing waiting.
    let late = browser
        .get(&format!(
            "{}?state={state}&code=abc",
            authresp(&consumer.base)
        ))
        .await
        .page();
    assert_eq!(late.status, 400);
}

// ---- a fake provider for what a correct one never does ---------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Good,
    /// The ID token is signed by a key the JWKS does not hold.
    ForeignKey,
    /// The ID token carries another nonce.
    WrongNonce,
    /// The token endpoint refuses the code.
    RefuseCode,
}

struct FakeState {
    base: String,
    mode: Mode,
    published: (jsonwebtoken::EncodingKey, Value),
    foreign: jsonwebtoken::EncodingKey,
    nonce: Mutex<String>,
    token_requests: Mutex<Vec<Vec<(String, String)>>>,
}

fn ec_key(kid: &str) -> (jsonwebtoken::EncodingKey, Value) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .unwrap_or_else(|e| panic!("{e}"));
    let encoding = jsonwebtoken::EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let raw = pair.public_key_raw();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&raw[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&raw[33..65]),
    });
    (encoding, jwk)
}

pub const FAKE_SUB: &str = "fake-subject-0001";

async fn fake_provider(mode: Mode) -> (String, Arc<FakeState>, tokio::task::JoinHandle<()>) {
    let (listener, base) = bind();
    let state = Arc::new(FakeState {
        base: base.clone(),
        mode,
        published: ec_key("published-key"),
        foreign: ec_key("foreign-key").0,
        nonce: Mutex::new(String::new()),
        token_requests: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|State(s): State<Arc<FakeState>>| async move {
                Json(json!({
                    "issuer": s.base,
                    "authorization_endpoint": format!("{}/authorize", s.base),
                    "token_endpoint": format!("{}/token", s.base),
                    "jwks_uri": format!("{}/keys", s.base),
                    "id_token_signing_alg_values_supported": ["ES256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post"],
                }))
            }),
        )
        .route(
            "/keys",
            get(|State(s): State<Arc<FakeState>>| async move {
                Json(json!({ "keys": [s.published.1] }))
            }),
        )
        .route(
            "/authorize",
            get(
                |State(s): State<Arc<FakeState>>,
                 Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
                    if let Ok(mut n) = s.nonce.lock() {
                        *n = get("nonce");
                    }
                    let mut to =
                        url::Url::parse(&get("redirect_uri")).unwrap_or_else(|e| panic!("{e}"));
                    to.query_pairs_mut()
                        .append_pair("code", "fake-code-123")
                        .append_pair("state", &get("state"));
                    Redirect::to(to.as_str())
                },
            ),
        )
        .route(
            "/token",
            post(|State(s): State<Arc<FakeState>>, body: String| async move {
                let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
                if let Ok(mut r) = s.token_requests.lock() {
                    r.push(form);
                }
                if s.mode == Mode::RefuseCode {
                    return (
                        axum::http::StatusCode::BAD_REQUEST,
                        Json(json!({ "error": "invalid_grant" })),
                    )
                        .into_response();
                }
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                let nonce = match s.mode {
                    Mode::WrongNonce => "another-nonce".to_owned(),
                    _ => s.nonce.lock().map(|n| n.clone()).unwrap_or_default(),
                };
                let claims = json!({
                    "iss": s.base, "aud": "fake-client", "sub": FAKE_SUB,
                    "iat": now, "nbf": now, "exp": now + 600, "nonce": nonce,
                    "name": "Fay Fake", "given_name": "Fay", "family_name": "Fake",
                    "email": "fay@fake.example",
                });
                let (kid, key) = match s.mode {
                    Mode::ForeignKey => ("foreign-key", &s.foreign),
                    _ => ("published-key", &s.published.0),
                };
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
                header.kid = Some(kid.into());
                let token =
                    jsonwebtoken::encode(&header, &claims, key).unwrap_or_else(|e| panic!("{e}"));
                Json(json!({ "id_token": token, "token_type": "Bearer" })).into_response()
            }),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::from_std({
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("{e}"));
        listener
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, state, task)
}

/// Contoso with the fake provider (response_mode=query) in flow `B2C_1_fed`.
fn fake_extra(metadata: &str, more: &str) -> String {
    format!(
        r#"
[[identity_providers]]
id = "fake"
type = "openid_connect"
display_name = "Fake IdP"
metadata_url = "{metadata}"
client_id = "fake-client"
client_secret = "{FAKE_SECRET}"
response_mode = "query"
[[user_flows]]
id = "B2C_1_fed"
type = "sign_up_or_sign_in"
identity_providers = ["local", "fake"]
sign_up_attributes = ["givenName", "surname", "extension_loyaltyNumber"]
{more}
"#
    )
}

async fn with_fake(
    mode: Mode,
    more: &str,
) -> (TestApp, Arc<FakeState>, tokio::task::JoinHandle<()>) {
    let (base, fake, task) = fake_provider(mode).await;
    let app = spawn_app(&fake_extra(
        &format!("{base}/.well-known/openid-configuration"),
        more,
    ))
    .await;
    (app, fake, task)
}

/// Starts the flow and clicks the fake provider: where the journey lands.
async fn via_fake(app: &TestApp, browser: &Browser) -> Step {
    let start = authorize_url(app, "B2C_1_fed", WEB_CLIENT, &[("state", "s-fake")]);
    let page = browser.get(&start).await.page();
    click_provider(browser, &page, "fakeExchange").await
}

async fn failure_back_to_app(browser: &Browser, page: &Html) -> Callback {
    let back = page
        .href_of("continue")
        .unwrap_or_else(|| panic!("no way back: {}", page.body));
    browser.get(&resolve(page, &back)).await.callback()
}

async fn no_federated_user(app: &TestApp, issuer: &str) {
    let found = app.state.tenants[0]
        .store
        .user_by_identity("federated", issuer, FAKE_SUB)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(found.is_none(), "a user was created");
}

#[tokio::test]
async fn token_signed_by_an_unknown_key_is_refused() {
    let (app, fake, _t) = with_fake(Mode::ForeignKey, "").await;
    let browser = Browser::new(&app);
    let page = via_fake(&app, &browser).await.page();
    assert_eq!(page.status, 502);
    assert!(
        page.alert()
            .unwrap_or_default()
            .contains("signed by a key the provider does not publish"),
        "{}",
        page.body
    );
    let callback = failure_back_to_app(&browser, &page).await;
    assert_eq!(callback.get("error"), Some("server_error"));
    assert_eq!(callback.get("state"), Some("s-fake"));
    no_federated_user(&app, &fake.base).await;
    let audit = app.state.tenants[0]
        .store
        .audit_after(0, 1000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        audit
            .iter()
            .any(|(_, r)| r.kind == "sign_in_failed" && r.outcome == "federation_failed"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn token_with_another_nonce_is_refused() {
    let (app, fake, _t) = with_fake(Mode::WrongNonce, "").await;
    let browser = Browser::new(&app);
    let page = via_fake(&app, &browser).await.page();
    assert!(
        page.alert().unwrap_or_default().contains("nonce"),
        "{}",
        page.body
    );
    let callback = failure_back_to_app(&browser, &page).await;
    assert_eq!(callback.get("error"), Some("server_error"));
    no_federated_user(&app, &fake.base).await;
}

#[tokio::test]
async fn refused_code_and_unreachable_provider_end_on_a_page() {
    let (app, fake, _t) = with_fake(Mode::RefuseCode, "").await;
    let browser = Browser::new(&app);
    let page = via_fake(&app, &browser).await.page();
    let alert = page.alert().unwrap_or_default();
    assert!(
        alert.starts_with("AADB2C90289") && alert.contains("invalid_grant"),
        "{alert}"
    );
    // client_secret_post, PKCE verifier and the redirect URI went to the token endpoint.
    let sent = fake
        .token_requests
        .lock()
        .map(|r| r.last().cloned().unwrap_or_default())
        .unwrap_or_default();
    let has = |k: &str| sent.iter().any(|(n, _)| n == k);
    assert!(
        has("code_verifier") && has("client_secret") && has("redirect_uri"),
        "{sent:?}"
    );
    assert!(
        sent.iter()
            .any(|(k, v)| k == "grant_type" && v == "authorization_code")
    );
    no_federated_user(&app, &fake.base).await;

    // Provider down: its metadata URL answers nothing.
    let (closed, closed_base) = bind();
    drop(closed);
    let app = spawn_app(&fake_extra(
        &format!("{closed_base}/.well-known/openid-configuration"),
        "",
    ))
    .await;
    let browser = Browser::new(&app);
    let page = via_fake(&app, &browser).await.page();
    assert_eq!(page.status, 502);
    let alert = page.alert().unwrap_or_default();
    assert!(alert.starts_with("AADB2C90289"), "{alert}");
    let callback = failure_back_to_app(&browser, &page).await;
    assert_eq!(callback.get("error"), Some("server_error"));
    assert!(
        callback
            .get("error_description")
            .is_some_and(|d| d.starts_with("AADB2C90289"))
    );
}

// ---- PostFederationSignup -------------------------------------------------------------------

struct Api {
    base: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    _task: tokio::task::JoinHandle<()>,
}

async fn api(answer: Value) -> Api {
    let (listener, base) = bind();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let app = axum::Router::new().route(
        "/pfs",
        post(move |Json(body): Json<Value>| {
            let seen = seen.clone();
            let answer = answer.clone();
            async move {
                if let Ok(mut b) = seen.lock() {
                    b.push(body);
                }
                Json(answer)
            }
        }),
    );
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::from_std(listener).unwrap_or_else(|e| panic!("{e}"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Api {
        base,
        bodies,
        _task: task,
    }
}

fn pfs_config(api: &Api) -> String {
    format!(
        r#"api_connectors = {{ post_federation_signup = "pfs" }}
[[api_connectors]]
name = "pfs"
url = "{}/pfs"
allow_insecure = true
"#,
        api.base
    )
}

#[tokio::test]
async fn post_federation_signup_continue_prefills_and_overwrites() {
    let api = api(json!({
        "version": "1.0.0", "action": "Continue",
        "givenName": "Fayola",
        "extension_0123456789abcdef0123456789abcdef_loyaltyNumber": "L-42",
    }))
    .await;
    let (app, fake, _t) = with_fake(Mode::Good, &pfs_config(&api)).await;
    let browser = Browser::new(&app);
    let page = via_fake(&app, &browser).await.page();
    assert_eq!(page.input_value("givenName").as_deref(), Some("Fayola"));
    assert_eq!(page.input_value("surname").as_deref(), Some("Fake"));
    assert_eq!(
        page.input_value("extension_loyaltyNumber").as_deref(),
        Some("L-42")
    );
    assert_eq!(
        page.input_value("email").as_deref(),
        Some("fay@fake.example")
    );

    let body = api
        .bodies
        .lock()
        .map(|b| b.first().cloned().unwrap_or_default())
        .unwrap_or_default();
    assert_eq!(body["step"], "PostFederationSignup");
    assert_eq!(body["email"], "fay@fake.example");
    assert_eq!(body["displayName"], "Fay Fake");
    assert_eq!(body["givenName"], "Fay");
    assert_eq!(body["surname"], "Fake");
    assert_eq!(body["client_id"], WEB_CLIENT);
    assert!(body["ui_locales"].is_string(), "{body}");
    assert!(body.get("objectId").is_none(), "no user yet: {body}");
    assert_eq!(
        body["identities"],
        json!([{ "signInType": "federated", "issuer": fake.base, "issuerAssignedId": FAKE_SUB }])
    );

    let callback = browser
        .submit(
            &page,
            &[
                ("email", "fay@fake.example"),
                ("givenName", "Fayola"),
                ("surname", "Fake"),
                ("extension_loyaltyNumber", "L-42"),
                ("action", "continue"),
            ],
        )
        .await
        .callback();
    let (_, tokens) = redeem_fed(&app, callback.get("code").unwrap_or_default(), None).await;
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["given_name"], "Fayola", "{callback:?} {tokens}");
    assert_eq!(id["idp"], fake.base);
    assert_eq!(id["newUser"], true);
}

#[tokio::test]
async fn post_federation_signup_show_block_page_creates_nothing() {
    let api = api(json!({
        "version": "1.0.0", "action": "ShowBlockPage",
        "userMessage": "Fake accounts are not <welcome> here.",
    }))
    .await;
    let (app, fake, _t) = with_fake(Mode::Good, &pfs_config(&api)).await;
    let browser = Browser::new(&app);
    let page = via_fake(&app, &browser).await.page();
    assert_eq!(page.status, 403);
    assert!(
        page.body.contains("not &lt;welcome&gt; here"),
        "escaped: {}",
        page.body
    );
    no_federated_user(&app, &fake.base).await;
    let callback = failure_back_to_app(&browser, &page).await;
    assert_eq!(callback.get("error"), Some("access_denied"));
}

// ---- secrets ------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn client_secrets_and_codes_never_reach_the_logs() {
    let captured = Captured::default();
    let subscriber = |writer: Captured| {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    };
    // The process-wide subscriber when it is free: every test's server then logs here too, and
    // no callsite's cached interest can hide this test's events. Else this thread's.
    let _guard = match tracing::subscriber::set_global_default(subscriber(captured.clone())) {
        Ok(()) => None,
        Err(_) => Some(tracing::subscriber::set_default(subscriber(
            captured.clone(),
        ))),
    };

    // A good federation, then one whose code is refused (its error path logs too).
    let (app, _fake, _t) = with_fake(Mode::Good, "").await;
    let browser = Browser::new(&app);
    let page = via_fake(&app, &browser).await.page();
    assert!(page.has_input("givenName"), "{}", page.body);
    let (app2, _fake2, _t2) = with_fake(Mode::RefuseCode, "").await;
    let browser2 = Browser::new(&app2);
    let _ = via_fake(&app2, &browser2).await.page();

    let logs = String::from_utf8_lossy(&captured.0.lock().map(|b| b.clone()).unwrap_or_default())
        .into_owned();
    assert!(logs.contains("federating"), "the capture works: {logs}");
    assert!(logs.contains("federation failed"), "{logs}");
    for secret in [FAKE_SECRET, "fake-code-123"] {
        assert!(!logs.contains(secret), "'{secret}' is in the logs");
    }
}
