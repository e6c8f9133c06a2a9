//! SendClaimsIn: what the API receives in each mode (`restful-technical-profile.md`).

use serde_json::json;
use trustframe_connector::KeyStore;
use trustframe_policy::ClaimRef;

use crate::helpers::*;

fn all_kinds() -> Tp {
    Tp(tp("").0)
        .input(ClaimRef::new("email").partner("emailAddress"))
        .input(ClaimRef::new("isMember"))
        .input(ClaimRef::new("loyaltyNumber"))
        .input(ClaimRef::new("tags"))
        .input(ClaimRef::new("givenName")) // no value: not sent
        .input(ClaimRef::new("surname")) // empty: not sent
}

fn values() -> trustframe_policy::ClaimValues {
    claims(&[
        ("email", json!("emily@example.com")),
        ("isMember", json!(true)),
        ("loyaltyNumber", json!(1234)),
        ("tags", json!(["gold", "early bird"])),
        ("surname", json!("")),
    ])
}

fn with_url(t: Tp, url: &str) -> Tp {
    t.meta("ServiceUrl", url)
}

#[tokio::test]
async fn body_posts_a_json_object_that_keeps_value_types() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), ok).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = with_url(all_kinds(), &api.url("/api/check"));
    continued(h.exchange(&t, &values()).await);

    let seen = api.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/api/check");
    assert_eq!(
        seen.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        seen.json(),
        json!({
            "emailAddress": "emily@example.com",
            "isMember": true,
            "loyaltyNumber": 1234,
            "tags": ["gold", "early bird"],
        })
    );
}

#[tokio::test]
async fn form_posts_urlencoded_pairs() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), ok).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = with_url(all_kinds(), &api.url("/form")).meta("SendClaimsIn", "Form");
    continued(h.exchange(&t, &values()).await);

    let seen = api.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        seen.text(),
        "emailAddress=emily%40example.com&isMember=true&loyaltyNumber=1234&tags=gold&tags=early+bird"
    );
}

#[tokio::test]
async fn header_gets_with_one_header_per_claim() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), ok).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = with_url(all_kinds(), &api.url("/h")).meta("SendClaimsIn", "Header");
    continued(h.exchange(&t, &values()).await);

    let seen = api.last();
    assert_eq!(seen.method, "GET");
    assert!(seen.body.is_empty());
    assert_eq!(
        seen.header("emailAddress").as_deref(),
        Some("emily@example.com")
    );
    assert_eq!(seen.header("isMember").as_deref(), Some("true"));
    assert_eq!(seen.header("loyaltyNumber").as_deref(), Some("1234"));
    assert_eq!(seen.header("tags").as_deref(), Some("gold,early bird"));
    assert_eq!(seen.header("givenName"), None);
    assert_eq!(seen.header("surname"), None);
}

#[tokio::test]
async fn query_string_gets_and_keeps_the_urls_own_query_out_of_the_record() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), ok).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = with_url(
        all_kinds(),
        &api.url("/api/GetProfile?code=function-key-123"),
    )
    .meta("SendClaimsIn", "QueryString");
    continued(h.exchange(&t, &values()).await);

    let seen = api.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.query.as_deref(),
        Some(
            "code=function-key-123&emailAddress=emily%40example.com&isMember=true&\
             loyaltyNumber=1234&tags=gold&tags=early+bird"
        )
    );
    let record = h.last_record();
    assert_eq!(record.url, api.url("/api/GetProfile"));
    assert!(
        !serde_json::to_string(&record)
            .unwrap()
            .contains("function-key-123")
    );
}

#[tokio::test]
async fn query_string_can_post_when_http_binding_says_so() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), ok).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = with_url(all_kinds(), &api.url("/q"))
        .meta("SendClaimsIn", "QueryString")
        .meta("HttpBinding", "POST");
    continued(h.exchange(&t, &values()).await);
    let seen = api.last();
    assert_eq!(seen.method, "POST");
    assert!(
        seen.query
            .unwrap()
            .contains("emailAddress=emily%40example.com")
    );
}

#[tokio::test]
async fn url_fills_placeholders_percent_encoded() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), ok).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&api.url("/users/{objectId}/profile/{name}?email={emailAddress}&keep={notAClaim}"))
        .meta("SendClaimsIn", "Url")
        .input(ClaimRef::new("objectId"))
        .input(ClaimRef::new("displayName").partner("name"))
        .input(ClaimRef::new("email").partner("emailAddress"));
    let c = claims(&[
        ("objectId", json!("a1/b2")),
        ("displayName", json!("Émily Smith")),
        ("email", json!("e+1@example.com")),
    ]);
    continued(h.exchange(&t, &c).await);

    let seen = api.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, "/users/a1%2Fb2/profile/%C3%89mily%20Smith");
    assert_eq!(
        seen.query.as_deref(),
        Some("email=e%2B1%40example.com&keep={notAClaim}")
    );
}

#[tokio::test]
async fn claims_in_the_host_are_refused_as_misconfiguration() {
    let pki = Pki::new();
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp("https://{tenant}.example.com/x")
        .meta("SendClaimsIn", "Url")
        .input(ClaimRef::new("email").partner("tenant"));
    let err = h
        .try_exchange(&t, &claims(&[("email", json!("x"))]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("host name"), "{err}");
    assert_eq!(h.last_record().outcome, "failed:misconfigured");
}

#[tokio::test]
async fn claim_used_for_request_payload_is_the_whole_body_as_is() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), ok).await;
    let h = Harness::new(&pki, KeyStore::new());
    let payload =
        r#"{"personalizations":[{"to":[{"email":"emily@example.com"}]}],  "template_id":"d-1"}"#;
    let t = tp(&api.url("/v3/mail/send"))
        .meta("ClaimUsedForRequestPayload", "payload")
        .input(ClaimRef::new("payload"))
        .input(ClaimRef::new("email"));
    let c = claims(&[
        ("payload", json!(payload)),
        ("email", json!("x@example.com")),
    ]);
    continued(h.exchange(&t, &c).await);

    let seen = api.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(seen.text(), payload);
}

#[tokio::test]
async fn get_is_not_a_binding_for_a_body() {
    let pki = Pki::new();
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp("https://localhost:1/x").meta("HttpBinding", "GET");
    let err = h.try_exchange(&t, &claims(&[])).await.unwrap_err();
    assert!(err.to_string().contains("HttpBinding"), "{err}");
}
