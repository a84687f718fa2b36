//! The Delta tables and the operations on them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::SchemaRef;
use billow_focus::schema::{focus_schema, x};
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext, ident, lit};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, StructField, StructType};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, ensure_table_uri};
use futures::TryStreamExt;

use crate::error::DeltaContext;
use crate::focus_files::FocusFileWriter;
use crate::records::{
    BreakdownRecord, IngestionRecord, TotalsRecord, breakdown_batch, breakdown_schema,
    ingestion_batch, ingestions_schema, totals_batch, totals_schema,
};
use crate::rollup::DailyRollup;
use crate::scope::{Scope, ScopedTables};
use crate::text::TextColumn;
use crate::{Error, Result};

pub(crate) const FOCUS: &str = "focus";
pub(crate) const INGESTIONS: &str = "ingestions";
pub(crate) const TOTALS: &str = "ingestion_totals";
pub(crate) const BREAKDOWN: &str = "ingestion_breakdown";
pub(crate) const PARTITION_COLUMNS: [&str; 2] = [x::CONNECTION_ID, x::BILLING_PERIOD];

/// A (connection, billing period) partition of the `focus` table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    /// `x_ConnectionId`.
    pub connection_id: String,
    /// `x_BillingPeriod` (`YYYY-MM`).
    pub billing_period: String,
}

impl std::fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.connection_id, self.billing_period)
    }
}

/// What one partition replace committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSummary {
    /// Delta table version of the commit.
    pub version: u64,
    /// Parquet files added.
    pub files_added: usize,
    /// Parquet files of the previous versions removed.
    pub files_removed: usize,
    /// The same, per partition.
    pub files_removed_by_partition: BTreeMap<PartitionKey, usize>,
    /// Rows written.
    pub rows: u64,
}

/// Files of a partition version written but not yet published.
#[derive(Debug)]
pub struct StagedPartition {
    key: PartitionKey,
    ingestion_id: String,
    adds: Vec<deltalake::kernel::Add>,
    rows: u64,
    rollup: Option<DailyRollup>,
}

impl StagedPartition {
    /// The files several [`PartitionSink`]s of `key` wrote, as one version to publish.
    pub fn new(key: PartitionKey, ingestion_id: &str, parts: Vec<StagedFiles>) -> Self {
        let rows = parts.iter().map(|p| p.rows).sum();
        let mut adds = Vec::new();
        let mut rollup = DailyRollup::default();
        for part in parts {
            adds.extend(part.adds);
            rollup.merge(part.rollup);
        }
        StagedPartition {
            key,
            ingestion_id: ingestion_id.to_string(),
            adds,
            rows,
            rollup: Some(rollup),
        }
    }

    /// The partition's daily rollup, until [`StagedPartition::take_rollup`].
    pub fn rollup(&self) -> Option<&DailyRollup> {
        self.rollup.as_ref()
    }

    /// The partition's daily rollup, to write while the partition is published
    /// ([`Lake::write_rollups`]); `None` after the first call.
    pub fn take_rollup(&mut self) -> Option<DailyRollup> {
        self.rollup.take()
    }

    /// The partition it replaces.
    pub fn key(&self) -> &PartitionKey {
        &self.key
    }

    /// Rows written.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

/// Writes FOCUS batches of one partition into unpublished Parquet files; see
/// [`Lake::partition_sink`].
pub struct PartitionSink {
    key: PartitionKey,
    files: FocusFileWriter,
    rows: u64,
    rollup: DailyRollup,
}

impl std::fmt::Debug for PartitionSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionSink")
            .field("key", &self.key)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl PartitionSink {
    /// Encodes a batch of the `focus` schema whose rows all belong to this sink's partition;
    /// its text columns may be plain or keyed ([`billow_focus::schema::keyed_focus_schema`]).
    /// Encoding and writing happen on the calling thread (the one that decoded the rows).
    pub fn write(&mut self, batch: RecordBatch) -> Result<()> {
        check_partition(&batch, &self.key)?;
        self.rows += batch.num_rows() as u64;
        self.rollup.add(&batch)?;
        self.files.write(&batch)
    }

    /// Finishes the open file and returns what was written.
    pub fn finish(self) -> Result<StagedFiles> {
        let adds = self.files.finish()?;
        Ok(StagedFiles {
            adds,
            rows: self.rows,
            rollup: self.rollup,
        })
    }
}

/// The files one [`PartitionSink`] wrote, and the daily rollup of their rows.
#[derive(Debug)]
pub struct StagedFiles {
    adds: Vec<deltalake::kernel::Add>,
    rows: u64,
    rollup: DailyRollup,
}

impl StagedFiles {
    /// Rows written.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

/// The cost lake in one data directory. Clones share what it keeps between queries (the
/// latest `focus` snapshot, rollup contents), so a long-lived one (the server's) answers
/// repeated cost queries without replaying the log or re-reading files.
#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
    pub(crate) cache: Arc<crate::rollup::RollupCache>,
}

impl Lake {
    /// Opens (creating if needed) the lake under `root` (`<root>/lake/<table>`).
    pub async fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let lake_dir = root.join("lake");
        std::fs::create_dir_all(&lake_dir).map_err(|source| Error::DataDir {
            path: lake_dir.clone(),
            source,
        })?;
        let root = std::fs::canonicalize(&root).map_err(|source| Error::DataDir {
            path: root.clone(),
            source,
        })?;
        Ok(Lake {
            root,
            cache: Arc::default(),
        })
    }

    /// Brings tables written by an earlier Billow up to this release before anything is
    /// written: each gains the columns added since (always nullable, always last; its rows read
    /// them as null) and this release's table properties (files written before keep the
    /// statistics they have). A writer calls this before it takes any snapshot, so no commit
    /// of its own races the change; readers need not, since a query sees each table as its log
    /// describes it.
    pub async fn upgrade_tables(&self) -> Result<()> {
        for (name, schema) in [
            (FOCUS, focus_schema()),
            (INGESTIONS, ingestions_schema()),
            (TOTALS, totals_schema()),
            (BREAKDOWN, breakdown_schema()),
        ] {
            self.upgrade_table(name, &schema).await?;
        }
        Ok(())
    }

    async fn upgrade_table(&self, name: &'static str, schema: &SchemaRef) -> Result<()> {
        let Some(table) = self.load(name).await? else {
            return Ok(());
        };
        let kernel = kernel_schema(name, schema)?;
        let wanted: HashMap<String, String> = table_properties(name)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.unwrap_or_default()))
            .collect();
        let missing_columns = |table: &DeltaTable| -> Result<Vec<StructField>> {
            let existing = table.snapshot().table(name)?.schema();
            Ok(kernel
                .fields()
                .filter(|f| existing.field(f.name()).is_none())
                .cloned()
                .collect())
        };
        let missing_properties = |table: &DeltaTable| -> Result<HashMap<String, String>> {
            let current = table.snapshot().table(name)?.metadata().configuration();
            Ok(wanted
                .iter()
                .filter(|(k, v)| current.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        };
        let upgraded = async {
            let mut table = table;
            let fields = missing_columns(&table)?;
            if !fields.is_empty() {
                tracing::info!(
                    table = name,
                    columns = %fields.iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", "),
                    "adding new columns to the table"
                );
                table = table.add_columns().with_fields(fields).await.table(name)?;
            }
            let properties = missing_properties(&table)?;
            if !properties.is_empty() {
                table
                    .set_tbl_properties()
                    .with_properties(properties)
                    .await
                    .table(name)?;
            }
            Ok::<(), Error>(())
        }
        .await;
        if let Err(e) = upgraded {
            // Another process may have upgraded it first.
            let done = match self.load(name).await? {
                Some(t) => missing_columns(&t)?.is_empty() && missing_properties(&t)?.is_empty(),
                None => false,
            };
            if !done {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of one table.
    pub fn table_dir(&self, name: &str) -> PathBuf {
        self.root.join("lake").join(name)
    }

    pub(crate) async fn load(&self, name: &'static str) -> Result<Option<DeltaTable>> {
        let dir = self.table_dir(name);
        if !dir.join("_delta_log").is_dir() {
            return Ok(None);
        }
        let url = ensure_table_uri(dir.to_string_lossy()).table(name)?;
        let table = deltalake::open_table(url).await.table(name)?;
        Ok(Some(table))
    }

    async fn load_or_create(
        &self,
        name: &'static str,
        schema: &SchemaRef,
        partitions: &[&str],
    ) -> Result<DeltaTable> {
        let kernel = kernel_schema(name, schema)?;
        if let Some(table) = self.load(name).await? {
            return Ok(table);
        }
        let url = ensure_table_uri(self.table_dir(name).to_string_lossy()).table(name)?;
        let table = DeltaTable::try_from_url(url).await.table(name)?;
        let created = table
            .create()
            .with_table_name(name)
            .with_columns(kernel.fields().cloned())
            .with_partition_columns(partitions.iter().map(|p| p.to_string()))
            .with_configuration(table_properties(name))
            .with_save_mode(SaveMode::Ignore)
            .await
            .table(name)?;
        Ok(created)
    }

    /// A writer of Parquet files for one partition. Several sinks may write the same partition
    /// at once (one per decoding thread, so encoding runs where the rows were decoded); their
    /// [`StagedFiles`] together make one [`StagedPartition`].
    pub async fn partition_sink(&self, key: &PartitionKey) -> Result<PartitionSink> {
        // The table exists before its files do: the commit that publishes them needs it.
        self.load_or_create(FOCUS, &focus_schema(), &PARTITION_COLUMNS)
            .await?;
        Ok(PartitionSink {
            key: key.clone(),
            files: FocusFileWriter::new(&self.table_dir(FOCUS), key)?,
            rows: 0,
            rollup: DailyRollup::default(),
        })
    }

    /// Publishes staged partitions of one ingestion: one Delta commit adds their files and
    /// removes the files of the versions they replace, so readers see the old versions or the
    /// new ones, never a mix, and never some periods of a delivery without the others.
    /// Staging writes files only; if the process dies before this commit, the table is
    /// unchanged (unreferenced files are invisible to every Delta reader and `vacuum` removes
    /// them).
    pub async fn commit_partitions(&self, staged: Vec<StagedPartition>) -> Result<CommitSummary> {
        let Some(first) = staged.first() else {
            return Err(Error::Inconsistent("nothing staged to commit".into()));
        };
        let ingestion_id = first.ingestion_id.clone();
        if let Some(other) = staged.iter().find(|s| s.ingestion_id != ingestion_id) {
            return Err(Error::Inconsistent(format!(
                "one commit publishes one ingestion, got {ingestion_id} and {}",
                other.ingestion_id
            )));
        }
        let keys: Vec<PartitionKey> = staged.iter().map(|s| s.key.clone()).collect();
        let mut table = self
            .load_or_create(FOCUS, &focus_schema(), &PARTITION_COLUMNS)
            .await?;
        table.update_state().await.table(FOCUS)?;
        let mut files_removed: BTreeMap<PartitionKey, usize> =
            keys.iter().map(|k| (k.clone(), 0)).collect();
        let removes: Vec<Action> = table
            .get_active_add_actions_by_partitions(&[])
            .try_filter_map(|file| {
                let values = file.partition_values_map();
                let key = PartitionKey {
                    connection_id: values
                        .get(x::CONNECTION_ID)
                        .cloned()
                        .flatten()
                        .unwrap_or_default(),
                    billing_period: values
                        .get(x::BILLING_PERIOD)
                        .cloned()
                        .flatten()
                        .unwrap_or_default(),
                };
                let replaced = files_removed.get_mut(&key).map(|n| *n += 1).is_some();
                futures::future::ready(Ok(
                    replaced.then(|| Action::Remove(file.remove_action(true)))
                ))
            })
            .try_collect()
            .await
            .table(FOCUS)?;
        let rows: u64 = staged.iter().map(|s| s.rows).sum();
        let mut actions: Vec<Action> = Vec::new();
        let mut files_added = 0;
        for s in staged {
            files_added += s.adds.len();
            actions.extend(s.adds.into_iter().map(Action::Add));
        }
        let files_removed_total = removes.len();
        actions.extend(removes);
        let predicate = keys
            .iter()
            .map(|k| {
                format!(
                    "({} = '{}' AND {} = '{}')",
                    x::CONNECTION_ID,
                    k.connection_id.replace('\'', "''"),
                    x::BILLING_PERIOD,
                    k.billing_period.replace('\'', "''")
                )
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        let partitions: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "connectionId": k.connection_id,
                    "billingPeriod": k.billing_period,
                })
            })
            .collect();
        let metadata = HashMap::from([
            (
                "billow.ingestionId".to_string(),
                serde_json::Value::from(ingestion_id.as_str()),
            ),
            (
                "billow.partitions".to_string(),
                serde_json::Value::from(partitions),
            ),
            ("billow.rows".to_string(), serde_json::Value::from(rows)),
        ]);
        let snapshot = table.snapshot().table(FOCUS)?;
        let finalized = CommitBuilder::from(CommitProperties::default().with_metadata(metadata))
            .with_actions(actions)
            .build(
                Some(snapshot),
                table.log_store(),
                DeltaOperation::Write {
                    mode: SaveMode::Overwrite,
                    partition_by: Some(PARTITION_COLUMNS.iter().map(|s| s.to_string()).collect()),
                    predicate: Some(predicate),
                },
            )
            .await
            .table(FOCUS)?;
        // Cost queries of this process see the commit at once.
        self.cache.invalidate();
        Ok(CommitSummary {
            version: finalized.version(),
            files_added,
            files_removed: files_removed_total,
            files_removed_by_partition: files_removed,
            rows,
        })
    }

    /// Appends an ingestion record, its totals and its breakdown by account and service.
    /// Written before the partition commit: a record whose id no partition carries is an
    /// attempt that never published.
    pub async fn append_records(
        &self,
        record: &IngestionRecord,
        totals: &[TotalsRecord],
        breakdown: &[BreakdownRecord],
    ) -> Result<()> {
        let mut appends = vec![(INGESTIONS, ingestions_schema(), ingestion_batch(record)?)];
        if !totals.is_empty() {
            appends.push((TOTALS, totals_schema(), totals_batch(totals)?));
        }
        if !breakdown.is_empty() {
            appends.push((BREAKDOWN, breakdown_schema(), breakdown_batch(breakdown)?));
        }
        // Each table is its own commit: appended together.
        futures::future::try_join_all(
            appends.into_iter().map(|(name, schema, batch)| async move {
                self.append(name, &schema, batch).await
            }),
        )
        .await?;
        Ok(())
    }

    async fn append(
        &self,
        name: &'static str,
        schema: &SchemaRef,
        batch: RecordBatch,
    ) -> Result<()> {
        let table = self.load_or_create(name, schema, &[]).await?;
        table
            .write(vec![batch])
            .with_save_mode(SaveMode::Append)
            .await
            .table(name)?;
        Ok(())
    }

    /// A DataFusion session with `focus`, `ingestions` and `ingestion_totals` registered (empty
    /// tables when nothing was ingested yet).
    pub async fn session(&self) -> Result<SessionContext> {
        self.scoped_session(&Scope::everything()).await
    }

    /// A session like [`Lake::session`] whose tables show only what `scope` allows.
    pub async fn scoped_session(&self, scope: &Scope) -> Result<SessionContext> {
        // FOCUS names are PascalCase: keep identifiers as written so `SELECT BilledCost` works.
        let config = SessionConfig::new()
            .set_bool("datafusion.sql_parser.enable_ident_normalization", false);
        let ctx = SessionContext::new_with_config(config);
        let tables = Arc::new(ScopedTables {
            tables: LakeTables {
                lake: self.clone(),
                runtime: ctx.runtime_env(),
                loaded: tokio::sync::Mutex::new(HashMap::new()),
            },
            scope: scope.clone(),
        });
        let catalog = ctx
            .catalog("datafusion")
            .ok_or_else(|| Error::Inconsistent("the session has no default catalog".into()))?;
        catalog.register_schema("public", tables)?;
        Ok(ctx)
    }

    /// Runs SQL over the lake's tables.
    pub async fn sql(&self, query: &str) -> Result<Vec<RecordBatch>> {
        collect_sql(&self.session().await?, query).await
    }

    /// FOCUS rows of a billing period (and connection), with exactly the `focus` schema
    /// (query engines may hand strings back as views; exports and checks want the contract).
    pub async fn read_focus(
        &self,
        billing_period: &str,
        connection: Option<&str>,
    ) -> Result<Vec<RecordBatch>> {
        self.read_focus_in(&Scope::everything(), billing_period, connection)
            .await
    }

    /// [`Lake::read_focus`] within a scope: the scope's rows, without its hidden columns.
    pub async fn read_focus_in(
        &self,
        scope: &Scope,
        billing_period: &str,
        connection: Option<&str>,
    ) -> Result<Vec<RecordBatch>> {
        let (frame, schema) = self.focus_rows(scope, billing_period, connection).await?;
        frame
            .collect()
            .await?
            .iter()
            .map(|b| conform(b, &schema))
            .collect()
    }

    /// The `focus` rows of a billing period (and connection) that `scope` shows, not yet
    /// read, and the schema each batch is to be conformed to (the `focus` schema without the
    /// scope's hidden columns).
    pub(crate) async fn focus_rows(
        &self,
        scope: &Scope,
        billing_period: &str,
        connection: Option<&str>,
    ) -> Result<(datafusion::dataframe::DataFrame, SchemaRef)> {
        if !crate::costs::is_billing_period(billing_period) {
            return Err(Error::Inconsistent(format!(
                "billing period {billing_period:?} is not YYYY-MM"
            )));
        }
        let mut query =
            crate::costs::CostQuery::new(Some(billing_period), crate::costs::GroupBy::Service);
        if let Some(c) = connection {
            query = query.filter(crate::costs::GroupBy::Connection, [c]);
        }
        self.focus_rows_of(scope, &query).await
    }

    /// The `focus` rows of a query's billing periods that pass its filters but the tag
    /// filters (see [`crate::costs::CostQuery::keeps_tags`]), within `scope`, not yet read,
    /// and the schema each batch is to be conformed to.
    pub(crate) async fn focus_rows_of(
        &self,
        scope: &Scope,
        query: &crate::costs::CostQuery,
    ) -> Result<(datafusion::dataframe::DataFrame, SchemaRef)> {
        query.validate()?;
        let ctx = self.scoped_session(scope).await?;
        let mut frame = ctx.table(FOCUS).await?;
        if let Some(from) = &query.from {
            frame = frame.filter(ident(x::BILLING_PERIOD).gt_eq(lit(from.as_str())))?;
        }
        if let Some(to) = &query.to {
            frame = frame.filter(ident(x::BILLING_PERIOD).lt_eq(lit(to.as_str())))?;
        }
        for f in &query.filters {
            if let Some(condition) = crate::costs::filter_expr(f) {
                frame = frame.filter(condition)?;
            }
        }
        let full = focus_schema();
        let schema: SchemaRef = Arc::new(arrow::datatypes::Schema::new(
            full.fields()
                .iter()
                .filter(|f| scope.shows(f.name()))
                .cloned()
                .collect::<Vec<_>>(),
        ));
        Ok((frame, schema))
    }

    /// The ingestion whose rows the partition holds now, if any.
    pub async fn current_ingestion(&self, key: &PartitionKey) -> Result<Option<String>> {
        let ctx = self.session().await?;
        let batches = ctx
            .table(FOCUS)
            .await?
            .filter(ident(x::CONNECTION_ID).eq(lit(key.connection_id.as_str())))?
            .filter(ident(x::BILLING_PERIOD).eq(lit(key.billing_period.as_str())))?
            .select(vec![ident(x::INGESTION_ID)])?
            .distinct()?
            .collect()
            .await?;
        let mut ids: Vec<String> = Vec::new();
        for b in &batches {
            ids.extend(string_column(b, 0)?.iter().flatten().map(str::to_string));
        }
        match ids.len() {
            0 => Ok(None),
            1 => Ok(ids.pop()),
            _ => Err(Error::Inconsistent(format!(
                "partition {key} holds rows of several ingestions: {}",
                ids.join(", ")
            ))),
        }
    }

    /// Ingestion ids that were ever published (committed to `focus`), from the table's history.
    pub async fn published_ingestions(&self) -> Result<std::collections::BTreeSet<String>> {
        let Some(table) = self.load(FOCUS).await? else {
            return Ok(Default::default());
        };
        let infos: Vec<_> = table.history(None).try_collect().await.table(FOCUS)?;
        Ok(infos
            .iter()
            .filter_map(|i| {
                i.info
                    .get("billow.ingestionId")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .collect())
    }

    /// Version of the `focus` table, if it exists.
    pub async fn focus_version(&self) -> Result<Option<u64>> {
        Ok(self.load(FOCUS).await?.and_then(|t| t.version()))
    }
}

/// Runs `query` in a session from [`Lake::session`] and collects the result (several queries
/// can share one session).
pub async fn collect_sql(ctx: &SessionContext, query: &str) -> Result<Vec<RecordBatch>> {
    Ok(ctx.sql(query).await?.collect().await?)
}

/// Casts a batch to `schema` column by column (by name).
pub fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            let column = batch
                .column_by_name(f.name())
                .ok_or_else(|| Error::Inconsistent(format!("column {} is missing", f.name())))?;
            Ok(arrow::compute::cast(column, f.data_type())?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// Column `i` of a query result as a plain string array, whatever string encoding the engine
/// chose (DataFusion reads Parquet strings as `Utf8View`, dictionaries may appear too).
pub fn string_column(batch: &RecordBatch, i: usize) -> Result<arrow::array::StringArray> {
    let column = batch.column(i);
    let cast = arrow::compute::cast(column, &arrow::datatypes::DataType::Utf8)?;
    cast.as_string_opt::<i32>().cloned().ok_or_else(|| {
        Error::Inconsistent(format!(
            "column {} is not text",
            batch.schema().field(i).name()
        ))
    })
}

/// Columns whose min/max go into each file's statistics, which Delta readers use to skip
/// files. Computing statistics compares every value, so the other columns (long texts such as
/// Tags and ChargeDescription among them) go without.
pub(crate) const STATISTICS_COLUMNS: [&str; 12] = [
    "BilledCost",
    "BillingAccountId",
    "ChargeCategory",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "EffectiveCost",
    "RegionId",
    "ServiceCategory",
    "ServiceName",
    "SubAccountId",
    x::SOURCE_LINE,
    // One value per file: which ingestion a partition's rows are is then read from the Delta
    // log, without reading the rows (see `rollup`).
    x::INGESTION_ID,
];

/// A table's Arrow schema as Delta's.
fn kernel_schema(name: &'static str, schema: &SchemaRef) -> Result<StructType> {
    schema.as_ref().try_into_kernel().map_err(|e| Error::Delta {
        table: name,
        source: deltalake::DeltaTableError::Generic(e.to_string()),
    })
}

/// Delta properties of a table: the `focus` log keeps statistics of exactly the columns the
/// files have statistics for (by default Delta takes the first 32 columns, which would leave
/// out the ingestion id that rollups are checked against).
fn table_properties(name: &str) -> Vec<(&'static str, Option<String>)> {
    if name == FOCUS {
        vec![(
            "delta.dataSkippingStatsColumns",
            Some(STATISTICS_COLUMNS.join(",")),
        )]
    } else {
        Vec::new()
    }
}

/// The lake's tables as a query sees them. Each is opened from its Delta log the first time a
/// query names it (and then kept for the session), so a query of `focus` never replays the
/// records tables' logs; a table not created yet reads as empty.
#[derive(Debug)]
pub(crate) struct LakeTables {
    lake: Lake,
    runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
    loaded: tokio::sync::Mutex<HashMap<&'static str, Arc<dyn TableProvider>>>,
}

impl LakeTables {
    pub(crate) const NAMES: [&'static str; 4] = [FOCUS, INGESTIONS, TOTALS, BREAKDOWN];

    pub(crate) async fn provider(&self, name: &'static str) -> Result<Arc<dyn TableProvider>> {
        let mut loaded = self.loaded.lock().await;
        if let Some(provider) = loaded.get(name) {
            return Ok(Arc::clone(provider));
        }
        let provider: Arc<dyn TableProvider> = match self.lake.load(name).await? {
            Some(table) => {
                // The table's files are read through an object store the session must know.
                let state = SessionStateBuilder::new()
                    .with_runtime_env(Arc::clone(&self.runtime))
                    .build();
                table.update_datafusion_session(&state).table(name)?;
                table.table_provider().await?
            }
            None => {
                let schema = match name {
                    FOCUS => focus_schema(),
                    INGESTIONS => ingestions_schema(),
                    BREAKDOWN => breakdown_schema(),
                    _ => totals_schema(),
                };
                Arc::new(MemTable::try_new(schema, vec![vec![]])?)
            }
        };
        loaded.insert(name, Arc::clone(&provider));
        Ok(provider)
    }
}

/// Splits a batch of the `focus` schema by `x_BillingPeriod`, in order of first appearance.
/// Most sources deliver one period per file, so the common case returns the batch untouched.
pub fn split_by_period(batch: RecordBatch) -> Result<Vec<(String, RecordBatch)>> {
    let i = batch.schema().index_of(x::BILLING_PERIOD)?;
    let periods = TextColumn::of(batch.column(i))
        .ok_or_else(|| Error::Inconsistent(format!("{} is not a string", x::BILLING_PERIOD)))?;
    if periods.null_count() > 0 {
        return Err(Error::Inconsistent(format!(
            "{} is null on some rows",
            x::BILLING_PERIOD
        )));
    }
    let Some(first) = periods.get(0) else {
        return Ok(Vec::new());
    };
    if periods.iter().all(|p| p == Some(first)) {
        return Ok(vec![(first.to_string(), batch)]);
    }
    let mut rows: Vec<(String, Vec<u32>)> = Vec::new();
    for (row, period) in periods.iter().enumerate() {
        let period = period.unwrap_or_default();
        match rows.iter_mut().find(|(p, _)| p == period) {
            Some((_, indices)) => indices.push(row as u32),
            None => rows.push((period.to_string(), vec![row as u32])),
        }
    }
    rows.into_iter()
        .map(|(period, indices)| {
            let indices = arrow::array::UInt32Array::from(indices);
            let part = arrow::compute::take_record_batch(&batch, &indices)?;
            Ok((period, part))
        })
        .collect()
}

fn check_partition(batch: &RecordBatch, key: &PartitionKey) -> Result<()> {
    let schema = batch.schema();
    for (name, expected) in [
        (x::CONNECTION_ID, &key.connection_id),
        (x::BILLING_PERIOD, &key.billing_period),
    ] {
        let i = schema.index_of(name)?;
        let values = TextColumn::of(batch.column(i))
            .ok_or_else(|| Error::Inconsistent(format!("{name} is not a string")))?;
        if let Some(bad) = values.iter().find(|v| *v != Some(expected.as_str())) {
            return Err(Error::WrongPartition {
                expected: key.to_string(),
                found: format!("{name} = {}", bad.unwrap_or("null")),
            });
        }
    }
    Ok(())
}
