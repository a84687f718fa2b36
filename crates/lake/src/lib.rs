//! Billow's cost lake.
//!
//! This crate owns the cost tables: Delta Lake tables in a data directory that Spark, Trino,
//! DuckDB and Databricks can read as they are. The `focus` table holds FOCUS rows partitioned
//! by `x_ConnectionId` and `x_BillingPeriod`; publishing an export version is a single Delta
//! commit that adds the new files of every period it holds and removes the old ones, so a
//! reader sees the old versions or the new ones, never a mix. The `ingestions` and
//! `ingestion_totals` tables record every ingestion with its source files, content hashes
//! and the source's own exact totals, so reconciliation and "what changed" are SQL queries
//! (DataFusion). Each published month also gets a daily rollup, read by cost queries only
//! while it matches the month's current rows. It knows nothing of provider formats.
//!
//! ```no_run
//! # async fn demo() -> billow_lake::Result<()> {
//! let lake = billow_lake::Lake::open("billow-data").await?;
//! let batches = lake.sql("SELECT SUM(BilledCost) FROM focus").await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod column_chunks;
pub mod costs;
mod dictionary;
mod error;
pub mod export;
mod focus_files;
mod records;
mod rollup;
mod scope;
mod sums;
mod tables;
mod text;

/// DataFusion expression helpers for callers that filter lake tables.
pub use datafusion::prelude::{Expr, SessionContext, ident, lit};
pub use error::{Error, Result};
pub use records::{BreakdownRecord, FileRecord, IngestionRecord, TotalsRecord};
pub use rollup::{DailyRollup, ServiceSums};
pub use scope::Scope;
pub use tables::{
    CommitSummary, Lake, PartitionKey, PartitionSink, StagedFiles, StagedPartition, collect_sql,
    conform, split_by_period, string_column,
};
