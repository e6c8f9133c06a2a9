//! Smart lockout of local sign-in (issue 11, item 1): failed passwords counted per account and
//! per client IP in the store; while locked, AADB2C90114 and no password check; the client IP
//! from X-Forwarded-For only when the peer is a trusted proxy.

use std::time::Duration;

use crate::helpers::*;

const LOCKED: &str =
    "AADB2C90114: Your account is temporarily locked to prevent unauthorized use. Try again later.";
/// User flows give one message for a wrong password and an unknown account.
const WRONG: &str = "Your email address or password is incorrect.";

/// `[lockout]` for a test: small thresholds. Lockouts are whole seconds from the current
/// second, so a lockout of `duration` seconds lasts at least `duration - 1`.
fn lockout(threshold: u32, ip_threshold: u32, duration: u32) -> String {
    format!(
        "[lockout]\nthreshold = {threshold}\nwindow_seconds = 60\nduration_seconds = {duration}\n\
         max_duration_seconds = {duration}\nip_threshold = {ip_threshold}\nip_window_seconds = 60\n"
    )
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

async fn alert_after_sign_in(
    browser: &Browser,
    start: &str,
    email: &str,
    password: &str,
) -> String {
    sign_in(browser, start, email, password)
        .await
        .page()
        .alert()
        .unwrap_or_default()
}

async fn audit_kinds(app: &TestApp) -> Vec<(String, String)> {
    app.state.tenants[0]
        .store
        .audit_after(0, 1000)
        .await
        .unwrap_or_else(|e| panic!("audit: {e}"))
        .into_iter()
        .map(|(_, r)| (r.kind, r.outcome))
        .filter(|(kind, _)| kind == "sign_in_failed" || kind == "account_locked")
        .collect()
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_and_the_right_one_works_after_the_lockout() {
    let app = spawn_app(&lockout(3, 0, 3)).await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let email = unique_email("locked");
    sign_up(&Browser::new(&app), &start, &email, "lou").await;

    let browser = Browser::new(&app);
    for _ in 0..2 {
        assert_eq!(
            alert_after_sign_in(&browser, &start, &email, "Wrong-pass1").await,
            WRONG
        );
    }
    // A correct password resets the count: two more failures do not lock yet.
    sign_in(&browser, &start, &email, PASSWORD).await.callback();
    let browser = Browser::new(&app);
    for _ in 0..2 {
        assert_eq!(
            alert_after_sign_in(&browser, &start, &email, "Wrong-pass1").await,
            WRONG
        );
    }
    // The third failure in the window locks; the address typed in other capitals is the same
    // account.
    assert_eq!(
        alert_after_sign_in(&browser, &start, &email.to_uppercase(), "Wrong-pass1").await,
        WRONG
    );
    assert_eq!(
        alert_after_sign_in(&browser, &start, &email, PASSWORD).await,
        LOCKED
    );
    let other = Browser::new(&app);
    assert_eq!(
        alert_after_sign_in(&other, &start, &email, PASSWORD).await,
        LOCKED,
        "the lockout is the account's, not the browser's"
    );

    tokio::time::sleep(Duration::from_millis(3100)).await;
    let code = sign_in(&browser, &start, &email, PASSWORD).await.callback();
    assert!(code.get("code").is_some(), "signed in after the lockout");

    let kinds = audit_kinds(&app).await;
    let failed = |outcome: &str| {
        kinds
            .iter()
            .filter(|(k, o)| k == "sign_in_failed" && o == outcome)
            .count()
    };
    assert_eq!(failed("wrong_password"), 5, "{kinds:?}");
    assert_eq!(failed("locked"), 2, "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|(k, _)| k == "account_locked").count(),
        1,
        "{kinds:?}"
    );
}

#[tokio::test]
async fn unknown_accounts_lock_alike() {
    let app = spawn_app(&lockout(2, 0, 60)).await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let browser = Browser::new(&app);
    let nobody = unique_email("nobody");
    for _ in 0..2 {
        assert_eq!(
            alert_after_sign_in(&browser, &start, &nobody, PASSWORD).await,
            WRONG
        );
    }
    assert_eq!(
        alert_after_sign_in(&browser, &start, &nobody, PASSWORD).await,
        LOCKED
    );
}

#[tokio::test]
async fn failures_from_one_ip_lock_every_account_signing_in_from_it() {
    let app = spawn_app(&lockout(100, 3, 60)).await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let (a, b) = (unique_email("ipa"), unique_email("ipb"));
    sign_up(&Browser::new(&app), &start, &a, "a").await;
    sign_up(&Browser::new(&app), &start, &b, "b").await;

    let browser = Browser::new(&app);
    for email in [&a, &b, &a] {
        assert_eq!(
            alert_after_sign_in(&browser, &start, email, "Wrong-pass1").await,
            WRONG
        );
    }
    let fresh = Browser::new(&app);
    assert_eq!(
        alert_after_sign_in(&fresh, &start, &b, PASSWORD).await,
        LOCKED,
        "every sign-in from the IP is refused, with the right password too"
    );
    let kinds = audit_kinds(&app).await;
    assert!(
        kinds.iter().any(|(k, _)| k == "account_locked"),
        "{kinds:?}"
    );
}

/// Three failures for one account, each forwarded for another address, then the right
/// password: is the client locked out?
async fn locked_after_forwarded_failures(app: &TestApp) -> bool {
    let start = authorize_url(app, "B2C_1_susi", WEB_CLIENT, &[]);
    let email = unique_email("xff");
    sign_up(&Browser::new(app), &start, &email, "x").await;
    for i in 1..=2 {
        let browser = forwarded_for(app, &format!("203.0.113.{i}"));
        assert_eq!(
            alert_after_sign_in(&browser, &start, &email, "Wrong-pass1").await,
            WRONG
        );
    }
    let browser = forwarded_for(app, "203.0.113.3");
    match sign_in(&browser, &start, &email, PASSWORD).await {
        Step::Callback(_) => false,
        Step::Page(page) => {
            assert_eq!(page.alert().as_deref(), Some(LOCKED));
            true
        }
    }
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    // Untrusted (the default): every failure counts against the peer, 127.0.0.1.
    let app = spawn_app(&lockout(100, 2, 60)).await;
    assert!(locked_after_forwarded_failures(&app).await);

    // From a trusted proxy, each forwarded address is its own client.
    let app = spawn_edited(&lockout(100, 2, 60), None, |text, _| {
        text.replacen(
            "development = true",
            "development = true\ntrusted_proxies = [\"127.0.0.1/32\"]",
            1,
        )
    })
    .await;
    assert!(!locked_after_forwarded_failures(&app).await);
}

#[tokio::test]
async fn a_custom_policy_words_its_own_locked_message() {
    // `UserMessageIfUserAccountLocked` (`localization-string-ids.md`) on the credential check.
    let audience = r#"<Item Key="IdTokenAudience">IdentityExperienceFrameworkAppId</Item>"#;
    let folder = crate::custom_policies::folder_with_edit(
        "TrustFrameworkExtensions.xml",
        audience,
        &format!(
            "{audience}\n<Item Key=\"UserMessageIfUserAccountLocked\">Too many tries: wait a minute.</Item>"
        ),
    );
    let settings = folder.path().join("settings.json");
    std::fs::write(&settings, r#"{"RestApiBaseUrl": "http://127.0.0.1:9"}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_app(&format!(
        "[custom_policies]\ndir = {:?}\nsettings = {:?}\n{}",
        folder.path().display().to_string(),
        settings.display().to_string(),
        lockout(2, 0, 60)
    ))
    .await;
    let start = authorize_url(&app, "B2C_1A_signup_signin", WEB_CLIENT, &[]);
    let browser = Browser::new(&app);
    let nobody = unique_email("cp-nobody");
    for _ in 0..2 {
        assert_eq!(
            alert_after_sign_in(&browser, &start, &nobody, PASSWORD).await,
            "We can't seem to find your account."
        );
    }
    assert_eq!(
        alert_after_sign_in(&browser, &start, &nobody, PASSWORD).await,
        "Too many tries: wait a minute."
    );
}

/// Guesses sent in parallel (one journey each) cannot overrun the threshold: each attempt is
/// counted before its password is checked.
#[tokio::test]
async fn a_burst_of_parallel_guesses_gets_no_more_than_the_threshold() {
    let app = spawn_app(&lockout(3, 0, 60)).await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let email = unique_email("burst");
    sign_up(&Browser::new(&app), &start, &email, "b").await;

    let mut pages = Vec::new();
    for _ in 0..12 {
        let browser = Browser::new(&app);
        let page = browser.get(&start).await.page();
        pages.push((browser, page));
    }
    let tasks: Vec<_> = pages
        .into_iter()
        .map(|(browser, page)| {
            let email = email.clone();
            tokio::spawn(async move {
                let fields = [
                    ("signInName", email.as_str()),
                    ("password", "Wrong-pass1"),
                    ("action", "continue"),
                ];
                browser
                    .submit(&page, &fields)
                    .await
                    .page()
                    .alert()
                    .unwrap_or_default()
            })
        })
        .collect();
    let mut checked = 0;
    for task in tasks {
        let alert = task.await.unwrap_or_else(|e| panic!("{e}"));
        match alert.as_str() {
            WRONG => checked += 1,
            LOCKED => {}
            other => panic!("unexpected answer: {other}"),
        }
    }
    assert!(checked <= 3, "{checked} passwords were checked");
    assert_eq!(
        alert_after_sign_in(&Browser::new(&app), &start, &email, PASSWORD).await,
        LOCKED
    );
}

/// Two nodes on one PostgreSQL database count the same failures: guesses spread over both lock
/// the account on both. Runs when `TRUSTFRAME_TEST_POSTGRES_URL` is set.
#[tokio::test]
async fn failures_on_two_nodes_lock_the_account_on_both() {
    let Ok(pg) = std::env::var("TRUSTFRAME_TEST_POSTGRES_URL") else {
        eprintln!("lockout on two nodes: skipped (TRUSTFRAME_TEST_POSTGRES_URL is not set)");
        return;
    };
    let (schema, url) = crate::multi_node::fresh_schema(&pg).await;
    let storage =
        |text: String| text.replace("url = \"sqlite://tf.db\"", &format!("url = {url:?}"));
    let a = spawn_edited(&lockout(3, 0, 60), None, |text, _| storage(text)).await;
    let b = spawn_edited(&lockout(3, 0, 60), None, |text, _| storage(text)).await;
    let (start_a, start_b) = (
        authorize_url(&a, "B2C_1_susi", WEB_CLIENT, &[]),
        authorize_url(&b, "B2C_1_susi", WEB_CLIENT, &[]),
    );
    let email = unique_email("nodes-lock");
    sign_up(&Browser::new(&a), &start_a, &email, "n").await;

    let (on_a, on_b) = (Browser::new(&a), Browser::new(&b));
    assert_eq!(
        alert_after_sign_in(&on_a, &start_a, &email, "Wrong-pass1").await,
        WRONG
    );
    assert_eq!(
        alert_after_sign_in(&on_b, &start_b, &email, "Wrong-pass1").await,
        WRONG
    );
    assert_eq!(
        alert_after_sign_in(&on_a, &start_a, &email, "Wrong-pass1").await,
        WRONG
    );
    let locked_on = [
        alert_after_sign_in(&on_b, &start_b, &email, PASSWORD).await,
        alert_after_sign_in(&on_a, &start_a, &email, PASSWORD).await,
    ];
    drop((a, b));
    crate::multi_node::drop_schema(&pg, &schema).await;
    assert_eq!(locked_on, [LOCKED, LOCKED]);
}

#[tokio::test]
async fn failed_sign_ins_are_answered_progressively_later_before_the_lockout() {
    let app = spawn_app(&format!(
        "{}delay_after = 2\ndelay_base_ms = 400\ndelay_max_ms = 800\n",
        lockout(10, 0, 60)
    ))
    .await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let email = unique_email("delay");
    sign_up(&browser, &start, &email, "dee").await;
    // Each failure's answer waits at least: none for the first, then 400 ms, 800 ms, 800 ms.
    for (attempt, at_least_ms) in [(1, 0), (2, 400), (3, 800), (4, 800)] {
        let guesser = Browser::new(&app);
        let page = guesser.get(&start).await.page();
        let began = std::time::Instant::now();
        let answer = guesser
            .submit(
                &page,
                &[
                    ("signInName", email.as_str()),
                    ("password", "Wr0ng-password!"),
                    ("action", "continue"),
                ],
            )
            .await
            .page();
        let waited = began.elapsed();
        assert_eq!(answer.alert().as_deref(), Some(WRONG), "attempt {attempt}");
        assert!(
            waited >= Duration::from_millis(at_least_ms),
            "attempt {attempt} was answered after {waited:?}"
        );
    }
    // Not locked (threshold 10): the right password signs in.
    let step = sign_in(&Browser::new(&app), &start, &email, PASSWORD).await;
    assert!(
        matches!(step, Step::Callback(_)),
        "the right password signs in"
    );
}
