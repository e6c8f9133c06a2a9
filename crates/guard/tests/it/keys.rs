//! The key cache: rotation, the refresh floor, and the provider being down.

use std::time::Duration;

use trustframe_guard::test_issuer::TestIssuer;

use crate::helpers::{eventually, guard_for, ready, spawn_api};

#[tokio::test]
async fn a_key_rotation_is_picked_up_without_restart() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(guard_for(&issuer).min_refresh_interval(Duration::ZERO)).await;
    let api = spawn_api(&guard).await;
    assert_eq!(
        api.get("/api/values", Some(&issuer.token().sign()))
            .await
            .status,
        200
    );
    assert_eq!(issuer.jwks_requests(), 1);

    issuer.rotate_keys();
    let rotated = issuer.token().sign();
    let reply = api.get("/api/values", Some(&rotated)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // The unknown kid caused exactly one fetch; later tokens use the cache.
    assert_eq!(issuer.jwks_requests(), 2);
    assert_eq!(api.get("/api/values", Some(&rotated)).await.status, 200);
    assert_eq!(issuer.jwks_requests(), 2);
    assert_eq!(guard.metrics().key_refreshes, 2);
}

#[tokio::test]
async fn forged_kids_do_not_make_the_guard_hammer_the_provider() {
    let issuer = TestIssuer::start().await.unwrap();
    // The default floor (30 s) between fetches caused by requests.
    let guard = ready(guard_for(&issuer)).await;
    let api = spawn_api(&guard).await;
    for n in 0..20 {
        let forged = issuer.token().unpublished_key().claim("n", n).sign();
        let reply = api.get("/api/values", Some(&forged)).await;
        assert_eq!(reply.status, 401);
    }
    assert_eq!(issuer.jwks_requests(), 1);
    assert_eq!(issuer.metadata_requests(), 1);
    assert_eq!(guard.metrics().rejected("unknown_key"), 20);
    // A rotation within the floor is not seen yet: refused, never let through.
    issuer.rotate_keys();
    assert_eq!(
        api.get("/api/values", Some(&issuer.token().sign()))
            .await
            .status,
        401
    );
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test]
async fn the_provider_down_at_start_is_a_clear_error_and_is_retried() {
    let issuer = TestIssuer::start().await.unwrap();
    issuer.stop().await;
    let guard = guard_for(&issuer)
        .retry_delay(Duration::from_millis(100))
        .build()
        .unwrap();
    let error = guard.ready().await.unwrap_err().to_string();
    let expected = format!(
        "cannot fetch the OpenID metadata from {}: ",
        issuer.metadata_url()
    );
    assert!(error.starts_with(&expected), "{error}");
    assert!(error.to_lowercase().contains("connect"), "{error}");

    // Meanwhile the API refuses tokens: 503, never a pass.
    let api = spawn_api(&guard).await;
    let token = issuer.token().sign();
    let reply = api.get("/api/values", Some(&token)).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.json()["error"], "temporarily_unavailable");

    issuer.resume().await.unwrap();
    eventually(
        Duration::from_secs(30),
        "the guard loads the keys",
        || async { (api.get("/api/values", Some(&token)).await.status == 200).then_some(()) },
    )
    .await;
    guard.ready().await.unwrap();
    let metrics = guard.metrics();
    assert!(metrics.key_refresh_failures >= 1, "{metrics:?}");
    assert!(metrics.rejected("keys_unavailable") >= 1, "{metrics:?}");
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_provider_is_down_until_they_expire() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(
        guard_for(&issuer)
            .refresh_interval(Duration::from_secs(1))
            .retry_delay(Duration::from_millis(200))
            .key_lifetime(Duration::from_secs(10)),
    )
    .await;
    let api = spawn_api(&guard).await;
    let token = issuer.token().sign();
    issuer.stop().await;

    // A refresh fails, and the cached keys still serve.
    eventually(Duration::from_secs(10), "a failed refresh", || async {
        (guard.metrics().key_refresh_failures > 0).then_some(())
    })
    .await;
    let reply = api.get("/api/values", Some(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // Once the keys expire the guard fails closed.
    let reply = eventually(Duration::from_secs(40), "the keys expire", || async {
        let reply = api.get("/api/values", Some(&token)).await;
        (reply.status != 200).then_some(reply)
    })
    .await;
    assert_eq!(reply.status, 503, "{reply:?}");

    // And recovers by itself when the provider is back.
    issuer.resume().await.unwrap();
    eventually(Duration::from_secs(30), "the keys load again", || async {
        (api.get("/api/values", Some(&token)).await.status == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_remembered_token_is_refused_once_its_key_is_withdrawn() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(guard_for(&issuer).min_refresh_interval(Duration::ZERO)).await;
    let api = spawn_api(&guard).await;
    let old = issuer.token().sign();
    assert_eq!(api.get("/api/values", Some(&old)).await.status, 200);
    assert_eq!(api.get("/api/values", Some(&old)).await.status, 200);

    issuer.rotate_keys();
    assert_eq!(
        api.get("/api/values", Some(&issuer.token().sign()))
            .await
            .status,
        200
    );
    let reply = api.get("/api/values", Some(&old)).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.description(),
        "the token is signed with an unknown key"
    );
}

#[tokio::test]
async fn a_remembered_token_still_expires() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(guard_for(&issuer).clock_skew(Duration::ZERO)).await;
    let api = spawn_api(&guard).await;
    let short = issuer.token().expires_in(1).sign();
    assert_eq!(api.get("/api/values", Some(&short)).await.status, 200);
    let reply = eventually(Duration::from_secs(10), "the token expires", || async {
        let reply = api.get("/api/values", Some(&short)).await;
        (reply.status != 200).then_some(reply)
    })
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.description(), "the token has expired");
}
