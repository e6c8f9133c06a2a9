//! Federation with external OpenID Connect providers
//! (`identity-provider-generic-openid-connect.md`).
//!
//! 1. The engine answers `Outcome::Federate`: [`federate`] remembers a PKCE verifier, a nonce
//!    and a state `{journey id}.{random}` in the journey and sends the browser to the provider.
//! 2. The provider answers at `{public_url}/{tenant}/oauth2/authresp` (the tenant's domain or
//!    id: one URI for every provider of the tenant), by query or `form_post`. [`answered`]
//!    finds the journey by the state, checks it, keeps the answer and sends the browser to
//!    `…/journey/{id}/federated`. The browser-binding cookie is scoped to the journey's path,
//!    so it is checked there: a callback replayed in another browser goes nowhere.
//! 3. [`redeem`] redeems the code and checks the ID token; its claims go to the engine.
//!
//! Every failure ends on a page that says what failed, with a way back to the app carrying the
//! error (and a B2C code where B2C has one); nothing is written for a user before the engine
//! has the provider's claims.

use serde_json::{Map, Value};
use trustframe_engine::FederationRequest;
use trustframe_oidc::{ErrorCode, JourneyError};
use trustframe_policy::Policy;

use super::store::{Federating, Found, ProviderAnswer, StoredJourney, journey_path, random_token};
use super::{FederationFailure, JourneyProblem, Next, store};
use crate::{AppState, Tenant};

/// The longest provider error text kept (it is shown on a page and sent to the app).
const MAX_PROVIDER_TEXT: usize = 300;

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

/// The OAuth error code `crate::federation` names for the app (`server_error` if unknown).
fn oauth_error(code: &str) -> ErrorCode {
    serde_json::from_value(Value::String(code.to_owned())).unwrap_or(ErrorCode::ServerError)
}

/// Ends the journey on a page that says what failed; "back to the application" delivers
/// `error` + `description` to the app.
async fn fail(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    mut stored: StoredJourney,
    failure: FederationFailure,
    error: ErrorCode,
    description: String,
) -> Result<Next, JourneyProblem> {
    state.metrics.journey(&tenant.name, "error");
    stored.finished = Some(tenant.oidc.authorize_error(
        &stored.request,
        &JourneyError::Other {
            error,
            description: description.clone(),
        },
    ));
    stored.federation = None;
    store::save(tenant, id, &mut stored).await?;
    let continue_url = format!(
        "{}/return",
        journey_path(tenant, stored.state.policy.as_str(), id)
    );
    Ok(Next::FederationFailed {
        failure,
        description,
        continue_url,
        page_of: super::PageOf::of(&stored.state),
    })
}

/// `Outcome::Federate`: off to the provider.
pub(super) async fn federate(
    state: &AppState,
    tenant: &Tenant,
    policy: &Policy,
    id: &str,
    mut stored: StoredJourney,
    request: FederationRequest,
) -> Result<Next, JourneyProblem> {
    let Some(profile) = policy.technical_profile(&request.technical_profile) else {
        tracing::error!(tenant = %tenant.name, profile = %request.technical_profile, "identity provider profile missing");
        return Err(JourneyProblem::Misconfigured);
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
            store::save(tenant, id, &mut stored).await?;
            tracing::info!(tenant = %tenant.name, provider = %request.display_name, correlation_id = %stored.state.context.correlation_id, "federating");
            Ok(Next::Federate { url })
        }
        Err(e) => {
            tracing::warn!(tenant = %tenant.name, provider = %request.display_name, error = %e, "cannot start a federation");
            let shown = e.for_user(&request.display_name);
            fail(
                state,
                tenant,
                id,
                stored,
                FederationFailure::Unavailable {
                    provider: request.display_name.clone(),
                },
                oauth_error(shown.error),
                shown.description,
            )
            .await
        }
    }
}

/// The provider's answer at `/{tenant}/oauth2/authresp` (its query or form parameters).
pub(super) async fn answered(
    state: &AppState,
    tenant: &Tenant,
    params: &[(String, String)],
) -> Result<Next, JourneyProblem> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let unmatched = || {
        tracing::info!(tenant = %tenant.name, "identity provider answer without a matching sign-in");
        JourneyProblem::UnmatchedProviderAnswer {
            domain: tenant.domain.clone(),
        }
    };
    let Some(sent_state) = get("state") else {
        return Err(unmatched());
    };
    let Some((id, _)) = sent_state.split_once('.') else {
        return Err(unmatched());
    };
    let Found::Journey(stored) = store::find(tenant, id).await? else {
        return Err(unmatched());
    };
    let mut stored = *stored;
    let Some(federating) = stored.federation.as_mut() else {
        return Err(unmatched());
    };
    let provider = federating.pending.display_name.clone();
    if !federating.pending.state_matches(&sent_state) || federating.answer.is_some() {
        tracing::warn!(tenant = %tenant.name, provider, "identity provider answer with a wrong state");
        return fail(
            state,
            tenant,
            id,
            stored,
            FederationFailure::StateMismatch,
            ErrorCode::AccessDenied,
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
    store::save(tenant, id, &mut stored).await?;
    let path = format!(
        "{}/federated",
        journey_path(tenant, stored.state.policy.as_str(), id)
    );
    Ok(Next::Continue { path })
}

/// What redeeming the provider's answer gave.
pub(super) enum Redeemed {
    /// The provider signed the user in: its claims go to the engine.
    Claims(Box<StoredJourney>, Map<String, Value>),
    /// The federation failed: the journey ended on a page.
    Ended(Next),
}

/// In the browser that started the journey, the code is redeemed and the ID token checked.
pub(super) async fn redeem(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    mut stored: StoredJourney,
) -> Result<Redeemed, JourneyProblem> {
    let Some(Federating {
        pending,
        answer: Some(answer),
    }) = stored.federation.take()
    else {
        return Err(JourneyProblem::NotFederating {
            domain: tenant.domain.clone(),
        });
    };
    let provider = pending.display_name.clone();
    if let Some(error) = &answer.error {
        let detail = answer.error_description.as_deref().unwrap_or_default();
        tracing::info!(tenant = %tenant.name, provider, error, "identity provider answered with an error");
        // B2C: the provider's error goes to the app with AADB2C90273 (a user who cancels at
        // the provider comes back with access_denied).
        let code = if error == "access_denied" {
            ErrorCode::AccessDenied
        } else {
            ErrorCode::ServerError
        };
        let description = format!(
            "AADB2C90273: An invalid response was received from the identity provider '{provider}': 'Error: {error}, Error Description: {detail}'"
        );
        let failure = FederationFailure::ProviderError { provider };
        return fail(state, tenant, id, stored, failure, code, description)
            .await
            .map(Redeemed::Ended);
    }
    let Some(code) = &answer.code else {
        let description = format!(
            "AADB2C90273: An invalid response was received from the identity provider '{provider}': it carries neither a code nor an error."
        );
        let failure = FederationFailure::NoCode { provider };
        return fail(
            state,
            tenant,
            id,
            stored,
            failure,
            ErrorCode::ServerError,
            description,
        )
        .await
        .map(Redeemed::Ended);
    };
    let Some(policy) = tenant.policy(stored.state.policy.as_str()).cloned() else {
        return Err(JourneyProblem::PolicyGone);
    };
    let Some(profile) = policy.technical_profile(&pending.technical_profile) else {
        return Err(JourneyProblem::Misconfigured);
    };
    match tenant.federation.complete(profile, &pending, code).await {
        Ok(claims) => {
            tracing::info!(tenant = %tenant.name, provider, correlation_id = %stored.state.context.correlation_id, "identity provider signed the user in");
            // The object id is known once the journey finds or makes the account.
            let event = crate::audit::Event {
                kind: "sign_in",
                outcome: "success",
                subject: None,
                detail: serde_json::json!({ "identityProvider": provider }),
            };
            tenant
                .directory
                .audit
                .record_or_log(event, Some(&stored.state.context))
                .await;
            Ok(Redeemed::Claims(Box::new(stored), claims))
        }
        Err(e) => {
            tracing::warn!(tenant = %tenant.name, provider, error = %e, "federation failed");
            let event = crate::audit::Event {
                kind: "sign_in_failed",
                outcome: "federation_failed",
                subject: None,
                detail: serde_json::json!({ "identityProvider": provider }),
            };
            tenant
                .directory
                .audit
                .record_or_log(event, Some(&stored.state.context))
                .await;
            let shown = e.for_user(&provider);
            let failure = FederationFailure::Failed { provider };
            fail(
                state,
                tenant,
                id,
                stored,
                failure,
                oauth_error(shown.error),
                shown.description,
            )
            .await
            .map(Redeemed::Ended)
        }
    }
}
