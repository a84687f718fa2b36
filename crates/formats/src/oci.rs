//! Oracle Cloud Infrastructure cost reports (`reports/cost-csv/*.csv.gz`): one row per
//! resource, SKU and hour, columns `lineItem/*`, `product/*`, `usage/*`, `cost/*` and one
//! `tags/<namespace>.<key>` column per tag.
//!
//! OCI writes numbers with 18 decimals; they are rounded half-even to the lake's 12 and the
//! exact source sums are kept, so `reconcile` states the rounding bound. Timestamps mix
//! `2023-11-13T10:00Z` and `2023-11-13T11:00:00Z` in one row. OCI appends new report files
//! through the month; an ingestion is given all files of the months it replaces.
//!
//! The cost report prices at the customer's own rate (`cost/unitPrice`) and has no list
//! price, so ListCost and ContractedCost equal BilledCost; it has no amortization either,
//! so EffectiveCost equals BilledCost. Corrections (`lineItem/isCorrection=true`) keep
//! their sign and get ChargeClass `Correction`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use billow_focus::column as ix;
use billow_focus::money::{self, ExactSum};
use billow_focus::schema::x;

use crate::batch::{
    FocusBatchBuilder, PeriodTotals, add_row_sums, close_json_object, push_json_member,
    totals_by_period,
};
use crate::csv_file::Record;
use crate::read::{FileSummary, ReadOptions, ReadState};
use crate::rows::{self, Rows};
use crate::timestamp::{month_bounds, parse_utc_micros, year_month};
use crate::{Error, Result};

/// `x_SourceFormat` of OCI cost report rows.
pub const SOURCE_FORMAT: &str = "oci-cost-report";

/// The columns the mapping reads, by header name.
struct Columns {
    tenant: usize,
    start: usize,
    end: usize,
    service: usize,
    cost: usize,
    currency: usize,
    compartment_id: Option<usize>,
    compartment_name: Option<usize>,
    region: Option<usize>,
    availability_domain: Option<usize>,
    resource_id: Option<usize>,
    quantity: Option<usize>,
    sku: Option<usize>,
    description: Option<usize>,
    unit_price: Option<usize>,
    unit: Option<usize>,
    overage_cost: Option<usize>,
    overage_flag: Option<usize>,
    correction: Option<usize>,
    reference: Option<usize>,
    /// (tag key, column)
    tags: Vec<(String, usize)>,
}

impl Columns {
    fn resolve(path: &Path, header: &Record) -> Result<Self> {
        let mut by_name: HashMap<&[u8], usize> = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            let name = name.strip_prefix(b"\xef\xbb\xbf").unwrap_or(name);
            if let Some(first) = by_name.insert(name, i) {
                return Err(Error::DuplicateColumn {
                    path: path.to_path_buf(),
                    column: String::from_utf8_lossy(name).into_owned(),
                    first: first + 1,
                    second: i + 1,
                });
            }
        }
        let find = |name: &str| by_name.get(name.as_bytes()).copied();
        let require = |name: &'static str| {
            find(name).ok_or_else(|| Error::MissingColumn {
                path: path.to_path_buf(),
                column: name.into(),
                hint: "Billow reads OCI cost reports (reports/cost-csv); check that this is one, not a usage report or a FOCUS report.",
            })
        };
        let tags = header
            .iter()
            .enumerate()
            .filter_map(|(i, name)| {
                name.strip_prefix(b"tags/")
                    .map(|key| (String::from_utf8_lossy(key).into_owned(), i))
            })
            .collect();
        Ok(Columns {
            tenant: require("lineItem/tenantId")?,
            start: require("lineItem/intervalUsageStart")?,
            end: require("lineItem/intervalUsageEnd")?,
            service: require("product/service")?,
            cost: require("cost/myCost")?,
            currency: require("cost/currencyCode")?,
            compartment_id: find("product/compartmentId"),
            compartment_name: find("product/compartmentName"),
            region: find("product/region"),
            availability_domain: find("product/availabilityDomain"),
            resource_id: find("product/resourceId"),
            quantity: find("usage/billedQuantity"),
            sku: find("cost/productSku"),
            description: find("product/Description"),
            unit_price: find("cost/unitPrice"),
            unit: find("cost/skuUnitDescription"),
            overage_cost: find("cost/myCostOverage"),
            overage_flag: find("cost/overageFlag"),
            correction: find("lineItem/isCorrection"),
            reference: find("lineItem/referenceNo"),
            tags,
        })
    }
}

/// OCI `product/service` values → FOCUS ServiceCategory and ServiceSubcategory.
const SERVICES: &[(&str, &str, &str)] = &[
    ("COMPUTE", "Compute", "Virtual Machines"),
    ("CONTAINER_ENGINE", "Compute", "Containers"),
    ("FUNCTIONS", "Compute", "Serverless Compute"),
    ("DATABASE", "Databases", "Relational Databases"),
    ("EXADATA", "Databases", "Relational Databases"),
    ("MYSQL", "Databases", "Relational Databases"),
    ("POSTGRESQL", "Databases", "Relational Databases"),
    ("NOSQL", "Databases", "NoSQL Databases"),
    ("BLOCK_STORAGE", "Storage", "Block Storage"),
    ("OBJECTSTORE", "Storage", "Object Storage"),
    ("ARCHIVE_STORAGE", "Storage", "Backup Storage"),
    ("FILE_STORAGE", "Storage", "File Storage"),
    ("NETWORK", "Networking", "Network Connectivity"),
    ("LOAD_BALANCER", "Networking", "Application Networking"),
    ("FASTCONNECT", "Networking", "Network Connectivity"),
    ("DNS", "Networking", "Network Routing"),
    ("WAF", "Networking", "Network Security"),
    ("TELEMETRY", "Management and Governance", "Observability"),
    ("LOGGING", "Management and Governance", "Observability"),
    ("MONITORING", "Management and Governance", "Observability"),
    ("NOTIFICATIONS", "Integration", "Messaging"),
    (
        "ORACLE_STREAMING_SERVICE",
        "Analytics",
        "Streaming Analytics",
    ),
    ("INTEGRATION", "Integration", "Workflow Orchestration"),
    ("API_GATEWAY", "Integration", "API Management"),
    ("ANALYTICS", "Analytics", "Business Intelligence"),
    ("DATA_FLOW", "Analytics", "Data Processing"),
    (
        "DATA_SCIENCE",
        "AI and Machine Learning",
        "Machine Learning",
    ),
    ("VAULT", "Security", "Secret Management"),
    ("CLOUD_GUARD", "Security", "Security Posture Management"),
    ("BASTION", "Identity", "Identity and Access Management"),
];

/// FOCUS ServiceCategory and ServiceSubcategory of an OCI `product/service`: one pair per
/// service, `Other (Other)` for a service the table does not know yet.
pub fn service_category(service: &str) -> (&'static str, &'static str) {
    SERVICES
        .iter()
        .find(|(name, _, _)| *name == service)
        .map_or(("Other", "Other (Other)"), |(_, c, s)| (*c, *s))
}

/// Reads one OCI cost report file into lake batches.
pub struct OciCostReader {
    path: PathBuf,
    file_name: String,
    source: Box<dyn Rows>,
    record: Record,
    header_len: usize,
    cols: Columns,
    builder: FocusBatchBuilder,
    options: ReadOptions,
    /// Per billing period and (billing account, charge category): exact sums (all OCI rows
    /// are Usage).
    totals: PeriodTotals,
    tag_json: String,
    rows: u64,
    state: ReadState,
}

impl OciCostReader {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path, options: ReadOptions) -> Result<Self> {
        let mut source = rows::open(path)?;
        let mut header = Record::new();
        if !source.read(&mut header)? || header.iter().all(|f| f.is_empty()) {
            return Err(Error::Empty {
                path: path.to_path_buf(),
            });
        }
        let cols = Columns::resolve(path, &header)?;
        Ok(OciCostReader {
            path: path.to_path_buf(),
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            source,
            record: Record::new(),
            header_len: header.len(),
            cols,
            builder: FocusBatchBuilder::new(options.batch_rows),
            options,
            totals: BTreeMap::new(),
            tag_json: String::new(),
            rows: 0,
            state: ReadState::default(),
        })
    }

    fn map_row(&mut self) -> Result<()> {
        let c = &self.cols;
        let cells = Cells {
            record: &self.record,
            path: &self.path,
            line: self.source.line(),
        };
        let start = cells.time(c.start, "lineItem/intervalUsageStart")?;
        let end = cells.time(c.end, "lineItem/intervalUsageEnd")?;
        let period = year_month(start);
        let (period_start, period_end) = month_bounds(start);
        let Some(tenant) = cells.text(Some(c.tenant), "lineItem/tenantId")? else {
            return Err(cells.bad("lineItem/tenantId", b"", "the tenancy OCID"));
        };
        let Some(mut cost) = cells.decimal(Some(c.cost), "cost/myCost")? else {
            return Err(cells.bad("cost/myCost", b"", "the row's cost"));
        };
        let overage = cells.raw(c.overage_flag).eq_ignore_ascii_case(b"true");
        if overage {
            cost += cells
                .decimal(c.overage_cost, "cost/myCostOverage")?
                .unwrap_or(0);
        }
        let correction = cells.raw(c.correction).eq_ignore_ascii_case(b"true");
        let service = cells
            .text(Some(c.service), "product/service")?
            .unwrap_or("Other");
        let currency = cells
            .text(Some(c.currency), "cost/currencyCode")?
            .unwrap_or("USD");
        let quantity = cells.decimal(c.quantity, "usage/billedQuantity")?;
        let unit_price = cells.decimal(c.unit_price, "cost/unitPrice")?;
        let unit = cells
            .text(c.unit, "cost/skuUnitDescription")?
            .map(billow_focus::units::normalize);
        let region = cells.text(c.region, "product/region")?;
        let resource = cells.text(c.resource_id, "product/resourceId")?;
        let compartment = cells.text(c.compartment_id, "product/compartmentId")?;
        let compartment_name = cells.text(c.compartment_name, "product/compartmentName")?;
        let sku = cells.text(c.sku, "cost/productSku")?;
        let description = cells.text(c.description, "product/Description")?;
        let zone = cells.text(c.availability_domain, "product/availabilityDomain")?;
        let reference = cells.text(c.reference, "lineItem/referenceNo")?;
        let tags = {
            let json = &mut self.tag_json;
            json.clear();
            for (key, col) in &c.tags {
                let value = cells.record.get(*col).unwrap_or_default();
                if value.is_empty() {
                    continue;
                }
                push_json_member(json, key, &String::from_utf8_lossy(value));
            }
            close_json_object(json);
            &self.tag_json
        };

        let b = &mut self.builder;
        b.str(ix!("AvailabilityZone"), zone);
        b.dec(ix!("BilledCost"), Some(cost));
        b.str(ix!("BillingAccountId"), Some(tenant));
        b.str(ix!("BillingAccountType"), Some("Tenancy"));
        b.str(ix!("BillingCurrency"), Some(currency));
        b.ts(ix!("BillingPeriodEnd"), Some(period_end));
        b.ts(ix!("BillingPeriodStart"), Some(period_start));
        b.str(ix!("ChargeCategory"), Some("Usage"));
        b.str(ix!("ChargeClass"), correction.then_some("Correction"));
        b.str(ix!("ChargeDescription"), description);
        b.str(ix!("ChargeFrequency"), Some("Usage-Based"));
        b.ts(ix!("ChargePeriodEnd"), Some(end));
        b.ts(ix!("ChargePeriodStart"), Some(start));
        b.dec(ix!("ConsumedQuantity"), quantity);
        b.str(ix!("ConsumedUnit"), quantity.and(unit.as_deref()));
        b.dec(ix!("ContractedCost"), Some(cost));
        b.dec(ix!("ContractedUnitPrice"), unit_price);
        b.dec(ix!("EffectiveCost"), Some(cost));
        b.str(ix!("InvoiceIssuerName"), Some("Oracle"));
        b.dec(ix!("ListCost"), Some(cost));
        b.dec(ix!("ListUnitPrice"), unit_price);
        b.str(ix!("PricingCategory"), Some("Standard"));
        b.str(ix!("PricingCurrency"), Some(currency));
        b.dec(ix!("PricingCurrencyContractedUnitPrice"), unit_price);
        b.dec(ix!("PricingCurrencyEffectiveCost"), Some(cost));
        b.dec(ix!("PricingCurrencyListUnitPrice"), unit_price);
        b.dec(ix!("PricingQuantity"), quantity);
        b.str(ix!("PricingUnit"), quantity.and(unit.as_deref()));
        b.str(ix!("ProviderName"), Some("Oracle"));
        b.str(ix!("PublisherName"), Some("Oracle"));
        b.str(ix!("RegionId"), region);
        b.str(ix!("RegionName"), region);
        b.str(ix!("ResourceId"), resource);
        let (category, subcategory) = service_category(service);
        b.str(ix!("ServiceCategory"), Some(category));
        b.str(ix!("ServiceSubcategory"), Some(subcategory));
        b.str(ix!("ServiceName"), Some(service));
        b.str(ix!("SkuId"), sku);
        b.str(ix!("SkuPriceId"), sku);
        b.str(ix!("SubAccountId"), compartment);
        b.str(ix!("SubAccountName"), compartment_name.or(compartment));
        b.str(ix!("SubAccountType"), compartment.map(|_| "Compartment"));
        b.str(ix!("Tags"), (!tags.is_empty()).then_some(tags.as_str()));
        b.str(ix!(x::CONNECTION_ID), Some(&self.options.connection_id));
        b.str(ix!(x::BILLING_PERIOD), Some(&period));
        b.str(ix!(x::SOURCE_FORMAT), Some(SOURCE_FORMAT));
        b.str(ix!(x::SOURCE_FILE), Some(&self.file_name));
        b.int(ix!(x::SOURCE_LINE), Some(cells.line as i64));
        b.str(ix!(x::INGESTION_ID), Some(&self.options.ingestion_id));
        b.str(ix!(x::LINE_ITEM_TYPE), reference.map(|_| "Usage"));
        b.str(ix!(x::SERVICE_CODE), Some(service));
        b.end_row();

        // The source's own total: the cost cells' text, summed exactly.
        let tenant = tenant.to_string();
        let mut billed = ExactSum::default();
        let overflow = || Error::TotalOverflow {
            path: self.path.clone(),
            column: "cost/myCost",
        };
        billed
            .add_text(cells.raw(Some(c.cost)))
            .map_err(|_| overflow())?;
        if overage && !cells.raw(c.overage_cost).is_empty() {
            billed
                .add_text(cells.raw(c.overage_cost))
                .map_err(|_| overflow())?;
        }
        add_row_sums(
            &mut self.totals,
            period,
            (tenant, "Usage"),
            &billed,
            &billed,
        )
        .map_err(|_| overflow())?;
        self.rows += 1;
        Ok(())
    }

    /// Maps the next record; `false` at the end of the file.
    fn read_row(&mut self) -> Result<bool> {
        let more = rows::next_record(
            self.source.as_mut(),
            &mut self.record,
            &self.path,
            self.header_len,
            rows::Width::AtMost,
        )?;
        if !more {
            return Ok(false);
        }
        self.map_row()?;
        Ok(true)
    }
}

/// The cells of the row being mapped, with what an error needs to name them.
struct Cells<'a> {
    record: &'a Record,
    path: &'a Path,
    line: u64,
}

impl<'a> Cells<'a> {
    fn bad(&self, column: &str, raw: &[u8], expected: &'static str) -> Error {
        Error::BadValue {
            path: self.path.to_path_buf(),
            line: self.line,
            column: column.to_string(),
            found: String::from_utf8_lossy(&raw[..raw.len().min(80)]).into_owned(),
            expected,
            hint: "The cell is damaged or the columns are shifted; download the report again from the reports bucket.",
        }
    }

    fn raw(&self, i: Option<usize>) -> &'a [u8] {
        i.and_then(|i| self.record.get(i)).unwrap_or_default()
    }

    fn text(&self, i: Option<usize>, column: &str) -> Result<Option<&'a str>> {
        let raw = self.raw(i);
        if raw.is_empty() {
            return Ok(None);
        }
        std::str::from_utf8(raw)
            .map(Some)
            .map_err(|_| self.bad(column, raw, "UTF-8 text"))
    }

    fn decimal(&self, i: Option<usize>, column: &str) -> Result<Option<i128>> {
        let raw = self.raw(i);
        if raw.is_empty() {
            return Ok(None);
        }
        money::parse_decimal(raw)
            .map(|p| Some(p.value))
            .map_err(|_| self.bad(column, raw, "a decimal number within ±10^15"))
    }

    fn time(&self, i: usize, column: &str) -> Result<i64> {
        let raw = self.raw(Some(i));
        parse_utc_micros(raw).ok_or_else(|| {
            self.bad(
                column,
                raw,
                "a UTC date/time like 2023-11-13T10:00Z or 2023-11-13T10:00:00Z",
            )
        })
    }
}

impl OciCostReader {
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

crate::read::batch_reader!(OciCostReader);

#[cfg(test)]
mod tests {
    #[test]
    fn every_service_has_a_subcategory_of_its_category() {
        use billow_focus::enums::{ServiceCategory, is_subcategory_of};
        for (name, _, _) in super::SERVICES {
            let (category, sub) = super::service_category(name);
            let category = ServiceCategory::parse(category).expect(name);
            assert!(is_subcategory_of(category, sub), "{name}: {sub}");
        }
    }
}
