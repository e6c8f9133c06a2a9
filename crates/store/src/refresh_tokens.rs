//! Refresh tokens, stored by hash, rotating within families: each use spends the token and the
//! caller stores its successor in the same family. Using a spent token again means it leaked,
//! so the caller revokes the whole family (OAuth 2.0 Security BCP, refresh token rotation).

use crate::{Store, StoreError, Timestamp};

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub family_id: String,
    pub object_id: String,
    pub client_id: String,
    /// Opaque JSON.
    pub grant: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshUse {
    /// Good: the token is now spent; the caller issues and stores its successor.
    Valid(RefreshTokenRecord),
    /// Spent before: the caller revokes the family.
    Reused(RefreshTokenRecord),
    /// The token, or any token of its family, was revoked.
    Revoked,
    Expired,
    NotFound,
}

type TokenRow = (String, String, String, String, String, Timestamp, Timestamp);

fn record(
    (token_hash, family_id, object_id, client_id, grant, created_at, expires_at): TokenRow,
) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash,
        family_id,
        object_id,
        client_id,
        grant,
        created_at,
        expires_at,
    }
}

const COLUMNS: &str =
    "token_hash, family_id, object_id, client_id, grant_json, created_at, expires_at";

impl Store {
    /// [`StoreError::Conflict`] if the hash exists.
    pub async fn put_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO refresh_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        on_pool!(self, |pool| {
            sqlx::query(&sql)
                .bind(&token.token_hash)
                .bind(&token.family_id)
                .bind(&token.object_id)
                .bind(&token.client_id)
                .bind(&token.grant)
                .bind(token.created_at)
                .bind(token.expires_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The token's record, spent or not, without spending it: a refresh request is checked
    /// against its grant before the token is used, so a refused request does not cost it.
    pub async fn refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM refresh_tokens WHERE token_hash = $1");
        let row: Option<TokenRow> = on_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(record))
    }

    /// Spends the token. Exactly one of concurrent callers, on any node, gets `Valid`; the rest
    /// get `Reused`. A family counts as revoked as soon as any of its tokens is, which also
    /// covers a successor stored by a rotation racing the revocation.
    pub async fn use_refresh_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<RefreshUse, StoreError> {
        let spend = format!(
            "UPDATE refresh_tokens SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND NOT revoked AND expires_at > $2 \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens f \
                             WHERE f.family_id = refresh_tokens.family_id AND f.revoked) \
             RETURNING {COLUMNS}"
        );
        let look = format!(
            "SELECT {COLUMNS}, used_at IS NOT NULL AS used, \
             EXISTS (SELECT 1 FROM refresh_tokens f WHERE f.family_id = t.family_id AND f.revoked) \
             AS family_revoked \
             FROM refresh_tokens t WHERE token_hash = $1"
        );
        let spent: Option<TokenRow> = on_pool!(self, |pool| {
            sqlx::query_as(&spend)
                .bind(token_hash)
                .bind(now)
                .fetch_optional(pool)
                .await?
        });
        if let Some(row) = spent {
            return Ok(RefreshUse::Valid(record(row)));
        }
        type LookRow = (
            String,
            String,
            String,
            String,
            String,
            Timestamp,
            Timestamp,
            bool,
            bool,
        );
        let row: Option<LookRow> = on_pool!(self, |pool| {
            sqlx::query_as(&look)
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        let Some((h, f, o, c, g, created, expires, used, family_revoked)) = row else {
            return Ok(RefreshUse::NotFound);
        };
        Ok(if family_revoked {
            RefreshUse::Revoked
        } else if used {
            RefreshUse::Reused(record((h, f, o, c, g, created, expires)))
        } else {
            RefreshUse::Expired
        })
    }

    /// Revokes every token of the family; returns how many were not revoked yet.
    pub async fn revoke_family(&self, family_id: &str) -> Result<u64, StoreError> {
        let sql = "UPDATE refresh_tokens SET revoked = TRUE WHERE family_id = $1 AND NOT revoked";
        let rows = on_pool!(self, |pool| sqlx::query(sql)
            .bind(family_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(rows)
    }

    /// Revokes every token of the user (all clients, all families); returns how many were not
    /// revoked yet.
    pub async fn revoke_refresh_tokens_of_user(&self, object_id: &str) -> Result<u64, StoreError> {
        let sql = "UPDATE refresh_tokens SET revoked = TRUE WHERE object_id = $1 AND NOT revoked";
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
    use super::*;
    use crate::test_support::{TestDb, on_each_backend};

    pub(crate) fn token(
        hash: &str,
        family: &str,
        user: &str,
        expires_at: Timestamp,
    ) -> RefreshTokenRecord {
        RefreshTokenRecord {
            token_hash: hash.into(),
            family_id: family.into(),
            object_id: user.into(),
            client_id: "client-1".into(),
            grant: r#"{"scope":"openid offline_access"}"#.into(),
            created_at: 1,
            expires_at,
        }
    }

    async fn rotation_and_reuse(db: TestDb) {
        let store = &db.store;
        let t1 = token("t1", "fam", "u1", 1000);
        store.put_refresh_token(&t1).await.unwrap();
        assert!(matches!(
            store.put_refresh_token(&t1).await,
            Err(StoreError::Conflict)
        ));

        assert_eq!(
            store.use_refresh_token("t1", 10).await.unwrap(),
            RefreshUse::Valid(t1.clone())
        );
        let t2 = token("t2", "fam", "u1", 1000);
        store.put_refresh_token(&t2).await.unwrap();
        assert_eq!(
            store.use_refresh_token("t1", 11).await.unwrap(),
            RefreshUse::Reused(t1)
        );

        // The caller answers reuse by revoking the family: the live successor dies too.
        assert_eq!(store.revoke_family("fam").await.unwrap(), 2);
        assert_eq!(store.revoke_family("fam").await.unwrap(), 0);
        assert_eq!(
            store.use_refresh_token("t2", 12).await.unwrap(),
            RefreshUse::Revoked
        );
        assert_eq!(
            store.use_refresh_token("t1", 12).await.unwrap(),
            RefreshUse::Revoked
        );

        // A successor stored after the revocation (a rotation that raced it) is dead on arrival.
        store
            .put_refresh_token(&token("t3", "fam", "u1", 1000))
            .await
            .unwrap();
        assert_eq!(
            store.use_refresh_token("t3", 13).await.unwrap(),
            RefreshUse::Revoked
        );

        assert_eq!(
            store.use_refresh_token("nope", 13).await.unwrap(),
            RefreshUse::NotFound
        );
    }

    async fn expired_refresh_token(db: TestDb) {
        let store = &db.store;
        store
            .put_refresh_token(&token("t1", "fam", "u1", 100))
            .await
            .unwrap();
        assert_eq!(
            store.use_refresh_token("t1", 100).await.unwrap(),
            RefreshUse::Expired
        );
        assert!(matches!(
            store.use_refresh_token("t1", 99).await.unwrap(),
            RefreshUse::Valid(_)
        ));
    }

    async fn revoke_user_tokens(db: TestDb) {
        let store = &db.store;
        store
            .put_refresh_token(&token("a1", "fa", "u1", 1000))
            .await
            .unwrap();
        store
            .put_refresh_token(&token("b1", "fb", "u1", 1000))
            .await
            .unwrap();
        store
            .put_refresh_token(&token("c1", "fc", "u2", 1000))
            .await
            .unwrap();
        assert_eq!(store.revoke_refresh_tokens_of_user("u1").await.unwrap(), 2);
        assert_eq!(
            store.use_refresh_token("a1", 10).await.unwrap(),
            RefreshUse::Revoked
        );
        assert_eq!(
            store.use_refresh_token("b1", 10).await.unwrap(),
            RefreshUse::Revoked
        );
        assert!(matches!(
            store.use_refresh_token("c1", 10).await.unwrap(),
            RefreshUse::Valid(_)
        ));
    }

    /// Many tasks on two pools present one token: one `Valid`, the rest `Reused`.
    async fn concurrent_use_yields_one_valid(db: TestDb) {
        let other = db.reopen().await;
        db.store
            .put_refresh_token(&token("t", "fam", "u1", 1000))
            .await
            .unwrap();
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let store = if i % 2 == 0 {
                    db.store.clone()
                } else {
                    other.clone()
                };
                tokio::spawn(async move { store.use_refresh_token("t", 10).await })
            })
            .collect();
        let (mut valid, mut reused) = (0, 0);
        for task in tasks {
            match task.await.unwrap().unwrap() {
                RefreshUse::Valid(_) => valid += 1,
                RefreshUse::Reused(_) => reused += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((valid, reused), (1, 23));
    }

    on_each_backend!(
        rotation_and_reuse,
        expired_refresh_token,
        revoke_user_tokens,
        concurrent_use_yields_one_valid,
    );
}
