//! The dashboard's questions: the overview (a card per provider, the daily trend, the top
//! accounts, services, regions and tag values), answered by `billow-intelligence` from the
//! lake's rollups within the caller's scope.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use billow_focus::money::format_decimal;
use billow_intelligence::{CostColumn, OverviewRequest, Ranked};
use billow_store::{CostType, CostTypes, Permission};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::data::{Check, connection_checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiQuery, Caller};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
pub(crate) struct OverviewQuery {
    /// The day the overview is for, `YYYY-MM-DD` (default today, UTC).
    #[param(example = "2026-11-24", pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    as_of: Option<String>,
    /// Days of the trend (default 30).
    #[param(minimum = 1, maximum = 400)]
    days: Option<u32>,
    /// provider, billed, effective or list (default the first of billed, effective,
    /// provider, list the caller may see).
    #[param(pattern = "^(provider|billed|effective|list)$")]
    cost_type: Option<String>,
    /// The tag key whose values are ranked (default `team`).
    tag: Option<String>,
    /// How many of each ranking (default 10).
    #[param(minimum = 1, maximum = 100)]
    top: Option<u32>,
}

/// One provider's card; amounts are exact decimal strings.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProviderCardView {
    /// The provider (`aws`, `azure`…), or `focus:<connection name>` for a connection of
    /// FOCUS files (a SaaS vendor's bill).
    #[schema(example = "aws")]
    provider: String,
    connections: Vec<String>,
    month_to_date: String,
    last_month: String,
    /// The previous month up to the same day of the month.
    last_month_to_date: String,
    /// Month to date against the same days of last month, in percent (absent when either
    /// has none).
    change_percent: Option<String>,
    /// Month to date plus the last 7 days' average for each day left (absent without data
    /// this month).
    projection: Option<String>,
    /// The latest charge day of this month with data.
    last_charge_day: Option<String>,
    /// The latest successful sync of its connections.
    last_sync_at: Option<String>,
    /// Whether any billing period of its connections has data.
    has_data: bool,
    /// For a provider without data: what its connections' checks say (empty for callers
    /// who may not read connections).
    checks: Vec<Check>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RankedView {
    key: String,
    cost: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TrendSeries {
    provider: String,
    /// One exact sum per day of `days`.
    values: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TrendView {
    days: Vec<String>,
    series: Vec<TrendSeries>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct OverviewView {
    as_of: String,
    month: String,
    last_month: String,
    cost_type: String,
    cards: Vec<ProviderCardView>,
    trend: TrendView,
    accounts: Vec<RankedView>,
    services: Vec<RankedView>,
    regions: Vec<RankedView>,
    tag_key: Option<String>,
    tags: Vec<RankedView>,
}

fn ranked(rows: Vec<Ranked>) -> Vec<RankedView> {
    rows.into_iter()
        .map(|r| RankedView {
            key: r.key,
            cost: format_decimal(r.cost),
        })
        .collect()
}

/// Month to date against last month's same days, in percent with one decimal.
fn change_percent(now: i128, before: i128) -> Option<String> {
    if before == 0 {
        return None;
    }
    // Tenths of a percent, rounded half away from zero, in integers.
    let scaled = (now - before).checked_mul(2000)? / before;
    let tenths = (scaled + scaled.signum()) / 2;
    Some(format!(
        "{}{}.{}",
        if tenths < 0 { "-" } else { "" },
        tenths.abs() / 10,
        tenths.abs() % 10
    ))
}

/// The overview: a cost card per provider, the daily trend by provider, and this month's
/// top accounts, services, regions and tag values, in one cost type the caller may see.
#[utoipa::path(get, path = "/api/v1/overview", tag = "costs", security(("bearer" = [])), params(OverviewQuery),
    responses((status = 200, body = OverviewView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn overview(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiQuery(q): ApiQuery<OverviewQuery>,
) -> ApiResult<Json<OverviewView>> {
    access.require(Permission::ReadCosts)?;
    let as_of = match &q.as_of {
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            ApiError::bad_request(format!("as_of {text:?} is not a date"))
                .hint("as_of is YYYY-MM-DD, for example 2026-11-24")
        })?,
        None => chrono::Utc::now().date_naive(),
    };
    let cost_type = match &q.cost_type {
        Some(name) => {
            let t: CostType = name.parse().map_err(|_| {
                ApiError::bad_request(format!("{name:?} is not a cost type"))
                    .hint("cost_type is provider, billed, effective or list")
            })?;
            if !access.cost_types.contains(t) {
                return Err(
                    ApiError::forbidden(format!("your role may not see {t} cost"))
                        .hint("ask an Owner or Admin to grant that cost type, or choose another"),
                );
            }
            t
        }
        None => [
            CostType::Billed,
            CostType::Effective,
            CostType::Provider,
            CostType::List,
        ]
        .into_iter()
        .find(|t| access.cost_types.contains(*t))
        .ok_or_else(|| {
            ApiError::forbidden("your role sees no cost type")
                .hint("ask an Owner or Admin to grant a cost type")
        })?,
    };
    let column = match cost_type {
        CostType::Provider | CostType::Billed => CostColumn::Billed,
        CostType::Effective => CostColumn::Effective,
        CostType::List => CostColumn::List,
    };
    // A FOCUS connection is a vendor of its own (a SaaS bill, another tool's export): its
    // card is `focus:<connection name>`, not one card for every FOCUS file.
    let providers: BTreeMap<String, String> = state
        .store()
        .connection_providers(&access)
        .await?
        .into_iter()
        .map(|(id, name, provider)| {
            let card = if provider == "focus" {
                format!("focus:{name}")
            } else {
                provider
            };
            (id, card)
        })
        .collect();
    let request = OverviewRequest {
        as_of,
        trend_days: q.days.unwrap_or(30).clamp(1, 400),
        column,
        providers,
        tag_key: Some(
            q.tag
                .clone()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| "team".into()),
        ),
        top: q.top.unwrap_or(10).clamp(1, 100) as usize,
    };
    let scope = state
        .scope_showing(&access, CostTypes::from_iter([cost_type]))
        .await?;
    let o = billow_intelligence::overview(state.lake(), &scope, &request)
        .await
        .map_err(|e| match e {
            billow_intelligence::Error::Invalid(m) => {
                ApiError::bad_request(m).hint("as_of is a date after 0001-02-01; days is 1 to 400")
            }
            other => ApiError::internal(&other),
        })?;

    let reads_connections = access.role.allows(Permission::ReadConnections);
    let mut cards = Vec::with_capacity(o.cards.len());
    for c in o.cards {
        let mut last_sync: Option<i64> = None;
        let mut checks = Vec::new();
        if reads_connections {
            for id in &c.connections {
                let Ok(connection) = state.store().connection(&access, id).await else {
                    continue;
                };
                let sync = state.store().sync_state(&access, &connection.id).await?;
                last_sync = last_sync.max(sync.last_success_at);
                if !c.has_data {
                    checks.extend(
                        connection_checks(&state, &access, &connection)
                            .await?
                            .into_iter()
                            .map(|mut k| {
                                k.name = format!("{}: {}", connection.name, k.name);
                                k
                            }),
                    );
                }
            }
        }
        cards.push(ProviderCardView {
            // A provider that bills at month end (an invoice) has nothing to compare yet.
            change_percent: c
                .last_charge_day
                .and_then(|_| change_percent(c.month_to_date, c.last_month_to_date)),
            provider: c.provider,
            connections: c.connections,
            month_to_date: format_decimal(c.month_to_date),
            last_month: format_decimal(c.last_month),
            last_month_to_date: format_decimal(c.last_month_to_date),
            projection: c.projection.map(format_decimal),
            last_charge_day: c.last_charge_day.map(|d| d.to_string()),
            last_sync_at: last_sync.map(super::rfc3339),
            has_data: c.has_data,
            checks,
        });
    }
    Ok(Json(OverviewView {
        as_of: as_of.to_string(),
        month: o.month,
        last_month: o.last_month,
        cost_type: cost_type.as_str().to_string(),
        cards,
        trend: TrendView {
            days: o.trend.days.iter().map(|d| d.to_string()).collect(),
            series: o
                .trend
                .series
                .into_iter()
                .map(|(provider, values)| TrendSeries {
                    provider,
                    values: values.into_iter().map(format_decimal).collect(),
                })
                .collect(),
        },
        accounts: ranked(o.accounts),
        services: ranked(o.services),
        regions: ranked(o.regions),
        tag_key: request.tag_key.clone(),
        tags: ranked(o.tags),
    }))
}

#[cfg(test)]
mod tests {
    use super::change_percent;

    #[test]
    fn change_is_rounded_in_integers() {
        assert_eq!(change_percent(110, 100).as_deref(), Some("10.0"));
        assert_eq!(change_percent(90, 100).as_deref(), Some("-10.0"));
        assert_eq!(change_percent(1, 3).as_deref(), Some("-66.7"));
        assert_eq!(change_percent(10_005, 10_000).as_deref(), Some("0.1"));
        assert_eq!(change_percent(5, 0), None);
    }
}
