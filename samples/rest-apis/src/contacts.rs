//! Contact lookup with a nested answer (`api-connectors-overview.md`, "Receiving data"): the back
//! end's contact record for an email, for a RESTful technical profile with
//! `ResolveJsonPathsInJsonTokens` that reads `contacts.0.person.name` or
//! `contacts[0].person.emails[0].email`.
//!
//! `{"contacts":[{"id","person":{"name","loyaltyNumber","emails":[{"id","type","email"}]}}]}`;
//! the name comes from the address (`emily.smith@…` → `Emily Smith`), the loyalty number is the
//! user's number of the loyalty sample (keyed by the normalised email here).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::SamplesState;
use crate::email::{MISSING_EMAIL_MESSAGE, normalise};
use crate::payload::{Payload, conflict};

/// `emily.smith_jr@example.com` → `Emily Smith Jr`.
pub fn name_from_email(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default();
    let spaced: String = local
        .chars()
        .map(|c| if matches!(c, '.' | '_' | '+') { ' ' } else { c })
        .collect();
    let words: Vec<&str> = spaced.split_whitespace().collect();
    crate::names::capitalise(&words.join(" "))
}

/// RESTful technical profile: 200 with the nested record, or 409 when no email was sent.
pub async fn get_contacts(State(state): State<SamplesState>, payload: Payload) -> Response {
    let email = payload
        .text("email")
        .map(normalise)
        .filter(|e| !e.is_empty());
    let Some(email) = email else {
        return conflict(
            "MissingEmail",
            MISSING_EMAIL_MESSAGE,
            "The request has no email.",
        );
    };
    let number = crate::loyalty::number_for(&state, &email);
    let body = json!({
        "contacts": [{
            "id": "MAINCONTACT_1",
            "person": {
                "name": name_from_email(&email),
                "loyaltyNumber": number,
                "emails": [{ "id": "EMAIL_1", "type": "WORK", "email": email }],
            },
        }],
    });
    (StatusCode::OK, Json(body)).into_response()
}
