use clap::Parser;
use serde_json::{Value, json};
use todo_api::Config;
use trustframe_guard::test_issuer::{AUDIENCE, POLICY, TestIssuer};

/// Starts the API the way `main` does, for `issuer`, optionally requiring a policy.
async fn spawn(issuer: &TestIssuer, policy: Option<&str>) -> String {
    match policy {
        Some(policy) => spawn_with(issuer, &["--policy", policy]).await,
        None => spawn_with(issuer, &[]).await,
    }
}

/// As [`spawn`], with more flags.
async fn spawn_with(issuer: &TestIssuer, flags: &[&str]) -> String {
    let mut args = vec![
        "todo-api".to_owned(),
        "--metadata".into(),
        issuer.metadata_url_with_query(),
        "--client-id".into(),
        AUDIENCE.into(),
    ];
    args.extend(flags.iter().map(|f| (*f).to_owned()));
    let config = Config::try_parse_from(args).unwrap();
    let guard = todo_api::guard(&config).unwrap();
    guard.ready().await.unwrap();
    serve(todo_api::router(&guard)).await
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

async fn get(base: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(format!("{base}/api/values"))
        .header("origin", "https://app.example.com");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_valid_token_gets_the_values() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = spawn(&issuer, Some(POLICY)).await;
    let response = get(&base, Some(&issuer.token().sign())).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!(["Value1", "Value2"])
    );
}

#[tokio::test]
async fn a_token_of_another_policy_gets_insufficient_permissions() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = spawn(&issuer, Some("B2C_1_susi_with_MFA")).await;
    let response = get(&base, Some(&issuer.token().sign())).await;
    assert_eq!(response.status(), 403);
    assert!(
        header(&response, "www-authenticate")
            .is_some_and(|h| h.starts_with(r#"Bearer error="insufficient_scope""#))
    );
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"error": "insufficient permissions"})
    );
    let mfa = issuer.token().policy("B2C_1_susi_with_MFA").sign();
    assert_eq!(get(&base, Some(&mfa)).await.status(), 200);
}

/// `--scope tasks.read`: a token without it gets 403 with the scope in the challenge.
#[tokio::test]
async fn a_required_scope_gets_insufficient_scope_without_it() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = spawn_with(&issuer, &["--scope", "tasks.read"]).await;
    let response = get(&base, Some(&issuer.token().scopes("tasks.write").sign())).await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="the token lacks the scope tasks.read", scope="tasks.read""#
        )
    );
    let reader = issuer.token().scopes("tasks.read").sign();
    assert_eq!(get(&base, Some(&reader)).await.status(), 200);
}

/// ID tokens get 401 unless `--accept-id-tokens` (the API is its client's own app).
#[tokio::test]
async fn id_tokens_only_with_accept_id_tokens() {
    let issuer = TestIssuer::start().await.unwrap();
    let id_token = issuer.id_token().sign();
    let strict = spawn(&issuer, None).await;
    let response = get(&strict, Some(&id_token)).await;
    assert_eq!(response.status(), 401);
    assert!(
        header(&response, "www-authenticate")
            .is_some_and(|h| h.contains("an ID token is not an access token"))
    );
    let lenient = spawn_with(&issuer, &["--accept-id-tokens"]).await;
    assert_eq!(get(&lenient, Some(&id_token)).await.status(), 200);
}

#[tokio::test]
async fn without_a_policy_any_policy_of_the_tenant_is_accepted() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = spawn(&issuer, None).await;
    let other = issuer.token().policy("B2C_1_profile_edit").sign();
    assert_eq!(get(&base, Some(&other)).await.status(), 200);
}

#[tokio::test]
async fn no_token_or_an_invalid_one_gets_401() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = spawn(&issuer, Some(POLICY)).await;

    let response = get(&base, None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some("Bearer")
    );
    // Browsers may read the refusal: CORS headers are on errors too.
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("*")
    );

    // The docs' check: add "INVALID" to a valid token.
    let invalid = format!("{}INVALID", issuer.token().sign());
    let response = get(&base, Some(&invalid)).await;
    assert_eq!(response.status(), 401);
    assert!(
        header(&response, "www-authenticate")
            .is_some_and(|h| h.starts_with(r#"Bearer error="invalid_token""#))
    );
}

#[tokio::test]
async fn cors_preflight_allows_the_docs_headers_without_a_token() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = spawn(&issuer, Some(POLICY)).await;
    let response = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{base}/api/values"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization,x-requested-with",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let allowed = header(&response, "access-control-allow-headers").unwrap();
    let allowed: Vec<&str> = allowed.split(',').map(str::trim).collect();
    assert_eq!(
        allowed,
        [
            "authorization",
            "origin",
            "x-requested-with",
            "content-type",
            "accept"
        ]
    );
    assert!(
        header(&response, "access-control-allow-methods")
            .unwrap()
            .contains("GET")
    );
}

#[tokio::test]
async fn the_benchmark_baseline_serves_without_a_token() {
    let base = serve(todo_api::unguarded_router()).await;
    let response = get(&base, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!(["Value1", "Value2"])
    );
}
