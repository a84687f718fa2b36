//! Deterministic generators of native billing deliveries.
//!
//! This crate owns realistic test data: for a seed it writes a provider's delivery exactly as
//! the provider lays it out (the AWS CUR 1 versioned layout with period manifest, assembly
//! folder, gzip CSV files, ~130 columns and the real mix of line item types; Azure EA and MCA
//! actual and amortized exports with their manifests; GCP billing export JSON; a DigitalOcean
//! invoice; OCI cost reports; FOCUS files of SaaS vendors; Cost Explorer and OpenAI API
//! responses) and the exact expected totals beside it,
//! computed independently of Billow's readers. Tests,
//! benchmarks and `billow demo` use it; production code paths never do.
//!
//! ```no_run
//! use billow_synth::aws_cur::{CurSpec, write_delivery};
//! let spec = CurSpec::new(7, 2026, 10).with_rows(10_000).with_files(2);
//! let d = write_delivery(std::path::Path::new("/tmp/cur"), &spec).unwrap();
//! println!("{} rows, billed {}", d.expected.rows, d.expected.total_billed());
//! ```
#![warn(missing_docs)]

pub mod api_responses;
pub mod aws_cur;
pub mod azure;
mod decimal;
pub mod digitalocean;
pub mod focus_saas;
pub mod gcp;
pub mod oci;
mod parquet_out;

pub use decimal::{format_scaled, format_units};
