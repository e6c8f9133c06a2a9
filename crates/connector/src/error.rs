//! Misconfiguration: what `Connector::exchange` returns as `Err`. Calls that fail at run time are
//! an `ExchangeOutcome::Failed`, not an error. No variant carries a secret value.

/// A technical profile, key or certificate the connector cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("technical profile {profile}: metadata {key} is required")]
    MissingMetadata { profile: String, key: &'static str },

    #[error("technical profile {profile}: metadata {key} is invalid: {reason}")]
    InvalidMetadata {
        profile: String,
        key: &'static str,
        reason: String,
    },

    #[error("technical profile {profile}: cryptographic key {key_id} is required")]
    MissingKey { profile: String, key_id: String },

    #[error(
        "technical profile {profile}: key {key_id} refers to {reference}, which the key store does not hold"
    )]
    UnknownKeyReference {
        profile: String,
        key_id: String,
        reference: String,
    },

    #[error("technical profile {profile}: key {reference} is not usable: {reason}")]
    BadKey {
        profile: String,
        reference: String,
        reason: String,
    },

    #[error("certificate {name} is not usable: {reason}")]
    BadCertificate { name: String, reason: String },

    #[error("technical profile {profile}: claim {claim} (ClaimUsedForRequestPayload) has no value")]
    MissingPayloadClaim { profile: String, claim: String },

    #[error("the HTTP client could not be built: {0}")]
    Client(String),
}
