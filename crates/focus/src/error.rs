use thiserror::Error;

/// Errors of the FOCUS crate: problems with values or schemas handed to it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A decimal value could not be parsed or does not fit.
    #[error("{0}")]
    Decimal(#[from] crate::money::DecimalError),
    /// A batch does not have the FOCUS schema.
    #[error("schema mismatch: {0}")]
    Schema(String),
    /// An Arrow error while checking or projecting a batch.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
