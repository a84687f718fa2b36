//! The lake's publishing contract: staged partitions become visible together in one commit,
//! replace exactly the partitions they name, and batches holding several billing periods are
//! split before they reach a partition's files.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, Decimal128Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Int64Type};
use billow_focus::schema::{focus_schema, x};
use billow_lake::{Lake, PartitionKey, StagedPartition, split_by_period};

/// `periods.len()` rows of the focus schema for `connection`, row `i` in `periods[i]`, each
/// with a BilledCost of `cost` units of 10^-12.
fn batch(connection: &str, periods: &[&str], ingestion: &str, cost: i128) -> RecordBatch {
    let schema = focus_schema();
    let n = periods.len();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            match (f.name().as_str(), f.data_type()) {
                (x::CONNECTION_ID, _) => Arc::new(StringArray::from(vec![connection; n])),
                (x::BILLING_PERIOD, _) => Arc::new(StringArray::from(periods.to_vec())),
                (x::INGESTION_ID, _) => Arc::new(StringArray::from(vec![ingestion; n])),
                (_, DataType::Utf8) => Arc::new(StringArray::from(vec!["x"; n])),
                (_, DataType::Decimal128(p, s)) => Arc::new(
                    Decimal128Array::from(vec![cost; n])
                        .with_precision_and_scale(*p, *s)
                        .unwrap(),
                ),
                (_, DataType::Timestamp(..)) => {
                    Arc::new(TimestampMicrosecondArray::from(vec![0; n]).with_timezone("UTC"))
                }
                _ => Arc::new(Int64Array::from((0..n as i64).collect::<Vec<_>>())),
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

async fn stage(
    lake: &Lake,
    connection: &str,
    period: &str,
    ingestion: &str,
    rows: usize,
    cost: i128,
) -> StagedPartition {
    let key = PartitionKey {
        connection_id: connection.into(),
        billing_period: period.into(),
    };
    let mut sink = lake.partition_sink(&key).await.unwrap();
    sink.write(batch(connection, &vec![period; rows], ingestion, cost))
        .unwrap();
    StagedPartition::new(key, ingestion, vec![sink.finish().unwrap()])
}

async fn counts(lake: &Lake) -> Vec<(String, i64, String)> {
    let batches = lake
        .sql(
            "SELECT x_BillingPeriod, COUNT(*), CAST(SUM(BilledCost) AS VARCHAR) FROM focus \
             GROUP BY 1 ORDER BY 1",
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    for b in &batches {
        let periods = billow_lake::string_column(b, 0).unwrap();
        let sums = billow_lake::string_column(b, 2).unwrap();
        let n = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            out.push((
                periods.value(i).to_string(),
                n.value(i),
                sums.value(i).to_string(),
            ));
        }
    }
    out
}

#[test]
fn a_batch_of_several_periods_is_split_in_order_and_one_period_is_left_whole() {
    let mixed = batch("c", &["2024-09", "2024-10", "2024-09", "2024-09"], "i", 1);
    let parts = split_by_period(mixed).unwrap();
    let shape: Vec<(String, usize)> = parts
        .iter()
        .map(|(p, b)| (p.clone(), b.num_rows()))
        .collect();
    assert_eq!(
        shape,
        vec![("2024-09".to_string(), 3), ("2024-10".to_string(), 1)]
    );
    let lines = parts[0].1.column_by_name(x::SOURCE_LINE).unwrap();
    let lines: Vec<i64> = lines.as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(lines, vec![0, 2, 3], "rows keep their order");
    let single = split_by_period(batch("c", &["2024-09"; 5], "i", 1)).unwrap();
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].1.num_rows(), 5);
}

#[tokio::test]
async fn several_periods_publish_in_one_commit_and_replace_only_what_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).await.unwrap();
    let v1 = vec![
        stage(&lake, "c", "2024-09", "v1", 3, 1_000_000_000_000).await,
        stage(&lake, "c", "2024-10", "v1", 2, 1_000_000_000_000).await,
    ];
    let first = lake.commit_partitions(v1).await.unwrap();
    assert_eq!(
        (first.files_added, first.files_removed, first.rows),
        (2, 0, 5)
    );
    assert_eq!(
        counts(&lake).await,
        vec![
            ("2024-09".into(), 3, "3.000000000000".into()),
            ("2024-10".into(), 2, "2.000000000000".into())
        ]
    );
    // A restatement of September alone leaves October as it was.
    let v2 = vec![stage(&lake, "c", "2024-09", "v2", 4, 2_000_000_000_000).await];
    let second = lake.commit_partitions(v2).await.unwrap();
    assert_eq!(second.version, first.version + 1);
    let september = PartitionKey {
        connection_id: "c".into(),
        billing_period: "2024-09".into(),
    };
    assert_eq!(second.files_removed_by_partition.get(&september), Some(&1));
    assert_eq!(second.files_removed, 1);
    assert_eq!(
        counts(&lake).await,
        vec![
            ("2024-09".into(), 4, "8.000000000000".into()),
            ("2024-10".into(), 2, "2.000000000000".into())
        ]
    );
    assert_eq!(
        lake.current_ingestion(&september).await.unwrap().as_deref(),
        Some("v2")
    );
}

#[tokio::test]
async fn one_commit_publishes_one_ingestion_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).await.unwrap();
    let mixed = vec![
        stage(&lake, "c", "2024-09", "a", 1, 1).await,
        stage(&lake, "c", "2024-10", "b", 1, 1).await,
    ];
    let e = lake.commit_partitions(mixed).await.unwrap_err().to_string();
    assert!(e.contains("one ingestion"), "{e}");
    assert_eq!(
        lake.focus_version().await.unwrap(),
        Some(0),
        "only the table's creation"
    );
    assert!(counts(&lake).await.is_empty());
}

#[tokio::test]
async fn a_table_from_an_earlier_release_gains_new_columns_and_keeps_its_rows() {
    use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
    let dir = tempfile::tempdir().unwrap();
    // The table as a release without x_Extensions wrote it: one partition of two rows.
    let full = batch("old", &["2024-09", "2024-09"], "i-old", 5);
    let keep: Vec<usize> = (0..full.num_columns())
        .filter(|&i| full.schema().field(i).name() != x::EXTENSIONS)
        .collect();
    let old_rows = full.project(&keep).unwrap();
    let old_schema: deltalake::kernel::StructType =
        old_rows.schema().as_ref().try_into_kernel().unwrap();
    let table_dir = dir.path().join("lake").join("focus");
    std::fs::create_dir_all(&table_dir).unwrap();
    let url = deltalake::ensure_table_uri(table_dir.to_string_lossy()).unwrap();
    let table = deltalake::DeltaTable::try_from_url(url)
        .await
        .unwrap()
        .create()
        .with_table_name("focus")
        .with_columns(old_schema.fields().cloned())
        .with_partition_columns([x::CONNECTION_ID, x::BILLING_PERIOD])
        .await
        .unwrap();
    table.write(vec![old_rows]).await.unwrap();

    let lake = Lake::open(dir.path()).await.unwrap();
    lake.upgrade_tables().await.unwrap();
    let new = stage(&lake, "new", "2024-10", "i-new", 3, 7).await;
    lake.commit_partitions(vec![new]).await.unwrap();
    let batches = lake
        .sql(
            "SELECT x_ConnectionId, COUNT(*), COUNT(x_Extensions) FROM focus \
             GROUP BY 1 ORDER BY 1",
        )
        .await
        .unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    // The old rows read the new column as null; the new rows have it.
    assert!(text.contains("| new            | 3        | 3"), "{text}");
    assert!(text.contains("| old            | 2        | 0"), "{text}");
}

/// A query opens only the tables it names: a damaged `ingestions` log does not stop a query of
/// `focus`, and a query of `ingestions` says which table it could not open.
#[tokio::test]
async fn a_query_opens_only_the_tables_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).await.unwrap();
    let staged = stage(&lake, "c", "2024-09", "i-1", 4, 3).await;
    lake.commit_partitions(vec![staged]).await.unwrap();
    let log = dir.path().join("lake/ingestions/_delta_log");
    std::fs::create_dir_all(&log).unwrap();
    std::fs::write(log.join("00000000000000000000.json"), "not a delta log\n").unwrap();

    assert_eq!(counts(&lake).await.len(), 1);
    let err = lake
        .sql("SELECT COUNT(*) FROM ingestions")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ingestions"), "{err}");
}

#[tokio::test]
async fn file_statistics_in_the_log_keep_every_decimal_digit() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).await.unwrap();
    // 27 significant digits: a binary float would round them.
    let cost: i128 = 123_456_789_012_345_678_901_234_567;
    let staged = vec![stage(&lake, "c", "2024-09", "v1", 3, cost).await];
    lake.commit_partitions(staged).await.unwrap();
    let log = dir.path().join("lake/focus/_delta_log");
    let mut adds = Vec::new();
    for entry in std::fs::read_dir(&log).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        for line in text.lines() {
            let action: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(stats) = action["add"]["stats"].as_str() {
                adds.push(stats.to_string());
            }
        }
    }
    assert_eq!(adds.len(), 1, "{adds:?}");
    let stats = &adds[0];
    for expected in [
        "\"numRecords\":3",
        "\"minValues\":{\"BilledCost\":123456789012345.678901234567",
        "\"maxValues\":{\"BilledCost\":123456789012345.678901234567",
        "\"x_IngestionId\":\"v1\"",
        "\"ChargePeriodStart\":\"1970-01-01T00:00:00.000Z\"",
        "\"x_SourceLine\":0",
        "\"nullCount\":{\"BilledCost\":0",
    ] {
        assert!(stats.contains(expected), "{expected} not in {stats}");
    }
    // Readers that prune files by these bounds still find the rows at the exact bound.
    let rows = |condition: String| {
        let lake = lake.clone();
        async move {
            let query = format!("SELECT COUNT(*) FROM focus WHERE {condition}");
            let batches = lake.sql(&query).await.unwrap();
            batches[0].column(0).as_primitive::<Int64Type>().value(0)
        }
    };
    let bound = "CAST('123456789012345.678901234567' AS DECIMAL(38, 12))";
    assert_eq!(rows(format!("BilledCost >= {bound}")).await, 3);
    assert_eq!(rows(format!("BilledCost > {bound}")).await, 0);
}
