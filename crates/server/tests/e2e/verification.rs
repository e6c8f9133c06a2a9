//! Driving the e-mail verification control as a browser does: "Send verification code", read
//! the code from the mail (the test SMTP server, or the development mailbox page), "Verify
//! code". The buttons are form submits with `action = "{control}:{action}"`.

use crate::helpers::*;
use crate::smtp::SmtpServer;

pub const CONTROL: &str = "emailVerificationControl";
pub const SEND: &str = "emailVerificationControl:SendCode";
pub const VERIFY: &str = "emailVerificationControl:VerifyCode";
pub const CHANGE: &str = "emailVerificationControl:ChangeClaims";

/// Where the codes arrive.
#[derive(Clone, Copy)]
pub enum Codes<'a> {
    /// `/dev/mailbox` of the server (`email.transport = "mailbox"`, the base test config).
    Mailbox,
    Smtp(&'a SmtpServer),
}

impl Codes<'_> {
    fn sent_to(&self, email: &str) -> usize {
        match self {
            Codes::Mailbox => 0,
            Codes::Smtp(s) => s.mails_to(email).len(),
        }
    }

    /// The newest code sent to `email`; `before` is how many mails it had before the send.
    pub async fn code(&self, browser: &Browser, email: &str, before: usize) -> String {
        match self {
            Codes::Smtp(s) => s.wait_for(email, before + 1).await.code(),
            Codes::Mailbox => mailbox_code(browser, email).await,
        }
    }
}

/// The newest code for `email` on the development mailbox page.
pub async fn mailbox_code(browser: &Browser, email: &str) -> String {
    let page = browser.get("/dev/mailbox").await.page();
    assert_eq!(page.status, 200, "no mailbox: {}", page.body);
    let body = page.body.to_lowercase();
    let at = body
        .find(&format!("<td>{}</td>", email.to_lowercase()))
        .unwrap_or_else(|| panic!("no mail to {email} in the mailbox: {}", page.body));
    let rest = &body[at..];
    let start = rest
        .find("<code class=\"code\">")
        .unwrap_or_else(|| panic!("no code cell"))
        + "<code class=\"code\">".len();
    let end = rest[start..].find('<').unwrap_or(0);
    rest[start..start + end].to_owned()
}

/// Whether the page offers e-mail verification.
pub fn has_verification(page: &Html) -> bool {
    page.body.contains("emailVerificationControl_but_send_code")
}

/// The control's state on the page: `initial`, `code_sent` or `verified`.
pub fn control_state(page: &Html) -> String {
    let marker = format!("id=\"{CONTROL}\" data-state=\"");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no verification control on {}: {}", page.url, page.body));
    let rest = &page.body[at + marker.len()..];
    rest[..rest.find('"').unwrap_or(0)].to_owned()
}

pub async fn send_code(browser: &Browser, page: &Html, email: &str) -> Html {
    browser
        .submit(page, &[("email", email), ("action", SEND)])
        .await
        .page()
}

pub async fn enter_code(browser: &Browser, page: &Html, code: &str) -> Html {
    browser
        .submit(page, &[("verificationCode", code), ("action", VERIFY)])
        .await
        .page()
}

/// Sends a code to `email`, reads it and verifies it; returns the page, now verified.
pub async fn verify_email(browser: &Browser, page: &Html, email: &str, codes: Codes<'_>) -> Html {
    let before = codes.sent_to(email);
    let sent = send_code(browser, page, email).await;
    assert_eq!(control_state(&sent), "code_sent", "{:?}", sent.alert());
    assert!(sent.has_input("verificationCode"));
    let code = codes.code(browser, email, before).await;
    let verified = enter_code(browser, &sent, &code).await;
    assert_eq!(
        control_state(&verified),
        "verified",
        "{:?}",
        verified.alert()
    );
    verified
}

/// Signs up on the combined page, verifying the address when the page asks for it.
pub async fn sign_up_via(
    browser: &Browser,
    start: &str,
    email: &str,
    given: &str,
    codes: Codes<'_>,
) -> Step {
    let page = browser.get(start).await.page();
    let link = page
        .href_of("createAccount")
        .unwrap_or_else(|| panic!("no createAccount link: {}", page.body));
    let mut form = browser.get(&link).await.page();
    if has_verification(&form) {
        form = verify_email(browser, &form, email, codes).await;
    }
    browser
        .submit(
            &form,
            &[
                ("email", email),
                ("newPassword", PASSWORD),
                ("reenterPassword", PASSWORD),
                ("givenName", given),
                ("surname", "Smith"),
                ("displayName", &format!("{given} Smith")),
                ("action", "continue"),
            ],
        )
        .await
}
