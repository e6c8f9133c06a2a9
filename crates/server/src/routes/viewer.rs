//! The built-in token viewer (like jwt.ms): decodes the tokens it receives (fragment or
//! form_post) and checks their signatures against the issuing tenant's published keys. It can
//! also run a user flow as a public client with PKCE (`/token-viewer/run`): it receives the
//! `code`, redeems it at the policy's token endpoint and shows the ID, access and refresh
//! tokens, so the demo shows what an API receives.

use axum::extract::{RawForm, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::State;
use super::protocol::pairs;
use crate::{AppState, cookies};

/// The PKCE run in progress: `state.verifier.tenant.policy`, for this page only.
const RUN_COOKIE: &str = "tf_viewer_run";

fn page(state: &AppState, context: minijinja::Value) -> Response {
    state.pages.render(
        StatusCode::OK,
        "token_viewer.html",
        minijinja::context! { title => "Token viewer", wide => true, home => "/", ..context },
    )
}

pub async fn show(state: State) -> Response {
    page(&state, minijinja::context! {})
}

/// One claim as shown: its value, a date for times, and what it means.
#[derive(Serialize)]
struct ClaimRow {
    name: String,
    value: String,
    date: Option<String>,
    about: Option<&'static str>,
}

/// A decoded token as shown.
#[derive(Serialize)]
struct Shown {
    /// "ID token", "Access token".
    kind: &'static str,
    id: &'static str,
    token: String,
    header: String,
    claims: Vec<ClaimRow>,
    verified: bool,
    kid: Option<String>,
    issuer: Option<String>,
    verify_error: Option<String>,
}

/// What the claims of B2C's tokens mean (`tokens-overview.md`).
const ABOUT: &[(&str, &str)] = &[
    ("iss", "Issuer: the tenant and policy's token issuer."),
    (
        "sub",
        "Subject: the user (the object id unless the policy names another claim).",
    ),
    (
        "aud",
        "Audience: the application (client id) or API the token is for.",
    ),
    ("exp", "Expiration time."),
    ("nbf", "Not valid before."),
    ("iat", "Issued at."),
    ("auth_time", "When the user last entered credentials."),
    (
        "nonce",
        "The nonce of the authorization request, against replay.",
    ),
    ("ver", "Token format version."),
    (
        "tfp",
        "Trust framework policy: the user flow or custom policy that issued it.",
    ),
    (
        "acr",
        "The policy that issued it (when configured instead of tfp).",
    ),
    (
        "oid",
        "Object id: the user's immutable id in the directory.",
    ),
    ("emails", "The user's e-mail addresses."),
    ("email", "The user's e-mail address."),
    ("name", "Display name."),
    ("given_name", "Given name."),
    ("family_name", "Surname."),
    ("idp", "The identity provider that authenticated the user."),
    (
        "newUser",
        "True when the account was created in this sign-in.",
    ),
    ("scp", "Scopes granted to the application for this API."),
    (
        "azp",
        "Authorized party: the application that asked for the token.",
    ),
    (
        "c_hash",
        "Code hash: binds the ID token to the authorization code.",
    ),
    (
        "at_hash",
        "Access token hash: binds the ID token to the access token.",
    ),
    ("tid", "The tenant's id."),
];

const TIMES: &[&str] = &["exp", "nbf", "iat", "auth_time"];

fn decode_part(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Checks the signature with the key of the tenant whose issuer signed it.
fn verify(
    state: &AppState,
    token: &str,
    header: &Value,
    claims: &Value,
) -> Result<(String, String), String> {
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or("the token has no issuer (iss)")?;
    let tenant = state
        .tenants
        .iter()
        .find(|t| t.oidc.issuer() == issuer)
        .ok_or_else(|| format!("the issuer '{issuer}' is not a tenant of this server"))?;
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or("the token's header has no key id (kid)")?;
    let jwks = tenant.oidc.jwks();
    let key = jwks
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| format!("no published key has kid '{kid}'"))?;
    let decoding = DecodingKey::from_rsa_components(&key.n, &key.e).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_issuer(&[issuer]);
    jsonwebtoken::decode::<Value>(token, &decoding, &validation).map_err(|e| e.to_string())?;
    Ok((kid.to_owned(), issuer.to_owned()))
}

fn date(value: &Value) -> Option<String> {
    let seconds = value.as_i64()?;
    let at = time::OffsetDateTime::from_unix_timestamp(seconds).ok()?;
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    at.format(&format).ok()
}

fn decode(
    state: &AppState,
    kind: &'static str,
    id: &'static str,
    token: &str,
) -> Result<Shown, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, c, _] = parts.as_slice() else {
        return Err("The token is not a JWT (it must have three parts).".into());
    };
    let (Some(header), Some(claims)) = (decode_part(h), decode_part(c)) else {
        return Err("The token is not a JWT (its header or claims are not base64url JSON).".into());
    };
    let verified = verify(state, token, &header, &claims);
    let rows = match &claims {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| ClaimRow {
                name: k.clone(),
                value: match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                date: TIMES.contains(&k.as_str()).then(|| date(v)).flatten(),
                about: ABOUT
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, a)| *a)
                    .or_else(|| {
                        k.starts_with("extension_")
                            .then_some("A custom attribute of the tenant.")
                    }),
            })
            .collect(),
        _ => Vec::new(),
    };
    let (kid, issuer, verify_error) = match verified {
        Ok((kid, issuer)) => (Some(kid), Some(issuer), None),
        Err(e) => (None, None, Some(e)),
    };
    Ok(Shown {
        kind,
        id,
        token: token.to_owned(),
        header: serde_json::to_string_pretty(&header).unwrap_or_default(),
        claims: rows,
        verified: verify_error.is_none(),
        kid,
        issuer,
        verify_error,
    })
}

pub async fn receive(state: State, headers: HeaderMap, RawForm(body): RawForm) -> Response {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or_default();
        return page(
            &state,
            minijinja::context! { error, error_description => description },
        );
    }
    let mut refresh_token = None;
    let (id_token, access_token) = match get("code") {
        Some(code) => match redeem(&state, &headers, &code, get("state").as_deref()).await {
            Ok(tokens) => {
                refresh_token = tokens.refresh_token;
                (tokens.id_token, tokens.access_token)
            }
            Err(message) => {
                return cleared(page(
                    &state,
                    minijinja::context! { error => "The code could not be redeemed", error_description => message },
                ));
            }
        },
        None => (get("id_token"), get("access_token")),
    };
    let mut shown = Vec::new();
    for (kind, id, token) in [
        ("ID token", "id_token", id_token),
        ("Access token", "access_token", access_token),
    ] {
        let Some(token) = token else { continue };
        match decode(&state, kind, id, &token) {
            Ok(s) => shown.push(s),
            Err(message) => return state.pages.error(StatusCode::BAD_REQUEST, &message),
        }
    }
    let api_call = shown
        .iter()
        .any(|s| s.id == "access_token")
        .then(|| format!("{}/todo-api/api/values", state.public_url));
    let response = page(
        &state,
        minijinja::context! { tokens => shown, refresh_token, api_call },
    );
    if get("code").is_some() {
        cleared(response)
    } else {
        response
    }
}

/// Ends the PKCE run: its cookie is used once.
fn cleared(mut response: Response) -> Response {
    let gone = format!("{RUN_COOKIE}=; Path=/token-viewer; Max-Age=0; HttpOnly; SameSite=Lax");
    if let Ok(v) = HeaderValue::from_str(&gone) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// The tokens of a code this page asked for.
async fn redeem(
    state: &AppState,
    headers: &HeaderMap,
    code: &str,
    sent_state: Option<&str>,
) -> Result<trustframe_oidc::TokenResponse, String> {
    let run = cookies::get(headers, RUN_COOKIE)
        .ok_or("this browser did not start a run from the token viewer (or it already ended)")?;
    let mut parts = run.splitn(4, '.');
    let (Some(expected), Some(verifier), Some(tenant), Some(policy)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the run's cookie is damaged: start again".into());
    };
    let same = sent_state.is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())));
    if !same {
        return Err("the response's state is not the one this run sent".into());
    }
    let tenant = state.tenant(tenant).ok_or("the run's tenant is gone")?;
    let client_id = tenant
        .oidc_app_for(&state.token_viewer_url())
        .ok_or("no application has the token viewer as its redirect URI")?;
    let params: Vec<(String, String)> = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id.as_str()),
        ("code", code),
        ("redirect_uri", &state.token_viewer_url()),
        ("code_verifier", verifier),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let journey = tenant
        .policy(policy)
        .map(|p| crate::refresh::TokenJourney { tenant, policy: p });
    let journey_ref = journey
        .as_ref()
        .map(|j| j as &dyn trustframe_oidc::RefreshJourney);
    tenant
        .oidc
        .token_with(policy, &params, None, journey_ref)
        .await
        .map_err(|e| format!("{}: {e}", e.error().as_str()))
}

/// `/token-viewer/run?tenant=…&policy=…`: runs a user flow as the demo's public client with
/// PKCE, asking for the app's API permissions and a refresh token.
pub async fn run(state: State, RawQuery(q): RawQuery) -> Response {
    let query = pairs(q.as_deref());
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (Some(tenant_name), Some(policy)) = (get("tenant"), get("policy")) else {
        return state.pages.error(
            StatusCode::BAD_REQUEST,
            "Name the tenant and the policy: /token-viewer/run?tenant=contoso&policy=B2C_1_susi.",
        );
    };
    let Some(tenant) = state.tenant(&tenant_name) else {
        return state.pages.error(
            StatusCode::NOT_FOUND,
            &format!("The tenant '{tenant_name}' does not exist."),
        );
    };
    let viewer = state.token_viewer_url();
    let Some(client_id) = tenant.oidc_app_for(&viewer) else {
        return state.pages.error(
            StatusCode::BAD_REQUEST,
            "No application of this tenant has the token viewer as its redirect URI.",
        );
    };
    let scopes: Vec<String> = tenant
        .oidc
        .application(&client_id)
        .map(|a| a.api_permissions.clone())
        .unwrap_or_default();
    // RFC 7636 §4.1: 43 to 128 characters.
    let verifier = format!(
        "{}{}",
        crate::journeys::random_token(),
        crate::journeys::random_token()
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let run_state = crate::journeys::random_token();
    let mut scope = "openid offline_access".to_owned();
    for s in &scopes {
        scope.push(' ');
        scope.push_str(s);
    }
    let authorize = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &viewer)
        .append_pair("response_type", "code")
        .append_pair("response_mode", "form_post")
        .append_pair("scope", &scope)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", &run_state)
        .append_pair("nonce", &crate::journeys::random_token())
        .append_pair("prompt", "login")
        .finish();
    let mut response = Redirect::to(&format!(
        "/{}/{policy}/oauth2/v2.0/authorize?{authorize}",
        tenant.name
    ))
    .into_response();
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{RUN_COOKIE}={run_state}.{verifier}.{}.{policy}; Path=/token-viewer; Max-Age=3600; HttpOnly; SameSite=Lax{secure}",
        tenant.name
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
