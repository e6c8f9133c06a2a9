//! End-to-end tests: a real server on 127.0.0.1:0, driven as a browser would.

mod api_connectors;
mod federation;
mod helpers;
mod local_accounts;
mod protocol;
