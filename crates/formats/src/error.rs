use std::path::PathBuf;

use thiserror::Error;

/// Errors of the format readers. Every variant carries the file and, where it applies, the
/// line (1 = header) and column, and its message ends with what to do.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}. Check that the file exists and is readable.")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The compressed stream is damaged (corrupt gzip, truncated download).
    #[error(
        "{path}: the {compression} data is damaged or truncated ({detail}). Download the file again from the provider; a partial copy cannot be ingested."
    )]
    Corrupt {
        /// File.
        path: PathBuf,
        /// `gzip` or `zip`.
        compression: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// The file holds no header at all.
    #[error(
        "{path}: the file is empty; expected a CSV header line. Re-download it, or remove it from the manifest's reportKeys."
    )]
    Empty {
        /// File.
        path: PathBuf,
    },
    /// A zip archive without a CSV inside.
    #[error(
        "{path}: the zip archive holds no .csv file (found: {found}). Expected the CUR CSV inside; check that this is the report file."
    )]
    NoCsvInZip {
        /// File.
        path: PathBuf,
        /// Entries that were found.
        found: String,
    },
    /// The header lacks a column the reader needs.
    #[error("{path}: line 1: required column {column} is missing. {hint}")]
    MissingColumn {
        /// File.
        path: PathBuf,
        /// Column name.
        column: String,
        /// What to do.
        hint: &'static str,
    },
    /// The header names one column twice, so values would be ambiguous.
    #[error(
        "{path}: line 1: column {column} appears twice in the header (columns {first} and {second}). The file is malformed; re-export it."
    )]
    DuplicateColumn {
        /// File.
        path: PathBuf,
        /// Column name.
        column: String,
        /// 1-based position of the first occurrence.
        first: usize,
        /// 1-based position of the second occurrence.
        second: usize,
    },
    /// The CSV structure is broken (unterminated quote, wrong field count).
    #[error(
        "{path}: line {line}: malformed CSV: {detail}. The file is probably truncated or not a CSV export; re-download it."
    )]
    Csv {
        /// File.
        path: PathBuf,
        /// Line.
        line: u64,
        /// Detail.
        detail: String,
    },
    /// A cell does not hold what its column must hold.
    #[error("{path}: line {line}, column {column}: {found:?} is not {expected}. {hint}")]
    BadValue {
        /// File.
        path: PathBuf,
        /// Line.
        line: u64,
        /// Column name.
        column: String,
        /// The cell's text (cut to 80 characters).
        found: String,
        /// What was expected.
        expected: &'static str,
        /// What to do.
        hint: &'static str,
    },
    /// A field of an item in a JSON document (an API response) does not hold what it must.
    #[error("{path}: item {item}, field {field}: {found:?} is not {expected}. {hint}")]
    BadItem {
        /// File.
        path: PathBuf,
        /// 1-based position of the item in its list.
        item: u64,
        /// The field, with its list (`lineItems[].totalPriceCents`).
        field: String,
        /// The field's text (cut to 80 characters).
        found: String,
        /// What was expected.
        expected: &'static str,
        /// What to do.
        hint: &'static str,
    },
    /// The manifest is unusable.
    #[error("{path}: invalid manifest: {detail}. Expected {expected}.")]
    Manifest {
        /// Manifest file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
        /// The manifest Billow reads there, and what to do.
        expected: &'static str,
    },
    /// The manifest lists a data file that is not there.
    #[error(
        "{manifest}: the manifest lists {key}, which is not on disk (looked for {looked_for}). The delivery is incomplete: wait for AWS to finish writing it, or download the whole {period} folder again."
    )]
    MissingReportFile {
        /// Manifest file.
        manifest: PathBuf,
        /// The key as written in the manifest.
        key: String,
        /// Where it was looked for.
        looked_for: PathBuf,
        /// Period folder name.
        period: String,
    },
    /// Nothing recognizable at the path.
    #[error(
        "{path}: no AWS CUR delivery found. Looked for {looked_for}. Point at the report folder (<prefix>/<report>/), a period folder (yyyymmdd-yyyymmdd/) or one CUR file (.csv, .csv.gz, .zip)."
    )]
    NotFound {
        /// Path given.
        path: PathBuf,
        /// What was looked for.
        looked_for: &'static str,
    },
    /// A folder holds none of the files a reader takes.
    #[error("{path}: nothing to ingest: looked for {looked_for}.")]
    NothingToRead {
        /// Path given.
        path: PathBuf,
        /// What was looked for.
        looked_for: &'static str,
    },
    /// No known export format matches the file or folder.
    #[error(
        "{path}: not a billing export Billow recognizes; looked for {looked_for}. Name the format instead (`billow ingest <format> <path>`, see `billow ingest --help`)."
    )]
    UnknownFormat {
        /// Path given.
        path: PathBuf,
        /// What was looked for.
        looked_for: &'static str,
    },
    /// A row belongs to another billing period than its delivery.
    #[error(
        "{path}: line {line}: row is for billing period {found}, but the delivery is for {expected}. Files of different months must not be mixed; ingest each period folder on its own."
    )]
    PeriodMismatch {
        /// File.
        path: PathBuf,
        /// Line.
        line: u64,
        /// Period of the row.
        found: String,
        /// Period of the delivery.
        expected: String,
    },
    /// An exact total no longer fits.
    #[error(
        "{path}: the exact total of {column} overflowed 38 digits; split the delivery or report this as a bug."
    )]
    TotalOverflow {
        /// File.
        path: PathBuf,
        /// Column.
        column: &'static str,
    },
    /// Building an Arrow batch failed (a bug: the reader built inconsistent columns).
    #[error("internal error building a batch: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
