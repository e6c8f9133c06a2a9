//! The sample API of "Secure a Node.js web API"
//! (`enable-authentication-in-node-web-app-with-api.md`), in Rust.
//!
//! `GET /api/values` answers `["Value1","Value2"]` to callers with a valid access token of the
//! configured provider; no or an invalid token gets 401. With a policy configured (the docs'
//! optional authorization step), a valid token from another policy gets 403
//! `{"error":"insufficient permissions"}`; so does a token without a `--scope` it requires
//! (with `WWW-Authenticate: Bearer error="insufficient_scope", …, scope="…"`). ID tokens get 401
//! unless `--accept-id-tokens` (an API that is its client's own app, as the docs' Node.js API
//! with passport-azure-ad accepts them). CORS is open to any origin with the docs' headers,
//! and every request is logged on one line (method, path, status, time), never its token.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use clap::Parser;
//! let config = todo_api::Config::parse_from([
//!     "todo-api",
//!     "--metadata", "https://contoso.b2clogin.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration?p=B2C_1_susi",
//!     "--client-id", "0239a9cc-309c-4d41-87f1-31288feb2e82",
//! ]);
//! let guard = todo_api::guard(&config)?;
//! let app: axum::Router = todo_api::router(&guard);
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use http::Method;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, ORIGIN};
use tower_http::cors::{Any, CorsLayer};
use trustframe_guard::{Guard, GuardError};

/// Settings of the sample API, from flags or environment variables.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "todo-api",
    version,
    about = "The B2C docs' sample API, protected by trustframe-guard"
)]
pub struct Config {
    /// The OpenID metadata URL of the policy, e.g.
    /// https://{host}/{tenant}/{policy}/v2.0/.well-known/openid-configuration
    /// or https://{host}/{tenant}/v2.0/.well-known/openid-configuration?p={policy}
    #[arg(long, env = "TODO_API_METADATA", required_unless_present = "no_auth")]
    pub metadata: Option<String>,

    /// The API's client (application) id: the `aud` its tokens must carry.
    #[arg(long, env = "TODO_API_CLIENT_ID", required_unless_present = "no_auth")]
    pub client_id: Option<String>,

    /// Only accept tokens of this policy (`tfp`/`acr`); others get 403.
    #[arg(long, env = "TODO_API_POLICY")]
    pub policy: Option<String>,

    /// A scope every token must have in `scp` (e.g. `tasks.read`); repeat the flag (or separate
    /// with commas in the variable) to require several. Tokens without it get 403
    /// `insufficient_scope`.
    #[arg(long = "scope", env = "TODO_API_SCOPE", value_delimiter = ',')]
    pub scopes: Vec<String>,

    /// Also accept ID tokens whose `aud` is this API's client id, as the docs' Node.js API
    /// (passport-azure-ad) does when the API and its client are one app registration. Off by
    /// default: ID tokens get 401.
    #[arg(long, env = "TODO_API_ACCEPT_ID_TOKENS")]
    pub accept_id_tokens: bool,

    /// The address to listen on.
    #[arg(long, env = "TODO_API_LISTEN", default_value = "127.0.0.1:5000")]
    pub listen: SocketAddr,

    /// A PEM file of CA certificates to trust, besides the system's, when fetching the metadata
    /// and keys (a provider behind a private CA).
    #[arg(long, env = "TODO_API_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// How many verified tokens to remember (by SHA-256) so a client reusing its token is not
    /// re-verified on every request; `exp` and the policy are still checked each time. 0 turns
    /// it off.
    #[arg(long, env = "TODO_API_TOKEN_CACHE", default_value_t = 10_000)]
    pub token_cache: usize,

    /// BENCHMARK ONLY: serve without any token check, to measure the guard's cost.
    /// Never use it for anything else.
    #[arg(long, conflicts_with_all = ["metadata", "client_id", "policy", "scopes", "ca_file"])]
    pub no_auth: bool,
}

/// The guard this API uses: the configured provider, audience, policy and scopes, and the sample's
/// 403 body `{"error":"insufficient permissions"}`. Must run inside a Tokio runtime.
pub fn guard(config: &Config) -> Result<Guard, GuardError> {
    let (Some(metadata), Some(client_id)) = (&config.metadata, &config.client_id) else {
        return Err(GuardError::Config(
            "the metadata URL and the client id are required".into(),
        ));
    };
    let mut builder = Guard::builder(metadata.as_str())
        .audience(client_id.as_str())
        .forbidden_body(serde_json::json!({"error": "insufficient permissions"}))
        .token_cache(config.token_cache)
        .accept_id_tokens(config.accept_id_tokens);
    if let Some(policy) = &config.policy {
        builder = builder.policy(policy.as_str());
    }
    for scope in &config.scopes {
        builder = builder.scope(scope.as_str());
    }
    if let Some(ca_file) = &config.ca_file {
        builder = builder.ca_file(ca_file);
    }
    builder.build()
}

/// The API, `GET /api/values` behind `guard` (see [`guard`]).
pub fn router(guard: &Guard) -> Router {
    around(routes().route_layer(guard.layer()))
}

/// BENCHMARK ONLY: the same API without any token check, the baseline of `bench/load.sh`.
#[doc(hidden)]
pub fn unguarded_router() -> Router {
    around(routes())
}

fn routes() -> Router {
    Router::new().route("/api/values", get(values))
}

async fn values() -> Json<[&'static str; 2]> {
    Json(["Value1", "Value2"])
}

/// CORS, then the request log, around everything (preflights never need a token).
fn around(router: Router) -> Router {
    router.layer(cors()).layer(middleware::from_fn(log_request))
}

/// The docs' CORS: any origin, and the headers a browser client sends.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET])
        .allow_headers([
            AUTHORIZATION,
            ORIGIN,
            HeaderName::from_static("x-requested-with"),
            CONTENT_TYPE,
            ACCEPT,
        ])
}

/// One line per request, like morgan's `dev` format: `GET /api/values 200 0.412 ms`.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        "{method} {path} {} {:.3} ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn flags_configure_the_api() {
        let config = Config::try_parse_from([
            "todo-api",
            "--metadata",
            "https://login.example.com/t/B2C_1_susi/v2.0/.well-known/openid-configuration",
            "--client-id",
            "abc",
            "--policy",
            "B2C_1_susi",
            "--listen",
            "0.0.0.0:8080",
        ])
        .unwrap();
        assert_eq!(config.client_id.as_deref(), Some("abc"));
        assert_eq!(config.policy.as_deref(), Some("B2C_1_susi"));
        assert_eq!(config.listen, "0.0.0.0:8080".parse().unwrap());
        assert!(!config.no_auth);
    }

    #[test]
    fn metadata_and_client_id_are_required_unless_benchmarking() {
        let missing = Config::try_parse_from(["todo-api", "--client-id", "abc"]).unwrap_err();
        assert!(missing.to_string().contains("--metadata"), "{missing}");
        let baseline = Config::try_parse_from(["todo-api", "--no-auth"]).unwrap();
        assert!(baseline.no_auth);
        assert_eq!(baseline.listen, "127.0.0.1:5000".parse().unwrap());
        assert!(
            Config::try_parse_from(["todo-api", "--no-auth", "--policy", "p"]).is_err(),
            "--no-auth cannot be mixed with auth settings"
        );
    }

    /// Collects what the API logs.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    // Here rather than in tests/it: tracing caches per call site whether anyone listens, and
    // tests on other threads (without this subscriber) hitting the same call sites first make
    // a scoped subscriber miss events. No other test of this binary logs.
    #[tokio::test]
    async fn every_request_is_logged_on_one_line_without_its_token() {
        use trustframe_guard::test_issuer::{AUDIENCE, TestIssuer};

        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        // The test runtime has one thread: the server's tasks log through this subscriber.
        let _default = tracing::subscriber::set_default(subscriber);

        let issuer = TestIssuer::start().await.unwrap();
        let config = Config::try_parse_from([
            "todo-api",
            "--metadata",
            &issuer.metadata_url(),
            "--client-id",
            AUDIENCE,
            "--policy",
            "B2C_1_susi_with_MFA",
        ])
        .unwrap();
        let guard = guard(&config).unwrap();
        guard.ready().await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/values", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router(&guard)).await.unwrap() });

        let client = reqwest::Client::new();
        let token = issuer.token().sign();
        let refused = client.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(refused.status(), 403);
        assert_eq!(client.get(&url).send().await.unwrap().status(), 401);

        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(" /api/values "))
            .collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert!(lines[0].contains("GET /api/values 403 "), "{log}");
        assert!(lines[1].contains("GET /api/values 401 "), "{log}");
        // The reason of each refusal is logged, the token never.
        assert!(log.contains("reason=\"policy\""), "{log}");
        assert!(log.contains("reason=\"missing_token\""), "{log}");
        assert!(!log.contains(&token), "{log}");
        assert!(!log.contains(token.split('.').nth(2).unwrap()), "{log}");
    }

    #[tokio::test]
    async fn building_a_guard_without_settings_is_an_error() {
        let baseline = Config::try_parse_from(["todo-api", "--no-auth"]).unwrap();
        assert!(matches!(guard(&baseline), Err(GuardError::Config(_))));
    }
}
