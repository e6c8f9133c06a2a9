//! The layer in a plain tower stack, without axum's router or extractors.

use std::convert::Infallible;

use http::{Request, Response};
use tower::{ServiceBuilder, ServiceExt};
use trustframe_guard::TokenClaims;
use trustframe_guard::test_issuer::TestIssuer;

use crate::helpers::{guard_for, ready};

#[tokio::test]
async fn the_layer_guards_any_tower_service() {
    let issuer = TestIssuer::start().await.unwrap();
    let guard = ready(guard_for(&issuer)).await;
    let service = ServiceBuilder::new()
        .layer(guard.layer().scope("tasks.read"))
        .service_fn(|request: Request<String>| async move {
            let sub = request
                .extensions()
                .get::<TokenClaims>()
                .and_then(|c| c.subject().map(String::from))
                .unwrap_or_default();
            Ok::<_, Infallible>(Response::new(format!("hello {sub}")))
        });

    let call = |authorization: Option<String>| {
        let service = service.clone();
        async move {
            let mut request = Request::builder().uri("/anything");
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            let response = service
                .oneshot(request.body(String::new()).unwrap())
                .await
                .unwrap();
            let status = response.status().as_u16();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, challenge, String::from_utf8(body.to_vec()).unwrap())
        }
    };

    let (status, challenge, _) = call(None).await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")));
    let reader = issuer
        .token()
        .claim("sub", "u-9")
        .scopes("tasks.read")
        .sign();
    let (status, _, body) = call(Some(format!("Bearer {reader}"))).await;
    assert_eq!((status, body.as_str()), (200, "hello u-9"));
    let (status, challenge, _) = call(Some(format!("Bearer {}", issuer.token().sign()))).await;
    assert_eq!(status, 403);
    assert!(challenge.unwrap().contains(r#"scope="tasks.read""#));
}
