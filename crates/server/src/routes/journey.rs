//! `/authorize` and the pages of a journey.
//!
//! A journey's state lives in the store under a random id, so any node can continue it. The
//! id is in the page's URL; a cookie scoped to that URL binds the journey to the browser that
//! started it, and every form carries a CSRF token checked against the stored one.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, RawForm, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use trustframe_engine::{Engine, EngineError, Env, Failure, Input, JourneyState, Outcome, Page};
use trustframe_oidc::{
    AuthorizationResponse, AuthorizeError, ErrorCode, JourneyError, Prompt, SignedIn,
    ValidatedAuthorize,
};
use trustframe_store::SsoSession;

use super::protocol::pairs;
use super::{State, policy_param};
use crate::tenant::now;
use crate::{AppState, Tenant, cookies};

/// A journey between two requests.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredJourney {
    pub(super) state: JourneyState,
    pub(super) request: ValidatedAuthorize,
    csrf: String,
    /// SHA-256 of the binding cookie's value.
    binding: String,
    page: Option<Page>,
    /// The SSO session the journey continues, with its sign-in time.
    session: Option<(String, i64)>,
    /// Set when the journey has ended on a page (a block): where "back to the app" goes.
    pub(super) finished: Option<AuthorizationResponse>,
    /// The identity provider the user was sent to, and its answer once it came back.
    #[serde(default)]
    pub(super) federation: Option<super::authresp::Federating>,
}

fn random_token() -> String {
    let bytes: [u8; 24] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(s.as_bytes()))
}

pub(super) fn journey_path(tenant: &Tenant, policy: &str, id: &str) -> String {
    format!("/{}/{}/journey/{id}", tenant.name, policy)
}

/// What a request failure looks like to the user.
fn engine_failure(state: &AppState, tenant: &Tenant, error: &EngineError) -> Response {
    match error {
        EngineError::UnexpectedInput(m) => {
            tracing::info!(tenant = %tenant.name, reason = %m, "journey input refused");
            state.pages.error(
                StatusCode::BAD_REQUEST,
                "This page does not expect that action. Please go back and try again.",
            )
        }
        EngineError::Policy(m) => {
            tracing::error!(tenant = %tenant.name, error = %m, "policy error");
            state.pages.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "AADB2C90037: An error occurred while processing the request. Please contact administrator of the site you are trying to access.",
            )
        }
        EngineError::Env(e) => {
            tracing::error!(tenant = %tenant.name, error = %e, "journey environment failed");
            state.pages.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "A service the sign-in depends on is unavailable. Please try again in a moment.",
            )
        }
    }
}

/// `UserJourneyBehaviors/SingleSignOn Scope="Suppressed"` (`relyingparty.md`): the policy
/// neither uses nor creates a single sign-on session.
fn sso_suppressed(policy: &trustframe_policy::Policy) -> bool {
    policy
        .relying_party
        .behaviors
        .sso_scope
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("Suppressed"))
}

/// How long a new SSO session lasts: the policy's `SessionExpiryInSeconds` (B2C accepts
/// 900–86400), else the tenant's `[sessions] sso_lifetime_minutes`.
fn sso_lifetime(tenant: &Tenant, policy: &trustframe_policy::Policy) -> i64 {
    match policy.relying_party.behaviors.session_expiry_seconds {
        Some(seconds) => i64::from(seconds.clamp(900, 86_400)),
        None => i64::from(tenant.sessions.sso_lifetime_minutes) * 60,
    }
}

/// Sends the authorization response: a redirect (query, fragment) or a self-posting form.
pub fn deliver(state: &AppState, response: &AuthorizationResponse) -> Response {
    match response.redirect_url() {
        Some(url) => Redirect::to(&url).into_response(),
        None => state.pages.render(
            StatusCode::OK,
            "form_post.html",
            minijinja::context! { action => &response.redirect_uri, params => &response.params },
        ),
    }
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

fn client_ip(headers: &HeaderMap, peer: SocketAddr) -> String {
    // Behind a reverse proxy the first X-Forwarded-For entry is the client.
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| peer.ip().to_string())
}

async fn authorize(
    state: Arc<AppState>,
    tenant_segment: String,
    policy: Option<String>,
    headers: HeaderMap,
    peer: SocketAddr,
    params: Vec<(String, String)>,
) -> Response {
    let Some(tenant) = state.tenant(&tenant_segment).cloned() else {
        return state.pages.error(
            StatusCode::NOT_FOUND,
            &format!("The tenant '{tenant_segment}' does not exist."),
        );
    };
    let Some(policy_name) = policy else {
        return state.pages.error(StatusCode::BAD_REQUEST, "The request names no policy: use /{tenant}/{policy}/oauth2/v2.0/authorize or the 'p' parameter.");
    };
    let Some(policy) = tenant.policy(&policy_name).cloned() else {
        return state.pages.error(
            StatusCode::NOT_FOUND,
            &format!(
                "The policy '{policy_name}' does not exist in tenant '{}'.",
                tenant.domain
            ),
        );
    };
    let request = match tenant.oidc.validate_authorize(&params) {
        Ok(r) => r,
        Err(AuthorizeError::Page { error, description }) => {
            tracing::info!(tenant = %tenant.name, %error, "authorize request refused");
            return state.pages.message(
                StatusCode::BAD_REQUEST,
                "Sorry, this application cannot sign you in",
                &description,
                Some(&tenant.domain),
                None,
            );
        }
        Err(AuthorizeError::Redirect(response)) => return deliver(&state, &response),
    };

    // Single sign-on: an unexpired session of this tenant signs the user in without a form,
    // unless the app asks for a fresh sign-in (prompt=login) or the session is older than max_age.
    let current = now();
    let mut session = None;
    if !request.has_prompt(Prompt::Login)
        && !sso_suppressed(&policy)
        && let Some(id) = cookies::get(&headers, &tenant.sso_cookie())
    {
        match tenant.store.session(&id, current).await {
            Ok(Some(s)) => {
                let fresh = request
                    .max_age
                    .is_none_or(|m| current - s.auth_time <= i64::try_from(m).unwrap_or(i64::MAX));
                if fresh {
                    session = Some(s);
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "could not read an SSO session");
                return state.pages.error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Sign-in is unavailable right now. Please try again in a moment.",
                );
            }
        }
    }
    if request.has_prompt(Prompt::None) && session.is_none() {
        return deliver(
            &state,
            &tenant
                .oidc
                .authorize_error(&request, &JourneyError::LoginRequired),
        );
    }

    let correlation_id = uuid::Uuid::new_v4().to_string();
    // The page's language: `ui_locales`, else the browser's first `Accept-Language`
    // (`{Culture:LCID}` follows it: `claim-resolver-overview.md`).
    let accept_language = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|tag| tag.split(';').next().unwrap_or(tag).trim())
        .filter(|tag| !tag.is_empty() && *tag != "*");
    let culture = request
        .ui_locales
        .as_deref()
        .and_then(|l| l.split_whitespace().next())
        .or(accept_language)
        .unwrap_or("en-US")
        .to_owned();
    let context = crate::refresh::resolver_context(
        &tenant,
        &policy,
        culture,
        client_ip(&headers, peer),
        correlation_id.clone(),
        params.iter().cloned().collect::<BTreeMap<_, _>>(),
    );
    let mut journey_state = JourneyState::new(policy.id.clone(), context);
    if let Some(s) = &session {
        journey_state = journey_state.with_session(&s.object_id);
    }
    let binding_secret = random_token();
    let stored = StoredJourney {
        state: journey_state,
        request,
        csrf: random_token(),
        binding: sha256(&binding_secret),
        page: None,
        session: session.map(|s| (s.id, s.auth_time)),
        finished: None,
        federation: None,
    };
    let id = random_token();
    tracing::info!(tenant = %tenant.name, policy = %policy.id, correlation_id, "journey started");
    let path = journey_path(&tenant, policy.id.as_str(), &id);
    let lifetime = i64::from(tenant.sessions.journey_lifetime_minutes) * 60;
    let cookie = cookies::set(
        "tf_journey",
        &binding_secret,
        &path,
        lifetime,
        state.secure_cookies,
    );
    let response = advance(&state, &tenant, &id, stored, Input::Start).await;
    with_cookie(response, &cookie)
}

pub async fn authorize_get(
    state: State,
    Path((tenant, policy)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    authorize(
        state.0,
        tenant,
        Some(policy),
        headers,
        peer,
        pairs(q.as_deref()),
    )
    .await
}

pub async fn authorize_post(
    state: State,
    Path((tenant, policy)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let params = url::form_urlencoded::parse(&body).into_owned().collect();
    authorize(state.0, tenant, Some(policy), headers, peer, params).await
}

pub async fn authorize_get_p(
    state: State,
    Path(tenant): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let params = pairs(q.as_deref());
    let policy = policy_param(&params);
    authorize(state.0, tenant, policy, headers, peer, params).await
}

pub async fn authorize_post_p(
    state: State,
    Path(tenant): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    RawForm(body): RawForm,
) -> Response {
    let mut params: Vec<(String, String)> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let query = pairs(q.as_deref());
    let policy = policy_param(&query).or_else(|| policy_param(&params));
    params.extend(query);
    authorize(state.0, tenant, policy, headers, peer, params).await
}

/// Runs the engine one step and answers with what it decided.
pub(super) async fn advance(
    state: &AppState,
    tenant: &Arc<Tenant>,
    id: &str,
    mut stored: StoredJourney,
    input: Input,
) -> Response {
    let Some(policy) = tenant.policy(stored.state.policy.as_str()).cloned() else {
        return state.pages.error(
            StatusCode::NOT_FOUND,
            "This sign-in's policy no longer exists. Please start again from the application.",
        );
    };
    let engine = Engine::new(
        &policy,
        Env {
            directory: &tenant.directory,
            rest: &tenant.rest,
            mailer: &tenant.mailer,
            clock: &trustframe_engine::SystemClock,
        },
    );
    let outcome = match engine.advance(&mut stored.state, input).await {
        Ok(o) => o,
        Err(e) => return engine_failure(state, tenant, &e),
    };
    let path = journey_path(tenant, policy.id.as_str(), id);
    match outcome {
        Outcome::Page(page) => {
            stored.page = Some(page);
            if let Err(r) = save(state, tenant, id, &stored).await {
                return r;
            }
            Redirect::to(&path).into_response()
        }
        Outcome::SendClaims(issued) => {
            let current = now();
            // The session continues unless the journey ended it (a password reset) or signed
            // in someone else.
            let kept = match &stored.session {
                Some((sid, auth_time)) if stored.state.sso => {
                    match tenant.store.session(sid, current).await {
                        Ok(Some(s)) if s.object_id == issued.object_id => {
                            Some((sid.clone(), *auth_time))
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            let (session_id, auth_time, new_session) = match kept {
                Some((sid, auth_time)) => (sid, auth_time, false),
                None => (random_token(), current, !sso_suppressed(&policy)),
            };
            let lifetime = sso_lifetime(tenant, &policy);
            if new_session {
                let session = SsoSession {
                    id: session_id.clone(),
                    object_id: issued.object_id.clone(),
                    auth_time,
                    created_at: current,
                    expires_at: current + lifetime,
                    data: serde_json::json!({ "policy": policy.id.to_string() }),
                };
                if let Err(e) = tenant.store.create_session(&session).await {
                    tracing::error!(error = %e, "could not create an SSO session");
                    return state.pages.error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Sign-in is unavailable right now. Please try again in a moment.",
                    );
                }
            }
            let response = tenant
                .oidc
                .issue(
                    policy.id.as_str(),
                    &stored.request,
                    SignedIn {
                        object_id: issued.object_id,
                        auth_time,
                        claims: issued.claims,
                    },
                )
                .await;
            forget(tenant, id).await;
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "could not issue tokens");
                    return state.pages.error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "The sign-in could not be completed. Please try again.",
                    );
                }
            };
            state.metrics.journey(&tenant.name, "tokens");
            tracing::info!(tenant = %tenant.name, policy = %policy.id, correlation_id = %stored.state.context.correlation_id, "journey issued tokens");
            let response = deliver(state, &response);
            if new_session {
                let cookie = cookies::set(
                    &tenant.sso_cookie(),
                    &session_id,
                    "/",
                    lifetime,
                    state.secure_cookies,
                );
                with_cookie(response, &cookie)
            } else {
                response
            }
        }
        Outcome::Fail(failure) => {
            forget(tenant, id).await;
            state.metrics.journey(&tenant.name, "error");
            let journey_error = match failure {
                Failure::UserCancelled => JourneyError::UserCancelled,
                Failure::ForgotPassword => JourneyError::ForgotPassword,
                Failure::Refused(description) => JourneyError::Other {
                    error: ErrorCode::AccessDenied,
                    description,
                },
                Failure::Unsupported(description) => JourneyError::Other {
                    error: ErrorCode::ServerError,
                    description,
                },
            };
            deliver(
                state,
                &tenant.oidc.authorize_error(&stored.request, &journey_error),
            )
        }
        Outcome::Block { message } => {
            state.metrics.journey(&tenant.name, "blocked");
            let back = tenant.oidc.authorize_error(
                &stored.request,
                &JourneyError::Other {
                    error: ErrorCode::AccessDenied,
                    description: format!("The sign-up was blocked by an API connector: {message}"),
                },
            );
            stored.finished = Some(back);
            stored.page = None;
            if let Err(r) = save(state, tenant, id, &stored).await {
                return r;
            }
            let continue_url = format!("{path}/return");
            state.pages.message(
                StatusCode::FORBIDDEN,
                "You can't continue",
                &message,
                Some(&tenant.domain),
                Some(&continue_url),
            )
        }
        Outcome::Federate(request) => {
            super::authresp::federate(state, tenant, &policy, id, stored, request).await
        }
    }
}

pub(super) async fn save(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    stored: &StoredJourney,
) -> Result<(), Response> {
    let json = serde_json::to_string(stored).map_err(|e| {
        tracing::error!(error = %e, "journey state not serialisable");
        state.pages.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The sign-in could not be saved. Please try again.",
        )
    })?;
    let expires = now() + i64::from(tenant.sessions.journey_lifetime_minutes) * 60;
    tenant
        .store
        .put_journey(id, &json, expires)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not save a journey");
            state.pages.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable right now. Please try again in a moment.",
            )
        })
}

async fn forget(tenant: &Tenant, id: &str) {
    if let Err(e) = tenant.store.delete_journey(id).await {
        tracing::warn!(error = %e, "could not delete a finished journey");
    }
}

/// Loads a journey and checks it belongs to this browser.
pub(super) async fn load(
    state: &AppState,
    tenant_segment: &str,
    id: &str,
    headers: &HeaderMap,
) -> Result<(Arc<Tenant>, StoredJourney), Response> {
    let Some(tenant) = state.tenant(tenant_segment).cloned() else {
        return Err(state.pages.error(
            StatusCode::NOT_FOUND,
            &format!("The tenant '{tenant_segment}' does not exist."),
        ));
    };
    let expired = || {
        state.pages.message(
            StatusCode::NOT_FOUND,
            "This page has expired",
            "AADB2C90046: We are having trouble loading your current state. Your sign-in may have expired or already finished: please start again from the application.",
            Some(&tenant.domain),
            None,
        )
    };
    let json = match tenant.store.journey(id, now()).await {
        Ok(Some(j)) => j,
        Ok(None) => return Err(expired()),
        Err(e) => {
            tracing::error!(error = %e, "could not load a journey");
            return Err(state.pages.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable right now. Please try again in a moment.",
            ));
        }
    };
    let stored: StoredJourney = serde_json::from_str(&json).map_err(|e| {
        tracing::error!(error = %e, "stored journey is unreadable");
        expired()
    })?;
    let bound = cookies::get(headers, "tf_journey").is_some_and(|secret| {
        bool::from(sha256(&secret).as_bytes().ct_eq(stored.binding.as_bytes()))
    });
    if !bound {
        return Err(state.pages.error(
            StatusCode::FORBIDDEN,
            "This sign-in was started in another browser or its cookie is missing. Please start again from the application.",
        ));
    }
    Ok((tenant, stored))
}

fn csrf_ok(stored: &StoredJourney, sent: Option<&str>) -> bool {
    sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(stored.csrf.as_bytes())))
}

fn csrf_refused(state: &AppState) -> Response {
    state.pages.error(
        StatusCode::FORBIDDEN,
        "The form could not be verified (its security token is missing or wrong). Please go back, reload the page and try again.",
    )
}

pub async fn show(
    state: State,
    Path((tenant, _policy, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let (tenant, stored) = match load(&state, &tenant, &id, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(page) = &stored.page else {
        return state.pages.error(
            StatusCode::NOT_FOUND,
            "There is nothing to show on this page. Please start again from the application.",
        );
    };
    let action = journey_path(&tenant, stored.state.policy.as_str(), &id);
    let lang = stored
        .state
        .context
        .culture
        .split('-')
        .next()
        .unwrap_or("en")
        .to_owned();
    state.pages.render(
        StatusCode::OK,
        "page.html",
        minijinja::context! { title => &page.title, page, csrf => &stored.csrf, action, tenant => &tenant.domain, lang },
    )
}

pub async fn submit(
    state: State,
    Path((tenant, _policy, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let (tenant, stored) = match load(&state, &tenant, &id, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut csrf = None;
    let mut action = None;
    let mut select = None;
    for (k, v) in url::form_urlencoded::parse(&body).into_owned() {
        match k.as_str() {
            "csrf" => csrf = Some(v),
            "action" => action = Some(v),
            "select" => select = Some(v),
            // A multi-select posts one value per ticked option: they are joined with commas.
            _ => match fields.get_mut(&k) {
                Some(existing) => {
                    existing.push(',');
                    existing.push_str(&v);
                }
                None => {
                    fields.insert(k, v);
                }
            },
        }
    }
    if !csrf_ok(&stored, csrf.as_deref()) {
        tracing::info!(tenant = %tenant.name, "journey form refused: CSRF token missing or wrong");
        return csrf_refused(&state);
    }
    let input = match (action.as_deref(), select) {
        (Some("cancel"), _) => Input::Cancel,
        (_, Some(exchange)) => Input::Select(exchange),
        // A display control's button: `{control}:{action}` (CONTRACTS.md §9).
        (Some(a), None) if a.contains(':') => {
            let (control, action) = a.split_once(':').unwrap_or_default();
            Input::Control {
                control: control.to_owned(),
                action: action.to_owned(),
                form: fields,
            }
        }
        _ => Input::Submit(fields),
    };
    advance(&state, &tenant, &id, stored, input).await
}

pub async fn select(
    state: State,
    Path((tenant, _policy, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let (tenant, stored) = match load(&state, &tenant, &id, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let params = pairs(q.as_deref());
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if !csrf_ok(&stored, get("csrf").as_deref()) {
        return csrf_refused(&state);
    }
    let Some(exchange) = get("exchange") else {
        return state
            .pages
            .error(StatusCode::BAD_REQUEST, "No choice was made.");
    };
    advance(&state, &tenant, &id, stored, Input::Select(exchange)).await
}

/// "Back to the application" after a block page: the stored error response.
pub async fn back_to_app(
    state: State,
    Path((tenant, _policy, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let (tenant, stored) = match load(&state, &tenant, &id, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match &stored.finished {
        Some(response) => {
            forget(&tenant, &id).await;
            deliver(&state, response)
        }
        None => state
            .pages
            .error(StatusCode::BAD_REQUEST, "This sign-in has not finished."),
    }
}
