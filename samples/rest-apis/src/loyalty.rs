//! Loyalty number lookup for the token (API connector, `PreTokenIssuance`): each user (by
//! `objectId`, else email) keeps one number, assigned on first sight.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value};

use crate::SamplesState;
use crate::payload::{Payload, continue_with};

pub const FIRST_LOYALTY_NUMBER: u64 = 100_001;

pub async fn lookup(State(state): State<SamplesState>, payload: Payload) -> Response {
    let user = payload
        .text("objectId")
        .or_else(|| payload.text("email"))
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let Some(user) = user else {
        return continue_with(Map::new());
    };
    let number = number_for(&state, user);
    let mut claims = Map::new();
    // B2C accepts custom attributes with or without the extensions app id
    // (`add-api-connector-token-enrichment.md`).
    claims.insert("extension_loyaltyNumber".to_owned(), Value::from(number));
    continue_with(claims)
}

/// The user's loyalty number, assigned on first sight (also used by the contacts sample).
pub fn number_for(state: &SamplesState, user: &str) -> String {
    let mut numbers = crate::lock(&state.loyalty_numbers);
    let next = FIRST_LOYALTY_NUMBER + numbers.len() as u64;
    numbers
        .entry(user.to_owned())
        .or_insert_with(|| format!("LN{next}"))
        .clone()
}
