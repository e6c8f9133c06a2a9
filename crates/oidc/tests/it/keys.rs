//! Signing keys: persistence, rotation, publication window, multi-node reload.

use trustframe_oidc::TokenSettings;
use trustframe_store::Store;

use crate::helpers::*;

#[tokio::test]
async fn keys_survive_reopening_the_store() {
    let env = env().await;
    let kid = env.svc.active_kid();
    let jwks = env.svc.jwks();
    assert_eq!(jwks.keys.len(), 1);
    let (code, verifier) = env.spa_code("openid").await;
    let id_token = env
        .redeem_spa(&code, &verifier)
        .await
        .unwrap()
        .id_token
        .unwrap();
    let Env {
        svc,
        store,
        clock,
        url,
        dir,
        ..
    } = env;
    drop(svc);
    drop(store);

    let store = Store::connect(&url).await.unwrap();
    let svc = service(store.clone(), TokenSettings::default(), clock.clone()).await;
    assert_eq!(svc.active_kid(), kid);
    assert_eq!(svc.jwks(), jwks);
    let env = Env {
        svc,
        store,
        clock,
        url,
        dir,
    };
    // A token signed before the restart still verifies.
    env.verify(&id_token, SPA);
}

#[tokio::test]
async fn jwks_members_are_b2c_s() {
    let env = env().await;
    let jwks = serde_json::to_value(env.svc.jwks()).unwrap();
    let key = &jwks["keys"][0];
    let mut members: Vec<&str> = key
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(members, ["e", "kid", "kty", "n", "nbf", "use"]);
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["e"], "AQAB");
    assert_eq!(key["n"].as_str().unwrap().len(), 342, "RSA-2048");
}

#[tokio::test]
async fn rotation_keeps_the_old_key_published_until_its_tokens_expire() {
    let env = env().await;
    let old_kid = env.svc.active_kid();
    let (code, verifier) = env.spa_code("openid").await;
    let old_token = env
        .redeem_spa(&code, &verifier)
        .await
        .unwrap()
        .id_token
        .unwrap();

    env.clock.advance(10);
    let new_kid = env.svc.rotate_keys().await.unwrap();
    assert_ne!(new_kid, old_kid);
    assert_eq!(env.svc.active_kid(), new_kid);
    let kids: Vec<String> = env.svc.jwks().keys.into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, [new_kid.clone(), old_kid.clone()], "active key first");

    // New tokens use the new key; the old token still verifies.
    let (code, verifier) = env.spa_code("openid").await;
    let new_token = env
        .redeem_spa(&code, &verifier)
        .await
        .unwrap()
        .id_token
        .unwrap();
    let (header, _) = env.verify(&new_token, SPA);
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    let (header, _) = env.verify(&old_token, SPA);
    assert_eq!(header.kid.as_deref(), Some(old_kid.as_str()));

    // Just before the last token it signed can expire (+ skew), it is still published ...
    env.clock.advance(3600 + 300 - 1);
    assert_eq!(env.svc.jwks().keys.len(), 2);
    assert_eq!(env.svc.prune_keys().await.unwrap(), 0);
    // ... then it is withdrawn and deleted.
    env.clock.advance(1);
    let kids: Vec<String> = env.svc.jwks().keys.into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, std::slice::from_ref(&new_kid));
    assert_eq!(env.svc.prune_keys().await.unwrap(), 1);
    let stored: Vec<String> = env
        .store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(stored, [new_kid]);
}

#[tokio::test]
async fn publication_window_follows_the_longest_token_lifetime() {
    let env = env_with(TokenSettings {
        id_token_lifetime_minutes: 5,
        access_token_lifetime_minutes: 120,
        ..TokenSettings::default()
    })
    .await;
    env.svc.rotate_keys().await.unwrap();
    env.clock.advance(7200 + 299);
    assert_eq!(env.svc.jwks().keys.len(), 2);
    env.clock.advance(1);
    assert_eq!(env.svc.jwks().keys.len(), 1);
}

#[tokio::test]
async fn another_node_picks_up_a_rotation_on_reload() {
    let env = env().await;
    let other_store = Store::connect(&env.url).await.unwrap();
    let other = service(other_store, TokenSettings::default(), env.clock.clone()).await;
    assert_eq!(
        other.active_kid(),
        env.svc.active_kid(),
        "one key for all nodes"
    );

    let new_kid = env.svc.rotate_keys().await.unwrap();
    assert_ne!(other.active_kid(), new_kid, "in memory until reloaded");
    other.reload_keys().await.unwrap();
    assert_eq!(other.active_kid(), new_kid);
    assert_eq!(other.jwks(), env.svc.jwks());
}
