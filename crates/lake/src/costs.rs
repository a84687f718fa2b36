//! Cost queries over the `focus` table: totals grouped by one dimension, optionally per day
//! or per billing period, filtered by any dimension.

use std::collections::{BTreeSet, HashMap};

use arrow::array::{Array, AsArray};

use arrow::datatypes::{DataType, Decimal128Type, Int64Type};

use crate::{Error, Lake, Result, Scope};

/// The key of a group whose dimension is null, and the filter value that selects it.
pub const NONE: &str = "(none)";
/// The key of a tag grouping's rows without the tag, and the filter value that selects them.
pub const UNTAGGED: &str = "(untagged)";

/// A dimension costs are grouped or filtered by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// The connection (`x_ConnectionId`), one billing source.
    Connection,
    /// A tag key's values.
    Tag(String),
}

impl GroupBy {
    /// Parses `day`, `service`, `account`, `billing-account`, `region`, `category`,
    /// `connection` or `tag:<key>`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "day" => GroupBy::Day,
            "service" => GroupBy::Service,
            "account" => GroupBy::Account,
            "billing-account" => GroupBy::BillingAccount,
            "region" => GroupBy::Region,
            "category" => GroupBy::ChargeCategory,
            "connection" => GroupBy::Connection,
            t => GroupBy::Tag(
                t.strip_prefix("tag:")
                    .filter(|k| !k.is_empty())?
                    .to_string(),
            ),
        })
    }

    /// The name [`GroupBy::parse`] reads.
    pub fn name(&self) -> String {
        match self {
            GroupBy::Day => "day".into(),
            GroupBy::Service => "service".into(),
            GroupBy::Account => "account".into(),
            GroupBy::BillingAccount => "billing-account".into(),
            GroupBy::Region => "region".into(),
            GroupBy::ChargeCategory => "category".into(),
            GroupBy::Connection => "connection".into(),
            GroupBy::Tag(key) => format!("tag:{key}"),
        }
    }

    /// The `focus` column (or expression) holding the dimension.
    pub(crate) fn expression(&self) -> &'static str {
        match self {
            GroupBy::Day => "to_char(ChargePeriodStart, '%Y-%m-%d')",
            GroupBy::Service => "ServiceName",
            GroupBy::Account => "SubAccountId",
            GroupBy::BillingAccount => "BillingAccountId",
            GroupBy::Region => "RegionId",
            GroupBy::ChargeCategory => "ChargeCategory",
            GroupBy::Connection => "x_ConnectionId",
            GroupBy::Tag(_) => "Tags",
        }
    }
}

/// The time bucket of each group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Granularity {
    /// One bucket: the whole range.
    #[default]
    Total,
    /// Day of the charge period start (UTC), `YYYY-MM-DD`.
    Day,
    /// Billing period, `YYYY-MM`.
    Month,
}

impl Granularity {
    /// Parses `total`, `day` or `month`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "total" => Granularity::Total,
            "day" => Granularity::Day,
            "month" => Granularity::Month,
            _ => return None,
        })
    }
}

/// Rows whose dimension takes one of the values ([`NONE`] for null, [`UNTAGGED`] for a
/// missing tag).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Filter {
    /// What is compared; any dimension but [`GroupBy::Day`].
    pub dimension: GroupBy,
    /// The values kept (any of them).
    pub values: BTreeSet<String>,
}

/// What to sum: a range of billing periods, a grouping, a time bucket and filters (a row
/// counts when it passes every filter).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CostQuery {
    /// First billing period, `YYYY-MM` (`None`: from the first).
    pub from: Option<String>,
    /// Last billing period, inclusive (`None`: to the last).
    pub to: Option<String>,
    /// The dimension of the groups.
    pub by: GroupBy,
    /// The time bucket of the groups.
    pub granularity: Granularity,
    /// Filters, all of which a row passes.
    pub filters: Vec<Filter>,
}

impl CostQuery {
    /// One billing period (or all), grouped by `by`.
    pub fn new(billing_period: Option<&str>, by: GroupBy) -> CostQuery {
        CostQuery {
            from: billing_period.map(str::to_string),
            to: billing_period.map(str::to_string),
            by,
            granularity: Granularity::Total,
            filters: Vec::new(),
        }
    }

    /// Adds a filter: `dimension` is one of `values`. A second filter of the same dimension
    /// narrows the first (both must hold).
    pub fn filter<I, S>(mut self, dimension: GroupBy, values: I) -> CostQuery
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.filters.push(Filter {
            dimension,
            values: values.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Per day or billing period.
    pub fn granularity(mut self, granularity: Granularity) -> CostQuery {
        self.granularity = granularity;
        self
    }

    /// Refuses a malformed query before anything is read.
    pub fn validate(&self) -> Result<()> {
        for p in [&self.from, &self.to].into_iter().flatten() {
            if !is_billing_period(p) {
                return Err(Error::Inconsistent(format!(
                    "billing period {p:?} is not YYYY-MM"
                )));
            }
        }
        if let (Some(a), Some(b)) = (&self.from, &self.to)
            && a > b
        {
            return Err(Error::Inconsistent(format!(
                "billing period range {a}..{b} is empty"
            )));
        }
        for f in &self.filters {
            if f.dimension == GroupBy::Day {
                return Err(Error::Inconsistent(
                    "costs are filtered by billing period, not by day".into(),
                ));
            }
            if f.values.is_empty() {
                return Err(Error::Inconsistent(format!(
                    "the {} filter has no value",
                    f.dimension.name()
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn includes_period(&self, period: &str) -> bool {
        self.from.as_deref().is_none_or(|a| a <= period)
            && self.to.as_deref().is_none_or(|b| period <= b)
    }

    /// Whether every connection filter allows `connection`.
    pub(crate) fn allows_connection(&self, connection: &str) -> bool {
        self.filters
            .iter()
            .filter(|f| f.dimension == GroupBy::Connection)
            .all(|f| f.values.contains(connection))
    }

    /// Whether the tag rollup holds the answer: grouped by a tag, filtered only by accounts,
    /// connections and that same tag (the tag rollup keeps no service, region or category,
    /// and no two tags together).
    pub(crate) fn tag_rollup_answers(&self) -> bool {
        let GroupBy::Tag(key) = &self.by else {
            return false;
        };
        self.filters.iter().all(|f| match &f.dimension {
            GroupBy::Account | GroupBy::BillingAccount | GroupBy::Connection => true,
            GroupBy::Tag(k) => k == key,
            _ => false,
        })
    }

    /// The tag filters as (tag key, values kept).
    fn tag_filters(&self) -> Vec<(&str, &BTreeSet<String>)> {
        self.filters
            .iter()
            .filter_map(|f| match &f.dimension {
                GroupBy::Tag(key) => Some((key.as_str(), &f.values)),
                _ => None,
            })
            .collect()
    }

    /// Whether a row with this `Tags` text passes every tag filter.
    fn passes_tags(filters: &[(&str, &BTreeSet<String>)], tags: Option<&str>) -> bool {
        if filters.is_empty() {
            return true;
        }
        let parsed = parse_tags(tags);
        filters
            .iter()
            .all(|(key, values)| values.contains(&tag_value(parsed.as_ref(), key)))
    }

    /// Which rows of a `focus` batch pass the query's tag filters (all when it has none).
    pub(crate) fn keeps_tags(
        &self,
        batch: &arrow::record_batch::RecordBatch,
    ) -> Result<Option<arrow::array::BooleanArray>> {
        let filters = self.tag_filters();
        if filters.is_empty() {
            return Ok(None);
        }
        let tags = crate::string_column(batch, batch.schema().index_of("Tags")?)?;
        Ok(Some(
            (0..batch.num_rows())
                .map(|r| {
                    Some(Self::passes_tags(
                        &filters,
                        tags.is_valid(r).then(|| tags.value(r)),
                    ))
                })
                .collect(),
        ))
    }

    fn has_tags(&self) -> bool {
        matches!(self.by, GroupBy::Tag(_))
            || self
                .filters
                .iter()
                .any(|f| matches!(f.dimension, GroupBy::Tag(_)))
    }
}

/// One group's totals, in units of 10⁻¹²; a sum the caller's scope hides is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostRow {
    /// Time bucket (`YYYY-MM-DD` or `YYYY-MM`); `None` for [`Granularity::Total`].
    pub time: Option<String>,
    /// Group value ([`NONE`] when null, [`UNTAGGED`] for a missing tag).
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

impl CostRow {
    /// An empty group: zero for each sum `scope` shows, `None` for the others.
    pub fn zero(time: Option<String>, key: String, scope: &Scope) -> CostRow {
        let shown = |c: &str| scope.shows(c).then_some(0i128);
        CostRow {
            time,
            key,
            billed: shown(SUMMED[0]),
            effective: shown(SUMMED[1]),
            list: shown(SUMMED[2]),
            rows: 0,
        }
    }

    /// Adds another group's sums (a sum this row hides stays hidden).
    pub fn add(&mut self, other: &CostRow) -> Result<()> {
        for (sum, value) in [
            (&mut self.billed, other.billed),
            (&mut self.effective, other.effective),
            (&mut self.list, other.list),
        ] {
            if let (Some(s), Some(v)) = (sum.as_mut(), value) {
                *s = s
                    .checked_add(v)
                    .ok_or_else(|| Error::Inconsistent("a cost total passed Decimal128".into()))?;
            }
        }
        self.rows += other.rows;
        Ok(())
    }
}

/// The summed cost columns, in [`CostRow`] order.
pub(crate) const SUMMED: [&str; 3] = ["BilledCost", "EffectiveCost", "ListCost"];

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
        self.query_costs(scope, &simple_query(billing_period, connection, by))
            .await
    }

    /// The groups of a [`CostQuery`] within a scope, ordered by time bucket, then days in
    /// order or largest first by the first cost the scope shows. Read from the daily
    /// rollups when every partition in range has a current one and no tag is involved,
    /// otherwise from the `focus` rows.
    pub async fn query_costs(&self, scope: &Scope, query: &CostQuery) -> Result<Vec<CostRow>> {
        query.validate()?;
        if let Some(files) = self.current_rollups(scope, query).await? {
            // The rollups keep both account columns, so an account scope applies to them as
            // to the rows.
            if !query.has_tags() {
                return self.sum_rollups(&files, query, scope);
            }
            if let GroupBy::Tag(tag) = &query.by
                && query.tag_rollup_answers()
                && let Some(tag_files) = crate::rollup::tag_rollups(&files)
                && self.tag_rollups_keep(&tag_files, tag)?
            {
                return self.sum_rollups(&tag_files, query, scope);
            }
        }
        self.query_costs_from_focus(scope, query).await
    }

    /// [`Lake::costs`] summed from the `focus` rows themselves, whatever rollups there are.
    pub async fn costs_from_focus(
        &self,
        billing_period: Option<&str>,
        connection: Option<&str>,
        by: &GroupBy,
    ) -> Result<Vec<CostRow>> {
        self.query_costs_from_focus(
            &Scope::everything(),
            &simple_query(billing_period, connection, by),
        )
        .await
    }

    /// [`Lake::query_costs`] summed from the `focus` rows themselves.
    pub async fn query_costs_from_focus(
        &self,
        scope: &Scope,
        query: &CostQuery,
    ) -> Result<Vec<CostRow>> {
        use datafusion::functions::expr_fn::to_char;
        use datafusion::functions_aggregate::expr_fn::{count, sum};
        use datafusion::prelude::{Expr, cast, ident, lit};
        let null_text = || cast(lit(datafusion::scalar::ScalarValue::Null), DataType::Utf8);
        let day = || to_char(ident("ChargePeriodStart"), lit("%Y-%m-%d"));
        let time = match query.granularity {
            Granularity::Total => null_text(),
            Granularity::Day => day(),
            Granularity::Month => ident("x_BillingPeriod"),
        };
        let key = match &query.by {
            GroupBy::Day => day(),
            by => ident(by.expression()),
        };
        let tag_filters = query.tag_filters();
        // Tag filters are applied to each distinct Tags value after the scan (the query
        // engine has no JSON functions); the other filters prune files and rows.
        let tags = if tag_filters.is_empty() {
            null_text()
        } else {
            ident("Tags")
        };
        let sums: Vec<Expr> = SUMMED
            .iter()
            .map(|c| {
                if scope.shows(c) {
                    sum(ident(*c))
                } else {
                    sum(cast(
                        lit(datafusion::scalar::ScalarValue::Null),
                        DataType::Decimal128(38, 12),
                    ))
                }
            })
            .chain([count(lit(1i64))])
            .collect();
        let (frame, _) = self.focus_rows_of(scope, query).await?;
        // Aliased: the time and the tags may both be the same null, which would otherwise be
        // one grouping column.
        let batches = frame
            .aggregate(vec![time.alias("t"), key.alias("k"), tags.alias("g")], sums)?
            .collect()
            .await?;
        let mut groups = Groups::new(scope);
        for b in &batches {
            let (time, keys, tags) = (
                crate::string_column(b, 0)?,
                crate::string_column(b, 1)?,
                crate::string_column(b, 2)?,
            );
            let costs = [3, 4, 5].map(|c| b.column(c).as_primitive::<Decimal128Type>());
            let rows = b.column(6).as_primitive::<Int64Type>();
            for r in 0..b.num_rows() {
                if !CostQuery::passes_tags(&tag_filters, tags.is_valid(r).then(|| tags.value(r))) {
                    continue;
                }
                let raw = keys.is_valid(r).then(|| keys.value(r));
                let key = match &query.by {
                    GroupBy::Tag(tag) => tag_value(parse_tags(raw).as_ref(), tag),
                    _ => raw.unwrap_or(NONE).to_string(),
                };
                let time = time.is_valid(r).then(|| time.value(r));
                groups.add(
                    time,
                    &key,
                    costs.map(|c| c.is_valid(r).then(|| c.value(r))),
                    rows.value(r) as u64,
                )?;
            }
        }
        Ok(groups.finish(&query.by))
    }
}

fn simple_query(billing_period: Option<&str>, connection: Option<&str>, by: &GroupBy) -> CostQuery {
    let query = CostQuery::new(billing_period, by.clone());
    match connection {
        Some(c) => query.filter(GroupBy::Connection, [c]),
        None => query,
    }
}

/// A filter as a DataFusion condition (`None` for a tag filter, which is applied to the rows
/// read, see [`CostQuery::keeps_tags`]).
pub(crate) fn filter_expr(f: &Filter) -> Option<datafusion::prelude::Expr> {
    use datafusion::prelude::{Expr, ident, lit};
    if matches!(f.dimension, GroupBy::Tag(_) | GroupBy::Day) {
        return None;
    }
    let column = ident(f.dimension.expression());
    let listed: Vec<Expr> = f
        .values
        .iter()
        .filter(|v| *v != NONE)
        .map(|v| lit(v.as_str()))
        .collect();
    let mut any: Option<Expr> = (!listed.is_empty()).then(|| column.clone().in_list(listed, false));
    if f.values.contains(NONE) {
        let null = column.is_null();
        any = Some(match any {
            Some(e) => e.or(null),
            None => null,
        });
    }
    any
}

/// Groups being summed, found by (time bucket, key) with one hash lookup per row.
pub(crate) struct Groups<'s> {
    scope: &'s Scope,
    index: HashMap<String, usize>,
    rows: Vec<CostRow>,
    /// The lookup key of the row being added, reused.
    lookup: String,
}

impl<'s> Groups<'s> {
    pub(crate) fn new(scope: &'s Scope) -> Self {
        Groups {
            scope,
            index: HashMap::new(),
            rows: Vec::new(),
            lookup: String::new(),
        }
    }

    /// Adds one row's (or partial group's) sums to its group; a null value adds nothing.
    pub(crate) fn add(
        &mut self,
        time: Option<&str>,
        key: &str,
        values: [Option<i128>; 3],
        rows: u64,
    ) -> Result<()> {
        self.lookup.clear();
        if let Some(t) = time {
            self.lookup.push_str(t);
        }
        self.lookup.push('\u{1}');
        self.lookup.push_str(key);
        let g = match self.index.get(self.lookup.as_str()) {
            Some(&g) => g,
            None => {
                self.index.insert(self.lookup.clone(), self.rows.len());
                self.rows.push(CostRow::zero(
                    time.map(str::to_string),
                    key.to_string(),
                    self.scope,
                ));
                self.rows.len() - 1
            }
        };
        let group = &mut self.rows[g];
        for (sum, value) in [&mut group.billed, &mut group.effective, &mut group.list]
            .into_iter()
            .zip(values)
        {
            if let (Some(s), Some(v)) = (sum.as_mut(), value) {
                *s = s
                    .checked_add(v)
                    .ok_or_else(|| Error::Inconsistent("a cost total passed Decimal128".into()))?;
            }
        }
        group.rows += rows;
        Ok(())
    }

    /// The groups in the order `costs` promises: by time bucket, then days in order,
    /// otherwise largest first by the first cost the scope shows.
    pub(crate) fn finish(self, by: &GroupBy) -> Vec<CostRow> {
        let mut out = self.rows;
        let size = |r: &CostRow| r.billed.or(r.effective).or(r.list).unwrap_or(0);
        out.sort_by(|a, b| {
            a.time.cmp(&b.time).then_with(|| {
                if *by == GroupBy::Day {
                    a.key.cmp(&b.key)
                } else {
                    size(b).cmp(&size(a)).then_with(|| a.key.cmp(&b.key))
                }
            })
        });
        out
    }
}

fn parse_tags(tags: Option<&str>) -> Option<serde_json::Map<String, serde_json::Value>> {
    tags.and_then(|t| serde_json::from_str(t).ok())
}

fn tag_value(tags: Option<&serde_json::Map<String, serde_json::Value>>, key: &str) -> String {
    match tags.and_then(|m| m.get(key)) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => UNTAGGED.into(),
        Some(v) => v.to_string(),
    }
}
