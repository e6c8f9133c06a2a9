//! How a call authenticates (`AuthenticationType`, `restful-technical-profile.md`; OAuth2 client
//! credentials for API connectors, `add-api-connector.md`).
//!
//! Keys come from the technical profile's `CryptographicKeys` (key id → key store reference).

use base64::Engine as _;
use reqwest::header::{HeaderName, HeaderValue};
use trustframe_policy::rest::{self as md, Authentication};
use trustframe_policy::{ClaimTypeId, ClaimValues, TechnicalProfile};
use url::Url;

use crate::claim_value;
use crate::error::ConnectorError;
use crate::keys::KeyStore;

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

/// Resolves the profile's `AuthenticationType` with its keys (and, for `UseClaimAsBearerToken`,
/// the claim) for one call.
pub(crate) fn resolve(
    authentication: &Authentication,
    profile: &TechnicalProfile,
    claims: &ClaimValues,
    keys: &KeyStore,
) -> Result<ResolvedAuth, ConnectorError> {
    let mut secrets = Vec::new();
    let mut bearer_claim = None;
    let auth = match authentication {
        Authentication::None => Auth::None,
        Authentication::Basic => basic(profile, keys, &mut secrets)?,
        Authentication::Bearer {
            use_claim: Some(id),
        } => {
            bearer_claim = Some(id.clone());
            match claims
                .get(id)
                .filter(|v| claim_value::has_value(v))
                .map(claim_value::to_text)
            {
                Some(token) => bearer(profile, token, &mut secrets)?,
                None => Auth::MissingBearerClaim(id.to_string()),
            }
        }
        Authentication::Bearer { use_claim: None } => {
            let token = key_text(profile, keys, md::KEY_BEARER_TOKEN)?;
            bearer(profile, token, &mut secrets)?
        }
        Authentication::ClientCertificate => client_certificate(profile, keys)?,
        Authentication::ApiKeyHeader => api_key_headers(profile, keys, &mut secrets)?,
        Authentication::ClientCredentials {
            token_endpoint,
            scope,
        } => client_credentials(profile, keys, token_endpoint, scope, &mut secrets)?,
    };
    Ok(ResolvedAuth {
        auth,
        secrets,
        bearer_claim,
    })
}

fn basic(
    profile: &TechnicalProfile,
    keys: &KeyStore,
    secrets: &mut Vec<String>,
) -> Result<Auth, ConnectorError> {
    let user = key_text(profile, keys, md::KEY_BASIC_USERNAME)?;
    let password = key_text(profile, keys, md::KEY_BASIC_PASSWORD)?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    secrets.push(password);
    secrets.push(encoded.clone());
    Ok(Auth::Header(sensitive_header(
        profile,
        &format!("Basic {encoded}"),
    )?))
}

fn bearer(
    profile: &TechnicalProfile,
    token: String,
    secrets: &mut Vec<String>,
) -> Result<Auth, ConnectorError> {
    let header = sensitive_header(profile, &format!("Bearer {token}"))?;
    secrets.push(token);
    Ok(Auth::Header(header))
}

fn client_certificate(profile: &TechnicalProfile, keys: &KeyStore) -> Result<Auth, ConnectorError> {
    let reference = key_reference(profile, md::KEY_CLIENT_CERTIFICATE)?;
    if keys.get(reference).is_none() {
        return Err(ConnectorError::UnknownKeyReference {
            profile: profile.id.to_string(),
            key_id: md::KEY_CLIENT_CERTIFICATE.to_owned(),
            reference: reference.to_owned(),
        });
    }
    Ok(Auth::ClientCertificate(reference.to_owned()))
}

/// One header per cryptographic key: the key id is the header name (`x-functions-key`).
fn api_key_headers(
    profile: &TechnicalProfile,
    keys: &KeyStore,
    secrets: &mut Vec<String>,
) -> Result<Auth, ConnectorError> {
    if profile.cryptographic_keys.is_empty() {
        return Err(ConnectorError::MissingKey {
            profile: profile.id.to_string(),
            key_id: "(a header name such as x-functions-key)".to_owned(),
        });
    }
    let mut headers = Vec::new();
    for key_id in profile.cryptographic_keys.keys() {
        let name =
            HeaderName::from_bytes(key_id.as_bytes()).map_err(|_| ConnectorError::BadKey {
                profile: profile.id.to_string(),
                reference: key_id.clone(),
                reason: "the key id is not a valid HTTP header name".to_owned(),
            })?;
        let value = key_text(profile, keys, key_id)?;
        headers.push((name, sensitive_header(profile, &value)?));
        secrets.push(value);
    }
    Ok(Auth::ApiKeyHeaders(headers))
}

fn client_credentials(
    profile: &TechnicalProfile,
    keys: &KeyStore,
    token_endpoint: &str,
    scope: &Option<String>,
    secrets: &mut Vec<String>,
) -> Result<Auth, ConnectorError> {
    let endpoint = Url::parse(token_endpoint).map_err(|e| ConnectorError::InvalidMetadata {
        profile: profile.id.to_string(),
        key: md::TOKEN_ENDPOINT,
        reason: e.to_string(),
    })?;
    let client_id = key_text(profile, keys, md::KEY_CLIENT_ID)?;
    let client_secret = key_text(profile, keys, md::KEY_CLIENT_SECRET)?;
    secrets.push(client_secret.clone());
    Ok(Auth::ClientCredentials(TokenRequest {
        endpoint,
        client_id,
        client_secret,
        scope: scope.clone(),
    }))
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
