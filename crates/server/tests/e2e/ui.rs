//! What users see around the form: a customer's HTML template with our form in its `#api`
//! (a file, a URL), company branding, pages in French, the script's in-place submit, and the
//! token viewer's code + PKCE run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::routing::get;

use crate::helpers::*;

const TEMPLATE: &str = r#"<!DOCTYPE html>
<html><head><title>Contoso Air</title><link rel="stylesheet" href="css/air.css">
<script>document.title = "pwned"</script></head>
<body><header><img src="img/plane.svg" alt="Contoso Air"></header>
<div class="panel"><div id="api">The form goes here.</div></div>
<footer onclick="alert(1)"><a href="javascript:alert(2)">Terms</a></footer></body></html>"#;

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// A folder with a template, its stylesheet and an image.
fn template_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        std::fs::write(path, text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    };
    write("unified.html", TEMPLATE);
    write("css/air.css", "#api .entry { border: 2px solid #003366 }");
    write("img/plane.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>");
    write("secret.txt", "not for the web");
    dir
}

#[tokio::test]
async fn a_template_file_shows_our_form_inside_its_api_element_with_nothing_of_its_own_running() {
    let folder = template_folder();
    let unified = folder.path().join("unified.html");
    let app = spawn_app(&format!(
        "[ui]\npage_layouts = {{ \"api.signuporsignin\" = {:?} }}\n",
        unified.display().to_string()
    ))
    .await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let page = browser.get(&start).await.page();
    let response = browser
        .client
        .get(&page.url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {}: {e}", page.url));
    let csp = header(&response, "content-security-policy").to_owned();
    let body = response.text().await.unwrap_or_default();
    // The template, with our form inside #api and B2C's ids.
    assert!(body.contains("<title>Contoso Air</title>"), "{body}");
    let api = body
        .find(r#"<div id="api">"#)
        .unwrap_or_else(|| panic!("{body}"));
    let form = body.find(r#"id="localAccountForm""#).unwrap_or_default();
    let footer = body.find("<footer").unwrap_or_default();
    assert!(
        api < form && form < footer,
        "the form is not inside #api: {body}"
    );
    assert!(body.contains(r#"id="signInName""#) && body.contains(r#"id="createAccount""#));
    assert!(!body.contains("The form goes here."));
    // Its own script, handler and javascript: link are gone; ours is there, first.
    assert!(
        !body.contains("pwned") && !body.contains("alert("),
        "{body}"
    );
    assert!(body.find("/_static/trustframe.js") < body.find("air.css"));
    assert!(!csp.contains("unsafe-inline'; img") || !csp.contains("script-src 'unsafe-inline'"));
    assert!(csp.contains("script-src 'self'"), "{csp}");
    // Its stylesheet and image are served from its folder; nothing else is.
    let css_url = format!("{}/_layouts/contoso/0/css/air.css", app.base);
    assert!(
        body.contains(&css_url.replace('/', "&#x2f;")) || body.contains(&css_url),
        "{body}"
    );
    let css = reqwest::get(&css_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(css.status(), 200);
    assert!(header(&css, "content-type").starts_with("text/css"));
    for refused in ["secret.txt", "..%2Funified.html", "css/../unified.html"] {
        let r = reqwest::get(format!("{}/_layouts/contoso/0/{refused}", app.base))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 404, "{refused}");
    }
    // The sign-up page has no template: ours.
    let html = Html {
        status: reqwest::StatusCode::OK,
        url: start.clone(),
        body,
    };
    let sign_up = browser
        .get(&html.href_of("createAccount").unwrap_or_default())
        .await
        .page();
    assert!(sign_up.body.contains(r#"href="/_static/trustframe.css""#));
    assert!(
        sign_up
            .body
            .contains(r#"<div id="api" data-name="SelfAsserted">"#)
    );
}

#[tokio::test]
async fn a_template_url_is_fetched_once_and_one_that_fails_leaves_the_built_in_page() {
    let fetched = Arc::new(AtomicUsize::new(0));
    let counter = fetched.clone();
    let site = axum::Router::new()
        .route(
            "/b2c/unified.html",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { axum::response::Html(TEMPLATE) }
            }),
        )
        .route(
            "/b2c/broken.html",
            get(|| async { (axum::http::StatusCode::NOT_FOUND, "gone") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let cdn = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().map(|a| a.port()).unwrap_or_default()
    );
    tokio::spawn(async move { axum::serve(listener, site).await });
    let app = spawn_app(&format!(
        "[ui]\npage_layouts = {{ \"api.signuporsignin\" = \"{cdn}/b2c/unified.html\", \"api.localaccountsignup\" = \"{cdn}/b2c/broken.html\" }}\n"
    ))
    .await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let mut sign_up_link = String::new();
    for _ in 0..3 {
        let page = browser.get(&start).await.page();
        assert!(
            page.body.contains("<title>Contoso Air</title>"),
            "{}",
            page.body
        );
        // Relative URLs point at the template's own site.
        assert!(page.body.contains(&format!("{cdn}/b2c/css/air.css")));
        sign_up_link = page.href_of("createAccount").unwrap_or_default();
    }
    assert_eq!(fetched.load(Ordering::SeqCst), 1, "fetched once, at start");
    // The page whose template cannot be loaded still works, in our layout.
    let sign_up = browser.get(&sign_up_link).await.page();
    assert_eq!(sign_up.status, 200);
    assert!(
        sign_up.body.contains(r#"id="attributeVerification""#),
        "{}",
        sign_up.body
    );
}

#[tokio::test]
async fn a_template_file_that_cannot_be_used_stops_the_start_with_its_name() {
    let folder = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let no_api = folder.path().join("no-api.html");
    std::fs::write(&no_api, "<html><body><div id=\"main\"></div></body></html>")
        .unwrap_or_else(|e| panic!("{e}"));
    let missing = folder.path().join("missing.html");
    for (file, expected) in [(&no_api, "no <div id=\"api\">"), (&missing, "missing.html")] {
        let text = config_text(
            "http://127.0.0.1:9",
            &format!(
                "[ui]\npage_layouts = {{ \"api.signuporsignin\" = {:?} }}\n",
                file.display().to_string()
            ),
        );
        let error = start_refused(&text, folder.path()).await;
        assert!(error.contains(expected), "{error}");
        assert!(error.contains("api.signuporsignin"), "{error}");
    }
    // A page id that B2C does not have is refused with its key.
    let text = config_text(
        "http://127.0.0.1:9",
        "[ui]\npage_layouts = { \"api.signin\" = \"x.html\" }\n",
    );
    match trustframe_server::Config::parse(
        &text,
        &folder.path().join("trustframe.toml"),
        std::iter::empty(),
    ) {
        Ok(_) => panic!("api.signin was accepted"),
        Err(e) => assert!(e.to_string().contains("ui.page_layouts.api.signin"), "{e}"),
    }
}

#[tokio::test]
async fn branding_and_french_dress_the_sign_in_page() {
    let folder = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let logo = folder.path().join("logo.svg");
    std::fs::write(
        &logo,
        "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_app(&format!(
        "[ui.branding]\nlogo = {:?}\nprimary_color = \"#8A2BE2\"\nsign_in_text = \"Welcome to <Contoso>\"\n[ui.branding.languages.fr]\nsign_in_text = \"Bienvenue chez Contoso\"\n",
        logo.display().to_string()
    ))
    .await;
    let browser = Browser::new(&app);
    let english = browser
        .get(&authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]))
        .await
        .page();
    // Text from the config is escaped like any other.
    assert!(
        english.body.contains("Welcome to &lt;Contoso&gt;"),
        "{}",
        english.body
    );
    assert!(english.body.contains(r#"<html lang="en">"#));
    let logo_url = english
        .body
        .split(r#"id="bannerLogo" src=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no logo: {}", english.body))
        .replace("&#x2f;", "/");
    let image = reqwest::get(format!("{}{logo_url}", app.base))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(image.status(), 200);
    assert_eq!(header(&image, "content-type"), "image/svg+xml");
    let css_url = english
        .body
        .split("<link rel=\"stylesheet\" href=\"")
        .filter_map(|rest| rest.split('"').next())
        .map(|u| u.replace("&#x2f;", "/"))
        .find(|u| u.starts_with("/_branding/"))
        .unwrap_or_else(|| panic!("no branding stylesheet: {}", english.body));
    let css = reqwest::get(format!("{}{css_url}", app.base))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(css.contains("--accent: #8a2be2"), "{css}");

    let french = Browser::new(&app)
        .get(&authorize_url(
            &app,
            "B2C_1_susi",
            WEB_CLIENT,
            &[("ui_locales", "fr-FR")],
        ))
        .await
        .page();
    for words in [
        r#"<html lang="fr">"#,
        "Bienvenue chez Contoso",
        "Se connecter",
        "Adresse e-mail",
        "Mot de passe oublié ?",
        "Inscrivez-vous maintenant",
    ] {
        assert!(french.body.contains(words), "no {words}: {}", french.body);
    }
    // The same logo, in every language.
    assert!(
        french.body.contains(&logo_url.replace('/', "&#x2f;")),
        "{}",
        french.body
    );
}

#[tokio::test]
async fn a_form_the_script_submits_learns_where_the_browser_goes_instead_of_following() {
    let app = spawn_app("").await;
    let browser = Browser::new(&app);
    let email = unique_email("script");
    // An account, then a sign-in page whose form the script submits.
    sign_up(
        &browser,
        &authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]),
        &email,
        "sc",
    )
    .await;
    let fresh = Browser::new(&app);
    let page = fresh
        .get(&authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]))
        .await
        .page();
    let action = page.form_action().unwrap_or_default();
    let mut form = vec![
        (
            "csrf".to_owned(),
            page.input_value("csrf").unwrap_or_default(),
        ),
        ("signInName".to_owned(), email.clone()),
        ("password".to_owned(), "wrong-Passw0rd".to_owned()),
        ("action".to_owned(), "continue".to_owned()),
    ];
    let submit = |form: Vec<(String, String)>| {
        let client = fresh.client.clone();
        let url = format!("{}{action}", app.base);
        async move {
            client
                .post(&url)
                .header("X-Trustframe-Submit", "1")
                .form(&form)
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST {url}: {e}"))
        }
    };
    // A wrong password: the page again (same origin), as before.
    let again = submit(form.clone()).await;
    assert!(again.status().is_redirection(), "{}", again.status());
    assert!(header(&again, "location").starts_with('/'));
    let page = fresh.get(header(&again, "location")).await.page();
    form[0].1 = page.input_value("csrf").unwrap_or_default();
    form[2].1 = PASSWORD.to_owned();
    // The right one: `fetch` follows our own redirects (keeping the header); the app's
    // redirect URI is named, not followed.
    let mut done = submit(form).await;
    while done.status().is_redirection() {
        let next = format!("{}{}", app.base, header(&done, "location"));
        assert!(header(&done, "location").starts_with('/'), "{next}");
        done = fresh
            .client
            .get(&next)
            .header("X-Trustframe-Submit", "1")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {next}: {e}"));
    }
    assert_eq!(done.status(), 200);
    assert!(header(&done, "location").is_empty());
    let target = header(&done, "x-trustframe-location").to_owned();
    let body = done.text().await.unwrap_or_default();
    assert!(
        target.starts_with(REDIRECT) && target.contains("code="),
        "{target} {body}"
    );
}

#[tokio::test]
async fn the_token_viewer_runs_a_flow_with_pkce_and_shows_all_three_tokens() {
    let app = spawn_app(
        "[[applications]]\nname = \"viewer\"\nclient_id = \"55556666-ffff-7777-aaaa-888899990000\"\nredirect_uris = [\"@BASE@/token-viewer\"]\napi_permissions = [\"https://contoso.onmicrosoft.com/todo-api/tasks.read\"]\n",
    )
    .await;
    let browser = Browser::new(&app);
    let home = browser.get("/").await.page();
    let run = home
        .href_of("run-B2C_1_susi")
        .unwrap_or_else(|| panic!("no run link: {}", home.body));
    assert!(run.starts_with("/token-viewer/run?"), "{run}");
    let email = unique_email("viewer-pkce");
    // Signing up ends at the viewer (form_post to this server), which redeems the code.
    let viewer = crate::verification::sign_up_via(
        &browser,
        &run,
        &email,
        "pk",
        crate::verification::Codes::Mailbox,
    )
    .await
    .page();
    for text in [
        "ID token",
        "Access token",
        "Refresh token",
        "Signature verified",
        "tasks.read",
        "Scopes granted to the application",
        " UTC",
        "Authorization: Bearer",
    ] {
        assert!(viewer.body.contains(text), "no {text}: {}", viewer.body);
    }
    assert!(viewer.body.contains(&email));
    // The run's cookie is spent: the same code again is refused.
    let again = browser
        .post_form(
            &format!("{}/token-viewer", app.base),
            &[("code".into(), "x".into()), ("state".into(), "y".into())],
        )
        .await
        .page();
    assert!(
        again.body.contains("could not be redeemed"),
        "{}",
        again.body
    );
}
