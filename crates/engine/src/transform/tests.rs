//! One test or more per method, with the examples of B2C's reference pages (inputs → outputs).

use serde_json::json;
use trustframe_policy::{Span, TransformationParameter};

use super::*;

/// 2022-01-20T15:00:00Z: the fixed clock of these tests.
const NOW: i64 = 1_642_690_800;

fn t(
    method: &str,
    inputs: &[(&str, &str)],
    params: &[(&str, &str)],
    outputs: &[(&str, &str)],
) -> ClaimsTransformation {
    ClaimsTransformation::from_parts(
        "T1",
        method,
        inputs,
        params,
        outputs,
        Span::new("base.xml", 12, 5),
    )
}

fn bag(values: &[(&str, Value)]) -> ClaimValues {
    values
        .iter()
        .map(|(k, v)| (ClaimTypeId::from(*k), v.clone()))
        .collect()
}

/// Runs a transformation that must succeed; returns the bag.
fn run(t: &ClaimsTransformation, mut claims: ClaimValues) -> ClaimValues {
    match apply(t, &mut claims, NOW) {
        Ok(Ok(())) => claims,
        Ok(Err(failed)) => panic!("{} failed its assertion: {failed:?}", t.method),
        Err(e) => panic!("{} did not run: {e}", t.method),
    }
}

/// Runs an assertion that must fail; returns what failed.
fn fails(t: &ClaimsTransformation, mut claims: ClaimValues) -> AssertionFailed {
    match apply(t, &mut claims, NOW) {
        Ok(Err(failed)) => failed,
        Ok(Ok(())) => panic!("{} held", t.method),
        Err(e) => panic!("{} did not run: {e}", t.method),
    }
}

fn get<'a>(claims: &'a ClaimValues, id: &str) -> Option<&'a Value> {
    claims.get(&ClaimTypeId::from(id))
}

fn policy_error(t: &ClaimsTransformation, mut claims: ClaimValues) -> String {
    match apply(t, &mut claims, NOW) {
        Err(EngineError::Policy(m)) => m,
        Err(e) => panic!("{} failed otherwise: {e}", t.method),
        Ok(r) => panic!("{} ran: {r:?}", t.method),
    }
}

fn metadata(items: &[(&str, &str)]) -> Metadata {
    let mut m = Metadata::default();
    for (k, v) in items {
        m.insert(*k, *v);
    }
    m
}

// stringcollection-transformations.md

#[test]
fn add_item_to_string_collection_appends_unique_values() {
    let add = t(
        "AddItemToStringCollection",
        &[("email", "item"), ("otherEmails", "collection")],
        &[],
        &[("otherEmails", "collection")],
    );
    let claims = run(
        &add,
        bag(&[
            ("email", json!("admin@contoso.com")),
            ("otherEmails", json!(["someone@outlook.com"])),
        ]),
    );
    assert_eq!(
        get(&claims, "otherEmails"),
        Some(&json!(["someone@outlook.com", "admin@contoso.com"]))
    );
    // Adding it again leaves one copy.
    let claims = run(&add, claims);
    assert_eq!(
        get(&claims, "otherEmails"),
        Some(&json!(["someone@outlook.com", "admin@contoso.com"]))
    );
}

#[test]
fn string_collection_contains_ignoring_case() {
    let contains = |ignore: &str| {
        t(
            "StringCollectionContains",
            &[("roles", "inputClaim")],
            &[("item", "Admin"), ("ignoreCase", ignore)],
            &[("hasAdminRole", "outputClaim")],
        )
    };
    let roles = || bag(&[("roles", json!(["Reader", "Author", "Admin"]))]);
    let claims = run(&contains("true"), roles());
    assert_eq!(get(&claims, "hasAdminRole"), Some(&json!(true)));
    let lower = bag(&[("roles", json!(["reader", "admin"]))]);
    assert_eq!(
        get(&run(&contains("false"), lower.clone()), "hasAdminRole"),
        Some(&json!(false))
    );
    assert_eq!(
        get(&run(&contains("true"), lower), "hasAdminRole"),
        Some(&json!(true))
    );
}

// boolean-transformations.md

#[test]
fn and_or_not_claims_write_booleans() {
    let two = |method: &str| {
        t(
            method,
            &[
                ("isEmailNotExist", "inputClaim1"),
                ("isSocialAccount", "inputClaim2"),
            ],
            &[],
            &[("result", "outputClaim")],
        )
    };
    let claims = || {
        bag(&[
            ("isEmailNotExist", json!(true)),
            ("isSocialAccount", json!(false)),
        ])
    };
    assert_eq!(
        get(&run(&two("AndClaims"), claims()), "result"),
        Some(&json!(false))
    );
    assert_eq!(
        get(&run(&two("OrClaims"), claims()), "result"),
        Some(&json!(true))
    );
    // Booleans written as text (a default value, a REST answer) count too.
    let text_true = bag(&[
        ("isEmailNotExist", json!("True")),
        ("isSocialAccount", json!(true)),
    ]);
    assert_eq!(
        get(&run(&two("AndClaims"), text_true), "result"),
        Some(&json!(true))
    );

    let not = t(
        "NotClaims",
        &[("userExists", "inputClaim")],
        &[],
        &[("userExists", "outputClaim")],
    );
    let claims = run(&not, bag(&[("userExists", json!(false))]));
    assert_eq!(get(&claims, "userExists"), Some(&json!(true)));
}

#[test]
fn assert_boolean_claim_message_comes_from_the_profile_metadata() {
    let assert = t(
        "AssertBooleanClaimIsEqualToValue",
        &[("accountEnabled", "inputClaim")],
        &[("valueToCompareTo", "true")],
        &[],
    );
    run(&assert, bag(&[("accountEnabled", json!(true))]));
    let failed = fails(&assert, bag(&[("accountEnabled", json!(false))]));
    assert_eq!(failed.metadata_key, BOOLEAN_NOT_EQUAL);
    let profile = metadata(&[(
        "UserMessageIfClaimsTransformationBooleanValueIsNotEqual",
        "Your account is disabled.",
    )]);
    assert_eq!(failed.message(&profile), "Your account is disabled.");
    assert_eq!(failed.message(&Metadata::default()), failed.default_message);
    // An absent claim does not equal anything.
    fails(&assert, ClaimValues::new());
}

// date-transformations.md

#[test]
fn assert_date_time_is_greater_than_follows_its_parameters() {
    let assert = |params: &[(&str, &str)]| {
        t(
            "AssertDateTimeIsGreaterThan",
            &[
                ("approvedDateTime", "leftOperand"),
                ("currentDateTime", "rightOperand"),
            ],
            params,
            &[],
        )
    };
    let documented = assert(&[
        ("AssertIfEqualTo", "false"),
        ("AssertIfRightOperandIsNotPresent", "true"),
        ("TreatAsEqualIfWithinMillseconds", "300000"),
    ]);
    let claims = |left: &str, right: Option<&str>| {
        let mut c = bag(&[("approvedDateTime", json!(left))]);
        if let Some(r) = right {
            c.insert("currentDateTime".into(), json!(r));
        }
        c
    };
    // The page's example: the right operand is later, so the assertion fails.
    let failed = fails(
        &documented,
        claims("2022-01-01T15:00:00", Some("2022-01-22T15:00:00")),
    );
    assert_eq!(failed.metadata_key, DATE_TIME_NOT_GREATER);
    let profile = metadata(&[("DateTimeGreaterThan", "The approval has expired.")]);
    assert_eq!(failed.message(&profile), "The approval has expired.");
    // Later holds; within five minutes is equal, which passes when AssertIfEqualTo is false.
    run(
        &documented,
        claims("2022-01-22T15:00:00Z", Some("2022-01-01T15:00:00.1000000Z")),
    );
    run(
        &documented,
        claims("2022-01-20T15:00:00Z", Some("2022-01-20T15:04:00Z")),
    );
    run(&documented, claims("2022-01-20T15:00:00Z", None));
    // Defaults: equal fails (AssertIfEqualTo is true), a missing right operand fails.
    let strict = assert(&[]);
    fails(&strict, claims("2022-01-20", Some("2022-01-20T00:00:00Z")));
    fails(&strict, claims("2022-01-20", None));
    // Offsets are honoured: 16:00+01:00 is 15:00Z.
    fails(
        &strict,
        claims("2022-01-20T16:00:00+01:00", Some("2022-01-20T15:00:00Z")),
    );
    run(
        &strict,
        claims("2022-01-20T16:00:01+01:00", Some("2022-01-20T15:00:00Z")),
    );
}

#[test]
fn get_current_date_time_reads_the_injected_clock() {
    let now = t(
        "GetCurrentDateTime",
        &[],
        &[],
        &[("systemDateTime", "currentDateTime")],
    );
    let claims = run(&now, ClaimValues::new());
    assert_eq!(
        get(&claims, "systemDateTime"),
        Some(&json!("2022-01-20T15:00:00.0000000Z"))
    );
    // What it writes, the date assertions read back.
    assert_eq!(
        parse_date_time("2022-01-20T15:00:00.0000000Z"),
        Some(i128::from(NOW) * 1000)
    );
}

// string-transformations.md

#[test]
fn assert_string_claims_are_equal_with_string_comparison() {
    let assert = |comparison: &str| {
        t(
            "AssertStringClaimsAreEqual",
            &[("email", "inputClaim1"), ("emailRepeat", "inputClaim2")],
            &[("stringComparison", comparison)],
            &[],
        )
    };
    let claims = || {
        bag(&[
            ("email", json!("someone@contoso.com")),
            ("emailRepeat", json!("SomeOne@Contoso.com")),
        ])
    };
    run(&assert("ordinalIgnoreCase"), claims());
    let failed = fails(&assert("ordinal"), claims());
    assert_eq!(failed.metadata_key, STRINGS_NOT_EQUAL);
    let profile = metadata(&[(
        "UserMessageIfClaimsTransformationStringsAreNotEqual",
        "The e-mail addresses differ.",
    )]);
    assert_eq!(failed.message(&profile), "The e-mail addresses differ.");
}

#[test]
fn change_case_lowers_and_uppers() {
    let change = |case: &str| {
        t(
            "ChangeCase",
            &[("email", "inputClaim1")],
            &[("toCase", case)],
            &[("email", "outputClaim")],
        )
    };
    let claims = run(
        &change("LOWER"),
        bag(&[("email", json!("SomeOne@contoso.com"))]),
    );
    assert_eq!(get(&claims, "email"), Some(&json!("someone@contoso.com")));
    let claims = run(&change("UPPER"), claims);
    assert_eq!(get(&claims, "email"), Some(&json!("SOMEONE@CONTOSO.COM")));
    assert!(policy_error(&change("title"), ClaimValues::new()).contains("toCase"));
}

#[test]
fn compare_claims_with_operator_and_ignore_case() {
    let compare = |operator: &str, ignore: &str| {
        t(
            "CompareClaims",
            &[("email1", "inputClaim1"), ("email2", "inputClaim2")],
            &[("operator", operator), ("ignoreCase", ignore)],
            &[("sameEmailAddress", "outputClaim")],
        )
    };
    let claims = || {
        bag(&[
            ("email1", json!("someone@contoso.com")),
            ("email2", json!("someone@outlook.com")),
        ])
    };
    let result = |c: ClaimValues| get(&c, "sameEmailAddress").cloned();
    assert_eq!(
        result(run(&compare("NOT EQUAL", "true"), claims())),
        Some(json!(true))
    );
    assert_eq!(
        result(run(&compare("EQUAL", "true"), claims())),
        Some(json!(false))
    );
    let case_only = bag(&[("email1", json!("A@b.com")), ("email2", json!("a@B.com"))]);
    assert_eq!(
        result(run(&compare("EQUAL", "true"), case_only.clone())),
        Some(json!(true))
    );
    assert_eq!(
        result(run(&compare("EQUAL", "false"), case_only)),
        Some(json!(false))
    );
    assert!(policy_error(&compare("GREATER", "true"), claims()).contains("operator"));
}

#[test]
fn compare_claim_to_value() {
    let compare = t(
        "CompareClaimToValue",
        &[("termsOfUseConsentVersion", "inputClaim1")],
        &[
            ("compareTo", "V1"),
            ("operator", "NOT EQUAL"),
            ("ignoreCase", "true"),
        ],
        &[("termsOfUseTextChange", "outputClaim")],
    );
    let claims = run(&compare, bag(&[("termsOfUseConsentVersion", json!("v1"))]));
    assert_eq!(get(&claims, "termsOfUseTextChange"), Some(&json!(false)));
    let claims = run(&compare, bag(&[("termsOfUseConsentVersion", json!("v2"))]));
    assert_eq!(get(&claims, "termsOfUseTextChange"), Some(&json!(true)));
}

#[test]
fn create_random_string_guid_and_integer() {
    let guid = t(
        "CreateRandomString",
        &[],
        &[("randomGeneratorType", "GUID")],
        &[("correlationId", "outputClaim")],
    );
    let claims = run(&guid, ClaimValues::new());
    let value = get(&claims, "correlationId")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no GUID in {claims:?}"));
    let groups: Vec<usize> = value.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{value}");
    assert!(
        value
            .chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(&value[14..15], "4", "a version 4 GUID: {value}");

    // The page's example: INTEGER below 1000, formatted `OTP_{0}`, then base64.
    let otp = |seed: Option<&str>| {
        let mut params = vec![
            ("randomGeneratorType", "INTEGER"),
            ("maximumNumber", "1000"),
            ("stringFormat", "OTP_{0}"),
            ("base64", "true"),
        ];
        if let Some(seed) = seed {
            params.push(("seed", seed));
        }
        t(
            "CreateRandomString",
            &[],
            &params,
            &[("otp", "outputClaim")],
        )
    };
    let encoded = |c: ClaimValues| get(&c, "otp").and_then(Value::as_str).map(str::to_owned);
    let value = encoded(run(&otp(None), ClaimValues::new())).unwrap_or_default();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&value)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| panic!("{value} is not base64: {e}"));
    let n: u32 = decoded
        .strip_prefix("OTP_")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{decoded} is not OTP_<number>"));
    assert!(n < 1000);
    // A seed repeats its number.
    let seeded = || encoded(run(&otp(Some("12345")), ClaimValues::new()));
    assert_eq!(seeded(), seeded());

    let no_max = t(
        "CreateRandomString",
        &[],
        &[("randomGeneratorType", "INTEGER")],
        &[("otp", "outputClaim")],
    );
    assert!(policy_error(&no_max, ClaimValues::new()).contains("maximumNumber"));
}

#[test]
fn create_string_claim() {
    let create = t(
        "CreateStringClaim",
        &[],
        &[("value", "Contoso terms of service...")],
        &[("TOS", "createdClaim")],
    );
    let claims = run(&create, ClaimValues::new());
    assert_eq!(
        get(&claims, "TOS"),
        Some(&json!("Contoso terms of service..."))
    );
}

#[test]
fn format_string_claim_fills_the_placeholder() {
    let format = t(
        "FormatStringClaim",
        &[("objectId", "inputClaim")],
        &[("stringFormat", "cpim_{0}@b2cdemo.onmicrosoft.com")],
        &[("userPrincipalName", "outputClaim")],
    );
    let claims = run(
        &format,
        bag(&[("objectId", json!("5164db16-3eee-4629-bfda-dcc3326790e9"))]),
    );
    assert_eq!(
        get(&claims, "userPrincipalName"),
        Some(&json!(
            "cpim_5164db16-3eee-4629-bfda-dcc3326790e9@b2cdemo.onmicrosoft.com"
        ))
    );
    assert_eq!(format_string("{{literal}} {0} {1}", "x"), "{literal} x {1}");
    // No input, no output.
    assert!(get(&run(&format, ClaimValues::new()), "userPrincipalName").is_none());
}

#[test]
fn set_claims_if_strings_match() {
    let set = t(
        "SetClaimsIfStringsMatch",
        &[("ageGroup", "claimToMatch")],
        &[
            ("matchTo", "Minor"),
            ("stringComparison", "ordinalIgnoreCase"),
            ("stringMatchMsg", "B2C_V1_90005"),
            (
                "stringMatchMsgCode",
                "The TOS is applicable for users 18 years and older.",
            ),
        ],
        &[
            ("isMinorResponseCode", "outputClaim1"),
            ("isMinorResponse", "outputClaim2"),
            ("isMinor", "stringCompareResult"),
        ],
    );
    let claims = run(&set, bag(&[("ageGroup", json!("minor"))]));
    assert_eq!(
        get(&claims, "isMinorResponseCode"),
        Some(&json!("B2C_V1_90005"))
    );
    assert_eq!(
        get(&claims, "isMinorResponse"),
        Some(&json!(
            "The TOS is applicable for users 18 years and older."
        ))
    );
    assert_eq!(get(&claims, "isMinor"), Some(&json!(true)));
    let claims = run(&set, bag(&[("ageGroup", json!("Adult"))]));
    assert_eq!(get(&claims, "isMinor"), Some(&json!(false)));
    assert!(get(&claims, "isMinorResponseCode").is_none());
}

#[test]
fn string_replace() {
    let replace = t(
        "StringReplace",
        &[("phone", "inputClaim")],
        &[("oldValue", "-"), ("newValue", "")],
        &[("phone", "outputClaim")],
    );
    let claims = run(&replace, bag(&[("phone", json!("+164-707-8810"))]));
    assert_eq!(get(&claims, "phone"), Some(&json!("+1647078810")));
}

// general-transformations.md

#[test]
fn copy_claim_keeps_the_value_and_its_type() {
    let copy = t(
        "CopyClaim",
        &[("email", "inputClaim")],
        &[],
        &[("copiedEmail", "outputClaim")],
    );
    let claims = run(&copy, bag(&[("email", json!("someone@contoso.com"))]));
    assert_eq!(
        get(&claims, "copiedEmail"),
        Some(&json!("someone@contoso.com"))
    );
    let copy_flag = t(
        "CopyClaim",
        &[("flag", "inputClaim")],
        &[],
        &[("copy", "outputClaim")],
    );
    assert_eq!(
        get(&run(&copy_flag, bag(&[("flag", json!(true))])), "copy"),
        Some(&json!(true))
    );
}

#[test]
fn does_claim_exist() {
    let exists = t(
        "DoesClaimExist",
        &[("email", "inputClaim")],
        &[],
        &[("isEmailPresent", "outputClaim")],
    );
    let present = run(&exists, bag(&[("email", json!("someone@contoso.com"))]));
    assert_eq!(get(&present, "isEmailPresent"), Some(&json!(true)));
    for absent in [ClaimValues::new(), bag(&[("email", json!(""))])] {
        assert_eq!(
            get(&run(&exists, absent), "isEmailPresent"),
            Some(&json!(false))
        );
    }
}

// json-transformations.md

fn generated(claims: &ClaimValues, id: &str) -> Value {
    let text = get(claims, id).and_then(Value::as_str).unwrap_or_default();
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?} is not JSON: {e}"))
}

#[test]
fn generate_json_builds_the_documented_send_grid_body() {
    let generate = t(
        "GenerateJson",
        &[
            ("email", "personalizations.0.to.0.email"),
            ("otp", "personalizations.0.dynamic_template_data.otp"),
            (
                "copiedEmail",
                "personalizations.0.dynamic_template_data.verify-email",
            ),
        ],
        &[
            ("template_id", "d-4c56ffb40fa648b1aa6822283df94f60"),
            ("from.email", "service@contoso.com"),
            (
                "personalizations.0.dynamic_template_data.subject",
                "Contoso account email verification code",
            ),
        ],
        &[("emailRequestBody", "outputClaim")],
    );
    let claims = run(
        &generate,
        bag(&[
            ("email", json!("someone@example.com")),
            ("copiedEmail", json!("someone@example.com")),
            ("otp", json!("346349")),
        ]),
    );
    assert_eq!(
        generated(&claims, "emailRequestBody"),
        json!({
            "personalizations": [{
                "to": [{"email": "someone@example.com"}],
                "dynamic_template_data": {
                    "otp": "346349",
                    "verify-email": "someone@example.com",
                    "subject": "Contoso account email verification code"
                }
            }],
            "template_id": "d-4c56ffb40fa648b1aa6822283df94f60",
            "from": {"email": "service@contoso.com"}
        })
    );
}

#[test]
fn generate_json_types_parameters_and_refuses_colliding_paths() {
    let mut generate = t(
        "GenerateJson",
        &[
            ("email", "customerEntity.email"),
            ("objectId", "customerEntity.userObjectId"),
            ("givenName", "customerEntity.firstName"),
        ],
        &[("customerEntity.role.name", "Administrator")],
        &[("requestBody", "outputClaim")],
    );
    generate.input_parameters.push(TransformationParameter {
        id: "customerEntity.role.id".into(),
        data_type: DataType::Long,
        value: "1".into(),
    });
    let claims = run(
        &generate,
        bag(&[
            ("email", json!("john.s@contoso.com")),
            ("objectId", json!("01234567-89ab-cdef-0123-456789abcdef")),
            ("givenName", json!("John")),
        ]),
    );
    assert_eq!(
        generated(&claims, "requestBody"),
        json!({"customerEntity": {
            "email": "john.s@contoso.com",
            "userObjectId": "01234567-89ab-cdef-0123-456789abcdef",
            "firstName": "John",
            "role": {"name": "Administrator", "id": 1}
        }})
    );

    let collide = t(
        "GenerateJson",
        &[("email", "customer"), ("givenName", "customer.name")],
        &[],
        &[("requestBody", "outputClaim")],
    );
    let message = policy_error(
        &collide,
        bag(&[("email", json!("a@b.example")), ("givenName", json!("A"))]),
    );
    assert!(message.contains("customer.name"), "{message}");
}

#[test]
fn get_claim_from_json_extracts_an_element() {
    let get_claim = |name: &str| {
        t(
            "GetClaimFromJson",
            &[("customUserData", "inputJson")],
            &[("claimToExtract", name)],
            &[("extracted", "extractedClaim")],
        )
    };
    let data = || {
        bag(&[(
            "customUserData",
            json!(
                r#"{"emailAddress": "someone@example.com", "displayName": "Someone", "id": 6353399, "address": {"city": "Oslo"}}"#
            ),
        )])
    };
    let extracted = |c: ClaimValues| get(&c, "extracted").cloned();
    assert_eq!(
        extracted(run(&get_claim("emailAddress"), data())),
        Some(json!("someone@example.com"))
    );
    assert_eq!(
        extracted(run(&get_claim("id"), data())),
        Some(json!(6353399))
    );
    assert_eq!(
        extracted(run(&get_claim("address.city"), data())),
        Some(json!("Oslo"))
    );
    assert_eq!(extracted(run(&get_claim("missing"), data())), None);
    let not_json = bag(&[("customUserData", json!("emailAddress=x"))]);
    assert!(policy_error(&get_claim("emailAddress"), not_json).contains("not JSON"));
}

// Ours (user flows' API connectors).

#[test]
fn create_identities_collection_for_a_local_account() {
    let create = t(
        "CreateIdentitiesCollection",
        &[("email", "issuerAssignedId")],
        &[("issuer", "contoso.onmicrosoft.com")],
        &[("identities", "collection")],
    );
    let claims = run(&create, bag(&[("email", json!("a@b.example"))]));
    assert_eq!(
        get(&claims, "identities"),
        Some(&json!([{
            "signInType": "emailAddress",
            "issuer": "contoso.onmicrosoft.com",
            "issuerAssignedId": "a@b.example"
        }]))
    );
}

// Dispatch and errors.

#[test]
fn unknown_method_names_the_transformation_and_its_source() {
    let unknown = t("Frobnicate", &[], &[], &[]);
    let message = policy_error(&unknown, ClaimValues::new());
    assert!(message.contains("'T1'"), "{message}");
    assert!(message.contains("Frobnicate"), "{message}");
    assert!(message.contains("base.xml:12"), "{message}");
}

#[test]
fn missing_claims_and_bad_parameters_are_policy_errors() {
    let no_output = t("CopyClaim", &[("email", "inputClaim")], &[], &[]);
    assert!(policy_error(&no_output, ClaimValues::new()).contains("output claim 'outputClaim'"));
    let bad_bool = t(
        "AssertBooleanClaimIsEqualToValue",
        &[("flag", "inputClaim")],
        &[("valueToCompareTo", "yes")],
        &[],
    );
    assert!(policy_error(&bad_bool, ClaimValues::new()).contains("valueToCompareTo"));
    // Method names are matched without regard to case, as B2C does.
    let lower = t(
        "copyclaim",
        &[("a", "inputClaim")],
        &[],
        &[("b", "outputClaim")],
    );
    assert_eq!(
        get(&run(&lower, bag(&[("a", json!("x"))])), "b"),
        Some(&json!("x"))
    );
}
