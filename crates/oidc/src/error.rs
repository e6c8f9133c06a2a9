//! Error types: internal failures ([`OidcError`]) and the OAuth error codes sent to apps.

use trustframe_store::StoreError;

/// Failures that are not the client's fault: storage, keys, corrupt stored grants.
/// Their detail is for logs; apps only ever see `server_error` (`error-codes.md`).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("signing key: {0}")]
    Key(String),
    #[error("signing key: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("serializing token claims: {0}")]
    Claims(#[source] serde_json::Error),
    #[error("stored grant is unreadable: {0}")]
    CorruptGrant(#[source] serde_json::Error),
    #[error("random number generator failed")]
    Random,
    #[error("configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Config(Vec<crate::config::ConfigError>),
    #[error("background task failed: {0}")]
    Task(String),
}

/// The `error` values of OAuth 2.0 / OpenID Connect responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    LoginRequired,
    InteractionRequired,
    ServerError,
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// B2C's messages (`error-codes.md`), so apps that match on `AADB2C9xxxx` keep working.
pub(crate) mod b2c {
    pub fn redirect_not_registered(uri: &str, client_id: &str) -> String {
        format!(
            "AADB2C90006: The redirect URI '{uri}' provided in the request is not registered for the client ID '{client_id}'."
        )
    }
    pub fn no_redirect_uris(client_id: &str) -> String {
        format!(
            "AADB2C90007: The application associated with client ID '{client_id}' has no registered redirect URIs."
        )
    }
    pub const NO_CLIENT_ID: &str =
        "AADB2C90008: The request does not contain a client ID parameter.";
    pub const NO_SCOPE: &str = "AADB2C90010: The request does not contain a scope parameter.";
    pub fn response_type_unsupported(rt: &str) -> String {
        format!(
            "AADB2C90013: The requested response type '{rt}' provided in the request is not supported."
        )
    }
    pub fn response_mode_unsupported(rm: &str) -> String {
        format!(
            "AADB2C90014: The requested response mode '{rm}' provided in the request is not supported."
        )
    }
    pub fn client_not_registered(client_id: &str, tenant: &str) -> String {
        format!(
            "AADB2C90018: The client ID '{client_id}' specified in the request is not registered in tenant '{tenant}'."
        )
    }
    pub const INVALID_PROMPT: &str = "AADB2C90043: The prompt included in the request contains invalid values. Expected 'none', 'login', 'consent' or 'select_account'.";
    pub fn scope_needs_resource(scope: &str) -> String {
        format!(
            "AADB2C90055: The scope '{scope}' provided in request must specify a resource, such as 'https://example.com/calendar.read'."
        )
    }
    pub const IMPLICIT_NOT_ALLOWED: &str =
        "AADB2C90057: The provided application is not configured to allow the OAuth Implicit flow.";
    pub const CODE_CHALLENGE_REQUIRED: &str = "AADB2C99059: The supplied request must present a code_challenge. Required for single-page apps using the authorization code flow.";
    pub fn post_logout_uri_invalid(uri: &str) -> String {
        format!(
            "AADB2C90067: The post logout redirect URI '{uri}' has an invalid format. Specify an https based URL such as 'https://example.com/return' or for native clients use the IETF native client URI 'urn:ietf:wg:oauth:2.0:oob'."
        )
    }
    pub fn login_required(prompt: &str) -> String {
        format!(
            "AADB2C90077: User does not have an existing session and request prompt parameter has a value of '{prompt}'."
        )
    }
    pub const SECRET_REQUIRED: &str =
        "AADB2C90079: Clients must send a client_secret when redeeming a confidential grant.";
    pub fn grant_expired(now: i64, issued: i64, window_end: i64) -> String {
        format!(
            "AADB2C90080: The provided grant has expired. Please re-authenticate and try again. Current time: {now}, Grant issued time: {issued}, Grant sliding window expiration time: {window_end}."
        )
    }
    pub const GRANT_EXPIRED_SHORT: &str =
        "AADB2C90080: The provided grant has expired. Please re-authenticate and try again.";
    // B2C documents no code for this: ours has none, so no app mistakes it for a B2C one.
    pub const CLIENT_LOCKED: &str = "Too many failed client authentications for this client ID. Wait for the time given in Retry-After, then try again.";
    pub const SECRET_MISMATCH: &str = "AADB2C90081: The specified client_secret does not match the expected value for this client. Please correct the client_secret and try again.";
    pub fn missing_parameter(name: &str) -> String {
        format!("AADB2C90083: The request is missing required parameter: {name}.")
    }
    pub const PUBLIC_CLIENT_SECRET: &str = "AADB2C90084: Public clients should not send a client_secret when redeeming a publicly acquired grant.";
    pub const INTERNAL: &str = "AADB2C90085: The service has encountered an internal error. Please reauthenticate and try again.";
    pub fn grant_type_unsupported(gt: &str) -> String {
        format!("AADB2C90086: The supplied grant_type [{gt}] is not supported.")
    }
    pub fn wrong_endpoint(actual: &str, expected: &str) -> String {
        format!(
            "AADB2C90088: The provided grant has not been issued for this endpoint. Actual Value : {actual} and Expected Value : {expected}"
        )
    }
    pub const USER_CANCELLED: &str =
        "AADB2C90091: The user has cancelled entering self-asserted information.";
    pub const OPENID_REQUIRED_FOR_ID_TOKEN: &str = "AADB2C90110: The scope parameter must include 'openid' when requesting a response_type that includes 'id_token'.";
    pub const CODE_NEEDS_SCOPE: &str = "AADB2C90115: When requesting the 'code' response_type, the scope parameter must include a resource or client ID for access tokens, and 'openid' for ID tokens. Additionally include 'offline_access' for refresh tokens.";
    pub const TOKEN_NEEDS_RESOURCE: &str = "AADB2C90115: When requesting the 'token' response_type, the scope parameter must include a resource or client ID for access tokens.";
    pub fn scope_unsupported(scope: &str) -> String {
        format!("AADB2C90117: The scope '{scope}' provided in the request is not supported.")
    }
    pub fn scope_not_granted(scope: &str) -> String {
        format!(
            "AADB2C90117: The scope '{scope}' provided in the request is not supported: it is not part of the grant the refresh token was issued for."
        )
    }
    pub const FORGOT_PASSWORD: &str = "AADB2C90118: The user has forgotten their password.";
    pub fn invalid_max_age(value: &str) -> String {
        format!(
            "AADB2C90120: The max age parameter '{value}' specified in the request is invalid. Max age must be an integer between '0' and '{}' inclusive.",
            i32::MAX
        )
    }
    pub const GRANT_REVOKED: &str =
        "AADB2C90129: The provided grant has been revoked. Please reauthenticate and try again.";
    pub fn multiple_resources(scope: &str) -> String {
        format!(
            "AADB2C90146: The scope '{scope}' provided in request specifies more than one resource for an access token, which is not supported."
        )
    }
    pub const VERIFIER_MISMATCH: &str =
        "AADB2C90182: The supplied code_verifier does not match associated code_challenge";
    pub const VERIFIER_INVALID: &str = "AADB2C90183: The supplied code_verifier is invalid";
    // B2C accepts plain too; we accept only S256 (RFC 9700 §2.1.1), so the message says so.
    pub const CHALLENGE_METHOD_UNSUPPORTED: &str =
        "AADB2C90184: The supplied code_challenge_method is not supported. Supported value is S256";
    pub const INSUFFICIENT_PERMISSIONS: &str = "AADB2C90205: This application does not have sufficient permissions against this web resource to perform the operation.";
    pub fn client_mismatch(client_id: &str) -> String {
        format!(
            "AADB2C90279: The provided client ID '{client_id}' does not match the client ID that issued the grant."
        )
    }
}
