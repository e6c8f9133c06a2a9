//! Refresh tokens, stored by hash, rotating within families: each use spends the token and the
//! caller stores its successor in the same family. Using a spent token again means it leaked,
//! so the caller revokes the whole family (OAuth 2.0 Security BCP, refresh token rotation).

use crate::db::Pool;
use crate::writer::{Done, Op, PendingCommit};
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
    /// When the user signed in for this grant: the start of its sliding window. `None` for
    /// tokens stored before the store kept it.
    pub auth_time: Option<Timestamp>,
}

/// The successor a rotation stores in the same transaction that spends the token: same family,
/// user, client and grant; a new hash and expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct NextRefreshToken {
    pub token_hash: String,
    /// How long a refresh token lives.
    pub lifetime: i64,
    /// How long after the sign-in the family may still be refreshed.
    pub sliding_window: i64,
}

impl NextRefreshToken {
    /// `now + lifetime`, but never past the grant's sliding window (or, for a token stored
    /// without its sign-in time, past the spent token's own expiry).
    pub(crate) fn expires_at(&self, spent: &RefreshTokenRecord, now: Timestamp) -> Timestamp {
        let window_end = match spent.auth_time {
            Some(auth_time) => auth_time.saturating_add(self.sliding_window),
            None => spent.expires_at,
        };
        now.saturating_add(self.lifetime).min(window_end)
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    pub used: RefreshUse,
    /// The successor's expiry, when it was stored (the token was valid and its window is open).
    pub next_expires_at: Option<Timestamp>,
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

impl RefreshUse {
    /// A token that could not be spent: why, from its record (if any), whether it was used,
    /// and whether its family is revoked.
    pub(crate) fn classify(found: Option<(RefreshTokenRecord, bool, bool)>) -> RefreshUse {
        match found {
            None => RefreshUse::NotFound,
            Some((_, _, true)) => RefreshUse::Revoked,
            Some((record, true, false)) => RefreshUse::Reused(record),
            Some((_, false, false)) => RefreshUse::Expired,
        }
    }
}

type TokenRow = (
    String,
    String,
    String,
    String,
    String,
    Timestamp,
    Timestamp,
    Option<Timestamp>,
);

fn record(
    (token_hash, family_id, object_id, client_id, grant, created_at, expires_at, auth_time): TokenRow,
) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash,
        family_id,
        object_id,
        client_id,
        grant,
        created_at,
        expires_at,
        auth_time,
    }
}

/// A spent token's row and its successor's expiry (PostgreSQL's one-statement rotation).
type RotatedRow = (
    String,
    String,
    String,
    String,
    String,
    Timestamp,
    Timestamp,
    Option<Timestamp>,
    Option<Timestamp>,
);

const COLUMNS: &str =
    "token_hash, family_id, object_id, client_id, grant_json, created_at, expires_at, auth_time";

/// Spends a token: unused, unrevoked, unexpired, and no token of its family revoked.
const SPEND: &str = "UPDATE refresh_tokens SET used_at = $2 \
     WHERE token_hash = $1 AND used_at IS NULL AND NOT revoked AND expires_at > $2 \
     AND NOT EXISTS (SELECT 1 FROM refresh_tokens f \
                     WHERE f.family_id = refresh_tokens.family_id AND f.revoked)";

impl Store {
    /// [`StoreError::Conflict`] if the hash exists.
    pub async fn put_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        self.stage_refresh_token(token).await?.wait().await
    }

    /// [`Store::put_refresh_token`], returning once the insert ran; it is durable once the
    /// returned commit is awaited.
    pub async fn stage_refresh_token(
        &self,
        token: &RefreshTokenRecord,
    ) -> Result<PendingCommit, StoreError> {
        if let Some(writer) = &self.writer {
            let (_, commit) = writer.stage(Op::PutRefresh(token.clone())).await?;
            return Ok(commit);
        }
        let sql = format!(
            "INSERT INTO refresh_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        );
        on_pool!(self, |pool| {
            sqlx::query(&sql)
                .bind(&token.token_hash)
                .bind(&token.family_id)
                .bind(&token.object_id)
                .bind(&token.client_id)
                .bind(&token.grant)
                .bind(token.created_at)
                .bind(token.expires_at)
                .bind(token.auth_time)
                .execute(pool)
                .await?;
        });
        Ok(PendingCommit::done())
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
        Ok(self.rotate_refresh_token(token_hash, now, None).await?.used)
    }

    /// Spends the token as [`Store::use_refresh_token`] does and, when it was valid, stores
    /// `next` in the same family in the same transaction (one statement on PostgreSQL). The
    /// successor is not stored when the grant's sliding window has closed.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        now: Timestamp,
        next: Option<NextRefreshToken>,
    ) -> Result<Rotation, StoreError> {
        let (rotation, commit) = self.stage_refresh_rotation(token_hash, now, next).await?;
        commit.wait().await?;
        Ok(rotation)
    }

    /// [`Store::rotate_refresh_token`], returning as soon as its outcome is known: the token
    /// endpoint signs its tokens while the commit syncs, and answers once it is awaited.
    pub async fn stage_refresh_rotation(
        &self,
        token_hash: &str,
        now: Timestamp,
        next: Option<NextRefreshToken>,
    ) -> Result<(Rotation, PendingCommit), StoreError> {
        if let Some(writer) = &self.writer {
            let op = Op::Rotate {
                token_hash: token_hash.to_owned(),
                now,
                next,
            };
            return match writer.stage(op).await? {
                (Done::Rotation(rotation), commit) => Ok((rotation, commit)),
                _ => Err(StoreError::Corrupt(
                    "token writer: unexpected answer".into(),
                )),
            };
        }
        let spent = match (&self.pool, &next) {
            (Pool::Postgres(pool), Some(next)) => {
                // Spend and store the successor in one round trip.
                let sql = format!(
                    "WITH spent AS ({SPEND} RETURNING {COLUMNS}), \
                     next AS (INSERT INTO refresh_tokens ({COLUMNS}) \
                       SELECT $3, family_id, object_id, client_id, grant_json, $2, \
                              LEAST($2 + $4, COALESCE(auth_time + $5, expires_at)), auth_time \
                       FROM spent \
                       WHERE LEAST($2 + $4, COALESCE(auth_time + $5, expires_at)) > $2 \
                       RETURNING expires_at) \
                     SELECT spent.*, (SELECT expires_at FROM next) FROM spent"
                );
                let row: Option<RotatedRow> = sqlx::query_as(&sql)
                    .bind(token_hash)
                    .bind(now)
                    .bind(&next.token_hash)
                    .bind(next.lifetime)
                    .bind(next.sliding_window)
                    .fetch_optional(pool)
                    .await?;
                row.map(|(h, f, o, c, g, created, expires, auth, next_expires)| {
                    (
                        record((h, f, o, c, g, created, expires, auth)),
                        next_expires,
                    )
                })
            }
            _ => {
                let sql = format!("{SPEND} RETURNING {COLUMNS}");
                let row: Option<TokenRow> = on_pool!(self, |pool| {
                    sqlx::query_as(&sql)
                        .bind(token_hash)
                        .bind(now)
                        .fetch_optional(pool)
                        .await?
                });
                match row.map(record) {
                    Some(spent) => {
                        // In-memory SQLite (tests, one connection): the successor follows.
                        let mut next_expires_at = None;
                        if let Some(next) = &next {
                            let expires_at = next.expires_at(&spent, now);
                            if expires_at > now {
                                self.put_refresh_token(&RefreshTokenRecord {
                                    token_hash: next.token_hash.clone(),
                                    created_at: now,
                                    expires_at,
                                    ..spent.clone()
                                })
                                .await?;
                                next_expires_at = Some(expires_at);
                            }
                        }
                        Some((spent, next_expires_at))
                    }
                    None => None,
                }
            }
        };
        if let Some((spent, next_expires_at)) = spent {
            let rotation = Rotation {
                used: RefreshUse::Valid(spent),
                next_expires_at,
            };
            return Ok((rotation, PendingCommit::done()));
        }
        let look = format!(
            "SELECT {COLUMNS}, used_at IS NOT NULL AS used, \
             EXISTS (SELECT 1 FROM refresh_tokens f WHERE f.family_id = t.family_id AND f.revoked) \
             AS family_revoked \
             FROM refresh_tokens t WHERE token_hash = $1"
        );
        type LookRow = (
            String,
            String,
            String,
            String,
            String,
            Timestamp,
            Timestamp,
            Option<Timestamp>,
            bool,
            bool,
        );
        let row: Option<LookRow> = on_pool!(self, |pool| {
            sqlx::query_as(&look)
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        let found = row.map(
            |(h, f, o, c, g, created, expires, auth, used, family_revoked)| {
                (
                    record((h, f, o, c, g, created, expires, auth)),
                    used,
                    family_revoked,
                )
            },
        );
        let rotation = Rotation {
            used: RefreshUse::classify(found),
            next_expires_at: None,
        };
        Ok((rotation, PendingCommit::done()))
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
            auth_time: Some(1),
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

    fn next(hash: &str) -> NextRefreshToken {
        NextRefreshToken {
            token_hash: hash.into(),
            lifetime: 100,
            sliding_window: 500,
        }
    }

    /// A rotation spends the token and stores its successor in the same family, with the
    /// spent token's user, client, grant and sign-in time, expiring at `now + lifetime` capped
    /// by the sliding window.
    async fn rotation_stores_the_successor(db: TestDb) {
        let store = &db.store;
        store
            .put_refresh_token(&token("t1", "fam", "u1", 1000))
            .await
            .unwrap();
        let rotation = store
            .rotate_refresh_token("t1", 10, Some(next("t2")))
            .await
            .unwrap();
        assert!(matches!(rotation.used, RefreshUse::Valid(ref r) if r.token_hash == "t1"));
        assert_eq!(rotation.next_expires_at, Some(110));
        let stored = store.refresh_token("t2").await.unwrap().unwrap();
        assert_eq!(
            stored,
            RefreshTokenRecord {
                token_hash: "t2".into(),
                created_at: 10,
                expires_at: 110,
                ..token("t1", "fam", "u1", 1000)
            }
        );

        // Near the window's end (sign-in at 1, here a window of 150) the successor stops at 151.
        let short_window = NextRefreshToken {
            sliding_window: 150,
            ..next("t3")
        };
        let rotation = store
            .rotate_refresh_token("t2", 100, Some(short_window))
            .await
            .unwrap();
        assert_eq!(rotation.next_expires_at, Some(151));

        // Spent tokens rotate no more, and the reuse is reported with no successor stored.
        let rotation = store
            .rotate_refresh_token("t1", 120, Some(next("t4")))
            .await
            .unwrap();
        assert!(matches!(rotation.used, RefreshUse::Reused(_)));
        assert_eq!(rotation.next_expires_at, None);
        assert_eq!(store.refresh_token("t4").await.unwrap(), None);

        // Revoking the family (as the caller does on reuse) kills the successors too.
        assert_eq!(store.revoke_family("fam").await.unwrap(), 3);
        let rotation = store
            .rotate_refresh_token("t3", 130, Some(next("t5")))
            .await
            .unwrap();
        assert_eq!(rotation.used, RefreshUse::Revoked);
        assert_eq!(store.refresh_token("t5").await.unwrap(), None);
    }

    /// Once the sliding window has closed the token is still spent, but no successor is stored.
    async fn rotation_after_the_window_stores_nothing(db: TestDb) {
        let store = &db.store;
        store
            .put_refresh_token(&token("t1", "fam", "u1", 1000))
            .await
            .unwrap();
        let rotation = store
            .rotate_refresh_token("t1", 600, Some(next("t2")))
            .await
            .unwrap();
        assert!(matches!(rotation.used, RefreshUse::Valid(_)));
        assert_eq!(rotation.next_expires_at, None);
        assert_eq!(store.refresh_token("t2").await.unwrap(), None);

        // A token stored without its sign-in time: its successor ends with it.
        let mut old = token("o1", "old", "u1", 300);
        old.auth_time = None;
        store.put_refresh_token(&old).await.unwrap();
        let rotation = store
            .rotate_refresh_token("o1", 250, Some(next("o2")))
            .await
            .unwrap();
        assert_eq!(rotation.next_expires_at, Some(300));
    }

    /// Many grants at once (one transaction on SQLite's writer): each rotation is answered with
    /// its own outcome, and a failing one (a successor hash that exists) spends nothing.
    async fn concurrent_rotations_each_get_their_answer(db: TestDb) {
        let store = &db.store;
        for i in 0..40 {
            store
                .put_refresh_token(&token(&format!("a{i}"), &format!("f{i}"), "u1", 1000))
                .await
                .unwrap();
        }
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let store = store.clone();
                // Rotation 7 names an existing hash as its successor.
                let successor = if i == 7 {
                    "a8".to_string()
                } else {
                    format!("b{i}")
                };
                tokio::spawn(async move {
                    store
                        .rotate_refresh_token(&format!("a{i}"), 10, Some(next(&successor)))
                        .await
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            let result = task.await.unwrap();
            if i == 7 {
                assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
            } else {
                let rotation = result.unwrap();
                assert!(
                    matches!(rotation.used, RefreshUse::Valid(ref r) if r.token_hash == format!("a{i}"))
                );
                assert_eq!(rotation.next_expires_at, Some(110));
            }
        }
        // The failed rotation left its token unspent.
        assert!(matches!(
            store.use_refresh_token("a7", 20).await.unwrap(),
            RefreshUse::Valid(_)
        ));
    }

    on_each_backend!(
        rotation_and_reuse,
        expired_refresh_token,
        revoke_user_tokens,
        concurrent_use_yields_one_valid,
        rotation_stores_the_successor,
        rotation_after_the_window_stores_nothing,
        concurrent_rotations_each_get_their_answer,
    );
}
