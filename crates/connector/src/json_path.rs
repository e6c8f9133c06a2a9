//! Output claim paths for `ResolveJsonPathsInJsonTokens` (`restful-technical-profile.md`).
//!
//! B2C's docs write paths two ways, `contacts.0.person.name` and
//! `contacts[0].person.emails[0].email`; both are read here by walking the JSON, which keeps the
//! semantics exact (a digit segment indexes an array, or names an object key). A path that
//! starts with `$` is a full RFC 9535 JSONPath (ours), evaluated by `serde_json_path`.

use serde_json::Value;
use serde_json_path::JsonPath;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    /// `.name` or `['name']`; a name of digits also indexes an array.
    Name(String),
    /// `[3]`
    Index(usize),
}

/// A compiled output-claim path.
#[derive(Debug, Clone)]
pub(crate) enum ClaimPath {
    Walk(Vec<Segment>),
    JsonPath(Box<JsonPath>),
}

/// What a path found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    Missing,
    /// One value (possibly `null`).
    One(Value),
    /// A `$` JSONPath matched several nodes.
    Many(Vec<Value>),
}

impl ClaimPath {
    pub(crate) fn parse(path: &str) -> Result<Self, String> {
        let trimmed = path.trim();
        if trimmed.starts_with('$') {
            return JsonPath::parse(trimmed)
                .map(|p| Self::JsonPath(Box::new(p)))
                .map_err(|e| e.to_string());
        }
        parse_walk(trimmed).map(Self::Walk)
    }

    pub(crate) fn find(&self, body: &Value) -> Found {
        match self {
            Self::Walk(segments) => {
                let mut current = body;
                for segment in segments {
                    let next = match (segment, current) {
                        (Segment::Name(n), Value::Object(map)) => map.get(n),
                        (Segment::Name(n), Value::Array(items)) => {
                            n.parse::<usize>().ok().and_then(|i| items.get(i))
                        }
                        (Segment::Index(i), Value::Array(items)) => items.get(*i),
                        (Segment::Index(i), Value::Object(map)) => map.get(&i.to_string()),
                        _ => None,
                    };
                    match next {
                        Some(v) => current = v,
                        None => return Found::Missing,
                    }
                }
                Found::One(current.clone())
            }
            Self::JsonPath(path) => {
                let nodes = path.query(body).all();
                match nodes.len() {
                    0 => Found::Missing,
                    1 => Found::One(nodes[0].clone()),
                    _ => Found::Many(nodes.into_iter().cloned().collect()),
                }
            }
        }
    }
}

fn parse_walk(path: &str) -> Result<Vec<Segment>, String> {
    if path.is_empty() {
        return Err("empty path".to_owned());
    }
    let mut segments = Vec::new();
    let mut name = String::new();
    let mut chars = path.chars().peekable();
    // Whether the previous token ended a segment (`]`), so a `.` or `[` may follow directly.
    let mut after_bracket = false;
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if name.is_empty() && !after_bracket {
                    return Err(format!("empty segment in {path:?}"));
                }
                if !name.is_empty() {
                    segments.push(Segment::Name(std::mem::take(&mut name)));
                }
                after_bracket = false;
                if chars.peek().is_none() {
                    return Err(format!("{path:?} ends with '.'"));
                }
            }
            '[' => {
                if !name.is_empty() {
                    segments.push(Segment::Name(std::mem::take(&mut name)));
                }
                let mut inner = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == ']' {
                        closed = true;
                        break;
                    }
                    inner.push(c);
                }
                if !closed {
                    return Err(format!("unclosed '[' in {path:?}"));
                }
                let inner = inner.trim();
                let quoted = inner.len() >= 2
                    && ((inner.starts_with('\'') && inner.ends_with('\''))
                        || (inner.starts_with('"') && inner.ends_with('"')));
                if quoted {
                    segments.push(Segment::Name(inner[1..inner.len() - 1].to_owned()));
                } else if let Ok(i) = inner.parse::<usize>() {
                    segments.push(Segment::Index(i));
                } else {
                    return Err(format!(
                        "[{inner}] in {path:?} is neither an index nor a quoted name"
                    ));
                }
                after_bracket = true;
            }
            c => {
                if after_bracket {
                    return Err(format!("expected '.' or '[' after ']' in {path:?}"));
                }
                name.push(c);
            }
        }
    }
    if !name.is_empty() {
        segments.push(Segment::Name(name));
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Value {
        json!({
            "contacts": [{
                "id": "MAINCONTACT_1",
                "person": {
                    "name": "Emily Smith",
                    "loyaltyNumber": 1234,
                    "emails": [{"id": "EMAIL_1", "type": "WORK", "email": "emily@example.com"}],
                    "nickname": null
                }
            }],
            "a.b": "dotted",
            "7": "seven"
        })
    }

    fn find(path: &str) -> Found {
        match ClaimPath::parse(path) {
            Ok(p) => p.find(&body()),
            Err(e) => panic!("{path}: {e}"),
        }
    }

    #[test]
    fn both_documented_forms_read_nested_values() {
        assert_eq!(
            find("contacts.0.person.name"),
            Found::One(json!("Emily Smith"))
        );
        assert_eq!(
            find("contacts[0].person.emails[0].email"),
            Found::One(json!("emily@example.com"))
        );
        assert_eq!(
            find("contacts.0.person.emails.0.email"),
            Found::One(json!("emily@example.com"))
        );
        assert_eq!(
            find("contacts[0].person.loyaltyNumber"),
            Found::One(json!(1234))
        );
        assert_eq!(find("['a.b']"), Found::One(json!("dotted")));
        assert_eq!(find("7"), Found::One(json!("seven")));
    }

    #[test]
    fn missing_values_and_nulls_are_told_apart() {
        assert_eq!(find("contacts[1].person.name"), Found::Missing);
        assert_eq!(find("contacts.0.person.middleName"), Found::Missing);
        assert_eq!(find("contacts.0.person.name.first"), Found::Missing);
        assert_eq!(find("contacts.0.person.nickname"), Found::One(Value::Null));
    }

    #[test]
    fn dollar_paths_are_rfc9535_jsonpath() {
        assert_eq!(
            find("$.contacts[0].person.emails[?@.type == 'WORK'].email"),
            Found::One(json!("emily@example.com"))
        );
        assert_eq!(find("$.nothing"), Found::Missing);
        assert!(matches!(find("$.contacts[*].id"), Found::One(_)));
    }

    #[test]
    fn malformed_paths_are_rejected() {
        for bad in ["", "a..b", "a.", "a[0", "a[x]", "a[0]b", "$["] {
            assert!(ClaimPath::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
