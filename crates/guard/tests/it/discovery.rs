//! Discovery: both B2C metadata URL shapes, an issuer unlike the metadata URL, HTTPS with an
//! extra trusted CA.

use std::io::Write;

use trustframe_guard::Guard;
use trustframe_guard::test_issuer::{AUDIENCE, TENANT, TestIssuer};

use crate::helpers::{guard_for, ready, spawn_api};

#[tokio::test]
async fn the_query_form_of_the_metadata_url_works() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(Guard::builder(issuer.metadata_url_with_query()).audience(AUDIENCE)).await;
    let api = spawn_api(&guard).await;
    assert_eq!(
        api.get("/api/values", Some(&issuer.token().sign()))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_issuer_comes_from_the_metadata_not_from_its_url() {
    let issuer = TestIssuer::start().await.unwrap();
    assert!(!issuer.metadata_url().starts_with(&issuer.issuer()));
    let guard = ready(guard_for(&issuer)).await;
    let api = spawn_api(&guard).await;
    // A token claiming the metadata URL's own prefix as issuer is not from the trusted issuer.
    let url_like = format!(
        "{}/{TENANT}/v2.0/",
        issuer.metadata_url().split("/contoso").next().unwrap()
    );
    let reply = api
        .get(
            "/api/values",
            Some(&issuer.token().issuer(&url_like).sign()),
        )
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.description(),
        "the token was not issued by the trusted issuer"
    );
}

#[tokio::test]
async fn https_with_an_extra_trusted_ca() {
    let issuer = TestIssuer::start_https().await.unwrap();
    assert!(issuer.metadata_url().starts_with("https://127.0.0.1:"));

    // Without the CA: a clear error, and requests are refused.
    let untrusting = guard_for(&issuer).build().unwrap();
    let error = untrusting.ready().await.unwrap_err().to_string();
    assert!(
        error.starts_with("cannot fetch the OpenID metadata from https://"),
        "{error}"
    );
    assert!(error.to_lowercase().contains("certificate"), "{error}");

    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    ca_file
        .write_all(issuer.ca_pem().unwrap().as_bytes())
        .unwrap();
    let guard = ready(guard_for(&issuer).ca_file(ca_file.path())).await;
    let api = spawn_api(&guard).await;
    let reply = api.get("/api/values", Some(&issuer.token().sign())).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn a_ca_file_without_certificates_is_refused_at_build() {
    let issuer = TestIssuer::start().await.unwrap();
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    ca_file.write_all(b"not a certificate").unwrap();
    let error = guard_for(&issuer)
        .ca_file(ca_file.path())
        .build()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("cannot use the trusted CA file"),
        "{error}"
    );
}
