//! What the server benchmarks share: a server on 127.0.0.1 with one user flow, the HTTP steps
//! of a browser and of an app's back end, and the server's CPU time read from `/proc`.
#![allow(dead_code)]

use std::time::Duration;

use trustframe_server::{Config, Server, ServerOptions};

pub const CLIENT: &str = "11112222-bbbb-3333-cccc-4444dddd5555";
pub const SECRET: &str = "bench-secret-0123456789abcdef0123456789";
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const PASSWORD: &str = "Passw0rd!x";

pub fn config(base: &str, dir: &std::path::Path) -> Config {
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

pub fn find(body: &str, marker: &str) -> Option<String> {
    let at = body.find(marker)? + marker.len();
    let end = body[at..].find('"')?;
    Some(
        body[at..at + end]
            .replace("&amp;", "&")
            .replace("&#x2f;", "/"),
    )
}

pub fn client() -> reqwest::Client {
    match reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

pub async fn location(r: reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_default()
}

/// GET authorize and follow our own redirects; returns the app's callback URL or the page body.
pub async fn start(http: &reqwest::Client, base: &str) -> Result<String, (String, String)> {
    start_scoped(http, base, "openid offline_access").await
}

/// [`start`] asking for `scope`.
pub async fn start_scoped(
    http: &reqwest::Client,
    base: &str,
    scope: &str,
) -> Result<String, (String, String)> {
    let url = format!(
        "{base}/contoso/B2C_1_susi/oauth2/v2.0/authorize?client_id={CLIENT}&redirect_uri={}&response_type=code&scope={}",
        urlencode(REDIRECT),
        urlencode(scope)
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

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn code_of(callback: &str) -> String {
    let query = callback.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

pub async fn post_follow(
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

pub async fn sign_up(base: &str, email: &str) {
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

pub async fn redeem(http: &reqwest::Client, base: &str, code: &str) -> serde_json::Value {
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

/// User + system CPU time of the server's threads (its own runtime, threads named
/// `tf-server`, sqlx's SQLite threads and the token writer's), so the benchmark's HTTP client
/// is not counted.
pub fn cpu_time() -> Duration {
    let mut ticks = 0u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        // The server's runtime, its SQLite connection threads and the token writer's two
        // threads (the client has none of them; thread names are cut at 15 bytes).
        if ![
            "(tf-server",
            "(sqlx-sqlite",
            "(trustframe-wri",
            "(trustframe-syn",
        ]
        .iter()
        .any(|name| head.contains(name))
        {
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

/// Runs `bench(base)` against a fresh server (SQLite file in a temp dir, or
/// `TRUSTFRAME__STORAGE__URL`), the server on its own runtime (threads named tf-server, one
/// worker per core as in production), the client on another.
pub fn with_server<F, Fut>(bench: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let base = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
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
    client_rt.block_on(bench(base));
    drop(dir);
}

/// Starts a sign-in and posts the sign-in form; the app's callback URL (empty if the journey
/// ended elsewhere). `None` when SSO answered without a page.
pub async fn sign_in_form(http: &reqwest::Client, base: &str, email: &str) -> Option<String> {
    let Err((_, body)) = start(http, base).await else {
        return None;
    };
    let csrf = find(&body, "name=\"csrf\" value=\"").unwrap_or_default();
    let action = find(&body, "<form method=\"post\" action=\"").unwrap_or_default();
    let form = [
        ("csrf", csrf.as_str()),
        ("signInName", email),
        ("password", PASSWORD),
    ];
    Some(post_follow(http, base, &action, &form).await)
}

/// Signs in once with this client, so its cookie carries SSO to the next authorize.
pub async fn sign_in_keep(http: &reqwest::Client, base: &str, email: &str) {
    if let Some(callback) = sign_in_form(http, base, email).await {
        assert!(callback.starts_with(REDIRECT));
    }
}

/// A refresh grant; the token endpoint's JSON answer.
pub async fn refresh(http: &reqwest::Client, base: &str, token: &str) -> serde_json::Value {
    http.post(format!("{base}/contoso/B2C_1_susi/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("refresh_token", token),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default()
}

/// CPU time of the calling thread (so other processes on the machine do not count).
pub fn thread_cpu() -> Duration {
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

/// CPU time of one RS256 signature with an RSA-2048 key (aws-lc-rs, as the server signs).
pub fn rs256_cpu() -> Duration {
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
}
