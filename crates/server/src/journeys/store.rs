//! A journey between two requests: its stored state, where it lives, and the checks that it
//! belongs to the browser and the form that continue it.
//!
//! The state lives in the store under a random id, so any node can continue it. The id is in
//! the page's URL; a cookie scoped to that URL binds the journey to the browser that started it
//! (only its SHA-256 is stored), and every form carries a CSRF token checked against the stored
//! one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use trustframe_engine::{JourneyState, Page};
use trustframe_oidc::{AuthorizationResponse, ValidatedAuthorize};
use trustframe_store::JourneyVersion;

use super::JourneyProblem;
use crate::Tenant;
use crate::federation::PendingFederation;
use crate::tenant::now;

/// The cookie that binds a journey to the browser that started it.
pub const BINDING_COOKIE: &str = "tf_journey";

/// A journey between two requests.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredJourney {
    pub(super) state: JourneyState,
    pub(super) request: ValidatedAuthorize,
    pub(super) csrf: String,
    /// SHA-256 of the binding cookie's value.
    pub(super) binding: String,
    pub(super) page: Option<Page>,
    /// The SSO session the journey continues, with its sign-in time.
    pub(super) session: Option<(String, i64)>,
    /// Set when the journey has ended on a page (a block): where "back to the app" goes.
    pub(super) finished: Option<AuthorizationResponse>,
    /// The identity provider the user was sent to, and its answer once it came back.
    #[serde(default)]
    pub(super) federation: Option<Federating>,
    /// The stored version this copy was loaded at (`None`: not stored yet). A save or finish
    /// succeeds only if no other request saved since, so one page advances at most once.
    #[serde(skip)]
    pub(super) version: Option<JourneyVersion>,
}

/// A federation in progress: what was sent, and the provider's answer once it came back.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Federating {
    pub(super) pending: PendingFederation,
    pub(super) answer: Option<ProviderAnswer>,
}

/// What the provider sent back to `/{tenant}/oauth2/authresp`.
#[derive(Serialize, Deserialize)]
pub(super) struct ProviderAnswer {
    pub(super) code: Option<String>,
    pub(super) error: Option<String>,
    pub(super) error_description: Option<String>,
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

impl StoredJourney {
    /// Whether `secret` (the binding cookie's value) is the one this journey was started with.
    pub(super) fn bound_to(&self, secret: Option<&str>) -> bool {
        binding_matches(secret, &self.binding)
    }

    /// Whether a form's CSRF token is this journey's.
    pub(super) fn csrf_ok(&self, sent: Option<&str>) -> bool {
        csrf_matches(sent, &self.csrf)
    }
}

fn binding_matches(secret: Option<&str>, hash: &str) -> bool {
    secret.is_some_and(|secret| bool::from(sha256(secret).as_bytes().ct_eq(hash.as_bytes())))
}

fn csrf_matches(sent: Option<&str>, expected: &str) -> bool {
    sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
}

pub fn random_token() -> String {
    let bytes: [u8; 24] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(super) fn sha256(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(s.as_bytes()))
}

/// The URL path of a journey's pages.
pub fn journey_path(tenant: &Tenant, policy: &str, id: &str) -> String {
    format!("/{}/{}/journey/{id}", tenant.name, policy)
}

/// How long a journey (and its binding cookie) lives, in seconds.
pub(super) fn journey_lifetime(tenant: &Tenant) -> i64 {
    i64::from(tenant.sessions.journey_lifetime_minutes) * 60
}

/// Saves the journey: inserted when new, else replaced only if it is still at the version it
/// was loaded at. A concurrent submit of the same page that saved or finished first makes this
/// one [`JourneyProblem::AlreadySubmitted`].
pub(super) async fn save(
    tenant: &Tenant,
    id: &str,
    stored: &mut StoredJourney,
) -> Result<(), JourneyProblem> {
    let json = serde_json::to_string(stored).map_err(|e| {
        tracing::error!(error = %e, "journey state not serialisable");
        JourneyProblem::NotSaved
    })?;
    let expires = now() + journey_lifetime(tenant);
    let saved = match stored.version {
        None => tenant
            .store
            .insert_journey(id, &json, expires)
            .await
            .map(Some),
        Some(read) => tenant.store.replace_journey(id, read, &json, expires).await,
    };
    match saved {
        Ok(Some(version)) => {
            stored.version = Some(version);
            Ok(())
        }
        Ok(None) => Err(already_submitted(tenant, id, stored)),
        Err(e) => {
            tracing::error!(error = %e, "could not save a journey");
            Err(JourneyProblem::StoreUnavailable)
        }
    }
}

/// What is left of a finished journey until it expires: enough to tell a late submit of its
/// last page, in the browser that started it, that it was already submitted, and where to
/// start again. No claims, no request beyond its parameters.
#[derive(Serialize, Deserialize)]
pub(super) struct FinishedJourney {
    /// SHA-256 of the binding cookie's value.
    binding: String,
    /// The authorize request that started the journey, to start again (with a new SSO
    /// session, straight back to the app).
    restart: String,
}

/// Marks the journey finished before its outcome (a code, an error for the app) is delivered:
/// of concurrent requests that loaded the same version, only one finishes it, so a journey
/// completes at most once. A journey never stored (ended at its first step) has nothing to
/// mark.
pub(super) async fn finish(
    tenant: &Tenant,
    id: &str,
    stored: &StoredJourney,
) -> Result<(), JourneyProblem> {
    let Some(read) = stored.version else {
        return Ok(());
    };
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&stored.state.context.oauth_params)
        .finish();
    let marker = FinishedJourney {
        binding: stored.binding.clone(),
        restart: format!(
            "/{}/{}/oauth2/v2.0/authorize?{query}",
            tenant.name,
            stored.state.policy.as_str()
        ),
    };
    let marker = serde_json::to_string(&marker).map_err(|e| {
        tracing::error!(error = %e, "finished journey not serialisable");
        JourneyProblem::NotSaved
    })?;
    match tenant.store.finish_journey(id, read, &marker).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(already_submitted(tenant, id, stored)),
        Err(e) => {
            tracing::error!(error = %e, "could not finish a journey");
            Err(JourneyProblem::StoreUnavailable)
        }
    }
}

/// A save or finish lost the race: the journey is now at its page (or finished, which the
/// next load tells).
fn already_submitted(tenant: &Tenant, id: &str, stored: &StoredJourney) -> JourneyProblem {
    tracing::info!(tenant = %tenant.name, correlation_id = %stored.state.context.correlation_id, "stale journey submit refused");
    JourneyProblem::AlreadySubmitted {
        domain: tenant.domain.clone(),
        continue_url: journey_path(tenant, stored.state.policy.as_str(), id),
    }
}

/// What the store holds under `id`.
pub(super) enum Found {
    Journey(Box<StoredJourney>),
    Finished(FinishedJourney),
    /// Expired, never existed, or unreadable.
    Nothing,
}

impl FinishedJourney {
    /// A late request for a finished journey: from the browser that started it, "already
    /// submitted" with the way to start again; from any other, the binding refusal.
    pub(super) fn refusal(&self, tenant: &Tenant, binding: Option<&str>) -> JourneyProblem {
        if !binding_matches(binding, &self.binding) {
            return JourneyProblem::WrongBrowser;
        }
        JourneyProblem::AlreadySubmitted {
            domain: tenant.domain.clone(),
            continue_url: self.restart.clone(),
        }
    }
}

pub(super) async fn find(tenant: &Tenant, id: &str) -> Result<Found, JourneyProblem> {
    let row = match tenant.store.versioned_journey(id, now()).await {
        Ok(Some(row)) => row,
        Ok(None) => return Ok(Found::Nothing),
        Err(e) => {
            tracing::error!(error = %e, "could not load a journey");
            return Err(JourneyProblem::StoreUnavailable);
        }
    };
    if row.finished {
        return Ok(match serde_json::from_str::<FinishedJourney>(&row.state) {
            Ok(finished) => Found::Finished(finished),
            Err(e) => {
                tracing::error!(error = %e, "finished journey marker is unreadable");
                Found::Nothing
            }
        });
    }
    match serde_json::from_str::<StoredJourney>(&row.state) {
        Ok(mut stored) => {
            stored.version = Some(row.version);
            Ok(Found::Journey(Box::new(stored)))
        }
        Err(e) => {
            tracing::error!(error = %e, "stored journey is unreadable");
            Ok(Found::Nothing)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_and_csrf_compare_whole_values() {
        let secret = random_token();
        let hash = sha256(&secret);
        assert!(binding_matches(Some(&secret), &hash));
        assert!(!binding_matches(Some("other"), &hash) && !binding_matches(None, &hash));
        assert!(csrf_matches(Some("token"), "token"));
        assert!(!csrf_matches(Some("toke"), "token") && !csrf_matches(None, "token"));
    }
}
