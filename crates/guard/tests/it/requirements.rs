//! Valid tokens that lack a policy, scope or role (403), per-route requirements, the extractors
//! and the counters.

use serde_json::json;
use trustframe_guard::Rejection;
use trustframe_guard::test_issuer::{POLICY, TestIssuer};

use crate::helpers::{guard_for, ready, spawn_api};

#[tokio::test]
async fn a_token_from_another_policy_gets_403() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(guard_for(&issuer).policy("B2C_1_susi_with_MFA")).await;
    let api = spawn_api(&guard).await;

    let reply = api.get("/api/values", Some(&issuer.token().sign())).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="the token was not issued by a policy this API accepts""#
        )
    );
    assert_eq!(reply.json()["error"], "insufficient_scope");

    // Policy names compare case-insensitively, as B2C's do.
    let mfa = issuer.token().policy("b2c_1_SUSI_with_mfa").sign();
    let reply = api.get("/api/values", Some(&mfa)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // `acr` carries the policy when the tenant is set to use it.
    let acr = issuer
        .token()
        .without("tfp")
        .claim("acr", "B2C_1_susi_with_MFA")
        .sign();
    assert_eq!(api.get("/api/values", Some(&acr)).await.status, 200);
}

#[tokio::test]
async fn the_403_body_can_be_the_sample_apis() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(
        guard_for(&issuer)
            .policy("B2C_1_susi_with_MFA")
            .forbidden_body(json!({"error": "insufficient permissions"})),
    )
    .await;
    let api = spawn_api(&guard).await;
    let reply = api.get("/api/values", Some(&issuer.token().sign())).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json(), json!({"error": "insufficient permissions"}));
    // Token problems keep their 401 answer.
    let expired = issuer.token().expires_in(-3600).sign();
    assert_eq!(api.get("/api/values", Some(&expired)).await.status, 401);
}

#[tokio::test]
async fn a_route_can_require_a_scope() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(guard_for(&issuer)).await;
    let api = spawn_api(&guard).await;

    let reader = issuer.token().scopes("tasks.read").sign();
    let reply = api
        .send(
            reqwest::Method::POST,
            "/tasks",
            Some(format!("Bearer {reader}")),
        )
        .await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="the token lacks the scope tasks.write", scope="tasks.write""#
        )
    );
    // The same token is fine where no scope is needed.
    assert_eq!(api.get("/api/values", Some(&reader)).await.status, 200);

    let writer = issuer.token().scopes("tasks.read tasks.write").sign();
    let reply = api
        .send(
            reqwest::Method::POST,
            "/tasks",
            Some(format!("Bearer {writer}")),
        )
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (201, "created"));
    // The outer layer still answers for a missing token.
    let reply = api.send(reqwest::Method::POST, "/tasks", None).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn guard_wide_scopes_and_route_roles_are_enforced() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(guard_for(&issuer).scope("api.access")).await;
    let api = spawn_api(&guard).await;
    let without = issuer.token().sign();
    let reply = api.get("/api/values", Some(&without)).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.description(), "the token lacks the scope api.access");

    let user = issuer
        .token()
        .scopes("api.access")
        .roles(&["Reader"])
        .sign();
    assert_eq!(api.get("/api/values", Some(&user)).await.status, 200);
    let reply = api.get("/admin", Some(&user)).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.description(), "the token lacks the role Admin");
    let admin = issuer
        .token()
        .scopes("api.access")
        .roles(&["Reader", "Admin"])
        .sign();
    let reply = api.get("/admin", Some(&admin)).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "admin area"));
}

#[tokio::test]
async fn extractors_hand_the_claims_to_handlers() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(guard_for(&issuer)).await;
    let api = spawn_api(&guard).await;
    let token = issuer.token().claim("sub", "user-42").sign();

    let reply = api.get("/me", Some(&token)).await;
    assert_eq!(reply.json(), json!({"sub": "user-42", "policy": POLICY}));
    let reply = api.get("/typed", Some(&token)).await;
    assert_eq!(reply.body, "Test User (user-42)");

    // A token without the claims the handler's type needs.
    let reply = api.get("/emails", Some(&token)).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.description(),
        "the token's claims do not have the shape this API expects"
    );
}

#[tokio::test]
async fn optional_claims_allow_anonymous_callers_but_not_bad_tokens() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(guard_for(&issuer)).await;
    let api = spawn_api(&guard).await;

    let reply = api.get("/hello", None).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "hello stranger"));
    let token = issuer.token().claim("sub", "user-7").sign();
    let reply = api.get("/hello", Some(&token)).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "hello user-7"));
    let expired = issuer.token().expires_in(-3600).sign();
    let reply = api.get("/hello", Some(&expired)).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.description(), "the token has expired");
}

#[tokio::test]
async fn claims_on_an_unguarded_route_fail_closed() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(guard_for(&issuer)).await;
    let api = spawn_api(&guard).await;
    // Even with a valid token: nothing verified it on this route.
    let reply = api.get("/forgotten", Some(&issuer.token().sign())).await;
    assert_eq!(reply.status, 401);
    assert_ne!(reply.body, "should never be served");
}

#[tokio::test]
async fn validate_works_outside_http_and_everything_is_counted() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(guard_for(&issuer).policy(POLICY)).await;

    let claims = guard
        .validate(&issuer.token().claim("sub", "u1").sign())
        .await;
    assert_eq!(
        claims
            .ok()
            .and_then(|c| c.subject().map(String::from))
            .as_deref(),
        Some("u1")
    );
    assert_eq!(
        guard
            .validate(&issuer.token().expires_in(-3600).sign())
            .await
            .err(),
        Some(Rejection::Expired)
    );
    assert_eq!(
        guard
            .validate(&issuer.token().policy("B2C_1_other").sign())
            .await
            .err(),
        Some(Rejection::Policy)
    );
    let api = spawn_api(&guard).await;
    assert_eq!(api.get("/api/values", None).await.status, 401);
    assert_eq!(
        api.get("/api/values", Some(&issuer.token().sign()))
            .await
            .status,
        200
    );
    // Anonymous passes are not validations.
    assert_eq!(api.get("/hello", None).await.status, 200);

    let metrics = guard.metrics();
    assert_eq!(metrics.validations, 5);
    assert_eq!(metrics.accepted, 2);
    assert_eq!(metrics.rejected("expired"), 1);
    assert_eq!(metrics.rejected("policy"), 1);
    assert_eq!(metrics.rejected("missing_token"), 1);
    assert_eq!(metrics.key_refreshes, 1);
    assert_eq!(metrics.key_refresh_failures, 0);
}
