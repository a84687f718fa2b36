//! The ingestion pipeline for one source.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::array::RecordBatch;
use billow_formats::aws_cur;
use billow_formats::{Consumer, FileSummary, ReadFiles, ReadOptions, SourceTotals};
use billow_lake::{
    BreakdownRecord, FileRecord, IngestionRecord, Lake, PartitionKey, PartitionSink, StagedFiles,
    StagedPartition, TotalsRecord,
};
use tokio::sync::mpsc;

use crate::raw;
use crate::{Error, Result};

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Connection the rows belong to (`x_ConnectionId`).
    pub connection_id: String,
    /// Decoding threads (default: one per core).
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
    // It names folders (the lake's partitions, rollups): no `.`/`..` or hidden names.
    let ok = id.starts_with(|c: char| c.is_ascii_alphanumeric())
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

/// Ingests every AWS CUR delivery found at `path` (report folder, period folder or one file).
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
        // A Data Exports partition may hold AWS's FOCUS export instead of CUR 2.0.
        let focus = delivery.files.first().is_some_and(|f| {
            billow_formats::detect::detect(f).ok() == Some(billow_formats::detect::Format::Focus)
        });
        if focus {
            let export = Export::row_dated(delivery.files, "focus");
            let open = |path: &Path, options: &ReadOptions| {
                billow_formats::focus_file::FocusFileReader::open(path, options.clone())
            };
            reports.extend(ingest_export(lake, export, open, options, progress).await?);
            continue;
        }
        let period = delivery.billing_period.clone();
        let export = Export {
            files: delivery.files,
            version: delivery.assembly_id,
            period: Some(period.clone()),
            format: aws_cur::SOURCE_FORMAT,
        };
        let open = aws_cur::CurFiles::new(Some(period));
        reports.extend(ingest_export(lake, export, open, options, progress).await?);
    }
    Ok(reports)
}

/// Ingests FOCUS files (one file, or every FOCUS file in a folder) as one export version:
/// every billing period the files hold rows of is replaced by their rows, in one commit.
/// Periods they do not mention are left as they are.
pub async fn ingest_focus(
    lake: &Lake,
    path: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Vec<PeriodReport>> {
    check_connection(&options.connection_id)?;
    ingest_focus_files(
        lake,
        billow_formats::focus_file::discover(path)?,
        options,
        progress,
    )
    .await
}

async fn ingest_focus_files(
    lake: &Lake,
    files: Vec<PathBuf>,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Vec<PeriodReport>> {
    let export = Export::row_dated(files, "focus");
    let open = |path: &Path, options: &ReadOptions| {
        billow_formats::focus_file::FocusFileReader::open(path, options.clone())
    };
    ingest_export(lake, export, open, options, progress).await
}

/// Ingests OCI cost reports (one file, or every report file in a folder). OCI appends report
/// files through the month, so give it all files of the months to replace: each month they
/// hold rows of is replaced by their rows, in one commit.
pub async fn ingest_oci(
    lake: &Lake,
    path: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Vec<PeriodReport>> {
    check_connection(&options.connection_id)?;
    let export = Export::row_dated(
        billow_formats::rows::discover(
            path,
            "OCI cost report files (reports_cost-csv_*.csv or .csv.gz) directly in this folder",
        )?,
        billow_formats::oci::SOURCE_FORMAT,
    );
    let open = |path: &Path, options: &ReadOptions| {
        billow_formats::oci::OciCostReader::open(path, options.clone())
    };
    ingest_export(lake, export, open, options, progress).await
}

/// Ingests an Azure cost details delivery: `path` is an export folder tree (driven by its
/// `manifest.json` files, the latest run of each scope, dataset and month) or, with `dataset`,
/// one file or folder of that dataset; `amortized` adds the amortized half to an actual
/// `path`. Actual and amortized rows are matched into one set of FOCUS rows
/// ([`billow_formats::azure::PairIndex`]); every month the files hold rows of is replaced, in
/// one commit.
pub async fn ingest_azure(
    lake: &Lake,
    path: &Path,
    dataset: Option<billow_formats::azure::Dataset>,
    amortized: Option<&Path>,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Vec<PeriodReport>> {
    use billow_formats::azure::{self, Dataset, Delivery, PairIndex, Pairing};
    check_connection(&options.connection_id)?;
    const LOOKED_FOR: &str = "Azure cost details files (.csv, .csv.gz or .parquet) or an export folder with manifest.json files";
    let files_of = |p: &Path| {
        billow_formats::rows::discover_with(p, &[".csv", ".csv.gz", ".gz", ".parquet"], LOOKED_FOR)
    };
    let mut delivery = match (dataset, azure::discover_exports(path)?) {
        (None, Some(found)) => found,
        (dataset, _) => {
            let mut d = Delivery::default();
            let files = files_of(path)?;
            match dataset.unwrap_or(Dataset::Actual) {
                Dataset::Actual => d.actual = files,
                Dataset::Amortized => d.amortized = files,
                Dataset::Usage => d.usage = files,
                Dataset::Focus => d.focus = files,
            }
            d
        }
    };
    if !delivery.focus.is_empty() {
        if delivery.actual.is_empty() && delivery.amortized.is_empty() && delivery.usage.is_empty()
        {
            return ingest_focus_files(lake, delivery.focus, options, progress).await;
        }
        // The FocusCost export holds the same charges as the cost details exports: adding
        // both would count every charge twice.
        tracing::warn!(
            files = delivery.focus.len(),
            "FocusCost export runs are skipped: the actual/amortized exports in the same folder \
             hold the same costs, and Billow never adds both; point Billow at one of them"
        );
    }
    if let Some(amortized) = amortized {
        delivery.amortized.extend(files_of(amortized)?);
    }
    let paired = !delivery.actual.is_empty() && !delivery.amortized.is_empty();
    let index = if paired {
        let (actual, amortized) = (delivery.actual.clone(), delivery.amortized.clone());
        let built = tokio::task::spawn_blocking(move || PairIndex::build(&actual, &amortized))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
        Some(Arc::new(built))
    } else {
        None
    };
    let mut pairing: HashMap<PathBuf, Pairing> = HashMap::new();
    for (files, dataset) in [
        (&delivery.actual, Dataset::Actual),
        (&delivery.amortized, Dataset::Amortized),
        (&delivery.usage, Dataset::Usage),
    ] {
        for file in files {
            let how = match (&index, dataset) {
                (Some(index), Dataset::Actual) => Pairing::Actual(Arc::clone(index)),
                (Some(index), Dataset::Amortized) => Pairing::Amortized(Arc::clone(index)),
                _ => Pairing::Alone,
            };
            pairing.insert(file.clone(), how);
        }
    }
    let export = Export::row_dated(
        pairing
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        azure::Agreement::Ea.source_format(),
    );
    let open = move |path: &Path, options: &ReadOptions| {
        let how = pairing.get(path).cloned().unwrap_or(Pairing::Alone);
        azure::AzureCostReader::open(path, options.clone(), how)
    };
    let reports = ingest_export(lake, export, open, options, progress).await?;
    if let Some(index) = index {
        let unpaired = index.unpaired_actual_rows();
        if unpaired > 0 {
            tracing::info!(
                unpaired,
                "actual rows without an amortized partner (commitment purchases, refunds) \
                 were kept with EffectiveCost 0"
            );
        }
    }
    Ok(reports)
}

/// Ingests AWS Cost Explorer `GetCostAndUsage` responses (one file per page, or a folder of
/// the pages of one request): coarse rows per period and group for accounts without a CUR.
/// Every month the responses cover is replaced.
pub async fn ingest_aws_cost_explorer(
    lake: &Lake,
    path: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Vec<PeriodReport>> {
    check_connection(&options.connection_id)?;
    let export = Export::row_dated(
        billow_formats::rows::discover_with(
            path,
            &[".json", ".json.gz"],
            "Cost Explorer GetCostAndUsage responses (.json) directly in this folder",
        )?,
        billow_formats::aws_ce::SOURCE_FORMAT,
    );
    let open = |path: &Path, options: &ReadOptions| {
        billow_formats::aws_ce::CostExplorerReader::open(path, options.clone())
    };
    ingest_export(lake, export, open, options, progress).await
}

/// Ingests a SaaS vendor's billing data as the vendor publishes it (see
/// [`billow_formats::saas`] for the shapes): one file or a folder. Every month the charges are
/// for is replaced.
pub async fn ingest_saas(
    lake: &Lake,
    vendor: billow_formats::saas::Vendor,
    path: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Vec<PeriodReport>> {
    check_connection(&options.connection_id)?;
    let export = Export::row_dated(
        billow_formats::rows::discover_with(
            path,
            &[".json", ".json.gz", ".csv", ".csv.gz"],
            "vendor billing files (.json API responses or .csv exports) directly in this folder",
        )?,
        vendor.source_format(),
    );
    let open = move |path: &Path, options: &ReadOptions| {
        billow_formats::saas::SaasReader::open(path, vendor, options.clone())
    };
    ingest_export(lake, export, open, options, progress).await
}

/// Ingests DigitalOcean invoices: CSV downloads or JSON invoice item pages (a closed month's
/// invoice, or the month-to-date preview), one file or a folder. Every month the items are for
/// is replaced; a newer preview replaces the older one, and the invoice replaces the preview.
pub async fn ingest_digitalocean(
    lake: &Lake,
    path: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Vec<PeriodReport>> {
    check_connection(&options.connection_id)?;
    let (_, invoices) = digitalocean_files(path)?;
    if invoices.is_empty() {
        return Err(billow_formats::Error::UnknownFormat {
            path: path.to_path_buf(),
            looked_for: "DigitalOcean invoice CSV files or JSON invoice item pages (a balance response alone holds no charges)",
        }
        .into());
    }
    let export = Export::row_dated(invoices, billow_formats::digitalocean::SOURCE_FORMAT_CSV);
    let open = |path: &Path, options: &ReadOptions| {
        billow_formats::digitalocean::DigitalOceanInvoiceReader::open(path, options.clone())
    };
    ingest_export(lake, export, open, options, progress).await
}

/// A DigitalOcean delivery's balance responses and its invoice files.
fn digitalocean_files(
    path: &Path,
) -> Result<(Vec<billow_formats::digitalocean::Balance>, Vec<PathBuf>)> {
    let files = billow_formats::rows::discover_with(
        path,
        &[".csv", ".csv.gz", ".json", ".json.gz"],
        "DigitalOcean invoice CSV files or JSON invoice item pages directly in this folder",
    )?;
    let (mut balances, mut invoices) = (Vec::new(), Vec::new());
    for file in files {
        let is_json = file
            .file_name()
            .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().ends_with(".json"));
        match is_json
            .then(|| billow_formats::digitalocean::read_balance(&file))
            .transpose()?
            .flatten()
        {
            Some(balance) => balances.push(balance),
            None => invoices.push(file),
        }
    }
    Ok((balances, invoices))
}

/// The month-to-date preview in the lake against the account balance DigitalOcean reports
/// for the same month (`month_to_date_usage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceCheck {
    /// `YYYY-MM` the balance was generated in.
    pub billing_period: String,
    /// When DigitalOcean generated the balance.
    pub generated_at: String,
    /// `month_to_date_usage` (decimal text).
    pub balance_usage: String,
    /// Σ BilledCost of the connection's Usage rows of that month in the lake.
    pub lake_usage: String,
    /// Whether they are equal.
    pub matches: bool,
}

/// Compares every balance response under `path` (`GET /v2/customers/my/balance`, saved next
/// to the invoice preview) with the connection's month in the lake. A preview and a balance
/// generated hours apart differ by the usage in between, so a difference is reported, not
/// an error.
pub async fn check_digitalocean_balances(
    lake: &Lake,
    path: &Path,
    connection_id: &str,
) -> Result<Vec<BalanceCheck>> {
    check_connection(connection_id)?;
    let (balances, _) = digitalocean_files(path)?;
    let mut checks = Vec::with_capacity(balances.len());
    for balance in balances {
        let ctx = lake.session().await?;
        let rows = billow_lake::collect_sql(
            &ctx,
            &format!(
                "SELECT CAST(COALESCE(SUM(BilledCost), 0) AS VARCHAR) FROM focus \
                 WHERE x_ConnectionId = '{connection_id}' AND x_BillingPeriod = '{}' \
                 AND ChargeCategory = 'Usage'",
                balance.billing_period
            ),
        )
        .await?;
        let lake_text = rows
            .first()
            .filter(|b| b.num_rows() > 0)
            .map(|b| billow_lake::string_column(b, 0).map(|c| c.value(0).to_string()))
            .transpose()?
            .unwrap_or_else(|| "0".into());
        let lake_value = billow_focus::money::parse_decimal(lake_text.as_bytes())
            .map(|p| p.value)
            .unwrap_or(0);
        checks.push(BalanceCheck {
            billing_period: balance.billing_period,
            generated_at: balance.generated_at,
            balance_usage: billow_focus::money::format_decimal(balance.month_to_date_usage),
            lake_usage: billow_focus::money::format_decimal(lake_value),
            matches: lake_value == balance.month_to_date_usage,
        });
    }
    Ok(checks)
}

/// Ingests Google Cloud billing export rows (newline-delimited JSON, or BigQuery query
/// responses of `SELECT TO_JSON_STRING(t)`): one file or a folder of them. Every invoice
/// month they hold rows of is replaced by their rows, in one commit; give them all rows of
/// those months (Google keeps adding late rows for days).
pub async fn ingest_gcp(
    lake: &Lake,
    path: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Vec<PeriodReport>> {
    check_connection(&options.connection_id)?;
    let export = Export::row_dated(
        billow_formats::rows::discover_with(
            path,
            &[
                ".json",
                ".jsonl",
                ".ndjson",
                ".json.gz",
                ".jsonl.gz",
                ".ndjson.gz",
                ".parquet",
                ".avro",
            ],
            "Cloud Billing export rows (.json, .jsonl or .ndjson, optionally gzipped, .parquet or .avro) directly in this folder",
        )?,
        billow_formats::gcp::SOURCE_FORMAT,
    );
    // A commitment's fee and the usage it paid for may be in different files, so the first
    // file opened gathers the commitments of all of them; an export already in the lake is
    // never opened, and costs no extra pass.
    let files = export.files.clone();
    let scanned: std::sync::Mutex<Option<Arc<billow_formats::gcp::Commitments>>> =
        std::sync::Mutex::new(None);
    let open = move |path: &Path, options: &ReadOptions| {
        let commitments = {
            let mut done = scanned.lock().unwrap_or_else(|e| e.into_inner());
            match done.as_ref() {
                Some(c) => Arc::clone(c),
                None => {
                    let c = Arc::new(billow_formats::gcp::scan_commitments(
                        &files,
                        options.threads,
                    )?);
                    *done = Some(Arc::clone(&c));
                    c
                }
            }
        };
        billow_formats::gcp::GcpBillingReader::open_with(path, options.clone(), commitments)
    };
    ingest_export(lake, export, open, options, progress).await
}

/// The files of one export version, read and published together.
struct Export {
    files: Vec<PathBuf>,
    /// The provider's name for this version (AWS assemblyId), when it has one.
    version: Option<String>,
    /// The billing period every row belongs to, when the delivery says (AWS manifests);
    /// otherwise the periods come from the rows, and each one the files hold is replaced.
    period: Option<String>,
    /// `x_SourceFormat` recorded when no file yields a row.
    format: &'static str,
}

/// Reads an export's files in parallel into new versions of every (connection, period)
/// partition they hold rows of, records the ingestion and the source's exact totals per
/// period, then publishes all those partitions in one commit.
/// An export whose rows say their own billing period (every format but AWS's manifests):
/// each period the files hold rows of is replaced.
impl Export {
    fn row_dated(files: Vec<PathBuf>, format: &'static str) -> Self {
        Export {
            files,
            version: None,
            period: None,
            format,
        }
    }
}

async fn ingest_export<F>(
    lake: &Lake,
    export: Export,
    open: F,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Vec<PeriodReport>>
where
    F: ReadFiles + 'static,
{
    let started = std::time::Instant::now();
    let started_at = now_micros();
    let connection = options.connection_id.clone();
    lake.upgrade_tables().await?;
    let sizes = raw::names_and_sizes(&export.files)?;
    // Only a delivery of the same file names and sizes as an earlier one can be unchanged:
    // such a delivery is hashed before anything else, any other while it is decoded.
    let hashed_first = if options.force || !lake_has_files_like(lake, &connection, &sizes).await? {
        None
    } else {
        let paths = export.files.clone();
        let threads = options.threads;
        let files = tokio::task::spawn_blocking(move || raw::hash_all(&paths, threads))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
        tracing::info!(
            files = files.len(),
            seconds = started.elapsed().as_secs_f64(),
            "source files hashed"
        );
        let fingerprint = raw::fingerprint(&files);
        if let Some(current) = published_with_fingerprint(lake, &connection, &fingerprint).await? {
            let reports: Vec<PeriodReport> = current
                .into_iter()
                .map(|(key, ingestion_id)| PeriodReport {
                    key,
                    ingestion_id,
                    export_version: export.version.clone(),
                    outcome: Outcome::Unchanged,
                    rows: 0,
                    totals: SourceTotals::default(),
                    seconds: started.elapsed().as_secs_f64(),
                })
                .collect();
            for r in &reports {
                progress.period_finished(r);
            }
            return Ok(reports);
        }
        Some(files)
    };
    let ingestion_id = uuid::Uuid::now_v7().to_string();
    progress.period_started(
        export
            .period
            .as_deref()
            .unwrap_or("the periods in the files"),
        sizes.len(),
        sizes.iter().map(|s| s.1).sum(),
    );

    // Each decoding thread encodes its own batches into its own Parquet files: no thread
    // waits on a single writer, memory stays at a batch and a row group per thread and
    // period whatever the month's size, and progress comes back over a channel to this task.
    let read_options = ReadOptions::new(&connection, &ingestion_id)
        .with_threads(options.threads)
        .with_batch_rows(options.batch_rows);
    let threads = open.useful_threads(export.files.len(), options.threads);
    let (tx, mut rx) = mpsc::unbounded_channel::<Tick>();
    let consumers: Vec<LakeConsumer> = (0..threads)
        .map(|_| LakeConsumer {
            lake: lake.clone(),
            connection: connection.clone(),
            runtime: tokio::runtime::Handle::current(),
            sinks: BTreeMap::new(),
            staged: Vec::new(),
            ticks: tx.clone(),
            files: Vec::new(),
        })
        .collect();
    drop(tx);
    let keeping = {
        let raw_dir = lake.root().join("raw");
        let paths = export.files.clone();
        tokio::task::spawn_blocking(move || match hashed_first {
            Some(records) => raw::keep_all(&raw_dir, &paths, &records).map(|()| records),
            None => raw::hash_and_keep_all(&raw_dir, &paths, &sizes),
        })
    };
    let reading = {
        let paths = export.files.clone();
        tokio::task::spawn_blocking(move || {
            open.read_files(&paths, &read_options, consumers)
                .map(|done| {
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
    let mut parts: BTreeMap<String, Vec<StagedFiles>> = BTreeMap::new();
    let mut finished = Vec::with_capacity(export.files.len());
    for (staged, summaries) in reading
        .await
        .map_err(|e| Error::Internal(e.to_string()))??
    {
        for (period, files) in staged {
            parts.entry(period).or_default().push(files);
        }
        finished.extend(summaries);
    }
    let files = keeping
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    let fingerprint = raw::fingerprint(&files);
    tracing::info!(
        periods = parts.len(),
        seconds = started.elapsed().as_secs_f64(),
        "decoded and staged"
    );
    if finished.len() != export.files.len() {
        return Err(Error::Internal(format!(
            "{} of {} files were read",
            finished.len(),
            export.files.len()
        )));
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
                formats: finished.iter().map(|f| f.source_format).collect(),
            });
        }
        None => export.format,
    };
    // The source's totals and each file's rows, per period.
    let mut totals: BTreeMap<String, SourceTotals> = BTreeMap::new();
    for f in &finished {
        for (period, t) in &f.totals {
            totals
                .entry(period.clone())
                .or_default()
                .merge(t)
                .map_err(|e| Error::Internal(e.to_string()))?;
        }
    }
    if let Some(period) = &export.period {
        // An empty delivery still replaces its period (with nothing).
        totals.entry(period.clone()).or_default();
    }
    let mut staged = Vec::with_capacity(totals.len());
    for (period, t) in &totals {
        let key = PartitionKey {
            connection_id: connection.clone(),
            billing_period: period.clone(),
        };
        let partition =
            StagedPartition::new(key, &ingestion_id, parts.remove(period).unwrap_or_default());
        if t.rows() != partition.rows() {
            return Err(Error::Internal(format!(
                "{period}: read {} rows but wrote {}",
                t.rows(),
                partition.rows()
            )));
        }
        staged.push(partition);
    }
    if let Some(period) = parts.keys().next() {
        return Err(Error::Internal(format!(
            "rows of {period} were written but no file reported them"
        )));
    }
    if staged.is_empty() {
        return Err(Error::NoRows {
            files: export.files.len(),
        });
    }
    for (period, t) in &totals {
        let file_records = files
            .iter()
            .zip(&export.files)
            .map(|(record, path)| {
                let rows = finished
                    .iter()
                    .find(|f| f.file == *path)
                    .and_then(|f| f.totals.get(period))
                    .map_or(0, SourceTotals::rows);
                FileRecord {
                    rows,
                    ..record.clone()
                }
            })
            .collect();
        let record = IngestionRecord {
            ingestion_id: ingestion_id.clone(),
            connection_id: connection.clone(),
            billing_period: period.clone(),
            source_format: source_format.to_string(),
            export_version: export.version.clone(),
            fingerprint: fingerprint.clone(),
            started_at,
            finished_at: now_micros(),
            rows: t.rows(),
            files: file_records,
        };
        let totals_records: Vec<TotalsRecord> = t
            .groups
            .iter()
            .map(|((account, category), g)| TotalsRecord {
                ingestion_id: ingestion_id.clone(),
                connection_id: connection.clone(),
                billing_period: period.clone(),
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
        let breakdown: Vec<BreakdownRecord> = match staged
            .iter()
            .find(|s| s.key().billing_period == *period)
            .and_then(StagedPartition::rollup)
        {
            Some(rollup) => rollup
                .breakdown()?
                .into_iter()
                .map(|g| BreakdownRecord {
                    ingestion_id: ingestion_id.clone(),
                    connection_id: connection.clone(),
                    billing_period: period.clone(),
                    billing_account_id: g.billing_account_id,
                    sub_account_id: g.sub_account_id,
                    service_name: g.service_name,
                    rows: g.rows as u64,
                    billed: g.billed,
                    effective: g.effective,
                })
                .collect(),
            None => Vec::new(),
        };
        lake.append_records(&record, &totals_records, &breakdown)
            .await?;
    }
    // The rollups are sorted and written on another core while the partitions commit: nothing
    // reads a rollup before its ingestion is published.
    let rollups: Vec<_> = staged
        .iter_mut()
        .filter_map(|s| Some((s.key().clone(), s.take_rollup()?)))
        .collect();
    let rollup_keys: Vec<PartitionKey> = rollups.iter().map(|(key, _)| key.clone()).collect();
    let writing_rollups = {
        let (lake, ingestion_id) = (lake.clone(), ingestion_id.clone());
        tokio::task::spawn_blocking(move || lake.write_rollups(rollups, &ingestion_id))
    };
    let commit = match lake.commit_partitions(staged).await {
        Ok(commit) => commit,
        Err(e) => {
            if let Ok(Ok(())) = writing_rollups.await {
                lake.discard_rollups(&rollup_keys, &ingestion_id);
            }
            return Err(e.into());
        }
    };
    // The rows are published; a rollup that failed to write only makes `costs` read them.
    let written = match writing_rollups.await {
        Ok(written) => written.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match written {
        Ok(()) => lake.remove_replaced_rollups(&rollup_keys, &ingestion_id),
        Err(error) => {
            tracing::warn!(%error, "daily rollups not written; cost queries read the rows instead")
        }
    }
    let reports: Vec<PeriodReport> = totals
        .into_iter()
        .map(|(period, t)| {
            let key = PartitionKey {
                connection_id: connection.clone(),
                billing_period: period,
            };
            PeriodReport {
                outcome: Outcome::Published {
                    table_version: commit.version,
                    files_replaced: commit
                        .files_removed_by_partition
                        .get(&key)
                        .copied()
                        .unwrap_or(0),
                },
                key,
                ingestion_id: ingestion_id.clone(),
                export_version: export.version.clone(),
                rows: t.rows(),
                totals: t,
                seconds: started.elapsed().as_secs_f64(),
            }
        })
        .collect();
    for r in &reports {
        progress.period_finished(r);
    }
    Ok(reports)
}

/// Progress from a decoding thread.
enum Tick {
    Rows(u64),
    File,
}

/// Sinks of one decoding thread, by billing period.
type Sinks = BTreeMap<String, PartitionSink>;

/// One decoding thread's end of the pipeline: its batches go into its own lake files, one
/// set per billing period.
struct LakeConsumer {
    lake: Lake,
    connection: String,
    runtime: tokio::runtime::Handle,
    sinks: Sinks,
    /// The sinks' files by billing period, once the thread has read its last file.
    staged: Vec<(String, StagedFiles)>,
    ticks: mpsc::UnboundedSender<Tick>,
    files: Vec<FileSummary>,
}

impl LakeConsumer {
    fn into_parts(self) -> (Vec<(String, StagedFiles)>, Vec<FileSummary>) {
        (self.staged, self.files)
    }

    fn write(&mut self, period: &str, batch: RecordBatch) -> Result<()> {
        if !self.sinks.contains_key(period) {
            let key = PartitionKey {
                connection_id: self.connection.clone(),
                billing_period: period.to_string(),
            };
            let sink = self.runtime.block_on(self.lake.partition_sink(&key))?;
            self.sinks.insert(period.to_string(), sink);
        }
        if let Some(sink) = self.sinks.get_mut(period) {
            sink.write(batch)?;
        }
        Ok(())
    }
}

impl Consumer for LakeConsumer {
    type Error = Error;

    // A decoding thread is outside the runtime, so it may wait for the sinks' I/O here.
    fn batch(&mut self, batch: RecordBatch) -> Result<()> {
        let rows = batch.num_rows() as u64;
        let periods = billow_lake::split_by_period(batch)?;
        for (period, part) in periods {
            self.write(&period, part)?;
        }
        let _ = self.ticks.send(Tick::Rows(rows));
        Ok(())
    }

    fn file_done(&mut self, summary: FileSummary) -> Result<()> {
        self.files.push(summary);
        let _ = self.ticks.send(Tick::File);
        Ok(())
    }

    // Each thread closes its own last files while the others still read.
    fn finish(&mut self) -> Result<()> {
        for (period, sink) in std::mem::take(&mut self.sinks) {
            self.staged.push((period, sink.finish()?));
        }
        Ok(())
    }
}

/// `columns` of the ingestion records of `connection` (of those with `fingerprint`, if given).
async fn ingestion_columns(
    lake: &Lake,
    connection: &str,
    fingerprint: Option<&str>,
    columns: &[&str],
) -> Result<Vec<RecordBatch>> {
    let ctx = lake.session().await?;
    let mut records = ctx
        .table("ingestions")
        .await
        .map_err(billow_lake::Error::from)?
        .filter(datafusion_expr_eq("connection_id", connection))
        .map_err(billow_lake::Error::from)?;
    if let Some(fingerprint) = fingerprint {
        records = records
            .filter(datafusion_expr_eq("fingerprint", fingerprint))
            .map_err(billow_lake::Error::from)?;
    }
    Ok(records
        .select_columns(columns)
        .map_err(billow_lake::Error::from)?
        .collect()
        .await
        .map_err(billow_lake::Error::from)?)
}

/// Whether the lake records an ingestion for `connection` of files with these names and sizes,
/// in this order: only then can a delivery be one it holds (see [`published_with_fingerprint`]).
async fn lake_has_files_like(
    lake: &Lake,
    connection: &str,
    sizes: &[(String, u64)],
) -> Result<bool> {
    let batches = ingestion_columns(lake, connection, None, &["files"]).await?;
    for b in &batches {
        for files in billow_lake::string_column(b, 0)?.iter().flatten() {
            // A record this version cannot read is taken as a possible match (hash first).
            let Ok(files) = serde_json::from_str::<Vec<FileRecord>>(files) else {
                return Ok(true);
            };
            if files.len() == sizes.len()
                && files
                    .iter()
                    .zip(sizes)
                    .all(|(f, (name, bytes))| f.name == *name && f.bytes == *bytes)
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The partitions whose current version is an ingestion of exactly these files, when every
/// ingestion of them is still current: then there is nothing to do.
async fn published_with_fingerprint(
    lake: &Lake,
    connection: &str,
    fingerprint: &str,
) -> Result<Option<Vec<(PartitionKey, String)>>> {
    let batches = ingestion_columns(
        lake,
        connection,
        Some(fingerprint),
        &["billing_period", "ingestion_id"],
    )
    .await?;
    let mut found: BTreeMap<PartitionKey, Vec<String>> = BTreeMap::new();
    for b in &batches {
        let periods = billow_lake::string_column(b, 0)?;
        let ids = billow_lake::string_column(b, 1)?;
        for (period, id) in periods.iter().zip(ids.iter()) {
            if let (Some(period), Some(id)) = (period, id) {
                let key = PartitionKey {
                    connection_id: connection.to_string(),
                    billing_period: period.to_string(),
                };
                found.entry(key).or_default().push(id.to_string());
            }
        }
    }
    if found.is_empty() {
        return Ok(None);
    }
    let mut current = Vec::with_capacity(found.len());
    for (key, ids) in found {
        match lake.current_ingestion(&key).await? {
            Some(id) if ids.contains(&id) => current.push((key, id)),
            _ => return Ok(None),
        }
    }
    Ok(Some(current))
}

fn datafusion_expr_eq(column: &str, value: &str) -> billow_lake::Expr {
    billow_lake::ident(column).eq(billow_lake::lit(value))
}

/// Ingests the export at `path` with the reader of the format
/// [`billow_formats::detect::detect`] recognizes in it. What `billow ingest <path>` without
/// a format name calls.
pub async fn ingest_detected(
    lake: &Lake,
    path: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<(billow_formats::detect::Format, Vec<PeriodReport>)> {
    let format = billow_formats::detect::detect(path)?;
    let reports = ingest_as(lake, format, path, options, progress).await?;
    Ok((format, reports))
}

/// Ingests the export at `path` for a connection of `provider`: the format is recognized,
/// and an export of another provider is refused before anything is read (a FOCUS file may
/// come from any). What uploads and syncs of a connection call.
pub async fn ingest_for_provider(
    lake: &Lake,
    provider: &str,
    path: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<(billow_formats::detect::Format, Vec<PeriodReport>)> {
    let format = billow_formats::detect::detect(path)?;
    if let Some(found) = format.provider()
        && found != provider
    {
        return Err(Error::WrongProvider {
            path: path.to_path_buf(),
            found,
            format: format.command(),
            connection: options.connection_id.clone(),
            expected: provider.to_string(),
        });
    }
    let reports = ingest_as(lake, format, path, options, progress).await?;
    Ok((format, reports))
}

/// Ingests the export at `path` with the reader of `format` (an Azure file's dataset, actual
/// or amortized, is recognized by the reader).
pub async fn ingest_as(
    lake: &Lake,
    format: billow_formats::detect::Format,
    path: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Vec<PeriodReport>> {
    use billow_formats::detect::Format;
    match format {
        Format::AwsCur => ingest_aws_cur(lake, path, options, progress).await,
        Format::Focus => ingest_focus(lake, path, options, progress).await,
        Format::OciCostReport => ingest_oci(lake, path, options, progress).await,
        Format::GcpBillingExport => ingest_gcp(lake, path, options, progress).await,
        Format::AzureCostDetails => ingest_azure(lake, path, None, None, options, progress).await,
        Format::DigitalOceanInvoice => ingest_digitalocean(lake, path, options, progress).await,
        Format::AwsCostExplorer => ingest_aws_cost_explorer(lake, path, options, progress).await,
        Format::Saas(vendor) => ingest_saas(lake, vendor, path, options, progress).await,
    }
}
