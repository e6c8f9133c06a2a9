//! The authorization response: parameters for the app's redirect URI, delivered by query,
//! fragment or an auto-submitted form.

use serde::{Deserialize, Serialize};

use crate::authorize::{ResponseMode, ValidatedAuthorize};
use crate::error::{ErrorCode, b2c};

/// What the server sends back to the app after `/authorize`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationResponse {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    /// In order; for `form_post` they become hidden inputs.
    pub params: Vec<(String, String)>,
}

// Codes and tokens are secrets: never print them.
impl std::fmt::Debug for AuthorizationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let params: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| match k.as_str() {
                "code" | "id_token" | "access_token" => (k.as_str(), "…"),
                _ => (k.as_str(), v.as_str()),
            })
            .collect();
        f.debug_struct("AuthorizationResponse")
            .field("redirect_uri", &self.redirect_uri)
            .field("response_mode", &self.response_mode)
            .field("params", &params)
            .finish()
    }
}

impl AuthorizationResponse {
    pub(crate) fn error(
        redirect_uri: &str,
        response_mode: ResponseMode,
        error: ErrorCode,
        description: &str,
        state: Option<&str>,
    ) -> Self {
        let mut params = vec![
            ("error".to_owned(), error.as_str().to_owned()),
            ("error_description".to_owned(), description.to_owned()),
        ];
        if let Some(state) = state {
            params.push(("state".to_owned(), state.to_owned()));
        }
        AuthorizationResponse {
            redirect_uri: redirect_uri.to_owned(),
            response_mode,
            params,
        }
    }

    /// The value of a response parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn error_description(&self) -> Option<&str> {
        self.param("error_description")
    }

    /// The URL to redirect the browser to for `query` and `fragment`; `None` for `form_post`
    /// (render a form that posts [`Self::params`] to [`Self::redirect_uri`]).
    ///
    /// Built by string concatenation so the registered URI is kept byte for byte.
    pub fn redirect_url(&self) -> Option<String> {
        let base = self
            .redirect_uri
            .split_once('#')
            .map_or(self.redirect_uri.as_str(), |(b, _)| b);
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.params.iter())
            .finish();
        match self.response_mode {
            ResponseMode::Query => {
                let separator = if !base.contains('?') {
                    "?"
                } else if base.ends_with('?') || base.ends_with('&') {
                    ""
                } else {
                    "&"
                };
                Some(format!("{base}{separator}{encoded}"))
            }
            ResponseMode::Fragment => Some(format!("{base}#{encoded}")),
            ResponseMode::FormPost => None,
        }
    }
}

/// Ways a journey ends without tokens, sent back to the app's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JourneyError {
    /// The user pressed Cancel: `access_denied`, AADB2C90091.
    UserCancelled,
    /// "Forgot your password?" in the legacy mode: `access_denied`, AADB2C90118; the app starts
    /// its password-reset policy.
    ForgotPassword,
    /// `prompt=none` without an SSO session: `login_required`, AADB2C90077.
    LoginRequired,
    /// Anything else, with B2C's description (it should start with an `AADB2C9xxxx` code).
    Other {
        error: ErrorCode,
        description: String,
    },
}

/// The error response for a validated request (same redirect URI, mode and `state`).
pub(crate) fn journey_error(
    req: &ValidatedAuthorize,
    error: &JourneyError,
) -> AuthorizationResponse {
    let (code, description) = match error {
        JourneyError::UserCancelled => (ErrorCode::AccessDenied, b2c::USER_CANCELLED.to_owned()),
        JourneyError::ForgotPassword => (ErrorCode::AccessDenied, b2c::FORGOT_PASSWORD.to_owned()),
        JourneyError::LoginRequired => (ErrorCode::LoginRequired, b2c::login_required("none")),
        JourneyError::Other { error, description } => (*error, description.clone()),
    };
    AuthorizationResponse::error(
        &req.redirect_uri,
        req.response_mode,
        code,
        &description,
        req.state.as_deref(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn response(uri: &str, mode: ResponseMode) -> AuthorizationResponse {
        AuthorizationResponse {
            redirect_uri: uri.into(),
            response_mode: mode,
            params: vec![
                ("code".into(), "a b&c".into()),
                ("state".into(), "s=1".into()),
            ],
        }
    }

    #[test]
    fn query_and_fragment_urls() {
        assert_eq!(
            response("https://app.example/cb", ResponseMode::Query)
                .redirect_url()
                .unwrap(),
            "https://app.example/cb?code=a+b%26c&state=s%3D1"
        );
        assert_eq!(
            response("https://app.example/cb?x=1", ResponseMode::Query)
                .redirect_url()
                .unwrap(),
            "https://app.example/cb?x=1&code=a+b%26c&state=s%3D1"
        );
        assert_eq!(
            response("msal123://auth", ResponseMode::Fragment)
                .redirect_url()
                .unwrap(),
            "msal123://auth#code=a+b%26c&state=s%3D1"
        );
        assert!(
            response("https://app.example/cb", ResponseMode::FormPost)
                .redirect_url()
                .is_none()
        );
    }
}
