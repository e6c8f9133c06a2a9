//! Validations per second of an RS256 (RSA-2048) token on one core.
//!
//! `cargo bench -p trustframe-guard --bench validate`
//!
//! - `guard_validate`: the whole check of `Guard::validate` (parse, key lookup, signature,
//!   `exp`/`nbf`/`iss`/`aud`, policy), with keys cached.
//! - `rsa_verify_only`: the signature verification alone, through the same library and key,
//!   the ceiling the guard can approach.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use std::hint::black_box;
use trustframe_guard::Guard;
use trustframe_guard::test_issuer::{AUDIENCE, POLICY, TestIssuer};

fn validate(c: &mut Criterion) {
    // One thread: the figure is per core.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (issuer, guard) = runtime.block_on(async {
        let issuer = TestIssuer::start().await.unwrap();
        let guard = Guard::builder(issuer.metadata_url())
            .audience(AUDIENCE)
            .policy(POLICY)
            .build()
            .unwrap();
        guard.ready().await.unwrap();
        (issuer, guard)
    });
    let token = issuer.token().scopes("tasks.read").sign();
    runtime
        .block_on(guard.validate(&token))
        .expect("the bench token is valid");

    let mut group = c.benchmark_group("rs256");
    group.throughput(Throughput::Elements(1));
    group.bench_function("guard_validate", |b| {
        b.iter(|| runtime.block_on(guard.validate(black_box(&token))).unwrap())
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
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
