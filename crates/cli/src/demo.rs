//! `billow demo`: a realistic multi-cloud organization in each provider's native format,
//! ingested through the same readers as production into the data directory, a demo owner and
//! a viewer without provider cost, then the dashboard. Deterministic for a seed and a day.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use billow_formats::saas::Vendor;
use billow_ingest::PeriodReport;
use billow_lake::Lake;
use billow_store::{CostTypes, Role, Store};
use chrono::{Datelike, Months, NaiveDate};

use crate::{Format, Stdout, admin, ingest, open_lake};

/// The demo's sign-ins (printed; the demo serves on loopback by default).
pub(crate) const OWNER: (&str, &str) = ("demo@billow.local", "billow-demo-owner");
pub(crate) const VIEWER: (&str, &str) = ("viewer@billow.local", "billow-demo-viewer");

/// One billing source of the demo organization.
struct Source {
    connection: &'static str,
    provider: &'static str,
}

const NO_DATA: Source = Source {
    connection: "datadog",
    provider: "datadog",
};

fn month_of(day: NaiveDate, back: u32) -> Result<(i32, u32)> {
    let first = day.with_day(1).context("first of the month")?;
    let m = first
        .checked_sub_months(Months::new(back))
        .context("a month before the calendar")?;
    Ok((m.year(), m.month()))
}

/// Generates and ingests the demo organization as of `as_of` (the current month is written
/// through the day before, as exports of a month in progress are).
pub(crate) async fn prepare(
    data_dir: &Path,
    store: &Store,
    as_of: NaiveDate,
    seed: u64,
    rows: usize,
    quiet: bool,
) -> Result<Lake> {
    use billow_synth::aws_cur::{CurSpec, write_delivery};
    // Under the server's default exports root, so each connection's source can be synced
    // again from the dashboard.
    let exports = data_dir.join("exports");
    let source = exports.join("demo");
    let lake = open_lake(data_dir).await?;
    // Each connection's export folder and the newest ingestion read from it.
    let mut sources: Vec<(&str, PathBuf, String)> = Vec::new();
    let mut latest = |connection: &'static str, path: &Path, reports: Vec<PeriodReport>| {
        let newest = reports.into_iter().map(|r| r.ingestion_id).max();
        sources.retain(|(c, _, _)| *c != connection);
        sources.push((connection, path.to_path_buf(), newest.unwrap_or_default()));
    };
    // Three closed months, then the current one to yesterday (none on the 1st).
    let through = as_of.day().saturating_sub(1);
    let mut months = Vec::new();
    for back in (0..=3).rev() {
        let (y, m) = month_of(as_of, back)?;
        let partial = (back == 0).then_some(through);
        if partial != Some(0) {
            months.push((y, m, partial));
        }
    }
    let label = |y: i32, m: u32| format!("{y:04}-{m:02}");
    let step = |what: &str| {
        if !quiet {
            eprintln!("{what}");
        }
    };

    // AWS: three payers of eight linked accounts each, CUR 1 in the S3 report layout.
    let cur = |i: usize, y: i32, m: u32, partial: Option<u32>| {
        let spec = CurSpec::new(seed + i as u64, y, m)
            .with_rows(partial.map_or(rows, |d| (rows * d as usize / 30).max(200)))
            .with_files(2)
            .with_accounts(3, 8)
            .with_report("cur", "billow-demo");
        match partial {
            Some(d) => spec.through_day(d),
            None => spec,
        }
    };
    // Planted anomaly: GPU instances left running in one linked account for three days,
    // ending three days before `as_of` (in last month when this one is too young).
    let spike_start = as_of - chrono::Duration::days(5);
    for (i, &(y, m, partial)) in months.iter().enumerate() {
        let mut spec = cur(i, y, m, partial);
        if (spike_start.year(), spike_start.month()) == (y, m) {
            let days = partial.map_or(3, |through| {
                (through + 1).saturating_sub(spike_start.day()).min(3)
            });
            spec = spec.with_spike(5, spike_start.day(), days, 30);
        }
        write_delivery(&source.join("aws"), &spec)?;
    }
    step("AWS: 3 payers, 24 linked accounts (CUR)");
    let aws = source.join("aws/cur/billow-demo");
    let reports = ingest(&lake, Format::AwsCur, &aws, "aws-cur", false, None, quiet).await?;
    latest("aws-cur", &aws, reports);
    // The second closed month is restated, as AWS does when late credits and refunds arrive.
    if let Some(&(y, m, None)) = months.get(1) {
        write_delivery(&source.join("aws"), &cur(1, y, m, None).with_revision(1))?;
        let reports = ingest(&lake, Format::AwsCur, &aws, "aws-cur", false, None, quiet).await?;
        latest("aws-cur", &aws, reports);
        step(&format!("AWS: {} restated", label(y, m)));
    }
    // A fourth payer already on CUR 2.0 (Data Exports).
    for (i, &(y, m, partial)) in months.iter().enumerate() {
        let spec = CurSpec::new(seed + 20 + i as u64, y, m)
            .with_rows(partial.map_or(rows / 3, |d| (rows / 3 * d as usize / 30).max(100)))
            .with_files(1)
            .with_accounts(1, 6)
            .with_report("exports", "billow-data-export")
            .with_cur2();
        let spec = match partial {
            Some(d) => spec.through_day(d),
            None => spec,
        };
        write_delivery(&source.join("aws-cur2"), &spec)?;
    }
    let cur2 = source.join("aws-cur2/exports/billow-data-export");
    let reports = ingest(&lake, Format::AwsCur, &cur2, "aws-cur2", false, None, quiet).await?;
    latest("aws-cur2", &cur2, reports);
    step("AWS: a payer with 6 linked accounts on CUR 2.0");

    // Google Cloud: two billing accounts with their projects, each exported to one folder
    // (every source below is read the way a user points Billow at an export: all months at
    // once, each month a partition of its own, in one commit).
    for (connection, account_seed) in [("gcp-billing", 11u64), ("gcp-data-platform", 12)] {
        let dir = source.join(connection);
        for (i, &(y, m, partial)) in months.iter().enumerate() {
            let mut spec =
                billow_synth::gcp::GcpSpec::new(seed * 100 + account_seed * 10 + i as u64, y, m)
                    .with_rows(rows / 6)
                    .with_projects(if account_seed == 11 { 8 } else { 4 });
            spec.billing_account =
                billow_synth::gcp::GcpSpec::new(seed + account_seed, y, m).billing_account;
            if let Some(d) = partial {
                spec = spec.through_day(d);
            }
            billow_synth::gcp::write_export(&dir, &spec)?;
        }
        let reports = ingest(&lake, Format::Gcp, &dir, connection, false, None, quiet).await?;
        latest(connection, &dir, reports);
        step(&format!(
            "Google Cloud: {connection} (BigQuery export rows)"
        ));
    }

    // Azure: an Enterprise Agreement enrollment and a Customer Agreement billing profile,
    // actual and amortized exports each. Planted anomaly: the MCA's Log Analytics ingestion
    // runs 25 times its usual volume for two days of last month.
    for (connection, mca) in [("azure-ea", false), ("azure-mca", true)] {
        for (i, &(y, m, partial)) in months.iter().enumerate() {
            let salt = if mca { 7 } else { 3 };
            let mut spec = billow_synth::azure::AzureSpec::new(seed * 10 + salt + i as u64, y, m)
                .with_rows(rows / if mca { 8 } else { 5 })
                .with_subscriptions(if mca { 5 } else { 8 });
            spec.enrollment = format!("{}", 8_000_000 + (seed + salt) % 1_000_000);
            if mca {
                spec = spec.with_mca();
                if i + 2 == months.len() {
                    spec = spec.with_spike("Log Analytics", 9, 2, 25);
                }
            }
            if let Some(d) = partial {
                spec = spec.through_day(d);
            }
            billow_synth::azure::write_exports(&source.join(connection), &spec)?;
        }
        let dir = source.join(connection);
        let azure = Format::Azure {
            dataset: None,
            amortized: None,
        };
        let reports = ingest(&lake, azure, &dir, connection, false, None, quiet).await?;
        latest(connection, &dir, reports);
    }
    step("Azure: EA enrollment and MCA billing profile (actual + amortized exports)");

    // Oracle Cloud: a tenancy's cost reports.
    for (i, &(y, m, partial)) in months.iter().enumerate() {
        let mut spec = billow_synth::oci::OciSpec::new(seed + 60 + i as u64, y, m)
            .with_rows(rows / 8)
            .with_files(2);
        if let Some(d) = partial {
            spec = spec.through_day(d);
        }
        billow_synth::oci::write_cost_reports(&source.join("oci"), &spec)?;
    }
    let dir = source.join("oci");
    let reports = ingest(&lake, Format::Oci, &dir, "oci-tenancy", false, None, quiet).await?;
    latest("oci-tenancy", &dir, reports);
    step("Oracle Cloud: tenancy cost reports");

    // DigitalOcean: the team's invoices of the closed months.
    let invoices = source.join("digitalocean");
    for (i, &(y, m, partial)) in months.iter().enumerate() {
        if partial.is_none() {
            billow_synth::digitalocean::write_invoice(&invoices, seed + 40 + i as u64, y, m, 30)?;
        }
    }
    let reports = ingest(
        &lake,
        Format::DigitalOcean,
        &invoices,
        "digitalocean",
        false,
        None,
        quiet,
    )
    .await?;
    latest("digitalocean", &invoices, reports);
    step("DigitalOcean: team invoices");

    // OpenAI: the Costs API's daily buckets.
    let pages = source.join("openai");
    for (i, &(y, m, partial)) in months.iter().enumerate() {
        billow_synth::api_responses::write_openai_costs_through(
            &pages,
            seed + 50 + i as u64,
            y,
            m,
            4,
            partial,
        )?;
    }
    let openai = Format::Saas(Vendor::OpenAi);
    let reports = ingest(&lake, openai, &pages, "openai", false, None, quiet).await?;
    latest("openai", &pages, reports);
    step("OpenAI: Costs API pages");

    // Two SaaS vendors that deliver their bill as FOCUS files.
    for (vendor, salt) in [
        (billow_synth::focus_saas::SaasVendor::Databricks, 70u64),
        (billow_synth::focus_saas::SaasVendor::Confluent, 80),
    ] {
        let connection = match vendor {
            billow_synth::focus_saas::SaasVendor::Databricks => "databricks",
            billow_synth::focus_saas::SaasVendor::Confluent => "confluent",
        };
        for &(y, m, partial) in &months {
            let mut spec = billow_synth::focus_saas::SaasFocusSpec::new(vendor, seed + salt, y, m);
            if let Some(d) = partial {
                spec = spec.through_day(d);
            }
            billow_synth::focus_saas::write_focus_file(&source.join(connection), &spec)?;
        }
        let dir = source.join(connection);
        let reports = ingest(&lake, Format::Focus, &dir, connection, false, None, quiet).await?;
        latest(connection, &dir, reports);
    }
    step("Databricks and Confluent: FOCUS files");

    // The organization: every lake connection, one connection still waiting for its first
    // export, a demo owner and a viewer who may not see provider cost.
    admin::adopt_lake_connections(store, &lake).await?;
    let local = store.local_owner().await?;
    if store.connection(&local, NO_DATA.connection).await.is_err() {
        store
            .create_connection(
                &local,
                NO_DATA.connection,
                NO_DATA.provider,
                serde_json::json!({"site": "datadoghq.com"}),
            )
            .await?;
    }
    // Each connection syncs from its folder (relative to the exports root, so the data
    // directory can move), and its last sync is the demo's ingestion.
    for (connection, path, version) in &sources {
        let relative = path.strip_prefix(&exports).unwrap_or(path);
        let settings = serde_json::json!({"source": relative.to_string_lossy()});
        store
            .set_connection_settings(&local, connection, settings)
            .await?;
        store
            .record_sync(&local, connection, Some(version), None)
            .await?;
    }
    for (email, password, name, role, cost_types) in [
        (OWNER.0, OWNER.1, "Demo Owner", Role::Owner, None),
        (
            VIEWER.0,
            VIEWER.1,
            "Demo Viewer",
            Role::Viewer,
            Some("billed,effective,list".parse::<CostTypes>()?),
        ),
    ] {
        if store.member(&local, email).await.is_err() {
            store
                .add_member(&local, email, name, Some(password), role, cost_types, &[])
                .await?;
        }
    }
    Ok(lake)
}

/// `billow demo`: prepares the data, prints what it holds, and serves the dashboard unless
/// `--no-serve`.
pub(crate) async fn run(
    data_dir: &Path,
    store_args: &admin::StoreArgs,
    args: &crate::DemoArgs,
    quiet: bool,
) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let as_of = match &args.as_of {
        Some(day) => NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .with_context(|| format!("--as-of {day:?} is not YYYY-MM-DD"))?,
        None => chrono::Utc::now().date_naive(),
    };
    let store = store_args.open(data_dir).await?;
    let lake = prepare(data_dir, &store, as_of, args.seed, args.rows, quiet).await?;
    let rec = billow_ingest::reconcile(&lake, None).await?;
    let bad = rec
        .iter()
        .filter(|r| r.status == billow_ingest::ReconcileStatus::Mismatch)
        .count();
    outln!(
        "Demo organization ready in {:.1} s: {} reconciliation group(s), {} mismatch(es). Data in {}",
        started.elapsed().as_secs_f64(),
        rec.len(),
        bad,
        lake.root().display()
    )?;
    if args.no_serve {
        store.close().await;
        return Ok(if bad == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is it in use? try --listen 127.0.0.1:0)",
                args.listen
            )
        })?;
    let address = listener.local_addr()?;
    outln!(
        "\nDashboard: http://{address}/\n  Owner:  {} / {}\n  Viewer: {} / {} (no provider cost)\nCtrl-C stops it.",
        OWNER.0,
        OWNER.1,
        VIEWER.0,
        VIEWER.1
    )?;
    billow_server::serve(
        listener,
        billow_server::app(billow_server::AppState::new(store.clone(), lake)),
    )
    .await
    .context("serving")?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
