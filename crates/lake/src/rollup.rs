//! Daily rollups: a partition's rows summed by day and by the dimensions `costs` groups by,
//! one Parquet file per (partition, ingestion), so a month's totals come from tens of
//! thousands of rows instead of millions.
//!
//! A rollup is a cache, never the truth: it is written after its ingestion's commit (to a
//! temporary name, then renamed), and read only for a partition whose current rows carry that
//! ingestion's id. A crash between the commit and the rollup, a rollup that failed to write,
//! or a lake from a release without rollups all read the `focus` table instead. The files live
//! beside the Delta tables (`lake/rollups/<connection>/<period>/<ingestion>.parquet`) and are
//! not part of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::Array;
use datafusion::prelude::ParquetReadOptions;

use billow_focus::schema::x;

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

    /// Writes the rollup of each partition an ingestion just published, and removes the
    /// rollups of the versions it replaced.
    pub async fn write_rollups(&self, keys: &[PartitionKey], ingestion_id: &str) -> Result<()> {
        for key in keys {
            let escape = |s: &str| s.replace('\'', "''");
            let query = format!(
                "SELECT to_char(ChargePeriodStart, '%Y-%m-%d') AS x_Day, BillingAccountId, \
                 SubAccountId, ServiceName, RegionId, ChargeCategory, \
                 SUM(BilledCost) AS BilledCost, SUM(EffectiveCost) AS EffectiveCost, \
                 SUM(ListCost) AS ListCost, COUNT(*) AS x_Rows FROM focus \
                 WHERE x_ConnectionId = '{}' AND x_BillingPeriod = '{}' AND x_IngestionId = '{}' \
                 GROUP BY 1, 2, 3, 4, 5, 6",
                escape(&key.connection_id),
                escape(&key.billing_period),
                escape(ingestion_id),
            );
            let batches = self.sql(&query).await?;
            let Some(schema) = batches.first().map(|b| b.schema()) else {
                // Nothing of this ingestion in the partition: nothing to roll up.
                continue;
            };
            let dir = self.rollup_dir(key);
            let io = |path: &Path| {
                let path = path.to_path_buf();
                move |source| Error::DataDir { path, source }
            };
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            let target = self.rollup_file(key, ingestion_id);
            let temporary = dir.join(format!(".{ingestion_id}.parquet.tmp"));
            let file = std::fs::File::create(&temporary).map_err(io(&temporary))?;
            let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None)
                .map_err(|e| Error::Inconsistent(format!("rollup {}: {e}", target.display())))?;
            for b in &batches {
                writer.write(b).map_err(|e| {
                    Error::Inconsistent(format!("rollup {}: {e}", target.display()))
                })?;
            }
            let file = writer
                .into_inner()
                .map_err(|e| Error::Inconsistent(format!("rollup {}: {e}", target.display())))?;
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

    /// The rollup files that describe the current rows of every partition of the period and
    /// connection (all when `None`), or `None` when any such partition has no current rollup.
    /// Which ingestion a partition's rows are comes from the statistics of its files in the
    /// Delta log (one ingestion id per file), so no row is read.
    pub(crate) async fn current_rollups(
        &self,
        billing_period: Option<&str>,
        connection: Option<&str>,
    ) -> Result<Option<Vec<PathBuf>>> {
        let Some(table) = self.load(FOCUS).await? else {
            return Ok(Some(Vec::new()));
        };
        let actions = table
            .snapshot()
            .and_then(|s| s.add_actions_table(true))
            .map_err(|source| Error::Delta {
                table: FOCUS,
                source,
            })?;
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
        let mut ingestion_of: BTreeMap<PartitionKey, String> = BTreeMap::new();
        for r in 0..actions.num_rows() {
            if connections.is_null(r) || periods.is_null(r) {
                return Ok(None);
            }
            let key = PartitionKey {
                connection_id: connections.value(r).to_string(),
                billing_period: periods.value(r).to_string(),
            };
            if billing_period.is_some_and(|b| b != key.billing_period)
                || connection.is_some_and(|c| c != key.connection_id)
            {
                continue;
            }
            if first.is_null(r) || last.is_null(r) || first.value(r) != last.value(r) {
                return Ok(None);
            }
            match ingestion_of.get(&key) {
                Some(id) if id != first.value(r) => return Ok(None),
                Some(_) => {}
                None => {
                    ingestion_of.insert(key, first.value(r).to_string());
                }
            }
        }
        let mut files = Vec::with_capacity(ingestion_of.len());
        for (key, ingestion) in &ingestion_of {
            let file = self.rollup_file(key, ingestion);
            if !file.is_file() {
                return Ok(None);
            }
            files.push(file);
        }
        Ok(Some(files))
    }

    /// Runs `query` over the rollup files as table `rollup`.
    pub(crate) async fn query_rollups(
        &self,
        files: &[PathBuf],
        query: &str,
    ) -> Result<Vec<arrow::record_batch::RecordBatch>> {
        let ctx = datafusion::prelude::SessionContext::new_with_config(
            datafusion::prelude::SessionConfig::new()
                .set_bool("datafusion.sql_parser.enable_ident_normalization", false),
        );
        let paths: Vec<String> = files
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect();
        let frame = ctx
            .read_parquet(paths, ParquetReadOptions::default())
            .await?;
        ctx.register_table("rollup", frame.into_view())?;
        crate::collect_sql(&ctx, query).await
    }
}
