//! DigitalOcean invoices: the CSV download (spec example rows plus the traps: `$` and `-$`
//! amounts, thousands separators, empty hours, inclusive ends, the 8-column legacy header) and
//! JSON invoice items, with the month-to-date preview replaced by newer data.

use billow_ingest::{
    IngestOptions, NoProgress, Outcome, ReconcileStatus, ingest_digitalocean, reconcile,
};

use super::{lake, text_rows};

const HEADER: &str =
    "product,group_description,description,hours,start,end,USD,project_name,category";

/// The two rows of DigitalOcean's OpenAPI example, then a droplet month, a backup without
/// hours, a promotional credit and an amount with a thousands separator.
const ROWS: [&str; 6] = [
    "Floating IPs,,Unused Floating IP - 1.1.1.1,100,2020-07-01 00:00:00 +0000,2020-07-22 18:14:39 +0000,$3.11,,iaas",
    "Taxes,,STATE SALES TAX (6.25%),,2020-07-01 00:00:00 +0000,2020-07-31 23:59:59 +0000,$0.16,,iaas",
    "Droplets,web-1,s-2vcpu-4gb,744,2020-07-01 00:00:00 +0000,2020-07-31 23:59:59 +0000,$24.00,Web,iaas",
    "Backups,web-1,Droplet backups,,2020-07-01 00:00:00 +0000,2020-07-31 23:59:59 +0000,$4.80,Web,iaas",
    "Credits,,Promotional credit,,2020-07-01 00:00:00 +0000,2020-07-31 23:59:59 +0000,-$10.00,,iaas",
    "Kubernetes,prod-cluster,Node pool (3 nodes),2232,2020-07-01 00:00:00 +0000,2020-08-01 00:00:00 +0000,\"$1,234.56\",Platform,paas",
];

fn invoice_csv(legacy: bool) -> String {
    let mut text = String::new();
    let strip = |line: &str| -> String {
        if legacy {
            line.rsplit_once(',')
                .map(|(head, _)| head.to_string())
                .unwrap_or_default()
        } else {
            line.to_string()
        }
    };
    text.push_str(&strip(HEADER));
    text.push('\n');
    for r in ROWS {
        text.push_str(&strip(r));
        text.push('\n');
    }
    text
}

#[tokio::test]
async fn invoice_csv_reconciles_in_either_header_generation() {
    for legacy in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir
            .path()
            .join("DigitalOcean Invoice 2020 Jul (1234-5678).csv");
        std::fs::write(&file, invoice_csv(legacy)).unwrap();
        let lake = lake(dir.path()).await;
        let reports =
            ingest_digitalocean(&lake, &file, &IngestOptions::new("do-team"), &NoProgress)
                .await
                .unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].key.billing_period, "2020-07");
        assert_eq!(reports[0].rows, 6);
        let recon = reconcile(&lake, None).await.unwrap();
        assert!(
            recon.iter().all(|r| r.status == ReconcileStatus::Exact),
            "{recon:?}"
        );
        let by_category = text_rows(
            &lake,
            "SELECT ChargeCategory, SUM(BilledCost), SUM(EffectiveCost) FROM focus \
             GROUP BY 1 ORDER BY 1",
        )
        .await;
        assert_eq!(
            by_category,
            [
                "Credit -10.000000000000 -10.000000000000",
                "Tax 0.160000000000 0.160000000000",
                "Usage 1266.470000000000 1266.470000000000",
            ],
            "legacy header: {legacy}"
        );
        // Inclusive `23:59:59` ends become the next midnight; hours are usage quantities.
        let droplet = text_rows(
            &lake,
            "SELECT CAST(ChargePeriodEnd AS VARCHAR), ConsumedQuantity, ConsumedUnit, \
             ServiceCategory, ServiceSubcategory, Tags, BillingAccountId FROM focus \
             WHERE ServiceName = 'Droplets'",
        )
        .await;
        assert_eq!(
            droplet,
            [
                r#"2020-08-01T00:00:00Z 744.000000000000 Hours Compute Virtual Machines {"project":"Web"} do-team"#
            ]
        );
    }
}

fn items_page(items: &[(&str, &str, &str)]) -> String {
    let items: Vec<serde_json::Value> = items
        .iter()
        .map(|(product, amount, start)| {
            serde_json::json!({
                "product": product, "resource_id": "2353624", "resource_uuid": "711157cb-37c8-4817-b371-44fa3504a39c",
                "group_description": "", "description": format!("{product} usage"), "amount": amount,
                "duration": "744", "duration_unit": "Hours", "start_time": start,
                "end_time": "2020-01-31T23:59:59Z", "project_name": "web", "category": "iaas"
            })
        })
        .collect();
    serde_json::json!({"invoice_items": items, "links": {"pages": {}}, "meta": {"total": items.len()}}).to_string()
}

#[tokio::test]
async fn the_month_to_date_preview_is_replaced_by_newer_data() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path()).await;
    let options = IngestOptions::new("do-team");
    let first = dir.path().join("preview-2020-01-10.json");
    std::fs::write(
        &first,
        items_page(&[("Droplets", "4.00", "2020-01-01T00:00:00Z")]),
    )
    .unwrap();
    ingest_digitalocean(&lake, &first, &options, &NoProgress)
        .await
        .unwrap();
    let later = dir.path().join("preview-2020-01-20.json");
    std::fs::write(
        &later,
        items_page(&[
            ("Droplets", "8.00", "2020-01-01T00:00:00Z"),
            ("Spaces", "5.00", "2020-01-01T00:00:00Z"),
        ]),
    )
    .unwrap();
    let reports = ingest_digitalocean(&lake, &later, &options, &NoProgress)
        .await
        .unwrap();
    assert!(matches!(reports[0].outcome, Outcome::Published { .. }));
    let total = text_rows(
        &lake,
        "SELECT SUM(BilledCost), COUNT(*), MIN(ResourceId) FROM focus",
    )
    .await;
    assert_eq!(
        total,
        ["13.000000000000 2 711157cb-37c8-4817-b371-44fa3504a39c"]
    );
    assert!(
        reconcile(&lake, None)
            .await
            .unwrap()
            .iter()
            .all(|r| r.status == ReconcileStatus::Exact)
    );
}

#[tokio::test]
async fn a_bad_amount_names_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("invoice.csv");
    std::fs::write(&file, invoice_csv(false).replace("$24.00", "24 dollars")).unwrap();
    let lake = lake(dir.path()).await;
    let err = ingest_digitalocean(&lake, &file, &IngestOptions::new("do-team"), &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("invoice.csv: line 4, column USD"), "{err}");
    assert!(err.contains("$3.11"), "{err}");
    // In a JSON page the error names the item, not a line.
    let page = dir.path().join("preview.json");
    std::fs::write(
        &page,
        items_page(&[("Droplets", "four dollars", "2020-01-01T00:00:00Z")]),
    )
    .unwrap();
    let err = ingest_digitalocean(&lake, &page, &IngestOptions::new("do-team"), &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("preview.json: item 1, field invoice_items[].amount"),
        "{err}"
    );
}

#[tokio::test]
async fn a_generated_team_invoice_reconciles_per_category() {
    let dir = tempfile::tempdir().unwrap();
    let invoice =
        billow_synth::digitalocean::write_invoice(&dir.path().join("do"), 3, 2026, 2, 60).unwrap();
    let lake = lake(dir.path()).await;
    let reports = ingest_digitalocean(
        &lake,
        &invoice.path,
        &IngestOptions::new("do-gen"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(reports[0].key.billing_period, "2026-02");
    assert_eq!(reports[0].rows, invoice.expected.rows);
    let rows = reconcile(&lake, None).await.unwrap();
    assert_eq!(rows.len(), invoice.expected.by_category.len());
    for r in rows {
        assert_eq!(r.status, ReconcileStatus::Exact, "{r:?}");
        let cents = invoice.expected.by_category[&r.charge_category];
        assert_eq!(
            super::normalize_decimal(&r.lake_billed),
            billow_synth::format_scaled(cents, 2),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn a_balance_beside_the_preview_checks_the_month_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path()).await;
    let folder = dir.path().join("do");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("preview.json"),
        items_page(&[
            ("Droplets", "8.00", "2020-01-01T00:00:00Z"),
            ("Volumes", "3.21", "2020-01-01T00:00:00Z"),
        ]),
    )
    .unwrap();
    // DigitalOcean's documented example response, with this month's usage.
    let balance = |usage: &str| {
        format!(
            r#"{{"month_to_date_balance": "23.44", "account_balance": "12.23", "month_to_date_usage": "{usage}", "generated_at": "2020-01-09T15:01:12Z"}}"#
        )
    };
    std::fs::write(folder.join("balance.json"), balance("11.21")).unwrap();
    let options = IngestOptions::new("do-team");
    let reports = ingest_digitalocean(&lake, &folder, &options, &NoProgress)
        .await
        .unwrap();
    // The balance is a check, not charges.
    assert_eq!(reports[0].rows, 2);
    let checks = billow_ingest::check_digitalocean_balances(&lake, &folder, "do-team")
        .await
        .unwrap();
    assert_eq!(
        checks,
        [billow_ingest::BalanceCheck {
            billing_period: "2020-01".into(),
            generated_at: "2020-01-09T15:01:12Z".into(),
            balance_usage: "11.21".into(),
            lake_usage: "11.21".into(),
            matches: true,
        }]
    );
    std::fs::write(folder.join("balance.json"), balance("12.00")).unwrap();
    let checks = billow_ingest::check_digitalocean_balances(&lake, &folder, "do-team")
        .await
        .unwrap();
    assert!(!checks[0].matches);
    assert_eq!(checks[0].lake_usage, "11.21");

    // A balance that is not a dollar amount names its field.
    std::fs::write(
        folder.join("balance.json"),
        balance("12.00").replace("\"12.23\"", "\"n/a\""),
    )
    .unwrap();
    let err = billow_ingest::check_digitalocean_balances(&lake, &folder, "do-team")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("balance.json") && err.contains("account_balance"),
        "{err}"
    );
}
