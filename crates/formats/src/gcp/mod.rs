//! Google Cloud billing export rows (standard and detailed usage cost tables) as JSON: one
//! object per line, as `bq extract --destination_format NEWLINE_DELIMITED_JSON` writes them
//! and as `SELECT TO_JSON_STRING(t)` returns them, or a BigQuery `jobs.query` response whose
//! rows carry that JSON string (`{"rows":[{"f":[{"v":"{...}"}]}]}`), or a Parquet or Avro
//! export of the table (`bq extract --destination_format PARQUET|AVRO`), whose rows are read as
//! the same JSON one batch at a time (FLOAT64 money as its shortest round-trip text, as
//! BigQuery holds it).
//!
//! Money is read from the JSON number's own text, never through a binary float. A row's
//! `cost` is before credits; each credit becomes its own Credit row with the usage row's
//! service, SKU, project and labels, so net cost is cost + Σ credits without multiplying
//! rows. The billing period is `invoice.month`, whose months begin at midnight in
//! America/Los_Angeles: late usage and adjustments land on later invoices. Resource-based
//! committed use discounts are the exception: their credits are folded into the usage they
//! cover, and their fees amortized onto it ([`commitments`]).

mod commitments;

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use billow_focus::column as ix;
use billow_focus::money::{self, ExactSum};
use billow_focus::schema::x;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::batch::{
    FocusBatchBuilder, GroupTotals, PeriodTotals, close_json_object, push_json_member,
    totals_by_period,
};
use crate::read::{FileSummary, ReadOptions, ReadState};
use crate::source;
use crate::timestamp::parse_utc_micros;
use crate::{Error, Result};

pub use commitments::{Commitments, Gathering};

use commitments::{COMMITMENT_TYPE, CUD_CREDIT, PoolKey, Role};

/// `x_SourceFormat` of GCP billing export rows.
pub const SOURCE_FORMAT: &str = "gcp-billing-export";

#[derive(Deserialize, Default)]
struct Named {
    id: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize, Default)]
struct Project {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Label {
    key: String,
    value: Option<String>,
}

#[derive(Deserialize, Default)]
struct Location {
    region: Option<String>,
    zone: Option<String>,
}

#[derive(Deserialize, Default)]
struct Resource {
    name: Option<String>,
    global_name: Option<String>,
}

#[derive(Deserialize, Default)]
struct Usage {
    amount: Option<Box<RawValue>>,
    unit: Option<String>,
    amount_in_pricing_units: Option<Box<RawValue>>,
    pricing_unit: Option<String>,
}

#[derive(Deserialize)]
struct Credit {
    name: Option<String>,
    full_name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    amount: Box<RawValue>,
}

#[derive(Deserialize, Default)]
struct Subscription {
    instance_id: Option<String>,
}

#[derive(Deserialize, Default)]
struct Invoice {
    month: Option<String>,
}

/// One export row; fields the mapping does not use are skipped.
#[derive(Deserialize)]
struct Row {
    billing_account_id: Option<String>,
    #[serde(default)]
    service: Named,
    #[serde(default)]
    sku: Named,
    usage_start_time: Option<String>,
    usage_end_time: Option<String>,
    #[serde(default)]
    project: Option<Project>,
    #[serde(default)]
    labels: Option<Vec<Label>>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    resource: Option<Resource>,
    cost: Option<Box<RawValue>>,
    cost_at_list: Option<Box<RawValue>>,
    currency: Option<String>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    credits: Option<Vec<Credit>>,
    #[serde(default)]
    invoice: Invoice,
    cost_type: Option<String>,
    seller_name: Option<String>,
    #[serde(default)]
    subscription: Option<Subscription>,
}

/// A BigQuery `jobs.query` response of `SELECT TO_JSON_STRING(t)`.
#[derive(Deserialize)]
struct QueryResponse {
    #[serde(default)]
    rows: Vec<QueryRow>,
}

#[derive(Deserialize)]
struct QueryRow {
    f: Vec<QueryCell>,
}

#[derive(Deserialize)]
struct QueryCell {
    v: Option<String>,
}

/// Google Cloud services by description → FOCUS ServiceCategory and ServiceSubcategory.
const SERVICES: &[(&str, &str, &str)] = &[
    ("Compute Engine", "Compute", "Virtual Machines"),
    ("Kubernetes Engine", "Compute", "Containers"),
    ("Cloud Run", "Compute", "Serverless Compute"),
    ("Cloud Run Functions", "Compute", "Serverless Compute"),
    ("Cloud Functions", "Compute", "Serverless Compute"),
    ("App Engine", "Web", "Application Platforms"),
    ("Cloud Storage", "Storage", "Object Storage"),
    ("Filestore", "Storage", "File Storage"),
    ("Persistent Disk", "Storage", "Block Storage"),
    ("Backup and DR Service", "Storage", "Backup Storage"),
    ("Cloud SQL", "Databases", "Relational Databases"),
    ("Cloud Spanner", "Databases", "Relational Databases"),
    ("AlloyDB", "Databases", "Relational Databases"),
    ("Cloud Bigtable", "Databases", "NoSQL Databases"),
    ("Firestore", "Databases", "NoSQL Databases"),
    ("Memorystore for Redis", "Databases", "Caching"),
    ("BigQuery", "Databases", "Data Warehouses"),
    ("BigQuery Storage API", "Databases", "Data Warehouses"),
    ("Dataflow", "Analytics", "Data Processing"),
    ("Dataproc", "Analytics", "Data Processing"),
    ("Looker", "Analytics", "Business Intelligence"),
    ("Networking", "Networking", "Network Connectivity"),
    ("Cloud DNS", "Networking", "Network Routing"),
    ("Cloud CDN", "Networking", "Content Delivery"),
    (
        "Cloud Load Balancing",
        "Networking",
        "Application Networking",
    ),
    ("Cloud NAT", "Networking", "Network Infrastructure"),
    ("Cloud Armor", "Networking", "Network Security"),
    (
        "Cloud Logging",
        "Management and Governance",
        "Observability",
    ),
    (
        "Cloud Monitoring",
        "Management and Governance",
        "Observability",
    ),
    (
        "Stackdriver Logging",
        "Management and Governance",
        "Observability",
    ),
    (
        "Cloud Billing",
        "Management and Governance",
        "Cost Management",
    ),
    ("Support", "Management and Governance", "Support"),
    ("Vertex AI", "AI and Machine Learning", "AI Platforms"),
    ("Gemini API", "AI and Machine Learning", "Generative AI"),
    (
        "Cloud Vision API",
        "AI and Machine Learning",
        "Machine Learning",
    ),
    (
        "Cloud Natural Language API",
        "AI and Machine Learning",
        "Natural Language Processing",
    ),
    ("Cloud Pub/Sub", "Integration", "Messaging"),
    ("Cloud Tasks", "Integration", "Workflow Orchestration"),
    ("Cloud Scheduler", "Integration", "Workflow Orchestration"),
    ("Apigee", "Integration", "API Management"),
    ("Secret Manager", "Security", "Secret Management"),
    (
        "Cloud Key Management Service (KMS)",
        "Security",
        "Secret Management",
    ),
    (
        "Security Command Center",
        "Security",
        "Security Posture Management",
    ),
];

/// FOCUS ServiceCategory and ServiceSubcategory of a Google Cloud service, by its
/// description: one pair per name, `Other (<category>)` where the spec has no better one.
pub fn service_category(service: &str) -> (&'static str, &'static str) {
    SERVICES
        .iter()
        .find(|(name, _, _)| *name == service)
        .map_or(("Other", "Other (Other)"), |(_, c, s)| (*c, *s))
}

/// The Cloud Asset Inventory type of a resource's full name:
/// `//compute.googleapis.com/projects/p/zones/z/instances/vm-1` → `compute.googleapis.com/Instance`.
fn asset_type(global_name: &str) -> Option<String> {
    let rest = global_name.strip_prefix("//")?;
    let (host, path) = rest.split_once('/')?;
    let mut segments = path.rsplit('/');
    segments.next()?;
    let collection = segments.next().filter(|c| !c.is_empty())?;
    let singular = if let Some(stem) = collection.strip_suffix("sses") {
        format!("{stem}ss")
    } else if let Some(stem) = collection.strip_suffix("ies") {
        format!("{stem}y")
    } else {
        collection
            .strip_suffix('s')
            .unwrap_or(collection)
            .to_string()
    };
    let mut chars = singular.chars();
    let first = chars.next()?.to_ascii_uppercase();
    Some(format!("{host}/{first}{}", chars.as_str()))
}

/// Start of the invoice month `YYYYMM` (midnight in America/Los_Angeles, as a UTC instant)
/// and the start of the next one. Daylight time runs from the second Sunday of March to the
/// first Sunday of November, so the first of April to November begins at UTC−7, the others
/// at UTC−8.
fn invoice_month_bounds(month: &str) -> Option<(String, i64, i64)> {
    let (y, m) = (month.get(0..4)?, month.get(4..6)?);
    if month.len() != 6 {
        return None;
    }
    let (y, m): (i64, i64) = (y.parse().ok()?, m.parse().ok()?);
    if !(1..=12).contains(&m) {
        return None;
    }
    let start_of = |y: i64, m: i64| -> Option<i64> {
        let midnight = parse_utc_micros(format!("{y:04}-{m:02}-01").as_bytes())?;
        let offset_hours = if (4..=11).contains(&m) { 7 } else { 8 };
        Some(midnight + offset_hours * 3_600_000_000)
    };
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Some((format!("{y:04}-{m:02}"), start_of(y, m)?, start_of(ny, nm)?))
}

/// A JSON number's own text (or a number written as a JSON string), parsed exactly.
fn number(raw: &RawValue) -> std::result::Result<(i128, String), String> {
    let text = raw.get().trim().trim_matches('"');
    if text == "null" {
        return Err(text.into());
    }
    money::parse_decimal(text.as_bytes())
        .map(|p| (p.value, text.to_string()))
        .map_err(|_| text.to_string())
}

enum Input {
    Lines(Box<dyn BufRead>),
    Rows(VecDeque<String>),
    /// A Parquet or Avro export, read a batch at a time and turned into the same JSON rows.
    Columnar {
        batches: Box<dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>>>,
        pending: VecDeque<String>,
        format: &'static str,
    },
}

/// The rows of one Parquet or Avro batch as JSON objects, one per row.
fn batch_as_json_rows(
    batch: &arrow::record_batch::RecordBatch,
) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut writer = arrow_json::LineDelimitedWriter::new(&mut out);
    writer.write(batch).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    drop(writer);
    let text = String::from_utf8(out).map_err(|e| e.to_string())?;
    Ok(text.lines().map(str::to_string).collect())
}

/// Reads one GCP billing export file into lake batches.
pub struct GcpBillingReader {
    path: PathBuf,
    file_name: String,
    input: Input,
    line: u64,
    text: String,
    builder: FocusBatchBuilder,
    options: ReadOptions,
    totals: PeriodTotals,
    tags: String,
    rows: u64,
    commitments: Arc<Commitments>,
    state: ReadState,
}

/// Gathers the resource-based commitments of every file of one export (a first pass, on up to
/// `threads` threads), so that [`GcpBillingReader::open_with`] can amortize a fee onto usage
/// in another file.
pub fn scan_commitments(files: &[PathBuf], threads: usize) -> Result<Commitments> {
    let threads = threads.clamp(1, files.len().max(1));
    let gathered = crate::read::for_each_file(
        files,
        (0..threads).map(|_| Gathering::default()).collect(),
        |path, gathering, _| {
            GcpBillingReader::open_input(path, ReadOptions::new("", ""))?.gather(gathering)
        },
        |_| Ok(()),
    )?;
    let overflow = || Error::TotalOverflow {
        path: files.first().cloned().unwrap_or_default(),
        column: "cost",
    };
    let mut all = Gathering::default();
    for g in gathered {
        all.merge(g).map_err(|_| overflow())?;
    }
    all.settle().map_err(|_| overflow())
}

impl GcpBillingReader {
    /// Opens `path` (plain, gzip or zip, Parquet or Avro). Its commitments are amortized
    /// within the file; for an export of several files use [`scan_commitments`] and
    /// [`GcpBillingReader::open_with`].
    pub fn open(path: &Path, options: ReadOptions) -> Result<Self> {
        let commitments = scan_commitments(&[path.to_path_buf()], 1)?;
        Self::open_with(path, options, Arc::new(commitments))
    }

    /// Opens `path` with the commitments of the whole export it belongs to.
    pub fn open_with(
        path: &Path,
        options: ReadOptions,
        commitments: Arc<Commitments>,
    ) -> Result<Self> {
        let mut reader = Self::open_input(path, options)?;
        reader.commitments = commitments;
        Ok(reader)
    }

    fn open_input(path: &Path, options: ReadOptions) -> Result<Self> {
        let compression = source::sniff(path)?;
        if matches!(
            compression,
            source::Compression::Parquet | source::Compression::Avro
        ) {
            let format = if compression == source::Compression::Parquet {
                "parquet"
            } else {
                "avro"
            };
            let corrupt = |detail: String| Error::Corrupt {
                path: path.to_path_buf(),
                compression: format,
                detail,
            };
            let file = std::fs::File::open(path).map_err(|e| Error::Io {
                path: path.to_path_buf(),
                source: e,
            })?;
            let batches: Box<dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>>> =
                if compression == source::Compression::Parquet {
                    Box::new(
                        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                            file,
                        )
                        .and_then(|b| b.with_batch_size(4096).build())
                        .map_err(|e| corrupt(e.to_string()))?,
                    )
                } else {
                    Box::new(
                        arrow_avro::reader::ReaderBuilder::new()
                            .with_batch_size(4096)
                            .build(BufReader::with_capacity(1 << 20, file))
                            .map_err(|e| corrupt(e.to_string()))?,
                    )
                };
            let input = Input::Columnar {
                batches,
                pending: VecDeque::new(),
                format,
            };
            return Ok(Self::with_input(path, input, options));
        }
        let mut reader = BufReader::with_capacity(1 << 20, source::open(path)?);
        let io = |e: std::io::Error| source::Decompressed::error_for(path, compression, e);
        // A jobs.query response is one JSON document; an export is one object per line.
        let first = reader.fill_buf().map_err(io)?;
        let is_response = {
            let head = String::from_utf8_lossy(&first[..first.len().min(4096)]);
            head.contains("\"bigquery#queryResponse\"") || head.contains("\"jobReference\"")
        };
        let input = if is_response {
            let mut text = String::new();
            reader.read_to_string(&mut text).map_err(io)?;
            let response: QueryResponse =
                serde_json::from_str(&text).map_err(|e| Error::BadValue {
                    path: path.to_path_buf(),
                    line: e.line() as u64,
                    column: "rows".into(),
                    found: e.to_string(),
                    expected: "a BigQuery jobs.query response of SELECT TO_JSON_STRING(t)",
                    hint: "Query the export table with SELECT TO_JSON_STRING(t) FROM ... t, or export it as newline-delimited JSON.",
                })?;
            Input::Rows(
                response
                    .rows
                    .into_iter()
                    .filter_map(|r| r.f.into_iter().next().and_then(|c| c.v))
                    .collect(),
            )
        } else {
            Input::Lines(Box::new(reader))
        };
        Ok(Self::with_input(path, input, options))
    }

    fn with_input(path: &Path, input: Input, options: ReadOptions) -> Self {
        GcpBillingReader {
            path: path.to_path_buf(),
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            input,
            line: 0,
            text: String::new(),
            builder: FocusBatchBuilder::new(options.batch_rows),
            options,
            totals: BTreeMap::new(),
            tags: String::new(),
            rows: 0,
            commitments: Arc::default(),
            state: ReadState::default(),
        }
    }

    /// The first pass: adds the file's commitment fees and covered usage to `into`. Only rows
    /// that name a commitment are parsed.
    fn gather(&mut self, into: &mut Gathering) -> Result<()> {
        while self.next_text()? {
            if !self.text.contains("\"Commitment v")
                && !self.text.contains("\"COMMITTED_USAGE_DISCOUNT\"")
            {
                continue;
            }
            let row = self.parse_row()?;
            if let Some((key, role)) = self.pool_entry(&row)? {
                into.add(key, role, &self.path, self.line)
                    .map_err(|_| Error::TotalOverflow {
                        path: self.path.clone(),
                        column: "cost",
                    })?;
            }
        }
        Ok(())
    }

    fn parse_row(&self) -> Result<Row> {
        serde_json::from_str(&self.text).map_err(|e| {
            self.bad(
                "(row)",
                &e.to_string(),
                "a Cloud Billing export row as a JSON object",
            )
        })
    }

    /// Where a resource-based commitment's fee row or a row it covered pools, and what it
    /// adds there.
    fn pool_entry(&self, row: &Row) -> Result<Option<(PoolKey, Role)>> {
        let sku = row.sku.description.as_deref().unwrap_or_default();
        let fee = commitments::is_fee_sku(sku);
        let credits = row.credits.as_deref().unwrap_or_default();
        let cud = |c: &&Credit| c.kind.as_deref() == Some(CUD_CREDIT);
        if !fee && !credits.iter().any(|c| cud(&c)) {
            return Ok(None);
        }
        if !matches!(row.cost_type.as_deref(), None | Some("regular")) {
            return Ok(None);
        }
        let (Some(month), Some(account)) = (
            row.invoice.month.as_deref(),
            row.billing_account_id.as_deref(),
        ) else {
            return Ok(None);
        };
        let Some((period, ..)) = invoice_month_bounds(month) else {
            return Ok(None);
        };
        let time = |value: Option<&str>, column: &str| -> Result<i64> {
            let text = value.unwrap_or_default();
            parse_utc_micros(text.as_bytes())
                .ok_or_else(|| self.bad(column, text, "a UTC timestamp like 2024-01-01T00:00:00Z"))
        };
        let start = time(row.usage_start_time.as_deref(), "usage_start_time")?;
        let end = time(row.usage_end_time.as_deref(), "usage_end_time")?;
        let cost = match row.cost.as_deref() {
            Some(raw) => {
                number(raw)
                    .map_err(|t| self.bad("cost", &t, "a decimal number within ±10^15"))?
                    .0
            }
            None => return Ok(None),
        };
        let priced = match row
            .usage
            .as_ref()
            .and_then(|u| u.amount_in_pricing_units.as_deref())
        {
            Some(raw) => Some(
                number(raw)
                    .map_err(|t| self.bad("usage.amount_in_pricing_units", &t, "a decimal number"))?
                    .0,
            ),
            None => None,
        };
        let region = row.location.as_ref().and_then(|l| l.region.as_deref());
        let key = PoolKey::new(&period, account, start, region, sku);
        if fee {
            return Ok(Some((
                key,
                Role::Fee {
                    fee: cost,
                    committed: priced,
                    bounds: (start, end),
                },
            )));
        }
        let mut covered = 0i128;
        for c in credits.iter().filter(cud) {
            let amount = number(&c.amount)
                .map_err(|t| self.bad("credits.amount", &t, "a decimal number"))?
                .0;
            covered -= amount;
        }
        if covered <= 0 || cost <= 0 {
            return Ok(None);
        }
        let covered = covered.min(cost);
        let quantity = priced.and_then(|q| money::mul_div(q, covered, cost));
        Ok(Some((key, Role::Covered { covered, quantity })))
    }

    fn bad(&self, column: &str, found: &str, expected: &'static str) -> Error {
        Error::BadValue {
            path: self.path.clone(),
            line: self.line,
            column: column.to_string(),
            found: found.chars().take(80).collect(),
            expected,
            hint: "The row is damaged or not a Cloud Billing export row; export the table again.",
        }
    }

    /// The next row's JSON text into `self.text`; `false` at the end.
    fn next_text(&mut self) -> Result<bool> {
        loop {
            self.text.clear();
            self.line += 1;
            match &mut self.input {
                Input::Rows(rows) => match rows.pop_front() {
                    Some(t) => self.text = t,
                    None => return Ok(false),
                },
                Input::Columnar {
                    batches,
                    pending,
                    format,
                } => {
                    while pending.is_empty() {
                        match batches.next() {
                            None => return Ok(false),
                            Some(batch) => {
                                let rows = batch
                                    .map_err(|e| e.to_string())
                                    .and_then(|b| batch_as_json_rows(&b));
                                match rows {
                                    Ok(rows) => pending.extend(rows),
                                    Err(detail) => {
                                        return Err(Error::Corrupt {
                                            path: self.path.clone(),
                                            compression: format,
                                            detail,
                                        });
                                    }
                                }
                            }
                        }
                    }
                    self.text = pending.pop_front().unwrap_or_default();
                }
                Input::Lines(lines) => {
                    let n = lines.read_line(&mut self.text).map_err(|e| {
                        let compression =
                            source::sniff(&self.path).unwrap_or(source::Compression::None);
                        source::Decompressed::error_for(&self.path, compression, e)
                    })?;
                    if n == 0 {
                        return Ok(false);
                    }
                }
            }
            if !self.text.trim().is_empty() {
                return Ok(true);
            }
        }
    }

    fn map_row(&mut self) -> Result<()> {
        let row = self.parse_row()?;
        let pooled = self.pool_entry(&row)?;
        let Some(month) = row.invoice.month.as_deref() else {
            return Err(self.bad("invoice.month", "", "the invoice month (YYYYMM)"));
        };
        let Some((period, period_start, period_end)) = invoice_month_bounds(month) else {
            return Err(self.bad("invoice.month", month, "the invoice month as YYYYMM"));
        };
        let Some(account) = row.billing_account_id.as_deref() else {
            return Err(self.bad("billing_account_id", "", "the billing account id"));
        };
        let time = |value: Option<&str>, column: &str| -> Result<i64> {
            let text = value.unwrap_or_default();
            parse_utc_micros(text.as_bytes())
                .ok_or_else(|| self.bad(column, text, "a UTC timestamp like 2024-01-01T00:00:00Z"))
        };
        let start = time(row.usage_start_time.as_deref(), "usage_start_time")?;
        let end = time(row.usage_end_time.as_deref(), "usage_end_time")?;
        let Some(cost_raw) = row.cost.as_deref() else {
            return Err(self.bad("cost", "", "the row's cost"));
        };
        let (cost, cost_text) =
            number(cost_raw).map_err(|t| self.bad("cost", &t, "a decimal number within ±10^15"))?;
        let list = match row.cost_at_list.as_deref() {
            Some(raw) => {
                number(raw)
                    .map_err(|t| self.bad("cost_at_list", &t, "a decimal number"))?
                    .0
            }
            None => cost,
        };
        let usage = row.usage.unwrap_or_default();
        let quantity = |raw: Option<&RawValue>, column: &str| -> Result<Option<i128>> {
            raw.map(|r| {
                number(r)
                    .map(|n| n.0)
                    .map_err(|t| self.bad(column, &t, "a decimal number within ±10^15"))
            })
            .transpose()
        };
        let priced = quantity(
            usage.amount_in_pricing_units.as_deref(),
            "usage.amount_in_pricing_units",
        )?;
        // Storage is metered in byte-seconds: one GiB kept for a month is 2.8 × 10¹⁵ of them,
        // past what the lake can sum safely. Such rows are consumed in their pricing unit
        // (gibibyte month), which is the same quantity; every other unit stays as metered.
        let (consumed, consumed_unit) = match (usage.unit.as_deref(), priced) {
            (Some("byte-seconds"), Some(p)) => (Some(p), usage.pricing_unit.as_deref()),
            (unit, _) => (quantity(usage.amount.as_deref(), "usage.amount")?, unit),
        };
        let category = match row.cost_type.as_deref() {
            Some("tax") => "Tax",
            Some("adjustment") | Some("rounding_error") => "Adjustment",
            _ => "Usage",
        };
        // A covered row's commitment credits are part of it; every other credit is a row.
        let folds_credits = matches!(pooled, Some((_, Role::Covered { .. })));
        let mut credits = Vec::new();
        let mut folded = Vec::new();
        let mut folded_sum = 0i128;
        for c in row.credits.as_deref().unwrap_or_default() {
            let (amount, text) = number(&c.amount)
                .map_err(|t| self.bad("credits.amount", &t, "a decimal number"))?;
            if folds_credits && c.kind.as_deref() == Some(CUD_CREDIT) {
                folded_sum += amount;
                folded.push(text);
            } else {
                credits.push((amount, text, c));
            }
        }
        self.tags.clear();
        for label in row.labels.as_deref().unwrap_or_default() {
            let Some(value) = label.value.as_deref() else {
                continue;
            };
            push_json_member(&mut self.tags, &label.key, value);
        }
        close_json_object(&mut self.tags);

        let project = row.project.unwrap_or_default();
        let location = row.location.unwrap_or_default();
        let resource = row.resource.unwrap_or_default();
        let service = row.service.description.as_deref().unwrap_or("Unknown");
        let currency = row.currency.as_deref().unwrap_or("USD");
        let line = self.line as i64;
        let tags = (!self.tags.is_empty()).then_some(self.tags.as_str());
        let resource_type = match (&resource.global_name, &resource.name) {
            (Some(global), _) => Some(asset_type(global).unwrap_or_else(|| service.to_string())),
            (None, Some(_)) => Some(service.to_string()),
            (None, None) => None,
        };
        let base = GcpRow {
            account,
            period: &period,
            period_bounds: (period_start, period_end),
            charge_bounds: (start, end),
            service,
            service_id: row.service.id.as_deref(),
            sku: row.sku.id.as_deref(),
            sku_description: row.sku.description.as_deref(),
            project: project.id.as_deref(),
            project_name: project.name.as_deref(),
            region: location.region.as_deref(),
            zone: location.zone.as_deref(),
            resource_id: resource.global_name.as_deref().or(resource.name.as_deref()),
            resource_name: resource.name.as_deref(),
            resource_type: resource_type.as_deref(),
            currency,
            publisher: row.seller_name.as_deref().unwrap_or("Google Cloud"),
            tags,
            line,
        };
        let usage_charge = Charge {
            category,
            frequency: if category == "Usage" {
                "Usage-Based"
            } else {
                "One-Time"
            },
            pricing: (category == "Usage").then_some("Standard"),
            billed: cost,
            effective: cost,
            contracted: cost,
            list,
            description: base.sku_description,
            kind: row.cost_type.as_deref(),
            quantity: priced.map(|q| (q, usage.pricing_unit.as_deref())),
            consumed: consumed.map(|q| (q, consumed_unit)),
            commitment: None,
        };
        let pool_id = pooled.as_ref().map(|(key, _)| key.commitment_id());
        let path = self.path.clone();
        let overflow = move || Error::TotalOverflow {
            path: path.clone(),
            column: "cost",
        };
        let groups = self.totals.entry(period.clone()).or_default();
        let b = &mut self.builder;
        let ctx = (&self.options, self.file_name.as_str());
        match (&pooled, pool_id.as_deref()) {
            (Some((key, Role::Fee { .. })), Some(pool_id)) => {
                // The fee is bought, not used: its EffectiveCost goes to the usage it paid
                // for and to the pool's Unused row.
                let unit = unit_of(usage_charge.quantity);
                push(
                    b,
                    ctx,
                    &GcpRow {
                        resource_id: row
                            .subscription
                            .as_ref()
                            .and_then(|s| s.instance_id.as_deref())
                            .or(Some(pool_id)),
                        resource_name: base.sku_description,
                        resource_type: Some("Commitment"),
                        ..base
                    },
                    Charge {
                        category: "Purchase",
                        frequency: "Recurring",
                        effective: 0,
                        consumed: None,
                        commitment: Some(Commitment {
                            id: pool_id,
                            name: base.sku_description,
                            status: None,
                            quantity: priced,
                            unit: unit.clone(),
                        }),
                        ..usage_charge.clone()
                    },
                );
                add_texts(groups, account, "Purchase", &[&cost_text], &[], 1)
                    .map_err(|_| overflow())?;
                add_texts(groups, account, "Usage", &[], &[&cost_text], 0)
                    .map_err(|_| overflow())?;
                if let Some((unused, bounds)) =
                    self.commitments.unused_at(key, &self.path, self.line)
                {
                    push(
                        b,
                        ctx,
                        &GcpRow {
                            charge_bounds: bounds,
                            resource_id: Some(pool_id),
                            resource_name: None,
                            resource_type: Some("Commitment"),
                            ..base
                        },
                        Charge {
                            category: "Usage",
                            frequency: "Usage-Based",
                            pricing: Some("Committed"),
                            billed: 0,
                            effective: unused,
                            contracted: 0,
                            list: 0,
                            description: Some("Unused committed use discount"),
                            kind: Some("unused_commitment"),
                            quantity: None,
                            consumed: None,
                            commitment: Some(Commitment {
                                id: pool_id,
                                name: base.sku_description,
                                status: Some("Unused"),
                                quantity: self.commitments.unused_quantity(key),
                                unit,
                            }),
                        },
                    );
                    add_texts(groups, account, "Usage", &[], &[], 1).map_err(|_| overflow())?;
                }
            }
            (Some((key, Role::Covered { covered, quantity })), Some(pool_id)) => {
                let share = self.commitments.share(key, *covered, &self.path, self.line);
                let part = |v: i128| money::mul_div(v, *covered, cost).unwrap_or(0);
                let unit = unit_of(usage_charge.quantity);
                let covered_quantity = quantity.map(|q| (q, usage.pricing_unit.as_deref()));
                push(
                    b,
                    ctx,
                    &base,
                    Charge {
                        pricing: Some("Committed"),
                        // 0, unless the credits exceed the cost they cover.
                        billed: covered + folded_sum,
                        effective: covered + folded_sum + share,
                        contracted: *covered,
                        list: part(list),
                        quantity: covered_quantity,
                        consumed: consumed.map(|q| (part(q), consumed_unit)),
                        commitment: Some(Commitment {
                            id: pool_id,
                            name: None,
                            status: Some("Used"),
                            quantity: *quantity,
                            unit,
                        }),
                        ..usage_charge.clone()
                    },
                );
                let rest = cost - covered;
                let split = rest != 0;
                if split {
                    // Usage beyond what the commitment covered, at its own rate.
                    push(
                        b,
                        ctx,
                        &base,
                        Charge {
                            billed: rest,
                            effective: rest,
                            contracted: rest,
                            list: list - part(list),
                            quantity: priced
                                .zip(*quantity)
                                .map(|(p, q)| (p - q, usage.pricing_unit.as_deref())),
                            consumed: consumed.map(|q| (q - part(q), consumed_unit)),
                            ..usage_charge.clone()
                        },
                    );
                }
                let mut texts: Vec<&str> = vec![&cost_text];
                texts.extend(folded.iter().map(String::as_str));
                add_texts(groups, account, "Usage", &texts, &texts, 1 + split as u64)
                    .map_err(|_| overflow())?;
            }
            _ => {
                push(b, ctx, &base, usage_charge);
                add_texts(groups, account, category, &[&cost_text], &[&cost_text], 1)
                    .map_err(|_| overflow())?;
            }
        }
        for (amount, text, credit) in &credits {
            push(
                b,
                ctx,
                &base,
                Charge {
                    category: "Credit",
                    frequency: "One-Time",
                    pricing: None,
                    billed: *amount,
                    effective: *amount,
                    contracted: *amount,
                    list: *amount,
                    description: credit.full_name.as_deref().or(credit.name.as_deref()),
                    kind: credit.kind.as_deref(),
                    quantity: None,
                    consumed: None,
                    commitment: None,
                },
            );
            add_texts(groups, account, "Credit", &[text], &[text], 1).map_err(|_| overflow())?;
        }
        self.rows += 1 + credits.len() as u64;
        Ok(())
    }

    /// Maps the next row; `false` at the end of the file.
    fn read_row(&mut self) -> Result<bool> {
        if !self.next_text()? {
            return Ok(false);
        }
        self.map_row()?;
        Ok(true)
    }
}

/// What a usage row and its credit rows share.
struct GcpRow<'a> {
    account: &'a str,
    period: &'a str,
    period_bounds: (i64, i64),
    charge_bounds: (i64, i64),
    service: &'a str,
    service_id: Option<&'a str>,
    sku: Option<&'a str>,
    sku_description: Option<&'a str>,
    project: Option<&'a str>,
    project_name: Option<&'a str>,
    region: Option<&'a str>,
    zone: Option<&'a str>,
    resource_id: Option<&'a str>,
    resource_name: Option<&'a str>,
    resource_type: Option<&'a str>,
    currency: &'a str,
    publisher: &'a str,
    tags: Option<&'a str>,
    line: i64,
}

/// What differs between the rows a source row becomes: its usage, its credits, a commitment's
/// purchase, covered and unused parts.
#[derive(Clone)]
struct Charge<'a> {
    category: &'static str,
    frequency: &'static str,
    pricing: Option<&'static str>,
    billed: i128,
    effective: i128,
    contracted: i128,
    list: i128,
    description: Option<&'a str>,
    kind: Option<&'a str>,
    quantity: Option<(i128, Option<&'a str>)>,
    consumed: Option<(i128, Option<&'a str>)>,
    commitment: Option<Commitment<'a>>,
}

/// The commitment columns of a row a resource-based commitment bought, covered or left unused.
#[derive(Clone)]
struct Commitment<'a> {
    id: &'a str,
    name: Option<&'a str>,
    status: Option<&'static str>,
    quantity: Option<i128>,
    unit: Option<std::borrow::Cow<'a, str>>,
}

/// Adds a source row's exact cost texts to its (billing account, category) group.
fn add_texts(
    groups: &mut BTreeMap<(String, &'static str), GroupTotals>,
    account: &str,
    category: &'static str,
    billed: &[&str],
    effective: &[&str],
    rows: u64,
) -> std::result::Result<(), ()> {
    let g = groups.entry((account.to_string(), category)).or_default();
    for text in billed {
        let mut sum = ExactSum::default();
        sum.add_text(text.as_bytes()).map_err(|_| ())?;
        g.billed.merge(&sum).map_err(|_| ())?;
    }
    for text in effective {
        let mut sum = ExactSum::default();
        sum.add_text(text.as_bytes()).map_err(|_| ())?;
        g.effective.merge(&sum).map_err(|_| ())?;
    }
    g.rows += rows;
    Ok(())
}

/// The FOCUS unit of a quantity that has one.
fn unit_of<'a>(quantity: Option<(i128, Option<&'a str>)>) -> Option<std::borrow::Cow<'a, str>> {
    quantity.map(|(_, unit)| {
        unit.map(billow_focus::units::normalize)
            .unwrap_or(std::borrow::Cow::Borrowed("Units"))
    })
}

fn push(
    b: &mut FocusBatchBuilder,
    (options, file): (&ReadOptions, &str),
    r: &GcpRow<'_>,
    c: Charge<'_>,
) {
    let pricing_unit = unit_of(c.quantity);
    let consumed_unit = unit_of(c.consumed);
    b.str(ix!("AvailabilityZone"), r.zone);
    b.dec(ix!("BilledCost"), Some(c.billed));
    b.str(ix!("BillingAccountId"), Some(r.account));
    b.str(ix!("BillingAccountType"), Some("Billing Account"));
    b.str(ix!("BillingCurrency"), Some(r.currency));
    b.ts(ix!("BillingPeriodEnd"), Some(r.period_bounds.1));
    b.ts(ix!("BillingPeriodStart"), Some(r.period_bounds.0));
    b.str(ix!("ChargeCategory"), Some(c.category));
    b.str(ix!("ChargeDescription"), c.description);
    b.str(ix!("ChargeFrequency"), Some(c.frequency));
    if let Some(cd) = &c.commitment {
        b.str(ix!("CommitmentDiscountCategory"), Some("Usage"));
        b.str(ix!("CommitmentDiscountId"), Some(cd.id));
        b.str(ix!("CommitmentDiscountName"), cd.name);
        b.dec(ix!("CommitmentDiscountQuantity"), cd.quantity);
        b.str(ix!("CommitmentDiscountStatus"), cd.status);
        b.str(ix!("CommitmentDiscountType"), Some(COMMITMENT_TYPE));
        b.str(
            ix!("CommitmentDiscountUnit"),
            cd.quantity.and(cd.unit.as_deref()),
        );
    }
    b.ts(ix!("ChargePeriodEnd"), Some(r.charge_bounds.1));
    b.ts(ix!("ChargePeriodStart"), Some(r.charge_bounds.0));
    b.dec(ix!("ConsumedQuantity"), c.consumed.map(|q| q.0));
    b.str(ix!("ConsumedUnit"), consumed_unit.as_deref());
    b.dec(ix!("ContractedCost"), Some(c.contracted));
    b.dec(ix!("EffectiveCost"), Some(c.effective));
    // Google invoices everything on a billing account, Marketplace purchases included.
    b.str(ix!("InvoiceIssuerName"), Some("Google Cloud"));
    b.dec(ix!("ListCost"), Some(c.list));
    b.str(ix!("PricingCategory"), c.pricing);
    b.str(ix!("PricingCurrency"), Some(r.currency));
    b.dec(ix!("PricingCurrencyEffectiveCost"), Some(c.effective));
    b.dec(ix!("PricingQuantity"), c.quantity.map(|q| q.0));
    b.str(ix!("PricingUnit"), pricing_unit.as_deref());
    b.str(ix!("ProviderName"), Some("Google Cloud"));
    b.str(ix!("PublisherName"), Some(r.publisher));
    b.str(ix!("RegionId"), r.region);
    b.str(ix!("RegionName"), r.region);
    b.str(ix!("ResourceId"), r.resource_id);
    b.str(ix!("ResourceName"), r.resource_name);
    b.str(ix!("ResourceType"), r.resource_type);
    let (category, subcategory) = service_category(r.service);
    b.str(ix!("ServiceCategory"), Some(category));
    b.str(ix!("ServiceSubcategory"), Some(subcategory));
    b.str(ix!("ServiceName"), Some(r.service));
    b.str(ix!("SkuId"), r.sku);
    b.str(ix!("SkuMeter"), r.sku_description);
    b.str(ix!("SkuPriceId"), r.sku);
    b.str(ix!("SubAccountId"), r.project);
    b.str(ix!("SubAccountName"), r.project_name.or(r.project));
    b.str(ix!("SubAccountType"), r.project.map(|_| "Project"));
    b.str(ix!("Tags"), r.tags);
    b.str(ix!(x::CONNECTION_ID), Some(&options.connection_id));
    b.str(ix!(x::BILLING_PERIOD), Some(r.period));
    b.str(ix!(x::SOURCE_FORMAT), Some(SOURCE_FORMAT));
    b.str(ix!(x::SOURCE_FILE), Some(file));
    b.int(ix!(x::SOURCE_LINE), Some(r.line));
    b.str(ix!(x::INGESTION_ID), Some(&options.ingestion_id));
    b.str(ix!(x::LINE_ITEM_TYPE), c.kind);
    b.str(ix!(x::SERVICE_CODE), r.service_id);
    b.end_row();
}

impl GcpBillingReader {
    /// What the whole file held, for [`crate::read::FileSummary`].
    fn file_summary(&mut self) -> FileSummary {
        let totals = totals_by_period(std::mem::take(&mut self.totals));
        FileSummary {
            file: self.path.clone(),
            rows: self.rows,
            totals,
            source_format: SOURCE_FORMAT,
        }
    }
}

crate::read::batch_reader!(GcpBillingReader);

#[cfg(test)]
mod tests {
    use super::{asset_type, service_category};

    #[test]
    fn asset_types_come_from_full_resource_names() {
        for (name, kind) in [
            (
                "//compute.googleapis.com/projects/p/zones/us-central1-b/instances/vm-1",
                "compute.googleapis.com/Instance",
            ),
            (
                "//storage.googleapis.com/projects/_/buckets/b",
                "storage.googleapis.com/Bucket",
            ),
            (
                "//compute.googleapis.com/projects/p/regions/r/addresses/a",
                "compute.googleapis.com/Address",
            ),
            (
                "//container.googleapis.com/projects/p/locations/l/clusters/c",
                "container.googleapis.com/Cluster",
            ),
        ] {
            assert_eq!(asset_type(name).as_deref(), Some(kind), "{name}");
        }
        assert_eq!(asset_type("vm-1"), None);
    }

    #[test]
    fn every_service_has_a_subcategory_of_its_category() {
        use billow_focus::enums::{ServiceCategory, is_subcategory_of};
        for (name, _, _) in super::SERVICES {
            let (category, sub) = service_category(name);
            let category = ServiceCategory::parse(category).expect(name);
            assert!(is_subcategory_of(category, sub), "{name}: {sub}");
        }
        assert_eq!(
            service_category("Something New"),
            ("Other", "Other (Other)")
        );
    }
}
