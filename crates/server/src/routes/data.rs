//! Connections and their secrets, ingestion history, reconciliation, cost queries and FOCUS
//! exports. Every lake read goes through the caller's scope ([`AppState::scope`]).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use billow_focus::money::format_decimal;
use billow_focus::versions::FocusVersion;
use billow_lake::PartitionKey;
use billow_lake::costs::{CostQuery, CostRow, Granularity, GroupBy, is_billing_period};
use billow_lake::export::ExportFormat;
use billow_store::{Connection, CostType, CostTypes, Permission, SecretInfo, SyncState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rfc3339;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::state::AppState;

/// A connection's secret as listed: set, and its fingerprint. Never the value.
#[derive(Serialize, ToSchema)]
pub(crate) struct SecretView {
    name: String,
    #[schema(example = "sha256:3f1a9c0b22de")]
    fingerprint: String,
    updated_at: String,
}

impl From<SecretInfo> for SecretView {
    fn from(s: SecretInfo) -> Self {
        SecretView {
            name: s.name,
            fingerprint: s.fingerprint,
            updated_at: rfc3339(s.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SyncView {
    last_attempt_at: Option<String>,
    last_success_at: Option<String>,
    last_version: Option<String>,
    last_error: Option<String>,
    /// The sync running now, if one is.
    running: Option<RunningSyncView>,
    /// How the last sync since the server started ended.
    last_run: Option<SyncRunView>,
}

impl SyncView {
    fn new(s: SyncState, syncs: &crate::sync::Syncs, connection_id: &str) -> Self {
        SyncView {
            last_attempt_at: s.last_attempt_at.map(rfc3339),
            last_success_at: s.last_success_at.map(rfc3339),
            last_version: s.last_version,
            last_error: s.last_error,
            running: syncs
                .running(connection_id)
                .map(|j| RunningSyncView::from(&*j)),
            last_run: syncs.finished(connection_id).map(SyncRunView::from),
        }
    }
}

/// A sync in progress.
#[derive(Serialize, ToSchema)]
pub(crate) struct RunningSyncView {
    started_at: String,
    /// Who started it (`scheduler` for the scheduler).
    started_by: String,
    /// Files found so far, files read, rows read.
    files: u64,
    files_done: u64,
    rows: u64,
}

impl From<&crate::sync::Job> for RunningSyncView {
    fn from(j: &crate::sync::Job) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        RunningSyncView {
            started_at: rfc3339(j.started_at),
            started_by: j.actor.clone(),
            files: j.files.load(Relaxed),
            files_done: j.files_done.load(Relaxed),
            rows: j.rows.load(Relaxed),
        }
    }
}

/// A finished sync.
#[derive(Serialize, ToSchema)]
pub(crate) struct SyncRunView {
    started_at: String,
    finished_at: String,
    started_by: String,
    /// Each billing period read and what became of it.
    periods: Vec<SyncedPeriodView>,
    /// What went wrong (nothing was published then).
    error: Option<String>,
}

/// One billing period a sync read.
#[derive(Serialize, ToSchema)]
pub(crate) struct SyncedPeriodView {
    #[schema(example = "2026-10")]
    billing_period: String,
    /// `published` (a new version replaced the period) or `unchanged`.
    outcome: String,
    rows: u64,
}

impl From<crate::sync::Finished> for SyncRunView {
    fn from(f: crate::sync::Finished) -> Self {
        SyncRunView {
            started_at: rfc3339(f.started_at),
            finished_at: rfc3339(f.finished_at),
            started_by: f.actor,
            periods: f
                .periods
                .into_iter()
                .map(|(billing_period, outcome, rows)| SyncedPeriodView {
                    billing_period,
                    outcome: outcome.into(),
                    rows,
                })
                .collect(),
            error: f.error,
        }
    }
}

/// A billing source of the organization.
#[derive(Serialize, ToSchema)]
pub(crate) struct ConnectionView {
    /// The lake's `x_ConnectionId`.
    id: String,
    name: String,
    #[schema(example = "aws")]
    provider: String,
    #[schema(value_type = Object)]
    settings: serde_json::Value,
    created_at: String,
    secrets: Vec<SecretView>,
    sync: SyncView,
    /// The latest charge day of its data the caller may see (`YYYY-MM-DD`): how fresh it is.
    #[schema(example = "2026-11-23")]
    data_through: Option<String>,
}

/// The latest charge day with rows of each connection within the caller's scope (or of
/// `only` that one), from the daily rollups.
async fn data_through(
    state: &AppState,
    access: &billow_store::Access,
    only: Option<&str>,
) -> ApiResult<std::collections::HashMap<String, String>> {
    let scope = state.scope(access).await?;
    let mut query = CostQuery::new(None, GroupBy::Connection).granularity(Granularity::Day);
    if let Some(connection) = only {
        query = query.filter(GroupBy::Connection, [connection]);
    }
    let mut latest = std::collections::HashMap::<String, String>::new();
    for row in state.lake().query_costs(&scope, &query).await? {
        if let (Some(day), true) = (row.time, row.rows > 0) {
            let entry = latest.entry(row.key).or_default();
            if day > *entry {
                *entry = day;
            }
        }
    }
    Ok(latest)
}

async fn view(
    state: &AppState,
    access: &billow_store::Access,
    data_through: &std::collections::HashMap<String, String>,
    c: Connection,
) -> ApiResult<ConnectionView> {
    let secrets = state.store().secrets(access, &c.id).await?;
    let sync = state.store().sync_state(access, &c.id).await?;
    Ok(ConnectionView {
        sync: SyncView::new(sync, state.syncs(), &c.id),
        data_through: data_through.get(&c.id).cloned(),
        id: c.id,
        name: c.name,
        provider: c.provider,
        settings: c.settings,
        created_at: rfc3339(c.created_at),
        secrets: secrets.into_iter().map(SecretView::from).collect(),
    })
}

/// The organization's connections.
#[utoipa::path(get, path = "/api/v1/connections", tag = "connections", security(("bearer" = [])),
    responses((status = 200, body = [ConnectionView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_connections(
    State(state): State<AppState>,
    Caller(access): Caller,
) -> ApiResult<Json<Vec<ConnectionView>>> {
    let connections = state.store().connections(&access).await?;
    let through = data_through(&state, &access, None).await?;
    let mut out = Vec::new();
    for c in connections {
        out.push(view(&state, &access, &through, c).await?);
    }
    Ok(Json(out))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct NewConnection {
    #[schema(example = "aws-prod")]
    name: String,
    /// aws, azure, gcp, oci, digitalocean, datadog, snowflake, openai, mongodb or focus.
    #[schema(example = "aws")]
    provider: String,
    /// Where the exports are (not secret): bucket, prefix, report name…
    #[schema(value_type = Option<Object>)]
    settings: Option<serde_json::Value>,
}

/// Create a connection.
#[utoipa::path(post, path = "/api/v1/connections", tag = "connections", security(("bearer" = [])), request_body = NewConnection,
    responses((status = 201, body = ConnectionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create_connection(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiJson(new): ApiJson<NewConnection>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    // Before the settings are looked at: what a source check says about the server's disk
    // is for those who may set one.
    access.require(Permission::ManageConnections)?;
    let settings = new.settings.unwrap_or_else(|| serde_json::json!({}));
    check_settings(&state, &settings)?;
    let c = state
        .store()
        .create_connection(&access, &new.name, &new.provider, settings)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            view(
                &state,
                &access,
                &data_through(&state, &access, Some(&c.id)).await?,
                c,
            )
            .await?,
        ),
    ))
}

/// Checks what an API caller may put in a connection's settings: a `source` must be a
/// folder or file under the server's exports root.
fn check_settings(state: &AppState, settings: &serde_json::Value) -> ApiResult<()> {
    match settings.get("source") {
        None | Some(serde_json::Value::Null) => Ok(()),
        Some(serde_json::Value::String(source)) => {
            crate::sync::check_source(state.exports_root(), source).map(drop)
        }
        Some(_) => Err(ApiError::bad_request("settings.source is not a string")
            .hint("give the folder the exports arrive in, e.g. \"aws/cur/prod\"")),
    }
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct ConnectionChange {
    /// The new settings, replacing the old (not secret): `source` is the folder under the
    /// server's exports root that the exports arrive in, read by each sync.
    #[schema(value_type = Object, example = json!({"source": "aws/cur/prod"}))]
    settings: serde_json::Value,
}

/// Change a connection's settings.
#[utoipa::path(patch, path = "/api/v1/connections/{name}", tag = "connections", security(("bearer" = [])), request_body = ConnectionChange,
    params(("name" = String, Path, description = "The connection's name or id")),
    responses((status = 200, body = ConnectionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn update_connection(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(name): Path<String>,
    ApiJson(change): ApiJson<ConnectionChange>,
) -> ApiResult<Json<ConnectionView>> {
    access.require(Permission::ManageConnections)?;
    state.store().connection(&access, &name).await?;
    check_settings(&state, &change.settings)?;
    let c = state
        .store()
        .set_connection_settings(&access, &name, change.settings)
        .await?;
    Ok(Json(
        view(
            &state,
            &access,
            &data_through(&state, &access, Some(&c.id)).await?,
            c,
        )
        .await?,
    ))
}

/// Sync a connection now: its `source` is read again in the background, and each billing
/// period whose export changed is published (the others are `unchanged`). Its progress and
/// outcome are in the connection's `sync`.
#[utoipa::path(post, path = "/api/v1/connections/{name}/sync", tag = "connections", security(("bearer" = [])),
    params(("name" = String, Path, description = "The connection's name or id")),
    responses((status = 202, body = RunningSyncView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn sync_connection(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, Json<RunningSyncView>)> {
    access.require(Permission::RunIngestion)?;
    let c = state.store().connection(&access, &name).await?;
    let job = crate::sync::start(&state, &access, &c)?;
    Ok((StatusCode::ACCEPTED, Json(RunningSyncView::from(&*job))))
}

/// One connection, with its secrets' fingerprints and last sync.
#[utoipa::path(get, path = "/api/v1/connections/{name}", tag = "connections", security(("bearer" = [])),
    params(("name" = String, Path, description = "The connection's name or id")),
    responses((status = 200, body = ConnectionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_connection(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let c = state.store().connection(&access, &name).await?;
    Ok(Json(
        view(
            &state,
            &access,
            &data_through(&state, &access, Some(&c.id)).await?,
            c,
        )
        .await?,
    ))
}

/// Delete a connection and its secrets (its cost rows stay in the lake).
#[utoipa::path(delete, path = "/api/v1/connections/{name}", tag = "connections", security(("bearer" = [])),
    params(("name" = String, Path, description = "The connection's name or id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_connection(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    state.store().delete_connection(&access, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct SecretValue {
    /// The secret (write-only: it is never returned).
    value: String,
}

/// Set a connection's secret (write-only); returns its fingerprint.
#[utoipa::path(put, path = "/api/v1/connections/{name}/secrets/{secret}", tag = "connections", security(("bearer" = [])),
    request_body = SecretValue,
    params(("name" = String, Path, description = "The connection's name or id"),
           ("secret" = String, Path, description = "The secret's name, e.g. secret_access_key")),
    responses((status = 200, body = SecretView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub(crate) async fn set_secret(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path((name, secret)): Path<(String, String)>,
    ApiJson(value): ApiJson<SecretValue>,
) -> ApiResult<Json<SecretView>> {
    let info = state
        .store()
        .set_secret(&access, &name, &secret, &value.value)
        .await?;
    Ok(Json(info.into()))
}

/// One check of a connection test.
#[derive(Serialize, ToSchema)]
pub(crate) struct Check {
    pub(crate) name: String,
    pub(crate) ok: bool,
    pub(crate) detail: String,
    /// What to do when it failed.
    pub(crate) fix: Option<String>,
}

/// What Billow knows of a connection, as checks: the data that arrived, its secrets, its
/// last sync; each failed one says what to do. Needs the right to read connections.
pub(crate) async fn connection_checks(
    state: &AppState,
    access: &billow_store::Access,
    c: &Connection,
) -> ApiResult<Vec<Check>> {
    let secrets = state.store().secrets(access, &c.id).await?;
    let sync = state.store().sync_state(access, &c.id).await?;
    let scope = state.scope(access).await?;
    let ctx = state.lake().scoped_session(&scope).await?;
    let escaped = c.id.replace('\'', "''");
    let periods = billow_lake::collect_sql(
        &ctx,
        &format!(
            "SELECT billing_period FROM ingestions WHERE connection_id = '{escaped}' GROUP BY 1 ORDER BY 1"
        ),
    )
    .await?;
    let mut months = Vec::new();
    for b in &periods {
        let column = billow_lake::string_column(b, 0)?;
        months.extend(column.iter().flatten().map(str::to_string));
    }
    let mut checks = vec![
        Check {
            name: "data".into(),
            ok: !months.is_empty(),
            detail: if months.is_empty() {
                "no billing data has arrived for this connection".into()
            } else {
                format!("billing periods in the lake: {}", months.join(", "))
            },
            fix: months.is_empty().then(|| match c.source() {
                Some(source) => format!(
                    "check that the provider delivers its export to the source folder {source}, then Refresh"
                ),
                None => format!(
                    "upload an export file on the Connections page, set the folder its exports arrive in as its source and Refresh, or run billow ingest <path> --connection {} (the format is recognized)",
                    c.id
                ),
            }),
        },
        Check {
            name: "secrets".into(),
            ok: true,
            detail: if secrets.is_empty() {
                "no secret set (exports read from a local path need none)".into()
            } else {
                format!(
                    "set: {}",
                    secrets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                )
            },
            fix: None,
        },
    ];
    if let Some(source) = c.source() {
        checks.push(source_check(state, c, source).await);
    }
    if let Some(error) = &sync.last_error {
        checks.push(Check {
            name: "last sync".into(),
            ok: false,
            detail: error.clone(),
            fix: Some("fix the cause above, then sync again".into()),
        });
    }
    Ok(checks)
}

/// Whether the connection's source holds an export Billow reads, of its provider.
async fn source_check(state: &AppState, c: &Connection, source: &str) -> Check {
    let path = crate::sync::resolve(state.exports_root(), source);
    let shown = path.clone();
    let detected = tokio::task::spawn_blocking(move || billow_formats::detect::detect(&path))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let (ok, detail, fix) = match detected {
        Ok(format) => match format.provider() {
            Some(found) if found != c.provider => (
                false,
                format!(
                    "{} holds a {found} export ({})",
                    shown.display(),
                    format.command()
                ),
                Some(format!(
                    "point the source at the {} export's folder, or use a {found} connection",
                    c.provider
                )),
            ),
            _ => (
                true,
                format!("{} holds a {} export", shown.display(), format.command()),
                None,
            ),
        },
        Err(e) => (
            false,
            e,
            Some(format!(
                "check that the provider delivers its export to {} and that the server may read it",
                shown.display()
            )),
        ),
    };
    Check {
        name: "source".into(),
        ok,
        detail,
        fix,
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ConnectionTest {
    ok: bool,
    checks: Vec<Check>,
}

/// Check what Billow knows of a connection: its secrets, the data that arrived, its last
/// sync; each failed check says what to do.
#[utoipa::path(post, path = "/api/v1/connections/{name}/test", tag = "connections", security(("bearer" = [])),
    params(("name" = String, Path, description = "The connection's name or id")),
    responses((status = 200, body = ConnectionTest), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn test_connection(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<ConnectionTest>> {
    access.require(Permission::ManageConnections)?;
    let c = state.store().connection(&access, &name).await?;
    let checks = connection_checks(&state, &access, &c).await?;
    Ok(Json(ConnectionTest {
        ok: checks.iter().all(|c| c.ok),
        checks,
    }))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct HistoryQuery {
    /// The connection's name or id.
    connection: String,
    /// Billing period, `YYYY-MM`.
    #[param(example = "2026-10", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    month: String,
}

/// One version (ingestion) of a connection's month.
#[derive(Serialize, ToSchema)]
pub(crate) struct VersionView {
    ingestion_id: String,
    export_version: Option<String>,
    finished_at: String,
    rows: u64,
    current: bool,
    published: bool,
    /// Billed cost changes against the previous version, per billing account and charge
    /// category.
    changes: Vec<ChangeView>,
    /// Billed cost changes against the previous version by account (sub account, or the
    /// billing account) and service, largest first (at most 100).
    changes_by_service: Vec<ServiceChangeView>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ServiceChangeView {
    account: String,
    service: String,
    before: String,
    after: String,
    difference: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ChangeView {
    billing_account_id: String,
    charge_category: String,
    before: String,
    after: String,
    difference: String,
}

pub(crate) fn month(text: &str) -> ApiResult<&str> {
    if is_billing_period(text) {
        Ok(text)
    } else {
        Err(
            ApiError::bad_request(format!("month {text:?} is not YYYY-MM"))
                .hint("for example month=2026-10"),
        )
    }
}

/// The versions of a connection's month, oldest first, with what each restatement changed.
#[utoipa::path(get, path = "/api/v1/ingestions", tag = "ingestions", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = [VersionView]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn history(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<Vec<VersionView>>> {
    access.require(Permission::ReadIngestions)?;
    let month = month(&q.month)?;
    let c = state.store().connection(&access, &q.connection).await?;
    let scope = state.scope(&access).await?;
    let key = PartitionKey {
        connection_id: c.id,
        billing_period: month.to_string(),
    };
    let versions = billow_ingest::history::history_in(state.lake(), &scope, &key).await?;
    Ok(Json(
        versions
            .into_iter()
            .map(|v| VersionView {
                ingestion_id: v.ingestion_id,
                export_version: v.export_version,
                finished_at: rfc3339(v.finished_at),
                rows: v.rows,
                current: v.current,
                published: v.published,
                changes: v
                    .changes
                    .into_iter()
                    .map(|(a, c, before, after, difference)| ChangeView {
                        billing_account_id: a,
                        charge_category: c,
                        before,
                        after,
                        difference,
                    })
                    .collect(),
                changes_by_service: v
                    .changes_by_service
                    .into_iter()
                    .take(100)
                    .map(|c| ServiceChangeView {
                        before: format_decimal(c.before),
                        after: format_decimal(c.after),
                        difference: format_decimal(c.difference()),
                        account: c.account,
                        service: c.service,
                    })
                    .collect(),
            })
            .collect(),
    ))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ReconcileQuery {
    /// Billing period `YYYY-MM` (default: all).
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    month: Option<String>,
}

/// Source totals against lake totals per connection, month, billing account and charge
/// category.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReconcileView {
    connection_id: String,
    billing_period: String,
    billing_account_id: String,
    charge_category: String,
    source_billed: String,
    lake_billed: String,
    billed_difference: String,
    source_effective: String,
    lake_effective: String,
    effective_difference: String,
    rounding_bound: String,
    source_rows: u64,
    lake_rows: u64,
    /// `exact`, `within_rounding` or `mismatch`.
    status: String,
}

/// Reconciliation of the organization's published months.
#[utoipa::path(get, path = "/api/v1/reconciliation", tag = "ingestions", security(("bearer" = [])), params(ReconcileQuery),
    responses((status = 200, body = [ReconcileView]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn reconciliation(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiQuery(q): ApiQuery<ReconcileQuery>,
) -> ApiResult<Json<Vec<ReconcileView>>> {
    access.require(Permission::ReadIngestions)?;
    let period = q.month.as_deref().map(month).transpose()?;
    let scope = state.scope(&access).await?;
    let rows = billow_ingest::reconcile_in(state.lake(), &scope, period).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| ReconcileView {
                connection_id: r.connection_id,
                billing_period: r.billing_period,
                billing_account_id: r.billing_account_id,
                charge_category: r.charge_category,
                source_billed: r.source_billed,
                lake_billed: r.lake_billed,
                billed_difference: r.billed_difference,
                source_effective: r.source_effective,
                lake_effective: r.lake_effective,
                effective_difference: r.effective_difference,
                rounding_bound: r.rounding_bound,
                source_rows: r.source_rows,
                lake_rows: r.lake_rows,
                status: r.status.as_str().to_string(),
            })
            .collect(),
    ))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct CostsQuery {
    /// One billing period, `YYYY-MM` (instead of `from`/`to`).
    #[param(example = "2026-10", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    month: Option<String>,
    /// First billing period of a range, `YYYY-MM`.
    #[param(example = "2026-08", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    from: Option<String>,
    /// Last billing period of a range (inclusive), `YYYY-MM`.
    #[param(example = "2026-10", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    to: Option<String>,
    /// day, service, account, billing-account, region, category, connection, or tag:<key>.
    #[param(
        example = "service",
        pattern = r"^(day|service|account|billing-account|region|category|connection|tag:.+)$"
    )]
    by: Option<String>,
    /// `total` (default), `day` (UTC day of the charge) or `month` (billing period).
    #[param(pattern = "^(total|day|month)$")]
    granularity: Option<String>,
    /// `<dimension>=<value>`, repeatable: rows pass when, for every filtered dimension, the
    /// dimension is one of its values. Dimensions as `by` but `day`; `(none)` selects a null
    /// value and `(untagged)` a missing tag; a connection is named by name or id.
    #[param(example = json!(["region=us-east-1", "tag:team=payments"]))]
    #[serde(default)]
    filter: Vec<String>,
    /// Only this connection (name or id); the same as `filter=connection=<name>`.
    connection: Option<String>,
    /// Comma-separated cost types to return (provider, list, billed, effective); default all
    /// the caller may see. Groups are ordered by the first.
    #[param(example = "billed,effective")]
    cost_type: Option<String>,
    /// Return at most this many groups (the rest is summed in `rest`).
    #[param(minimum = 1, maximum = 100000)]
    limit: Option<u32>,
    /// Skip this many groups first.
    #[param(minimum = 0)]
    offset: Option<u32>,
}

/// One group's costs (exact decimal strings); a cost type the caller may not see or did not
/// ask for is absent.
#[derive(Serialize, ToSchema)]
pub(crate) struct CostGroup {
    /// Time bucket (`YYYY-MM-DD` or `YYYY-MM`), absent for granularity `total`.
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<String>,
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_cost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billed_cost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    effective_cost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    list_cost: Option<String>,
    rows: u64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CostsResponse {
    /// First and last billing period of the range (absent: unbounded).
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    by: String,
    granularity: String,
    /// The cost types in the groups, in the order asked.
    cost_types: Vec<String>,
    /// The groups from `offset`, at most `limit`.
    groups: Vec<CostGroup>,
    /// How many groups there are in all.
    total_groups: u64,
    /// The sum of the groups past the returned page (absent when none is left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    rest: Option<CostGroup>,
    /// The sum of every group.
    total: CostGroup,
}

/// Presents a lake group: the provider's BilledCost is the `provider_cost` and, until the
/// Billing Engine's rules apply, also the `billed_cost`; each only when asked and allowed.
fn group(r: &CostRow, types: &[CostType]) -> CostGroup {
    let has = |t: CostType| types.contains(&t);
    CostGroup {
        time: r.time.clone(),
        key: r.key.clone(),
        provider_cost: r
            .billed
            .filter(|_| has(CostType::Provider))
            .map(format_decimal),
        billed_cost: r
            .billed
            .filter(|_| has(CostType::Billed))
            .map(format_decimal),
        effective_cost: r
            .effective
            .filter(|_| has(CostType::Effective))
            .map(format_decimal),
        list_cost: r.list.filter(|_| has(CostType::List)).map(format_decimal),
        rows: r.rows,
    }
}

/// The cost types a cost query returns: those asked (all the caller's by default), each
/// one the caller may see.
fn cost_types(asked: Option<&str>, access: &billow_store::Access) -> ApiResult<Vec<CostType>> {
    let Some(asked) = asked else {
        return Ok(access.cost_types.iter().collect());
    };
    let mut types = Vec::new();
    for name in asked.split(',').filter(|n| !n.trim().is_empty()) {
        let t: CostType = name.parse().map_err(|_| {
            ApiError::bad_request(format!("{name:?} is not a cost type"))
                .hint("cost_type is a comma-separated list of provider, list, billed, effective")
        })?;
        if !access.cost_types.contains(t) {
            return Err(
                ApiError::forbidden(format!("your role may not see {t} cost")).hint(
                    "ask an Owner or Admin to grant that cost type, or leave it out of cost_type",
                ),
            );
        }
        if !types.contains(&t) {
            types.push(t);
        }
    }
    if types.is_empty() {
        return Err(ApiError::bad_request("cost_type names no cost type")
            .hint("cost_type is a comma-separated list of provider, list, billed, effective"));
    }
    Ok(types)
}

/// The billing periods a cost query or export asks for.
pub(crate) struct Periods<'a> {
    month: Option<&'a str>,
    from: Option<&'a str>,
    to: Option<&'a str>,
}

/// A cost query as asked: one month or a range of billing periods, `filter=<dimension>=<value>`
/// (and `connection`), connection names resolved within the caller's organization (another
/// organization's connection is not found).
async fn query_of(
    state: &AppState,
    access: &billow_store::Access,
    periods: Periods<'_>,
    connection: Option<&str>,
    filter: &[String],
    by: GroupBy,
) -> ApiResult<CostQuery> {
    let (from, to) = match (periods.month, periods.from, periods.to) {
        (Some(m), None, None) => (Some(month(m)?), Some(month(m)?)),
        (None, from, to) => (from.map(month).transpose()?, to.map(month).transpose()?),
        _ => {
            return Err(ApiError::bad_request("month and from/to are both given")
                .hint("ask for one month with month=YYYY-MM, or a range with from and to"));
        }
    };
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        return Err(ApiError::bad_request(format!("from {a} is after to {b}"))
            .hint("from is the first billing period of the range, to the last"));
    }
    let mut filters: Vec<(GroupBy, String)> = Vec::new();
    if let Some(c) = connection {
        filters.push((GroupBy::Connection, c.to_string()));
    }
    for f in filter {
        let (dimension, value) = f.split_once('=').ok_or_else(|| {
            ApiError::bad_request(format!("filter {f:?} is not <dimension>=<value>"))
                .hint("for example filter=region=us-east-1 or filter=tag:team=payments")
        })?;
        let dimension = GroupBy::parse(dimension)
            .filter(|d| *d != GroupBy::Day)
            .ok_or_else(|| {
                ApiError::bad_request(format!("cannot filter by {dimension:?}")).hint(
                    "filter dimensions are service, account, billing-account, region, category, connection or tag:<key>",
                )
            })?;
        filters.push((dimension, value.to_string()));
    }
    // Values of one dimension are alternatives; different dimensions must all hold.
    let mut by_dimension: std::collections::BTreeMap<GroupBy, Vec<String>> = Default::default();
    for (dimension, value) in filters {
        let value = if dimension == GroupBy::Connection {
            state.store().connection_in_scope(access, &value).await?
        } else {
            value
        };
        by_dimension.entry(dimension).or_default().push(value);
    }
    let mut query = CostQuery::new(None, by);
    query.from = from.map(str::to_string);
    query.to = to.map(str::to_string);
    for (dimension, values) in by_dimension {
        query = query.filter(dimension, values);
    }
    Ok(query)
}

/// Cost totals grouped by one dimension, per day or billing period if asked, filtered by
/// any dimension; largest first within each time bucket (days in order when grouped by
/// day). Read from the daily rollups where no tag is involved.
#[utoipa::path(get, path = "/api/v1/costs", tag = "costs", security(("bearer" = [])), params(CostsQuery),
    responses((status = 200, body = CostsResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn costs(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiQuery(q): ApiQuery<CostsQuery>,
) -> ApiResult<Json<CostsResponse>> {
    access.require(Permission::ReadCosts)?;
    let by_text = q.by.as_deref().unwrap_or("service");
    let by = GroupBy::parse(by_text).ok_or_else(|| {
        ApiError::bad_request(format!("cannot group by {by_text:?}")).hint(
            "by is day, service, account, billing-account, region, category, connection or tag:<key>",
        )
    })?;
    let granularity_text = q.granularity.as_deref().unwrap_or("total");
    let granularity = Granularity::parse(granularity_text).ok_or_else(|| {
        ApiError::bad_request(format!("unknown granularity {granularity_text:?}"))
            .hint("granularity is total, day or month")
    })?;
    let types = cost_types(q.cost_type.as_deref(), &access)?;
    let mut query = query_of(
        &state,
        &access,
        Periods {
            month: q.month.as_deref(),
            from: q.from.as_deref(),
            to: q.to.as_deref(),
        },
        q.connection.as_deref(),
        &q.filter,
        by,
    )
    .await?;
    query.granularity = granularity;
    let (from, to) = (query.from.clone(), query.to.clone());
    let shown = types.iter().copied().collect::<CostTypes>();
    let scope = state.scope_showing(&access, shown).await?;
    let mut rows = state.lake().query_costs(&scope, &query).await?;
    // The lake orders by the first cost it shows; the caller's first type comes first.
    if let Some(first) = types.first() {
        let size = |r: &CostRow| match first {
            CostType::Provider | CostType::Billed => r.billed,
            CostType::Effective => r.effective,
            CostType::List => r.list,
        };
        if !matches!(query.by, GroupBy::Day) {
            rows.sort_by(|a, b| {
                a.time
                    .cmp(&b.time)
                    .then_with(|| size(b).cmp(&size(a)))
                    .then_with(|| a.key.cmp(&b.key))
            });
        }
    }
    let sum = |rows: &[CostRow], key: &str| -> ApiResult<CostRow> {
        let mut total = CostRow::zero(None, key.to_string(), &scope);
        for r in rows {
            total.add(r)?;
        }
        Ok(total)
    };
    let total = sum(&rows, "TOTAL")?;
    let start = (q.offset.unwrap_or(0) as usize).min(rows.len());
    let end = match q.limit {
        Some(limit) => start.saturating_add(limit.max(1) as usize).min(rows.len()),
        None => rows.len(),
    };
    let rest = (end < rows.len())
        .then(|| sum(&rows[end..], "REST"))
        .transpose()?;
    Ok(Json(CostsResponse {
        from,
        to,
        by: query.by.name(),
        granularity: granularity_text.to_string(),
        cost_types: types.iter().map(|t| t.as_str().to_string()).collect(),
        groups: rows[start..end].iter().map(|r| group(r, &types)).collect(),
        total_groups: rows.len() as u64,
        rest: rest.map(|r| group(&r, &types)),
        total: group(&total, &types),
    }))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ExportQuery {
    /// One billing period, `YYYY-MM` (or `from` and `to`).
    #[param(example = "2026-10", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    month: Option<String>,
    /// First billing period of a range, `YYYY-MM`.
    #[param(example = "2026-08", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    from: Option<String>,
    /// Last billing period of a range (inclusive), `YYYY-MM`.
    #[param(example = "2026-10", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    to: Option<String>,
    /// `<dimension>=<value>`, repeatable, as in `/costs`: the rows behind those groups.
    #[param(example = json!(["region=us-east-1"]))]
    #[serde(default)]
    filter: Vec<String>,
    /// `csv` (default) or `parquet`.
    #[param(pattern = "^(csv|parquet)$")]
    format: Option<String>,
    /// `1.2` (default) or `1.4`.
    #[param(pattern = r"^1\.[24]$")]
    focus_version: Option<String>,
    /// Only this connection (name or id).
    connection: Option<String>,
}

/// The FOCUS rows of a month (or range) the caller may see, as CSV or Parquet, filtered as a
/// cost query is: the rows behind its groups. Columns of cost types the caller may not see are
/// left out.
#[utoipa::path(get, path = "/api/v1/export/focus", tag = "costs", security(("bearer" = [])), params(ExportQuery),
    responses((status = 200, description = "The FOCUS file", content_type = "text/csv"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn export_focus(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    access.require(Permission::ReadCosts)?;
    let query = query_of(
        &state,
        &access,
        Periods {
            month: q.month.as_deref(),
            from: q.from.as_deref(),
            to: q.to.as_deref(),
        },
        q.connection.as_deref(),
        &q.filter,
        GroupBy::Service,
    )
    .await?;
    let (Some(first), Some(last)) = (query.from.clone(), query.to.clone()) else {
        return Err(ApiError::bad_request("an export needs its billing periods")
            .hint("give month=YYYY-MM, or from and to"));
    };
    let name = if first == last {
        first
    } else {
        format!("{first}-to-{last}")
    };
    let format = match q.format.as_deref().unwrap_or("csv") {
        "csv" => ExportFormat::Csv,
        "parquet" => ExportFormat::Parquet,
        other => {
            return Err(ApiError::bad_request(format!("unknown format {other:?}"))
                .hint("format is csv or parquet"));
        }
    };
    let version = match q.focus_version.as_deref().unwrap_or("1.2") {
        "1.2" => FocusVersion::V1_2,
        "1.4" => FocusVersion::V1_4,
        other => {
            return Err(
                ApiError::bad_request(format!("unknown FOCUS version {other:?}"))
                    .hint("focus_version is 1.2 or 1.4"),
            );
        }
    };
    let scope = state.scope(&access).await?;
    // Written to a temporary file first (memory stays at a batch), then streamed; the file
    // is gone once the response is sent.
    let file = tempfile::tempfile().map_err(|e| ApiError::internal(&e))?;
    let writer = file.try_clone().map_err(|e| ApiError::internal(&e))?;
    state
        .lake()
        .export_focus_of(
            &scope,
            &query,
            version,
            format,
            std::io::BufWriter::new(writer),
        )
        .await?;
    let mut file = tokio::fs::File::from_std(file);
    use tokio::io::AsyncSeekExt;
    file.seek(std::io::SeekFrom::Start(0))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let extension = if format == ExportFormat::Csv {
        "csv"
    } else {
        "parquet"
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"focus-{name}.{extension}\""
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
