//! AWS Cost Explorer `GetCostAndUsage` responses, for accounts that have no CUR: one coarse
//! FOCUS row per time period and group (typically day × linked account × service), marked
//! `x_SourceFormat = aws-cost-explorer` so nobody mistakes them for line items.
//!
//! BilledCost is `UnblendedCost`, EffectiveCost `AmortizedCost` (either falls back to the other
//! when the request did not ask for it), ContractedCost `NetUnblendedCost` when present. Rows
//! are ChargeCategory `Usage` unless grouped by `RECORD_TYPE`, which names Tax, Credit, Refund
//! and purchases. The source totals are the response's own amounts, summed exactly, so
//! `reconcile` compares the lake with the response. Each file is one response page (the
//! `NextPageToken` pages of one request go in together); `Estimated` periods are kept and
//! flagged in `x_LineItemType` as `Estimated`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use billow_focus::column as ix;
use billow_focus::money;
use billow_focus::schema::x;
use serde::Deserialize;

use crate::batch::{FocusBatchBuilder, PeriodTotals, add_row, totals_by_period};
use crate::read::{FileSummary, ReadOptions, ReadState};
use crate::timestamp::{month_bounds, parse_utc_micros, year_month};
use crate::{Error, Result};

/// `x_SourceFormat` of Cost Explorer rows.
pub const SOURCE_FORMAT: &str = "aws-cost-explorer";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    #[serde(default)]
    group_definitions: Vec<GroupDefinition>,
    results_by_time: Vec<ResultByTime>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GroupDefinition {
    #[serde(rename = "Type")]
    kind: String,
    key: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultByTime {
    time_period: TimePeriod,
    #[serde(default)]
    total: BTreeMap<String, Metric>,
    #[serde(default)]
    groups: Vec<Group>,
    #[serde(default)]
    estimated: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TimePeriod {
    start: String,
    end: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Group {
    keys: Vec<String>,
    metrics: BTreeMap<String, Metric>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
struct Metric {
    amount: String,
    #[serde(default)]
    unit: String,
}

/// A group's dimension values, by dimension (`LINKED_ACCOUNT`, `SERVICE`, `tag:<key>`...).
type Dimensions = Vec<(String, String)>;
/// A group's metrics by name (`UnblendedCost`...).
type Metrics = BTreeMap<String, Metric>;

/// One row to emit: a period and its group's dimension values and metrics.
#[derive(Debug)]
struct Row {
    start: String,
    end: String,
    estimated: bool,
    dimensions: Dimensions,
    metrics: Metrics,
    /// Position in the response (1-based), for errors.
    position: u64,
}

/// Reads one `GetCostAndUsage` response page into lake batches.
pub struct CostExplorerReader {
    path: PathBuf,
    file_name: String,
    rows_left: std::vec::IntoIter<Row>,
    builder: FocusBatchBuilder,
    options: ReadOptions,
    totals: PeriodTotals,
    rows: u64,
    state: ReadState,
}

const HINT: &str = "Save the GetCostAndUsage response as AWS returns it (aws ce get-cost-and-usage --output json), one file per page.";

impl CostExplorerReader {
    /// Reads the response at `path` (JSON, possibly gzip).
    pub fn open(path: &Path, options: ReadOptions) -> Result<Self> {
        let text = crate::source::read_all(path)?;
        let response: Response = serde_json::from_slice(&text).map_err(|e| Error::Csv {
            path: path.to_path_buf(),
            line: e.line() as u64,
            detail: format!("not a GetCostAndUsage response ({e}). {HINT}"),
        })?;
        let keys: Vec<String> = response
            .group_definitions
            .iter()
            .map(|g| {
                if g.kind.eq_ignore_ascii_case("TAG") {
                    format!("tag:{}", g.key)
                } else {
                    g.key.to_ascii_uppercase()
                }
            })
            .collect();
        let mut rows = Vec::new();
        let mut position = 0;
        for period in response.results_by_time {
            let groups: Vec<(Dimensions, Metrics)> = if period.groups.is_empty() {
                vec![(Vec::new(), period.total)]
            } else {
                period
                    .groups
                    .into_iter()
                    .map(|g| (keys.iter().cloned().zip(g.keys).collect(), g.metrics))
                    .collect()
            };
            for (dimensions, metrics) in groups {
                position += 1;
                rows.push(Row {
                    start: period.time_period.start.clone(),
                    end: period.time_period.end.clone(),
                    estimated: period.estimated,
                    dimensions,
                    metrics,
                    position,
                });
            }
        }
        Ok(CostExplorerReader {
            path: path.to_path_buf(),
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            rows_left: rows.into_iter(),
            builder: FocusBatchBuilder::new(options.batch_rows),
            options,
            totals: BTreeMap::new(),
            rows: 0,
            state: ReadState::default(),
        })
    }

    fn bad(&self, position: u64, column: &str, raw: &str, expected: &'static str) -> Error {
        Error::BadItem {
            path: self.path.clone(),
            item: position,
            field: format!("ResultsByTime[].Groups[].{column}"),
            found: raw.chars().take(80).collect(),
            expected,
            hint: HINT,
        }
    }

    fn read_row(&mut self) -> Result<bool> {
        let Some(row) = self.rows_left.next() else {
            return Ok(false);
        };
        let start = parse_utc_micros(row.start.as_bytes()).ok_or_else(|| {
            self.bad(
                row.position,
                "TimePeriod.Start",
                &row.start,
                "a date like 2024-01-01",
            )
        })?;
        let end = parse_utc_micros(row.end.as_bytes()).ok_or_else(|| {
            self.bad(
                row.position,
                "TimePeriod.End",
                &row.end,
                "a date like 2024-01-02",
            )
        })?;
        let metric = |name: &str| row.metrics.get(name);
        let unblended = metric("UnblendedCost").or(metric("BlendedCost"));
        let amortized = metric("AmortizedCost").or(metric("NetAmortizedCost"));
        let (Some(billed_metric), Some(effective_metric)) =
            (unblended.or(amortized), amortized.or(unblended))
        else {
            return Err(self.bad(
                row.position,
                "Metrics",
                &row.metrics.keys().cloned().collect::<Vec<_>>().join(","),
                "UnblendedCost or AmortizedCost among the metrics",
            ));
        };
        let parse = |m: &Metric, column: &str| {
            money::parse_decimal(m.amount.as_bytes())
                .map(|p| p.value)
                .map_err(|_| self.bad(row.position, column, &m.amount, "a decimal amount"))
        };
        let billed = parse(billed_metric, "UnblendedCost")?;
        let effective = parse(effective_metric, "AmortizedCost")?;
        let contracted = match metric("NetUnblendedCost") {
            Some(m) => parse(m, "NetUnblendedCost")?,
            None => billed,
        };
        let usage_quantity = match metric("UsageQuantity") {
            Some(m) => Some(parse(m, "UsageQuantity")?),
            None => None,
        };
        let currency = if billed_metric.unit.is_empty() {
            "USD"
        } else {
            billed_metric.unit.as_str()
        };
        let dim = |name: &str| {
            row.dimensions
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty() && !v.starts_with("No"))
        };
        let linked = dim("LINKED_ACCOUNT");
        // A response names no payer: the connection stands for the account it queried.
        let account = self.options.connection_id.clone();
        let category = match dim("RECORD_TYPE").unwrap_or("Usage") {
            "Tax" => "Tax",
            "Credit" | "Refund" => "Credit",
            "Upfront reservation fee"
            | "Recurring reservation fee"
            | "Savings Plan Recurring Fee"
            | "Savings Plan Upfront Fee" => "Purchase",
            _ => "Usage",
        };
        let service = dim("SERVICE");
        let tags = {
            let tag_pairs: Vec<(String, String)> = row
                .dimensions
                .iter()
                .filter_map(|(k, v)| {
                    let key = k.strip_prefix("tag:")?;
                    // Cost Explorer writes tag group keys as `key$value` (`key$` when untagged).
                    let value = v.split_once('$').map(|(_, v)| v).unwrap_or(v);
                    (!value.is_empty()).then(|| (key.to_string(), value.to_string()))
                })
                .collect();
            (!tag_pairs.is_empty()).then(|| {
                serde_json::Value::Object(
                    tag_pairs
                        .into_iter()
                        .map(|(k, v)| (k, serde_json::Value::String(v)))
                        .collect(),
                )
                .to_string()
            })
        };
        let period = year_month(start);
        let (period_start, period_end) = month_bounds(start);
        let region = dim("REGION");

        let b = &mut self.builder;
        b.str(ix!("AvailabilityZone"), dim("AZ"));
        b.dec(ix!("BilledCost"), Some(billed));
        b.str(ix!("BillingAccountId"), Some(&account));
        b.str(ix!("BillingAccountType"), Some("Management Account"));
        b.str(ix!("BillingCurrency"), Some(currency));
        b.ts(ix!("BillingPeriodEnd"), Some(period_end));
        b.ts(ix!("BillingPeriodStart"), Some(period_start));
        b.str(ix!("ChargeCategory"), Some(category));
        b.str(ix!("ChargeDescription"), dim("USAGE_TYPE").or(service));
        b.str(
            ix!("ChargeFrequency"),
            Some(if category == "Usage" {
                "Usage-Based"
            } else {
                "One-Time"
            }),
        );
        b.ts(ix!("ChargePeriodEnd"), Some(end.max(start)));
        b.ts(ix!("ChargePeriodStart"), Some(start));
        b.dec(ix!("ContractedCost"), Some(contracted));
        b.dec(ix!("EffectiveCost"), Some(effective));
        b.str(ix!("InvoiceIssuerName"), Some("AWS"));
        b.dec(ix!("ListCost"), Some(billed.max(effective)));
        b.str(ix!("PricingCurrency"), Some(currency));
        b.dec(ix!("PricingCurrencyEffectiveCost"), Some(effective));
        b.dec(ix!("PricingQuantity"), usage_quantity);
        b.str(ix!("PricingUnit"), usage_quantity.map(|_| "Units"));
        b.str(ix!("ProviderName"), Some("AWS"));
        b.str(ix!("PublisherName"), Some("AWS"));
        b.str(ix!("RegionId"), region);
        b.str(ix!("RegionName"), region);
        let category_of_service = service
            .map(service_category_of_name)
            .unwrap_or(("Other", "Other (Other)"));
        b.str(ix!("ServiceCategory"), Some(category_of_service.0));
        b.str(ix!("ServiceName"), Some(service.unwrap_or("AWS")));
        b.str(ix!("ServiceSubcategory"), Some(category_of_service.1));
        b.str(ix!("SubAccountId"), linked);
        // Cost Explorer names no accounts; the id is the name until the connection knows better.
        b.str(ix!("SubAccountName"), linked);
        b.str(ix!("SubAccountType"), linked.map(|_| "Linked Account"));
        b.str(ix!("Tags"), tags.as_deref());
        b.str(ix!(x::CONNECTION_ID), Some(&self.options.connection_id));
        b.str(ix!(x::BILLING_PERIOD), Some(&period));
        b.str(ix!(x::SOURCE_FORMAT), Some(SOURCE_FORMAT));
        b.str(ix!(x::SOURCE_FILE), Some(&self.file_name));
        b.int(ix!(x::SOURCE_LINE), Some(row.position as i64));
        b.str(ix!(x::INGESTION_ID), Some(&self.options.ingestion_id));
        b.str(ix!(x::LINE_ITEM_TYPE), row.estimated.then_some("Estimated"));
        b.str(ix!(x::USAGE_TYPE), dim("USAGE_TYPE"));
        b.str(ix!(x::OPERATION), dim("OPERATION"));
        b.str(ix!(x::INVOICING_ENTITY), dim("INVOICING_ENTITY"));
        b.end_row();

        add_row(
            &mut self.totals,
            period,
            (account, category),
            &billed_metric.amount,
            &effective_metric.amount,
        )
        .map_err(|_| Error::TotalOverflow {
            path: self.path.clone(),
            column: "Amount",
        })?;
        self.rows += 1;
        Ok(true)
    }
}

/// Cost Explorer's SERVICE names → the CUR product code whose FOCUS category they share.
const SERVICE_CODES: &[(&str, &str)] = &[
    ("Amazon Elastic Compute Cloud - Compute", "AmazonEC2"),
    ("EC2 - Other", "AmazonEC2"),
    ("Amazon Lightsail", "AmazonLightsail"),
    ("AWS Lambda", "AWSLambda"),
    ("Amazon Elastic Container Service", "AmazonECS"),
    (
        "Amazon Elastic Container Service for Kubernetes",
        "AmazonEKS",
    ),
    ("Amazon Elastic Kubernetes Service", "AmazonEKS"),
    ("Amazon EC2 Container Registry (ECR)", "AmazonECR"),
    ("Amazon Simple Storage Service", "AmazonS3"),
    ("Amazon Elastic File System", "AmazonEFS"),
    ("AWS Backup", "AWSBackup"),
    ("Amazon Relational Database Service", "AmazonRDS"),
    ("Amazon DynamoDB", "AmazonDynamoDB"),
    ("Amazon ElastiCache", "AmazonElastiCache"),
    ("Amazon Redshift", "AmazonRedshift"),
    ("Amazon CloudFront", "AmazonCloudFront"),
    ("Amazon Virtual Private Cloud", "AmazonVPC"),
    ("Amazon Route 53", "AmazonRoute53"),
    ("Elastic Load Balancing", "AWSELB"),
    ("AWS Direct Connect", "AWSDirectConnect"),
    ("AmazonCloudWatch", "AmazonCloudWatch"),
    ("AWS CloudTrail", "AWSCloudTrail"),
    ("AWS Config", "AWSConfig"),
    ("AWS Cost Explorer", "AWSCostExplorer"),
    ("AWS Support (Business)", "AWSSupportBusiness"),
    ("AWS Support (Enterprise)", "AWSSupportEnterprise"),
    ("AWS Support (Developer)", "AWSDeveloperSupport"),
];

/// FOCUS ServiceCategory and ServiceSubcategory of a Cost Explorer SERVICE name.
fn service_category_of_name(name: &str) -> (&'static str, &'static str) {
    let code = SERVICE_CODES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, code)| *code)
        .unwrap_or("Unknown");
    let (category, subcategory) = crate::aws_cur::service_category(code);
    (category.as_str(), subcategory)
}

impl CostExplorerReader {
    /// What the whole file held, for [`crate::read::FileSummary`].
    fn file_summary(&mut self) -> FileSummary {
        FileSummary {
            file: self.path.clone(),
            rows: self.rows,
            totals: totals_by_period(std::mem::take(&mut self.totals)),
            source_format: SOURCE_FORMAT,
        }
    }
}

crate::read::batch_reader!(CostExplorerReader);
