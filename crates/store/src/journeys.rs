//! Journey states: the engine's opaque JSON, stored under a random id so any node can continue.

use crate::{Store, StoreError, Timestamp};

/// The version of a stored journey: 0 when inserted, one more at each save.
pub type JourneyVersion = i64;

/// A stored journey as read, for a later [`Store::replace_journey`] or [`Store::finish_journey`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyRow {
    /// The state, or the marker [`Store::finish_journey`] left once it finished.
    pub state: String,
    pub version: JourneyVersion,
    pub finished: bool,
}

impl Store {
    /// Journeys not yet expired at `now`: what the cap on stored journeys counts.
    pub async fn count_live_journeys(&self, now: Timestamp) -> Result<u64, StoreError> {
        let sql = "SELECT COUNT(*) FROM journeys WHERE expires_at > $1";
        let count: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar(sql).bind(now).fetch_one(pool).await?
        });
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Inserts or replaces the state under `id`, whatever version is stored (the version still
    /// moves on, so a concurrent [`Store::replace_journey`] fails).
    pub async fn put_journey(
        &self,
        id: &str,
        state: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO journeys (id, state, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (id) DO UPDATE SET state = excluded.state, \
                   expires_at = excluded.expires_at, version = journeys.version + 1";
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

    /// Stores a new journey at version 0; [`StoreError::Conflict`] if `id` exists.
    pub async fn insert_journey(
        &self,
        id: &str,
        state: &str,
        expires_at: Timestamp,
    ) -> Result<JourneyVersion, StoreError> {
        let sql = "INSERT INTO journeys (id, state, expires_at, version) VALUES ($1, $2, $3, 0)";
        on_pool!(self, |pool| {
            sqlx::query(sql)
                .bind(id)
                .bind(state)
                .bind(expires_at)
                .execute(pool)
                .await?;
        });
        Ok(0)
    }

    /// Compare-and-swap: replaces the state only if the stored version is still `read` (the
    /// one the caller loaded) and the journey has not finished. Returns the new version, or
    /// `None` when another request saved or finished it in between (or it is gone): of
    /// concurrent callers that read the same version, on any node, exactly one succeeds.
    pub async fn replace_journey(
        &self,
        id: &str,
        read: JourneyVersion,
        state: &str,
        expires_at: Timestamp,
    ) -> Result<Option<JourneyVersion>, StoreError> {
        let sql = "UPDATE journeys SET state = $3, expires_at = $4, version = version + 1 \
                   WHERE id = $1 AND version = $2 AND NOT finished RETURNING version";
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(sql)
                .bind(id)
                .bind(read)
                .bind(state)
                .bind(expires_at)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The state under `id` of a journey in progress, or `None` if absent, finished or
    /// expired (`expires_at <= now`).
    pub async fn journey(&self, id: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        Ok(self
            .versioned_journey(id, now)
            .await?
            .filter(|row| !row.finished)
            .map(|row| row.state))
    }

    /// The journey under `id`, finished or not, with its version; `None` if absent or expired.
    pub async fn versioned_journey(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<JourneyRow>, StoreError> {
        let sql = "SELECT state, version, finished FROM journeys WHERE id = $1 AND expires_at > $2";
        let row: Option<(String, JourneyVersion, bool)> = on_pool!(self, |pool| {
            sqlx::query_as(sql)
                .bind(id)
                .bind(now)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(state, version, finished)| JourneyRow {
            state,
            version,
            finished,
        }))
    }

    /// Marks the journey finished, replacing its state with `marker` (what a late request may
    /// still learn: no claims), only if it is still at version `read`: `true` for the one
    /// caller that finished it, `false` if another request saved or finished it first. The
    /// marker stays until the journey expires.
    pub async fn finish_journey(
        &self,
        id: &str,
        read: JourneyVersion,
        marker: &str,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE journeys SET state = $3, finished = TRUE, version = version + 1 \
                   WHERE id = $1 AND version = $2 AND NOT finished";
        let done = on_pool!(self, |pool| {
            sqlx::query(sql)
                .bind(id)
                .bind(read)
                .bind(marker)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
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
    use super::JourneyRow;
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

    /// Concurrent saves of the version one request read: exactly one wins, on any node; the
    /// losers neither overwrite the state nor finish the journey.
    async fn journey_compare_and_swap(db: TestDb) {
        let store = &db.store;
        let v0 = store.insert_journey("j", "s0", 1000).await.unwrap();
        assert!(matches!(
            store.insert_journey("j", "again", 1000).await,
            Err(crate::StoreError::Conflict)
        ));
        let row = |state: &str, version, finished| {
            Some(JourneyRow {
                state: state.to_owned(),
                version,
                finished,
            })
        };
        assert_eq!(
            store.versioned_journey("j", 0).await.unwrap(),
            row("s0", v0, false)
        );

        // Eight requests (on two nodes) submit the page they read at v0.
        let other = db.reopen().await;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = if i % 2 == 0 {
                    store.clone()
                } else {
                    other.clone()
                };
                tokio::spawn(async move {
                    store
                        .replace_journey("j", v0, &format!("s{i}"), 1000)
                        .await
                        .unwrap()
                        .map(|v| (i, v))
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            winners.extend(t.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "exactly one save wins: {winners:?}");
        let (winner, v1) = winners[0];
        assert_ne!(v1, v0);
        assert_eq!(
            store.versioned_journey("j", 0).await.unwrap(),
            row(&format!("s{winner}"), v1, false)
        );

        // A stale version neither saves nor finishes; the current one finishes exactly once.
        assert_eq!(
            store.replace_journey("j", v0, "late", 1000).await.unwrap(),
            None
        );
        assert!(!store.finish_journey("j", v0, "done").await.unwrap());
        let finishes: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.finish_journey("j", v1, "done").await.unwrap() })
            })
            .collect();
        let mut finished = 0;
        for t in finishes {
            finished += usize::from(t.await.unwrap());
        }
        assert_eq!(finished, 1, "a journey finishes once");
        // Finished: only the marker is left, and nothing saves over it.
        assert_eq!(
            store.versioned_journey("j", 0).await.unwrap(),
            row("done", v1 + 1, true)
        );
        assert_eq!(store.journey("j", 0).await.unwrap(), None);
        assert_eq!(
            store
                .replace_journey("j", v1 + 1, "again", 1000)
                .await
                .unwrap(),
            None
        );
        assert!(!store.finish_journey("j", v1 + 1, "again").await.unwrap());
        assert_eq!(
            store.versioned_journey("j", 1000).await.unwrap(),
            None,
            "expires"
        );

        // An unconditional put moves the version on too.
        let v = store.insert_journey("k", "a", 1000).await.unwrap();
        store.put_journey("k", "b", 1000).await.unwrap();
        assert_eq!(
            store.replace_journey("k", v, "c", 1000).await.unwrap(),
            None
        );
    }
    on_each_backend!(journey_compare_and_swap);
}
