//! Billow's metadata: organizations, users and their roles and cost-type permissions, API
//! tokens and login sessions, connections with their encrypted secrets, sync state and the
//! audit log. SQLite (a file next to the lake) by default, PostgreSQL by URL, through one
//! code path (sqlx's Any driver over one portable schema; migrations run when the store
//! opens). Every method that reads or changes an organization's data takes the caller's
//! [`Access`] and checks its [`Permission`] itself, so neither the server nor the CLI can
//! forget to. It holds no cost rows (those live in the lake) and speaks no HTTP.
//!
//! ```no_run
//! # async fn demo(dir: &std::path::Path) -> billow_store::Result<()> {
//! use billow_store::{Keyring, Role, Store};
//! let store = Store::open(&Store::sqlite_url(dir), Keyring::load(dir)?).await?;
//! let owner = store.local_owner().await?;
//! store.add_member(&owner, "ana@example.com", "Ana", Some("a long passphrase"), Role::Viewer, None, &[]).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod audit;
mod connections;
mod credentials;
mod error;
pub mod model;
mod secrets;
mod users;

use std::path::Path;
use std::sync::{Arc, RwLock};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, SqlSafeStr};

pub use audit::AuditEntry;
pub use connections::{Connection, PROVIDERS, SyncState, provider_of_source_format};
pub use credentials::{Credential, CredentialKind, MAX_TOKEN_DAYS, SESSION_HOURS};
pub use error::{Error, Result};
pub use model::{AccountScope, CostType, CostTypes, Permission, Role};
pub use secrets::{KEY_FILE, KeySource, Keyring, MASTER_KEY_ENV, MasterKey, Revealed, SecretInfo};
pub use users::{DEFAULT_ORGANIZATION, Member, Organization};

/// The migrations, in order; each runs once per database, in its own transaction.
const MIGRATIONS: [(i64, &str, &str); 1] =
    [(1, "initial", include_str!("../migrations/0001_initial.sql"))];

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (the default).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The metadata store: a connection pool and the master key of the secrets. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    keyring: Arc<RwLock<Keyring>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Who is asking, in which organization, and what they may see: the result of
/// authentication, passed to every method that touches an organization's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The organization every read and write is scoped to.
    pub org_id: String,
    /// The user (empty for the local CLI).
    pub user_id: String,
    /// The user's email, or `local` for the CLI.
    pub actor: String,
    /// The role in force: the membership's, capped by the token's.
    pub role: Role,
    /// The cost types this caller may see.
    pub cost_types: CostTypes,
    /// The accounts this caller may see.
    pub accounts: AccountScope,
    /// How the caller authenticated.
    pub via: Via,
}

/// How a caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The CLI on the machine that holds the data directory: the Owner of the default
    /// organization.
    Local,
    /// An API token (its id).
    Token(String),
    /// A login session (its id).
    Session(String),
    /// The server's scheduler, syncing a connection that has a source.
    Scheduler,
}

impl Access {
    /// `Ok` when the role allows `permission`, otherwise [`Error::Forbidden`].
    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.role.allows(permission) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                role: self.role,
                permission,
            })
        }
    }

    /// Whether the caller may see `cost_type`.
    pub fn sees(&self, cost_type: CostType) -> bool {
        self.cost_types.contains(cost_type)
    }
}

impl Store {
    /// The default store's URL: `billow.db` in the data directory (created when missing).
    pub fn sqlite_url(data_dir: &Path) -> String {
        format!("sqlite://{}?mode=rwc", data_dir.join("billow.db").display())
    }

    /// Opens the database at `url` (`sqlite://…` or `postgres://…`) and brings its schema
    /// up to date.
    pub async fn open(url: &str, keyring: Keyring) -> Result<Store> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::invalid(
                "database URL",
                "expected sqlite://<file> or postgres://user@host/db",
            ));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time anyway; readers share the WAL.
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .connect(url)
            .await?;
        if backend == Backend::Sqlite {
            // Readers never wait for a writer (persistent in the file).
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
            restrict_sqlite_files(url)?;
        }
        let migrations = MIGRATIONS
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    (*name).into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations).run(&pool).await?;
        Ok(Store {
            pool,
            backend,
            keyring: Arc::new(RwLock::new(keyring)),
        })
    }

    /// The database it runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction. SQLite's default (deferred) transaction takes the write lock
    /// only at its first write and fails with "database is locked" when another writer got
    /// there first, whatever the busy timeout; an immediate one waits for the lock instead.
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool (waits for open connections).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The database holds password and token hashes: only its owner may read it (and its
/// write-ahead log).
fn restrict_sqlite_files(url: &str) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = url
            .trim_start_matches("sqlite:")
            .trim_start_matches("//")
            .split('?')
            .next()
            .unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return Ok(());
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{path}{suffix}"));
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::Io {
                        path: file,
                        source: e,
                    });
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Now, in microseconds since the Unix epoch (how the store keeps times).
pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
