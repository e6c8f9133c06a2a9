//! The REST APIs of the B2C docs as small axum services, for the demo, the docs and the tests.
//!
//! | path | contract | what |
//! |---|---|---|
//! | `POST /validate-accesscode` | RESTful profile (409) or API connector (400) | `88888` is the only valid code (`custom-policies-series-call-rest-api.md`) |
//! | `POST /GetProfile` | RESTful profile or API connector | balance by `objectId`; unknown users get `50.00` (`add-api-connector-token-enrichment.md`) |
//! | `POST /GetContacts` | RESTful profile | a nested contact record by `email`, for JSON-path output claims (`restful-technical-profile.md`) |
//! | `POST /validate-email` | RESTful profile | rejects emails starting with `test`, returns the normalised email |
//! | `POST /api-connector/validate-email` | API connector | the same as a `ValidationError` / `Continue` |
//! | `POST /api-connector/capitalize-names` | API connector | `givenName`, `surname` with capital initials |
//! | `POST /api-connector/loyalty-number` | API connector (`PreTokenIssuance`) | `extension_loyaltyNumber` for the token |
//!
//! Every endpoint takes JSON (or a urlencoded form, as `SendClaimsIn=Form` sends); a body with a
//! `step` key is an API-connector request and gets an API-connector answer
//! (`add-api-connector.md`), otherwise the RESTful technical profile contract applies
//! (`restful-technical-profile.md`).

mod access_code;
mod contacts;
mod email;
mod loyalty;
mod names;
mod payload;
mod profile;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::routing::post;

pub use payload::Payload;

/// In-memory state of the samples: balances and loyalty numbers by user.
#[derive(Clone, Default)]
pub struct SamplesState {
    balances: Arc<Mutex<HashMap<String, String>>>,
    loyalty_numbers: Arc<Mutex<HashMap<String, String>>>,
}

impl SamplesState {
    pub fn new() -> Self {
        Self::default()
    }

    /// A user the profile sample already knows.
    pub fn with_balance(self, object_id: impl Into<String>, balance: impl Into<String>) -> Self {
        lock(&self.balances).insert(object_id.into(), balance.into());
        self
    }

    /// The balance stored for a user, if registered.
    pub fn balance(&self, object_id: &str) -> Option<String> {
        lock(&self.balances).get(object_id).cloned()
    }

    pub fn loyalty_number(&self, user: &str) -> Option<String> {
        lock(&self.loyalty_numbers).get(user).cloned()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Every sample, with fresh state.
pub fn router() -> Router {
    router_with(SamplesState::new())
}

/// Every sample over the given state.
pub fn router_with(state: SamplesState) -> Router {
    Router::new()
        .route("/validate-accesscode", post(access_code::validate))
        .route("/GetProfile", post(profile::get_profile))
        .route("/GetContacts", post(contacts::get_contacts))
        .route("/validate-email", post(email::validate_restful))
        .route(
            "/api-connector/validate-email",
            post(email::validate_connector),
        )
        .route("/api-connector/capitalize-names", post(names::capitalize))
        .route("/api-connector/loyalty-number", post(loyalty::lookup))
        .with_state(state)
}
