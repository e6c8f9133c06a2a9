//! Bounded anonymous cost at `/authorize` (issue 11, item 3): only the parameters something
//! reads are stored, each with a size cap (an over-long one goes back to the app as
//! `invalid_request`), and journeys are capped per client IP and in total (429 + Retry-After).

use reqwest::StatusCode;
use reqwest::header::{LOCATION, RETRY_AFTER};

use crate::helpers::*;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn get(url: &str) -> reqwest::Response {
    no_redirects()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("authorize: {e}"))
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn unknown_parameters_are_not_stored_and_an_over_long_one_is_refused() {
    let app = spawn_app("").await;
    // 40 KB of a parameter nobody reads, posted: the journey is stored without it.
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("client_id", WEB_CLIENT)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", "kept")
        .append_pair("filler", &"x".repeat(40_000));
    let r = no_redirects()
        .post(format!(
            "{}/contoso/B2C_1_susi/oauth2/v2.0/authorize",
            app.base
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.finish())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let page = location(&r);
    let id = page
        .rsplit('/')
        .next()
        .filter(|_| page.contains("/journey/"))
        .unwrap_or_else(|| panic!("no journey page: {} {page}", r.status()));
    let stored = app.state.tenants[0]
        .store
        .journey(id, 0)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("journey {id} not stored"));
    assert!(stored.contains("kept"), "the state is kept");
    assert!(
        !stored.contains("filler") && stored.len() < 20_000,
        "stored {} bytes",
        stored.len()
    );

    // A parameter longer than 2 KiB: back to the app with invalid_request and its state.
    let long = "h".repeat(3000);
    let r = get(&authorize_url(
        &app,
        "B2C_1_susi",
        WEB_CLIENT,
        &[("state", "s1"), ("login_hint", &long)],
    ))
    .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let back = url::Url::parse(&location(&r)).unwrap_or_else(|e| panic!("{e}"));
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    let q: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
    assert_eq!(q.get("state").map(String::as_str), Some("s1"));
    assert!(
        q.get("error_description")
            .is_some_and(|d| d.contains("'login_hint' is too long")),
        "{q:?}"
    );
}

#[tokio::test]
async fn journeys_per_client_ip_are_capped() {
    let app = spawn_app("[sessions]\nmax_journeys_per_ip = 3\n").await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    for n in 0..3 {
        let r = get(&start).await;
        assert!(
            location(&r).contains("/journey/"),
            "journey {n}: {}",
            r.status()
        );
    }
    let r = get(&start).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: i64 = r
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(wait > 0, "Retry-After: {wait}");
    let body = r.text().await.unwrap_or_default();
    assert!(body.contains("Too many sign-ins"), "{body}");
}

#[tokio::test]
async fn stored_journeys_are_capped_in_total() {
    let app = spawn_app("[sessions]\nmax_journeys_per_ip = 0\nmax_journeys = 2\n").await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    for _ in 0..2 {
        assert!(location(&get(&start).await).contains("/journey/"));
    }
    let r = get(&start).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key(RETRY_AFTER));
}
