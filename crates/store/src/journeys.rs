//! Journey states: the engine's opaque JSON, stored under a random id so any node can continue.

use crate::{Store, StoreError, Timestamp};

impl Store {
    /// Inserts or replaces the state under `id`.
    pub async fn put_journey(
        &self,
        id: &str,
        state: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO journeys (id, state, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (id) DO UPDATE SET state = excluded.state, expires_at = excluded.expires_at";
        on_pool!(self, |pool| {
            sqlx::query(sql)
                .bind(id)
                .bind(state)
                .bind(expires_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The state under `id`, or `None` if absent or expired (`expires_at <= now`).
    pub async fn journey(&self, id: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        let sql = "SELECT state FROM journeys WHERE id = $1 AND expires_at > $2";
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(sql)
                .bind(id)
                .bind(now)
                .fetch_optional(pool)
                .await?
        }))
    }

    pub async fn delete_journey(&self, id: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM journeys WHERE id = $1";
        on_pool!(self, |pool| {
            sqlx::query(sql).bind(id).execute(pool).await?;
        });
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use crate::test_support::{TestDb, on_each_backend};

    async fn journey_upsert_expiry_and_delete(db: TestDb) {
        let store = &db.store;
        store.put_journey("j1", r#"{"step":1}"#, 100).await.unwrap();
        assert_eq!(
            store.journey("j1", 99).await.unwrap().as_deref(),
            Some(r#"{"step":1}"#)
        );
        store.put_journey("j1", r#"{"step":2}"#, 200).await.unwrap();
        assert_eq!(
            store.journey("j1", 150).await.unwrap().as_deref(),
            Some(r#"{"step":2}"#)
        );
        assert_eq!(
            store.journey("j1", 200).await.unwrap(),
            None,
            "expired at expires_at"
        );
        assert_eq!(store.journey("nope", 0).await.unwrap(), None);

        // Another node sees the same state.
        let other = db.reopen().await;
        assert_eq!(
            other.journey("j1", 150).await.unwrap().as_deref(),
            Some(r#"{"step":2}"#)
        );

        store.delete_journey("j1").await.unwrap();
        assert_eq!(store.journey("j1", 0).await.unwrap(), None);
        store.delete_journey("j1").await.unwrap();
    }
    on_each_backend!(journey_upsert_expiry_and_delete);
}
