//! Sign-in, code redemption and refresh throughput of a real server over HTTP, with the default
//! argon2id parameters, and the share of a sign-in's CPU spent outside argon2 and RSA signing.
//!
//!     cargo bench -p trustframe-server --bench signin
//!
//! Figures go to crates/server/BENCHMARKS.md. Not a test: nothing here asserts a duration.

use std::sync::Arc;
use std::time::{Duration, Instant};

use trustframe_server::{Config, Server, ServerOptions};

const CLIENT: &str = "11112222-bbbb-3333-cccc-4444dddd5555";
const SECRET: &str = "bench-secret-0123456789abcdef0123456789";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const PASSWORD: &str = "Passw0rd!x";
const USERS: usize = 8;
const SIGN_INS: usize = 120;

fn config(base: &str, dir: &std::path::Path) -> Config {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
public_url = "{base}"
[storage]
url = "sqlite://bench.db"
[tenant]
name = "contoso"
[[applications]]
name = "bench"
client_id = "{CLIENT}"
client_secret = "{SECRET}"
redirect_uris = ["{REDIRECT}"]
[[user_flows]]
id = "B2C_1_susi"
type = "sign_up_or_sign_in"
# The users are created up front; this measures sign-in, not mail.
email_verification = false
# One address signs in far more often than max_journeys_per_ip allows.
[sessions]
max_journeys_per_ip = 0
"#
    );
    // TRUSTFRAME__SECTION__KEY overrides apply, for A/B runs (e.g. the lockout off:
    // TRUSTFRAME__LOCKOUT__THRESHOLD=0 TRUSTFRAME__LOCKOUT__IP_THRESHOLD=0).
    match Config::parse(&text, &dir.join("trustframe.toml"), std::env::vars()) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    }
}

fn find(body: &str, marker: &str) -> Option<String> {
    let at = body.find(marker)? + marker.len();
    let end = body[at..].find('"')?;
    Some(
        body[at..at + end]
            .replace("&amp;", "&")
            .replace("&#x2f;", "/"),
    )
}

fn client() -> reqwest::Client {
    match reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

async fn location(r: reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_default()
}

/// GET authorize and follow our own redirects; returns the app's callback URL or the page body.
async fn start(http: &reqwest::Client, base: &str) -> Result<String, (String, String)> {
    let url = format!(
        "{base}/contoso/B2C_1_susi/oauth2/v2.0/authorize?client_id={CLIENT}&redirect_uri={}&response_type=code&scope=openid%20offline_access",
        urlencode(REDIRECT)
    );
    let mut next = url;
    loop {
        let r = http
            .get(&next)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if r.status().is_redirection() {
            let loc = location(r).await;
            if loc.starts_with(REDIRECT) {
                return Ok(loc);
            }
            next = if loc.starts_with("http") {
                loc
            } else {
                format!("{base}{loc}")
            };
            continue;
        }
        return Err((next, r.text().await.unwrap_or_default()));
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn code_of(callback: &str) -> String {
    let query = callback.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn post_follow(
    http: &reqwest::Client,
    base: &str,
    action: &str,
    form: &[(&str, &str)],
) -> String {
    let r = http
        .post(format!("{base}{action}"))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut loc = location(r).await;
    while !loc.starts_with(REDIRECT) && !loc.is_empty() {
        let r = http
            .get(format!("{base}{loc}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        loc = location(r).await;
    }
    loc
}

async fn sign_up(base: &str, email: &str) {
    let http = client();
    let Err((_, body)) = start(&http, base).await else {
        panic!("unexpected SSO")
    };
    let link =
        find(&body, "id=\"createAccount\" href=\"").unwrap_or_else(|| panic!("no sign-up link"));
    // The link answers with a redirect to the sign-up page.
    let r = http
        .get(format!("{base}{link}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let page_url = format!("{base}{}", location(r).await);
    let page = http
        .get(page_url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    let csrf = find(&page, "name=\"csrf\" value=\"").unwrap_or_default();
    let action = find(&page, "<form method=\"post\" action=\"").unwrap_or_default();
    let done = post_follow(
        &http,
        base,
        &action,
        &[
            ("csrf", &csrf),
            ("email", email),
            ("newPassword", PASSWORD),
            ("reenterPassword", PASSWORD),
        ],
    )
    .await;
    assert!(done.starts_with(REDIRECT), "sign-up failed: {done} {page}");
}

async fn redeem(http: &reqwest::Client, base: &str, code: &str) -> serde_json::Value {
    http.post(format!("{base}/contoso/B2C_1_susi/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default()
}

/// One complete sign-in: authorize, the form POST (argon2 verify), the code, the tokens.
async fn sign_in(base: &str, email: &str) {
    let http = client();
    let Err((_, body)) = start(&http, base).await else {
        panic!("unexpected SSO")
    };
    let csrf = find(&body, "name=\"csrf\" value=\"").unwrap_or_default();
    let action = find(&body, "<form method=\"post\" action=\"").unwrap_or_default();
    let callback = post_follow(
        &http,
        base,
        &action,
        &[
            ("csrf", &csrf),
            ("signInName", email),
            ("password", PASSWORD),
        ],
    )
    .await;
    let tokens = redeem(&http, base, &code_of(&callback)).await;
    assert!(tokens["id_token"].is_string(), "sign-in failed: {tokens}");
}

/// User + system CPU time of the server's threads (its own runtime, threads named
/// `tf-server`, and sqlx's SQLite threads), so the benchmark's HTTP client is not counted.
fn cpu_time() -> Duration {
    let mut ticks = 0u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        // The server's runtime and its SQLite connection threads (the client has neither).
        if !head.contains("(tf-server") && !head.contains("(sqlx-sqlite") {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime: fields 14 and 15 of the line, 12 and 13 after the command name.
        ticks += fields
            .get(11)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        ticks += fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_millis(ticks * 10)
}

fn params_blocks() -> usize {
    argon2::Params::new(19456, 2, 1, None)
        .map(|p| p.block_count())
        .unwrap_or(19456)
}

/// CPU time of the calling thread (so other processes on the machine do not count).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = fields
        .get(11)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    Duration::from_millis(ticks * 10)
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
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let base = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    // The server on its own runtime (threads named tf-server, as in production: one worker per
    // core), the client on another.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("tf-server")
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let config = config(&base, dir.path());
    let server = server_rt
        .block_on(Server::build(ServerOptions {
            configs: vec![config],
            extra_routes: None,
            home_links: Vec::new(),
            listener: Some(listener),
        }))
        .unwrap_or_else(|e| panic!("{e}"));
    server_rt.spawn(server.run());
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    client_rt.block_on(run(base));
    drop(dir);
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
    let rsa = {
        let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .unwrap_or_else(|e| panic!("{e}"));
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0u8; key.public_modulus_len()];
        let t = thread_cpu();
        for _ in 0..2000 {
            let _ = key.sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                b"header.payload",
                &mut sig,
            );
        }
        thread_cpu().saturating_sub(t) / 2000
    };
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
    // One argon2 verify and one RS256 signature (the ID token) per sign-in.
    let floor = argon + rsa;
    let outside = 1.0 - floor.as_secs_f64() / per.as_secs_f64();
    println!(
        "complete sign-ins: {rate:.1}/s at concurrency {concurrency}; CPU per sign-in {:.1} ms, of which argon2+RSA {:.1} ms; share outside argon2 and RSA: {:.1}%",
        per.as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3,
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
                let t: serde_json::Value = app_client
                    .post(format!("{base}/contoso/B2C_1_susi/oauth2/v2.0/token"))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("client_id", CLIENT),
                        ("client_secret", SECRET),
                        ("refresh_token", rt.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
                    .json()
                    .await
                    .unwrap_or_default();
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

async fn sign_in_keep(http: &reqwest::Client, base: &str, email: &str) {
    let Err((_, body)) = start(http, base).await else {
        return;
    };
    let csrf = find(&body, "name=\"csrf\" value=\"").unwrap_or_default();
    let action = find(&body, "<form method=\"post\" action=\"").unwrap_or_default();
    let cb = post_follow(
        http,
        base,
        &action,
        &[
            ("csrf", &csrf),
            ("signInName", email),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert!(cb.starts_with(REDIRECT));
}
