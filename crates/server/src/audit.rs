//! Security events (issue 11): every sign-in and its failure, lockout, verification code sent or
//! failed, password reset, account deletion is an audit record in the store (read with
//! `trustframe audit`) and one log line. Neither ever holds a password, a code or a token.

use serde_json::Value;
use sha2::Digest as _;
use trustframe_policy::ResolverContext;
use trustframe_store::{AuditRecord, Store, StoreError};

/// The longest user agent kept: enough to tell browsers apart, bounded for the store.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// One tenant's audit log.
#[derive(Clone)]
pub struct AuditLog {
    store: Store,
    /// The tenant's name (`contoso`).
    tenant: String,
    now: fn() -> i64,
}

/// What happened, to whom.
pub struct Event<'a> {
    /// `sign_in`, `sign_in_failed`, `account_locked`, `code_sent`, `code_failed`,
    /// `password_reset`, `account_deleted` (`token_family_revoked` is written by the OIDC
    /// service).
    pub kind: &'static str,
    pub outcome: &'a str,
    /// The user's object id; `None` for an account that does not exist.
    pub subject: Option<&'a str>,
    pub detail: Value,
}

impl AuditLog {
    pub fn new(store: Store, tenant: impl Into<String>, now: fn() -> i64) -> Self {
        Self {
            store,
            tenant: tenant.into(),
            now,
        }
    }

    /// Writes the record and its log line (at `warn` for lockouts, else `info`), with the
    /// journey's correlation id, policy, client IP and user agent when there is a journey.
    pub async fn record(
        &self,
        event: Event<'_>,
        context: Option<&ResolverContext>,
    ) -> Result<(), StoreError> {
        let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let correlation_id = context.and_then(|c| text(&c.correlation_id));
        let ip = context.and_then(|c| text(&c.ip_address));
        let user_agent = context.and_then(|c| text(&user_agent(&c.user_agent)));
        let policy = context.and_then(|c| text(&c.policy_id));
        if event.kind == "account_locked" {
            tracing::warn!(
                event = event.kind,
                outcome = event.outcome,
                subject = event.subject,
                ip = ip.as_deref(),
                correlation_id = correlation_id.as_deref(),
                detail = %event.detail,
                "audit: {}", event.kind
            );
        } else {
            tracing::info!(
                event = event.kind,
                outcome = event.outcome,
                subject = event.subject,
                ip = ip.as_deref(),
                correlation_id = correlation_id.as_deref(),
                detail = %event.detail,
                "audit: {}", event.kind
            );
        }
        let record = AuditRecord {
            at: (self.now)(),
            kind: event.kind.to_owned(),
            correlation_id,
            tenant: Some(self.tenant.clone()),
            subject: event.subject.map(str::to_owned),
            ip,
            user_agent,
            policy,
            outcome: event.outcome.to_owned(),
            detail: event.detail,
            ..AuditRecord::default()
        };
        self.store.append_audit(&record).await.map(drop)
    }

    /// As [`AuditLog::record`], for events that must not fail what they record (a code that
    /// was mailed): a failure to write is logged.
    pub async fn record_or_log(&self, event: Event<'_>, context: Option<&ResolverContext>) {
        if let Err(e) = self.record(event, context).await {
            tracing::error!(error = %e, "could not write an audit record");
        }
    }
}

/// The user agent as kept: cut to [`MAX_USER_AGENT_CHARS`].
pub fn user_agent(value: &str) -> String {
    value.chars().take(MAX_USER_AGENT_CHARS).collect()
}

/// An e-mail address as audit records name it: the first 16 bytes of the SHA-256 of its
/// trimmed, lower-cased form, so records about one address can be found (hash the address you
/// look for) without the log listing addresses. Addresses are guessable: this is
/// pseudonymous, not anonymous.
pub fn address_hash(address: &str) -> String {
    let digest = sha2::Sha256::digest(address.trim().to_lowercase().as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_hash_alike_whatever_their_case_and_user_agents_are_bounded() {
        assert_eq!(
            address_hash(" Ann@Example.com"),
            address_hash("ann@example.com")
        );
        assert_eq!(address_hash("ann@example.com").len(), 32);
        assert_ne!(
            address_hash("ann@example.com"),
            address_hash("bob@example.com")
        );
        assert_eq!(user_agent(&"x".repeat(1000)).len(), MAX_USER_AGENT_CHARS);
    }
}
