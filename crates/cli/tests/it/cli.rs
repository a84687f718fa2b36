//! The command-line contract: help, exit codes, JSON output, errors on stderr.

use billow_synth::aws_cur::{CurSpec, write_delivery};

use crate::{billow, ingested, text};

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = billow(dir.path(), &["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for cmd in [
        "ingest",
        "costs",
        "reconcile",
        "history",
        "export",
        "sql",
        "demo",
    ] {
        assert!(help.contains(cmd), "{cmd} missing from --help:\n{help}");
    }
    assert!(help.contains("Exit codes"));
    for source in ["aws-cur", "focus", "oci", "gcp"] {
        assert!(
            billow(dir.path(), &["ingest", source, "--help"])
                .status
                .success()
        );
    }
}

#[test]
fn a_cur_file_given_to_the_focus_reader_says_what_is_missing_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = write_delivery(
        &dir.path().join("src"),
        &CurSpec::new(8, 2026, 2).with_rows(50),
    )
    .unwrap();
    let out = billow(
        &dir.path().join("data"),
        &[
            "ingest",
            "focus",
            d.files[0].to_str().unwrap(),
            "--connection",
            "wrong",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("BilledCost") && err.contains("unchanged for every billing period"),
        "{err}"
    );
}

#[test]
fn ingest_costs_reconcile_export_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = write_delivery(
        &dir.path().join("src"),
        &CurSpec::new(5, 2026, 7).with_rows(2_000),
    )
    .unwrap();
    let out = billow(
        &data,
        &[
            "ingest",
            "aws-cur",
            d.report_dir.to_str().unwrap(),
            "--connection",
            "aws-1",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports[0]["outcome"], "published");
    assert_eq!(reports[0]["rows"], d.expected.focus_rows);

    let out = billow(
        &data,
        &[
            "costs",
            "--month",
            "2026-07",
            "--by",
            "billing-account",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut total = billow_focus::money::ExactSum::default();
    for r in &rows {
        total
            .add_text(r["billed_cost"].as_str().unwrap().as_bytes())
            .unwrap();
    }
    let mut expected = billow_focus::money::ExactSum::default();
    expected
        .add_text(d.expected.total_billed().as_bytes())
        .unwrap();
    assert_eq!(total.to_decimal_string(), expected.to_decimal_string());

    // Per day, filtered: one account's days add up to its total.
    let account = rows[0]["key"].as_str().unwrap();
    let filter = format!("billing-account={account}");
    let out = billow(
        &data,
        &[
            "costs",
            "--from",
            "2026-07",
            "--to",
            "2026-07",
            "--by",
            "service",
            "--granularity",
            "day",
            "--filter",
            &filter,
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let daily: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        daily
            .iter()
            .all(|r| r["time"].as_str().unwrap().starts_with("2026-07-"))
    );
    let mut sum = billow_focus::money::ExactSum::default();
    for r in &daily {
        sum.add_text(r["billed_cost"].as_str().unwrap().as_bytes())
            .unwrap();
    }
    let mut one = billow_focus::money::ExactSum::default();
    one.add_text(rows[0]["billed_cost"].as_str().unwrap().as_bytes())
        .unwrap();
    assert_eq!(sum.to_decimal_string(), one.to_decimal_string());
    for bad in [
        &["costs", "--filter", "service"][..],
        &["costs", "--filter", "day=2026-07-01"],
        &["costs", "--granularity", "week"],
        &["costs", "--from", "2026-08", "--to", "2026-07"],
    ] {
        let out = billow(&data, bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!text(&out.stderr).is_empty());
    }

    let out = billow(&data, &["reconcile", "--month", "2026-07", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rec: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!rec.is_empty() && rec.iter().all(|r| r["status"] == "exact"));

    let csv = dir.path().join("out.csv");
    let out = billow(
        &data,
        &[
            "export",
            "focus",
            "--month",
            "2026-07",
            "--format",
            "csv",
            "--focus-version",
            "1.4",
            "-o",
            csv.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = std::fs::read_to_string(&csv).unwrap();
    let header = exported.lines().next().unwrap();
    assert!(header.contains("ServiceProviderName") && header.contains("HostProviderName"));
    assert!(
        !header
            .split(',')
            .any(|c| c == "ProviderName" || c == "PublisherName")
    );
    assert_eq!(exported.lines().count() as u64, d.expected.focus_rows + 1);

    let out = billow(
        &data,
        &[
            "sql",
            "SELECT COUNT(*) AS n FROM focus WHERE ChargeCategory = 'Tax'",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tax = d.expected.line_item_types.get("Tax").copied().unwrap_or(0);
    assert!(
        text(&out.stdout).contains(&format!("\"n\":{tax}")),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn errors_go_to_stderr_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = billow(dir.path(), &["costs", "--month", "October"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("YYYY-MM"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    let bad = dir.path().join("bad.csv.gz");
    std::fs::write(&bad, b"\x1f\x8b\x08\x00garbage").unwrap();
    let out = billow(
        &dir.path().join("data"),
        &[
            "ingest",
            "aws-cur",
            bad.to_str().unwrap(),
            "--connection",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.csv.gz") && err.contains("published data is unchanged"),
        "{err}"
    );

    // A connection names folders of the lake: no spaces, and nothing that climbs out of it.
    for bad in ["bad name", "..", ".hidden"] {
        let out = billow(
            &dir.path().join("data"),
            &[
                "ingest",
                "aws-cur",
                dir.path().to_str().unwrap(),
                "--connection",
                bad,
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("start with a letter or digit"),
            "{bad}"
        );
    }
}

#[test]
fn reconcile_exits_1_when_the_lake_disagrees_with_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _delivery) = ingested(dir.path(), &CurSpec::new(6, 2026, 6).with_rows(500), "c");
    assert_eq!(billow(&data, &["reconcile"]).status.code(), Some(0));
    // The source says a billing account has cost the lake does not hold: what a lost file looks like.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let lake = billow_lake::Lake::open(&data).await.unwrap();
        let key = billow_lake::PartitionKey {
            connection_id: "c".into(),
            billing_period: "2026-06".into(),
        };
        let current = lake.current_ingestion(&key).await.unwrap().unwrap();
        let record = billow_lake::IngestionRecord {
            ingestion_id: current.clone(),
            connection_id: "c".into(),
            billing_period: "2026-06".into(),
            source_format: "aws-cur1".into(),
            export_version: None,
            fingerprint: "tampered".into(),
            started_at: 0,
            finished_at: 0,
            rows: 1,
            files: vec![],
        };
        let lost = billow_lake::TotalsRecord {
            ingestion_id: current,
            connection_id: "c".into(),
            billing_period: "2026-06".into(),
            billing_account_id: "999999999999".into(),
            charge_category: "Usage".into(),
            rows: 1,
            source_billed_exact: "5".into(),
            source_effective_exact: "5".into(),
            source_billed: 5_000_000_000_000,
            source_effective: 5_000_000_000_000,
            rounded_values: 0,
        };
        lake.append_records(&record, &[lost], &[]).await.unwrap();
    });
    let out = billow(&data, &["reconcile", "--month", "2026-06"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("MISMATCH"));
    assert!(text(&out.stderr).contains("do not reconcile"));
}

#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let (data, _delivery) = ingested(dir.path(), &CurSpec::new(8, 2026, 8).with_rows(3_000), "c");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_billow"))
        .arg("--data-dir")
        .arg(&data)
        .args(["sql", "SELECT * FROM focus", "--csv"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then the pipe closes
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}
