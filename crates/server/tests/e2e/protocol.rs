//! The protocol as clients see it: metadata, keys, PKCE, codes, secrets, errors, and a
//! relying-party library of the ecosystem (the `openidconnect` crate) checking our tokens.

use crate::helpers::*;

#[tokio::test]
async fn metadata_in_both_url_forms_and_case_insensitive() {
    let app = spawn_app("").await;
    let client = reqwest::Client::new();
    for url in [
        format!(
            "{}/contoso/B2C_1_susi/v2.0/.well-known/openid-configuration",
            app.base
        ),
        format!(
            "{}/CONTOSO.onmicrosoft.com/b2c_1_SUSI/v2.0/.well-known/openid-configuration",
            app.base
        ),
        format!(
            "{}/{TENANT_ID}/v2.0/.well-known/openid-configuration?p=B2C_1_susi",
            app.base
        ),
    ] {
        let doc: serde_json::Value = client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        assert_eq!(
            doc["issuer"],
            format!("{}/{TENANT_ID}/v2.0/", app.base),
            "{url}"
        );
        assert!(
            doc["jwks_uri"]
                .as_str()
                .is_some_and(|u| u.ends_with("/discovery/v2.0/keys")),
            "{doc}"
        );
        assert!(
            doc["claims_supported"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x == "emails")),
            "{doc}"
        );
        let jwks: serde_json::Value = client
            .get(doc["jwks_uri"].as_str().unwrap_or_default())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        let key = &jwks["keys"][0];
        for field in ["kid", "use", "kty", "n", "e"] {
            assert!(key[field].is_string(), "{field} missing in {jwks}");
        }
    }
    let unknown = client
        .get(format!(
            "{}/contoso/B2C_1_nope/v2.0/.well-known/openid-configuration",
            app.base
        ))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn unregistered_redirect_uri_and_unknown_policy_never_redirect() {
    let app = spawn_app("").await;
    let browser = Browser::new(&app);
    let bad = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[])
        .replace("127.0.0.1%3A9%2Fcallback", "evil.example%2Fcb");
    let page = browser.get(&bad).await.page();
    assert_eq!(page.status, 400);
    assert!(
        page.alert().is_some_and(|a| a.contains("AADB2C90006")),
        "{:?}",
        page.alert()
    );
    let unknown = browser
        .get(&authorize_url(&app, "B2C_1_nope", WEB_CLIENT, &[]))
        .await
        .page();
    assert_eq!(unknown.status, 404);
    let unknown_client = browser
        .get(&authorize_url(
            &app,
            "B2C_1_susi",
            "99999999-0000-0000-0000-000000000000",
            &[],
        ))
        .await
        .page();
    assert_eq!(unknown_client.status, 400);
}

#[tokio::test]
async fn pkce_is_required_for_public_clients_and_checked() {
    let app = spawn_app("").await;
    let browser = Browser::new(&app);
    let missing = browser
        .get(&authorize_url(&app, "B2C_1_susi", SPA_CLIENT, &[]))
        .await
        .callback();
    assert_eq!(missing.get("error"), Some("invalid_request"), "{missing:?}");
    assert!(
        missing
            .get("error_description")
            .is_some_and(|d| d.starts_with("AADB2C")),
        "{missing:?}"
    );

    let (_verifier, challenge) = pkce();
    let start = authorize_url(
        &app,
        "B2C_1_susi",
        SPA_CLIENT,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let callback = sign_up(&browser, &start, &unique_email("spa"), "spa").await;
    let code = callback.get("code").unwrap_or_default().to_owned();
    let form = |verifier: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("client_id", SPA_CLIENT.to_owned()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_verifier", verifier.to_owned()),
        ]
    };
    let (status, body) = token_request(&app, &form(&pkce().0)).await;
    assert_eq!(status, 400, "wrong verifier: {body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn codes_are_single_use_and_a_replay_revokes_the_refresh_token() {
    let app = spawn_app("").await;
    let browser = Browser::new(&app);
    let callback = sign_up(
        &browser,
        &authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]),
        &unique_email("replay"),
        "r",
    )
    .await;
    let code = callback.get("code").unwrap_or_default();
    let (status, first) = redeem(&app, code, None).await;
    assert_eq!(status, 200);
    let (status, second) = redeem(&app, code, None).await;
    assert_eq!(status, 400, "{second}");
    assert_eq!(second["error"], "invalid_grant");
    let (status, refreshed) = token_request(
        &app,
        &[
            ("grant_type", "refresh_token".to_owned()),
            ("client_id", WEB_CLIENT.to_owned()),
            ("client_secret", WEB_SECRET.to_owned()),
            (
                "refresh_token",
                first["refresh_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ),
        ],
    )
    .await;
    assert_eq!(
        status, 400,
        "the replay revoked what the code issued: {refreshed}"
    );
}

#[tokio::test]
async fn wrong_client_secret_is_refused_in_both_auth_methods() {
    let app = spawn_app("").await;
    let browser = Browser::new(&app);
    let callback = sign_up(
        &browser,
        &authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]),
        &unique_email("secret"),
        "s",
    )
    .await;
    let code = callback.get("code").unwrap_or_default().to_owned();
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "authorization_code".to_owned()),
            ("client_id", WEB_CLIENT.to_owned()),
            ("client_secret", "nope".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
        ],
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    let r = reqwest::Client::new()
        .post(format!("{}/contoso/B2C_1_susi/oauth2/v2.0/token", app.base))
        .basic_auth(WEB_CLIENT, Some("nope"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401);
    // The right secret over Basic still works: the failures above did not burn the code.
    let r = reqwest::Client::new()
        .post(format!("{}/contoso/B2C_1_susi/oauth2/v2.0/token", app.base))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn expired_code_is_refused() {
    let app = spawn_app("[tokens]\ncode_lifetime_seconds = 30").await;
    let browser = Browser::new(&app);
    let callback = sign_up(
        &browser,
        &authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]),
        &unique_email("late"),
        "l",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(31)).await;
    let (status, body) = redeem(&app, callback.get("code").unwrap_or_default(), None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn access_token_for_an_api_scope_has_the_api_audience() {
    let app = spawn_app("").await;
    let browser = Browser::new(&app);
    let scope = "openid offline_access https://contoso.onmicrosoft.com/todo-api/tasks.read";
    let callback = sign_up(
        &browser,
        &authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[("scope", scope)]),
        &unique_email("api"),
        "a",
    )
    .await;
    let (status, tokens) = redeem(&app, callback.get("code").unwrap_or_default(), None).await;
    assert_eq!(status, 200, "{tokens}");
    let at = claims(
        tokens["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {tokens}")),
    );
    assert_eq!(at["aud"], API_CLIENT);
    assert_eq!(at["scp"], "tasks.read");
    assert_eq!(at["azp"], WEB_CLIENT);
    assert_eq!(at["tfp"], "B2C_1_susi");
}

/// The `openidconnect` crate (a certified-style relying party) discovers our metadata, redeems
/// the code with PKCE and verifies the ID token's signature, issuer, audience and nonce.
#[tokio::test]
async fn openidconnect_relying_party_accepts_our_tokens_and_rejects_a_tampered_one() {
    use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
    use openidconnect::{
        AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
        PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };

    let app = spawn_app("").await;
    let http = OidcHttp(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    // B2C's issuer differs from the metadata URL; openidconnect requires them to match, so it
    // is pointed at the issuer's own metadata document form (served at the issuer + policy).
    let metadata: CoreProviderMetadata = {
        let url = format!(
            "{}/contoso/B2C_1_susi/v2.0/.well-known/openid-configuration",
            app.base
        );
        let doc = reqwest::get(&url)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .text()
            .await
            .unwrap_or_default();
        let mut meta: CoreProviderMetadata =
            serde_json::from_str(&doc).unwrap_or_else(|e| panic!("metadata: {e}"));
        let jwks = reqwest::get(meta.jwks_uri().url().as_str())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .text()
            .await
            .unwrap_or_default();
        meta = meta.set_jwks(serde_json::from_str(&jwks).unwrap_or_else(|e| panic!("jwks: {e}")));
        meta
    };
    assert_eq!(
        metadata.issuer(),
        &IssuerUrl::new(format!("{}/{TENANT_ID}/v2.0/", app.base))
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(WEB_CLIENT.into()),
        Some(ClientSecret::new(WEB_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap_or_else(|e| panic!("{e}")));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("offline_access".into()))
        // As with B2C, an access token (which RFC 6749 clients require) comes with the app's
        // own client id as a scope.
        .add_scope(Scope::new(WEB_CLIENT.into()))
        .set_pkce_challenge(challenge)
        .url();
    let browser = Browser::new(&app);
    let callback = sign_up(&browser, url.as_str(), &unique_email("rp"), "rp").await;
    let code = callback
        .get("code")
        .unwrap_or_else(|| panic!("{callback:?}"));
    let response = client
        .exchange_code(AuthorizationCode::new(code.into()))
        .unwrap_or_else(|e| panic!("{e}"))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("token exchange: {e:?}"));
    let id_token = response.id_token().unwrap_or_else(|| panic!("no id_token"));
    let verified = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap_or_else(|e| panic!("verification: {e}"));
    assert_eq!(verified.audiences()[0].as_str(), WEB_CLIENT);

    // One changed character in the middle of the signature (the last one may only carry
    // padding bits that decoders ignore): refused.
    let text = id_token.to_string();
    let mut tampered = text.clone().into_bytes();
    let middle = text
        .rfind('.')
        .map(|dot| dot + (text.len() - dot) / 2)
        .unwrap_or(0);
    if let Some(c) = tampered.get_mut(middle) {
        *c = if *c == b'A' { b'B' } else { b'A' };
    }
    let tampered: openidconnect::core::CoreIdToken = String::from_utf8_lossy(&tampered)
        .parse()
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        tampered
            .claims(&client.id_token_verifier(), &nonce)
            .is_err(),
        "a tampered token must not verify"
    );
}

/// openidconnect's HTTP client over reqwest 0.13 (the crate ships one for an older reqwest).
pub struct OidcHttp(pub reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for OidcHttp {
    type Error = openidconnect::HttpClientError<reqwest::Error>;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<openidconnect::HttpResponse, Self::Error>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(Box::new)?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (k, v) in response.headers() {
                builder = builder.header(k, v);
            }
            let bytes = response.bytes().await.map_err(Box::new)?;
            builder
                .body(bytes.to_vec())
                .map_err(openidconnect::HttpClientError::Http)
        })
    }
}

#[tokio::test]
async fn https_with_a_dev_cert() {
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
    let browser = Browser::with_client(&app, reqwest::Client::builder().add_root_certificate(root));
    let callback = sign_up(
        &browser,
        &authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]),
        &unique_email("tls"),
        "t",
    )
    .await;
    assert!(callback.get("code").is_some());
}
