//! The connection: URL dispatch, pool options per dialect, embedded migrations.

use std::borrow::Cow;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::StoreError;
use crate::writer::Writer;

/// The database behind a [`Store`]. Cheap to clone: pools are reference counted.
#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Handle on the tenant's database. Clone it freely; clones share one connection pool.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    /// SQLite files: the connection that writes codes and refresh tokens (see `writer.rs`).
    pub(crate) writer: Option<Arc<Writer>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How long a SQLite connection waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 16;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

impl Store {
    /// Opens (and migrates) the database named by `url`:
    /// - `sqlite://path/to/file.db`: the file and its directory are created if missing; a
    ///   relative path is relative to the current directory.
    /// - `sqlite::memory:`: a private in-memory database (tests).
    /// - `postgres://user:pass@host/db` (or `postgresql://`).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let (pool, file) = if url.starts_with("sqlite:") {
            let (pool, file) = connect_sqlite(url).await?;
            (Pool::Sqlite(pool), file)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Pool::Postgres(connect_postgres(url).await?), None)
        } else {
            // The URL itself may hold a password: never echo it.
            return Err(StoreError::UnsupportedUrl(
                "expected sqlite:, postgres:// or postgresql://",
            ));
        };
        let mut store = Store { pool, writer: None };
        store.migrate().await?;
        if let Some(file) = file {
            store.writer = Some(Arc::new(Writer::open(&file, SQLITE_BUSY_TIMEOUT).await?));
        }
        tracing::debug!(backend = ?store.backend(), "store connected and migrated");
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // On PostgreSQL the migrator holds an advisory lock, so nodes starting together migrate once.
        match &self.pool {
            Pool::Sqlite(pool) => {
                Migrator::new(Embedded(SQLITE_MIGRATIONS))
                    .await?
                    .run(pool)
                    .await?
            }
            Pool::Postgres(pool) => {
                Migrator::new(Embedded(POSTGRES_MIGRATIONS))
                    .await?
                    .run(pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Closes the pool; clones of this store stop working. Tests use it before reopening.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close();
        }
        on_pool!(self, |pool| pool.close().await)
    }
}

/// The pool, and the file's path unless the database is in memory.
async fn connect_sqlite(url: &str) -> Result<(SqlitePool, Option<PathBuf>), StoreError> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let mut options = SqliteConnectOptions::from_str(url)?
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    if in_memory {
        // An in-memory database lives as long as its last connection: keep exactly one forever.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        return Ok((pool, None));
    }
    if let Some(dir) = options.get_filename().parent()
        && !dir.as_os_str().is_empty()
    {
        tokio::fs::create_dir_all(dir).await?;
    }
    create_private(options.get_filename()).await?;
    options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: each commit syncs the write-ahead log, so a power loss loses nothing that was
        // answered (NORMAL could lose the last transactions). The token writer shares one sync
        // among many grants.
        .synchronous(SqliteSynchronous::Full)
        // Pages read through a memory map rather than a read() per page: every connection of
        // the pool re-reads what another one changed, and the database stays small.
        .pragma("mmap_size", "268435456");
    let file = options.get_filename().to_path_buf();
    let pool = SqlitePoolOptions::new()
        .max_connections(SQLITE_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?;
    Ok((pool, Some(file)))
}

/// The database holds password hashes and signing keys: a new file is readable by its owner
/// only. SQLite creates the `-wal` and `-shm` files with the database file's mode.
async fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path).await {
        Ok(_) => Ok(()),
        // An existing database keeps the mode its operator gave it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn connect_postgres(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)?;
    Ok(PgPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?)
}

/// One migration: version, description, SQL.
type MigrationFile = (i64, &'static str, &'static str);

/// Compiled in, so the binary needs no migration folder at run time. Register new files here;
/// a test checks this list against the folders.
const SQLITE_MIGRATIONS: &[MigrationFile] = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "journey_version",
        include_str!("../migrations/sqlite/0002_journey_version.sql"),
    ),
    (
        3,
        "sign_in_throttle",
        include_str!("../migrations/sqlite/0003_sign_in_throttle.sql"),
    ),
    (
        5,
        "audit_subjects",
        include_str!("../migrations/sqlite/0005_audit_subjects.sql"),
    ),
    (
        6,
        "refresh_rotation",
        include_str!("../migrations/sqlite/0006_refresh_rotation.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[MigrationFile] = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "journey_version",
        include_str!("../migrations/postgres/0002_journey_version.sql"),
    ),
    (
        3,
        "sign_in_throttle",
        include_str!("../migrations/postgres/0003_sign_in_throttle.sql"),
    ),
    (
        5,
        "audit_subjects",
        include_str!("../migrations/postgres/0005_audit_subjects.sql"),
    ),
    (
        6,
        "refresh_rotation",
        include_str!("../migrations/postgres/0006_refresh_rotation.sql"),
    ),
];

#[derive(Debug)]
struct Embedded(&'static [MigrationFile]);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(std::future::ready(Ok(migrations)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::test_support::{TestDb, on_each_backend};

    /// Every file in `migrations/<dialect>/` is registered, in order, with matching text.
    #[test]
    fn embedded_migrations_match_the_folders() {
        for (dialect, list) in [
            ("sqlite", SQLITE_MIGRATIONS),
            ("postgres", POSTGRES_MIGRATIONS),
        ] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dialect);
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "sql"))
                .collect();
            files.sort();
            assert_eq!(
                files.len(),
                list.len(),
                "{dialect}: unregistered migration file"
            );
            for (path, &(version, description, sql)) in files.iter().zip(list) {
                let name = path.file_stem().unwrap().to_str().unwrap();
                let (v, d) = name.split_once('_').unwrap();
                assert_eq!(v.parse::<i64>().unwrap(), version, "{name}");
                assert_eq!(d, description, "{name}");
                assert_eq!(std::fs::read_to_string(path).unwrap(), sql, "{name}");
            }
        }
        assert_eq!(
            SQLITE_MIGRATIONS.len(),
            POSTGRES_MIGRATIONS.len(),
            "dialects out of step"
        );
    }

    #[tokio::test]
    async fn unsupported_url_does_not_echo_it() {
        let err = Store::connect("mysql://root:hunter2@db/x")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::UnsupportedUrl(_)));
        assert!(!err.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn in_memory_sqlite_works_across_tasks() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.setting_or_insert("k", &i.to_string()).await })
            })
            .collect();
        let mut values = Vec::new();
        for t in tasks {
            values.push(t.await.unwrap().unwrap());
        }
        values.dedup();
        assert_eq!(values.len(), 1);
    }

    #[tokio::test]
    async fn sqlite_creates_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/tenant.db");
        let store = Store::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        store.setting_or_insert("x", "1").await.unwrap();
        assert!(path.exists());
    }

    /// A new database file and its WAL and shared-memory files are readable by the owner only.
    #[cfg(unix)]
    #[tokio::test]
    async fn sqlite_files_are_created_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenant.db");
        let store = Store::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        store.setting_or_insert("x", "1").await.unwrap();
        for name in ["tenant.db", "tenant.db-wal", "tenant.db-shm"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
        }
    }

    /// Running migrations again on reconnect is a no-op, and the backend is what the URL says.
    async fn reconnect_migrates_once(db: TestDb) {
        let again = db.reopen().await;
        assert_eq!(again.backend(), db.store.backend());
        let third = db.reopen().await;
        third.setting_or_insert("k", "v").await.unwrap();
        assert_eq!(again.setting("k").await.unwrap().as_deref(), Some("v"));
    }

    /// Closing and reopening (a restart) keeps users, signing keys and sessions.
    async fn data_survives_reconnect(db: TestDb) {
        use crate::sessions::tests::session;
        use crate::signing_keys::tests::key;
        use crate::users::tests::new_user;

        let user = db
            .store
            .create_user(&new_user("u1", "ada@example.com"))
            .await
            .unwrap();
        db.store.insert_signing_key(&key("k1", 100)).await.unwrap();
        db.store
            .create_session(&session("s1", "u1", 1000))
            .await
            .unwrap();
        db.store
            .setting_or_insert("tenant_id", "t-1")
            .await
            .unwrap();
        db.store.close().await;

        let store = db.reopen().await;
        assert_eq!(store.user("u1").await.unwrap(), Some(user));
        assert_eq!(store.signing_keys().await.unwrap(), vec![key("k1", 100)]);
        assert_eq!(
            store.session("s1", 500).await.unwrap(),
            Some(session("s1", "u1", 1000))
        );
        assert_eq!(
            store.setting("tenant_id").await.unwrap().as_deref(),
            Some("t-1")
        );
    }

    on_each_backend!(reconnect_migrates_once, data_survives_reconnect);
}
