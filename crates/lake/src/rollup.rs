//! Daily rollups: a partition's rows summed by day and by the dimensions `costs` groups by,
//! one Parquet file per (partition, ingestion), so a month's totals come from tens of
//! thousands of rows instead of millions. The sums are taken as the rows are written (each
//! decoding thread sums its own, merged at the end), not by reading the month back.
//!
//! A rollup is a cache, never the truth: it is written after its ingestion's commit (to a
//! temporary name, then renamed), and read only for a partition whose current rows carry that
//! ingestion's id. A crash between the commit and the rollup, a rollup that failed to write,
//! or a lake from a release without rollups all read the `focus` table instead. The files live
//! beside the Delta tables (`lake/rollups/<connection>/<period>/<ingestion>.parquet`) and are
//! not part of them.
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

use crate::costs::{CostQuery, CostRow, Granularity, GroupBy, Groups, NONE};
use crate::tables::{FOCUS, PartitionKey};
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

    /// Writes the rollups of the partitions an ingestion just published, and removes the
    /// rollups of the versions they replaced.
    pub async fn write_rollups(
        &self,
        rollups: Vec<(PartitionKey, DailyRollup)>,
        ingestion_id: &str,
    ) -> Result<()> {
        for (key, rollup) in rollups {
            let target = self.rollup_file(&key, ingestion_id);
            let failed = |e: &dyn std::fmt::Display| {
                Error::Inconsistent(format!("rollup {}: {e}", target.display()))
            };
            let batch = rollup.into_batch().map_err(|e| failed(&e))?;
            let dir = self.rollup_dir(&key);
            let io = |path: &Path| {
                let path = path.to_path_buf();
                move |source| Error::DataDir { path, source }
            };
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            let temporary = dir.join(format!(".{ingestion_id}.parquet.tmp"));
            let file = std::fs::File::create(&temporary).map_err(io(&temporary))?;
            let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)
                .map_err(|e| failed(&e))?;
            writer.write(&batch).map_err(|e| failed(&e))?;
            let file = writer.into_inner().map_err(|e| failed(&e))?;
            file.sync_all().map_err(io(&temporary))?;
            std::fs::rename(&temporary, &target).map_err(io(&target))?;
            for entry in std::fs::read_dir(&dir).map_err(io(&dir))?.flatten() {
                if entry.path() != target {
                    // A replaced version's rollup, or a temporary file of a crashed write.
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    /// The ingestion each partition of `focus` holds now, from the statistics of its files
    /// in the Delta log (one ingestion id per file; `None` for a partition whose files
    /// disagree or lack the statistic), or `None` when the table's files have no such
    /// statistics at all. Kept per table version: the log is only checked for new commits.
    async fn current_partitions(&self) -> Result<Option<Arc<Partitions>>> {
        let mut focus = self.cache.focus.lock().await;
        match focus.as_mut() {
            Some(table) => table.update_state().await.map_err(|source| Error::Delta {
                table: FOCUS,
                source,
            })?,
            None => *focus = self.load(FOCUS).await?,
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
        let groups = self.sum_rollup_rows(files, query, scope)?;
        if let Ok(mut sums) = self.cache.sums.lock() {
            if sums.len() >= 1024 {
                sums.clear();
            }
            sums.insert(key, Arc::new(groups.clone()));
        }
        Ok(groups)
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
                let mut sums = Vec::with_capacity(COSTS.len());
                for name in COSTS {
                    sums.push(
                        batch
                            .column(column(name)?)
                            .as_primitive_opt::<arrow::datatypes::Decimal128Type>()
                            .ok_or_else(|| {
                                Error::Inconsistent(format!("rollup {name} is not a decimal"))
                            })?
                            .clone(),
                    );
                }
                let rows = batch
                    .column(column(ROWS)?)
                    .as_primitive_opt::<arrow::datatypes::Int64Type>()
                    .ok_or_else(|| Error::Inconsistent("rollup x_Rows is not an integer".into()))?
                    .clone();
                'rows: for r in 0..batch.num_rows() {
                    if let Some((ids, billing, sub)) = &accounts {
                        let visible = (billing.is_valid(r) && ids.contains(billing.value(r)))
                            || (sub.is_valid(r) && ids.contains(sub.value(r)));
                        if !visible {
                            continue;
                        }
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
    partitions: std::sync::Mutex<Option<(Option<u64>, Arc<Partitions>)>>,
    files: std::sync::Mutex<HashMap<PathBuf, CachedRows>>,
    sums: std::sync::Mutex<HashMap<SumKey, Arc<Vec<CostRow>>>>,
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
const DAY: &str = "x_Day";
const ROWS: &str = "x_Rows";
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// One partition's rows summed by UTC day of `ChargePeriodStart` and [`DIMENSIONS`], built
/// from the batches as they are written (no second pass over the month's rows). A group's
/// sum of a cost is null when every value of it is null, as SQL's `SUM`.
#[derive(Debug, Default)]
pub struct DailyRollup {
    /// Encoded key (see [`DailyRollup::encode_key`]) → index into `sums` and `rows`.
    groups: HashMap<Box<[u8]>, usize>,
    sums: Vec<[Option<i128>; 3]>,
    rows: Vec<i64>,
    /// The first row that could not be added (a sum beyond Decimal128), kept for the error.
    overflow: Option<String>,
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
        let mut dimensions = Vec::with_capacity(DIMENSIONS.len());
        for name in DIMENSIONS {
            dimensions.push(
                column(name)?
                    .as_string_opt::<i32>()
                    .ok_or_else(|| Error::Inconsistent(format!("{name} is not a string")))?,
            );
        }
        let mut costs = Vec::with_capacity(COSTS.len());
        for name in COSTS {
            costs.push(
                column(name)?
                    .as_primitive_opt::<arrow::datatypes::Decimal128Type>()
                    .ok_or_else(|| Error::Inconsistent(format!("{name} is not a decimal")))?,
            );
        }
        let mut key = Vec::with_capacity(128);
        for row in 0..batch.num_rows() {
            key.clear();
            let day = start
                .is_valid(row)
                .then(|| start.value(row).div_euclid(MICROS_PER_DAY));
            encode_part(
                &mut key,
                day.map(|d| d.to_be_bytes()).as_ref().map(|b| &b[..]),
            );
            for d in &dimensions {
                encode_part(&mut key, d.is_valid(row).then(|| d.value(row).as_bytes()));
            }
            let group = self.group(&key);
            for (sum, cost) in self.sums[group].iter_mut().zip(&costs) {
                if cost.is_valid(row) {
                    let value = cost.value(row);
                    *sum = match sum {
                        None => Some(value),
                        Some(s) => s.checked_add(value),
                    };
                    if sum.is_none() && self.overflow.is_none() {
                        self.overflow = Some(format!("a sum passed Decimal128 at row {row}"));
                    }
                }
            }
            self.rows[group] += 1;
        }
        Ok(())
    }

    fn group(&mut self, key: &[u8]) -> usize {
        if let Some(&g) = self.groups.get(key) {
            return g;
        }
        let g = self.rows.len();
        self.groups.insert(key.into(), g);
        self.sums.push([None; 3]);
        self.rows.push(0);
        g
    }

    /// Adds another rollup of the same partition (another decoding thread's rows).
    pub(crate) fn merge(&mut self, other: DailyRollup) {
        if self.overflow.is_none() {
            self.overflow = other.overflow;
        }
        for (key, g) in other.groups {
            let mine = self.group(&key);
            for (sum, value) in self.sums[mine].iter_mut().zip(other.sums[g]) {
                *sum = match (*sum, value) {
                    (None, v) | (v, None) => v,
                    (Some(a), Some(b)) => a.checked_add(b).or_else(|| {
                        self.overflow
                            .get_or_insert_with(|| "a sum passed Decimal128".into());
                        None
                    }),
                };
            }
            self.rows[mine] += other.rows[g];
        }
    }

    /// The rollup as one batch: `x_Day` (`YYYY-MM-DD`), the dimensions, the sums and
    /// `x_Rows`, in key order (days in order).
    pub(crate) fn into_batch(self) -> Result<RecordBatch> {
        if let Some(overflow) = self.overflow {
            return Err(Error::Inconsistent(overflow));
        }
        let mut groups: Vec<(Box<[u8]>, usize)> = self.groups.into_iter().collect();
        groups.sort_unstable();
        let n = groups.len();
        let mut days = StringBuilder::with_capacity(n, n * 10);
        let mut dimensions: Vec<StringBuilder> =
            DIMENSIONS.iter().map(|_| StringBuilder::new()).collect();
        let mut sums: Vec<Decimal128Builder> = COSTS
            .iter()
            .map(|_| {
                Decimal128Builder::with_capacity(n)
                    .with_precision_and_scale(38, 12)
                    .map_err(Error::from)
            })
            .collect::<Result<_>>()?;
        let mut rows = Vec::with_capacity(n);
        for (key, g) in &groups {
            let mut parts = decode_parts(key);
            let day = parts.next().flatten().and_then(|b| {
                let micros = i64::from_be_bytes(b.try_into().ok()?).checked_mul(MICROS_PER_DAY)?;
                chrono::DateTime::from_timestamp_micros(micros)
            });
            days.append_option(day.map(|d| d.format("%Y-%m-%d").to_string()));
            for builder in &mut dimensions {
                let value = parts.next().flatten();
                builder.append_option(value.map(|b| String::from_utf8_lossy(b).into_owned()));
            }
            for (builder, sum) in sums.iter_mut().zip(self.sums[*g]) {
                builder.append_option(sum);
            }
            rows.push(self.rows[*g]);
        }
        let mut fields = vec![Field::new(DAY, DataType::Utf8, true)];
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
        fields.push(Field::new(ROWS, DataType::Int64, false));
        let mut columns: Vec<ArrayRef> = vec![Arc::new(days.finish())];
        columns.extend(
            dimensions
                .into_iter()
                .map(|mut b| Arc::new(b.finish()) as ArrayRef),
        );
        columns.extend(
            sums.into_iter()
                .map(|mut b| Arc::new(b.finish()) as ArrayRef),
        );
        columns.push(Arc::new(Int64Array::from(rows)));
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
    }
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
        ];
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
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
