//! The request one exchange sends, planned from the technical profile and the claims before any
//! I/O: URL, method, claims in Body/Form/Header/QueryString/Url, authentication, limits, the
//! output claims to read, and the redacted form of the request for the audit record.
//! (CONTRACTS.md §1 "RESTful technical profile", §3 "API connectors".)

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value, json};
use trustframe_policy::rest as md;
use trustframe_policy::{ClaimTypeId, ClaimsSchema, DataType, TechnicalProfile, UserInputType};
use url::Url;

use crate::ConnectorSettings;
use crate::RestCall;
use crate::auth::{self, Auth, AuthenticationType};
use crate::circuit::CircuitSettings;
use crate::claim_value;
use crate::error::ConnectorError;
use crate::json_path::ClaimPath;
use crate::keys::KeyStore;
use crate::redact::{REDACTED, Scrubber};

/// Characters left as they are in a URL component: RFC 3986 unreserved.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// B2C's defaults: 30 s and 2 retries for technical profiles (seed 002), 20 s and 1 retry for
/// API connectors (seed 004).
const RESTFUL_TIMEOUT: Duration = Duration::from_secs(30);
const RESTFUL_RETRIES: u32 = 2;
const CONNECTOR_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECTOR_RETRIES: u32 = 1;
const MAX_RETRIES: u32 = 10;
/// The circuit breaker's defaults (ours): 5 consecutive failures open it for 30 s.
const CIRCUIT_FAILURES: u32 = 5;
const CIRCUIT_COOL_DOWN: Duration = Duration::from_secs(30);
const CIRCUIT_MAX_SECONDS: f64 = 86_400.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendClaimsIn {
    Body,
    Form,
    Header,
    QueryString,
    Url,
}

/// The three API-connector steps of a user flow (CONTRACTS.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectorStep {
    PostFederationSignup,
    PostAttributeCollection,
    PreTokenIssuance,
}

impl ConnectorStep {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "postfederationsignup" => Self::PostFederationSignup,
            "postattributecollection" => Self::PostAttributeCollection,
            "pretokenissuance" => Self::PreTokenIssuance,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::PostFederationSignup => "PostFederationSignup",
            Self::PostAttributeCollection => "PostAttributeCollection",
            Self::PreTokenIssuance => "PreTokenIssuance",
        }
    }

    /// `ShowBlockPage` is allowed after federation and after attribute collection.
    pub(crate) fn allows_block_page(self) -> bool {
        matches!(
            self,
            Self::PostFederationSignup | Self::PostAttributeCollection
        )
    }

    /// `ValidationError` is allowed only after attribute collection (there is a page to show).
    pub(crate) fn allows_validation_error(self) -> bool {
        self == Self::PostAttributeCollection
    }
}

/// Which response contract applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contract {
    Restful,
    ApiConnector(ConnectorStep),
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    None,
    Json(Vec<u8>),
    Form(String),
}

/// One output claim and where to find it.
#[derive(Debug, Clone)]
pub(crate) struct OutputSpec {
    pub claim: ClaimTypeId,
    /// The flat key (partner claim type, or the claim id).
    pub name: String,
    /// With `ResolveJsonPathsInJsonTokens`: the compiled path.
    pub path: Option<ClaimPath>,
    pub default: Option<Value>,
    pub always_default: bool,
    pub data_type: DataType,
}

/// The user messages a profile sets for failures.
#[derive(Debug, Clone, Default)]
pub(crate) struct Messages {
    pub default: Option<String>,
    pub timeout: Option<String>,
    pub dns: Option<String>,
    pub circuit_open: Option<String>,
}

pub(crate) struct Plan {
    pub contract: Contract,
    pub method: Method,
    pub url: Url,
    /// The URL for records and logs: no query string, secret claims redacted.
    pub audit_url: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Body,
    pub auth: Auth,
    /// Plain HTTP or `None` authentication outside development: why the call is refused.
    pub insecure: Option<String>,
    pub timeout: Duration,
    pub retries: u32,
    pub max_response_bytes: usize,
    pub debug_mode: bool,
    pub outputs: Vec<OutputSpec>,
    pub messages: Messages,
    /// The circuit to this endpoint (profile id + ServiceUrl without query) and its settings.
    pub circuit: CircuitSettings,
    pub scrubber: Scrubber,
    /// The request as the audit record shows it (already redacted).
    pub request_detail: Value,
}

/// One input claim ready to send.
struct Sent {
    claim: ClaimTypeId,
    name: String,
    value: Value,
    secret: bool,
}

impl Plan {
    pub(crate) fn build(
        call: &RestCall<'_>,
        settings: &ConnectorSettings,
        keys: &KeyStore,
    ) -> Result<Self, ConnectorError> {
        let profile = call.profile;
        let md_ = &profile.metadata;
        let pid = || profile.id.to_string();

        let contract = match md_.get(md::API_CONNECTOR_STEP) {
            Some(step) => Contract::ApiConnector(ConnectorStep::parse(step).ok_or_else(|| {
                ConnectorError::InvalidMetadata {
                    profile: pid(),
                    key: md::API_CONNECTOR_STEP,
                    reason: format!(
                        "{step:?} is not PostFederationSignup, PostAttributeCollection or \
                         PreTokenIssuance"
                    ),
                }
            })?),
            None => Contract::Restful,
        };

        let send_claims_in = match contract {
            // API connectors always POST a JSON body (CONTRACTS.md §3).
            Contract::ApiConnector(_) => SendClaimsIn::Body,
            Contract::Restful => parse_send_claims_in(profile)?,
        };
        let method = method_for(profile, send_claims_in)?;

        let resolve_claims = md_.flag(md::INCLUDE_CLAIM_RESOLVING_IN_CLAIMS_HANDLING, false);
        let kind = AuthenticationType::parse(profile)?;
        let resolved = auth::resolve(kind, profile, call.claims, keys)?;

        // Secrets: keys and tokens of this profile, the bearer claim, and every password-type
        // claim the journey holds (whether or not this profile sends it).
        let mut scrubber = Scrubber::default();
        for s in &resolved.secrets {
            scrubber.add(s);
        }
        let is_secret_claim = |id: &ClaimTypeId| {
            resolved.bearer_claim.as_ref() == Some(id) || is_password(call.schema, id)
        };
        // Walk the (few) password-type claim types rather than every claim the journey holds:
        // claim ids compare without regard to case, which makes each map lookup cost.
        let secret_ids = call
            .schema
            .claim_types
            .values()
            .filter(|c| c.user_input_type == Some(UserInputType::Password))
            .map(|c| &c.id)
            .chain(resolved.bearer_claim.as_ref());
        for id in secret_ids {
            if let Some(value) = call.claims.get(id) {
                for text in claim_value::to_texts(value) {
                    scrubber.add(&text);
                }
            }
        }

        let sent = input_claims(call, resolve_claims, contract, &is_secret_claim);

        // The URL: `{claim}` placeholders (Url mode) and claim resolvers (when enabled).
        let raw_url = md_
            .get(md::SERVICE_URL)
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ConnectorError::MissingMetadata {
                profile: pid(),
                key: md::SERVICE_URL,
            })?;
        check_host_has_no_placeholder(profile, raw_url)?;
        let use_placeholders = send_claims_in == SendClaimsIn::Url;
        let filled = fill_url(
            raw_url,
            &sent,
            use_placeholders,
            resolve_claims,
            call,
            false,
        );
        let mut url = Url::parse(&filled).map_err(|e| ConnectorError::InvalidMetadata {
            profile: pid(),
            key: md::SERVICE_URL,
            reason: e.to_string(),
        })?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(ConnectorError::InvalidMetadata {
                profile: pid(),
                key: md::SERVICE_URL,
                reason: format!("scheme {} is not https", url.scheme()),
            });
        }
        let audit_url = {
            let redacted = fill_url(raw_url, &sent, use_placeholders, resolve_claims, call, true);
            without_query(&redacted)
        };

        // The insecure-transport rule (CONTRACTS.md §11; B2C's AllowInsecureAuthInProduction).
        let allow_insecure =
            settings.development || md_.flag(md::ALLOW_INSECURE_AUTH_IN_PRODUCTION, false);
        let insecure = if allow_insecure {
            None
        } else if url.scheme() == "http" {
            Some("plain http:// ServiceUrl".to_owned())
        } else if kind == AuthenticationType::None {
            Some("AuthenticationType None".to_owned())
        } else if let Auth::ClientCredentials(t) = &resolved.auth {
            (t.endpoint.scheme() != "https").then(|| "plain http:// TokenEndpoint".to_owned())
        } else {
            None
        };

        // Claims into the request.
        let mut headers = Vec::new();
        let mut detail_headers = Map::new();
        let mut detail_query = Map::new();
        let body;
        let detail_body;
        match send_claims_in {
            SendClaimsIn::Body => {
                if let Some(payload_claim) = md_
                    .get(md::CLAIM_USED_FOR_REQUEST_PAYLOAD)
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                {
                    let id = ClaimTypeId::new(payload_claim);
                    let payload = sent
                        .iter()
                        .find(|s| s.claim == id)
                        .map(|s| claim_value::to_text(&s.value))
                        .or_else(|| {
                            call.claims
                                .get(&id)
                                .filter(|v| claim_value::has_value(v))
                                .map(claim_value::to_text)
                        })
                        .ok_or_else(|| ConnectorError::MissingPayloadClaim {
                            profile: pid(),
                            claim: id.to_string(),
                        })?;
                    detail_body = Value::String(payload.clone());
                    body = Body::Json(payload.into_bytes());
                } else {
                    let mut object = Map::new();
                    for s in &sent {
                        object.insert(s.name.clone(), s.value.clone());
                    }
                    if let Contract::ApiConnector(step) = contract {
                        // Always present in API-connector requests (seed 004).
                        let mut extra = vec![("step", Value::from(step.as_str()))];
                        if let Some(client_id) = call
                            .context
                            .oauth_params
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("client_id"))
                            .map(|(_, v)| v.clone())
                            .filter(|v| !v.is_empty())
                        {
                            extra.push(("client_id", Value::from(client_id)));
                        }
                        if !call.context.culture.is_empty() {
                            extra.push(("ui_locales", Value::from(call.context.culture.clone())));
                        }
                        for (k, v) in extra {
                            object.insert(k.to_owned(), v);
                        }
                    }
                    let object = Value::Object(object);
                    body = Body::Json(
                        serde_json::to_vec(&object)
                            .map_err(|e| ConnectorError::Client(e.to_string()))?,
                    );
                    // The same object, secrets redacted, is what the record shows.
                    let mut shown = object;
                    for s in sent.iter().filter(|s| s.secret) {
                        shown[s.name.as_str()] = Value::from(REDACTED);
                    }
                    detail_body = shown;
                }
            }
            SendClaimsIn::Form => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                let mut shown = Map::new();
                for s in &sent {
                    for text in claim_value::to_texts(&s.value) {
                        form.append_pair(&s.name, &text);
                    }
                    shown.insert(s.name.clone(), shown_value(s));
                }
                detail_body = Value::Object(shown);
                body = Body::Form(form.finish());
            }
            SendClaimsIn::Header => {
                for s in &sent {
                    let name = HeaderName::from_bytes(s.name.as_bytes()).map_err(|_| {
                        ConnectorError::InvalidMetadata {
                            profile: pid(),
                            key: md::SEND_CLAIMS_IN,
                            reason: format!(
                                "claim {} is sent as header {:?}, which is not a valid header name",
                                s.claim, s.name
                            ),
                        }
                    })?;
                    let text = claim_value::to_texts(&s.value).join(",");
                    let mut value = header_value(&text);
                    if s.secret {
                        value.set_sensitive(true);
                    }
                    headers.push((name, value));
                    detail_headers.insert(s.name.clone(), shown_value(s));
                }
                detail_body = Value::Null;
                body = Body::None;
            }
            SendClaimsIn::QueryString => {
                {
                    let mut pairs = url.query_pairs_mut();
                    for s in &sent {
                        for text in claim_value::to_texts(&s.value) {
                            pairs.append_pair(&s.name, &text);
                        }
                        detail_query.insert(s.name.clone(), shown_value(s));
                    }
                }
                detail_body = Value::Null;
                body = Body::None;
            }
            SendClaimsIn::Url => {
                detail_body = Value::Null;
                body = Body::None;
            }
        }

        // How the authentication shows in the record: never its value.
        match &resolved.auth {
            Auth::Header(_) | Auth::ClientCredentials(_) | Auth::MissingBearerClaim(_) => {
                detail_headers.insert("authorization".to_owned(), Value::from(REDACTED));
            }
            Auth::ApiKeyHeaders(h) => {
                for (name, _) in h {
                    detail_headers.insert(name.to_string(), Value::from(REDACTED));
                }
            }
            Auth::None | Auth::ClientCertificate(_) => {}
        }

        let timeout = match md_.get(md::TIMEOUT_SECONDS) {
            Some(v) => match v.trim().parse::<f64>() {
                Ok(s) if s > 0.0 && s <= 600.0 => Duration::from_secs_f64(s),
                _ => {
                    return Err(ConnectorError::InvalidMetadata {
                        profile: pid(),
                        key: md::TIMEOUT_SECONDS,
                        reason: format!("{v:?} is not a number of seconds in (0, 600]"),
                    });
                }
            },
            None => match contract {
                Contract::Restful => RESTFUL_TIMEOUT,
                Contract::ApiConnector(_) => CONNECTOR_TIMEOUT,
            },
        };
        let retries = match md_.get(md::RETRIES) {
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if n <= MAX_RETRIES => n,
                _ => {
                    return Err(ConnectorError::InvalidMetadata {
                        profile: pid(),
                        key: md::RETRIES,
                        reason: format!("{v:?} is not a whole number from 0 to {MAX_RETRIES}"),
                    });
                }
            },
            None => match contract {
                Contract::Restful => RESTFUL_RETRIES,
                Contract::ApiConnector(_) => CONNECTOR_RETRIES,
            },
        };
        let max_response_bytes = match md_.get(md::MAX_RESPONSE_BYTES) {
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map_err(|_| ConnectorError::InvalidMetadata {
                    profile: pid(),
                    key: md::MAX_RESPONSE_BYTES,
                    reason: format!("{v:?} is not a number of bytes"),
                })?,
            None => settings.default_max_response_bytes,
        };

        let circuit_failures = match md_.get(md::CIRCUIT_BREAKER_FAILURES) {
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map_err(|_| ConnectorError::InvalidMetadata {
                    profile: pid(),
                    key: md::CIRCUIT_BREAKER_FAILURES,
                    reason: format!("{v:?} is not a whole number (0 disables the breaker)"),
                })?,
            None => CIRCUIT_FAILURES,
        };
        let circuit_cool_down = match md_.get(md::CIRCUIT_BREAKER_SECONDS) {
            Some(v) => match v.trim().parse::<f64>() {
                Ok(s) if s > 0.0 && s <= CIRCUIT_MAX_SECONDS => Duration::from_secs_f64(s),
                _ => {
                    return Err(ConnectorError::InvalidMetadata {
                        profile: pid(),
                        key: md::CIRCUIT_BREAKER_SECONDS,
                        reason: format!(
                            "{v:?} is not a number of seconds in (0, {CIRCUIT_MAX_SECONDS}]"
                        ),
                    });
                }
            },
            None => CIRCUIT_COOL_DOWN,
        };
        let circuit = CircuitSettings {
            key: format!("{}\n{}", profile.id, without_query(raw_url)),
            failures: circuit_failures,
            cool_down: circuit_cool_down,
        };

        let resolve_paths = md_.flag(md::RESOLVE_JSON_PATHS_IN_JSON_TOKENS, false);
        let outputs = output_specs(call, resolve_paths, resolve_claims)?;

        let messages = Messages {
            default: message(profile, md::DEFAULT_USER_MESSAGE_IF_REQUEST_FAILED),
            timeout: message(profile, md::USER_MESSAGE_IF_REQUEST_TIMEOUT),
            dns: message(profile, md::USER_MESSAGE_IF_DNS_RESOLUTION_FAILED),
            circuit_open: message(profile, md::USER_MESSAGE_IF_CIRCUIT_OPEN),
        };

        let mut request_detail = json!({
            "method": method.as_str(),
            "url": audit_url,
            "sendClaimsIn": format!("{send_claims_in:?}"),
            "authenticationType": format!("{kind:?}"),
        });
        if !detail_headers.is_empty() {
            request_detail["headers"] = Value::Object(detail_headers);
        }
        if !detail_query.is_empty() {
            request_detail["query"] = Value::Object(detail_query);
        }
        if !detail_body.is_null() {
            request_detail["body"] = detail_body;
        }
        scrubber.scrub_value(&mut request_detail);

        Ok(Plan {
            contract,
            method,
            url,
            audit_url: scrubber.scrub(&audit_url),
            headers,
            body,
            auth: resolved.auth,
            insecure,
            timeout,
            retries,
            max_response_bytes,
            debug_mode: md_.flag(md::DEBUG_MODE, false),
            outputs,
            messages,
            circuit,
            scrubber,
            request_detail,
        })
    }
}

fn parse_send_claims_in(profile: &TechnicalProfile) -> Result<SendClaimsIn, ConnectorError> {
    let Some(v) = profile.metadata.get(md::SEND_CLAIMS_IN) else {
        return Ok(SendClaimsIn::Body);
    };
    Ok(match v.trim().to_ascii_lowercase().as_str() {
        "" | "body" => SendClaimsIn::Body,
        "form" => SendClaimsIn::Form,
        "header" => SendClaimsIn::Header,
        "querystring" => SendClaimsIn::QueryString,
        "url" => SendClaimsIn::Url,
        other => {
            return Err(ConnectorError::InvalidMetadata {
                profile: profile.id.to_string(),
                key: md::SEND_CLAIMS_IN,
                reason: format!("{other:?} is not one of Body, Form, Header, QueryString, Url"),
            });
        }
    })
}

/// Body and Form are POSTs; Header, QueryString and Url are GETs unless `HttpBinding` says POST.
fn method_for(profile: &TechnicalProfile, mode: SendClaimsIn) -> Result<Method, ConnectorError> {
    let binding = profile
        .metadata
        .get(md::HTTP_BINDING)
        .map(|b| b.trim().to_ascii_uppercase())
        .filter(|b| !b.is_empty());
    let invalid = |reason: String| ConnectorError::InvalidMetadata {
        profile: profile.id.to_string(),
        key: md::HTTP_BINDING,
        reason,
    };
    match (mode, binding.as_deref()) {
        (SendClaimsIn::Body | SendClaimsIn::Form, None | Some("POST")) => Ok(Method::POST),
        (SendClaimsIn::Body | SendClaimsIn::Form, Some(other)) => Err(invalid(format!(
            "{other} cannot carry claims in a body; SendClaimsIn {mode:?} is sent with POST"
        ))),
        (_, None | Some("GET")) => Ok(Method::GET),
        (_, Some("POST")) => Ok(Method::POST),
        (_, Some(other)) => Err(invalid(format!("{other} is not GET or POST"))),
    }
}

fn is_password(schema: &ClaimsSchema, id: &ClaimTypeId) -> bool {
    schema
        .get(id)
        .and_then(|c| c.user_input_type)
        .is_some_and(|t| t == UserInputType::Password)
}

/// Input claims with their values: `AlwaysUseDefaultValue`, else the claim's value, else its
/// `DefaultValue`; claim resolvers in default values when `IncludeClaimResolvingInClaimsHandling`
/// is true. Claim *values* are never resolved: they may be user input, and a user typing
/// `{Claim:password}` must not read another claim.
fn input_claims(
    call: &RestCall<'_>,
    resolve_claims: bool,
    contract: Contract,
    is_secret: &dyn Fn(&ClaimTypeId) -> bool,
) -> Vec<Sent> {
    let extensions_app_id = call
        .profile
        .metadata
        .get(md::EXTENSIONS_APP_ID)
        .map(|id| id.trim().replace('-', "").to_ascii_lowercase())
        .filter(|id| !id.is_empty());
    let mut sent = Vec::new();
    for input in &call.profile.input_claims {
        let default = input.default_value.as_ref().map(|d| {
            let data_type = call.schema.data_type(&input.claim_type);
            let text = if resolve_claims {
                call.context.resolve(d, call.claims)
            } else {
                d.clone()
            };
            claim_value::from_default(text, data_type)
        });
        let value = if input.always_use_default_value && default.is_some() {
            default
        } else {
            call.claims
                .get(&input.claim_type)
                .filter(|v| claim_value::has_value(v))
                .cloned()
                .or(default)
        };
        let Some(value) = value.filter(claim_value::has_value) else {
            continue;
        };
        let mut name = input.partner_name().to_owned();
        if let (Contract::ApiConnector(_), Some(app_id)) = (contract, &extensions_app_id) {
            name = with_extensions_app_id(&name, app_id);
        }
        sent.push(Sent {
            secret: is_secret(&input.claim_type),
            claim: input.claim_type.clone(),
            name,
            value,
        });
    }
    sent
}

/// `extension_loyaltyNumber` → `extension_<appid>_loyaltyNumber`, as Graph names custom
/// attributes (seed 004); a name that already carries an app id is kept.
fn with_extensions_app_id(name: &str, app_id: &str) -> String {
    let Some(rest) = strip_prefix_ignore_case(name, "extension_") else {
        return name.to_owned();
    };
    if crate::response::split_app_id(rest).is_some() {
        return name.to_owned();
    }
    format!("extension_{app_id}_{rest}")
}

pub(crate) fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &s[prefix.len()..])
}

fn shown_value(s: &Sent) -> Value {
    if s.secret {
        Value::from(REDACTED)
    } else {
        s.value.clone()
    }
}

/// Header values are bytes; control characters (which could split headers) become spaces.
fn header_value(text: &str) -> HeaderValue {
    let bytes: Vec<u8> = text
        .bytes()
        .map(|b| {
            if b.is_ascii_control() && b != b'\t' {
                b' '
            } else {
                b
            }
        })
        .collect();
    HeaderValue::from_bytes(&bytes).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// B2C: "the host name part of the URL can't contain claims".
fn check_host_has_no_placeholder(
    profile: &TechnicalProfile,
    raw: &str,
) -> Result<(), ConnectorError> {
    let after_scheme = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if authority.contains('{') {
        return Err(ConnectorError::InvalidMetadata {
            profile: profile.id.to_string(),
            key: md::SERVICE_URL,
            reason: "the host name part of the URL cannot contain claims".to_owned(),
        });
    }
    Ok(())
}

/// Replaces `{name}` tokens: input claims by partner name (Url mode), then claim resolvers
/// (when enabled); values are percent-encoded. Other braces stay as written.
fn fill_url(
    raw: &str,
    sent: &[Sent],
    placeholders: bool,
    resolvers: bool,
    call: &RestCall<'_>,
    redact: bool,
) -> String {
    if !placeholders && !resolvers {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let token = &after[..close];
        let claim = placeholders
            .then(|| sent.iter().find(|s| s.name.eq_ignore_ascii_case(token)))
            .flatten();
        let replacement = match claim {
            Some(s) if redact && s.secret => Some(REDACTED.to_owned()),
            Some(s) => Some(claim_value::to_texts(&s.value).join(",")),
            None if placeholders
                && call
                    .profile
                    .input_claims
                    .iter()
                    .any(|c| c.partner_name().eq_ignore_ascii_case(token)) =>
            {
                // An input claim without a value fills its placeholder with nothing.
                Some(String::new())
            }
            None if resolvers => call.context.resolve_one(token, call.claims),
            None => None,
        };
        match replacement {
            Some(value) => {
                out.extend(utf8_percent_encode(&value, COMPONENT));
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A URL as records and logs show it: no query string (it often carries a function key), no
/// fragment, no `user:password@`.
pub(crate) fn without_query(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or_default();
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => base.to_owned(),
    }
}

fn message(profile: &TechnicalProfile, key: &str) -> Option<String> {
    profile
        .metadata
        .get(key)
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
}

fn output_specs(
    call: &RestCall<'_>,
    resolve_paths: bool,
    resolve_claims: bool,
) -> Result<Vec<OutputSpec>, ConnectorError> {
    let profile = call.profile;
    profile
        .output_claims
        .iter()
        .map(|out| {
            let data_type = call.schema.data_type(&out.claim_type);
            let name = out.partner_name().to_owned();
            let path = if resolve_paths {
                Some(
                    ClaimPath::parse(&name).map_err(|reason| ConnectorError::InvalidMetadata {
                        profile: profile.id.to_string(),
                        key: md::RESOLVE_JSON_PATHS_IN_JSON_TOKENS,
                        reason: format!(
                            "output claim {}: PartnerClaimType {name:?}: {reason}",
                            out.claim_type
                        ),
                    })?,
                )
            } else {
                None
            };
            let default = out.default_value.as_ref().map(|d| {
                let text = if resolve_claims {
                    call.context.resolve(d, call.claims)
                } else {
                    d.clone()
                };
                claim_value::from_default(text, data_type)
            });
            Ok(OutputSpec {
                claim: out.claim_type.clone(),
                name,
                path,
                default,
                always_default: out.always_use_default_value,
                data_type,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_urls_lose_query_fragment_and_credentials() {
        assert_eq!(
            without_query("https://u:p@api.example.com:8443/a/b?code=k#f"),
            "https://api.example.com:8443/a/b"
        );
        assert_eq!(
            without_query("https://api.example.com?x=1"),
            "https://api.example.com"
        );
        assert_eq!(without_query("https://h/p@x"), "https://h/p@x");
    }
}
