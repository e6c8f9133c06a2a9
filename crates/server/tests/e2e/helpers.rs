//! A real Trustframe on 127.0.0.1:0 with a temp SQLite file, and a cookie-keeping client that
//! fills forms by input name and follows redirects the way a browser does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use trustframe_server::{Config, Server, ServerOptions};

pub const WEB_CLIENT: &str = "11112222-bbbb-3333-cccc-4444dddd5555";
pub const WEB_SECRET: &str = "web-app-secret-value-7f3c";
pub const SPA_CLIENT: &str = "22223333-cccc-4444-dddd-5555eeee6666";
pub const API_CLIENT: &str = "33334444-dddd-5555-eeee-6666ffff7777";
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const TENANT_ID: &str = "0d9e5c3e-1111-4222-8333-944455556666";
pub const PASSWORD: &str = "Passw0rd!x";

#[allow(dead_code)]
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub state: std::sync::Arc<trustframe_server::AppState>,
    task: tokio::task::JoinHandle<()>,
}

impl TestApp {
    /// A server started elsewhere (several tenants, a prepared listener).
    #[allow(dead_code)]
    pub fn from_parts(
        addr: SocketAddr,
        base: String,
        dir: tempfile::TempDir,
        state: std::sync::Arc<trustframe_server::AppState>,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            addr,
            base,
            dir,
            state,
            task,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The base config of the test tenant; `extra` is appended (more flows, connectors).
pub fn config_text(base: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
public_url = "{base}"
development = true
[storage]
url = "sqlite://tf.db"
[tenant]
name = "contoso"
id = "{TENANT_ID}"
extensions_app_id = "0123456789abcdef0123456789abcdef"
[passwords]
# Small argon2 parameters keep the suite fast; the benchmark uses OWASP's defaults.
argon2_memory_kib = 256
argon2_iterations = 1
[email]
# Verification codes land on /dev/mailbox, where `sign_up` reads them (email.rs uses SMTP).
transport = "mailbox"
[[applications]]
name = "webapp1"
client_id = "{WEB_CLIENT}"
client_secret = "{WEB_SECRET}"
redirect_uris = ["{REDIRECT}"]
allow_implicit_id_token = true
api_permissions = ["https://contoso.onmicrosoft.com/todo-api/tasks.read"]
[[applications]]
name = "spa"
client_id = "{SPA_CLIENT}"
redirect_uris = ["{REDIRECT}"]
[[applications]]
name = "todo-api"
client_id = "{API_CLIENT}"
app_id_uri = "https://contoso.onmicrosoft.com/todo-api"
scopes = ["tasks.read", "tasks.write"]
[[user_attributes]]
name = "loyaltyNumber"
[[user_flows]]
id = "B2C_1_susi"
type = "sign_up_or_sign_in"
sign_up_attributes = ["givenName", "surname", "displayName"]
application_claims = ["email", "givenName", "surname", "displayName", "objectId", "identityProvider", "newUser"]
{extra}
"#
    )
}

/// Starts Trustframe with the test tenant (plus `extra` config) over HTTP.
pub async fn spawn_app(extra: &str) -> TestApp {
    spawn_with(extra, None).await
}

pub async fn spawn_with(extra: &str, tls: Option<(&Path, &Path)>) -> TestApp {
    spawn_edited(extra, tls, |text, _| text).await
}

/// As [`spawn_with`], with a last edit of the config text (given the server's own URL).
pub async fn spawn_edited(
    extra: &str,
    tls: Option<(&Path, &Path)>,
    edit: impl FnOnce(String, &str) -> String,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://127.0.0.1:{}", addr.port());
    // `@BASE@` in the extra config is the server's own URL (known only once bound).
    let mut text = config_text(&base, &extra.replace("@BASE@", &base));
    if let Some((cert, key)) = tls {
        text = text.replace(
            "development = true",
            &format!(
                "development = true\ntls_cert = {:?}\ntls_key = {:?}",
                cert, key
            ),
        );
    }
    let text = edit(text, &base);
    let config = Config::parse(
        &text,
        &dir.path().join("trustframe.toml"),
        std::iter::empty(),
    )
    .unwrap_or_else(|e| panic!("test config: {e}"));
    let server = Server::build(ServerOptions {
        configs: vec![config],
        extra_routes: None,
        home_links: Vec::new(),
        listener: Some(listener),
    })
    .await
    .unwrap_or_else(|e| panic!("server: {e}"));
    let state = server.state();
    let task = tokio::spawn(async move {
        if let Err(e) = server.run().await {
            eprintln!("server stopped: {e}");
        }
    });
    TestApp {
        addr,
        base,
        dir,
        state,
        task,
    }
}

/// The one-line error with which a server built from config `text` (relative paths from
/// `dir`) refuses to start.
pub async fn start_refused(text: &str, dir: &Path) -> String {
    let config = Config::parse(text, &dir.join("trustframe.toml"), std::iter::empty())
        .unwrap_or_else(|e| panic!("test config: {e}"));
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    match Server::build(ServerOptions {
        configs: vec![config],
        extra_routes: None,
        home_links: Vec::new(),
        listener: Some(listener),
    })
    .await
    {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    }
}

/// PKCE S256: (verifier, challenge).
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// One page as the browser sees it.
#[derive(Debug)]
pub struct Html {
    pub status: StatusCode,
    pub url: String,
    pub body: String,
}

impl Html {
    /// The `value` of the first input named `name`.
    pub fn input_value(&self, name: &str) -> Option<String> {
        inputs(&self.body)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    pub fn has_input(&self, name: &str) -> bool {
        self.body.contains(&format!("name=\"{name}\""))
    }

    /// The text of the first element with `role="alert"`.
    pub fn alert(&self) -> Option<String> {
        let at = self.body.find("role=\"alert\"")?;
        let rest = &self.body[at..];
        let start = rest.find('>')? + 1;
        let end = rest[start..].find("</")?;
        Some(unescape(rest[start..start + end].trim()))
    }

    /// `href` of the element with this id.
    pub fn href_of(&self, id: &str) -> Option<String> {
        let at = self.body.find(&format!("id=\"{id}\""))?;
        let tag_start = self.body[..at].rfind('<')?;
        let tag = &self.body[tag_start..];
        let h = tag.find("href=\"")? + 6;
        let end = tag[h..].find('"')?;
        Some(unescape(&tag[h..h + end]))
    }

    /// The action of the first `<form method="post">`.
    pub fn form_action(&self) -> Option<String> {
        let at = self.body.find("<form method=\"post\" action=\"")?
            + "<form method=\"post\" action=\"".len();
        let end = self.body[at..].find('"')?;
        Some(unescape(&self.body[at..at + end]))
    }
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
}

/// (name, value) of every `<input>`.
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

/// Where the journey ended: the app's redirect URI with its parameters.
#[derive(Debug)]
pub struct Callback {
    pub params: BTreeMap<String, String>,
}

impl Callback {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

pub enum Step {
    Page(Html),
    Callback(Callback),
}

impl Step {
    pub fn page(self) -> Html {
        match self {
            Step::Page(p) => p,
            Step::Callback(c) => panic!("expected a page, the journey ended at the app: {c:?}"),
        }
    }

    pub fn callback(self) -> Callback {
        match self {
            Step::Callback(c) => c,
            Step::Page(p) => panic!(
                "expected the app's callback, got page {} ({}): {}",
                p.url,
                p.status,
                p.alert().unwrap_or_default()
            ),
        }
    }
}

pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self::with_client(app, reqwest::Client::builder())
    }

    pub fn with_client(app: &TestApp, builder: reqwest::ClientBuilder) -> Self {
        let client = builder
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        Self {
            client,
            base: app.base.clone(),
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        }
    }

    /// Follows redirects on our server; stops at the app's redirect URI.
    async fn follow(&self, mut response: reqwest::Response) -> Step {
        loop {
            let url = response.url().to_string();
            if response.status().is_redirection() {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_else(|| panic!("redirect without location"))
                    .to_owned();
                // Relative to the answering server: a journey may cross to another one (an
                // external identity provider).
                let next = response
                    .url()
                    .join(&location)
                    .map(|u| u.to_string())
                    .unwrap_or_else(|_| self.absolute(&location));
                if next.starts_with(REDIRECT) {
                    return Step::Callback(parse_callback(&next));
                }
                response = self
                    .client
                    .get(&next)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("GET {next}: {e}"));
                continue;
            }
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            // form_post: the page posts itself to the app.
            if body.contains("data-autosubmit") {
                let action = Html {
                    status,
                    url: url.clone(),
                    body: body.clone(),
                }
                .form_action()
                .unwrap_or_default();
                if action.starts_with(REDIRECT) {
                    return Step::Callback(Callback {
                        params: inputs(&body).into_iter().collect(),
                    });
                }
                // A form_post to another party (an identity provider's answer): post it.
                if !action.is_empty() {
                    response = self
                        .client
                        .post(&action)
                        .form(&inputs(&body))
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("POST {action}: {e}"));
                    continue;
                }
            }
            return Step::Page(Html { status, url, body });
        }
    }

    pub async fn get(&self, url: &str) -> Step {
        let url = self.absolute(url);
        let r = self
            .client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        self.follow(r).await
    }

    /// Submits the page's form with `fields` (plus its hidden inputs).
    pub async fn submit(&self, page: &Html, fields: &[(&str, &str)]) -> Step {
        let mut form: Vec<(String, String)> = inputs(&page.body)
            .into_iter()
            .filter(|(n, _)| n == "csrf")
            .collect();
        form.extend(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let action = page
            .form_action()
            .unwrap_or_else(|| panic!("no form on {}", page.url));
        // Relative to the page: it may be another server's (an identity provider's).
        let action = url::Url::parse(&page.url)
            .and_then(|u| u.join(&action))
            .map(|u| u.to_string())
            .unwrap_or(action);
        self.post_form(&action, &form).await
    }

    pub async fn post_form(&self, action: &str, form: &[(String, String)]) -> Step {
        let url = self.absolute(action);
        let r = self
            .client
            .post(&url)
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        self.follow(r).await
    }
}

fn parse_callback(url: &str) -> Callback {
    let (_, rest) = url.split_once(['?', '#']).unwrap_or((url, ""));
    Callback {
        params: url::form_urlencoded::parse(rest.as_bytes())
            .into_owned()
            .collect(),
    }
}

/// An authorize URL for the test apps.
pub fn authorize_url(
    app: &TestApp,
    policy: &str,
    client_id: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT);
    let has = |k: &str| extra.iter().any(|(n, _)| *n == k);
    if !has("response_type") {
        q.append_pair("response_type", "code");
    }
    if !has("scope") {
        q.append_pair("scope", "openid offline_access");
    }
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!(
        "{}/contoso/{policy}/oauth2/v2.0/authorize?{}",
        app.base,
        q.finish()
    )
}

/// Signs up on the combined page, verifying the address through the development mailbox;
/// returns the callback.
pub async fn sign_up(browser: &Browser, start: &str, email: &str, given: &str) -> Callback {
    crate::verification::sign_up_via(
        browser,
        start,
        email,
        given,
        crate::verification::Codes::Mailbox,
    )
    .await
    .callback()
}

pub async fn sign_in(browser: &Browser, start: &str, email: &str, password: &str) -> Step {
    let page = browser.get(start).await.page();
    browser
        .submit(
            &page,
            &[
                ("signInName", email),
                ("password", password),
                ("action", "continue"),
            ],
        )
        .await
}

/// Redeems a code at the token endpoint with the web app's secret.
pub async fn redeem(
    app: &TestApp,
    code: &str,
    verifier: Option<&str>,
) -> (StatusCode, serde_json::Value) {
    redeem_for(app, "B2C_1_susi", code, verifier).await
}

pub async fn redeem_for(
    app: &TestApp,
    policy: &str,
    code: &str,
    verifier: Option<&str>,
) -> (StatusCode, serde_json::Value) {
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("client_id", WEB_CLIENT.to_owned()),
        ("client_secret", WEB_SECRET.to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v.to_owned()));
    }
    token_request_for(app, policy, &form).await
}

pub async fn token_request(
    app: &TestApp,
    form: &[(&str, String)],
) -> (StatusCode, serde_json::Value) {
    token_request_for(app, "B2C_1_susi", form).await
}

pub async fn token_request_for(
    app: &TestApp,
    policy: &str,
    form: &[(&str, String)],
) -> (StatusCode, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/contoso/{policy}/oauth2/v2.0/token", app.base))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("token: {e}"));
    let status = r.status();
    (status, r.json().await.unwrap_or_default())
}

/// The claims of a JWT, unverified (tests that check signatures do so separately).
pub fn claims(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap_or_default()).unwrap_or_default()
}

pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}
