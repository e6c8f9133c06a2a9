//! Authorization codes, stored by hash and redeemable once.

use crate::writer::{Done, Op, PendingCommit};
use crate::{Store, StoreError, Timestamp};

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeRedemption {
    /// First use: the code is now spent.
    Redeemed {
        grant: String,
    },
    /// Used before: the caller revokes what it issued for this code (RFC 6749 §4.1.2).
    Replayed {
        grant: String,
    },
    Expired,
    NotFound,
}

impl Store {
    /// Stores a code's hash with its grant (opaque JSON). [`StoreError::Conflict`] if the hash exists.
    pub async fn put_code(
        &self,
        code_hash: &str,
        grant: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        if let Some(writer) = &self.writer {
            let op = Op::PutCode {
                code_hash: code_hash.to_owned(),
                grant: grant.to_owned(),
                expires_at,
            };
            writer.submit(op).await?;
            return Ok(());
        }
        let sql = "INSERT INTO auth_codes (code_hash, grant_json, expires_at) VALUES ($1, $2, $3)";
        on_pool!(self, |pool| {
            sqlx::query(sql)
                .bind(code_hash)
                .bind(grant)
                .bind(expires_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Spends the code. Exactly one of any number of concurrent callers, on any node, gets
    /// `Redeemed`: the conditional UPDATE is atomic on the row. A used code reports `Replayed`
    /// even after it expired, so the caller can still revoke.
    pub async fn redeem_code(
        &self,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<CodeRedemption, StoreError> {
        let (redemption, commit) = self.stage_code_redemption(code_hash, now).await?;
        commit.wait().await?;
        Ok(redemption)
    }

    /// [`Store::redeem_code`], returning as soon as its outcome is known; the spend is durable
    /// once the returned commit is awaited.
    pub async fn stage_code_redemption(
        &self,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<(CodeRedemption, PendingCommit), StoreError> {
        if let Some(writer) = &self.writer {
            let op = Op::RedeemCode {
                code_hash: code_hash.to_owned(),
                now,
            };
            return match writer.stage(op).await? {
                (Done::Code(redemption), commit) => Ok((redemption, commit)),
                _ => Err(StoreError::Corrupt(
                    "token writer: unexpected answer".into(),
                )),
            };
        }
        let spend = "UPDATE auth_codes SET used_at = $2 \
                     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                     RETURNING grant_json";
        let look = "SELECT grant_json, used_at FROM auth_codes WHERE code_hash = $1";
        let spent: Option<String> = on_pool!(self, |pool| {
            sqlx::query_scalar(spend)
                .bind(code_hash)
                .bind(now)
                .fetch_optional(pool)
                .await?
        });
        if let Some(grant) = spent {
            return Ok((CodeRedemption::Redeemed { grant }, PendingCommit::done()));
        }
        // Not spent by us: find out why. A code never becomes unused again, so this is stable.
        let row: Option<(String, Option<Timestamp>)> = on_pool!(self, |pool| {
            sqlx::query_as(look)
                .bind(code_hash)
                .fetch_optional(pool)
                .await?
        });
        let redemption = match row {
            None => CodeRedemption::NotFound,
            Some((grant, Some(_))) => CodeRedemption::Replayed { grant },
            Some((_, None)) => CodeRedemption::Expired,
        };
        Ok((redemption, PendingCommit::done()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::test_support::{TestDb, on_each_backend};

    async fn code_is_single_use(db: TestDb) {
        let store = &db.store;
        store.put_code("h1", r#"{"sub":"u1"}"#, 100).await.unwrap();
        let grant = r#"{"sub":"u1"}"#.to_string();
        assert_eq!(
            store.redeem_code("h1", 50).await.unwrap(),
            CodeRedemption::Redeemed {
                grant: grant.clone()
            }
        );
        assert_eq!(
            store.redeem_code("h1", 51).await.unwrap(),
            CodeRedemption::Replayed {
                grant: grant.clone()
            }
        );
        assert_eq!(
            store.redeem_code("h1", 500).await.unwrap(),
            CodeRedemption::Replayed { grant },
            "a replay stays a replay after expiry"
        );
        assert_eq!(
            store.redeem_code("nope", 50).await.unwrap(),
            CodeRedemption::NotFound
        );
        assert!(matches!(
            store.put_code("h1", "{}", 100).await,
            Err(StoreError::Conflict)
        ));
    }

    async fn expired_code_is_not_redeemed(db: TestDb) {
        let store = &db.store;
        store.put_code("h2", "{}", 100).await.unwrap();
        assert_eq!(
            store.redeem_code("h2", 100).await.unwrap(),
            CodeRedemption::Expired
        );
        assert_eq!(
            store.redeem_code("h2", 99).await.unwrap(),
            CodeRedemption::Redeemed { grant: "{}".into() }
        );
    }

    /// Many tasks on two pools (two nodes) race for one code: exactly one wins.
    async fn concurrent_redeem_yields_one_winner(db: TestDb) {
        let other = db.reopen().await;
        for round in 0..3 {
            let hash = format!("race{round}");
            db.store.put_code(&hash, "{}", 100).await.unwrap();
            let tasks: Vec<_> = (0..24)
                .map(|i| {
                    let store = if i % 2 == 0 {
                        db.store.clone()
                    } else {
                        other.clone()
                    };
                    let hash = hash.clone();
                    tokio::spawn(async move { store.redeem_code(&hash, 50).await })
                })
                .collect();
            let (mut redeemed, mut replayed) = (0, 0);
            for task in tasks {
                match task.await.unwrap().unwrap() {
                    CodeRedemption::Redeemed { .. } => redeemed += 1,
                    CodeRedemption::Replayed { .. } => replayed += 1,
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!((redeemed, replayed), (1, 23), "round {round}");
        }
    }

    on_each_backend!(
        code_is_single_use,
        expired_code_is_not_redeemed,
        concurrent_redeem_yields_one_winner,
    );
}
