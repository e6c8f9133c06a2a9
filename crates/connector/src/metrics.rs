//! Prometheus metrics per technical profile: calls by outcome, failures by reason, latency.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CallLabels {
    pub technical_profile: String,
    /// `continue`, `validation_error`, `block`, `failed`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ErrorLabels {
    pub technical_profile: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ProfileLabels {
    pub technical_profile: String,
}

fn latency_histogram() -> Histogram {
    // 5 ms … ~80 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

#[derive(Clone)]
pub(crate) struct Metrics {
    calls: Family<CallLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    retries: Family<ProfileLabels, Counter>,
    circuit_opened: Family<ProfileLabels, Counter>,
    latency: Family<ProfileLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            errors: Family::default(),
            retries: Family::default(),
            circuit_opened: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl Metrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("trustframe_connector");
        sub.register(
            "calls",
            "REST claims exchanges, by technical profile and outcome",
            self.calls.clone(),
        );
        sub.register(
            "errors",
            "Failed REST claims exchanges, by technical profile and reason",
            self.errors.clone(),
        );
        sub.register(
            "retries",
            "Tries after the first, by technical profile",
            self.retries.clone(),
        );
        sub.register(
            "circuit_opened",
            "Circuits opened (or re-opened after a failed trial call), by technical profile",
            self.circuit_opened.clone(),
        );
        sub.register(
            "call_duration_seconds",
            "Duration of REST claims exchanges including retries, by technical profile",
            self.latency.clone(),
        );
    }

    pub(crate) fn circuit_opened(&self, profile: &str) {
        self.circuit_opened
            .get_or_create(&ProfileLabels {
                technical_profile: profile.to_owned(),
            })
            .inc();
    }

    pub(crate) fn observe(
        &self,
        profile: &str,
        outcome: &str,
        failure: Option<&str>,
        attempts: u32,
        seconds: f64,
    ) {
        self.calls
            .get_or_create(&CallLabels {
                technical_profile: profile.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        if let Some(reason) = failure {
            self.errors
                .get_or_create(&ErrorLabels {
                    technical_profile: profile.to_owned(),
                    reason: reason.to_owned(),
                })
                .inc();
        }
        let labels = ProfileLabels {
            technical_profile: profile.to_owned(),
        };
        if attempts > 1 {
            self.retries
                .get_or_create(&labels)
                .inc_by(u64::from(attempts - 1));
        }
        self.latency.get_or_create(&labels).observe(seconds);
    }
}
