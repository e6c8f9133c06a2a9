//! Counters of a guard: plain atomics, read through [`MetricsSnapshot`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Rejection;
use crate::error::REASONS;

#[derive(Default)]
pub(crate) struct Metrics {
    validations: AtomicU64,
    accepted: AtomicU64,
    rejected: [AtomicU64; REASONS.len()],
    key_refreshes: AtomicU64,
    key_refresh_failures: AtomicU64,
}

impl Metrics {
    pub(crate) fn record<T>(&self, outcome: &Result<T, Rejection>) {
        self.validations.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(_) => self.accepted.fetch_add(1, Ordering::Relaxed),
            Err(rejection) => self.rejected[rejection.index()].fetch_add(1, Ordering::Relaxed),
        };
    }

    pub(crate) fn key_refresh(&self, succeeded: bool) {
        let counter = if succeeded {
            &self.key_refreshes
        } else {
            &self.key_refresh_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            validations: self.validations.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: REASONS
                .iter()
                .zip(&self.rejected)
                .map(|(reason, count)| (*reason, count.load(Ordering::Relaxed)))
                .filter(|(_, count)| *count > 0)
                .collect(),
            key_refreshes: self.key_refreshes.load(Ordering::Relaxed),
            key_refresh_failures: self.key_refresh_failures.load(Ordering::Relaxed),
        }
    }
}

/// The counters of a guard at one moment ([`Guard::metrics`](crate::Guard::metrics)).
///
/// Counters only grow; export them to the monitoring system of your choice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Requests (or [`Guard::validate`](crate::Guard::validate) calls) decided: accepted plus rejected.
    pub validations: u64,
    /// Decisions that let the request through.
    pub accepted: u64,
    /// Refusals by [`Rejection::reason`]; reasons never seen are absent.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Successful loads of the metadata and keys.
    pub key_refreshes: u64,
    /// Failed loads (the provider down or answering nonsense).
    pub key_refresh_failures: u64,
}

impl MetricsSnapshot {
    /// The number of refusals for one reason, e.g. `"expired"`.
    pub fn rejected(&self, reason: &str) -> u64 {
        self.rejected.get(reason).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_by_reason() {
        let metrics = Metrics::default();
        metrics.record(&Ok::<(), Rejection>(()));
        metrics.record::<()>(&Err(Rejection::Expired));
        metrics.record::<()>(&Err(Rejection::Expired));
        metrics.record::<()>(&Err(Rejection::Scope("tasks.write".into())));
        metrics.key_refresh(true);
        metrics.key_refresh(false);
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.validations, 4);
        assert_eq!(snapshot.accepted, 1);
        assert_eq!(snapshot.rejected("expired"), 2);
        assert_eq!(snapshot.rejected("scope"), 1);
        assert_eq!(snapshot.rejected("policy"), 0);
        assert_eq!(snapshot.rejected.len(), 2);
        assert_eq!(
            (snapshot.key_refreshes, snapshot.key_refresh_failures),
            (1, 1)
        );
    }
}
