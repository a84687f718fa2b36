//! The overview page: one card per provider, the daily trend by provider, and the month's
//! top accounts, services, regions and tag values.

use std::collections::{BTreeMap, BTreeSet};

use billow_lake::costs::{CostQuery, CostRow, Granularity, GroupBy, UNTAGGED};
use billow_lake::{Lake, Scope};
use chrono::{Datelike, Days, Months, NaiveDate};

use crate::{Error, Result};

/// The cost sum a dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostColumn {
    /// Σ BilledCost.
    Billed,
    /// Σ EffectiveCost.
    Effective,
    /// Σ ListCost.
    List,
}

impl CostColumn {
    /// The column's sum in a group (`None` when the scope hides it).
    pub fn of(self, row: &CostRow) -> Option<i128> {
        match self {
            CostColumn::Billed => row.billed,
            CostColumn::Effective => row.effective,
            CostColumn::List => row.list,
        }
    }
}

/// What the overview is asked for.
#[derive(Debug, Clone)]
pub struct OverviewRequest {
    /// The day the overview is for (today, UTC): its month is "month to date".
    pub as_of: NaiveDate,
    /// Days of the trend, ending with `as_of`.
    pub trend_days: u32,
    /// The sum shown.
    pub column: CostColumn,
    /// The card of each connection the caller may see: its provider, or any key the caller
    /// chooses (the server gives each FOCUS connection its own); connections without one are
    /// shown under their own id.
    pub providers: BTreeMap<String, String>,
    /// The tag key whose values are ranked (`None`: no tag ranking).
    pub tag_key: Option<String>,
    /// How many accounts, services, regions and tag values are ranked.
    pub top: usize,
}

/// One provider's card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCard {
    /// `aws`, `azure`, `gcp`…
    pub provider: String,
    /// Its connections the caller may see.
    pub connections: Vec<String>,
    /// Σ of the current billing period (what `billow costs --month` sums).
    pub month_to_date: i128,
    /// Σ of the previous billing period.
    pub last_month: i128,
    /// Σ of the previous billing period's charges up to the same day of the month, to
    /// compare with `month_to_date` like for like.
    pub last_month_to_date: i128,
    /// Month to date plus the average of the last 7 days with data for each day of the
    /// month after the latest day with data; `None` without data this month.
    pub projection: Option<i128>,
    /// The latest charge day of the current month with data.
    pub last_charge_day: Option<NaiveDate>,
    /// Whether any billing period of its connections has data.
    pub has_data: bool,
}

/// Daily cost per provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trend {
    /// Each day of the window, in order.
    pub days: Vec<NaiveDate>,
    /// Per provider, one sum per day of `days`.
    pub series: Vec<(String, Vec<i128>)>,
}

/// A ranked group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// The group's value.
    pub key: String,
    /// Its sum.
    pub cost: i128,
}

/// The overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// The current billing period, `YYYY-MM`.
    pub month: String,
    /// The previous one.
    pub last_month: String,
    /// One card per provider, largest month to date first.
    pub cards: Vec<ProviderCard>,
    /// The daily trend.
    pub trend: Trend,
    /// Top accounts (sub accounts) of the month.
    pub accounts: Vec<Ranked>,
    /// Top services of the month.
    pub services: Vec<Ranked>,
    /// Top regions of the month.
    pub regions: Vec<Ranked>,
    /// Top values of the requested tag key this month.
    pub tags: Vec<Ranked>,
}

fn period(day: NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn days_in_month(day: NaiveDate) -> u32 {
    let first = first_of_month(day);
    first
        .checked_add_months(Months::new(1))
        .and_then(|next| next.pred_opt())
        .map_or(31, |last| last.day())
}

/// Answers the overview within `scope` from the lake's rollups (the tag ranking reads rows
/// until tags have rollups of their own).
pub async fn overview(lake: &Lake, scope: &Scope, request: &OverviewRequest) -> Result<Overview> {
    let as_of = request.as_of;
    if request.trend_days == 0 || request.trend_days > 400 {
        return Err(Error::Invalid(format!(
            "a trend of {} days; ask for 1 to 400",
            request.trend_days
        )));
    }
    let month_start = first_of_month(as_of);
    let last_month_start = month_start
        .checked_sub_months(Months::new(1))
        .ok_or_else(|| Error::Invalid(format!("{as_of} has no previous month")))?;
    let trend_start = as_of
        .checked_sub_days(Days::new(u64::from(request.trend_days) - 1))
        .ok_or_else(|| Error::Invalid(format!("{as_of} minus the trend is out of range")))?;
    let (month, last_month) = (period(as_of), period(last_month_start));
    let column = request.column;
    let cost = |r: &CostRow| column.of(r).unwrap_or(0);
    let provider_of = |connection: &str| {
        request
            .providers
            .get(connection)
            .cloned()
            .unwrap_or_else(|| connection.to_string())
    };

    // Per connection and billing period: the cards' month to date and last month, exactly
    // what `costs --month` sums.
    let mut by_period = CostQuery::new(None, GroupBy::Connection).granularity(Granularity::Month);
    by_period.from = Some(last_month.clone());
    by_period.to = Some(month.clone());
    let periods = lake.query_costs(scope, &by_period).await?;
    // Per connection and charge day, over the trend, last month and the projection's week.
    let first_day = trend_start.min(last_month_start);
    let mut by_day = CostQuery::new(None, GroupBy::Connection).granularity(Granularity::Day);
    by_day.from = Some(period(first_day));
    by_day.to = Some(month.clone());
    let days = lake.query_costs(scope, &by_day).await?;
    // Which connections have data at all.
    let ever = lake
        .query_costs(scope, &CostQuery::new(None, GroupBy::Connection))
        .await?;
    let with_data: BTreeSet<&str> = ever
        .iter()
        .filter(|r| r.rows > 0)
        .map(|r| r.key.as_str())
        .collect();

    // A card for each provider of a connection the caller may see, data or not.
    let mut cards: BTreeMap<String, ProviderCard> = BTreeMap::new();
    let mut connections: BTreeSet<String> = request.providers.keys().cloned().collect();
    connections.extend(with_data.iter().map(|c| c.to_string()));
    for connection in connections {
        if !scope.includes_connection(&connection) {
            continue;
        }
        let provider = provider_of(&connection);
        let card = cards
            .entry(provider.clone())
            .or_insert_with(|| ProviderCard {
                provider,
                connections: Vec::new(),
                month_to_date: 0,
                last_month: 0,
                last_month_to_date: 0,
                projection: None,
                last_charge_day: None,
                has_data: false,
            });
        card.has_data |= with_data.contains(connection.as_str());
        card.connections.push(connection);
    }
    for r in &periods {
        if let Some(c) = cards.get_mut(&provider_of(&r.key)) {
            match r.time.as_deref() {
                Some(p) if p == month => c.month_to_date += cost(r),
                Some(p) if p == last_month => c.last_month += cost(r),
                _ => {}
            }
        }
    }

    // Daily sums per provider.
    let mut daily: BTreeMap<String, BTreeMap<NaiveDate, i128>> = BTreeMap::new();
    for r in &days {
        let Some(day) = r
            .time
            .as_deref()
            .and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
        else {
            continue;
        };
        *daily
            .entry(provider_of(&r.key))
            .or_default()
            .entry(day)
            .or_default() += cost(r);
    }
    let same_day_last_month = last_month_start
        .with_day(as_of.day().min(days_in_month(last_month_start)))
        .unwrap_or(last_month_start);
    for (provider, c) in cards.iter_mut() {
        let Some(series) = daily.get(provider) else {
            continue;
        };
        c.last_month_to_date = series
            .range(last_month_start..=same_day_last_month)
            .map(|(_, v)| v)
            .sum();
        c.last_charge_day = series
            .range(month_start..=as_of)
            .filter(|(_, v)| **v != 0)
            .map(|(d, _)| *d)
            .next_back();
        if let Some(last) = c.last_charge_day {
            // The last 7 days with data up to the latest, whatever their month.
            let week: Vec<i128> = series
                .range(..=last)
                .rev()
                .take(7)
                .map(|(_, v)| *v)
                .collect();
            let average = week.iter().sum::<i128>() / week.len().max(1) as i128;
            let remaining = i128::from(days_in_month(as_of).saturating_sub(last.day()));
            c.projection = Some(c.month_to_date + average * remaining);
        }
    }

    let window: Vec<NaiveDate> = trend_start
        .iter_days()
        .take_while(|d| *d <= as_of)
        .collect();
    let mut series: Vec<(String, Vec<i128>)> = cards
        .keys()
        .map(|provider| {
            let values = window
                .iter()
                .map(|d| {
                    daily
                        .get(provider)
                        .and_then(|s| s.get(d))
                        .copied()
                        .unwrap_or(0)
                })
                .collect();
            (provider.clone(), values)
        })
        .collect();
    series.sort_by_key(|(_, v)| std::cmp::Reverse(v.iter().sum::<i128>()));

    let ranked = |rows: Vec<CostRow>| -> Vec<Ranked> {
        let mut out: Vec<Ranked> = rows
            .iter()
            .map(|r| Ranked {
                key: r.key.clone(),
                cost: cost(r),
            })
            .collect();
        out.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.key.cmp(&b.key)));
        out.truncate(request.top);
        out
    };
    let this_month = |by: GroupBy| CostQuery::new(Some(&month), by);
    let accounts = ranked(
        lake.query_costs(scope, &this_month(GroupBy::Account))
            .await?,
    );
    let services = ranked(
        lake.query_costs(scope, &this_month(GroupBy::Service))
            .await?,
    );
    let regions = ranked(
        lake.query_costs(scope, &this_month(GroupBy::Region))
            .await?,
    );
    let tags = match &request.tag_key {
        Some(key) => {
            let rows = lake
                .query_costs(scope, &this_month(GroupBy::Tag(key.clone())))
                .await?;
            ranked(rows.into_iter().filter(|r| r.key != UNTAGGED).collect())
        }
        None => Vec::new(),
    };

    let mut cards: Vec<ProviderCard> = cards.into_values().collect();
    cards.sort_by(|a, b| {
        b.month_to_date
            .cmp(&a.month_to_date)
            .then_with(|| a.provider.cmp(&b.provider))
    });
    Ok(Overview {
        month,
        last_month,
        cards,
        trend: Trend {
            days: window,
            series,
        },
        accounts,
        services,
        regions,
        tags,
    })
}
