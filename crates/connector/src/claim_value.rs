//! Claim values on the wire: typing what an API returns by the claims schema, typing default
//! values, and writing values as text for the non-JSON modes.
//!
//! Typing is strict where a silent cast would hide a broken API: an object or array for a
//! string claim, or `"abc"` for an int, is a malformed response. It is lenient where the meaning
//! is unambiguous, as B2C's JSON reader is: a JSON number or boolean for a *string* claim becomes
//! its JSON text (`1234` → `"1234"`, the `loyaltyNumber` example of `api-connectors-overview.md`), `"42"` for an int
//! claim becomes 42, `"true"` for a boolean claim becomes true, and one string for a
//! `stringCollection` claim becomes a one-item collection.

use serde_json::Value;
use trustframe_policy::DataType;

/// Types one value the API returned (not `null`: the caller handles nulls).
pub(crate) fn from_response(value: Value, data_type: DataType) -> Result<Value, String> {
    let kind = json_kind(&value);
    let mismatch = || {
        format!(
            "a JSON {kind} does not fit a {} claim",
            type_name(data_type)
        )
    };
    match data_type {
        DataType::String => match value {
            Value::String(_) => Ok(value),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(mismatch()),
        },
        DataType::Boolean => match &value {
            Value::Bool(_) => Ok(value),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(mismatch()),
        },
        DataType::Int | DataType::Long => {
            let n = match &value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            let fits = |n: i64| data_type == DataType::Long || i32::try_from(n).is_ok();
            match n {
                Some(n) if fits(n) => Ok(Value::from(n)),
                _ => Err(match &value {
                    Value::String(s) => {
                        format!("{s:?} is not a {} value", type_name(data_type))
                    }
                    Value::Number(n) => format!("{n} is not a {} value", type_name(data_type)),
                    _ => mismatch(),
                }),
            }
        }
        DataType::Date | DataType::DateTime => match value {
            Value::String(_) => Ok(value),
            _ => Err(mismatch()),
        },
        DataType::StringCollection => match value {
            Value::String(_) => Ok(Value::Array(vec![value])),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(_) => Ok(item),
                    Value::Number(n) => Ok(Value::String(n.to_string())),
                    Value::Bool(b) => Ok(Value::String(b.to_string())),
                    other => Err(format!(
                        "a JSON {} inside a stringCollection claim",
                        json_kind(&other)
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            _ => Err(mismatch()),
        },
    }
}

/// Types a `DefaultValue` (always text in the policy) by the claim's data type; text that does
/// not parse stays text.
pub(crate) fn from_default(text: String, data_type: DataType) -> Value {
    match data_type {
        DataType::Boolean if text.eq_ignore_ascii_case("true") => Value::Bool(true),
        DataType::Boolean if text.eq_ignore_ascii_case("false") => Value::Bool(false),
        DataType::Int | DataType::Long => match text.trim().parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(text),
        },
        DataType::StringCollection => Value::Array(vec![Value::String(text)]),
        _ => Value::String(text),
    }
}

/// One value as text, for Form, Header, QueryString and Url: strings as they are, numbers and
/// booleans as JSON writes them, objects as compact JSON.
pub(crate) fn to_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The texts of a value: one per item for a collection.
pub(crate) fn to_texts(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().map(to_text).collect(),
        other => vec![to_text(other)],
    }
}

/// Whether a claim holds a value: `null` and the empty string do not (a claim without a value is
/// not sent, `restful-technical-profile.md`, `add-api-connector.md`).
pub(crate) fn has_value(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_name(data_type: DataType) -> &'static str {
    match data_type {
        DataType::String => "string",
        DataType::Boolean => "boolean",
        DataType::Int => "int",
        DataType::Long => "long",
        DataType::Date => "date",
        DataType::DateTime => "dateTime",
        DataType::StringCollection => "stringCollection",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn response_values_are_typed_strictly_but_not_pedantically() {
        assert_eq!(
            from_response(json!(1234), DataType::String),
            Ok(json!("1234"))
        );
        assert_eq!(from_response(json!("42"), DataType::Int), Ok(json!(42)));
        assert_eq!(
            from_response(json!("TRUE"), DataType::Boolean),
            Ok(json!(true))
        );
        assert_eq!(
            from_response(json!("a"), DataType::StringCollection),
            Ok(json!(["a"]))
        );
        assert!(from_response(json!({"a": 1}), DataType::String).is_err());
        assert!(from_response(json!([1]), DataType::String).is_err());
        assert!(from_response(json!("abc"), DataType::Int).is_err());
        assert!(from_response(json!(1.5), DataType::Int).is_err());
        assert!(from_response(json!(3_000_000_000_i64), DataType::Int).is_err());
        assert_eq!(
            from_response(json!(3_000_000_000_i64), DataType::Long),
            Ok(json!(3_000_000_000_i64))
        );
        assert!(from_response(json!(1), DataType::Boolean).is_err());
        assert!(from_response(json!([{"a": 1}]), DataType::StringCollection).is_err());
    }

    #[test]
    fn defaults_take_their_claim_type() {
        assert_eq!(from_default("true".into(), DataType::Boolean), json!(true));
        assert_eq!(from_default("1033".into(), DataType::Int), json!(1033));
        assert_eq!(from_default("x".into(), DataType::Int), json!("x"));
        assert_eq!(
            from_default("x".into(), DataType::StringCollection),
            json!(["x"])
        );
    }
}
