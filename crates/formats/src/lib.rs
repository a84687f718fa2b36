//! Native billing formats → FOCUS Arrow batches.
//!
//! This crate owns one reader per native export format. A reader takes bytes on local disk
//! (never the network: `billow-connect` fetches files, `billow-ingest` hands them here) and
//! yields record batches of [`billow_focus::schema::keyed_focus_schema`] (the `focus` columns,
//! repeating text keyed so the lake numbers values once), plus the source's own
//! totals summed exactly from the raw cells so the lake can be reconciled against them.
//! Readers stream with bounded memory (the Azure pairing index aside: a key and a cost per
//! actual row) and decode files in parallel; every error names the
//! file, the line and column, what was expected and what to do.
//!
//! ```no_run
//! use billow_formats::ReadOptions;
//! use billow_formats::aws_cur::discover;
//! let deliveries = discover(std::path::Path::new("exports/cur")).unwrap();
//! for d in &deliveries {
//!     println!("{} {} files", d.billing_period, d.files.len());
//!     for event in d.read(ReadOptions::new("aws-prod", "ingestion-1")) {
//!         let _ = event.unwrap();
//!     }
//! }
//! ```
#![warn(missing_docs)]

pub mod aws_ce;
pub mod aws_cur;
pub mod azure;
mod batch;
pub mod csv_file;
pub mod detect;
pub mod digitalocean;
mod error;
pub mod focus_file;
pub mod gcp;
#[cfg(feature = "isal")]
mod isal_gzip;
pub mod oci;
mod read;
pub mod rows;
pub mod saas;
pub mod source;
pub mod timestamp;

pub use batch::{FocusBatchBuilder, SourceTotals, TextGroup, TotalsKey};
pub use error::{Error, Result};
pub use read::{
    Consumer, FileSummary, ParallelRead, ReadEvent, ReadFiles, ReadOptions, read_parallel,
};
