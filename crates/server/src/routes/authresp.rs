//! Federation with external OpenID Connect providers, as HTTP
//! (`identity-provider-generic-openid-connect.md`; the steps are in [`crate::journeys`]): the
//! provider's answer at `/{tenant}/oauth2/authresp`, by query or `form_post`, and
//! `…/journey/{id}/federated`, where the browser that started the journey comes back to have
//! the code redeemed.

use std::sync::Arc;

use axum::extract::{Path, RawForm, RawQuery};
use axum::http::HeaderMap;
use axum::response::Response;

use super::State;
use super::answer::{problem, respond};
use super::protocol::pairs;
use crate::journeys::{self, BINDING_COOKIE};
use crate::{AppState, cookies};

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
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    callback(&state, &tenant, params).await
}

/// The provider's answer at `/{tenant}/oauth2/authresp`.
async fn callback(
    state: &AppState,
    tenant_segment: &str,
    params: Vec<(String, String)>,
) -> Response {
    let tenant = match journeys::tenant(state, tenant_segment) {
        Ok(t) => t,
        Err(p) => return problem(state, &p),
    };
    let next = journeys::provider_answered(state, &tenant, &params).await;
    respond(state, &tenant, next).await
}

/// `/{tenant}/{policy}/journey/{id}/federated`: in the browser that started the journey, the
/// code is redeemed and the provider's claims go to the engine.
pub async fn federated(
    state: State,
    Path((tenant, _policy, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let binding = cookies::get(&headers, BINDING_COOKIE);
    let journey = match journeys::open(&state, &tenant, &id, binding.as_deref()).await {
        Ok(j) => j,
        Err(p) => return problem(&state, &p),
    };
    let tenant = Arc::clone(journey.tenant());
    let next = journeys::federated(&state, journey).await;
    respond(&state, &tenant, next).await
}
