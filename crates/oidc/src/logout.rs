//! `/logout` (`openid-connect.md`, "Send a sign-out request").
//!
//! B2C redirects to any `post_logout_redirect_uri` unless an `id_token_hint` is sent. We are
//! stricter, to avoid an open redirect: the URI must be one of the registered redirect or
//! post-logout URIs (exact match) of the app named by `client_id` or a valid `id_token_hint`,
//! or, when neither names one, of some app of the tenant. Without a `post_logout_redirect_uri`,
//! the server shows a signed-out page.
//!
//! A request without a valid `id_token_hint` (none, a bad signature, another issuer) is not
//! refused but marked [`LogoutOutcome::confirm`]: the server asks the user before ending the
//! session (OpenID Connect RP-Initiated Logout 1.0 §2: "the OP MUST ask the End-User" when no
//! valid ID token of the session is sent), so a link on another site cannot sign anyone out.

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
    /// No valid `id_token_hint` was sent: ask the user before ending the session.
    pub confirm: bool,
}

/// A logout request that cannot be honoured; shown on a page, never redirected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutError {
    #[error("{}", b2c::client_not_registered(.client_id, .tenant_id))]
    UnknownClient {
        client_id: String,
        tenant_id: String,
    },
    #[error("The client_id '{client_id}' does not match the audience of the id_token_hint.")]
    ClientMismatch { client_id: String },
    #[error("{}", b2c::post_logout_uri_invalid(.0))]
    MalformedRedirectUri(String),
    #[error(
        "The post logout redirect URI '{uri}' is not registered for any application of this tenant."
    )]
    NotRegisteredForTenant { uri: String },
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
    // An invalid hint is no hint: the user is asked, as when none is sent.
    let hint = params
        .get("id_token_hint")
        .and_then(|token| verify_hint(key_for, issuer, token));
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
            let registered = |app: &Application| {
                app.post_logout_redirect_uris
                    .iter()
                    .chain(app.redirect_uris.iter())
                    .any(|r| r == uri)
            };
            match app {
                Some(app) if !registered(app) => {
                    return Err(LogoutError::NotRegistered {
                        uri: uri.to_owned(),
                        client_id: app.client_id.clone(),
                    });
                }
                // No app named: the URI must be one some app of the tenant registered, so the
                // sign-out never redirects to a stranger's site.
                None if !apps.iter().any(registered) => {
                    return Err(LogoutError::NotRegisteredForTenant {
                        uri: uri.to_owned(),
                    });
                }
                _ => {}
            }
            Some(with_state(uri, params.get("state")))
        }
    };
    Ok(LogoutOutcome {
        client_id: app.map(|a| a.client_id.clone()),
        redirect_url,
        confirm: hint.is_none(),
        hinted_subject: hint.and_then(|(_, sub)| sub),
    })
}

/// Checks the signature and issuer of one of our ID tokens; expiry is not checked (apps send
/// the last ID token they have, often expired). Returns (aud, sub), or `None` when the token is
/// not a valid ID token of ours.
fn verify_hint(
    key_for: &dyn Fn(&str) -> Option<DecodingKey>,
    issuer: &str,
    token: &str,
) -> Option<(String, Option<String>)> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let key = key_for(&header.kid?)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    validation.set_issuer(&[issuer]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).ok()?;
    let aud = data.claims["aud"].as_str()?.to_owned();
    let sub = data.claims["sub"].as_str().map(str::to_owned);
    Some((aud, sub))
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
