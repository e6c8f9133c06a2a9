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
            check_unicode_escapes(trimmed)?;
            check_nesting(trimmed)?;
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

/// `serde_json_path` 0.7 panics ("we do not use streaming parsers") on a `\u` escape cut short,
/// such as `$['a\u`; found by the `connector_response` fuzz target. A `\u` needs four hex
/// digits, and a high surrogate its low one (RFC 9535 §2.3.1.1), so such paths are refused first.
fn check_unicode_escapes(path: &str) -> Result<(), String> {
    let bytes = path.as_bytes();
    let hex4 = |at: usize| {
        bytes
            .get(at..at + 4)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u16::from_str_radix(h, 16).ok())
    };
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        // The escaped character is skipped whatever it is, so `\\u` stays a backslash and a `u`.
        if bytes.get(i + 1) != Some(&b'u') {
            i += 2;
            continue;
        }
        let unit = hex4(i + 2).ok_or("a \\u escape needs four hex digits")?;
        i += 6;
        if (0xD800..0xDC00).contains(&unit) {
            if bytes.get(i..i + 2) != Some(&b"\\u"[..]) || hex4(i + 2).is_none() {
                return Err("a high surrogate escape needs its low surrogate".to_owned());
            }
            i += 6;
        }
    }
    Ok(())
}

/// Brackets and parentheses nested deeper than any real output claim needs. `serde_json_path`
/// 0.7 backtracks exponentially on nested filters left open (`$[?@.e[?@.e[?@.e…`): 300 bytes
/// took over 10 s in the `connector_response` fuzz target, and a plan is built per call.
const MAX_NESTING: usize = 8;

fn check_nesting(path: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut quote = None;
    let mut escaped = false;
    for c in path.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' | '(' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Err(format!("brackets are nested more than {MAX_NESTING} deep"));
                    }
                }
                ']' | ')' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    Ok(())
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

    #[test]
    fn deeply_nested_filters_are_refused_at_once() {
        let open = format!("$.tags{}", "[?@.e".repeat(30));
        let started = std::time::Instant::now();
        assert!(ClaimPath::parse(&open).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Filters within the bound and brackets inside names still parse.
        assert!(ClaimPath::parse("$.a[?@.b[?@.c == 1]]").is_ok());
        assert!(ClaimPath::parse(&format!("$['{}']", "[".repeat(20))).is_ok());
    }

    // A partner claim type is the policy author's text: a cut-short escape is an error for the
    // author, never a panic of the server (the fuzz target's crash, then its neighbours).
    #[test]
    fn cut_short_unicode_escapes_are_errors_not_panics() {
        for bad in [
            r#"$.ta[";tn\u"#,
            r#"$['a\u"#,
            r#"$['a\u12"#,
            r#"$['a\u12']"#,
            r#"$['\uD83D']"#,
            r#"$['\uD83D\u"#,
            r#"$['\uD83D\u12']"#,
        ] {
            assert!(ClaimPath::parse(bad).is_err(), "{bad:?} should not parse");
        }
        let body = json!({"a\\u": 1, "é": 2, "😀": 3});
        let found = |path: &str| ClaimPath::parse(path).map(|p| p.find(&body));
        assert_eq!(found(r#"$['a\\u']"#), Ok(Found::One(json!(1))));
        assert_eq!(found(r#"$['\u00e9']"#), Ok(Found::One(json!(2))));
        assert_eq!(found(r#"$['\uD83D\uDE00']"#), Ok(Found::One(json!(3))));
    }
}
