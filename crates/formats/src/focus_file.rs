//! FOCUS files from any source: a SaaS vendor's export, another tool's output, a provider's
//! own FOCUS export. CSV (plain, gzip, zip) or Parquet, FOCUS 1.0 to 1.4.
//!
//! The file is already FOCUS, so the reader normalizes spelling, not meaning: columns are
//! matched by name (case-insensitively, with the renames between versions), `NULL`/`null`/
//! `None` and empty cells are null, enumeration values take the spec's exact spelling
//! (`Usage-based` becomes `Usage-Based`), money is parsed exactly from text, date/times are
//! read in the spellings files use (`2024-09-01 00:00:00` as well as RFC 3339). A value FOCUS
//! does not allow (an unknown ChargeCategory, a cost that is not a number, a missing
//! mandatory value) is an error naming the file, line and column; Billow does not guess.
//!
//! One file may hold several billing periods (the FOCUS sample holds 2024-09 and one row of
//! 2024-10); each row goes to its own period, from its BillingPeriodStart.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use arrow::datatypes::DataType;
use billow_focus::enums::{
    CapacityReservationStatus, ChargeCategory, ChargeClass, ChargeFrequency,
    CommitmentDiscountCategory, CommitmentDiscountStatus, PricingCategory, ServiceCategory,
};
use billow_focus::money::{self, ExactSum};
use billow_focus::schema::{FOCUS_COLUMNS, FocusType, LAKE_REQUIRED, focus_schema, x};

use crate::batch::{
    FocusBatchBuilder, GroupTotals, close_json_object, push_json_member, totals_by_period,
};
use crate::csv_file::Record;
use crate::read::{FileSummary, ReadOptions, ReadState};
use crate::rows::{self, Rows};
use crate::timestamp::{parse_utc_micros, year_month};
use crate::{Error, Result};

/// Names a column had in other FOCUS versions (or in provider previews of FOCUS), by the
/// FOCUS 1.2 name the lake uses.
const ALIASES: [(&str, &[&str]); 6] = [
    // 1.3 renamed the two parties; Billow's 1.4 export writes the provider as host and the
    // publisher as service provider, and reads them back the same way. OCI's 1.0 preview
    // files say `Provider`, `Publisher` and `InvoiceIssuer`.
    ("ProviderName", &["HostProviderName", "Provider"]),
    ("PublisherName", &["ServiceProviderName", "Publisher"]),
    ("InvoiceIssuerName", &["InvoiceIssuer"]),
    // 1.0-preview names (OCI's FOCUS reports still carry them next to the 1.0 ones).
    ("RegionId", &["Region"]),
    ("ConsumedQuantity", &["UsageQuantity"]),
    ("ConsumedUnit", &["UsageUnit"]),
];

/// Cost and Usage columns of FOCUS 1.3 and 1.4 that the lake's 1.2 schema has no place for:
/// kept in x_Extensions under their own names.
const LATER_FOCUS_COLUMNS: [&str; 8] = [
    "AllocatedMethodId",
    "AllocatedMethodDetails",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
    "ContractApplied",
    "CommitmentProgramEligibilityDetails",
    "InvoiceDetailId",
];

/// `x_` columns of provider FOCUS exports that the lake keeps as its own columns (AWS writes
/// the first three; Billow's exports write them all).
const KEPT_X_COLUMNS: [&str; 5] = [
    x::SERVICE_CODE,
    x::USAGE_TYPE,
    x::OPERATION,
    x::LINE_ITEM_TYPE,
    x::INVOICING_ENTITY,
];

/// Cells that mean "no value" in FOCUS files seen in the wild.
fn is_null(cell: &[u8]) -> bool {
    matches!(cell, b"" | b"NULL" | b"null" | b"None")
}

/// The FOCUS version a header follows, from the columns each version introduced or removed.
fn detect_version(names: &HashMap<String, usize>) -> &'static str {
    let has = |n: &str| names.contains_key(&n.to_ascii_lowercase());
    if has("ServiceProviderName") || has("HostProviderName") {
        if has("ContractApplied") || has("ContractId") {
            "focus-1.4"
        } else {
            "focus-1.3"
        }
    } else if has("PricingCurrency") || has("InvoiceId") || has("ServiceSubcategory") {
        "focus-1.2"
    } else if has("CapacityReservationId") || has("CommitmentDiscountQuantity") {
        "focus-1.1"
    } else {
        "focus-1.0"
    }
}

/// Exact sums per (billing account, charge category), in order of first appearance.
type Groups = Vec<((String, &'static str), GroupTotals)>;

/// How one lake column is filled from the file.
#[derive(Clone, Copy)]
enum Fill {
    /// From this source column.
    Column(usize),
    /// Billow's own value (connection, period, file, line, ingestion, format).
    Own,
    /// Not in the file: null.
    Absent,
}

/// Reads one FOCUS file into lake batches.
pub struct FocusFileReader {
    path: PathBuf,
    file_name: String,
    source: Box<dyn Rows>,
    record: Record,
    header_len: usize,
    fills: Vec<Fill>,
    /// Extension columns of the file: the name they keep in x_Extensions, and their index.
    extensions: Vec<(String, usize)>,
    /// The file's own x_Extensions column (a Billow export read back).
    earlier_extensions: Option<usize>,
    /// x_Extensions of the current row, reused.
    extension_json: String,
    kinds: Vec<Option<FocusType>>,
    names: Vec<&'static str>,
    builder: FocusBatchBuilder,
    options: ReadOptions,
    format: &'static str,
    /// Per lake column: FOCUS requires a value (a null is kept and reported).
    spec_mandatory: Vec<bool>,
    /// Nulls met in columns FOCUS requires, per column: an upstream problem to report.
    nulls_in_mandatory: BTreeMap<&'static str, u64>,
    /// Per billing period: (billing account, charge category) → exact sums of the cells.
    totals: BTreeMap<String, Groups>,
    rows: u64,
    state: ReadState,
}

impl FocusFileReader {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path, options: ReadOptions) -> Result<Self> {
        let mut source = rows::open(path)?;
        let mut header = Record::new();
        if !source.read(&mut header)? || header.iter().all(|f| f.is_empty()) {
            return Err(Error::Empty {
                path: path.to_path_buf(),
            });
        }
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            let name = String::from_utf8_lossy(name.strip_prefix(b"\xef\xbb\xbf").unwrap_or(name))
                .trim()
                .to_ascii_lowercase();
            if let Some(first) = by_name.insert(name.clone(), i) {
                return Err(Error::DuplicateColumn {
                    path: path.to_path_buf(),
                    column: name,
                    first: first + 1,
                    second: i + 1,
                });
            }
        }
        let find = |name: &str| -> Option<usize> {
            by_name
                .get(&name.to_ascii_lowercase())
                .copied()
                .or_else(|| {
                    ALIASES
                        .iter()
                        .find(|(n, _)| *n == name)
                        .and_then(|(_, aliases)| {
                            aliases
                                .iter()
                                .find_map(|a| by_name.get(&a.to_ascii_lowercase()).copied())
                        })
                })
        };
        let schema = focus_schema();
        let mut fills = Vec::with_capacity(schema.fields().len());
        let mut kinds = Vec::with_capacity(schema.fields().len());
        let mut names = Vec::with_capacity(schema.fields().len());
        let mut spec_mandatory = Vec::with_capacity(schema.fields().len());
        let mut missing = Vec::new();
        for field in schema.fields() {
            let name = field.name().as_str();
            let spec = FOCUS_COLUMNS.iter().find(|c| c.name == name);
            names.push(spec.map_or("", |c| c.name));
            spec_mandatory.push(spec.is_some_and(|c| !c.nullable));
            kinds.push(spec.map(|c| c.kind));
            let fill = match spec {
                Some(c) => match find(c.name) {
                    Some(i) => Fill::Column(i),
                    None if LAKE_REQUIRED.contains(&c.name) => {
                        missing.push(c.name);
                        Fill::Absent
                    }
                    None => {
                        if !c.nullable {
                            tracing::warn!(
                                file = %path.display(),
                                column = c.name,
                                "the file has no column {}, which FOCUS requires; it stays empty",
                                c.name
                            );
                        }
                        Fill::Absent
                    }
                },
                None if KEPT_X_COLUMNS.contains(&name) => {
                    find(name).map_or(Fill::Absent, Fill::Column)
                }
                None if matches!(
                    name,
                    x::CONNECTION_ID
                        | x::BILLING_PERIOD
                        | x::SOURCE_FORMAT
                        | x::SOURCE_FILE
                        | x::SOURCE_LINE
                        | x::INGESTION_ID
                        | x::EXTENSIONS
                ) =>
                {
                    Fill::Own
                }
                None => Fill::Absent,
            };
            fills.push(fill);
        }
        // The file's own extension columns go into x_Extensions; anything else FOCUS does not
        // name is not kept, and said so once.
        let used: std::collections::HashSet<usize> = fills
            .iter()
            .filter_map(|f| match f {
                Fill::Column(i) => Some(*i),
                _ => None,
            })
            .collect();
        let mut extensions = Vec::new();
        let mut earlier_extensions = None;
        let mut ignored = Vec::new();
        for (i, raw) in header.iter().enumerate() {
            let name = String::from_utf8_lossy(raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw))
                .trim()
                .to_string();
            if used.contains(&i) || name.is_empty() {
                continue;
            }
            let lower = name.to_ascii_lowercase();
            if name.eq_ignore_ascii_case(x::EXTENSIONS) {
                // A Billow export read back: its extensions carry over.
                earlier_extensions = Some(i);
            } else if x::ALL.iter().any(|c| c.eq_ignore_ascii_case(&name)) {
                // Billow's own bookkeeping of an export read back is assigned anew.
                continue;
            } else if lower.starts_with("x_") {
                extensions.push((name, i));
            } else if lower.starts_with("oci_") {
                extensions.push((format!("x_{}", &name[4..]), i));
            } else if LATER_FOCUS_COLUMNS
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&name))
            {
                extensions.push((name, i));
            } else {
                ignored.push(name);
            }
        }
        if !ignored.is_empty() {
            tracing::warn!(
                file = %path.display(),
                "columns that are neither FOCUS nor extensions (x_…) are not kept: {}",
                ignored.join(", ")
            );
        }
        if !missing.is_empty() {
            return Err(Error::MissingColumn {
                path: path.to_path_buf(),
                column: missing.join(", "),
                hint: "Billow needs these FOCUS columns to place and reconcile every row; export the file again with every mandatory FOCUS column, or ingest the provider's native format instead.",
            });
        }
        let format = detect_version(&by_name);
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(FocusFileReader {
            path: path.to_path_buf(),
            file_name,
            source,
            record: Record::new(),
            header_len: header.len(),
            fills,
            extensions,
            earlier_extensions,
            extension_json: String::new(),
            kinds,
            names,
            builder: FocusBatchBuilder::new(options.batch_rows),
            options,
            format,
            spec_mandatory,
            nulls_in_mandatory: BTreeMap::new(),
            totals: BTreeMap::new(),
            rows: 0,
            state: ReadState::default(),
        })
    }

    fn map_row(&mut self) -> Result<()> {
        let schema = focus_schema();
        let line = self.source.line();
        let path = &self.path;
        let record = &self.record;
        let bad = |column: &str, raw: &[u8], expected: &'static str, hint: &'static str| {
            bad_value(path, line, column, raw, expected, hint)
        };
        let text = |i: usize| -> Result<Option<&str>> {
            match cell(record, self.fills[i]) {
                None => Ok(None),
                Some(raw) => std::str::from_utf8(raw).map(Some).map_err(|_| {
                    bad(
                        self.names[i],
                        raw,
                        "UTF-8 text",
                        "The file is damaged or was re-encoded; export it again as UTF-8.",
                    )
                }),
            }
        };
        let nulls = &mut self.nulls_in_mandatory;
        let mut required = |i: usize, present: bool| -> Result<()> {
            if present {
                return Ok(());
            }
            if !schema.field(i).is_nullable() {
                return Err(bad(
                    self.names[i],
                    b"",
                    "a value (Billow needs this column on every row)",
                    "Fill the column in the export, or ingest the provider's native format instead.",
                ));
            }
            if self.spec_mandatory[i] {
                *nulls.entry(self.names[i]).or_default() += 1;
            }
            Ok(())
        };
        let period_start = schema.index_of("BillingPeriodStart")?;
        let Some(raw) = cell(record, self.fills[period_start]) else {
            return Err(bad(
                "BillingPeriodStart",
                b"",
                "the start of the billing period",
                "FOCUS requires BillingPeriodStart on every row.",
            ));
        };
        let Some(start) = parse_utc_micros(raw) else {
            return Err(bad(
                "BillingPeriodStart",
                raw,
                "a date/time like 2024-09-01T00:00:00Z",
                "The cell is not a date/time; check that the columns are not shifted.",
            ));
        };
        let period = year_month(start);
        let builder = &mut self.builder;
        for (i, field) in schema.fields().iter().enumerate() {
            let name = field.name().as_str();
            match (self.fills[i], self.kinds[i]) {
                (Fill::Own, _) => match name {
                    x::CONNECTION_ID => builder.str(i, Some(&self.options.connection_id)),
                    x::BILLING_PERIOD => builder.str(i, Some(&period)),
                    x::SOURCE_FORMAT => builder.str(i, Some(self.format)),
                    x::SOURCE_FILE => builder.str(i, Some(&self.file_name)),
                    x::INGESTION_ID => builder.str(i, Some(&self.options.ingestion_id)),
                    x::EXTENSIONS => {
                        self.extension_json.clear();
                        type Object = serde_json::Map<String, serde_json::Value>;
                        let earlier = match self
                            .earlier_extensions
                            .and_then(|c| cell(record, Fill::Column(c)))
                        {
                            None => None,
                            Some(raw) => Some(serde_json::from_slice::<Object>(raw).map_err(|_| {
                                bad(
                                    x::EXTENSIONS,
                                    raw,
                                    "a JSON object of extension columns",
                                    "The cell was changed after Billow exported it; export the month again.",
                                )
                            })?),
                        };
                        for (key, value) in earlier.iter().flatten() {
                            let value = match value {
                                serde_json::Value::String(v) => v.clone(),
                                other => other.to_string(),
                            };
                            push_json_member(&mut self.extension_json, key, &value);
                        }
                        for (key, column) in &self.extensions {
                            let Some(value) = cell(record, Fill::Column(*column)) else {
                                continue;
                            };
                            push_json_member(
                                &mut self.extension_json,
                                key,
                                &String::from_utf8_lossy(value),
                            );
                        }
                        close_json_object(&mut self.extension_json);
                        builder.str(
                            i,
                            Some(self.extension_json.as_str()).filter(|j| !j.is_empty()),
                        );
                    }
                    _ => builder.int(i, Some(line as i64)),
                },
                (_, Some(FocusType::Decimal)) => {
                    let value = match cell(record, self.fills[i]) {
                        None => None,
                        Some(raw) => Some(money::parse_decimal(raw).map_err(|_| {
                            bad(
                                name,
                                raw,
                                "a decimal number within ±10^15 (like 0.0123 or 7.0E-10)",
                                "The cell is not a number; check that the columns are not shifted, or export the file again.",
                            )
                        })?.value),
                    };
                    required(i, value.is_some())?;
                    builder.dec(i, value);
                }
                (_, Some(FocusType::DateTime)) => {
                    let value = match cell(record, self.fills[i]) {
                        None => None,
                        Some(raw) => Some(parse_utc_micros(raw).ok_or_else(|| {
                            bad(
                                name,
                                raw,
                                "a UTC date/time like 2024-09-01T00:00:00Z or 2024-09-01 00:00:00",
                                "The cell is not a UTC date/time; check that the columns are not shifted.",
                            )
                        })?),
                    };
                    required(i, value.is_some())?;
                    builder.ts(i, value);
                }
                (_, Some(FocusType::Json)) => {
                    let value = text(i)?;
                    if let Some(v) = value
                        && serde_json::from_str::<serde_json::Value>(v)
                            .map(|j| !j.is_object())
                            .unwrap_or(true)
                    {
                        return Err(bad(
                            name,
                            v.as_bytes(),
                            "a JSON object",
                            "FOCUS key-value columns hold a JSON object; the cell is damaged or shifted.",
                        ));
                    }
                    builder.str(i, value);
                }
                _ if field.data_type() == &DataType::Utf8 => {
                    let value = match text(i)? {
                        Some(v) => Some(canonical(name, v).ok_or_else(|| {
                            bad(
                                name,
                                v.as_bytes(),
                                "a value the FOCUS specification lists for this column",
                                "The value is not FOCUS; check that the columns are not shifted, or map the value in the exporting tool.",
                            )
                        })?),
                        None => None,
                    };
                    required(i, value.is_some())?;
                    builder.str(i, value);
                }
                _ => builder.int(i, None),
            }
        }
        builder.end_row();
        self.add_to_totals(period)?;
        self.rows += 1;
        Ok(())
    }

    /// Adds the row's BilledCost and EffectiveCost cells to the exact source totals of its
    /// (period, billing account, charge category).
    fn add_to_totals(&mut self, period: String) -> Result<()> {
        let schema = focus_schema();
        // The row was mapped, so these cells are valid UTF-8, a FOCUS category and decimals.
        let account = cell(
            &self.record,
            self.fills[schema.index_of("BillingAccountId")?],
        )
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .unwrap_or_default();
        let category = cell(&self.record, self.fills[schema.index_of("ChargeCategory")?])
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| {
                ChargeCategory::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .find(|v| v.eq_ignore_ascii_case(c))
            })
            .unwrap_or("Usage");
        let billed =
            cell(&self.record, self.fills[schema.index_of("BilledCost")?]).map(<[u8]>::to_vec);
        let effective =
            cell(&self.record, self.fills[schema.index_of("EffectiveCost")?]).map(<[u8]>::to_vec);
        let groups = self.totals.entry(period).or_default();
        let i = match groups
            .iter()
            .position(|((a, c), _)| *c == category && *a == account)
        {
            Some(i) => i,
            None => {
                groups.push(((account, category), GroupTotals::default()));
                groups.len() - 1
            }
        };
        let g = &mut groups[i].1;
        let overflow = |_| Error::TotalOverflow {
            path: self.path.clone(),
            column: "cost",
        };
        add(&mut g.billed, billed.as_deref()).map_err(overflow)?;
        add(&mut g.effective, effective.as_deref()).map_err(overflow)?;
        g.rows += 1;
        Ok(())
    }

    /// Maps the next record; `false` at the end of the file.
    fn read_row(&mut self) -> Result<bool> {
        let more = rows::next_record(
            self.source.as_mut(),
            &mut self.record,
            &self.path,
            self.header_len,
            rows::Width::Exact,
        )?;
        if !more {
            return Ok(false);
        }
        self.map_row()?;
        Ok(true)
    }
}

fn bad_value(
    path: &Path,
    line: u64,
    column: &str,
    raw: &[u8],
    expected: &'static str,
    hint: &'static str,
) -> Error {
    Error::BadValue {
        path: path.to_path_buf(),
        line,
        column: column.to_string(),
        found: String::from_utf8_lossy(&raw[..raw.len().min(80)]).into_owned(),
        expected,
        hint,
    }
}

/// A cell's text, or `None` for the null spellings.
fn cell(record: &Record, fill: Fill) -> Option<&[u8]> {
    match fill {
        Fill::Column(i) => record
            .get(i)
            .map(<[u8]>::trim_ascii)
            .filter(|c| !is_null(c)),
        _ => None,
    }
}

/// The spec's spelling of an enumeration value, matched case-insensitively (`None` when the
/// column has no such value); other columns pass through.
fn canonical<'v>(column: &str, value: &'v str) -> Option<&'v str> {
    fn find<T: Copy>(
        all: &[T],
        as_str: fn(T) -> &'static str,
        value: &str,
    ) -> Option<&'static str> {
        all.iter()
            .map(|v| as_str(*v))
            .find(|a| a.eq_ignore_ascii_case(value))
    }
    match column {
        "ChargeCategory" => find(ChargeCategory::ALL, ChargeCategory::as_str, value),
        "ChargeClass" => find(ChargeClass::ALL, ChargeClass::as_str, value),
        "ChargeFrequency" => find(ChargeFrequency::ALL, ChargeFrequency::as_str, value),
        "PricingCategory" => find(PricingCategory::ALL, PricingCategory::as_str, value),
        "CommitmentDiscountCategory" => find(
            CommitmentDiscountCategory::ALL,
            CommitmentDiscountCategory::as_str,
            value,
        ),
        "CommitmentDiscountStatus" => find(
            CommitmentDiscountStatus::ALL,
            CommitmentDiscountStatus::as_str,
            value,
        ),
        "CapacityReservationStatus" => find(
            CapacityReservationStatus::ALL,
            CapacityReservationStatus::as_str,
            value,
        ),
        "ServiceCategory" => find(ServiceCategory::ALL, ServiceCategory::as_str, value),
        _ => Some(value),
    }
}

/// Adds a cell already checked to be a decimal.
fn add(sum: &mut ExactSum, cell: Option<&[u8]>) -> std::result::Result<(), money::DecimalError> {
    match cell {
        Some(text) => sum.add_text(text),
        None => Ok(()),
    }
}

impl FocusFileReader {
    /// What the whole file held, for [`crate::read::FileSummary`].
    fn file_summary(&mut self) -> FileSummary {
        for (column, rows) in &self.nulls_in_mandatory {
            tracing::warn!(
                file = %self.path.display(),
                column,
                rows,
                "{column} is empty on {rows} row(s) although FOCUS requires a value; kept as \
                 the file says (an upstream problem for its exporter)"
            );
        }
        let totals = totals_by_period(std::mem::take(&mut self.totals));
        FileSummary {
            file: self.path.clone(),
            rows: self.rows,
            totals,
            source_format: self.format,
        }
    }
}

crate::read::batch_reader!(FocusFileReader);

/// The FOCUS files at `path`: the file itself, or every `.csv`, `.csv.gz`, `.zip` and
/// `.parquet` file directly in the folder, in name order.
pub fn discover(path: &Path) -> Result<Vec<PathBuf>> {
    rows::discover(
        path,
        "FOCUS files (.csv, .csv.gz, .zip or .parquet) directly in this folder",
    )
}
