//! Profile enrichment (`add-api-connector-token-enrichment.md`): the balance of a user by
//! `objectId`; a user the back end does not know is registered with a starting balance of
//! `50.00`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::SamplesState;
use crate::payload::{Payload, conflict, continue_with};

pub const STARTING_BALANCE: &str = "50.00";

pub async fn get_profile(State(state): State<SamplesState>, payload: Payload) -> Response {
    let object_id = payload
        .text("objectId")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let Some(object_id) = object_id else {
        if payload.is_api_connector() {
            // Before the account exists (PostAttributeCollection) there is no objectId yet.
            return continue_with(Map::new());
        }
        let french = payload
            .0
            .get("lang")
            .map(|l| match l {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .is_some_and(|l| l == "1036" || l.to_ascii_lowercase().starts_with("fr"));
        let message = if french {
            "Votre profil est introuvable."
        } else {
            "We could not find your profile."
        };
        return conflict("MissingObjectId", message, "The request has no objectId.");
    };
    let balance = {
        let mut balances = crate::lock(&state.balances);
        balances
            .entry(object_id.to_owned())
            .or_insert_with(|| STARTING_BALANCE.to_owned())
            .clone()
    };
    if payload.is_api_connector() {
        let mut claims = Map::new();
        claims.insert("extension_balance".to_owned(), Value::from(balance));
        continue_with(claims)
    } else {
        (StatusCode::OK, Json(json!({ "balance": balance }))).into_response()
    }
}
