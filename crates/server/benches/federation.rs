//! A federated sign-in's added latency over a local one, end to end over HTTP on 127.0.0.1:
//! two Trustframe servers in this process, `fabrikam` acting as contoso's OpenID provider.
//!
//!     cargo bench -p trustframe-server --bench federation
//!
//! Each sample is one browser sign-in from `/authorize` (with `prompt=login`, so contoso's page
//! is shown) to the app's redirect URI:
//! - local: the sign-in page, then the password (argon2id with its default parameters);
//! - federated: the sign-in page, the "Fabrikam" button, fabrikam's SSO session answering at
//!   once, the code redeemed at fabrikam's token endpoint, the ID token checked (metadata and
//!   keys cached), the user found by (issuer, subject).
//!
//! Figures go to crates/server/BENCHMARKS.md. Not a test: nothing here asserts a duration.

use std::time::{Duration, Instant};

use trustframe_server::{Config, Server, ServerOptions};

const CLIENT: &str = "11112222-bbbb-3333-cccc-4444dddd5555";
const SECRET: &str = "bench-secret";
const FAB_CLIENT: &str = "44445555-eeee-6666-ffff-777788889999";
const FAB_SECRET: &str = "bench-fabrikam-secret";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const PASSWORD: &str = "Passw0rd!x";
const SAMPLES: usize = 150;
const WARM_UP: usize = 10;

fn parse(text: &str, dir: &std::path::Path) -> Config {
    match Config::parse(text, &dir.join("trustframe.toml"), std::iter::empty()) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    }
}

fn provider_text(base: &str, consumer: &str, consumer2: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
public_url = "{base}"
development = true
[storage]
url = "sqlite://fabrikam.db"
[tenant]
name = "fabrikam"
[[applications]]
name = "contoso"
client_id = "{FAB_CLIENT}"
client_secret = "{FAB_SECRET}"
redirect_uris = ["{consumer}/contoso.onmicrosoft.com/oauth2/authresp", "{consumer2}/contoso.onmicrosoft.com/oauth2/authresp"]
[[user_flows]]
id = "B2C_1_susi"
type = "sign_up_or_sign_in"
sign_up_attributes = ["givenName", "surname", "displayName"]
email_verification = false
# One address signs in far more often than max_journeys_per_ip allows.
[sessions]
max_journeys_per_ip = 0
"#
    )
}

fn consumer_text(base: &str, provider: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
public_url = "{base}"
development = true
[storage]
url = "sqlite://contoso.db"
[tenant]
name = "contoso"
{extra}
[[applications]]
name = "bench"
client_id = "{CLIENT}"
client_secret = "{SECRET}"
redirect_uris = ["{REDIRECT}"]
[[identity_providers]]
id = "fabrikam"
type = "openid_connect"
display_name = "Fabrikam"
metadata_url = "{provider}/fabrikam/B2C_1_susi/v2.0/.well-known/openid-configuration"
client_id = "{FAB_CLIENT}"
client_secret = "{FAB_SECRET}"
claims = {{ email = "emails" }}
[[user_flows]]
id = "B2C_1_susi"
type = "sign_up_or_sign_in"
identity_providers = ["local", "fabrikam"]
sign_up_attributes = ["givenName", "surname", "displayName"]
email_verification = false
# One address signs in far more often than max_journeys_per_ip allows.
[sessions]
max_journeys_per_ip = 0
"#
    )
}

async fn start(text: String, listener: std::net::TcpListener, dir: &std::path::Path) {
    let server = match Server::build(ServerOptions {
        configs: vec![parse(&text, dir)],
        extra_routes: None,
        home_links: Vec::new(),
        listener: Some(listener),
    })
    .await
    {
        Ok(s) => s,
        Err(e) => panic!("server: {e}"),
    };
    tokio::spawn(async move {
        let _ = server.run().await;
    });
}

fn bind() -> (std::net::TcpListener, String) {
    let l = match std::net::TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => panic!("bind: {e}"),
    };
    let port = l.local_addr().map(|a| a.port()).unwrap_or_default();
    (l, format!("http://127.0.0.1:{port}"))
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
}

/// (name, value) of every input.
fn inputs(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find("<input") {
        rest = &rest[at..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            tag.find(&key).and_then(|i| {
                let s = i + key.len();
                tag[s..].find('"').map(|e| unescape(&tag[s..s + e]))
            })
        };
        if let Some(name) = attr("name") {
            out.push((name, attr("value").unwrap_or_default()));
        }
        rest = &rest[end..];
    }
    out
}

fn form_action(url: &str, body: &str) -> String {
    let marker = "<form method=\"post\" action=\"";
    let action = body
        .find(marker)
        .and_then(|at| {
            let s = at + marker.len();
            body[s..].find('"').map(|e| unescape(&body[s..s + e]))
        })
        .unwrap_or_default();
    url::Url::parse(url)
        .and_then(|u| u.join(&action))
        .map(|u| u.to_string())
        .unwrap_or(action)
}

enum Step {
    Page { url: String, body: String },
    Done,
}

/// Follows redirects and form_post pages like a browser; `Done` at the app's redirect URI.
async fn go(client: &reqwest::Client, mut request: reqwest::RequestBuilder) -> Step {
    loop {
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => panic!("request: {e}"),
        };
        let url = response.url().to_string();
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let next = match response.url().join(&location) {
                Ok(u) => u.to_string(),
                Err(e) => panic!("location {location}: {e}"),
            };
            if next.starts_with(REDIRECT) {
                return Step::Done;
            }
            request = client.get(next);
            continue;
        }
        let body = response.text().await.unwrap_or_default();
        if body.contains("data-autosubmit") {
            let action = form_action(&url, &body);
            if action.starts_with(REDIRECT) {
                return Step::Done;
            }
            request = client.post(action).form(&inputs(&body));
            continue;
        }
        return Step::Page { url, body };
    }
}

fn page(step: Step) -> (String, String) {
    match step {
        Step::Page { url, body } => (url, body),
        Step::Done => panic!("expected a page"),
    }
}

fn csrf(body: &str) -> String {
    inputs(body)
        .into_iter()
        .find(|(n, _)| n == "csrf")
        .map(|(_, v)| v)
        .unwrap_or_default()
}

fn authorize(base: &str) -> String {
    format!(
        "{base}/contoso/B2C_1_susi/oauth2/v2.0/authorize?client_id={CLIENT}&redirect_uri={}&response_type=code&scope=openid&prompt=login",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    )
}

fn browser() -> reqwest::Client {
    match reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => panic!("client: {e}"),
    }
}

async fn local_sign_in(client: &reqwest::Client, base: &str, email: &str) {
    let (url, body) = page(go(client, client.get(authorize(base))).await);
    let form = [
        ("csrf", csrf(&body)),
        ("signInName", email.to_owned()),
        ("password", PASSWORD.to_owned()),
        ("action", "continue".to_owned()),
    ];
    match go(client, client.post(form_action(&url, &body)).form(&form)).await {
        Step::Done => {}
        Step::Page { url, .. } => panic!("local sign-in stopped at {url}"),
    }
}

async fn federated_sign_in(client: &reqwest::Client, base: &str) -> Step {
    let (url, body) = page(go(client, client.get(authorize(base))).await);
    let form = [
        ("csrf", csrf(&body)),
        ("select", "fabrikamExchange".to_owned()),
    ];
    go(client, client.post(form_action(&url, &body)).form(&form)).await
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn sample<F, Fut>(mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..WARM_UP {
        f().await;
    }
    let mut v = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        f().await;
        v.push(t.elapsed());
    }
    v.sort();
    v
}

async fn run() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let (pl, pbase) = bind();
    let (cl, cbase) = bind();
    let (c2l, c2base) = bind();
    let pdir = dir.path().join("fabrikam");
    let cdir = dir.path().join("contoso");
    let c2dir = dir.path().join("contoso-cheap");
    for d in [&pdir, &cdir, &c2dir] {
        if let Err(e) = std::fs::create_dir_all(d) {
            panic!("{e}");
        }
    }
    start(provider_text(&pbase, &cbase, &c2base), pl, &pdir).await;
    start(consumer_text(&cbase, &pbase, ""), cl, &cdir).await;
    let cheap = "[passwords]\nargon2_memory_kib = 256\nargon2_iterations = 1";
    start(consumer_text(&c2base, &pbase, cheap), c2l, &c2dir).await;

    let local = browser();
    local_sign_up(&local, &cbase).await;
    let cheap = browser();
    local_sign_up(&cheap, &c2base).await;

    // A federated account: sign up at fabrikam, then contoso's attribute page.
    let fed = browser();
    let (url, body) = page(federated_sign_in(&fed, &cbase).await);
    let link = body
        .find("id=\"createAccount\" href=\"")
        .map(|at| {
            let s = at + "id=\"createAccount\" href=\"".len();
            unescape(&body[s..s + body[s..].find('"').unwrap_or(0)])
        })
        .unwrap_or_default();
    let target = url::Url::parse(&url)
        .and_then(|u| u.join(&link))
        .map(|u| u.to_string())
        .unwrap_or_default();
    let (url, body) = page(go(&fed, fed.get(target)).await);
    let mut form = sign_up_form("federated@bench.example");
    form.push(("csrf", csrf(&body)));
    let (url, body) = page(go(&fed, fed.post(form_action(&url, &body)).form(&form)).await);
    let mut fields = inputs(&body);
    fields.push(("action".into(), "continue".into()));
    if !matches!(
        go(&fed, fed.post(form_action(&url, &body)).form(&fields)).await,
        Step::Done
    ) {
        panic!("federated sign-up failed");
    }
    measure(&local, &cheap, &fed, &cbase, &c2base).await;
}

fn sign_up_form(email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("email", email.to_owned()),
        ("newPassword", PASSWORD.to_owned()),
        ("reenterPassword", PASSWORD.to_owned()),
        ("givenName", "Bench".to_owned()),
        ("surname", "User".to_owned()),
        ("displayName", "Bench User".to_owned()),
        ("action", "continue".to_owned()),
    ]
}

/// A local account `local@bench.example` at the contoso on `base`.
async fn local_sign_up(local: &reqwest::Client, base: &str) {
    let (url, body) = page(go(local, local.get(authorize(base))).await);
    let link = body
        .find("id=\"createAccount\" href=\"")
        .map(|at| {
            let s = at + "id=\"createAccount\" href=\"".len();
            unescape(&body[s..s + body[s..].find('"').unwrap_or(0)])
        })
        .unwrap_or_default();
    let target = url::Url::parse(&url)
        .and_then(|u| u.join(&link))
        .map(|u| u.to_string())
        .unwrap_or_default();
    let (url, body) = page(go(local, local.get(target)).await);
    let mut form = sign_up_form("local@bench.example");
    form.push(("csrf", csrf(&body)));
    if !matches!(
        go(local, local.post(form_action(&url, &body)).form(&form)).await,
        Step::Done
    ) {
        panic!("local sign-up failed");
    }
}

async fn measure(
    local: &reqwest::Client,
    cheap: &reqwest::Client,
    fed: &reqwest::Client,
    cbase: &str,
    c2base: &str,
) {
    let local_times = sample(|| local_sign_in(local, cbase, "local@bench.example")).await;
    let cheap_times = sample(|| local_sign_in(cheap, c2base, "local@bench.example")).await;
    let fed_times = sample(|| async {
        if !matches!(federated_sign_in(fed, cbase).await, Step::Done) {
            panic!("federated sign-in stopped on a page");
        }
    })
    .await;

    let (l50, f50) = (percentile(&local_times, 0.5), percentile(&fed_times, 0.5));
    let c50 = percentile(&cheap_times, 0.5);
    let (l95, f95) = (percentile(&local_times, 0.95), percentile(&fed_times, 0.95));
    println!("{SAMPLES} sign-ins each, one at a time, after {WARM_UP} warm-up");
    println!(
        "local sign-in (page + password, argon2id defaults): p50 {:.2} ms, p95 {:.2} ms",
        ms(l50),
        ms(l95)
    );
    println!(
        "federated sign-in (page + provider round trip, provider SSO): p50 {:.2} ms, p95 {:.2} ms",
        ms(f50),
        ms(f95)
    );
    println!(
        "local sign-in, password check made cheap (argon2id 256 KiB, 1 pass): p50 {:.2} ms, p95 {:.2} ms",
        ms(c50),
        ms(percentile(&cheap_times, 0.95))
    );
    println!(
        "federated minus local at p50: {:+.2} ms (default argon2id), {:+.2} ms (cheap password check: the federation's own cost)",
        ms(f50) - ms(l50),
        ms(f50) - ms(c50)
    );
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("runtime: {e}"),
    };
    runtime.block_on(run());
}
