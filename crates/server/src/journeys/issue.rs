//! Single sign-on and issuance: the SSO session a journey continues, the one it creates when it
//! ends, and the authorization response the app receives.

use trustframe_engine::{Failure, Issued};
use trustframe_oidc::{
    AuthorizationResponse, ErrorCode, JourneyError, Prompt, SignedIn, ValidatedAuthorize,
};
use trustframe_policy::Policy;
use trustframe_store::SsoSession;

use super::store::{StoredJourney, finish, random_token};
use super::{JourneyProblem, NewCookie, Next};
use crate::tenant::now;
use crate::{AppState, Tenant};

/// `UserJourneyBehaviors/SingleSignOn Scope="Suppressed"` (`relyingparty.md`): the policy
/// neither uses nor creates a single sign-on session.
fn sso_suppressed(policy: &Policy) -> bool {
    policy
        .relying_party
        .behaviors
        .sso_scope
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("Suppressed"))
}

/// How long a new SSO session lasts: the policy's `SessionExpiryInSeconds` (B2C accepts
/// 900–86400), else the tenant's `[sessions] sso_lifetime_minutes`.
fn sso_lifetime(tenant: &Tenant, policy: &Policy) -> i64 {
    match policy.relying_party.behaviors.session_expiry_seconds {
        Some(seconds) => i64::from(seconds.clamp(900, 86_400)),
        None => i64::from(tenant.sessions.sso_lifetime_minutes) * 60,
    }
}

/// Single sign-on: the unexpired session of this tenant (the browser's SSO cookie) that signs
/// the user in without a form, unless the app asks for a fresh sign-in (`prompt=login`), the
/// policy suppresses SSO, or the session is older than `max_age`.
pub(super) async fn current_session(
    tenant: &Tenant,
    policy: &Policy,
    request: &ValidatedAuthorize,
    cookie: Option<&str>,
) -> Result<Option<SsoSession>, JourneyProblem> {
    let current = now();
    if request.has_prompt(Prompt::Login) || sso_suppressed(policy) {
        return Ok(None);
    }
    let Some(id) = cookie else {
        return Ok(None);
    };
    match tenant.store.session(&super::session_key(id), current).await {
        Ok(Some(s)) => {
            let fresh = request
                .max_age
                .is_none_or(|m| current - s.auth_time <= i64::try_from(m).unwrap_or(i64::MAX));
            Ok(fresh.then_some(s))
        }
        Ok(None) => Ok(None),
        Err(e) => {
            tracing::error!(error = %e, "could not read an SSO session");
            Err(JourneyProblem::StoreUnavailable)
        }
    }
}

/// `Outcome::SendClaims`: keeps or creates the SSO session, issues the code or tokens and ends
/// the journey.
pub(super) async fn issue(
    state: &AppState,
    tenant: &Tenant,
    policy: &Policy,
    id: &str,
    stored: &StoredJourney,
    issued: Issued,
) -> Result<Next, JourneyProblem> {
    // Ended first: of concurrent submits of the last page, one issues and the rest are told
    // the page was already submitted.
    finish(tenant, id, stored).await?;
    let current = now();
    // The session continues unless the journey ended it (a password reset) or signed in
    // someone else. Stored sessions are known by their key (`session_key`), and so is the
    // journey's.
    let kept = match &stored.session {
        Some((sid, auth_time)) if stored.state.sso => {
            match tenant.store.session(sid, current).await {
                Ok(Some(s)) if s.object_id == issued.object_id => Some((sid.clone(), *auth_time)),
                _ => None,
            }
        }
        _ => None,
    };
    let (session_id, auth_time, new_session) = match kept {
        Some((sid, auth_time)) => (sid, auth_time, false),
        None => (
            random_token(),
            current,
            !sso_suppressed(policy) && !issued.user_deleted,
        ),
    };
    let lifetime = sso_lifetime(tenant, policy);
    if new_session {
        let session = SsoSession {
            id: super::session_key(&session_id),
            object_id: issued.object_id.clone(),
            auth_time,
            created_at: current,
            expires_at: current + lifetime,
            data: serde_json::json!({
                "policy": policy.id.to_string(),
                "claims": issued.session_claims,
            }),
        };
        if let Err(e) = tenant.store.create_session(&session).await {
            tracing::error!(error = %e, "could not create an SSO session");
            return Err(JourneyProblem::StoreUnavailable);
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
    let response = response.map_err(|e| {
        tracing::error!(error = %e, "could not issue tokens");
        JourneyProblem::NotIssued
    })?;
    state.metrics.journey(&tenant.name, "tokens");
    tracing::info!(tenant = %tenant.name, policy = %policy.id, correlation_id = %stored.state.context.correlation_id, "journey issued tokens");
    Ok(Next::Deliver {
        response,
        set_cookie: new_session.then(|| NewCookie {
            name: tenant.sso_cookie(),
            value: session_id,
            path: "/".to_owned(),
            max_age: lifetime,
        }),
    })
}

/// `Outcome::Fail`: the OAuth error the app receives (each failure mapped here, once).
pub(super) fn failed(
    tenant: &Tenant,
    request: &ValidatedAuthorize,
    failure: Failure,
) -> AuthorizationResponse {
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
    tenant.oidc.authorize_error(request, &journey_error)
}
