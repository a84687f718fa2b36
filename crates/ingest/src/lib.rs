//! One ingestion, end to end.
//!
//! This crate owns the path from an export version to published FOCUS rows: it copies the
//! source files into the raw zone by content hash, skips a delivery the lake already holds,
//! runs the right `billow-formats` reader with files decoded in parallel, streams the batches
//! into a staged `billow-lake` partition, records the ingestion with the source's exact totals,
//! and publishes the partition in one atomic commit. It also reconciles the lake against those
//! totals. The CLI's `ingest` and (later) the server's scheduler both call it; it parses no
//! format itself and speaks no HTTP.
//!
//! ```no_run
//! # async fn demo() -> Result<(), billow_ingest::Error> {
//! use billow_ingest::{IngestOptions, NoProgress, ingest_aws_cur};
//! let lake = billow_lake::Lake::open("billow-data").await?;
//! let reports = ingest_aws_cur(&lake, "exports/cur".as_ref(), &IngestOptions::new("aws-prod"), &NoProgress).await?;
//! let rows = billow_ingest::reconcile(&lake, None).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod error;
pub mod history;
mod pipeline;
mod raw;
mod reconcile;

pub use error::{Error, Result};
pub use pipeline::{
    BalanceCheck, IngestOptions, NoProgress, Outcome, PeriodReport, Progress,
    check_digitalocean_balances, ingest_as, ingest_aws_cost_explorer, ingest_aws_cur, ingest_azure,
    ingest_detected, ingest_digitalocean, ingest_focus, ingest_for_provider, ingest_gcp,
    ingest_oci, ingest_saas,
};
pub use reconcile::{ReconcileRow, ReconcileStatus, reconcile, reconcile_in};
