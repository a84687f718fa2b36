//! DigitalOcean invoices: the CSV download (`/v2/customers/my/invoices/{uuid}/csv`, money as
//! `$3.11` / `-$1.00` text, with or without the newer `category` column) and the JSON invoice
//! items (`/v2/customers/my/invoices/{uuid}`, also for `preview`, the month to date), one page
//! per file.
//!
//! DigitalOcean has no export feed: a closed month's invoice never changes, and the preview is
//! replaced by each newer preview until the invoice appears. Either way a delivery replaces the
//! months its items are for. An invoice names no account, so the connection names the team:
//! BillingAccountId is the connection id. Items are monthly per resource, USD only; the project
//! is DigitalOcean's only allocation dimension and lands in Tags as `project`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use billow_focus::column as ix;
use billow_focus::money;
use billow_focus::schema::x;

use crate::batch::{FocusBatchBuilder, PeriodTotals, add_row, push_json_string, totals_by_period};
use crate::csv_file::Record;
use crate::read::{FileSummary, ReadOptions, ReadState};
use crate::rows::{self, Rows};
use crate::timestamp::{month_bounds, parse_utc_micros, year_month};
use crate::{Error, Result, source};

/// `x_SourceFormat` of invoice CSV rows.
pub const SOURCE_FORMAT_CSV: &str = "digitalocean-invoice-csv";
/// `x_SourceFormat` of invoice item JSON rows.
pub const SOURCE_FORMAT_JSON: &str = "digitalocean-invoice-json";

const HINT: &str = "Download the invoice again (Billing → Invoices → Download CSV, or GET /v2/customers/my/invoices/{uuid}).";

/// One invoice item, from either spelling.
#[derive(Debug, Default, Clone)]
struct Item {
    product: String,
    group_description: Option<String>,
    description: Option<String>,
    hours: Option<String>,
    start: String,
    end: String,
    amount: String,
    project: Option<String>,
    category: Option<String>,
    resource_id: Option<String>,
    /// Line (CSV) or item number (JSON, 1-based).
    line: u64,
}

/// An amount as DigitalOcean writes it (`$3.11`, `-$1.00`, `$1,234.56`, `3.11`) as plain
/// decimal text.
pub fn plain_amount(raw: &str) -> Option<String> {
    let t = raw.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, t),
    };
    let t = t.strip_prefix('$').unwrap_or(t);
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) if !negative => (true, rest),
        _ => (negative, t),
    };
    let digits: String = t.chars().filter(|c| *c != ',').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    Some(if negative {
        format!("-{digits}")
    } else {
        digits
    })
}

/// FOCUS ServiceCategory and ServiceSubcategory of a DigitalOcean product.
fn service_of(product: &str) -> (&'static str, &'static str) {
    let p = product.to_ascii_lowercase();
    let has = |s: &str| p.contains(s);
    if has("kubernetes") || has("container registry") {
        ("Compute", "Containers")
    } else if has("droplet") || has("gpu") {
        ("Compute", "Virtual Machines")
    } else if has("function") {
        ("Compute", "Serverless Compute")
    } else if has("app platform") || has("apps") {
        ("Web", "Application Platforms")
    } else if has("spaces") {
        ("Storage", "Object Storage")
    } else if has("volume") {
        ("Storage", "Block Storage")
    } else if has("backup") || has("snapshot") {
        ("Storage", "Backup Storage")
    } else if has("database") {
        ("Databases", "Relational Databases")
    } else if has("load balancer") {
        ("Networking", "Application Networking")
    } else if has("ip") || has("bandwidth") || has("vpc") {
        ("Networking", "Network Infrastructure")
    } else if has("monitoring") || has("uptime") {
        ("Management and Governance", "Observability")
    } else {
        ("Other", "Other (Other)")
    }
}

enum Input {
    Csv {
        source: Box<dyn Rows>,
        record: Record,
        header_len: usize,
        at: CsvColumns,
    },
    Json(std::vec::IntoIter<Item>),
}

#[derive(Debug)]
struct CsvColumns {
    product: usize,
    start: usize,
    end: usize,
    amount: usize,
    group_description: Option<usize>,
    description: Option<usize>,
    hours: Option<usize>,
    project: Option<usize>,
    category: Option<usize>,
}

/// Reads one DigitalOcean invoice file (CSV, or JSON invoice items) into lake batches.
pub struct DigitalOceanInvoiceReader {
    path: PathBuf,
    file_name: String,
    input: Input,
    format: &'static str,
    builder: FocusBatchBuilder,
    options: ReadOptions,
    totals: PeriodTotals,
    rows: u64,
    state: ReadState,
}

impl DigitalOceanInvoiceReader {
    /// Opens `path`: JSON when its first character opens an object, CSV otherwise.
    pub fn open(path: &Path, options: ReadOptions) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let bytes_head = {
            use std::io::Read;
            let mut head = [0u8; 64];
            let mut input = crate::source::open(path)?;
            let n = input.read(&mut head).map_err(io)?;
            head[..n].to_vec()
        };
        let is_json = bytes_head
            .iter()
            .find(|b| !b.is_ascii_whitespace() && **b != 0xef && **b != 0xbb && **b != 0xbf)
            == Some(&b'{');
        let (input, format) = if is_json {
            (
                Input::Json(read_json(path)?.into_iter()),
                SOURCE_FORMAT_JSON,
            )
        } else {
            let mut source = rows::open(path)?;
            let mut header = Record::new();
            if !source.read(&mut header)? {
                return Err(Error::Empty {
                    path: path.to_path_buf(),
                });
            }
            let at = csv_columns(path, &header)?;
            let header_len = header.len();
            (
                Input::Csv {
                    source,
                    record: Record::new(),
                    header_len,
                    at,
                },
                SOURCE_FORMAT_CSV,
            )
        };
        Ok(DigitalOceanInvoiceReader {
            path: path.to_path_buf(),
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            input,
            format,
            builder: FocusBatchBuilder::new(options.batch_rows),
            options,
            totals: BTreeMap::new(),
            rows: 0,
            state: ReadState::default(),
        })
    }

    fn bad(&self, line: u64, column: &str, raw: &str, expected: &'static str) -> Error {
        let found = raw.chars().take(80).collect();
        if self.format == SOURCE_FORMAT_JSON {
            return Error::BadItem {
                path: self.path.clone(),
                item: line,
                field: format!("invoice_items[].{column}"),
                found,
                expected,
                hint: HINT,
            };
        }
        Error::BadValue {
            path: self.path.clone(),
            line,
            column: column.into(),
            found,
            expected,
            hint: HINT,
        }
    }

    fn next_item(&mut self) -> Result<Option<Item>> {
        match &mut self.input {
            Input::Json(items) => Ok(items.next()),
            Input::Csv {
                source,
                record,
                header_len,
                at,
            } => {
                if !rows::next_record(
                    source.as_mut(),
                    record,
                    &self.path,
                    *header_len,
                    rows::Width::AtMost,
                )? {
                    return Ok(None);
                }
                let cell = |i: Option<usize>| -> Option<String> {
                    i.and_then(|i| record.get(i))
                        .map(|c| String::from_utf8_lossy(c).trim().to_string())
                        .filter(|c| !c.is_empty())
                };
                Ok(Some(Item {
                    product: cell(Some(at.product)).unwrap_or_default(),
                    group_description: cell(at.group_description),
                    description: cell(at.description),
                    hours: cell(at.hours),
                    start: cell(Some(at.start)).unwrap_or_default(),
                    end: cell(Some(at.end)).unwrap_or_default(),
                    amount: cell(Some(at.amount)).unwrap_or_default(),
                    project: cell(at.project),
                    category: cell(at.category),
                    resource_id: None,
                    line: source.line(),
                }))
            }
        }
    }

    fn read_row(&mut self) -> Result<bool> {
        let Some(item) = self.next_item()? else {
            return Ok(false);
        };
        let column_of = |csv: &'static str, json: &'static str| {
            if self.format == SOURCE_FORMAT_CSV {
                csv
            } else {
                json
            }
        };
        let amount_text = plain_amount(&item.amount).ok_or_else(|| {
            self.bad(
                item.line,
                column_of("USD", "amount"),
                &item.amount,
                "an amount like $3.11 or -$1.00",
            )
        })?;
        let amount = money::parse_decimal(amount_text.as_bytes())
            .map_err(|_| {
                self.bad(
                    item.line,
                    column_of("USD", "amount"),
                    &item.amount,
                    "an amount within ±10^15",
                )
            })?
            .value;
        let start = parse_utc_micros(item.start.as_bytes()).ok_or_else(|| {
            self.bad(
                item.line,
                column_of("start", "start_time"),
                &item.start,
                "a time like 2020-07-01 00:00:00 +0000",
            )
        })?;
        let mut end = parse_utc_micros(item.end.as_bytes()).ok_or_else(|| {
            self.bad(
                item.line,
                column_of("end", "end_time"),
                &item.end,
                "a time like 2020-07-31 23:59:59 +0000",
            )
        })?;
        // The CSV writes the last second of the period (23:59:59); FOCUS ends are exclusive.
        if end.rem_euclid(86_400_000_000) == 86_399_000_000 {
            end += 1_000_000;
        }
        let hours = match item.hours.as_deref() {
            None => None,
            Some(h) => Some(
                money::parse_decimal(h.as_bytes())
                    .map_err(|_| {
                        self.bad(
                            item.line,
                            column_of("hours", "duration"),
                            h,
                            "a number of hours",
                        )
                    })?
                    .value,
            ),
        };
        let product_lower = item.product.to_ascii_lowercase();
        let description_lower = item
            .description
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        let category = if product_lower.contains("tax") {
            "Tax"
        } else if amount < 0
            || product_lower.contains("credit")
            || description_lower.contains("credit")
        {
            "Credit"
        } else {
            "Usage"
        };
        let period = year_month(start);
        let (period_start, period_end) = month_bounds(start);
        let account = self.options.connection_id.clone();
        let (service_category, service_subcategory) = service_of(&item.product);
        let tags = item.project.as_deref().map(|p| {
            let mut json = String::from("{");
            push_json_string(&mut json, "project");
            json.push(':');
            push_json_string(&mut json, p);
            json.push('}');
            json
        });
        let usage = category == "Usage";

        let b = &mut self.builder;
        b.dec(ix!("BilledCost"), Some(amount));
        b.str(ix!("BillingAccountId"), Some(&account));
        b.str(ix!("BillingAccountType"), Some("Team"));
        b.str(ix!("BillingCurrency"), Some("USD"));
        b.ts(ix!("BillingPeriodEnd"), Some(period_end));
        b.ts(ix!("BillingPeriodStart"), Some(period_start));
        b.str(ix!("ChargeCategory"), Some(category));
        b.str(ix!("ChargeDescription"), item.description.as_deref());
        b.str(
            ix!("ChargeFrequency"),
            Some(if usage { "Usage-Based" } else { "One-Time" }),
        );
        b.ts(ix!("ChargePeriodEnd"), Some(end.max(start)));
        b.ts(ix!("ChargePeriodStart"), Some(start));
        let quantity = hours.filter(|_| usage);
        b.dec(ix!("ConsumedQuantity"), quantity);
        b.str(ix!("ConsumedUnit"), quantity.map(|_| "Hours"));
        b.dec(ix!("ContractedCost"), Some(amount));
        b.dec(ix!("EffectiveCost"), Some(amount));
        b.str(ix!("InvoiceIssuerName"), Some("DigitalOcean"));
        b.dec(ix!("ListCost"), Some(amount));
        b.str(ix!("PricingCategory"), usage.then_some("Standard"));
        b.str(ix!("PricingCurrency"), Some("USD"));
        b.dec(ix!("PricingCurrencyEffectiveCost"), Some(amount));
        b.dec(ix!("PricingQuantity"), quantity);
        b.str(ix!("PricingUnit"), quantity.map(|_| "Hours"));
        b.str(ix!("ProviderName"), Some("DigitalOcean"));
        b.str(ix!("PublisherName"), Some("DigitalOcean"));
        b.str(ix!("ResourceId"), item.resource_id.as_deref());
        b.str(
            ix!("ResourceName"),
            item.group_description.as_deref().filter(|_| usage),
        );
        b.str(ix!("ServiceCategory"), Some(service_category));
        b.str(ix!("ServiceName"), Some(&item.product));
        b.str(ix!("ServiceSubcategory"), Some(service_subcategory));
        b.str(ix!("Tags"), tags.as_deref());
        b.str(ix!(x::CONNECTION_ID), Some(&self.options.connection_id));
        b.str(ix!(x::BILLING_PERIOD), Some(&period));
        b.str(ix!(x::SOURCE_FORMAT), Some(self.format));
        b.str(ix!(x::SOURCE_FILE), Some(&self.file_name));
        b.int(ix!(x::SOURCE_LINE), Some(item.line as i64));
        b.str(ix!(x::INGESTION_ID), Some(&self.options.ingestion_id));
        b.str(ix!(x::LINE_ITEM_TYPE), item.category.as_deref());
        b.str(ix!(x::SERVICE_CODE), Some(&item.product));
        b.end_row();

        add_row(
            &mut self.totals,
            period,
            (account, category),
            &amount_text,
            &amount_text,
        )
        .map_err(|_| Error::TotalOverflow {
            path: self.path.clone(),
            column: "USD",
        })?;
        self.rows += 1;
        Ok(true)
    }
}

fn csv_columns(path: &Path, header: &Record) -> Result<CsvColumns> {
    let names: Vec<String> = header.iter().map(rows::header_name).collect();
    let find = |n: &str| names.iter().position(|c| c == n);
    let require = |n: &'static str| {
        find(n).ok_or_else(|| Error::MissingColumn {
            path: path.to_path_buf(),
            column: n.into(),
            hint: "Billow reads the DigitalOcean invoice CSV (product, group_description, description, hours, start, end, USD, project_name[, category]); check that this is one.",
        })
    };
    Ok(CsvColumns {
        product: require("product")?,
        start: require("start")?,
        end: require("end")?,
        amount: require("usd")?,
        group_description: find("group_description"),
        description: find("description"),
        hours: find("hours"),
        project: find("project_name"),
        category: find("category"),
    })
}

/// The items of an invoice response page (`{"invoice_items": [...]}`), every value a string.
fn read_json(path: &Path) -> Result<Vec<Item>> {
    let bad = |detail: String| Error::Csv {
        path: path.to_path_buf(),
        line: 1,
        detail,
    };
    let text = crate::source::read_all(path)?;
    let json: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
        bad(format!(
            "not JSON ({e}); expected a DigitalOcean invoice response ({{\"invoice_items\": [...]}})"
        ))
    })?;
    let items = json
        .get("invoice_items")
        .and_then(|i| i.as_array())
        .ok_or_else(|| {
            bad("no invoice_items array; expected the response of GET /v2/customers/my/invoices/{uuid} (or .../invoices/preview)".into())
        })?;
    let text_of = |item: &serde_json::Value, key: &str| -> Option<String> {
        match item.get(key)? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    Ok(items
        .iter()
        .enumerate()
        .map(|(i, item)| Item {
            product: text_of(item, "product").unwrap_or_default(),
            group_description: text_of(item, "group_description"),
            description: text_of(item, "description"),
            hours: text_of(item, "duration").filter(|_| {
                text_of(item, "duration_unit")
                    .is_none_or(|u| u.eq_ignore_ascii_case("hours") || u == "Hours")
            }),
            start: text_of(item, "start_time").unwrap_or_default(),
            end: text_of(item, "end_time").unwrap_or_default(),
            amount: text_of(item, "amount").unwrap_or_default(),
            project: text_of(item, "project_name"),
            category: text_of(item, "category"),
            resource_id: text_of(item, "resource_uuid").or_else(|| text_of(item, "resource_id")),
            line: i as u64 + 1,
        })
        .collect())
}

impl DigitalOceanInvoiceReader {
    /// What the whole file held, for [`crate::read::FileSummary`].
    fn file_summary(&mut self) -> FileSummary {
        FileSummary {
            file: self.path.clone(),
            rows: self.rows,
            totals: totals_by_period(std::mem::take(&mut self.totals)),
            source_format: self.format,
        }
    }
}

crate::read::batch_reader!(DigitalOceanInvoiceReader);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_every_spelling() {
        for (raw, plain) in [
            ("$3.11", Some("3.11")),
            ("-$1.00", Some("-1.00")),
            ("$-1.00", Some("-1.00")),
            ("$1,234.56", Some("1234.56")),
            ("0.16", Some("0.16")),
            ("", None),
            ("USD 3", None),
        ] {
            assert_eq!(plain_amount(raw).as_deref(), plain, "{raw}");
        }
    }
}

/// The account balance (`GET /v2/customers/my/balance`): what DigitalOcean counts as this
/// month's usage so far, which the month-to-date invoice preview must add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// `month_to_date_usage`, exact, at the lake's scale.
    pub month_to_date_usage: i128,
    /// `account_balance`, exact.
    pub account_balance: i128,
    /// `month_to_date_balance`, exact.
    pub month_to_date_balance: i128,
    /// The billing period `YYYY-MM` the balance was generated in.
    pub billing_period: String,
    /// `generated_at` as written.
    pub generated_at: String,
}

/// Reads a balance response; `Ok(None)` when the JSON file is something else (an invoice page).
pub fn read_balance(path: &Path) -> Result<Option<Balance>> {
    // A balance response is a few hundred bytes: an invoice page is told apart by its first
    // bytes, without reading it all.
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut head = [0u8; 4096];
    let n = std::fs::File::open(path)
        .and_then(|mut f| source::read_up_to(&mut f, &mut head))
        .map_err(io)?;
    if !head[..n]
        .windows(b"\"month_to_date_usage\"".len())
        .any(|w| w == b"\"month_to_date_usage\"")
    {
        return Ok(None);
    }
    let text = source::read_all(path)?;
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(&text)
    else {
        return Ok(None);
    };
    if !map.contains_key("month_to_date_usage") {
        return Ok(None);
    }
    let bad = |field: &str, found: &serde_json::Value, expected: &'static str| Error::BadItem {
        path: path.to_path_buf(),
        item: 1,
        field: field.to_string(),
        found: found.to_string(),
        expected,
        hint: "Save the response of GET /v2/customers/my/balance (doctl balance get -o json) as it is.",
    };
    let amount = |field: &str| -> Result<i128> {
        let value = map.get(field).unwrap_or(&serde_json::Value::Null);
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(bad(field, value, "a dollar amount like \"23.44\"")),
        };
        money::parse_decimal(text.trim().as_bytes())
            .map(|p| p.value)
            .map_err(|_| bad(field, value, "a dollar amount like \"23.44\""))
    };
    let generated = map
        .get("generated_at")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let Some(at) = parse_utc_micros(generated.as_bytes()) else {
        return Err(bad(
            "generated_at",
            map.get("generated_at").unwrap_or(&serde_json::Value::Null),
            "a UTC date/time like 2019-07-09T15:01:12Z",
        ));
    };
    Ok(Some(Balance {
        month_to_date_usage: amount("month_to_date_usage")?,
        account_balance: amount("account_balance")?,
        month_to_date_balance: amount("month_to_date_balance")?,
        billing_period: year_month(at),
        generated_at: generated,
    }))
}
