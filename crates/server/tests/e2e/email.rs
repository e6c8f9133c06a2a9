//! E-mail verification at local sign-up (`one-time-password-technical-profile.md`), with codes sent
//! through Trustframe's SMTP client to the test SMTP server: a verified sign-up, wrong and
//! expired codes, five wrong tries, "Send new code", no account before verification, the
//! user's language, and SMTP passwords kept out of the logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::helpers::*;
use crate::smtp::SmtpServer;
use crate::verification::*;
use trustframe_server::{Config, Server, ServerOptions};

/// Trustframe with the test tenant sending mail to `smtp_url` (plus `extra` config).
pub async fn spawn_smtp_app(smtp_url: &str, extra: &str) -> TestApp {
    spawn_mail_app(
        &format!(
            "transport = \"smtp\"\nsmtp_url = \"{smtp_url}\"\nfrom = \"Contoso <no-reply@contoso.example>\"\n"
        ),
        extra,
    )
    .await
}

/// Trustframe with `[email]` set to `email` (the lines of the section).
pub async fn spawn_mail_app(email: &str, extra: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let base = format!("http://127.0.0.1:{}", addr.port());
    let text = config_text(&base, extra).replace("transport = \"mailbox\"\n", email);
    let config = Config::parse(
        &text,
        &dir.path().join("trustframe.toml"),
        std::iter::empty(),
    )
    .unwrap_or_else(|e| panic!("test config: {e}"));
    let server = Server::build(ServerOptions {
        configs: vec![config],
        extra_routes: None,
        home_links: Vec::new(),
        listener: Some(listener),
    })
    .await
    .unwrap_or_else(|e| panic!("server: {e}"));
    let state = server.state();
    let task = tokio::spawn(async move {
        if let Err(e) = server.run().await {
            eprintln!("server stopped: {e}");
        }
    });
    TestApp::from_parts(addr, base, dir, state, task)
}

/// A sign-up-only flow whose codes live one second.
const SHORT: &str = r#"
[[user_flows]]
id = "B2C_1_short"
type = "sign_up"
# Long enough for the fresh code to be typed in on a loaded 2-core CI machine, short enough
# for the first one to expire while the test waits.
code_lifetime_seconds = 4
application_claims = ["email", "objectId", "newUser"]
"#;

async fn sign_up_page(browser: &Browser, start: &str) -> Html {
    let page = browser.get(start).await.page();
    browser
        .get(
            &page
                .href_of("createAccount")
                .unwrap_or_else(|| panic!("no sign-up link: {}", page.body)),
        )
        .await
        .page()
}

fn other_than(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

/// The stored journey behind a page (`…/journey/{id}`).
async fn stored_journey(app: &TestApp, page: &Html) -> String {
    let id = page.url.rsplit('/').next().unwrap_or_default();
    app.state.tenants[0]
        .store
        .journey(id, trustframe_server::tenant::now())
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no stored journey {id}"))
}

#[tokio::test]
async fn sign_up_with_a_verified_address_issues_tokens() {
    let smtp = SmtpServer::start().await;
    let app = spawn_smtp_app(&smtp.url(), "").await;
    let browser = Browser::new(&app);
    let email = unique_email("vera");
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[("state", "s-v")]);
    let form = sign_up_page(&browser, &start).await;
    assert_eq!(control_state(&form), "initial");
    assert!(form.body.contains("Send verification code"));

    let sent = send_code(&browser, &form, &email).await;
    assert_eq!(control_state(&sent), "code_sent");
    assert!(sent.body.contains("Verify code") && sent.body.contains("Send new code"));
    let mail = smtp.wait_for(&email, 1).await;
    assert_eq!(mail.from, "no-reply@contoso.example");
    assert!(
        mail.header("Subject")
            .is_some_and(|s| s.contains("Contoso account")),
        "{:?}",
        mail.header("Subject")
    );
    let code = mail.code();
    assert!(code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()));
    assert!(mail.part("text/html").is_some_and(|h| h.contains(&code)));
    let journey = stored_journey(&app, &sent).await;
    assert!(
        !journey.contains(&code),
        "the code rests only hashed in the journey: {journey}"
    );

    let verified = enter_code(&browser, &sent, &code).await;
    assert_eq!(control_state(&verified), "verified");
    assert!(verified.body.contains("E-mail address verified"));
    assert_eq!(
        verified.input_value("email").as_deref(),
        Some(email.as_str())
    );

    let callback = browser
        .submit(
            &verified,
            &[
                ("email", &email),
                ("newPassword", PASSWORD),
                ("reenterPassword", PASSWORD),
                ("givenName", "Vera"),
                ("surname", "Smith"),
                ("displayName", "Vera Smith"),
                ("action", "continue"),
            ],
        )
        .await
        .callback();
    assert_eq!(callback.get("state"), Some("s-v"));
    let (status, tokens) = redeem(&app, callback.get("code").unwrap_or_default(), None).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["emails"], serde_json::json!([email]));
    assert_eq!(id["newUser"], true);
    assert_eq!(smtp.mails_to(&email).len(), 1);
}

#[tokio::test]
async fn wrong_code_then_send_new_code() {
    let smtp = SmtpServer::start().await;
    let app = spawn_smtp_app(&smtp.url(), "").await;
    let browser = Browser::new(&app);
    let email = unique_email("wanda");
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let form = sign_up_page(&browser, &start).await;
    let sent = send_code(&browser, &form, &email).await;
    let first = smtp.wait_for(&email, 1).await.code();

    let page = enter_code(&browser, &sent, other_than(&first)).await;
    assert_eq!(
        page.alert().as_deref(),
        Some("That code is incorrect. Please try again.")
    );
    assert_eq!(control_state(&page), "code_sent");

    // "Send new code": a second mail; the first code is replaced.
    let page = browser
        .submit(&page, &[("email", &email), ("action", SEND)])
        .await
        .page();
    assert_eq!(control_state(&page), "code_sent");
    let second = smtp.wait_for(&email, 2).await.code();
    if second != first {
        let refused = enter_code(&browser, &page, &first).await;
        assert_eq!(
            refused.alert().as_deref(),
            Some("That code is incorrect. Please try again."),
            "an earlier code no longer works"
        );
    }
    let verified = enter_code(&browser, &page, &second).await;
    assert_eq!(control_state(&verified), "verified");
}

#[tokio::test]
async fn five_wrong_tries_then_only_a_new_code_helps() {
    let smtp = SmtpServer::start().await;
    let app = spawn_smtp_app(&smtp.url(), "").await;
    let browser = Browser::new(&app);
    let email = unique_email("tries");
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let form = sign_up_page(&browser, &start).await;
    let mut page = send_code(&browser, &form, &email).await;
    let code = smtp.wait_for(&email, 1).await.code();
    for _ in 0..4 {
        page = enter_code(&browser, &page, other_than(&code)).await;
        assert_eq!(
            page.alert().as_deref(),
            Some("That code is incorrect. Please try again.")
        );
    }
    page = enter_code(&browser, &page, other_than(&code)).await;
    assert_eq!(
        page.alert().as_deref(),
        Some("You've made too many incorrect attempts. Please request a new code.")
    );
    page = enter_code(&browser, &page, &code).await;
    assert!(
        page.alert()
            .is_some_and(|a| a.contains("too many incorrect attempts")),
        "the right code is refused after the fifth wrong try: {:?}",
        page.alert()
    );
    assert_ne!(control_state(&page), "verified");

    let page = browser
        .submit(&page, &[("email", &email), ("action", SEND)])
        .await
        .page();
    let fresh = smtp.wait_for(&email, 2).await.code();
    let verified = enter_code(&browser, &page, &fresh).await;
    assert_eq!(control_state(&verified), "verified");
}

#[tokio::test]
async fn an_expired_code_needs_a_new_one() {
    let smtp = SmtpServer::start().await;
    let app = spawn_smtp_app(&smtp.url(), SHORT).await;
    let browser = Browser::new(&app);
    let email = unique_email("late");
    let start = authorize_url(&app, "B2C_1_short", WEB_CLIENT, &[]);
    let form = browser.get(&start).await.page();
    let sent = send_code(&browser, &form, &email).await;
    let code = smtp.wait_for(&email, 1).await.code();
    tokio::time::sleep(std::time::Duration::from_millis(4200)).await;
    let page = enter_code(&browser, &sent, &code).await;
    assert_eq!(
        page.alert().as_deref(),
        Some("That code is expired. Please request a new code.")
    );
    let page = browser
        .submit(&page, &[("email", &email), ("action", SEND)])
        .await
        .page();
    let fresh = smtp.wait_for(&email, 2).await.code();
    let verified = enter_code(&browser, &page, &fresh).await;
    assert_eq!(control_state(&verified), "verified");
    let callback = browser
        .submit(
            &verified,
            &[
                ("email", &email),
                ("newPassword", PASSWORD),
                ("reenterPassword", PASSWORD),
                ("action", "continue"),
            ],
        )
        .await
        .callback();
    assert!(callback.get("code").is_some(), "{callback:?}");
}

#[tokio::test]
async fn no_account_is_created_until_the_address_is_verified() {
    let smtp = SmtpServer::start().await;
    let app = spawn_smtp_app(&smtp.url(), "").await;
    let browser = Browser::new(&app);
    let email = unique_email("nover");
    let other = unique_email("other");
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let form = sign_up_page(&browser, &start).await;
    let all = |address: &str| {
        vec![
            ("email".to_owned(), address.to_owned()),
            ("newPassword".to_owned(), PASSWORD.to_owned()),
            ("reenterPassword".to_owned(), PASSWORD.to_owned()),
            ("givenName".to_owned(), "Nora".to_owned()),
            ("surname".to_owned(), "Smith".to_owned()),
            ("displayName".to_owned(), "Nora Smith".to_owned()),
            ("action".to_owned(), "continue".to_owned()),
        ]
    };
    let fields = |v: &[(String, String)]| {
        v.iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    let submit = |page: Html, address: String| {
        let browser = &browser;
        let form = fields(&all(&address));
        async move {
            let borrowed: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            browser.submit(&page, &borrowed).await
        }
    };

    // Continue without verifying: refused, the typed values stay, no account.
    let page = submit(form, email.clone()).await.page();
    assert!(
        page.alert()
            .is_some_and(|a| a.starts_with("Please verify your e-mail address first")),
        "{:?}",
        page.alert()
    );
    assert_eq!(page.input_value("givenName").as_deref(), Some("Nora"));
    assert_eq!(page.input_value("email").as_deref(), Some(email.as_str()));
    let fresh = Browser::new(&app);
    let refused = sign_in(&fresh, &start, &email, PASSWORD).await.page();
    assert_eq!(
        refused.alert().as_deref(),
        Some("Your email address or password is incorrect.")
    );

    // Verified, then another address posted with Continue: refused.
    let verified = verify_email(
        &browser,
        &page,
        &email,
        crate::verification::Codes::Smtp(&smtp),
    )
    .await;
    let page = submit(verified, other.clone()).await.page();
    assert!(
        page.alert()
            .is_some_and(|a| a.starts_with("Please verify your e-mail address first")),
        "a changed address needs verifying again: {:?}",
        page.alert()
    );

    // "Change e-mail" unlocks the field and forgets the verification.
    let page = browser.submit(&page, &[("action", CHANGE)]).await.page();
    assert_eq!(control_state(&page), "initial");
    let page = submit(page, email.clone()).await.page();
    assert!(
        page.alert()
            .is_some_and(|a| a.starts_with("Please verify your e-mail address first"))
    );
    let verified = verify_email(
        &browser,
        &page,
        &email,
        crate::verification::Codes::Smtp(&smtp),
    )
    .await;
    let callback = submit(verified, email.clone()).await.callback();
    assert!(callback.get("code").is_some());
}

#[tokio::test]
async fn the_mail_speaks_the_users_language() {
    let smtp = SmtpServer::start().await;
    let app = spawn_smtp_app(&smtp.url(), "").await;
    let browser = Browser::new(&app);
    let email = unique_email("fr");
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[("ui_locales", "fr-FR")]);
    let form = sign_up_page(&browser, &start).await;
    send_code(&browser, &form, &email).await;
    let mail = smtp.wait_for(&email, 1).await;
    let text = mail.part("text/plain").unwrap_or_default();
    assert!(text.contains("Votre code est :"), "{text}");
    assert!(text.contains("Le code expire dans 10 minutes."), "{text}");
    assert!(
        mail.part("text/html")
            .is_some_and(|h| h.contains("lang=\"fr\"") && h.contains("Vérifiez"))
    );
}

/// Everything the process logs while `f` runs on this thread (the test runtime's only one).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn the_smtp_password_never_reaches_the_logs() {
    const PASSWORD_SMTP: &str = "Sup3rSecretSmtpPw42";
    const WRONG: &str = "Wr0ngSecretSmtpPw77";
    let (logs, _guard) = capture();
    let smtp = SmtpServer::start_with_auth("mailer", PASSWORD_SMTP).await;
    let port = smtp.addr.port();

    // Authenticated: the mail arrives, sent with these credentials.
    let app = spawn_smtp_app(
        &format!("smtp://mailer:{PASSWORD_SMTP}@127.0.0.1:{port}"),
        "",
    )
    .await;
    let browser = Browser::new(&app);
    let email = unique_email("auth");
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let form = sign_up_page(&browser, &start).await;
    let sent = send_code(&browser, &form, &email).await;
    assert_eq!(control_state(&sent), "code_sent", "{:?}", sent.alert());
    let mail = smtp.wait_for(&email, 1).await;
    assert_eq!(
        mail.auth,
        Some(("mailer".to_owned(), PASSWORD_SMTP.to_owned()))
    );

    // A wrong password: the user reads that the code could not be sent; the log says why.
    let wrong = spawn_smtp_app(&format!("smtp://mailer:{WRONG}@127.0.0.1:{port}"), "").await;
    let browser = Browser::new(&wrong);
    let start = authorize_url(&wrong, "B2C_1_susi", WEB_CLIENT, &[]);
    let form = sign_up_page(&browser, &start).await;
    let page = send_code(&browser, &form, &unique_email("nope")).await;
    assert_eq!(
        page.alert().as_deref(),
        Some("We could not send the verification code. Please try again in a moment.")
    );
    assert_eq!(control_state(&page), "initial");

    let text = logs.text();
    assert!(
        text.contains("mail goes out through SMTP") && text.contains("smtp://***@127.0.0.1"),
        "the start is logged, credentials hidden: {text}"
    );
    assert!(
        text.contains("could not send a verification code"),
        "the failure is logged: {text}"
    );
    assert!(!text.contains(PASSWORD_SMTP), "SMTP password in the logs");
    assert!(!text.contains(WRONG), "SMTP password in the logs");
    assert!(
        !text.contains(&mail.code()),
        "a code in the logs (smtp transport)"
    );
}

#[tokio::test]
async fn log_transport_writes_the_code_to_the_log_and_mailbox_page_is_dev_only() {
    let (logs, _guard) = capture();
    let app = spawn_mail_app("transport = \"log\"\n", "").await;
    let browser = Browser::new(&app);
    let email = unique_email("logged");
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let form = sign_up_page(&browser, &start).await;
    let sent = send_code(&browser, &form, &email).await;
    assert_eq!(control_state(&sent), "code_sent");
    let text = logs.text();
    assert!(text.contains(&email), "the mail is logged: {text}");
    let code: String = text
        .split("Your code is: ")
        .nth(1)
        .map(|r| r.chars().take(6).collect())
        .unwrap_or_else(|| panic!("no code in the log: {text}"));
    let verified = enter_code(&browser, &sent, &code).await;
    assert_eq!(control_state(&verified), "verified");

    // Only the mailbox transport has a mailbox page.
    let page = browser.get("/dev/mailbox").await.page();
    assert_eq!(page.status, 404);
}

#[tokio::test]
async fn implicit_tls_and_starttls_trust_the_outbound_ca_files() {
    use crate::smtp::{Protection, acceptor};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap_or_else(|e| panic!("{e}"));
    let ca = dir.path().join("smtp-ca.pem");
    std::fs::write(&ca, certified.cert.pem()).unwrap_or_else(|e| panic!("{e}"));
    let tls = acceptor(
        certified.cert.der().to_vec(),
        certified.signing_key.serialize_der(),
    );
    let outbound = format!(
        "\n[outbound]\nca_files = [{:?}]\n",
        ca.display().to_string()
    );

    async fn code_arrives(app: &TestApp, smtp: &SmtpServer) {
        let browser = Browser::new(app);
        let email = unique_email("tls");
        let start = authorize_url(app, "B2C_1_susi", WEB_CLIENT, &[]);
        let form = sign_up_page(&browser, &start).await;
        let sent = send_code(&browser, &form, &email).await;
        assert_eq!(control_state(&sent), "code_sent", "{:?}", sent.alert());
        let code = smtp.wait_for(&email, 1).await.code();
        let verified = enter_code(&browser, &sent, &code).await;
        assert_eq!(control_state(&verified), "verified");
    }
    async fn refused(app: &TestApp) {
        let browser = Browser::new(app);
        let start = authorize_url(app, "B2C_1_susi", WEB_CLIENT, &[]);
        let form = sign_up_page(&browser, &start).await;
        let page = send_code(&browser, &form, &unique_email("untrusted")).await;
        assert_eq!(
            page.alert().as_deref(),
            Some("We could not send the verification code. Please try again in a moment.")
        );
    }

    // smtps:// (implicit TLS, port 465's way) and STARTTLS required (587's way).
    let smtps = SmtpServer::start_tls(Protection::Implicit(tls.clone())).await;
    let smtps_url = format!("smtps://127.0.0.1:{}", smtps.addr.port());
    code_arrives(&spawn_smtp_app(&smtps_url, &outbound).await, &smtps).await;
    let starttls = SmtpServer::start_tls(Protection::StartTls(tls)).await;
    let starttls_url = format!("smtp://localhost:{}?tls=required", starttls.addr.port());
    code_arrives(&spawn_smtp_app(&starttls_url, &outbound).await, &starttls).await;

    // Without the CA file the certificate is not trusted; a server without STARTTLS is refused
    // when TLS is required.
    refused(&spawn_smtp_app(&smtps_url, "").await).await;
    let plain = SmtpServer::start().await;
    let required = format!("smtp://127.0.0.1:{}?tls=required", plain.addr.port());
    refused(&spawn_smtp_app(&required, "").await).await;
    assert!(plain.mails().is_empty() && smtps.mails().len() == 1);
}
