//! `/authorize` validation and responses: what is redirected and what is not, scopes,
//! implicit and hybrid flows, journey errors, logout.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use trustframe_oidc::{AuthorizeError, ErrorCode, JourneyError, LogoutError, Prompt, ResponseMode};

use crate::helpers::*;

#[tokio::test]
async fn client_and_redirect_uri_errors_are_never_redirected() {
    let env = env().await;
    let description = page_error(env.authorize(&[
        ("client_id", SPA),
        ("redirect_uri", "https://evil.example/cb"),
        ("response_type", "code"),
        ("scope", "openid"),
    ]));
    assert!(description.starts_with("AADB2C90006"), "{description}");
    // Exact match: no prefix, case or trailing-slash tolerance.
    for near in [
        "https://spa.example/cb/",
        "https://SPA.example/cb",
        "https://spa.example/cb?x=1",
    ] {
        let description = page_error(env.authorize(&[
            ("client_id", SPA),
            ("redirect_uri", near),
            ("response_type", "code"),
            ("scope", "openid"),
        ]));
        assert!(description.starts_with("AADB2C90006"), "{near}");
    }
    let description = page_error(env.authorize(&[
        ("client_id", "55555555-5555-5555-5555-555555555555"),
        ("redirect_uri", SPA_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
    ]));
    assert!(description.starts_with("AADB2C90018"), "{description}");
    let description = page_error(env.authorize(&[("response_type", "code")]));
    assert!(description.starts_with("AADB2C90008"), "{description}");
    // Two registered URIs and none given: nothing safe to redirect to.
    let description = page_error(env.authorize(&[
        ("client_id", SPA),
        ("response_type", "code"),
        ("scope", "openid"),
    ]));
    assert!(description.starts_with("AADB2C90083"), "{description}");
    // A repeated client_id is ambiguous.
    let err = env.authorize(&[("client_id", SPA), ("client_id", WEB)]);
    assert!(matches!(err, Err(AuthorizeError::Page { .. })));
}

#[tokio::test]
async fn redirect_uri_may_be_omitted_with_a_single_registration() {
    let env = env().await;
    let req = env
        .authorize(&[
            ("client_id", WEB),
            ("response_type", "code"),
            ("scope", "openid"),
        ])
        .unwrap();
    assert_eq!(req.redirect_uri, WEB_REDIRECT);
    assert!(!req.redirect_uri_in_request);
    // Then the token request need not repeat it.
    let code = env.issue(&req).await.param("code").unwrap().to_owned();
    let ok = env
        .token(
            &[("grant_type", "authorization_code"), ("code", &code)],
            Some((WEB, WEB_SECRET)),
        )
        .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn scope_errors_use_b2c_codes() {
    let env = env().await;
    let (_, challenge) = pkce();
    let attempt = |scope: &'static str| {
        let challenge = challenge.clone();
        let env = &env;
        move || {
            env.authorize(&[
                ("client_id", SPA),
                ("redirect_uri", SPA_REDIRECT),
                ("response_type", "code"),
                ("scope", scope),
                ("state", "s1"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
        }
    };
    let cases: [(&'static str, &str, ErrorCode); 6] = [
        // The app has no permission on the other API.
        (OTHER_SCOPE, "AADB2C90205", ErrorCode::UnauthorizedClient),
        // Exposed by the API but not granted to the SPA.
        (TASKS_WRITE, "AADB2C90205", ErrorCode::UnauthorizedClient),
        (
            "https://contoso.onmicrosoft.com/todo-api/tasks.delete",
            "AADB2C90117",
            ErrorCode::InvalidScope,
        ),
        ("read", "AADB2C90055", ErrorCode::InvalidScope),
        ("offline_access", "AADB2C90115", ErrorCode::InvalidRequest),
        ("", "AADB2C90010", ErrorCode::InvalidRequest),
    ];
    for (scope, code, error) in cases {
        let response = redirect_error(attempt(scope)());
        assert!(
            response.error_description().unwrap().starts_with(code),
            "{scope}: {:?}",
            response.error_description()
        );
        assert_eq!(response.param("error"), Some(error.as_str()), "{scope}");
        assert_eq!(response.param("state"), Some("s1"));
    }
    let response = redirect_error(env.authorize(&[
        ("client_id", WEB),
        ("response_type", "code"),
        ("scope", "https://contoso.onmicrosoft.com/todo-api/tasks.read 22222222-2222-2222-2222-222222222222"),
    ]));
    assert!(
        response
            .error_description()
            .unwrap()
            .starts_with("AADB2C90146")
    );
}

#[tokio::test]
async fn response_type_and_mode_errors() {
    let env = env().await;
    let base = [
        ("client_id", WEB),
        ("redirect_uri", WEB_REDIRECT),
        ("scope", "openid"),
        ("nonce", "n"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = base.to_vec();
        v.extend_from_slice(extra);
        env.authorize(&v)
    };
    let r = redirect_error(with(&[("response_type", "code bogus")]));
    assert_eq!(r.param("error"), Some("unsupported_response_type"));
    assert!(r.error_description().unwrap().starts_with("AADB2C90013"));
    let r = redirect_error(with(&[
        ("response_type", "code"),
        ("response_mode", "web_message"),
    ]));
    assert!(r.error_description().unwrap().starts_with("AADB2C90014"));
    // Tokens never travel in a query string.
    let r = redirect_error(with(&[
        ("response_type", "id_token"),
        ("response_mode", "query"),
    ]));
    assert!(r.error_description().unwrap().starts_with("AADB2C90014"));
    assert_eq!(r.response_mode, ResponseMode::Fragment);
    let r = redirect_error(with(&[("response_type", "code"), ("prompt", "sometimes")]));
    assert!(r.error_description().unwrap().starts_with("AADB2C90043"));
    let r = redirect_error(with(&[("response_type", "code"), ("max_age", "-1")]));
    assert!(r.error_description().unwrap().starts_with("AADB2C90120"));
}

#[tokio::test]
async fn implicit_id_token_refused_unless_allowed() {
    let env = env().await;
    let response = redirect_error(env.authorize(&[
        ("client_id", SPA),
        ("redirect_uri", SPA_REDIRECT),
        ("response_type", "id_token"),
        ("scope", "openid"),
        ("nonce", "n"),
    ]));
    assert_eq!(response.param("error"), Some("unauthorized_client"));
    assert!(
        response
            .error_description()
            .unwrap()
            .starts_with("AADB2C90057")
    );
    assert_eq!(response.response_mode, ResponseMode::Fragment);
    assert!(
        response
            .redirect_url()
            .unwrap()
            .starts_with("https://spa.example/cb#error=")
    );

    // Allowed for the web app; openid and nonce are required.
    let response = redirect_error(env.authorize(&[
        ("client_id", WEB),
        ("response_type", "id_token"),
        ("scope", "offline_access"),
        ("nonce", "n"),
    ]));
    assert!(
        response
            .error_description()
            .unwrap()
            .starts_with("AADB2C90110")
    );
    let response = redirect_error(env.authorize(&[
        ("client_id", WEB),
        ("response_type", "id_token"),
        ("scope", "openid"),
    ]));
    assert!(
        response
            .error_description()
            .unwrap()
            .starts_with("AADB2C90083")
    );

    let req = env
        .authorize(&[
            ("client_id", WEB),
            ("response_type", "id_token"),
            ("scope", "openid"),
            ("nonce", "implicit-nonce"),
            ("state", "s"),
            ("response_mode", "form_post"),
        ])
        .unwrap();
    let response = env.issue(&req).await;
    assert_eq!(response.response_mode, ResponseMode::FormPost);
    assert!(response.redirect_url().is_none());
    assert!(response.param("code").is_none());
    let (_, claims) = env.verify(response.param("id_token").unwrap(), WEB);
    assert_eq!(claims["nonce"], "implicit-nonce");
    assert!(claims.get("c_hash").is_none());
    assert_eq!(response.param("state"), Some("s"));
}

fn left_half_hash(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[tokio::test]
async fn hybrid_flow_binds_code_and_token_to_the_id_token() {
    let env = env().await;
    let req = env
        .authorize(&[
            ("client_id", WEB),
            ("response_type", "code id_token token"),
            ("scope", &format!("openid {TASKS_READ}")),
            ("nonce", "hybrid"),
            ("client_info", "1"),
        ])
        .unwrap();
    let response = env.issue(&req).await;
    assert_eq!(response.response_mode, ResponseMode::Fragment);
    let code = response.param("code").unwrap();
    let access_token = response.param("access_token").unwrap();
    assert_eq!(response.param("token_type"), Some("Bearer"));
    assert_eq!(response.param("expires_in"), Some("3600"));
    let (_, claims) = env.verify(response.param("id_token").unwrap(), WEB);
    assert_eq!(claims["c_hash"], left_half_hash(code));
    assert_eq!(claims["at_hash"], left_half_hash(access_token));
    let (_, at) = env.verify(access_token, API);
    assert_eq!(at["scp"], "tasks.read");
    assert!(response.param("client_info").is_some());
    // The code is still redeemable at the token endpoint.
    let tokens = env
        .token(
            &[("grant_type", "authorization_code"), ("code", code)],
            Some((WEB, WEB_SECRET)),
        )
        .await
        .unwrap();
    assert!(tokens.access_token.is_some());
}

#[tokio::test]
async fn journey_errors_go_back_with_state() {
    let env = env().await;
    let (_, challenge) = pkce();
    let req = env
        .authorize(&[
            ("client_id", SPA),
            ("redirect_uri", SPA_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "abc"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("prompt", "login"),
            ("login_hint", "ada@example.com"),
            ("ui_locales", "fr"),
            ("unknown_parameter", "ignored"),
        ])
        .unwrap();
    assert!(req.has_prompt(Prompt::Login));
    assert_eq!(req.login_hint.as_deref(), Some("ada@example.com"));
    assert_eq!(req.ui_locales.as_deref(), Some("fr"));
    // The validated request survives the journey state round trip.
    let json = serde_json::to_string(&req).unwrap();
    assert_eq!(
        serde_json::from_str::<trustframe_oidc::ValidatedAuthorize>(&json).unwrap(),
        req
    );

    let cancelled = env.svc.authorize_error(&req, &JourneyError::UserCancelled);
    assert_eq!(cancelled.param("error"), Some("access_denied"));
    assert!(
        cancelled
            .error_description()
            .unwrap()
            .starts_with("AADB2C90091")
    );
    assert_eq!(cancelled.param("state"), Some("abc"));
    let forgot = env.svc.authorize_error(&req, &JourneyError::ForgotPassword);
    assert_eq!(forgot.param("error"), Some("access_denied"));
    assert!(
        forgot
            .error_description()
            .unwrap()
            .starts_with("AADB2C90118")
    );
    let url = forgot.redirect_url().unwrap();
    assert!(
        url.starts_with("https://spa.example/cb?error=access_denied&error_description=AADB2C90118")
    );
    assert!(url.ends_with("&state=abc"));
}

#[tokio::test]
async fn logout_redirects_only_to_registered_uris() {
    let env = env().await;
    let outcome = env
        .svc
        .logout(&pairs(&[
            ("client_id", WEB),
            ("post_logout_redirect_uri", "https://web.example/signed-out"),
            ("state", "bye"),
        ]))
        .unwrap();
    assert_eq!(
        outcome.redirect_url.as_deref(),
        Some("https://web.example/signed-out?state=bye")
    );
    // A registered redirect URI is accepted too.
    assert!(
        env.svc
            .logout(&pairs(&[
                ("client_id", WEB),
                ("post_logout_redirect_uri", WEB_REDIRECT),
            ]))
            .is_ok()
    );
    let err = env
        .svc
        .logout(&pairs(&[
            ("client_id", WEB),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ]))
        .unwrap_err();
    assert!(matches!(err, LogoutError::NotRegistered { .. }));
    // No app named: a URI some app of the tenant registered, once the user confirms.
    let outcome = env
        .svc
        .logout(&pairs(&[(
            "post_logout_redirect_uri",
            "https://web.example/signed-out",
        )]))
        .unwrap();
    assert!(outcome.confirm && outcome.client_id.is_none());
    assert_eq!(
        outcome.redirect_url.as_deref(),
        Some("https://web.example/signed-out")
    );
    let err = env
        .svc
        .logout(&pairs(&[(
            "post_logout_redirect_uri",
            "https://evil.example/",
        )]))
        .unwrap_err();
    assert!(matches!(err, LogoutError::NotRegisteredForTenant { .. }));
    // No redirect asked for: the server shows its signed-out page.
    let outcome = env.svc.logout(&[]).unwrap();
    assert!(outcome.redirect_url.is_none() && outcome.confirm);

    // id_token_hint identifies the app (expired hints are fine).
    let req = env
        .authorize(&[
            ("client_id", WEB),
            ("response_type", "id_token"),
            ("scope", "openid"),
            ("nonce", "n"),
        ])
        .unwrap();
    let id_token = env.issue(&req).await.param("id_token").unwrap().to_owned();
    env.clock.advance(10 * 3600);
    let outcome = env
        .svc
        .logout(&pairs(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "https://web.example/signed-out"),
        ]))
        .unwrap();
    assert_eq!(outcome.client_id.as_deref(), Some(WEB));
    assert_eq!(outcome.hinted_subject.as_deref(), Some(OID));
    assert!(!outcome.confirm, "a valid hint needs no confirmation");
    // A hint that is not one of our ID tokens is no hint: the user is asked.
    let outcome = env
        .svc
        .logout(&pairs(&[("id_token_hint", "not.a.token")]))
        .unwrap();
    assert!(outcome.confirm && outcome.hinted_subject.is_none());
    let err = env
        .svc
        .logout(&pairs(&[("id_token_hint", &id_token), ("client_id", SPA)]))
        .unwrap_err();
    assert!(matches!(err, LogoutError::ClientMismatch { .. }));
}
