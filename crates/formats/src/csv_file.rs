//! Reading the records of a CSV billing file, whatever its compression, with line numbers
//! (the records themselves come from `billow-csv`).

use std::path::{Path, PathBuf};

use crate::source::{self, Compression, Decompressed};
use crate::{Error, Result};

/// One CSV record: its fields, unquoted and unescaped.
pub use billow_csv::Record;

/// A CSV file's records with the line each starts on.
pub struct CsvFile {
    path: PathBuf,
    compression: Compression,
    inner: billow_csv::Reader<Decompressed>,
}

impl CsvFile {
    /// Opens `path` (plain, gzip or zip) for reading records, the header included.
    pub fn open(path: &Path) -> Result<Self> {
        let input = source::open(path)?;
        let compression = input.compression;
        Ok(CsvFile {
            path: path.to_path_buf(),
            compression,
            inner: billow_csv::Reader::new(input),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its compression.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Reads the next record into `record`; `false` at the end of the file. A blank line is a
    /// record of one empty field (readers skip them; AWS, Azure and OCI write none). Rows may
    /// be shorter or longer than the header (real CUR files leave trailing cells out):
    /// callers check lengths themselves so the error can name the file and line.
    pub fn read(&mut self, record: &mut Record) -> Result<bool> {
        self.inner.read(record).map_err(|e| {
            let detail = e.to_string();
            match e {
                billow_csv::Error::Io(source) => {
                    Decompressed::error_for(&self.path, self.compression, source)
                }
                billow_csv::Error::OpenQuote { line } | billow_csv::Error::TooLong { line } => {
                    Error::Csv {
                        path: self.path.clone(),
                        line,
                        detail,
                    }
                }
            }
        })
    }

    /// Line the last record read starts on (1-based; the header is line 1).
    pub fn line(&self) -> u64 {
        self.inner.line()
    }
}
