//! AWS Cost Explorer GetCostAndUsage responses: coarse rows per day and group, reconciled to
//! the response's own amounts.

use billow_ingest::{
    IngestOptions, NoProgress, ReconcileStatus, ingest_aws_cost_explorer, reconcile,
};

use super::{lake, text_rows};

fn group(account: &str, service: &str, unblended: &str, amortized: &str) -> serde_json::Value {
    serde_json::json!({
        "Keys": [account, service],
        "Metrics": {
            "UnblendedCost": {"Amount": unblended, "Unit": "USD"},
            "AmortizedCost": {"Amount": amortized, "Unit": "USD"},
            "NetUnblendedCost": {"Amount": unblended, "Unit": "USD"}
        }
    })
}

/// A response as `aws ce get-cost-and-usage --granularity DAILY --group-by
/// Type=DIMENSION,Key=LINKED_ACCOUNT Type=DIMENSION,Key=SERVICE` prints it: the last day of
/// January, the first of February (estimated), amounts with many places, a Savings Plan
/// covered day where amortized exceeds unblended.
fn response() -> serde_json::Value {
    serde_json::json!({
        "GroupDefinitions": [
            {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
            {"Type": "DIMENSION", "Key": "SERVICE"}
        ],
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": "2024-01-31", "End": "2024-02-01"},
                "Total": {},
                "Groups": [
                    group("111122223333", "Amazon Elastic Compute Cloud - Compute", "12.3456789012", "14.0000000001"),
                    group("111122223333", "Amazon Simple Storage Service", "0.0000002", "0.0000002"),
                    group("444455556666", "AWS Lambda", "0.25", "0.25")
                ],
                "Estimated": false
            },
            {
                "TimePeriod": {"Start": "2024-02-01", "End": "2024-02-02"},
                "Total": {},
                "Groups": [
                    group("111122223333", "Amazon Elastic Compute Cloud - Compute", "10", "11.5")
                ],
                "Estimated": true
            }
        ],
        "DimensionValueAttributes": [
            {"Value": "111122223333", "Attributes": {"description": "prod"}},
            {"Value": "444455556666", "Attributes": {"description": "dev"}}
        ]
    })
}

#[tokio::test]
async fn a_response_lands_per_month_and_reconciles_to_its_amounts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ce-2024-01.json");
    std::fs::write(&file, serde_json::to_string_pretty(&response()).unwrap()).unwrap();
    let lake = lake(dir.path()).await;
    let reports =
        ingest_aws_cost_explorer(&lake, &file, &IngestOptions::new("aws-ce"), &NoProgress)
            .await
            .unwrap();
    let periods: Vec<(&str, u64)> = reports
        .iter()
        .map(|r| (r.key.billing_period.as_str(), r.rows))
        .collect();
    assert_eq!(periods, [("2024-01", 3), ("2024-02", 1)]);
    let recon = reconcile(&lake, None).await.unwrap();
    assert_eq!(recon.len(), 2);
    for r in &recon {
        assert_eq!(r.status, ReconcileStatus::Exact, "{r:?}");
    }
    let january = recon
        .iter()
        .find(|r| r.billing_period == "2024-01")
        .unwrap();
    assert_eq!(january.source_billed, "12.5956791012");
    assert_eq!(january.source_effective, "14.2500002001");

    let rows = text_rows(
        &lake,
        "SELECT SubAccountId, ServiceCategory, ServiceSubcategory, x_SourceFormat, \
         COALESCE(x_LineItemType, '-') FROM focus ORDER BY ChargePeriodStart, BilledCost DESC",
    )
    .await;
    assert_eq!(
        rows,
        [
            "111122223333 Compute Virtual Machines aws-cost-explorer -",
            "444455556666 Compute Serverless Compute aws-cost-explorer -",
            "111122223333 Storage Object Storage aws-cost-explorer -",
            "111122223333 Compute Virtual Machines aws-cost-explorer Estimated",
        ]
    );
}

#[tokio::test]
async fn a_response_without_cost_metrics_is_refused_with_what_to_ask_for() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = response();
    body["ResultsByTime"][0]["Groups"][0]["Metrics"] =
        serde_json::json!({"UsageQuantity": {"Amount": "3", "Unit": "N/A"}});
    let file = dir.path().join("ce.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let lake = lake(dir.path()).await;
    let err = ingest_aws_cost_explorer(&lake, &file, &IngestOptions::new("aws-ce"), &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ce.json") && err.contains("UnblendedCost or AmortizedCost"),
        "{err}"
    );
}

#[tokio::test]
async fn a_generated_month_of_responses_reconciles_to_its_amounts() {
    let dir = tempfile::tempdir().unwrap();
    let ce =
        billow_synth::api_responses::write_cost_explorer(&dir.path().join("ce"), 4, 2026, 4, 3)
            .unwrap();
    let lake = lake(dir.path()).await;
    let reports = ingest_aws_cost_explorer(
        &lake,
        &ce.files[0],
        &IngestOptions::new("ce-gen"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].rows, ce.results);
    let rows = reconcile(&lake, None).await.unwrap();
    assert!(
        rows.iter().all(|r| r.status == ReconcileStatus::Exact),
        "{rows:?}"
    );
    let totals = text_rows(
        &lake,
        "SELECT SUM(BilledCost), SUM(EffectiveCost) FROM focus",
    )
    .await;
    let (billed, effective) = totals[0].split_once(' ').unwrap();
    assert_eq!(
        (
            super::normalize_decimal(billed),
            super::normalize_decimal(effective)
        ),
        (
            billow_synth::format_scaled(ce.billed.0, ce.billed.1),
            billow_synth::format_scaled(ce.effective.0, ce.effective.1)
        )
    );
}
