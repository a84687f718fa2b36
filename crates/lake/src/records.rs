//! Ingestion records: what was ingested, from which files, with which source totals.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Decimal128Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use billow_focus::schema::{decimal_type, timestamp_type};
use serde::{Deserialize, Serialize};

use crate::Result;

/// One source file of an ingestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// File name as delivered.
    pub name: String,
    /// SHA-256 of its bytes, hex; the raw zone keeps it under this name.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// FOCUS rows made from it (a commitment fee with an unused part makes two).
    pub rows: u64,
}

/// One ingestion of one (connection, billing period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestionRecord {
    /// Ingestion id (UUID v7: sorts by time).
    pub ingestion_id: String,
    /// Connection.
    pub connection_id: String,
    /// `YYYY-MM`.
    pub billing_period: String,
    /// `x_SourceFormat` of the rows.
    pub source_format: String,
    /// Provider's export version id (AWS assemblyId), when it has one.
    pub export_version: Option<String>,
    /// SHA-256 over the files' hashes in order: equal fingerprints mean the same delivery.
    pub fingerprint: String,
    /// Start, µs since the epoch (UTC).
    pub started_at: i64,
    /// End, µs since the epoch (UTC).
    pub finished_at: i64,
    /// Rows written.
    pub rows: u64,
    /// Source files.
    pub files: Vec<FileRecord>,
}

/// Exact source totals of one (billing account, charge category) of an ingestion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotalsRecord {
    /// Ingestion.
    pub ingestion_id: String,
    /// Connection.
    pub connection_id: String,
    /// `YYYY-MM`.
    pub billing_period: String,
    /// FOCUS BillingAccountId.
    pub billing_account_id: String,
    /// FOCUS ChargeCategory.
    pub charge_category: String,
    /// Rows.
    pub rows: u64,
    /// Exact Σ of the source's billed cost, as decimal text.
    pub source_billed_exact: String,
    /// Exact Σ of the source's effective cost, as decimal text.
    pub source_effective_exact: String,
    /// Σ billed rounded half-even to 12 places.
    pub source_billed: i128,
    /// Σ effective rounded half-even to 12 places.
    pub source_effective: i128,
    /// Source values that had more than 12 fractional digits (each may differ by 0.5e-12).
    pub rounded_values: u64,
}

/// One (billing account, sub account, service) of an ingestion's partition: the lake's sums
/// of that version, kept so history can say what a restatement changed by account and
/// service after the old rows are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakdownRecord {
    /// Ingestion.
    pub ingestion_id: String,
    /// Connection.
    pub connection_id: String,
    /// `YYYY-MM`.
    pub billing_period: String,
    /// FOCUS BillingAccountId.
    pub billing_account_id: Option<String>,
    /// FOCUS SubAccountId.
    pub sub_account_id: Option<String>,
    /// FOCUS ServiceName.
    pub service_name: Option<String>,
    /// Rows.
    pub rows: u64,
    /// Σ BilledCost.
    pub billed: i128,
    /// Σ EffectiveCost.
    pub effective: i128,
}

pub(crate) fn ingestions_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ingestion_id", DataType::Utf8, false),
        Field::new("connection_id", DataType::Utf8, false),
        Field::new("billing_period", DataType::Utf8, false),
        Field::new("source_format", DataType::Utf8, false),
        Field::new("export_version", DataType::Utf8, true),
        Field::new("fingerprint", DataType::Utf8, false),
        Field::new("started_at", timestamp_type(), false),
        Field::new("finished_at", timestamp_type(), false),
        Field::new("rows", DataType::Int64, false),
        Field::new("files", DataType::Utf8, false),
    ]))
}

pub(crate) fn totals_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ingestion_id", DataType::Utf8, false),
        Field::new("connection_id", DataType::Utf8, false),
        Field::new("billing_period", DataType::Utf8, false),
        Field::new("billing_account_id", DataType::Utf8, false),
        Field::new("charge_category", DataType::Utf8, false),
        Field::new("rows", DataType::Int64, false),
        Field::new("source_billed", decimal_type(), false),
        Field::new("source_effective", decimal_type(), false),
        Field::new("source_billed_exact", DataType::Utf8, false),
        Field::new("source_effective_exact", DataType::Utf8, false),
        Field::new("rounded_values", DataType::Int64, false),
    ]))
}

/// The cost columns keep their FOCUS names, so a scope hiding a cost type hides them too.
pub(crate) fn breakdown_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ingestion_id", DataType::Utf8, false),
        Field::new("connection_id", DataType::Utf8, false),
        Field::new("billing_period", DataType::Utf8, false),
        Field::new("billing_account_id", DataType::Utf8, true),
        Field::new("sub_account_id", DataType::Utf8, true),
        Field::new("service_name", DataType::Utf8, true),
        Field::new("rows", DataType::Int64, false),
        Field::new("BilledCost", decimal_type(), false),
        Field::new("EffectiveCost", decimal_type(), false),
    ]))
}

pub(crate) fn breakdown_batch(rows: &[BreakdownRecord]) -> Result<RecordBatch> {
    let dec = |f: fn(&BreakdownRecord) -> i128| -> ArrayRef {
        Arc::new(
            Decimal128Array::from_iter_values(rows.iter().map(f)).with_data_type(decimal_type()),
        )
    };
    let optional = |f: fn(&BreakdownRecord) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    Ok(RecordBatch::try_new(
        breakdown_schema(),
        vec![
            strings(rows.iter().map(|r| r.ingestion_id.as_str())),
            strings(rows.iter().map(|r| r.connection_id.as_str())),
            strings(rows.iter().map(|r| r.billing_period.as_str())),
            optional(|r| r.billing_account_id.as_deref()),
            optional(|r| r.sub_account_id.as_deref()),
            optional(|r| r.service_name.as_deref()),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.rows as i64),
            )),
            dec(|r| r.billed),
            dec(|r| r.effective),
        ],
    )?)
}

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(values.map(Some).collect::<StringArray>())
}

pub(crate) fn ingestion_batch(r: &IngestionRecord) -> Result<RecordBatch> {
    let files =
        serde_json::to_string(&r.files).map_err(|e| crate::Error::Inconsistent(e.to_string()))?;
    let ts = |v: i64| {
        Arc::new(TimestampMicrosecondArray::from(vec![v]).with_timezone("UTC")) as ArrayRef
    };
    Ok(RecordBatch::try_new(
        ingestions_schema(),
        vec![
            strings([r.ingestion_id.as_str()].into_iter()),
            strings([r.connection_id.as_str()].into_iter()),
            strings([r.billing_period.as_str()].into_iter()),
            strings([r.source_format.as_str()].into_iter()),
            Arc::new(StringArray::from(vec![r.export_version.clone()])),
            strings([r.fingerprint.as_str()].into_iter()),
            ts(r.started_at),
            ts(r.finished_at),
            Arc::new(Int64Array::from(vec![r.rows as i64])),
            strings([files.as_str()].into_iter()),
        ],
    )?)
}

pub(crate) fn totals_batch(rows: &[TotalsRecord]) -> Result<RecordBatch> {
    let dec = |f: fn(&TotalsRecord) -> i128| -> Result<ArrayRef> {
        Ok(Arc::new(
            Decimal128Array::from_iter_values(rows.iter().map(f)).with_data_type(decimal_type()),
        ))
    };
    Ok(RecordBatch::try_new(
        totals_schema(),
        vec![
            strings(rows.iter().map(|r| r.ingestion_id.as_str())),
            strings(rows.iter().map(|r| r.connection_id.as_str())),
            strings(rows.iter().map(|r| r.billing_period.as_str())),
            strings(rows.iter().map(|r| r.billing_account_id.as_str())),
            strings(rows.iter().map(|r| r.charge_category.as_str())),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.rows as i64),
            )),
            dec(|r| r.source_billed)?,
            dec(|r| r.source_effective)?,
            strings(rows.iter().map(|r| r.source_billed_exact.as_str())),
            strings(rows.iter().map(|r| r.source_effective_exact.as_str())),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.rounded_values as i64),
            )),
        ],
    )?)
}
