//! SaaS vendors' own billing data → FOCUS rows: each vendor's documented export or API response
//! is parsed into [`ChargeRow`]s (a few per day and product), which one mapper turns into lake
//! rows with exact source totals.
//!
//! | vendor | input | money |
//! |---|---|---|
//! | OpenAI | Costs API page (`GET /v1/organization/costs`, `bucket` → `results`) | `amount.value`, a JSON number read from its text |
//! | Datadog | historical or estimated cost (`GET /api/v2/usage/historical_cost`, `estimated_cost`; JSON:API `cost_by_org`) | `charges[].cost` (`total` charges skipped: they sum the others) |
//! | Snowflake | `SNOWFLAKE.ORGANIZATION_USAGE.USAGE_IN_CURRENCY_DAILY` exported as CSV | `USAGE_IN_CURRENCY` |
//! | MongoDB Atlas | invoice (`GET /api/atlas/v2/orgs/{orgId}/invoices/{invoiceId}`, `lineItems`) | `totalPriceCents`, integer cents |
//!
//! Vendors do not amortize, so BilledCost = EffectiveCost = ListCost = ContractedCost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use billow_focus::column as ix;
use billow_focus::money;
use billow_focus::schema::x;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::batch::{FocusBatchBuilder, PeriodTotals, add_row, push_json_string, totals_by_period};
use crate::csv_file::Record;
use crate::read::{FileSummary, ReadOptions, ReadState};
use crate::rows;
use crate::timestamp::{month_bounds, parse_utc_micros, year_month};
use crate::{Error, Result};

/// The vendors whose billing data Billow reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// OpenAI organization Costs API.
    OpenAi,
    /// Datadog historical or estimated cost API.
    Datadog,
    /// Snowflake `USAGE_IN_CURRENCY_DAILY`.
    Snowflake,
    /// MongoDB Atlas invoices.
    MongoDbAtlas,
}

impl Vendor {
    /// `x_SourceFormat` of the vendor's rows.
    pub fn source_format(self) -> &'static str {
        match self {
            Vendor::OpenAi => "openai-costs",
            Vendor::Datadog => "datadog-cost",
            Vendor::Snowflake => "snowflake-usage-in-currency",
            Vendor::MongoDbAtlas => "mongodb-atlas-invoice",
        }
    }

    fn provider(self) -> &'static str {
        match self {
            Vendor::OpenAi => "OpenAI",
            Vendor::Datadog => "Datadog",
            Vendor::Snowflake => "Snowflake",
            Vendor::MongoDbAtlas => "MongoDB",
        }
    }

    /// FOCUS ServiceCategory and ServiceSubcategory of the vendor's products.
    fn service_category(self) -> (&'static str, &'static str) {
        match self {
            Vendor::OpenAi => ("AI and Machine Learning", "Generative AI"),
            Vendor::Datadog => ("Management and Governance", "Observability"),
            Vendor::Snowflake => ("Databases", "Data Warehouses"),
            Vendor::MongoDbAtlas => ("Databases", "NoSQL Databases"),
        }
    }

    /// The vendor's command-line name (`billow ingest saas --vendor <name>`).
    pub fn name(self) -> &'static str {
        match self {
            Vendor::OpenAi => "openai",
            Vendor::Datadog => "datadog",
            Vendor::Snowflake => "snowflake",
            Vendor::MongoDbAtlas => "mongodb-atlas",
        }
    }

    /// The vendor from a command-line name.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "openai" => Some(Vendor::OpenAi),
            "datadog" => Some(Vendor::Datadog),
            "snowflake" => Some(Vendor::Snowflake),
            "mongodb-atlas" | "atlas" | "mongodb" => Some(Vendor::MongoDbAtlas),
            _ => None,
        }
    }
}

/// One charge as a vendor states it, before mapping to FOCUS.
#[derive(Debug, Clone, Default)]
struct ChargeRow {
    start: i64,
    end: i64,
    account: String,
    account_name: Option<String>,
    sub_account: Option<String>,
    sub_account_name: Option<String>,
    service: String,
    description: Option<String>,
    /// The cost exactly as the source wrote it (plain decimal text).
    cost: String,
    currency: String,
    quantity: Option<String>,
    unit: Option<String>,
    region: Option<String>,
    category: &'static str,
    /// Position in the source (CSV line, JSON item number).
    position: u64,
}

const DAY: i64 = 86_400_000_000;

/// An error naming the CSV line (Snowflake) or the JSON list item (the API responses).
fn bad_input(
    path: &Path,
    vendor: Vendor,
    position: u64,
    column: &str,
    found: &str,
    expected: &'static str,
) -> Error {
    const HINT: &str = "Save the vendor's response or export unchanged (see `billow ingest saas --help` for the shapes read).";
    let found: String = found.chars().take(80).collect();
    let list = match vendor {
        Vendor::Snowflake => {
            return Error::BadValue {
                path: path.to_path_buf(),
                line: position,
                column: column.into(),
                found,
                expected,
                hint: HINT,
            };
        }
        Vendor::OpenAi => "data[].results",
        Vendor::Datadog => "data",
        Vendor::MongoDbAtlas => "lineItems",
    };
    Error::BadItem {
        path: path.to_path_buf(),
        item: position,
        field: format!("{list}[].{column}"),
        found,
        expected,
        hint: HINT,
    }
}

fn json_of(path: &Path, text: &[u8], expected: &str) -> Result<Value> {
    serde_json::from_slice(text).map_err(|e| Error::Csv {
        path: path.to_path_buf(),
        line: e.line() as u64,
        detail: format!("not JSON ({e}); expected {expected}"),
    })
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// OpenAI Costs API page: `{"object": "page", "data": [bucket...]}`, each bucket
/// `{start_time, end_time, results: [{amount: {value, currency}, line_item, project_id}]}`.
fn openai(path: &Path, text: &[u8]) -> Result<Vec<ChargeRow>> {
    #[derive(serde::Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        data: Vec<Bucket<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Bucket<'a> {
        start_time: i64,
        end_time: i64,
        #[serde(borrow, default)]
        results: Vec<CostResult<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct CostResult<'a> {
        #[serde(borrow)]
        amount: Amount<'a>,
        line_item: Option<String>,
        project_id: Option<String>,
        organization_id: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Amount<'a> {
        #[serde(borrow)]
        value: &'a RawValue,
        currency: Option<String>,
    }
    let page: Page = serde_json::from_slice(text).map_err(|e| Error::Csv {
        path: path.to_path_buf(),
        line: e.line() as u64,
        detail: format!(
            "not an OpenAI Costs API page ({e}); expected the response of GET /v1/organization/costs"
        ),
    })?;
    let mut rows = Vec::new();
    for bucket in page.data {
        for r in bucket.results {
            let position = rows.len() as u64 + 1;
            let cost = r.amount.value.get().trim_matches('"').to_string();
            rows.push(ChargeRow {
                start: bucket.start_time * 1_000_000,
                end: bucket.end_time * 1_000_000,
                account: r.organization_id.unwrap_or_default(),
                sub_account: r.project_id,
                service: "OpenAI API".into(),
                description: r.line_item,
                cost,
                currency: r
                    .amount
                    .currency
                    .unwrap_or_else(|| "usd".into())
                    .to_ascii_uppercase(),
                category: "Usage",
                position,
                ..Default::default()
            });
        }
    }
    Ok(rows)
}

/// Datadog `cost_by_org` documents: per org and month (or day), `charges` by product and
/// charge type; the `total` charge type repeats the sum of the others and is skipped.
fn datadog(path: &Path, text: &[u8]) -> Result<Vec<ChargeRow>> {
    #[derive(serde::Deserialize)]
    struct Response<'a> {
        #[serde(borrow)]
        data: Vec<CostDoc<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct CostDoc<'a> {
        #[serde(borrow)]
        attributes: Attributes<'a>,
    }
    #[derive(serde::Deserialize)]
    struct Attributes<'a> {
        date: String,
        org_name: Option<String>,
        public_id: Option<String>,
        region: Option<String>,
        #[serde(borrow, default)]
        charges: Vec<Charge<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Charge<'a> {
        product_name: Option<String>,
        charge_type: Option<String>,
        #[serde(borrow)]
        cost: Option<&'a RawValue>,
    }
    let response: Response = serde_json::from_slice(text).map_err(|e| Error::Csv {
        path: path.to_path_buf(),
        line: e.line() as u64,
        detail: format!(
            "not a Datadog cost response ({e}); expected GET /api/v2/usage/historical_cost (or estimated_cost)"
        ),
    })?;
    let mut rows = Vec::new();
    for (i, doc) in response.data.into_iter().enumerate() {
        let attrs = doc.attributes;
        let position = i as u64 + 1;
        let start = parse_utc_micros(attrs.date.as_bytes())
            .or_else(|| parse_utc_micros(attrs.date.get(..10).unwrap_or("").as_bytes()))
            .ok_or_else(|| {
                bad_input(
                    path,
                    Vendor::Datadog,
                    position,
                    "date",
                    &attrs.date,
                    "a date like 2024-01-01T00:00:00+00:00",
                )
            })?;
        let end = month_bounds(start).1;
        let account = attrs
            .public_id
            .clone()
            .or(attrs.org_name.clone())
            .unwrap_or_default();
        for charge in attrs.charges {
            let charge_type = charge.charge_type.unwrap_or_default();
            if charge_type.eq_ignore_ascii_case("total") {
                continue;
            }
            let Some(cost) = charge.cost else { continue };
            let product = charge.product_name.unwrap_or_else(|| "datadog".into());
            rows.push(ChargeRow {
                start,
                end,
                account: account.clone(),
                account_name: attrs.org_name.clone(),
                description: Some(format!("{product} ({charge_type})")),
                service: product,
                cost: cost.get().trim_matches('"').to_string(),
                currency: "USD".into(),
                region: attrs.region.clone(),
                category: "Usage",
                position,
                ..Default::default()
            });
        }
    }
    Ok(rows)
}

/// Snowflake `USAGE_IN_CURRENCY_DAILY` as CSV (columns by name, any case).
fn snowflake(path: &Path) -> Result<Vec<ChargeRow>> {
    let mut source = rows::open(path)?;
    let mut header = Record::new();
    if !source.read(&mut header)? {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    let names: Vec<String> = header.iter().map(rows::header_name).collect();
    let find = |n: &str| names.iter().position(|c| c.eq_ignore_ascii_case(n));
    let require = |n: &'static str| {
        find(n).ok_or_else(|| Error::MissingColumn {
            path: path.to_path_buf(),
            column: n.into(),
            hint: "Export SNOWFLAKE.ORGANIZATION_USAGE.USAGE_IN_CURRENCY_DAILY with its column names as the header.",
        })
    };
    let (date, amount, currency) = (
        require("USAGE_DATE")?,
        require("USAGE_IN_CURRENCY")?,
        require("CURRENCY")?,
    );
    let organization = find("ORGANIZATION_NAME");
    let account = find("ACCOUNT_LOCATOR");
    let account_name = find("ACCOUNT_NAME");
    let usage = find("USAGE");
    let usage_type = find("USAGE_TYPE");
    let service_type = find("SERVICE_TYPE");
    let region = find("REGION");
    let adjustment = find("IS_ADJUSTMENT");
    let header_len = header.len();
    let mut record = Record::new();
    let mut out = Vec::new();
    while rows::next_record(
        source.as_mut(),
        &mut record,
        path,
        header_len,
        rows::Width::AtMost,
    )? {
        let cell = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .map(|c| String::from_utf8_lossy(c).trim().to_string())
                .filter(|c| !c.is_empty())
        };
        let line = source.line();
        let day = cell(Some(date)).unwrap_or_default();
        let start = parse_utc_micros(day.as_bytes()).ok_or_else(|| {
            bad_input(
                path,
                Vendor::Snowflake,
                line,
                "USAGE_DATE",
                &day,
                "a date like 2024-01-31",
            )
        })?;
        let is_adjustment = cell(adjustment).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        out.push(ChargeRow {
            start,
            end: start + DAY,
            account: cell(organization).unwrap_or_default(),
            sub_account: cell(account),
            sub_account_name: cell(account_name),
            service: cell(service_type).unwrap_or_else(|| "Snowflake".into()),
            description: cell(usage_type.or(service_type)),
            cost: cell(Some(amount)).unwrap_or_default(),
            currency: cell(Some(currency)).unwrap_or_else(|| "USD".into()),
            quantity: cell(usage),
            unit: cell(usage_type).map(|t| {
                if t.to_ascii_lowercase().contains("storage") {
                    "TB".into()
                } else {
                    "Credits".into()
                }
            }),
            region: cell(region),
            category: if is_adjustment { "Adjustment" } else { "Usage" },
            position: line,
            ..Default::default()
        });
    }
    Ok(out)
}

/// MongoDB Atlas invoice: `lineItems` with `totalPriceCents` (integer cents), `startDate`,
/// `endDate`, `sku`, `groupId`/`groupName` (project), `clusterName`, `quantity`, `unit`.
fn atlas(path: &Path, text: &[u8]) -> Result<Vec<ChargeRow>> {
    let json = json_of(path, text, "an Atlas invoice ({\"lineItems\": [...]})")?;
    let items = json
        .get("lineItems")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Csv {
            path: path.to_path_buf(),
            line: 1,
            detail:
                "no lineItems array; expected GET /api/atlas/v2/orgs/{orgId}/invoices/{invoiceId}"
                    .into(),
        })?;
    let org = str_of(&json, "orgId").unwrap_or_default();
    let mut rows = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let position = i as u64 + 1;
        let time = |key: &str| {
            let raw = str_of(item, key).unwrap_or_default();
            parse_utc_micros(raw.as_bytes()).ok_or_else(|| {
                bad_input(
                    path,
                    Vendor::MongoDbAtlas,
                    position,
                    key,
                    raw,
                    "a time like 2024-01-01T00:00:00Z",
                )
            })
        };
        let cents = match item.get("totalPriceCents") {
            Some(Value::Number(n)) if n.is_i64() => n.to_string(),
            other => {
                return Err(bad_input(
                    path,
                    Vendor::MongoDbAtlas,
                    position,
                    "totalPriceCents",
                    &other.map(Value::to_string).unwrap_or_default(),
                    "a whole number of cents",
                ));
            }
        };
        let cost = cents_to_dollars(&cents);
        let sku = str_of(item, "sku").unwrap_or("ATLAS");
        let category = if sku.contains("CREDIT") || cost.starts_with('-') {
            "Credit"
        } else if sku.contains("TAX") {
            "Tax"
        } else {
            "Usage"
        };
        rows.push(ChargeRow {
            start: time("startDate")?,
            end: time("endDate")?,
            account: org.to_string(),
            sub_account: str_of(item, "groupId").map(String::from),
            sub_account_name: str_of(item, "groupName").map(String::from),
            service: sku.to_string(),
            description: str_of(item, "clusterName")
                .map(|c| format!("{sku} ({c})"))
                .or(Some(sku.to_string())),
            cost,
            currency: "USD".into(),
            quantity: item.get("quantity").and_then(|q| match q {
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
            unit: str_of(item, "unit").map(String::from),
            category,
            position,
            ..Default::default()
        });
    }
    Ok(rows)
}

/// `12345` cents as `123.45`, exactly.
fn cents_to_dollars(cents: &str) -> String {
    let (sign, digits) = match cents.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", cents),
    };
    let padded = format!("{digits:0>3}");
    let (whole, fraction) = padded.split_at(padded.len() - 2);
    format!("{sign}{whole}.{fraction}")
}

/// Reads one vendor file into lake batches.
pub struct SaasReader {
    path: PathBuf,
    file_name: String,
    vendor: Vendor,
    rows_left: std::vec::IntoIter<ChargeRow>,
    builder: FocusBatchBuilder,
    options: ReadOptions,
    totals: PeriodTotals,
    rows: u64,
    state: ReadState,
}

impl SaasReader {
    /// Reads `path` as `vendor` publishes it.
    pub fn open(path: &Path, vendor: Vendor, options: ReadOptions) -> Result<Self> {
        let rows = match vendor {
            Vendor::Snowflake => snowflake(path)?,
            Vendor::OpenAi => openai(path, &crate::source::read_all(path)?)?,
            Vendor::Datadog => datadog(path, &crate::source::read_all(path)?)?,
            Vendor::MongoDbAtlas => atlas(path, &crate::source::read_all(path)?)?,
        };
        Ok(SaasReader {
            path: path.to_path_buf(),
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            vendor,
            rows_left: rows.into_iter(),
            builder: FocusBatchBuilder::new(options.batch_rows),
            options,
            totals: BTreeMap::new(),
            rows: 0,
            state: ReadState::default(),
        })
    }

    fn read_row(&mut self) -> Result<bool> {
        let Some(row) = self.rows_left.next() else {
            return Ok(false);
        };
        let cost_column = match self.vendor {
            Vendor::OpenAi => "amount.value",
            Vendor::Datadog => "charges.cost",
            Vendor::Snowflake => "USAGE_IN_CURRENCY",
            Vendor::MongoDbAtlas => "totalPriceCents",
        };
        let cost = money::parse_decimal(row.cost.as_bytes())
            .map_err(|_| {
                bad_input(
                    &self.path,
                    self.vendor,
                    row.position,
                    cost_column,
                    &row.cost,
                    "a decimal amount within ±10^15",
                )
            })?
            .value;
        let quantity = match &row.quantity {
            Some(q) => Some(
                money::parse_decimal(q.as_bytes())
                    .map_err(|_| {
                        bad_input(
                            &self.path,
                            self.vendor,
                            row.position,
                            "quantity",
                            q,
                            "a number",
                        )
                    })?
                    .value,
            ),
            None => None,
        };
        // Some responses (OpenAI's) do not name the organization: the connection stands for it.
        let account = if row.account.is_empty() {
            self.options.connection_id.clone()
        } else {
            row.account.clone()
        };
        let period = year_month(row.start);
        let (period_start, period_end) = month_bounds(row.start);
        let (category_name, subcategory) = self.vendor.service_category();
        let provider = self.vendor.provider();
        let usage = row.category == "Usage";
        let tags = row.sub_account_name.as_deref().map(|p| {
            let mut json = String::from("{");
            push_json_string(&mut json, "project");
            json.push(':');
            push_json_string(&mut json, p);
            json.push('}');
            json
        });
        let unit = row.unit.as_deref().map(billow_focus::units::normalize);

        let b = &mut self.builder;
        b.dec(ix!("BilledCost"), Some(cost));
        b.str(ix!("BillingAccountId"), Some(&account));
        b.str(ix!("BillingAccountName"), row.account_name.as_deref());
        b.str(ix!("BillingAccountType"), Some("Organization"));
        b.str(ix!("BillingCurrency"), Some(&row.currency));
        b.ts(ix!("BillingPeriodEnd"), Some(period_end));
        b.ts(ix!("BillingPeriodStart"), Some(period_start));
        b.str(ix!("ChargeCategory"), Some(row.category));
        b.str(ix!("ChargeDescription"), row.description.as_deref());
        b.str(
            ix!("ChargeFrequency"),
            Some(if usage { "Usage-Based" } else { "One-Time" }),
        );
        b.ts(ix!("ChargePeriodEnd"), Some(row.end.max(row.start)));
        b.ts(ix!("ChargePeriodStart"), Some(row.start));
        let quantity = quantity.filter(|_| usage && unit.is_some());
        b.dec(ix!("ConsumedQuantity"), quantity);
        b.str(ix!("ConsumedUnit"), quantity.and(unit.as_deref()));
        b.dec(ix!("ContractedCost"), Some(cost));
        b.dec(ix!("EffectiveCost"), Some(cost));
        b.str(ix!("InvoiceIssuerName"), Some(provider));
        b.dec(ix!("ListCost"), Some(cost));
        b.str(ix!("PricingCategory"), usage.then_some("Standard"));
        b.str(ix!("PricingCurrency"), Some(&row.currency));
        b.dec(ix!("PricingCurrencyEffectiveCost"), Some(cost));
        b.dec(ix!("PricingQuantity"), quantity);
        b.str(ix!("PricingUnit"), quantity.and(unit.as_deref()));
        b.str(ix!("ProviderName"), Some(provider));
        b.str(ix!("PublisherName"), Some(provider));
        b.str(ix!("RegionId"), row.region.as_deref());
        b.str(ix!("RegionName"), row.region.as_deref());
        b.str(ix!("ServiceCategory"), Some(category_name));
        b.str(ix!("ServiceName"), Some(&row.service));
        b.str(ix!("ServiceSubcategory"), Some(subcategory));
        b.str(ix!("SubAccountId"), row.sub_account.as_deref());
        b.str(
            ix!("SubAccountName"),
            row.sub_account_name
                .as_deref()
                .or(row.sub_account.as_deref()),
        );
        b.str(
            ix!("SubAccountType"),
            row.sub_account.as_ref().map(|_| "Project"),
        );
        b.str(ix!("Tags"), tags.as_deref());
        b.str(ix!(x::CONNECTION_ID), Some(&self.options.connection_id));
        b.str(ix!(x::BILLING_PERIOD), Some(&period));
        b.str(ix!(x::SOURCE_FORMAT), Some(self.vendor.source_format()));
        b.str(ix!(x::SOURCE_FILE), Some(&self.file_name));
        b.int(ix!(x::SOURCE_LINE), Some(row.position as i64));
        b.str(ix!(x::INGESTION_ID), Some(&self.options.ingestion_id));
        b.end_row();

        add_row(
            &mut self.totals,
            period,
            (account, row.category),
            &row.cost,
            &row.cost,
        )
        .map_err(|_| Error::TotalOverflow {
            path: self.path.clone(),
            column: cost_column,
        })?;
        self.rows += 1;
        Ok(true)
    }
}

impl SaasReader {
    /// What the whole file held, for [`crate::read::FileSummary`].
    fn file_summary(&mut self) -> FileSummary {
        FileSummary {
            file: self.path.clone(),
            rows: self.rows,
            totals: totals_by_period(std::mem::take(&mut self.totals)),
            source_format: self.vendor.source_format(),
        }
    }
}

crate::read::batch_reader!(SaasReader);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_become_exact_dollars() {
        for (cents, dollars) in [
            ("12345", "123.45"),
            ("5", "0.05"),
            ("-250", "-2.50"),
            ("0", "0.00"),
        ] {
            assert_eq!(cents_to_dollars(cents), dollars);
        }
    }
}
