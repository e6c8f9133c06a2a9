//! Runs each store test against every available backend: a SQLite file in a temp dir always,
//! and PostgreSQL when `TRUSTFRAME_TEST_POSTGRES_URL` is set, in a fresh schema per test so
//! tests run in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::any::Any;
use std::future::Future;
use std::io::Write;
use std::sync::Once;

use sqlx::Connection;

use crate::Store;

pub(crate) const POSTGRES_URL_VAR: &str = "TRUSTFRAME_TEST_POSTGRES_URL";

/// A store under test and the URL that reopens the same database.
pub(crate) struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A second, independent connection to the same database (as after a restart, or another node).
    pub async fn reopen(&self) -> Store {
        Store::connect(&self.url).await.expect("reopen")
    }
}

pub(crate) async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tenant.db").display());
    let store = Store::connect(&url).await.expect("connect sqlite");
    test(TestDb {
        store,
        url,
        _dir: Some(dir),
    })
    .await;
}

pub(crate) async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(base) = std::env::var(POSTGRES_URL_VAR) else {
        static SKIPPED: Once = Once::new();
        // Written to the real stderr: the test harness would swallow eprintln!.
        SKIPPED.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "trustframe-store: PostgreSQL tests skipped ({POSTGRES_URL_VAR} is not set)"
            );
        });
        return;
    };
    let schema = format!("tf_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect postgres");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");
    // The test runs in its own task so a failing assertion still lets us drop the schema.
    let outcome: Result<(), Box<dyn Any + Send>> = match Store::connect(&url).await {
        Ok(store) => tokio::spawn(test(TestDb {
            store,
            url,
            _dir: None,
        }))
        .await
        .map_err(|e| e.into_panic()),
        Err(e) => Err(Box::new(format!("connect postgres store: {e}"))),
    };
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await
        .unwrap();
    let _ = admin.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// `on_each_backend!(name)` turns `async fn name(db: TestDb)` into the tests `name::sqlite` and
/// `name::postgres`.
macro_rules! on_each_backend {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $crate::test_support::run_sqlite(super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $crate::test_support::run_postgres(super::$name).await
            }
        }
    )+};
}
pub(crate) use on_each_backend;
