//! Claims transformations: the methods of B2C's claims transformations reference that journeys
//! need first. An unknown method is an error naming the transformation, never a silent no-op.

use serde_json::Value;
use trustframe_policy::{ClaimTypeId, ClaimValues, ClaimsTransformation};

use crate::EngineError;

/// A transformation that failed its assertion: the message is for the user.
pub struct AssertionFailed(pub String);

fn input<'a>(t: &'a ClaimsTransformation, name: &str) -> Option<&'a ClaimTypeId> {
    t.input_claims
        .iter()
        .find(|c| c.transformation_claim_type.eq_ignore_ascii_case(name))
        .map(|c| &c.claim_type)
}

fn output<'a>(t: &'a ClaimsTransformation, name: &str) -> Option<&'a ClaimTypeId> {
    t.output_claims
        .iter()
        .find(|c| c.transformation_claim_type.eq_ignore_ascii_case(name))
        .map(|c| &c.claim_type)
}

fn parameter<'a>(t: &'a ClaimsTransformation, name: &str) -> Option<&'a str> {
    t.input_parameters
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(name))
        .map(|p| p.value.as_str())
}

fn string_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn missing(t: &ClaimsTransformation, what: &str) -> EngineError {
    EngineError::Policy(format!(
        "{}: claims transformation '{}' ({}) has no {what}",
        t.span, t.id, t.method
    ))
}

/// Runs one transformation over the claims bag. `Ok(Err(..))` is a failed assertion whose
/// message the page shows.
pub fn apply(
    t: &ClaimsTransformation,
    claims: &mut ClaimValues,
) -> Result<Result<(), AssertionFailed>, EngineError> {
    match t.method.to_ascii_lowercase().as_str() {
        "additemtostringcollection" => {
            let item = input(t, "item").ok_or_else(|| missing(t, "input claim 'item'"))?;
            let out =
                output(t, "collection").ok_or_else(|| missing(t, "output claim 'collection'"))?;
            let mut items: Vec<Value> = match input(t, "collection").and_then(|c| claims.get(c)) {
                Some(Value::Array(a)) => a.clone(),
                _ => Vec::new(),
            };
            if let Some(v) = string_of(claims.get(item))
                && !items.iter().any(|i| i.as_str() == Some(v.as_str()))
            {
                items.push(Value::String(v));
            }
            if !items.is_empty() {
                claims.insert(out.clone(), Value::Array(items));
            }
        }
        "createstringclaim" => {
            let value =
                parameter(t, "value").ok_or_else(|| missing(t, "input parameter 'value'"))?;
            let out = output(t, "createdClaim")
                .ok_or_else(|| missing(t, "output claim 'createdClaim'"))?;
            claims.insert(out.clone(), Value::String(value.to_owned()));
        }
        "copyclaim" => {
            let from =
                input(t, "inputClaim").ok_or_else(|| missing(t, "input claim 'inputClaim'"))?;
            let to =
                output(t, "outputClaim").ok_or_else(|| missing(t, "output claim 'outputClaim'"))?;
            if let Some(v) = claims.get(from).cloned() {
                claims.insert(to.clone(), v);
            }
        }
        "formatstringclaim" => {
            let from =
                input(t, "inputClaim").ok_or_else(|| missing(t, "input claim 'inputClaim'"))?;
            let format = parameter(t, "stringFormat")
                .ok_or_else(|| missing(t, "input parameter 'stringFormat'"))?;
            let to =
                output(t, "outputClaim").ok_or_else(|| missing(t, "output claim 'outputClaim'"))?;
            if let Some(v) = string_of(claims.get(from)) {
                claims.insert(to.clone(), Value::String(format.replace("{0}", &v)));
            }
        }
        "changecase" => {
            let from =
                input(t, "inputClaim1").ok_or_else(|| missing(t, "input claim 'inputClaim1'"))?;
            let to = output(t, "inputClaim1").unwrap_or(from);
            let upper = parameter(t, "toCase").is_some_and(|c| c.eq_ignore_ascii_case("upper"));
            if let Some(v) = string_of(claims.get(from)) {
                let v = if upper {
                    v.to_uppercase()
                } else {
                    v.to_lowercase()
                };
                claims.insert(to.clone(), Value::String(v));
            }
        }
        "assertstringclaimsareequal" => {
            let a =
                input(t, "inputClaim1").ok_or_else(|| missing(t, "input claim 'inputClaim1'"))?;
            let b =
                input(t, "inputClaim2").ok_or_else(|| missing(t, "input claim 'inputClaim2'"))?;
            let ignore_case = parameter(t, "stringComparison")
                .is_some_and(|c| c.eq_ignore_ascii_case("ordinalIgnoreCase"));
            let (x, y) = (string_of(claims.get(a)), string_of(claims.get(b)));
            let equal = match (&x, &y) {
                (Some(x), Some(y)) if ignore_case => x.to_lowercase() == y.to_lowercase(),
                (Some(x), Some(y)) => x == y,
                _ => false,
            };
            if !equal {
                return Ok(Err(AssertionFailed(format!(
                    "The values of '{a}' and '{b}' do not match."
                ))));
            }
        }
        // Ours: the Graph `identities` collection of a user not yet written (API connectors
        // receive it before the account exists).
        "createidentitiescollection" => {
            let id = input(t, "issuerAssignedId")
                .ok_or_else(|| missing(t, "input claim 'issuerAssignedId'"))?;
            let out =
                output(t, "collection").ok_or_else(|| missing(t, "output claim 'collection'"))?;
            if let Some(v) = string_of(claims.get(id)) {
                // The issuer: an input claim (a federated identity's provider), else the
                // parameter (the tenant, for local accounts).
                let issuer = input(t, "issuer")
                    .and_then(|c| string_of(claims.get(c)))
                    .unwrap_or_else(|| parameter(t, "issuer").unwrap_or_default().to_owned());
                let identity = serde_json::json!({
                    "signInType": parameter(t, "signInType").unwrap_or("emailAddress"),
                    "issuer": issuer,
                    "issuerAssignedId": v,
                });
                claims.insert(out.clone(), Value::Array(vec![identity]));
            }
        }
        "generatejson" => {
            let to =
                output(t, "outputClaim").ok_or_else(|| missing(t, "output claim 'outputClaim'"))?;
            let mut doc = Value::Object(serde_json::Map::new());
            for c in &t.input_claims {
                if let Some(v) = claims.get(&c.claim_type).filter(|v| !v.is_null()) {
                    set_path(&mut doc, &c.transformation_claim_type, v.clone());
                }
            }
            for p in &t.input_parameters {
                set_path(&mut doc, &p.id, Value::String(p.value.clone()));
            }
            claims.insert(to.clone(), Value::String(doc.to_string()));
        }
        _ => {
            return Err(EngineError::Policy(format!(
                "{}: claims transformation '{}' uses method '{}', which Trustframe does not run yet",
                t.span, t.id, t.method
            )));
        }
    }
    Ok(Ok(()))
}

/// Sets `a.b.c` in a JSON object, creating the objects on the way.
fn set_path(doc: &mut Value, path: &str, value: Value) {
    let mut node = doc;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Value::Object(map) = node else { return };
        if parts.peek().is_none() {
            map.insert(part.to_owned(), value);
            return;
        }
        node = map
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustframe_policy::Span;

    fn t(
        method: &str,
        inputs: &[(&str, &str)],
        params: &[(&str, &str)],
        outputs: &[(&str, &str)],
    ) -> ClaimsTransformation {
        ClaimsTransformation::from_parts("t", method, inputs, params, outputs, Span::default())
    }

    #[test]
    fn builds_emails_collection_and_json_payload() {
        let mut claims = ClaimValues::new();
        claims.insert("email".into(), Value::from("a@b.example"));
        let add = t(
            "AddItemToStringCollection",
            &[("email", "item")],
            &[],
            &[("emails", "collection")],
        );
        assert!(apply(&add, &mut claims).is_ok_and(|r| r.is_ok()));
        assert_eq!(
            claims.get(&"emails".into()),
            Some(&serde_json::json!(["a@b.example"]))
        );

        let json = t(
            "GenerateJson",
            &[("email", "customer.email")],
            &[("app", "trustframe")],
            &[("payload", "outputClaim")],
        );
        assert!(apply(&json, &mut claims).is_ok_and(|r| r.is_ok()));
        let payload: Value = serde_json::from_str(claims[&"payload".into()].as_str().unwrap_or(""))
            .unwrap_or_default();
        assert_eq!(
            payload,
            serde_json::json!({"customer": {"email": "a@b.example"}, "app": "trustframe"})
        );
    }

    #[test]
    fn failed_assertion_and_unknown_method_are_reported() {
        let mut claims = ClaimValues::new();
        claims.insert("a".into(), Value::from("x"));
        claims.insert("b".into(), Value::from("y"));
        let assert = t(
            "AssertStringClaimsAreEqual",
            &[("a", "inputClaim1"), ("b", "inputClaim2")],
            &[],
            &[],
        );
        assert!(matches!(apply(&assert, &mut claims), Ok(Err(_))));
        let unknown = t("Frobnicate", &[], &[], &[]);
        assert!(
            matches!(apply(&unknown, &mut claims), Err(EngineError::Policy(m)) if m.contains("Frobnicate"))
        );
    }
}
