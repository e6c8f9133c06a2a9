//! Prometheus metrics per technical profile.

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use serde_json::json;
use trustframe_connector::KeyStore;

use crate::helpers::*;

#[tokio::test]
async fn calls_errors_retries_and_latency_per_technical_profile() {
    let pki = Pki::new();
    let api = spawn_api(Tls::Server(&pki), |_, seen| {
        if seen.path == "/ok" {
            Reply::json(200, json!({}))
        } else {
            Reply::json(503, json!({}))
        }
    })
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    let mut registry = Registry::default();
    h.connector.register_metrics(&mut registry);

    let ok = tp(&api.url("/ok")).id("REST-Ok");
    let down = tp(&api.url("/down")).id("REST-Down").meta("Retries", "1");
    h.exchange(&ok, &claims(&[])).await;
    h.exchange(&ok, &claims(&[])).await;
    h.exchange(&down, &claims(&[])).await;

    let mut text = String::new();
    encode(&mut text, &registry).unwrap();
    for line in [
        r#"trustframe_connector_calls_total{technical_profile="REST-Ok",outcome="continue"} 2"#,
        r#"trustframe_connector_calls_total{technical_profile="REST-Down",outcome="failed"} 1"#,
        r#"trustframe_connector_errors_total{technical_profile="REST-Down",reason="status_503"} 1"#,
        r#"trustframe_connector_retries_total{technical_profile="REST-Down"} 1"#,
        r#"trustframe_connector_call_duration_seconds_count{technical_profile="REST-Ok"} 2"#,
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
}
