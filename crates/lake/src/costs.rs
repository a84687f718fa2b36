//! Cost queries over the `focus` table: totals grouped by one dimension.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray};

use arrow::datatypes::{Decimal128Type, Int64Type};

use crate::{Error, Lake, Result, Scope};

/// What to group costs by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// Day of the charge period start (UTC).
    Day,
    /// ServiceName.
    Service,
    /// SubAccountId (linked account, subscription, project).
    Account,
    /// BillingAccountId.
    BillingAccount,
    /// RegionId.
    Region,
    /// ChargeCategory.
    ChargeCategory,
    /// A tag key's values.
    Tag(String),
}

impl GroupBy {
    /// Parses `day`, `service`, `account`, `billing-account`, `region`, `category` or `tag:<key>`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "day" => GroupBy::Day,
            "service" => GroupBy::Service,
            "account" => GroupBy::Account,
            "billing-account" => GroupBy::BillingAccount,
            "region" => GroupBy::Region,
            "category" => GroupBy::ChargeCategory,
            t => GroupBy::Tag(
                t.strip_prefix("tag:")
                    .filter(|k| !k.is_empty())?
                    .to_string(),
            ),
        })
    }

    fn expression(&self) -> &'static str {
        match self {
            GroupBy::Day => "to_char(ChargePeriodStart, '%Y-%m-%d')",
            GroupBy::Service => "ServiceName",
            GroupBy::Account => "SubAccountId",
            GroupBy::BillingAccount => "BillingAccountId",
            GroupBy::Region => "RegionId",
            GroupBy::ChargeCategory => "ChargeCategory",
            GroupBy::Tag(_) => "Tags",
        }
    }
}

/// One group's totals, in units of 10⁻¹²; a sum the caller's scope hides is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostRow {
    /// Group value (`(none)` when null).
    pub key: String,
    /// Σ BilledCost.
    pub billed: Option<i128>,
    /// Σ EffectiveCost.
    pub effective: Option<i128>,
    /// Σ ListCost.
    pub list: Option<i128>,
    /// Rows.
    pub rows: u64,
}

/// The summed cost columns, in [`CostRow`] order.
const SUMMED: [&str; 3] = ["BilledCost", "EffectiveCost", "ListCost"];

/// `SUM(column)` of each summed column the scope shows, a typed null for the others.
fn sums(scope: &Scope) -> String {
    SUMMED
        .iter()
        .map(|c| {
            if scope.shows(c) {
                format!("SUM({c}) AS s_{c}")
            } else {
                format!("CAST(NULL AS DECIMAL(38, 12)) AS s_{c}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validates `YYYY-MM` (a month 01 to 12).
pub fn is_billing_period(p: &str) -> bool {
    p.len() == 7
        && p.as_bytes()[4] == b'-'
        && p.bytes()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
        && matches!(p[5..].parse::<u8>(), Ok(1..=12))
}

impl Lake {
    /// Totals of one billing period (or all) grouped by `by`, largest billed cost first
    /// (days in order). Read from the partitions' daily rollups when every partition has a
    /// current one (tags are not in rollups), otherwise from the `focus` rows.
    pub async fn costs(
        &self,
        billing_period: Option<&str>,
        connection: Option<&str>,
        by: &GroupBy,
    ) -> Result<Vec<CostRow>> {
        self.costs_in(&Scope::everything(), billing_period, connection, by)
            .await
    }

    /// [`Lake::costs`] within a scope: only its rows are summed, and the sums of its hidden
    /// columns are `None`.
    pub async fn costs_in(
        &self,
        scope: &Scope,
        billing_period: Option<&str>,
        connection: Option<&str>,
        by: &GroupBy,
    ) -> Result<Vec<CostRow>> {
        // A bad period is refused before anything is read.
        filter_clause(billing_period, connection)?;
        if !matches!(by, GroupBy::Tag(_))
            && let Some(files) = self
                .current_rollups(scope, billing_period, connection)
                .await?
        {
            if files.is_empty() {
                return Ok(Vec::new());
            }
            let key = match by {
                GroupBy::Day => "x_Day",
                other => other.expression(),
            };
            // The rollup keeps both account columns, so an account scope applies to it as to
            // the rows.
            let groups = self.sum_rollups(&files, key, scope)?;
            return Ok(ordered(groups, by));
        }
        self.costs_from_focus_in(scope, billing_period, connection, by)
            .await
    }

    /// [`Lake::costs`] summed from the `focus` rows themselves, whatever rollups there are.
    pub async fn costs_from_focus(
        &self,
        billing_period: Option<&str>,
        connection: Option<&str>,
        by: &GroupBy,
    ) -> Result<Vec<CostRow>> {
        self.costs_from_focus_in(&Scope::everything(), billing_period, connection, by)
            .await
    }

    async fn costs_from_focus_in(
        &self,
        scope: &Scope,
        billing_period: Option<&str>,
        connection: Option<&str>,
        by: &GroupBy,
    ) -> Result<Vec<CostRow>> {
        let filter = filter_clause(billing_period, connection)?;
        let query = format!(
            "SELECT {} AS k, {}, COUNT(*) FROM focus {filter} GROUP BY 1",
            by.expression(),
            sums(scope)
        );
        let ctx = self.scoped_session(scope).await?;
        let batches = crate::collect_sql(&ctx, &query).await?;
        summarize(&batches, by, scope)
    }
}

/// `WHERE` of a billing period and connection filter (empty for neither).
fn filter_clause(billing_period: Option<&str>, connection: Option<&str>) -> Result<String> {
    let mut filters = Vec::new();
    if let Some(p) = billing_period {
        if !is_billing_period(p) {
            return Err(Error::Inconsistent(format!(
                "billing period {p:?} is not YYYY-MM"
            )));
        }
        filters.push(format!("x_BillingPeriod = '{p}'"));
    }
    if let Some(c) = connection {
        filters.push(format!("x_ConnectionId = '{}'", c.replace('\'', "''")));
    }
    Ok(if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    })
}

/// Groups of (key, Σ billed, Σ effective, Σ list, rows) batches, merged by display key (tag
/// values of different JSON objects may be equal) and ordered.
fn summarize(
    batches: &[arrow::record_batch::RecordBatch],
    by: &GroupBy,
    scope: &Scope,
) -> Result<Vec<CostRow>> {
    let shown = |c: &str| scope.shows(c).then_some(0i128);
    let mut groups: BTreeMap<String, CostRow> = BTreeMap::new();
    for b in batches {
        let keys = crate::string_column(b, 0)?;
        let (billed, effective, list) = (
            b.column(1).as_primitive::<Decimal128Type>(),
            b.column(2).as_primitive::<Decimal128Type>(),
            b.column(3).as_primitive::<Decimal128Type>(),
        );
        let rows = b.column(4).as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            let raw = if keys.is_null(r) {
                None
            } else {
                Some(keys.value(r))
            };
            let key = match by {
                GroupBy::Tag(tag) => tag_value(raw, tag),
                _ => raw.unwrap_or("(none)").to_string(),
            };
            let g = groups.entry(key.clone()).or_insert(CostRow {
                key,
                billed: shown(SUMMED[0]),
                effective: shown(SUMMED[1]),
                list: shown(SUMMED[2]),
                rows: 0,
            });
            let add = |sum: &mut Option<i128>, a: &arrow::array::Decimal128Array| {
                if let Some(s) = sum
                    && !a.is_null(r)
                {
                    *s += a.value(r);
                }
            };
            add(&mut g.billed, billed);
            add(&mut g.effective, effective);
            add(&mut g.list, list);
            g.rows += rows.value(r) as u64;
        }
    }
    Ok(ordered(groups, by))
}

/// Groups in the order `costs` promises: days in order, otherwise largest first by the first
/// cost the scope shows.
fn ordered(groups: BTreeMap<String, CostRow>, by: &GroupBy) -> Vec<CostRow> {
    let mut out: Vec<CostRow> = groups.into_values().collect();
    if *by == GroupBy::Day {
        out.sort_by(|a, b| a.key.cmp(&b.key));
    } else {
        // Largest first by the first cost the scope shows.
        let size = |r: &CostRow| r.billed.or(r.effective).or(r.list).unwrap_or(0);
        out.sort_by(|a, b| size(b).cmp(&size(a)).then_with(|| a.key.cmp(&b.key)));
    }
    out
}

fn tag_value(tags: Option<&str>, key: &str) -> String {
    let value = tags
        .and_then(|t| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(t).ok())
        .and_then(|m| m.get(key).cloned());
    match value {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Null) | None => "(untagged)".into(),
        Some(v) => v.to_string(),
    }
}
