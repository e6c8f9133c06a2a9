//! The built-in token viewer (like jwt.ms): decodes the `id_token` it receives (fragment or
//! form_post) and checks its signature against the issuing tenant's published keys.

use axum::extract::RawForm;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::State;
use crate::AppState;

pub async fn show(state: State) -> Response {
    state.pages.render(
        StatusCode::OK,
        "token_viewer.html",
        minijinja::context! { title => "Token viewer", wide => true, home => "/" },
    )
}

fn decode_part(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Checks the signature with the key of the tenant whose issuer signed it.
fn verify(
    state: &AppState,
    token: &str,
    header: &Value,
    claims: &Value,
) -> Result<(String, String), String> {
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or("the token has no issuer (iss)")?;
    let tenant = state
        .tenants
        .iter()
        .find(|t| t.oidc.issuer() == issuer)
        .ok_or_else(|| format!("the issuer '{issuer}' is not a tenant of this server"))?;
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or("the token's header has no key id (kid)")?;
    let jwks = tenant.oidc.jwks();
    let key = jwks
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| format!("no published key has kid '{kid}'"))?;
    let decoding = DecodingKey::from_rsa_components(&key.n, &key.e).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_issuer(&[issuer]);
    jsonwebtoken::decode::<Value>(token, &decoding, &validation).map_err(|e| e.to_string())?;
    Ok((kid.to_owned(), issuer.to_owned()))
}

pub async fn receive(state: State, RawForm(body): RawForm) -> Response {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or_default();
        return state.pages.render(
            StatusCode::OK,
            "token_viewer.html",
            minijinja::context! { title => "Token viewer", wide => true, home => "/", error, error_description => description },
        );
    }
    let Some(token) = get("id_token").or_else(|| get("access_token")) else {
        return state.pages.render(
            StatusCode::OK,
            "token_viewer.html",
            minijinja::context! { title => "Token viewer", wide => true, home => "/" },
        );
    };
    let parts: Vec<&str> = token.split('.').collect();
    let (header, claims) = match parts.as_slice() {
        [h, c, _] => match (decode_part(h), decode_part(c)) {
            (Some(h), Some(c)) => (h, c),
            _ => {
                return state.pages.error(
                    StatusCode::BAD_REQUEST,
                    "The token is not a JWT (its header or claims are not base64url JSON).",
                );
            }
        },
        _ => {
            return state.pages.error(
                StatusCode::BAD_REQUEST,
                "The token is not a JWT (it must have three parts).",
            );
        }
    };
    let verified = verify(&state, &token, &header, &claims);
    let rows: Vec<(String, String)> = match &claims {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    let header_text = serde_json::to_string_pretty(&header).unwrap_or_default();
    let (kid, issuer, verify_error) = match verified {
        Ok((kid, issuer)) => (Some(kid), Some(issuer), None),
        Err(e) => (None, None, Some(e)),
    };
    state.pages.render(
        StatusCode::OK,
        "token_viewer.html",
        minijinja::context! {
            title => "Token viewer", wide => true, home => "/",
            token, claims => rows, header => header_text,
            verified => verify_error.is_none(), kid, issuer, verify_error,
        },
    )
}
