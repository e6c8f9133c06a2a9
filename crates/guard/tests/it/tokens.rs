//! Which tokens get through: one valid token, and every way a token can be wrong (401).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use trustframe_guard::test_issuer::TestIssuer;

use crate::helpers::{Api, guard_for, ready, spawn_api};

async fn setup() -> (TestIssuer, Api) {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(guard_for(&issuer)).await;
    let api = spawn_api(&guard).await;
    (issuer, api)
}

/// Asserts a 401 `invalid_token` answer with this description, in the header and the body.
async fn assert_invalid(api: &Api, token: &str, description: &str) {
    let reply = api.get("/api/values", Some(token)).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(
            format!(r#"Bearer error="invalid_token", error_description="{description}""#).as_str()
        )
    );
    assert_eq!(reply.json()["error"], "invalid_token");
    assert_eq!(reply.description(), description);
    assert!(!reply.body.contains(token), "the token must not be echoed");
}

#[tokio::test]
async fn a_valid_token_gets_the_values() {
    let (issuer, api) = setup().await;
    let reply = api.get("/api/values", Some(&issuer.token().sign())).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!(["Value1", "Value2"]));
    assert_eq!(reply.www_authenticate, None);
}

#[tokio::test]
async fn no_token_gets_a_bare_bearer_challenge() {
    let (_issuer, api) = setup().await;
    let reply = api.get("/api/values", None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"));
    assert_eq!(reply.description(), "a bearer token is required");

    // Another scheme is not a bearer token either.
    let reply = api
        .send(
            reqwest::Method::GET,
            "/api/values",
            Some("Basic dXNlcjpwYXNz".into()),
        )
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"));
}

#[tokio::test]
async fn garbage_and_tampered_tokens_get_401() {
    let (issuer, api) = setup().await;
    assert_invalid(&api, "not-a-jwt", "the token is malformed").await;
    // The docs' own test: add characters to a valid token.
    let valid = issuer.token().sign();
    let reply = api
        .get("/api/values", Some(&format!("{valid}INVALID")))
        .await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.json()["error"], "invalid_token");

    // Flip one character in the middle of the signature.
    let (signed, signature) = valid.rsplit_once('.').unwrap();
    let mut bytes = signature.as_bytes().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{signed}.{}", String::from_utf8(bytes).unwrap());
    assert_invalid(&api, &tampered, "the token's signature is invalid").await;

    // Change a claim and keep the old signature.
    let parts: Vec<&str> = valid.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("someone-else");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_invalid(&api, &forged, "the token's signature is invalid").await;
}

#[tokio::test]
async fn alg_none_is_refused() {
    let (issuer, api) = setup().await;
    let valid = issuer.token().sign();
    let claims = valid.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    assert_invalid(
        &api,
        &format!("{header}.{claims}."),
        "the token is malformed",
    )
    .await;
    let kid_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"key-1"}"#);
    assert_invalid(
        &api,
        &format!("{kid_header}.{claims}."),
        "the token is malformed",
    )
    .await;
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let (issuer, api) = setup().await;
    // The classic confusion attack: the published key used as an HMAC secret.
    let jwk = issuer.jwks()["keys"][0].clone();
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(issuer.token().sign().split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    for secret in [jwk.to_string(), jwk["n"].as_str().unwrap().to_owned()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = jwk["kid"].as_str().map(String::from);
        let token = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        assert_invalid(
            &api,
            &token,
            "the token's signing algorithm is not accepted",
        )
        .await;
    }
}

#[tokio::test]
async fn wrong_issuer_and_wrong_audience_get_401() {
    let (issuer, api) = setup().await;
    let other_issuer = issuer
        .token()
        .issuer("https://login.evil.example/tenant/v2.0/")
        .sign();
    assert_invalid(
        &api,
        &other_issuer,
        "the token was not issued by the trusted issuer",
    )
    .await;
    let other_api = issuer.token().audience("another-api").sign();
    assert_invalid(&api, &other_api, "the token is not meant for this API").await;
    let no_audience = issuer.token().without("aud").sign();
    assert_invalid(&api, &no_audience, "the token lacks the claim aud").await;
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_get_401_beyond_the_clock_skew() {
    let (issuer, api) = setup().await;
    let expired = issuer.token().expires_in(-600).sign();
    assert_invalid(&api, &expired, "the token has expired").await;
    let early = issuer.token().not_before_in(600).sign();
    assert_invalid(&api, &early, "the token is not valid yet").await;
    let no_exp = issuer.token().without("exp").sign();
    assert_invalid(&api, &no_exp, "the token lacks the claim exp").await;

    // Within the default 5 minutes of skew, both are still accepted.
    let just_expired = issuer.token().expires_in(-60).sign();
    assert_eq!(
        api.get("/api/values", Some(&just_expired)).await.status,
        200
    );
    let almost_valid = issuer.token().not_before_in(60).sign();
    assert_eq!(
        api.get("/api/values", Some(&almost_valid)).await.status,
        200
    );
}

#[tokio::test]
async fn a_token_from_an_unknown_key_gets_401() {
    let (issuer, api) = setup().await;
    let stranger = issuer.token().unpublished_key().sign();
    assert_invalid(&api, &stranger, "the token is signed with an unknown key").await;
}
