//! Conformance checks of a batch against FOCUS 1.2.
//!
//! The FinOps Foundation validator skips many rules (cross-row identities, enum values of
//! some columns, custom column naming), so Billow checks its own output here, on every batch
//! a reader produces in tests and on every export.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Decimal128Type, TimestampMicrosecondType};

use crate::enums::{
    CapacityReservationStatus, ChargeCategory, ChargeClass, ChargeFrequency,
    CommitmentDiscountCategory, CommitmentDiscountStatus, PricingCategory, ServiceCategory,
    is_subcategory_of,
};
use crate::money::ONE;
use crate::schema::{FOCUS_COLUMNS, focus_column};

/// One rule broken by one or more rows of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Short rule id, e.g. `ChargeCategory.Allowed`.
    pub rule: &'static str,
    /// The column the rule is about.
    pub column: String,
    /// Rows that break it.
    pub rows: u64,
    /// First row (0-based in the batch) that breaks it, if the rule is about rows.
    pub first_row: Option<usize>,
    /// What was found and what the spec expects.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.rule, self.column, self.message)?;
        if let Some(r) = self.first_row {
            write!(f, " [{} row(s), first at row {}]", self.rows, r)?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Report {
    found: BTreeMap<(&'static str, String), Violation>,
}

impl Report {
    fn flag(
        &mut self,
        rule: &'static str,
        column: &str,
        row: Option<usize>,
        message: impl FnOnce() -> String,
    ) {
        let entry = self
            .found
            .entry((rule, column.to_string()))
            .or_insert_with(|| Violation {
                rule,
                column: column.to_string(),
                rows: 0,
                first_row: row,
                message: message(),
            });
        entry.rows += 1;
    }
}

/// Relative tolerance for `ListCost = ListUnitPrice × PricingQuantity`: providers round the
/// cost and the rate separately (AWS to 10 places), so exact equality is not what they publish.
const IDENTITY_ABS_TOLERANCE: i128 = ONE / 100_000; // 0.00001

/// Checks a batch and returns every rule it breaks (empty when it conforms).
pub fn check_batch(batch: &RecordBatch) -> Vec<Violation> {
    let mut report = Report::default();
    let schema = batch.schema();
    for field in schema.fields() {
        let name = field.name();
        match focus_column(name) {
            Some(_) => {}
            None if name.starts_with("x_") => {}
            None => report.flag("ColumnNaming.CustomPrefix", name, None, || {
                format!("column {name} is neither a FOCUS column nor prefixed with x_")
            }),
        }
    }
    for column in FOCUS_COLUMNS.iter() {
        let Some(array) = batch.column_by_name(column.name) else {
            if column.level != crate::schema::Level::Conditional {
                report.flag("Column.Present", column.name, None, || {
                    format!("{} is required and missing", column.name)
                });
            }
            continue;
        };
        if !column.nullable && array.null_count() > 0 {
            let first = (0..array.len()).find(|&i| array.is_null(i));
            for _ in 0..array.null_count() {
                report.flag("Column.NotNull", column.name, first, || {
                    format!("{} must not be null", column.name)
                });
            }
        }
    }
    check_enum(batch, &mut report, "ChargeCategory", |s| {
        ChargeCategory::parse(s).is_some()
    });
    check_enum(batch, &mut report, "ChargeClass", |s| {
        ChargeClass::parse(s).is_some()
    });
    check_enum(batch, &mut report, "ChargeFrequency", |s| {
        ChargeFrequency::parse(s).is_some()
    });
    check_enum(batch, &mut report, "PricingCategory", |s| {
        PricingCategory::parse(s).is_some()
    });
    check_enum(batch, &mut report, "CommitmentDiscountCategory", |s| {
        CommitmentDiscountCategory::parse(s).is_some()
    });
    check_enum(batch, &mut report, "CommitmentDiscountStatus", |s| {
        CommitmentDiscountStatus::parse(s).is_some()
    });
    check_enum(batch, &mut report, "CapacityReservationStatus", |s| {
        CapacityReservationStatus::parse(s).is_some()
    });
    check_enum(batch, &mut report, "ServiceCategory", |s| {
        ServiceCategory::parse(s).is_some()
    });
    check_subcategory(batch, &mut report);
    check_period(batch, &mut report, "ChargePeriodStart", "ChargePeriodEnd");
    check_period(batch, &mut report, "BillingPeriodStart", "BillingPeriodEnd");
    check_null_together(batch, &mut report, "PricingQuantity", "PricingUnit");
    check_null_together(batch, &mut report, "ConsumedQuantity", "ConsumedUnit");
    check_null_together(batch, &mut report, "RegionId", "RegionName");
    check_null_together(
        batch,
        &mut report,
        "CommitmentDiscountQuantity",
        "CommitmentDiscountUnit",
    );
    check_unit_format(batch, &mut report, "PricingUnit");
    check_unit_format(batch, &mut report, "ConsumedUnit");
    check_unit_format(batch, &mut report, "CommitmentDiscountUnit");
    check_tax_nulls(batch, &mut report);
    check_list_cost(batch, &mut report);
    check_json_object(batch, &mut report, "Tags");
    check_json_object(batch, &mut report, "SkuPriceDetails");
    report.found.into_values().collect()
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a arrow::array::StringArray> {
    batch
        .column_by_name(name)
        .and_then(|a| a.as_string_opt::<i32>())
}

fn decimals<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a arrow::array::Decimal128Array> {
    batch
        .column_by_name(name)
        .and_then(|a| a.as_primitive_opt::<Decimal128Type>())
}

fn check_enum(
    batch: &RecordBatch,
    report: &mut Report,
    name: &'static str,
    allowed: impl Fn(&str) -> bool,
) {
    let Some(values) = strings(batch, name) else {
        return;
    };
    for (row, v) in values.iter().enumerate() {
        if let Some(v) = v
            && !allowed(v)
        {
            report.flag("Enum.Allowed", name, Some(row), || {
                format!("{v:?} is not an allowed {name} value")
            });
        }
    }
}

fn check_subcategory(batch: &RecordBatch, report: &mut Report) {
    let (Some(cat), Some(sub)) = (
        strings(batch, "ServiceCategory"),
        strings(batch, "ServiceSubcategory"),
    ) else {
        return;
    };
    for row in 0..batch.num_rows() {
        if sub.is_null(row) || cat.is_null(row) {
            continue;
        }
        let Some(c) = ServiceCategory::parse(cat.value(row)) else {
            continue;
        };
        if !is_subcategory_of(c, sub.value(row)) {
            report.flag(
                "ServiceSubcategory.InCategory",
                "ServiceSubcategory",
                Some(row),
                || {
                    format!(
                        "{:?} is not a subcategory of {:?}",
                        sub.value(row),
                        cat.value(row)
                    )
                },
            );
        }
    }
}

fn check_period(batch: &RecordBatch, report: &mut Report, start: &'static str, end: &'static str) {
    let (Some(s), Some(e)) = (batch.column_by_name(start), batch.column_by_name(end)) else {
        return;
    };
    let (Some(s), Some(e)) = (
        s.as_primitive_opt::<TimestampMicrosecondType>(),
        e.as_primitive_opt::<TimestampMicrosecondType>(),
    ) else {
        report.flag("DateTime.Type", start, None, || {
            format!("{start} and {end} must be UTC timestamps")
        });
        return;
    };
    for row in 0..batch.num_rows() {
        if s.is_valid(row) && e.is_valid(row) && s.value(row) >= e.value(row) {
            report.flag("Period.StartBeforeEnd", start, Some(row), || {
                format!("{start} must be before {end} (periods are [start, end))")
            });
        }
    }
}

fn check_null_together(
    batch: &RecordBatch,
    report: &mut Report,
    value: &'static str,
    unit: &'static str,
) {
    let (Some(v), Some(u)) = (batch.column_by_name(value), batch.column_by_name(unit)) else {
        return;
    };
    for row in 0..batch.num_rows() {
        if v.is_null(row) != u.is_null(row) {
            report.flag("Nullability.Together", unit, Some(row), || {
                format!("{unit} must be null exactly when {value} is null")
            });
        }
    }
}

fn check_unit_format(batch: &RecordBatch, report: &mut Report, name: &'static str) {
    let Some(values) = strings(batch, name) else {
        return;
    };
    for (row, v) in values.iter().enumerate() {
        if let Some(v) = v
            && !crate::units::is_unit_format(v)
        {
            report.flag("UnitFormat", name, Some(row), || {
                format!("{v:?} does not follow the FOCUS UnitFormat")
            });
        }
    }
}

fn check_tax_nulls(batch: &RecordBatch, report: &mut Report) {
    let Some(cat) = strings(batch, "ChargeCategory") else {
        return;
    };
    for name in [
        "PricingQuantity",
        "ListUnitPrice",
        "ContractedUnitPrice",
        "SkuId",
        "PricingCategory",
    ] {
        let Some(col) = batch.column_by_name(name) else {
            continue;
        };
        for row in 0..batch.num_rows() {
            if cat.is_valid(row) && cat.value(row) == "Tax" && col.is_valid(row) {
                report.flag("Tax.Null", name, Some(row), || {
                    format!("{name} must be null on Tax rows")
                });
            }
        }
    }
}

fn check_list_cost(batch: &RecordBatch, report: &mut Report) {
    let (Some(cost), Some(price), Some(qty)) = (
        decimals(batch, "ListCost"),
        decimals(batch, "ListUnitPrice"),
        decimals(batch, "PricingQuantity"),
    ) else {
        return;
    };
    let class = strings(batch, "ChargeClass");
    for row in 0..batch.num_rows() {
        if cost.is_null(row)
            || price.is_null(row)
            || qty.is_null(row)
            || class.is_some_and(|c| c.is_valid(row))
        {
            continue;
        }
        // price and qty are at scale 12: the product is at scale 24.
        let Some(product) = price.value(row).checked_mul(qty.value(row)) else {
            report.flag("ListCost.Identity", "ListCost", Some(row), || {
                "ListUnitPrice × PricingQuantity overflows".into()
            });
            continue;
        };
        let expected = product / ONE;
        let tolerance = IDENTITY_ABS_TOLERANCE.max(expected.abs() / 1_000_000);
        if (cost.value(row) - expected).abs() > tolerance {
            report.flag("ListCost.Identity", "ListCost", Some(row), || {
                format!(
                    "ListCost {} differs from ListUnitPrice × PricingQuantity = {}",
                    crate::money::format_decimal(cost.value(row)),
                    crate::money::format_decimal(expected)
                )
            });
        }
    }
}

fn check_json_object(batch: &RecordBatch, report: &mut Report, name: &'static str) {
    let Some(values) = strings(batch, name) else {
        return;
    };
    for (row, v) in values.iter().enumerate() {
        let Some(v) = v else { continue };
        let ok = matches!(serde_json::from_str::<serde_json::Value>(v), Ok(serde_json::Value::Object(m))
            if m.values().all(|x| !x.is_object() && !x.is_array()));
        if !ok {
            report.flag("Json.FlatObject", name, Some(row), || {
                format!("{name} must be a flat JSON object, found {v:?}")
            });
        }
    }
}
