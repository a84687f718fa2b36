//! End-to-end ingestion tests: generated deliveries and the real public CUR samples.

mod aws_ce;
mod azure;
mod commitments;
mod digitalocean;
mod oci;
mod saas;
mod scope;

use std::path::{Path, PathBuf};

use billow_focus::money::format_decimal;
use billow_ingest::{
    IngestOptions, NoProgress, Outcome, ReconcileStatus, ingest_aws_cur, reconcile,
};
use billow_lake::costs::GroupBy;
use billow_lake::{Lake, PartitionKey};
use billow_synth::aws_cur::{CurSpec, write_delivery};

fn spec() -> CurSpec {
    CurSpec::new(11, 2026, 9).with_rows(3_000).with_files(3)
}

async fn lake(dir: &Path) -> Lake {
    Lake::open(dir.join("data")).await.unwrap()
}

/// Query result rows as text, one string per row with cells joined by single spaces.
async fn text_rows(lake: &Lake, query: &str) -> Vec<String> {
    let batches = lake.sql(query).await.unwrap();
    arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string()
        .lines()
        .skip(3)
        .filter(|l| !l.starts_with('+'))
        .map(|l| {
            l.split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn expected_by_group(e: &billow_synth::aws_cur::Expected) -> Vec<(String, String, String, String)> {
    e.by_account_category
        .iter()
        .map(|((a, c), (b, f))| {
            (
                a.clone(),
                c.clone(),
                billow_synth::format_units(*b),
                billow_synth::format_units(*f),
            )
        })
        .collect()
}

fn normalize(text: &str) -> String {
    // Generator text is like "12.5" or "0.0"; the lake's is like "12.5" or "0".
    let t = text.trim_end_matches(".0");
    if t.is_empty() || t == "-" {
        "0".into()
    } else {
        t.into()
    }
}

async fn lake_groups(lake: &Lake) -> Vec<(String, String, String, String)> {
    let rows = reconcile(lake, None).await.unwrap();
    rows.into_iter()
        .map(|r| {
            (
                r.billing_account_id,
                r.charge_category,
                r.lake_billed,
                r.lake_effective,
            )
        })
        .collect()
}

#[tokio::test]
async fn generated_month_reconciles_exactly_per_account_category_and_day() {
    let dir = tempfile::tempdir().unwrap();
    let d = write_delivery(&dir.path().join("src"), &spec()).unwrap();
    let lake = lake(dir.path()).await;
    let reports = ingest_aws_cur(
        &lake,
        &d.report_dir,
        &IngestOptions::new("aws-main"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].rows, d.expected.focus_rows);
    assert!(
        d.expected.focus_rows > d.expected.rows,
        "unused commitment rows are generated"
    );
    let expected: Vec<_> = expected_by_group(&d.expected)
        .into_iter()
        .map(|(a, c, b, e)| (a, c, normalize(&b), normalize(&e)))
        .collect();
    assert_eq!(lake_groups(&lake).await, expected);
    assert!(
        reconcile(&lake, None)
            .await
            .unwrap()
            .iter()
            .all(|r| r.status == ReconcileStatus::Exact)
    );
    // Per day, over all accounts and categories, billed cost matches the generator to the last decimal.
    let by_day = lake
        .costs(Some("2026-09"), None, &GroupBy::Day)
        .await
        .unwrap();
    let mut expected_days = std::collections::BTreeMap::<String, i128>::new();
    for ((_, _, day), (b, _)) in &d.expected.by_day {
        *expected_days.entry(day.clone()).or_default() += b;
    }
    assert_eq!(by_day.len(), expected_days.len());
    for row in by_day {
        let want = expected_days[&row.key] * 100; // 10⁻¹⁰ units → 10⁻¹²
        assert_eq!(row.billed, Some(want), "day {}", row.key);
    }
    // FOCUS conformance of what the lake holds.
    let batches = lake.read_focus("2026-09", None).await.unwrap();
    assert_eq!(
        batches.iter().map(|b| b.num_rows()).sum::<usize>() as u64,
        d.expected.focus_rows
    );
    for batch in batches {
        let violations = billow_focus::conformance::check_batch(&batch);
        assert!(
            violations.is_empty(),
            "{}",
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[tokio::test]
async fn a_planted_spike_stands_out_in_its_account_and_the_month_still_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec().with_cur2().with_spike(3, 12, 3, 50);
    let d = write_delivery(&dir.path().join("src"), &spec).unwrap();
    let lake = lake(dir.path()).await;
    ingest_aws_cur(
        &lake,
        &d.report_dir,
        &IngestOptions::new("aws-cur2"),
        &NoProgress,
    )
    .await
    .unwrap();
    let expected: Vec<_> = expected_by_group(&d.expected)
        .into_iter()
        .map(|(a, c, b, e)| (a, c, normalize(&b), normalize(&e)))
        .collect();
    assert_eq!(lake_groups(&lake).await, expected);
    // The account's daily usage: the three spike days each cost more than three times its
    // dearest other day, and the GPU hours are nowhere else.
    let daily = text_rows(
        &lake,
        "SELECT SubAccountId, CAST(CAST(ChargePeriodStart AS DATE) AS VARCHAR), \
         CAST(SUM(BilledCost) AS BIGINT) FROM focus WHERE ChargeCategory = 'Usage' \
         AND SubAccountId = (SELECT MIN(SubAccountId) FROM focus \
         WHERE x_UsageType LIKE '%p4d.24xlarge%') GROUP BY 1, 2 ORDER BY 2",
    )
    .await;
    let cost = |line: &String| line.rsplit(' ').next().unwrap().parse::<i64>().unwrap();
    let (spike, calm): (Vec<_>, Vec<_>) = daily.iter().partition(|l| {
        ["2026-09-12", "2026-09-13", "2026-09-14"]
            .iter()
            .any(|d| l.contains(d))
    });
    assert_eq!(spike.len(), 3, "{daily:?}");
    let calm_max = calm.iter().map(|l| cost(l)).max().unwrap();
    assert!(spike.iter().all(|l| cost(l) > 3 * calm_max), "{daily:?}");
    let gpu_accounts = text_rows(
        &lake,
        "SELECT COUNT(DISTINCT SubAccountId) FROM focus WHERE x_UsageType LIKE '%p4d.24xlarge%'",
    )
    .await;
    assert_eq!(gpu_accounts, ["1"]);
}

/// A lake holding the first delivery of `spec()` as connection `aws-main`.
async fn lake_with_v1() -> (
    tempfile::TempDir,
    Lake,
    billow_synth::aws_cur::Delivery,
    IngestOptions,
) {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path()).await;
    let v1 = write_delivery(&dir.path().join("src"), &spec()).unwrap();
    let options = IngestOptions::new("aws-main");
    ingest_aws_cur(&lake, &v1.report_dir, &options, &NoProgress)
        .await
        .unwrap();
    (dir, lake, v1, options)
}

#[tokio::test]
async fn raw_zone_keeps_an_exact_copy_of_every_source_file_by_its_hash() {
    use sha2::Digest;
    let (_dir, lake, v1, _) = lake_with_v1().await;
    let raw = lake.root().join("raw");
    for source in &v1.files {
        let bytes = std::fs::read(source).unwrap();
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        let kept = raw.join(&sha[..2]).join(&sha);
        assert_eq!(std::fs::read(&kept).unwrap(), bytes, "{}", kept.display());
    }
    // Nothing half-copied is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&raw)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".incoming"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn restated_month_replaces_old_version_and_reingest_is_a_no_op() {
    let (dir, lake, v1, options) = lake_with_v1().await;
    let src = dir.path().join("src");
    let again = ingest_aws_cur(&lake, &v1.report_dir, &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(again[0].outcome, Outcome::Unchanged);

    let v2 = write_delivery(&src, &spec().with_revision(1)).unwrap();
    assert_ne!(v1.expected.total_billed(), v2.expected.total_billed());
    let r = ingest_aws_cur(&lake, &v2.report_dir, &options, &NoProgress)
        .await
        .unwrap();
    assert!(
        matches!(
            r[0].outcome,
            Outcome::Published {
                files_replaced: 1..,
                ..
            }
        ),
        "{:?}",
        r[0].outcome
    );
    let expected: Vec<_> = expected_by_group(&v2.expected)
        .into_iter()
        .map(|(a, c, b, e)| (a, c, normalize(&b), normalize(&e)))
        .collect();
    assert_eq!(
        lake_groups(&lake).await,
        expected,
        "only v2 counts after the restatement"
    );
    let count = lake.sql("SELECT COUNT(*) AS n FROM focus").await.unwrap();
    let n = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(count[0].column(0))
        .value(0);
    assert_eq!(n as u64, v2.expected.focus_rows);
    let key = PartitionKey {
        connection_id: "aws-main".into(),
        billing_period: "2026-09".into(),
    };
    let history = billow_ingest::history::history(&lake, &key).await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(!history[0].current && history[0].published);
    assert!(history[1].current && !history[1].changes.is_empty());
    // What the restatement changed by account and service adds up to what it changed by
    // billing account and category, exactly, and the lake's rows by account and service
    // agree with the current version's breakdown.
    let by_service = &history[1].changes_by_service;
    assert!(!by_service.is_empty());
    assert!(history[0].changes_by_service.is_empty());
    let total: i128 = by_service.iter().map(|c| c.difference()).sum();
    let mut by_category = billow_focus::money::ExactSum::default();
    for (_, _, _, _, difference) in &history[1].changes {
        by_category.add_text(difference.as_bytes()).unwrap();
    }
    assert_eq!(format_decimal(total), by_category.to_decimal_string());
    assert!(
        by_service
            .windows(2)
            .all(|w| w[0].difference().unsigned_abs() >= w[1].difference().unsigned_abs())
    );
    let rows = text_rows(
        &lake,
        "SELECT CONCAT(COALESCE(SubAccountId, BillingAccountId, '(none)'), '#', \
         COALESCE(ServiceName, '(none)')), CAST(SUM(BilledCost) AS VARCHAR) FROM focus GROUP BY 1",
    )
    .await;
    let lake_sums: std::collections::BTreeMap<&str, &str> =
        rows.iter().filter_map(|r| r.rsplit_once(' ')).collect();
    for c in by_service {
        let key = format!("{}#{}", c.account, c.service);
        let lake_value = lake_sums
            .get(key.as_str())
            .map_or("0".into(), |v| normalize_decimal(v));
        assert_eq!(
            lake_value,
            normalize_decimal(&format_decimal(c.after)),
            "{c:?}"
        );
    }
}

#[tokio::test]
async fn failed_ingest_leaves_the_published_version_intact() {
    let (dir, lake, v1, options) = lake_with_v1().await;
    let src = dir.path().join("src");
    let before = lake_groups(&lake).await;
    let version = lake.focus_version().await.unwrap();

    let v2 = write_delivery(&src, &spec().with_revision(1)).unwrap();
    let bytes = std::fs::read(&v2.files[2]).unwrap();
    std::fs::write(&v2.files[2], &bytes[..bytes.len() - 200]).unwrap();
    let err = ingest_aws_cur(&lake, &v2.report_dir, &options, &NoProgress)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("billow-cur-3.csv.gz"), "{err}");

    assert_eq!(lake.focus_version().await.unwrap(), version);
    assert_eq!(lake_groups(&lake).await, before);
    let count = lake.sql("SELECT COUNT(*) FROM focus").await.unwrap();
    let n = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(count[0].column(0))
        .value(0);
    assert_eq!(n as u64, v1.expected.focus_rows);
}

fn sample(path: &str) -> Option<PathBuf> {
    let root = std::env::var_os("BILLOW_SAMPLES")
        .map(PathBuf::from)
        .or_else(|| {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples");
            p.is_dir().then_some(p)
        })?;
    let p = root.join(path);
    p.is_file().then_some(p)
}

/// Ingests a public sample file into a fresh lake; `None` (test skipped) when the shared
/// samples are not beside the checkout.
async fn ingest_sample(
    path: &str,
    connection: &str,
) -> Option<(tempfile::TempDir, Lake, Vec<billow_ingest::PeriodReport>)> {
    let Some(file) = sample(path) else {
        eprintln!("shared samples not present; skipped");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path()).await;
    let reports = ingest_aws_cur(&lake, &file, &IngestOptions::new(connection), &NoProgress)
        .await
        .unwrap();
    Some((dir, lake, reports))
}

#[tokio::test]
async fn real_cur_sample_reconciles_to_its_published_exact_total() {
    let Some((_dir, lake, r)) = ingest_sample(
        "focus_converters/aws/sample-anonymous-aws-export-dataset.csv",
        "sample",
    )
    .await
    else {
        return;
    };
    assert_eq!(r[0].rows, 1281);
    let total = lake
        .costs(None, None, &GroupBy::BillingAccount)
        .await
        .unwrap();
    assert_eq!(
        format_decimal(total.iter().map(|r| r.billed.unwrap()).sum()),
        "1.6823086974"
    ); // TOTALS.md
    // ListCost of usage is AWS's public on-demand cost; tax rows list at their billed amount.
    let by_category = lake
        .costs(None, None, &GroupBy::ChargeCategory)
        .await
        .unwrap();
    let usage = by_category.iter().find(|r| r.key == "Usage").unwrap();
    assert_eq!(format_decimal(usage.list.unwrap()), "3.3561726949"); // Σ pricing/publicOnDemandCost, TOTALS.md
    assert!(
        reconcile(&lake, None)
            .await
            .unwrap()
            .iter()
            .all(|r| r.status == ReconcileStatus::Exact)
    );
}

#[tokio::test]
async fn koku_cur_with_nineteen_decimals_reconciles_within_the_stated_bound() {
    let Some((_dir, lake, r)) = ingest_sample("koku/aws/test_cur.csv", "koku").await else {
        return;
    };
    assert_eq!(r[0].rows, 19);
    let exact: billow_focus::money::ExactSum =
        r[0].totals
            .groups
            .values()
            .fold(Default::default(), |mut s, g| {
                s.merge(&g.billed).unwrap();
                s
            });
    assert_eq!(exact.to_decimal_string(), "0.0827499841274349353"); // TOTALS.md
    let rows = reconcile(&lake, None).await.unwrap();
    assert!(
        rows.iter().all(|r| r.status != ReconcileStatus::Mismatch),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.status == ReconcileStatus::WithinRoundingBound),
        "{rows:?}"
    );
}

/// Every (billing account, charge category) of `connection` reconciles exactly, and its lake
/// totals are the generator's.
async fn assert_reconciles_exactly_to(
    lake: &Lake,
    connection: &str,
    expected: &billow_synth::aws_cur::Expected,
) {
    let expected: Vec<_> = expected_by_group(expected)
        .into_iter()
        .map(|(a, c, b, e)| (a, c, normalize(&b), normalize(&e)))
        .collect();
    let got: Vec<_> = reconcile(lake, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.connection_id == connection)
        .inspect(|r| assert_eq!(r.status, ReconcileStatus::Exact, "{r:?}"))
        .map(|r| {
            (
                r.billing_account_id,
                r.charge_category,
                r.lake_billed,
                r.lake_effective,
            )
        })
        .collect();
    assert_eq!(got, expected, "{connection}");
}

/// Rows of one connection as text, ordered by source file and line, for comparing two
/// ingestions.
async fn focus_rows(lake: &Lake, connection: &str, columns: &str) -> Vec<String> {
    let batches = lake
        .sql(&format!(
            "SELECT {columns} FROM focus WHERE x_ConnectionId = '{connection}' \
             ORDER BY x_SourceFile, x_SourceLine, ChargeCategory, CommitmentDiscountStatus"
        ))
        .await
        .unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    text.lines().map(str::to_string).collect()
}

#[tokio::test]
async fn cur2_spelling_of_a_month_maps_to_the_same_focus_rows_as_cur1() {
    let dir = tempfile::tempdir().unwrap();
    let spec = CurSpec::new(21, 2026, 5).with_rows(1_500).with_files(1);
    let cur1 = write_delivery(&dir.path().join("cur1"), &spec).unwrap();
    let cur2 = write_delivery(&dir.path().join("cur2"), &spec.clone().with_cur2()).unwrap();
    assert_eq!(cur1.expected, cur2.expected);
    let lake = lake(dir.path()).await;
    for (path, connection) in [(&cur1.report_dir, "as-cur1"), (&cur2.files[0], "as-cur2")] {
        ingest_aws_cur(&lake, path, &IngestOptions::new(connection), &NoProgress)
            .await
            .unwrap();
    }
    // One model, one mapper: every FOCUS column but the spelling-dependent ones is equal.
    let same = "x_SourceLine, BilledCost, EffectiveCost, ListCost, ListUnitPrice, \
                ContractedCost, PricingQuantity, PricingUnit, ChargeCategory, ChargeFrequency, \
                ChargePeriodStart, ChargePeriodEnd, CommitmentDiscountId, \
                CommitmentDiscountStatus, ServiceName, ServiceCategory, RegionId, RegionName, \
                ResourceId, ResourceType, SkuId, SkuPriceId, SubAccountId, BillingAccountId, \
                x_UsageType, x_Operation, x_LineItemType";
    let (a, b) = (
        focus_rows(&lake, "as-cur1", same).await,
        focus_rows(&lake, "as-cur2", same).await,
    );
    assert_eq!(a.len(), cur1.expected.focus_rows as usize + 4); // + table borders and header
    assert_eq!(a, b);
    // Both reconcile exactly to the generator's totals.
    for connection in ["as-cur1", "as-cur2"] {
        assert_reconciles_exactly_to(&lake, connection, &cur1.expected).await;
    }
    // What only CUR 2.0 has, and what it spells differently.
    let names = lake
        .sql(
            "SELECT DISTINCT x_SourceFormat, BillingAccountName = 'Payer ' || BillingAccountId, \
             SubAccountName = 'Account ' || SubAccountId FROM focus \
             WHERE x_ConnectionId = 'as-cur2'",
        )
        .await
        .unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&names)
        .unwrap()
        .to_string();
    assert!(
        text.contains("| aws-cur2 ") && !text.contains("false"),
        "{text}"
    );
    let tagged = lake
        .sql(
            "SELECT COUNT(*) FROM focus WHERE x_ConnectionId = 'as-cur2' \
             AND Tags LIKE '%\"cost_center\":%'",
        )
        .await
        .unwrap();
    let n = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(tagged[0].column(0))
        .value(0);
    assert!(
        n > 0,
        "CUR 2.0 tag keys lose AWS's `user_` prefix like CUR 1's `user:`"
    );
}

#[tokio::test]
async fn cur2_parquet_with_double_money_maps_to_the_same_rows_as_cur1_csv() {
    let dir = tempfile::tempdir().unwrap();
    let spec = CurSpec::new(22, 2026, 6).with_rows(1_200).with_files(2);
    let csv = write_delivery(&dir.path().join("csv"), &spec).unwrap();
    let parquet =
        write_delivery(&dir.path().join("parquet"), &spec.clone().with_parquet()).unwrap();
    let lake = lake(dir.path()).await;
    for (d, connection) in [(&csv, "csv"), (&parquet, "parquet")] {
        ingest_aws_cur(
            &lake,
            &d.report_dir,
            &IngestOptions::new(connection),
            &NoProgress,
        )
        .await
        .unwrap();
    }
    // Rows in the same order (a CSV line is its Parquet row number + 1 for the header).
    let same = "BilledCost, EffectiveCost, ListCost, ListUnitPrice, PricingQuantity, \
                ChargeCategory, ChargePeriodStart, ChargePeriodEnd, CommitmentDiscountStatus, \
                ServiceName, RegionId, ResourceId, SubAccountId, x_LineItemType";
    let (a, b) = (
        focus_rows(&lake, "csv", same).await,
        focus_rows(&lake, "parquet", same).await,
    );
    assert_eq!(a.len(), csv.expected.focus_rows as usize + 4);
    assert_eq!(a, b);
    let offsets = lake
        .sql(
            "SELECT MIN(x_SourceLine), MAX(x_SourceLine), x_ConnectionId FROM focus \
             GROUP BY x_ConnectionId ORDER BY x_ConnectionId",
        )
        .await
        .unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&offsets)
        .unwrap()
        .to_string();
    assert!(text.contains("| 2 ") && text.contains("| 1 "), "{text}");
    // The doubles' shortest decimals are the generator's decimals, so the Parquet month
    // reconciles exactly to the generator's totals too.
    assert_reconciles_exactly_to(&lake, "parquet", &csv.expected).await;
}

#[tokio::test]
async fn athena_spelled_cur_sample_reconciles() {
    let Some((_dir, lake, r)) =
        ingest_sample("koku/aws/2022-07-01-alt-columns.csv", "athena").await
    else {
        return;
    };
    assert_eq!(r[0].rows, 2);
    let rows = reconcile(&lake, None).await.unwrap();
    assert!(
        rows.iter().all(|r| r.status == ReconcileStatus::Exact),
        "{rows:?}"
    );
    let total: billow_focus::money::ExactSum =
        r[0].totals
            .groups
            .values()
            .fold(Default::default(), |mut s, g| {
                s.merge(&g.billed).unwrap();
                s
            });
    assert_eq!(total.to_decimal_string(), "0"); // TOTALS.md
    let formats = lake
        .sql("SELECT DISTINCT x_SourceFormat, ServiceName FROM focus ORDER BY 2")
        .await
        .unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&formats)
        .unwrap()
        .to_string();
    assert!(text.contains("aws-cur1-athena"), "{text}");
}

#[tokio::test]
async fn focus_sample_splits_into_its_two_periods_and_reconciles_to_the_published_total() {
    let Some(file) = sample("focus_sample_data/FOCUS-1.0/focus_sample.csv") else {
        eprintln!("shared samples not present; skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path()).await;
    let reports = billow_ingest::ingest_focus(
        &lake,
        &file,
        &IngestOptions::new("focus-sample"),
        &NoProgress,
    )
    .await
    .unwrap();
    let shape: Vec<(String, u64)> = reports
        .iter()
        .map(|r| (r.key.billing_period.clone(), r.rows))
        .collect();
    assert_eq!(shape, vec![("2024-09".into(), 999), ("2024-10".into(), 1)]);
    // One commit published both periods.
    assert_eq!(reports[0].outcome, reports[1].outcome);
    let mut total = billow_focus::money::ExactSum::default();
    for r in &reports {
        for g in r.totals.groups.values() {
            total.merge(&g.billed).unwrap();
        }
    }
    assert_eq!(total.to_decimal_string(), "20.52022672899"); // TOTALS.md
    let lake_total: i128 = lake
        .costs(None, None, &GroupBy::BillingAccount)
        .await
        .unwrap()
        .iter()
        .map(|r| r.billed.unwrap())
        .sum();
    assert_eq!(format_decimal(lake_total), "20.52022672899");
    assert!(
        reconcile(&lake, None)
            .await
            .unwrap()
            .iter()
            .all(|r| r.status == ReconcileStatus::Exact)
    );
    // Spelling is normalized, values are kept: `Usage-based` takes the spec's spelling, and
    // the 7 Oracle rows' missing ContractedCost stays missing.
    let checks = lake
        .sql("SELECT DISTINCT ChargeFrequency, x_SourceFormat FROM focus ORDER BY 1")
        .await
        .unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&checks)
        .unwrap()
        .to_string();
    assert!(
        text.contains("Usage-Based") && !text.contains("Usage-based") && text.contains("focus-1.0"),
        "{text}"
    );
    let nulls = lake
        .sql("SELECT COUNT(*) FROM focus WHERE ContractedCost IS NULL")
        .await
        .unwrap();
    let n = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(nulls[0].column(0))
        .value(0);
    assert_eq!(n, 7);
    // The same files again change nothing.
    let again = billow_ingest::ingest_focus(
        &lake,
        &file,
        &IngestOptions::new("focus-sample"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert!(again.iter().all(|r| r.outcome == Outcome::Unchanged));
}

#[tokio::test]
async fn billows_own_focus_1_4_parquet_export_ingests_back_to_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = write_delivery(
        &dir.path().join("src"),
        &CurSpec::new(31, 2026, 4).with_rows(800).with_files(1),
    )
    .unwrap();
    let lake = lake(dir.path()).await;
    ingest_aws_cur(
        &lake,
        &d.report_dir,
        &IngestOptions::new("native"),
        &NoProgress,
    )
    .await
    .unwrap();
    // Exported in source order, so the re-read rows' line numbers follow the original order.
    let schema = billow_focus::schema::focus_schema();
    let batches: Vec<_> = lake
        .sql(
            "SELECT * FROM focus WHERE x_ConnectionId = 'native' \
             ORDER BY x_SourceLine, ChargeCategory, CommitmentDiscountStatus",
        )
        .await
        .unwrap()
        .iter()
        .map(|b| billow_lake::conform(b, &schema).unwrap())
        .collect();
    let exported = dir.path().join("export.parquet");
    let projected: Vec<_> = batches
        .iter()
        .map(|b| {
            billow_focus::versions::project(b, billow_focus::versions::FocusVersion::V1_4).unwrap()
        })
        .collect();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&exported).unwrap(),
        projected[0].schema(),
        None,
    )
    .unwrap();
    for b in &projected {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    billow_ingest::ingest_focus(&lake, &exported, &IngestOptions::new("reread"), &NoProgress)
        .await
        .unwrap();
    let same = "BilledCost, EffectiveCost, ListCost, ContractedCost, PricingQuantity, \
                ChargeCategory, ChargePeriodStart, ProviderName, PublisherName, ServiceName, \
                ServiceCategory, RegionId, ResourceId, SubAccountId, Tags, \
                CommitmentDiscountStatus, x_UsageType, x_Operation, x_ServiceCode, \
                x_LineItemType, x_InvoicingEntity, x_Extensions";
    let a = lake
        .sql(&format!(
            "SELECT {same} FROM focus WHERE x_ConnectionId = 'native' ORDER BY x_SourceLine, ChargeCategory, CommitmentDiscountStatus"
        ))
        .await
        .unwrap();
    let b = lake
        .sql(&format!(
            "SELECT {same} FROM focus WHERE x_ConnectionId = 'reread' ORDER BY x_SourceLine"
        ))
        .await
        .unwrap();
    let a = arrow::util::pretty::pretty_format_batches(&a)
        .unwrap()
        .to_string();
    let b = arrow::util::pretty::pretty_format_batches(&b)
        .unwrap()
        .to_string();
    assert_eq!(a.lines().count(), d.expected.focus_rows as usize + 4);
    assert_eq!(a, b);
    assert_reconciles_exactly_to(&lake, "reread", &d.expected).await;
}

#[tokio::test]
async fn oci_cost_report_keeps_its_eighteen_decimal_total_and_reconciles_within_the_bound() {
    let Some(file) = sample("focus_converters/oci/reports_cost-csv_0000000030000269.csv") else {
        eprintln!("shared samples not present; skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path()).await;
    let reports = billow_ingest::ingest_oci(&lake, &file, &IngestOptions::new("oci"), &NoProgress)
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        (reports[0].key.billing_period.as_str(), reports[0].rows),
        ("2023-11", 506)
    );
    let exact: billow_focus::money::ExactSum =
        reports[0]
            .totals
            .groups
            .values()
            .fold(Default::default(), |mut s, g| {
                s.merge(&g.billed).unwrap();
                s
            });
    assert_eq!(exact.to_decimal_string(), "2.523589325400648027"); // TOTALS.md
    let rows = reconcile(&lake, None).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].status,
        ReconcileStatus::WithinRoundingBound,
        "{rows:?}"
    );
    // Eight services, each a FOCUS category; mixed `10:00Z` / `11:00:00Z` times parsed.
    let services = lake.costs(None, None, &GroupBy::Service).await.unwrap();
    assert_eq!(services.len(), 8);
    let categories = lake
        .sql(
            "SELECT DISTINCT ServiceCategory FROM focus WHERE ServiceName = 'MYSQL' \
             AND ChargePeriodEnd > ChargePeriodStart",
        )
        .await
        .unwrap();
    assert_eq!(
        billow_lake::string_column(&categories[0], 0)
            .unwrap()
            .value(0),
        "Databases"
    );
}

/// Cloud Billing export rows written from the documented schema, with the traps that matter:
/// several credits on one row (one in exponent form), a tax row, a late row of January
/// usage on the February invoice, and a cost in exponent form.
const GCP_ROWS: [&str; 4] = [
    r#"{"billing_account_id":"01A2B3-C4D5E6-F7G8H9","service":{"id":"6F81-5844-456A","description":"Compute Engine"},"sku":{"id":"2E27-4F75-95CD","description":"E2 Instance Core running in Americas"},"usage_start_time":"2024-01-31T10:00:00Z","usage_end_time":"2024-01-31T11:00:00Z","project":{"id":"web-prod","number":"123","name":"Web prod"},"labels":[{"key":"team","value":"web"},{"key":"env","value":"prod"}],"location":{"location":"us-central1","country":"US","region":"us-central1","zone":"us-central1-a"},"cost":12.3456789012,"currency":"USD","currency_conversion_rate":1,"usage":{"amount":3600,"unit":"seconds","amount_in_pricing_units":1,"pricing_unit":"hour"},"credits":[{"name":"Sustained Usage Discount","full_name":"Sustained Usage Discount","id":"s1","type":"SUSTAINED_USAGE_DISCOUNT","amount":-1.5},{"name":"Free trial","full_name":"Free trial credit","id":"p1","type":"PROMOTION","amount":-2.5e-2}],"invoice":{"month":"202401","publisher_type":"GOOGLE"},"cost_type":"regular"}"#,
    r#"{"billing_account_id":"01A2B3-C4D5E6-F7G8H9","service":{"id":"6F81-5844-456A","description":"Compute Engine"},"sku":{"id":"tax","description":"Tax"},"usage_start_time":"2024-01-31T00:00:00Z","usage_end_time":"2024-02-01T00:00:00Z","project":{"id":"web-prod","name":"Web prod"},"cost":1.17,"currency":"USD","credits":[],"invoice":{"month":"202401"},"cost_type":"tax"}"#,
    r#"{"billing_account_id":"01A2B3-C4D5E6-F7G8H9","service":{"id":"95FF-2EF5-5EA1","description":"Cloud Storage"},"sku":{"id":"E5F0-6A5D-7BAD","description":"Standard Storage US"},"usage_start_time":"2024-01-31T23:00:00Z","usage_end_time":"2024-02-01T00:00:00Z","project":{"id":"data","name":"Data"},"cost":1e-7,"currency":"USD","usage":{"amount":10,"unit":"byte-seconds","amount_in_pricing_units":1e-9,"pricing_unit":"gibibyte month"},"invoice":{"month":"202402"},"cost_type":"regular"}"#,
    r#"{"billing_account_id":"01A2B3-C4D5E6-F7G8H9","service":{"id":"95FF-2EF5-5EA1","description":"Cloud Storage"},"sku":{"id":"E5F0-6A5D-7BAD","description":"Standard Storage US"},"usage_start_time":"2024-07-01T07:00:00Z","usage_end_time":"2024-07-01T08:00:00Z","project":{"id":"data","name":"Data"},"cost":0.5,"currency":"USD","invoice":{"month":"202407"},"cost_type":"regular"}"#,
];

async fn gcp_lake(
    dir: &Path,
    file_name: &str,
    text: &str,
) -> (Lake, Vec<billow_ingest::PeriodReport>) {
    let path = dir.join(file_name);
    std::fs::write(&path, text).unwrap();
    let lake = lake(&dir.join(file_name.replace('.', "-"))).await;
    let reports = billow_ingest::ingest_gcp(&lake, &path, &IngestOptions::new("gcp"), &NoProgress)
        .await
        .unwrap();
    (lake, reports)
}

#[tokio::test]
async fn gcp_rows_land_on_their_invoice_month_with_credits_as_their_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, reports) = gcp_lake(dir.path(), "billing.jsonl", &GCP_ROWS.join("\n")).await;
    let shape: Vec<(String, u64)> = reports
        .iter()
        .map(|r| (r.key.billing_period.clone(), r.rows))
        .collect();
    // January: usage + 2 credits + tax; the late row of January usage is on February's
    // invoice; July's month starts at 07:00 UTC (Pacific daylight time).
    assert_eq!(
        shape,
        vec![
            ("2024-01".into(), 4),
            ("2024-02".into(), 1),
            ("2024-07".into(), 1)
        ]
    );
    let by_category = lake
        .costs(Some("2024-01"), None, &GroupBy::ChargeCategory)
        .await
        .unwrap();
    let total = |key: &str| {
        format_decimal(
            by_category
                .iter()
                .find(|r| r.key == key)
                .and_then(|r| r.billed)
                .unwrap_or(0),
        )
    };
    assert_eq!(total("Usage"), "12.3456789012");
    assert_eq!(total("Credit"), "-1.525");
    assert_eq!(total("Tax"), "1.17");
    // Net cost per service is cost + credits, with no row counted twice.
    let compute = lake
        .costs(Some("2024-01"), None, &GroupBy::Service)
        .await
        .unwrap();
    assert_eq!(format_decimal(compute[0].billed.unwrap()), "11.9906789012"); // 12.3456789012 - 1.525 + 1.17
    assert!(
        reconcile(&lake, None)
            .await
            .unwrap()
            .iter()
            .all(|r| r.status == ReconcileStatus::Exact)
    );
    let starts = lake
        .sql(
            "SELECT DISTINCT x_BillingPeriod, CAST(BillingPeriodStart AS VARCHAR) FROM focus \
             ORDER BY 1",
        )
        .await
        .unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&starts)
        .unwrap()
        .to_string();
    assert!(
        text.contains("2024-01-01T08:00:00") && text.contains("2024-07-01T07:00:00"),
        "{text}"
    );
}

#[tokio::test]
async fn a_bigquery_query_response_reads_like_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<serde_json::Value> = GCP_ROWS
        .iter()
        .map(|r| serde_json::json!({"f": [{"v": r}]}))
        .collect();
    let response = serde_json::json!({
        "kind": "bigquery#queryResponse",
        "schema": {"fields": [{"name": "f0_", "type": "STRING", "mode": "NULLABLE"}]},
        "jobReference": {"projectId": "billing-reader", "jobId": "job_1", "location": "US"},
        "totalRows": "4",
        "rows": rows,
        "jobComplete": true,
    });
    let (a, _) = gcp_lake(dir.path(), "export.jsonl", &GCP_ROWS.join("\n")).await;
    let (b, _) = gcp_lake(dir.path(), "query.json", &response.to_string()).await;
    let total = |rows: Vec<billow_lake::costs::CostRow>| {
        format_decimal(rows.iter().map(|r| r.billed.unwrap()).sum())
    };
    assert_eq!(
        total(a.costs(None, None, &GroupBy::Service).await.unwrap()),
        total(b.costs(None, None, &GroupBy::Service).await.unwrap())
    );
    assert_eq!(
        total(b.costs(None, None, &GroupBy::Service).await.unwrap()),
        "12.4906790012"
    );
}

/// A Parquet export of the same rows (BigQuery's FLOAT64 money as doubles, TIMESTAMP columns
/// as UTC timestamps, nested records and repeated credits) maps to the same FOCUS rows.
#[tokio::test]
async fn parquet_and_avro_exports_read_like_the_json_export() {
    use std::sync::Arc;

    use arrow::array::{Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    let dir = tempfile::tempdir().unwrap();
    let text = GCP_ROWS.join("\n");
    let (schema, _) =
        arrow_json::reader::infer_json_schema(std::io::Cursor::new(text.as_bytes()), None).unwrap();
    let reader = arrow_json::ReaderBuilder::new(Arc::new(schema))
        .build(std::io::Cursor::new(text.as_bytes()))
        .unwrap();
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let batches: Vec<RecordBatch> = reader
        .map(|b| {
            let b = b.unwrap();
            let mut fields = Vec::new();
            let mut columns = Vec::new();
            for (field, column) in b.schema().fields().iter().zip(b.columns()) {
                if field.name().ends_with("_time") {
                    columns.push(arrow::compute::cast(column, &utc).unwrap());
                    fields.push(Field::new(field.name(), utc.clone(), true));
                } else {
                    columns.push(Arc::clone(column));
                    fields.push(field.as_ref().clone());
                }
            }
            RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
        })
        .collect();
    let cost = batches[0].column_by_name("cost").unwrap();
    assert_eq!(cost.data_type(), &DataType::Float64);
    let path = dir.path().join("export.parquet");
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        batches[0].schema(),
        None,
    )
    .unwrap();
    for b in &batches {
        writer.write(b).unwrap();
    }
    writer.close().unwrap();

    let lake_json = lake(&dir.path().join("json")).await;
    let jsonl = dir.path().join("export.jsonl");
    std::fs::write(&jsonl, &text).unwrap();
    let options = IngestOptions::new("gcp");
    let from_json = billow_ingest::ingest_gcp(&lake_json, &jsonl, &options, &NoProgress)
        .await
        .unwrap();
    let lake_parquet = lake(&dir.path().join("parquet")).await;
    let from_parquet = billow_ingest::ingest_gcp(&lake_parquet, &path, &options, &NoProgress)
        .await
        .unwrap();
    let shape = |reports: &[billow_ingest::PeriodReport]| -> Vec<(String, u64)> {
        reports
            .iter()
            .map(|r| (r.key.billing_period.clone(), r.rows))
            .collect()
    };
    assert_eq!(shape(&from_parquet), shape(&from_json));
    let columns = "ChargeCategory, BilledCost, EffectiveCost, ServiceName, SubAccountId, Tags, \
                   CAST(ChargePeriodStart AS VARCHAR), CAST(BillingPeriodStart AS VARCHAR)";
    assert_eq!(
        focus_rows(&lake_parquet, "gcp", columns).await,
        focus_rows(&lake_json, "gcp", columns).await
    );
    for r in reconcile(&lake_parquet, None).await.unwrap() {
        assert_eq!(r.status, ReconcileStatus::Exact, "{r:?}");
    }

    // The same table exported as Avro (BigQuery's other binary export format), in a folder.
    let avro_dir = dir.path().join("avro-export");
    std::fs::create_dir_all(&avro_dir).unwrap();
    let avro = avro_dir.join("000000000000.avro");
    let mut writer = arrow_avro::writer::AvroWriter::new(
        std::fs::File::create(&avro).unwrap(),
        batches[0].schema().as_ref().clone(),
    )
    .unwrap();
    for b in &batches {
        writer.write(b).unwrap();
    }
    writer.finish().unwrap();
    drop(writer);
    assert_eq!(
        billow_formats::detect::detect(&avro_dir).unwrap(),
        billow_formats::detect::Format::GcpBillingExport
    );
    let lake_avro = lake(&dir.path().join("avro")).await;
    let from_avro = billow_ingest::ingest_gcp(&lake_avro, &avro_dir, &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(shape(&from_avro), shape(&from_json));
    assert_eq!(
        focus_rows(&lake_avro, "gcp", columns).await,
        focus_rows(&lake_json, "gcp", columns).await
    );
}

/// AWS Data Exports write `<export>/data/BILLING_PERIOD=YYYY-MM/` (the overwrite delivery)
/// with the export's manifest under `metadata/`: each partition is one delivery of its
/// period, CUR 2.0 or AWS's FOCUS export alike.
#[tokio::test]
async fn data_exports_partitions_are_deliveries_of_their_period() {
    let dir = tempfile::tempdir().unwrap();
    let spec = CurSpec::new(41, 2026, 6)
        .with_rows(900)
        .with_files(2)
        .with_cur2();
    let d = write_delivery(&dir.path().join("synth"), &spec).unwrap();
    let lay_out = |export: &Path, files: &[PathBuf], extension: &str| {
        let name = export.file_name().unwrap().to_string_lossy().to_string();
        let part = export.join("data/BILLING_PERIOD=2026-06");
        std::fs::create_dir_all(&part).unwrap();
        let mut keys = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let file = format!("{name}-{:05}.{extension}", i + 1);
            std::fs::copy(f, part.join(&file)).unwrap();
            keys.push(format!(
                "s3://billing-bucket/exports/{name}/data/BILLING_PERIOD=2026-06/{file}"
            ));
        }
        export_manifest(export, "2026-06", "exec-1", &keys);
    };
    let bucket = dir.path().join("bucket/exports");
    lay_out(&bucket.join("cur2-export"), &d.files, "csv.gz");
    let lake = lake(dir.path()).await;
    let options = IngestOptions::new("cur2-export");
    let reports = ingest_aws_cur(&lake, &bucket.join("cur2-export"), &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].key.billing_period, "2026-06");
    assert_reconciles_exactly_to(&lake, "cur2-export", &d.expected).await;
    assert_eq!(
        text_rows(&lake, "SELECT DISTINCT x_SourceFormat FROM focus").await,
        ["aws-cur2"]
    );

    // AWS's FOCUS export in the same layout: Billow's rows of that month as FOCUS 1.2 Parquet.
    let schema = billow_focus::schema::focus_schema();
    let batches: Vec<_> = lake
        .sql("SELECT * FROM focus ORDER BY x_SourceFile, x_SourceLine, ChargeCategory, CommitmentDiscountStatus")
        .await
        .unwrap()
        .iter()
        .map(|b| billow_lake::conform(b, &schema).unwrap())
        .collect();
    let parquet_file = dir.path().join("focus.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&parquet_file).unwrap(),
        batches[0].schema(),
        None,
    )
    .unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    lay_out(
        &bucket.join("focus-export"),
        &[parquet_file],
        "snappy.parquet",
    );
    ingest_aws_cur(
        &lake,
        &bucket.join("focus-export"),
        &IngestOptions::new("aws-focus"),
        &NoProgress,
    )
    .await
    .unwrap();
    let totals = text_rows(
        &lake,
        "SELECT x_ConnectionId, SUM(BilledCost), SUM(EffectiveCost), COUNT(*) FROM focus \
         GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_eq!(totals.len(), 2);
    let strip = |row: &str| {
        row.split_once(' ')
            .map(|(_, rest)| rest.to_string())
            .unwrap()
    };
    assert_eq!(strip(&totals[0]), strip(&totals[1]), "{totals:?}");

    // The "create new" delivery keeps one folder per run. Without the manifest, which run is
    // current is for the user to say, so Billow names the runs instead of guessing or adding
    // them up.
    let runs = bucket.join("create-new/data/BILLING_PERIOD=2026-06");
    for run in ["20260602T010203Z", "20260603T010203Z"] {
        std::fs::create_dir_all(runs.join(run)).unwrap();
        std::fs::copy(&d.files[0], runs.join(run).join("create-new-00001.csv.gz")).unwrap();
    }
    let err = ingest_aws_cur(&lake, &bucket.join("create-new"), &options, &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2 export runs") && err.contains("20260603T010203Z"),
        "{err}"
    );
}

/// A Data Exports manifest in the shape AWS writes (`executionId`, `exportArn`, `columns`,
/// `dataFiles` as `s3://` URIs, `billingPeriod`) to `<export>/metadata/BILLING_PERIOD=…/`.
fn export_manifest(export: &Path, period: &str, execution: &str, data_files: &[String]) {
    let name = export.file_name().unwrap().to_string_lossy().to_string();
    let metadata = export.join(format!("metadata/BILLING_PERIOD={period}"));
    std::fs::create_dir_all(&metadata).unwrap();
    let manifest = serde_json::json!({
        "executionId": execution,
        "exportArn": format!("arn:aws:bcm-data-exports:us-east-1:111122223333:export/{name}-0a1b"),
        "bucket": "billing-bucket",
        "billingPeriod": {
            "start": format!("{period}-01T00:00:00.000Z"),
        },
        "columns": [
            {"name": "line_item_unblended_cost", "type": "double"},
            {"name": "resource_tags", "type": "map<string,string>"},
        ],
        "dataFiles": data_files,
    });
    std::fs::write(
        metadata.join(format!("{name}-Manifest.json")),
        manifest.to_string(),
    )
    .unwrap();
}

/// In the "create new" delivery every refresh is a run folder of its own, and the manifest
/// names the current run's files: only those count, a refresh replaces the period, the same
/// run again is a no-op, and a manifest that lists a file not on disk or sits in the wrong
/// partition is refused with the published version intact.
#[tokio::test]
async fn the_data_exports_manifest_names_the_current_run() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_delivery(
        &dir.path().join("v1"),
        &CurSpec::new(43, 2026, 6).with_rows(400).with_cur2(),
    )
    .unwrap();
    let second = write_delivery(
        &dir.path().join("v2"),
        &CurSpec::new(44, 2026, 6)
            .with_rows(500)
            .with_files(2)
            .with_cur2(),
    )
    .unwrap();
    let export = dir.path().join("bucket/cur2/finance");
    let part = export.join("data/BILLING_PERIOD=2026-06");
    let put_run = |run: &str, files: &[PathBuf]| -> Vec<String> {
        std::fs::create_dir_all(part.join(run)).unwrap();
        files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let file = format!("finance-{:05}.csv.gz", i + 1);
                std::fs::copy(f, part.join(run).join(&file)).unwrap();
                format!("s3://billing-bucket/cur2/finance/data/BILLING_PERIOD=2026-06/{run}/{file}")
            })
            .collect()
    };
    let lake = lake(dir.path()).await;
    let options = IngestOptions::new("finance");
    let keys = put_run("20260602T010203Z", &first.files);
    export_manifest(&export, "2026-06", "exec-1", &keys);
    let reports = ingest_aws_cur(&lake, &export, &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(reports[0].export_version.as_deref(), Some("exec-1"));
    assert_reconciles_exactly_to(&lake, "finance", &first.expected).await;

    // The next refresh: a new run folder beside the old one, and a new manifest.
    let keys = put_run("20260603T010203Z", &second.files);
    export_manifest(&export, "2026-06", "exec-2", &keys);
    let reports = ingest_aws_cur(&lake, &export, &options, &NoProgress)
        .await
        .unwrap();
    assert!(matches!(reports[0].outcome, Outcome::Published { .. }));
    assert_reconciles_exactly_to(&lake, "finance", &second.expected).await;
    let reports = ingest_aws_cur(&lake, &export, &options, &NoProgress)
        .await
        .unwrap();
    assert!(matches!(reports[0].outcome, Outcome::Unchanged));

    // A manifest whose file is not (yet) on disk.
    let mut missing = keys.clone();
    missing.push(
        "s3://billing-bucket/cur2/finance/data/BILLING_PERIOD=2026-06/20260604T010203Z/finance-00001.csv.gz"
            .into(),
    );
    export_manifest(&export, "2026-06", "exec-3", &missing);
    let err = ingest_aws_cur(&lake, &export, &options, &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("finance-Manifest.json")
            && err.contains("20260604T010203Z/finance-00001.csv.gz")
            && err.contains("not on disk"),
        "{err}"
    );

    // A manifest of another period in this partition's folder.
    let metadata = export.join("metadata/BILLING_PERIOD=2026-06/finance-Manifest.json");
    let text = std::fs::read_to_string(&metadata)
        .unwrap()
        .replace("2026-06-01T", "2026-05-01T");
    std::fs::write(&metadata, text).unwrap();
    let err = ingest_aws_cur(&lake, &export, &options, &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("billingPeriod says 2026-05") && err.contains("dataFiles"),
        "{err}"
    );

    // One without a file list.
    std::fs::write(&metadata, r#"{"executionId": "exec-4"}"#).unwrap();
    let err = ingest_aws_cur(&lake, &export, &options, &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no dataFiles list"), "{err}");
    assert_reconciles_exactly_to(&lake, "finance", &second.expected).await;
}

#[tokio::test]
async fn files_without_rows_publish_nothing_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vendor.csv");
    std::fs::write(
        &path,
        "BilledCost,BillingAccountId,BillingCurrency,BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargePeriodEnd,ChargePeriodStart,EffectiveCost\n",
    )
    .unwrap();
    let lake = lake(dir.path()).await;
    let e = billow_ingest::ingest_focus(&lake, &path, &IngestOptions::new("v"), &NoProgress)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("hold no rows"), "{e}");
    assert_eq!(lake.focus_version().await.unwrap(), None);
}

#[tokio::test]
async fn a_generated_gcp_month_reconciles_exactly_with_late_rows_on_its_invoice() {
    use billow_synth::gcp::{GcpSpec, write_export};
    let dir = tempfile::tempdir().unwrap();
    let spec = GcpSpec::new(9, 2026, 3).with_rows(40_000).with_files(3);
    let export = write_export(&dir.path().join("export"), &spec).unwrap();
    let e = &export.expected;
    assert!(e.late_rows > 0);
    assert_eq!(export.files.len(), 3);
    let lake = lake(dir.path()).await;
    let reports = billow_ingest::ingest_gcp(
        &lake,
        &export.dir,
        &IngestOptions::new("gcp-gen"),
        &NoProgress,
    )
    .await
    .unwrap();
    // Every row, February's late ones too, is on the March invoice.
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].key.billing_period, "2026-03");
    assert_eq!(reports[0].rows, e.focus_rows);
    let rows = reconcile(&lake, None).await.unwrap();
    assert_eq!(rows.len(), e.by_account_category.len());
    for r in &rows {
        assert_eq!(r.status, ReconcileStatus::Exact, "{r:?}");
        let (billed, effective) =
            e.by_account_category[&(r.billing_account_id.clone(), r.charge_category.clone())];
        let want = |v| billow_synth::format_scaled(v, 6);
        assert_eq!(normalize_decimal(&r.lake_billed), want(billed), "{r:?}");
        assert_eq!(
            normalize_decimal(&r.lake_effective),
            want(effective),
            "{r:?}"
        );
    }
    // The commitments: fees bought, covered usage at BilledCost 0, one Unused row a day.
    let commitment_rows = text_rows(
        &lake,
        "SELECT ChargeCategory, COALESCE(CommitmentDiscountStatus, '-'), COUNT(*), \
         SUM(BilledCost) = 0, SUM(EffectiveCost) > 0 FROM focus \
         WHERE CommitmentDiscountId IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .await;
    let shapes: Vec<String> = commitment_rows
        .iter()
        .map(|r| {
            let cells: Vec<&str> = r.split(' ').collect();
            format!("{} {} {} {}", cells[0], cells[1], cells[3], cells[4])
        })
        .collect();
    assert_eq!(
        shapes,
        [
            "Purchase - false false",
            "Usage Unused true true",
            "Usage Used true true"
        ]
    );
    let unused_days: Vec<String> = text_rows(
        &lake,
        "SELECT COUNT(*) FROM focus WHERE CommitmentDiscountStatus = 'Unused'",
    )
    .await;
    assert_eq!(
        unused_days,
        ["32"],
        "31 days of March and the late hours' day"
    );
    let net = text_rows(&lake, "SELECT SUM(BilledCost) FROM focus").await;
    assert_eq!(normalize_decimal(&net[0]), e.net_total());
}

/// Decimal text without trailing zeros.
fn normalize_decimal(text: &str) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text.to_string()
    }
}

/// A data directory from a release whose `focus` table lacked a column added since: the lake
/// adds it when it opens, and a delivery of several months then publishes in one commit (the
/// column used to be added while the months were staged, and the commit then lost a race with
/// that metadata change).
#[tokio::test]
async fn a_lake_from_an_earlier_release_ingests_several_months_at_once() {
    use billow_focus::schema::{focus_schema, x};
    use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
    let dir = tempfile::tempdir().unwrap();
    let old: Vec<arrow::datatypes::Field> = focus_schema()
        .fields()
        .iter()
        .filter(|f| f.name() != x::EXTENSIONS)
        .map(|f| f.as_ref().clone())
        .collect();
    let old: deltalake::kernel::StructType = (&arrow::datatypes::Schema::new(old))
        .try_into_kernel()
        .unwrap();
    let table_dir = dir.path().join("data/lake/focus");
    std::fs::create_dir_all(&table_dir).unwrap();
    let url = deltalake::ensure_table_uri(table_dir.to_string_lossy()).unwrap();
    deltalake::DeltaTable::try_from_url(url)
        .await
        .unwrap()
        .create()
        .with_table_name("focus")
        .with_columns(old.fields().cloned())
        .with_partition_columns([x::CONNECTION_ID, x::BILLING_PERIOD])
        .await
        .unwrap();

    let src = dir.path().join("src");
    for month in [8, 9] {
        write_delivery(
            &src,
            &CurSpec::new(5, 2026, month).with_rows(600).with_files(2),
        )
        .unwrap();
    }
    let lake = lake(dir.path()).await;
    let report_dir = src.join("cur/billow-cur");
    let reports = ingest_aws_cur(&lake, &report_dir, &IngestOptions::new("old"), &NoProgress)
        .await
        .unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(
        text_rows(
            &lake,
            "SELECT COUNT(DISTINCT x_BillingPeriod), COUNT(x_Extensions) FROM focus"
        )
        .await,
        ["2 0"]
    );
}

async fn costs_agree_with_rows(lake: &Lake) {
    use billow_lake::costs::GroupBy;
    for by in [
        GroupBy::Day,
        GroupBy::Service,
        GroupBy::Account,
        GroupBy::BillingAccount,
        GroupBy::Region,
        GroupBy::ChargeCategory,
    ] {
        let (from_rollup, from_rows) = (
            lake.costs(Some("2026-05"), None, &by).await.unwrap(),
            lake.costs_from_focus(Some("2026-05"), None, &by)
                .await
                .unwrap(),
        );
        assert!(!from_rows.is_empty());
        assert_eq!(from_rollup, from_rows, "{by:?}");
    }
    filtered_costs_agree_with_rows(lake).await;
}

/// Time buckets, filters (a null value among them), connection groupings and ranges give
/// the same groups from the rollups as from the rows, and a filtered or bucketed query adds
/// up to the matching group of the plain one.
async fn filtered_costs_agree_with_rows(lake: &Lake) {
    use billow_lake::Scope;
    use billow_lake::costs::{CostQuery, Granularity, NONE, UNTAGGED};
    let month = Some("2026-05");
    let services = lake.costs(month, None, &GroupBy::Service).await.unwrap();
    let top = services[0].clone();
    let top_account = lake.costs(month, None, &GroupBy::Account).await.unwrap()[0]
        .key
        .clone();
    let queries = [
        CostQuery::new(month, GroupBy::Service).granularity(Granularity::Day),
        CostQuery::new(None, GroupBy::Region).granularity(Granularity::Month),
        CostQuery::new(month, GroupBy::Connection),
        CostQuery::new(month, GroupBy::Account).filter(GroupBy::Service, [top.key.clone()]),
        CostQuery::new(month, GroupBy::Day)
            .filter(GroupBy::Region, [NONE, "us-east-1"])
            .filter(GroupBy::ChargeCategory, ["Usage", "Tax"]),
        CostQuery::new(month, GroupBy::Service).filter(GroupBy::Connection, ["aws"]),
        CostQuery::new(month, GroupBy::Service).filter(GroupBy::Connection, ["elsewhere"]),
        CostQuery {
            from: Some("2026-01".into()),
            to: Some("2026-12".into()),
            ..CostQuery::new(None, GroupBy::ChargeCategory).granularity(Granularity::Month)
        },
        // From the tag rollup: by a tag, per day or month, filtered by accounts and values
        // of the same tag (the untagged share among them).
        CostQuery::new(month, GroupBy::Tag("team".into())),
        CostQuery::new(month, GroupBy::Tag("env".into())).granularity(Granularity::Day),
        CostQuery::new(None, GroupBy::Tag("team".into()))
            .granularity(Granularity::Month)
            .filter(
                GroupBy::Tag("team".into()),
                ["payments", UNTAGGED, "nobody"],
            ),
        CostQuery::new(month, GroupBy::Tag("cost-center".into()))
            .filter(GroupBy::Account, [top_account.clone()]),
        // Read from the rows: a tag with a service filter.
        CostQuery::new(month, GroupBy::Tag("team".into()))
            .filter(GroupBy::Service, [top.key.clone()]),
    ];
    let everything = Scope::everything();
    for (i, query) in queries.iter().enumerate() {
        let from_rollup = lake.query_costs(&everything, query).await.unwrap();
        let from_rows = lake
            .query_costs_from_focus(&everything, query)
            .await
            .unwrap();
        assert_eq!(from_rollup, from_rows, "{query:?}");
        assert_eq!(from_rows.is_empty(), i == 6, "{query:?}");
        if matches!(query.by, GroupBy::Tag(_))
            && query
                .filters
                .iter()
                .all(|f| f.dimension != GroupBy::Tag("team".into()))
        {
            assert!(from_rows.iter().any(|r| r.key == UNTAGGED), "{query:?}");
        }
    }
    let total = |rows: &[billow_lake::costs::CostRow]| {
        rows.iter()
            .map(|r| (r.billed.unwrap(), r.effective.unwrap(), r.rows))
            .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
    };
    let expected = (top.billed.unwrap(), top.effective.unwrap(), top.rows);
    let by_account = lake.query_costs(&everything, &queries[3]).await.unwrap();
    assert_eq!(total(&by_account), expected);
    let daily = lake.query_costs(&everything, &queries[0]).await.unwrap();
    let top_days: Vec<_> = daily.into_iter().filter(|r| r.key == top.key).collect();
    assert!(top_days.len() > 20, "{}", top_days.len());
    assert!(top_days.windows(2).all(|w| w[0].time < w[1].time));
    assert_eq!(total(&top_days), expected);
    let connection = lake.query_costs(&everything, &queries[2]).await.unwrap();
    assert_eq!(connection.len(), 1);
    assert_eq!(total(&connection), total(&services));
    assert!(
        lake.query_costs(&everything, &queries[6])
            .await
            .unwrap()
            .is_empty()
    );
}

/// `costs` reads a partition's daily rollup only while the partition's rows are the rollup's
/// ingestion: after a restatement it reads the new one, and a rollup that is missing (a crash
/// after the commit) or left from a replaced version makes it read the rows instead. Every
/// grouping gives exactly what the rows give.
#[tokio::test]
async fn cost_totals_come_from_current_rollups_and_equal_the_rows() {
    use billow_lake::costs::GroupBy;
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path()).await;
    let options = IngestOptions::new("aws");
    let spec = CurSpec::new(7, 2026, 5).with_rows(3000).with_files(2);
    let src = dir.path().join("src");
    let d = write_delivery(&src, &spec).unwrap();
    ingest_aws_cur(&lake, &d.report_dir, &options, &NoProgress)
        .await
        .unwrap();
    let rollups = dir.path().join("data/lake/rollups/aws/2026-05");
    // The rollups by dimensions; each has its tag rollup beside it.
    let files = || -> Vec<PathBuf> {
        std::fs::read_dir(&rollups)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| !p.to_string_lossy().ends_with(".tags.parquet"))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(files().len(), 1, "{rollups:?}");
    assert!(files()[0].with_extension("tags.parquet").is_file());
    costs_agree_with_rows(&lake).await;

    // A restatement: the new version's rollup replaces the old one.
    let v1_rollup = files()[0].clone();
    let v1_bytes = std::fs::read(&v1_rollup).unwrap();
    let d2 = write_delivery(&src, &spec.clone().with_revision(1)).unwrap();
    ingest_aws_cur(&lake, &d2.report_dir, &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(files().len(), 1);
    assert_ne!(files()[0], v1_rollup);
    costs_agree_with_rows(&lake).await;
    assert_reconciles_exactly_to(&lake, "aws", &d2.expected).await;

    // What `costs` reads is the rollup: v1's sums under v2's name show v1's total.
    let v2_rollup = files()[0].clone();
    let v2_bytes = std::fs::read(&v2_rollup).unwrap();
    std::fs::write(&v2_rollup, &v1_bytes).unwrap();
    let billed = |rows: Vec<billow_lake::costs::CostRow>| {
        format_decimal(rows.iter().map(|r| r.billed.unwrap()).sum::<i128>())
    };
    let shown = lake
        .costs(Some("2026-05"), None, &GroupBy::Service)
        .await
        .unwrap();
    assert_eq!(billed(shown), d.expected.total_billed());
    std::fs::write(&v2_rollup, v2_bytes).unwrap();

    // The old version's rollup back in place of the new one: it is not the partition's
    // current ingestion, so the rows are read, and the totals are still v2's.
    std::fs::remove_file(&files()[0]).unwrap();
    std::fs::write(&v1_rollup, v1_bytes).unwrap();
    costs_agree_with_rows(&lake).await;
    let by_category = lake
        .costs(Some("2026-05"), None, &GroupBy::ChargeCategory)
        .await
        .unwrap();
    assert_eq!(billed(by_category), d2.expected.total_billed());
}
