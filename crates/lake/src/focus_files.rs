//! The `focus` table's data files: Parquet written straight into the partition's directory by
//! the thread that decoded the rows, and the Delta `add` actions, with statistics, that
//! publish them.
//!
//! Delta's own writer buffers each file in memory (growing, copying and zeroing the buffer as
//! it fills) before an upload task copies it out, and writes decimal statistics as binary
//! floats, which can put a file's minimum above its smallest value. Here a file is written as
//! it is encoded, from column chunks this crate encodes itself (`column_chunks`), and
//! statistics keep every decimal digit.

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use billow_focus::schema::{focus_schema, x};
use delta_kernel::expressions::Scalar;
use deltalake::kernel::Add;
use deltalake::kernel::scalars::ScalarExt;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnDescPtr;

use crate::column_chunks::{ChunkBuffers, ChunkLayout, ColumnChunk, EncodedChunk};
use crate::tables::{PARTITION_COLUMNS, PartitionKey, STATISTICS_COLUMNS};
use crate::{Error, Result};

/// A data file is closed once its encoded size reaches this: large enough that a month is a
/// handful of files per writing thread, while memory holds only the row group being encoded.
const TARGET_FILE_BYTES: usize = 128 * 1024 * 1024;

/// Rows of a `focus` row group.
const ROW_GROUP_ROWS: usize = 131_072;

/// String columns whose values rarely repeat within a file: a dictionary would only cost
/// time, so they are written plain.
const UNIQUE_COLUMNS: [&str; 2] = ["ResourceId", "ResourceName"];

/// Pushes a batch's rows of one column into its chunk.
fn push(chunk: &mut ColumnChunk, name: &str, column: &ArrayRef) -> Result<()> {
    chunk.push(column.as_ref()).map_err(|expected| {
        Error::Inconsistent(format!(
            "column {name} is {}, not {expected}",
            column.data_type()
        ))
    })
}

/// The arrays a column held back while it repeated another ([`Mirroring::Of`]), to push now
/// that it holds rows of its own.
fn own_rows(mirroring: &mut Mirroring) -> Vec<ArrayRef> {
    match std::mem::replace(mirroring, Mirroring::Own) {
        Mirroring::Of { arrays, .. } => arrays,
        Mirroring::Undecided | Mirroring::Own => Vec::new(),
    }
}

/// Writes one partition's rows into Parquet files under `<table>/<partition path>/`.
pub(crate) struct FocusFileWriter {
    table_dir: PathBuf,
    /// `x_ConnectionId=…/x_BillingPeriod=…`, as the files' Delta paths begin.
    partition_path: String,
    partition_values: std::collections::HashMap<String, Option<String>>,
    /// Indices in the `focus` schema of the columns the files hold (all but the partition
    /// columns, whose values are in the path and the log).
    file_columns: Vec<usize>,
    file_schema: SchemaRef,
    /// Per file column: its rows in the row group being written.
    chunks: Vec<ColumnChunk>,
    /// Per file column: whether it repeats another column in the row group being written.
    mirroring: Vec<Mirroring>,
    rows_in_group: usize,
    /// Per file column: whether its chunks carry min/max statistics.
    statistics: Vec<bool>,
    buffers: ChunkBuffers,
    writer_id: uuid::Uuid,
    open: Option<OpenFile>,
    files_written: usize,
    adds: Vec<Add>,
}

/// How a column's rows in the row group being written relate to another column's.
#[derive(Default)]
enum Mirroring {
    /// No batch of the row group yet.
    #[default]
    Undecided,
    /// In every batch so far the column's array was column `of`'s (one array, shared, as
    /// readers make a column that repeats another): its rows are not pushed, and its chunk
    /// will be a copy of `of`'s. The arrays are kept to push should a batch differ.
    Of { of: usize, arrays: Vec<ArrayRef> },
    /// The column's rows are pushed.
    Own,
}

struct OpenFile {
    /// Path relative to the table, as the `add` action names it.
    relative: String,
    path: PathBuf,
    file: SerializedFileWriter<BufWriter<File>>,
    columns: Vec<ColumnDescPtr>,
}

impl FocusFileWriter {
    pub(crate) fn new(table_dir: &Path, key: &PartitionKey) -> Result<Self> {
        let mut partition_path = String::new();
        let mut partition_values = std::collections::HashMap::new();
        for (name, value) in [
            (x::CONNECTION_ID, &key.connection_id),
            (x::BILLING_PERIOD, &key.billing_period),
        ] {
            // The directory on disk and the path in the log are then the same text.
            let encoded = Scalar::String(value.clone()).serialize_encoded();
            if encoded != *value || value.is_empty() || value.starts_with('.') {
                return Err(Error::Inconsistent(format!(
                    "partition value {name} = {value:?} is not a plain name (letters, digits, '.', '_', '-')"
                )));
            }
            if !partition_path.is_empty() {
                partition_path.push('/');
            }
            let _ = write!(partition_path, "{name}={value}");
            partition_values.insert(name.to_string(), Some(value.clone()));
        }
        let schema = focus_schema();
        let file_columns: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| !PARTITION_COLUMNS.contains(&schema.field(i).name().as_str()))
            .collect();
        let file_schema = Arc::new(schema.project(&file_columns)?);
        let chunks = file_schema
            .fields()
            .iter()
            .map(|f| {
                let repeats = !UNIQUE_COLUMNS.contains(&f.name().as_str());
                ColumnChunk::for_type(f.data_type(), repeats).ok_or_else(|| {
                    Error::Inconsistent(format!(
                        "column {} has type {}, which the focus files do not hold",
                        f.name(),
                        f.data_type()
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let statistics = file_schema
            .fields()
            .iter()
            .map(|f| STATISTICS_COLUMNS.contains(&f.name().as_str()))
            .collect();
        Ok(FocusFileWriter {
            table_dir: table_dir.to_path_buf(),
            partition_path,
            partition_values,
            file_columns,
            file_schema,
            mirroring: chunks.iter().map(|_| Mirroring::Undecided).collect(),
            chunks,
            rows_in_group: 0,
            statistics,
            buffers: ChunkBuffers::new().map_err(|source| Error::DataFile {
                path: table_dir.to_path_buf(),
                source,
            })?,
            writer_id: uuid::Uuid::new_v4(),
            open: None,
            files_written: 0,
            adds: Vec::new(),
        })
    }

    /// Encodes a batch of the `focus` schema (its partition columns are left out).
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.project(&self.file_columns)?;
        let columns = rows.columns();
        for (i, ((field, chunk), mirroring)) in self
            .file_schema
            .fields()
            .iter()
            .zip(&mut self.chunks)
            .zip(&mut self.mirroring)
            .enumerate()
        {
            let column = &columns[i];
            let shared = (0..i).find(|&j| Arc::ptr_eq(&columns[j], column));
            match (&mut *mirroring, shared) {
                (Mirroring::Undecided, Some(of)) => {
                    *mirroring = Mirroring::Of {
                        of,
                        arrays: vec![Arc::clone(column)],
                    };
                    continue;
                }
                (Mirroring::Of { of, arrays }, Some(j)) if *of == j => {
                    arrays.push(Arc::clone(column));
                    continue;
                }
                _ => {}
            }
            for array in own_rows(mirroring) {
                push(chunk, field.name(), &array)?;
            }
            push(chunk, field.name(), column)?;
        }
        self.rows_in_group += rows.num_rows();
        if self.rows_in_group >= ROW_GROUP_ROWS {
            self.flush_row_group()?;
        }
        Ok(())
    }

    /// Closes the open file; returns the `add` action of every file written.
    pub(crate) fn finish(mut self) -> Result<Vec<Add>> {
        self.close_file()?;
        Ok(self.adds)
    }

    fn create_file(&mut self) -> Result<OpenFile> {
        let name = format!(
            "part-{:05}-{}-c000.zstd.parquet",
            self.files_written, self.writer_id
        );
        self.files_written += 1;
        let dir = self.table_dir.join(&self.partition_path);
        std::fs::create_dir_all(&dir).map_err(|source| Error::DataDir {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join(&name);
        let file = File::create_new(&path).map_err(|source| Error::DataDir {
            path: path.clone(),
            source,
        })?;
        // Parquet's Arrow writer sets up the file (its schema, and the Arrow schema in the
        // footer); the row groups are assembled here, column by column, each chunk with its
        // own encodings, codec and statistics, so the file-wide properties are the defaults.
        let (file, _) = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            Arc::clone(&self.file_schema),
            Some(WriterProperties::default()),
        )
        .and_then(ArrowWriter::into_serialized_writer)
        .map_err(|e| parquet_error(&path, e))?;
        let columns = file.schema_descr().columns().to_vec();
        Ok(OpenFile {
            relative: format!("{}/{name}", self.partition_path),
            path,
            file,
            columns,
        })
    }

    /// Writes the rows pushed so far as a row group, and closes the file once it is large
    /// enough.
    fn flush_row_group(&mut self) -> Result<()> {
        if self.rows_in_group == 0 {
            return Ok(());
        }
        if self.open.is_none() {
            self.open = Some(self.create_file()?);
        }
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        let path = open.path.clone();
        let fail = |e| parquet_error(&path, e);
        // A column whose rows are another's (of the same nullability and statistics) is
        // written as a copy of that column's encoded chunk: a column that repeated another
        // in every batch, or one whose pushed rows turn out the same.
        let columns = &open.columns;
        let alike = |i: usize, j: usize| {
            self.statistics[i] == self.statistics[j]
                && columns[i].max_def_level() == columns[j].max_def_level()
        };
        let mut twins: Vec<Option<usize>> = vec![None; self.chunks.len()];
        for i in 0..self.chunks.len() {
            if let Mirroring::Of { of, .. } = self.mirroring[i]
                && alike(i, of)
            {
                // Only a chunk that copies none is kept: `of`'s own original if it has one.
                twins[i] = Some(twins[of].unwrap_or(of));
                continue;
            }
            for array in own_rows(&mut self.mirroring[i]) {
                let name = self.file_schema.field(i).name();
                push(&mut self.chunks[i], name, &array)?;
            }
            twins[i] = (0..i).find(|&j| {
                twins[j].is_none() && alike(i, j) && self.chunks[i].same_rows(&self.chunks[j])
            });
        }
        self.mirroring
            .iter_mut()
            .for_each(|m| *m = Mirroring::Undecided);
        let mut kept: Vec<Option<(Vec<u8>, ChunkLayout)>> = vec![None; self.chunks.len()];
        let mut group = open.file.next_row_group().map_err(fail)?;
        for (i, ((chunk, column), statistics)) in self
            .chunks
            .iter_mut()
            .zip(columns)
            .zip(&self.statistics)
            .enumerate()
        {
            if let Some(j) = twins[i] {
                // `j` came first and is a twin of none, so its encoded chunk is kept.
                let (bytes, layout) = kept[j].as_ref().ok_or_else(|| {
                    Error::Inconsistent(format!("column chunk {j} was not kept for {i}"))
                })?;
                chunk.discard_rows();
                let close = layout.close(Arc::clone(column)).map_err(fail)?;
                group
                    .append_column(&EncodedChunk::new(bytes), close)
                    .map_err(fail)?;
                continue;
            }
            let layout = chunk
                .finish(Arc::clone(column), &mut self.buffers, *statistics)
                .map_err(fail)?;
            let close = layout.close(Arc::clone(column)).map_err(fail)?;
            if twins.contains(&Some(i)) {
                kept[i] = Some((self.buffers.chunk().bytes().to_vec(), layout));
            }
            group
                .append_column(&self.buffers.chunk(), close)
                .map_err(fail)?;
        }
        group.close().map_err(fail)?;
        self.rows_in_group = 0;
        if open.file.bytes_written() >= TARGET_FILE_BYTES {
            self.close_file()?;
        }
        Ok(())
    }

    fn close_file(&mut self) -> Result<()> {
        // The last rows first (which closes the file if they fill it).
        self.flush_row_group()?;
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let metadata = open
            .file
            .close()
            .map_err(|e| parquet_error(&open.path, e))?;
        let size = std::fs::metadata(&open.path)
            .map_err(|source| Error::DataDir {
                path: open.path.clone(),
                source,
            })?
            .len();
        let modification_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        self.adds.push(Add {
            path: open.relative,
            size: size as i64,
            partition_values: self.partition_values.clone(),
            modification_time,
            data_change: true,
            stats: Some(file_statistics(&metadata, &self.file_schema)?),
            tags: None,
            deletion_vector: None,
            base_row_id: None,
            default_row_commit_version: None,
            clustering_provider: None,
        });
        Ok(())
    }
}

fn parquet_error(path: &Path, source: parquet::errors::ParquetError) -> Error {
    Error::DataFile {
        path: path.to_path_buf(),
        source,
    }
}

/// A file's Delta statistics (`numRecords`, and `minValues`, `maxValues`, `nullCount` of the
/// statistics columns) from the Parquet statistics of its row groups.
pub(crate) fn file_statistics(metadata: &ParquetMetaData, schema: &Schema) -> Result<String> {
    let parquet = metadata.file_metadata().schema_descr();
    let mut min_values = String::new();
    let mut max_values = String::new();
    let mut null_count = String::new();
    for name in STATISTICS_COLUMNS {
        let (Ok(field_index), Some(column)) = (
            schema.index_of(name),
            (0..parquet.num_columns()).find(|&c| parquet.column(c).name() == name),
        ) else {
            continue;
        };
        let data_type = schema.field(field_index).data_type();
        let mut range: Option<(StatValue, StatValue)> = None;
        let mut nulls = 0u64;
        let mut complete = true;
        for group in metadata.row_groups() {
            let Some(stats) = group.column(column).statistics() else {
                complete = false;
                break;
            };
            nulls += stats.null_count_opt().unwrap_or_default();
            let (Some(lo), Some(hi)) = (
                StatValue::from_parquet(stats, data_type, true),
                StatValue::from_parquet(stats, data_type, false),
            ) else {
                // A row group of nulls only has no bounds.
                if stats.null_count_opt() == Some(group.num_rows() as u64) {
                    continue;
                }
                complete = false;
                break;
            };
            range = Some(match range {
                None => (lo, hi),
                Some((min, max)) => (min.min(lo), max.max(hi)),
            });
        }
        if !complete {
            continue;
        }
        let key = serde_json::to_string(name).map_err(|e| Error::Inconsistent(e.to_string()))?;
        if let Some((min, max)) = range {
            push_entry(&mut min_values, &key, &min.to_json(false));
            push_entry(&mut max_values, &key, &max.to_json(true));
        }
        push_entry(&mut null_count, &key, &nulls.to_string());
    }
    Ok(format!(
        "{{\"numRecords\":{},\"minValues\":{{{min_values}}},\"maxValues\":{{{max_values}}},\"nullCount\":{{{null_count}}}}}",
        metadata.file_metadata().num_rows()
    ))
}

fn push_entry(object: &mut String, key: &str, value: &str) {
    if !object.is_empty() {
        object.push(',');
    }
    object.push_str(key);
    object.push(':');
    object.push_str(value);
}

/// One bound of a statistics column, ordered as Delta compares values of its type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum StatValue {
    Text(String),
    /// Unscaled value and scale.
    Decimal(i128, i8),
    TimestampMicros(i64),
    Integer(i64),
}

impl StatValue {
    fn from_parquet(stats: &Statistics, data_type: &DataType, min: bool) -> Option<StatValue> {
        let bytes = if min {
            stats.min_bytes_opt()
        } else {
            stats.max_bytes_opt()
        };
        match (stats, data_type) {
            (Statistics::ByteArray(_), DataType::Utf8) => {
                Some(StatValue::Text(String::from_utf8(bytes?.to_vec()).ok()?))
            }
            (Statistics::FixedLenByteArray(_), DataType::Decimal128(_, scale)) => {
                let bytes = bytes?;
                if bytes.is_empty() || bytes.len() > 16 {
                    return None;
                }
                // Big-endian two's complement, sign-extended to 16 bytes.
                let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
                let mut full = [fill; 16];
                full[16 - bytes.len()..].copy_from_slice(bytes);
                Some(StatValue::Decimal(i128::from_be_bytes(full), *scale))
            }
            (Statistics::Int64(v), DataType::Timestamp(..)) => {
                Some(StatValue::TimestampMicros(*if min {
                    v.min_opt()
                } else {
                    v.max_opt()
                }?))
            }
            (Statistics::Int64(v), DataType::Int64) => Some(StatValue::Integer(*if min {
                v.min_opt()
            } else {
                v.max_opt()
            }?)),
            _ => None,
        }
    }

    /// The bound as Delta writes it. Timestamps keep milliseconds, so a maximum is rounded up
    /// (a file is never skipped for a value it holds).
    fn to_json(&self, is_max: bool) -> String {
        match self {
            StatValue::Text(s) => serde_json::to_string(s).unwrap_or_else(|_| "null".into()),
            StatValue::Decimal(v, scale) => decimal_text(*v, *scale),
            StatValue::Integer(v) => v.to_string(),
            StatValue::TimestampMicros(micros) => {
                let millis = if is_max {
                    micros.div_euclid(1000) + i64::from(micros.rem_euclid(1000) != 0)
                } else {
                    micros.div_euclid(1000)
                };
                match chrono::DateTime::from_timestamp_millis(millis) {
                    Some(t) => format!("\"{}\"", t.format("%Y-%m-%dT%H:%M:%S%.3fZ")),
                    None => "null".into(),
                }
            }
        }
    }
}

/// An unscaled decimal as exact JSON number text (`-105` at scale 2 is `-1.05`).
fn decimal_text(value: i128, scale: i8) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let digits = value.unsigned_abs().to_string();
    if scale <= 0 {
        return format!(
            "{sign}{digits}{}",
            "0".repeat(scale.unsigned_abs() as usize)
        );
    }
    let scale = scale as usize;
    let digits = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = digits.split_at(digits.len() - scale);
    format!("{sign}{whole}.{fraction}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Array, ArrayRef, Decimal128Array, Int64Array, RecordBatch, StringArray,
        TimestampMicrosecondArray,
    };
    use arrow::datatypes::DataType;
    use billow_focus::schema::{focus_schema, keyed_focus_schema, x};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::{FocusFileWriter, ROW_GROUP_ROWS, StatValue, decimal_text};
    use crate::tables::PartitionKey;

    /// Rows of the `focus` schema whose columns cover what the encoders branch on: values
    /// that repeat in runs and values that do not, no nulls, some nulls, only nulls, a
    /// string column whose distinct values outgrow a dictionary, and columns that repeat
    /// another's rows (with the same nullability, and with another).
    fn varied_batch(rows: usize, offset: usize) -> RecordBatch {
        let schema = focus_schema();
        let mut columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(c, f)| -> ArrayRef {
                let row = |i: usize| i + offset;
                // Column c: every c-th row null (none for some, all for others).
                let null = |i: usize| match c % 4 {
                    _ if !f.is_nullable() => false,
                    0 => false,
                    1 => row(i) % (c + 2) == 0,
                    2 => row(i) % 3 != 0,
                    _ => c % 8 == 3,
                };
                match (f.name().as_str(), f.data_type()) {
                    (x::CONNECTION_ID, _) => Arc::new(StringArray::from(vec!["c"; rows])),
                    (x::BILLING_PERIOD, _) => Arc::new(StringArray::from(vec!["2026-10"; rows])),
                    ("ChargeDescription", _) => Arc::new(StringArray::from_iter(
                        (0..rows).map(|i| Some(format!("{:064}", row(i)))),
                    )),
                    (_, DataType::Utf8) => Arc::new(StringArray::from_iter((0..rows).map(|i| {
                        (!null(i)).then(|| format!("v{}-{}", c, (row(i) / 7) % (c * 3 + 1)))
                    }))),
                    (name, DataType::Decimal128(p, s)) => Arc::new(
                        Decimal128Array::from_iter((0..rows).map(|i| {
                            (!null(i)).then(|| {
                                // Unit prices repeat (a few hundred prices), costs hardly.
                                let n = if name.ends_with("UnitPrice") {
                                    (row(i) as i128 / 3) % 301
                                } else {
                                    row(i) as i128
                                };
                                let v = (n * 7_919 - 1_000_000) * 10_i128.pow(c as u32 % 20);
                                if c % 2 == 0 { v } else { -v }
                            })
                        }))
                        .with_precision_and_scale(*p, *s)
                        .unwrap(),
                    ),
                    (name, DataType::Timestamp(..)) => Arc::new(
                        TimestampMicrosecondArray::from_iter((0..rows).map(|i| {
                            (!null(i)).then(|| {
                                // Hours repeat; here a billing period ends at every row.
                                if name == "BillingPeriodEnd" {
                                    row(i) as i64 * 1_000_003
                                } else {
                                    (row(i) / 50) as i64 * 3_600_000_000
                                }
                            })
                        }))
                        .with_timezone("UTC"),
                    ),
                    _ => Arc::new(Int64Array::from_iter(
                        (0..rows).map(|i| (!null(i)).then_some(row(i) as i64 * 3 - 7)),
                    )),
                }
            })
            .collect();
        for (copy, of) in REPEATED {
            let of = schema.index_of(of).unwrap();
            columns[schema.index_of(copy).unwrap()] = Arc::clone(&columns[of]);
        }
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// The batch with its repeating text columns keyed, as readers hand them over.
    fn keyed(batch: &RecordBatch) -> RecordBatch {
        let schema = keyed_focus_schema();
        let columns = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(f, c)| arrow::compute::cast(c, f.data_type()).unwrap())
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// (column, the column whose rows it repeats) in [`varied_batch`]. EffectiveCost is
    /// required and its copy is not, so their pages differ (the copy's carry levels).
    const REPEATED: [(&str, &str); 3] = [
        ("ResourceName", "ResourceId"),
        ("ContractedCost", "ListCost"),
        ("PricingCurrencyEffectiveCost", "EffectiveCost"),
    ];

    #[test]
    fn files_read_back_with_parquets_own_reader_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let key = PartitionKey {
            connection_id: "c".into(),
            billing_period: "2026-10".into(),
        };
        let mut writer = FocusFileWriter::new(dir.path(), &key).unwrap();
        // Batches of uneven sizes; a row group ends with the batch that fills it, so these
        // make two. The first row group takes a plain batch then a keyed one, the second a
        // plain one. In a plain batch the repeated columns share their arrays, in a keyed one
        // they do not: the first row group's copies start out repeating their columns, then
        // hold rows of their own; the second's repeat theirs throughout.
        let sizes = [50_000, ROW_GROUP_ROWS, 30_001];
        let mut batches = Vec::new();
        let mut offset = 0;
        for (i, rows) in sizes.into_iter().enumerate() {
            let batch = varied_batch(rows, offset);
            if i == 1 {
                writer.write(&keyed(&batch)).unwrap();
            } else {
                writer.write(&batch).unwrap();
            }
            batches.push(batch);
            offset += rows;
        }
        let adds = writer.finish().unwrap();
        assert_eq!(adds.len(), 1);
        let written = arrow::compute::concat_batches(&focus_schema(), &batches).unwrap();
        let file = std::fs::File::open(dir.path().join(&adds[0].path)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let metadata = Arc::clone(reader.metadata());
        assert_eq!(metadata.num_row_groups(), 2);
        let read: Vec<RecordBatch> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        let read = arrow::compute::concat_batches(&read[0].schema(), &read).unwrap();
        assert_eq!(read.num_rows(), written.num_rows());
        for field in focus_schema().fields() {
            let name = field.name();
            if name == x::CONNECTION_ID || name == x::BILLING_PERIOD {
                assert!(read.column_by_name(name).is_none());
                continue;
            }
            let expected = written.column_by_name(name).unwrap();
            let actual = read.column_by_name(name).unwrap();
            let actual = arrow::compute::cast(actual, field.data_type()).unwrap();
            assert_eq!(actual.null_count(), expected.null_count(), "{name}");
            assert_eq!(&actual.to_data(), &expected.to_data(), "{name}");
        }
        // ChargeDescription's distinct values outgrow a dictionary: its pages are plain.
        let columns = metadata.file_metadata().schema_descr();
        let column = |name: &str| {
            (0..columns.num_columns())
                .find(|&i| columns.column(i).name() == name)
                .unwrap()
        };
        let chunk = metadata.row_group(0).column(column("ChargeDescription"));
        assert!(chunk.dictionary_page_offset().is_none());
        let chunk = metadata.row_group(0).column(column("ServiceName"));
        assert!(chunk.dictionary_page_offset().is_some());
        // Decimals and timestamps take a dictionary when their values repeat, nulls or not.
        for group in metadata.row_groups() {
            let dictionary = |name: &str| group.column(column(name)).dictionary_page_offset();
            for repeating in [
                "ListUnitPrice",
                "ContractedUnitPrice",
                "PricingCurrencyListUnitPrice",
                "ChargePeriodStart",
            ] {
                assert!(dictionary(repeating).is_some(), "{repeating}");
            }
            for unique in ["BilledCost", "ListCost", "BillingPeriodEnd", "x_SourceLine"] {
                assert!(dictionary(unique).is_none(), "{unique}");
            }
        }
        // A column repeating another's rows is written once more as the same bytes, unless
        // their nullability differs.
        for group in metadata.row_groups() {
            let size = |name: &str| group.column(column(name)).compressed_size();
            assert_eq!(size("ResourceName"), size("ResourceId"));
            assert_eq!(size("ContractedCost"), size("ListCost"));
            assert_ne!(size("PricingCurrencyEffectiveCost"), size("EffectiveCost"));
        }
        let stats = adds[0].stats.as_deref().unwrap();
        assert!(
            stats.contains(&format!("\"numRecords\":{offset}")),
            "{stats}"
        );
    }

    #[test]
    fn decimals_keep_every_digit() {
        assert_eq!(decimal_text(-105, 2), "-1.05");
        assert_eq!(decimal_text(5, 12), "0.000000000005");
        assert_eq!(
            decimal_text(123_456_789_012_345_678_901_234_567, 12),
            "123456789012345.678901234567"
        );
        assert_eq!(decimal_text(0, 12), "0.000000000000");
        assert_eq!(decimal_text(7, -2), "700");
    }

    #[test]
    fn timestamp_bounds_round_outwards_to_milliseconds() {
        let t = StatValue::TimestampMicros(1_790_000_000_000_500);
        assert_eq!(t.to_json(false), "\"2026-09-21T14:13:20.000Z\"");
        assert_eq!(t.to_json(true), "\"2026-09-21T14:13:20.001Z\"");
        let exact = StatValue::TimestampMicros(1_790_000_000_000_000);
        assert_eq!(exact.to_json(true), "\"2026-09-21T14:13:20.000Z\"");
    }
}
