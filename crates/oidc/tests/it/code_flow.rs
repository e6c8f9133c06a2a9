//! Authorization code flow: PKCE, client authentication, single-use codes.

use serde_json::json;
use trustframe_oidc::{PolicyClaim, TokenSettings};

use crate::helpers::*;

#[tokio::test]
async fn code_flow_with_pkce_s256_returns_b2c_id_token() {
    let env = env().await;
    let auth_time = env.clock_now();
    let (code, verifier) = env.spa_code("openid offline_access profile").await;
    env.clock.advance(5);
    let now = env.clock_now();
    let response = env.redeem_spa(&code, &verifier).await.unwrap();

    // Response members as B2C sends them for an ID-token-only grant.
    assert_eq!(response.token_type, "Bearer");
    assert!(response.access_token.is_none());
    assert!(response.expires_in.is_none() && response.resource.is_none());
    assert_eq!(response.not_before, now);
    assert_eq!(response.id_token_expires_in, Some(3600));
    assert_eq!(response.refresh_token_expires_in, Some(14 * 86_400));
    assert!(response.refresh_token.as_deref().unwrap().len() >= 43);
    assert_eq!(response.scope, "openid offline_access");
    let profile = b64_json(&response.profile_info);
    assert_eq!(profile["ver"], "1.0");
    assert_eq!(profile["tid"], TENANT_ID);
    assert_eq!(profile["name"], "Ada Lovelace");

    let id_token = response.id_token.as_deref().unwrap();
    let (header, claims) = env.verify(id_token, SPA);
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.kid, Some(env.svc.active_kid()));
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], OID);
    assert_eq!(claims["aud"], SPA);
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["nbf"], now);
    assert_eq!(claims["exp"], now + 3600);
    assert_eq!(claims["auth_time"], auth_time);
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["tfp"], POLICY);
    assert!(claims.get("acr").is_none());
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    // Application claims pass through under B2C's names.
    assert_eq!(claims["oid"], OID);
    assert_eq!(claims["emails"], json!(["ada@example.com"]));
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["given_name"], "Ada");
    assert_eq!(claims["family_name"], "Lovelace");
    assert_eq!(claims["newUser"], false);
    assert_eq!(claims["extension_Role"], "admin");
    assert!(claims.get("scp").is_none() && claims.get("azp").is_none());
}

#[tokio::test]
async fn acr_setting_puts_the_policy_in_acr() {
    let env = env_with(TokenSettings {
        policy_claim: PolicyClaim::Acr,
        ..TokenSettings::default()
    })
    .await;
    let (code, verifier) = env.spa_code("openid").await;
    let response = env.redeem_spa(&code, &verifier).await.unwrap();
    assert!(response.refresh_token.is_none(), "no offline_access");
    let (_, claims) = env.verify(response.id_token.as_deref().unwrap(), SPA);
    assert_eq!(claims["acr"], POLICY);
    assert!(claims.get("tfp").is_none());
}

#[tokio::test]
async fn wrong_verifier_fails_and_spends_the_code() {
    let env = env().await;
    let (code, verifier) = env.spa_code("openid").await;
    let (other, _) = pkce();
    let (status, error, description) = rejected(env.redeem_spa(&code, &other).await);
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    assert!(description.starts_with("AADB2C90182"), "{description}");
    // The code is single-use even when the first attempt failed.
    let (_, error, _) = rejected(env.redeem_spa(&code, &verifier).await);
    assert_eq!(error, "invalid_grant");
}

#[tokio::test]
async fn missing_or_malformed_verifier_is_rejected() {
    let env = env().await;
    let (code, _) = env.spa_code("openid").await;
    let (_, error, description) = rejected(
        env.token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", SPA),
                ("code", &code),
                ("redirect_uri", SPA_REDIRECT),
            ],
            None,
        )
        .await,
    );
    assert_eq!(error, "invalid_request");
    assert!(description.starts_with("AADB2C90083"), "{description}");

    let (code, _) = env.spa_code("openid").await;
    let (_, _, description) = rejected(env.redeem_spa(&code, "short").await);
    assert!(description.starts_with("AADB2C90183"), "{description}");
}

#[tokio::test]
async fn public_client_must_use_pkce() {
    let env = env().await;
    let response = redirect_error(env.authorize(&[
        ("client_id", SPA),
        ("redirect_uri", SPA_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "xyz"),
    ]));
    assert_eq!(response.redirect_uri, SPA_REDIRECT);
    assert_eq!(response.param("error"), Some("invalid_request"));
    assert!(
        response
            .error_description()
            .unwrap()
            .starts_with("AADB2C99059")
    );
    assert_eq!(response.param("state"), Some("xyz"));
    let url = response.redirect_url().unwrap();
    assert!(
        url.starts_with(
            "https://spa.example/cb?error=invalid_request&error_description=AADB2C99059"
        )
    );
}

#[tokio::test]
async fn plain_pkce_is_refused() {
    let env = env().await;
    for method in [Some("plain"), None] {
        let mut params = vec![
            ("client_id", SPA),
            ("redirect_uri", SPA_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            (
                "code_challenge",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ];
        if let Some(method) = method {
            params.push(("code_challenge_method", method));
        }
        let response = redirect_error(env.authorize(&params));
        assert!(
            response
                .error_description()
                .unwrap()
                .starts_with("AADB2C90184"),
            "{method:?}"
        );
    }
}

#[tokio::test]
async fn replayed_code_fails_and_revokes_its_refresh_tokens() {
    let env = env().await;
    let (code, verifier) = env.spa_code("openid offline_access").await;
    let first = env.redeem_spa(&code, &verifier).await.unwrap();
    let refresh_token = first.refresh_token.unwrap();

    let (status, error, description) = rejected(env.redeem_spa(&code, &verifier).await);
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    assert!(description.starts_with("AADB2C90129"), "{description}");

    let (_, error, description) = rejected(env.refresh_spa(&refresh_token).await);
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADB2C90129"), "{description}");
}

#[tokio::test]
async fn expired_code_is_refused() {
    let env = env().await;
    let (code, verifier) = env.spa_code("openid").await;
    env.clock.advance(301);
    let (_, error, description) = rejected(env.redeem_spa(&code, &verifier).await);
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADB2C90080"), "{description}");
}

#[tokio::test]
async fn code_lifetime_is_configurable() {
    let env = env_with(TokenSettings {
        code_lifetime_seconds: 30,
        ..TokenSettings::default()
    })
    .await;
    let (code, verifier) = env.spa_code("openid").await;
    env.clock.advance(29);
    assert!(env.redeem_spa(&code, &verifier).await.is_ok());
    let (code, verifier) = env.spa_code("openid").await;
    env.clock.advance(30);
    assert!(env.redeem_spa(&code, &verifier).await.is_err());
}

async fn redeem_web(
    env: &Env,
    code: &str,
    post: Option<(&str, Option<&str>)>,
    basic: Option<(&str, &str)>,
) -> Result<trustframe_oidc::TokenResponse, trustframe_oidc::TokenError> {
    let mut params = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", WEB_REDIRECT),
    ];
    if let Some((id, secret)) = post {
        params.push(("client_id", id));
        if let Some(secret) = secret {
            params.push(("client_secret", secret));
        }
    }
    env.token(&params, basic).await
}

#[tokio::test]
async fn confidential_client_authenticates_with_basic_or_post() {
    let env = env().await;

    // Wrong secret, Basic: 401, and the failed attempt does not consume the code.
    let code = env.web_code("openid").await;
    let (status, error, description) =
        rejected(redeem_web(&env, &code, None, Some((WEB, "wrong"))).await);
    assert_eq!((status, error.as_str()), (401, "invalid_client"));
    assert!(description.starts_with("AADB2C90081"), "{description}");
    // Wrong secret, post.
    let (status, _, description) =
        rejected(redeem_web(&env, &code, Some((WEB, Some("wrong"))), None).await);
    assert_eq!(status, 401);
    assert!(description.starts_with("AADB2C90081"), "{description}");
    // No secret at all.
    let (status, _, description) = rejected(redeem_web(&env, &code, Some((WEB, None)), None).await);
    assert_eq!(status, 401);
    assert!(description.starts_with("AADB2C90079"), "{description}");
    // Two methods at once.
    let (status, _, _) = rejected(
        redeem_web(
            &env,
            &code,
            Some((WEB, Some(WEB_SECRET))),
            Some((WEB, WEB_SECRET)),
        )
        .await,
    );
    assert_eq!(status, 400);
    // Right secret, Basic: works (the code survived the failures).
    let ok = redeem_web(&env, &code, None, Some((WEB, WEB_SECRET)))
        .await
        .unwrap();
    let (_, claims) = env.verify(ok.id_token.as_deref().unwrap(), WEB);
    assert_eq!(claims["nonce"], "web-nonce");
    // Right secret, post.
    let code = env.web_code("openid").await;
    assert!(
        redeem_web(&env, &code, Some((WEB, Some(WEB_SECRET))), None)
            .await
            .is_ok()
    );
    // Unknown client.
    let code = env.web_code("openid").await;
    let (status, error, description) =
        rejected(redeem_web(&env, &code, None, Some(("nobody", "x"))).await);
    assert_eq!((status, error.as_str()), (401, "invalid_client"));
    assert!(description.starts_with("AADB2C90018"), "{description}");
}

#[tokio::test]
async fn public_client_must_not_send_a_secret() {
    let env = env().await;
    let (code, verifier) = env.spa_code("openid").await;
    let (status, _, description) = rejected(
        env.token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", SPA),
                ("client_secret", "made-up"),
                ("code", &code),
                ("redirect_uri", SPA_REDIRECT),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await,
    );
    assert_eq!(status, 401);
    assert!(description.starts_with("AADB2C90084"), "{description}");
}

#[tokio::test]
async fn redirect_uri_must_match_the_authorize_request() {
    let env = env().await;
    let (code, verifier) = env.spa_code("openid").await;
    let (_, error, _) = rejected(
        env.token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", SPA),
                ("code", &code),
                // Registered for the app, but not the one the code was sent to.
                ("redirect_uri", "https://spa.example/other"),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await,
    );
    assert_eq!(error, "invalid_grant");
}

#[tokio::test]
async fn code_of_another_client_or_policy_is_refused() {
    let env = env().await;
    let code = env.web_code("openid").await;
    let (_, _, description) = rejected(
        env.token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", SPA),
                ("code", &code),
                ("redirect_uri", WEB_REDIRECT),
                ("code_verifier", &pkce().0),
            ],
            None,
        )
        .await,
    );
    assert!(description.starts_with("AADB2C90279"), "{description}");

    let (code, verifier) = env.spa_code("openid").await;
    let err = env
        .svc
        .token(
            "B2C_1_edit_profile",
            &pairs(&[
                ("grant_type", "authorization_code"),
                ("client_id", SPA),
                ("code", &code),
                ("redirect_uri", SPA_REDIRECT),
                ("code_verifier", &verifier),
            ]),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.description().starts_with("AADB2C90088"));
    // The policy is matched without regard to case, as B2C does.
    let (code, verifier) = env.spa_code("openid").await;
    let ok = env
        .svc
        .token(
            "b2c_1_SUSI",
            &pairs(&[
                ("grant_type", "authorization_code"),
                ("client_id", SPA),
                ("code", &code),
                ("redirect_uri", SPA_REDIRECT),
                ("code_verifier", &verifier),
            ]),
            None,
        )
        .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn grant_type_errors() {
    let env = env().await;
    let (status, error, description) = rejected(
        env.token(&[("grant_type", "password"), ("client_id", SPA)], None)
            .await,
    );
    assert_eq!((status, error.as_str()), (400, "unsupported_grant_type"));
    assert!(description.starts_with("AADB2C90086"), "{description}");
    let (_, error, description) = rejected(env.token(&[("client_id", SPA)], None).await);
    assert_eq!(error, "invalid_request");
    assert!(description.starts_with("AADB2C90083"), "{description}");
    let (_, _, description) = rejected(
        env.token(&[("grant_type", "authorization_code"), ("code", "x")], None)
            .await,
    );
    assert!(description.starts_with("AADB2C90008"), "{description}");
    let (_, error, _) = rejected(
        env.token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", SPA),
                ("code", "never-issued"),
                ("redirect_uri", SPA_REDIRECT),
                ("code_verifier", &pkce().0),
            ],
            None,
        )
        .await,
    );
    assert_eq!(error, "invalid_grant");
}

#[tokio::test]
async fn access_token_only_for_an_api_scope_or_own_client_id() {
    let env = env().await;

    // API scope: aud is the API, scp the granted names, azp the client.
    let (code, verifier) = env
        .spa_code(&format!("{TASKS_READ} openid offline_access"))
        .await;
    let now = env.clock_now();
    let response = env.redeem_spa(&code, &verifier).await.unwrap();
    assert_eq!(response.resource.as_deref(), Some(API));
    assert_eq!(response.expires_in, Some(3600));
    assert_eq!(response.expires_on, Some(now + 3600));
    assert_eq!(
        response.scope,
        format!("{TASKS_READ} openid offline_access")
    );
    let (header, claims) = env.verify(response.access_token.as_deref().unwrap(), API);
    assert_eq!(header.kid, Some(env.svc.active_kid()));
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["scp"], "tasks.read");
    assert_eq!(claims["azp"], SPA);
    assert_eq!(claims["sub"], OID);
    assert_eq!(claims["tfp"], POLICY);
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["name"], "Ada Lovelace");
    // The ID token is still for the client.
    let (_, id_claims) = env.verify(response.id_token.as_deref().unwrap(), SPA);
    assert!(id_claims.get("scp").is_none());

    // Requested but not granted scopes are left out of scp (B2C, access-tokens.md).
    let code = env.web_code(&format!("{TASKS_READ} {TASKS_WRITE}")).await;
    let response = env
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", WEB_REDIRECT),
            ],
            Some((WEB, WEB_SECRET)),
        )
        .await
        .unwrap();
    assert!(response.id_token.is_none(), "no openid, no id_token");
    let (_, claims) = env.verify(response.access_token.as_deref().unwrap(), API);
    assert_eq!(claims["scp"], "tasks.read tasks.write");
    assert_eq!(claims["azp"], WEB);

    // Own client id: an access token for the app itself, without scp.
    let (code, verifier) = env.spa_code(&format!("{SPA} openid")).await;
    let response = env.redeem_spa(&code, &verifier).await.unwrap();
    assert_eq!(response.resource.as_deref(), Some(SPA));
    let (_, claims) = env.verify(response.access_token.as_deref().unwrap(), SPA);
    assert_eq!(claims["aud"], SPA);
    assert_eq!(claims["azp"], SPA);
    assert!(claims.get("scp").is_none());

    // openid only: no access token.
    let (code, verifier) = env.spa_code("openid offline_access").await;
    let response = env.redeem_spa(&code, &verifier).await.unwrap();
    assert!(response.access_token.is_none());
}

#[tokio::test]
async fn client_info_has_msal_shape() {
    let env = env().await;
    let (code, verifier) = env.spa_code("openid").await;
    let response = env.redeem_spa(&code, &verifier).await.unwrap();
    let info = b64_json(response.client_info.as_deref().unwrap());
    assert_eq!(
        info,
        json!({"uid": format!("{OID}-b2c_1_susi"), "utid": TENANT_ID})
    );
    // Absent unless asked for.
    let (code, verifier) = env.spa_code("openid").await;
    let response = env
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", SPA),
                ("code", &code),
                ("redirect_uri", SPA_REDIRECT),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await
        .unwrap();
    assert!(response.client_info.is_none());
    let json = serde_json::to_value(&response).unwrap();
    assert!(json.get("client_info").is_none());
    assert!(json.get("access_token").is_none());
    assert_eq!(json["token_type"], "Bearer");
}

#[tokio::test]
async fn secrets_do_not_show_in_debug_output() {
    let env = env().await;
    let (code, verifier) = env.spa_code("openid offline_access").await;
    let response = env.redeem_spa(&code, &verifier).await.unwrap();
    let debug = format!("{response:?}");
    assert!(!debug.contains(response.refresh_token.as_deref().unwrap()));
    assert!(!debug.contains(response.id_token.as_deref().unwrap()));
    let app = env.svc.application(WEB).unwrap();
    assert!(!format!("{app:?}").contains(WEB_SECRET));
}
