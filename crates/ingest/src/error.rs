use thiserror::Error;

/// Errors of an ingestion.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The source files are unusable (bad file, bad cell, missing manifest...).
    #[error(transparent)]
    Format(#[from] billow_formats::Error),
    /// The lake refused or failed.
    #[error(transparent)]
    Lake(#[from] billow_lake::Error),
    /// Copying into the raw zone failed.
    #[error(
        "raw zone {path}: {source}. Check free disk space and permissions of the data directory."
    )]
    Raw {
        /// Path.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The caller's scope hides a cost column the answer is made of.
    #[error("{what} needs the {column} column, which your cost types do not include")]
    Hidden {
        /// What was asked.
        what: &'static str,
        /// The hidden column.
        column: &'static str,
    },
    /// The reader's row count disagrees with what was written (a bug; nothing was published).
    #[error("internal error: {0}; nothing was published")]
    Internal(String),
    /// The files of one delivery are in different formats (say CUR 1 and CUR 2.0 together).
    #[error(
        "the files of one delivery are in different formats ({}); nothing was published. Keep one export per folder: each export (CUR or Data Exports) has its own report prefix.",
        formats.join(", ")
    )]
    MixedFormats {
        /// Format of each file.
        formats: Vec<&'static str>,
    },
    /// The files hold no row of any billing period, so there is nothing to publish.
    #[error(
        "{files} file(s) hold no rows; nothing was published. Check that the export is complete (a header-only file is what an export writes before its first data)."
    )]
    NoRows {
        /// Files read.
        files: usize,
    },
    /// The export is another provider's than the connection's.
    #[error(
        "{path} is an export of {found} ({format}), but connection {connection:?} is for {expected}; nothing was published. Send it to a connection of that provider, or create one."
    )]
    WrongProvider {
        /// The export.
        path: std::path::PathBuf,
        /// Its provider.
        found: &'static str,
        /// Its format (the `billow ingest` subcommand).
        format: &'static str,
        /// The connection.
        connection: String,
        /// The connection's provider.
        expected: String,
    },
    /// A connection name that cannot be used as a partition value.
    #[error(
        "connection name {0:?} is invalid: start with a letter or digit, then use letters, digits, '-', '_' or '.', at most 64 characters"
    )]
    BadConnection(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
