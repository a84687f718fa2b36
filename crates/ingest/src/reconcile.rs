//! Reconciliation: the lake's sums against the source's own exact totals.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Decimal128Type, Int64Type};
use billow_focus::money::{ExactSum, format_decimal};
use billow_lake::{Lake, Scope};

use crate::{Error, Result};

/// How a group reconciles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileStatus {
    /// Lake total equals the exact source total.
    Exact,
    /// Differs only by rounding of source values with more than 12 places, within the bound.
    WithinRoundingBound,
    /// Differs: something was lost or counted twice.
    Mismatch,
}

impl ReconcileStatus {
    /// Text for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileStatus::Exact => "exact",
            ReconcileStatus::WithinRoundingBound => "within rounding bound",
            ReconcileStatus::Mismatch => "MISMATCH",
        }
    }
}

/// One (connection, period, billing account, charge category) compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileRow {
    /// Connection.
    pub connection_id: String,
    /// `YYYY-MM`.
    pub billing_period: String,
    /// Billing account.
    pub billing_account_id: String,
    /// Charge category.
    pub charge_category: String,
    /// Ingestion that published the partition.
    pub ingestion_id: String,
    /// Exact source Σ BilledCost (decimal text).
    pub source_billed: String,
    /// Lake Σ BilledCost.
    pub lake_billed: String,
    /// Exact source Σ EffectiveCost (decimal text).
    pub source_effective: String,
    /// Lake Σ EffectiveCost.
    pub lake_effective: String,
    /// Lake − source for billed (exact decimal text).
    pub billed_difference: String,
    /// Lake − source for effective (exact decimal text).
    pub effective_difference: String,
    /// Largest difference rounding can explain (decimal text).
    pub rounding_bound: String,
    /// Source rows and lake rows.
    pub source_rows: u64,
    /// Lake rows.
    pub lake_rows: u64,
    /// Verdict.
    pub status: ReconcileStatus,
}

#[derive(Default)]
struct LakeSide {
    billed: i128,
    effective: i128,
    rows: u64,
}

struct SourceSide {
    ingestion_id: String,
    billed: String,
    effective: String,
    rows: u64,
    rounded: u64,
}

type Key = (String, String, String, String);

/// Reconciles every published partition (or those of `billing_period`).
pub async fn reconcile(lake: &Lake, billing_period: Option<&str>) -> Result<Vec<ReconcileRow>> {
    reconcile_in(lake, &Scope::everything(), billing_period).await
}

/// [`reconcile`] of the partitions a scope shows. Reconciliation compares billed and
/// effective cost with the source's totals, so a scope hiding either is refused.
pub async fn reconcile_in(
    lake: &Lake,
    scope: &Scope,
    billing_period: Option<&str>,
) -> Result<Vec<ReconcileRow>> {
    for column in ["BilledCost", "EffectiveCost"] {
        if !scope.shows(column) {
            return Err(Error::Hidden {
                what: "reconciliation",
                column,
            });
        }
    }
    let period_filter = match billing_period {
        Some(p) => {
            if !billow_lake::costs::is_billing_period(p) {
                return Err(Error::Internal(format!(
                    "billing period {p:?} is not YYYY-MM"
                )));
            }
            format!("WHERE x_BillingPeriod = '{p}'")
        }
        None => String::new(),
    };
    let ctx = lake.scoped_session(scope).await?;
    let lake_rows = billow_lake::collect_sql(&ctx, &format!(
            "SELECT x_ConnectionId, x_BillingPeriod, BillingAccountId, ChargeCategory, x_IngestionId, \
             SUM(BilledCost) AS billed, SUM(EffectiveCost) AS effective, COUNT(*) AS n \
             FROM focus {period_filter} GROUP BY 1, 2, 3, 4, 5"
        )).await?;
    let mut lake_side: BTreeMap<Key, LakeSide> = BTreeMap::new();
    let mut current: BTreeMap<(String, String), String> = BTreeMap::new();
    for b in &lake_rows {
        let s = |i: usize| billow_lake::string_column(b, i);
        let (conn, period, account, category, ingestion) = (s(0)?, s(1)?, s(2)?, s(3)?, s(4)?);
        let billed = b.column(5).as_primitive::<Decimal128Type>();
        let effective = b.column(6).as_primitive::<Decimal128Type>();
        let n = b.column(7).as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            let key = (
                conn.value(r).to_string(),
                period.value(r).to_string(),
                account.value(r).to_string(),
                category.value(r).to_string(),
            );
            let e = lake_side.entry(key).or_default();
            e.billed += if billed.is_null(r) {
                0
            } else {
                billed.value(r)
            };
            e.effective += if effective.is_null(r) {
                0
            } else {
                effective.value(r)
            };
            e.rows += n.value(r) as u64;
            current.insert(
                (conn.value(r).to_string(), period.value(r).to_string()),
                ingestion.value(r).to_string(),
            );
        }
    }
    let totals = billow_lake::collect_sql(&ctx, "SELECT connection_id, billing_period, billing_account_id, charge_category, ingestion_id, \
             source_billed_exact, source_effective_exact, rows, rounded_values FROM ingestion_totals",).await?;
    let mut source_side: BTreeMap<Key, SourceSide> = BTreeMap::new();
    for b in &totals {
        let cols: Vec<_> = (0..7)
            .map(|i| billow_lake::string_column(b, i))
            .collect::<Result<_, _>>()?;
        let s = |i: usize| &cols[i];
        let rows = b.column(7).as_primitive::<Int64Type>();
        let rounded = b.column(8).as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            let part = (s(0).value(r).to_string(), s(1).value(r).to_string());
            if current.get(&part).map(String::as_str) != Some(s(4).value(r)) {
                continue; // an older version, or an attempt that never published
            }
            source_side.insert(
                (
                    part.0,
                    part.1,
                    s(2).value(r).to_string(),
                    s(3).value(r).to_string(),
                ),
                SourceSide {
                    ingestion_id: s(4).value(r).to_string(),
                    billed: s(5).value(r).to_string(),
                    effective: s(6).value(r).to_string(),
                    rows: rows.value(r) as u64,
                    rounded: rounded.value(r) as u64,
                },
            );
        }
    }
    let keys: std::collections::BTreeSet<Key> = lake_side
        .keys()
        .chain(source_side.keys())
        .cloned()
        .collect();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let l = lake_side.get(&key);
        let s = source_side.get(&key);
        let (lb, le, ln) = l
            .map(|l| (l.billed, l.effective, l.rows))
            .unwrap_or((0, 0, 0));
        let (sb, se) = match s {
            Some(s) => (parse_exact(&s.billed)?, parse_exact(&s.effective)?),
            None => (ExactSum::default(), ExactSum::default()),
        };
        let db = difference(lb, &sb)?;
        let de = difference(le, &se)?;
        let rounded = s.map(|s| s.rounded).unwrap_or(0);
        let bound_units = (i128::from(rounded) + 1) / 2; // n × 0.5e-12, rounded up to whole units
        let status = if s.is_none() || l.is_none() || s.map(|s| s.rows) != Some(ln) {
            ReconcileStatus::Mismatch
        } else if db.is_zero() && de.is_zero() {
            ReconcileStatus::Exact
        } else if db.within(bound_units) && de.within(bound_units) {
            ReconcileStatus::WithinRoundingBound
        } else {
            ReconcileStatus::Mismatch
        };
        out.push(ReconcileRow {
            connection_id: key.0,
            billing_period: key.1,
            billing_account_id: key.2,
            charge_category: key.3,
            ingestion_id: s.map(|s| s.ingestion_id.clone()).unwrap_or_default(),
            source_billed: sb.to_decimal_string(),
            lake_billed: format_decimal(lb),
            source_effective: se.to_decimal_string(),
            lake_effective: format_decimal(le),
            billed_difference: db.text,
            effective_difference: de.text,
            rounding_bound: format_decimal(bound_units),
            source_rows: s.map(|s| s.rows).unwrap_or(0),
            lake_rows: ln,
            status,
        });
    }
    Ok(out)
}

fn parse_exact(text: &str) -> Result<ExactSum> {
    ExactSum::from_decimal_str(text)
        .map_err(|e| Error::Internal(format!("stored exact total {text:?}: {e}")))
}

struct Difference {
    text: String,
    exact: ExactSum,
}

impl Difference {
    fn is_zero(&self) -> bool {
        self.exact.is_zero()
    }

    /// Within `bound_units` of 10⁻¹² (an overflowing difference is never within).
    fn within(&self, bound_units: i128) -> bool {
        self.exact
            .abs_lake_units_ceil()
            .is_some_and(|d| d <= bound_units)
    }
}

/// lake (scale 12) − exact source sum, computed exactly.
fn difference(lake: i128, source: &ExactSum) -> Result<Difference> {
    let mut exact = ExactSum::default();
    exact
        .add_units(lake, 12)
        .map_err(|e| Error::Internal(e.to_string()))?;
    exact
        .merge(&source.negated())
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Difference {
        text: exact.to_decimal_string(),
        exact,
    })
}
