//! Federation with external OpenID Connect providers, on the HTTP side (CONTRACTS.md §10).
//!
//! 1. The engine answers `Outcome::Federate`: [`federate`] remembers a PKCE verifier, a nonce
//!    and a state `{journey id}.{random}` in the journey and redirects to the provider.
//! 2. The provider answers at `{public_url}/{tenant}/oauth2/authresp` (the tenant's domain or
//!    id: one URI for every provider of the tenant), by query or `form_post`. [`callback`]
//!    finds the journey by the state, checks it, keeps the answer and redirects to
//!    `…/journey/{id}/federated`. The browser-binding cookie is scoped to the journey's path,
//!    so it is checked there: a callback replayed in another browser goes nowhere.
//! 3. [`federated`] redeems the code, checks the ID token and hands its claims to the engine.
//!
//! Every failure ends on a page that says what failed, with a way back to the app carrying the
//! error (and a B2C code where B2C has one); nothing is written for a user before the engine
//! has the provider's claims.

use std::sync::Arc;

use axum::extract::{Path, RawForm, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use trustframe_engine::{FederationRequest, Input};
use trustframe_oidc::{ErrorCode, JourneyError};
use trustframe_policy::Policy;

use super::State;
use super::journey::{StoredJourney, advance, journey_path, load, save};
use super::protocol::pairs;
use crate::federation::PendingFederation;
use crate::tenant::now;
use crate::{AppState, Tenant};

/// The longest provider error text kept (it is shown on a page and sent to the app).
const MAX_PROVIDER_TEXT: usize = 300;

/// A federation in progress: what was sent, and the provider's answer once it came back.
#[derive(Debug, Serialize, Deserialize)]
pub struct Federating {
    pub pending: PendingFederation,
    pub answer: Option<ProviderAnswer>,
}

#[derive(Serialize, Deserialize)]
pub struct ProviderAnswer {
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

// The code is a credential: never printed.
impl std::fmt::Debug for ProviderAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderAnswer")
            .field("code", &self.code.as_ref().map(|_| "…"))
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

fn random_token() -> String {
    use base64::Engine as _;
    let bytes: [u8; 24] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn clip(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_PROVIDER_TEXT)
        .collect()
}

/// The redirect URI providers must accept: one per tenant (B2C's
/// `https://{tenant}.b2clogin.com/{tenant}.onmicrosoft.com/oauth2/authresp`).
pub fn redirect_uri(state: &AppState, tenant: &Tenant) -> String {
    format!("{}/{}/oauth2/authresp", state.public_url, tenant.domain)
}

/// Ends the journey on a page that says what failed; "back to the application" delivers
/// `error` + `description` to the app.
#[allow(clippy::too_many_arguments)]
async fn fail(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    mut stored: StoredJourney,
    status: StatusCode,
    title: &str,
    error: &str,
    description: String,
) -> Response {
    state.metrics.journey(&tenant.name, "error");
    let code = serde_json::from_value::<ErrorCode>(serde_json::Value::String(error.to_owned()))
        .unwrap_or(ErrorCode::ServerError);
    stored.finished = Some(tenant.oidc.authorize_error(
        &stored.request,
        &JourneyError::Other {
            error: code,
            description: description.clone(),
        },
    ));
    stored.federation = None;
    if let Err(r) = save(state, tenant, id, &stored).await {
        return r;
    }
    let continue_url = format!(
        "{}/return",
        journey_path(tenant, stored.state.policy.as_str(), id)
    );
    state.pages.message(
        status,
        title,
        &description,
        Some(&tenant.domain),
        Some(&continue_url),
    )
}

/// `Outcome::Federate`: off to the provider.
pub(super) async fn federate(
    state: &AppState,
    tenant: &Arc<Tenant>,
    policy: &Policy,
    id: &str,
    mut stored: StoredJourney,
    request: FederationRequest,
) -> Response {
    let Some(profile) = policy.technical_profile(&request.technical_profile) else {
        tracing::error!(tenant = %tenant.name, profile = %request.technical_profile, "identity provider profile missing");
        return state.pages.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The sign-in is misconfigured. The administrator has been told.",
        );
    };
    let state_value = format!("{id}.{}", random_token());
    let begun = tenant
        .federation
        .begin(profile, &redirect_uri(state, tenant), state_value)
        .await;
    match begun {
        Ok((url, pending)) => {
            stored.federation = Some(Federating {
                pending,
                answer: None,
            });
            if let Err(r) = save(state, tenant, id, &stored).await {
                return r;
            }
            tracing::info!(tenant = %tenant.name, provider = %request.display_name, correlation_id = %stored.state.context.correlation_id, "federating");
            Redirect::to(&url).into_response()
        }
        Err(e) => {
            tracing::warn!(tenant = %tenant.name, provider = %request.display_name, error = %e, "cannot start a federation");
            let shown = e.for_user(&request.display_name);
            fail(
                state,
                tenant,
                id,
                stored,
                StatusCode::BAD_GATEWAY,
                &format!("{} is not available", request.display_name),
                shown.error,
                shown.description,
            )
            .await
        }
    }
}

pub async fn callback_get(
    state: State,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    callback(&state, &tenant, pairs(q.as_deref())).await
}

pub async fn callback_post(
    state: State,
    Path(tenant): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let params = url::form_urlencoded::parse(&body).into_owned().collect();
    callback(&state, &tenant, params).await
}

/// The provider's answer at `/{tenant}/oauth2/authresp`.
async fn callback(
    state: &AppState,
    tenant_segment: &str,
    params: Vec<(String, String)>,
) -> Response {
    let Some(tenant) = state.tenant(tenant_segment).cloned() else {
        return state.pages.error(
            StatusCode::NOT_FOUND,
            &format!("The tenant '{tenant_segment}' does not exist."),
        );
    };
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let unmatched = || {
        tracing::info!(tenant = %tenant.name, "identity provider answer without a matching sign-in");
        state.pages.message(
            StatusCode::BAD_REQUEST,
            "This sign-in cannot continue",
            "The identity provider's answer does not belong to a sign-in in progress (its state is missing, unknown or expired). Please start again from the application.",
            Some(&tenant.domain),
            None,
        )
    };
    let Some(sent_state) = get("state") else {
        return unmatched();
    };
    let Some((id, _)) = sent_state.split_once('.') else {
        return unmatched();
    };
    let json = match tenant.store.journey(id, now()).await {
        Ok(Some(j)) => j,
        Ok(None) => return unmatched(),
        Err(e) => {
            tracing::error!(error = %e, "could not load a journey");
            return state.pages.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable right now. Please try again in a moment.",
            );
        }
    };
    let Ok(mut stored) = serde_json::from_str::<StoredJourney>(&json) else {
        return unmatched();
    };
    let Some(federating) = stored.federation.as_mut() else {
        return unmatched();
    };
    let provider = federating.pending.display_name.clone();
    if !federating.pending.state_matches(&sent_state) || federating.answer.is_some() {
        tracing::warn!(tenant = %tenant.name, provider, "identity provider answer with a wrong state");
        return fail(
            state,
            &tenant,
            id,
            stored,
            StatusCode::BAD_REQUEST,
            "This sign-in cannot continue",
            "access_denied",
            format!(
                "The answer from the identity provider '{provider}' does not match this sign-in (state mismatch): it was refused."
            ),
        )
        .await;
    }
    federating.answer = Some(ProviderAnswer {
        code: get("code"),
        error: get("error").map(|e| clip(&e)),
        error_description: get("error_description").map(|e| clip(&e)),
    });
    if let Err(r) = save(state, &tenant, id, &stored).await {
        return r;
    }
    let next = format!(
        "{}/federated",
        journey_path(&tenant, stored.state.policy.as_str(), id)
    );
    Redirect::to(&next).into_response()
}

/// `/{tenant}/{policy}/journey/{id}/federated`: in the browser that started the journey, the
/// code is redeemed and the provider's claims go to the engine.
pub async fn federated(
    state: State,
    Path((tenant, _policy, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let (tenant, mut stored) = match load(&state, &tenant, &id, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(Federating {
        pending,
        answer: Some(answer),
    }) = stored.federation.take()
    else {
        return state.pages.message(
            StatusCode::BAD_REQUEST,
            "This sign-in cannot continue",
            "This sign-in is not waiting for an identity provider. Please start again from the application.",
            Some(&tenant.domain),
            None,
        );
    };
    let provider = pending.display_name.clone();
    if let Some(error) = &answer.error {
        let detail = answer.error_description.as_deref().unwrap_or_default();
        tracing::info!(tenant = %tenant.name, provider, error, "identity provider answered with an error");
        // B2C: the provider's error goes to the app with AADB2C90273 (a user who cancels at
        // the provider comes back with access_denied).
        let code = if error == "access_denied" {
            "access_denied"
        } else {
            "server_error"
        };
        return fail(
            &state,
            &tenant,
            &id,
            stored,
            StatusCode::UNAUTHORIZED,
            &format!("{provider} did not sign you in"),
            code,
            format!(
                "AADB2C90273: An invalid response was received from the identity provider '{provider}': 'Error: {error}, Error Description: {detail}'"
            ),
        )
        .await;
    }
    let Some(code) = &answer.code else {
        return fail(
            &state,
            &tenant,
            &id,
            stored,
            StatusCode::BAD_GATEWAY,
            &format!("{provider} did not sign you in"),
            "server_error",
            format!(
                "AADB2C90273: An invalid response was received from the identity provider '{provider}': it carries neither a code nor an error."
            ),
        )
        .await;
    };
    let Some(policy) = tenant.policy(stored.state.policy.as_str()).cloned() else {
        return state.pages.error(
            StatusCode::NOT_FOUND,
            "This sign-in's policy no longer exists. Please start again from the application.",
        );
    };
    let Some(profile) = policy.technical_profile(&pending.technical_profile) else {
        return state.pages.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The sign-in is misconfigured. The administrator has been told.",
        );
    };
    match tenant.federation.complete(profile, &pending, code).await {
        Ok(claims) => {
            tracing::info!(tenant = %tenant.name, provider, correlation_id = %stored.state.context.correlation_id, "identity provider signed the user in");
            advance(
                &state,
                &tenant,
                &id,
                stored,
                Input::FederationResult(claims),
            )
            .await
        }
        Err(e) => {
            tracing::warn!(tenant = %tenant.name, provider, error = %e, "federation failed");
            let shown = e.for_user(&provider);
            fail(
                &state,
                &tenant,
                &id,
                stored,
                StatusCode::BAD_GATEWAY,
                &format!("Sign-in with {provider} failed"),
                shown.error,
                shown.description,
            )
            .await
        }
    }
}
