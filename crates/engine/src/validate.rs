//! Checks of what a user typed into a self-asserted page: required fields, data types, patterns,
//! enumerations, predicate validations (password strength), confirmation fields. Messages are
//! B2C's where B2C has one.

use std::collections::BTreeMap;

use serde_json::Value;
use trustframe_policy::{
    ClaimType, ClaimTypeId, ClaimValues, DataType, PolicyRegex, PredicateMethod,
    PredicateValidation, UserInputType,
};

use crate::EngineError;

pub const REQUIRED: &str = "This information is required.";
pub const PASSWORDS_DIFFER: &str = "The password entry fields do not match. Please enter the same password in both fields and try again.";

/// Converts a form value to the claim's type; `Err` is the message for the user.
pub fn parse_value(claim: &ClaimType, raw: &str) -> Result<Value, String> {
    match claim.data_type {
        DataType::Boolean => match raw.to_ascii_lowercase().as_str() {
            "true" | "on" => Ok(Value::Bool(true)),
            "false" | "off" => Ok(Value::Bool(false)),
            _ => Err(format!("'{}' must be true or false.", claim.display_name)),
        },
        DataType::Int | DataType::Long => raw
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("'{}' must be a whole number.", claim.display_name)),
        // A date dropdown answers `YYYY-MM-DD`; a date claim holds nothing else.
        DataType::Date | DataType::DateTime
            if claim.data_type == DataType::Date
                || claim.user_input_type == Some(UserInputType::DateTimeDropdown) =>
        {
            match crate::transform::parse_date(raw) {
                Some(_) => Ok(Value::String(raw.to_owned())),
                None => Err(format!(
                    "'{}' must be a date written as YYYY-MM-DD.",
                    claim.display_name
                )),
            }
        }
        DataType::StringCollection => Ok(Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Value::from)
                .collect(),
        )),
        _ => Ok(Value::String(raw.to_owned())),
    }
}

/// Whether a policy's regular expression matches what the user typed. The expression is
/// compiled once per policy (the link pass compiles it at load); a bad one is a policy error.
fn pattern_matches(regex: &PolicyRegex, value: &str) -> Result<bool, EngineError> {
    let re = regex.compiled().map_err(EngineError::Policy)?;
    // B2C's patterns are .NET regular expressions anchored by the author; we anchor none.
    // Input that exhausts the backtracking limit is refused, not a server error.
    Ok(re.is_match(value).unwrap_or_else(|e| {
        tracing::warn!(pattern = %regex, error = %e, "regular expression gave up; input refused");
        false
    }))
}

fn includes_characters(set: &str, value: &str) -> bool {
    // Sets are written as ranges and literal characters: `a-z`, `A-Z`, `0-9`,
    // `@#$%^&*\-_+=[]{}|\\:',?/`~"();!`.
    let chars: Vec<char> = set.chars().collect();
    let mut ranges: Vec<(char, char)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            ranges.push((chars[i + 1], chars[i + 1]));
            i += 2;
        } else if i + 2 < chars.len() && chars[i + 1] == '-' {
            ranges.push((chars[i], chars[i + 2]));
            i += 3;
        } else {
            ranges.push((chars[i], chars[i]));
            i += 1;
        }
    }
    value
        .chars()
        .any(|c| ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi))
}

fn predicate_messages(
    validation: &PredicateValidation,
    value: &str,
) -> Result<Vec<String>, EngineError> {
    let mut messages = Vec::new();
    for group in &validation.groups {
        let mut held = 0;
        let mut failed = Vec::new();
        for p in &group.predicates {
            let ok = match &p.method {
                PredicateMethod::IsLengthRange { min, max } => {
                    let n = value.chars().count();
                    *min <= n && n <= *max
                }
                PredicateMethod::IncludesCharacters(set) => includes_characters(set, value),
                PredicateMethod::MatchesRegex(re) => pattern_matches(re, value)?,
            };
            if ok {
                held += 1;
            } else {
                failed.push(p.help_text.clone());
            }
        }
        let needed = group.match_at_least.unwrap_or(group.predicates.len());
        if held < needed {
            if group.help_text.is_empty() {
                messages.extend(failed);
            } else {
                messages.push(group.help_text.clone());
            }
        }
    }
    Ok(messages)
}

/// Reads and checks the fields of a page. Returns the typed values by claim, or the message
/// for each field in error.
pub fn collect(
    fields: &[(&ClaimType, bool)],
    form: &BTreeMap<String, String>,
) -> Result<Result<ClaimValues, BTreeMap<ClaimTypeId, String>>, EngineError> {
    let mut values = ClaimValues::new();
    let mut errors = BTreeMap::new();
    for (claim, required) in fields {
        if matches!(
            claim.user_input_type,
            Some(UserInputType::Readonly | UserInputType::Paragraph)
        ) {
            continue;
        }
        let raw = form
            .iter()
            .find(|(k, _)| claim.id == k.as_str())
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        // Passwords are taken as typed; other fields lose surrounding white space.
        let raw = if claim.is_secret() { raw } else { raw.trim() };
        if raw.is_empty() {
            if claim.data_type == DataType::Boolean
                && claim.user_input_type == Some(UserInputType::CheckboxMultiSelect)
            {
                values.insert(claim.id.clone(), Value::Bool(false));
            } else if *required {
                errors.insert(claim.id.clone(), REQUIRED.to_owned());
            }
            continue;
        }
        // A multi-select posts each ticked option; the server joins them with commas.
        let multi = claim.user_input_type == Some(UserInputType::CheckboxMultiSelect)
            && !claim.enumeration.is_empty();
        let chosen: Vec<&str> = if multi {
            raw.split(',').map(str::trim).collect()
        } else {
            vec![raw]
        };
        if !claim.enumeration.is_empty()
            && !chosen
                .iter()
                .all(|c| claim.enumeration.iter().any(|(v, _)| v == c))
        {
            errors.insert(
                claim.id.clone(),
                format!("Please select a valid value for '{}'.", claim.display_name),
            );
            continue;
        }
        if let Some(p) = &claim.pattern
            && !pattern_matches(&p.regex, raw)?
        {
            errors.insert(claim.id.clone(), p.help_text.clone());
            continue;
        }
        if let Some(v) = &claim.predicate_validation {
            let messages = predicate_messages(v, raw)?;
            if !messages.is_empty() {
                errors.insert(claim.id.clone(), messages.join(" "));
                continue;
            }
        }
        match parse_value(claim, raw) {
            Ok(v) => {
                values.insert(claim.id.clone(), v);
            }
            Err(m) => {
                errors.insert(claim.id.clone(), m);
            }
        }
    }
    for (claim, _) in fields {
        if let Some(other) = &claim.must_match {
            if errors.contains_key(&claim.id) || errors.contains_key(other) {
                continue;
            }
            if values.get(&claim.id) != values.get(other) {
                let message = if claim.is_secret() {
                    PASSWORDS_DIFFER.to_owned()
                } else {
                    format!("'{}' does not match.", claim.display_name)
                };
                errors.insert(claim.id.clone(), message);
            }
        }
    }
    Ok(if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustframe_policy::{Predicate, PredicateGroup};

    #[test]
    fn character_sets_cover_ranges_and_escapes() {
        assert!(includes_characters("a-z", "Abc"));
        assert!(!includes_characters("a-z", "ABC1"));
        assert!(includes_characters("@#$%^&*\\-_+=", "x-y"));
        assert!(!includes_characters("0-9", "abc"));
    }

    #[test]
    fn predicate_groups_need_their_minimum() {
        let classes = ["a-z", "A-Z", "0-9", "@#$%^&*\\-_+=[]{}|\\\\:',?/`~\"();!"];
        let validation = PredicateValidation {
            id: "StrongPassword".into(),
            groups: vec![
                PredicateGroup {
                    id: "Length".into(),
                    help_text: "8 to 64 characters.".into(),
                    match_at_least: None,
                    predicates: vec![Predicate {
                        id: "len".into(),
                        help_text: String::new(),
                        method: PredicateMethod::IsLengthRange { min: 8, max: 64 },
                    }],
                },
                PredicateGroup {
                    id: "Classes".into(),
                    help_text: "3 of 4 classes.".into(),
                    match_at_least: Some(3),
                    predicates: classes
                        .iter()
                        .map(|c| Predicate {
                            id: (*c).into(),
                            help_text: String::new(),
                            method: PredicateMethod::IncludesCharacters((*c).into()),
                        })
                        .collect(),
                },
            ],
        };
        assert!(predicate_messages(&validation, "Passw0rd").is_ok_and(|m| m.is_empty()));
        assert!(
            predicate_messages(&validation, "password1").is_ok_and(|m| m == ["3 of 4 classes."])
        );
        assert!(
            predicate_messages(&validation, "Pa1!").is_ok_and(|m| m == ["8 to 64 characters."])
        );
    }

    /// The starter pack's `newPassword` pattern (`TrustFrameworkBase.xml`), as the XML decodes
    /// it: lookaheads, and a `[` inside a character class.
    const STARTER_PACK_NEW_PASSWORD: &str = r#"^((?=.*[a-z])(?=.*[A-Z])(?=.*\d)|(?=.*[a-z])(?=.*[A-Z])(?=.*[^A-Za-z0-9])|(?=.*[a-z])(?=.*\d)(?=.*[^A-Za-z0-9])|(?=.*[A-Z])(?=.*\d)(?=.*[^A-Za-z0-9]))([A-Za-z\d@#$%^&*\-_+=[\]{}|\\:',?/`~"();!]|\.(?!@)){8,16}$"#;

    fn password_claim() -> ClaimType {
        let mut c = ClaimType::new("newPassword", "New Password", DataType::String)
            .input(UserInputType::Password);
        c.pattern = Some(trustframe_policy::Pattern {
            regex: STARTER_PACK_NEW_PASSWORD.into(),
            help_text: "8-16 characters, 3 of 4 character classes.".into(),
        });
        c
    }

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn starter_pack_password_pattern_runs_with_lookaheads() {
        let claim = password_claim();
        let fields = [(&claim, true)];
        let accepted = collect(&fields, &form(&[("newPassword", "Passw0rd!x")]))
            .unwrap_or_else(|e| panic!("policy error: {e}"));
        assert!(accepted.is_ok(), "{accepted:?}");
        for refused in ["password", "Passw0rd!xxxxxxxxxxxxx", "Pa0!"] {
            let errors = collect(&fields, &form(&[("newPassword", refused)]))
                .unwrap_or_else(|e| panic!("policy error: {e}"));
            assert_eq!(
                errors
                    .err()
                    .and_then(|e| e.get(&ClaimTypeId::from("newPassword")).cloned()),
                Some("8-16 characters, 3 of 4 character classes.".to_owned()),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_pattern_is_compiled_once_and_shared_by_clones() {
        let claim = password_claim();
        let copy = claim.clone();
        let (Some(a), Some(b)) = (&claim.pattern, &copy.pattern) else {
            panic!("no pattern");
        };
        let first = a.regex.compiled().unwrap_or_else(|e| panic!("{e}"));
        let second = b.regex.compiled().unwrap_or_else(|e| panic!("{e}"));
        assert!(std::ptr::eq(first, second));
    }

    #[test]
    fn a_bad_pattern_is_a_policy_error() {
        let mut claim = ClaimType::new("code", "Code", DataType::String);
        claim.pattern = Some(trustframe_policy::Pattern {
            regex: "^(unclosed".into(),
            help_text: String::new(),
        });
        let result = collect(&[(&claim, true)], &form(&[("code", "x")]));
        assert!(
            matches!(&result, Err(EngineError::Policy(m)) if m.contains("^(unclosed")),
            "{result:?}"
        );
    }

    #[test]
    fn matches_regex_predicates_use_the_same_engine() {
        let validation = PredicateValidation {
            id: "Pin".into(),
            groups: vec![PredicateGroup {
                id: "Digits".into(),
                help_text: "Four digits, not all the same.".into(),
                match_at_least: None,
                predicates: vec![Predicate {
                    id: "pin".into(),
                    help_text: String::new(),
                    method: PredicateMethod::MatchesRegex(r"^(?!(\d)\1{3})\d{4}$".into()),
                }],
            }],
        };
        assert!(predicate_messages(&validation, "1234").is_ok_and(|m| m.is_empty()));
        assert!(
            predicate_messages(&validation, "1111")
                .is_ok_and(|m| m == ["Four digits, not all the same."])
        );
    }

    #[test]
    fn date_dropdown_booleans_and_numbers_are_typed() {
        let date = ClaimType::new("dateOfBirth", "Date of birth", DataType::Date)
            .input(UserInputType::DateTimeDropdown);
        assert_eq!(
            parse_value(&date, "1990-02-28"),
            Ok(Value::from("1990-02-28"))
        );
        for bad in ["1990-02-30", "28/02/1990", "1990-2-28", ""] {
            assert!(parse_value(&date, bad).is_err(), "{bad}");
        }
        let picked = ClaimType::new("since", "Since", DataType::DateTime)
            .input(UserInputType::DateTimeDropdown);
        assert_eq!(
            parse_value(&picked, "2024-12-31"),
            Ok(Value::from("2024-12-31"))
        );

        let flag = ClaimType::new("consent", "Consent", DataType::Boolean);
        assert_eq!(parse_value(&flag, "on"), Ok(Value::Bool(true)));
        assert_eq!(parse_value(&flag, "False"), Ok(Value::Bool(false)));
        assert!(parse_value(&flag, "maybe").is_err());
        let number = ClaimType::new("age", "Age", DataType::Int);
        assert_eq!(parse_value(&number, "42"), Ok(Value::from(42)));
        assert!(parse_value(&number, "4.2").is_err());
    }
}
