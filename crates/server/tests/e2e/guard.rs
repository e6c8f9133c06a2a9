//! The docs' todo API, protected by trustframe-guard, against a running Trustframe: the
//! token a sign-in gives opens it; no token, or a token of another policy, does not.

use crate::helpers::*;

async fn start_todo_api(app: &TestApp, policy: Option<&str>) -> String {
    let config = todo_api::Config {
        metadata: Some(format!(
            "{}/contoso/B2C_1_susi/v2.0/.well-known/openid-configuration",
            app.base
        )),
        client_id: Some(API_CLIENT.into()),
        policy: policy.map(str::to_owned),
        scopes: Vec::new(),
        accept_id_tokens: false,
        listen: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        ca_file: None,
        token_cache: 100,
        no_auth: false,
    };
    let guard = todo_api::guard(&config).unwrap_or_else(|e| panic!("guard: {e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let router = todo_api::router(&guard);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

async fn access_token(app: &TestApp, policy: &str) -> String {
    let browser = Browser::new(app);
    let scope = "openid https://contoso.onmicrosoft.com/todo-api/tasks.read";
    let callback = sign_up(
        &browser,
        &authorize_url(app, policy, WEB_CLIENT, &[("scope", scope)]),
        &unique_email("todo"),
        "t",
    )
    .await;
    let (status, tokens) =
        redeem_for(app, policy, callback.get("code").unwrap_or_default(), None).await;
    assert_eq!(status, 200, "{tokens}");
    tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {tokens}"))
        .to_owned()
}

#[tokio::test]
async fn todo_api_accepts_our_access_token_and_refuses_others() {
    let app = spawn_app("[[user_flows]]\nid = \"B2C_1_other\"\ntype = \"sign_up_or_sign_in\"\nemail_verification = false\nsign_up_attributes = [\"givenName\", \"surname\", \"displayName\"]").await;
    let api = start_todo_api(&app, Some("B2C_1_susi")).await;
    let http = reqwest::Client::new();

    let token = access_token(&app, "B2C_1_susi").await;
    let r = http
        .get(format!("{api}/api/values"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap_or_default(),
        serde_json::json!(["Value1", "Value2"])
    );

    let r = http
        .get(format!("{api}/api/values"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("Bearer"))
    );

    let other = access_token(&app, "B2C_1_other").await;
    let r = http
        .get(format!("{api}/api/values"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap_or_default(),
        serde_json::json!({"error": "insufficient permissions"})
    );
}
