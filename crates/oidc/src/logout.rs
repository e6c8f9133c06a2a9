//! `/logout` (`openid-connect.md`, "Send a sign-out request").
//!
//! B2C redirects to any `post_logout_redirect_uri` unless an `id_token_hint` is sent. We are
//! stricter, to avoid an open redirect: the app must be known (from `client_id` or a valid
//! `id_token_hint`) and the URI must be one of its registered redirect or post-logout URIs
//! (exact match). Without a `post_logout_redirect_uri`, the server shows a signed-out page.

use std::collections::HashSet;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::config::Application;
use crate::error::b2c;
use crate::params::Params;

/// Where to go once the server has ended the SSO session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutOutcome {
    /// The app that asked, when it could be identified.
    pub client_id: Option<String>,
    /// `post_logout_redirect_uri` with `state` appended; `None`: show a signed-out page.
    pub redirect_url: Option<String>,
    /// The `sub` of a valid `id_token_hint` (the user the app believes is signed in).
    pub hinted_subject: Option<String>,
}

/// A logout request that cannot be honoured; shown on a page, never redirected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutError {
    #[error("{}", b2c::client_not_registered(.client_id, .tenant_id))]
    UnknownClient {
        client_id: String,
        tenant_id: String,
    },
    #[error("{}", b2c::ID_TOKEN_HINT_INVALID)]
    InvalidIdTokenHint,
    #[error("The client_id '{client_id}' does not match the audience of the id_token_hint.")]
    ClientMismatch { client_id: String },
    #[error("{}", b2c::post_logout_uri_invalid(.0))]
    MalformedRedirectUri(String),
    #[error(
        "A post_logout_redirect_uri needs the client_id or an id_token_hint to be checked against the application's registered URIs."
    )]
    ClientRequired,
    #[error(
        "The post logout redirect URI '{uri}' is not registered for the client ID '{client_id}'."
    )]
    NotRegistered { uri: String, client_id: String },
}

/// `key_for` finds the verification key of a `kid` (any key the tenant publishes).
pub(crate) fn logout(
    apps: &[Application],
    key_for: &dyn Fn(&str) -> Option<DecodingKey>,
    issuer: &str,
    tenant_id: &str,
    pairs: &[(String, String)],
) -> Result<LogoutOutcome, LogoutError> {
    let params = Params::new(pairs);
    let hint = match params.get("id_token_hint") {
        Some(token) => Some(verify_hint(key_for, issuer, token)?),
        None => None,
    };
    let client_id = match (params.get("client_id"), &hint) {
        (Some(id), Some((aud, _))) if !aud.eq_ignore_ascii_case(id) => {
            return Err(LogoutError::ClientMismatch {
                client_id: id.to_owned(),
            });
        }
        (Some(id), _) => Some(id.to_owned()),
        (None, Some((aud, _))) => Some(aud.clone()),
        (None, None) => None,
    };
    let app = match &client_id {
        Some(id) => Some(
            apps.iter()
                .find(|a| a.client_id.eq_ignore_ascii_case(id))
                .ok_or_else(|| LogoutError::UnknownClient {
                    client_id: id.clone(),
                    tenant_id: tenant_id.to_owned(),
                })?,
        ),
        None => None,
    };
    let redirect_url = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            if url::Url::parse(uri).is_err() {
                return Err(LogoutError::MalformedRedirectUri(uri.to_owned()));
            }
            let app = app.ok_or(LogoutError::ClientRequired)?;
            let registered = app
                .post_logout_redirect_uris
                .iter()
                .chain(app.redirect_uris.iter())
                .any(|r| r == uri);
            if !registered {
                return Err(LogoutError::NotRegistered {
                    uri: uri.to_owned(),
                    client_id: app.client_id.clone(),
                });
            }
            Some(with_state(uri, params.get("state")))
        }
    };
    Ok(LogoutOutcome {
        client_id: app.map(|a| a.client_id.clone()),
        redirect_url,
        hinted_subject: hint.and_then(|(_, sub)| sub),
    })
}

/// Checks the signature and issuer of one of our ID tokens; expiry is not checked (apps send
/// the last ID token they have, often expired). Returns (aud, sub).
fn verify_hint(
    key_for: &dyn Fn(&str) -> Option<DecodingKey>,
    issuer: &str,
    token: &str,
) -> Result<(String, Option<String>), LogoutError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| LogoutError::InvalidIdTokenHint)?;
    let kid = header.kid.ok_or(LogoutError::InvalidIdTokenHint)?;
    let key = key_for(&kid).ok_or(LogoutError::InvalidIdTokenHint)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    validation.set_issuer(&[issuer]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|_| LogoutError::InvalidIdTokenHint)?;
    let aud = match &data.claims["aud"] {
        Value::String(aud) => aud.clone(),
        _ => return Err(LogoutError::InvalidIdTokenHint),
    };
    let sub = data.claims["sub"].as_str().map(str::to_owned);
    Ok((aud, sub))
}

fn with_state(uri: &str, state: Option<&str>) -> String {
    let Some(state) = state else {
        return uri.to_owned();
    };
    let (base, fragment) = match uri.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (uri, None),
    };
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("state", state)
        .finish();
    let separator = if base.contains('?') { "&" } else { "?" };
    match fragment {
        Some(f) => format!("{base}{separator}{encoded}#{f}"),
        None => format!("{base}{separator}{encoded}"),
    }
}
