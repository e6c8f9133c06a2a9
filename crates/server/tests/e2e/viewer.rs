//! The built-in token viewer and the implicit and form_post/fragment response modes: what the
//! demo's "Run user flow" does.

use crate::helpers::*;

const VIEWER_APP: &str = "44445555-eeee-6666-ffff-777788889999";

fn viewer_app() -> String {
    format!(
        "[[applications]]\nname = \"viewer\"\nclient_id = \"{VIEWER_APP}\"\nredirect_uris = [\"@BASE@/token-viewer\", \"{REDIRECT}\"]\nallow_implicit_id_token = true\n"
    )
}

#[tokio::test]
async fn implicit_id_token_by_form_post_is_shown_verified_in_the_token_viewer() {
    let app = spawn_app(&viewer_app()).await;
    let browser = Browser::new(&app);
    let viewer = format!("{}/token-viewer", app.base);
    let start = authorize_url(
        &app,
        "B2C_1_susi",
        VIEWER_APP,
        &[
            ("response_type", "id_token"),
            ("response_mode", "form_post"),
            ("nonce", "abc"),
            ("scope", "openid"),
        ],
    );
    let email = unique_email("viewer");
    // The browser stops at the self-posting form (response_mode=form_post) with its fields.
    let callback = sign_up(&browser, &start, &email, "v").await;
    let id_token = callback
        .get("id_token")
        .unwrap_or_else(|| panic!("no id_token posted: {callback:?}"))
        .to_owned();
    let shown = browser
        .post_form(&viewer, &[("id_token".into(), id_token)])
        .await
        .page();
    assert!(shown.body.contains("Signature verified"), "{}", shown.body);
    assert!(
        shown.body.contains(&email),
        "the claims table shows the email"
    );
    assert!(shown.body.contains("abc"), "and the nonce");

    // A forged token is shown as not verified.
    let forged = browser
        .post_form(
            &viewer,
            &[(
                "id_token".into(),
                "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.".into(),
            )],
        )
        .await
        .page();
    assert!(
        forged.body.contains("Signature not verified"),
        "{}",
        forged.body
    );
}

#[tokio::test]
async fn fragment_response_mode_carries_the_token_in_the_fragment() {
    let app = spawn_app(&viewer_app()).await;
    let browser = Browser::new(&app);
    let start = authorize_url(
        &app,
        "B2C_1_susi",
        VIEWER_APP,
        &[
            ("response_type", "id_token"),
            ("response_mode", "fragment"),
            ("nonce", "n"),
            ("scope", "openid"),
        ],
    );
    let callback = sign_up(&browser, &start, &unique_email("frag"), "f").await;
    assert!(
        callback
            .get("id_token")
            .is_some_and(|t| claims(t)["nonce"] == "n"),
        "{callback:?}"
    );
    assert!(callback.get("code").is_none());
}
