//! Writing generated CUR 2.0 rows as Parquet, typed as AWS types them: money and quantities
//! `double`, the four charge and billing dates `timestamp[ms]` without zone, `product` and
//! `resource_tags` `map<string,string>`, everything else `string`.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, MapBuilder, RecordBatch, StringBuilder, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// Suffixes of CUR 2.0 columns AWS delivers as `double`.
const DOUBLE_SUFFIXES: [&str; 9] = [
    "_cost",
    "_rate",
    "_amount",
    "_fee",
    "_factor",
    "_units",
    "_quantity",
    "_commitment",
    "_to_date",
];

const TIMESTAMPS: [&str; 4] = [
    "bill_billing_period_start_date",
    "bill_billing_period_end_date",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
];

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Double,
    Timestamp,
    Map,
}

enum Column {
    Text(StringBuilder),
    Double(Float64Builder),
    Timestamp(TimestampMillisecondBuilder),
    Map(Box<MapBuilder<StringBuilder, StringBuilder>>),
}

/// A Parquet file being written row by row.
pub(crate) struct ParquetOut {
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: usize,
    writer: ArrowWriter<File>,
}

fn kind_of(name: &str) -> Kind {
    if name == "product" || name == "resource_tags" {
        Kind::Map
    } else if TIMESTAMPS.contains(&name) {
        Kind::Timestamp
    } else if DOUBLE_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        Kind::Double
    } else {
        Kind::Text
    }
}

fn new_column(kind: Kind) -> Column {
    match kind {
        Kind::Text => Column::Text(StringBuilder::new()),
        Kind::Double => Column::Double(Float64Builder::new()),
        Kind::Timestamp => Column::Timestamp(TimestampMillisecondBuilder::new()),
        Kind::Map => Column::Map(Box::new(MapBuilder::new(
            None,
            StringBuilder::new(),
            StringBuilder::new(),
        ))),
    }
}

impl ParquetOut {
    pub(crate) fn create(path: &Path, header: &[String]) -> io::Result<Self> {
        let columns: Vec<Column> = header.iter().map(|h| new_column(kind_of(h))).collect();
        // The map type as the builder makes it, so batches match the schema exactly.
        let fields: Vec<Field> = header
            .iter()
            .zip(&columns)
            .map(|(name, c)| {
                let data_type = match c {
                    Column::Text(_) => DataType::Utf8,
                    Column::Double(_) => DataType::Float64,
                    Column::Timestamp(_) => DataType::Timestamp(TimeUnit::Millisecond, None),
                    Column::Map(_) => {
                        let mut b =
                            MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
                        arrow::array::Array::data_type(&b.finish()).clone()
                    }
                };
                Field::new(name, data_type, true)
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let writer =
            ArrowWriter::try_new(File::create(path)?, Arc::clone(&schema), Some(properties))
                .map_err(io::Error::other)?;
        Ok(ParquetOut {
            schema,
            columns,
            rows: 0,
            writer,
        })
    }

    pub(crate) fn write_row(&mut self, cells: &[String]) -> io::Result<()> {
        for (column, cell) in self.columns.iter_mut().zip(cells) {
            let empty = cell.is_empty();
            match column {
                Column::Text(b) => b.append_option((!empty).then_some(cell.as_str())),
                Column::Double(b) => {
                    if empty {
                        b.append_null();
                    } else {
                        let v: f64 = cell.parse().map_err(|_| {
                            io::Error::other(format!("synth: {cell:?} is not a number"))
                        })?;
                        b.append_value(v);
                    }
                }
                Column::Timestamp(b) => {
                    if empty {
                        b.append_null();
                    } else {
                        let t = chrono::DateTime::parse_from_rfc3339(cell)
                            .map_err(|e| io::Error::other(format!("synth: {cell:?}: {e}")))?;
                        b.append_value(t.timestamp_millis());
                    }
                }
                Column::Map(b) => {
                    let object: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(if empty { "{}" } else { cell })
                            .map_err(io::Error::other)?;
                    for (k, v) in object {
                        b.keys().append_value(k);
                        match v {
                            serde_json::Value::String(s) => b.values().append_value(s),
                            other => b.values().append_value(other.to_string()),
                        }
                    }
                    b.append(true).map_err(io::Error::other)?;
                }
            }
        }
        self.rows += 1;
        if self.rows == 8192 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| match c {
                Column::Text(b) => Arc::new(b.finish()) as ArrayRef,
                Column::Double(b) => Arc::new(b.finish()) as ArrayRef,
                Column::Timestamp(b) => Arc::new(b.finish()) as ArrayRef,
                Column::Map(b) => Arc::new(b.finish()) as ArrayRef,
            })
            .collect();
        let batch =
            RecordBatch::try_new(Arc::clone(&self.schema), arrays).map_err(io::Error::other)?;
        self.writer.write(&batch).map_err(io::Error::other)?;
        self.rows = 0;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.flush()?;
        self.writer.close().map_err(io::Error::other)?;
        Ok(())
    }
}
