//! Versions of a (connection, billing period) and what changed between them.

use std::collections::BTreeMap;

use arrow::array::AsArray;
use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use billow_focus::money::ExactSum;
use billow_lake::{Lake, PartitionKey, Scope};

use crate::{Error, Result};

/// One ingestion of the partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Ingestion id.
    pub ingestion_id: String,
    /// Provider export version (AWS assemblyId).
    pub export_version: Option<String>,
    /// Finished at, µs since the epoch.
    pub finished_at: i64,
    /// Rows.
    pub rows: u64,
    /// Whether the partition holds this version now.
    pub current: bool,
    /// Whether it was ever published (false: the attempt failed before its commit).
    pub published: bool,
    /// Σ billed per (billing account, charge category), exact text.
    pub billed: BTreeMap<(String, String), String>,
    /// Changes against the previous published version: (account, category, before, after, delta).
    pub changes: Vec<(String, String, String, String, String)>,
    /// Changes of billed cost against the previous published version by sub account (or
    /// billing account) and service, largest first; empty when either version predates the
    /// breakdown records.
    pub changes_by_service: Vec<ServiceChange>,
}

/// What a version changed for one account and service, in exact billed cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceChange {
    /// Sub account (linked account, subscription, project), or the billing account.
    pub account: String,
    /// Service.
    pub service: String,
    /// Before, 10⁻¹² units.
    pub before: i128,
    /// After, 10⁻¹² units.
    pub after: i128,
}

impl ServiceChange {
    /// After − before.
    pub fn difference(&self) -> i128 {
        self.after - self.before
    }
}

type Breakdown = BTreeMap<(String, String), i128>;

/// Each ingestion's billed cost by account and service, from its breakdown records.
async fn breakdowns(
    ctx: &billow_lake::SessionContext,
    key: &PartitionKey,
) -> Result<BTreeMap<String, Breakdown>> {
    let q = |s: &str| s.replace('\'', "''");
    let batches = billow_lake::collect_sql(
        ctx,
        &format!(
            "SELECT ingestion_id, COALESCE(sub_account_id, billing_account_id, '(none)'), \
             COALESCE(service_name, '(none)'), BilledCost FROM ingestion_breakdown \
             WHERE connection_id = '{}' AND billing_period = '{}'",
            q(&key.connection_id),
            q(&key.billing_period)
        ),
    )
    .await?;
    let mut out: BTreeMap<String, Breakdown> = BTreeMap::new();
    for b in &batches {
        let (ids, accounts, services) = (
            billow_lake::string_column(b, 0)?,
            billow_lake::string_column(b, 1)?,
            billow_lake::string_column(b, 2)?,
        );
        let billed = b
            .column(3)
            .as_primitive_opt::<arrow::datatypes::Decimal128Type>()
            .ok_or_else(|| Error::Internal("BilledCost of a breakdown is not a decimal".into()))?;
        for r in 0..b.num_rows() {
            let sum = out
                .entry(ids.value(r).to_string())
                .or_default()
                .entry((accounts.value(r).to_string(), services.value(r).to_string()))
                .or_default();
            *sum = sum
                .checked_add(billed.value(r))
                .ok_or_else(|| Error::Internal("a breakdown sum passed Decimal128".into()))?;
        }
    }
    Ok(out)
}

fn service_changes(before: &Breakdown, after: &Breakdown) -> Vec<ServiceChange> {
    let keys: std::collections::BTreeSet<_> = before.keys().chain(after.keys()).collect();
    let mut changes: Vec<ServiceChange> = keys
        .into_iter()
        .filter_map(|k| {
            let (b, a) = (
                before.get(k).copied().unwrap_or(0),
                after.get(k).copied().unwrap_or(0),
            );
            (a != b).then(|| ServiceChange {
                account: k.0.clone(),
                service: k.1.clone(),
                before: b,
                after: a,
            })
        })
        .collect();
    changes.sort_by(|x, y| {
        y.difference()
            .unsigned_abs()
            .cmp(&x.difference().unsigned_abs())
            .then_with(|| (&x.account, &x.service).cmp(&(&y.account, &y.service)))
    });
    changes
}

/// The versions of `key`, oldest first.
pub async fn history(lake: &Lake, key: &PartitionKey) -> Result<Vec<Version>> {
    history_in(lake, &Scope::everything(), key).await
}

/// [`history`] within a scope: nothing for a connection it does not include; the changes
/// are billed cost, so a scope hiding it is refused.
pub async fn history_in(lake: &Lake, scope: &Scope, key: &PartitionKey) -> Result<Vec<Version>> {
    if !scope.shows("BilledCost") {
        return Err(Error::Hidden {
            what: "version history",
            column: "BilledCost",
        });
    }
    if !scope.includes_connection(&key.connection_id) {
        return Ok(Vec::new());
    }
    let current = lake.current_ingestion(key).await?;
    let published = lake.published_ingestions().await?;
    let ctx = lake.scoped_session(scope).await?;
    let q = |s: &str| s.replace('\'', "''");
    let batches = billow_lake::collect_sql(
        &ctx,
        &format!(
            "SELECT ingestion_id, export_version, finished_at, rows FROM ingestions \
             WHERE connection_id = '{}' AND billing_period = '{}' ORDER BY finished_at",
            q(&key.connection_id),
            q(&key.billing_period)
        ),
    )
    .await?;
    let mut versions = Vec::new();
    for b in &batches {
        let ids = billow_lake::string_column(b, 0)?;
        let ev = billow_lake::string_column(b, 1)?;
        let at = b.column(2).as_primitive::<TimestampMicrosecondType>();
        let rows = b.column(3).as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            let id = ids.value(r).to_string();
            versions.push(Version {
                current: current.as_deref() == Some(id.as_str()),
                published: published.contains(&id),
                ingestion_id: id,
                export_version: (!arrow::array::Array::is_null(&ev, r))
                    .then(|| ev.value(r).to_string()),
                finished_at: at.value(r),
                rows: rows.value(r) as u64,
                billed: BTreeMap::new(),
                changes: Vec::new(),
                changes_by_service: Vec::new(),
            });
        }
    }
    let totals = billow_lake::collect_sql(&ctx, &format!(
            "SELECT ingestion_id, billing_account_id, charge_category, source_billed_exact FROM ingestion_totals \
             WHERE connection_id = '{}' AND billing_period = '{}'",
            q(&key.connection_id),
            q(&key.billing_period)
        )).await?;
    for b in &totals {
        let cols: Vec<_> = (0..4)
            .map(|i| billow_lake::string_column(b, i))
            .collect::<Result<_, _>>()?;
        let s = |i: usize| &cols[i];
        for r in 0..b.num_rows() {
            if let Some(v) = versions
                .iter_mut()
                .find(|v| v.ingestion_id == s(0).value(r))
            {
                v.billed.insert(
                    (s(1).value(r).to_string(), s(2).value(r).to_string()),
                    s(3).value(r).to_string(),
                );
            }
        }
    }
    let breakdowns = breakdowns(&ctx, key).await?;
    let mut previous_breakdown: Option<&Breakdown> = None;
    for v in versions.iter_mut().filter(|v| v.published) {
        let current = breakdowns.get(&v.ingestion_id);
        if let (Some(before), Some(after)) = (previous_breakdown, current) {
            v.changes_by_service = service_changes(before, after);
        }
        previous_breakdown = current;
    }
    let mut previous: Option<BTreeMap<(String, String), String>> = None;
    for v in versions.iter_mut().filter(|v| v.published) {
        if let Some(prev) = &previous {
            let keys: std::collections::BTreeSet<_> =
                prev.keys().chain(v.billed.keys()).cloned().collect();
            for k in keys {
                let before = prev.get(&k).cloned().unwrap_or_else(|| "0".into());
                let after = v.billed.get(&k).cloned().unwrap_or_else(|| "0".into());
                if before != after {
                    let mut d = ExactSum::from_decimal_str(&after)
                        .map_err(|e| Error::Internal(e.to_string()))?;
                    d.sub_text(before.as_bytes())
                        .map_err(|e| Error::Internal(e.to_string()))?;
                    v.changes.push((
                        k.0.clone(),
                        k.1.clone(),
                        before,
                        after,
                        d.to_decimal_string(),
                    ));
                }
            }
        }
        previous = Some(v.billed.clone());
    }
    Ok(versions)
}
