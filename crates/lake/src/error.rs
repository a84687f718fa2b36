use thiserror::Error;

/// Errors of the lake.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The data directory cannot be used.
    #[error(
        "data directory {path}: {source}. Check that it exists and is writable, or set BILLOW_DATA."
    )]
    DataDir {
        /// Directory.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A Delta operation failed.
    #[error("Delta table {table}: {source}")]
    Delta {
        /// Table name.
        table: &'static str,
        /// Cause.
        #[source]
        source: deltalake::DeltaTableError,
    },
    /// A data file could not be written.
    #[error(
        "writing {path}: {source}. Check the free space and permissions of the data directory; nothing was published."
    )]
    DataFile {
        /// File.
        path: std::path::PathBuf,
        /// Cause.
        source: parquet::errors::ParquetError,
    },
    /// A SQL query failed: usually the user's query.
    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    /// Arrow error.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// A batch handed to the lake is not for the partition being replaced.
    #[error(
        "a batch for {found} was given while replacing partition {expected}; a partition replace takes only its own rows"
    )]
    WrongPartition {
        /// Partition being written.
        expected: String,
        /// Partition of the batch.
        found: String,
    },
    /// The producer of the rows failed; nothing was committed.
    #[error("{0}")]
    Source(Box<dyn std::error::Error + Send + Sync>),
    /// The stored metadata is not what this version of Billow writes.
    #[error(
        "lake metadata is inconsistent: {0}. The data directory may come from another Billow version."
    )]
    Inconsistent(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) trait DeltaContext<T> {
    fn table(self, table: &'static str) -> Result<T>;
}

impl<T> DeltaContext<T> for std::result::Result<T, deltalake::DeltaTableError> {
    fn table(self, table: &'static str) -> Result<T> {
        self.map_err(|source| Error::Delta { table, source })
    }
}
