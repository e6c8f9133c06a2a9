//! What one exchange ends in: the engine's view of a REST call.

use std::fmt;

use trustframe_policy::{ClaimTypeId, ClaimValues};

/// The result of one REST claims exchange, after retries.
#[derive(Debug, Clone, PartialEq)]
pub enum ExchangeOutcome {
    /// The API accepted the call. `claims` are the output claims, typed per the claims schema
    /// (with their `DefaultValue`s); `cleared` are the claims the API sent as `null`, which leave
    /// the claim without a value (`api-connectors-overview.md`).
    Continue {
        claims: ClaimValues,
        cleared: Vec<ClaimTypeId>,
    },
    /// The user must correct their input: a RESTful profile's HTTP 409 or an API connector's
    /// `ValidationError` (HTTP 400). `user_message` is the API's text, raw: it may hold markup,
    /// and escaping it is the page renderer's job. `developer_message` only with `DebugMode`.
    ValidationError {
        user_message: String,
        developer_message: Option<String>,
        code: Option<String>,
    },
    /// An API connector's `ShowBlockPage`: the user sees the message and cannot continue.
    Block { user_message: String },
    /// The call failed; `user_message` is the profile's message for this failure (or ours).
    Failed {
        user_message: String,
        reason: FailureReason,
    },
}

impl ExchangeOutcome {
    /// The audit spelling: `continue`, `validation_error`, `block`, `failed:<reason>`.
    pub fn audit_name(&self) -> String {
        match self {
            Self::Continue { .. } => "continue".to_owned(),
            Self::ValidationError { .. } => "validation_error".to_owned(),
            Self::Block { .. } => "block".to_owned(),
            Self::Failed { reason, .. } => format!("failed:{}", reason.label()),
        }
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    /// No complete answer within `TimeoutSeconds` on the last try.
    Timeout,
    /// The host name did not resolve.
    Dns,
    /// The connection could not be made or broke (including TLS failures).
    Connect,
    /// An HTTP status the contract gives no meaning to (401, 404, 500, …).
    Status(u16),
    /// The body does not follow the contract: not JSON, no `version`, an unknown action, or a
    /// value that does not fit its claim's data type. The text says which.
    MalformedResponse(String),
    /// The body is larger than `MaxResponseBytes`.
    TooLarge,
    /// A 3xx: redirects are never followed (ours: `docs/trustframe.toml` `[outbound]`).
    Redirect,
    /// Plain HTTP, or `AuthenticationType` `None`, outside development without
    /// `AllowInsecureAuthInProduction`.
    InsecureRefused,
    /// Our side of authentication failed (the OAuth2 token endpoint refused or did not answer).
    Auth(String),
    /// An API-connector action the step does not allow (`ShowBlockPage` at `PreTokenIssuance`, …).
    ActionNotAllowed,
    /// The circuit to this API is open after repeated failures: no call was made
    /// (`UserMessageIfCircuitOpen`).
    CircuitOpen,
}

impl FailureReason {
    /// A short, stable label for audit records and metrics.
    pub fn label(&self) -> String {
        match self {
            Self::Timeout => "timeout".to_owned(),
            Self::Dns => "dns".to_owned(),
            Self::Connect => "connect".to_owned(),
            Self::Status(s) => format!("status_{s}"),
            Self::MalformedResponse(_) => "malformed_response".to_owned(),
            Self::TooLarge => "too_large".to_owned(),
            Self::Redirect => "redirect".to_owned(),
            Self::InsecureRefused => "insecure_refused".to_owned(),
            Self::Auth(_) => "auth".to_owned(),
            Self::ActionNotAllowed => "action_not_allowed".to_owned(),
            Self::CircuitOpen => "circuit_open".to_owned(),
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("the API did not answer in time"),
            Self::Dns => f.write_str("the API's host name did not resolve"),
            Self::Connect => f.write_str("the connection to the API failed"),
            Self::Status(s) => write!(f, "the API answered HTTP {s}"),
            Self::MalformedResponse(why) => write!(f, "malformed response: {why}"),
            Self::TooLarge => f.write_str("the response is larger than MaxResponseBytes"),
            Self::Redirect => {
                f.write_str("the API answered with a redirect, which is not followed")
            }
            Self::InsecureRefused => f.write_str(
                "plain HTTP or AuthenticationType None refused outside development \
                 (set AllowInsecureAuthInProduction to allow)",
            ),
            Self::Auth(why) => write!(f, "authentication failed: {why}"),
            Self::ActionNotAllowed => f.write_str("the action is not allowed at this step"),
            Self::CircuitOpen => f.write_str(
                "the circuit to the API is open after repeated failures; no call was made",
            ),
        }
    }
}
