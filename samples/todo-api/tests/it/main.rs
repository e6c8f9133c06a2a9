//! The sample API end to end: a test issuer shaped like a B2C policy, the API on 127.0.0.1:0,
//! and an HTTP client doing what the docs' Postman steps do.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
