//! The request one exchange sends, planned from the technical profile's [`RestSettings`] and
//! the claims before any I/O: URL, method, claims in Body/Form/Header/QueryString/Url,
//! authentication, limits, the output claims to read, and the redacted form of the request for
//! the audit record (`restful-technical-profile.md`, `add-api-connector.md`).

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value, json};
use trustframe_policy::rest::{
    self as md, ApiConnectorStep, Authentication, HttpBinding, RestSettings, RestSettingsError,
    SendClaimsIn,
};
use trustframe_policy::{ClaimTypeId, DataType, TechnicalProfile, UserInputType};
use url::Url;

use crate::ConnectorSettings;
use crate::RestCall;
use crate::auth::{self, Auth, ResolvedAuth};
use crate::circuit::CircuitSettings;
use crate::claim_value;
use crate::error::ConnectorError;
use crate::json_path::ClaimPath;
use crate::keys::KeyStore;
use crate::redact::{REDACTED, Scrubber};
use crate::send_claims_in::{self, Encoded};
use crate::service_url::{Fill, without_query};

/// Which response contract applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contract {
    Restful,
    ApiConnector(ApiConnectorStep),
}

#[derive(Debug, Clone, Default)]
pub(crate) enum Body {
    #[default]
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
pub(crate) type Messages = md::UserMessages;

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
    pub timeout: std::time::Duration,
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
pub(crate) struct Sent {
    pub claim: ClaimTypeId,
    pub name: String,
    pub value: Value,
    pub secret: bool,
}

impl Sent {
    /// The value as the audit record shows it.
    pub(crate) fn shown_value(&self) -> Value {
        if self.secret {
            Value::from(REDACTED)
        } else {
            self.value.clone()
        }
    }
}

/// The URL to call and the one to record.
struct Target {
    url: Url,
    audit_url: String,
}

impl Plan {
    pub(crate) fn build(
        call: &RestCall<'_>,
        settings: &ConnectorSettings,
        keys: &KeyStore,
    ) -> Result<Self, ConnectorError> {
        let parsed;
        let rest = match call.profile.rest.as_deref() {
            Some(prepared) => prepared,
            None => {
                parsed = settings_of(call.profile)?;
                &parsed
            }
        };
        let resolved = auth::resolve(&rest.authentication, call.profile, call.claims, keys)?;
        let scrubber = scrubber(call, &resolved);
        let sent = input_claims(call, rest, resolved.bearer_claim.as_ref());
        let Target { mut url, audit_url } = target(call, rest, &sent)?;
        let insecure = insecure(settings, rest, &url, &resolved.auth);
        let mut encoded = send_claims_in::encode(call, rest, &sent, &mut url)?;
        show_auth(&resolved.auth, &mut encoded.detail_headers);
        let method = match rest.http_binding {
            HttpBinding::Get => Method::GET,
            HttpBinding::Post => Method::POST,
        };
        let request_detail = request_detail(&method, &audit_url, rest, &mut encoded, &scrubber);
        Ok(Plan {
            contract: rest
                .api_connector_step
                .map_or(Contract::Restful, Contract::ApiConnector),
            method,
            url,
            audit_url: scrubber.scrub(&audit_url),
            headers: encoded.headers,
            body: encoded.body,
            auth: resolved.auth,
            insecure,
            timeout: rest.timeout,
            retries: rest.retries,
            max_response_bytes: rest
                .max_response_bytes
                .unwrap_or(settings.default_max_response_bytes),
            debug_mode: rest.debug_mode,
            outputs: output_specs(call, rest)?,
            messages: rest.messages.clone(),
            circuit: circuit(call.profile, rest),
            scrubber,
            request_detail,
        })
    }
}

/// The settings of a profile the link pass did not prepare (one built by hand).
pub(crate) fn settings_of(profile: &TechnicalProfile) -> Result<RestSettings, ConnectorError> {
    RestSettings::from_profile(profile).map_err(|e| {
        let profile = profile.id.to_string();
        match e {
            RestSettingsError::Missing { key } => ConnectorError::MissingMetadata { profile, key },
            RestSettingsError::Invalid { key, reason } => ConnectorError::InvalidMetadata {
                profile,
                key,
                reason,
            },
            RestSettingsError::MissingKey { key_id } => {
                ConnectorError::MissingKey { profile, key_id }
            }
        }
    })
}

/// Secrets: keys and tokens of this profile, the bearer claim, and every password-type claim
/// the journey holds (whether or not this profile sends it).
fn scrubber(call: &RestCall<'_>, resolved: &ResolvedAuth) -> Scrubber {
    let mut scrubber = Scrubber::default();
    for s in &resolved.secrets {
        scrubber.add(s);
    }
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
    scrubber
}

fn is_password(call: &RestCall<'_>, id: &ClaimTypeId) -> bool {
    call.schema
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
    rest: &RestSettings,
    bearer_claim: Option<&ClaimTypeId>,
) -> Vec<Sent> {
    let mut sent = Vec::new();
    for input in &call.profile.input_claims {
        let default = input.default_value.as_ref().map(|d| {
            let data_type = call.schema.data_type(&input.claim_type);
            claim_value::from_default(resolved_default(call, rest, d), data_type)
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
        if let (Some(_), Some(app_id)) = (rest.api_connector_step, &rest.extensions_app_id) {
            name = with_extensions_app_id(&name, app_id);
        }
        sent.push(Sent {
            secret: bearer_claim == Some(&input.claim_type) || is_password(call, &input.claim_type),
            claim: input.claim_type.clone(),
            name,
            value,
        });
    }
    sent
}

/// A `DefaultValue`, its claim resolvers resolved when the profile says so.
fn resolved_default(call: &RestCall<'_>, rest: &RestSettings, default: &str) -> String {
    if rest.include_claim_resolving {
        call.context.resolve(default, call.claims)
    } else {
        default.to_owned()
    }
}

/// The URL with its `{claim}` placeholders (Url mode) and claim resolvers (when enabled)
/// filled, and the same URL for the record: secrets redacted, no query string.
fn target(
    call: &RestCall<'_>,
    rest: &RestSettings,
    sent: &[Sent],
) -> Result<Target, ConnectorError> {
    let template = &rest.service_url;
    let fill = Fill {
        call,
        sent,
        placeholders: rest.send_claims_in == SendClaimsIn::Url,
        resolvers: rest.include_claim_resolving,
    };
    let url =
        Url::parse(&fill.apply(template, false)).map_err(|e| ConnectorError::InvalidMetadata {
            profile: call.profile.id.to_string(),
            key: md::SERVICE_URL,
            reason: e.to_string(),
        })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(ConnectorError::InvalidMetadata {
            profile: call.profile.id.to_string(),
            key: md::SERVICE_URL,
            reason: format!("scheme {} is not https", url.scheme()),
        });
    }
    let audit_url = if template.has_tokens() {
        without_query(&fill.apply(template, true))
    } else {
        without_query(template.raw())
    };
    Ok(Target { url, audit_url })
}

/// The insecure-transport rule: plain HTTP and `AuthenticationType` `None` only in development
/// or with `AllowInsecureAuthInProduction` (`restful-technical-profile.md`).
fn insecure(
    settings: &ConnectorSettings,
    rest: &RestSettings,
    url: &Url,
    auth: &Auth,
) -> Option<String> {
    if settings.development || rest.allow_insecure {
        None
    } else if url.scheme() == "http" {
        Some("plain http:// ServiceUrl".to_owned())
    } else if rest.authentication == Authentication::None {
        Some("AuthenticationType None".to_owned())
    } else if let Auth::ClientCredentials(t) = auth {
        (t.endpoint.scheme() != "https").then(|| "plain http:// TokenEndpoint".to_owned())
    } else {
        None
    }
}

/// How the authentication shows in the record: never its value.
fn show_auth(auth: &Auth, detail_headers: &mut Map<String, Value>) {
    match auth {
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
}

/// The request as the audit record shows it, secrets redacted.
fn request_detail(
    method: &Method,
    audit_url: &str,
    rest: &RestSettings,
    encoded: &mut Encoded,
    scrubber: &Scrubber,
) -> Value {
    let mut detail = json!({
        "method": method.as_str(),
        "url": audit_url,
        "sendClaimsIn": send_claims_in_name(rest.send_claims_in),
        "authenticationType": rest.authentication.name(),
    });
    if !encoded.detail_headers.is_empty() {
        detail["headers"] = Value::Object(std::mem::take(&mut encoded.detail_headers));
    }
    if !encoded.detail_query.is_empty() {
        detail["query"] = Value::Object(std::mem::take(&mut encoded.detail_query));
    }
    if !encoded.detail_body.is_null() {
        detail["body"] = encoded.detail_body.take();
    }
    scrubber.scrub_value(&mut detail);
    detail
}

fn send_claims_in_name(mode: SendClaimsIn) -> &'static str {
    match mode {
        SendClaimsIn::Body => "Body",
        SendClaimsIn::Form => "Form",
        SendClaimsIn::Header => "Header",
        SendClaimsIn::QueryString => "QueryString",
        SendClaimsIn::Url => "Url",
    }
}

/// The circuit to this endpoint: profile id + ServiceUrl without query.
fn circuit(profile: &TechnicalProfile, rest: &RestSettings) -> CircuitSettings {
    CircuitSettings {
        key: format!("{}\n{}", profile.id, without_query(rest.service_url.raw())),
        failures: rest.circuit_breaker.failures,
        cool_down: rest.circuit_breaker.cool_down,
    }
}

/// `extension_loyaltyNumber` → `extension_<appid>_loyaltyNumber`, as Graph names custom
/// attributes (`add-api-connector.md`); a name that already carries an app id is kept.
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

/// The output claims to read: by partner name, or by JSON path with
/// `ResolveJsonPathsInJsonTokens`; default values typed by the claims schema.
fn output_specs(
    call: &RestCall<'_>,
    rest: &RestSettings,
) -> Result<Vec<OutputSpec>, ConnectorError> {
    call.profile
        .output_claims
        .iter()
        .map(|out| {
            let data_type = call.schema.data_type(&out.claim_type);
            let name = out.partner_name().to_owned();
            let path = if rest.resolve_json_paths {
                Some(json_path(call.profile, out, &name)?)
            } else {
                None
            };
            let default = out
                .default_value
                .as_ref()
                .map(|d| claim_value::from_default(resolved_default(call, rest, d), data_type));
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

fn json_path(
    profile: &TechnicalProfile,
    out: &trustframe_policy::ClaimRef,
    name: &str,
) -> Result<ClaimPath, ConnectorError> {
    ClaimPath::parse(name).map_err(|reason| ConnectorError::InvalidMetadata {
        profile: profile.id.to_string(),
        key: md::RESOLVE_JSON_PATHS_IN_JSON_TOKENS,
        reason: format!(
            "output claim {}: PartnerClaimType {name:?}: {reason}",
            out.claim_type
        ),
    })
}
