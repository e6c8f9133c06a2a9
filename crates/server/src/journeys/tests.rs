//! The service driven without HTTP: a tenant on a temp SQLite file, calls in, steps out.

use std::sync::Arc;

use super::*;
use crate::{Config, metrics, pages};

const CLIENT: &str = "11112222-bbbb-3333-cccc-4444dddd5555";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

async fn service(dir: &tempfile::TempDir) -> AppState {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:9"
development = true
[storage]
url = "sqlite://tf.db"
[tenant]
name = "contoso"
id = "0d9e5c3e-1111-4222-8333-944455556666"
[passwords]
argon2_memory_kib = 256
argon2_iterations = 1
[email]
transport = "mailbox"
[[applications]]
name = "webapp1"
client_id = "{CLIENT}"
client_secret = "web-app-secret-value-7f3c"
redirect_uris = ["{REDIRECT}"]
[[user_flows]]
id = "B2C_1_susi"
type = "sign_up_or_sign_in"
"#
    );
    let config = Config::parse(
        &text,
        &dir.path().join("trustframe.toml"),
        std::iter::empty(),
    )
    .unwrap_or_else(|e| panic!("config: {e}"));
    let tenant = Tenant::build(&config)
        .await
        .unwrap_or_else(|e| panic!("tenant: {e}"));
    let tenants = vec![Arc::new(tenant)];
    AppState {
        metrics: metrics::Metrics::new(&tenants),
        tenants,
        pages: pages::Pages::new().unwrap_or_else(|e| panic!("pages: {e}")),
        public_url: "http://127.0.0.1:9".into(),
        secure_cookies: false,
        home_links: Vec::new(),
        trusted_proxies: Default::default(),
    }
}

fn authorize(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    [
        ("client_id", CLIENT),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "app-state"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn browser() -> Browser {
    Browser {
        sso_session: None,
        accept_language: Some("fr-FR".into()),
        client_ip: "192.0.2.1".into(),
        user_agent: String::new(),
    }
}

fn error_of(next: &Next) -> Option<String> {
    match next {
        Next::Deliver { response, .. } => response
            .params
            .iter()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn a_journey_starts_on_a_page_bound_to_its_browser_and_a_cancel_ends_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let state = service(&dir).await;
    let tenant = tenant(&state, "CONTOSO").unwrap_or_else(|p| panic!("{p:?}"));

    let started = start(
        &state,
        &tenant,
        Some("b2c_1_susi"),
        authorize(&[]),
        browser(),
    )
    .await;
    let Ok(Next::ShowPage { path }) = &started.next else {
        panic!("expected a page, got {:?}", started.next);
    };
    let binding = started
        .binding
        .unwrap_or_else(|| panic!("a started journey binds the browser"));
    assert_eq!(binding.name, BINDING_COOKIE);
    assert_eq!(&binding.path, path, "the cookie is scoped to the journey");
    let id = path.rsplit('/').next().unwrap_or_default();

    let other = open(&state, "contoso", id, Some("another browser's secret")).await;
    assert_eq!(other.err(), Some(JourneyProblem::WrongBrowser));
    let journey = open(&state, "contoso", id, Some(&binding.value))
        .await
        .unwrap_or_else(|p| panic!("{p:?}"));
    let csrf = {
        let view = journey.page().unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(view.lang, "fr");
        assert_eq!(&view.action, path);
        view.csrf.to_owned()
    };
    assert_eq!(
        journey.check_csrf(Some("forged")),
        Err(JourneyProblem::CsrfRefused)
    );
    assert_eq!(journey.check_csrf(Some(&csrf)), Ok(()));

    let next = advance(&state, journey, Input::Cancel)
        .await
        .unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(error_of(&next).as_deref(), Some("access_denied"));
    assert!(matches!(
        next,
        Next::Deliver {
            set_cookie: None,
            ..
        }
    ));
    // Ended: a late request from its browser learns it was already submitted (issue 11), and
    // where to start again; another browser learns nothing.
    let gone = open(&state, "contoso", id, Some(&binding.value)).await;
    assert!(
        matches!(gone.err(), Some(JourneyProblem::AlreadySubmitted { continue_url, .. }) if continue_url.contains("/oauth2/v2.0/authorize?"))
    );
    let other = open(&state, "contoso", id, Some("another browser's secret")).await;
    assert_eq!(other.err(), Some(JourneyProblem::WrongBrowser));
}

#[tokio::test]
async fn requests_refused_before_a_journey_exists_bind_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let state = service(&dir).await;
    let tenant = tenant(&state, "contoso").unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(
        super::tenant(&state, "fabrikam").err(),
        Some(JourneyProblem::UnknownTenant("fabrikam".into()))
    );

    let unknown = start(
        &state,
        &tenant,
        Some("B2C_1_nope"),
        authorize(&[]),
        browser(),
    )
    .await;
    assert!(unknown.binding.is_none());
    assert!(matches!(
        unknown.next,
        Err(JourneyProblem::UnknownPolicy { .. })
    ));

    let silent = start(
        &state,
        &tenant,
        Some("B2C_1_susi"),
        authorize(&[("prompt", "none")]),
        browser(),
    )
    .await;
    assert!(silent.binding.is_none());
    let next = silent.next.unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(error_of(&next).as_deref(), Some("login_required"));
}
