//! Output claims: flat bodies, JSON paths, types, nulls, default values, claim resolvers
//! (`restful-technical-profile.md`, `claim-resolver-overview.md`).

use serde_json::json;
use trustframe_connector::{FailureReason, KeyStore};
use trustframe_policy::{ClaimRef, ClaimTypeId};

use crate::helpers::*;

fn nested() -> serde_json::Value {
    json!({
        "contacts": [{
            "id": "MAINCONTACT_1",
            "person": {
                "name": "Emily Smith",
                "loyaltyNumber": 1234,
                "emails": [{"id": "EMAIL_1", "type": "WORK", "email": "emily@example.com"}]
            }
        }]
    })
}

#[tokio::test]
async fn flat_bodies_are_read_by_partner_claim_type_with_defaults_and_nulls() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, _| {
        Reply::json(
            200,
            json!({
                "name": "Emily Smith",
                "email": "emily@example.com",
                "loyaltyNumber": 1234,
                "postalCode": null,
                "isMember": "true",
                "tags": ["a", "b"],
                "surname": "FromApi"
            }),
        )
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&api.url("/x"))
        .output(ClaimRef::new("displayName").partner("name"))
        .output(ClaimRef::new("email"))
        .output(ClaimRef::new("loyaltyNumber"))
        .output(ClaimRef::new("postalCode").default_value("00000"))
        .output(ClaimRef::new("isMember"))
        .output(ClaimRef::new("tags"))
        .output(ClaimRef::new("balance").default_value("0.00"))
        .output(ClaimRef::new("givenName"))
        .output(
            ClaimRef::new("surname")
                .default_value("Fixed")
                .always_default(),
        );
    let (c, cleared) = continued(h.exchange(&t, &claims(&[])).await);
    let get = |k: &str| c.get(&ClaimTypeId::new(k)).cloned();
    assert_eq!(get("displayName"), Some(json!("Emily Smith")));
    assert_eq!(get("email"), Some(json!("emily@example.com")));
    assert_eq!(get("loyaltyNumber"), Some(json!(1234)));
    assert_eq!(get("isMember"), Some(json!(true)));
    assert_eq!(get("tags"), Some(json!(["a", "b"])));
    assert_eq!(
        get("balance"),
        Some(json!("0.00")),
        "DefaultValue for a claim not returned"
    );
    assert_eq!(get("givenName"), None, "not returned, no default: not set");
    assert_eq!(
        get("surname"),
        Some(json!("Fixed")),
        "AlwaysUseDefaultValue wins"
    );
    // null: the claim is left without a value (its DefaultValue does not apply).
    assert_eq!(get("postalCode"), None);
    assert_eq!(cleared, vec![ClaimTypeId::new("postalCode")]);
    let record = h.last_record();
    assert_eq!(record.detail["claimsCleared"], json!(["postalCode"]));
}

#[tokio::test]
async fn json_paths_in_both_documented_forms() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, _| Reply::json(200, nested())).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&api.url("/x"))
        .meta("ResolveJsonPathsInJsonTokens", "true")
        .output(ClaimRef::new("displayName").partner("contacts.0.person.name"))
        .output(ClaimRef::new("email").partner("contacts[0].person.emails[0].email"))
        .output(ClaimRef::new("loyaltyNumber").partner("contacts.0.person.loyaltyNumber"))
        .output(ClaimRef::new("objectId").partner("$.contacts[?@.id == 'MAINCONTACT_1'].id"))
        .output(ClaimRef::new("givenName").partner("contacts[1].person.name"))
        .output(
            ClaimRef::new("surname")
                .partner("contacts.0.person.surname")
                .default_value("n/a"),
        );
    let (c, cleared) = continued(h.exchange(&t, &claims(&[])).await);
    let get = |k: &str| c.get(&ClaimTypeId::new(k)).cloned();
    assert_eq!(get("displayName"), Some(json!("Emily Smith")));
    assert_eq!(get("email"), Some(json!("emily@example.com")));
    assert_eq!(get("loyaltyNumber"), Some(json!(1234)));
    assert_eq!(get("objectId"), Some(json!("MAINCONTACT_1")));
    assert_eq!(
        get("givenName"),
        None,
        "a path to a missing value leaves the claim unset"
    );
    assert_eq!(get("surname"), Some(json!("n/a")));
    assert!(cleared.is_empty());
}

#[tokio::test]
async fn a_value_of_the_wrong_type_is_a_malformed_response() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, seen| match seen.path.as_str() {
        "/object" => Reply::json(200, nested()),
        "/text-for-int" => Reply::json(200, json!({"loyaltyNumber": "abc"})),
        _ => Reply::json(200, json!({"balance": 760.5})),
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());

    // contacts[0] is an object; displayName is a string (the doc's own example does this).
    let t = tp(&api.url("/object"))
        .meta("ResolveJsonPathsInJsonTokens", "true")
        .output(ClaimRef::new("displayName").partner("contacts[0]"));
    let reason = failure(&h.exchange(&t, &claims(&[])).await);
    assert!(
        matches!(&reason, FailureReason::MalformedResponse(m) if m.contains("object") && m.contains("displayName")),
        "{reason:?}"
    );

    let t = tp(&api.url("/text-for-int")).output(ClaimRef::new("loyaltyNumber"));
    let reason = failure(&h.exchange(&t, &claims(&[])).await);
    assert!(
        matches!(&reason, FailureReason::MalformedResponse(m) if m.contains("\"abc\"")),
        "{reason:?}"
    );

    // A JSON number for a string claim is its text (documented choice).
    let t = tp(&api.url("/number-for-string")).output(ClaimRef::new("balance"));
    let (c, _) = continued(h.exchange(&t, &claims(&[])).await);
    assert_eq!(c[&"balance".into()], json!("760.5"));
}

#[tokio::test]
async fn input_defaults_and_claim_resolvers() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, _| Reply::json(200, json!({}))).await;
    let h = Harness::new(&pki, KeyStore::new());
    let inputs = |t: Tp| {
        t.input(
            ClaimRef::new("userLanguage")
                .partner("lang")
                .default_value("{Culture:LCID}")
                .always_default(),
        )
        .input(ClaimRef::new("email").default_value("nobody@example.com"))
        .input(ClaimRef::new("givenName").default_value("Friend"))
        .input(ClaimRef::new("policyName").default_value("{Policy:PolicyId}/{OIDC:ClientId}"))
        .input(ClaimRef::new("displayName"))
        .output(ClaimRef::new("objectId").default_value("{Context:CorrelationId}"))
    };
    // The user typed a resolver: values are never resolved, only default values.
    let c = claims(&[
        ("userLanguage", json!("en")),
        ("givenName", json!("Emily")),
        ("displayName", json!("{Claim:password}")),
        ("password", json!("Sup3rSecret!")),
    ]);

    let t = inputs(tp(&api.url("/x"))).meta("IncludeClaimResolvingInClaimsHandling", "true");
    let (out, _) = continued(h.exchange(&t, &c).await);
    assert_eq!(
        api.last().json(),
        json!({
            "lang": "1036",
            "email": "nobody@example.com",
            "givenName": "Emily",
            "policyName": "B2C_1A_signup_signin/app-1234",
            "displayName": "{Claim:password}",
        })
    );
    assert_eq!(out[&"objectId".into()], json!("corr-42"));

    // Without IncludeClaimResolvingInClaimsHandling, resolvers are sent as written.
    let t = inputs(tp(&api.url("/x")));
    let (out, _) = continued(h.exchange(&t, &c).await);
    let body = api.last().json();
    assert_eq!(body["lang"], json!("{Culture:LCID}"));
    assert_eq!(
        body["policyName"],
        json!("{Policy:PolicyId}/{OIDC:ClientId}")
    );
    assert_eq!(out[&"objectId".into()], json!("{Context:CorrelationId}"));
}
