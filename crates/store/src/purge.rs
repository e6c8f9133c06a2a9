//! Housekeeping: delete what expired. Any node may run it at any time.

use crate::{Store, StoreError, Timestamp};

impl Store {
    /// Deletes journeys, sessions, codes, refresh tokens and sign-in failure counters with `expires_at <= now`; returns
    /// how many rows went. Spent codes and tokens stay until they expire, so replays and reuse
    /// are recognised until then.
    pub async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut purged = 0;
        for table in [
            "journeys",
            "sso_sessions",
            "auth_codes",
            "refresh_tokens",
            "sign_in_throttle",
        ] {
            let sql = format!("DELETE FROM {table} WHERE expires_at <= $1");
            let rows = on_pool!(self, |pool| sqlx::query(&sql)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected());
            purged += rows;
        }
        Ok(purged)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use crate::RefreshUse;
    use crate::codes::CodeRedemption;
    use crate::refresh_tokens::tests::token;
    use crate::sessions::tests::session;
    use crate::test_support::{TestDb, on_each_backend};

    async fn expired_rows_are_invisible_then_purged(db: TestDb) {
        let store = &db.store;
        store.put_journey("j-old", "{}", 100).await.unwrap();
        store.put_journey("j-new", "{}", 300).await.unwrap();
        store
            .create_session(&session("s-old", "u1", 100))
            .await
            .unwrap();
        store
            .create_session(&session("s-new", "u1", 300))
            .await
            .unwrap();
        store.put_code("c-old", "{}", 100).await.unwrap();
        store.put_code("c-new", "{}", 300).await.unwrap();
        store
            .put_refresh_token(&token("r-old", "f1", "u1", 100))
            .await
            .unwrap();
        store
            .put_refresh_token(&token("r-new", "f2", "u1", 300))
            .await
            .unwrap();

        let now = 200;
        assert_eq!(store.journey("j-old", now).await.unwrap(), None);
        assert_eq!(store.session("s-old", now).await.unwrap(), None);
        assert_eq!(
            store.redeem_code("c-old", now).await.unwrap(),
            CodeRedemption::Expired
        );
        assert_eq!(
            store.use_refresh_token("r-old", now).await.unwrap(),
            RefreshUse::Expired
        );

        assert_eq!(store.purge_expired(now).await.unwrap(), 4);
        assert_eq!(store.purge_expired(now).await.unwrap(), 0);
        assert_eq!(
            store.redeem_code("c-old", 0).await.unwrap(),
            CodeRedemption::NotFound
        );
        assert_eq!(
            store.use_refresh_token("r-old", 0).await.unwrap(),
            RefreshUse::NotFound
        );
        assert_eq!(store.journey("j-old", 0).await.unwrap(), None);
        assert_eq!(store.session("s-old", 0).await.unwrap(), None);

        assert!(store.journey("j-new", now).await.unwrap().is_some());
        assert!(store.session("s-new", now).await.unwrap().is_some());
        assert!(matches!(
            store.redeem_code("c-new", now).await.unwrap(),
            CodeRedemption::Redeemed { .. }
        ));
        assert!(matches!(
            store.use_refresh_token("r-new", now).await.unwrap(),
            RefreshUse::Valid(_)
        ));
    }
    on_each_backend!(expired_rows_are_invisible_then_purged);
}
