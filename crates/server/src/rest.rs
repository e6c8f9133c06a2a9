//! The engine's REST client over the connector, and the connector's audit records into the
//! store's audit log.

use async_trait::async_trait;
use trustframe_connector::{AuditSink, CallRecord, Connector, ExchangeOutcome, RestCall};
use trustframe_engine::{EnvError, RestClient, RestOutcome, RestRequest};
use trustframe_store::{AuditRecord, Store};

pub struct ConnectorClient {
    pub connector: Connector,
}

#[async_trait]
impl RestClient for ConnectorClient {
    async fn exchange(&self, request: RestRequest<'_>) -> Result<RestOutcome, EnvError> {
        let call = RestCall {
            profile: request.profile,
            schema: request.schema,
            claims: request.claims,
            context: request.context,
            step: request.step,
        };
        let outcome = self.connector.exchange(call).await.map_err(|e| {
            EnvError::new(format!(
                "REST technical profile '{}': {e}",
                request.profile.id
            ))
        })?;
        Ok(match outcome {
            ExchangeOutcome::Continue { claims, cleared } => {
                RestOutcome::Continue { claims, cleared }
            }
            ExchangeOutcome::ValidationError {
                user_message,
                developer_message,
                ..
            } => {
                // DebugMode: the developer message joins the page's message.
                let user_message = match developer_message {
                    Some(d) if !d.is_empty() => format!("{user_message} ({d})"),
                    _ => user_message,
                };
                RestOutcome::ValidationError { user_message }
            }
            ExchangeOutcome::Block { user_message } => RestOutcome::Block { user_message },
            ExchangeOutcome::Failed { user_message, .. } => RestOutcome::Failed { user_message },
        })
    }
}

/// Writes each call record to the audit log; a failure to write is logged, never fatal.
pub struct StoreAudit {
    pub store: Store,
}

#[async_trait]
impl AuditSink for StoreAudit {
    async fn record(&self, record: CallRecord) {
        let entry = AuditRecord {
            at: record.at,
            kind: "rest_call".into(),
            correlation_id: Some(record.correlation_id),
            policy: Some(record.policy),
            step: record.step,
            technical_profile: Some(record.technical_profile),
            url: Some(record.url),
            status: record.status,
            duration_ms: Some(record.duration_ms),
            attempts: Some(record.attempts),
            outcome: record.outcome,
            detail: record.detail,
            ..AuditRecord::default()
        };
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::error!(error = %e, "could not write an audit record");
        }
    }
}
