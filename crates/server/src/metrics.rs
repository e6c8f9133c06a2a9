//! Prometheus metrics at `/metrics`: the connectors' calls, errors and latency, and the
//! journeys' outcomes.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::Tenant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub tenant: String,
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    /// Journeys ended, by outcome (`tokens`, `error`, `blocked`).
    pub journeys: Family<OutcomeLabels, Counter>,
    /// Token endpoint answers, by outcome (`ok` or the OAuth error code).
    pub token_requests: Family<OutcomeLabels, Counter>,
}

impl Metrics {
    pub fn new(tenants: &[Arc<Tenant>]) -> Self {
        // No registry prefix: the connector's metrics already carry `trustframe_connector_`.
        let mut registry = Registry::default();
        let journeys = Family::<OutcomeLabels, Counter>::default();
        let token_requests = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "trustframe_journeys",
            "Journeys ended, by outcome",
            journeys.clone(),
        );
        registry.register(
            "trustframe_token_requests",
            "Token endpoint answers, by outcome",
            token_requests.clone(),
        );
        for t in tenants {
            let sub = registry.sub_registry_with_label(("tenant".into(), t.name.clone().into()));
            sub.register(
                "trustframe_password_hashing_cpu_seconds",
                "CPU time spent in argon2id, hashing and verifying passwords",
                t.directory.hasher.cpu_seconds.clone(),
            );
            t.rest.connector.register_metrics(sub);
        }
        Self {
            registry,
            journeys,
            token_requests,
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        out
    }

    pub fn journey(&self, tenant: &str, outcome: &str) {
        self.journeys
            .get_or_create(&OutcomeLabels {
                tenant: tenant.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn token(&self, tenant: &str, outcome: &str) {
        self.token_requests
            .get_or_create(&OutcomeLabels {
                tenant: tenant.into(),
                outcome: outcome.into(),
            })
            .inc();
    }
}
