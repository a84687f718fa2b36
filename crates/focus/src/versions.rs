//! Projections of the lake's FOCUS 1.2 rows to the column set of an export version.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};

use crate::{Error, Result};

/// A FOCUS version Billow can export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FocusVersion {
    /// FOCUS 1.2: the lake's own column set.
    V1_2,
    /// FOCUS 1.4 names: `ServiceProviderName` and `HostProviderName` replace `ProviderName`
    /// and `PublisherName`.
    V1_4,
}

impl FocusVersion {
    /// Parses `1.2` or `1.4`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "1.2" => Some(Self::V1_2),
            "1.4" => Some(Self::V1_4),
            _ => None,
        }
    }
}

/// Projects a batch of lake rows to the columns of `version`.
///
/// For 1.4, the publisher becomes the service provider (the party that sells the service:
/// the marketplace seller for marketplace rows) and the provider becomes the host provider
/// (whose infrastructure runs it).
pub fn project(batch: &RecordBatch, version: FocusVersion) -> Result<RecordBatch> {
    match version {
        FocusVersion::V1_2 => Ok(batch.clone()),
        FocusVersion::V1_4 => {
            let schema = batch.schema();
            let publisher = batch
                .column_by_name("PublisherName")
                .ok_or_else(|| Error::Schema("PublisherName missing".into()))?;
            let provider = batch
                .column_by_name("ProviderName")
                .ok_or_else(|| Error::Schema("ProviderName missing".into()))?;
            let mut fields: Vec<Field> = Vec::with_capacity(schema.fields().len());
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
            for (field, column) in schema.fields().iter().zip(batch.columns()) {
                match field.name().as_str() {
                    "ProviderName" | "PublisherName" => continue,
                    _ => {
                        fields.push(field.as_ref().clone());
                        columns.push(Arc::clone(column));
                    }
                }
            }
            // Keep the spec's alphabetical order among FOCUS columns.
            let insert_at = |name: &str, fields: &[Field]| {
                fields
                    .iter()
                    .position(|f| !f.name().starts_with("x_") && f.name().as_str() > name)
                    .unwrap_or(fields.len())
            };
            let at = insert_at("HostProviderName", &fields);
            fields.insert(
                at,
                Field::new("HostProviderName", arrow::datatypes::DataType::Utf8, false),
            );
            columns.insert(at, Arc::clone(provider));
            let at = insert_at("ServiceProviderName", &fields);
            fields.insert(
                at,
                Field::new(
                    "ServiceProviderName",
                    arrow::datatypes::DataType::Utf8,
                    false,
                ),
            );
            columns.insert(at, Arc::clone(publisher));
            Ok(RecordBatch::try_new(
                Arc::new(Schema::new(fields)),
                columns,
            )?)
        }
    }
}
