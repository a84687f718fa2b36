use crate::model::{Permission, Role};

/// What can go wrong in the store. User mistakes (bad input, no permission, unknown names)
/// are apart from failures of the database or the key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value the caller gave is not acceptable.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field, as the user named it.
        field: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// No such thing in the caller's organization (also what another organization's things
    /// look like, so ids of other organizations reveal nothing).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// It exists already.
    #[error("{what} already exists")]
    Conflict {
        /// What clashed.
        what: String,
    },
    /// The caller's role does not allow this.
    #[error("your role ({role}) may not {permission}; ask an Owner or Admin of the organization")]
    Forbidden {
        /// The caller's role.
        role: Role,
        /// What was attempted.
        permission: Permission,
    },
    /// A credential that is unknown, expired or revoked, or a wrong password.
    #[error("not authenticated: {0}")]
    Unauthenticated(&'static str),
    /// The master key is missing, malformed, or not the one the secrets were sealed with.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A sealed secret did not open (wrong key or damaged row).
    #[error("secret {name} of connection {connection} could not be decrypted: {reason}")]
    Unseal {
        /// The connection.
        connection: String,
        /// The secret's name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The database refused or failed.
    #[error("metadata database: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("metadata database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file of the data directory (the key file).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

/// The store's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            problem: problem.into(),
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound { what: what.into() }
    }
}

/// A unique index refused the row: the caller's duplicate, not a failure.
pub(crate) fn conflict_on_unique(e: sqlx::Error, what: impl FnOnce() -> String) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict { what: what() },
        _ => Error::Database(e),
    }
}
