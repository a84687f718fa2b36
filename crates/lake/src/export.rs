//! FOCUS exports of a billing period, or of the rows behind a cost query: streamed from the
//! `focus` table batch by batch into CSV or Parquet, within a scope (its rows, without its
//! hidden columns), as FOCUS 1.2 or projected to 1.4 names.

use std::io::Write;
use std::sync::Arc;

use billow_focus::versions::{FocusVersion, project};
use futures::StreamExt;

use crate::costs::{CostQuery, GroupBy};
use crate::tables::conform;
use crate::{Error, Lake, Result, Scope};

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Parquet, zstd-compressed.
    Parquet,
    /// CSV with a header, timestamps as `YYYY-MM-DDTHH:MM:SSZ`.
    Csv,
}

impl ExportFormat {
    /// The media type of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "application/vnd.apache.parquet",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

enum Sink<W: Write + Send> {
    Parquet(parquet::arrow::ArrowWriter<W>),
    Csv(arrow::csv::Writer<W>),
}

impl Lake {
    /// Writes the FOCUS rows of `billing_period` (and `connection`) that `scope` shows to
    /// `out`, one batch at a time (memory stays at a batch whatever the month's size).
    /// Returns the rows written.
    pub async fn export_focus<W: Write + Send>(
        &self,
        scope: &Scope,
        billing_period: &str,
        connection: Option<&str>,
        version: FocusVersion,
        format: ExportFormat,
        out: W,
    ) -> Result<u64> {
        if !crate::costs::is_billing_period(billing_period) {
            return Err(Error::Inconsistent(format!(
                "billing period {billing_period:?} is not YYYY-MM"
            )));
        }
        let mut query = CostQuery::new(Some(billing_period), GroupBy::Service);
        if let Some(c) = connection {
            query = query.filter(GroupBy::Connection, [c]);
        }
        self.export_focus_of(scope, &query, version, format, out)
            .await
    }

    /// Writes the FOCUS rows of a cost query's billing periods that pass its filters (the
    /// rows behind its groups; its grouping and buckets play no part) and that `scope` shows
    /// to `out`, one batch at a time. Returns the rows written.
    pub async fn export_focus_of<W: Write + Send>(
        &self,
        scope: &Scope,
        query: &CostQuery,
        version: FocusVersion,
        format: ExportFormat,
        out: W,
    ) -> Result<u64> {
        // Resolved before the writer starts, so a bad query writes nothing.
        let (frame, visible) = self.focus_rows_of(scope, query).await?;
        let schema = project(
            &arrow::array::RecordBatch::new_empty(Arc::clone(&visible)),
            version,
        )
        .map_err(|e| Error::Inconsistent(e.to_string()))?
        .schema();
        let mut sink = match format {
            ExportFormat::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::ZSTD(
                        parquet::basic::ZstdLevel::default(),
                    ))
                    .build();
                Sink::Parquet(
                    parquet::arrow::ArrowWriter::try_new(out, schema, Some(props))
                        .map_err(|e| Error::Inconsistent(format!("export: {e}")))?,
                )
            }
            ExportFormat::Csv => Sink::Csv(
                arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .with_timestamp_tz_format("%Y-%m-%dT%H:%M:%SZ".into())
                    .build(out),
            ),
        };
        let mut stream = frame.execute_stream().await?;
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            let mut batch = batch?;
            if let Some(keep) = query.keeps_tags(&batch)? {
                batch = arrow::compute::filter_record_batch(&batch, &keep)?;
            }
            let batch = project(&conform(&batch, &visible)?, version)
                .map_err(|e| Error::Inconsistent(e.to_string()))?;
            rows += batch.num_rows() as u64;
            match &mut sink {
                Sink::Parquet(w) => w
                    .write(&batch)
                    .map_err(|e| Error::Inconsistent(format!("export: {e}")))?,
                Sink::Csv(w) => w.write(&batch)?,
            }
        }
        match sink {
            Sink::Parquet(w) => {
                w.close()
                    .map_err(|e| Error::Inconsistent(format!("export: {e}")))?;
            }
            Sink::Csv(w) => {
                w.into_inner()
                    .flush()
                    .map_err(|e| Error::Inconsistent(format!("export: {e}")))?;
            }
        }
        Ok(rows)
    }
}
