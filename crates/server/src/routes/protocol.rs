//! Metadata, keys, the token endpoint and logout.

use std::sync::Arc;

use axum::Json;
use axum::extract::{OriginalUri, Path, RawForm, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::{State, json_error, policy_param};
use crate::{AppState, Tenant, cookies};

pub fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    })
    .unwrap_or_default()
}

/// The tenant and policy of a request, or the error for the caller.
fn resolve<'a>(
    state: &'a AppState,
    tenant: &str,
    policy: Option<&str>,
) -> Result<(&'a Arc<Tenant>, String), Response> {
    let Some(t) = state.tenant(tenant) else {
        return Err(json_error(
            StatusCode::NOT_FOUND,
            "invalid_tenant",
            &format!(
                "AADB2C90022: Unable to return metadata: the tenant '{tenant}' does not exist."
            ),
        ));
    };
    let Some(policy) = policy else {
        return Err(json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADB2C90022: Unable to return metadata: the request names no policy (use the path form or the 'p' parameter).",
        ));
    };
    match t.policy(policy) {
        Some(p) => Ok((t, p.id.to_string())),
        None => Err(json_error(
            StatusCode::NOT_FOUND,
            "invalid_request",
            &format!(
                "AADB2C90008: The policy '{policy}' does not exist in tenant '{}'.",
                t.domain
            ),
        )),
    }
}

fn cacheable<T: serde::Serialize>(body: &T) -> Response {
    let mut r = Json(body).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    r
}

async fn discovery_for(state: &AppState, tenant: &str, policy: Option<&str>) -> Response {
    match resolve(state, tenant, policy) {
        Ok((t, policy_id)) => {
            let claims = t
                .policy(&policy_id)
                .map(|p| p.token_claim_names())
                .unwrap_or_default();
            cacheable(&t.oidc.discovery(tenant, &policy_id, &claims))
        }
        Err(r) => r,
    }
}

pub async fn discovery(state: State, Path((tenant, policy)): Path<(String, String)>) -> Response {
    discovery_for(&state, &tenant, Some(&policy)).await
}

pub async fn discovery_p(
    state: State,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let p = policy_param(&pairs(q.as_deref()));
    discovery_for(&state, &tenant, p.as_deref()).await
}

fn keys_for(state: &AppState, tenant: &str, policy: Option<&str>) -> Response {
    match resolve(state, tenant, policy) {
        // The tenant's keys, and the policy's own when it has one.
        Ok((t, policy_id)) => cacheable(&t.oidc.jwks_for(&policy_id)),
        Err(r) => r,
    }
}

pub async fn keys(state: State, Path((tenant, policy)): Path<(String, String)>) -> Response {
    keys_for(&state, &tenant, Some(&policy))
}

pub async fn keys_p(state: State, Path(tenant): Path<String>, RawQuery(q): RawQuery) -> Response {
    let p = policy_param(&pairs(q.as_deref()));
    keys_for(&state, &tenant, p.as_deref())
}

async fn token_for(
    state: &AppState,
    tenant: &str,
    policy: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let (t, policy_id) = match resolve(state, tenant, policy) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(trustframe_oidc::parse_basic_auth);
    let basic_ref = basic
        .as_ref()
        .map(|(id, secret)| (id.as_str(), secret.as_str()));
    let journey = t
        .policy(&policy_id)
        .map(|policy| crate::refresh::TokenJourney { tenant: t, policy });
    let journey_ref = journey
        .as_ref()
        .map(|j| j as &dyn trustframe_oidc::RefreshJourney);
    let mut response = match t
        .oidc
        .token_with(&policy_id, &params, basic_ref, journey_ref)
        .await
    {
        Ok(tokens) => {
            state.metrics.token(&t.name, "ok");
            Json(tokens).into_response()
        }
        Err(e) => {
            state.metrics.token(&t.name, e.error().as_str());
            if e.status() >= 500 {
                tracing::error!(tenant = %t.name, error = %e, "token endpoint failed");
            } else {
                tracing::info!(tenant = %t.name, error = %e.error(), "token request refused");
            }
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let mut r = (status, Json(e.body())).into_response();
            if status == StatusCode::UNAUTHORIZED {
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            }
            if let Some(seconds) = e.retry_after() {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            }
            r
        }
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub async fn token(
    state: State,
    Path((tenant, policy)): Path<(String, String)>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    token_for(&state, &tenant, Some(&policy), &headers, &body).await
}

pub async fn token_p(
    state: State,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let p = policy_param(&pairs(q.as_deref()));
    token_for(&state, &tenant, p.as_deref(), &headers, &body).await
}

/// The answer of a sign-out confirmation form.
struct Confirmation {
    csrf: Option<String>,
    cancel: bool,
}

/// The CSRF token of the sign-out confirmation: derived from the SSO session cookie, which
/// another site can neither read nor set, so any node can check it and nothing is stored. The
/// prefix keeps it apart from any other hash of the session id.
fn logout_csrf(session: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(format!(
        "trustframe logout\n{session}"
    )))
}

async fn logout_for(
    state: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    confirmation: Option<Confirmation>,
) -> Response {
    let Some(t) = state.tenant(tenant) else {
        return state.pages.error(
            StatusCode::NOT_FOUND,
            &format!("The tenant '{tenant}' does not exist."),
        );
    };
    let params = pairs(uri.query());
    let outcome = match t.oidc.logout(&params) {
        Ok(o) => o,
        Err(e) => return state.pages.error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let cookie = t.sso_cookie();
    let session = cookies::get(headers, &cookie).filter(|s| !s.is_empty());
    // Without a valid id_token_hint the user confirms first (RP-Initiated Logout 1.0 §2), so
    // a link or image on another site cannot end the session; so does a hint of another user
    // than the session's ("does not belong to the current OP session"). With no session there
    // is nothing to end and nothing to ask.
    let mut confirm = outcome.confirm;
    if let (Some(id), Some(hinted)) = (&session, &outcome.hinted_subject) {
        let key = crate::journeys::session_key(id);
        match t.store.session(&key, crate::tenant::now()).await {
            Ok(Some(current)) => confirm |= !current.object_id.eq_ignore_ascii_case(hinted),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "could not read an SSO session");
                return state.pages.error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The sign-out could not be completed. Please try again.",
                );
            }
        }
    }
    if let Some(session) = &session
        && confirm
    {
        let expected = logout_csrf(session);
        let Some(confirmation) = confirmation else {
            // Relative, so it holds behind a proxy that maps the path: the same URL, posted.
            let action = match uri.query() {
                Some(q) => format!("logout?{q}"),
                None => "logout".to_owned(),
            };
            return state.pages.render(
                StatusCode::OK,
                "logout.html",
                minijinja::context! {
                    title => format!("Sign out of {}?", t.name),
                    tenant => &t.domain,
                    action,
                    csrf => expected,
                },
            );
        };
        let sent = confirmation.csrf.unwrap_or_default();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            sent.as_bytes(),
            expected.as_bytes(),
        )) {
            return state.pages.error(
                StatusCode::BAD_REQUEST,
                "This sign-out request could not be verified. Please sign out again from the application.",
            );
        }
        if confirmation.cancel {
            return state.pages.message(
                StatusCode::OK,
                "Still signed in",
                "You are still signed in.",
                Some(&t.domain),
                None,
            );
        }
    }
    if let Some(id) = &session
        && let Err(e) = t
            .store
            .delete_session(&crate::journeys::session_key(id))
            .await
    {
        tracing::error!(error = %e, "could not end an SSO session");
        return state.pages.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The sign-out could not be completed. Please try again.",
        );
    }
    let clear = cookies::set(&cookie, "", "/", 0, state.secure_cookies);
    let mut response = match outcome.redirect_url {
        Some(url) => Redirect::to(&url).into_response(),
        None => state.pages.message(
            StatusCode::OK,
            "Signed out",
            "You have signed out.",
            Some(&t.domain),
            None,
        ),
    };
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// The fields of the confirmation form.
fn confirmation(body: &[u8]) -> Confirmation {
    let mut answer = Confirmation {
        csrf: None,
        cancel: false,
    };
    for (name, value) in url::form_urlencoded::parse(body) {
        match &*name {
            "csrf" => answer.csrf = Some(value.into_owned()),
            "action" => answer.cancel = value == "cancel",
            _ => {}
        }
    }
    answer
}

pub async fn logout(
    state: State,
    Path((tenant, _policy)): Path<(String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    logout_for(&state, &tenant, &headers, &uri, None).await
}

pub async fn logout_p(
    state: State,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    logout_for(&state, &tenant, &headers, &uri, None).await
}

/// The user's answer to the sign-out confirmation (same URL, same query, as a POST).
pub async fn logout_confirm(
    state: State,
    Path((tenant, _policy)): Path<(String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    RawForm(body): RawForm,
) -> Response {
    let answer = confirmation(&body);
    logout_for(&state, &tenant, &headers, &uri, Some(answer)).await
}

pub async fn logout_confirm_p(
    state: State,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    RawForm(body): RawForm,
) -> Response {
    let answer = confirmation(&body);
    logout_for(&state, &tenant, &headers, &uri, Some(answer)).await
}
