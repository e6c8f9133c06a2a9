//! Token endpoint throughput against a real SQLite file, next to one RS256 signature.
//!
//! `cargo bench -p trustframe-oidc --bench grants`; figures in `BENCHMARKS.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use trustframe_oidc::{
    Application, Clock, OidcConfig, OidcService, SignedIn, SystemClock, TokenSettings,
    ValidatedAuthorize,
};
use trustframe_store::Store;

const CLIENT: &str = "11111111-1111-1111-1111-111111111111";
const REDIRECT: &str = "https://spa.example/cb";
const API_SCOPE: &str = "https://contoso.onmicrosoft.com/todo-api/tasks.read";
const POLICY: &str = "B2C_1_susi";

fn applications() -> Vec<Application> {
    let base = Application {
        name: String::new(),
        client_id: String::new(),
        redirect_uris: vec![],
        client_secret: None,
        allow_implicit_id_token: false,
        allow_implicit_access_token: false,
        api_permissions: vec![],
        app_id_uri: None,
        scopes: vec![],
        post_logout_redirect_uris: vec![],
    };
    vec![
        Application {
            name: "spa".into(),
            client_id: CLIENT.into(),
            redirect_uris: vec![REDIRECT.into()],
            api_permissions: vec![API_SCOPE.into()],
            ..base.clone()
        },
        Application {
            name: "api".into(),
            client_id: "33333333-3333-3333-3333-333333333333".into(),
            app_id_uri: Some("https://contoso.onmicrosoft.com/todo-api".into()),
            scopes: vec!["tasks.read".into()],
            ..base
        },
    ]
}

fn user() -> SignedIn {
    let Value::Object(claims) = json!({
        "oid": "9a1b2c3d-0000-4000-8000-000000000001",
        "emails": ["ada@example.com"],
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "idp": "LocalAccount",
        "newUser": false,
        "extension_Role": "admin",
    }) else {
        unreachable!()
    };
    SignedIn {
        object_id: "9a1b2c3d-0000-4000-8000-000000000001".into(),
        auth_time: SystemClock.now(),
        claims,
    }
}

fn pairs(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

struct Fixture {
    svc: OidcService,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::connect(&url).await.unwrap();
    let svc = OidcService::with_clock(
        store.clone(),
        OidcConfig {
            public_url: "https://login.contoso.test".into(),
            tenant_id: "775527ff-9a37-4307-8b3d-cc311f58d925".into(),
            applications: applications(),
            tokens: TokenSettings::default(),
            key_encryption: None,
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    Fixture {
        svc,
        store,
        _dir: dir,
    }
}

fn authorize(svc: &OidcService, scope: &str) -> (ValidatedAuthorize, String) {
    let verifier = URL_SAFE_NO_PAD.encode([7u8; 48]);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let req = svc
        .validate_authorize(&pairs(&[
            ("client_id", CLIENT),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", scope),
            ("nonce", "n"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]))
        .unwrap();
    (req, verifier)
}

async fn redeem(svc: &OidcService, code: &str, verifier: &str) -> Option<String> {
    svc.token(
        POLICY,
        &pairs(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ]),
        None,
    )
    .await
    .unwrap()
    .refresh_token
}

async fn refresh(svc: &OidcService, token: &str) -> String {
    svc.token(
        POLICY,
        &pairs(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT),
            ("refresh_token", token),
        ]),
        None,
    )
    .await
    .unwrap()
    .refresh_token
    .unwrap()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fx = rt.block_on(fixture());
    let svc = &fx.svc;

    // One RS256 signature of typical ID token claims, through jsonwebtoken with the tenant's
    // stored key (the path the service uses), and with a pre-parsed aws-lc key for reference.
    let record = rt.block_on(fx.store.signing_keys()).unwrap().remove(0);
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(&record.private_key_der)
    );
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(record.kid.clone());
    let mut claims = user().claims;
    for (k, v) in [
        (
            "iss",
            json!("https://login.contoso.test/775527ff-9a37-4307-8b3d-cc311f58d925/v2.0/"),
        ),
        ("sub", json!("9a1b2c3d-0000-4000-8000-000000000001")),
        ("aud", json!(CLIENT)),
        ("exp", json!(1_900_000_000i64)),
        ("nbf", json!(1_800_000_000i64)),
        ("iat", json!(1_800_000_000i64)),
        ("auth_time", json!(1_800_000_000i64)),
        ("ver", json!("1.0")),
        ("tfp", json!(POLICY)),
        ("nonce", json!("n")),
    ] {
        claims.insert(k.into(), v);
    }
    let mut group = c.benchmark_group("grants");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(1));

    // The service's path: claims to JSON, base64url, one RS256 signature with the parsed key.
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&record.private_key_der).unwrap();
    let header_b64 = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"typ":"JWT","alg":"RS256","kid":"{}"}}"#,
        record.kid
    ));
    group.bench_function("rs256_sign", |b| {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut signature = vec![0u8; pair.public_modulus_len()];
        b.iter(|| {
            let mut token = header_b64.clone();
            token.push('.');
            URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(&claims).unwrap(), &mut token);
            pair.sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                token.as_bytes(),
                &mut signature,
            )
            .unwrap();
            token.push('.');
            URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
            token
        })
    });
    // jsonwebtoken::encode re-parses and re-validates the RSA key on every call.
    group.bench_function("rs256_sign_jsonwebtoken_encode", |b| {
        b.iter(|| jsonwebtoken::encode(&header, &claims, &key).unwrap())
    });

    // The store's share of a refresh grant: spend a token, store its successor.
    group.bench_function("store_refresh_rotation", |b| {
        let store = &fx.store;
        b.to_async(&rt).iter_custom(|iters| async move {
            let family = uuid::Uuid::new_v4().to_string();
            let record = |n: u64| trustframe_store::RefreshTokenRecord {
                token_hash: format!("{family}-{n}"),
                family_id: family.clone(),
                object_id: "o".into(),
                client_id: CLIENT.into(),
                grant: "{}".repeat(200),
                created_at: 0,
                expires_at: i64::MAX,
                auth_time: Some(0),
            };
            store.put_refresh_token(&record(0)).await.unwrap();
            let start = Instant::now();
            for n in 0..iters {
                let used = store
                    .use_refresh_token(&format!("{family}-{n}"), 1)
                    .await
                    .unwrap();
                assert!(matches!(used, trustframe_store::RefreshUse::Valid(_)));
                store.put_refresh_token(&record(n + 1)).await.unwrap();
            }
            start.elapsed()
        })
    });

    // Code redemption (PKCE, ID token + refresh token): codes are minted untimed, redeemed timed.
    for (name, scope) in [
        ("code_redemption", "openid offline_access"),
        (
            "code_redemption_with_access_token",
            &*format!("openid offline_access {API_SCOPE}"),
        ),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| async move {
                let (req, verifier) = authorize(svc, scope);
                let mut codes = Vec::with_capacity(iters as usize);
                for _ in 0..iters {
                    let response = svc.issue(POLICY, &req, user()).await.unwrap();
                    codes.push(response.param("code").unwrap().to_owned());
                }
                let start = Instant::now();
                for code in &codes {
                    redeem(svc, code, &verifier).await.unwrap();
                }
                start.elapsed()
            })
        });
    }

    // Refresh grants (rotation: spend one, store its successor, new ID token), chained.
    for (name, scope) in [
        ("refresh_grant", "openid offline_access"),
        (
            "refresh_grant_with_access_token",
            &*format!("openid offline_access {API_SCOPE}"),
        ),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| async move {
                let (req, verifier) = authorize(svc, scope);
                let response = svc.issue(POLICY, &req, user()).await.unwrap();
                let mut token = redeem(svc, response.param("code").unwrap(), &verifier)
                    .await
                    .unwrap();
                let start = Instant::now();
                for _ in 0..iters {
                    token = refresh(svc, &token).await;
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(grants, benches);
criterion_main!(grants);
