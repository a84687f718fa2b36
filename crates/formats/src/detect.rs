//! Recognizing a billing export from its manifest, header or content, so `billow ingest <path>`
//! needs no format name.

use std::path::{Path, PathBuf};

use crate::csv_file::Record;
use crate::{Error, Result, rows, source};

/// The export formats Billow reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// AWS Cost and Usage Report (CUR 1, Athena or CUR 2.0 spelling).
    AwsCur,
    /// A FOCUS file from any vendor or tool.
    Focus,
    /// Oracle Cloud cost report.
    OciCostReport,
    /// Google Cloud billing export rows.
    GcpBillingExport,
    /// Azure cost details export.
    AzureCostDetails,
    /// DigitalOcean invoice (CSV or JSON items).
    DigitalOceanInvoice,
    /// AWS Cost Explorer `GetCostAndUsage` response.
    AwsCostExplorer,
    /// A SaaS vendor's own billing data.
    Saas(crate::saas::Vendor),
}

impl Format {
    /// The `billow ingest` subcommand of the format.
    pub fn command(self) -> &'static str {
        match self {
            Format::AwsCur => "aws-cur",
            Format::Focus => "focus",
            Format::OciCostReport => "oci",
            Format::GcpBillingExport => "gcp",
            Format::AzureCostDetails => "azure",
            Format::DigitalOceanInvoice => "digitalocean",
            Format::AwsCostExplorer => "aws-ce",
            Format::Saas(_) => "saas",
        }
    }

    /// The provider whose exports are in this format (a connection's `provider`), or `None`
    /// for FOCUS files, which any provider or vendor may deliver.
    pub fn provider(self) -> Option<&'static str> {
        use crate::saas::Vendor;
        Some(match self {
            Format::AwsCur | Format::AwsCostExplorer => "aws",
            Format::OciCostReport => "oci",
            Format::GcpBillingExport => "gcp",
            Format::AzureCostDetails => "azure",
            Format::DigitalOceanInvoice => "digitalocean",
            Format::Saas(Vendor::OpenAi) => "openai",
            Format::Saas(Vendor::Datadog) => "datadog",
            Format::Saas(Vendor::Snowflake) => "snowflake",
            Format::Saas(Vendor::MongoDbAtlas) => "mongodb",
            Format::Focus => return None,
        })
    }
}

/// What detection looks for, for the error when nothing matches.
const LOOKED_FOR: &str = "an AWS CUR manifest (*-Manifest.json) or CUR columns (lineItem/UnblendedCost, line_item_unblended_cost); an Azure export manifest.json or cost details columns (CostInBillingCurrency, PreTaxCost); FOCUS columns (BilledCost and ChargePeriodStart); OCI cost report columns (lineItem/tenantId); Google Cloud billing export rows (JSON, Parquet or Avro with billing_account_id); a DigitalOcean invoice (CSV columns product and USD, or JSON invoice_items); an AWS Cost Explorer response (JSON ResultsByTime); OpenAI costs (organization.costs.result), Datadog cost (cost_by_org), MongoDB Atlas invoice (lineItems with totalPriceCents), Snowflake USAGE_IN_CURRENCY_DAILY (USAGE_IN_CURRENCY)";

/// Recognizes the export at `path` (a file, or a folder searched for manifests and then for
/// its first data file).
pub fn detect(path: &Path) -> Result<Format> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_file() {
        return detect_file(path);
    }
    let mut files = Vec::new();
    collect(path, 0, &mut files);
    files.sort();
    if files.iter().any(|f| is_named(f, "manifest.json")) {
        return Ok(Format::AzureCostDetails);
    }
    if files.iter().any(|f| {
        f.file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with("-Manifest.json"))
    }) {
        return Ok(Format::AwsCur);
    }
    let data = files.iter().find(|f| {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        [
            ".csv", ".csv.gz", ".gz", ".zip", ".parquet", ".avro", ".json", ".jsonl", ".ndjson",
        ]
        .iter()
        .any(|ext| name.ends_with(ext))
    });
    match data {
        Some(file) => detect_file(file),
        None => Err(Error::UnknownFormat {
            path: path.to_path_buf(),
            looked_for: LOOKED_FOR,
        }),
    }
}

fn is_named(path: &Path, name: &str) -> bool {
    path.file_name()
        .is_some_and(|n| n.eq_ignore_ascii_case(name))
}

/// Files under `dir`, four folder levels deep at most (an export's run folders).
fn collect(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if depth < 4 {
                collect(&path, depth + 1, out);
            }
        } else {
            out.push(path);
        }
    }
}

fn detect_file(path: &Path) -> Result<Format> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with("-manifest.json") {
        return Ok(Format::AwsCur);
    }
    if name == "manifest.json" {
        return Ok(Format::AzureCostDetails);
    }
    if source::sniff(path)? == source::Compression::Avro {
        // An Avro container names its fields in the schema at the start of the file.
        let mut head = vec![0u8; 65536];
        let n = std::fs::File::open(path)
            .and_then(|mut f| source::read_up_to(&mut f, &mut head))
            .unwrap_or(0);
        if String::from_utf8_lossy(&head[..n]).contains("\"billing_account_id\"") {
            return Ok(Format::GcpBillingExport);
        }
        return Err(Error::UnknownFormat {
            path: path.to_path_buf(),
            looked_for: LOOKED_FOR,
        });
    }
    // JSON rows (GCP): the first bytes, decompressed, start an object.
    let mut head = vec![0u8; 4096];
    let n = {
        let mut input = source::open(path).ok();
        match input.as_mut() {
            Some(input) => source::read_up_to(input, &mut head).unwrap_or(0),
            None => 0,
        }
    };
    let head = &head[..n];
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') || first == Some(&b'[') {
        let text = String::from_utf8_lossy(head);
        if text.contains("\"billing_account_id\"") || text.contains("bigquery#") {
            return Ok(Format::GcpBillingExport);
        }
        if text.contains("\"ResultsByTime\"") || text.contains("\"GroupDefinitions\"") {
            return Ok(Format::AwsCostExplorer);
        }
        use crate::saas::Vendor;
        if text.contains("organization.costs.result") {
            return Ok(Format::Saas(Vendor::OpenAi));
        }
        if text.contains("cost_by_org") {
            return Ok(Format::Saas(Vendor::Datadog));
        }
        if text.contains("\"lineItems\"") || text.contains("totalPriceCents") {
            return Ok(Format::Saas(Vendor::MongoDbAtlas));
        }
        // An invoice page, or the balance response saved beside the preview.
        if text.contains("\"invoice_items\"") || text.contains("\"month_to_date_usage\"") {
            return Ok(Format::DigitalOceanInvoice);
        }
        return Err(Error::UnknownFormat {
            path: path.to_path_buf(),
            looked_for: LOOKED_FOR,
        });
    }
    let mut source = rows::open(path)?;
    let mut header = Record::new();
    if !source.read(&mut header)? {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    let names: Vec<String> = header.iter().map(crate::azure::canonical_header).collect();
    let has = |n: &str| names.iter().any(|c| c == n);
    if has("lineitem/tenantid") {
        return Ok(Format::OciCostReport);
    }
    if has("lineitem/unblendedcost")
        || has("line_item_unblended_cost")
        || has("lineitem/lineitemtype")
        || has("line_item_line_item_type")
    {
        return Ok(Format::AwsCur);
    }
    if has("billedcost") && has("chargeperiodstart") {
        return Ok(Format::Focus);
    }
    if has("billing_account_id") && has("cost") && has("invoice") {
        // A Parquet export of the Cloud Billing table: its top-level columns.
        return Ok(Format::GcpBillingExport);
    }
    if has("usage_in_currency") {
        return Ok(Format::Saas(crate::saas::Vendor::Snowflake));
    }
    if has("product") && has("usd") && has("start") {
        return Ok(Format::DigitalOceanInvoice);
    }
    if has("costinbillingcurrency") || has("pretaxcost") || (has("cost") && has("metercategory")) {
        return Ok(Format::AzureCostDetails);
    }
    Err(Error::UnknownFormat {
        path: path.to_path_buf(),
        looked_for: LOOKED_FOR,
    })
}
