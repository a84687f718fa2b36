use std::future::Future;

use billow_store::{Keyring, MasterKey, Store};
use sqlx::Row;

/// One fresh database: a SQLite file in a temporary directory, or a new PostgreSQL database.
pub(crate) struct Db {
    pub(crate) url: String,
    pub(crate) dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl Db {
    pub(crate) fn name(&self) -> &'static str {
        if self.postgres.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// The store on this database with a fixed test key.
    pub(crate) async fn store(&self) -> Store {
        Store::open(&self.url, Keyring::with_key(test_key()))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.name()))
    }

    /// A raw connection, for what a test must do behind the store's back (age a token,
    /// read what is on disk).
    pub(crate) async fn raw(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.url).await.unwrap()
    }

    /// Every stored value of every table, as text: what an attacker with the database
    /// would see.
    pub(crate) async fn dump(&self) -> String {
        if self.postgres.is_none() {
            // The file and its write-ahead log, bytes as they are on disk.
            let mut bytes = Vec::new();
            for name in ["billow.db", "billow.db-wal"] {
                bytes.extend(std::fs::read(self.dir.path().join(name)).unwrap_or_default());
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        let pool = self.raw().await;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut out = String::new();
        for t in tables {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT row_to_json(t)::text FROM \"{t}\" t"
            )))
            .fetch_all(&pool)
            .await
            .unwrap();
            for r in rows {
                out.push_str(&r.get::<String, _>(0));
                out.push('\n');
            }
        }
        pool.close().await;
        out
    }
}

pub(crate) fn test_key() -> MasterKey {
    MasterKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap()
}

async fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    Db {
        url: Store::sqlite_url(dir.path()),
        dir,
        postgres: None,
    }
}

async fn postgres(admin_url: &str) -> Db {
    sqlx::any::install_default_drivers();
    let name = format!("billow_test_{}", uuid_simple());
    let admin = sqlx::AnyPool::connect(admin_url).await.unwrap_or_else(|e| {
        panic!("BILLOW_TEST_POSTGRES_URL={admin_url}: {e} (is the server running?)")
    });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    Db {
        url: format!("{base}/{name}"),
        dir: tempfile::tempdir().unwrap(),
        postgres: Some((admin_url.to_string(), name)),
    }
}

fn uuid_simple() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}_{}", std::process::id())
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            // Best effort, on a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(admin) = sqlx::AnyPool::connect(&admin_url).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&admin)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Runs `scenario` on a fresh SQLite database and, when configured, a fresh PostgreSQL one.
pub(crate) async fn on_every_backend<F, Fut>(scenario: F)
where
    F: Fn(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    scenario(sqlite().await).await;
    match std::env::var("BILLOW_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => scenario(postgres(&url).await).await,
        _ if std::env::var("BILLOW_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
            panic!("BILLOW_REQUIRE_POSTGRES=1 but BILLOW_TEST_POSTGRES_URL is not set")
        }
        _ => eprintln!("PostgreSQL skipped: set BILLOW_TEST_POSTGRES_URL to run it"),
    }
}
