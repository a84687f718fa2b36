//! Streaming CUR 1 CSV reader and its mapping to FOCUS 1.2.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use billow_focus::money::{self, ExactSum, ONE};
use billow_focus::schema::{index_of, x};

use super::services::service_category;
use super::{SOURCE_FORMAT, manifest};
use crate::batch::{
    FocusBatchBuilder, GroupTotals, SourceTotals, TextGroup, close_json_object, push_json_member,
    push_json_member_literal, push_json_string, same_bytes,
};
use crate::csv_file::Record;
use crate::read::{
    Consumer, FileSummary, FillBatches, MapRecords, ReadEvent, ReadFiles, ReadOptions, ReadState,
    SharedFile, next_event, read_shared,
};
use crate::rows::{self, Rows};
use crate::timestamp::{parse_utc_micros, year_month};
use crate::{Error, Result};

/// The CUR columns the mapping reads, by header name.
struct Columns {
    payer: usize,
    line_item_type: usize,
    unblended_cost: usize,
    billing_period_start: usize,
    billing_period_end: usize,
    usage_start: Option<usize>,
    usage_end: Option<usize>,
    time_interval: Option<usize>,
    usage_account: Option<usize>,
    usage_account_name: Option<usize>,
    payer_name: Option<usize>,
    product_code: Option<usize>,
    invoice_id: Option<usize>,
    invoicing_entity: Option<usize>,
    billing_entity: Option<usize>,
    legal_entity: Option<usize>,
    usage_type: Option<usize>,
    operation: Option<usize>,
    availability_zone: Option<usize>,
    resource_id: Option<usize>,
    usage_amount: Option<usize>,
    currency: Option<usize>,
    unblended_rate: Option<usize>,
    description: Option<usize>,
    product_name: Option<usize>,
    product_servicename: Option<usize>,
    region_code: Option<usize>,
    region: Option<usize>,
    location: Option<usize>,
    sku: Option<usize>,
    product_family: Option<usize>,
    rate_code: Option<usize>,
    public_od_cost: Option<usize>,
    public_od_rate: Option<usize>,
    term: Option<usize>,
    unit: Option<usize>,
    pricing_currency: Option<usize>,
    ri_arn: Option<usize>,
    ri_effective_cost: Option<usize>,
    ri_unused_amortized: Option<usize>,
    ri_unused_recurring: Option<usize>,
    sp_arn: Option<usize>,
    sp_effective_cost: Option<usize>,
    sp_total_commitment: Option<usize>,
    sp_used_commitment: Option<usize>,
    /// (tag key as FOCUS writes it, as a JSON string literal; column): escaped once per file.
    tags: Vec<(String, usize)>,
    /// CUR 2.0 `resource_tags` (a JSON object per row in CSV).
    tag_map: Option<usize>,
    /// CUR 2.0 `product` (a JSON object per row in CSV).
    product_map: Option<usize>,
    /// Keys of `product` read as extra cells after the header's columns, in order.
    product_keys: Vec<String>,
    spelling: Spelling,
}

const REQUIRED: [&str; 5] = [
    "bill/PayerAccountId",
    "lineItem/LineItemType",
    "lineItem/UnblendedCost",
    "bill/BillingPeriodStartDate",
    "bill/BillingPeriodEndDate",
];

/// How a CUR file spells the column model (formats.md §0 trap 1): one model, one mapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// CUR 1 CSV: `lineItem/UnblendedCost`, one `resourceTags/user:Team` column per tag.
    Cur1,
    /// CUR 1 as Athena/Parquet names it: `line_item_unblended_cost`, `resource_tags_user_team`.
    Athena,
    /// CUR 2.0 (Data Exports): snake_case fixed columns plus the map columns `product` and
    /// `resource_tags`, which CSV deliveries write as JSON objects.
    Cur2,
}

impl Spelling {
    /// `x_SourceFormat` of rows read in this spelling.
    pub(crate) fn source_format(self) -> &'static str {
        match self {
            Spelling::Cur1 => SOURCE_FORMAT,
            Spelling::Athena => "aws-cur1-athena",
            Spelling::Cur2 => "aws-cur2",
        }
    }
}

/// The snake_case name AWS gives a CUR 1 column in Athena, Parquet and CUR 2.0: each part is
/// split before every capital and lowercased, parts are joined by `_`
/// (`savingsPlan/SavingsPlanARN` → `savings_plan_savings_plan_a_r_n`, as AWS writes it).
pub(crate) fn snake_name(cur1: &str) -> String {
    let mut out = String::with_capacity(cur1.len() + 8);
    for (p, part) in cur1.split('/').enumerate() {
        if p > 0 {
            out.push('_');
        }
        for (i, ch) in part.chars().enumerate() {
            if ch.is_ascii_uppercase() {
                if i > 0 {
                    out.push('_');
                }
                out.push(ch.to_ascii_lowercase());
            } else {
                out.push(ch);
            }
        }
    }
    out
}

impl Columns {
    fn resolve(path: &Path, header: &Record) -> Result<Self> {
        let names: Vec<&[u8]> = header.iter().map(trim_bom).collect();
        let spelling = if names.iter().any(|n| n.contains(&b'/')) {
            Spelling::Cur1
        } else if names.iter().any(|n| {
            matches!(
                *n,
                b"product" | b"resource_tags" | b"bill_payer_account_name"
            )
        }) {
            Spelling::Cur2
        } else {
            Spelling::Athena
        };
        // Columns are looked up by their snake_case name whatever the file's spelling.
        let keys: Vec<String> = names
            .iter()
            .map(|n| {
                let n = String::from_utf8_lossy(n);
                if spelling == Spelling::Cur1 {
                    snake_name(&n)
                } else {
                    n.into_owned()
                }
            })
            .collect();
        let mut first_seen: HashMap<&str, usize> = HashMap::with_capacity(header.len());
        let mut duplicates: HashMap<&str, (usize, usize)> = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(&first) = first_seen.get(key.as_str()) {
                duplicates.entry(key.as_str()).or_insert((first, i));
            } else {
                first_seen.insert(key.as_str(), i);
            }
        }
        let product_map = first_seen
            .get("product")
            .copied()
            .filter(|_| spelling == Spelling::Cur2);
        // CUR 2.0 keeps most product attributes inside the `product` map; they become extra
        // cells appended to each record (see `CurFileReader::expand_product_map`).
        let mut product_keys: Vec<String> = Vec::new();
        // A column of the header, by its CUR 1 name in any spelling.
        let header_column = |name: &str| -> Result<Option<usize>> {
            let key = snake_name(name);
            if let Some(&(first, second)) = duplicates.get(key.as_str()) {
                return Err(Error::DuplicateColumn {
                    path: path.to_path_buf(),
                    column: name.into(),
                    first: first + 1,
                    second: second + 1,
                });
            }
            Ok(first_seen.get(key.as_str()).copied())
        };
        let find = |name: &str, product_keys: &mut Vec<String>| -> Result<Option<usize>> {
            if let Some(i) = header_column(name)? {
                return Ok(Some(i));
            }
            let key = snake_name(name);
            match (product_map, key.strip_prefix("product_")) {
                (Some(_), Some(attribute)) => {
                    product_keys.push(attribute.to_string());
                    Ok(Some(header.len() + product_keys.len() - 1))
                }
                _ => Ok(None),
            }
        };
        let require = |name: &'static str| -> Result<usize> {
            header_column(name)?.ok_or_else(|| Error::MissingColumn {
                path: path.to_path_buf(),
                column: name.into(),
                hint: "Billow needs an AWS Cost and Usage Report (CUR 1, or CUR 2.0 from Data Exports) with its standard columns; check that this is a CUR file and that the export includes them.",
            })
        };
        let mut c = Columns {
            payer: require(REQUIRED[0])?,
            line_item_type: require(REQUIRED[1])?,
            unblended_cost: require(REQUIRED[2])?,
            billing_period_start: require(REQUIRED[3])?,
            billing_period_end: require(REQUIRED[4])?,
            usage_start: find("lineItem/UsageStartDate", &mut product_keys)?,
            usage_end: find("lineItem/UsageEndDate", &mut product_keys)?,
            time_interval: find("identity/TimeInterval", &mut product_keys)?,
            usage_account: find("lineItem/UsageAccountId", &mut product_keys)?,
            // CUR 2.0 only.
            usage_account_name: find("lineItem/UsageAccountName", &mut product_keys)?,
            payer_name: find("bill/PayerAccountName", &mut product_keys)?,
            product_code: find("lineItem/ProductCode", &mut product_keys)?,
            invoice_id: find("bill/InvoiceId", &mut product_keys)?,
            invoicing_entity: find("bill/InvoicingEntity", &mut product_keys)?,
            billing_entity: find("bill/BillingEntity", &mut product_keys)?,
            legal_entity: find("lineItem/LegalEntity", &mut product_keys)?,
            usage_type: find("lineItem/UsageType", &mut product_keys)?,
            operation: find("lineItem/Operation", &mut product_keys)?,
            availability_zone: find("lineItem/AvailabilityZone", &mut product_keys)?,
            resource_id: find("lineItem/ResourceId", &mut product_keys)?,
            usage_amount: find("lineItem/UsageAmount", &mut product_keys)?,
            currency: find("lineItem/CurrencyCode", &mut product_keys)?,
            unblended_rate: find("lineItem/UnblendedRate", &mut product_keys)?,
            description: find("lineItem/LineItemDescription", &mut product_keys)?,
            product_name: find("product/ProductName", &mut product_keys)?,
            product_servicename: find("product/servicename", &mut product_keys)?,
            region_code: find("product/regionCode", &mut product_keys)?,
            region: find("product/region", &mut product_keys)?,
            location: find("product/location", &mut product_keys)?,
            sku: find("product/sku", &mut product_keys)?,
            product_family: find("product/productFamily", &mut product_keys)?,
            rate_code: find("pricing/RateCode", &mut product_keys)?,
            public_od_cost: find("pricing/publicOnDemandCost", &mut product_keys)?,
            public_od_rate: find("pricing/publicOnDemandRate", &mut product_keys)?,
            term: find("pricing/term", &mut product_keys)?,
            unit: find("pricing/unit", &mut product_keys)?,
            pricing_currency: find("pricing/currency", &mut product_keys)?,
            ri_arn: find("reservation/ReservationARN", &mut product_keys)?,
            ri_effective_cost: find("reservation/EffectiveCost", &mut product_keys)?,
            ri_unused_amortized: find(
                "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
                &mut product_keys,
            )?,
            ri_unused_recurring: find("reservation/UnusedRecurringFee", &mut product_keys)?,
            sp_arn: find("savingsPlan/SavingsPlanARN", &mut product_keys)?,
            sp_effective_cost: find("savingsPlan/SavingsPlanEffectiveCost", &mut product_keys)?,
            sp_total_commitment: find("savingsPlan/TotalCommitmentToDate", &mut product_keys)?,
            sp_used_commitment: find("savingsPlan/UsedCommitment", &mut product_keys)?,
            tags: Vec::new(),
            tag_map: first_seen
                .get("resource_tags")
                .copied()
                .filter(|_| spelling == Spelling::Cur2),
            product_map,
            product_keys: Vec::new(),
            spelling,
        };
        if c.usage_start.is_none() && c.time_interval.is_none() {
            return Err(Error::MissingColumn {
                path: path.to_path_buf(),
                column: "lineItem/UsageStartDate".into(),
                hint: "Neither lineItem/UsageStartDate nor identity/TimeInterval is present; the charge period cannot be known. Check that this is a complete CUR file.",
            });
        }
        c.product_keys = product_keys;
        for (i, name) in names.iter().enumerate() {
            let name = String::from_utf8_lossy(name);
            let key = match spelling {
                Spelling::Cur1 => name.strip_prefix("resourceTags/"),
                // Athena's per-tag columns; CUR 2.0 has the one `resource_tags` map instead.
                Spelling::Athena => name.strip_prefix("resource_tags_"),
                Spelling::Cur2 => None,
            };
            if let Some(key) = key {
                let mut literal = String::new();
                push_json_string(&mut literal, tag_key(key));
                c.tags.push((literal, i));
            }
        }
        Ok(c)
    }
}

/// The FOCUS tag key of an AWS tag column or map key: AWS prefixes user-defined tags with
/// `user:` (`user_` in snake_case spellings, where the rest of the key is lowercased by AWS);
/// FOCUS Tags hold the user's own key, while AWS-generated tags keep their `aws:` prefix (a
/// provider tag prefix).
fn tag_key(key: &str) -> &str {
    key.strip_prefix("user:")
        .or_else(|| key.strip_prefix("user_"))
        .unwrap_or(key)
}

fn trim_bom(name: &[u8]) -> &[u8] {
    name.strip_prefix(b"\xef\xbb\xbf").unwrap_or(name)
}

/// Column indices in the focus schema, resolved once.
struct Ix {
    availability_zone: usize,
    billed_cost: usize,
    billing_account_id: usize,
    billing_account_name: usize,
    billing_currency: usize,
    billing_period_end: usize,
    billing_period_start: usize,
    charge_category: usize,
    charge_description: usize,
    charge_frequency: usize,
    charge_period_end: usize,
    charge_period_start: usize,
    cd_category: usize,
    cd_id: usize,
    cd_status: usize,
    cd_type: usize,
    consumed_quantity: usize,
    consumed_unit: usize,
    contracted_cost: usize,
    contracted_unit_price: usize,
    effective_cost: usize,
    invoice_id: usize,
    invoice_issuer_name: usize,
    list_cost: usize,
    list_unit_price: usize,
    pricing_category: usize,
    pricing_currency: usize,
    pc_contracted_unit_price: usize,
    pc_effective_cost: usize,
    pc_list_unit_price: usize,
    pricing_quantity: usize,
    pricing_unit: usize,
    provider_name: usize,
    publisher_name: usize,
    region_id: usize,
    region_name: usize,
    resource_id: usize,
    resource_name: usize,
    resource_type: usize,
    service_category: usize,
    service_name: usize,
    service_subcategory: usize,
    sku_id: usize,
    sku_meter: usize,
    sku_price_id: usize,
    sub_account_id: usize,
    sub_account_name: usize,
    tags: usize,
    x_connection_id: usize,
    x_billing_period: usize,
    x_source_format: usize,
    x_source_file: usize,
    x_source_line: usize,
    x_ingestion_id: usize,
    x_line_item_type: usize,
    x_service_code: usize,
    x_usage_type: usize,
    x_operation: usize,
    x_invoicing_entity: usize,
}

fn ix() -> &'static Ix {
    static IX: OnceLock<Ix> = OnceLock::new();
    IX.get_or_init(|| Ix {
        availability_zone: index_of("AvailabilityZone"),
        billed_cost: index_of("BilledCost"),
        billing_account_id: index_of("BillingAccountId"),
        billing_account_name: index_of("BillingAccountName"),
        billing_currency: index_of("BillingCurrency"),
        billing_period_end: index_of("BillingPeriodEnd"),
        billing_period_start: index_of("BillingPeriodStart"),
        charge_category: index_of("ChargeCategory"),
        charge_description: index_of("ChargeDescription"),
        charge_frequency: index_of("ChargeFrequency"),
        charge_period_end: index_of("ChargePeriodEnd"),
        charge_period_start: index_of("ChargePeriodStart"),
        cd_category: index_of("CommitmentDiscountCategory"),
        cd_id: index_of("CommitmentDiscountId"),
        cd_status: index_of("CommitmentDiscountStatus"),
        cd_type: index_of("CommitmentDiscountType"),
        consumed_quantity: index_of("ConsumedQuantity"),
        consumed_unit: index_of("ConsumedUnit"),
        contracted_cost: index_of("ContractedCost"),
        contracted_unit_price: index_of("ContractedUnitPrice"),
        effective_cost: index_of("EffectiveCost"),
        invoice_id: index_of("InvoiceId"),
        invoice_issuer_name: index_of("InvoiceIssuerName"),
        list_cost: index_of("ListCost"),
        list_unit_price: index_of("ListUnitPrice"),
        pricing_category: index_of("PricingCategory"),
        pricing_currency: index_of("PricingCurrency"),
        pc_contracted_unit_price: index_of("PricingCurrencyContractedUnitPrice"),
        pc_effective_cost: index_of("PricingCurrencyEffectiveCost"),
        pc_list_unit_price: index_of("PricingCurrencyListUnitPrice"),
        pricing_quantity: index_of("PricingQuantity"),
        pricing_unit: index_of("PricingUnit"),
        provider_name: index_of("ProviderName"),
        publisher_name: index_of("PublisherName"),
        region_id: index_of("RegionId"),
        region_name: index_of("RegionName"),
        resource_id: index_of("ResourceId"),
        resource_name: index_of("ResourceName"),
        resource_type: index_of("ResourceType"),
        service_category: index_of("ServiceCategory"),
        service_name: index_of("ServiceName"),
        service_subcategory: index_of("ServiceSubcategory"),
        sku_id: index_of("SkuId"),
        sku_meter: index_of("SkuMeter"),
        sku_price_id: index_of("SkuPriceId"),
        sub_account_id: index_of("SubAccountId"),
        sub_account_name: index_of("SubAccountName"),
        tags: index_of("Tags"),
        x_connection_id: index_of(x::CONNECTION_ID),
        x_billing_period: index_of(x::BILLING_PERIOD),
        x_source_format: index_of(x::SOURCE_FORMAT),
        x_source_file: index_of(x::SOURCE_FILE),
        x_source_line: index_of(x::SOURCE_LINE),
        x_ingestion_id: index_of(x::INGESTION_ID),
        x_line_item_type: index_of(x::LINE_ITEM_TYPE),
        x_service_code: index_of(x::SERVICE_CODE),
        x_usage_type: index_of(x::USAGE_TYPE),
        x_operation: index_of(x::OPERATION),
        x_invoicing_entity: index_of(x::INVOICING_ENTITY),
    })
}

/// One source cell of the amortized-cost formula: (column, name, subtracted).
type AmortizationTerm<'a> = (Option<usize>, &'a str, bool);

/// How a line item type maps to FOCUS, and which amortization formula applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Usage,
    DiscountedUsage,
    SavingsPlanCoveredUsage,
    SavingsPlanNegation,
    SavingsPlanUpfrontFee,
    SavingsPlanRecurringFee,
    RiFee,
    Fee,
    Tax,
    Credit,
    Refund,
    Discount,
    Other,
}

impl Kind {
    fn of(text: &[u8]) -> Kind {
        match text {
            b"Usage" => Kind::Usage,
            b"DiscountedUsage" => Kind::DiscountedUsage,
            b"SavingsPlanCoveredUsage" => Kind::SavingsPlanCoveredUsage,
            b"SavingsPlanNegation" => Kind::SavingsPlanNegation,
            b"SavingsPlanUpfrontFee" => Kind::SavingsPlanUpfrontFee,
            b"SavingsPlanRecurringFee" => Kind::SavingsPlanRecurringFee,
            b"RIFee" => Kind::RiFee,
            b"Fee" => Kind::Fee,
            b"Tax" => Kind::Tax,
            b"Credit" => Kind::Credit,
            b"Refund" => Kind::Refund,
            b"EdpDiscount"
            | b"BundledDiscount"
            | b"PrivateRateDiscount"
            | b"DistributorDiscount"
            | b"SppDiscount" => Kind::Discount,
            _ => Kind::Other,
        }
    }

    /// (ChargeCategory, ChargeFrequency)
    fn category(self) -> (&'static str, &'static str) {
        match self {
            Kind::Usage
            | Kind::DiscountedUsage
            | Kind::SavingsPlanCoveredUsage
            | Kind::SavingsPlanNegation => ("Usage", "Usage-Based"),
            Kind::SavingsPlanRecurringFee | Kind::RiFee => ("Purchase", "Recurring"),
            Kind::SavingsPlanUpfrontFee | Kind::Fee => ("Purchase", "One-Time"),
            Kind::Tax => ("Tax", "One-Time"),
            Kind::Credit | Kind::Discount => ("Credit", "One-Time"),
            Kind::Refund => ("Adjustment", "One-Time"),
            // Unknown future line item types are kept as usage so no cost is dropped.
            Kind::Other => ("Usage", "Usage-Based"),
        }
    }
}

/// Reads one CUR 1 file into FOCUS batches, on one thread. [`CurFiles`] reads a delivery's
/// files on several.
pub struct CurFileReader {
    source: CurFileSource,
    mapper: CurRowMapper,
    state: ReadState,
}

/// A CUR file's records, after its header.
struct CurFileSource {
    rows: Box<dyn Rows + Send>,
    file: Arc<CurFile>,
}

/// What every mapper of a CUR file's records knows of the file.
struct CurFile {
    path: PathBuf,
    cols: Columns,
    options: ReadOptions,
    /// Billing period start expected for every row, if the delivery says.
    expected_period: Option<(i64, String)>,
    header_len: usize,
}

/// Maps records of one CUR file into FOCUS rows, and sums the source's totals of the records
/// it mapped. Several threads may map records of the same file, each with its own.
struct CurRowMapper {
    file: Arc<CurFile>,
    /// The record being mapped, and the line it starts on.
    record: Record,
    line: u64,
    builder: FocusBatchBuilder,
    text_groups: TextGroups,
    groups: Vec<((String, &'static str), GroupTotals)>,
    rows: u64,
    tag_json: String,
    /// The row's payer account id (a buffer reused row after row).
    payer: String,
    unit_names: UnitNames,
    date_cache: Vec<(Vec<u8>, i64)>,
    /// Billing period start and its `YYYY-MM`, formatted once per period rather than per row.
    period_text: (i64, String),
}

const DATE_SLOTS: usize = 6;

impl CurFileReader {
    /// Opens `path` and reads its header. `billing_period` (`YYYY-MM`), when given, is checked
    /// against every row.
    pub fn open(path: &Path, billing_period: Option<&str>, options: ReadOptions) -> Result<Self> {
        let source = CurFileSource::open(path, billing_period, options)?;
        Ok(CurFileReader {
            mapper: CurRowMapper::new(Arc::clone(&source.file)),
            source,
            state: ReadState::default(),
        })
    }

    /// Maps the next record; `false` at the end of the file.
    fn read_row(&mut self) -> Result<bool> {
        let Some(line) = self.source.read_record(&mut self.mapper.record)? else {
            return Ok(false);
        };
        self.mapper.line = line;
        self.mapper.map_current()?;
        Ok(true)
    }
}

impl CurFileSource {
    /// Opens `path` and reads its header; see [`CurFileReader::open`].
    fn open(path: &Path, billing_period: Option<&str>, options: ReadOptions) -> Result<Self> {
        let mut source = rows::open(path)?;
        let mut header = Record::new();
        let got = source.read(&mut header)?;
        if !got || header.iter().all(|f| f.is_empty()) {
            return Err(Error::Empty {
                path: path.to_path_buf(),
            });
        }
        let cols = Columns::resolve(path, &header)?;
        let expected_period = match billing_period {
            Some(p) => {
                let start = parse_utc_micros(format!("{p}-01").as_bytes()).ok_or_else(|| {
                    Error::Manifest {
                        path: path.to_path_buf(),
                        detail: format!("billing period {p:?} is not YYYY-MM"),
                        expected: manifest::CUR_EXPECTED,
                    }
                })?;
                Some((start, p.to_string()))
            }
            None => None,
        };
        Ok(CurFileSource {
            rows: source,
            file: Arc::new(CurFile {
                path: path.to_path_buf(),
                cols,
                options,
                expected_period,
                header_len: header.len(),
            }),
        })
    }
}

impl CurRowMapper {
    /// A mapper of `file`'s records with no rows yet: its own batch and totals.
    fn new(file: Arc<CurFile>) -> CurRowMapper {
        let file_name = file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut builder = FocusBatchBuilder::new(file.options.batch_rows);
        let ix = ix();
        for (column, value) in [
            (ix.x_connection_id, file.options.connection_id.as_str()),
            (ix.x_ingestion_id, file.options.ingestion_id.as_str()),
            (ix.x_source_format, file.cols.spelling.source_format()),
            (ix.x_source_file, file_name.as_str()),
            (ix.provider_name, "AWS"),
            // AWS issues the invoice for its own and for Marketplace charges alike.
            (ix.invoice_issuer_name, "AWS"),
        ] {
            builder.set_constant(column, Some(value));
        }
        let text_groups = TextGroups::new(&mut builder);
        // CUR 1 has one value for each pair: a resource's id is its name, and it carries no
        // negotiated prices, so the contracted cost and unit price are the list ones. The
        // prices and costs in the pricing currency are those in the billing currency where
        // the two are the same (see `push_row`).
        for (column, source) in [
            (ix.resource_name, ix.resource_id),
            (ix.contracted_cost, ix.list_cost),
            (ix.contracted_unit_price, ix.list_unit_price),
            (ix.pc_contracted_unit_price, ix.list_unit_price),
            (ix.pc_list_unit_price, ix.list_unit_price),
            (ix.pc_effective_cost, ix.effective_cost),
        ] {
            builder.mirror(column, source);
        }
        CurRowMapper {
            file,
            record: Record::new(),
            line: 0,
            builder,
            text_groups,
            groups: Vec::new(),
            rows: 0,
            tag_json: String::new(),
            payer: String::new(),
            unit_names: UnitNames::default(),
            date_cache: vec![(Vec::new(), 0); DATE_SLOTS],
            period_text: (0, String::new()),
        }
    }

    /// Maps `self.record`.
    fn map_current(&mut self) -> Result<()> {
        if !self.file.cols.product_keys.is_empty() {
            self.expand_product_map()?;
        }
        self.map_row()
    }

    fn line(&self) -> u64 {
        self.line
    }

    fn field(&self, i: Option<usize>) -> &[u8] {
        match i {
            Some(i) => self.record.get(i).unwrap_or_default(),
            None => b"",
        }
    }

    fn text(&self, i: Option<usize>, column: &str) -> Result<Option<&str>> {
        let raw = self.field(i);
        if raw.is_empty() {
            return Ok(None);
        }
        std::str::from_utf8(raw).map(Some).map_err(|_| Error::BadValue {
            path: self.file.path.clone(),
            line: self.line(),
            column: column.into(),
            found: String::from_utf8_lossy(&raw[..raw.len().min(80)]).into_owned(),
            expected: "UTF-8 text",
            hint: "AWS writes CUR files in UTF-8; the file is damaged or was re-encoded. Re-download it.",
        })
    }

    fn bad_value(
        &self,
        column: &str,
        raw: &[u8],
        expected: &'static str,
        hint: &'static str,
    ) -> Error {
        Error::BadValue {
            path: self.file.path.clone(),
            line: self.line(),
            column: column.into(),
            found: String::from_utf8_lossy(&raw[..raw.len().min(80)]).into_owned(),
            expected,
            hint,
        }
    }

    fn decimal(&self, i: Option<usize>, column: &str) -> Result<Option<i128>> {
        let raw = self.field(i);
        if raw.is_empty() {
            return Ok(None);
        }
        match money::parse_decimal(raw) {
            Ok(p) => Ok(Some(p.value)),
            Err(money::DecimalError::Syntax) => Err(self.bad_value(
                column,
                raw,
                "a decimal number (like 0.0123 or 7.0E-10)",
                "The cell is corrupted or the columns are shifted; re-download the file from the provider.",
            )),
            Err(money::DecimalError::OutOfRange) => Err(self.bad_value(
                column,
                raw,
                "a value within ±10^15",
                "Billow refuses values that could overflow exact sums; check the file for a corrupted cell.",
            )),
        }
    }

    fn add_exact(
        &self,
        sum: &mut ExactSum,
        i: Option<usize>,
        column: &str,
        negate: bool,
    ) -> Result<()> {
        let raw = self.field(i);
        if raw.is_empty() {
            return Ok(());
        }
        let added = if negate {
            sum.sub_text(raw)
        } else {
            sum.add_text(raw)
        };
        added.map_err(|e| match e {
            money::DecimalError::Syntax => self.bad_value(
                column,
                raw,
                "a decimal number",
                "The cell is corrupted; re-download the file.",
            ),
            money::DecimalError::OutOfRange => Error::TotalOverflow {
                path: self.file.path.clone(),
                column: "cost",
            },
        })
    }

    fn timestamp(&mut self, slot: usize, i: Option<usize>, column: &str) -> Result<Option<i64>> {
        let raw = match i {
            Some(i) => self.record.get(i).unwrap_or_default(),
            None => return Ok(None),
        };
        if raw.is_empty() {
            return Ok(None);
        }
        let cached = &self.date_cache[slot];
        if same_bytes(&cached.0, raw) {
            return Ok(Some(cached.1));
        }
        match parse_utc_micros(raw) {
            Some(v) => {
                let cached = &mut self.date_cache[slot];
                cached.0.clear();
                cached.0.extend_from_slice(raw);
                cached.1 = v;
                Ok(Some(v))
            }
            None => Err(self.bad_value(
                column,
                raw,
                "a UTC date/time (like 2023-11-01T00:00:00Z)",
                "The cell is corrupted or the columns are shifted; re-download the file.",
            )),
        }
    }

    fn required_timestamp(&mut self, slot: usize, i: usize, column: &str) -> Result<i64> {
        match self.timestamp(slot, Some(i), column)? {
            Some(v) => Ok(v),
            None => Err(self.bad_value(
                column,
                b"",
                "a UTC date/time",
                "This column must be filled on every row; the file is damaged.",
            )),
        }
    }

    fn charge_period(&mut self) -> Result<(i64, i64)> {
        if let (Some(s), Some(e)) = (self.file.cols.usage_start, self.file.cols.usage_end) {
            let start = self.timestamp(2, Some(s), "lineItem/UsageStartDate")?;
            let end = self.timestamp(3, Some(e), "lineItem/UsageEndDate")?;
            if let (Some(start), Some(end)) = (start, end) {
                return Ok((start, end));
            }
        }
        let raw = self.field(self.file.cols.time_interval).to_vec();
        let mut parts = raw.splitn(2, |&c| c == b'/');
        let (a, b) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        match (parse_utc_micros(a), parse_utc_micros(b)) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(self.bad_value(
                "identity/TimeInterval",
                &raw,
                "an interval like 2023-11-01T00:00:00Z/2023-11-02T00:00:00Z",
                "The row has no usable charge period; re-download the file.",
            )),
        }
    }

    fn map_row(&mut self) -> Result<()> {
        let c = &self.file.cols;
        let (payer_i, lit_i, cost_i, bps_i, bpe_i) = (
            c.payer,
            c.line_item_type,
            c.unblended_cost,
            c.billing_period_start,
            c.billing_period_end,
        );
        let line = self.line();
        let bp_start = self.required_timestamp(0, bps_i, "bill/BillingPeriodStartDate")?;
        let bp_end = self.required_timestamp(1, bpe_i, "bill/BillingPeriodEndDate")?;
        if let Some((expected, period)) = &self.file.expected_period
            && *expected != bp_start
        {
            return Err(Error::PeriodMismatch {
                path: self.file.path.clone(),
                line,
                found: year_month(bp_start),
                expected: period.clone(),
            });
        }
        if self.period_text.0 != bp_start || self.period_text.1.is_empty() {
            self.period_text = (bp_start, year_month(bp_start));
        }
        let (cp_start, cp_end) = self.charge_period()?;
        let kind = Kind::of(self.field(Some(lit_i)));
        let (category, frequency) = kind.category();
        if self.field(Some(payer_i)).is_empty() {
            return Err(self.bad_value(
                "bill/PayerAccountId",
                b"",
                "the payer account id",
                "Every CUR row names its payer; the file is damaged.",
            ));
        }
        self.text(Some(payer_i), "bill/PayerAccountId")?;
        let Some(billed) = self.decimal(Some(cost_i), "lineItem/UnblendedCost")? else {
            return Err(self.bad_value(
                "lineItem/UnblendedCost",
                b"",
                "a decimal cost",
                "Every CUR row has a cost; the file is damaged or truncated.",
            ));
        };
        let c = &self.file.cols;
        let zero_if_none = |v: Option<i128>| v.unwrap_or(0);
        let has_ri = !self.field(c.ri_arn).is_empty();
        // The amortized cost of the row (the CUR query library's CASE), and for commitment fees
        // the unused part, which FOCUS puts on its own Usage row with status Unused: a purchase
        // that prepays future charges has EffectiveCost 0.
        let (effective, effective_terms, unused, unused_terms): (
            i128,
            &[AmortizationTerm],
            i128,
            &[AmortizationTerm],
        ) = match kind {
            Kind::SavingsPlanCoveredUsage => (
                zero_if_none(
                    self.decimal(c.sp_effective_cost, "savingsPlan/SavingsPlanEffectiveCost")?,
                ),
                &[(
                    c.sp_effective_cost,
                    "savingsPlan/SavingsPlanEffectiveCost",
                    false,
                )],
                0,
                &[],
            ),
            Kind::SavingsPlanRecurringFee => (
                0,
                &[],
                zero_if_none(
                    self.decimal(c.sp_total_commitment, "savingsPlan/TotalCommitmentToDate")?,
                ) - zero_if_none(self.decimal(c.sp_used_commitment, "savingsPlan/UsedCommitment")?),
                &[
                    (
                        c.sp_total_commitment,
                        "savingsPlan/TotalCommitmentToDate",
                        false,
                    ),
                    (c.sp_used_commitment, "savingsPlan/UsedCommitment", true),
                ],
            ),
            Kind::SavingsPlanNegation | Kind::SavingsPlanUpfrontFee => (0, &[], 0, &[]),
            Kind::DiscountedUsage => (
                zero_if_none(self.decimal(c.ri_effective_cost, "reservation/EffectiveCost")?),
                &[(c.ri_effective_cost, "reservation/EffectiveCost", false)],
                0,
                &[],
            ),
            Kind::RiFee => (
                0,
                &[],
                zero_if_none(self.decimal(
                    c.ri_unused_amortized,
                    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
                )?) + zero_if_none(
                    self.decimal(c.ri_unused_recurring, "reservation/UnusedRecurringFee")?,
                ),
                &[
                    (
                        c.ri_unused_amortized,
                        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
                        false,
                    ),
                    (
                        c.ri_unused_recurring,
                        "reservation/UnusedRecurringFee",
                        false,
                    ),
                ],
            ),
            Kind::Fee if has_ri => (0, &[], 0, &[]),
            _ => (
                billed,
                &[(Some(cost_i), "lineItem/UnblendedCost", false)],
                0,
                &[],
            ),
        };
        let has_unused_row = !unused_terms.is_empty() && unused != 0;
        // Source totals, summed from the raw cells' text independently of the parsed values.
        // The payer outlives the borrows of `self` below, so it is copied, into a buffer the
        // reader keeps rather than a new string per row.
        let mut payer = std::mem::take(&mut self.payer);
        payer.clear();
        payer.push_str(non_empty_str(&self.record, Some(payer_i)).unwrap_or_default());
        self.add_to_totals(
            &payer,
            category,
            &[(Some(cost_i), "lineItem/UnblendedCost", false)],
            effective_terms,
            1,
        )?;
        if has_unused_row {
            self.add_to_totals(&payer, "Usage", &[], unused_terms, 1)?;
        }

        let c = &self.file.cols;
        let is_tax = kind == Kind::Tax;
        let is_usage_or_purchase = matches!(category, "Usage" | "Purchase");
        let quantity = if is_usage_or_purchase {
            self.decimal(c.usage_amount, "lineItem/UsageAmount")?
        } else {
            None
        };
        let od_rate = self.decimal(c.public_od_rate, "pricing/publicOnDemandRate")?;
        let od_cost = self.decimal(c.public_od_cost, "pricing/publicOnDemandCost")?;
        let rate = self.decimal(c.unblended_rate, "lineItem/UnblendedRate")?;
        let list_unit_price = if is_tax || !is_usage_or_purchase {
            None
        } else if kind == Kind::SavingsPlanNegation {
            Some(od_rate.unwrap_or(0))
        } else {
            od_rate.or(rate).or(Some(0)).filter(|_| quantity.is_some())
        };
        let list_cost = if !is_usage_or_purchase {
            billed
        } else {
            match (od_cost, kind) {
                (Some(v), _) => v,
                (None, Kind::SavingsPlanNegation) => 0,
                (None, _) => match (list_unit_price, quantity) {
                    (Some(p), Some(q)) if od_rate.is_some() => {
                        p.checked_mul(q).map(|v| v / ONE).unwrap_or(billed)
                    }
                    _ => billed,
                },
            }
        };
        let list_unit_price = match (list_unit_price, quantity) {
            // Keep ListCost = ListUnitPrice × PricingQuantity true where AWS left the rate out.
            (Some(p), Some(q))
                if od_rate.is_none()
                    && q != 0
                    && (p.checked_mul(q).map(|v| v / ONE) != Some(list_cost)) =>
            {
                Some(list_cost.checked_mul(ONE).map(|v| v / q).unwrap_or(p))
            }
            (p, _) => p,
        };
        let term = c.term.and_then(|i| self.record.get(i)).unwrap_or_default();
        let pricing_category = match (category, kind) {
            (
                "Usage",
                Kind::DiscountedUsage | Kind::SavingsPlanCoveredUsage | Kind::SavingsPlanNegation,
            ) => Some("Committed"),
            ("Usage", _) if term == b"Spot" => Some("Dynamic"),
            ("Usage", _) if term == b"Reserved" => Some("Committed"),
            ("Usage", _) | ("Purchase", _) => Some("Standard"),
            _ => None,
        };
        let record = &self.record;
        let get = |i: Option<usize>| non_empty_str(record, i);
        let commitment = match kind {
            Kind::SavingsPlanCoveredUsage
            | Kind::SavingsPlanNegation
            | Kind::SavingsPlanRecurringFee
            | Kind::SavingsPlanUpfrontFee => get(c.sp_arn).map(|a| (a, "Spend", "Savings Plan")),
            Kind::DiscountedUsage | Kind::RiFee | Kind::Fee => {
                get(c.ri_arn).map(|a| (a, "Usage", "Reserved Instance"))
            }
            _ => None,
        };
        let marketplace = get(c.billing_entity) == Some("AWS Marketplace");
        let product_code = get(c.product_code).unwrap_or("Unknown");
        let (service_category, subcategory) = service_category(product_code);
        let region = get(c.region_code).or_else(|| get(c.region));
        let resource = get(c.resource_id);
        let sku = if is_tax { None } else { get(c.sku) };
        let sub_account = get(c.usage_account);
        self.tag_json.clear();
        for (key, col) in &c.tags {
            // A cell of a record that is not UTF-8 keeps its text, its odd bytes replaced.
            let value = match get(Some(*col)) {
                Some(value) => Cow::Borrowed(value),
                None => match record.get(*col) {
                    Some(raw) if !raw.is_empty() => String::from_utf8_lossy(raw),
                    _ => continue,
                },
            };
            push_json_member_literal(&mut self.tag_json, key, &value);
        }
        if let Some(i) = c.tag_map {
            for (key, value) in self.json_map(i, "resource_tags")? {
                let value = match value {
                    serde_json::Value::String(v) => v,
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                if value.is_empty() {
                    continue;
                }
                push_json_member(&mut self.tag_json, tag_key(&key), &value);
            }
        }
        close_json_object(&mut self.tag_json);
        let unit = match (quantity, get(c.unit)) {
            (None, _) => None,
            (Some(_), None) => Some(Cow::Borrowed("Units")),
            (Some(_), Some(u)) => Some(Cow::Borrowed(self.unit_names.focus_spelling(u))),
        };
        let row = FocusRow {
            availability_zone: get(c.availability_zone),
            billed,
            effective,
            list_cost,
            list_unit_price,
            billing_account: &payer,
            billing_account_name: get(c.payer_name),
            currency: get(c.currency).unwrap_or("USD"),
            pricing_currency: get(c.pricing_currency)
                .or_else(|| get(c.currency))
                .unwrap_or("USD"),
            billing_period: (bp_start, bp_end),
            billing_period_text: &self.period_text.1,
            charge_period: (cp_start, cp_end),
            category,
            frequency,
            description: get(c.description),
            commitment,
            commitment_status: commitment.filter(|_| category == "Usage").map(|_| "Used"),
            quantity,
            consumed: if category == "Usage" { quantity } else { None },
            unit,
            invoice_id: get(c.invoice_id),
            pricing_category,
            invoicing_entity: get(c.invoicing_entity),
            publisher: if marketplace {
                get(c.legal_entity).unwrap_or("AWS Marketplace")
            } else {
                "AWS"
            },
            region,
            region_name: region.map(|r| get(c.location).unwrap_or(r)),
            resource_id: resource,
            resource_type: resource.map(|_| get(c.product_family).unwrap_or("Other")),
            service_category: service_category.as_str(),
            service_subcategory: subcategory,
            service_name: get(c.product_name)
                .or_else(|| get(c.product_servicename))
                .unwrap_or(product_code),
            sku_id: sku,
            sku_meter: if is_tax { None } else { get(c.usage_type) },
            sku_price_id: if is_tax {
                None
            } else {
                get(c.rate_code).or(sku)
            },
            // CUR 1 carries no account names (CUR 2.0 does); the id is the name until the
            // connection knows better.
            sub_account_id: sub_account,
            sub_account_name: get(c.usage_account_name).or(sub_account),
            tags: (!self.tag_json.is_empty()).then_some(self.tag_json.as_str()),
            line_item_type: get(Some(lit_i)),
            product_code,
            usage_type: get(c.usage_type),
            operation: get(c.operation),
            line,
        };
        push_row(&mut self.builder, &self.text_groups, &row);
        self.rows += 1;
        if has_unused_row {
            // The commitment's unused part for the period: BilledCost 0 (prepaid), EffectiveCost
            // the unused amortized amount, ResourceId the commitment, no consumed quantity.
            let unused_row = FocusRow {
                billed: 0,
                effective: unused,
                list_cost: 0,
                list_unit_price: row.quantity.map(|_| 0),
                category: "Usage",
                frequency: "Usage-Based",
                commitment_status: Some("Unused"),
                consumed: None,
                pricing_category: Some("Committed"),
                resource_id: commitment.map(|c| c.0),
                resource_type: Some(commitment.map(|c| c.2).unwrap_or("Commitment")),
                description: Some(match kind {
                    Kind::RiFee => "Unused reservation for the billing period",
                    _ => "Unused savings plan commitment",
                }),
                ..row.clone()
            };
            push_row(&mut self.builder, &self.text_groups, &unused_row);
            self.rows += 1;
        }
        self.payer = payer;
        Ok(())
    }

    fn add_to_totals(
        &mut self,
        payer: &str,
        category: &'static str,
        billed_terms: &[AmortizationTerm],
        effective_terms: &[AmortizationTerm],
        rows: u64,
    ) -> Result<()> {
        let group = self.group_index(payer, category);
        let mut billed_sum = std::mem::take(&mut self.groups[group].1.billed);
        let mut effective_sum = std::mem::take(&mut self.groups[group].1.effective);
        let mut result = Ok(());
        for &(col, name, negate) in billed_terms {
            result = result.and_then(|_| self.add_exact(&mut billed_sum, col, name, negate));
        }
        for &(col, name, negate) in effective_terms {
            result = result.and_then(|_| self.add_exact(&mut effective_sum, col, name, negate));
        }
        let g = &mut self.groups[group].1;
        g.billed = billed_sum;
        g.effective = effective_sum;
        g.rows += rows;
        result
    }

    fn group_index(&mut self, payer: &str, category: &'static str) -> usize {
        if let Some(i) = self
            .groups
            .iter()
            .position(|((p, c), _)| *c == category && p == payer)
        {
            return i;
        }
        self.groups
            .push(((payer.to_string(), category), GroupTotals::default()));
        self.groups.len() - 1
    }

    fn totals(&self) -> SourceTotals {
        let mut t = SourceTotals::default();
        for ((p, c), g) in &self.groups {
            t.groups.insert((p.clone(), (*c).to_string()), g.clone());
        }
        t
    }

    /// Appends the `product` map's attributes the mapping reads as cells after the header's
    /// columns, so every spelling is read through the same column indices.
    fn expand_product_map(&mut self) -> Result<()> {
        while self.record.len() < self.file.header_len {
            self.record.push_field(b"");
        }
        let map = match self.file.cols.product_map {
            Some(i) => self.json_map(i, "product")?,
            None => serde_json::Map::new(),
        };
        for key in &self.file.cols.product_keys {
            match map.get(key) {
                Some(serde_json::Value::String(v)) => self.record.push_field(v.as_bytes()),
                Some(serde_json::Value::Null) | None => self.record.push_field(b""),
                Some(other) => self.record.push_field(other.to_string().as_bytes()),
            }
        }
        Ok(())
    }

    /// A CUR 2.0 map cell (a JSON object; empty means no entries).
    fn json_map(
        &self,
        i: usize,
        column: &'static str,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        let raw = self.record.get(i).unwrap_or_default();
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(serde_json::Map::new());
        }
        serde_json::from_slice(raw).map_err(|_| {
            self.bad_value(
                column,
                raw,
                "a JSON object of keys and values (a CUR 2.0 map column)",
                "The cell is damaged or the columns are shifted; re-download the file from the export.",
            )
        })
    }
}

impl CurRowMapper {
    /// What the records this mapper mapped held, for [`crate::read::FileSummary`].
    fn file_summary(&mut self) -> FileSummary {
        FileSummary {
            file: self.file.path.to_path_buf(),
            rows: self.rows,
            // Every row of a CUR file is of one billing period (checked per row).
            totals: if self.rows == 0 {
                std::collections::BTreeMap::new()
            } else {
                std::collections::BTreeMap::from([(self.period_text.1.clone(), self.totals())])
            },
            source_format: self.file.cols.spelling.source_format(),
        }
    }
}

impl FillBatches for CurFileReader {
    fn read_row(&mut self) -> Result<bool> {
        CurFileReader::read_row(self)
    }

    fn builder(&mut self) -> &mut FocusBatchBuilder {
        &mut self.mapper.builder
    }

    fn batch_rows(&self) -> usize {
        self.mapper.file.options.batch_rows
    }

    fn state(&mut self) -> &mut ReadState {
        &mut self.state
    }

    fn summary(&mut self) -> FileSummary {
        self.mapper.file_summary()
    }
}

impl Iterator for CurFileReader {
    type Item = Result<ReadEvent>;

    /// Batches, then one `ReadEvent::FileDone`; after an error, nothing more.
    fn next(&mut self) -> Option<Self::Item> {
        next_event(self)
    }
}

impl SharedFile for CurFileSource {
    type Mapper = CurRowMapper;

    fn read_record(&mut self, record: &mut Record) -> Result<Option<u64>> {
        let more = rows::next_record(
            self.rows.as_mut(),
            record,
            &self.file.path,
            self.file.header_len,
            rows::Width::AtMost,
        )?;
        Ok(more.then(|| self.rows.line()))
    }

    fn mapper(&self) -> CurRowMapper {
        CurRowMapper::new(Arc::clone(&self.file))
    }
}

impl MapRecords for CurRowMapper {
    fn map_record(&mut self, record: &mut Record, line: u64) -> Result<()> {
        // The mapping reads `self.record`; swapping moves no bytes.
        std::mem::swap(&mut self.record, record);
        self.line = line;
        let mapped = self.map_current();
        std::mem::swap(&mut self.record, record);
        mapped
    }

    fn builder(&mut self) -> &mut FocusBatchBuilder {
        &mut self.builder
    }

    fn batch_rows(&self) -> usize {
        self.file.options.batch_rows
    }

    fn summary(&mut self) -> FileSummary {
        self.file_summary()
    }
}

/// Reads the files of a CUR delivery of one billing period on several threads at once
/// (see [`crate::read::read_shared`]): a delivery of one large file, or the last file of
/// many, keeps every thread busy.
#[derive(Debug, Clone)]
pub struct CurFiles {
    billing_period: Option<String>,
}

impl CurFiles {
    /// Files whose rows must all be of `billing_period` (`YYYY-MM`), when given.
    pub fn new(billing_period: Option<String>) -> Self {
        CurFiles { billing_period }
    }
}

impl ReadFiles for CurFiles {
    fn useful_threads(&self, _files: usize, threads: usize) -> usize {
        threads.max(1)
    }

    fn read_files<C: Consumer>(
        &self,
        files: &[PathBuf],
        options: &ReadOptions,
        consumers: Vec<C>,
    ) -> std::result::Result<Vec<C>, C::Error> {
        read_shared(
            files,
            |path| CurFileSource::open(path, self.billing_period.as_deref(), options.clone()),
            consumers,
        )
    }
}

/// One FOCUS row, borrowed from the CSV record, before it enters the batch.
#[derive(Clone)]
struct FocusRow<'a> {
    availability_zone: Option<&'a str>,
    billed: i128,
    effective: i128,
    list_cost: i128,
    list_unit_price: Option<i128>,
    billing_account: &'a str,
    billing_account_name: Option<&'a str>,
    currency: &'a str,
    pricing_currency: &'a str,
    billing_period: (i64, i64),
    /// `YYYY-MM` of the billing period start.
    billing_period_text: &'a str,
    charge_period: (i64, i64),
    category: &'static str,
    frequency: &'static str,
    description: Option<&'a str>,
    /// (id, CommitmentDiscountCategory, CommitmentDiscountType)
    commitment: Option<(&'a str, &'static str, &'static str)>,
    commitment_status: Option<&'static str>,
    quantity: Option<i128>,
    consumed: Option<i128>,
    unit: Option<Cow<'a, str>>,
    invoice_id: Option<&'a str>,
    pricing_category: Option<&'static str>,
    invoicing_entity: Option<&'a str>,
    publisher: &'a str,
    region: Option<&'a str>,
    region_name: Option<&'a str>,
    resource_id: Option<&'a str>,
    resource_type: Option<&'a str>,
    service_category: &'static str,
    service_subcategory: &'static str,
    service_name: &'a str,
    sku_id: Option<&'a str>,
    sku_meter: Option<&'a str>,
    sku_price_id: Option<&'a str>,
    sub_account_id: Option<&'a str>,
    sub_account_name: Option<&'a str>,
    tags: Option<&'a str>,
    line_item_type: Option<&'a str>,
    product_code: &'a str,
    usage_type: Option<&'a str>,
    operation: Option<&'a str>,
    line: u64,
}

/// The FOCUS spellings of the units a file names: a file names a few dozen units over
/// millions of rows, so each is normalized once.
#[derive(Default)]
struct UnitNames {
    /// (unit as the file spells it, FOCUS spelling), most recently added last.
    known: Vec<(String, String)>,
}

impl UnitNames {
    /// Beyond this many units a file's further units are normalized row by row.
    const MAX: usize = 64;

    fn focus_spelling(&mut self, unit: &str) -> &str {
        let found = self.known.iter().position(|(raw, _)| raw == unit);
        let at = match found {
            Some(at) => at,
            None => {
                // Once MAX are kept, the slot past them holds the latest other unit,
                // overwritten on the next miss.
                self.known.truncate(Self::MAX);
                let focus = billow_focus::units::normalize(unit).into_owned();
                self.known.push((unit.to_string(), focus));
                self.known.len() - 1
            }
        };
        &self.known[at].1
    }
}

/// The columns whose values go together, appended as groups (see
/// [`FocusBatchBuilder::text_group`]): a row of a CUR file repeats one of a few hundred
/// services, SKUs, places and accounts, each spread over several columns.
struct TextGroups {
    service: TextGroup,
    sku: TextGroup,
    location: TextGroup,
    account: TextGroup,
    charge: TextGroup,
}

impl TextGroups {
    fn new(b: &mut FocusBatchBuilder) -> Self {
        let ix = ix();
        TextGroups {
            service: b.text_group(&[
                ix.service_name,
                ix.service_category,
                ix.service_subcategory,
                ix.x_service_code,
                ix.resource_type,
            ]),
            sku: b.text_group(&[
                ix.sku_id,
                ix.sku_meter,
                ix.sku_price_id,
                ix.x_usage_type,
                ix.x_operation,
                ix.charge_description,
                ix.pricing_unit,
                ix.consumed_unit,
            ]),
            location: b.text_group(&[ix.region_id, ix.region_name, ix.availability_zone]),
            account: b.text_group(&[
                ix.billing_account_id,
                ix.billing_account_name,
                ix.sub_account_id,
                ix.sub_account_name,
            ]),
            charge: b.text_group(&[
                ix.charge_category,
                ix.charge_frequency,
                ix.x_line_item_type,
                ix.pricing_category,
                ix.cd_category,
                ix.cd_status,
                ix.cd_type,
            ]),
        }
    }
}

/// Appends a row to the batch. The columns a CUR file holds the same on every row are
/// constants of the builder (see [`CurFileReader::open`]), and those CUR 1 never fills are
/// left null.
fn push_row(b: &mut FocusBatchBuilder, groups: &TextGroups, r: &FocusRow<'_>) {
    let ix = ix();
    b.group_str(
        groups.service,
        &[
            Some(r.service_name),
            Some(r.service_category),
            Some(r.service_subcategory),
            Some(r.product_code),
            r.resource_type,
        ],
    );
    b.group_str(
        groups.sku,
        &[
            r.sku_id,
            r.sku_meter,
            r.sku_price_id,
            r.usage_type,
            r.operation,
            r.description,
            r.unit.as_deref(),
            r.consumed.and(r.unit.as_deref()),
        ],
    );
    b.group_str(
        groups.location,
        &[r.region, r.region_name, r.availability_zone],
    );
    b.group_str(
        groups.account,
        &[
            Some(r.billing_account),
            r.billing_account_name,
            r.sub_account_id,
            r.sub_account_name,
        ],
    );
    b.group_str(
        groups.charge,
        &[
            Some(r.category),
            Some(r.frequency),
            r.line_item_type,
            r.pricing_category,
            r.commitment.map(|c| c.1),
            r.commitment_status,
            r.commitment.map(|c| c.2),
        ],
    );
    b.dec(ix.billed_cost, Some(r.billed));
    b.str(ix.billing_currency, Some(r.currency));
    b.ts(ix.billing_period_end, Some(r.billing_period.1));
    b.ts(ix.billing_period_start, Some(r.billing_period.0));
    b.ts(ix.charge_period_end, Some(r.charge_period.1));
    b.ts(ix.charge_period_start, Some(r.charge_period.0));
    b.str(ix.cd_id, r.commitment.map(|c| c.0));
    b.dec(ix.consumed_quantity, r.consumed);
    b.dec(ix.effective_cost, Some(r.effective));
    b.str(ix.invoice_id, r.invoice_id);
    b.dec(ix.list_cost, Some(r.list_cost));
    b.dec(ix.list_unit_price, r.list_unit_price);
    // AWS prices in pricing/currency; where it is the billing currency the prices and costs
    // are the same numbers. CUR 1 has no exchange rate, so other currencies stay null.
    let same_currency = r.pricing_currency == r.currency;
    b.str(ix.pricing_currency, Some(r.pricing_currency));
    b.dec_or_same(
        ix.pc_contracted_unit_price,
        r.list_unit_price.filter(|_| same_currency),
    );
    b.dec_or_same(
        ix.pc_effective_cost,
        Some(r.effective).filter(|_| same_currency),
    );
    b.dec_or_same(
        ix.pc_list_unit_price,
        r.list_unit_price.filter(|_| same_currency),
    );
    b.dec(ix.pricing_quantity, r.quantity);
    b.str(ix.publisher_name, Some(r.publisher));
    b.str(ix.resource_id, r.resource_id);
    b.str(ix.tags, r.tags);
    b.str(ix.x_billing_period, Some(r.billing_period_text));
    b.int(ix.x_source_line, Some(r.line as i64));
    b.str(ix.x_invoicing_entity, r.invoicing_entity);
    b.end_row();
}

/// Cell `i` as text (`None` when empty, absent or not UTF-8).
fn non_empty_str(record: &Record, i: Option<usize>) -> Option<&str> {
    record.get_str(i?).filter(|cell| !cell.is_empty())
}

/// Billing period (`YYYY-MM`) of a single CUR file, from its first data row.
pub(crate) fn peek_billing_period(path: &Path) -> Result<String> {
    let reader = CurFileReader::open(path, None, ReadOptions::new("", "").with_batch_rows(1))?;
    let (mut source, mut mapper) = (reader.source, reader.mapper);
    let Some(line) = source.read_record(&mut mapper.record)? else {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    };
    mapper.line = line;
    let start = mapper.required_timestamp(
        0,
        source.file.cols.billing_period_start,
        "bill/BillingPeriodStartDate",
    )?;
    Ok(year_month(start))
}

#[cfg(test)]
mod tests {
    use super::{UnitNames, snake_name};

    /// Every unit comes back in its FOCUS spelling, whether it is kept, met again, or one of
    /// the units past the kept ones; the cache stays bounded.
    #[test]
    fn unit_names_are_normalized_and_bounded() {
        let mut names = UnitNames::default();
        let units: Vec<String> = (0..UnitNames::MAX + 6)
            .map(|i| {
                if i % 2 == 0 {
                    format!("Hrs{i}")
                } else {
                    "Hrs".to_string()
                }
            })
            .chain((0..UnitNames::MAX + 6).map(|i| format!("GB-Mo{i}")))
            .collect();
        for round in 0..2 {
            for unit in &units {
                let expected = billow_focus::units::normalize(unit).into_owned();
                assert_eq!(
                    names.focus_spelling(unit),
                    expected,
                    "{unit}, round {round}"
                );
                assert!(names.known.len() <= UnitNames::MAX + 1);
            }
        }
        assert_eq!(names.focus_spelling("Hrs"), "Hours");
    }

    #[test]
    fn snake_names_follow_aws_spelling() {
        for (cur1, snake) in [
            ("lineItem/UnblendedCost", "line_item_unblended_cost"),
            ("bill/PayerAccountId", "bill_payer_account_id"),
            ("product/regionCode", "product_region_code"),
            ("product/servicename", "product_servicename"),
            (
                "pricing/publicOnDemandCost",
                "pricing_public_on_demand_cost",
            ),
            (
                "savingsPlan/SavingsPlanARN",
                "savings_plan_savings_plan_a_r_n",
            ),
            (
                "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
                "reservation_unused_amortized_upfront_fee_for_billing_period",
            ),
        ] {
            assert_eq!(snake_name(cur1), snake);
        }
    }
}
