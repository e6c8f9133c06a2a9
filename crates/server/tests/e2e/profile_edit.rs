//! Profile edit (`add-profile-editing-policy.md`): a signed-in user (SSO session, else the
//! sign-in page first) edits the flow's attributes, prefilled; they are saved by object id and
//! the new token carries them.

use crate::helpers::*;

const EDIT: &str = r#"
[[user_flows]]
id = "B2C_1_edit"
type = "profile_edit"
profile_attributes = ["givenName", "surname"]
application_claims = ["email", "givenName", "surname", "objectId"]
"#;

#[tokio::test]
async fn a_signed_in_user_edits_the_profile_and_the_token_shows_it() {
    let app = spawn_app(EDIT).await;
    let browser = Browser::new(&app);
    let email = unique_email("edie");
    let susi = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let first = sign_up(&browser, &susi, &email, "edie").await;
    let (_, tokens) = redeem(&app, first.get("code").unwrap_or_default(), None).await;
    let oid = claims(tokens["id_token"].as_str().unwrap_or_default())["oid"].clone();

    // SSO: no sign-in page, the attributes prefilled.
    let edit = authorize_url(&app, "B2C_1_edit", WEB_CLIENT, &[("state", "s-e")]);
    let page = browser.get(&edit).await.page();
    assert!(page.body.contains("Update your profile"), "{}", page.body);
    assert_eq!(page.input_value("givenName").as_deref(), Some("edie"));
    assert_eq!(page.input_value("surname").as_deref(), Some("Smith"));
    assert!(!page.has_input("password"));

    let page = browser
        .submit(
            &page,
            &[
                ("givenName", ""),
                ("surname", "Jones"),
                ("action", "continue"),
            ],
        )
        .await
        .page();
    assert!(page.body.contains("This information is required."));

    let callback = browser
        .submit(
            &page,
            &[
                ("givenName", "Edith"),
                ("surname", "Jones"),
                ("action", "continue"),
            ],
        )
        .await
        .callback();
    assert_eq!(callback.get("state"), Some("s-e"));
    let (status, tokens) = redeem_for(
        &app,
        "B2C_1_edit",
        callback.get("code").unwrap_or_default(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["tfp"], "B2C_1_edit");
    assert_eq!(id["oid"], oid);
    assert_eq!(id["given_name"], "Edith");
    assert_eq!(id["family_name"], "Jones");
    assert_eq!(id["emails"], serde_json::json!([email]));

    // Saved in the directory: a later sign-in elsewhere sees the new values.
    let callback = sign_in(&Browser::new(&app), &susi, &email, PASSWORD)
        .await
        .callback();
    let (_, tokens) = redeem(&app, callback.get("code").unwrap_or_default(), None).await;
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["given_name"], "Edith");
    assert_eq!(id["family_name"], "Jones");
}

#[tokio::test]
async fn without_a_session_the_sign_in_page_comes_first() {
    let app = spawn_app(EDIT).await;
    let email = unique_email("sam");
    let susi = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    sign_up(&Browser::new(&app), &susi, &email, "sam").await;

    let browser = Browser::new(&app);
    let edit = authorize_url(&app, "B2C_1_edit", WEB_CLIENT, &[]);
    let page = browser.get(&edit).await.page();
    assert!(page.has_input("signInName") && page.has_input("password"));
    assert!(
        page.href_of("createAccount").is_none(),
        "no sign-up in profile edit"
    );
    let page = sign_in(&browser, &edit, &email, PASSWORD).await.page();
    assert_eq!(page.input_value("givenName").as_deref(), Some("sam"));
    let callback = browser
        .submit(
            &page,
            &[
                ("givenName", "Samuel"),
                ("surname", "Smith"),
                ("action", "continue"),
            ],
        )
        .await
        .callback();
    let (_, tokens) = redeem_for(
        &app,
        "B2C_1_edit",
        callback.get("code").unwrap_or_default(),
        None,
    )
    .await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap_or_default())["given_name"],
        "Samuel"
    );
}
