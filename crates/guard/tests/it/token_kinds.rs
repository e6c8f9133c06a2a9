//! Access tokens only, by default: an ID token gets 401 unless the guard accepts them (an API
//! whose audience is the app itself); a required scope answers 403 `insufficient_scope`.

use trustframe_guard::Rejection;
use trustframe_guard::test_issuer::{AUDIENCE, TestIssuer};

use crate::helpers::{guard_for, ready, spawn_api};

#[tokio::test]
async fn id_tokens_are_refused_unless_the_guard_accepts_them() {
    let issuer = TestIssuer::start().await.unwrap();
    let api = spawn_api(&ready(guard_for(&issuer)).await).await;

    let id_token = issuer.id_token().sign();
    let reply = api.get("/api/values", Some(&id_token)).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(
            r#"Bearer error="invalid_token", error_description="an ID token is not an access token: request an access token for this API""#
        )
    );
    // Issued with a code or an access token, an ID token carries c_hash / at_hash.
    let hybrid = issuer
        .id_token()
        .claim("azp", AUDIENCE)
        .claim("c_hash", "x")
        .sign();
    assert_eq!(api.get("/api/values", Some(&hybrid)).await.status, 401);

    // Access tokens: for the API (scp), and the app's own (its client id as scope: azp, no scp).
    let access = issuer.token().scopes("tasks.read").sign();
    assert_eq!(api.get("/api/values", Some(&access)).await.status, 200);
    let own = issuer.token().claim("azp", AUDIENCE).sign();
    assert_eq!(api.get("/api/values", Some(&own)).await.status, 200);

    // The API that is the app itself may take its ID tokens (B2C's Node.js sample API).
    let guard = ready(guard_for(&issuer).accept_id_tokens(true)).await;
    let api = spawn_api(&guard).await;
    assert_eq!(api.get("/api/values", Some(&id_token)).await.status, 200);
    // A scope is still required where a route asks for one: ID tokens have none.
    let reply = api
        .send(
            reqwest::Method::POST,
            "/tasks",
            Some(format!("Bearer {id_token}")),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        guard.validate(&issuer.id_token().sign()).await.err(),
        None,
        "validate() follows the same setting"
    );
    let strict = ready(guard_for(&issuer)).await;
    assert_eq!(
        strict.validate(&id_token).await.err(),
        Some(Rejection::IdToken)
    );
    assert_eq!(strict.metrics().rejected.get("id_token"), Some(&1));
}

#[tokio::test]
async fn a_guard_wide_scope_answers_insufficient_scope() {
    let issuer = TestIssuer::start().await.unwrap();
    let api = spawn_api(&ready(guard_for(&issuer).scope("tasks.read")).await).await;

    let other = issuer.token().scopes("tasks.write").sign();
    let reply = api.get("/api/values", Some(&other)).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="the token lacks the scope tasks.read", scope="tasks.read""#
        )
    );
    assert_eq!(reply.json()["error"], "insufficient_scope");
    let reader = issuer.token().scopes("tasks.write tasks.read").sign();
    assert_eq!(api.get("/api/values", Some(&reader)).await.status, 200);
}
