//! Azure Cost Management cost-details exports: Enterprise Agreement (PascalCase columns),
//! Microsoft Customer Agreement (camelCase) and the legacy pay-as-you-go "usage only" schema,
//! as CSV (plain or gzip) or Parquet, with portal-localized headers (`Abonnement-GUID
//! (SubscriptionGuid)`) matched through the English name in parentheses.
//!
//! Azure delivers cost twice, as two datasets that must never be added together: *actual*
//! (what the invoice says: a reservation purchase is a Purchase row, covered usage costs 0) and
//! *amortized* (purchases spread over the covered usage, plus `UnusedReservation` /
//! `UnusedSavingsPlan` rows). Given both, each amortized row is matched to its actual row (every
//! column but the money ones equal) and becomes one FOCUS row with BilledCost from actual and
//! EffectiveCost from amortized; actual rows without a partner (commitment purchases, refunds)
//! become rows with EffectiveCost 0. Σ BilledCost is then exactly the actual dataset's total and
//! Σ EffectiveCost exactly the amortized one's, however well rows matched ([`PairIndex`]).
//! Given one dataset only, its cost is both BilledCost and EffectiveCost.
//!
//! Azure prints money as decimal text with up to 28 places (float noise); values are rounded
//! half-even to the lake's 12 and the exact source sums are kept. `Tags` is often written
//! without its braces (`"k": "v","k2": "v2"`). Dates are `MM/DD/YYYY` (or ISO), and
//! `BillingPeriodEndDate` is the inclusive last day.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use billow_focus::column as ix;
use billow_focus::money::{self, ExactSum};
use billow_focus::schema::x;
use chrono::{Datelike, NaiveDate};

use crate::batch::{FocusBatchBuilder, PeriodTotals, totals_by_period};
use crate::csv_file::Record;
use crate::read::{FileSummary, ReadOptions, ReadState};
use crate::rows::{self, Rows};
use crate::{Error, Result};

/// Which of Azure's cost datasets a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dataset {
    /// `ActualCost`: invoiced cost.
    Actual,
    /// `AmortizedCost`: commitment purchases spread over their use.
    Amortized,
    /// Legacy pay-as-you-go `Usage` export (usage only, no purchases).
    Usage,
    /// `FocusCost`: Cost Management's own FOCUS export (actual and amortized in one), read by
    /// the FOCUS reader.
    Focus,
}

impl Dataset {
    /// The export `definition.type` spelling.
    pub fn export_type(self) -> &'static str {
        match self {
            Dataset::Actual => "ActualCost",
            Dataset::Amortized => "AmortizedCost",
            Dataset::Usage => "Usage",
            Dataset::Focus => "FocusCost",
        }
    }

    /// From an export's `definition.type` (case-insensitive).
    pub fn from_export_type(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "actualcost" | "actual" => Some(Dataset::Actual),
            "amortizedcost" | "amortized" => Some(Dataset::Amortized),
            "usage" => Some(Dataset::Usage),
            "focuscost" | "focus" => Some(Dataset::Focus),
            _ => None,
        }
    }
}

/// Which agreement's column set a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// Enterprise Agreement: `CostInBillingCurrency`, `BillingCurrencyCode`.
    Ea,
    /// Microsoft Customer Agreement: `costInBillingCurrency`, `billingProfileId`, `invoiceId`.
    Mca,
    /// Legacy pay-as-you-go usage details: `PreTaxCost`, `SubscriptionGuid`.
    PayAsYouGo,
}

impl Agreement {
    /// `x_SourceFormat` of its rows.
    pub fn source_format(self) -> &'static str {
        match self {
            Agreement::Ea => "azure-ea",
            Agreement::Mca => "azure-mca",
            Agreement::PayAsYouGo => "azure-payg",
        }
    }
}

/// The columns the mapping reads. Each is found through its aliases, case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Role {
    BillingAccountId,
    BillingAccountName,
    BillingProfileId,
    BillingProfileName,
    BillingPeriodStart,
    BillingPeriodEnd,
    SubscriptionId,
    SubscriptionName,
    Date,
    Cost,
    PaygCost,
    Currency,
    PricingCurrency,
    Quantity,
    UnitPrice,
    PaygPrice,
    MeterId,
    MeterName,
    MeterCategory,
    MeterSubCategory,
    MeterRegion,
    UnitOfMeasure,
    ResourceId,
    ResourceName,
    ResourceGroup,
    ResourceLocation,
    ConsumedService,
    ChargeType,
    PricingModel,
    Frequency,
    ReservationId,
    ReservationName,
    BenefitId,
    BenefitName,
    ProductOrderId,
    Tags,
    AdditionalInfo,
    PublisherName,
    InvoiceId,
    InvoiceSectionId,
    CostCenter,
    ProductName,
    PartNumber,
    OfferId,
    AvailabilityZone,
    ServiceFamily,
}

/// Aliases per role, lower-case, preferred first. The older and localized spellings come from
/// real exports (EA 2019–2024, MCA 2021–2023, pay-as-you-go usage 2019-11-01, portal CSVs).
const ALIASES: &[(Role, &[&str])] = &[
    (Role::BillingAccountId, &["billingaccountid"]),
    (Role::BillingAccountName, &["billingaccountname"]),
    (Role::BillingProfileId, &["billingprofileid"]),
    (Role::BillingProfileName, &["billingprofilename"]),
    (Role::BillingPeriodStart, &["billingperiodstartdate"]),
    (Role::BillingPeriodEnd, &["billingperiodenddate"]),
    (
        Role::SubscriptionId,
        &["subscriptionid", "subscriptionguid"],
    ),
    (Role::SubscriptionName, &["subscriptionname"]),
    (Role::Date, &["date", "usagedatetime", "usagedate"]),
    (Role::Cost, &["costinbillingcurrency", "cost", "pretaxcost"]),
    (Role::PaygCost, &["paygcostinbillingcurrency"]),
    (
        Role::Currency,
        &["billingcurrencycode", "billingcurrency", "currency"],
    ),
    (Role::PricingCurrency, &["pricingcurrency"]),
    (Role::Quantity, &["quantity", "usagequantity"]),
    (Role::UnitPrice, &["unitprice", "resourcerate"]),
    (Role::PaygPrice, &["paygprice"]),
    (Role::MeterId, &["meterid"]),
    (Role::MeterName, &["metername"]),
    (Role::MeterCategory, &["metercategory"]),
    (Role::MeterSubCategory, &["metersubcategory"]),
    (Role::MeterRegion, &["meterregion"]),
    (Role::UnitOfMeasure, &["unitofmeasure"]),
    (
        Role::ResourceId,
        &["resourceid", "instanceid", "instancename"],
    ),
    (Role::ResourceName, &["resourcename"]),
    (Role::ResourceGroup, &["resourcegroup", "resourcegroupname"]),
    (
        Role::ResourceLocation,
        &["resourcelocationnormalized", "resourcelocation", "location"],
    ),
    (Role::ConsumedService, &["consumedservice"]),
    (Role::ChargeType, &["chargetype"]),
    (Role::PricingModel, &["pricingmodel"]),
    (Role::Frequency, &["frequency"]),
    (Role::ReservationId, &["reservationid"]),
    (Role::ReservationName, &["reservationname"]),
    (Role::BenefitId, &["benefitid"]),
    (Role::BenefitName, &["benefitname"]),
    (Role::ProductOrderId, &["productorderid"]),
    (Role::Tags, &["tags"]),
    (Role::AdditionalInfo, &["additionalinfo"]),
    (Role::PublisherName, &["publishername"]),
    (Role::InvoiceId, &["invoiceid"]),
    (Role::InvoiceSectionId, &["invoicesectionid"]),
    (Role::CostCenter, &["costcenter"]),
    (Role::ProductName, &["productname", "product"]),
    (Role::PartNumber, &["partnumber"]),
    (Role::OfferId, &["offerid"]),
    (Role::AvailabilityZone, &["availabilityzone"]),
    (Role::ServiceFamily, &["servicefamily"]),
];

/// The columns whose cells identify a row in both datasets: everything Azure writes alike in
/// actual and amortized (money and prices differ, by design).
const MATCH_ROLES: &[Role] = &[
    Role::BillingAccountId,
    Role::BillingProfileId,
    Role::SubscriptionId,
    Role::Date,
    Role::Quantity,
    Role::MeterId,
    Role::UnitOfMeasure,
    Role::ResourceId,
    Role::ResourceGroup,
    Role::ResourceLocation,
    Role::ConsumedService,
    Role::ChargeType,
    Role::PricingModel,
    Role::Frequency,
    Role::ReservationId,
    Role::BenefitId,
    Role::ProductOrderId,
    Role::Tags,
    Role::AdditionalInfo,
    Role::PublisherName,
    Role::InvoiceSectionId,
    Role::CostCenter,
    Role::PartNumber,
    Role::OfferId,
    Role::AvailabilityZone,
];

/// The English column name of a header cell (Azure portal downloads localize headers as
/// `Localized (Name)`): [`rows::header_name`], then the name in the trailing parentheses.
pub(crate) fn canonical_header(raw: &[u8]) -> String {
    let name = rows::header_name(raw);
    match name
        .strip_suffix(')')
        .and_then(|t| t.rfind('(').map(|open| &t[open + 1..]))
    {
        Some(inner) => inner.trim().to_string(),
        None => name,
    }
}

/// Resolved column positions of one file.
#[derive(Debug)]
struct Columns {
    /// Column of each role, by `Role as usize` (looked up for every cell of every row).
    at: Vec<Option<usize>>,
    agreement: Agreement,
}

impl Columns {
    fn resolve(path: &Path, header: &Record) -> Result<Self> {
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut camel_cost = false;
        for (i, cell) in header.iter().enumerate() {
            let name = canonical_header(cell);
            if cell.ends_with(b"costInBillingCurrency") {
                camel_cost = true;
            }
            if name.is_empty() {
                continue;
            }
            if let Some(first) = by_name.insert(name.clone(), i) {
                return Err(Error::DuplicateColumn {
                    path: path.to_path_buf(),
                    column: name,
                    first: first + 1,
                    second: i + 1,
                });
            }
        }
        let mut at = vec![
            None;
            ALIASES
                .iter()
                .map(|(r, _)| *r as usize + 1)
                .max()
                .unwrap_or(0)
        ];
        for (role, aliases) in ALIASES {
            if let Some(i) = aliases.iter().find_map(|a| by_name.get(*a)) {
                at[*role as usize] = Some(*i);
            }
        }
        let has = |role: Role| at.get(role as usize).copied().flatten().is_some();
        let missing = |column: &str| Error::MissingColumn {
            path: path.to_path_buf(),
            column: column.into(),
            hint: "Billow reads Azure cost details exports (ActualCost, AmortizedCost or the pay-as-you-go Usage export) as Cost Management writes them; check that this is one, not a price sheet or a FocusCost export (use `billow ingest focus` for that).",
        };
        for (role, name) in [
            (Role::Cost, "CostInBillingCurrency (or Cost, PreTaxCost)"),
            (Role::Date, "Date (or UsageDateTime)"),
        ] {
            if !has(role) {
                return Err(missing(name));
            }
        }
        if !has(Role::BillingAccountId)
            && !has(Role::BillingProfileId)
            && !has(Role::SubscriptionId)
        {
            return Err(missing(
                "BillingAccountId (or billingProfileId, SubscriptionGuid)",
            ));
        }
        let agreement = if by_name.contains_key("pretaxcost") {
            Agreement::PayAsYouGo
        } else if camel_cost || by_name.contains_key("invoiceid") {
            Agreement::Mca
        } else {
            Agreement::Ea
        };
        Ok(Columns { at, agreement })
    }

    fn get(&self, role: Role) -> Option<usize> {
        self.at.get(role as usize).copied().flatten()
    }
}

/// The empty GUID older exports write where newer ones leave the cell empty.
const EMPTY_GUID: &[u8] = b"00000000-0000-0000-0000-000000000000";

/// A cell as Billow reads it: trimmed, with `00000000-…` read as empty.
fn clean(raw: &[u8]) -> &[u8] {
    let raw = raw.trim_ascii();
    if raw == EMPTY_GUID { b"" } else { raw }
}

/// An Azure date: `MM/DD/YYYY`, `M/D/YYYY`, `YYYY-MM-DD` or an ISO date-time (its day).
pub fn parse_date(raw: &[u8]) -> Option<NaiveDate> {
    let text = std::str::from_utf8(raw.trim_ascii()).ok()?;
    if let Some((m, rest)) = text.split_once('/') {
        let (d, y) = rest.split_once('/')?;
        let y = y.get(..4).unwrap_or(y);
        return NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    }
    let day = text.get(..10)?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

fn day_micros(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_micros())
        .unwrap_or_default()
}

/// A stable 128-bit identity of a row's matching cells.
fn row_key(record: &Record, cols: &Columns) -> u128 {
    let mut low = std::hash::DefaultHasher::new();
    let mut high = std::hash::DefaultHasher::new();
    0x5eed_u16.hash(&mut high);
    for role in MATCH_ROLES {
        let cell = cols
            .get(*role)
            .and_then(|i| record.get(i))
            .map(clean)
            .unwrap_or_default();
        // Quantities are compared as numbers (`24` and `24.0` are one quantity); resource
        // paths and groups as Azure does, case-insensitively.
        let normalized: Option<Vec<u8>> = match role {
            Role::Quantity => money::parse_decimal(cell)
                .ok()
                .map(|p| p.value.to_le_bytes().to_vec()),
            Role::ResourceId | Role::ResourceGroup | Role::ResourceLocation => {
                Some(cell.to_ascii_lowercase())
            }
            Role::Date => parse_date(cell).map(|d| d.num_days_from_ce().to_le_bytes().to_vec()),
            _ => None,
        };
        let bytes = normalized.as_deref().unwrap_or(cell);
        for h in [&mut low, &mut high] {
            (*role as u8).hash(h);
            bytes.hash(h);
        }
    }
    (u128::from(high.finish()) << 64) | u128::from(low.finish())
}

/// The actual rows of every key, in the order the index read them, and how many amortized
/// rows share that key.
#[derive(Debug, Default)]
struct PairEntry {
    actual_costs: Vec<i128>,
    amortized: u32,
    /// Amortized rows that took a partner so far.
    taken: AtomicU32,
    /// Actual rows seen so far by the decoding pass.
    seen: AtomicU32,
}

/// Matches amortized rows to actual rows across all files of a delivery, so both datasets
/// decode in parallel into one set of FOCUS rows.
///
/// Built by one pass over both datasets (a 128-bit key and the actual cost per row; about
/// 60 bytes per distinct row). During decoding, the *j*-th amortized row of a key takes the
/// *j*-th actual cost of that key as its BilledCost (0 when there is none); the actual rows of
/// a key past the amortized count are emitted on their own with the remaining costs. Rows with
/// the same key are indistinguishable but for cost, so any order gives the same rows, and the
/// sums stay exact.
#[derive(Debug, Default)]
pub struct PairIndex {
    entries: HashMap<u128, PairEntry>,
    /// Actual rows without an amortized partner (filled in by the decoding pass).
    unpaired_actual: AtomicU32,
}

impl PairIndex {
    /// Reads the actual and amortized files once to learn every row's key.
    pub fn build(actual: &[PathBuf], amortized: &[PathBuf]) -> Result<Self> {
        let mut index = PairIndex::default();
        for (files, dataset) in [(actual, Dataset::Actual), (amortized, Dataset::Amortized)] {
            for path in files {
                let mut source = rows::open(path)?;
                let (cols, header_len) = read_header(path, source.as_mut())?;
                let mut record = Record::new();
                let cost_col = cols.get(Role::Cost);
                while rows::next_record(
                    source.as_mut(),
                    &mut record,
                    path,
                    header_len,
                    rows::Width::AtMost,
                )? {
                    let entry = index.entries.entry(row_key(&record, &cols)).or_default();
                    match dataset {
                        Dataset::Amortized => entry.amortized += 1,
                        _ => {
                            let raw =
                                clean(cost_col.and_then(|i| record.get(i)).unwrap_or_default());
                            let cost = if raw.is_empty() {
                                0
                            } else {
                                money::parse_decimal(raw)
                                    .map_err(|_| Error::BadValue {
                                        path: path.clone(),
                                        line: source.line(),
                                        column: "CostInBillingCurrency".into(),
                                        found: String::from_utf8_lossy(&raw[..raw.len().min(80)])
                                            .into_owned(),
                                        expected: "a decimal number within ±10^15",
                                        hint: COST_HINT,
                                    })?
                                    .value
                            };
                            entry.actual_costs.push(cost);
                        }
                    }
                }
            }
        }
        Ok(index)
    }

    /// Actual rows that had no amortized partner in the last decoding pass.
    pub fn unpaired_actual_rows(&self) -> u32 {
        self.unpaired_actual.load(Ordering::Relaxed)
    }

    /// BilledCost for the next amortized row of `key`.
    fn take_for_amortized(&self, key: u128) -> i128 {
        let Some(entry) = self.entries.get(&key) else {
            return 0;
        };
        let j = entry.taken.fetch_add(1, Ordering::Relaxed) as usize;
        entry.actual_costs.get(j).copied().unwrap_or(0)
    }

    /// For the next actual row of `key`: `None` when an amortized row already carries it,
    /// else the BilledCost of the row to emit.
    fn take_for_actual(&self, key: u128, own_cost: i128) -> Option<i128> {
        let Some(entry) = self.entries.get(&key) else {
            return Some(own_cost);
        };
        let j = entry.seen.fetch_add(1, Ordering::Relaxed) as usize;
        let paired = entry.actual_costs.len().min(entry.amortized as usize);
        if j < paired {
            return None;
        }
        self.unpaired_actual.fetch_add(1, Ordering::Relaxed);
        Some(entry.actual_costs.get(j).copied().unwrap_or(own_cost))
    }
}

const COST_HINT: &str = "The cell is damaged or the columns are shifted; download the export again from the storage account.";

fn read_header(path: &Path, source: &mut dyn Rows) -> Result<(Columns, usize)> {
    let mut header = Record::new();
    if !source.read(&mut header)? || header.iter().all(|f| f.trim_ascii().is_empty()) {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok((Columns::resolve(path, &header)?, header.len()))
}

/// The files of one Azure delivery, by dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// `ActualCost` files.
    pub actual: Vec<PathBuf>,
    /// `AmortizedCost` files.
    pub amortized: Vec<PathBuf>,
    /// Legacy pay-as-you-go `Usage` files.
    pub usage: Vec<PathBuf>,
    /// `FocusCost` files.
    pub focus: Vec<PathBuf>,
}

/// One export run, as its `manifest.json` describes it.
#[derive(Debug, Clone)]
struct Run {
    scope: String,
    dataset: Dataset,
    month: String,
    submitted: String,
    files: Vec<PathBuf>,
}

/// The runs of an export folder tree (`<export>/<yyyymmdd-yyyymmdd>/<runId>/manifest.json`),
/// keeping only the latest run of each (scope, dataset, month): every run rewrites the whole
/// month, so earlier runs are superseded, never added. `None` when the tree has no manifest.
pub fn discover_exports(root: &Path) -> Result<Option<Delivery>> {
    let mut manifests = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .file_name()
                .is_some_and(|n| n.eq_ignore_ascii_case("manifest.json"))
            {
                manifests.push(path);
            }
        }
    }
    if manifests.is_empty() {
        return Ok(None);
    }
    manifests.sort();
    let mut latest: BTreeMap<(String, String, String), Run> = BTreeMap::new();
    for manifest in manifests {
        let run = read_manifest(&manifest)?;
        let key = (
            run.scope.to_ascii_lowercase(),
            run.dataset.export_type().to_string(),
            run.month.clone(),
        );
        match latest.get(&key) {
            Some(kept) if kept.submitted >= run.submitted => {}
            _ => {
                latest.insert(key, run);
            }
        }
    }
    let mut delivery = Delivery::default();
    for run in latest.into_values() {
        match run.dataset {
            Dataset::Actual => delivery.actual.extend(run.files),
            Dataset::Amortized => delivery.amortized.extend(run.files),
            Dataset::Usage => delivery.usage.extend(run.files),
            Dataset::Focus => delivery.focus.extend(run.files),
        }
    }
    Ok(Some(delivery))
}

/// Reads an exports-v2 `manifest.json` (2024-04-01; the 2021-01-01 partitioned form too).
fn read_manifest(path: &Path) -> Result<Run> {
    let bad = |detail: String| Error::Manifest {
        path: path.to_path_buf(),
        detail,
        expected: "a Cost Management exports manifest.json (manifestVersion 2024-04-01 or 2021-01-01) beside the run's data files",
    };
    let text = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&text);
    let json: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| bad(format!("not JSON ({e}); download the run folder again")))?;
    let str_at = |pointer: &str| json.pointer(pointer).and_then(|v| v.as_str());
    let export_type = str_at("/exportConfig/type").ok_or_else(|| {
        bad("no exportConfig.type; Billow reads Cost Management exports v2 manifests".into())
    })?;
    let dataset = Dataset::from_export_type(export_type).ok_or_else(|| {
        bad(format!(
            "exportConfig.type is {export_type:?}; Billow reads ActualCost, AmortizedCost, \
             FocusCost and Usage exports (not price sheets or reservation exports)"
        ))
    })?;
    let month = str_at("/runInfo/startDate")
        .map(|d| d.chars().take(7).collect::<String>())
        .ok_or_else(|| bad("no runInfo.startDate".into()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let blobs = json
        .pointer("/blobs")
        .and_then(|b| b.as_array())
        .ok_or_else(|| bad("no blobs list".into()))?;
    let mut files = Vec::new();
    for blob in blobs {
        let name = blob
            .get("blobName")
            .and_then(|n| n.as_str())
            .ok_or_else(|| bad("a blob without blobName".into()))?;
        let file_name = name.rsplit('/').next().unwrap_or(name);
        let file = dir.join(file_name);
        if !file.is_file() {
            return Err(bad(format!(
                "lists {name}, which is not beside the manifest (looked for {}); the run is \
                 incomplete: wait for the export to finish, or download the run folder again",
                file.display()
            )));
        }
        files.push(file);
    }
    Ok(Run {
        scope: str_at("/exportConfig/resourceId")
            .unwrap_or_default()
            .to_string(),
        dataset,
        month,
        submitted: str_at("/runInfo/submittedTime")
            .unwrap_or_default()
            .to_string(),
        files,
    })
}

/// How the reader treats its file's rows.
#[derive(Debug, Clone)]
pub enum Pairing {
    /// The only dataset of the delivery: its cost is BilledCost and EffectiveCost.
    Alone,
    /// The actual half of a pair.
    Actual(Arc<PairIndex>),
    /// The amortized half of a pair.
    Amortized(Arc<PairIndex>),
}

/// FOCUS ChargeCategory, ChargeClass and CommitmentDiscountStatus of an Azure `ChargeType`.
fn charge(charge_type: &str) -> (&'static str, Option<&'static str>, Option<&'static str>) {
    let is = |name: &str| charge_type.eq_ignore_ascii_case(name);
    if charge_type.is_empty() || is("usage") {
        ("Usage", None, None)
    } else if is("purchase") {
        ("Purchase", None, None)
    } else if is("tax") {
        ("Tax", None, None)
    } else if is("refund") {
        // A refund corrects an earlier purchase (a cancelled reservation).
        ("Purchase", Some("Correction"), None)
    } else if is("unusedreservation") || is("unusedsavingsplan") {
        ("Usage", None, Some("Unused"))
    } else {
        ("Adjustment", None, None)
    }
}

/// Azure's `PricingModel`, read without regard to case or spaces (`On Demand`, `OnDemand`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum PricingModel {
    OnDemand,
    Spot,
    Reservation,
    SavingsPlan,
    Other,
}

impl PricingModel {
    fn of(text: &str) -> Self {
        let same = |name: &str| {
            text.bytes()
                .filter(|b| *b != b' ')
                .map(|b| b.to_ascii_lowercase())
                .eq(name.bytes())
        };
        if same("ondemand") {
            PricingModel::OnDemand
        } else if same("spot") {
            PricingModel::Spot
        } else if same("reservation") {
            PricingModel::Reservation
        } else if same("savingsplan") {
            PricingModel::SavingsPlan
        } else {
            PricingModel::Other
        }
    }
}

/// Where `needle` (ASCII) first / last occurs in `haystack`, ignoring ASCII case.
fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (0..=h.len().checked_sub(n.len())?).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

fn rfind_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (0..=h.len().checked_sub(n.len())?)
        .rev()
        .find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// FOCUS ServiceCategory of an Azure `ConsumedService` resource provider.
pub fn service_category(consumed_service: &str) -> &'static str {
    let provider = consumed_service.to_ascii_lowercase();
    let provider = provider.strip_prefix("microsoft.").unwrap_or(&provider);
    match provider {
        "compute" | "classiccompute" | "containerservice" | "containerinstance" | "web"
        | "batch" | "avs" => "Compute",
        "storage" | "classicstorage" | "netapp" | "recoveryservices" | "datashare" => "Storage",
        "sql" | "dbformysql" | "dbforpostgresql" | "dbformariadb" | "documentdb" | "cache"
        | "kusto" | "synapse" => "Databases",
        "network" | "cdn" | "classicnetwork" => "Networking",
        "insights" | "operationalinsights" | "automation" | "advisor" | "monitor" => {
            "Management and Governance"
        }
        "keyvault" | "security" | "azureactivedirectory" | "aad" => "Security",
        "datafactory" | "databricks" | "hdinsight" | "streamanalytics" | "analysisservices"
        | "powerbidedicated" => "Analytics",
        "cognitiveservices" | "machinelearningservices" | "search" | "botservice" => {
            "AI and Machine Learning"
        }
        "eventhub" | "servicebus" | "logic" | "apimanagement" | "eventgrid" | "relay" => {
            "Integration"
        }
        _ => "Other",
    }
}

/// FOCUS ServiceCategory and ServiceSubcategory of an Azure `MeterCategory` (the service
/// name users see). Each name maps to exactly one pair, as FOCUS requires.
const METER_CATEGORIES: &[(&str, &str, &str)] = &[
    ("virtual machines", "Compute", "Virtual Machines"),
    ("virtual machines licenses", "Compute", "Virtual Machines"),
    ("azure kubernetes service", "Compute", "Containers"),
    ("container instances", "Compute", "Containers"),
    ("container registry", "Compute", "Containers"),
    ("functions", "Compute", "Serverless Compute"),
    ("azure app service", "Web", "Application Platforms"),
    ("storage", "Storage", "Storage Platforms"),
    ("backup", "Storage", "Backup Storage"),
    ("bandwidth", "Networking", "Network Connectivity"),
    ("virtual network", "Networking", "Network Infrastructure"),
    ("load balancer", "Networking", "Application Networking"),
    (
        "application gateway",
        "Networking",
        "Application Networking",
    ),
    ("vpn gateway", "Networking", "Network Connectivity"),
    ("expressroute", "Networking", "Network Connectivity"),
    ("azure dns", "Networking", "Network Routing"),
    ("azure firewall", "Networking", "Network Security"),
    ("network watcher", "Networking", "Network Infrastructure"),
    ("content delivery network", "Networking", "Content Delivery"),
    ("azure front door service", "Networking", "Content Delivery"),
    ("sql database", "Databases", "Relational Databases"),
    ("sql managed instance", "Databases", "Relational Databases"),
    (
        "azure database for mysql",
        "Databases",
        "Relational Databases",
    ),
    (
        "azure database for postgresql",
        "Databases",
        "Relational Databases",
    ),
    ("azure cosmos db", "Databases", "NoSQL Databases"),
    ("redis cache", "Databases", "Caching"),
    ("azure synapse analytics", "Databases", "Data Warehouses"),
    ("azure data factory v2", "Analytics", "Data Processing"),
    ("azure databricks", "Analytics", "Data Processing"),
    (
        "log analytics",
        "Management and Governance",
        "Observability",
    ),
    (
        "azure monitor",
        "Management and Governance",
        "Observability",
    ),
    (
        "application insights",
        "Management and Governance",
        "Observability",
    ),
    (
        "insight and analytics",
        "Management and Governance",
        "Observability",
    ),
    ("key vault", "Security", "Secret Management"),
    (
        "microsoft defender for cloud",
        "Security",
        "Threat Detection and Response",
    ),
    (
        "cognitive services",
        "AI and Machine Learning",
        "AI Platforms",
    ),
    ("azure openai", "AI and Machine Learning", "Generative AI"),
    ("event hubs", "Integration", "Messaging"),
    ("service bus", "Integration", "Messaging"),
    ("logic apps", "Integration", "Workflow Orchestration"),
    ("api management", "Integration", "API Management"),
];

/// ServiceName, ServiceCategory and ServiceSubcategory of a row: the meter category when the
/// export has one, else the resource provider. A name always maps to the same pair.
fn service_of<'a>(
    meter_category: Option<&'a str>,
    consumed_service: Option<&'a str>,
) -> (&'a str, &'static str, std::borrow::Cow<'static, str>) {
    use std::borrow::Cow;
    if let Some(name) = meter_category {
        return match METER_CATEGORIES
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        {
            Some((_, category, sub)) => (name, category, Cow::Borrowed(*sub)),
            None => (name, "Other", Cow::Borrowed("Other (Other)")),
        };
    }
    match consumed_service {
        Some(provider) => {
            let category = service_category(provider);
            (
                provider,
                category,
                Cow::Owned(format!("Other ({category})")),
            )
        }
        None => ("Azure", "Other", Cow::Borrowed("Other (Other)")),
    }
}

/// The FOCUS UnitFormat of an Azure `UnitOfMeasure`: `1 Hour` → `Hours`, `10 Hours` →
/// `10 Hours`, `1 GB/Month` → `GB/Month`, `10K` → `10000` (a block of a count).
fn unit_of(measure: &str) -> String {
    let measure = measure.trim();
    let digits = measure
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(measure.len());
    let (number, rest) = measure.split_at(digits);
    let (number, rest) = match rest.strip_prefix('K') {
        Some(r) if !number.is_empty() && (r.is_empty() || r.starts_with(' ')) => {
            (format!("{number}000"), r)
        }
        _ => (number.to_string(), rest),
    };
    let rest = rest.trim();
    if let Some(time) = rest.strip_prefix('/')
        && !matches!(number.as_str(), "" | "1")
    {
        // `100/Hour` (Cosmos DB's 100 RU/s for an hour): blocks of unit-hours. A quantity
        // cannot precede a rate in the UnitFormat, so the block is named as a count.
        let plural = billow_focus::units::normalize(time.trim());
        return format!("{number} Unit {plural}");
    }
    let unit = if rest.is_empty() {
        "Units".to_string()
    } else if rest.starts_with('/') {
        format!("Units{rest}")
    } else {
        billow_focus::units::normalize(rest).into_owned()
    };
    match number.as_str() {
        "" | "1" => unit,
        n => format!("{n} {unit}"),
    }
}

/// `Tags` as a JSON object: Azure writes it with or without the braces; empty is null.
fn tags_json(raw: &[u8]) -> std::result::Result<Option<String>, ()> {
    let text = std::str::from_utf8(raw.trim_ascii()).map_err(|_| ())?;
    if text.is_empty() || text == "{}" {
        return Ok(None);
    }
    let wrapped;
    let object = if text.starts_with('{') {
        text
    } else {
        wrapped = format!("{{{text}}}");
        &wrapped
    };
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(object).map_err(|_| ())?;
    if map.is_empty() {
        return Ok(None);
    }
    let map: serde_json::Map<String, serde_json::Value> = map
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => serde_json::Value::String(s),
                other => serde_json::Value::String(other.to_string()),
            };
            (k.trim().to_string(), v)
        })
        .collect();
    serde_json::to_string(&map).map(Some).map_err(|_| ())
}

/// Reads one Azure cost details file into lake batches.
pub struct AzureCostReader {
    path: PathBuf,
    file_name: String,
    source: Box<dyn Rows>,
    record: Record,
    header_len: usize,
    cols: Columns,
    pairing: Pairing,
    builder: FocusBatchBuilder,
    options: ReadOptions,
    totals: PeriodTotals,
    /// Tags JSON by raw cell.
    tag_cache: HashMap<Box<[u8]>, Option<String>>,
    rows: u64,
    state: ReadState,
}

/// Distinct tag cells remembered per reader (a few MB at most).
const TAG_CACHE_ENTRIES: usize = 16_384;

impl AzureCostReader {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path, options: ReadOptions, pairing: Pairing) -> Result<Self> {
        let mut source = rows::open(path)?;
        let (cols, header_len) = read_header(path, source.as_mut())?;
        Ok(AzureCostReader {
            path: path.to_path_buf(),
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            source,
            record: Record::new(),
            header_len,
            cols,
            pairing,
            builder: FocusBatchBuilder::new(options.batch_rows),
            options,
            totals: BTreeMap::new(),
            tag_cache: HashMap::new(),
            rows: 0,
            state: ReadState::default(),
        })
    }

    /// The agreement the file's columns belong to.
    pub fn agreement(&self) -> Agreement {
        self.cols.agreement
    }

    fn map_row(&mut self) -> Result<()> {
        let cells = Cells {
            record: &self.record,
            cols: &self.cols,
            path: &self.path,
            line: self.source.line(),
        };
        let date = cells
            .date(Role::Date, "Date")?
            .ok_or_else(|| cells.bad("Date", b"", "the usage day"))?;
        let own_cost = cells
            .decimal(Role::Cost, "CostInBillingCurrency")?
            .unwrap_or(0);
        let key = match &self.pairing {
            Pairing::Alone => 0,
            _ => row_key(cells.record, cells.cols),
        };
        // (billed, effective) of the row to emit, or None when its partner carries it.
        let costs = match &self.pairing {
            Pairing::Alone => Some((own_cost, own_cost)),
            Pairing::Amortized(index) => Some((index.take_for_amortized(key), own_cost)),
            Pairing::Actual(index) => index.take_for_actual(key, own_cost).map(|b| (b, 0)),
        };

        let period_start = match cells.date(Role::BillingPeriodStart, "BillingPeriodStartDate")? {
            Some(d) => d,
            None => NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or(date),
        };
        let period_end = match cells.date(Role::BillingPeriodEnd, "BillingPeriodEndDate")? {
            // Azure's end date is the last day of the period, inclusive.
            Some(d) => d.succ_opt().unwrap_or(d),
            None => period_start
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(period_start),
        };
        let period = format!("{:04}-{:02}", period_start.year(), period_start.month());
        let agreement = self.cols.agreement;
        let subscription = cells.text(Role::SubscriptionId, "SubscriptionId")?;
        let account = match agreement {
            // Microsoft's own FOCUS mapping: an MCA's invoices go to the billing profile.
            Agreement::Mca => cells
                .text(Role::BillingProfileId, "billingProfileId")?
                .or(cells.text(Role::BillingAccountId, "billingAccountId")?),
            _ => cells
                .text(Role::BillingAccountId, "BillingAccountId")?
                .or(cells.text(Role::BillingProfileId, "BillingProfileId")?),
        }
        .or(subscription)
        .ok_or_else(|| {
            cells.bad(
                "SubscriptionId",
                b"",
                "the billing account, billing profile or subscription the row is billed to",
            )
        })?
        .to_string();
        let charge_type = cells.text(Role::ChargeType, "ChargeType")?.unwrap_or("");
        let (category, class, mut status) = charge(charge_type);

        // The source's own totals, from the cells' exact text.
        let raw_cost = cells.raw(Role::Cost).to_vec();
        let mut exact = ExactSum::default();
        if !raw_cost.is_empty() {
            exact
                .add_text(&raw_cost)
                .map_err(|_| Error::TotalOverflow {
                    path: self.path.clone(),
                    column: "CostInBillingCurrency",
                })?;
        }
        let emitted = costs.is_some();
        let g = self
            .totals
            .entry(period.clone())
            .or_default()
            .entry((account.clone(), category))
            .or_default();
        let overflow = || Error::TotalOverflow {
            path: self.path.clone(),
            column: "CostInBillingCurrency",
        };
        match self.pairing {
            Pairing::Alone => {
                g.billed.merge(&exact).map_err(|_| overflow())?;
                g.effective.merge(&exact).map_err(|_| overflow())?;
            }
            Pairing::Actual(_) => g.billed.merge(&exact).map_err(|_| overflow())?,
            Pairing::Amortized(_) => g.effective.merge(&exact).map_err(|_| overflow())?,
        }
        if emitted {
            g.rows += 1;
        }
        let Some((billed, effective)) = costs else {
            return Ok(());
        };

        let pricing_model = cells
            .text(Role::PricingModel, "PricingModel")?
            .unwrap_or("");
        let benefit_id = cells
            .text(Role::BenefitId, "benefitId")?
            .or(cells.text(Role::ReservationId, "ReservationId")?);
        let benefit_name = cells
            .text(Role::BenefitName, "benefitName")?
            .or(cells.text(Role::ReservationName, "ReservationName")?);
        let model = PricingModel::of(pricing_model);
        let savings_plan = model == PricingModel::SavingsPlan
            || charge_type.eq_ignore_ascii_case("unusedsavingsplan")
            || benefit_id.is_some_and(|b| find_ignore_case(b, "billingbenefits").is_some());
        let reservation = !savings_plan
            && (model == PricingModel::Reservation
                || charge_type.eq_ignore_ascii_case("unusedreservation"));
        let commitment = savings_plan || reservation;
        if commitment && status.is_none() && category == "Usage" {
            status = Some("Used");
        }
        let pricing_category = match model {
            PricingModel::OnDemand => Some("Standard"),
            PricingModel::Spot => Some("Dynamic"),
            // The purchase of a commitment is bought at its standard price; only the usage it
            // covers is priced by the commitment (the spec's purchase scenarios).
            PricingModel::Reservation | PricingModel::SavingsPlan if category == "Usage" => {
                Some("Committed")
            }
            _ if matches!(category, "Usage" | "Purchase") => Some("Standard"),
            _ => None,
        };
        let frequency = match cells
            .text(Role::Frequency, "Frequency")?
            .unwrap_or("")
            .to_ascii_lowercase()
            .as_str()
        {
            "usagebased" => "Usage-Based",
            "recurring" => "Recurring",
            "onetime" => "One-Time",
            _ if category == "Usage" => "Usage-Based",
            _ => "One-Time",
        };
        let quantity = cells.decimal(Role::Quantity, "Quantity")?;
        // A quantity always has a unit in FOCUS; a row with a quantity but no UnitOfMeasure
        // (some savings plan rows) counts units.
        let unit = cells
            .text(Role::UnitOfMeasure, "UnitOfMeasure")?
            .map(unit_of)
            .or_else(|| quantity.map(|_| "Units".to_string()));
        let unit_price = cells.decimal(Role::UnitPrice, "UnitPrice")?;
        let payg_price = cells.decimal(Role::PaygPrice, "PayGPrice")?;
        let list_cost = match cells.decimal(Role::PaygCost, "paygCostInBillingCurrency")? {
            Some(c) => c,
            None => match (payg_price, quantity) {
                (Some(p), Some(q)) => money::mul(p, q).ok_or_else(|| {
                    cells.bad(
                        "PayGPrice",
                        cells.raw(Role::PaygPrice),
                        "a price whose cost stays within ±10^15",
                    )
                })?,
                _ => billed.max(effective),
            },
        };
        let contracted_cost = match (unit_price, quantity) {
            (Some(p), Some(q)) if !commitment => money::mul(p, q).unwrap_or(billed),
            _ => billed.max(effective),
        };
        let currency = cells
            .text(Role::Currency, "BillingCurrency")?
            .unwrap_or("USD");
        let pricing_currency = cells
            .text(Role::PricingCurrency, "pricingCurrency")?
            .unwrap_or(currency);
        let location = cells.text(Role::ResourceLocation, "ResourceLocation")?;
        let resource_id = cells.text(Role::ResourceId, "ResourceId")?;
        let resource_name = cells
            .text(Role::ResourceName, "ResourceName")?
            .or_else(|| resource_id.and_then(|r| r.rsplit('/').find(|s| !s.is_empty())));
        let resource_type = resource_id.and_then(resource_type_of);
        let consumed = cells.text(Role::ConsumedService, "ConsumedService")?;
        let meter_category = cells.text(Role::MeterCategory, "MeterCategory")?;
        let meter_sub = cells.text(Role::MeterSubCategory, "MeterSubCategory")?;
        let meter_name = cells.text(Role::MeterName, "MeterName")?;
        let product = cells.text(Role::ProductName, "ProductName")?;
        // A resource's tags repeat on every day of the month: each distinct cell is parsed
        // once (the cache is emptied when it grows past a bound).
        let raw_tags = cells.raw(Role::Tags);
        if !self.tag_cache.contains_key(raw_tags) {
            let parsed = tags_json(raw_tags).map_err(|_| {
                cells.bad(
                    "Tags",
                    raw_tags,
                    "a JSON object of tags, with or without its braces",
                )
            })?;
            if self.tag_cache.len() >= TAG_CACHE_ENTRIES {
                self.tag_cache.clear();
            }
            self.tag_cache.insert(raw_tags.into(), parsed);
        }
        let tags = self.tag_cache.get(raw_tags).and_then(Option::as_deref);
        let subscription_name = cells.text(Role::SubscriptionName, "SubscriptionName")?;
        let account_name = match agreement {
            Agreement::Mca => cells.text(Role::BillingProfileName, "billingProfileName")?,
            _ => cells.text(Role::BillingAccountName, "BillingAccountName")?,
        };
        let publisher = cells.text(Role::PublisherName, "PublisherName")?;
        let invoice = cells.text(Role::InvoiceId, "invoiceId")?;
        let meter_id = cells.text(Role::MeterId, "MeterId")?;
        let zone = cells.text(Role::AvailabilityZone, "AvailabilityZone")?;
        let line = cells.line;
        let sub_account = subscription.map(|s| format!("/subscriptions/{s}"));
        let charge_start = day_micros(date);
        let charge_end = day_micros(date.succ_opt().unwrap_or(date));
        let (service_name, service_category, service_subcategory) =
            service_of(meter_category, consumed);

        let b = &mut self.builder;
        b.str(ix!("AvailabilityZone"), zone);
        b.dec(ix!("BilledCost"), Some(billed));
        b.str(ix!("BillingAccountId"), Some(&account));
        b.str(ix!("BillingAccountName"), account_name);
        b.str(
            ix!("BillingAccountType"),
            Some(match agreement {
                Agreement::Ea => "Enrollment",
                Agreement::Mca => "Billing Profile",
                Agreement::PayAsYouGo => "Subscription",
            }),
        );
        b.str(ix!("BillingCurrency"), Some(currency));
        b.ts(ix!("BillingPeriodEnd"), Some(day_micros(period_end)));
        b.ts(ix!("BillingPeriodStart"), Some(day_micros(period_start)));
        b.str(ix!("ChargeCategory"), Some(category));
        b.str(ix!("ChargeClass"), class);
        // Commitment rows without a meter (a savings plan's purchase and unused part) are
        // described by what they are.
        let description = product
            .or(meter_name)
            .or(match (status, savings_plan) {
                (Some("Unused"), true) => Some("Unused savings plan commitment"),
                (Some("Unused"), false) => Some("Unused reservation"),
                _ => None,
            })
            .or(benefit_name);
        b.str(ix!("ChargeDescription"), description);
        b.str(ix!("ChargeFrequency"), Some(frequency));
        b.ts(ix!("ChargePeriodEnd"), Some(charge_end));
        b.ts(ix!("ChargePeriodStart"), Some(charge_start));
        b.str(
            ix!("CommitmentDiscountCategory"),
            commitment.then_some(if savings_plan { "Spend" } else { "Usage" }),
        );
        b.str(
            ix!("CommitmentDiscountId"),
            benefit_id.filter(|_| commitment),
        );
        b.str(
            ix!("CommitmentDiscountName"),
            benefit_name.filter(|_| commitment),
        );
        b.str(
            ix!("CommitmentDiscountStatus"),
            status.filter(|_| category == "Usage" && commitment),
        );
        b.str(
            ix!("CommitmentDiscountType"),
            commitment.then_some(if savings_plan {
                "Savings Plan"
            } else {
                "Reservation"
            }),
        );
        // FOCUS: nothing is consumed by a non-usage charge or by a commitment's unused part.
        let usage_quantity = quantity.filter(|_| category == "Usage" && status != Some("Unused"));
        b.dec(ix!("ConsumedQuantity"), usage_quantity);
        b.str(ix!("ConsumedUnit"), usage_quantity.and(unit.as_deref()));
        b.dec(ix!("ContractedCost"), Some(contracted_cost));
        b.dec(ix!("ContractedUnitPrice"), unit_price);
        b.dec(ix!("EffectiveCost"), Some(effective));
        b.str(ix!("InvoiceId"), invoice);
        b.str(ix!("InvoiceIssuerName"), Some("Microsoft"));
        b.dec(ix!("ListCost"), Some(list_cost));
        b.dec(ix!("ListUnitPrice"), payg_price);
        b.str(ix!("PricingCategory"), pricing_category);
        b.str(ix!("PricingCurrency"), Some(pricing_currency));
        b.dec(ix!("PricingCurrencyContractedUnitPrice"), unit_price);
        b.dec(ix!("PricingCurrencyEffectiveCost"), Some(effective));
        b.dec(ix!("PricingCurrencyListUnitPrice"), payg_price);
        b.dec(ix!("PricingQuantity"), quantity);
        b.str(ix!("PricingUnit"), quantity.and(unit.as_deref()));
        b.str(ix!("ProviderName"), Some("Microsoft"));
        b.str(ix!("PublisherName"), Some(publisher.unwrap_or("Microsoft")));
        b.str(ix!("RegionId"), location);
        b.str(ix!("RegionName"), location);
        b.str(ix!("ResourceId"), resource_id);
        b.str(ix!("ResourceName"), resource_name);
        b.str(ix!("ResourceType"), resource_type.as_deref());
        b.str(ix!("ServiceCategory"), Some(service_category));
        b.str(ix!("ServiceName"), Some(service_name));
        b.str(ix!("ServiceSubcategory"), Some(&service_subcategory));
        // A price belongs to exactly one SKU (FOCUS): the meter is both.
        b.str(ix!("SkuId"), meter_id);
        b.str(ix!("SkuMeter"), meter_sub.or(meter_name));
        b.str(ix!("SkuPriceId"), meter_id);
        b.str(ix!("SubAccountId"), sub_account.as_deref());
        b.str(
            ix!("SubAccountName"),
            subscription_name.or(sub_account.as_deref()),
        );
        b.str(ix!("SubAccountType"), subscription.map(|_| "Subscription"));
        b.str(ix!("Tags"), tags);
        b.str(ix!(x::CONNECTION_ID), Some(&self.options.connection_id));
        b.str(ix!(x::BILLING_PERIOD), Some(&period));
        b.str(ix!(x::SOURCE_FORMAT), Some(agreement.source_format()));
        b.str(ix!(x::SOURCE_FILE), Some(&self.file_name));
        b.int(ix!(x::SOURCE_LINE), Some(line as i64));
        b.str(ix!(x::INGESTION_ID), Some(&self.options.ingestion_id));
        b.str(
            ix!(x::LINE_ITEM_TYPE),
            (!charge_type.is_empty()).then_some(charge_type),
        );
        b.str(ix!(x::SERVICE_CODE), consumed);
        b.str(ix!(x::USAGE_TYPE), meter_name);
        b.end_row();
        self.rows += 1;
        Ok(())
    }

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
    cols: &'a Columns,
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
            hint: COST_HINT,
        }
    }

    fn raw(&self, role: Role) -> &'a [u8] {
        clean(
            self.cols
                .get(role)
                .and_then(|i| self.record.get(i))
                .unwrap_or_default(),
        )
    }

    fn text(&self, role: Role, column: &str) -> Result<Option<&'a str>> {
        let raw = self.raw(role);
        if raw.is_empty() {
            return Ok(None);
        }
        std::str::from_utf8(raw)
            .map(Some)
            .map_err(|_| self.bad(column, raw, "UTF-8 text"))
    }

    fn decimal(&self, role: Role, column: &str) -> Result<Option<i128>> {
        let raw = self.raw(role);
        if raw.is_empty() {
            return Ok(None);
        }
        money::parse_decimal(raw)
            .map(|p| Some(p.value))
            .map_err(|_| self.bad(column, raw, "a decimal number within ±10^15"))
    }

    fn date(&self, role: Role, column: &str) -> Result<Option<NaiveDate>> {
        let raw = self.raw(role);
        if raw.is_empty() {
            return Ok(None);
        }
        parse_date(raw)
            .map(Some)
            .ok_or_else(|| self.bad(column, raw, "a date like 09/21/2023 or 2023-09-21"))
    }
}

/// `Microsoft.Compute/virtualMachines` from a resource id's provider segment.
fn resource_type_of(resource_id: &str) -> Option<String> {
    let at = rfind_ignore_case(resource_id, "/providers/")?;
    let rest = &resource_id[at + "/providers/".len()..];
    let mut parts = rest.split('/');
    let namespace = parts.next()?;
    let kind = parts.next()?;
    Some(format!("{namespace}/{kind}"))
}

impl AzureCostReader {
    /// What the whole file held, for [`crate::read::FileSummary`].
    fn file_summary(&mut self) -> FileSummary {
        FileSummary {
            file: self.path.clone(),
            rows: self.rows,
            totals: totals_by_period(std::mem::take(&mut self.totals)),
            source_format: self.cols.agreement.source_format(),
        }
    }
}

crate::read::batch_reader!(AzureCostReader);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localized_and_cased_headers_resolve_to_their_english_name() {
        assert_eq!(
            canonical_header(b"\xef\xbb\xbfSubscriptionGuid"),
            "subscriptionguid"
        );
        assert_eq!(
            canonical_header("Abonnement-GUID (SubscriptionGuid)".as_bytes()),
            "subscriptionguid"
        );
        assert_eq!(
            canonical_header("Maßeinheit (UnitOfMeasure)".as_bytes()),
            "unitofmeasure"
        );
        assert_eq!(
            canonical_header(b"costInBillingCurrency"),
            "costinbillingcurrency"
        );
    }

    #[test]
    fn dates_in_every_azure_spelling() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(parse_date(b"09/21/2023"), d(2023, 9, 21));
        assert_eq!(parse_date(b"9/1/2023"), d(2023, 9, 1));
        assert_eq!(parse_date(b"2023-09-21"), d(2023, 9, 21));
        assert_eq!(parse_date(b"2023-09-21T00:00:00.0000000Z"), d(2023, 9, 21));
        assert_eq!(parse_date(b"21.09.2023"), None);
        assert_eq!(parse_date(b"13/01/2023"), None);
    }

    #[test]
    fn units_follow_the_focus_unit_format() {
        for (azure, focus) in [
            ("1 Hour", "Hours"),
            ("10 Hours", "10 Hours"),
            ("1 GB/Month", "GB/Month"),
            ("1 GB", "GB"),
            ("10K", "10000 Units"),
            ("10000", "10000 Units"),
            ("1/Month", "Units/Month"),
            ("100/Hour", "100 Unit Hours"),
            ("1/Hour", "Units/Hour"),
        ] {
            let got = unit_of(azure);
            assert_eq!(got, focus, "{azure}");
            assert!(billow_focus::units::is_unit_format(&got), "{got}");
        }
    }

    #[test]
    fn tags_with_or_without_braces_become_one_json_object() {
        assert_eq!(
            tags_json(br#""env": "prod","team": "web""#)
                .unwrap()
                .as_deref(),
            Some(r#"{"env":"prod","team":"web"}"#)
        );
        assert_eq!(
            tags_json(br#"{"team": "data", " org": "x"}"#)
                .unwrap()
                .as_deref(),
            Some(r#"{"org":"x","team":"data"}"#)
        );
        assert_eq!(tags_json(b"").unwrap(), None);
        assert!(tags_json(b"team: web").is_err());
    }

    #[test]
    fn a_service_name_has_one_category_and_subcategory() {
        let (name, category, sub) =
            service_of(Some("Virtual Machines"), Some("Microsoft.Capacity"));
        assert_eq!(
            (name, category, sub.as_ref()),
            ("Virtual Machines", "Compute", "Virtual Machines")
        );
        let (_, category, sub) = service_of(None, Some("Microsoft.Storage"));
        assert_eq!((category, sub.as_ref()), ("Storage", "Other (Storage)"));
    }
}
