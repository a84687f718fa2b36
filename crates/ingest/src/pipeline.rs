//! The ingestion pipeline for one source.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::array::RecordBatch;
use billow_formats::aws_cur::{self, Delivery};
use billow_formats::{Consumer, FileSummary, ReadOptions, SourceTotals};
use billow_lake::{
    IngestionRecord, Lake, PartitionKey, PartitionSink, StagedPartition, TotalsRecord,
};
use tokio::sync::mpsc;

use crate::raw;
use crate::{Error, Result};

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Connection the rows belong to (`x_ConnectionId`).
    pub connection_id: String,
    /// Files decoded at once (default: one per core).
    pub threads: usize,
    /// Rows per batch.
    pub batch_rows: usize,
    /// Re-ingest even when the lake already holds this exact delivery.
    pub force: bool,
}

impl IngestOptions {
    /// Defaults for a connection.
    pub fn new(connection_id: impl Into<String>) -> Self {
        IngestOptions {
            connection_id: connection_id.into(),
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            batch_rows: 16_384,
            force: false,
        }
    }
}

/// Receives progress; every method has an empty default.
pub trait Progress: Send + Sync {
    /// A billing period starts, with its files and their total size.
    fn period_started(&self, _billing_period: &str, _files: usize, _bytes: u64) {}
    /// More rows were read.
    fn rows_read(&self, _rows: u64) {}
    /// A file was read to its end.
    fn file_done(&self) {}
    /// The period ended.
    fn period_finished(&self, _report: &PeriodReport) {}
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What happened to one billing period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new version was published.
    Published {
        /// Delta version of the `focus` table after the commit.
        table_version: u64,
        /// Files of the replaced version (0 for a first ingestion).
        files_replaced: usize,
    },
    /// The lake already holds this exact delivery; nothing was written.
    Unchanged,
}

/// Result of ingesting one billing period.
#[derive(Debug, Clone)]
pub struct PeriodReport {
    /// The partition.
    pub key: PartitionKey,
    /// Ingestion id (of the existing ingestion when unchanged).
    pub ingestion_id: String,
    /// Export version (AWS assemblyId).
    pub export_version: Option<String>,
    /// Outcome.
    pub outcome: Outcome,
    /// Rows in the source.
    pub rows: u64,
    /// The source's exact totals.
    pub totals: SourceTotals,
    /// Seconds spent.
    pub seconds: f64,
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn check_connection(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadConnection(id.to_string()))
    }
}

/// Ingests every AWS CUR 1 delivery found at `path` (report folder, period folder or one file).
///
/// Each billing period is one export version: it replaces that period of the connection
/// atomically, or is skipped when the lake already holds the same files. On any error the
/// published data stays as it was.
pub async fn ingest_aws_cur(
    lake: &Lake,
    path: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Vec<PeriodReport>> {
    check_connection(&options.connection_id)?;
    let deliveries = aws_cur::discover(path)?;
    let mut reports = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        reports.push(ingest_delivery(lake, delivery, options, progress).await?);
    }
    Ok(reports)
}

async fn ingest_delivery(
    lake: &Lake,
    delivery: Delivery,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<PeriodReport> {
    let started = std::time::Instant::now();
    let started_at = now_micros();
    let key = PartitionKey {
        connection_id: options.connection_id.clone(),
        billing_period: delivery.billing_period.clone(),
    };
    let files = {
        let paths = delivery.files.clone();
        let threads = options.threads;
        tokio::task::spawn_blocking(move || raw::hash_all(&paths, threads))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
    };
    tracing::info!(
        period = %delivery.billing_period,
        files = files.len(),
        seconds = started.elapsed().as_secs_f64(),
        "source files hashed"
    );
    let fingerprint = raw::fingerprint(&files);
    if !options.force
        && let Some(current) = lake.current_ingestion(&key).await?
        && current_fingerprint(lake, &current).await?.as_deref() == Some(fingerprint.as_str())
    {
        let report = PeriodReport {
            key,
            ingestion_id: current,
            export_version: delivery.assembly_id.clone(),
            outcome: Outcome::Unchanged,
            rows: 0,
            totals: SourceTotals::default(),
            seconds: started.elapsed().as_secs_f64(),
        };
        progress.period_finished(&report);
        return Ok(report);
    }
    let ingestion_id = uuid::Uuid::now_v7().to_string();
    progress.period_started(
        &delivery.billing_period,
        files.len(),
        files.iter().map(|f| f.bytes).sum(),
    );

    // Each decoding thread encodes its own batches into its own Parquet files: no thread
    // waits on a single writer, memory stays at a batch and a row group per thread whatever
    // the month's size, and progress comes back over a channel to this task.
    let read_options = ReadOptions::new(&options.connection_id, &ingestion_id)
        .with_threads(options.threads)
        .with_batch_rows(options.batch_rows);
    let threads = options.threads.min(delivery.files.len()).max(1);
    let (tx, mut rx) = mpsc::unbounded_channel::<Tick>();
    let mut consumers = Vec::with_capacity(threads);
    for _ in 0..threads {
        consumers.push(LakeConsumer {
            sink: lake.partition_sink(&key).await?,
            runtime: tokio::runtime::Handle::current(),
            ticks: tx.clone(),
            files: Vec::new(),
        });
    }
    drop(tx);
    let keeping = {
        let raw_dir = lake.root().join("raw");
        let (paths, records) = (delivery.files.clone(), files.clone());
        tokio::task::spawn_blocking(move || raw::keep_all(&raw_dir, &paths, &records))
    };
    let reading = {
        let delivery = delivery.clone();
        tokio::task::spawn_blocking(move || {
            delivery.read_into(&read_options, consumers).map(|done| {
                done.into_iter()
                    .map(LakeConsumer::into_parts)
                    .collect::<Vec<_>>()
            })
        })
    };
    while let Some(tick) = rx.recv().await {
        match tick {
            Tick::Rows(n) => progress.rows_read(n),
            Tick::File => progress.file_done(),
        }
    }
    let mut parts = Vec::with_capacity(threads);
    let mut finished = Vec::with_capacity(delivery.files.len());
    for (sink, files) in reading
        .await
        .map_err(|e| Error::Internal(e.to_string()))??
    {
        parts.push(sink.finish().await?);
        finished.extend(files);
    }
    let staged = StagedPartition::new(key.clone(), &ingestion_id, parts);
    keeping
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    tracing::info!(
        rows = staged.rows(),
        seconds = started.elapsed().as_secs_f64(),
        "decoded and staged"
    );

    if finished.len() != delivery.files.len() {
        return Err(Error::Internal(format!(
            "{} of {} files were read",
            finished.len(),
            delivery.files.len()
        )));
    }
    let mut totals = SourceTotals::default();
    let mut files = files;
    for f in &finished {
        totals
            .merge(&f.totals)
            .map_err(|e| Error::Internal(e.to_string()))?;
        if let Some(i) = delivery.files.iter().position(|p| *p == f.file) {
            files[i].rows = f.rows;
        }
    }
    let source_format = match finished.first() {
        Some(first)
            if finished
                .iter()
                .all(|f| f.source_format == first.source_format) =>
        {
            first.source_format
        }
        Some(_) => {
            return Err(Error::MixedFormats {
                period: delivery.billing_period.clone(),
                formats: finished.iter().map(|f| f.source_format).collect(),
            });
        }
        None => aws_cur::SOURCE_FORMAT,
    };
    if totals.rows() != staged.rows() {
        return Err(Error::Internal(format!(
            "read {} rows but wrote {}",
            totals.rows(),
            staged.rows()
        )));
    }
    let record = IngestionRecord {
        ingestion_id: ingestion_id.clone(),
        connection_id: key.connection_id.clone(),
        billing_period: key.billing_period.clone(),
        source_format: source_format.to_string(),
        export_version: delivery.assembly_id.clone(),
        fingerprint,
        started_at,
        finished_at: now_micros(),
        rows: staged.rows(),
        files,
    };
    let totals_records: Vec<TotalsRecord> = totals
        .groups
        .iter()
        .map(|((account, category), g)| TotalsRecord {
            ingestion_id: ingestion_id.clone(),
            connection_id: key.connection_id.clone(),
            billing_period: key.billing_period.clone(),
            billing_account_id: account.clone(),
            charge_category: category.clone(),
            rows: g.rows,
            source_billed_exact: g.billed.to_decimal_string(),
            source_effective_exact: g.effective.to_decimal_string(),
            source_billed: g.billed.at_lake_scale(),
            source_effective: g.effective.at_lake_scale(),
            rounded_values: g.billed.rounded_values + g.effective.rounded_values,
        })
        .collect();
    lake.append_records(&record, &totals_records).await?;
    let rows = staged.rows();
    let commit = lake.commit_partition(staged).await?;
    let report = PeriodReport {
        key,
        ingestion_id,
        export_version: delivery.assembly_id,
        outcome: Outcome::Published {
            table_version: commit.version,
            files_replaced: commit.files_removed,
        },
        rows,
        totals,
        seconds: started.elapsed().as_secs_f64(),
    };
    progress.period_finished(&report);
    Ok(report)
}

/// Progress from a decoding thread.
enum Tick {
    Rows(u64),
    File,
}

/// One decoding thread's end of the pipeline: its batches go into its own lake files.
struct LakeConsumer {
    sink: PartitionSink,
    runtime: tokio::runtime::Handle,
    ticks: mpsc::UnboundedSender<Tick>,
    files: Vec<FileSummary>,
}

impl LakeConsumer {
    fn into_parts(self) -> (PartitionSink, Vec<FileSummary>) {
        (self.sink, self.files)
    }
}

impl Consumer for LakeConsumer {
    type Error = Error;

    fn batch(&mut self, batch: RecordBatch) -> Result<()> {
        let rows = batch.num_rows() as u64;
        // A decoding thread is outside the runtime, so it may wait for the sink's I/O here.
        self.runtime.block_on(self.sink.write(batch))?;
        let _ = self.ticks.send(Tick::Rows(rows));
        Ok(())
    }

    fn file_done(&mut self, summary: FileSummary) -> Result<()> {
        self.files.push(summary);
        let _ = self.ticks.send(Tick::File);
        Ok(())
    }
}

async fn current_fingerprint(lake: &Lake, ingestion_id: &str) -> Result<Option<String>> {
    let ctx = lake.session().await?;
    let df = ctx
        .table("ingestions")
        .await
        .map_err(billow_lake::Error::from)?
        .filter(datafusion_expr_eq("ingestion_id", ingestion_id))
        .map_err(billow_lake::Error::from)?;
    let batches = df.collect().await.map_err(billow_lake::Error::from)?;
    for b in batches {
        let i = b
            .schema()
            .index_of("fingerprint")
            .map_err(billow_lake::Error::from)?;
        if let Some(v) = billow_lake::string_column(&b, i)?.iter().flatten().next() {
            return Ok(Some(v.to_string()));
        }
    }
    Ok(None)
}

fn datafusion_expr_eq(column: &str, value: &str) -> billow_lake::Expr {
    billow_lake::ident(column).eq(billow_lake::lit(value))
}
