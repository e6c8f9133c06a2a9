//! Passwords policy (issue 11): common passwords are refused at sign-up (and at reset, in
//! password_reset.rs) unless the blocklist is off; the sign-in page of a user flow says the
//! same for an unknown account and a wrong password unless B2C's distinct messages are asked.

use crate::helpers::*;
use crate::verification::{Codes, verify_email};

const COMMON: &str =
    "This password is too common and easy to guess. Please choose a different one.";

/// Opens the sign-up page, verifies `email`, and submits `password`.
async fn sign_up_with(browser: &Browser, start: &str, email: &str, password: &str) -> (Html, Step) {
    let page = browser.get(start).await.page();
    let form = browser
        .get(&page.href_of("createAccount").unwrap_or_default())
        .await
        .page();
    let form = verify_email(browser, &form, email, Codes::Mailbox).await;
    let step = submit_sign_up(browser, &form, email, password).await;
    (form, step)
}

async fn submit_sign_up(browser: &Browser, form: &Html, email: &str, password: &str) -> Step {
    browser
        .submit(
            form,
            &[
                ("email", email),
                ("newPassword", password),
                ("reenterPassword", password),
                ("givenName", "Pat"),
                ("surname", "Smith"),
                ("displayName", "Pat Smith"),
                ("action", "continue"),
            ],
        )
        .await
}

#[tokio::test]
async fn common_passwords_are_refused_at_sign_up() {
    let app = spawn_app("").await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let email = unique_email("common");
    let browser = Browser::new(&app);
    let (_, step) = sign_up_with(&browser, &start, &email, "Password1").await;
    let page = step.page();
    assert_eq!(page.alert().as_deref(), Some(COMMON));
    for common in ["Qwerty123", "Summer2024!", "P@ssw0rd1!", "Contoso2025!"] {
        let again = submit_sign_up(&browser, &page, &email, common).await.page();
        assert_eq!(again.alert().as_deref(), Some(COMMON), "{common}");
    }
    // No account was made: the address signs up with a better password.
    let done = submit_sign_up(&browser, &page, &email, PASSWORD).await;
    assert!(done.callback().get("code").is_some());
}

#[tokio::test]
async fn the_blocklist_can_be_turned_off() {
    let app = spawn_edited("", None, |text, _| {
        text.replace("[passwords]", "[passwords]\nblocklist = false")
    })
    .await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let email = unique_email("lenient");
    let browser = Browser::new(&app);
    let (_, step) = sign_up_with(&browser, &start, &email, "Password1").await;
    assert!(step.callback().get("code").is_some());
    let fresh = Browser::new(&app);
    assert!(
        sign_in(&fresh, &start, &email, "Password1")
            .await
            .callback()
            .get("code")
            .is_some()
    );
}

/// B2C's messages tell anyone which addresses have an account; ours do not, unless asked.
#[tokio::test]
async fn sign_in_errors_are_one_message_unless_distinct_errors() {
    for (extra, wrong, unknown) in [
        (
            "",
            "Your email address or password is incorrect.",
            "Your email address or password is incorrect.",
        ),
        (
            "[sign_in]\ndistinct_errors = true",
            "Your password is incorrect.",
            "We can't seem to find your account.",
        ),
    ] {
        let app = spawn_app(extra).await;
        let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
        let email = unique_email("known");
        sign_up(&Browser::new(&app), &start, &email, "kim").await;
        let browser = Browser::new(&app);
        let page = sign_in(&browser, &start, &email, "Wrong-Passw0rd!")
            .await
            .page();
        assert_eq!(page.alert().as_deref(), Some(wrong), "{extra}");
        let page = sign_in(&browser, &start, &unique_email("nobody"), PASSWORD)
            .await
            .page();
        assert_eq!(page.alert().as_deref(), Some(unknown), "{extra}");
    }
}
