//! Input validation: emails starting with `test` are refused; the normalised (trimmed,
//! lower-cased) address is returned.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::payload::{Payload, conflict, continue_with, validation_error};

pub const TEST_EMAIL_MESSAGE: &str =
    "Email addresses that start with \"test\" are not accepted. Please use another address.";
pub const MISSING_EMAIL_MESSAGE: &str = "Please enter your email address.";

pub fn normalise(email: &str) -> String {
    email.trim().to_lowercase()
}

enum Verdict {
    Missing,
    Refused(String),
    Accepted(String),
}

fn judge(payload: &Payload) -> Verdict {
    match payload.text("email").map(normalise) {
        None => Verdict::Missing,
        Some(e) if e.is_empty() => Verdict::Missing,
        Some(e) if e.starts_with("test") => Verdict::Refused(e),
        Some(e) => Verdict::Accepted(e),
    }
}

/// RESTful technical profile: 409 with B2C's error body, or 200 `{"email": ...}`.
pub async fn validate_restful(payload: Payload) -> Response {
    match judge(&payload) {
        Verdict::Missing => conflict(
            "MissingEmail",
            MISSING_EMAIL_MESSAGE,
            "No email claim was sent.",
        ),
        Verdict::Refused(e) => conflict(
            "TestEmailRefused",
            TEST_EMAIL_MESSAGE,
            &format!("{e} starts with \"test\"."),
        ),
        Verdict::Accepted(e) => (StatusCode::OK, Json(json!({ "email": e }))).into_response(),
    }
}

/// API connector (`PostAttributeCollection`): 400 `ValidationError`, or `Continue` with the
/// normalised email.
pub async fn validate_connector(payload: Payload) -> Response {
    match judge(&payload) {
        Verdict::Missing => validation_error(MISSING_EMAIL_MESSAGE),
        Verdict::Refused(_) => validation_error(TEST_EMAIL_MESSAGE),
        Verdict::Accepted(e) => {
            let mut claims = Map::new();
            claims.insert("email".to_owned(), Value::from(e));
            continue_with(claims)
        }
    }
}
