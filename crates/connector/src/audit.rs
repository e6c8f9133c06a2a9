//! The audit record of each call (`add-api-connector.md`: "An API was called as part of a user flow",
//! with `numberOfAttempts`). One record per exchange, after its retries.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Where call records go (the server writes them to the store's audit log).
#[async_trait]
pub trait AuditSink: Send + Sync {
    async fn record(&self, record: CallRecord);
}

/// One REST claims exchange as the audit log keeps it. Never holds a secret: authorization
/// headers, API keys, bearer claims and password-type claims are redacted before it is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Unix time (seconds) the exchange started.
    pub at: i64,
    pub correlation_id: String,
    pub policy: String,
    /// The journey step given by the caller; for API connectors without one, the connector step.
    pub step: Option<String>,
    pub technical_profile: String,
    /// The service URL without its query string (which often carries a function key).
    pub url: String,
    /// The HTTP status of the last try, if an answer came.
    pub status: Option<u16>,
    pub duration_ms: u64,
    pub attempts: u32,
    /// `continue`, `validation_error`, `block` or `failed:<reason>`.
    pub outcome: String,
    /// The request (redacted), the response (truncated), each try, and for API connectors
    /// B2C's `message` and `numberOfAttempts`.
    pub detail: serde_json::Value,
}

/// Keeps records in memory: for tests, development and the demo.
#[derive(Debug, Clone, Default)]
pub struct MemoryAuditSink {
    records: Arc<Mutex<Vec<CallRecord>>>,
}

impl MemoryAuditSink {
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the records so far, oldest first.
    pub fn records(&self) -> Vec<CallRecord> {
        match self.records.lock() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn clear(&self) {
        match self.records.lock() {
            Ok(mut r) => r.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }
}

#[async_trait]
impl AuditSink for MemoryAuditSink {
    async fn record(&self, record: CallRecord) {
        match self.records.lock() {
            Ok(mut r) => r.push(record),
            Err(poisoned) => poisoned.into_inner().push(record),
        }
    }
}

/// Drops every record (when the server has no audit log configured).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAudit;

#[async_trait]
impl AuditSink for NoAudit {
    async fn record(&self, _record: CallRecord) {}
}
