//! The audit log: REST calls, sign-ins and other events, in insertion order.

use serde::{Deserialize, Serialize};

use crate::error::{decode_json, encode_json};
use crate::{Store, StoreError, Timestamp};

/// One event. Never holds a password, a verification code or a token; `subject` is a user's
/// object id, never a name typed for an account that does not exist.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    pub at: Timestamp,
    pub kind: String,
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
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

const COLUMNS: &str = "at, kind, correlation_id, policy, step, technical_profile, url, status, \
                       duration_ms, attempts, outcome, detail, tenant, subject, ip, user_agent";

/// Any fixed number: the PostgreSQL advisory lock that orders audit inserts.
const AUDIT_LOCK: i64 = 0x0074_6661_7564_6974; // "tfaudit"

/// A row of `SELECT id, {COLUMNS}`: more columns than sqlx decodes into a tuple, so decoded by
/// position, once per dialect.
struct AuditRow {
    id: i64,
    at: Timestamp,
    kind: String,
    correlation_id: Option<String>,
    policy: Option<String>,
    step: Option<String>,
    technical_profile: Option<String>,
    url: Option<String>,
    status: Option<i64>,
    duration_ms: Option<i64>,
    attempts: Option<i64>,
    outcome: String,
    detail: String,
    tenant: Option<String>,
    subject: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
}

macro_rules! audit_row_from {
    ($row:ty) => {
        impl<'r> sqlx::FromRow<'r, $row> for AuditRow {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                Ok(Self {
                    id: row.try_get(0)?,
                    at: row.try_get(1)?,
                    kind: row.try_get(2)?,
                    correlation_id: row.try_get(3)?,
                    policy: row.try_get(4)?,
                    step: row.try_get(5)?,
                    technical_profile: row.try_get(6)?,
                    url: row.try_get(7)?,
                    status: row.try_get(8)?,
                    duration_ms: row.try_get(9)?,
                    attempts: row.try_get(10)?,
                    outcome: row.try_get(11)?,
                    detail: row.try_get(12)?,
                    tenant: row.try_get(13)?,
                    subject: row.try_get(14)?,
                    ip: row.try_get(15)?,
                    user_agent: row.try_get(16)?,
                })
            }
        }
    };
}
audit_row_from!(sqlx::sqlite::SqliteRow);
audit_row_from!(sqlx::postgres::PgRow);

fn narrow<T: TryFrom<i64>>(value: Option<i64>, column: &str) -> Result<Option<T>, StoreError> {
    value
        .map(|v| {
            T::try_from(v)
                .map_err(|_| StoreError::Corrupt(format!("audit_log.{column} out of range")))
        })
        .transpose()
}

fn from_row(row: AuditRow) -> Result<(i64, AuditRecord), StoreError> {
    Ok((
        row.id,
        AuditRecord {
            at: row.at,
            kind: row.kind,
            correlation_id: row.correlation_id,
            tenant: row.tenant,
            subject: row.subject,
            ip: row.ip,
            user_agent: row.user_agent,
            policy: row.policy,
            step: row.step,
            technical_profile: row.technical_profile,
            url: row.url,
            status: narrow(row.status, "status")?,
            duration_ms: narrow(row.duration_ms, "duration_ms")?,
            attempts: narrow(row.attempts, "attempts")?,
            outcome: row.outcome,
            detail: decode_json(&row.detail, "audit_log.detail")?,
        },
    ))
}

impl Store {
    /// Appends the record and returns its id. Ids ascend in commit order on both dialects, so
    /// [`Store::audit_after`] with the last id seen never skips a record.
    pub async fn append_audit(&self, record: &AuditRecord) -> Result<i64, StoreError> {
        let detail = encode_json(&record.detail, "audit_log.detail")?;
        // Durations beyond i64 milliseconds (292 million years) are clamped rather than refused.
        let duration_ms = record
            .duration_ms
            .map(|d| i64::try_from(d).unwrap_or(i64::MAX));
        let insert = format!(
            "INSERT INTO audit_log ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             RETURNING id"
        );
        macro_rules! insert {
            ($executor:expr) => {
                sqlx::query_scalar::<_, i64>(&insert)
                    .bind(record.at)
                    .bind(&record.kind)
                    .bind(&record.correlation_id)
                    .bind(&record.policy)
                    .bind(&record.step)
                    .bind(&record.technical_profile)
                    .bind(&record.url)
                    .bind(record.status.map(i64::from))
                    .bind(duration_ms)
                    .bind(record.attempts.map(i64::from))
                    .bind(&record.outcome)
                    .bind(&detail)
                    .bind(&record.tenant)
                    .bind(&record.subject)
                    .bind(&record.ip)
                    .bind(&record.user_agent)
                    .fetch_one($executor)
                    .await?
            };
        }
        let id = match &self.pool {
            // One writer at a time: ids are handed out in commit order.
            crate::db::Pool::Sqlite(pool) => insert!(pool),
            // Sequence values are taken at insert but become visible at commit, possibly out of
            // order across sessions; a reader paging by id could then skip one for good. The
            // transaction-scoped lock makes allocation and commit one ordered step.
            crate::db::Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(AUDIT_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let id = insert!(&mut *tx);
                tx.commit().await?;
                id
            }
        };
        Ok(id)
    }

    /// Up to `limit` records with id greater than `after_id`, ascending. Start with 0; continue
    /// with the last id returned.
    pub async fn audit_after(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, AuditRecord)>, StoreError> {
        let sql = format!("SELECT id, {COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2");
        let rows: Vec<AuditRow> = on_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(from_row).collect()
    }

    /// Up to `limit` records written at or after `since` with id greater than `after_id`,
    /// ascending: `trustframe audit list --since`.
    pub async fn audit_since(
        &self,
        since: Timestamp,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, AuditRecord)>, StoreError> {
        let sql = format!(
            "SELECT id, {COLUMNS} FROM audit_log WHERE at >= $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows: Vec<AuditRow> = on_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(since)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(from_row).collect()
    }

    /// Deletes the records written before `before` (retention); returns how many went.
    pub async fn purge_audit_before(&self, before: Timestamp) -> Result<u64, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query(
            "DELETE FROM audit_log WHERE at < $1"
        )
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use serde_json::json;

    use super::*;
    use crate::test_support::{TestDb, on_each_backend};

    fn rest_call(at: Timestamp) -> AuditRecord {
        AuditRecord {
            at,
            kind: "rest".into(),
            correlation_id: Some("c0ffee".into()),
            policy: Some("B2C_1A_signup_signin".into()),
            step: Some("3".into()),
            technical_profile: Some("REST-ValidateProfile".into()),
            url: Some("https://api.contoso.com/validate".into()),
            status: Some(409),
            duration_ms: Some(u64::MAX),
            attempts: Some(u32::MAX),
            outcome: "blocked".into(),
            detail: json!({"userMessage": "Not allowed", "version": "1.0.0"}),
            ..AuditRecord::default()
        }
    }

    fn sign_in(at: Timestamp) -> AuditRecord {
        AuditRecord {
            at,
            kind: "sign_in".into(),
            tenant: Some("contoso".into()),
            subject: Some("3f1c0d5e-0000-4000-8000-000000000001".into()),
            ip: Some("203.0.113.7".into()),
            user_agent: Some("Mozilla/5.0".into()),
            outcome: "success".into(),
            ..AuditRecord::default()
        }
    }

    async fn audit_ordering_and_paging(db: TestDb) {
        let store = &db.store;
        assert!(store.audit_after(0, 10).await.unwrap().is_empty());
        let mut ids = Vec::new();
        for i in 0..7 {
            let record = if i % 2 == 0 { rest_call(i) } else { sign_in(i) };
            ids.push(store.append_audit(&record).await.unwrap());
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            let page = store.audit_after(cursor, 3).await.unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 3);
            cursor = page.last().unwrap().0;
            seen.extend(page);
        }
        assert_eq!(seen.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ids);
        let first = &seen[0].1;
        let mut expected = rest_call(0);
        expected.duration_ms = Some(i64::MAX as u64);
        assert_eq!(*first, expected, "every field round-trips");
        assert_eq!(seen[1].1, sign_in(1));
        assert_eq!(store.audit_after(ids[5], 10).await.unwrap().len(), 1);
        assert!(store.audit_after(0, 0).await.unwrap().is_empty());
    }

    /// Concurrent writers on two pools: a reader tailing by id ends up with every record once.
    async fn audit_concurrent_appends_page_completely(db: TestDb) {
        let other = db.reopen().await;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = if i % 2 == 0 {
                    db.store.clone()
                } else {
                    other.clone()
                };
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    for j in 0..10 {
                        ids.push(store.append_audit(&sign_in(i * 100 + j)).await.unwrap());
                    }
                    ids
                })
            })
            .collect();
        // Tail while writing.
        let mut tailed = Vec::new();
        let mut cursor = 0;
        while tailed.len() < 80 {
            let page = db.store.audit_after(cursor, 7).await.unwrap();
            if let Some(last) = page.last() {
                cursor = last.0;
            } else {
                tokio::task::yield_now().await;
            }
            tailed.extend(page.into_iter().map(|(id, _)| id));
        }
        let mut written = Vec::new();
        for task in tasks {
            written.extend(task.await.unwrap());
        }
        written.sort();
        assert_eq!(
            tailed, written,
            "a tailing reader saw every id, in order, once"
        );
    }

    /// `--since` and retention: by the time a record was written.
    async fn audit_since_and_retention(db: TestDb) {
        let store = &db.store;
        for at in [100, 200, 300, 400] {
            store.append_audit(&sign_in(at)).await.unwrap();
        }
        let since: Vec<_> = store.audit_since(250, 0, 10).await.unwrap();
        assert_eq!(
            since.iter().map(|(_, r)| r.at).collect::<Vec<_>>(),
            [300, 400]
        );
        let first = store.audit_since(0, 0, 1).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].1, sign_in(100), "every field round-trips");
        let next = store.audit_since(0, first[0].0, 10).await.unwrap();
        assert_eq!(next.len(), 3);
        assert_eq!(store.purge_audit_before(300).await.unwrap(), 2);
        assert_eq!(store.audit_after(0, 10).await.unwrap().len(), 2);
    }

    on_each_backend!(
        audit_ordering_and_paging,
        audit_concurrent_appends_page_completely,
        audit_since_and_retention
    );
}
