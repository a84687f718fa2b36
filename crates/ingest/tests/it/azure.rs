//! Azure cost details: actual and amortized paired into one set of FOCUS rows, header
//! variants of every agreement and age, export manifests (latest run wins), bad input.

use std::path::{Path, PathBuf};

use billow_focus::money::ExactSum;
use billow_formats::azure::Dataset;
use billow_ingest::{IngestOptions, NoProgress, ReconcileStatus, ingest_azure, reconcile};

use billow_lake::Lake;

use super::{lake, normalize_decimal, sample, text_rows};

/// Σ of one cost over every source group of the reports.
fn source_sum(reports: &[billow_ingest::PeriodReport], billed: bool) -> String {
    let mut sum = ExactSum::default();
    for r in reports {
        for g in r.totals.groups.values() {
            sum.merge(if billed { &g.billed } else { &g.effective })
                .unwrap();
        }
    }
    sum.to_decimal_string()
}

fn assert_all_reconcile(rows: &[billow_ingest::ReconcileRow]) {
    assert!(!rows.is_empty());
    for r in rows {
        assert_ne!(r.status, ReconcileStatus::Mismatch, "{r:?}");
    }
}

#[tokio::test]
async fn real_ea_actual_and_amortized_pair_into_one_set_of_rows() {
    let (Some(actual), Some(amortized)) = (
        sample("finops_toolkit/powershell_test_assets/EA_ActualCost_Small.csv"),
        sample("finops_toolkit/powershell_test_assets/EA_AmortizedCost_Small.csv"),
    ) else {
        eprintln!("shared samples not present; skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path()).await;
    let options = IngestOptions::new("azure-ea");
    let reports = ingest_azure(
        &lake,
        &actual,
        None,
        Some(&amortized),
        &options,
        &NoProgress,
    )
    .await
    .unwrap();
    // TOTALS.md: the actual file's exact Cost sum and the amortized file's (24 places).
    assert_eq!(source_sum(&reports, true), "8.5450077867419368");
    assert_eq!(source_sum(&reports, false), "16.296932136636644627485419");
    // 10 rows are in both files, 1 only in actual (the reservation purchase), 18 only in
    // amortized: 29 FOCUS rows, never 39.
    assert_eq!(reports.iter().map(|r| r.rows).sum::<u64>(), 29);
    assert_all_reconcile(&reconcile(&lake, None).await.unwrap());
    let summary = text_rows(
        &lake,
        "SELECT ChargeCategory, COALESCE(CommitmentDiscountStatus, '-'), COUNT(*), \
         SUM(BilledCost), SUM(EffectiveCost) FROM focus GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .await;
    assert_eq!(
        summary,
        [
            "Purchase - 1 3.250000000000 0.000000000000",
            "Usage - 26 5.295007786742 15.797780136169",
            "Usage Used 2 0.000000000000 0.499152000468",
        ]
    );
    // The reservation purchase is invoiced in full and amortized elsewhere.
    let purchase = text_rows(
        &lake,
        "SELECT CommitmentDiscountType, CommitmentDiscountCategory, ChargeFrequency, \
         SubAccountId FROM focus WHERE ChargeCategory = 'Purchase'",
    )
    .await;
    assert_eq!(
        purchase,
        ["Reservation Usage Recurring /subscriptions/1caaa5a3-2b66-438e-8ab4-bce37d518c5d"]
    );
}

/// One EA export pair written from the documented columns, with every case the pairing must
/// get right: on-demand usage (in both), reservation-covered usage (0 in actual), the
/// reservation purchase (actual only), unused reservation (amortized only), savings plan
/// usage, two identical rows with different costs, brace-less and braced tags, a BOM,
/// `MM/DD/YYYY` dates, the empty GUID, and 20-place amortized costs.
const EA_HEADER: &str = "\u{feff}BillingAccountId,BillingAccountName,BillingPeriodStartDate,BillingPeriodEndDate,BillingProfileId,SubscriptionId,SubscriptionName,Date,MeterId,MeterCategory,MeterName,Quantity,EffectivePrice,CostInBillingCurrency,UnitPrice,BillingCurrencyCode,ResourceLocation,ConsumedService,ResourceId,Tags,ChargeType,PricingModel,Frequency,PayGPrice,benefitId,benefitName,UnitOfMeasure,ProductName";

const SUB: &str = "6f6f0c5e-1111-4a4a-8b8b-123456789abc";
const RI: &str = "/providers/Microsoft.Capacity/reservationOrders/aaaa/reservations/bbbb";
const SP: &str = "/providers/Microsoft.BillingBenefits/savingsPlanOrders/cccc/savingsPlans/dddd";

fn ea_row(
    date: &str,
    meter: &str,
    qty: &str,
    cost: &str,
    (charge, model, freq): (&str, &str, &str),
    benefit: &str,
    tags: &str,
) -> String {
    let vm = format!(
        "/subscriptions/{SUB}/resourceGroups/web/providers/Microsoft.Compute/virtualMachines/vm-1"
    );
    let sub = if charge.starts_with("Unused") {
        "00000000-0000-0000-0000-000000000000"
    } else {
        SUB
    };
    let name = if benefit.is_empty() {
        ""
    } else {
        "commitment-1"
    };
    format!(
        "8611537,Contoso,10/01/2024,10/31/2024,8611537,{sub},Web prod,{date},{meter},Virtual Machines,D2s v5,{qty},0.1,{cost},0.096,USD,westeurope,Microsoft.Compute,{vm},{tags},{charge},{model},{freq},0.12,{benefit},{name},1 Hour,Virtual Machines Dsv5 Series"
    )
}

fn ea_files(dir: &Path) -> (PathBuf, PathBuf) {
    let tags = r#""""team"": ""web"",""env"": ""prod""""#;
    let braced = r#""{""team"": ""data""}""#;
    let actual = [
        ea_row(
            "10/03/2024",
            "m-od",
            "24",
            "2.304",
            ("Usage", "OnDemand", "UsageBased"),
            "",
            tags,
        ),
        ea_row(
            "10/03/2024",
            "m-ri",
            "24",
            "0",
            ("Usage", "Reservation", "UsageBased"),
            RI,
            tags,
        ),
        ea_row(
            "10/01/2024",
            "m-ri",
            "1",
            "876",
            ("Purchase", "Reservation", "OneTime"),
            RI,
            "",
        ),
        ea_row(
            "10/04/2024",
            "m-sp",
            "10",
            "0",
            ("Usage", "SavingsPlan", "UsageBased"),
            SP,
            braced,
        ),
        ea_row(
            "10/05/2024",
            "m-dup",
            "1",
            "0.5",
            ("Usage", "OnDemand", "UsageBased"),
            "",
            "",
        ),
        ea_row(
            "10/05/2024",
            "m-dup",
            "1",
            "0.7",
            ("Usage", "OnDemand", "UsageBased"),
            "",
            "",
        ),
    ];
    let amortized = [
        ea_row(
            "10/03/2024",
            "m-od",
            "24",
            "2.304",
            ("Usage", "OnDemand", "UsageBased"),
            "",
            tags,
        ),
        ea_row(
            "10/03/2024",
            "m-ri",
            "24",
            "1.20000000000000000001",
            ("Usage", "Reservation", "UsageBased"),
            RI,
            tags,
        ),
        ea_row(
            "10/31/2024",
            "m-ri",
            "0",
            "0.99999999999999999999",
            ("UnusedReservation", "Reservation", "UsageBased"),
            RI,
            "",
        ),
        ea_row(
            "10/04/2024",
            "m-sp",
            "10",
            "0.8",
            ("Usage", "SavingsPlan", "UsageBased"),
            SP,
            braced,
        ),
        ea_row(
            "10/05/2024",
            "m-dup",
            "1",
            "0.5",
            ("Usage", "OnDemand", "UsageBased"),
            "",
            "",
        ),
        ea_row(
            "10/05/2024",
            "m-dup",
            "1",
            "0.7",
            ("Usage", "OnDemand", "UsageBased"),
            "",
            "",
        ),
    ];
    let write = |name: &str, rows: &[String]| {
        let path = dir.join(name);
        let mut text = format!("{EA_HEADER}\r\n");
        for r in rows {
            text.push_str(r);
            text.push_str("\r\n");
        }
        std::fs::write(&path, text).unwrap();
        path
    };
    (
        write("actual.csv", &actual),
        write("amortized.csv", &amortized),
    )
}

#[tokio::test]
async fn pairing_covers_purchases_unused_commitments_and_duplicates_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (actual, amortized) = ea_files(dir.path());
    let lake = lake(dir.path()).await;
    let reports = ingest_azure(
        &lake,
        &actual,
        Some(Dataset::Actual),
        Some(&amortized),
        &IngestOptions::new("ea"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].key.billing_period, "2024-10");
    assert_eq!(source_sum(&reports, true), "879.504");
    assert_eq!(source_sum(&reports, false), "6.504");
    let recon = reconcile(&lake, None).await.unwrap();
    assert_all_reconcile(&recon);
    // 6 amortized rows plus the purchase, the only actual row without a partner.
    assert_eq!(reports[0].rows, 7);
    let rows = text_rows(
        &lake,
        "SELECT ChargeCategory, COALESCE(CommitmentDiscountStatus, '-'), \
         COALESCE(CommitmentDiscountType, '-'), COALESCE(PricingCategory, '-'), BilledCost, \
         EffectiveCost, COALESCE(SubAccountId, '-') FROM focus \
         ORDER BY ChargePeriodStart, SkuPriceId, BilledCost, EffectiveCost",
    )
    .await;
    let sub = format!("/subscriptions/{SUB}");
    assert_eq!(
        rows,
        [
            "Purchase - Reservation Standard 876.000000000000 0.000000000000 ".to_string() + &sub,
            "Usage - - Standard 2.304000000000 2.304000000000 ".to_string() + &sub,
            "Usage Used Reservation Committed 0.000000000000 1.200000000000 ".to_string() + &sub,
            "Usage Used Savings Plan Committed 0.000000000000 0.800000000000 ".to_string() + &sub,
            "Usage - - Standard 0.500000000000 0.500000000000 ".to_string() + &sub,
            "Usage - - Standard 0.700000000000 0.700000000000 ".to_string() + &sub,
            // The empty GUID reads as no subscription.
            "Usage Unused Reservation Committed 0.000000000000 1.000000000000 -".to_string(),
        ]
    );
    // Brace-less and braced tags both become JSON objects; the period end is exclusive.
    let tags = text_rows(
        &lake,
        "SELECT DISTINCT Tags, CAST(BillingPeriodEnd AS VARCHAR) FROM focus \
         WHERE Tags IS NOT NULL ORDER BY 1",
    )
    .await;
    assert_eq!(
        tags,
        [
            r#"{"env":"prod","team":"web"} 2024-11-01T00:00:00Z"#,
            r#"{"team":"data"} 2024-11-01T00:00:00Z"#,
        ]
    );
    // List cost from PayGPrice × Quantity; Date is a UTC day.
    let od = text_rows(
        &lake,
        "SELECT ListCost, CAST(ChargePeriodStart AS VARCHAR), CAST(ChargePeriodEnd AS VARCHAR) \
         FROM focus WHERE SkuPriceId = 'm-od'",
    )
    .await;
    assert_eq!(
        od,
        ["2.880000000000 2024-10-03T00:00:00Z 2024-10-04T00:00:00Z"]
    );
}

#[tokio::test]
async fn one_dataset_alone_is_both_billed_and_effective() {
    let dir = tempfile::tempdir().unwrap();
    let (_, amortized) = ea_files(dir.path());
    let lake = lake(dir.path()).await;
    let reports = ingest_azure(
        &lake,
        &amortized,
        Some(Dataset::Amortized),
        None,
        &IngestOptions::new("ea"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(reports[0].rows, 6);
    assert_eq!(source_sum(&reports, true), "6.504");
    assert_eq!(source_sum(&reports, false), "6.504");
    assert_all_reconcile(&reconcile(&lake, None).await.unwrap());
}

/// Writes an exports-v2 run folder: data file plus `manifest.json` (2024-04-01 shape).
fn export_run(root: &Path, export: &str, kind: &str, run: &str, submitted: &str, source: &Path) {
    let dir = root.join(export).join("20241001-20241031").join(run);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("part_0_0001.csv");
    std::fs::copy(source, &data).unwrap();
    let manifest = serde_json::json!({
        "manifestVersion": "2024-04-01",
        "byteCount": std::fs::metadata(&data).unwrap().len(),
        "blobCount": 1,
        "dataRowCount": 6,
        "exportConfig": {
            "exportName": export,
            "resourceId": "/providers/Microsoft.Billing/billingAccounts/8611537/providers/Microsoft.CostManagement/exports/".to_string() + export,
            "dataVersion": "2024-08-01",
            "apiVersion": "2023-07-01-preview",
            "type": kind,
            "timeFrame": "MonthToDate",
            "granularity": "Daily"
        },
        "deliveryConfig": {
            "partitionData": true,
            "dataOverwriteBehavior": "CreateNewReport",
            "fileFormat": "Csv",
            "compressionMode": "None",
            "containerUri": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
            "rootFolderPath": "cost"
        },
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": submitted,
            "runId": run,
            "startDate": "2024-10-01T00:00:00",
            "endDate": "2024-10-31T00:00:00"
        },
        "blobs": [{
            "blobName": format!("cost/{export}/20241001-20241031/{run}/part_0_0001.csv"),
            "byteCount": std::fs::metadata(&data).unwrap().len(),
            "dataRowCount": 6
        }]
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

#[tokio::test]
async fn export_folders_pair_by_manifest_and_the_latest_run_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (actual, amortized) = ea_files(dir.path());
    // An earlier run of the actual export held other numbers: it must not count.
    let stale = dir.path().join("stale.csv");
    let text = std::fs::read_to_string(&actual)
        .unwrap()
        .replace(",876,", ",900,");
    std::fs::write(&stale, text).unwrap();
    let root = dir.path().join("container/cost");
    export_run(
        &root,
        "ea-actual",
        "ActualCost",
        "run-1",
        "2024-10-05T02:00:00Z",
        &stale,
    );
    export_run(
        &root,
        "ea-actual",
        "ActualCost",
        "run-2",
        "2024-10-06T02:00:00Z",
        &actual,
    );
    export_run(
        &root,
        "ea-amortized",
        "AmortizedCost",
        "run-9",
        "2024-10-06T03:00:00Z",
        &amortized,
    );
    let lake = lake(dir.path()).await;
    let options = IngestOptions::new("ea");
    let reports = ingest_azure(&lake, &root, None, None, &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(source_sum(&reports, true), "879.504");
    assert_eq!(source_sum(&reports, false), "6.504");
    assert_eq!(reports[0].rows, 7);
    assert_all_reconcile(&reconcile(&lake, None).await.unwrap());
    // The same delivery again changes nothing.
    let again = ingest_azure(&lake, &root, None, None, &options, &NoProgress)
        .await
        .unwrap();
    assert!(matches!(
        again[0].outcome,
        billow_ingest::Outcome::Unchanged
    ));

    // A manifest that names a file which is not there is an error, and what was published
    // stays as it was.
    let broken = root.join("ea-amortized/20241001-20241031/run-9/part_0_0001.csv");
    std::fs::remove_file(&broken).unwrap();
    let err = ingest_azure(&lake, &root, None, None, &options, &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("manifest.json") && err.contains("part_0_0001.csv"),
        "{err}"
    );
    assert!(err.contains("download the run folder again"), "{err}");
    assert_all_reconcile(&reconcile(&lake, None).await.unwrap());
}

/// Every public header variant reconciles to its published exact total (TOTALS.md).
#[tokio::test]
async fn header_variants_of_every_agreement_reconcile_to_their_published_totals() {
    let cases = [
        (
            "focus_converters/azure/sample-anonymous-ea-export-dataset.csv",
            "1.26136926505726",
            27,
            "azure-ea",
        ),
        (
            "koku/azure/azure_version_2.csv",
            "19.998413754",
            5,
            "azure-ea",
        ),
        (
            "koku/azure/camel_azure_version_2.csv",
            "0.0000262412",
            4,
            "azure-mca",
        ),
        (
            "koku/azure/costreport_a243c6f2-199f-4074-9a2c-40e671cf1584.csv",
            "0.00011016",
            3,
            "azure-payg",
        ),
        (
            "koku/azure/azure_camelCased.csv",
            "0.00011016",
            3,
            "azure-payg",
        ),
        (
            "opencost/azure_billingexports/headersets/EnterpriseCamel.csv",
            "0.012",
            1,
            "azure-mca",
        ),
        (
            "opencost/azure_billingexports/headersets/German.csv",
            "0.075",
            1,
            "azure-payg",
        ),
        (
            "opencost/azure_billingexports/headersets/PayAsYouGo.csv",
            "0.075",
            1,
            "azure-payg",
        ),
        (
            "opencost/azure_billingexports/headersets/YA.csv",
            "0.075",
            1,
            "azure-mca",
        ),
        (
            "opencost/azure_billingexports/values/MissingBrackets.csv",
            "4",
            1,
            "azure-ea",
        ),
        (
            "opencost/azure_billingexports/values/Template.csv",
            "16.393506212224391",
            87,
            "azure-ea",
        ),
    ];
    for (path, total, rows, format) in cases {
        let Some(file) = sample(path) else {
            eprintln!("shared samples not present; skipped");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let lake = lake(dir.path()).await;
        let reports = ingest_azure(
            &lake,
            &file,
            None,
            None,
            &IngestOptions::new("az"),
            &NoProgress,
        )
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(source_sum(&reports, true), total, "{path}");
        assert_eq!(reports.iter().map(|r| r.rows).sum::<u64>(), rows, "{path}");
        assert_all_reconcile(&reconcile(&lake, None).await.unwrap());
        let formats = text_rows(&lake, "SELECT DISTINCT x_SourceFormat FROM focus").await;
        assert_eq!(formats, [format], "{path}");
    }
}

#[tokio::test]
async fn bad_azure_rows_name_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let (actual, _) = ea_files(dir.path());
    let text = std::fs::read_to_string(&actual).unwrap();
    let cases = [
        ("10/03/2024", "2024-13-45", "Date"),
        (",2.304,", ",2.3x4,", "CostInBillingCurrency"),
        (
            r#""""team"": ""web"",""env"": ""prod""""#,
            r#""team: web""#,
            "Tags",
        ),
    ];
    for (from, to, column) in cases {
        let bad = dir.path().join(format!("bad-{column}.csv"));
        std::fs::write(&bad, text.replacen(from, to, 1)).unwrap();
        let lake = lake(&dir.path().join(column)).await;
        let err = ingest_azure(
            &lake,
            &bad,
            Some(Dataset::Actual),
            None,
            &IngestOptions::new("ea"),
            &NoProgress,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains(&format!("bad-{column}.csv")), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains(&format!("column {column}")), "{err}");
    }
    // The BOM sample's only row has no subscription: an error naming it, not an empty account.
    if let Some(bom) = sample("opencost/azure_billingexports/headersets/BOM.csv") {
        let lake = lake(&dir.path().join("bom")).await;
        let err = ingest_azure(
            &lake,
            &bom,
            None,
            None,
            &IngestOptions::new("az"),
            &NoProgress,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 2, column SubscriptionId"), "{err}");
    }
}

/// Azure's Parquet exports carry money as doubles: the same real pair written as Parquet (types
/// inferred as Arrow does: Float64 costs, Int64 account numbers) lands as the same rows, and
/// its totals differ from the CSV's only where a double cannot hold the CSV's 20+ places.
#[tokio::test]
async fn parquet_exports_read_like_the_csv_exports() {
    let (Some(actual), Some(amortized)) = (
        sample("finops_toolkit/powershell_test_assets/EA_ActualCost_Small.csv"),
        sample("finops_toolkit/powershell_test_assets/EA_AmortizedCost_Small.csv"),
    ) else {
        eprintln!("shared samples not present; skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let to_parquet = |csv: &Path, name: &str| -> PathBuf {
        // The BOM would become part of the first column's name; Azure's Parquet has none.
        let text = std::fs::read_to_string(csv).unwrap();
        let text = text.trim_start_matches('\u{feff}');
        let format = arrow::csv::reader::Format::default().with_header(true);
        let (schema, _) = format
            .infer_schema(std::io::Cursor::new(text.as_bytes()), None)
            .unwrap();
        let schema = std::sync::Arc::new(schema);
        let reader = arrow::csv::ReaderBuilder::new(std::sync::Arc::clone(&schema))
            .with_format(format)
            .build(std::io::Cursor::new(text.as_bytes()))
            .unwrap();
        let out = dir.path().join(name);
        let mut writer = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&out).unwrap(),
            schema,
            None,
        )
        .unwrap();
        for batch in reader {
            writer.write(&batch.unwrap()).unwrap();
        }
        writer.close().unwrap();
        out
    };
    let actual_parquet = to_parquet(&actual, "actual.parquet");
    let amortized_parquet = to_parquet(&amortized, "amortized.parquet");
    let metadata = parquet::file::reader::SerializedFileReader::new(
        std::fs::File::open(&actual_parquet).unwrap(),
    )
    .unwrap();
    use parquet::file::reader::FileReader;
    let cost_type = metadata
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .find(|c| c.name() == "Cost")
        .map(|c| c.physical_type());
    assert_eq!(cost_type, Some(parquet::basic::Type::DOUBLE));

    let options = IngestOptions::new("azure-ea");
    let from_csv = lake(&dir.path().join("csv")).await;
    ingest_azure(
        &from_csv,
        &actual,
        None,
        Some(&amortized),
        &options,
        &NoProgress,
    )
    .await
    .unwrap();
    let from_parquet = lake(&dir.path().join("parquet")).await;
    let reports = ingest_azure(
        &from_parquet,
        &actual_parquet,
        None,
        Some(&amortized_parquet),
        &options,
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(reports.iter().map(|r| r.rows).sum::<u64>(), 29);
    assert_all_reconcile(&reconcile(&from_parquet, None).await.unwrap());
    let query = "SELECT ChargeCategory, COALESCE(CommitmentDiscountStatus, '-'), COUNT(*), \
                 SUM(BilledCost), SUM(EffectiveCost), COUNT(DISTINCT Tags) FROM focus \
                 GROUP BY 1, 2 ORDER BY 1, 2";
    assert_eq!(
        text_rows(&from_parquet, query).await,
        text_rows(&from_csv, query).await
    );
}

#[tokio::test]
async fn a_generated_enrollment_month_reconciles_to_its_exact_source_and_rounded_totals() {
    let spec = billow_synth::azure::AzureSpec::new(5, 2026, 9)
        .with_rows(4_000)
        .with_files(2)
        .with_subscriptions(5);
    let (_dir, lake) = generated_month_reconciles(&spec).await;
    let accounts = text_rows(
        &lake,
        "SELECT DISTINCT BillingAccountId, x_SourceFormat FROM focus",
    )
    .await;
    assert_eq!(accounts, [format!("{} azure-ea", spec.enrollment)]);
}

#[tokio::test]
async fn a_generated_mca_month_bills_its_billing_profile_reconciles_and_shows_its_spike() {
    let spec = billow_synth::azure::AzureSpec::new(6, 2026, 9)
        .with_rows(4_000)
        .with_subscriptions(5)
        .with_mca()
        .with_spike("Log Analytics", 10, 2, 25);
    let (_dir, lake) = generated_month_reconciles(&spec).await;
    let accounts = text_rows(
        &lake,
        "SELECT DISTINCT BillingAccountId, BillingAccountName, x_SourceFormat FROM focus",
    )
    .await;
    assert_eq!(
        accounts,
        [format!("{} Contoso US azure-mca", spec.billing_account())]
    );
    assert!(spec.billing_account().ends_with("-PGB"));
    // The planted spike: Log Analytics on the 10th and 11th costs far more than on any
    // other day, and nothing else moves.
    let daily = text_rows(
        &lake,
        "SELECT CAST(CAST(ChargePeriodStart AS DATE) AS VARCHAR), CAST(SUM(EffectiveCost) AS BIGINT) \
         FROM focus WHERE ServiceName = 'Log Analytics' GROUP BY 1 ORDER BY 1",
    )
    .await;
    let cost = |line: &String| line.rsplit(' ').next().unwrap().parse::<i64>().unwrap();
    let (spike, calm): (Vec<_>, Vec<_>) = daily
        .iter()
        .partition(|l| l.starts_with("2026-09-10") || l.starts_with("2026-09-11"));
    assert_eq!(spike.len(), 2, "{daily:?}");
    let calm_max = calm.iter().map(|l| cost(l)).max().unwrap();
    assert!(spike.iter().all(|l| cost(l) > 10 * calm_max), "{daily:?}");
}

/// Ingests a generated month and checks it against the generator's exact sums.
async fn generated_month_reconciles(
    spec: &billow_synth::azure::AzureSpec,
) -> (tempfile::TempDir, Lake) {
    use billow_synth::azure::write_exports;
    let dir = tempfile::tempdir().unwrap();
    let delivery = write_exports(&dir.path().join("exports"), spec).unwrap();
    let e = &delivery.expected;
    assert_eq!(
        (delivery.actual.len(), delivery.amortized.len()),
        (spec.files, spec.files)
    );
    let lake = lake(dir.path()).await;
    let reports = ingest_azure(
        &lake,
        &delivery.root,
        None,
        None,
        &IngestOptions::new("azure-gen"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(reports.iter().map(|r| r.rows).sum::<u64>(), e.focus_rows);
    let rows = reconcile(&lake, None).await.unwrap();
    assert_eq!(rows.len(), e.source.len());
    for r in &rows {
        let key = (r.billing_account_id.clone(), r.charge_category.clone());
        let (source, rounded) = (&e.source[&key], &e.lake[&key]);
        // Costs have up to 14 places: the source sums stay exact, the lake holds the
        // half-even rounding of each cost, and reconcile says the gap is rounding.
        assert_eq!(
            (
                normalize_decimal(&r.source_billed),
                normalize_decimal(&r.source_effective)
            ),
            (
                billow_synth::format_scaled(source.0, 14),
                billow_synth::format_scaled(source.1, 14)
            ),
            "{key:?}"
        );
        assert_eq!(
            (
                normalize_decimal(&r.lake_billed),
                normalize_decimal(&r.lake_effective)
            ),
            (
                billow_synth::format_scaled(rounded.0, 12),
                billow_synth::format_scaled(rounded.1, 12)
            ),
            "{key:?}"
        );
        assert_ne!(r.status, ReconcileStatus::Mismatch, "{r:?}");
    }
    // Covered usage is 0 in the actual export and priced in the amortized one; purchases are
    // billed and never effective; unused commitment is effective and never billed.
    let by_kind = text_rows(
        &lake,
        "SELECT ChargeCategory, COALESCE(CommitmentDiscountStatus, '-'), COUNT(*) > 0, \
         SUM(BilledCost) > 0, SUM(EffectiveCost) > 0 FROM focus GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .await;
    assert_eq!(
        by_kind,
        [
            "Purchase - true true true",
            "Usage - true true true",
            "Usage Unused true false true",
            "Usage Used true false true"
        ]
    );
    (dir, lake)
}

#[tokio::test]
async fn a_focus_cost_export_reads_through_the_focus_reader_and_never_adds_to_cost_details() {
    let dir = tempfile::tempdir().unwrap();
    // A FocusCost run (Cost Management's FOCUS 1.0 export) with Azure's x_ columns.
    let focus = dir.path().join("focus.csv");
    std::fs::write(
        &focus,
        "BilledCost,BillingAccountId,BillingCurrency,BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargePeriodEnd,ChargePeriodStart,EffectiveCost,ProviderName,x_ResourceGroupName,x_BilledCostInUsd\n\
         2.304,8611537,USD,2024-11-01T00:00:00Z,2024-10-01T00:00:00Z,Usage,2024-10-04T00:00:00Z,2024-10-03T00:00:00Z,2.304,Microsoft,web,2.304\n\
         876,8611537,USD,2024-11-01T00:00:00Z,2024-10-01T00:00:00Z,Purchase,2024-10-02T00:00:00Z,2024-10-01T00:00:00Z,0,Microsoft,,876\n",
    )
    .unwrap();
    let root = dir.path().join("focus-only");
    export_run(
        &root,
        "ea-focus",
        "FocusCost",
        "run-1",
        "2024-10-06T02:00:00Z",
        &focus,
    );
    let lake = lake(dir.path()).await;
    let reports = ingest_azure(
        &lake,
        &root,
        None,
        None,
        &IngestOptions::new("f"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(reports[0].rows, 2);
    assert_eq!(source_sum(&reports, true), "878.304");
    let ext = text_rows(
        &lake,
        "SELECT x_Extensions FROM focus WHERE x_ConnectionId = 'f' ORDER BY x_SourceLine",
    )
    .await;
    assert_eq!(
        ext[0],
        r#"{"x_ResourceGroupName":"web","x_BilledCostInUsd":"2.304"}"#
    );

    // Beside the cost details exports of the same scope, the FocusCost run is skipped.
    let (actual, amortized) = ea_files(dir.path());
    let both = dir.path().join("both");
    export_run(
        &both,
        "ea-actual",
        "ActualCost",
        "run-2",
        "2024-10-06T02:00:00Z",
        &actual,
    );
    export_run(
        &both,
        "ea-amortized",
        "AmortizedCost",
        "run-3",
        "2024-10-06T03:00:00Z",
        &amortized,
    );
    export_run(
        &both,
        "ea-focus",
        "FocusCost",
        "run-4",
        "2024-10-06T04:00:00Z",
        &focus,
    );
    let reports = ingest_azure(
        &lake,
        &both,
        None,
        None,
        &IngestOptions::new("b"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(source_sum(&reports, true), "879.504");
    assert_eq!(reports[0].rows, 7);
}
