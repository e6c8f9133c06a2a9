//! `/authorize` request validation (`openid-connect.md`, `authorization-code-flow.md`).
//!
//! Order matters: until the client and its redirect URI are known good, errors are shown on a
//! page and never redirected (`error-codes.md`); after that, errors go back to the app.

use serde::{Deserialize, Serialize};

use crate::config::Application;
use crate::error::{ErrorCode, b2c};
use crate::params::Params;
use crate::response::AuthorizationResponse;
use crate::scope::{self, GrantedScopes};
use crate::secret;

/// The set of artifacts in `response_type` (space-separated, any order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseType {
    pub code: bool,
    pub id_token: bool,
    pub token: bool,
}

impl ResponseType {
    fn parse(value: &str) -> Option<ResponseType> {
        let mut rt = ResponseType {
            code: false,
            id_token: false,
            token: false,
        };
        for part in value.split_ascii_whitespace() {
            let slot = match part {
                "code" => &mut rt.code,
                "id_token" => &mut rt.id_token,
                "token" => &mut rt.token,
                _ => return None,
            };
            if *slot {
                return None;
            }
            *slot = true;
        }
        (rt.code || rt.id_token || rt.token).then_some(rt)
    }

    /// Something is returned from the front channel besides a code.
    pub fn is_implicit(self) -> bool {
        self.id_token || self.token
    }
}

/// How the authorization response reaches the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    fn parse(value: &str) -> Option<ResponseMode> {
        match value {
            "query" => Some(ResponseMode::Query),
            "fragment" => Some(ResponseMode::Fragment),
            "form_post" => Some(ResponseMode::FormPost),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::Fragment => "fragment",
            ResponseMode::FormPost => "form_post",
        }
    }
}

/// The `prompt` values B2C accepts (AADB2C90043 otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// No page may be shown: without an SSO session, answer `login_required` (AADB2C90077).
    None,
    /// Ignore the SSO session; ask for credentials.
    Login,
    Consent,
    SelectAccount,
}

impl Prompt {
    fn parse(value: &str) -> Option<Prompt> {
        match value {
            "none" => Some(Prompt::None),
            "login" => Some(Prompt::Login),
            "consent" => Some(Prompt::Consent),
            "select_account" => Some(Prompt::SelectAccount),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Prompt::None => "none",
            Prompt::Login => "login",
            Prompt::Consent => "consent",
            Prompt::SelectAccount => "select_account",
        }
    }
}

/// A valid authorization request: what the journey needs to know and what the response needs.
/// Serializable, so the server keeps it in the journey state until the user is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatedAuthorize {
    pub client_id: String,
    /// The registered URI the response goes to (exactly as registered).
    pub redirect_uri: String,
    /// Whether `redirect_uri` was in the request (then the token request must repeat it).
    pub redirect_uri_in_request: bool,
    pub response_type: ResponseType,
    pub response_mode: ResponseMode,
    pub scopes: GrantedScopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// S256 challenge (the only method accepted).
    pub code_challenge: Option<String>,
    /// Requested prompts (`prompt` may hold several, space-separated).
    pub prompt: Vec<Prompt>,
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
    pub domain_hint: Option<String>,
    pub ui_locales: Option<String>,
    /// MSAL's `client_info=1`: add `client_info` to responses.
    pub client_info: bool,
}

impl ValidatedAuthorize {
    pub fn has_prompt(&self, prompt: Prompt) -> bool {
        self.prompt.contains(&prompt)
    }
}

/// An `/authorize` request that cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizeError {
    /// The client or redirect URI is not trustworthy: show an error page, never redirect.
    #[error("{error}: {description}")]
    Page {
        error: ErrorCode,
        description: String,
    },
    /// Send the error back to the app's redirect URI (`error`, `error_description`, `state`).
    #[error("{}", .0.error_description().unwrap_or("authorization error"))]
    Redirect(AuthorizationResponse),
}

impl AuthorizeError {
    fn page(error: ErrorCode, description: impl Into<String>) -> Self {
        AuthorizeError::Page {
            error,
            description: description.into(),
        }
    }
}

/// Validates an authorization request against the registrations.
pub(crate) fn validate(
    apps: &[Application],
    tenant_id: &str,
    pairs: &[(String, String)],
) -> Result<ValidatedAuthorize, AuthorizeError> {
    let params = Params::new(pairs);

    // 1. Client and redirect URI: failures here are never redirected.
    if let Some(name) = params.first_repeated(&["client_id", "redirect_uri"]) {
        return Err(AuthorizeError::page(
            ErrorCode::InvalidRequest,
            format!("The parameter '{name}' is included more than once."),
        ));
    }
    let client_id = params
        .get("client_id")
        .ok_or_else(|| AuthorizeError::page(ErrorCode::InvalidRequest, b2c::NO_CLIENT_ID))?;
    let app = apps
        .iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
        .ok_or_else(|| {
            AuthorizeError::page(
                ErrorCode::UnauthorizedClient,
                b2c::client_not_registered(client_id, tenant_id),
            )
        })?;
    if app.redirect_uris.is_empty() {
        return Err(AuthorizeError::page(
            ErrorCode::InvalidRequest,
            b2c::no_redirect_uris(&app.client_id),
        ));
    }
    let (redirect_uri, redirect_uri_in_request) = match params.get("redirect_uri") {
        Some(uri) => {
            let registered = app
                .redirect_uris
                .iter()
                .find(|r| r.as_str() == uri)
                .ok_or_else(|| {
                    AuthorizeError::page(
                        ErrorCode::InvalidRequest,
                        b2c::redirect_not_registered(uri, &app.client_id),
                    )
                })?;
            (registered.clone(), true)
        }
        // Optional in B2C: with a single registered URI there is nothing to choose.
        None => match app.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            _ => {
                return Err(AuthorizeError::page(
                    ErrorCode::InvalidRequest,
                    b2c::missing_parameter("redirect_uri"),
                ));
            }
        },
    };

    // 2. From here on, errors go back to the app.
    let state = params.get("state").map(str::to_owned);
    let response_type_raw = params.get("response_type").unwrap_or_default();
    let fail = |mode: ResponseMode, error: ErrorCode, description: String| {
        AuthorizeError::Redirect(AuthorizationResponse::error(
            &redirect_uri,
            mode,
            error,
            &description,
            state.as_deref(),
        ))
    };

    let Some(response_type) = ResponseType::parse(response_type_raw) else {
        return Err(fail(
            ResponseMode::Query,
            ErrorCode::UnsupportedResponseType,
            if response_type_raw.is_empty() {
                b2c::missing_parameter("response_type")
            } else {
                b2c::response_type_unsupported(response_type_raw)
            },
        ));
    };
    let default_mode = if response_type.is_implicit() {
        ResponseMode::Fragment
    } else {
        ResponseMode::Query
    };
    let response_mode = match params.get("response_mode") {
        None => default_mode,
        Some(raw) => match ResponseMode::parse(raw) {
            // Tokens never go in a query string (OAuth 2.0 Multiple Response Types §5).
            Some(ResponseMode::Query) if response_type.is_implicit() => {
                return Err(fail(
                    default_mode,
                    ErrorCode::InvalidRequest,
                    b2c::response_mode_unsupported(raw),
                ));
            }
            Some(mode) => mode,
            None => {
                return Err(fail(
                    default_mode,
                    ErrorCode::InvalidRequest,
                    b2c::response_mode_unsupported(raw),
                ));
            }
        },
    };
    let fail = |error: ErrorCode, description: String| fail(response_mode, error, description);

    if let Some(name) = params.first_repeated(&[
        "response_type",
        "response_mode",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "prompt",
    ]) {
        return Err(fail(
            ErrorCode::InvalidRequest,
            format!("The parameter '{name}' is included more than once."),
        ));
    }

    if (response_type.id_token && !app.allow_implicit_id_token)
        || (response_type.token && !app.allow_implicit_access_token)
    {
        return Err(fail(
            ErrorCode::UnauthorizedClient,
            b2c::IMPLICIT_NOT_ALLOWED.into(),
        ));
    }

    let scope_param = params.get("scope").unwrap_or_default();
    if scope_param.trim().is_empty() {
        return Err(fail(ErrorCode::InvalidRequest, b2c::NO_SCOPE.into()));
    }
    let scopes = scope::resolve(apps, app, scope_param).map_err(|e| fail(e.code, e.description))?;
    if response_type.id_token && !scopes.openid {
        return Err(fail(
            ErrorCode::InvalidRequest,
            b2c::OPENID_REQUIRED_FOR_ID_TOKEN.into(),
        ));
    }
    if response_type.token && scopes.resource.is_none() {
        return Err(fail(
            ErrorCode::InvalidRequest,
            b2c::TOKEN_NEEDS_RESOURCE.into(),
        ));
    }
    if response_type.code && !scopes.openid && scopes.resource.is_none() {
        return Err(fail(
            ErrorCode::InvalidRequest,
            b2c::CODE_NEEDS_SCOPE.into(),
        ));
    }

    let nonce = params.get("nonce").map(str::to_owned);
    // An ID token in the front channel must be bound to the request (OIDC Core §3.2.2.1).
    if response_type.id_token && nonce.is_none() {
        return Err(fail(
            ErrorCode::InvalidRequest,
            b2c::missing_parameter("nonce"),
        ));
    }

    let code_challenge = match params.get("code_challenge") {
        None if params.get("code_challenge_method").is_some() => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                b2c::missing_parameter("code_challenge"),
            ));
        }
        None => None,
        Some(challenge) => {
            // B2C assumes `plain` when the method is absent and accepts it; we accept S256 only.
            if params.get("code_challenge_method") != Some("S256") {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    b2c::CHALLENGE_METHOD_UNSUPPORTED.into(),
                ));
            }
            if !secret::is_valid_s256_challenge(challenge) {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "The supplied code_challenge is invalid: an S256 challenge is 43 base64url characters.".into(),
                ));
            }
            Some(challenge.to_owned())
        }
    };
    if response_type.code && app.is_public() && code_challenge.is_none() {
        return Err(fail(
            ErrorCode::InvalidRequest,
            b2c::CODE_CHALLENGE_REQUIRED.into(),
        ));
    }

    let mut prompt = Vec::new();
    if let Some(raw) = params.get("prompt") {
        for value in raw.split_ascii_whitespace() {
            let p = Prompt::parse(value)
                .ok_or_else(|| fail(ErrorCode::InvalidRequest, b2c::INVALID_PROMPT.into()))?;
            if !prompt.contains(&p) {
                prompt.push(p);
            }
        }
        if prompt.contains(&Prompt::None) && prompt.len() > 1 {
            return Err(fail(ErrorCode::InvalidRequest, b2c::INVALID_PROMPT.into()));
        }
    }

    let max_age = match params.get("max_age") {
        None => None,
        Some(raw) => Some(
            raw.parse::<u64>()
                .ok()
                .filter(|v| *v <= i32::MAX as u64)
                .ok_or_else(|| fail(ErrorCode::InvalidRequest, b2c::invalid_max_age(raw)))?,
        ),
    };

    Ok(ValidatedAuthorize {
        client_id: app.client_id.clone(),
        redirect_uri,
        redirect_uri_in_request,
        response_type,
        response_mode,
        scopes,
        state,
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_owned),
        domain_hint: params.get("domain_hint").map(str::to_owned),
        ui_locales: params.get("ui_locales").map(str::to_owned),
        client_info: params.get("client_info") == Some("1"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn response_types() {
        let rt = ResponseType::parse("id_token code").unwrap();
        assert!(rt.code && rt.id_token && !rt.token);
        assert!(ResponseType::parse("code code").is_none());
        assert!(ResponseType::parse("none").is_none());
        assert!(ResponseType::parse("").is_none());
        assert!(ResponseType::parse("token id_token").unwrap().is_implicit());
    }
}
