//! Claims transformations: every method of [`TransformationMethod`], with B2C's input claim,
//! input parameter and output claim names (`claimstransformations.md` and the per-family pages:
//! `boolean-transformations.md`, `date-transformations.md`, `general-transformations.md`,
//! `json-transformations.md`, `string-transformations.md`,
//! `stringcollection-transformations.md`). Time comes from the caller's clock, never the system.

use base64::Engine as _;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::Value;
use trustframe_policy::transformation::TransformationMethod;
use trustframe_policy::{
    ClaimTypeId, ClaimValues, ClaimsTransformation, DataType, Metadata, TransformationParameter,
};

use crate::EngineError;

/// `AssertBooleanClaimIsEqualToValue` failed (`boolean-transformations.md`).
pub const BOOLEAN_NOT_EQUAL: &str = "UserMessageIfClaimsTransformationBooleanValueIsNotEqual";
/// `AssertDateTimeIsGreaterThan` failed (`date-transformations.md`).
pub const DATE_TIME_NOT_GREATER: &str = "DateTimeGreaterThan";
/// `AssertStringClaimsAreEqual` failed (`string-transformations.md`).
pub const STRINGS_NOT_EQUAL: &str = "UserMessageIfClaimsTransformationStringsAreNotEqual";

/// A transformation whose assertion did not hold. B2C shows the message the calling
/// self-asserted profile sets under `metadata_key`, else a generic one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionFailed {
    pub metadata_key: &'static str,
    pub default_message: String,
}

impl AssertionFailed {
    fn new(metadata_key: &'static str, default_message: &str) -> Self {
        Self {
            metadata_key,
            default_message: default_message.to_owned(),
        }
    }

    /// The message for the user: the profile's metadata item when it has one.
    pub fn message(&self, metadata: &Metadata) -> String {
        metadata
            .get(self.metadata_key)
            .map(str::to_owned)
            .unwrap_or_else(|| self.default_message.clone())
    }
}

/// Runs one transformation over the claims bag; `now` is the journey clock's time (seconds
/// since the epoch). `Ok(Err(..))` is a failed assertion whose message the page shows; `Err` is
/// a policy the engine cannot run (an unknown method, a missing parameter).
pub fn apply(
    t: &ClaimsTransformation,
    claims: &mut ClaimValues,
    now: i64,
) -> Result<Result<(), AssertionFailed>, EngineError> {
    let Some(method) = TransformationMethod::parse(&t.method) else {
        return Err(EngineError::Policy(format!(
            "{}: claims transformation '{}' uses method '{}', which is not a claims \
             transformation method",
            t.span, t.id, t.method
        )));
    };
    let x = Ctx { t };
    use TransformationMethod as M;
    match method {
        M::AddItemToStringCollection => {
            let item = x.input("item")?;
            let out = x.output("collection")?;
            let mut items = x
                .optional_input("collection")
                .map(|c| collection(claims.get(c)))
                .unwrap_or_default();
            // The result holds unique values (`stringcollection-transformations.md`).
            if let Some(v) = text(claims.get(item))
                && !items.contains(&v)
            {
                items.push(v);
            }
            if !items.is_empty() {
                claims.insert(out.clone(), strings(items));
            }
        }
        M::AndClaims | M::OrClaims => {
            // An absent boolean reads as false.
            let a = boolean(claims.get(x.input("inputClaim1")?)).unwrap_or(false);
            let b = boolean(claims.get(x.input("inputClaim2")?)).unwrap_or(false);
            let v = if method == M::AndClaims {
                a && b
            } else {
                a || b
            };
            claims.insert(x.output("outputClaim")?.clone(), Value::Bool(v));
        }
        M::NotClaims => {
            let a = boolean(claims.get(x.input("inputClaim")?)).unwrap_or(false);
            claims.insert(x.output("outputClaim")?.clone(), Value::Bool(!a));
        }
        M::AssertBooleanClaimIsEqualToValue => {
            let claim = x.input("inputClaim")?;
            let expected = x
                .param_bool("valueToCompareTo")?
                .ok_or_else(|| x.missing("input parameter 'valueToCompareTo'"))?;
            if boolean(claims.get(claim)) != Some(expected) {
                return Ok(Err(AssertionFailed::new(
                    BOOLEAN_NOT_EQUAL,
                    "We could not verify the information you provided.",
                )));
            }
        }
        M::AssertDateTimeIsGreaterThan => {
            let left = text(claims.get(x.input("leftOperand")?));
            let right = text(claims.get(x.input("rightOperand")?));
            let if_equal = x.param_bool("AssertIfEqualTo")?.unwrap_or(true);
            let if_right_absent = x.param_bool("AssertIfRightOperandIsNotPresent")?;
            let within = x.param_int("TreatAsEqualIfWithinMillseconds")?.unwrap_or(0);
            if !date_time_is_greater(left, right, if_equal, if_right_absent, within) {
                return Ok(Err(AssertionFailed::new(
                    DATE_TIME_NOT_GREATER,
                    "The date is not later than the date it must follow.",
                )));
            }
        }
        M::AssertStringClaimsAreEqual => {
            let a = text(claims.get(x.input("inputClaim1")?));
            let b = text(claims.get(x.input("inputClaim2")?));
            let ignore_case = x.string_comparison_ignores_case()?;
            let equal = matches!((&a, &b), (Some(a), Some(b)) if same(a, b, ignore_case));
            if !equal {
                return Ok(Err(AssertionFailed::new(
                    STRINGS_NOT_EQUAL,
                    "The values you entered do not match.",
                )));
            }
        }
        M::ChangeCase => {
            let from = x.input("inputClaim1")?;
            let to_case = x.param("toCase")?;
            let upper = if to_case.eq_ignore_ascii_case("UPPER") {
                true
            } else if to_case.eq_ignore_ascii_case("LOWER") {
                false
            } else {
                return Err(x.invalid("toCase", to_case, "LOWER or UPPER"));
            };
            let out = x.output("outputClaim")?;
            if let Some(v) = text(claims.get(from)) {
                let v = if upper {
                    v.to_uppercase()
                } else {
                    v.to_lowercase()
                };
                claims.insert(out.clone(), Value::String(v));
            }
        }
        M::CompareClaims => {
            let a = text(claims.get(x.input("inputClaim1")?));
            let b = text(claims.get(x.input("inputClaim2")?));
            let equal = x.operator_wants_equal()?;
            let ignore_case = x.param_bool("ignoreCase")?.unwrap_or(false);
            let same = match (&a, &b) {
                (Some(a), Some(b)) => same(a, b, ignore_case),
                (a, b) => a == b,
            };
            claims.insert(x.output("outputClaim")?.clone(), Value::Bool(same == equal));
        }
        M::CompareClaimToValue => {
            let a = text(claims.get(x.input("inputClaim1")?));
            let compare_to = x.param("compareTo")?;
            let equal = x.operator_wants_equal()?;
            let ignore_case = x.param_bool("ignoreCase")?.unwrap_or(false);
            let same = a.is_some_and(|a| same(&a, compare_to, ignore_case));
            claims.insert(x.output("outputClaim")?.clone(), Value::Bool(same == equal));
        }
        M::CopyClaim => {
            let from = x.input("inputClaim")?;
            let to = x.output("outputClaim")?;
            if let Some(v) = claims.get(from).filter(|v| !v.is_null()).cloned() {
                claims.insert(to.clone(), v);
            }
        }
        M::CreateRandomString => {
            let kind = x.param("randomGeneratorType")?;
            let value = if kind.eq_ignore_ascii_case("GUID") {
                guid(&mut rand::rng())
            } else if kind.eq_ignore_ascii_case("INTEGER") {
                let max = x
                    .param_int("maximumNumber")?
                    .filter(|m| *m > 0)
                    .ok_or_else(|| x.missing("positive input parameter 'maximumNumber'"))?;
                // A seed makes the number repeatable, as B2C's seeded generator does.
                let n = match x.param_int("seed")? {
                    Some(seed) => {
                        rand::rngs::StdRng::seed_from_u64(seed.unsigned_abs()).random_range(0..max)
                    }
                    None => rand::rng().random_range(0..max),
                };
                n.to_string()
            } else {
                return Err(x.invalid("randomGeneratorType", kind, "GUID or INTEGER"));
            };
            let value = match x.optional_param("stringFormat") {
                Some(format) => format_string(format, &value),
                None => value,
            };
            let value = if x.param_bool("base64")?.unwrap_or(false) {
                base64::engine::general_purpose::STANDARD.encode(value)
            } else {
                value
            };
            claims.insert(x.output("outputClaim")?.clone(), Value::String(value));
        }
        M::CreateStringClaim => {
            let value = x.param("value")?;
            let out = x.output("createdClaim")?;
            claims.insert(out.clone(), Value::String(value.to_owned()));
        }
        M::DoesClaimExist => {
            let exists = present(claims.get(x.input("inputClaim")?));
            claims.insert(x.output("outputClaim")?.clone(), Value::Bool(exists));
        }
        M::FormatStringClaim => {
            let from = x.input("inputClaim")?;
            let format = x.param("stringFormat")?;
            let to = x.output("outputClaim")?;
            if let Some(v) = text(claims.get(from)) {
                claims.insert(to.clone(), Value::String(format_string(format, &v)));
            }
        }
        M::GenerateJson => {
            let to = x.output("outputClaim")?;
            let mut doc = Value::Null;
            for c in &t.input_claims {
                if let Some(v) = claims.get(&c.claim_type).filter(|v| !v.is_null()) {
                    x.set_path(&mut doc, &c.transformation_claim_type, v.clone())?;
                }
            }
            for p in &t.input_parameters {
                x.set_path(&mut doc, &p.id, typed_parameter(p))?;
            }
            if doc.is_null() {
                doc = Value::Object(serde_json::Map::new());
            }
            claims.insert(to.clone(), Value::String(doc.to_string()));
        }
        M::GetClaimFromJson => {
            let from = x.input("inputJson")?;
            let name = x.param("claimToExtract")?;
            let out = x.output("extractedClaim")?;
            let doc = match claims.get(from) {
                None | Some(Value::Null) => return Ok(Ok(())),
                Some(Value::String(s)) if s.trim().is_empty() => return Ok(Ok(())),
                Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|e| {
                    EngineError::Policy(format!(
                        "{}: claims transformation '{}' reads '{from}' as JSON, but it is not \
                         JSON: {e}",
                        t.span, t.id
                    ))
                })?,
                Some(other) => other.clone(),
            };
            match extract(&doc, name) {
                None | Some(Value::Null) => {}
                Some(Value::Object(o)) => {
                    claims.insert(
                        out.clone(),
                        Value::String(Value::Object(o.clone()).to_string()),
                    );
                }
                Some(v) => {
                    claims.insert(out.clone(), v.clone());
                }
            }
        }
        M::GetCurrentDateTime => {
            let out = x.output("currentDateTime")?;
            claims.insert(out.clone(), Value::String(format_date_time(now)));
        }
        M::SetClaimsIfStringsMatch => {
            let value = text(claims.get(x.input("claimToMatch")?));
            let match_to = x.param("matchTo")?;
            let ignore_case = x.string_comparison_ignores_case()?;
            let matched = value.is_some_and(|v| same(&v, match_to, ignore_case));
            if matched {
                for (output, parameter) in [
                    ("outputClaim1", "stringMatchMsg"),
                    ("outputClaim2", "stringMatchMsgCode"),
                ] {
                    if let (Some(out), Some(v)) =
                        (x.optional_output(output), x.optional_param(parameter))
                    {
                        claims.insert(out.clone(), Value::String(v.to_owned()));
                    }
                }
            }
            if let Some(out) = x.optional_output("stringCompareResult") {
                claims.insert(out.clone(), Value::Bool(matched));
            }
        }
        M::StringCollectionContains => {
            let items = collection(claims.get(x.input("inputClaim")?));
            let item = x.param("item")?;
            let ignore_case = x.param_bool("ignoreCase")?.unwrap_or(false);
            let found = items.iter().any(|i| same(i, item, ignore_case));
            claims.insert(x.output("outputClaim")?.clone(), Value::Bool(found));
        }
        M::StringReplace => {
            let from = x.input("inputClaim")?;
            let old = x.param("oldValue")?;
            if old.is_empty() {
                return Err(x.invalid("oldValue", old, "a non-empty string"));
            }
            let new = x.optional_param("newValue").unwrap_or_default();
            let to = x.output("outputClaim")?;
            if let Some(v) = text(claims.get(from)) {
                claims.insert(to.clone(), Value::String(v.replace(old, new)));
            }
        }
        // Ours: the Graph `identities` collection of a user not yet written (API connectors
        // receive it before the account exists).
        M::CreateIdentitiesCollection => {
            let id = x.input("issuerAssignedId")?;
            let out = x.output("collection")?;
            if let Some(v) = text(claims.get(id)) {
                // The issuer: an input claim (a federated identity's provider), else the
                // parameter (the tenant, for local accounts).
                let issuer = x
                    .optional_input("issuer")
                    .and_then(|c| text(claims.get(c)))
                    .unwrap_or_else(|| x.optional_param("issuer").unwrap_or_default().to_owned());
                let identity = serde_json::json!({
                    "signInType": x.optional_param("signInType").unwrap_or("emailAddress"),
                    "issuer": issuer,
                    "issuerAssignedId": v,
                });
                claims.insert(out.clone(), Value::Array(vec![identity]));
            }
        }
    }
    Ok(Ok(()))
}

/// The transformation being run, for looking up its claims and parameters by B2C's names
/// (matched without regard to case) and naming it in errors.
struct Ctx<'a> {
    t: &'a ClaimsTransformation,
}

impl<'a> Ctx<'a> {
    fn optional_input(&self, name: &str) -> Option<&'a ClaimTypeId> {
        self.t
            .input_claims
            .iter()
            .find(|c| c.transformation_claim_type.eq_ignore_ascii_case(name))
            .map(|c| &c.claim_type)
    }

    fn input(&self, name: &str) -> Result<&'a ClaimTypeId, EngineError> {
        self.optional_input(name)
            .ok_or_else(|| self.missing(&format!("input claim '{name}'")))
    }

    fn optional_output(&self, name: &str) -> Option<&'a ClaimTypeId> {
        self.t
            .output_claims
            .iter()
            .find(|c| c.transformation_claim_type.eq_ignore_ascii_case(name))
            .map(|c| &c.claim_type)
    }

    fn output(&self, name: &str) -> Result<&'a ClaimTypeId, EngineError> {
        self.optional_output(name)
            .ok_or_else(|| self.missing(&format!("output claim '{name}'")))
    }

    fn optional_param(&self, name: &str) -> Option<&'a str> {
        self.t
            .input_parameters
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    }

    fn param(&self, name: &str) -> Result<&'a str, EngineError> {
        self.optional_param(name)
            .ok_or_else(|| self.missing(&format!("input parameter '{name}'")))
    }

    fn param_bool(&self, name: &str) -> Result<Option<bool>, EngineError> {
        match self.optional_param(name).map(str::trim) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(self.invalid(name, v, "true or false")),
        }
    }

    fn param_int(&self, name: &str) -> Result<Option<i64>, EngineError> {
        match self.optional_param(name).map(str::trim) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| self.invalid(name, v, "a whole number")),
        }
    }

    /// `stringComparison`: `ordinal` (the default) or `ordinalIgnoreCase`.
    fn string_comparison_ignores_case(&self) -> Result<bool, EngineError> {
        match self.optional_param("stringComparison").map(str::trim) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("ordinal") => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("ordinalIgnoreCase") => Ok(true),
            Some(v) => Err(self.invalid("stringComparison", v, "ordinal or ordinalIgnoreCase")),
        }
    }

    /// `operator` of the compare methods: `EQUAL` is true, `NOT EQUAL` false.
    fn operator_wants_equal(&self) -> Result<bool, EngineError> {
        let op = self.param("operator")?;
        let words: Vec<&str> = op.split_whitespace().collect();
        match words.as_slice() {
            [w] if w.eq_ignore_ascii_case("EQUAL") => Ok(true),
            [n, w] if n.eq_ignore_ascii_case("NOT") && w.eq_ignore_ascii_case("EQUAL") => Ok(false),
            _ => Err(self.invalid("operator", op, "EQUAL or NOT EQUAL")),
        }
    }

    fn missing(&self, what: &str) -> EngineError {
        EngineError::Policy(format!(
            "{}: claims transformation '{}' ({}) has no {what}",
            self.t.span, self.t.id, self.t.method
        ))
    }

    fn invalid(&self, parameter: &str, value: &str, expected: &str) -> EngineError {
        EngineError::Policy(format!(
            "{}: claims transformation '{}' ({}): input parameter '{parameter}' is '{value}', \
             expected {expected}",
            self.t.span, self.t.id, self.t.method
        ))
    }

    /// Sets `a.0.b` in a JSON document (`json-transformations.md`, GenerateJson): integer
    /// segments index arrays, others name object members; containers are created on the way.
    fn set_path(&self, doc: &mut Value, path: &str, value: Value) -> Result<(), EngineError> {
        let collide = || {
            EngineError::Policy(format!(
                "{}: claims transformation '{}' (GenerateJson): path '{path}' runs into a value \
                 another path already set",
                self.t.span, self.t.id
            ))
        };
        let mut node = doc;
        for part in path.split('.') {
            node = match part.parse::<usize>() {
                Ok(index) => {
                    if node.is_null() {
                        *node = Value::Array(Vec::new());
                    }
                    let Value::Array(items) = node else {
                        return Err(collide());
                    };
                    if items.len() <= index {
                        items.resize(index + 1, Value::Null);
                    }
                    &mut items[index]
                }
                Err(_) => {
                    if node.is_null() {
                        *node = Value::Object(serde_json::Map::new());
                    }
                    let Value::Object(map) = node else {
                        return Err(collide());
                    };
                    map.entry(part.to_owned()).or_insert(Value::Null)
                }
            };
        }
        if !node.is_null() {
            return Err(collide());
        }
        *node = value;
        Ok(())
    }
}

/// A claim's value as text: strings as they are, numbers and booleans written out.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A boolean claim: a JSON boolean, or `true`/`false` as text (a default value, a REST answer).
fn boolean(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A stringCollection claim's items; a single string is a collection of one.
fn collection(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(|i| text(Some(i))).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn strings(items: Vec<String>) -> Value {
    Value::Array(items.into_iter().map(Value::String).collect())
}

/// B2C leaves empty claims out of the bag: an empty string or collection is absent.
fn present(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

/// Ordinal comparison, optionally ignoring case (.NET's `Ordinal` / `OrdinalIgnoreCase`).
fn same(a: &str, b: &str, ignore_case: bool) -> bool {
    if ignore_case {
        a.chars()
            .flat_map(char::to_uppercase)
            .eq(b.chars().flat_map(char::to_uppercase))
    } else {
        a == b
    }
}

/// .NET's `string.Format` with one argument: `{0}` is the value, `{{` and `}}` are braces.
/// Other placeholders are left as written.
fn format_string(format: &str, value: &str) -> String {
    let mut out = String::with_capacity(format.len() + value.len());
    let mut rest = format;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("{{") {
            out.push('{');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("}}") {
            out.push('}');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("{0}") {
            out.push_str(value);
            rest = r;
        } else {
            let (c, r) = rest.split_at(1);
            out.push_str(c);
            rest = r;
        }
    }
    out.push_str(rest);
    out
}

/// A GenerateJson constant, typed by its `DataType` (a `long` parameter is a JSON number).
fn typed_parameter(p: &TransformationParameter) -> Value {
    let v = p.value.trim();
    match p.data_type {
        DataType::Int | DataType::Long => v
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(p.value.clone())),
        DataType::Boolean if v.eq_ignore_ascii_case("true") => Value::Bool(true),
        DataType::Boolean if v.eq_ignore_ascii_case("false") => Value::Bool(false),
        _ => Value::String(p.value.clone()),
    }
}

/// The element `claimToExtract` names: a top-level member, else a dotted path as GenerateJson
/// writes them.
fn extract<'v>(doc: &'v Value, name: &str) -> Option<&'v Value> {
    if let Some(v) = doc.get(name) {
        return Some(v);
    }
    name.split('.').try_fold(doc, |node, part| match node {
        Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        Value::Object(map) => map.get(part),
        _ => None,
    })
}

/// A random version 4 GUID in lower-case hyphenated form, as B2C writes GUIDs.
fn guid(rng: &mut impl RngCore) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `AssertDateTimeIsGreaterThan` (`date-transformations.md`): holds when the left operand is
/// later than the right one. Times within `within_ms` of each other are equal, and equal times
/// fail unless `AssertIfEqualTo` is false. A missing right operand passes only when
/// `AssertIfRightOperandIsNotPresent` is true; a missing or unreadable left operand fails.
fn date_time_is_greater(
    left: Option<String>,
    right: Option<String>,
    if_equal: bool,
    if_right_absent: Option<bool>,
    within_ms: i64,
) -> bool {
    let Some(left) = left.as_deref().and_then(parse_date_time) else {
        return false;
    };
    let right = match right.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => return if_right_absent.unwrap_or(false),
        Some(r) => match parse_date_time(r) {
            Some(r) => r,
            None => return false,
        },
    };
    let difference = left - right;
    if difference.abs() <= i128::from(within_ms.max(0)) {
        !if_equal
    } else {
        difference > 0
    }
}

/// A date as a dropdown or a date claim writes it: `YYYY-MM-DD`, a real calendar day.
pub(crate) fn parse_date(text: &str) -> Option<time::Date> {
    let mut parts = text.trim().splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y) && digits(m) && digits(d)) {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

/// Milliseconds since the epoch of an ISO 8601 date or date-time: `2022-01-20`,
/// `2022-01-20T15:00:00`, with an optional fraction and `Z` or `±hh:mm`; no zone is UTC.
pub(crate) fn parse_date_time(text: &str) -> Option<i128> {
    let text = text.trim();
    let (date, clock) = match text.split_once(['T', 't', ' ']) {
        Some((d, c)) => (d, Some(c)),
        None => (text, None),
    };
    let date = parse_date(date)?;
    let Some(clock) = clock else {
        let at = date.midnight().assume_utc();
        return Some(at.unix_timestamp_nanos() / 1_000_000);
    };
    let (clock, offset_seconds) = if let Some(c) = clock.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = clock.rfind(['+', '-']) {
        let (c, zone) = clock.split_at(i);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':').unwrap_or((&zone[1..], "00"));
        let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
        (c, sign * (h * 3600 + m * 60))
    } else {
        (clock, 0)
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = hms.split(':');
    let hour: u8 = parts.next()?.parse().ok()?;
    let minute: u8 = parts.next()?.parse().ok()?;
    let second: u8 = parts.next().map_or(Some(0), |s| s.parse().ok())?;
    if parts.next().is_some() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = format!("{:0<9}", &fraction[..fraction.len().min(9)])
        .parse()
        .ok()?;
    let at = date
        .with_hms_nano(hour, minute, second, nanos)
        .ok()?
        .assume_offset(time::UtcOffset::from_whole_seconds(offset_seconds).ok()?);
    Some(at.unix_timestamp_nanos() / 1_000_000)
}

/// The current time as B2C writes a dateTime claim: ISO 8601 in UTC with seven fraction digits
/// (.NET's round-trip form), e.g. `2022-01-20T15:00:00.0000000Z`.
pub(crate) fn format_date_time(now: i64) -> String {
    let at =
        time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.0000000Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests;
