//! Client authentication at `/token` throttled per client id (issue 11, item 1): wrong secrets
//! are counted in the store; past the threshold even the right secret gets 429 with
//! `Retry-After` until the lockout ends, and nothing of the grant is spent meanwhile.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

async fn token_response(app: &TestApp, form: &[(&str, String)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/contoso/B2C_1_susi/oauth2/v2.0/token", app.base))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("token: {e}"))
}

#[tokio::test]
async fn wrong_client_secrets_lock_the_client_id_then_the_right_one_works_again() {
    let app = spawn_app(
        "[lockout]\nclient_threshold = 3\nclient_window_seconds = 60\nduration_seconds = 2\n\
         max_duration_seconds = 2\n",
    )
    .await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let callback = sign_up(&Browser::new(&app), &start, &unique_email("client"), "cli").await;
    let code = callback
        .get("code")
        .unwrap_or_else(|| panic!("no code: {callback:?}"))
        .to_owned();
    let form = |secret: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("client_id", WEB_CLIENT.to_owned()),
            ("client_secret", secret.to_owned()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
        ]
    };

    for guess in 0..3 {
        let (status, body) = token_request(&app, &form(&format!("guess-{guess}"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"], "invalid_client");
    }
    // Locked: the right secret is refused too, with a time to wait; over Basic as well.
    let r = token_response(&app, &form(WEB_SECRET)).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After: {:?}", r.headers()));
    assert!((1..=2).contains(&wait), "Retry-After: {wait}");
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(body["error"], "invalid_client", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Too many failed client authentications")),
        "{body}"
    );
    let basic = reqwest::Client::new()
        .post(format!("{}/contoso/B2C_1_susi/oauth2/v2.0/token", app.base))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("token: {e}"));
    assert_eq!(basic.status(), StatusCode::TOO_MANY_REQUESTS);

    // After the lockout the code, untouched meanwhile, is redeemed with the right secret.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = token_request(&app, &form(WEB_SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["id_token"].is_string(), "{body}");
}

/// Two nodes on one PostgreSQL database: wrong secrets sent to one node lock the client id on
/// the other too. Runs when `TRUSTFRAME_TEST_POSTGRES_URL` is set.
#[tokio::test]
async fn wrong_secrets_on_one_node_lock_the_client_on_another() {
    let Ok(pg) = std::env::var("TRUSTFRAME_TEST_POSTGRES_URL") else {
        eprintln!("client lockout on two nodes: skipped (TRUSTFRAME_TEST_POSTGRES_URL is not set)");
        return;
    };
    let (schema, url) = crate::multi_node::fresh_schema(&pg).await;
    let storage =
        |text: String| text.replace("url = \"sqlite://tf.db\"", &format!("url = {url:?}"));
    let config = "[lockout]\nclient_threshold = 3\nclient_window_seconds = 60\nduration_seconds = 60\n\
                  max_duration_seconds = 60\n";
    let a = spawn_edited(config, None, |text, _| storage(text)).await;
    let b = spawn_edited(config, None, |text, _| storage(text)).await;
    let form = |secret: &str| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("client_id", WEB_CLIENT.to_owned()),
            ("client_secret", secret.to_owned()),
            ("refresh_token", "not-a-token".to_owned()),
        ]
    };
    // Node B has seen the client unlocked (a right secret, a bad grant).
    let before = token_response(&b, &form(WEB_SECRET)).await.status();
    for guess in 0..3 {
        let (status, _) = token_request(&a, &form(&format!("guess-{guess}"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Within a second at most, node B refuses the right secret too.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = token_response(&b, &form(WEB_SECRET)).await.status();
    drop((a, b));
    crate::multi_node::drop_schema(&pg, &schema).await;
    assert_eq!(before, StatusCode::BAD_REQUEST);
    assert_eq!(after, StatusCode::TOO_MANY_REQUESTS);
}
