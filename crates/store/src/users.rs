//! The directory: users, their sign-in identities, password hashes and attributes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{decode_json, encode_json};
use crate::{Store, StoreError, Timestamp};

/// One way to sign in, as in B2C's `identities` collection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    /// `"emailAddress"`, `"userName"` or `"federated"`.
    pub sign_in_type: String,
    pub issuer: String,
    /// Compared without regard to case.
    pub issuer_assigned_id: String,
}

#[derive(Clone)]
pub struct NewUser {
    pub object_id: String,
    pub identities: Vec<Identity>,
    pub password_hash: Option<String>,
    pub attributes: Map<String, Value>,
    pub created_at: Timestamp,
}

#[derive(Clone, PartialEq)]
pub struct User {
    pub object_id: String,
    pub identities: Vec<Identity>,
    pub password_hash: Option<String>,
    pub attributes: Map<String, Value>,
    pub created_at: Timestamp,
}

// Debug by hand: a password hash has no business in a log line.
impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("object_id", &self.object_id)
            .field("identities", &self.identities)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("attributes", &self.attributes)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("object_id", &self.object_id)
            .field("identities", &self.identities)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("attributes", &self.attributes)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// The key identities are unique and looked up by. Lowercased here rather than with SQL
/// `lower()`, which is ASCII-only in SQLite and locale-dependent in PostgreSQL.
fn identity_key(issuer_assigned_id: &str) -> String {
    issuer_assigned_id.to_lowercase()
}

type UserRow = (String, Option<String>, String, Timestamp);
type IdentityRow = (String, String, String);

fn user_from_rows(user: UserRow, identities: Vec<IdentityRow>) -> Result<User, StoreError> {
    let (object_id, password_hash, attributes, created_at) = user;
    Ok(User {
        object_id,
        identities: identities
            .into_iter()
            .map(|(sign_in_type, issuer, issuer_assigned_id)| Identity {
                sign_in_type,
                issuer,
                issuer_assigned_id,
            })
            .collect(),
        password_hash,
        attributes: decode_json(&attributes, "users.attributes")?,
        created_at,
    })
}

impl Store {
    /// Creates the user and its identities in one transaction. [`StoreError::Conflict`] if the
    /// object id or any identity (sign-in type, issuer, issuer-assigned id without regard to
    /// case) exists, including twice in `user.identities`; then nothing is written.
    pub async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        let attributes = encode_json(&user.attributes, "users.attributes")?;
        let insert_user = "INSERT INTO users (object_id, password_hash, attributes, created_at) \
                           VALUES ($1, $2, $3, $4)";
        let insert_identity = "INSERT INTO identities \
            (object_id, position, sign_in_type, issuer, issuer_assigned_id, issuer_assigned_id_key) \
            VALUES ($1, $2, $3, $4, $5, $6)";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(insert_user)
                .bind(&user.object_id)
                .bind(&user.password_hash)
                .bind(&attributes)
                .bind(user.created_at)
                .execute(&mut *tx)
                .await?;
            for (position, identity) in (0_i64..).zip(&user.identities) {
                sqlx::query(insert_identity)
                    .bind(&user.object_id)
                    .bind(position)
                    .bind(&identity.sign_in_type)
                    .bind(&identity.issuer)
                    .bind(&identity.issuer_assigned_id)
                    .bind(identity_key(&identity.issuer_assigned_id))
                    .execute(&mut *tx)
                    .await?;
            }
            // An early return above drops `tx`, which rolls back.
            tx.commit().await?;
        });
        Ok(User {
            object_id: user.object_id.clone(),
            identities: user.identities.clone(),
            password_hash: user.password_hash.clone(),
            attributes: user.attributes.clone(),
            created_at: user.created_at,
        })
    }

    pub async fn user(&self, object_id: &str) -> Result<Option<User>, StoreError> {
        let select_user = "SELECT object_id, password_hash, attributes, created_at FROM users WHERE object_id = $1";
        let select_identities = "SELECT sign_in_type, issuer, issuer_assigned_id FROM identities \
                                 WHERE object_id = $1 ORDER BY position";
        let (user, identities) = on_pool!(self, |pool| {
            // One transaction so the user and its identities are read from one snapshot.
            let mut tx = pool.begin().await?;
            let user: Option<UserRow> = sqlx::query_as(select_user)
                .bind(object_id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(user) = user else {
                return Ok(None);
            };
            let identities: Vec<IdentityRow> = sqlx::query_as(select_identities)
                .bind(object_id)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            (user, identities)
        });
        user_from_rows(user, identities).map(Some)
    }

    /// Finds the user owning an identity; `issuer_assigned_id` is matched without regard to case,
    /// `sign_in_type` and `issuer` exactly.
    pub async fn user_by_identity(
        &self,
        sign_in_type: &str,
        issuer: &str,
        issuer_assigned_id: &str,
    ) -> Result<Option<User>, StoreError> {
        let sql = "SELECT object_id FROM identities \
                   WHERE sign_in_type = $1 AND issuer = $2 AND issuer_assigned_id_key = $3";
        let key = identity_key(issuer_assigned_id);
        let object_id: Option<String> = on_pool!(self, |pool| {
            sqlx::query_scalar(sql)
                .bind(sign_in_type)
                .bind(issuer)
                .bind(&key)
                .fetch_optional(pool)
                .await?
        });
        match object_id {
            Some(object_id) => self.user(&object_id).await,
            None => Ok(None),
        }
    }

    /// Merges `attributes` into the user's: present keys overwrite, `Value::Null` removes the key.
    /// [`StoreError::NotFound`] if there is no such user.
    pub async fn update_user_attributes(
        &self,
        object_id: &str,
        attributes: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        // The no-op UPDATE takes the row's write lock first (SQLite: the database's), so the
        // read-merge-write below cannot lose a concurrent update on either dialect.
        let lock = "UPDATE users SET attributes = attributes WHERE object_id = $1";
        let select = "SELECT attributes FROM users WHERE object_id = $1";
        let update = "UPDATE users SET attributes = $2 WHERE object_id = $1";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let locked = sqlx::query(lock).bind(object_id).execute(&mut *tx).await?;
            if locked.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let stored: String = sqlx::query_scalar(select)
                .bind(object_id)
                .fetch_one(&mut *tx)
                .await?;
            let mut merged: Map<String, Value> = decode_json(&stored, "users.attributes")?;
            for (key, value) in attributes {
                if value.is_null() {
                    merged.remove(key);
                } else {
                    merged.insert(key.clone(), value.clone());
                }
            }
            let merged = encode_json(&merged, "users.attributes")?;
            sqlx::query(update)
                .bind(object_id)
                .bind(&merged)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deletes a user with its identities, SSO sessions and refresh tokens, in one
    /// transaction; `false` if there was no such user.
    pub async fn delete_user(&self, object_id: &str) -> Result<bool, StoreError> {
        let dependents = [
            "DELETE FROM identities WHERE object_id = $1",
            "DELETE FROM sso_sessions WHERE object_id = $1",
            "DELETE FROM refresh_tokens WHERE object_id = $1",
        ];
        let user = "DELETE FROM users WHERE object_id = $1";
        let rows = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for sql in dependents {
                sqlx::query(sql).bind(object_id).execute(&mut *tx).await?;
            }
            let rows = sqlx::query(user)
                .bind(object_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            rows
        });
        Ok(rows > 0)
    }

    /// [`StoreError::NotFound`] if there is no such user.
    pub async fn set_password_hash(
        &self,
        object_id: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE users SET password_hash = $2 WHERE object_id = $1";
        let rows = on_pool!(self, |pool| {
            sqlx::query(sql)
                .bind(object_id)
                .bind(password_hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if rows == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use serde_json::json;

    use super::*;
    use crate::test_support::{TestDb, on_each_backend};

    pub(crate) fn identity(sign_in_type: &str, issuer: &str, id: &str) -> Identity {
        Identity {
            sign_in_type: sign_in_type.into(),
            issuer: issuer.into(),
            issuer_assigned_id: id.into(),
        }
    }

    pub(crate) fn new_user(object_id: &str, email: &str) -> NewUser {
        NewUser {
            object_id: object_id.into(),
            identities: vec![identity("emailAddress", "contoso.onmicrosoft.com", email)],
            password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
            attributes: json!({"displayName": "Ada", "extension_loyalty": 7})
                .as_object()
                .unwrap()
                .clone(),
            created_at: 1_700_000_000,
        }
    }

    async fn create_and_read_user(db: TestDb) {
        let store = &db.store;
        let mut new = new_user("u1", "Ada@Example.com");
        new.identities
            .push(identity("userName", "contoso.onmicrosoft.com", "ada"));
        new.identities
            .push(identity("federated", "https://accounts.google.com", "1234"));
        let created = store.create_user(&new).await.unwrap();
        let read = store.user("u1").await.unwrap().unwrap();
        assert_eq!(created, read);
        assert_eq!(
            read.identities, new.identities,
            "identities keep their order and case"
        );
        assert_eq!(read.attributes, new.attributes);
        assert_eq!(read.password_hash, new.password_hash);
        assert_eq!(read.created_at, 1_700_000_000);
        assert!(store.user("nobody").await.unwrap().is_none());

        // A user without identities or password (e.g. created by an admin) is fine too.
        let bare = NewUser {
            object_id: "u2".into(),
            identities: vec![],
            password_hash: None,
            attributes: Map::new(),
            created_at: 1,
        };
        store.create_user(&bare).await.unwrap();
        let read = store.user("u2").await.unwrap().unwrap();
        assert!(read.identities.is_empty() && read.password_hash.is_none());
        assert!(
            !format!("{read:?}{new:?}").contains("argon2"),
            "Debug redacts hashes"
        );
    }

    async fn duplicate_identity_is_a_conflict_and_writes_nothing(db: TestDb) {
        let store = &db.store;
        store
            .create_user(&new_user("u1", "ada@example.com"))
            .await
            .unwrap();

        // Second user: a fresh identity first, then the taken one in another case.
        let mut dup = new_user("u2", "fresh@example.com");
        dup.identities.push(identity(
            "emailAddress",
            "contoso.onmicrosoft.com",
            "ADA@example.COM",
        ));
        let err = store.create_user(&dup).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{err:?}");
        assert!(
            store.user("u2").await.unwrap().is_none(),
            "no half-written user"
        );
        assert!(
            store
                .user_by_identity(
                    "emailAddress",
                    "contoso.onmicrosoft.com",
                    "fresh@example.com"
                )
                .await
                .unwrap()
                .is_none(),
            "no half-written identity"
        );

        // The same identity twice within one new user.
        let mut twice = new_user("u3", "x@example.com");
        twice.identities.push(identity(
            "emailAddress",
            "contoso.onmicrosoft.com",
            "X@example.com",
        ));
        assert!(matches!(
            store.create_user(&twice).await,
            Err(StoreError::Conflict)
        ));
        assert!(store.user("u3").await.unwrap().is_none());

        // The same object id again.
        let again = new_user("u1", "other@example.com");
        assert!(matches!(
            store.create_user(&again).await,
            Err(StoreError::Conflict)
        ));

        // Same id under another sign-in type or issuer is a different identity.
        let mut other = new_user("u4", "y@example.com");
        other.identities = vec![
            identity("userName", "contoso.onmicrosoft.com", "ada@example.com"),
            identity(
                "emailAddress",
                "fabrikam.onmicrosoft.com",
                "ada@example.com",
            ),
        ];
        store.create_user(&other).await.unwrap();
    }

    async fn identity_lookup_ignores_case(db: TestDb) {
        let store = &db.store;
        let mut new = new_user("u1", "Ada.Lovelace@Example.com");
        new.identities
            .push(identity("userName", "contoso.onmicrosoft.com", "ÅDA"));
        store.create_user(&new).await.unwrap();
        for id in [
            "ada.lovelace@example.com",
            "ADA.LOVELACE@EXAMPLE.COM",
            "Ada.Lovelace@Example.com",
        ] {
            let found = store
                .user_by_identity("emailAddress", "contoso.onmicrosoft.com", id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(found.object_id, "u1");
            assert_eq!(
                found.identities[0].issuer_assigned_id,
                "Ada.Lovelace@Example.com"
            );
        }
        // Beyond ASCII as well, identically on both dialects.
        let found = store
            .user_by_identity("userName", "contoso.onmicrosoft.com", "ådA")
            .await;
        assert_eq!(found.unwrap().unwrap().object_id, "u1");
        let wrong_type = store
            .user_by_identity(
                "userName",
                "contoso.onmicrosoft.com",
                "ada.lovelace@example.com",
            )
            .await;
        assert!(wrong_type.unwrap().is_none());
        let wrong_issuer = store
            .user_by_identity(
                "emailAddress",
                "fabrikam.onmicrosoft.com",
                "ada.lovelace@example.com",
            )
            .await;
        assert!(wrong_issuer.unwrap().is_none());
    }

    async fn attributes_merge_and_null_removes(db: TestDb) {
        let store = &db.store;
        store
            .create_user(&new_user("u1", "ada@example.com"))
            .await
            .unwrap();
        let patch = json!({"displayName": "Ada L.", "extension_loyalty": null, "city": "London"});
        store
            .update_user_attributes("u1", patch.as_object().unwrap())
            .await
            .unwrap();
        let user = store.user("u1").await.unwrap().unwrap();
        assert_eq!(
            Value::Object(user.attributes),
            json!({"displayName": "Ada L.", "city": "London"})
        );

        // Removing an absent key is fine; an empty patch changes nothing.
        let patch = json!({"nothing": null});
        store
            .update_user_attributes("u1", patch.as_object().unwrap())
            .await
            .unwrap();
        store
            .update_user_attributes("u1", &Map::new())
            .await
            .unwrap();
        let user = store.user("u1").await.unwrap().unwrap();
        assert_eq!(
            Value::Object(user.attributes),
            json!({"displayName": "Ada L.", "city": "London"})
        );

        let missing = store.update_user_attributes("nobody", &Map::new()).await;
        assert!(matches!(missing, Err(StoreError::NotFound)));
    }

    /// Concurrent merges of different keys, from two pools, lose nothing.
    async fn concurrent_attribute_merges_lose_nothing(db: TestDb) {
        db.store
            .create_user(&new_user("u1", "ada@example.com"))
            .await
            .unwrap();
        let other = db.reopen().await;
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let store = if i % 2 == 0 {
                    db.store.clone()
                } else {
                    other.clone()
                };
                tokio::spawn(async move {
                    let mut patch = Map::new();
                    patch.insert(format!("k{i}"), Value::from(i));
                    store.update_user_attributes("u1", &patch).await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let user = db.store.user("u1").await.unwrap().unwrap();
        for i in 0..12 {
            assert_eq!(
                user.attributes.get(&format!("k{i}")),
                Some(&Value::from(i)),
                "k{i}"
            );
        }
    }

    async fn password_hash_is_replaced(db: TestDb) {
        let store = &db.store;
        store
            .create_user(&new_user("u1", "ada@example.com"))
            .await
            .unwrap();
        store.set_password_hash("u1", "new-hash").await.unwrap();
        let user = store.user("u1").await.unwrap().unwrap();
        assert_eq!(user.password_hash.as_deref(), Some("new-hash"));
        assert!(matches!(
            store.set_password_hash("nobody", "h").await,
            Err(StoreError::NotFound)
        ));
    }

    async fn corrupt_attributes_are_reported(db: TestDb) {
        let store = &db.store;
        store
            .create_user(&new_user("u1", "ada@example.com"))
            .await
            .unwrap();
        let sql = "UPDATE users SET attributes = $1 WHERE object_id = 'u1'";
        on_pool!(store, |pool| {
            sqlx::query(sql)
                .bind("{\"secret\": ")
                .execute(pool)
                .await
                .unwrap();
        });
        let err = store.user("u1").await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
        assert!(
            !err.to_string().contains("secret"),
            "the message does not quote stored data"
        );
    }

    async fn delete_user_removes_the_account_and_its_identities(db: TestDb) {
        let store = &db.store;
        store
            .create_user(&new_user("u1", "ada@example.com"))
            .await
            .unwrap();
        store
            .create_user(&new_user("u2", "bob@example.com"))
            .await
            .unwrap();
        assert!(store.delete_user("u1").await.unwrap());
        assert!(store.user("u1").await.unwrap().is_none());
        let found = store
            .user_by_identity("emailAddress", "contoso.onmicrosoft.com", "ada@example.com")
            .await
            .unwrap();
        assert!(found.is_none());
        assert!(store.user("u2").await.unwrap().is_some(), "others stay");
        assert!(
            !store.delete_user("u1").await.unwrap(),
            "a second delete finds nobody"
        );
        // The address can sign up again.
        store
            .create_user(&new_user("u3", "ada@example.com"))
            .await
            .unwrap();
    }

    on_each_backend!(
        delete_user_removes_the_account_and_its_identities,
        create_and_read_user,
        duplicate_identity_is_a_conflict_and_writes_nothing,
        identity_lookup_ignores_case,
        attributes_merge_and_null_removes,
        concurrent_attribute_merges_lose_nothing,
        password_hash_is_replaced,
        corrupt_attributes_are_reported,
    );
}
