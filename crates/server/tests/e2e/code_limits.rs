//! Verification codes limited across journeys (issue 11, item 1): codes sent per address and
//! per client IP, and wrong codes per address, counted in the store (`[verification]`), so a
//! new journey starts no new count. Beyond a limit no mail is sent and the page says why.

use crate::helpers::*;
use crate::verification::*;

const TOO_MANY_CODES: &str = "There have been too many requests to verify this e-mail address. Please wait a while, then try again.";
const TOO_MANY_WRONG: &str =
    "You've made too many incorrect attempts. Please wait a while, then try again.";
const WRONG: &str = "That code is incorrect. Please try again.";

/// `[verification]` for a test (0 = no limit).
fn limits(per_address: u32, per_ip: u32, wrong: u32) -> String {
    format!(
        "[verification]\nmax_codes_per_address = {per_address}\nmax_codes_per_ip = {per_ip}\n\
         max_wrong_codes_per_address = {wrong}\nwindow_seconds = 600\n"
    )
}

/// The sign-up page of a new journey (a new browser: no cookies, no journey in common).
async fn sign_up_page(browser: &Browser, app: &TestApp) -> Html {
    let start = authorize_url(app, "B2C_1_susi", WEB_CLIENT, &[]);
    let page = browser.get(&start).await.page();
    let link = page
        .href_of("createAccount")
        .unwrap_or_else(|| panic!("no createAccount link: {}", page.body));
    let form = browser.get(&link).await.page();
    assert!(has_verification(&form), "{}", form.body);
    form
}

fn mails_to(app: &TestApp, email: &str) -> usize {
    app.state.tenants[0]
        .mailer
        .mailbox()
        .unwrap_or_else(|| panic!("no mailbox"))
        .messages()
        .iter()
        .filter(|m| m.to.eq_ignore_ascii_case(email))
        .count()
}

/// Sends a code from a new journey; `Err(alert)` when it was refused.
async fn send_from_new_journey(
    app: &TestApp,
    browser: &Browser,
    email: &str,
) -> Result<Html, String> {
    let form = sign_up_page(browser, app).await;
    let page = send_code(browser, &form, email).await;
    assert_eq!(page.status, 200, "{}", page.body);
    if control_state(&page) == "code_sent" {
        Ok(page)
    } else {
        Err(page.alert().unwrap_or_default())
    }
}

/// A browser whose every request says it was forwarded for `ip`.
fn forwarded_for(app: &TestApp, ip: &str) -> Browser {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        ip.parse().unwrap_or_else(|e| panic!("header: {e}")),
    );
    Browser::with_client(app, reqwest::Client::builder().default_headers(headers))
}

#[tokio::test]
async fn codes_to_one_address_are_limited_across_journeys() {
    let app = spawn_app(&limits(3, 0, 0)).await;
    let email = unique_email("bombed");
    // Three journeys, three mails (the address in other capitals is the same address).
    for to in [email.clone(), email.clone(), email.to_uppercase()] {
        send_from_new_journey(&app, &Browser::new(&app), &to)
            .await
            .unwrap_or_else(|alert| panic!("refused: {alert}"));
    }
    assert_eq!(mails_to(&app, &email), 3);

    // A fourth journey is refused, with the message and no mail.
    let browser = Browser::new(&app);
    let refused = send_from_new_journey(&app, &browser, &email).await;
    assert_eq!(refused.err().as_deref(), Some(TOO_MANY_CODES));
    assert_eq!(mails_to(&app, &email), 3);
    // Audited: three codes sent, one refused, all for the same address's hash.
    let audit: Vec<_> = app.state.tenants[0]
        .store
        .audit_after(0, 100)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.kind == "code_sent")
        .collect();
    let outcomes: Vec<_> = audit.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["sent", "sent", "sent", "too_many_codes"]);
    assert!(
        audit
            .iter()
            .all(|r| r.detail["addressHash"] == audit[0].detail["addressHash"])
    );

    // Another address is not limited by this one, and the refused journey goes on.
    let other = unique_email("other");
    let form = sign_up_page(&browser, &app).await;
    let sent = send_code(&browser, &form, &other).await;
    assert_eq!(control_state(&sent), "code_sent", "{:?}", sent.alert());
    let code = mailbox_code(&browser, &other).await;
    let verified = enter_code(&browser, &sent, &code).await;
    assert_eq!(
        control_state(&verified),
        "verified",
        "{:?}",
        verified.alert()
    );
    assert_eq!(mails_to(&app, &email), 3);
}

#[tokio::test]
async fn codes_from_one_client_ip_are_limited_across_addresses() {
    let app = spawn_edited(&limits(0, 3, 0), None, |text, _| {
        text.replacen(
            "development = true",
            "development = true\ntrusted_proxies = [\"127.0.0.1/32\"]",
            1,
        )
    })
    .await;
    let emails: Vec<String> = (0..4).map(|i| unique_email(&format!("ip{i}"))).collect();
    for email in &emails[..3] {
        send_from_new_journey(&app, &forwarded_for(&app, "198.51.100.7"), email)
            .await
            .unwrap_or_else(|alert| panic!("refused: {alert}"));
    }
    let refused =
        send_from_new_journey(&app, &forwarded_for(&app, "198.51.100.7"), &emails[3]).await;
    assert_eq!(refused.err().as_deref(), Some(TOO_MANY_CODES));
    assert_eq!(mails_to(&app, &emails[3]), 0);

    // Another client may still send to the same address.
    send_from_new_journey(&app, &forwarded_for(&app, "203.0.113.20"), &emails[3])
        .await
        .unwrap_or_else(|alert| panic!("refused: {alert}"));
    assert_eq!(mails_to(&app, &emails[3]), 1);
}

#[tokio::test]
async fn wrong_codes_are_limited_across_journeys_then_even_the_right_code_is_refused() {
    let app = spawn_app(&limits(0, 0, 3)).await;
    let email = unique_email("guessed");
    let wrong_for = |code: &str| if code == "000000" { "111111" } else { "000000" }.to_owned();

    // Two wrong codes in one journey, one in another: each below the journey's own limit (5).
    let first = Browser::new(&app);
    let mut page = send_from_new_journey(&app, &first, &email)
        .await
        .unwrap_or_else(|alert| panic!("refused: {alert}"));
    let code = mailbox_code(&first, &email).await;
    for _ in 0..2 {
        page = enter_code(&first, &page, &wrong_for(&code)).await;
        assert_eq!(page.alert().as_deref(), Some(WRONG));
    }
    let second = Browser::new(&app);
    let page = send_from_new_journey(&app, &second, &email)
        .await
        .unwrap_or_else(|alert| panic!("refused: {alert}"));
    let code = mailbox_code(&second, &email).await;
    let page = enter_code(&second, &page, &wrong_for(&code)).await;
    assert_eq!(page.alert().as_deref(), Some(WRONG));

    // The limit is reached: the right code is refused too, in this journey and in a new one.
    let refused = enter_code(&second, &page, &code).await;
    assert_eq!(refused.status, 200);
    assert_eq!(refused.alert().as_deref(), Some(TOO_MANY_WRONG));
    assert_ne!(control_state(&refused), "verified");
    let third = Browser::new(&app);
    let page = send_from_new_journey(&app, &third, &email)
        .await
        .unwrap_or_else(|alert| panic!("refused: {alert}"));
    let code = mailbox_code(&third, &email).await;
    let refused = enter_code(&third, &page, &code).await;
    assert_eq!(refused.alert().as_deref(), Some(TOO_MANY_WRONG));
    assert_ne!(control_state(&refused), "verified");

    // Right codes do not count: another address verifies, again and again.
    let other = unique_email("fine");
    for _ in 0..4 {
        let browser = Browser::new(&app);
        let page = send_from_new_journey(&app, &browser, &other)
            .await
            .unwrap_or_else(|alert| panic!("refused: {alert}"));
        let code = mailbox_code(&browser, &other).await;
        let verified = enter_code(&browser, &page, &code).await;
        assert_eq!(
            control_state(&verified),
            "verified",
            "{:?}",
            verified.alert()
        );
    }
}
