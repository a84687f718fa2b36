//! `billow ingest <PATH>` without a format name: recognized from manifest, header or content.

use std::path::{Path, PathBuf};

use crate::{billow, text};

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

/// Ingests `path` with no format named; returns the format the binary said it recognized.
fn ingest_detected(data: &Path, path: &Path, connection: &str) -> String {
    let out = billow(
        data,
        &["ingest", path.to_str().unwrap(), "--connection", connection],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", path.display());
    let recognized = stderr
        .lines()
        .find_map(|l| l.split("recognized as `billow ingest ").nth(1))
        .unwrap_or_else(|| panic!("no recognition line in {stderr}"));
    recognized.trim_end_matches('`').to_string()
}

#[test]
fn every_format_is_recognized_from_its_own_content() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let spec = billow_synth::aws_cur::CurSpec::new(5, 2026, 3)
        .with_rows(200)
        .with_files(1);
    let delivery = billow_synth::aws_cur::write_delivery(&dir.path().join("cur"), &spec).unwrap();
    assert_eq!(
        ingest_detected(&data, &delivery.report_dir, "aws"),
        "aws-cur"
    );

    let azure = dir.path().join("costdetails.csv");
    std::fs::write(
        &azure,
        "\u{feff}BillingAccountId,BillingPeriodStartDate,BillingPeriodEndDate,SubscriptionId,Date,MeterCategory,CostInBillingCurrency,BillingCurrencyCode,ChargeType\r\n\
         8611537,03/01/2026,03/31/2026,6f6f0c5e-1111-4a4a-8b8b-123456789abc,03/02/2026,Storage,0.25,USD,Usage\r\n",
    )
    .unwrap();
    assert_eq!(ingest_detected(&data, &azure, "azure"), "azure");

    let gcp = dir.path().join("billing.jsonl");
    std::fs::write(
        &gcp,
        r#"{"billing_account_id":"01A2B3-C4D5E6-F7G8H9","service":{"id":"6F81-5844-456A","description":"Compute Engine"},"sku":{"id":"2E27","description":"Core"},"usage_start_time":"2026-03-02T10:00:00Z","usage_end_time":"2026-03-02T11:00:00Z","project":{"id":"web"},"cost":1.5,"currency":"USD","invoice":{"month":"202603"},"cost_type":"regular"}"#,
    )
    .unwrap();
    assert_eq!(ingest_detected(&data, &gcp, "gcp"), "gcp");

    let invoice = dir.path().join("DigitalOcean Invoice 2026 Mar (1-2).csv");
    std::fs::write(
        &invoice,
        "product,group_description,description,hours,start,end,USD,project_name,category\n\
         Droplets,web-1,s-1vcpu-1gb,744,2026-03-01 00:00:00 +0000,2026-03-31 23:59:59 +0000,$6.00,Web,iaas\n",
    )
    .unwrap();
    assert_eq!(ingest_detected(&data, &invoice, "do"), "digitalocean");

    let ce = dir.path().join("ce-page-1.json");
    std::fs::write(
        &ce,
        r#"{"GroupDefinitions":[{"Type":"DIMENSION","Key":"SERVICE"}],"ResultsByTime":[{"TimePeriod":{"Start":"2026-03-01","End":"2026-03-02"},"Total":{},"Groups":[{"Keys":["AWS Lambda"],"Metrics":{"UnblendedCost":{"Amount":"0.42","Unit":"USD"}}}],"Estimated":false}]}"#,
    )
    .unwrap();
    assert_eq!(ingest_detected(&data, &ce, "ce"), "aws-ce");

    let openai = dir.path().join("openai-costs.json");
    std::fs::write(
        &openai,
        r#"{"object":"page","data":[{"object":"bucket","start_time":1772323200,"end_time":1772409600,"results":[{"object":"organization.costs.result","amount":{"value":0.06,"currency":"usd"},"line_item":null,"project_id":null}]}],"has_more":false,"next_page":null}"#,
    )
    .unwrap();
    assert_eq!(
        ingest_detected(&data, &openai, "openai"),
        "saas --vendor openai"
    );

    if let Some(focus) = sample("focus_sample_data/FOCUS-1.0/focus_sample.csv") {
        assert_eq!(ingest_detected(&data, &focus, "focus"), "focus");
    }
    if let Some(oci) = sample("focus_converters/oci/reports_cost-csv_0000000030000269.csv") {
        assert_eq!(ingest_detected(&data, &oci, "oci"), "oci");
    }
}

#[test]
fn an_unknown_file_says_what_was_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inventory.csv");
    std::fs::write(&file, "host,owner\nweb-1,alice\n").unwrap();
    let out = billow(
        &dir.path().join("data"),
        &["ingest", file.to_str().unwrap(), "--connection", "x"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("inventory.csv"), "{stderr}");
    assert!(
        stderr.contains("not a billing export Billow recognizes"),
        "{stderr}"
    );
    for looked_for in [
        "lineItem/UnblendedCost",
        "CostInBillingCurrency",
        "BilledCost",
        "lineItem/tenantId",
        "billing_account_id",
    ] {
        assert!(
            stderr.contains(looked_for),
            "{looked_for} missing from: {stderr}"
        );
    }
    assert!(stderr.contains("billow ingest <format> <path>"), "{stderr}");
}
