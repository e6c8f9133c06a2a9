//! Secrets at rest (issue 11, item 4): what a copy of the database or of the config folder
//! gives an attacker.

use crate::helpers::*;

/// Every value of one column of the test tenant's SQLite file, read as an attacker with a copy
/// of it would.
async fn column(app: &TestApp, sql: &str) -> Vec<Vec<u8>> {
    use sqlx::Connection as _;
    let url = format!("sqlite://{}", app.dir.path().join("tf.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    sqlx::query_scalar(sql)
        .fetch_all(&mut db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A browser whose cookie jar holds `value` as the tenant's SSO cookie.
fn with_sso_cookie(app: &TestApp, value: &str) -> Browser {
    let jar = reqwest::cookie::Jar::default();
    let url: url::Url = app.base.parse().unwrap_or_else(|e| panic!("{e}"));
    jar.add_cookie_str(&format!("tf_sso_contoso={value}; Path=/"), &url);
    let client = reqwest::Client::builder()
        .cookie_provider(std::sync::Arc::new(jar))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    Browser {
        client,
        base: app.base.clone(),
    }
}

#[tokio::test]
async fn a_copy_of_the_database_holds_no_live_sso_session() {
    let app = spawn_app("").await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let browser = Browser::new(&app);
    sign_up(&browser, &start, &unique_email("sso"), "sso").await;
    // The browser's own cookie signs in without a form.
    assert!(matches!(browser.get(&start).await, Step::Callback(_)));

    let stored = column(&app, "SELECT CAST(id AS BLOB) FROM sso_sessions").await;
    assert_eq!(stored.len(), 1);
    let stolen = String::from_utf8_lossy(&stored[0]).into_owned();
    match with_sso_cookie(&app, &stolen).get(&start).await {
        Step::Page(page) => assert!(page.has_input("password"), "{}", page.body),
        Step::Callback(c) => panic!("the stored session id signed in: {c:?}"),
    }
}

/// A TLS key (or any private key file) that group or others may read stops the start, with
/// one line naming the setting and the file.
#[cfg(unix)]
#[tokio::test]
async fn a_readable_private_key_file_is_refused_at_start() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()])
        .unwrap_or_else(|e| panic!("{e}"));
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    let text = config_text("https://127.0.0.1:1", "").replace(
        "development = true",
        &format!("development = true\ntls_cert = {cert:?}\ntls_key = {key:?}"),
    );
    let refused = start_refused(&text, dir.path()).await;
    assert!(
        refused.starts_with("server.tls_key: ") && refused.contains(&key.display().to_string()),
        "{refused}"
    );
    assert!(!refused.contains('\n'), "{refused}");
}

/// With a key encryption key configured, the signing key is stored sealed (AES-256-GCM) and the
/// server signs with it; the same database without that key does not start.
#[tokio::test]
async fn signing_keys_are_encrypted_at_rest_with_the_configured_key() {
    use base64::Engine as _;
    let keys = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let kek = keys.path().join("kek");
    write_private_file(
        &kek,
        base64::engine::general_purpose::STANDARD
            .encode(rand::random::<[u8; 32]>())
            .as_bytes(),
    );
    let with_kek = |text: String, _: &str| {
        text.replace(
            "url = \"sqlite://tf.db\"",
            &format!("url = \"sqlite://tf.db\"\nkey_encryption_key_file = {kek:?}"),
        )
    };
    let app = spawn_edited("", None, with_kek).await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let code = sign_up(&Browser::new(&app), &start, &unique_email("kek"), "kek").await;
    let (status, tokens) = redeem(&app, code.get("code").unwrap_or_default(), None).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{tokens}");

    let stored = column(&app, "SELECT private_key_der FROM signing_keys").await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with(b"TFKE1"), "the stored key is sealed");

    // The same database, without the key encryption key: refused, naming the key.
    let text = config_text("http://127.0.0.1:1", "").replace(
        "url = \"sqlite://tf.db\"",
        &format!(
            "url = \"sqlite://{}\"",
            app.dir.path().join("tf.db").display()
        ),
    );
    let refused = start_refused(&text, keys.path()).await;
    assert!(
        refused.contains("encrypted in the store and no key encryption key is configured"),
        "{refused}"
    );
}

fn write_private_file(path: &std::path::Path, bytes: &[u8]) {
    crate::connections::write_private(path, bytes);
}
