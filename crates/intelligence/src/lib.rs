//! Billow's Cost Intelligence.
//!
//! This crate owns the questions a FinOps dashboard asks of the cost lake and how they are
//! answered: the cost card of each provider (month to date, last month, the change, an
//! end-of-month projection and how fresh the data is), the daily trend stacked by provider,
//! and the top accounts, services, regions and tag values. Every answer is a
//! [`billow_lake::costs::CostQuery`] within the caller's [`billow_lake::Scope`], so it reads
//! the daily rollups the lake keeps at ingest rather than the month's rows, and it never
//! writes a cost row. Which connection belongs to which provider, and what a connection's
//! check says, are the caller's to supply: this crate knows the lake, not the metadata store.
#![warn(missing_docs)]

pub mod overview;

pub use overview::{CostColumn, Overview, OverviewRequest, ProviderCard, Ranked, Trend, overview};

/// What can go wrong answering a dashboard question.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The lake failed.
    #[error(transparent)]
    Lake(#[from] billow_lake::Error),
    /// The question itself is malformed (a date out of range, an empty window).
    #[error("{0}")]
    Invalid(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
