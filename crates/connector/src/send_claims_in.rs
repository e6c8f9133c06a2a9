//! Claims into the request, one function per `SendClaimsIn` mode (`restful-technical-profile.md`):
//! a JSON body (or `ClaimUsedForRequestPayload` as is), a form, one header per claim, query
//! parameters; with `Url` the claims went into the URL already. API connectors send the JSON
//! body of `add-api-connector.md`, with `step`, `client_id` and `ui_locales`.

use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};
use trustframe_policy::rest::{self as md, ApiConnectorStep, RestSettings, SendClaimsIn};
use trustframe_policy::{ClaimTypeId, ResolverContext};
use url::Url;

use crate::RestCall;
use crate::claim_value;
use crate::error::ConnectorError;
use crate::plan::{Body, Sent};
use crate::redact::REDACTED;

/// The claims as sent, and as the audit record shows them (secrets redacted).
#[derive(Default)]
pub(crate) struct Encoded {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Body,
    pub detail_headers: Map<String, Value>,
    pub detail_query: Map<String, Value>,
    pub detail_body: Value,
}

/// Puts `sent` where `SendClaimsIn` says; QueryString appends to `url`.
pub(crate) fn encode(
    call: &RestCall<'_>,
    rest: &RestSettings,
    sent: &[Sent],
    url: &mut Url,
) -> Result<Encoded, ConnectorError> {
    match rest.send_claims_in {
        SendClaimsIn::Body => match &rest.claim_used_for_request_payload {
            Some(claim) => payload(call, claim, sent),
            None => json_body(call.context, rest.api_connector_step, sent),
        },
        SendClaimsIn::Form => Ok(form(sent)),
        SendClaimsIn::Header => header(call, sent),
        SendClaimsIn::QueryString => Ok(query_string(sent, url)),
        SendClaimsIn::Url => Ok(Encoded::default()),
    }
}

/// `ClaimUsedForRequestPayload`: the claim's text is the whole body.
fn payload(
    call: &RestCall<'_>,
    claim: &ClaimTypeId,
    sent: &[Sent],
) -> Result<Encoded, ConnectorError> {
    let payload = sent
        .iter()
        .find(|s| s.claim == *claim)
        .map(|s| claim_value::to_text(&s.value))
        .or_else(|| {
            call.claims
                .get(claim)
                .filter(|v| claim_value::has_value(v))
                .map(claim_value::to_text)
        })
        .ok_or_else(|| ConnectorError::MissingPayloadClaim {
            profile: call.profile.id.to_string(),
            claim: claim.to_string(),
        })?;
    Ok(Encoded {
        detail_body: Value::String(payload.clone()),
        body: Body::Json(payload.into_bytes()),
        ..Encoded::default()
    })
}

/// A JSON object of the claims by partner name.
fn json_body(
    context: &ResolverContext,
    step: Option<ApiConnectorStep>,
    sent: &[Sent],
) -> Result<Encoded, ConnectorError> {
    let mut object = Map::new();
    for s in sent {
        object.insert(s.name.clone(), s.value.clone());
    }
    if let Some(step) = step {
        api_connector_fields(context, step, &mut object);
    }
    let object = Value::Object(object);
    let body = serde_json::to_vec(&object).map_err(|e| ConnectorError::Client(e.to_string()))?;
    // The same object, secrets redacted, is what the record shows.
    let mut shown = object;
    for s in sent.iter().filter(|s| s.secret) {
        shown[s.name.as_str()] = Value::from(REDACTED);
    }
    Ok(Encoded {
        body: Body::Json(body),
        detail_body: shown,
        ..Encoded::default()
    })
}

/// Always present in API-connector requests (`add-api-connector.md`): `step`, and `client_id`
/// and `ui_locales` when the journey knows them.
fn api_connector_fields(
    context: &ResolverContext,
    step: ApiConnectorStep,
    object: &mut Map<String, Value>,
) {
    object.insert("step".to_owned(), Value::from(step.as_str()));
    if let Some(client_id) = context
        .oauth_params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("client_id"))
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
    {
        object.insert("client_id".to_owned(), Value::from(client_id));
    }
    if !context.culture.is_empty() {
        object.insert(
            "ui_locales".to_owned(),
            Value::from(context.culture.clone()),
        );
    }
}

/// `application/x-www-form-urlencoded`; a collection sends one pair per item.
fn form(sent: &[Sent]) -> Encoded {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    let mut shown = Map::new();
    for s in sent {
        for text in claim_value::to_texts(&s.value) {
            form.append_pair(&s.name, &text);
        }
        shown.insert(s.name.clone(), s.shown_value());
    }
    Encoded {
        body: Body::Form(form.finish()),
        detail_body: Value::Object(shown),
        ..Encoded::default()
    }
}

/// One header per claim; a collection's items joined with commas.
fn header(call: &RestCall<'_>, sent: &[Sent]) -> Result<Encoded, ConnectorError> {
    let mut encoded = Encoded::default();
    for s in sent {
        let name = HeaderName::from_bytes(s.name.as_bytes()).map_err(|_| {
            ConnectorError::InvalidMetadata {
                profile: call.profile.id.to_string(),
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
        encoded.headers.push((name, value));
        encoded
            .detail_headers
            .insert(s.name.clone(), s.shown_value());
    }
    Ok(encoded)
}

/// Query parameters after those `ServiceUrl` has; a collection sends one per item.
fn query_string(sent: &[Sent], url: &mut Url) -> Encoded {
    let mut encoded = Encoded::default();
    let mut pairs = url.query_pairs_mut();
    for s in sent {
        for text in claim_value::to_texts(&s.value) {
            pairs.append_pair(&s.name, &text);
        }
        encoded.detail_query.insert(s.name.clone(), s.shown_value());
    }
    encoded
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
