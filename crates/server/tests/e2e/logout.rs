//! Sign-out (issue 11): without a valid `id_token_hint` the user confirms before the SSO
//! session ends (OpenID Connect RP-Initiated Logout 1.0 §2); with one, B2C's behaviour.

use reqwest::StatusCode;

use crate::helpers::*;

/// Signs up in a new browser; returns it (with its SSO session) and the ID token.
async fn signed_in(app: &TestApp, start: &str) -> (Browser, String) {
    let browser = Browser::new(app);
    let callback = sign_up(&browser, start, &unique_email("leaving"), "lee").await;
    let (status, tokens) = redeem(app, callback.get("code").unwrap_or_default(), None).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap_or_default().to_owned();
    (browser, id_token)
}

async fn still_signed_in(browser: &Browser, start: &str, why: &str) {
    match browser.get(start).await {
        Step::Callback(c) => assert!(c.get("code").is_some(), "{why}"),
        Step::Page(p) => panic!("{why}: the session ended ({})", p.url),
    }
}

/// A bare link (as another site could plant in an image or a redirect) or a hint that is not
/// our ID token shows "Sign out of contoso?" and leaves the session alone; a forged POST
/// without the form's token is refused; Cancel keeps the session; Sign out ends it and goes
/// back to a URI registered for an app of the tenant.
#[tokio::test]
async fn logout_without_a_valid_hint_asks_before_ending_the_session() {
    let app = spawn_app("").await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let (browser, id_token) = signed_in(&app, &start).await;
    let logout = |query: &str| format!("{}/contoso/B2C_1_susi/oauth2/v2.0/logout{query}", app.base);

    // A hint whose signature is not ours (the last bytes changed) is no hint.
    let (head, sig) = id_token.rsplit_once('.').unwrap_or_default();
    let forged = format!("{head}.{}", sig.chars().rev().collect::<String>());
    for query in [
        String::new(),
        format!("?post_logout_redirect_uri={REDIRECT}&state=bye"),
        format!("?id_token_hint={forged}&client_id={WEB_CLIENT}"),
        "?id_token_hint=not.a.token".to_owned(),
    ] {
        let page = browser.get(&logout(&query)).await.page();
        assert_eq!(page.status, StatusCode::OK, "{query}");
        assert!(
            page.body.contains("<h1>Sign out of contoso?</h1>"),
            "{query}: {}",
            page.body
        );
        assert!(page.body.contains(r#"id="signOut""#) && page.body.contains(r#"id="cancel""#));
        still_signed_in(&browser, &start, &format!("GET logout{query}")).await;
    }

    let ask = format!("?post_logout_redirect_uri={REDIRECT}&state=bye");
    let page = browser.get(&logout(&ask)).await.page();
    // Another site can make the browser POST (cookies are sent on a top-level POST in some
    // browsers) but cannot know the form's token.
    for csrf in ["", "forged"] {
        let refused = browser
            .post_form(
                &logout(&ask),
                &[
                    ("csrf".to_owned(), csrf.to_owned()),
                    ("action".to_owned(), "sign_out".to_owned()),
                ],
            )
            .await
            .page();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(
            refused.body.contains("could not be verified"),
            "{}",
            refused.body
        );
    }
    still_signed_in(&browser, &start, "a forged confirmation").await;

    let kept = browser.submit(&page, &[("action", "cancel")]).await.page();
    assert_eq!(kept.alert().as_deref(), Some("You are still signed in."));
    still_signed_in(&browser, &start, "cancel").await;

    // Confirmed: signed out, back to the registered URI with the state.
    let page = browser.get(&logout(&ask)).await.page();
    let back = browser
        .submit(&page, &[("action", "sign_out")])
        .await
        .callback();
    assert_eq!(back.get("state"), Some("bye"));
    let form = browser.get(&start).await.page();
    assert!(
        form.has_input("password"),
        "signed out: the sign-in form again"
    );

    // A URI no app of the tenant registered is refused before anything is asked.
    let page = browser
        .get(&logout("?post_logout_redirect_uri=https://evil.example/"))
        .await
        .page();
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("not registered for any application"),
        "{}",
        page.body
    );
}

/// A valid hint of another user than the browser's session does not end it unasked.
#[tokio::test]
async fn logout_with_another_users_hint_asks() {
    let app = spawn_app("").await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let (browser, _) = signed_in(&app, &start).await;
    let (_, someone_elses) = signed_in(&app, &start).await;
    let url = format!(
        "{}/contoso/B2C_1_susi/oauth2/v2.0/logout?id_token_hint={someone_elses}&post_logout_redirect_uri={REDIRECT}",
        app.base
    );
    let page = browser.get(&url).await.page();
    assert!(
        page.body.contains("<h1>Sign out of contoso?</h1>"),
        "{}",
        page.body
    );
    still_signed_in(&browser, &start, "another user's hint").await;
    let back = browser
        .submit(&page, &[("action", "sign_out")])
        .await
        .callback();
    assert!(back.get("state").is_none());
    assert!(browser.get(&start).await.page().has_input("password"));
}

/// With a valid `id_token_hint` (expired or not, of this tenant), the session ends at once and
/// the browser goes back to the app, as in B2C.
#[tokio::test]
async fn logout_with_a_valid_hint_signs_out_at_once() {
    let app = spawn_app("").await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let (browser, id_token) = signed_in(&app, &start).await;
    let url = format!(
        "{}/contoso/B2C_1_susi/oauth2/v2.0/logout?id_token_hint={id_token}&post_logout_redirect_uri={REDIRECT}&state=bye",
        app.base
    );
    let back = browser.get(&url).await.callback();
    assert_eq!(back.get("state"), Some("bye"));
    let form = browser.get(&start).await.page();
    assert!(form.has_input("password"), "signed out at once");
}
