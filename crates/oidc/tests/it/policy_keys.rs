//! A policy's own signing key (B2C's `B2C_1A_TokenSigningKeyContainer`): it signs the policy's
//! tokens, its JWKS publishes it beside the tenant's keys, other policies are unchanged.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use trustframe_oidc::{Jwks, PolicyKey};

use crate::helpers::*;

const SIGNING_KEY: &str = "B2C_1A_TokenSigningKeyContainer";
/// A second policy of the tenant, without a key of its own.
const OTHER_POLICY: &str = "B2C_1_edit";

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_else(|e| panic!("base64 is ASCII: {e}")))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A fresh RSA-2048 private key as a PKCS#8 PEM (`PRIVATE KEY`).
fn rsa_pem() -> String {
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap_or_else(|e| panic!("keygen: {e}"));
    let der = pair
        .as_der()
        .unwrap_or_else(|e| panic!("PKCS#8 export: {e}"));
    pem("PRIVATE KEY", der.as_ref())
}

fn policy_key(now: i64) -> PolicyKey {
    PolicyKey::from_pem(SIGNING_KEY, rsa_pem().as_bytes(), now)
        .unwrap_or_else(|e| panic!("policy key: {e}"))
}

/// Verifies a JWT as a relying party would, with only the keys of `jwks`.
fn verify_with(jwks: &Jwks, token: &str, audience: &str) -> Result<Map<String, Value>, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| format!("kid {kid} is not published"))?;
    let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .unwrap_or_else(|e| panic!("header: {e}"))
        .kid
        .unwrap_or_else(|| panic!("no kid"))
}

#[tokio::test]
async fn a_policy_key_signs_the_policy_s_tokens_and_its_jwks_publishes_it() {
    let mut env = env().await;
    let key = policy_key(env.clock_now());
    let kid = key.kid().to_owned();
    // Policy ids match without regard to case, as B2C's do.
    env.svc.set_policy_key("b2c_1_SUSI", key);
    assert_ne!(kid, env.svc.active_kid());
    assert_eq!(env.svc.signing_kid(POLICY), kid);

    let jwks = env.svc.jwks_for(POLICY);
    let kids: Vec<&str> = jwks.keys.iter().map(|k| k.kid.as_str()).collect();
    let tenant_kid = env.svc.active_kid();
    assert_eq!(kids, [kid.as_str(), tenant_kid.as_str()]);
    assert_eq!(jwks.keys[0].kty, "RSA");
    assert_eq!(jwks.keys[0].use_, "sig");
    assert_eq!(jwks.keys[0].e, "AQAB");

    // Code redemption: ID and access tokens.
    let (code, verifier) = env
        .spa_code(&format!("openid offline_access {TASKS_READ}"))
        .await;
    let tokens = env
        .redeem_spa(&code, &verifier)
        .await
        .unwrap_or_else(|e| panic!("redeem: {e:?}"));
    let id_token = tokens.id_token.unwrap_or_else(|| panic!("no id_token"));
    let access_token = tokens
        .access_token
        .unwrap_or_else(|| panic!("no access_token"));
    for (token, aud) in [(&id_token, SPA), (&access_token, API)] {
        assert_eq!(kid_of(token), kid);
        let claims = verify_with(&jwks, token, aud).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claims["tfp"], POLICY);
        // Another policy's JWKS and the tenant's keys alone do not verify it.
        let other = verify_with(&env.svc.jwks_for(OTHER_POLICY), token, aud);
        assert!(other.is_err_and(|e| e.contains("not published")));
        assert!(verify_with(&env.svc.jwks(), token, aud).is_err());
    }

    // Refresh.
    let refresh_token = tokens
        .refresh_token
        .unwrap_or_else(|| panic!("no refresh_token"));
    let refreshed = env
        .refresh_spa(&refresh_token)
        .await
        .unwrap_or_else(|e| panic!("refresh: {e:?}"));
    let id_token = refreshed.id_token.unwrap_or_else(|| panic!("no id_token"));
    assert_eq!(kid_of(&id_token), kid);
    verify_with(&jwks, &id_token, SPA).unwrap_or_else(|e| panic!("{e}"));

    // Implicit ID token from the authorization response.
    let req = env
        .authorize(&[
            ("client_id", WEB),
            ("redirect_uri", WEB_REDIRECT),
            ("response_type", "id_token"),
            ("scope", "openid"),
            ("nonce", "implicit-nonce"),
        ])
        .unwrap_or_else(|e| panic!("authorize: {e:?}"));
    let response = env.issue(&req).await;
    let id_token = response
        .param("id_token")
        .unwrap_or_else(|| panic!("no implicit id_token"));
    assert_eq!(kid_of(id_token), kid);
    verify_with(&jwks, id_token, WEB).unwrap_or_else(|e| panic!("{e}"));

    // An ID token of the policy is a valid logout hint.
    let outcome = env
        .svc
        .logout(&pairs(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "https://web.example/signed-out"),
        ]))
        .unwrap_or_else(|e| panic!("logout: {e}"));
    assert_eq!(outcome.client_id.as_deref(), Some(WEB));
}

#[tokio::test]
async fn other_policies_keep_the_tenant_keys() {
    let mut env = env().await;
    env.svc.set_policy_key(POLICY, policy_key(env.clock_now()));
    assert_eq!(env.svc.jwks_for(OTHER_POLICY), env.svc.jwks());
    assert_eq!(env.svc.signing_kid(OTHER_POLICY), env.svc.active_kid());

    let (verifier, challenge) = pkce();
    let req = env
        .authorize(&[
            ("client_id", SPA),
            ("redirect_uri", SPA_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .unwrap_or_else(|e| panic!("authorize: {e:?}"));
    let response = env
        .svc
        .issue(OTHER_POLICY, &req, user(env.clock_now()))
        .await
        .unwrap_or_else(|e| panic!("issue: {e}"));
    let code = response.param("code").unwrap_or_else(|| panic!("no code"));
    let tokens = env
        .svc
        .token(
            OTHER_POLICY,
            &pairs(&[
                ("grant_type", "authorization_code"),
                ("client_id", SPA),
                ("code", code),
                ("redirect_uri", SPA_REDIRECT),
                ("code_verifier", &verifier),
            ]),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("redeem: {e:?}"));
    let id_token = tokens.id_token.unwrap_or_else(|| panic!("no id_token"));
    assert_eq!(kid_of(&id_token), env.svc.active_kid());
    env.verify(&id_token, SPA);
    verify_with(&env.svc.jwks_for(OTHER_POLICY), &id_token, SPA).unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn tokens_signed_before_the_policy_got_its_key_keep_verifying() {
    let mut env = env().await;
    let (code, verifier) = env.spa_code("openid").await;
    let before = env
        .redeem_spa(&code, &verifier)
        .await
        .unwrap_or_else(|e| panic!("redeem: {e:?}"))
        .id_token
        .unwrap_or_else(|| panic!("no id_token"));
    // A restart with the key configured.
    env.svc.set_policy_key(POLICY, policy_key(env.clock_now()));
    assert_eq!(kid_of(&before), env.svc.active_kid());
    verify_with(&env.svc.jwks_for(POLICY), &before, SPA).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_kid_is_the_key_s_thumbprint_and_pkcs1_is_accepted() {
    let pkcs8 = rsa_pem();
    let a = PolicyKey::from_pem(SIGNING_KEY, pkcs8.as_bytes(), 0)
        .unwrap_or_else(|e| panic!("pkcs8: {e}"));
    let b = PolicyKey::from_pem(SIGNING_KEY, pkcs8.as_bytes(), 1)
        .unwrap_or_else(|e| panic!("pkcs8: {e}"));
    // Stable across restarts and nodes: derived from the public key only.
    assert_eq!(a.kid(), b.kid());
    assert_eq!(a.kid().len(), 43, "base64url of a SHA-256");
    assert_eq!(a.jwk().nbf, 0);
    assert_eq!(a.name(), SIGNING_KEY);
    // PKCS#1 (`RSA PRIVATE KEY`) of the same key: the PKCS#8 body holds it after a fixed
    // 26-byte AlgorithmIdentifier prefix for a 2048-bit key.
    let body: String = pkcs8.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD
        .decode(body)
        .unwrap_or_else(|e| panic!("base64: {e}"));
    let pkcs1 = PolicyKey::from_pem(
        SIGNING_KEY,
        pem("RSA PRIVATE KEY", &der[26..]).as_bytes(),
        0,
    )
    .unwrap_or_else(|e| panic!("pkcs1: {e}"));
    assert_eq!(pkcs1.kid(), a.kid());
}

#[test]
fn what_is_not_an_rsa_private_key_is_refused_naming_the_key() {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let ec = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap_or_else(|e| panic!("ec keygen: {e}"));
    let ec_pem = pem("PRIVATE KEY", ec.as_ref());
    let not_keys = [
        ec_pem.as_str(),
        "just a shared secret",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ];
    for text in not_keys {
        let err = PolicyKey::from_pem(SIGNING_KEY, text.as_bytes(), 0)
            .map(|k| k.kid().to_owned())
            .expect_err("not an RSA private key");
        let message = err.to_string();
        assert!(
            message.contains(SIGNING_KEY) && message.contains("not an RSA private key"),
            "{message}"
        );
    }
}
