//! The token endpoint under load: refresh grants with rotating refresh tokens over HTTP, as
//! `../shared/bench/token-endpoint/run.sh` measures against node oidc-provider, without node.
//! `C` connections share a pool of `C + 2` refresh-token chains: each request takes a token,
//! posts the grant and puts the returned successor back. Each grant signs an ID token and an
//! access token (the app asks for an access token to itself).
//!
//!     cargo bench -p trustframe-server --bench token                     # 16 and 2 connections
//!     TOKEN_CONNECTIONS=16 TOKEN_SECONDS=10 cargo bench -p trustframe-server --bench token
//!     TRUSTFRAME__STORAGE__URL=postgres://… cargo bench -p trustframe-server --bench token
//!
//! Prints grants/s, latency p50/p99, server CPU per grant (the server's threads only) and its
//! multiple of one RS256 signature. Figures go to crates/server/BENCHMARKS.md. Not a test.

mod support;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{CLIENT, code_of, cpu_time, redeem, sign_in_keep, sign_up, start_scoped};

fn main() {
    support::with_server(run);
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

async fn run(base: String) {
    let rsa = support::rs256_cpu();
    let connections: Vec<usize> = env_or("TOKEN_CONNECTIONS", "16,2")
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let seconds: u64 = env_or("TOKEN_SECONDS", "10").parse().unwrap_or(10);
    let email = "token-bench@example.com";
    sign_up(&base, email).await;
    let browser = support::client();
    sign_in_keep(&browser, &base, email).await;
    println!(
        "refresh grants, rotating tokens, {seconds} s per row; one RS256 signature alone: {:.0} µs of CPU",
        rsa.as_secs_f64() * 1e6
    );
    for c in connections {
        // Fresh chains for each row: C + 2 tokens, so no connection waits for a token.
        let mut pool = VecDeque::new();
        for _ in 0..c + 2 {
            // The app asks for an access token to itself too: two signatures per grant, as in
            // the shared side-by-side benchmark.
            let callback =
                start_scoped(&browser, &base, &format!("openid offline_access {CLIENT}"))
                    .await
                    .unwrap_or_else(|_| panic!("SSO expected"));
            let tokens = redeem(&browser, &base, &code_of(&callback)).await;
            let token = tokens["refresh_token"]
                .as_str()
                .unwrap_or_else(|| panic!("no refresh token: {tokens}"));
            pool.push_back(token.to_owned());
        }
        // Warm-up, then the measured run.
        let pool = Arc::new(Mutex::new(pool));
        grants(&base, c, Duration::from_secs(2), pool.clone()).await;
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        let mut latencies = grants(&base, c, Duration::from_secs(seconds), pool).await;
        let elapsed = t0.elapsed();
        let cpu = cpu_time().saturating_sub(cpu0);
        latencies.sort();
        let n = latencies.len().max(1);
        let pct = |p: f64| latencies[((n as f64 * p) as usize).min(n - 1)];
        let per = cpu.as_secs_f64() / n as f64;
        println!(
            "{c:>3} connections: {:>6.0} grants/s  p50 {:>6.2} ms  p99 {:>6.2} ms  server CPU {:.2} cores, {:.3} ms per grant ({:.1}× one RS256 signature; two signatures are {:.0} %)",
            n as f64 / elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            cpu.as_secs_f64() / elapsed.as_secs_f64(),
            per * 1e3,
            per / rsa.as_secs_f64(),
            2.0 * rsa.as_secs_f64() / per * 100.0,
        );
    }
}

/// `c` connections posting refresh grants for `length`; each grant's latency.
async fn grants(
    base: &str,
    c: usize,
    length: Duration,
    pool: Arc<Mutex<VecDeque<String>>>,
) -> Vec<Duration> {
    let end = Instant::now() + length;
    let mut tasks = Vec::new();
    for _ in 0..c {
        let (base, pool) = (base.to_owned(), pool.clone());
        tasks.push(tokio::spawn(async move {
            // One kept-alive connection per task, as wrk holds one per connection.
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            let mut latencies = Vec::new();
            while Instant::now() < end {
                let Some(token) = pool.lock().ok().and_then(|mut p| p.pop_front()) else {
                    tokio::task::yield_now().await;
                    continue;
                };
                let t = Instant::now();
                let body = support::refresh(&http, &base, &token).await;
                latencies.push(t.elapsed());
                let next = body["refresh_token"]
                    .as_str()
                    .unwrap_or_else(|| panic!("refresh failed: {body}"));
                if let Ok(mut p) = pool.lock() {
                    p.push_back(next.to_owned());
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap_or_default());
    }
    all
}
