//! Reading an answer: the RESTful technical profile contract (2xx claims, 409 error,
//! `restful-technical-profile.md`) and the API-connector contract (`version` + `action`,
//! `add-api-connector.md`).

use serde_json::{Map, Value};
use trustframe_policy::rest::ApiConnectorStep;
use trustframe_policy::{ClaimTypeId, ClaimValues, DataType};

use crate::claim_value;
use crate::json_path::Found;
use crate::outcome::{ExchangeOutcome, FailureReason};
use crate::plan::{Contract, OutputSpec, Plan, strip_prefix_ignore_case};

pub(crate) const DEFAULT_FAILURE_MESSAGE: &str =
    "We could not complete your request right now. Please try again later.";
pub(crate) const DEFAULT_TIMEOUT_MESSAGE: &str =
    "The service is taking too long to respond. Please try again later.";

/// The user message a profile gives for a failure, or ours.
pub(crate) fn failed(plan: &Plan, reason: FailureReason) -> ExchangeOutcome {
    let m = &plan.messages;
    let user_message = match reason {
        FailureReason::Timeout => m
            .timeout
            .clone()
            .or_else(|| m.default.clone())
            .unwrap_or_else(|| DEFAULT_TIMEOUT_MESSAGE.to_owned()),
        FailureReason::Dns => m
            .dns
            .clone()
            .or_else(|| m.default.clone())
            .unwrap_or_else(|| DEFAULT_FAILURE_MESSAGE.to_owned()),
        FailureReason::CircuitOpen => m
            .circuit_open
            .clone()
            .or_else(|| m.default.clone())
            .unwrap_or_else(|| DEFAULT_FAILURE_MESSAGE.to_owned()),
        _ => m
            .default
            .clone()
            .unwrap_or_else(|| DEFAULT_FAILURE_MESSAGE.to_owned()),
    };
    ExchangeOutcome::Failed {
        user_message,
        reason,
    }
}

fn malformed(plan: &Plan, why: impl Into<String>) -> ExchangeOutcome {
    failed(plan, FailureReason::MalformedResponse(why.into()))
}

/// Turns the final answer (status and body) into the outcome.
pub(crate) fn interpret(plan: &Plan, status: u16, body: &[u8]) -> ExchangeOutcome {
    if (300..400).contains(&status) {
        return failed(plan, FailureReason::Redirect);
    }
    match plan.contract {
        Contract::Restful => match status {
            200..=299 => restful_claims(plan, body),
            409 => restful_error(plan, body),
            _ => failed(plan, FailureReason::Status(status)),
        },
        Contract::ApiConnector(step) => match status {
            200 => connector_ok(plan, step, body),
            400 => connector_validation_error(plan, step, status, body),
            _ => failed(plan, FailureReason::Status(status)),
        },
    }
}

fn restful_claims(plan: &Plan, body: &[u8]) -> ExchangeOutcome {
    let reads_body = plan
        .outputs
        .iter()
        .any(|o| !(o.always_default && o.default.is_some()));
    let text = String::from_utf8_lossy(body);
    // An API that only validates may answer 200 with no body at all (`api-connectors-overview.md`).
    let json = if reads_body && !text.trim().is_empty() {
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => v,
            Err(e) => return malformed(plan, format!("the body is not JSON: {e}")),
        }
    } else {
        Value::Null
    };
    let flat = plan.outputs.iter().any(|o| o.path.is_none());
    if reads_body && flat && !json.is_null() && !json.is_object() {
        return malformed(plan, "expected a JSON object");
    }
    map_outputs(plan, |spec| match &spec.path {
        Some(path) => path.find(&json),
        None => json
            .get(&spec.name)
            .map_or(Found::Missing, |v| Found::One(v.clone())),
    })
}

fn restful_error(plan: &Plan, body: &[u8]) -> ExchangeOutcome {
    let Some(object) = parse_object(body) else {
        return malformed(plan, "HTTP 409 without a JSON error body");
    };
    let Some(user_message) = text_field(&object, "userMessage") else {
        return malformed(plan, "HTTP 409 without a userMessage");
    };
    ExchangeOutcome::ValidationError {
        user_message,
        developer_message: plan
            .debug_mode
            .then(|| text_field(&object, "developerMessage"))
            .flatten(),
        code: text_field(&object, "code"),
    }
}

fn connector_ok(plan: &Plan, step: ApiConnectorStep, body: &[u8]) -> ExchangeOutcome {
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return malformed(plan, "expected a JSON object"),
        Err(e) => return malformed(plan, format!("the body is not JSON: {e}")),
    };
    if let Err(why) = check_version(&object) {
        return malformed(plan, why);
    }
    let Some(action) = text_field(&object, "action") else {
        return malformed(plan, "the response has no action");
    };
    match action.to_ascii_lowercase().as_str() {
        "continue" => map_outputs(plan, |spec| connector_claim(&object, &spec.name)),
        "showblockpage" => {
            if !step.allows_block_page() {
                return failed(plan, FailureReason::ActionNotAllowed);
            }
            match text_field(&object, "userMessage") {
                Some(user_message) => ExchangeOutcome::Block { user_message },
                None => malformed(plan, "ShowBlockPage without a userMessage"),
            }
        }
        "validationerror" => malformed(plan, "a ValidationError must be sent with HTTP 400"),
        other => malformed(plan, format!("unknown action {other:?}")),
    }
}

fn connector_validation_error(
    plan: &Plan,
    step: ApiConnectorStep,
    status: u16,
    body: &[u8],
) -> ExchangeOutcome {
    let Some(object) = parse_object(body) else {
        return failed(plan, FailureReason::Status(status));
    };
    let is_validation_error =
        text_field(&object, "action").is_some_and(|a| a.eq_ignore_ascii_case("ValidationError"));
    if !is_validation_error {
        return failed(plan, FailureReason::Status(status));
    }
    if let Err(why) = check_version(&object) {
        return malformed(plan, why);
    }
    if let Some(s) = object.get("status") {
        let ok = match s {
            Value::Number(n) => n.as_u64() == Some(400),
            Value::String(t) => t.trim() == "400",
            _ => false,
        };
        if !ok {
            return malformed(plan, format!("a ValidationError with status {s}, not 400"));
        }
    }
    if !step.allows_validation_error() {
        return failed(plan, FailureReason::ActionNotAllowed);
    }
    let Some(user_message) = text_field(&object, "userMessage") else {
        return malformed(plan, "ValidationError without a userMessage");
    };
    ExchangeOutcome::ValidationError {
        user_message,
        developer_message: plan
            .debug_mode
            .then(|| text_field(&object, "developerMessage"))
            .flatten(),
        code: text_field(&object, "code"),
    }
}

fn check_version(object: &Map<String, Value>) -> Result<(), String> {
    match object.get("version") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(()),
        Some(Value::Number(_)) => Ok(()),
        Some(_) | None => {
            Err("the response has no version (required in every API-connector response)".to_owned())
        }
    }
}

/// A returned key for an output claim: the exact name, else the custom-attribute name with or
/// without the extensions app id (`extension_<appid>_loyaltyNumber` and
/// `extension_loyaltyNumber` are the same attribute, `add-api-connector.md`).
fn connector_claim(object: &Map<String, Value>, name: &str) -> Found {
    if let Some(v) = object.get(name) {
        return Found::One(v.clone());
    }
    let Some(wanted) = extension_attribute(name) else {
        return Found::Missing;
    };
    object
        .iter()
        .find(|(k, _)| extension_attribute(k).is_some_and(|a| a.eq_ignore_ascii_case(wanted)))
        .map_or(Found::Missing, |(_, v)| Found::One(v.clone()))
}

/// `extension_<32 hex>_name` or `extension_name` → `name`.
fn extension_attribute(key: &str) -> Option<&str> {
    let rest = strip_prefix_ignore_case(key, "extension_")?;
    Some(split_app_id(rest).unwrap_or(rest))
}

/// `<32 hex digits>_name` → `name`.
pub(crate) fn split_app_id(rest: &str) -> Option<&str> {
    let (id, name) = rest.split_at_checked(32)?;
    let name = name.strip_prefix('_')?;
    (id.bytes().all(|b| b.is_ascii_hexdigit()) && !name.is_empty()).then_some(name)
}

fn map_outputs(plan: &Plan, mut find: impl FnMut(&OutputSpec) -> Found) -> ExchangeOutcome {
    let mut claims = ClaimValues::new();
    let mut cleared: Vec<ClaimTypeId> = Vec::new();
    for spec in &plan.outputs {
        if spec.always_default
            && let Some(default) = &spec.default
        {
            claims.insert(spec.claim.clone(), default.clone());
            continue;
        }
        let typed = match find(spec) {
            Found::Missing => {
                if let Some(default) = &spec.default {
                    claims.insert(spec.claim.clone(), default.clone());
                }
                continue;
            }
            // A key sent as null leaves the claim without a value (`api-connectors-overview.md`);
            // the DefaultValue is for claims the API does not return, so it does not apply.
            Found::One(Value::Null) => {
                cleared.push(spec.claim.clone());
                continue;
            }
            Found::One(v) => claim_value::from_response(v, spec.data_type),
            Found::Many(values) if spec.data_type == DataType::StringCollection => {
                claim_value::from_response(Value::Array(values), spec.data_type)
            }
            Found::Many(values) => Err(format!(
                "the path matched {} values for a single-valued claim",
                values.len()
            )),
        };
        match typed {
            Ok(v) => {
                claims.insert(spec.claim.clone(), v);
            }
            Err(why) => {
                return malformed(
                    plan,
                    format!("output claim {} ({}): {why}", spec.claim, spec.name),
                );
            }
        }
    }
    ExchangeOutcome::Continue { claims, cleared }
}

fn parse_object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Some(o),
        _ => None,
    }
}

/// A string field; numbers are accepted as their text (`"code": 1234`).
fn text_field(object: &Map<String, Value>, key: &str) -> Option<String> {
    match object.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_names_match_with_or_without_app_id() {
        assert_eq!(
            extension_attribute("extension_0123456789abcdef0123456789abcdef_loyaltyNumber"),
            Some("loyaltyNumber")
        );
        assert_eq!(
            extension_attribute("extension_loyaltyNumber"),
            Some("loyaltyNumber")
        );
        assert_eq!(extension_attribute("email"), None);
        let object: Map<String, Value> = serde_json::from_str(
            r#"{"extension_0123456789ABCDEF0123456789ABCDEF_loyaltyNumber": "L1"}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            connector_claim(&object, "extension_loyaltyNumber"),
            Found::One(Value::from("L1"))
        );
        assert_eq!(connector_claim(&object, "extension_other"), Found::Missing);
    }
}
