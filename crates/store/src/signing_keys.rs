//! Token signing keys: created, retired when a newer key takes over (still published so tokens
//! signed with them verify), deleted once no such token can be alive.

use crate::{Store, StoreError, Timestamp};

#[derive(Clone, PartialEq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    /// PKCS#8 DER.
    pub private_key_der: Vec<u8>,
    pub created_at: Timestamp,
    pub retired_at: Option<Timestamp>,
}

// Debug by hand: the private key must never reach a log.
impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_key_der", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

type KeyRow = (String, String, Vec<u8>, Timestamp, Option<Timestamp>);

impl Store {
    /// All keys, oldest first (ties broken by kid).
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let sql = "SELECT kid, algorithm, private_key_der, created_at, retired_at FROM signing_keys \
                   ORDER BY created_at, kid";
        let rows: Vec<KeyRow> = on_pool!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(
                |(kid, algorithm, private_key_der, created_at, retired_at)| SigningKeyRecord {
                    kid,
                    algorithm,
                    private_key_der,
                    created_at,
                    retired_at,
                },
            )
            .collect())
    }

    /// [`StoreError::Conflict`] if the kid exists (e.g. another node generated the same key id).
    pub async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO signing_keys (kid, algorithm, private_key_der, created_at, retired_at) \
                   VALUES ($1, $2, $3, $4, $5)";
        on_pool!(self, |pool| {
            sqlx::query(sql)
                .bind(&key.kid)
                .bind(&key.algorithm)
                .bind(&key.private_key_der)
                .bind(key.created_at)
                .bind(key.retired_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Replaces the stored key bytes of `kid` if they are still `old` (encrypting a plain key
    /// in place; of nodes doing it at once, one wins and the others read its bytes). Returns
    /// whether this call replaced them.
    pub async fn replace_signing_key_der(
        &self,
        kid: &str,
        old: &[u8],
        new: &[u8],
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE signing_keys SET private_key_der = $3 \
                   WHERE kid = $1 AND private_key_der = $2";
        let rows = on_pool!(self, |pool| sqlx::query(sql)
            .bind(kid)
            .bind(old)
            .bind(new)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(rows == 1)
    }

    /// Marks every other key retired at `at`; keys already retired keep their time.
    pub async fn retire_signing_keys_except(
        &self,
        kid: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE signing_keys SET retired_at = $2 WHERE kid <> $1 AND retired_at IS NULL";
        on_pool!(self, |pool| {
            sqlx::query(sql).bind(kid).bind(at).execute(pool).await?;
        });
        Ok(())
    }

    /// Deletes keys retired strictly before `t`; active keys are never deleted.
    pub async fn delete_signing_keys_retired_before(
        &self,
        t: Timestamp,
    ) -> Result<u64, StoreError> {
        let sql = "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1";
        let rows = on_pool!(self, |pool| sqlx::query(sql)
            .bind(t)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(rows)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::test_support::{TestDb, on_each_backend};

    pub(crate) fn key(kid: &str, created_at: Timestamp) -> SigningKeyRecord {
        SigningKeyRecord {
            kid: kid.into(),
            algorithm: "RS256".into(),
            private_key_der: vec![0x30, 0x82, 0x00, 0xff, 0x00, 0x01, kid.len() as u8],
            created_at,
            retired_at: None,
        }
    }

    async fn signing_key_rotation(db: TestDb) {
        let store = &db.store;
        assert!(store.signing_keys().await.unwrap().is_empty());
        // Inserted out of order: listed by created_at.
        store.insert_signing_key(&key("k2", 200)).await.unwrap();
        store.insert_signing_key(&key("k1", 100)).await.unwrap();
        assert!(matches!(
            store.insert_signing_key(&key("k1", 5)).await,
            Err(StoreError::Conflict)
        ));
        let keys = store.signing_keys().await.unwrap();
        assert_eq!(
            keys,
            vec![key("k1", 100), key("k2", 200)],
            "DER bytes round-trip"
        );
        assert!(
            !format!("{keys:?}").contains("130"),
            "Debug redacts the key bytes"
        );

        store.retire_signing_keys_except("k2", 300).await.unwrap();
        store.insert_signing_key(&key("k3", 400)).await.unwrap();
        store.retire_signing_keys_except("k3", 500).await.unwrap();
        let retired: Vec<_> = store
            .signing_keys()
            .await
            .unwrap()
            .into_iter()
            .map(|k| (k.kid, k.retired_at))
            .collect();
        assert_eq!(
            retired,
            vec![
                ("k1".to_string(), Some(300)),
                ("k2".to_string(), Some(500)),
                ("k3".to_string(), None),
            ]
        );

        assert_eq!(
            store.delete_signing_keys_retired_before(300).await.unwrap(),
            0,
            "strictly before"
        );
        assert_eq!(
            store.delete_signing_keys_retired_before(301).await.unwrap(),
            1
        );
        assert_eq!(
            store
                .delete_signing_keys_retired_before(i64::MAX)
                .await
                .unwrap(),
            1
        );
        let left: Vec<_> = store
            .signing_keys()
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(left, vec!["k3"], "the active key is never deleted");
    }
    on_each_backend!(signing_key_rotation);
}
