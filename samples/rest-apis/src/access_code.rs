//! Access-code validation (`custom-policies-series-call-rest-api.md`): `88888` is the one
//! valid code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Map;

use crate::payload::{Payload, conflict, continue_with, validation_error};

pub const VALID_ACCESS_CODE: &str = "88888";
pub const INVALID_MESSAGE: &str = "Invalid access code. Please try again.";

pub async fn validate(payload: Payload) -> Response {
    let code = payload.attribute("accessCode").map(str::trim);
    let valid = code == Some(VALID_ACCESS_CODE);
    match (payload.is_api_connector(), valid) {
        (false, true) => StatusCode::OK.into_response(),
        (false, false) => conflict(
            "InvalidAccessCode",
            INVALID_MESSAGE,
            &match code {
                Some(c) => format!("The access code {c:?} does not match the expected code."),
                None => "The request has no accessCode.".to_owned(),
            },
        ),
        (true, true) => continue_with(Map::new()),
        (true, false) => validation_error(INVALID_MESSAGE),
    }
}
