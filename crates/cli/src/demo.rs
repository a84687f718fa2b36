//! `billow demo`: a realistic multi-cloud organization in each provider's native format,
//! ingested through the same readers as production into the data directory, a demo owner and
//! a viewer without provider cost, then the dashboard. Deterministic for a seed and a day.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use billow_formats::saas::Vendor;
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
    connection: "oci-tenancy",
    provider: "oci",
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
    let source = data_dir.join("demo-source");
    let lake = open_lake(data_dir).await?;
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
    for (i, &(y, m, partial)) in months.iter().enumerate() {
        write_delivery(&source.join("aws"), &cur(i, y, m, partial))?;
    }
    step("AWS: 3 payers, 24 linked accounts (CUR)");
    let aws = source.join("aws/cur/billow-demo");
    ingest(&lake, Format::AwsCur, &aws, "aws-cur", false, None, quiet).await?;
    // The second closed month is restated, as AWS does when late credits and refunds arrive.
    if let Some(&(y, m, None)) = months.get(1) {
        write_delivery(&source.join("aws"), &cur(1, y, m, None).with_revision(1))?;
        ingest(&lake, Format::AwsCur, &aws, "aws-cur", false, None, quiet).await?;
        step(&format!("AWS: {} restated", label(y, m)));
    }

    // Google Cloud: two billing accounts with their projects.
    for (connection, account_seed) in [("gcp-billing", 11u64), ("gcp-data-platform", 12)] {
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
            let dir = source.join(connection).join(label(y, m));
            billow_synth::gcp::write_export(&dir, &spec)?;
            ingest(&lake, Format::Gcp, &dir, connection, false, None, quiet).await?;
        }
        step(&format!(
            "Google Cloud: {connection} (BigQuery export rows)"
        ));
    }

    // Azure: an Enterprise Agreement enrollment, actual and amortized exports.
    for (i, &(y, m, partial)) in months.iter().enumerate() {
        let mut spec = billow_synth::azure::AzureSpec::new(seed * 10 + 3 + i as u64, y, m)
            .with_rows(rows / 5)
            .with_subscriptions(8);
        spec.enrollment = format!("{}", 8_000_000 + seed % 1_000_000);
        if let Some(d) = partial {
            spec = spec.through_day(d);
        }
        let delivery =
            billow_synth::azure::write_exports(&source.join("azure").join(label(y, m)), &spec)?;
        ingest(
            &lake,
            Format::Azure {
                dataset: None,
                amortized: None,
            },
            &delivery.root,
            "azure-ea",
            false,
            None,
            quiet,
        )
        .await?;
    }
    step("Azure: EA enrollment (actual + amortized exports)");

    // DigitalOcean: the team's invoices of the closed months.
    for (i, &(y, m, partial)) in months.iter().enumerate() {
        if partial.is_some() {
            continue;
        }
        let dir = source.join("digitalocean").join(label(y, m));
        billow_synth::digitalocean::write_invoice(&dir, seed + 40 + i as u64, y, m, 30)?;
        ingest(
            &lake,
            Format::DigitalOcean,
            &dir,
            "digitalocean",
            false,
            None,
            quiet,
        )
        .await?;
    }
    step("DigitalOcean: team invoices");

    // OpenAI: the Costs API's daily buckets.
    for (i, &(y, m, partial)) in months.iter().enumerate() {
        let dir = source.join("openai").join(label(y, m));
        billow_synth::api_responses::write_openai_costs_through(
            &dir,
            seed + 50 + i as u64,
            y,
            m,
            4,
            partial,
        )?;
        ingest(
            &lake,
            Format::Saas(Vendor::OpenAi),
            &dir,
            "openai",
            false,
            None,
            quiet,
        )
        .await?;
    }
    step("OpenAI: Costs API pages");

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
                serde_json::json!({"region": "us-ashburn-1", "bucket": "bling"}),
            )
            .await?;
    }
    for id in store.connection_ids(&local).await? {
        if id != NO_DATA.connection {
            store.record_sync(&local, &id, Some("demo"), None).await?;
        }
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
