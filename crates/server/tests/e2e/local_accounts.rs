//! Sign-up, sign-in, SSO, prompt=login, refresh and logout with local accounts, and the
//! refusals a user or an app would notice.

use crate::helpers::*;

#[tokio::test]
async fn sign_up_then_tokens_carry_b2c_claims() {
    let app = spawn_app("").await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let email = unique_email("Alice");
    let start = authorize_url(
        &app,
        "B2C_1_susi",
        WEB_CLIENT,
        &[
            ("nonce", "n-1"),
            ("state", "s-1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let callback = sign_up(&browser, &start, &email, "alice").await;
    assert_eq!(callback.get("state"), Some("s-1"));
    let code = callback
        .get("code")
        .unwrap_or_else(|| panic!("no code: {callback:?}"));
    let (status, tokens) = redeem(&app, code, Some(&verifier)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(
        tokens["refresh_token"].is_string(),
        "offline_access gives a refresh token: {tokens}"
    );
    assert!(
        tokens["access_token"].is_null(),
        "no API scope, no access token: {tokens}"
    );
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["iss"], format!("{}/{TENANT_ID}/v2.0/", app.base));
    assert_eq!(id["aud"], WEB_CLIENT);
    assert_eq!(id["tfp"], "B2C_1_susi");
    assert_eq!(id["ver"], "1.0");
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["emails"], serde_json::json!([email]));
    assert_eq!(id["given_name"], "alice");
    assert_eq!(id["family_name"], "Smith");
    assert_eq!(id["name"], "alice Smith");
    assert_eq!(id["newUser"], true);
    assert_eq!(id["sub"], id["oid"]);
    assert!(
        id["idp"].is_null(),
        "local accounts have no idp claim: {id}"
    );
    for claim in ["exp", "nbf", "iat", "auth_time"] {
        assert!(id[claim].is_i64(), "{claim} missing: {id}");
    }
}

#[tokio::test]
async fn sign_in_sso_prompt_login_refresh_and_logout() {
    let app = spawn_app("").await;
    let email = unique_email("bob");
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let first = sign_up(&browser, &start, &email, "bob").await;
    let sub = claims(
        redeem(&app, first.get("code").unwrap_or_default(), None)
            .await
            .1["id_token"]
            .as_str()
            .unwrap_or_default(),
    )["sub"]
        .clone();

    // A new browser signs in with the password; the sign-in name matches without regard to case.
    let other = Browser::new(&app);
    let callback = sign_in(&other, &start, &email.to_uppercase(), PASSWORD)
        .await
        .callback();
    let (status, tokens) = redeem(&app, callback.get("code").unwrap_or_default(), None).await;
    assert_eq!(status, 200);
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["sub"], sub);
    assert!(id["newUser"].is_null(), "newUser only at sign-up: {id}");

    // Same browser again: SSO, no form.
    match other.get(&start).await {
        Step::Callback(c) => assert!(c.get("code").is_some()),
        Step::Page(p) => panic!("SSO should skip the sign-in page: {}", p.url),
    }
    // prompt=login shows the form again.
    let forced = authorize_url(
        &app,
        "B2C_1_susi",
        WEB_CLIENT,
        &[("prompt", "login"), ("login_hint", "hint@example.com")],
    );
    let page = other.get(&forced).await.page();
    assert!(page.has_input("signInName") && page.has_input("password"));
    assert_eq!(
        page.input_value("signInName").as_deref(),
        Some("hint@example.com"),
        "login_hint prefills the sign-in name"
    );

    // Refresh: rotating, with the initial claims.
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let form = |rt: &str| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("client_id", WEB_CLIENT.to_owned()),
            ("client_secret", WEB_SECRET.to_owned()),
            ("refresh_token", rt.to_owned()),
        ]
    };
    let (status, renewed) = token_request(&app, &form(&refresh)).await;
    assert_eq!(status, 200, "{renewed}");
    assert_ne!(
        renewed["refresh_token"], tokens["refresh_token"],
        "refresh tokens rotate"
    );
    assert_eq!(
        claims(renewed["id_token"].as_str().unwrap_or_default())["emails"],
        serde_json::json!([email])
    );
    let (status, reused) = token_request(&app, &form(&refresh)).await;
    assert_eq!(status, 400, "an old refresh token is refused: {reused}");
    assert_eq!(reused["error"], "invalid_grant");

    // Logout with the app's ID token ends the session: the next authorize shows the form.
    let logout = format!(
        "{}/contoso/B2C_1_susi/oauth2/v2.0/logout?id_token_hint={}&client_id={WEB_CLIENT}&post_logout_redirect_uri={}&state=bye",
        app.base,
        tokens["id_token"].as_str().unwrap_or_default(),
        REDIRECT
    );
    let back = other.get(&logout).await.callback();
    assert_eq!(back.get("state"), Some("bye"));
    let page = other.get(&start).await.page();
    assert!(
        page.has_input("password"),
        "signed out: the sign-in form again"
    );
}

#[tokio::test]
async fn wrong_password_duplicate_email_weak_and_mismatched_passwords_are_shown_on_the_page() {
    let app = spawn_app("").await;
    let email = unique_email("carol");
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    sign_up(&browser, &start, &email, "carol").await;

    let fresh = Browser::new(&app);
    // One message for both (password_policy.rs has B2C's two).
    let page = sign_in(&fresh, &start, &email, "Wrong-password1")
        .await
        .page();
    let generic = Some("Your email address or password is incorrect.");
    assert_eq!(page.alert().as_deref(), generic);
    let page = sign_in(&fresh, &start, &unique_email("nobody"), PASSWORD)
        .await
        .page();
    assert_eq!(page.alert().as_deref(), generic);

    let page = fresh.get(&start).await.page();
    let form = fresh
        .get(&page.href_of("createAccount").unwrap_or_default())
        .await
        .page();
    // The address is verified first (`disable-email-verification.md`); only then does the
    // directory answer.
    let form = crate::verification::verify_email(
        &fresh,
        &form,
        &email.to_uppercase(),
        crate::verification::Codes::Mailbox,
    )
    .await;
    let page = fresh
        .submit(
            &form,
            &[
                ("email", &email.to_uppercase()),
                ("newPassword", PASSWORD),
                ("reenterPassword", PASSWORD),
                ("givenName", "c"),
                ("surname", "d"),
                ("displayName", "e"),
            ],
        )
        .await
        .page();
    assert_eq!(
        page.alert().as_deref(),
        Some("A user with the specified ID already exists. Please choose a different one.")
    );
    assert_eq!(
        page.input_value("givenName").as_deref(),
        Some("c"),
        "the page keeps what was typed"
    );
    assert_eq!(
        page.input_value("newPassword").unwrap_or_default(),
        "",
        "never a password"
    );

    let page = fresh
        .submit(
            &page,
            &[
                ("email", &unique_email("d")),
                ("newPassword", "password"),
                ("reenterPassword", "password"),
                ("givenName", "c"),
                ("surname", "d"),
                ("displayName", "e"),
            ],
        )
        .await
        .page();
    assert!(
        page.alert()
            .is_some_and(|a| a.contains("at least 3 of the following")),
        "weak password: {:?}",
        page.alert()
    );

    let page = fresh
        .submit(
            &page,
            &[
                ("email", &unique_email("d")),
                ("newPassword", PASSWORD),
                ("reenterPassword", "Passw0rd!y"),
                ("givenName", "c"),
                ("surname", "d"),
                ("displayName", "e"),
            ],
        )
        .await
        .page();
    assert!(
        page.alert().is_some_and(|a| a.contains("do not match")),
        "mismatch: {:?}",
        page.alert()
    );

    let page = fresh
        .submit(
            &page,
            &[
                ("email", "not-an-email"),
                ("newPassword", PASSWORD),
                ("reenterPassword", PASSWORD),
            ],
        )
        .await
        .page();
    assert!(page.body.contains("Please enter a valid email address."));
    assert!(page.body.contains("This information is required."));
}

#[tokio::test]
async fn cancel_returns_access_denied_with_aadb2c90091() {
    let app = spawn_app("").await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[("state", "st")]);
    let page = browser.get(&start).await.page();
    let form = browser
        .get(&page.href_of("createAccount").unwrap_or_default())
        .await
        .page();
    let callback = browser
        .submit(&form, &[("action", "cancel")])
        .await
        .callback();
    assert_eq!(callback.get("error"), Some("access_denied"));
    assert!(
        callback
            .get("error_description")
            .is_some_and(|d| d.starts_with("AADB2C90091"))
    );
    assert_eq!(callback.get("state"), Some("st"));
}

#[tokio::test]
async fn csrf_token_and_journey_cookie_are_required() {
    let app = spawn_app("").await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let page = browser.get(&start).await.page();
    let action = page.form_action().unwrap_or_default();
    let no_csrf = browser
        .post_form(
            &action,
            &[
                ("signInName".into(), "a@b.example".into()),
                ("password".into(), PASSWORD.into()),
            ],
        )
        .await
        .page();
    assert_eq!(no_csrf.status, 403);
    assert!(
        no_csrf
            .alert()
            .is_some_and(|a| a.contains("security token"))
    );

    // Another browser (no binding cookie) cannot continue this journey even with its token.
    let intruder = Browser::new(&app);
    let csrf = page.input_value("csrf").unwrap_or_default();
    let stolen = intruder
        .post_form(
            &action,
            &[("csrf".into(), csrf), ("signInName".into(), "x".into())],
        )
        .await
        .page();
    assert_eq!(stolen.status, 403);
}

#[tokio::test]
async fn sign_up_page_escapes_what_the_user_typed() {
    let app = spawn_app("").await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let page = browser.get(&start).await.page();
    let form = browser
        .get(&page.href_of("createAccount").unwrap_or_default())
        .await
        .page();
    let page = browser
        .submit(
            &form,
            &[("email", "bad"), ("givenName", "<script>alert(1)</script>")],
        )
        .await
        .page();
    assert!(!page.body.contains("<script>alert(1)</script>"));
    assert!(page.body.contains("&lt;script&gt;"));
}
