//! Validations per second of an RS256 (RSA-2048) token on one core.
//!
//! `cargo bench -p trustframe-guard --bench validate`
//!
//! - `guard_validate`: the whole check of `Guard::validate` (parse, key lookup, signature,
//!   `exp`/`nbf`/`iss`/`aud`, policy), keys loaded, verified-token cache off: every call
//!   verifies the signature.
//! - `guard_validate_cached`: the same token again with the default verified-token cache (a
//!   client reusing its access token): SHA-256 of the token, `exp`/`nbf`, policy.
//! - `rsa_verify_only`: the signature verification alone, through jsonwebtoken and the same key.
//! - `rsa_verify_preparsed`: aws-lc-rs with the key parsed once: the machine's RSA-2048 ceiling.
//! - `layer/*`: one request through a tower service, bare or behind `guard.layer()` (default
//!   cache, same token each time): the guard's whole per-request cost, without sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{Request, Response};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use std::hint::black_box;
use tower::{ServiceBuilder, ServiceExt};
use trustframe_guard::Guard;
use trustframe_guard::test_issuer::{AUDIENCE, POLICY, TestIssuer};

fn validate(c: &mut Criterion) {
    // One thread: the figure is per core.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (issuer, uncached, cached) = runtime.block_on(async {
        let issuer = TestIssuer::start().await.unwrap();
        let builder = Guard::builder(issuer.metadata_url())
            .audience(AUDIENCE)
            .policy(POLICY);
        let uncached = builder.clone().token_cache(0).build().unwrap();
        let cached = builder.build().unwrap();
        uncached.ready().await.unwrap();
        cached.ready().await.unwrap();
        (issuer, uncached, cached)
    });
    let token = issuer.token().scopes("tasks.read").sign();
    for guard in [&uncached, &cached] {
        runtime
            .block_on(guard.validate(&token))
            .expect("the bench token is valid");
    }

    let mut group = c.benchmark_group("rs256");
    group.throughput(Throughput::Elements(1));
    group.bench_function("guard_validate", |b| {
        b.iter(|| {
            runtime
                .block_on(uncached.validate(black_box(&token)))
                .unwrap()
        })
    });
    group.bench_function("guard_validate_cached", |b| {
        b.iter(|| {
            runtime
                .block_on(cached.validate(black_box(&token)))
                .unwrap()
        })
    });

    let jwk: Jwk = serde_json::from_value(issuer.jwks()["keys"][0].clone()).unwrap();
    let key = DecodingKey::from_jwk(&jwk).unwrap();
    let (message, signature) = token.rsplit_once('.').unwrap();
    group.bench_function("rsa_verify_only", |b| {
        b.iter(|| {
            assert!(
                jsonwebtoken::crypto::verify(
                    black_box(signature),
                    black_box(message.as_bytes()),
                    &key,
                    Algorithm::RS256
                )
                .unwrap()
            )
        })
    });

    // The ceiling: aws-lc-rs with the key parsed once.
    let n = base64_url(jwk_field(&issuer, "n"));
    let e = base64_url(jwk_field(&issuer, "e"));
    let components = aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e };
    let der = rsa_public_key_der(&components);
    let parsed = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        &der,
    )
    .unwrap();
    let signature_bytes = base64_url(signature);
    group.bench_function("rsa_verify_preparsed", |b| {
        b.iter(|| {
            parsed
                .verify_sig(black_box(message.as_bytes()), black_box(&signature_bytes))
                .unwrap()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("layer");
    group.throughput(Throughput::Elements(1));
    let handler = tower::service_fn(|_request: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::from(r#"["Value1","Value2"]"#)))
    });
    let guarded = ServiceBuilder::new().layer(cached.layer()).service(handler);
    let request = || {
        Request::builder()
            .uri("/api/values")
            .header("authorization", format!("Bearer {token}"))
            .body(String::new())
            .unwrap()
    };
    group.bench_function("unguarded_service", |b| {
        b.iter(|| {
            let response = runtime.block_on(handler.oneshot(request())).unwrap();
            assert_eq!(response.status(), 200);
        })
    });
    group.bench_function("guarded_service", |b| {
        b.iter(|| {
            let response = runtime
                .block_on(guarded.clone().oneshot(request()))
                .unwrap();
            assert_eq!(response.status(), 200);
        })
    });
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);

fn jwk_field(issuer: &TestIssuer, name: &str) -> String {
    issuer.jwks()["keys"][0][name].as_str().unwrap().to_owned()
}

fn base64_url(text: impl AsRef<[u8]>) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// DER of an RFC 8017 `RSAPublicKey` (SEQUENCE of two INTEGERs).
fn rsa_public_key_der(key: &aws_lc_rs::signature::RsaPublicKeyComponents<&Vec<u8>>) -> Vec<u8> {
    fn length(len: usize, out: &mut Vec<u8>) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
    }
    fn integer(value: &[u8], out: &mut Vec<u8>) {
        let value: Vec<u8> = value.iter().copied().skip_while(|b| *b == 0).collect();
        let pad = value.first().is_some_and(|b| b & 0x80 != 0);
        out.push(0x02);
        length(value.len() + usize::from(pad), out);
        if pad {
            out.push(0);
        }
        out.extend(value);
    }
    let mut body = Vec::new();
    integer(key.n, &mut body);
    integer(key.e, &mut body);
    let mut der = vec![0x30];
    length(body.len(), &mut der);
    der.extend(body);
    der
}
