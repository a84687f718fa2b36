//! Daily rollups: a partition's rows summed by day and by the dimensions `costs` groups by,
//! one Parquet file per (partition, ingestion), so a month's totals come from tens of
//! thousands of rows instead of millions. The sums are taken as the rows are written (each
//! decoding thread sums its own, merged at the end), not by reading the month back.
//!
//! A rollup is a cache, never the truth: it is written while its ingestion commits (to a
//! temporary name, then renamed), and read only for a partition whose current rows carry that
//! ingestion's id, so a rollup written before its commit is not read until that commit lands.
//! A crash before the rollup is whole, a rollup that failed to write, or a lake from a release
//! without rollups all read the `focus` table instead. The files live beside the Delta tables
//! (`lake/rollups/<connection>/<period>/<ingestion>.parquet`) and are not part of them.
//!
//! A long-lived [`Lake`] (the server's) keeps the `focus` snapshot (checking the log only for
//! new commits), each rollup file's rows, and the sums asked of them, each keyed by what it
//! derives from (table version; file size and modification time), so a repeated cost query
//! costs a few system calls and a lookup.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Builder, Int64Array, RecordBatch, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, TimestampMicrosecondType};

use billow_focus::schema::x;

use crate::costs::{CostQuery, CostRow, Granularity, GroupBy, Groups, NONE, UNTAGGED};
use crate::dictionary::{Dictionary, NULL_ID};
use crate::sums::{RowGroup, Sums, Totals};
use crate::tables::{FOCUS, PartitionKey};
use crate::text::TextColumn;
use crate::{Error, Lake, Result};

impl Lake {
    fn rollup_dir(&self, key: &PartitionKey) -> PathBuf {
        self.root()
            .join("lake")
            .join("rollups")
            .join(&key.connection_id)
            .join(&key.billing_period)
    }

    fn rollup_file(&self, key: &PartitionKey, ingestion_id: &str) -> PathBuf {
        self.rollup_dir(key).join(format!("{ingestion_id}.parquet"))
    }

    /// Writes the rollups of the partitions an ingestion publishes. Nothing reads them before
    /// the ingestion's commit, so they may be written while it commits; the rollups of the
    /// versions they replace go once it has ([`Lake::remove_replaced_rollups`]).
    pub fn write_rollups(
        &self,
        rollups: Vec<(PartitionKey, DailyRollup)>,
        ingestion_id: &str,
    ) -> Result<()> {
        for (key, rollup) in rollups {
            let target = self.rollup_file(&key, ingestion_id);
            let tag_target = tag_rollup_file(&target);
            let failed = |e: &dyn std::fmt::Display| {
                Error::Inconsistent(format!("rollup {}: {e}", target.display()))
            };
            let (batch, tag_batch) = rollup.into_batches().map_err(|e| failed(&e))?;
            let dir = self.rollup_dir(&key);
            std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
            // The tag rollup first: a rollup is read only when its tag rollup is there too.
            write_parquet(&dir, &tag_target, &tag_batch)?;
            write_parquet(&dir, &target, &batch)?;
        }
        Ok(())
    }

    /// Removes every rollup of these partitions but `ingestion_id`'s: those of the versions
    /// it replaced, of ingestions that failed before their commit, and temporary files of
    /// crashed writes. Best effort: a file left behind is never read.
    pub fn remove_replaced_rollups(&self, keys: &[PartitionKey], ingestion_id: &str) {
        for key in keys {
            let target = self.rollup_file(key, ingestion_id);
            let tag_target = tag_rollup_file(&target);
            let Ok(entries) = std::fs::read_dir(self.rollup_dir(key)) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.path() != target && entry.path() != tag_target {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }

    /// Removes the rollups [`Lake::write_rollups`] wrote for an ingestion whose commit failed.
    /// Best effort: they are never read, and the next ingestion of the partition removes them.
    pub fn discard_rollups(&self, keys: &[PartitionKey], ingestion_id: &str) {
        for key in keys {
            let target = self.rollup_file(key, ingestion_id);
            let _ = std::fs::remove_file(tag_rollup_file(&target));
            let _ = std::fs::remove_file(target);
        }
    }

    /// The ingestion each partition of `focus` holds now, from the statistics of its files
    /// in the Delta log (one ingestion id per file; `None` for a partition whose files
    /// disagree or lack the statistic), or `None` when the table's files have no such
    /// statistics at all. Kept per table version: the log is only checked for new commits.
    async fn current_partitions(&self) -> Result<Option<Arc<Partitions>>> {
        let mut focus = self.cache.focus.lock().await;
        // The log is listed at most every LOG_CHECK_INTERVAL (a dashboard asks several
        // questions at once); this process's own commits invalidate the check at once.
        let due = self
            .cache
            .log_checked
            .lock()
            .map(|t| t.is_none_or(|t| t.elapsed() >= LOG_CHECK_INTERVAL))
            .unwrap_or(true);
        match focus.as_mut() {
            Some(_) if !due => {}
            Some(table) => table.update_state().await.map_err(|source| Error::Delta {
                table: FOCUS,
                source,
            })?,
            None => *focus = self.load(FOCUS).await?,
        }
        if due && let Ok(mut checked) = self.cache.log_checked.lock() {
            *checked = Some(std::time::Instant::now());
        }
        let Some(table) = focus.as_ref() else {
            return Ok(Some(Arc::default()));
        };
        let version = table.version();
        if let Ok(cached) = self.cache.partitions.lock()
            && let Some((v, partitions)) = cached.as_ref()
            && *v == version
        {
            return Ok(Some(Arc::clone(partitions)));
        }
        let actions = table
            .snapshot()
            .and_then(|s| s.add_actions_table(true))
            .map_err(|source| Error::Delta {
                table: FOCUS,
                source,
            })?;
        drop(focus);
        let column = |name: &str| actions.schema().index_of(name).ok();
        let (Some(c), Some(p), Some(lo), Some(hi)) = (
            column(&format!("partition.{}", x::CONNECTION_ID)),
            column(&format!("partition.{}", x::BILLING_PERIOD)),
            column(&format!("min.{}", x::INGESTION_ID)),
            column(&format!("max.{}", x::INGESTION_ID)),
        ) else {
            // Files from a release that kept no statistics of the ingestion id.
            return Ok(None);
        };
        let (connections, periods, first, last) = (
            crate::string_column(&actions, c)?,
            crate::string_column(&actions, p)?,
            crate::string_column(&actions, lo)?,
            crate::string_column(&actions, hi)?,
        );
        let mut partitions = Partitions::new();
        for r in 0..actions.num_rows() {
            if connections.is_null(r) || periods.is_null(r) {
                return Ok(None);
            }
            let key = PartitionKey {
                connection_id: connections.value(r).to_string(),
                billing_period: periods.value(r).to_string(),
            };
            let ingestion =
                (!first.is_null(r) && !last.is_null(r) && first.value(r) == last.value(r))
                    .then(|| first.value(r).to_string());
            match partitions.get(&key) {
                Some(held) if *held != ingestion => {
                    partitions.insert(key, None);
                }
                Some(_) => {}
                None => {
                    partitions.insert(key, ingestion);
                }
            }
        }
        let partitions = Arc::new(partitions);
        if let Ok(mut cached) = self.cache.partitions.lock() {
            *cached = Some((version, Arc::clone(&partitions)));
        }
        Ok(Some(partitions))
    }

    /// The rollup files that describe the current rows of every partition in the query's
    /// range and connections that `scope` includes, or `None` when any such partition has no
    /// current rollup. No row is read.
    pub(crate) async fn current_rollups(
        &self,
        scope: &crate::Scope,
        query: &CostQuery,
    ) -> Result<Option<Vec<(PathBuf, PartitionKey)>>> {
        let Some(partitions) = self.current_partitions().await? else {
            return Ok(None);
        };
        let mut files = Vec::new();
        for (key, ingestion) in partitions.iter() {
            if !query.includes_period(&key.billing_period)
                || !query.allows_connection(&key.connection_id)
                || !scope.includes_connection(&key.connection_id)
            {
                continue;
            }
            let Some(ingestion) = ingestion else {
                return Ok(None);
            };
            let file = self.rollup_file(key, ingestion);
            if !file.is_file() {
                return Ok(None);
            }
            files.push((file, key.clone()));
        }
        Ok(Some(files))
    }

    /// A rollup file's rows, read once per version of the file (a rollup is written once
    /// under its ingestion's name; its size and modification time tell a replaced file).
    fn rollup_rows(&self, file: &Path) -> Result<Arc<Vec<RecordBatch>>> {
        let io = |source| Error::DataDir {
            path: file.to_path_buf(),
            source,
        };
        let metadata = std::fs::metadata(file).map_err(io)?;
        let stamp = (metadata.len(), metadata.modified().ok());
        if let Ok(files) = self.cache.files.lock()
            && let Some((cached, rows)) = files.get(file)
            && *cached == stamp
        {
            return Ok(Arc::clone(rows));
        }
        let failed = |e: &dyn std::fmt::Display| {
            Error::Inconsistent(format!("rollup {}: {e}", file.display()))
        };
        let reader = std::fs::File::open(file).map_err(io)?;
        let rows: Vec<RecordBatch> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(reader)
                .and_then(|b| b.build())
                .map_err(|e| failed(&e))?
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| failed(&e))?;
        let rows = Arc::new(rows);
        if let Ok(mut files) = self.cache.files.lock() {
            // Replaced versions' files are gone from disk: forget them.
            files.retain(|path, _| path.is_file());
            files.insert(file.to_path_buf(), (stamp, Arc::clone(&rows)));
        }
        Ok(rows)
    }

    /// Sums the rows of rollup files as `query` asks, within `scope` (its accounts; the sums
    /// of its hidden columns stay `None`). The same sums over the same files are answered
    /// from memory: a dashboard asks the same questions again and again.
    pub(crate) fn sum_rollups(
        &self,
        files: &[(PathBuf, PartitionKey)],
        query: &CostQuery,
        scope: &crate::Scope,
    ) -> Result<Vec<CostRow>> {
        let mut stamped = Vec::with_capacity(files.len());
        for (file, _) in files {
            let metadata = std::fs::metadata(file).map_err(|source| Error::DataDir {
                path: file.clone(),
                source,
            })?;
            stamped.push((file.clone(), (metadata.len(), metadata.modified().ok())));
        }
        let key = SumKey {
            files: stamped,
            query: query.clone(),
            accounts: scope.accounts().cloned(),
            shown: COSTS.map(|c| scope.shows(c)),
        };
        if let Ok(sums) = self.cache.sums.lock()
            && let Some(groups) = sums.get(&key)
        {
            return Ok(groups.as_ref().clone());
        }
        let groups = if matches!(query.by, GroupBy::Tag(_)) {
            self.sum_tag_rollup_rows(files, query, scope)?
        } else {
            self.sum_rollup_rows(files, query, scope)?
        };
        if let Ok(mut sums) = self.cache.sums.lock() {
            if sums.len() >= 1024 {
                sums.clear();
            }
            sums.insert(key, Arc::new(groups.clone()));
        }
        Ok(groups)
    }

    /// Whether every tag rollup keeps `tag` (a key with too many values is left out of
    /// them, to the rows).
    pub(crate) fn tag_rollups_keep(
        &self,
        files: &[(PathBuf, PartitionKey)],
        tag: &str,
    ) -> Result<bool> {
        for (file, _) in files {
            for batch in self.rollup_rows(file)?.iter() {
                let dropped: Vec<String> = batch
                    .schema()
                    .metadata()
                    .get(DROPPED_TAGS)
                    .and_then(|d| serde_json::from_str(d).ok())
                    .unwrap_or_default();
                if dropped.iter().any(|d| d == tag) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Sums tag rollups by the query's tag: each value's rows, and as the untagged share,
    /// the rows of every tag set less those with a value.
    fn sum_tag_rollup_rows(
        &self,
        files: &[(PathBuf, PartitionKey)],
        query: &CostQuery,
        scope: &crate::Scope,
    ) -> Result<Vec<CostRow>> {
        let GroupBy::Tag(tag) = &query.by else {
            return Err(Error::Inconsistent("a tag rollup sums by a tag".into()));
        };
        let allowed = |value: &str| {
            query
                .filters
                .iter()
                .filter(|f| f.dimension == query.by)
                .all(|f| f.values.contains(value))
        };
        let mut groups = Groups::new(scope);
        // Per time bucket: every row's sums, and the sums of rows with a value of the tag.
        let mut all: BTreeMap<Option<String>, ([Option<i128>; 3], i64)> = BTreeMap::new();
        let mut tagged: BTreeMap<Option<String>, ([Option<i128>; 3], i64)> = BTreeMap::new();
        let accumulate =
            |into: &mut ([Option<i128>; 3], i64), values: [Option<i128>; 3], rows: i64| {
                for (sum, v) in into.0.iter_mut().zip(values) {
                    *sum = match (*sum, v) {
                        (None, v) | (v, None) => v,
                        (Some(a), Some(b)) => Some(a.saturating_add(b)),
                    };
                }
                into.1 += rows;
            };
        for (file, partition) in files {
            for batch in self.rollup_rows(file)?.iter() {
                let column = |name: &str| -> Result<usize> { Ok(batch.schema().index_of(name)?) };
                let (billing, sub, keys, values, days) = (
                    crate::string_column(batch, column("BillingAccountId")?)?,
                    crate::string_column(batch, column("SubAccountId")?)?,
                    crate::string_column(batch, column(TAG_KEY)?)?,
                    crate::string_column(batch, column(TAG_VALUE)?)?,
                    crate::string_column(batch, column(DAY)?)?,
                );
                let (sums, rows) = sum_columns(batch)?;
                'rows: for r in 0..batch.num_rows() {
                    if let Some(ids) = scope.accounts()
                        && !visible(ids, &billing, &sub, r)
                    {
                        continue;
                    }
                    for f in &query.filters {
                        let cell = match f.dimension {
                            GroupBy::Account => value(&sub, r),
                            GroupBy::BillingAccount => value(&billing, r),
                            _ => continue,
                        };
                        if !f.values.contains(cell) {
                            continue 'rows;
                        }
                    }
                    let time = match query.granularity {
                        Granularity::Day => Some(value(&days, r).to_string()),
                        Granularity::Month => Some(partition.billing_period.clone()),
                        Granularity::Total => None,
                    };
                    let cells = [0, 1, 2].map(|c| sums[c].is_valid(r).then(|| sums[c].value(r)));
                    if !keys.is_valid(r) {
                        accumulate(all.entry(time).or_default(), cells, rows.value(r));
                    } else if keys.value(r) == tag.as_str() {
                        accumulate(
                            tagged.entry(time.clone()).or_default(),
                            cells,
                            rows.value(r),
                        );
                        let key = value(&values, r);
                        if allowed(key) {
                            groups.add(time.as_deref(), key, cells, rows.value(r) as u64)?;
                        }
                    }
                }
            }
        }
        if allowed(UNTAGGED) {
            for (time, (sums, rows)) in all {
                let (with, with_rows) = tagged.get(&time).copied().unwrap_or_default();
                if rows - with_rows <= 0 {
                    continue;
                }
                let rest = [0, 1, 2].map(|c| match (sums[c], with[c]) {
                    (Some(a), Some(b)) => Some(a - b),
                    (a, None) => a,
                    (None, Some(b)) => Some(-b),
                });
                groups.add(time.as_deref(), UNTAGGED, rest, (rows - with_rows) as u64)?;
            }
        }
        Ok(groups.finish(&query.by))
    }

    fn sum_rollup_rows(
        &self,
        files: &[(PathBuf, PartitionKey)],
        query: &CostQuery,
        scope: &crate::Scope,
    ) -> Result<Vec<CostRow>> {
        let mut groups = Groups::new(scope);
        let mut key = String::new();
        for (file, partition) in files {
            for batch in self.rollup_rows(file)?.iter() {
                let column = |name: &str| -> Result<usize> { Ok(batch.schema().index_of(name)?) };
                let keys = match &query.by {
                    GroupBy::Connection => None,
                    GroupBy::Day => Some(crate::string_column(batch, column(DAY)?)?),
                    by => Some(crate::string_column(batch, column(by.expression())?)?),
                };
                let days = match query.granularity {
                    Granularity::Day => Some(crate::string_column(batch, column(DAY)?)?),
                    Granularity::Total | Granularity::Month => None,
                };
                let mut filters = Vec::new();
                for f in &query.filters {
                    // Connection filters chose the files; tag filters never come here.
                    if f.dimension != GroupBy::Connection {
                        let values =
                            crate::string_column(batch, column(f.dimension.expression())?)?;
                        filters.push((values, &f.values));
                    }
                }
                let accounts = match scope.accounts() {
                    Some(ids) => Some((
                        ids,
                        crate::string_column(batch, column("BillingAccountId")?)?,
                        crate::string_column(batch, column("SubAccountId")?)?,
                    )),
                    None => None,
                };
                let (sums, rows) = sum_columns(batch)?;
                'rows: for r in 0..batch.num_rows() {
                    if let Some((ids, billing, sub)) = &accounts
                        && !visible(ids, billing, sub, r)
                    {
                        continue;
                    }
                    for (values, allowed) in &filters {
                        if !allowed.contains(value(values, r)) {
                            continue 'rows;
                        }
                    }
                    key.clear();
                    key.push_str(match &keys {
                        Some(keys) => value(keys, r),
                        None => &partition.connection_id,
                    });
                    let time = match (&days, query.granularity) {
                        (Some(days), _) => Some(value(days, r)),
                        (None, Granularity::Month) => Some(partition.billing_period.as_str()),
                        (None, _) => None,
                    };
                    groups.add(
                        time,
                        &key,
                        [0, 1, 2].map(|c| sums[c].is_valid(r).then(|| sums[c].value(r))),
                        rows.value(r) as u64,
                    )?;
                }
            }
        }
        Ok(groups.finish(&query.by))
    }
}

/// The tag rollups beside rollup files, or `None` when any is missing (a rollup written by
/// an earlier release).
pub(crate) fn tag_rollups(
    files: &[(PathBuf, PartitionKey)],
) -> Option<Vec<(PathBuf, PartitionKey)>> {
    files
        .iter()
        .map(|(file, key)| {
            let tags = tag_rollup_file(file);
            tags.is_file().then(|| (tags, key.clone()))
        })
        .collect()
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::DataDir {
        path: path.clone(),
        source,
    }
}

/// Writes `batch` to `target` through a temporary name in `dir`, synced before the rename.
fn write_parquet(dir: &Path, target: &Path, batch: &RecordBatch) -> Result<()> {
    let failed = |e: &dyn std::fmt::Display| {
        Error::Inconsistent(format!("rollup {}: {e}", target.display()))
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.tmp"));
    let file = std::fs::File::create(&temporary).map_err(io_error(&temporary))?;
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).map_err(|e| failed(&e))?;
    writer.write(batch).map_err(|e| failed(&e))?;
    let file = writer.into_inner().map_err(|e| failed(&e))?;
    file.sync_all().map_err(io_error(&temporary))?;
    std::fs::rename(&temporary, target).map_err(io_error(target))
}

/// The tag rollup beside a rollup file (`<ingestion>.tags.parquet`).
fn tag_rollup_file(rollup: &Path) -> PathBuf {
    rollup.with_extension("tags.parquet")
}

/// A rollup batch's three cost sums and its row counts.
fn sum_columns(
    batch: &RecordBatch,
) -> Result<(Vec<arrow::array::Decimal128Array>, arrow::array::Int64Array)> {
    let column =
        |name: &str| -> Result<&ArrayRef> { Ok(batch.column(batch.schema().index_of(name)?)) };
    let mut sums = Vec::with_capacity(COSTS.len());
    for name in COSTS {
        sums.push(
            column(name)?
                .as_primitive_opt::<arrow::datatypes::Decimal128Type>()
                .ok_or_else(|| Error::Inconsistent(format!("rollup {name} is not a decimal")))?
                .clone(),
        );
    }
    let rows = column(ROWS)?
        .as_primitive_opt::<arrow::datatypes::Int64Type>()
        .ok_or_else(|| Error::Inconsistent("rollup x_Rows is not an integer".into()))?
        .clone();
    Ok((sums, rows))
}

/// Whether a rollup row is of an account the scope lists (its billing or sub account).
fn visible(
    ids: &std::collections::BTreeSet<String>,
    billing: &arrow::array::StringArray,
    sub: &arrow::array::StringArray,
    r: usize,
) -> bool {
    (billing.is_valid(r) && ids.contains(billing.value(r)))
        || (sub.is_valid(r) && ids.contains(sub.value(r)))
}

/// A string cell, [`NONE`] when null (as groups and filters name it).
fn value(a: &arrow::array::StringArray, r: usize) -> &str {
    if a.is_valid(r) { a.value(r) } else { NONE }
}

/// What identifies one rollup sum: the files (as they are on disk now), the query, the
/// accounts and the visible costs.
#[derive(PartialEq, Eq, Hash)]
struct SumKey {
    files: Vec<(PathBuf, FileStamp)>,
    query: CostQuery,
    accounts: Option<std::collections::BTreeSet<String>>,
    shown: [bool; 3],
}

/// A file's size and modification time.
type FileStamp = (u64, Option<std::time::SystemTime>);

/// A rollup file's rows, and the file's stamp when they were read.
type CachedRows = (FileStamp, Arc<Vec<RecordBatch>>);

/// The ingestion each partition holds (`None`: not one ingestion, or unknown).
type Partitions = BTreeMap<PartitionKey, Option<String>>;

/// What a [`Lake`] keeps between queries; see [`Lake`].
#[derive(Default)]
pub(crate) struct RollupCache {
    focus: tokio::sync::Mutex<Option<deltalake::DeltaTable>>,
    /// When the `focus` log was last listed for new commits.
    log_checked: std::sync::Mutex<Option<std::time::Instant>>,
    partitions: std::sync::Mutex<Option<(Option<u64>, Arc<Partitions>)>>,
    files: std::sync::Mutex<HashMap<PathBuf, CachedRows>>,
    sums: std::sync::Mutex<HashMap<SumKey, Arc<Vec<CostRow>>>>,
}

/// How long a listing of the `focus` log stands for another process's commits (this
/// process's own commits are seen at once).
const LOG_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

impl RollupCache {
    /// Makes the next query list the `focus` log: a commit of this process.
    pub(crate) fn invalidate(&self) {
        if let Ok(mut checked) = self.log_checked.lock() {
            *checked = None;
        }
    }
}

impl std::fmt::Debug for RollupCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RollupCache").finish_non_exhaustive()
    }
}

/// The dimensions a rollup keeps besides the day, in its columns' order.
const DIMENSIONS: [&str; 5] = [
    "BillingAccountId",
    "SubAccountId",
    "ServiceName",
    "RegionId",
    "ChargeCategory",
];
/// The costs a rollup sums, in its columns' order.
const COSTS: [&str; 3] = ["BilledCost", "EffectiveCost", "ListCost"];
/// The tag rollup's dimensions besides the day, in its columns' order (a null tag key marks
/// the row of all sums).
const TAG_DIMENSIONS: [&str; 4] = ["BillingAccountId", "SubAccountId", TAG_KEY, TAG_VALUE];
const TAGS: &str = "Tags";
/// Schema metadata of a tag rollup: the JSON list of tag keys it leaves out.
const DROPPED_TAGS: &str = "billow.dropped_tags";
const TAG_KEY: &str = "x_TagKey";
const TAG_VALUE: &str = "x_TagValue";
const DAY: &str = "x_Day";
const ROWS: &str = "x_Rows";
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The values met of one tag key; once past [`MAX_TAG_VALUES`] the key is dropped from the
/// tag rollup (its queries read the rows).
#[derive(Debug, Default)]
struct TagValues {
    values: Dictionary,
    dropped: bool,
}

impl TagValues {
    /// The id of `value`, or `None` when the key is (or, with this new value, becomes) dropped.
    fn keep(&mut self, value: &[u8]) -> Option<u32> {
        if self.dropped {
            return None;
        }
        if self.values.len() >= MAX_TAG_VALUES && !self.values.contains(value) {
            self.dropped = true;
            return None;
        }
        Some(self.values.id(value))
    }
}

/// A UTC day as days since 1970 ([`NO_DAY`] for a null charge period start). Every
/// timestamp's day fits: i64 microseconds span about ±10⁸ days.
type Day = i32;
const NO_DAY: Day = Day::MIN;

fn day_of(micros: i64) -> Day {
    micros.div_euclid(MICROS_PER_DAY) as Day
}

/// A [`DailyRollup`] group by dimensions: the UTC day and the [`DIMENSIONS`] ids.
type DimensionKey = (Day, [u32; DIMENSIONS.len()]);
/// A tag rollup group: the UTC day, billing and sub account ids, tag key and value ids
/// ([`NULL_ID`] for both in the row of all sums).
type TagKey = (Day, [u32; 4]);

/// One (billing account, sub account, service) of a partition, summed over the month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSums {
    /// FOCUS BillingAccountId.
    pub billing_account_id: Option<String>,
    /// FOCUS SubAccountId.
    pub sub_account_id: Option<String>,
    /// FOCUS ServiceName.
    pub service_name: Option<String>,
    /// Rows.
    pub rows: i64,
    /// Σ BilledCost, 10⁻¹².
    pub billed: i128,
    /// Σ EffectiveCost, 10⁻¹².
    pub effective: i128,
}

/// One partition's rows summed by UTC day of `ChargePeriodStart` and [`DIMENSIONS`], and by
/// day, account and tag, built from the batches as they are written (no second pass over the
/// month's rows).
#[derive(Debug, Default)]
pub struct DailyRollup {
    /// Values of each of [`DIMENSIONS`].
    dimensions: [Dictionary; DIMENSIONS.len()],
    tag_keys: Dictionary,
    /// By tag key id.
    tag_values: Vec<TagValues>,
    by_dimensions: Sums<DimensionKey>,
    /// By day, billing account, sub account, tag key and tag value. The groups with a null
    /// key and value, every row's sums (a tag's untagged share is the total less its
    /// values), are added from `by_dimensions` when the rollup is written: they are its
    /// groups with service, region and charge category folded, and a row then costs one
    /// table probe less.
    by_tags: Sums<TagKey>,
    /// The (tag key, value) ids of `Tags` texts met, so a resource's rows read its tags once;
    /// bounded (texts that differ on every row, as per-row ids make them, are not all kept).
    tag_sets: HashMap<Box<[u8]>, TagSet, foldhash::fast::RandomState>,
    /// The first row that could not be added (a sum beyond Decimal128), kept for the error.
    overflow: Option<String>,
    scratch: AddScratch,
}

/// What [`DailyRollup::add`] reuses from one batch to the next.
#[derive(Debug, Default)]
struct AddScratch {
    /// Per dimension, each row's id.
    ids: [Vec<u32>; DIMENSIONS.len()],
    /// Scratch space of [`Dictionary::extend_ids`].
    seen: Vec<u32>,
    /// Per key of a keyed `Tags` column, once read: where its (tag, value) ids sit in `pairs`.
    tag_sets: Vec<Option<(usize, usize)>>,
    pairs: Vec<(u32, u32)>,
    /// Per row, its group by dimensions (see [`Sums::add_rows`]).
    dimension_groups: Vec<RowGroup<DimensionKey>>,
    /// The batch's tag groups, each row's in row order.
    tag_groups: Vec<RowGroup<TagKey>>,
}

/// The (tag key id, tag value id) pairs of one `Tags` text that the tag rollup keeps.
type TagSet = Box<[(u32, u32)]>;

/// `Tags` texts whose ids a rollup remembers.
const MAX_TAG_SETS: usize = 65_536;

/// Distinct values of one tag key a partition's tag rollup keeps; beyond, the key is left to
/// the rows (a dashboard ranks teams and environments, not instance names).
const MAX_TAG_VALUES: usize = 2_000;

/// The (key, value) spans of a flat JSON object of string values, as Billow's readers write
/// `Tags`, found without allocating a string; `None` when the text is not that simple shape
/// (escapes, values that are not strings), for the caller to parse it in full.
fn scan_tags(json: &[u8], spans: &mut Vec<(usize, usize, usize, usize)>) -> Option<()> {
    spans.clear();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while json.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    let string = |i: &mut usize| -> Option<(usize, usize)> {
        if json.get(*i) != Some(&b'"') {
            return None;
        }
        let start = *i + 1;
        let len = json
            .get(start..)?
            .iter()
            .position(|&b| b == b'"' || b == b'\\')?;
        if json[start + len] == b'\\' {
            return None;
        }
        *i = start + len + 1;
        Some((start, start + len))
    };
    skip_ws(&mut i);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        skip_ws(&mut i);
        match json.get(i) {
            Some(b'}') => return Some(()),
            Some(b',') if !spans.is_empty() => {
                i += 1;
                skip_ws(&mut i);
            }
            Some(b'"') if spans.is_empty() => {}
            _ => return None,
        }
        let (ks, ke) = string(&mut i)?;
        skip_ws(&mut i);
        if json.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        skip_ws(&mut i);
        let (vs, ve) = string(&mut i)?;
        spans.push((ks, ke, vs, ve));
    }
}

impl DailyRollup {
    /// Adds the rows of a batch of the `focus` schema.
    pub(crate) fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let column = |name: &str| -> Result<&ArrayRef> {
            let i = batch.schema().index_of(name)?;
            Ok(batch.column(i))
        };
        let start = column("ChargePeriodStart")?
            .as_primitive_opt::<TimestampMicrosecondType>()
            .ok_or_else(|| Error::Inconsistent("ChargePeriodStart is not a timestamp".into()))?;
        let text = |name: &str| -> Result<TextColumn<'_>> {
            TextColumn::of(column(name)?.as_ref())
                .ok_or_else(|| Error::Inconsistent(format!("{name} is not a string")))
        };
        // Each row's id of each dimension, a keyed column's values looked up once each.
        let mut scratch = std::mem::take(&mut self.scratch);
        for ((name, ids), dictionary) in DIMENSIONS
            .iter()
            .zip(&mut scratch.ids)
            .zip(&mut self.dimensions)
        {
            ids.clear();
            dictionary.extend_ids(&text(name)?, ids, &mut scratch.seen);
        }
        let tags = text(TAGS)?;
        scratch.pairs.clear();
        scratch.tag_sets.clear();
        if let TextColumn::Keyed { values, .. } = tags {
            scratch.tag_sets.resize(values.len(), None);
        }
        let mut costs = Vec::with_capacity(COSTS.len());
        for name in COSTS {
            costs.push(
                column(name)?
                    .as_primitive_opt::<arrow::datatypes::Decimal128Type>()
                    .ok_or_else(|| Error::Inconsistent(format!("{name} is not a decimal")))?,
            );
        }
        let (mut spans, mut pairs) = (Vec::new(), Vec::new());
        // First each row's groups and their hashes; then the sums (see [`Sums::add_rows`]).
        scratch.dimension_groups.clear();
        scratch.tag_groups.clear();
        for row in 0..batch.num_rows() {
            let day = if start.is_valid(row) {
                day_of(start.value(row))
            } else {
                NO_DAY
            };
            let ids: [u32; DIMENSIONS.len()] =
                std::array::from_fn(|d| scratch.ids[d].get(row).copied().unwrap_or(NULL_ID));
            let group = (day, ids);
            let hash = self.by_dimensions.hash(&group);
            scratch.dimension_groups.push((group, hash, row as u32));
            // The row's (tag, value) ids: a keyed text's are read once per batch.
            let row_pairs: &[(u32, u32)] = match tags {
                TextColumn::Keyed { keys, values } if keys.is_valid(row) => {
                    let key = keys.value(row) as usize;
                    let (begin, end) = match scratch.tag_sets.get(key).copied().flatten() {
                        Some(range) => range,
                        None => {
                            let text = values.value(key).as_bytes();
                            self.tag_ids(text, &mut spans, &mut pairs);
                            let begin = scratch.pairs.len();
                            scratch.pairs.extend_from_slice(&pairs);
                            let range = (begin, scratch.pairs.len());
                            if let Some(slot) = scratch.tag_sets.get_mut(key) {
                                *slot = Some(range);
                            }
                            range
                        }
                    };
                    &scratch.pairs[begin..end]
                }
                TextColumn::Plain(texts) if texts.is_valid(row) => {
                    self.tag_ids(texts.value(row).as_bytes(), &mut spans, &mut pairs);
                    &pairs
                }
                _ => &[],
            };
            for &(tag, value) in row_pairs {
                // A key dropped since the text was read stays out (and one dropped later in
                // the batch is left out whole when the rollup is written).
                if self.tag_values[tag as usize].dropped {
                    continue;
                }
                // Day and both accounts begin every tag group (the row of all sums, which
                // has no tag, is folded from `by_dimensions` at the end).
                let group = (day, [ids[0], ids[1], tag, value]);
                let hash = self.by_tags.hash(&group);
                scratch.tag_groups.push((group, hash, row as u32));
            }
        }
        let values =
            |row: usize| [0, 1, 2].map(|c| costs[c].is_valid(row).then(|| costs[c].value(row)));
        let by_dimensions = self
            .by_dimensions
            .add_rows(&scratch.dimension_groups, values);
        let by_tags = self.by_tags.add_rows(&scratch.tag_groups, values);
        let overflow = by_dimensions.or(by_tags);
        if let Some(row) = overflow
            && self.overflow.is_none()
        {
            self.overflow = Some(format!("a sum passed Decimal128 at row {row}"));
        }
        self.scratch = scratch;
        Ok(())
    }

    /// The id of a tag key and the values met of it.
    fn tag(&mut self, key: &[u8]) -> (u32, &mut TagValues) {
        let id = self.tag_keys.id(key);
        if self.tag_values.len() <= id as usize {
            self.tag_values
                .resize_with(id as usize + 1, TagValues::default);
        }
        (id, &mut self.tag_values[id as usize])
    }

    /// The (tag key, value) ids of a `Tags` text that the tag rollup keeps, into `pairs`.
    fn tag_ids(
        &mut self,
        text: &[u8],
        spans: &mut Vec<(usize, usize, usize, usize)>,
        pairs: &mut Vec<(u32, u32)>,
    ) {
        pairs.clear();
        if let Some(known) = self.tag_sets.get(text) {
            // A key dropped since the text was first read stays out.
            let tag_values = &self.tag_values;
            pairs.extend(
                known
                    .iter()
                    .filter(|(tag, _)| !tag_values[*tag as usize].dropped),
            );
            return;
        }
        let mut keep = |this: &mut Self, tag: &[u8], value: &[u8]| {
            let (tag, values) = this.tag(tag);
            if let Some(value) = values.keep(value) {
                pairs.push((tag, value));
            }
        };
        if scan_tags(text, spans).is_some() {
            for &(ks, ke, vs, ve) in spans.iter() {
                keep(self, &text[ks..ke], &text[vs..ve]);
            }
        } else if let Ok(map) =
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(text)
        {
            // Escapes, or values that are not strings: the values `costs` shows.
            for (tag, value) in map {
                let value = match value {
                    serde_json::Value::Null => continue,
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                keep(self, tag.as_bytes(), value.as_bytes());
            }
        }
        if self.tag_sets.len() < MAX_TAG_SETS {
            self.tag_sets.insert(text.into(), pairs.as_slice().into());
        }
    }

    /// Adds another rollup of the same partition (another decoding thread's rows).
    pub(crate) fn merge(&mut self, other: DailyRollup) {
        if self.overflow.is_none() {
            self.overflow = other.overflow;
        }
        // The other's ids, as this rollup numbers the same values.
        let dimension_ids: Vec<Vec<u32>> = self
            .dimensions
            .iter_mut()
            .zip(&other.dimensions)
            .map(|(mine, theirs)| theirs.values().map(|v| mine.id(v)).collect())
            .collect();
        let translate = |ids: &[u32], id: u32| ids.get(id as usize).copied().unwrap_or(NULL_ID);
        let mut tag_ids = Vec::with_capacity(other.tag_keys.len());
        for (tag, theirs) in other.tag_keys.values().zip(&other.tag_values) {
            let (tag, mine) = self.tag(tag);
            let values: Vec<u32> = theirs.values.values().map(|v| mine.values.id(v)).collect();
            // A key is kept while both threads' values together stay within the bound.
            mine.dropped |= theirs.dropped || mine.values.len() > MAX_TAG_VALUES;
            tag_ids.push((tag, values));
        }
        let mut fits = true;
        for (&(day, ids), values, rows) in other.by_dimensions.iter() {
            let mut mine = [NULL_ID; DIMENSIONS.len()];
            for (d, id) in mine.iter_mut().enumerate() {
                *id = translate(&dimension_ids[d], ids[d]);
            }
            fits &= self.by_dimensions.add((day, mine), values, rows);
        }
        for (&(day, [billing, sub, tag, value]), values, rows) in other.by_tags.iter() {
            let (tag, value) = match tag_ids.get(tag as usize) {
                Some((tag, values)) => (*tag, translate(values, value)),
                None => (NULL_ID, NULL_ID),
            };
            let group = (
                day,
                [
                    translate(&dimension_ids[0], billing),
                    translate(&dimension_ids[1], sub),
                    tag,
                    value,
                ],
            );
            fits &= self.by_tags.add(group, values, rows);
        }
        if !fits {
            self.overflow
                .get_or_insert_with(|| "a sum passed Decimal128".into());
        }
    }

    /// The rollup as one batch: `x_Day` (`YYYY-MM-DD`), the dimensions, the sums and
    /// `x_Rows`, in key order (days in order).
    #[cfg(test)]
    pub(crate) fn into_batch(self) -> Result<RecordBatch> {
        Ok(self.into_batches()?.0)
    }

    /// The partition's sums of billed and effective cost by billing account, sub account and
    /// service (days, regions and categories folded): what a version's history compares.
    pub fn breakdown(&self) -> Result<Vec<ServiceSums>> {
        type Key = (Option<String>, Option<String>, Option<String>);
        let mut groups: BTreeMap<Key, (i64, i128, i128)> = BTreeMap::new();
        let text = |d: usize, id: u32| {
            self.dimensions[d]
                .value(id)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let overflow = || Error::Inconsistent("a breakdown sum passed Decimal128".into());
        for (&(_, ids), [billed, effective, _], rows) in self.by_dimensions.iter() {
            // DIMENSIONS begin with billing account, sub account, service.
            let k = (text(0, ids[0]), text(1, ids[1]), text(2, ids[2]));
            let sum = groups.entry(k).or_default();
            sum.0 += rows;
            sum.1 = sum
                .1
                .checked_add(billed.unwrap_or(0))
                .ok_or_else(overflow)?;
            sum.2 = sum
                .2
                .checked_add(effective.unwrap_or(0))
                .ok_or_else(overflow)?;
        }
        Ok(groups
            .into_iter()
            .map(
                |((account, sub, service), (rows, billed, effective))| ServiceSums {
                    billing_account_id: account,
                    sub_account_id: sub,
                    service_name: service,
                    rows,
                    billed,
                    effective,
                },
            )
            .collect())
    }

    /// The rollup by dimensions (as [`DailyRollup::into_batch`]) and the tag rollup: per
    /// day, billing account and sub account, one row per (tag key, tag value) and one row
    /// with a null tag key holding every row's sums (so a tag's untagged share is the total
    /// less its values). The tag rollup's schema lists the keys it leaves out.
    pub(crate) fn into_batches(mut self) -> Result<(RecordBatch, RecordBatch)> {
        if let Some(overflow) = self.overflow {
            return Err(Error::Inconsistent(overflow));
        }
        let mut fits = true;
        for (&(day, ids), values, rows) in self.by_dimensions.iter() {
            let all_rows = (day, [ids[0], ids[1], NULL_ID, NULL_ID]);
            fits &= self.by_tags.add(all_rows, values, rows);
        }
        if !fits {
            return Err(Error::Inconsistent("a sum passed Decimal128".into()));
        }
        // Ids and values correspond one to one, so every id group is one byte-keyed group.
        let by_dimensions = self.by_dimensions.encoded(|&(day, ids), key| {
            encode_day(key, day);
            for (dictionary, &id) in self.dimensions.iter().zip(&ids) {
                encode_part(key, dictionary.value(id));
            }
            true
        });
        // Sorted and built on a second thread while the tag groups are encoded and sorted here
        // (a rollup is written at the end of an ingest, when the decoding threads are done).
        let (by_dimensions, by_tags) = std::thread::scope(|scope| {
            let by_dimensions = scope.spawn(move || sums_batch(by_dimensions, &DIMENSIONS));
            let by_tags = self.tag_batch();
            let by_dimensions = by_dimensions
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (by_dimensions, by_tags)
        });
        Ok((by_dimensions?, by_tags?))
    }

    /// The tag rollup of [`DailyRollup::into_batches`], once the rows by dimensions are in
    /// its groups with no tag.
    fn tag_batch(&self) -> Result<RecordBatch> {
        // A key one thread dropped may have values from another thread: leave it out whole.
        let kept = self
            .by_tags
            .encoded(|&(day, [billing, sub, tag, value]), key| {
                let tag_values = self.tag_values.get(tag as usize);
                if tag_values.is_some_and(|t| t.dropped) {
                    return false;
                }
                encode_day(key, day);
                encode_part(key, self.dimensions[0].value(billing));
                encode_part(key, self.dimensions[1].value(sub));
                encode_part(key, self.tag_keys.value(tag));
                encode_part(key, tag_values.and_then(|t| t.values.value(value)));
                true
            });
        let by_tags = sums_batch(kept, &TAG_DIMENSIONS)?;
        let mut dropped: Vec<String> = self
            .tag_keys
            .values()
            .zip(&self.tag_values)
            .filter(|(_, values)| values.dropped)
            .map(|(tag, _)| String::from_utf8_lossy(tag).into_owned())
            .collect();
        dropped.sort_unstable();
        let schema = by_tags.schema().as_ref().clone().with_metadata(
            [(
                DROPPED_TAGS.to_string(),
                serde_json::Value::from(dropped).to_string(),
            )]
            .into(),
        );
        Ok(by_tags.with_schema(Arc::new(schema))?)
    }
}

/// A rollup key's day part (none for rows without a charge period).
fn encode_day(key: &mut Vec<u8>, day: Day) {
    let day = (day != NO_DAY).then(|| i64::from(day).to_be_bytes());
    encode_part(key, day.as_ref().map(|b| &b[..]));
}

/// Groups whose byte keys are a day and `dimensions` as one batch: `x_Day`, the dimensions,
/// the sums and `x_Rows`, in key order (days first, in order).
fn sums_batch(mut groups: Vec<(Vec<u8>, Totals)>, dimensions: &[&str]) -> Result<RecordBatch> {
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let n = groups.len();
    let mut days = StringBuilder::with_capacity(n, n * 10);
    let mut builders: Vec<StringBuilder> =
        dimensions.iter().map(|_| StringBuilder::new()).collect();
    let mut totals: Vec<Decimal128Builder> = COSTS
        .iter()
        .map(|_| {
            Decimal128Builder::with_capacity(n)
                .with_precision_and_scale(38, 12)
                .map_err(Error::from)
        })
        .collect::<Result<_>>()?;
    let mut rows = Vec::with_capacity(n);
    // Keys sort by day first: each day is formatted once, for its first group.
    let mut day_text: Option<(Option<&[u8]>, Option<String>)> = None;
    for (key, (sums, group_rows)) in &groups {
        let mut parts = decode_parts(key);
        let day = parts.next().flatten();
        let text = match &day_text {
            Some((formatted, text)) if *formatted == day => text,
            _ => {
                let text = day.and_then(|b| {
                    let micros =
                        i64::from_be_bytes(b.try_into().ok()?).checked_mul(MICROS_PER_DAY)?;
                    let day = chrono::DateTime::from_timestamp_micros(micros)?;
                    Some(day.format("%Y-%m-%d").to_string())
                });
                &day_text.insert((day, text)).1
            }
        };
        days.append_option(text.as_deref());
        for builder in &mut builders {
            let value = parts.next().flatten();
            // The values were text (Arrow strings) before they were key bytes: checked as UTF-8
            // (fast for ASCII), not rebuilt by the lossy decoder.
            match value {
                Some(bytes) => match std::str::from_utf8(bytes) {
                    Ok(text) => builder.append_value(text),
                    Err(_) => builder.append_value(String::from_utf8_lossy(bytes)),
                },
                None => builder.append_null(),
            }
        }
        for (builder, sum) in totals.iter_mut().zip(sums) {
            builder.append_option(*sum);
        }
        rows.push(*group_rows);
    }
    let mut fields = vec![Field::new(DAY, DataType::Utf8, true)];
    fields.extend(
        dimensions
            .iter()
            .map(|d| Field::new(*d, DataType::Utf8, true)),
    );
    fields.extend(
        COSTS
            .iter()
            .map(|c| Field::new(*c, DataType::Decimal128(38, 12), true)),
    );
    fields.push(Field::new(ROWS, DataType::Int64, false));
    let mut columns: Vec<ArrayRef> = vec![Arc::new(days.finish())];
    columns.extend(
        builders
            .into_iter()
            .map(|mut b| Arc::new(b.finish()) as ArrayRef),
    );
    columns.extend(
        totals
            .into_iter()
            .map(|mut b| Arc::new(b.finish()) as ArrayRef),
    );
    columns.push(Arc::new(Int64Array::from(rows)));
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// Appends one key part: a null marker, or its length and bytes. Days are big-endian, so
/// sorted keys list the days of a bill (all after 1970) in order.
fn encode_part(key: &mut Vec<u8>, part: Option<&[u8]>) {
    match part {
        None => key.push(0),
        Some(bytes) => {
            key.push(1);
            key.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            key.extend_from_slice(bytes);
        }
    }
}

/// The parts [`encode_part`] appended, in order.
fn decode_parts(mut key: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    std::iter::from_fn(move || {
        let (&marker, rest) = key.split_first()?;
        if marker == 0 {
            key = rest;
            return Some(None);
        }
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let bytes = rest.get(4..4 + len)?;
        key = &rest[4 + len..];
        Some(Some(bytes))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Decimal128Array, StringArray, TimestampMicrosecondArray};

    fn batch(start: &[i64], region: &[Option<&str>], list: &[Option<i128>]) -> RecordBatch {
        // Tag sets in turn: one tag, none, two tags (one shared with the first), unparsable.
        let sets = [
            Some(r#"{"team":"a"}"#),
            None,
            Some(r#"{"team":"a","env":"prod"}"#),
            Some("not json"),
        ];
        let tags: Vec<Option<String>> = (0..start.len())
            .map(|i| sets[i % sets.len()].map(str::to_string))
            .collect();
        batch_with_tags(start, region, list, tags)
    }

    fn batch_with_tags(
        start: &[i64],
        region: &[Option<&str>],
        list: &[Option<i128>],
        tags: Vec<Option<String>>,
    ) -> RecordBatch {
        let n = start.len();
        let strings = |v: &str| Arc::new(StringArray::from(vec![v; n])) as ArrayRef;
        let decimals = |v: Vec<Option<i128>>| {
            Arc::new(
                Decimal128Array::from(v)
                    .with_precision_and_scale(38, 12)
                    .unwrap(),
            ) as ArrayRef
        };
        let mut fields = vec![Field::new(
            "ChargePeriodStart",
            DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into())),
            false,
        )];
        fields.extend(
            DIMENSIONS
                .iter()
                .map(|d| Field::new(*d, DataType::Utf8, true)),
        );
        fields.extend(
            COSTS
                .iter()
                .map(|c| Field::new(*c, DataType::Decimal128(38, 12), true)),
        );
        fields.push(Field::new(TAGS, DataType::Utf8, true));
        let columns = vec![
            Arc::new(TimestampMicrosecondArray::from(start.to_vec()).with_timezone("UTC"))
                as ArrayRef,
            strings("111"),
            strings("222"),
            strings("EC2"),
            Arc::new(StringArray::from(region.to_vec())),
            strings("Usage"),
            decimals(vec![Some(1); n]),
            decimals(vec![Some(2); n]),
            decimals(list.to_vec()),
            Arc::new(StringArray::from(tags)),
        ];
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    /// Keyed text columns, as readers hand them over, roll up exactly as the same text given
    /// plain: dimensions with nulls, tag sets repeated across the batch, and a tag key that
    /// passes [`MAX_TAG_VALUES`] part-way through (rows before and after the drop).
    #[test]
    fn keyed_text_rolls_up_as_plain_text() {
        let n = 5 * MAX_TAG_VALUES;
        let start: Vec<i64> = (0..n)
            .map(|i| (20_574 + (i % 3) as i64) * MICROS_PER_DAY)
            .collect();
        let regions = ["eu-west-1", "us-east-1"];
        let region: Vec<Option<&str>> = (0..n)
            .map(|i| (i % 5 != 0).then(|| regions[i % 2]))
            .collect();
        let list: Vec<Option<i128>> = (0..n).map(|i| Some(i as i128)).collect();
        let tags: Vec<Option<String>> = (0..n)
            .map(|i| match i % 4 {
                0 => None,
                1 => Some(format!(r#"{{"team":"t{}"}}"#, i % 7)),
                2 => Some(format!(r#"{{"team":"t{}","instance":"i-{i}"}}"#, i % 3)),
                _ => Some(r#"{"env":"prod"}"#.to_string()),
            })
            .collect();
        let plain = batch_with_tags(&start, &region, &list, tags);
        let keyed_schema = Schema::new(
            plain
                .schema()
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Dictionary(
                        Box::new(DataType::Int32),
                        Box::new(DataType::Utf8),
                    )),
                    _ => f.as_ref().clone(),
                })
                .collect::<Vec<_>>(),
        );
        let keyed_columns = keyed_schema
            .fields()
            .iter()
            .zip(plain.columns())
            .map(|(f, c)| arrow::compute::cast(c, f.data_type()).unwrap())
            .collect();
        let keyed = RecordBatch::try_new(Arc::new(keyed_schema), keyed_columns).unwrap();
        let roll = |b: &RecordBatch| {
            let mut rollup = DailyRollup::default();
            // In two halves, so a keyed column's values are met again in a second batch.
            rollup.add(&b.slice(0, n / 2)).unwrap();
            rollup.add(&b.slice(n / 2, n - n / 2)).unwrap();
            rollup.into_batches().unwrap()
        };
        let (plain_sums, plain_tags) = roll(&plain);
        let (keyed_sums, keyed_tags) = roll(&keyed);
        assert_eq!(plain_sums, keyed_sums);
        assert_eq!(plain_tags, keyed_tags);
        assert!(plain_tags.num_rows() > 3 * 2, "{plain_tags:?}");
        let dropped = plain_tags.schema().metadata()[DROPPED_TAGS].clone();
        assert_eq!(dropped, r#"["instance"]"#);
    }

    /// A rollup of one row per tag text, all on `day` in one region, each costing 1.
    fn rollup_of_tags(day: i64, tags: Vec<Option<String>>) -> DailyRollup {
        let n = tags.len();
        let mut rollup = DailyRollup::default();
        rollup
            .add(&batch_with_tags(
                &vec![day; n],
                &vec![Some("eu-west-1"); n],
                &vec![Some(1); n],
                tags,
            ))
            .unwrap();
        rollup
    }

    /// The tag rollup holds, per day and account, every row's sums under a null tag key and
    /// each tag value's sums; a tag set shared by rows, or a value met in two sets, adds up.
    #[test]
    fn tag_sets_expand_to_one_row_per_tag_value() {
        let may1 = 20_574 * MICROS_PER_DAY;
        let mut rollup = DailyRollup::default();
        rollup
            .add(&batch(
                &[may1; 5],
                &[Some("eu-west-1"); 5],
                &[Some(10), Some(20), Some(30), Some(40), Some(50)],
            ))
            .unwrap();
        let (_, tags) = rollup.into_batches().unwrap();
        let column = |name: &str| {
            let i = tags.schema().index_of(name).unwrap();
            crate::string_column(&tags, i).unwrap()
        };
        let (keys, values) = (column(TAG_KEY), column(TAG_VALUE));
        let list = tags
            .column(tags.schema().index_of("ListCost").unwrap())
            .as_primitive::<arrow::datatypes::Decimal128Type>()
            .clone();
        let found: Vec<(Option<&str>, Option<&str>, i128, i64)> = (0..tags.num_rows())
            .map(|r| {
                let rows = tags
                    .column(tags.schema().index_of(ROWS).unwrap())
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .value(r);
                (
                    keys.is_valid(r).then(|| keys.value(r)),
                    values.is_valid(r).then(|| values.value(r)),
                    list.value(r),
                    rows,
                )
            })
            .collect();
        // Rows 0 and 4 carry {team: a}, row 2 {team: a, env: prod}; rows 1 and 3 no tags.
        assert_eq!(
            found,
            [
                (None, None, 150, 5),
                (Some("env"), Some("prod"), 30, 1),
                (Some("team"), Some("a"), 90, 3),
            ]
        );
    }

    /// Escaped text and non-string values are read as `costs` reads them; a key with more
    /// values than the tag rollup keeps is left out whole and named in its schema.
    #[test]
    fn odd_tags_parse_fully_and_a_key_of_many_values_is_left_to_the_rows() {
        let may1 = 20_574 * MICROS_PER_DAY;
        let n = MAX_TAG_VALUES + 2;
        let mut tags: Vec<Option<String>> = (0..n)
            .map(|i| Some(format!(r#"{{"Name":"i-{i:06}","team":"a"}}"#)))
            .collect();
        tags[0] = Some(r#"{"team":"q\"uote","size":3,"none":null}"#.into());
        let (_, batch) = rollup_of_tags(may1, tags).into_batches().unwrap();
        assert_eq!(
            batch
                .schema()
                .metadata()
                .get(DROPPED_TAGS)
                .map(String::as_str),
            Some(r#"["Name"]"#)
        );
        let column = |name: &str| {
            let i = batch.schema().index_of(name).unwrap();
            crate::string_column(&batch, i).unwrap()
        };
        let (keys, values) = (column(TAG_KEY), column(TAG_VALUE));
        let pairs: Vec<(Option<&str>, Option<&str>)> = (0..batch.num_rows())
            .map(|r| {
                (
                    keys.is_valid(r).then(|| keys.value(r)),
                    values.is_valid(r).then(|| values.value(r)),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            [
                (None, None),
                (Some("size"), Some("3")),
                (Some("team"), Some("a")),
                (Some("team"), Some("q\"uote")),
            ]
        );
    }

    #[test]
    fn simple_tags_are_scanned_and_others_are_not() {
        let mut spans = Vec::new();
        let text = br#" { "team" : "a" ,"env":"prod"} "#;
        assert!(scan_tags(text, &mut spans).is_some());
        let pairs: Vec<(&[u8], &[u8])> = spans
            .iter()
            .map(|&(ks, ke, vs, ve)| (&text[ks..ke], &text[vs..ve]))
            .collect();
        assert_eq!(
            pairs,
            [(&b"team"[..], &b"a"[..]), (&b"env"[..], &b"prod"[..])]
        );
        for odd in [
            &br#"{"a":"b\"c"}"#[..],
            br#"{"a":1}"#,
            b"[1]",
            br#"{"a":"b""#,
            b"{,}",
            b"",
        ] {
            assert!(
                scan_tags(odd, &mut spans).is_none(),
                "{}",
                String::from_utf8_lossy(odd)
            );
        }
        assert!(scan_tags(b"{}", &mut spans).is_some() && spans.is_empty());
    }

    /// Rows group by UTC day and dimension (a null region is its own group), sums skip null
    /// values and stay null when all are null, and two threads' rollups merge into the same
    /// totals as one.
    #[test]
    fn rows_sum_by_day_and_dimensions_and_merge() {
        let day = MICROS_PER_DAY;
        // 2026-05-01 23:00 and 2026-05-02 00:00 UTC are different days.
        let may1 = 20_574 * day;
        let mut one = DailyRollup::default();
        one.add(&batch(
            &[may1 + 23 * 3_600_000_000, may1, may1 + day],
            &[Some("us-east-1"), Some("us-east-1"), None],
            &[Some(5), None, None],
        ))
        .unwrap();
        let mut other = DailyRollup::default();
        other
            .add(&batch(&[may1 + 1], &[Some("us-east-1")], &[Some(7)]))
            .unwrap();
        one.merge(other);
        let b = one.into_batch().unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&[b])
            .unwrap()
            .to_string();
        let expected = [
            "+------------+------------------+--------------+-------------+-----------+----------------+----------------+----------------+----------------+--------+",
            "| x_Day      | BillingAccountId | SubAccountId | ServiceName | RegionId  | ChargeCategory | BilledCost     | EffectiveCost  | ListCost       | x_Rows |",
            "+------------+------------------+--------------+-------------+-----------+----------------+----------------+----------------+----------------+--------+",
            "| 2026-05-01 | 111              | 222          | EC2         | us-east-1 | Usage          | 0.000000000003 | 0.000000000006 | 0.000000000012 | 3      |",
            "| 2026-05-02 | 111              | 222          | EC2         |           | Usage          | 0.000000000001 | 0.000000000002 |                | 1      |",
            "+------------+------------------+--------------+-------------+-----------+----------------+----------------+----------------+----------------+--------+",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    }

    /// Two threads' rollups number values in the order each met them; merged, a tag key is
    /// kept while the values of both together stay within the bound, and a tag set met again
    /// (read from the rollup's memory of texts) adds up as the first time.
    #[test]
    fn merged_rollups_bound_a_tag_key_by_the_values_of_both() {
        let may1 = 20_574 * MICROS_PER_DAY;
        let thread = |first: usize, count: usize| {
            let tags: Vec<Option<String>> = (first..first + count)
                .flat_map(|i| {
                    let set = format!(r#"{{"Name":"i-{i:06}","team":"t{}"}}"#, i % 3);
                    [Some(set.clone()), Some(set)]
                })
                .collect();
            rollup_of_tags(may1, tags)
        };
        let tag_rows = |rollup: DailyRollup| {
            let (_, batch) = rollup.into_batches().unwrap();
            let dropped = batch.schema().metadata().get(DROPPED_TAGS).cloned();
            let keys =
                crate::string_column(&batch, batch.schema().index_of(TAG_KEY).unwrap()).unwrap();
            let rows = batch
                .column(batch.schema().index_of(ROWS).unwrap())
                .as_primitive::<arrow::datatypes::Int64Type>()
                .clone();
            let mut by_key: BTreeMap<Option<String>, (usize, i64)> = BTreeMap::new();
            for r in 0..batch.num_rows() {
                let entry = by_key
                    .entry(keys.is_valid(r).then(|| keys.value(r).to_string()))
                    .or_default();
                entry.0 += 1;
                entry.1 += rows.value(r);
            }
            (dropped, by_key)
        };
        // 1,000 + 1,000 values (500 shared): 1,500 in all, kept.
        let mut one = thread(0, 1_000);
        one.merge(thread(500, 1_000));
        let (dropped, by_key) = tag_rows(one);
        assert_eq!(dropped.as_deref(), Some("[]"));
        assert_eq!(by_key[&Some("Name".to_string())], (1_500, 4_000));
        assert_eq!(by_key[&Some("team".to_string())], (3, 4_000));
        assert_eq!(by_key[&None], (1, 4_000));
        // 1,500 + 1,500 distinct values: each thread kept its own, together they are too many.
        let mut one = thread(0, 1_500);
        one.merge(thread(1_500, 1_500));
        let (dropped, by_key) = tag_rows(one);
        assert_eq!(dropped.as_deref(), Some(r#"["Name"]"#));
        assert!(!by_key.contains_key(&Some("Name".to_string())));
        assert_eq!(by_key[&Some("team".to_string())], (3, 6_000));
    }

    #[test]
    fn a_sum_beyond_decimal128_is_an_error_not_a_wrapped_total() {
        let mut rollup = DailyRollup::default();
        let big = i128::MAX / 2 + 1;
        rollup
            .add(&batch(&[0, 0], &[None, None], &[Some(big), Some(big)]))
            .unwrap();
        assert!(rollup.into_batch().is_err());
    }
}
