//! Claim processing (API connector, `PostAttributeCollection`): names typed all lower or all
//! upper case come back with only the first letter of each part capitalised.

use axum::response::Response;
use serde_json::{Map, Value};

use crate::payload::{Payload, continue_with};

/// `"jEAN-luc o'NEIL"` → `"Jean-Luc O'neil"`: each part after a space or hyphen gets a capital
/// initial and lower-case rest.
pub fn capitalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut start = true;
    for c in name.trim().chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = c == ' ' || c == '-';
    }
    out
}

pub async fn capitalize(payload: Payload) -> Response {
    let mut claims = Map::new();
    for key in ["givenName", "surname"] {
        if let Some(name) = payload.text(key).filter(|n| !n.trim().is_empty()) {
            claims.insert(key.to_owned(), Value::from(capitalise(name)));
        }
    }
    continue_with(claims)
}
