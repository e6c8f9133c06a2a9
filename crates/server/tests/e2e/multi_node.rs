//! Several nodes, one PostgreSQL database (ARCHITECTURE.md "Scale"): a journey started on one
//! node finishes on another, and codes, refresh tokens and keys are shared. Runs when
//! `TRUSTFRAME_TEST_POSTGRES_URL` is set (CI sets it).

use crate::helpers::*;

/// A fresh schema in the test database, dropped by the caller.
pub(crate) async fn fresh_schema(base: &str) -> (String, String) {
    use sqlx::Connection;
    let schema = format!("tf_e2e_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(base)
        .await
        .unwrap_or_else(|e| panic!("postgres: {e}"));
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let separator = if base.contains('?') { '&' } else { '?' };
    (
        schema.clone(),
        format!("{base}{separator}options[search_path]={schema}"),
    )
}

pub(crate) async fn drop_schema(base: &str, schema: &str) {
    use sqlx::Connection;
    if let Ok(mut admin) = sqlx::PgConnection::connect(base).await {
        let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin)
            .await;
    }
}

#[tokio::test]
async fn a_journey_started_on_one_node_finishes_on_another() {
    let Ok(pg) = std::env::var("TRUSTFRAME_TEST_POSTGRES_URL") else {
        eprintln!("multi_node: skipped (TRUSTFRAME_TEST_POSTGRES_URL is not set)");
        return;
    };
    let (schema, url) = fresh_schema(&pg).await;
    let storage =
        |text: String| text.replace("url = \"sqlite://tf.db\"", &format!("url = {url:?}"));
    // Both nodes serve one public URL (as behind a load balancer): node A's.
    let a = spawn_edited("", None, |text, _| storage(text)).await;
    let public = a.base.clone();
    let b = spawn_edited("", None, |text, base| {
        storage(text).replace(
            &format!("public_url = \"{base}\""),
            &format!("public_url = \"{public}\""),
        )
    })
    .await;

    let email = unique_email("nodes");
    sign_up(
        &Browser::new(&a),
        &authorize_url(&a, "B2C_1_susi", WEB_CLIENT, &[]),
        &email,
        "n",
    )
    .await;

    // The sign-in page comes from node A; the form is posted to node B (cookies are per host).
    let browser = Browser::new(&a);
    let page = browser
        .get(&authorize_url(
            &a,
            "B2C_1_susi",
            WEB_CLIENT,
            &[("state", "x")],
        ))
        .await
        .page();
    let on_b = Browser {
        client: browser.client.clone(),
        base: b.base.clone(),
    };
    let callback = on_b
        .submit(&page, &[("signInName", &email), ("password", PASSWORD)])
        .await
        .callback();
    assert_eq!(callback.get("state"), Some("x"));

    // Node A redeems the code node B issued; node B refreshes what node A issued.
    let (status, tokens) = redeem(&a, callback.get("code").unwrap_or_default(), None).await;
    assert_eq!(status, 200, "{tokens}");
    let (status, renewed) = token_request(
        &b,
        &[
            ("grant_type", "refresh_token".to_owned()),
            ("client_id", WEB_CLIENT.to_owned()),
            ("client_secret", WEB_SECRET.to_owned()),
            (
                "refresh_token",
                tokens["refresh_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ),
        ],
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    // One key set: both nodes publish the kid that signed the token.
    let kid = {
        let header = tokens["id_token"]
            .as_str()
            .unwrap_or_default()
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let bytes =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
                .unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default()["kid"].clone()
    };
    for node in [&a, &b] {
        let jwks: serde_json::Value = reqwest::get(format!(
            "{}/contoso/B2C_1_susi/discovery/v2.0/keys",
            node.base
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
        assert!(
            jwks["keys"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k["kid"] == kid)),
            "{jwks}"
        );
    }
    // The same SSO session on both nodes: node B signs the browser in without a form.
    match on_b
        .get(&authorize_url(&b, "B2C_1_susi", WEB_CLIENT, &[]))
        .await
    {
        Step::Callback(c) => assert!(c.get("code").is_some()),
        Step::Page(p) => panic!("node B should honour node A's session: {}", p.url),
    }
    drop(a);
    drop(b);
    drop_schema(&pg, &schema).await;
}
