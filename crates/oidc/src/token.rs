//! Token endpoint types: the response B2C sends, its errors, and client credentials.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, OidcError, b2c};

/// A successful token response, with B2C's members (`access-tokens.md`, `tokens-overview.md`).
/// Numbers are JSON numbers, as B2C sends them today.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    pub token_type: String,
    /// Seconds the access token is valid (with an access token only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    /// Unix time the access token expires (with an access token only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<i64>,
    /// The access token's audience (with an access token only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub not_before: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_expires_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_in: Option<i64>,
    pub scope: String,
    /// base64url JSON `{"ver":"1.0","tid":…,"sub":null,"name":…,"preferred_username":null,"idp":…}`.
    pub profile_info: String,
    /// base64url JSON `{"uid":"{oid}-{policy}","utid":"{tenant id}"}`, when `client_info=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_info: Option<String>,
}

// Tokens are secrets: never print them.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token.as_ref().map(|_| "…"))
            .field("id_token", &self.id_token.as_ref().map(|_| "…"))
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .field("expires_in", &self.expires_in)
            .field("resource", &self.resource)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A token request that fails. Render with [`TokenError::status`] and [`TokenError::body`].
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The client's fault: 400, or 401 for `invalid_client`.
    #[error("{error}: {description}")]
    Rejected {
        error: ErrorCode,
        description: String,
    },
    /// Too many wrong client secrets for this client id: 429 `invalid_client` with
    /// `Retry-After`, even for the right secret, until the lockout ends.
    #[error("invalid_client: client authentication locked for {retry_after} s")]
    Throttled { retry_after: i64 },
    /// Ours (storage, keys): 500 `server_error`; the detail is for logs only.
    #[error("internal error: {0}")]
    Internal(#[from] OidcError),
}

/// The JSON body of an error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub error_description: String,
}

impl TokenError {
    pub(crate) fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        TokenError::Rejected {
            error,
            description: description.into(),
        }
    }

    pub fn error(&self) -> ErrorCode {
        match self {
            TokenError::Rejected { error, .. } => *error,
            TokenError::Throttled { .. } => ErrorCode::InvalidClient,
            TokenError::Internal(_) => ErrorCode::ServerError,
        }
    }

    pub fn description(&self) -> &str {
        match self {
            TokenError::Rejected { description, .. } => description,
            TokenError::Throttled { .. } => b2c::CLIENT_LOCKED,
            TokenError::Internal(_) => b2c::INTERNAL,
        }
    }

    /// Seconds until a throttled client may authenticate again (send it as `Retry-After`).
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            TokenError::Throttled { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// HTTP status: 401 for `invalid_client` (send `WWW-Authenticate: Basic` if the client used
    /// Basic), 429 while the client is throttled, 500 for internal errors, 400 otherwise.
    pub fn status(&self) -> u16 {
        if matches!(self, TokenError::Throttled { .. }) {
            return 429;
        }
        match self.error() {
            ErrorCode::InvalidClient => 401,
            ErrorCode::ServerError => 500,
            _ => 400,
        }
    }

    /// `{"error": "...", "error_description": "AADB2C9xxxx: ..."}`.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.error().as_str().to_owned(),
            error_description: self.description().to_owned(),
        }
    }
}

/// Client credentials from an `Authorization: Basic …` header value (RFC 6749 §2.3.1: both
/// parts are form-urlencoded before base64). `None` if it is not a well-formed Basic header.
pub fn parse_basic_auth(header_value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header_value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

fn form_decode(value: &str) -> Option<String> {
    let plus_as_space = value.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_form_decoded() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%20app:p%3As+x")
        );
        assert_eq!(
            parse_basic_auth(&header),
            Some(("my app".to_owned(), "p:s x".to_owned()))
        );
        assert_eq!(parse_basic_auth("Bearer abc"), None);
        assert_eq!(parse_basic_auth("Basic !!!"), None);
    }

    #[test]
    fn error_rendering() {
        let e = TokenError::new(ErrorCode::InvalidClient, b2c::SECRET_MISMATCH);
        assert_eq!(e.status(), 401);
        let body = serde_json::to_value(e.body()).unwrap();
        assert_eq!(body["error"], "invalid_client");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with("AADB2C90081")
        );
        let e = TokenError::Internal(OidcError::Random);
        assert_eq!(e.status(), 500);
        assert!(e.description().starts_with("AADB2C90085"));
    }
}
