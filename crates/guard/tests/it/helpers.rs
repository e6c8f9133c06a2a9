//! The API under test and small helpers around it.

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use trustframe_guard::test_issuer::{AUDIENCE, TestIssuer};
use trustframe_guard::{Claims, Guard, GuardBuilder, TokenClaims};

/// A builder for a guard trusting `issuer`, for the test's audience.
pub fn guard_for(issuer: &TestIssuer) -> GuardBuilder {
    Guard::builder(issuer.metadata_url()).audience(AUDIENCE)
}

/// Builds the guard and waits until its keys are loaded.
pub async fn ready(builder: GuardBuilder) -> Guard {
    let guard = builder.build().expect("a valid guard configuration");
    guard.ready().await.expect("the issuer's keys load");
    guard
}

#[derive(serde::Deserialize)]
struct Caller {
    sub: String,
    name: String,
}

#[derive(serde::Deserialize)]
struct NeedsEmails {
    #[allow(dead_code)]
    emails: Vec<String>,
}

/// The routes of a small protected API, the way an application would write them.
pub fn app(guard: &Guard) -> Router {
    let protected = Router::new()
        .route(
            "/api/values",
            get(|| async { Json(json!(["Value1", "Value2"])) }),
        )
        .route(
            "/me",
            get(|Claims(claims): Claims| async move {
                Json(json!({"sub": claims.subject(), "policy": claims.policy()}))
            }),
        )
        .route(
            "/typed",
            get(|Claims(caller): Claims<Caller>| async move {
                format!("{} ({})", caller.name, caller.sub)
            }),
        )
        .route(
            "/emails",
            get(|Claims(_): Claims<NeedsEmails>| async { "has emails" }),
        )
        .route(
            "/tasks",
            post(|| async { (StatusCode::CREATED, "created") })
                .route_layer(guard.layer().scope("tasks.write")),
        )
        .route(
            "/admin",
            get(|| async { "admin area" }).route_layer(guard.layer().role("Admin")),
        )
        .route_layer(guard.layer());
    let anonymous_allowed = Router::new()
        .route(
            "/hello",
            get(|claims: Option<Claims<TokenClaims>>| async move {
                match claims {
                    Some(Claims(c)) => format!("hello {}", c.subject().unwrap_or("?")),
                    None => "hello stranger".to_owned(),
                }
            }),
        )
        .route_layer(guard.layer().allow_anonymous());
    // A handler asking for claims on a route nobody guards: it must refuse, not pass.
    let forgotten = Router::new().route(
        "/forgotten",
        get(|Claims(_): Claims| async { "should never be served" }),
    );
    protected.merge(anonymous_allowed).merge(forgotten)
}

/// The API served on 127.0.0.1:0.
pub struct Api {
    pub base: String,
    client: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn spawn_api(guard: &Guard) -> Api {
    spawn_router(app(guard)).await
}

pub async fn spawn_router(router: Router) -> Api {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Api {
        base,
        client: reqwest::Client::new(),
        task,
    }
}

/// What a caller sees.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub www_authenticate: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `error_description` of a JSON error body.
    pub fn description(&self) -> String {
        self.json()["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Api {
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(
            reqwest::Method::GET,
            path,
            token.map(|t| format!("Bearer {t}")),
        )
        .await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        authorization: Option<String>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        Reply {
            status: response.status().as_u16(),
            www_authenticate: response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: response.text().await.unwrap(),
        }
    }
}

/// Polls `check` until it returns `Some`, failing after `limit`. Waits for the background
/// refresher; never asserts on how long something took.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
