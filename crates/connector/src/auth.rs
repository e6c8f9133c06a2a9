//! How a call authenticates (`AuthenticationType`, CONTRACTS.md §1 and §3).
//!
//! Keys come from the technical profile's `CryptographicKeys` (key id → key store reference).

use base64::Engine as _;
use reqwest::header::{HeaderName, HeaderValue};
use trustframe_policy::rest as md;
use trustframe_policy::{ClaimTypeId, ClaimValues, TechnicalProfile};
use url::Url;

use crate::claim_value;
use crate::error::ConnectorError;
use crate::keys::KeyStore;

/// `AuthenticationType`, as B2C spells it, plus our `ClientCredentials`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthenticationType {
    None,
    Basic,
    Bearer,
    ClientCertificate,
    ApiKeyHeader,
    ClientCredentials,
}

impl AuthenticationType {
    pub(crate) fn parse(profile: &TechnicalProfile) -> Result<Self, ConnectorError> {
        let Some(value) = profile.metadata.get(md::AUTHENTICATION_TYPE) else {
            return Ok(Self::None);
        };
        Ok(match value.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Self::None,
            "basic" => Self::Basic,
            "bearer" => Self::Bearer,
            "clientcertificate" => Self::ClientCertificate,
            "apikeyheader" => Self::ApiKeyHeader,
            "clientcredentials" => Self::ClientCredentials,
            other => {
                return Err(ConnectorError::InvalidMetadata {
                    profile: profile.id.to_string(),
                    key: md::AUTHENTICATION_TYPE,
                    reason: format!(
                        "{other:?} is not one of None, Basic, Bearer, ClientCertificate, \
                         ApiKeyHeader, ClientCredentials"
                    ),
                });
            }
        })
    }
}

/// What a call needs to authenticate, with the secrets resolved.
#[derive(Clone)]
pub(crate) enum Auth {
    None,
    /// A ready `Authorization` header (Basic, or Bearer from a key).
    Header(HeaderValue),
    /// `UseClaimAsBearerToken` named a claim that has no value: the call is not made.
    MissingBearerClaim(String),
    ApiKeyHeaders(Vec<(HeaderName, HeaderValue)>),
    /// Mutual TLS with the key store entry of this name (PEM certificate chain and key).
    ClientCertificate(String),
    ClientCredentials(TokenRequest),
}

/// An OAuth2 client-credentials grant (ours, for API connectors' OAuth2 option).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct TokenRequest {
    pub endpoint: Url,
    pub client_id: String,
    pub client_secret: String,
    pub scope: Option<String>,
}

/// The resolved authentication plus every secret it involves (for redaction).
pub(crate) struct ResolvedAuth {
    pub auth: Auth,
    pub secrets: Vec<String>,
    /// The claim used as bearer token: its value is a secret wherever it appears.
    pub bearer_claim: Option<ClaimTypeId>,
}

pub(crate) fn resolve(
    kind: AuthenticationType,
    profile: &TechnicalProfile,
    claims: &ClaimValues,
    keys: &KeyStore,
) -> Result<ResolvedAuth, ConnectorError> {
    let mut secrets = Vec::new();
    let mut bearer_claim = None;
    let auth = match kind {
        AuthenticationType::None => Auth::None,
        AuthenticationType::Basic => {
            let user = key_text(profile, keys, md::KEY_BASIC_USERNAME)?;
            let password = key_text(profile, keys, md::KEY_BASIC_PASSWORD)?;
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            secrets.push(password);
            secrets.push(encoded.clone());
            Auth::Header(sensitive_header(profile, &format!("Basic {encoded}"))?)
        }
        AuthenticationType::Bearer => match profile.metadata.get(md::USE_CLAIM_AS_BEARER_TOKEN) {
            Some(claim) if !claim.trim().is_empty() => {
                let id = ClaimTypeId::new(claim.trim());
                let token = claims
                    .get(&id)
                    .filter(|v| claim_value::has_value(v))
                    .map(claim_value::to_text);
                bearer_claim = Some(id.clone());
                match token {
                    Some(token) => {
                        secrets.push(token.clone());
                        Auth::Header(sensitive_header(profile, &format!("Bearer {token}"))?)
                    }
                    None => Auth::MissingBearerClaim(id.to_string()),
                }
            }
            _ => {
                let token = key_text(profile, keys, md::KEY_BEARER_TOKEN)?;
                secrets.push(token.clone());
                Auth::Header(sensitive_header(profile, &format!("Bearer {token}"))?)
            }
        },
        AuthenticationType::ClientCertificate => {
            let reference = key_reference(profile, md::KEY_CLIENT_CERTIFICATE)?;
            if keys.get(reference).is_none() {
                return Err(ConnectorError::UnknownKeyReference {
                    profile: profile.id.to_string(),
                    key_id: md::KEY_CLIENT_CERTIFICATE.to_owned(),
                    reference: reference.to_owned(),
                });
            }
            Auth::ClientCertificate(reference.to_owned())
        }
        AuthenticationType::ApiKeyHeader => {
            if profile.cryptographic_keys.is_empty() {
                return Err(ConnectorError::MissingKey {
                    profile: profile.id.to_string(),
                    key_id: "(a header name such as x-functions-key)".to_owned(),
                });
            }
            let mut headers = Vec::new();
            for key_id in profile.cryptographic_keys.keys() {
                let name = HeaderName::from_bytes(key_id.as_bytes()).map_err(|_| {
                    ConnectorError::BadKey {
                        profile: profile.id.to_string(),
                        reference: key_id.clone(),
                        reason: "the key id is not a valid HTTP header name".to_owned(),
                    }
                })?;
                let value = key_text(profile, keys, key_id)?;
                secrets.push(value.clone());
                headers.push((name, sensitive_header(profile, &value)?));
            }
            Auth::ApiKeyHeaders(headers)
        }
        AuthenticationType::ClientCredentials => {
            let endpoint = profile
                .metadata
                .get(md::TOKEN_ENDPOINT)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| ConnectorError::MissingMetadata {
                    profile: profile.id.to_string(),
                    key: md::TOKEN_ENDPOINT,
                })?;
            let endpoint =
                Url::parse(endpoint.trim()).map_err(|e| ConnectorError::InvalidMetadata {
                    profile: profile.id.to_string(),
                    key: md::TOKEN_ENDPOINT,
                    reason: e.to_string(),
                })?;
            let client_id = key_text(profile, keys, md::KEY_CLIENT_ID)?;
            let client_secret = key_text(profile, keys, md::KEY_CLIENT_SECRET)?;
            secrets.push(client_secret.clone());
            let scope = profile
                .metadata
                .get(md::TOKEN_SCOPE)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            Auth::ClientCredentials(TokenRequest {
                endpoint,
                client_id,
                client_secret,
                scope,
            })
        }
    };
    Ok(ResolvedAuth {
        auth,
        secrets,
        bearer_claim,
    })
}

/// The key store reference a cryptographic key id points to (ids matched without regard to case).
fn key_reference<'a>(
    profile: &'a TechnicalProfile,
    key_id: &str,
) -> Result<&'a str, ConnectorError> {
    profile
        .cryptographic_keys
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(key_id))
        .map(|(_, reference)| reference.as_str())
        .ok_or_else(|| ConnectorError::MissingKey {
            profile: profile.id.to_string(),
            key_id: key_id.to_owned(),
        })
}

fn key_text(
    profile: &TechnicalProfile,
    keys: &KeyStore,
    key_id: &str,
) -> Result<String, ConnectorError> {
    let reference = key_reference(profile, key_id)?;
    let bytes = keys
        .get(reference)
        .ok_or_else(|| ConnectorError::UnknownKeyReference {
            profile: profile.id.to_string(),
            key_id: key_id.to_owned(),
            reference: reference.to_owned(),
        })?;
    let text = std::str::from_utf8(bytes).map_err(|_| ConnectorError::BadKey {
        profile: profile.id.to_string(),
        reference: reference.to_owned(),
        reason: "not UTF-8 text".to_owned(),
    })?;
    // Key files often end with a newline that is not part of the secret.
    Ok(text.trim().to_owned())
}

fn sensitive_header(
    profile: &TechnicalProfile,
    value: &str,
) -> Result<HeaderValue, ConnectorError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| ConnectorError::BadKey {
        profile: profile.id.to_string(),
        reference: "(authentication header)".to_owned(),
        reason: "the value cannot be sent in an HTTP header".to_owned(),
    })?;
    header.set_sensitive(true);
    Ok(header)
}
