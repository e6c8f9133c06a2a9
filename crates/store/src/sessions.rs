//! SSO sessions: who signed in when, kept so later requests skip the sign-in.

use crate::error::{decode_json, encode_json};
use crate::{Store, StoreError, Timestamp};

#[derive(Debug, Clone, PartialEq)]
pub struct SsoSession {
    pub id: String,
    pub object_id: String,
    pub auth_time: Timestamp,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub data: serde_json::Value,
}

type SessionRow = (String, String, Timestamp, Timestamp, Timestamp, String);

impl Store {
    /// [`StoreError::Conflict`] if the id exists.
    pub async fn create_session(&self, session: &SsoSession) -> Result<(), StoreError> {
        let data = encode_json(&session.data, "sso_sessions.data")?;
        let sql = "INSERT INTO sso_sessions (id, object_id, auth_time, created_at, expires_at, data) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        on_pool!(self, |pool| {
            sqlx::query(sql)
                .bind(&session.id)
                .bind(&session.object_id)
                .bind(session.auth_time)
                .bind(session.created_at)
                .bind(session.expires_at)
                .bind(&data)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The session, or `None` if absent or expired (`expires_at <= now`).
    pub async fn session(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<SsoSession>, StoreError> {
        let sql = "SELECT id, object_id, auth_time, created_at, expires_at, data FROM sso_sessions \
                   WHERE id = $1 AND expires_at > $2";
        let row: Option<SessionRow> = on_pool!(self, |pool| {
            sqlx::query_as(sql)
                .bind(id)
                .bind(now)
                .fetch_optional(pool)
                .await?
        });
        let Some((id, object_id, auth_time, created_at, expires_at, data)) = row else {
            return Ok(None);
        };
        Ok(Some(SsoSession {
            id,
            object_id,
            auth_time,
            created_at,
            expires_at,
            data: decode_json(&data, "sso_sessions.data")?,
        }))
    }

    pub async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM sso_sessions WHERE id = $1";
        on_pool!(self, |pool| {
            sqlx::query(sql).bind(id).execute(pool).await?;
        });
        Ok(())
    }

    /// Ends every session of the user (sign-out everywhere); returns how many there were.
    pub async fn delete_sessions_of_user(&self, object_id: &str) -> Result<u64, StoreError> {
        let sql = "DELETE FROM sso_sessions WHERE object_id = $1";
        let rows = on_pool!(self, |pool| sqlx::query(sql)
            .bind(object_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(rows)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use serde_json::json;

    use super::*;
    use crate::test_support::{TestDb, on_each_backend};

    pub(crate) fn session(id: &str, object_id: &str, expires_at: Timestamp) -> SsoSession {
        SsoSession {
            id: id.into(),
            object_id: object_id.into(),
            auth_time: 10,
            created_at: 11,
            expires_at,
            data: json!({"policy": "B2C_1_signin", "amr": ["pwd"]}),
        }
    }

    async fn session_lifecycle(db: TestDb) {
        let store = &db.store;
        let s1 = session("s1", "u1", 100);
        store.create_session(&s1).await.unwrap();
        store
            .create_session(&session("s2", "u1", 100))
            .await
            .unwrap();
        store
            .create_session(&session("s3", "u2", 100))
            .await
            .unwrap();
        assert_eq!(store.session("s1", 50).await.unwrap(), Some(s1.clone()));
        assert_eq!(
            store.session("s1", 100).await.unwrap(),
            None,
            "expired is invisible"
        );
        assert_eq!(store.session("zz", 0).await.unwrap(), None);
        assert!(matches!(
            store.create_session(&s1).await,
            Err(StoreError::Conflict)
        ));

        store.delete_session("s1").await.unwrap();
        assert_eq!(store.session("s1", 50).await.unwrap(), None);
        assert_eq!(store.delete_sessions_of_user("u1").await.unwrap(), 1);
        assert_eq!(store.session("s2", 50).await.unwrap(), None);
        assert!(
            store.session("s3", 50).await.unwrap().is_some(),
            "other users keep theirs"
        );
    }
    on_each_backend!(session_lifecycle);
}
