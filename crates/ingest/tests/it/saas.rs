//! SaaS vendors' billing data, one documented shape each, reconciled exactly.

use billow_formats::saas::Vendor;
use billow_ingest::{IngestOptions, NoProgress, ReconcileStatus, ingest_saas, reconcile};

use super::{lake, text_rows};

/// OpenAI Costs API page (the documented example, plus a project line with an exponent).
const OPENAI: &str = r#"{"object":"page","data":[{"object":"bucket","start_time":1730419200,"end_time":1730505600,"results":[{"object":"organization.costs.result","amount":{"value":0.06,"currency":"usd"},"line_item":null,"project_id":null},{"object":"organization.costs.result","amount":{"value":1.5e-05,"currency":"usd"},"line_item":"gpt-4o, input","project_id":"proj_abc"}]}],"has_more":false,"next_page":null}"#;

/// Datadog historical cost (JSON:API `cost_by_org`); the `total` charge repeats the others.
const DATADOG: &str = r#"{"data":[{"type":"cost_by_org","id":"1","attributes":{"org_name":"Acme","public_id":"abcd1234","region":"us","date":"2024-01-01T00:00:00+00:00","total_cost":1375.25,"charges":[{"product_name":"infra_host","charge_type":"committed","cost":1200.0,"last_aggregation_function":"sum"},{"product_name":"infra_host","charge_type":"on_demand","cost":175.25,"last_aggregation_function":"sum"},{"product_name":"infra_host","charge_type":"total","cost":1375.25,"last_aggregation_function":"sum"}]}}]}"#;

/// Snowflake USAGE_IN_CURRENCY_DAILY exported with its header, an adjustment row included.
const SNOWFLAKE: &str = "ORGANIZATION_NAME,CONTRACT_NUMBER,ACCOUNT_NAME,ACCOUNT_LOCATOR,REGION,SERVICE_LEVEL,USAGE_DATE,USAGE_TYPE,CURRENCY,USAGE,USAGE_IN_CURRENCY,BALANCE_SOURCE,BILLING_TYPE,RATING_TYPE,SERVICE_TYPE,IS_ADJUSTMENT\n\
ACME,1234,ANALYTICS,XY12345,AWS_US_EAST_1,Enterprise,2024-01-31,compute,USD,12.5,37.5,capacity,consumption,compute,WAREHOUSE_METERING,false\n\
ACME,1234,ANALYTICS,XY12345,AWS_US_EAST_1,Enterprise,2024-01-31,storage,USD,0.0123,0.28167,capacity,consumption,storage,STORAGE,false\n\
ACME,1234,ANALYTICS,XY12345,AWS_US_EAST_1,Enterprise,2024-01-31,compute,USD,0,-2.5,capacity,consumption,compute,WAREHOUSE_METERING,true\n";

/// MongoDB Atlas invoice with integer cents.
const ATLAS: &str = r#"{"id":"65a1","orgId":"5e2211c17a3e5a48f5497de3","amountBilledCents":40226,"lineItems":[{"clusterName":"prod","created":"2024-02-01T00:10:00Z","endDate":"2024-02-01T00:00:00Z","groupId":"64c0","groupName":"Production","quantity":744,"sku":"ATLAS_AWS_INSTANCE_M30","startDate":"2024-01-01T00:00:00Z","totalPriceCents":40176,"unit":"server hours","unitPriceDollars":0.54},{"created":"2024-02-01T00:10:00Z","endDate":"2024-02-01T00:00:00Z","groupId":"64c0","groupName":"Production","quantity":1,"sku":"ATLAS_AWS_DATA_TRANSFER","startDate":"2024-01-01T00:00:00Z","totalPriceCents":50,"unit":"GB"}]}"#;

#[tokio::test]
async fn each_vendor_reconciles_to_its_own_amounts() {
    let cases = [
        (
            Vendor::OpenAi,
            "costs.json",
            OPENAI,
            "2024-11",
            "0.060015",
            2,
        ),
        (
            Vendor::Datadog,
            "historical_cost.json",
            DATADOG,
            "2024-01",
            "1375.25",
            2,
        ),
        (
            Vendor::Snowflake,
            "usage_in_currency_daily.csv",
            SNOWFLAKE,
            "2024-01",
            "35.28167",
            3,
        ),
        (
            Vendor::MongoDbAtlas,
            "invoice.json",
            ATLAS,
            "2024-01",
            "402.26",
            2,
        ),
    ];
    for (vendor, name, body, period, total, rows) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(name);
        std::fs::write(&file, body).unwrap();
        let lake = lake(dir.path()).await;
        let reports = ingest_saas(
            &lake,
            vendor,
            &file,
            &IngestOptions::new("saas"),
            &NoProgress,
        )
        .await
        .unwrap_or_else(|e| panic!("{vendor:?}: {e}"));
        assert_eq!(reports.len(), 1, "{vendor:?}");
        assert_eq!(reports[0].key.billing_period, period, "{vendor:?}");
        assert_eq!(reports[0].rows, rows, "{vendor:?}");
        let recon = reconcile(&lake, None).await.unwrap();
        let mut sum = billow_focus::money::ExactSum::default();
        for r in &recon {
            assert_eq!(r.status, ReconcileStatus::Exact, "{vendor:?} {r:?}");
            sum.merge(&billow_focus::money::ExactSum::from_decimal_str(&r.source_billed).unwrap())
                .unwrap();
        }
        assert_eq!(sum.to_decimal_string(), total, "{vendor:?}");
        let formats = text_rows(
            &lake,
            "SELECT DISTINCT x_SourceFormat, ProviderName FROM focus",
        )
        .await;
        assert_eq!(formats.len(), 1, "{vendor:?}");
        assert!(
            formats[0].starts_with(vendor.source_format()),
            "{formats:?}"
        );
    }
}

#[tokio::test]
async fn a_fractional_cent_amount_in_an_atlas_invoice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("invoice.json");
    std::fs::write(
        &file,
        ATLAS.replace("\"totalPriceCents\":50", "\"totalPriceCents\":50.5"),
    )
    .unwrap();
    let lake = lake(dir.path()).await;
    let err = ingest_saas(
        &lake,
        Vendor::MongoDbAtlas,
        &file,
        &IngestOptions::new("atlas"),
        &NoProgress,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("invoice.json: item 2, field lineItems[].totalPriceCents"),
        "{err}"
    );
    assert!(err.contains("a whole number of cents"), "{err}");
}

#[tokio::test]
async fn a_generated_month_of_openai_pages_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let pages =
        billow_synth::api_responses::write_openai_costs(&dir.path().join("openai"), 6, 2026, 5, 3)
            .unwrap();
    assert_eq!(pages.files.len(), 5);
    let lake = super::lake(dir.path()).await;
    let reports = ingest_saas(
        &lake,
        billow_formats::saas::Vendor::OpenAi,
        &dir.path().join("openai"),
        &IngestOptions::new("openai-gen"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(reports.iter().map(|r| r.rows).sum::<u64>(), pages.results);
    let rows = reconcile(&lake, None).await.unwrap();
    assert!(
        rows.iter().all(|r| r.status == ReconcileStatus::Exact),
        "{rows:?}"
    );
    let total = super::text_rows(&lake, "SELECT SUM(BilledCost) FROM focus").await;
    assert_eq!(
        super::normalize_decimal(&total[0]),
        billow_synth::format_scaled(pages.billed.0, pages.billed.1)
    );
}

#[tokio::test]
async fn generated_focus_files_of_two_vendors_reconcile_conform_and_keep_their_names() {
    use billow_synth::focus_saas::{SaasFocusSpec, SaasVendor, write_focus_file};
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path()).await;
    for (vendor, seed) in [(SaasVendor::Databricks, 3), (SaasVendor::Confluent, 4)] {
        let spec = SaasFocusSpec::new(vendor, seed, 2026, 10);
        let file = write_focus_file(&dir.path().join(vendor.name()), &spec).unwrap();
        let connection = vendor.name().to_lowercase();
        let reports = billow_ingest::ingest_focus(
            &lake,
            &file.path,
            &IngestOptions::new(&connection),
            &NoProgress,
        )
        .await
        .unwrap();
        assert_eq!(
            reports.iter().map(|r| r.rows).sum::<u64>(),
            file.expected.rows
        );
        let rows: Vec<_> = reconcile(&lake, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.connection_id == connection)
            .collect();
        assert_eq!(rows.len(), file.expected.by_account_category.len());
        for r in &rows {
            assert_eq!(r.status, ReconcileStatus::Exact, "{r:?}");
            let (billed, effective) = file.expected.by_account_category
                [&(r.billing_account_id.clone(), r.charge_category.clone())];
            assert_eq!(
                (
                    super::normalize_decimal(&r.lake_billed),
                    super::normalize_decimal(&r.lake_effective)
                ),
                (
                    billow_synth::format_scaled(billed, 12),
                    billow_synth::format_scaled(effective, 12)
                )
            );
        }
        let names = text_rows(
            &lake,
            &format!(
                "SELECT DISTINCT ProviderName, SubAccountType FROM focus \
                 WHERE x_ConnectionId = '{connection}' AND ChargeCategory = 'Usage'"
            ),
        )
        .await;
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0].starts_with(vendor.name()), "{names:?}");
        let batches = lake.read_focus("2026-10", Some(&connection)).await.unwrap();
        for batch in batches {
            let violations = billow_focus::conformance::check_batch(&batch);
            assert!(violations.is_empty(), "{violations:?}");
        }
    }
}
