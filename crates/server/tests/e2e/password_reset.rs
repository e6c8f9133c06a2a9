//! Password reset (`add-password-reset-policy.md`): B2C's self-service mode inside the sign-in
//! flow, and the older mode that returns `AADB2C90118` to the app, which then runs its
//! `password_reset` flow.
//! Either way the address is proved by code, the new password follows the strength rule, the
//! old one stops working, and every SSO session and refresh token of the account ends.

use crate::email::spawn_smtp_app;
use crate::helpers::*;
use crate::smtp::SmtpServer;
use crate::verification::*;

const NEW_PASSWORD: &str = "N3w-Passw0rd!";

const FLOWS: &str = r#"
[[user_flows]]
id = "B2C_1_reset"
type = "password_reset"
application_claims = ["email", "objectId"]
[[user_flows]]
id = "B2C_1_legacy"
type = "sign_up_or_sign_in"
password_reset = "error"
sign_up_attributes = ["givenName", "surname", "displayName"]
"#;

/// The discovery page (verify the address) → the new-password page → the app.
async fn reset(browser: &Browser, discovery: Html, email: &str, smtp: &SmtpServer) -> Callback {
    assert_eq!(control_state(&discovery), "initial", "{}", discovery.body);
    assert!(discovery.body.contains("Reset your password"));
    let verified = verify_email(browser, &discovery, email, Codes::Smtp(smtp)).await;
    let page = browser
        .submit(&verified, &[("email", email), ("action", "continue")])
        .await
        .page();
    assert!(page.has_input("newPassword"), "{}", page.body);
    let weak = browser
        .submit(
            &page,
            &[
                ("newPassword", "password"),
                ("reenterPassword", "password"),
                ("action", "continue"),
            ],
        )
        .await
        .page();
    assert!(
        weak.body.contains("at least 3 of the following"),
        "the default strength rule: {}",
        weak.body
    );
    // Strong by the rule, but on every list: the bundled blocklist refuses it.
    let common = browser
        .submit(
            &weak,
            &[
                ("newPassword", "Welcome1!"),
                ("reenterPassword", "Welcome1!"),
                ("action", "continue"),
            ],
        )
        .await
        .page();
    assert_eq!(
        common.alert().as_deref(),
        Some("This password is too common and easy to guess. Please choose a different one.")
    );
    browser
        .submit(
            &common,
            &[
                ("newPassword", NEW_PASSWORD),
                ("reenterPassword", NEW_PASSWORD),
                ("action", "continue"),
            ],
        )
        .await
        .callback()
}

fn refresh_form(rt: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "refresh_token".to_owned()),
        ("client_id", WEB_CLIENT.to_owned()),
        ("client_secret", WEB_SECRET.to_owned()),
        ("refresh_token", rt.to_owned()),
    ]
}

/// The user signed up in `browser` (which keeps its SSO session); returns (oid, refresh token).
async fn signed_up(
    app: &TestApp,
    browser: &Browser,
    policy: &str,
    email: &str,
    smtp: &SmtpServer,
) -> (String, String) {
    let start = authorize_url(app, policy, WEB_CLIENT, &[]);
    let callback = sign_up_via(browser, &start, email, "Rita", Codes::Smtp(smtp))
        .await
        .callback();
    let (status, tokens) =
        redeem_for(app, policy, callback.get("code").unwrap_or_default(), None).await;
    assert_eq!(status, 200, "{tokens}");
    let oid = claims(tokens["id_token"].as_str().unwrap_or_default())["oid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (
        oid,
        tokens["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Old password refused, new one accepted, refresh token and SSO session ended.
async fn everything_old_is_gone(
    app: &TestApp,
    policy: &str,
    email: &str,
    refresh: &str,
    sso_browser: &Browser,
) {
    let start = authorize_url(app, policy, WEB_CLIENT, &[]);
    let page = sign_in(&Browser::new(app), &start, email, PASSWORD)
        .await
        .page();
    assert_eq!(
        page.alert().as_deref(),
        Some("Your email address or password is incorrect.")
    );
    let callback = sign_in(&Browser::new(app), &start, email, NEW_PASSWORD)
        .await
        .callback();
    assert!(callback.get("code").is_some());
    let (status, body) = token_request_for(app, policy, &refresh_form(refresh)).await;
    assert_eq!(
        status, 400,
        "the refresh token ended with the reset: {body}"
    );
    assert_eq!(body["error"], "invalid_grant");
    let page = sso_browser.get(&start).await.page();
    assert!(
        page.has_input("password"),
        "the SSO session ended with the reset: {}",
        page.url
    );
}

#[tokio::test]
async fn self_service_reset_inside_sign_in_ends_sessions_and_refresh_tokens() {
    let smtp = SmtpServer::start().await;
    let app = spawn_smtp_app(&smtp.url(), FLOWS).await;
    let email = unique_email("rita");
    let first = Browser::new(&app);
    let (oid, refresh) = signed_up(&app, &first, "B2C_1_susi", &email, &smtp).await;

    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[("state", "s-r")]);
    let sign_in_page = browser.get(&start).await.page();
    let link = sign_in_page
        .href_of("forgotPassword")
        .unwrap_or_else(|| panic!("no forgotPassword link: {}", sign_in_page.body));
    assert!(sign_in_page.body.contains("Forgot your password?"));
    let discovery = browser.get(&link).await.page();
    let callback = reset(&browser, discovery, &email, &smtp).await;
    assert_eq!(callback.get("state"), Some("s-r"));
    let (status, tokens) = redeem(&app, callback.get("code").unwrap_or_default(), None).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["oid"], oid, "the same account");
    assert_eq!(id["tfp"], "B2C_1_susi");

    everything_old_is_gone(&app, "B2C_1_susi", &email, &refresh, &first).await;

    // An address without an account: verified, then refused.
    let stranger = Browser::new(&app);
    let page = stranger.get(&start).await.page();
    let discovery = stranger
        .get(&page.href_of("forgotPassword").unwrap_or_default())
        .await
        .page();
    let nobody = unique_email("nobody");
    let verified = verify_email(&stranger, &discovery, &nobody, Codes::Smtp(&smtp)).await;
    let page = stranger
        .submit(&verified, &[("email", &nobody), ("action", "continue")])
        .await
        .page();
    assert_eq!(
        page.alert().as_deref(),
        Some("An account could not be found for the provided user ID.")
    );
}

#[tokio::test]
async fn older_mode_returns_aadb2c90118_then_the_reset_flow_resets() {
    let smtp = SmtpServer::start().await;
    let app = spawn_smtp_app(&smtp.url(), FLOWS).await;
    let email = unique_email("lee");
    let first = Browser::new(&app);
    let (oid, refresh) = signed_up(&app, &first, "B2C_1_legacy", &email, &smtp).await;

    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_legacy", WEB_CLIENT, &[("state", "s-l")]);
    let page = browser.get(&start).await.page();
    let link = page
        .href_of("forgotPassword")
        .unwrap_or_else(|| panic!("no forgotPassword link: {}", page.body));
    let back = browser.get(&link).await.callback();
    assert_eq!(back.get("error"), Some("access_denied"));
    assert!(
        back.get("error_description")
            .is_some_and(|d| d.starts_with("AADB2C90118")),
        "{back:?}"
    );
    assert_eq!(back.get("state"), Some("s-l"));

    // The app starts its password-reset flow.
    let reset_start = authorize_url(&app, "B2C_1_reset", WEB_CLIENT, &[]);
    let discovery = browser.get(&reset_start).await.page();
    let callback = reset(&browser, discovery, &email, &smtp).await;
    let (status, tokens) = redeem_for(
        &app,
        "B2C_1_reset",
        callback.get("code").unwrap_or_default(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["oid"], oid);
    assert_eq!(id["tfp"], "B2C_1_reset");
    assert_eq!(id["emails"], serde_json::json!([email]));

    everything_old_is_gone(&app, "B2C_1_legacy", &email, &refresh, &first).await;
}
