//! The two error types: [`GuardError`] (setting the guard up, reaching the provider) and
//! [`Rejection`] (why one request was turned away).

use std::path::PathBuf;

use http::StatusCode;

/// Something went wrong while setting up the guard or loading the provider's keys.
///
/// These errors never reach API callers: a request that cannot be checked is refused
/// (see [`Rejection::KeysUnavailable`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The builder was given settings that cannot work.
    #[error("invalid guard configuration: {0}")]
    Config(String),
    /// The extra trusted CA could not be read or parsed.
    #[error("cannot use the trusted CA file {path}: {reason}")]
    CaFile {
        /// The file given to [`GuardBuilder::ca_file`](crate::GuardBuilder::ca_file).
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    /// The provider could not be reached or answered with an error status.
    #[error("cannot fetch the {document} from {url}: {reason}")]
    Fetch {
        /// `OpenID metadata` or `JSON Web Key Set`.
        document: &'static str,
        /// The address that was asked.
        url: String,
        /// What went wrong, with the underlying causes.
        reason: String,
    },
    /// The provider answered, but with a document the guard cannot use.
    #[error("the {document} at {url} is not usable: {reason}")]
    InvalidDocument {
        /// `OpenID metadata` or `JSON Web Key Set`.
        document: &'static str,
        /// The address that was asked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// [`GuardBuilder::build`](crate::GuardBuilder::build) was called outside a Tokio runtime.
    #[error("the guard needs a Tokio runtime to refresh keys: build it inside one")]
    NoRuntime,
}

/// Why a request was refused. Rendered as an RFC 6750 answer by the layer and the extractors.
///
/// The `Display` text is what goes into `error_description`: it never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No `Authorization: Bearer` header.
    #[error("a bearer token is required")]
    MissingToken,
    /// The header or the token is not a well-formed JWT.
    #[error("the token is malformed")]
    Malformed,
    /// The token's `alg` is not one the provider's metadata allows (or is symmetric / `none`).
    #[error("the token's signing algorithm is not accepted")]
    AlgorithmNotAllowed,
    /// No key of the provider matches the token's `kid`, even after a refresh.
    #[error("the token is signed with an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the clock skew).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the clock skew).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the issuer of the provider's metadata.
    #[error("the token was not issued by the trusted issuer")]
    WrongIssuer,
    /// `aud` is not one of the configured audiences.
    #[error("the token is not meant for this API")]
    WrongAudience,
    /// A registered claim the check needs (`exp`, `iss`, `aud`) is absent or not well-formed.
    #[error("the token lacks the claim {0}")]
    MissingClaim(String),
    /// The claims do not deserialize into the type the handler asked for.
    #[error("the token's claims do not have the shape this API expects")]
    ClaimsShape,
    /// The token's `tfp`/`acr` is not an accepted policy.
    #[error("the token was not issued by a policy this API accepts")]
    Policy,
    /// `scp` lacks a required scope.
    #[error("the token lacks the scope {0}")]
    Scope(String),
    /// `roles` lacks a required role.
    #[error("the token lacks the role {0}")]
    Role(String),
    /// The provider's keys are not loaded (provider down at start) or have expired: the guard
    /// fails closed.
    #[error("the identity provider's signing keys are not available")]
    KeysUnavailable,
    /// The token is an ID token (see [`TokenClaims::is_id_token`](crate::TokenClaims::is_id_token))
    /// and the guard accepts access tokens only
    /// ([`GuardBuilder::accept_id_tokens`](crate::GuardBuilder::accept_id_tokens)).
    #[error("an ID token is not an access token: request an access token for this API")]
    IdToken,
}

impl Rejection {
    /// The HTTP status: 401 for token problems, 403 for a valid token lacking a permission,
    /// 503 when the keys are not available.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Policy | Self::Scope(_) | Self::Role(_) => StatusCode::FORBIDDEN,
            Self::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// A short stable label, used in logs and [`MetricsSnapshot::rejected`](crate::MetricsSnapshot).
    pub fn reason(&self) -> &'static str {
        REASONS[self.index()]
    }

    pub(crate) fn index(&self) -> usize {
        match self {
            Self::MissingToken => 0,
            Self::Malformed => 1,
            Self::AlgorithmNotAllowed => 2,
            Self::UnknownKey => 3,
            Self::BadSignature => 4,
            Self::Expired => 5,
            Self::NotYetValid => 6,
            Self::WrongIssuer => 7,
            Self::WrongAudience => 8,
            Self::MissingClaim(_) => 9,
            Self::ClaimsShape => 10,
            Self::Policy => 11,
            Self::Scope(_) => 12,
            Self::Role(_) => 13,
            Self::KeysUnavailable => 14,
            Self::IdToken => 15,
        }
    }
}

/// Labels of [`Rejection::reason`], indexed by [`Rejection::index`].
pub(crate) const REASONS: [&str; 16] = [
    "missing_token",
    "malformed",
    "algorithm_not_allowed",
    "unknown_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "missing_claim",
    "claims_shape",
    "policy",
    "scope",
    "role",
    "keys_unavailable",
    "id_token",
];

/// The message of an error and all its sources, so "connection refused" is not lost behind
/// "error sending request".
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_rfc_6750() {
        assert_eq!(Rejection::MissingToken.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(Rejection::Expired.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(Rejection::Policy.status(), StatusCode::FORBIDDEN);
        assert_eq!(Rejection::Scope("a".into()).status(), StatusCode::FORBIDDEN);
        assert_eq!(Rejection::Role("a".into()).status(), StatusCode::FORBIDDEN);
        assert_eq!(
            Rejection::KeysUnavailable.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(Rejection::IdToken.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn every_rejection_has_its_own_label() {
        let all = [
            Rejection::MissingToken,
            Rejection::Malformed,
            Rejection::AlgorithmNotAllowed,
            Rejection::UnknownKey,
            Rejection::BadSignature,
            Rejection::Expired,
            Rejection::NotYetValid,
            Rejection::WrongIssuer,
            Rejection::WrongAudience,
            Rejection::MissingClaim("exp".into()),
            Rejection::ClaimsShape,
            Rejection::Policy,
            Rejection::Scope("s".into()),
            Rejection::Role("r".into()),
            Rejection::KeysUnavailable,
            Rejection::IdToken,
        ];
        let labels: std::collections::BTreeSet<_> = all.iter().map(Rejection::reason).collect();
        assert_eq!(labels.len(), all.len());
        assert_eq!(Rejection::Scope("x".into()).reason(), "scope");
    }

    #[test]
    fn chain_keeps_the_root_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let outer = GuardError::Fetch {
            document: "OpenID metadata",
            url: "http://x".into(),
            reason: chain(&io),
        };
        assert_eq!(
            outer.to_string(),
            "cannot fetch the OpenID metadata from http://x: connection refused"
        );
    }
}
