//! Refresh tokens: rotation, reuse detection, replayed claims.

use trustframe_oidc::{TokenError, TokenResponse, TokenSettings};

use crate::helpers::*;

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let env = env().await;
    let (code, verifier) = env.spa_code("openid offline_access").await;
    let rt1 = env
        .redeem_spa(&code, &verifier)
        .await
        .unwrap()
        .refresh_token
        .unwrap();

    env.clock.advance(60);
    let second = env.refresh_spa(&rt1).await.unwrap();
    let rt2 = second.refresh_token.clone().unwrap();
    assert_ne!(rt1, rt2, "each use returns a new refresh token");
    assert!(second.id_token.is_some());

    env.clock.advance(60);
    let rt3 = env.refresh_spa(&rt2).await.unwrap().refresh_token.unwrap();

    // rt1 comes back: it was copied. The family dies, including the newest token.
    let (_, error, description) = rejected(env.refresh_spa(&rt1).await);
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADB2C90129"), "{description}");
    let (_, _, description) = rejected(env.refresh_spa(&rt3).await);
    assert!(description.starts_with("AADB2C90129"), "{description}");
}

#[tokio::test]
async fn refresh_replays_the_initial_claims() {
    let env = env().await;
    let auth_time = env.clock_now();
    let (code, verifier) = env
        .spa_code(&format!("openid offline_access {TASKS_READ}"))
        .await;
    let first = env.redeem_spa(&code, &verifier).await.unwrap();
    let (_, first_claims) = env.verify(first.id_token.as_deref().unwrap(), SPA);

    env.clock.advance(7200);
    let now = env.clock_now();
    let second = env
        .refresh_spa(first.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    let (_, claims) = env.verify(second.id_token.as_deref().unwrap(), SPA);
    for name in [
        "sub",
        "oid",
        "emails",
        "name",
        "given_name",
        "family_name",
        "newUser",
        "extension_Role",
        "tfp",
        "iss",
        "aud",
    ] {
        assert_eq!(claims[name], first_claims[name], "{name}");
    }
    assert_eq!(claims["auth_time"], auth_time, "auth_time is the sign-in");
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 3600);
    assert!(
        claims.get("nonce").is_none(),
        "refreshed ID tokens carry no nonce"
    );
    // Same scopes as the original grant when the request names none.
    let (_, at) = env.verify(second.access_token.as_deref().unwrap(), API);
    assert_eq!(at["scp"], "tasks.read");
    assert_eq!(at["name"], "Ada Lovelace");
    assert_eq!(second.scope, format!("{TASKS_READ} openid offline_access"));
}

#[tokio::test]
async fn refresh_can_narrow_scopes_and_checks_permissions_first() {
    let env = env().await;
    let (code, verifier) = env
        .spa_code(&format!("openid offline_access {TASKS_READ}"))
        .await;
    let rt = env
        .redeem_spa(&code, &verifier)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    // A scope the app may not have: refused before the refresh token is spent.
    let (_, _, description) = rejected(
        env.token(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", SPA),
                ("refresh_token", &rt),
                ("scope", OTHER_SCOPE),
            ],
            None,
        )
        .await,
    );
    assert!(description.starts_with("AADB2C90205"), "{description}");
    let narrowed = env
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", SPA),
                ("refresh_token", &rt),
                ("scope", "openid"),
            ],
            None,
        )
        .await
        .unwrap();
    assert!(narrowed.access_token.is_none());
    assert!(narrowed.id_token.is_some());
    assert!(narrowed.refresh_token.is_some());
}

#[tokio::test]
async fn refresh_by_another_client_fails_and_revokes() {
    let env = env().await;
    let (code, verifier) = env.spa_code("openid offline_access").await;
    let rt = env
        .redeem_spa(&code, &verifier)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let (_, _, description) = rejected(
        env.token(
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            Some((WEB, WEB_SECRET)),
        )
        .await,
    );
    assert!(description.starts_with("AADB2C90279"), "{description}");
}

#[tokio::test]
async fn refresh_token_expiry_and_sliding_window() {
    let env = env_with(TokenSettings {
        refresh_token_lifetime_days: 1,
        refresh_token_sliding_window_days: 2,
        ..TokenSettings::default()
    })
    .await;
    let (code, verifier) = env.spa_code("openid offline_access").await;
    let rt = env
        .redeem_spa(&code, &verifier)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    // Used within a day: fine; the next one is capped by the sliding window.
    env.clock.advance(86_000);
    let next = env.refresh_spa(&rt).await.unwrap();
    let rt = next.refresh_token.unwrap();
    assert_eq!(next.refresh_token_expires_in, Some(86_400));
    env.clock.advance(86_000);
    let next = env.refresh_spa(&rt).await.unwrap();
    assert_eq!(
        next.refresh_token_expires_in,
        Some(2 * 86_400 - 2 * 86_000),
        "capped at auth_time + sliding window"
    );
    // Unused for longer than its lifetime: expired.
    env.clock.advance(86_401);
    let (_, _, description) = rejected(env.refresh_spa(&next.refresh_token.unwrap()).await);
    assert!(description.starts_with("AADB2C90080"), "{description}");
}

#[tokio::test]
async fn revoking_a_user_kills_their_refresh_tokens() {
    let env = env().await;
    let (code, verifier) = env.spa_code("openid offline_access").await;
    let rt = env
        .redeem_spa(&code, &verifier)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    assert_eq!(env.svc.revoke_user_refresh_tokens(OID).await.unwrap(), 1);
    let (_, _, description) = rejected(env.refresh_spa(&rt).await);
    assert!(description.starts_with("AADB2C90129"), "{description}");
}

/// A refresh asking for `scope`, with the web app's secret when `client` is the web app.
async fn refresh_scope(
    env: &Env,
    client: &str,
    token: &str,
    scope: &str,
) -> Result<TokenResponse, TokenError> {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", client),
        ("refresh_token", token),
        ("scope", scope),
    ];
    if client == WEB {
        form.push(("client_secret", WEB_SECRET));
    }
    env.token(&form, None).await
}

/// RFC 6749 §6: a refresh may keep or narrow the grant's scopes, never widen them; a refused
/// request does not spend the token.
#[tokio::test]
async fn refresh_cannot_widen_the_original_grant() {
    let env = env().await;
    let code = env
        .web_code(&format!("openid offline_access {TASKS_READ}"))
        .await;
    let first = env
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", WEB),
                ("client_secret", WEB_SECRET),
                ("code", &code),
                ("redirect_uri", WEB_REDIRECT),
            ],
            None,
        )
        .await
        .unwrap();
    let rt = first.refresh_token.unwrap();

    // The app may have tasks.write, but this grant never had it: refused, alone or added.
    for scope in [
        TASKS_WRITE.to_owned(),
        format!("openid offline_access {TASKS_READ} {TASKS_WRITE}"),
    ] {
        let (status, error, description) = rejected(refresh_scope(&env, WEB, &rt, &scope).await);
        assert_eq!((status, error.as_str()), (400, "invalid_scope"), "{scope}");
        assert!(description.starts_with("AADB2C90117"), "{description}");
        assert!(description.contains(TASKS_WRITE), "{description}");
    }
    // Another audience (the app's own client id) is not within the grant either.
    let (_, error, _) = rejected(refresh_scope(&env, WEB, &rt, WEB).await);
    assert_eq!(error, "invalid_scope");

    // The refusals did not spend the token: the same scopes, then fewer, still work.
    let same = refresh_scope(
        &env,
        WEB,
        &rt,
        &format!("openid offline_access {TASKS_READ}"),
    )
    .await
    .unwrap();
    let (_, at) = env.verify(same.access_token.as_deref().unwrap(), API);
    assert_eq!(at["scp"], "tasks.read");
    let narrowed = refresh_scope(&env, WEB, same.refresh_token.as_deref().unwrap(), "openid")
        .await
        .unwrap();
    assert!(narrowed.access_token.is_none());
    // A narrowed refresh does not shrink the grant: its successor may ask for all of it again.
    let again = refresh_scope(
        &env,
        WEB,
        narrowed.refresh_token.as_deref().unwrap(),
        TASKS_READ,
    )
    .await
    .unwrap();
    assert!(again.access_token.is_some());
}

/// A grant without `openid` (an access token only) cannot gain an ID token on refresh.
#[tokio::test]
async fn refresh_cannot_add_openid() {
    let env = env().await;
    let (code, verifier) = env.spa_code(&format!("offline_access {TASKS_READ}")).await;
    let rt = env
        .redeem_spa(&code, &verifier)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let (_, error, description) = rejected(refresh_scope(&env, SPA, &rt, "openid").await);
    assert_eq!(error, "invalid_scope");
    assert!(description.contains("'openid'"), "{description}");
    assert!(
        env.refresh_spa(&rt).await.is_ok(),
        "the token was not spent"
    );
}
