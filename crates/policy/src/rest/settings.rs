//! [`RestSettings`]: a RESTful technical profile's metadata, parsed and checked once when the
//! policy loads (the link pass fills [`TechnicalProfile::rest`]), so a call reads typed values
//! instead of re-reading strings. What depends on the journey (claim values, keys from the key
//! store) is resolved per call by the connector.

use std::fmt;
use std::time::Duration;

use crate::ids::ClaimTypeId;
use crate::model::TechnicalProfile;
use crate::rest as md;

/// B2C's defaults: 30 s and 2 retries for technical profiles (`restful-technical-profile.md`),
/// 20 s and 1 retry for API connectors (`add-api-connector.md`).
const RESTFUL_TIMEOUT: Duration = Duration::from_secs(30);
const RESTFUL_RETRIES: u32 = 2;
const CONNECTOR_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECTOR_RETRIES: u32 = 1;
const MAX_TIMEOUT_SECONDS: f64 = 600.0;
const MAX_RETRIES: u32 = 10;
/// The circuit breaker's defaults (ours): 5 consecutive failures open it for 30 s.
const CIRCUIT_FAILURES: u32 = 5;
const CIRCUIT_COOL_DOWN: Duration = Duration::from_secs(30);
const CIRCUIT_MAX_SECONDS: f64 = 86_400.0;

/// A RESTful technical profile's settings (`restful-technical-profile.md`; for API connectors,
/// `add-api-connector.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct RestSettings {
    /// `ServiceUrl`, with its `{claim}` placeholders.
    pub service_url: UrlTemplate,
    /// `SendClaimsIn` (API connectors: always `Body`).
    pub send_claims_in: SendClaimsIn,
    /// `HttpBinding`, or the method `SendClaimsIn` implies when it is absent.
    pub http_binding: HttpBinding,
    /// `ClaimUsedForRequestPayload`: the claim that holds the whole JSON body.
    pub claim_used_for_request_payload: Option<ClaimTypeId>,
    /// `AuthenticationType` with what it needs besides keys.
    pub authentication: Authentication,
    /// `AllowInsecureAuthInProduction`.
    pub allow_insecure: bool,
    /// `ResolveJsonPathsInJsonTokens`.
    pub resolve_json_paths: bool,
    /// `IncludeClaimResolvingInClaimsHandling`.
    pub include_claim_resolving: bool,
    /// `DebugMode`.
    pub debug_mode: bool,
    pub messages: UserMessages,
    /// Per try (ours: `TimeoutSeconds`).
    pub timeout: Duration,
    /// Retries after the first try (ours: `Retries`).
    pub retries: u32,
    /// Ours: `MaxResponseBytes`; absent, the server's default applies.
    pub max_response_bytes: Option<usize>,
    pub circuit_breaker: CircuitBreaker,
    /// Ours: `ApiConnectorStep`; present, the API-connector contract applies.
    pub api_connector_step: Option<ApiConnectorStep>,
    /// Ours: `ExtensionsAppId`, without dashes, lower case.
    pub extensions_app_id: Option<String>,
}

/// `SendClaimsIn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendClaimsIn {
    Body,
    Form,
    Header,
    QueryString,
    Url,
}

/// `HttpBinding`: the method of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpBinding {
    Get,
    Post,
}

/// `AuthenticationType`, as B2C spells it, plus our `ClientCredentials` (OAuth2, for API
/// connectors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    None,
    Basic,
    /// `UseClaimAsBearerToken` names the claim holding the token; without it, the
    /// `BearerAuthenticationToken` key.
    Bearer {
        use_claim: Option<ClaimTypeId>,
    },
    ClientCertificate,
    ApiKeyHeader,
    /// Ours: `TokenEndpoint` and `TokenScope`.
    ClientCredentials {
        token_endpoint: String,
        scope: Option<String>,
    },
}

impl Authentication {
    /// The `AuthenticationType` value, as B2C spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Basic => "Basic",
            Self::Bearer { .. } => "Bearer",
            Self::ClientCertificate => "ClientCertificate",
            Self::ApiKeyHeader => "ApiKeyHeader",
            Self::ClientCredentials { .. } => "ClientCredentials",
        }
    }
}

/// The user messages a profile sets for failures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserMessages {
    /// `DefaultUserMessageIfRequestFailed`.
    pub default: Option<String>,
    /// `UserMessageIfCircuitOpen`.
    pub circuit_open: Option<String>,
    /// `UserMessageIfDnsResolutionFailed`.
    pub dns: Option<String>,
    /// `UserMessageIfRequestTimeout`.
    pub timeout: Option<String>,
}

/// Ours: `CircuitBreakerFailures` and `CircuitBreakerSeconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreaker {
    /// Consecutive failed exchanges that open the circuit; 0 disables the breaker.
    pub failures: u32,
    pub cool_down: Duration,
}

/// The three API-connector steps of a user flow (`add-api-connector.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiConnectorStep {
    PostFederationSignup,
    PostAttributeCollection,
    PreTokenIssuance,
}

impl ApiConnectorStep {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "postfederationsignup" => Self::PostFederationSignup,
            "postattributecollection" => Self::PostAttributeCollection,
            "pretokenissuance" => Self::PreTokenIssuance,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PostFederationSignup => "PostFederationSignup",
            Self::PostAttributeCollection => "PostAttributeCollection",
            Self::PreTokenIssuance => "PreTokenIssuance",
        }
    }

    /// `ShowBlockPage` is allowed after federation and after attribute collection.
    pub fn allows_block_page(self) -> bool {
        matches!(
            self,
            Self::PostFederationSignup | Self::PostAttributeCollection
        )
    }

    /// `ValidationError` is allowed only after attribute collection (there is a page to show).
    pub fn allows_validation_error(self) -> bool {
        self == Self::PostAttributeCollection
    }
}

/// `ServiceUrl` split into text and `{name}` tokens (claims with `SendClaimsIn` `Url`, claim
/// resolvers with `IncludeClaimResolvingInClaimsHandling`). The host never holds a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    raw: String,
    parts: Vec<UrlPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlPart {
    Text(String),
    /// `{name}`: a name without braces.
    Token(String),
}

impl UrlTemplate {
    /// Splits `raw` at its `{name}` tokens; an unclosed `{` is text.
    pub fn parse(raw: &str) -> Self {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = raw;
        while let Some(open) = rest.find('{') {
            text.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find(['{', '}']) {
                Some(close) if after.as_bytes()[close] == b'}' => {
                    if !text.is_empty() {
                        parts.push(UrlPart::Text(std::mem::take(&mut text)));
                    }
                    parts.push(UrlPart::Token(after[..close].to_owned()));
                    rest = &after[close + 1..];
                }
                // `{` before any `}`, or no `}` at all: this brace is text.
                _ => {
                    text.push('{');
                    rest = after;
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(UrlPart::Text(text));
        }
        Self {
            raw: raw.to_owned(),
            parts,
        }
    }

    /// The URL as written.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    pub fn parts(&self) -> &[UrlPart] {
        &self.parts
    }

    pub fn has_tokens(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, UrlPart::Token(_)))
    }
}

/// A metadata value a RESTful technical profile cannot run with, naming its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestSettingsError {
    #[error("metadata {key} is required")]
    Missing { key: &'static str },
    #[error("metadata {key} is invalid: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("cryptographic key {key_id} is required")]
    MissingKey { key_id: String },
}

impl RestSettingsError {
    /// The metadata key (or cryptographic key id) at fault.
    pub fn key(&self) -> &str {
        match self {
            Self::Missing { key } | Self::Invalid { key, .. } => key,
            Self::MissingKey { key_id } => key_id,
        }
    }
}

fn invalid(key: &'static str, reason: impl fmt::Display) -> RestSettingsError {
    RestSettingsError::Invalid {
        key,
        reason: reason.to_string(),
    }
}

impl RestSettings {
    /// Parses and checks the metadata of a RESTful technical profile, with B2C's defaults.
    pub fn from_profile(profile: &TechnicalProfile) -> Result<Self, RestSettingsError> {
        let m = &profile.metadata;
        let api_connector_step = match m.get(md::API_CONNECTOR_STEP) {
            Some(step) => Some(ApiConnectorStep::parse(step).ok_or_else(|| {
                invalid(
                    md::API_CONNECTOR_STEP,
                    format!(
                        "{step:?} is not PostFederationSignup, PostAttributeCollection or \
                         PreTokenIssuance"
                    ),
                )
            })?),
            None => None,
        };
        // API connectors always POST a JSON body (`add-api-connector.md`).
        let send_claims_in = match api_connector_step {
            Some(_) => SendClaimsIn::Body,
            None => send_claims_in(m.get(md::SEND_CLAIMS_IN))?,
        };
        let http_binding = http_binding(m.get(md::HTTP_BINDING), send_claims_in)?;
        let authentication = authentication(profile)?;
        let service_url = service_url(m.get(md::SERVICE_URL))?;
        let restful = api_connector_step.is_none();
        Ok(Self {
            service_url,
            send_claims_in,
            http_binding,
            claim_used_for_request_payload: text(profile, md::CLAIM_USED_FOR_REQUEST_PAYLOAD)
                .map(ClaimTypeId::new),
            authentication,
            allow_insecure: m.flag(md::ALLOW_INSECURE_AUTH_IN_PRODUCTION, false),
            resolve_json_paths: m.flag(md::RESOLVE_JSON_PATHS_IN_JSON_TOKENS, false),
            include_claim_resolving: m.flag(md::INCLUDE_CLAIM_RESOLVING_IN_CLAIMS_HANDLING, false),
            debug_mode: m.flag(md::DEBUG_MODE, false),
            messages: UserMessages {
                default: text(profile, md::DEFAULT_USER_MESSAGE_IF_REQUEST_FAILED),
                circuit_open: text(profile, md::USER_MESSAGE_IF_CIRCUIT_OPEN),
                dns: text(profile, md::USER_MESSAGE_IF_DNS_RESOLUTION_FAILED),
                timeout: text(profile, md::USER_MESSAGE_IF_REQUEST_TIMEOUT),
            },
            timeout: timeout(m.get(md::TIMEOUT_SECONDS), restful)?,
            retries: retries(m.get(md::RETRIES), restful)?,
            max_response_bytes: max_response_bytes(m.get(md::MAX_RESPONSE_BYTES))?,
            circuit_breaker: circuit_breaker(profile)?,
            api_connector_step,
            extensions_app_id: m
                .get(md::EXTENSIONS_APP_ID)
                .map(|id| id.trim().replace('-', "").to_ascii_lowercase())
                .filter(|id| !id.is_empty()),
        })
    }
}

/// A metadata value, trimmed; empty is absent.
fn text(profile: &TechnicalProfile, key: &str) -> Option<String> {
    profile
        .metadata
        .get(key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn send_claims_in(value: Option<&str>) -> Result<SendClaimsIn, RestSettingsError> {
    let Some(v) = value else {
        return Ok(SendClaimsIn::Body);
    };
    Ok(match v.trim().to_ascii_lowercase().as_str() {
        "" | "body" => SendClaimsIn::Body,
        "form" => SendClaimsIn::Form,
        "header" => SendClaimsIn::Header,
        "querystring" => SendClaimsIn::QueryString,
        "url" => SendClaimsIn::Url,
        other => {
            return Err(invalid(
                md::SEND_CLAIMS_IN,
                format!("{other:?} is not one of Body, Form, Header, QueryString, Url"),
            ));
        }
    })
}

/// Body and Form are POSTs; Header, QueryString and Url are GETs unless `HttpBinding` says POST.
fn http_binding(value: Option<&str>, mode: SendClaimsIn) -> Result<HttpBinding, RestSettingsError> {
    let binding = value
        .map(|b| b.trim().to_ascii_uppercase())
        .filter(|b| !b.is_empty());
    match (mode, binding.as_deref()) {
        (SendClaimsIn::Body | SendClaimsIn::Form, None | Some("POST")) => Ok(HttpBinding::Post),
        (SendClaimsIn::Body | SendClaimsIn::Form, Some(other)) => Err(invalid(
            md::HTTP_BINDING,
            format!(
                "{other} cannot carry claims in a body; SendClaimsIn {mode:?} is sent with POST"
            ),
        )),
        (_, None | Some("GET")) => Ok(HttpBinding::Get),
        (_, Some("POST")) => Ok(HttpBinding::Post),
        (_, Some(other)) => Err(invalid(
            md::HTTP_BINDING,
            format!("{other} is not GET or POST"),
        )),
    }
}

/// `ServiceUrl`: an absolute http(s) URL; B2C: "the host name part of the URL can't contain
/// claims".
fn service_url(value: Option<&str>) -> Result<UrlTemplate, RestSettingsError> {
    let raw = value
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or(RestSettingsError::Missing {
            key: md::SERVICE_URL,
        })?;
    let Some((scheme, rest)) = raw.split_once("://") else {
        return Err(invalid(md::SERVICE_URL, "not an absolute http(s) URL"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('{') {
        return Err(invalid(
            md::SERVICE_URL,
            "the host name part of the URL cannot contain claims",
        ));
    }
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(invalid(
            md::SERVICE_URL,
            format!("scheme {} is not https", scheme.to_ascii_lowercase()),
        ));
    }
    if authority.is_empty() {
        return Err(invalid(md::SERVICE_URL, "the URL has no host"));
    }
    Ok(UrlTemplate::parse(raw))
}

fn authentication(profile: &TechnicalProfile) -> Result<Authentication, RestSettingsError> {
    let m = &profile.metadata;
    let Some(value) = m.get(md::AUTHENTICATION_TYPE) else {
        return Ok(Authentication::None);
    };
    let has_key = |id: &str| {
        profile
            .cryptographic_keys
            .keys()
            .any(|k| k.eq_ignore_ascii_case(id))
    };
    let require_key = |id: &str| {
        if has_key(id) {
            Ok(())
        } else {
            Err(RestSettingsError::MissingKey {
                key_id: id.to_owned(),
            })
        }
    };
    Ok(match value.trim().to_ascii_lowercase().as_str() {
        "" | "none" => Authentication::None,
        "basic" => {
            require_key(md::KEY_BASIC_USERNAME)?;
            require_key(md::KEY_BASIC_PASSWORD)?;
            Authentication::Basic
        }
        "bearer" => {
            let use_claim = text(profile, md::USE_CLAIM_AS_BEARER_TOKEN).map(ClaimTypeId::new);
            if use_claim.is_none() {
                require_key(md::KEY_BEARER_TOKEN)?;
            }
            Authentication::Bearer { use_claim }
        }
        "clientcertificate" => {
            require_key(md::KEY_CLIENT_CERTIFICATE)?;
            Authentication::ClientCertificate
        }
        "apikeyheader" => {
            if profile.cryptographic_keys.is_empty() {
                return Err(RestSettingsError::MissingKey {
                    key_id: "(a header name such as x-functions-key)".to_owned(),
                });
            }
            Authentication::ApiKeyHeader
        }
        "clientcredentials" => {
            let authentication = client_credentials(profile)?;
            require_key(md::KEY_CLIENT_ID)?;
            require_key(md::KEY_CLIENT_SECRET)?;
            authentication
        }
        other => {
            return Err(invalid(
                md::AUTHENTICATION_TYPE,
                format!(
                    "{other:?} is not one of None, Basic, Bearer, ClientCertificate, \
                     ApiKeyHeader, ClientCredentials"
                ),
            ));
        }
    })
}

/// Ours: OAuth2 client credentials at `TokenEndpoint`, for `TokenScope`.
fn client_credentials(profile: &TechnicalProfile) -> Result<Authentication, RestSettingsError> {
    let token_endpoint = text(profile, md::TOKEN_ENDPOINT).ok_or(RestSettingsError::Missing {
        key: md::TOKEN_ENDPOINT,
    })?;
    if !token_endpoint.contains("://") {
        return Err(invalid(md::TOKEN_ENDPOINT, "not an absolute URL"));
    }
    Ok(Authentication::ClientCredentials {
        token_endpoint,
        scope: text(profile, md::TOKEN_SCOPE),
    })
}

fn timeout(value: Option<&str>, restful: bool) -> Result<Duration, RestSettingsError> {
    let Some(v) = value else {
        return Ok(if restful {
            RESTFUL_TIMEOUT
        } else {
            CONNECTOR_TIMEOUT
        });
    };
    match v.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= MAX_TIMEOUT_SECONDS => Ok(Duration::from_secs_f64(s)),
        _ => Err(invalid(
            md::TIMEOUT_SECONDS,
            format!("{v:?} is not a number of seconds in (0, {MAX_TIMEOUT_SECONDS}]"),
        )),
    }
}

fn retries(value: Option<&str>, restful: bool) -> Result<u32, RestSettingsError> {
    let Some(v) = value else {
        return Ok(if restful {
            RESTFUL_RETRIES
        } else {
            CONNECTOR_RETRIES
        });
    };
    match v.trim().parse::<u32>() {
        Ok(n) if n <= MAX_RETRIES => Ok(n),
        _ => Err(invalid(
            md::RETRIES,
            format!("{v:?} is not a whole number from 0 to {MAX_RETRIES}"),
        )),
    }
}

fn max_response_bytes(value: Option<&str>) -> Result<Option<usize>, RestSettingsError> {
    value
        .map(|v| {
            v.trim().parse::<usize>().map_err(|_| {
                invalid(
                    md::MAX_RESPONSE_BYTES,
                    format!("{v:?} is not a number of bytes"),
                )
            })
        })
        .transpose()
}

fn circuit_breaker(profile: &TechnicalProfile) -> Result<CircuitBreaker, RestSettingsError> {
    let m = &profile.metadata;
    let failures = match m.get(md::CIRCUIT_BREAKER_FAILURES) {
        Some(v) => v.trim().parse::<u32>().map_err(|_| {
            invalid(
                md::CIRCUIT_BREAKER_FAILURES,
                format!("{v:?} is not a whole number (0 disables the breaker)"),
            )
        })?,
        None => CIRCUIT_FAILURES,
    };
    let cool_down = match m.get(md::CIRCUIT_BREAKER_SECONDS) {
        Some(v) => match v.trim().parse::<f64>() {
            Ok(s) if s > 0.0 && s <= CIRCUIT_MAX_SECONDS => Duration::from_secs_f64(s),
            _ => {
                return Err(invalid(
                    md::CIRCUIT_BREAKER_SECONDS,
                    format!("{v:?} is not a number of seconds in (0, {CIRCUIT_MAX_SECONDS}]"),
                ));
            }
        },
        None => CIRCUIT_COOL_DOWN,
    };
    Ok(CircuitBreaker {
        failures,
        cool_down,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TechnicalProfileKind;

    fn profile(items: &[(&str, &str)]) -> TechnicalProfile {
        let mut p = TechnicalProfile::new("REST-Test", TechnicalProfileKind::Restful);
        p.metadata.insert("ServiceUrl", "https://api.example.com/a");
        for (k, v) in items {
            p.metadata.insert(*k, *v);
        }
        p
    }

    fn settings(items: &[(&str, &str)]) -> RestSettings {
        RestSettings::from_profile(&profile(items)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(items: &[(&str, &str)]) -> RestSettingsError {
        match RestSettings::from_profile(&profile(items)) {
            Ok(s) => panic!("{items:?} accepted: {s:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn technical_profiles_default_to_30_seconds_and_2_retries() {
        let s = settings(&[]);
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert_eq!(s.retries, 2);
        assert_eq!(s.send_claims_in, SendClaimsIn::Body);
        assert_eq!(s.http_binding, HttpBinding::Post);
        assert_eq!(s.authentication, Authentication::None);
        assert_eq!(s.api_connector_step, None);
        assert_eq!(s.max_response_bytes, None);
        assert_eq!(
            s.circuit_breaker,
            CircuitBreaker {
                failures: 5,
                cool_down: Duration::from_secs(30)
            }
        );
        assert!(!s.allow_insecure && !s.resolve_json_paths && !s.debug_mode);
        assert_eq!(s.messages, UserMessages::default());
    }

    #[test]
    fn api_connectors_default_to_20_seconds_and_1_retry_and_a_json_body() {
        let s = settings(&[
            ("ApiConnectorStep", "PreTokenIssuance"),
            ("SendClaimsIn", "QueryString"),
            ("ExtensionsAppId", "AB-cd"),
        ]);
        assert_eq!(s.timeout, Duration::from_secs(20));
        assert_eq!(s.retries, 1);
        assert_eq!(s.send_claims_in, SendClaimsIn::Body);
        assert_eq!(
            s.api_connector_step,
            Some(ApiConnectorStep::PreTokenIssuance)
        );
        assert_eq!(s.extensions_app_id.as_deref(), Some("abcd"));
    }

    #[test]
    fn values_are_read_without_regard_to_case_and_trimmed() {
        let mut p = profile(&[
            ("SendClaimsIn", " querystring "),
            ("HttpBinding", "post"),
            ("AuthenticationType", "Bearer"),
            ("UseClaimAsBearerToken", " token "),
            ("TimeoutSeconds", "1.5"),
            ("Retries", "0"),
            ("MaxResponseBytes", "1024"),
            ("CircuitBreakerFailures", "0"),
            ("CircuitBreakerSeconds", "2"),
            ("DebugMode", "TRUE"),
            ("UserMessageIfRequestTimeout", " Try later "),
            ("ClaimUsedForRequestPayload", "payload"),
        ]);
        p.cryptographic_keys
            .insert("bearerauthenticationtoken".into(), "B2C_1A_X".into());
        let s = RestSettings::from_profile(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.send_claims_in, SendClaimsIn::QueryString);
        assert_eq!(s.http_binding, HttpBinding::Post);
        assert_eq!(
            s.authentication,
            Authentication::Bearer {
                use_claim: Some(ClaimTypeId::new("token"))
            }
        );
        assert_eq!(s.timeout, Duration::from_millis(1500));
        assert_eq!(s.retries, 0);
        assert_eq!(s.max_response_bytes, Some(1024));
        assert_eq!(s.circuit_breaker.failures, 0);
        assert_eq!(s.circuit_breaker.cool_down, Duration::from_secs(2));
        assert!(s.debug_mode);
        assert_eq!(s.messages.timeout.as_deref(), Some("Try later"));
        assert_eq!(
            s.claim_used_for_request_payload,
            Some(ClaimTypeId::new("payload"))
        );
    }

    #[test]
    fn each_invalid_value_names_its_key() {
        for (items, key) in [
            (&[("SendClaimsIn", "Carrier pigeon")][..], "SendClaimsIn"),
            (&[("HttpBinding", "GET")][..], "HttpBinding"),
            (
                &[("SendClaimsIn", "Header"), ("HttpBinding", "PUT")][..],
                "HttpBinding",
            ),
            (
                &[("AuthenticationType", "Kerberos")][..],
                "AuthenticationType",
            ),
            (&[("ApiConnectorStep", "Later")][..], "ApiConnectorStep"),
            (&[("ServiceUrl", "")][..], "ServiceUrl"),
            (&[("ServiceUrl", "/relative")][..], "ServiceUrl"),
            (
                &[("ServiceUrl", "ftp://files.example.com/")][..],
                "ServiceUrl",
            ),
            (
                &[("ServiceUrl", "https://{tenant}.example.com/")][..],
                "ServiceUrl",
            ),
            (&[("TimeoutSeconds", "0")][..], "TimeoutSeconds"),
            (&[("TimeoutSeconds", "ten")][..], "TimeoutSeconds"),
            (&[("TimeoutSeconds", "601")][..], "TimeoutSeconds"),
            (&[("Retries", "-1")][..], "Retries"),
            (&[("Retries", "11")][..], "Retries"),
            (&[("MaxResponseBytes", "1MB")][..], "MaxResponseBytes"),
            (
                &[("CircuitBreakerFailures", "five")][..],
                "CircuitBreakerFailures",
            ),
            (
                &[("CircuitBreakerSeconds", "0")][..],
                "CircuitBreakerSeconds",
            ),
            (
                &[("AuthenticationType", "ClientCredentials")][..],
                "TokenEndpoint",
            ),
            (
                &[
                    ("AuthenticationType", "ClientCredentials"),
                    ("TokenEndpoint", "login"),
                ][..],
                "TokenEndpoint",
            ),
        ] {
            let e = error(items);
            assert_eq!(e.key(), key, "{items:?}: {e}");
            assert!(e.to_string().contains(key), "{e}");
        }
    }

    #[test]
    fn authentication_without_its_keys_names_the_missing_key() {
        for (kind, key) in [
            ("Basic", "BasicAuthenticationUsername"),
            ("Bearer", "BearerAuthenticationToken"),
            ("ClientCertificate", "ClientCertificate"),
        ] {
            let e = error(&[("AuthenticationType", kind)]);
            assert_eq!(
                e,
                RestSettingsError::MissingKey {
                    key_id: key.to_owned()
                },
                "{kind}"
            );
        }
        let e = error(&[("AuthenticationType", "ApiKeyHeader")]);
        assert!(matches!(e, RestSettingsError::MissingKey { .. }), "{e}");
    }

    #[test]
    fn url_templates_keep_tokens_and_stray_braces() {
        let t = UrlTemplate::parse("https://h/{a}/x{b{c}/{open");
        assert_eq!(
            t.parts(),
            [
                UrlPart::Text("https://h/".into()),
                UrlPart::Token("a".into()),
                UrlPart::Text("/x{b".into()),
                UrlPart::Token("c".into()),
                UrlPart::Text("/{open".into()),
            ]
        );
        assert!(t.has_tokens());
        assert!(!UrlTemplate::parse("https://h/p").has_tokens());
    }
}
