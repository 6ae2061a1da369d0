//! Throwaway databases: a SQLite file in a temporary directory, or a PostgreSQL database
//! created for one test and dropped after it.

use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::{Connection, PgConnection, RunQueryDsl};
use scopegate::core::secret::generate_id;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed test once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($db:ident: Backend) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn __case($db: $crate::support::Backend) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { __case($crate::support::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { __case($crate::support::Backend::Postgres).await }
        }
    )*};
}

/// The PostgreSQL server tests use: `SCOPEGATE_TEST_PG` or the local trust-auth default.
pub fn pg_base() -> String {
    std::env::var("SCOPEGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb {
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let name = format!(
                    "scopegate_test_{}_{}_{}",
                    std::process::id(),
                    n,
                    generate_id(6).to_lowercase()
                );
                let mut admin = PgConnection::establish(&format!("{}/postgres", pg_base()))
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL is needed at {} (set SCOPEGATE_TEST_PG): {e}",
                            pg_base()
                        )
                    });
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .expect("create test database");
                TestDb {
                    url: format!("{}/{name}", pg_base()),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut admin) = PgConnection::establish(&format!("{}/postgres", pg_base()))
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

impl TestDb {
    /// Runs `sql` against the database directly, past the store (a row an older release or a
    /// hand edit could have left).
    pub fn exec_sql(&self, sql: &str) {
        let url = self.url.clone();
        let sql = sql.to_owned();
        std::thread::spawn(move || match url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut c = diesel::SqliteConnection::establish(path).unwrap();
                diesel::sql_query(sql).execute(&mut c).unwrap();
            }
            None => {
                let mut c = PgConnection::establish(&url).unwrap();
                diesel::sql_query(sql).execute(&mut c).unwrap();
            }
        })
        .join()
        .unwrap();
    }
}
