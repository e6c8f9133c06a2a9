//! Sign-in, code redemption and refresh throughput of a real server over HTTP, with the default
//! argon2id parameters, and the share of a sign-in's CPU spent outside argon2 and RSA signing.
//!
//!     cargo bench -p trustframe-server --bench signin
//!
//! Figures go to crates/server/BENCHMARKS.md. Not a test: nothing here asserts a duration.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{
    PASSWORD, client, code_of, cpu_time, redeem, refresh, sign_in_form, sign_in_keep, sign_up,
    start, thread_cpu,
};

const USERS: usize = 8;
const SIGN_INS: usize = 120;

/// One complete sign-in: authorize, the form POST (argon2 verify), the code, the tokens.
async fn sign_in(base: &str, email: &str) {
    let http = client();
    let callback = sign_in_form(&http, base, email)
        .await
        .unwrap_or_else(|| panic!("unexpected SSO"));
    let tokens = redeem(&http, base, &code_of(&callback)).await;
    assert!(tokens["id_token"].is_string(), "sign-in failed: {tokens}");
}

/// The server's own count of CPU seconds spent in argon2 (`/metrics`).
async fn hashing_cpu(base: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("trustframe_password_hashing_cpu_seconds_total{"))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no hashing metric in /metrics"))
}

fn params_blocks() -> usize {
    argon2::Params::new(19456, 2, 1, None)
        .map(|p| p.block_count())
        .unwrap_or(19456)
}

async fn throughput<F, Fut>(n: usize, concurrency: usize, f: F) -> (f64, Duration)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < n {
                f(i).await;
                i += concurrency;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = t0.elapsed();
    (
        n as f64 / elapsed.as_secs_f64(),
        cpu_time().saturating_sub(cpu0),
    )
}

fn main() {
    support::with_server(run);
}

async fn run(base: String) {
    // The two costs a sign-in cannot avoid, measured alone on this machine.
    let argon = {
        let params = argon2::Params::new(19456, 2, 1, None).unwrap_or_else(|e| panic!("{e}"));
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        // As the server verifies: the working memory is reused from one hash to the next.
        let mut memory = vec![argon2::Block::default(); params_blocks()];
        let mut out = [0u8; 32];
        let t = thread_cpu();
        for _ in 0..40 {
            let _ = a.hash_password_into_with_memory(
                PASSWORD.as_bytes(),
                b"benchsaltbenchsalt",
                &mut out,
                &mut memory[..],
            );
        }
        thread_cpu().saturating_sub(t) / 40
    };
    let rsa = support::rs256_cpu();
    println!(
        "CPU of argon2id (19 MiB, t=2, p=1) one hash: {:.1} ms; of one RS256 signature: {:.0} µs",
        argon.as_secs_f64() * 1e3,
        rsa.as_secs_f64() * 1e6
    );

    let emails: Vec<String> = (0..USERS)
        .map(|i| format!("bench{i}@example.com"))
        .collect();
    for e in &emails {
        sign_up(&base, e).await;
    }

    // SIGNIN_CONCURRENCY=1 keeps two argon2 hashes from sharing the caches and memory bus.
    let concurrency: usize = std::env::var("SIGNIN_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let hashing0 = hashing_cpu(&base).await;
    let (rate, cpu) = {
        let base = base.clone();
        let emails = emails.clone();
        throughput(SIGN_INS, concurrency, move |i| {
            let base = base.clone();
            let email = emails[i % emails.len()].clone();
            async move { sign_in(&base, &email).await }
        })
        .await
    };
    let per = cpu / SIGN_INS as u32;
    // One argon2 verify (its CPU as the server counted it, so two hashes sharing the memory
    // bus are not counted as overhead) and one RS256 signature (the ID token) per sign-in.
    let hashing = (hashing_cpu(&base).await - hashing0) / SIGN_INS as f64;
    let floor = hashing + rsa.as_secs_f64();
    let outside = 1.0 - floor / per.as_secs_f64();
    println!(
        "complete sign-ins: {rate:.1}/s at concurrency {concurrency}; CPU per sign-in {:.1} ms, of which argon2 {:.1} ms (alone: {:.1} ms) and RSA {:.2} ms; share outside argon2 and RSA: {:.1}%",
        per.as_secs_f64() * 1e3,
        hashing * 1e3,
        argon.as_secs_f64() * 1e3,
        rsa.as_secs_f64() * 1e3,
        outside * 100.0
    );

    // Codes through SSO (no password check), then redeemed.
    let http = client();
    sign_in_keep(&http, &base, &emails[0]).await;
    let mut codes = Vec::new();
    for _ in 0..400 {
        match start(&http, &base).await {
            Ok(cb) => codes.push(code_of(&cb)),
            Err(_) => panic!("SSO expected"),
        }
    }
    let codes = Arc::new(codes);
    let n = codes.len();
    // An app's back end keeps its connections to the token endpoint open: one shared client.
    let app_client = reqwest::Client::new();
    let (rate, cpu) = {
        let base = base.clone();
        let codes = codes.clone();
        let app_client = app_client.clone();
        throughput(n, 4, move |i| {
            let base = base.clone();
            let code = codes[i].clone();
            let app_client = app_client.clone();
            async move {
                let t = redeem(&app_client, &base, &code).await;
                assert!(t["refresh_token"].is_string(), "{t}");
            }
        })
        .await
    };
    println!(
        "code redemptions: {rate:.0}/s; CPU per redemption {:.2} ms ({:.1}× one RS256 signature)",
        cpu.as_secs_f64() * 1e3 / n as f64,
        cpu.as_secs_f64() / n as f64 / rsa.as_secs_f64()
    );

    // Refresh: 4 rotating chains.
    let mut chains = Vec::new();
    for _ in 0..4 {
        let cb = start(&http, &base)
            .await
            .unwrap_or_else(|_| panic!("SSO expected"));
        let t = redeem(&http, &base, &code_of(&cb)).await;
        chains.push(Arc::new(tokio::sync::Mutex::new(
            t["refresh_token"].as_str().unwrap_or_default().to_owned(),
        )));
    }
    let chains = Arc::new(chains);
    let total = 800;
    let (rate, cpu) = {
        let base = base.clone();
        let chains = chains.clone();
        let app_client = app_client.clone();
        throughput(total, 4, move |i| {
            let base = base.clone();
            let chain = chains[i % 4].clone();
            let app_client = app_client.clone();
            async move {
                let mut rt = chain.lock().await;
                let t = refresh(&app_client, &base, &rt).await;
                *rt = t["refresh_token"]
                    .as_str()
                    .unwrap_or_else(|| panic!("refresh failed: {t}"))
                    .to_owned();
            }
        })
        .await
    };
    println!(
        "refresh grants: {rate:.0}/s; CPU per grant {:.2} ms ({:.1}× one RS256 signature)",
        cpu.as_secs_f64() * 1e3 / total as f64,
        cpu.as_secs_f64() / total as f64 / rsa.as_secs_f64()
    );
}
