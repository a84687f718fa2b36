//! Rows of a tabular billing file as text cells, whatever the file's encoding.
//!
//! A provider often ships one table in two encodings (AWS CUR 2.0 as gzip CSV or Parquet).
//! Readers map cells by column name to FOCUS once; this module gives them the same cells from
//! either encoding, so one mapping serves both and both reconcile the same way.
//!
//! Parquet values become the text the CSV would hold: floating-point money becomes its
//! shortest decimal that reads back as the same double (`0.1`, not
//! `0.1000000000000000055511151231257827`), which is the decimal the provider computed before
//! storing it as a double; timestamps become RFC 3339 UTC; map columns become JSON objects, as
//! in CUR 2.0's CSV delivery.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::csv_file::{CsvFile, Record};
use crate::source::{self, Compression};
use crate::{Error, Result};

/// A source of records: the header first, then one record per row.
pub trait Rows {
    /// Reads the next record into `record`; `false` at the end.
    fn read(&mut self, record: &mut Record) -> Result<bool>;
    /// Position of the last record read: its line in a CSV file (the header is line 1), its
    /// row number in a Parquet file (the first data row is row 1, the header row 0).
    fn line(&self) -> u64;
}

impl Rows for CsvFile {
    fn read(&mut self, record: &mut Record) -> Result<bool> {
        CsvFile::read(self, record)
    }

    fn line(&self) -> u64 {
        CsvFile::line(self)
    }
}

/// A header cell as a lookup key: UTF-8 BOM stripped, trimmed, lower-cased.
pub(crate) fn header_name(raw: &[u8]) -> String {
    let raw = raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw);
    String::from_utf8_lossy(raw).trim().to_ascii_lowercase()
}

/// How many fields a data record may have, against the header's count.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    /// Exactly the header's (FOCUS files).
    Exact,
    /// At most the header's: trailing empty cells may be left out (real CUR and OCI files).
    AtMost,
}

/// Reads the next data record into `record`, skipping blank lines; `false` at the end of
/// the file. A record wider than `width` allows is an error naming its line.
pub(crate) fn next_record(
    source: &mut dyn Rows,
    record: &mut Record,
    path: &Path,
    header_len: usize,
    width: Width,
) -> Result<bool> {
    loop {
        if !source.read(record)? {
            return Ok(false);
        }
        if record.len() == 1 && record.get(0) == Some(b"") {
            continue;
        }
        let fits = match width {
            Width::Exact => record.len() == header_len,
            Width::AtMost => record.len() <= header_len,
        };
        if !fits {
            return Err(Error::Csv {
                path: path.to_path_buf(),
                line: source.line(),
                detail: format!(
                    "expected {header_len} fields like the header, found {}",
                    record.len()
                ),
            });
        }
        return Ok(true);
    }
}

/// Opens a tabular file: CSV (plain, gzip or zip) or Parquet, told apart by content.
pub fn open(path: &Path) -> Result<Box<dyn Rows + Send>> {
    Ok(match source::sniff(path)? {
        Compression::Parquet => Box::new(ParquetRows::open(path)?),
        _ => Box::new(CsvFile::open(path)?),
    })
}

/// The rows of a Parquet file, one row group batch at a time (bounded memory).
pub struct ParquetRows {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    names: Vec<String>,
    header_sent: bool,
    /// The current batch, converted to text column by column.
    cells: Vec<Vec<Option<String>>>,
    next_in_batch: usize,
    rows_in_batch: usize,
    row: u64,
}

impl ParquetRows {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let corrupt = |detail: String| Error::Corrupt {
            path: path.to_path_buf(),
            compression: "parquet",
            detail,
        };
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| corrupt(e.to_string()))?;
        let names = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let reader = builder
            .with_batch_size(4096)
            .build()
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(ParquetRows {
            path: path.to_path_buf(),
            reader,
            names,
            header_sent: false,
            cells: Vec::new(),
            next_in_batch: 0,
            rows_in_batch: 0,
            row: 0,
        })
    }

    fn next_batch(&mut self) -> Result<bool> {
        let Some(batch) = self.reader.next() else {
            return Ok(false);
        };
        let batch = batch.map_err(|e| Error::Corrupt {
            path: self.path.clone(),
            compression: "parquet",
            detail: e.to_string(),
        })?;
        self.cells = text_columns(&self.path, &batch, self.row)?;
        self.rows_in_batch = batch.num_rows();
        self.next_in_batch = 0;
        Ok(true)
    }
}

impl Rows for ParquetRows {
    fn read(&mut self, record: &mut Record) -> Result<bool> {
        record.clear();
        if !self.header_sent {
            self.header_sent = true;
            for name in &self.names {
                record.push_field(name.as_bytes());
            }
            return Ok(true);
        }
        while self.next_in_batch >= self.rows_in_batch {
            if !self.next_batch()? {
                return Ok(false);
            }
        }
        for column in &self.cells {
            let cell = column[self.next_in_batch].as_deref().unwrap_or_default();
            record.push_field(cell.as_bytes());
        }
        self.next_in_batch += 1;
        self.row += 1;
        Ok(true)
    }

    fn line(&self) -> u64 {
        self.row
    }
}

/// Every column of `batch` as the text a CSV cell would hold (`None` for null). `first_row`
/// (rows before this batch) places errors.
fn text_columns(
    path: &Path,
    batch: &RecordBatch,
    first_row: u64,
) -> Result<Vec<Vec<Option<String>>>> {
    let schema = batch.schema();
    batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            text_column(column).map_err(|(row, detail)| Error::BadValue {
                path: path.to_path_buf(),
                line: first_row + row as u64 + 1,
                column: field.name().clone(),
                found: detail,
                expected: "a finite number, text, a timestamp or a map of text",
                hint: "The file holds a value no bill can: it is damaged or not a billing export. Re-download it.",
            })
        })
        .collect()
}

/// One column as text; on failure, the row and what was found.
fn text_column(column: &ArrayRef) -> std::result::Result<Vec<Option<String>>, (usize, String)> {
    let n = column.len();
    let mut out = Vec::with_capacity(n);
    match column.data_type() {
        DataType::Float64 | DataType::Float32 => {
            let values =
                arrow::compute::cast(column, &DataType::Float64).map_err(|e| (0, e.to_string()))?;
            let values = values.as_primitive::<arrow::datatypes::Float64Type>();
            for i in 0..n {
                if values.is_null(i) {
                    out.push(None);
                    continue;
                }
                let v = values.value(i);
                if !v.is_finite() {
                    return Err((i, v.to_string()));
                }
                // Rust prints the shortest decimal that parses back to the same double, and
                // never in exponent form.
                out.push(Some(format!("{v}")));
            }
        }
        DataType::Timestamp(..) => {
            let micros =
                arrow::compute::cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))
                    .map_err(|e| (0, e.to_string()))?;
            let micros = micros.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
            for i in 0..n {
                if micros.is_null(i) {
                    out.push(None);
                    continue;
                }
                let v = micros.value(i);
                let t =
                    chrono::DateTime::from_timestamp_micros(v).ok_or_else(|| (i, v.to_string()))?;
                out.push(Some(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()));
            }
        }
        DataType::Map(..) => {
            let maps = column.as_map();
            for i in 0..n {
                if maps.is_null(i) {
                    out.push(None);
                    continue;
                }
                let entries = maps.value(i);
                let keys = text_column(entries.column(0))?;
                let values = text_column(entries.column(1))?;
                let mut object = serde_json::Map::new();
                for (k, v) in keys.into_iter().zip(values) {
                    if let Some(k) = k {
                        object.insert(
                            k,
                            v.map(serde_json::Value::String)
                                .unwrap_or(serde_json::Value::Null),
                        );
                    }
                }
                out.push(Some(serde_json::Value::Object(object).to_string()));
            }
        }
        _ => {
            let options = FormatOptions::default();
            let formatter = ArrayFormatter::try_new(column.as_ref(), &options)
                .map_err(|e| (0, e.to_string()))?;
            let mut text = String::new();
            for i in 0..n {
                if column.is_null(i) {
                    out.push(None);
                    continue;
                }
                text.clear();
                write!(text, "{}", formatter.value(i)).map_err(|e| (i, e.to_string()))?;
                out.push(Some(text.clone()));
            }
        }
    }
    Ok(out)
}

/// The tabular files at `path`: the file itself, or every `.csv`, `.csv.gz`, `.zip` and
/// `.parquet` file directly in the folder, in name order; `looked_for` says what was expected
/// when there is none.
pub fn discover(path: &Path, looked_for: &'static str) -> Result<Vec<PathBuf>> {
    discover_with(path, &[".csv", ".csv.gz", ".zip", ".parquet"], looked_for)
}

/// The file at `path`, or every file directly in the folder whose name ends with one of
/// `extensions` (any case), in name order.
pub fn discover_with(
    path: &Path,
    extensions: &[&str],
    looked_for: &'static str,
) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            p.is_file() && extensions.iter().any(|ext| name.ends_with(ext))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::NothingToRead {
            path: path.to_path_buf(),
            looked_for,
        });
    }
    Ok(files)
}
