//! Persistence for Trustframe: users and identities, journey states, SSO sessions,
//! authorization codes, refresh tokens, signing keys, tenant settings and the audit log.
//!
//! One [`Store`] type serves SQLite (embedded default) and PostgreSQL (many nodes, one tenant);
//! callers never see the dialect.
#![allow(clippy::todo)]

use serde::{Deserialize, Serialize};

/// Unix time in seconds.
pub type Timestamp = i64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unique constraint violated")]
    Conflict,
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database URL: {0}")]
    UnsupportedUrl(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Clone)]
pub struct Store {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    pub sign_in_type: String,
    pub issuer: String,
    pub issuer_assigned_id: String,
}
#[derive(Debug, Clone)]
pub struct NewUser {
    pub object_id: String,
    pub identities: Vec<Identity>,
    pub password_hash: Option<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub created_at: Timestamp,
}
#[derive(Debug, Clone)]
pub struct User {
    pub object_id: String,
    pub identities: Vec<Identity>,
    pub password_hash: Option<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub created_at: Timestamp,
}
#[derive(Debug, Clone)]
pub struct SsoSession {
    pub id: String,
    pub object_id: String,
    pub auth_time: Timestamp,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub data: serde_json::Value,
}
#[derive(Debug, Clone, PartialEq)]
pub enum CodeRedemption {
    Redeemed { grant: String },
    Replayed { grant: String },
    Expired,
    NotFound,
}
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub family_id: String,
    pub object_id: String,
    pub client_id: String,
    pub grant: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshUse {
    Valid(RefreshTokenRecord),
    Reused(RefreshTokenRecord),
    Revoked,
    Expired,
    NotFound,
}
#[derive(Debug, Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    pub private_key_der: Vec<u8>,
    pub created_at: Timestamp,
    pub retired_at: Option<Timestamp>,
}
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    pub at: Timestamp,
    pub kind: String,
    pub correlation_id: Option<String>,
    pub policy: Option<String>,
    pub step: Option<String>,
    pub technical_profile: Option<String>,
    pub url: Option<String>,
    pub status: Option<u16>,
    pub duration_ms: Option<u64>,
    pub attempts: Option<u32>,
    pub outcome: String,
    pub detail: serde_json::Value,
}

#[allow(unused_variables)]
impl Store {
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        todo!()
    }
    pub fn backend(&self) -> Backend {
        todo!()
    }
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        todo!()
    }
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError> {
        todo!()
    }
    pub async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        todo!()
    }
    pub async fn user(&self, object_id: &str) -> Result<Option<User>, StoreError> {
        todo!()
    }
    pub async fn user_by_identity(
        &self,
        sign_in_type: &str,
        issuer: &str,
        issuer_assigned_id: &str,
    ) -> Result<Option<User>, StoreError> {
        todo!()
    }
    pub async fn update_user_attributes(
        &self,
        object_id: &str,
        attributes: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn set_password_hash(
        &self,
        object_id: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn put_journey(
        &self,
        id: &str,
        state: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn journey(&self, id: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        todo!()
    }
    pub async fn delete_journey(&self, id: &str) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn create_session(&self, session: &SsoSession) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn session(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<SsoSession>, StoreError> {
        todo!()
    }
    pub async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn delete_sessions_of_user(&self, object_id: &str) -> Result<u64, StoreError> {
        todo!()
    }
    pub async fn put_code(
        &self,
        code_hash: &str,
        grant: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn redeem_code(
        &self,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<CodeRedemption, StoreError> {
        todo!()
    }
    pub async fn put_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn use_refresh_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<RefreshUse, StoreError> {
        todo!()
    }
    pub async fn revoke_family(&self, family_id: &str) -> Result<u64, StoreError> {
        todo!()
    }
    pub async fn revoke_refresh_tokens_of_user(&self, object_id: &str) -> Result<u64, StoreError> {
        todo!()
    }
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        todo!()
    }
    pub async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn retire_signing_keys_except(
        &self,
        kid: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn delete_signing_keys_retired_before(
        &self,
        t: Timestamp,
    ) -> Result<u64, StoreError> {
        todo!()
    }
    pub async fn append_audit(&self, record: &AuditRecord) -> Result<i64, StoreError> {
        todo!()
    }
    pub async fn audit_after(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, AuditRecord)>, StoreError> {
        todo!()
    }
    pub async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        todo!()
    }
}
