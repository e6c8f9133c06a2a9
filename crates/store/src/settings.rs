//! Tenant-level settings: small strings under a key (e.g. the generated tenant id).

use crate::{Store, StoreError};

impl Store {
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let sql = "SELECT value FROM settings WHERE key = $1";
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(sql)
                .bind(key)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Stores `value` under `key` unless the key is already set, and returns what is stored.
    /// Concurrent callers (on any node) all get the first value written.
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError> {
        let insert =
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
        on_pool!(self, |pool| {
            sqlx::query(insert)
                .bind(key)
                .bind(value)
                .execute(pool)
                .await?;
        });
        // Settings are never deleted, so the row read here is the one that won.
        self.setting(key)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("setting {key:?} vanished after insert")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use crate::test_support::{TestDb, on_each_backend};

    async fn setting_or_insert_keeps_the_first_value(db: TestDb) {
        let store = &db.store;
        assert_eq!(store.setting("tenant_id").await.unwrap(), None);
        assert_eq!(
            store.setting_or_insert("tenant_id", "a").await.unwrap(),
            "a"
        );
        assert_eq!(
            store.setting_or_insert("tenant_id", "b").await.unwrap(),
            "a"
        );
        assert_eq!(
            store.setting("tenant_id").await.unwrap().as_deref(),
            Some("a")
        );

        // Racing writers, half of them on a second pool (another node): one value wins for all.
        let other = db.reopen().await;
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = if i % 2 == 0 {
                    db.store.clone()
                } else {
                    other.clone()
                };
                tokio::spawn(async move { store.setting_or_insert("race", &format!("v{i}")).await })
            })
            .collect();
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await.unwrap().unwrap());
        }
        let stored = store.setting("race").await.unwrap().unwrap();
        assert!(seen.iter().all(|v| *v == stored), "{seen:?} vs {stored}");
    }
    on_each_backend!(setting_or_insert_keeps_the_first_value);
}
