//! Hardening (issue 11): a journey advances once however often its page is submitted, and
//! every response carries the security headers.

use reqwest::StatusCode;

use crate::helpers::*;

/// Four submits of one sign-in page at once (a double click, a replay with the same cookies
/// and CSRF token): exactly one reaches the app with a code, the others are told the page was
/// already submitted. Run several times: the race must never produce two codes.
#[tokio::test]
async fn concurrent_submits_of_one_page_complete_the_journey_once() {
    let app = spawn_app("").await;
    let email = unique_email("race");
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    sign_up(&Browser::new(&app), &start, &email, "racer").await;

    for round in 0..3 {
        let browser = Browser::new(&app);
        let page = browser.get(&start).await.page();
        let fields = [
            ("signInName", email.as_str()),
            ("password", PASSWORD),
            ("action", "continue"),
        ];
        let (a, b, c, d) = tokio::join!(
            browser.submit(&page, &fields),
            browser.submit(&page, &fields),
            browser.submit(&page, &fields),
            browser.submit(&page, &fields),
        );
        let mut codes = Vec::new();
        let mut refused = Vec::new();
        for step in [a, b, c, d] {
            match step {
                Step::Callback(callback) => codes.push(
                    callback
                        .get("code")
                        .unwrap_or_else(|| panic!("round {round}: no code: {callback:?}"))
                        .to_owned(),
                ),
                Step::Page(page) => refused.push(page),
            }
        }
        assert_eq!(codes.len(), 1, "round {round}: exactly one code: {codes:?}");
        assert_eq!(refused.len(), 3, "round {round}");
        for page in &refused {
            assert_eq!(
                page.status,
                StatusCode::CONFLICT,
                "round {round}: {}",
                page.body
            );
            let alert = page.alert().unwrap_or_default();
            assert!(
                alert.starts_with("This page was already submitted"),
                "{alert}"
            );
        }
        // The way back: the journey where it is now (it ended: start again, and the new SSO
        // session signs straight in). Never the same code twice.
        let mut page = refused.swap_remove(0);
        let mut hops = 0;
        let again = loop {
            let back = page
                .href_of("continue")
                .unwrap_or_else(|| panic!("no way back: {}", page.body));
            match browser.get(&back).await {
                Step::Callback(callback) => break callback,
                Step::Page(next) => {
                    assert_eq!(next.status, StatusCode::CONFLICT, "{}", next.body);
                    page = next;
                }
            }
            hops += 1;
            assert!(hops < 3, "the way back goes round in circles");
        };
        let code = again.get("code").unwrap_or_default();
        assert!(!code.is_empty() && code != codes[0], "{again:?}");
        let (status, tokens) = redeem(&app, &codes[0], None).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
    }
}

fn assert_headers(response: &reqwest::Response, hsts: bool) {
    let url = response.url().to_string();
    let headers = response.headers();
    assert_eq!(
        headers
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff"),
        "{url}"
    );
    let sts = headers
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok());
    if hsts {
        assert_eq!(sts, Some("max-age=31536000"), "{url}");
    } else {
        assert_eq!(sts, None, "{url}: no HSTS over plain HTTP");
    }
}

/// Pages, JSON (metadata, token errors), keys, redirects and the 404 page.
async fn check_every_kind_of_response(app: &TestApp, client: &reqwest::Client, hsts: bool) {
    let base = &app.base;
    let gets = [
        format!("{base}/contoso/B2C_1_susi/v2.0/.well-known/openid-configuration"),
        format!("{base}/contoso/B2C_1_susi/discovery/v2.0/keys"),
        authorize_url(app, "B2C_1_susi", WEB_CLIENT, &[]),
        format!("{base}/no/such/page"),
        format!("{base}/healthz"),
    ];
    for url in gets {
        let response = client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_headers(&response, hsts);
    }
    let token = client
        .post(format!("{base}/contoso/B2C_1_susi/oauth2/v2.0/token"))
        .form(&[("grant_type", "authorization_code")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("token: {e}"));
    assert_eq!(token.status(), StatusCode::BAD_REQUEST);
    assert_headers(&token, hsts);
}

#[tokio::test]
async fn nosniff_everywhere_and_no_hsts_over_http() {
    let app = spawn_app("").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    check_every_kind_of_response(&app, &client, false).await;
}

#[tokio::test]
async fn hsts_and_nosniff_over_https() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap_or_else(|e| panic!("{e}"));
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap_or_else(|e| panic!("{e}"));
    crate::connections::write_private(&key, certified.signing_key.serialize_pem().as_bytes());
    let app = spawn_with("", Some((&cert, &key))).await;
    assert!(app.base.starts_with("https://"));
    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let client = reqwest::Client::builder()
        .add_root_certificate(root)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    check_every_kind_of_response(&app, &client, true).await;
}
