//! The FOCUS contract of Billow.
//!
//! This crate owns the FinOps Foundation FOCUS 1.2 Cost and Usage schema as an Arrow schema
//! (all 57 columns, with the spec's types), the spec's enumerations as Rust types, Billow's
//! `x_` columns, exact decimal money at `Decimal128(38,12)`, a conformance checker that
//! returns typed violations, and the projection to FOCUS 1.4 column names used by exports.
//! It does no I/O: readers in `billow-formats` produce batches of
//! [`schema::keyed_focus_schema`] (repeating text keyed), the lake stores them as
//! [`schema::focus_schema`], and everything else reads them.
//!
//! ```
//! use billow_focus::{money, schema};
//! let schema = schema::focus_schema();
//! assert!(schema.field_with_name("BilledCost").is_ok());
//! let cents = money::parse_decimal(b"7.0E-10").unwrap();
//! assert_eq!(money::format_decimal(cents.value), "0.0000000007");
//! ```
#![warn(missing_docs)]

pub mod conformance;
pub mod enums;
mod error;
pub mod money;
pub mod schema;
pub mod units;
pub mod versions;

pub use error::{Error, Result};
