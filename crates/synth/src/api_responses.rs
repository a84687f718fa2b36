//! Billing API responses for accounts without an export feed: an AWS Cost Explorer
//! `GetCostAndUsage` response (daily, grouped by linked account and service, with the three
//! cost metrics, amounts printed with up to 10 places as AWS does) and a month of OpenAI
//! Costs API pages (daily buckets of results by model line item and project, amounts as JSON
//! numbers, tiny ones in exponent form).

use std::io;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A written response (or pages) and its exact totals.
#[derive(Debug, Clone)]
pub struct ApiResponses {
    /// Files, one per page.
    pub files: Vec<PathBuf>,
    /// Billing period `YYYY-MM`.
    pub billing_period: String,
    /// Results (groups) written.
    pub results: u64,
    /// Σ billed cost, exact, and its scale.
    pub billed: (i128, u32),
    /// Σ effective (amortized) cost, exact, same scale.
    pub effective: (i128, u32),
}

fn month_days(year: i32, month: u32) -> (NaiveDate, i64) {
    let first = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("valid month");
    (first, (next - first).num_days())
}

const CE_SERVICES: &[(&str, i128)] = &[
    ("Amazon Elastic Compute Cloud - Compute", 180_0000000000),
    ("Amazon Simple Storage Service", 12_5000000000),
    ("Amazon Relational Database Service", 64_0000000000),
    ("AWS Lambda", 3_2500000000),
    ("Amazon CloudFront", 7_1000000000),
    ("Amazon DynamoDB", 9_4000000000),
    ("AmazonCloudWatch", 2_2000000000),
    ("Amazon Virtual Private Cloud", 4_8000000000),
];

/// Writes a Cost Explorer response of one month for `accounts` linked accounts to
/// `dir/ce-<month>.json`.
pub fn write_cost_explorer(
    dir: &Path,
    seed: u64,
    year: i32,
    month: u32,
    accounts: usize,
) -> io::Result<ApiResponses> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xCE);
    let (first, days) = month_days(year, month);
    let accounts: Vec<String> = (0..accounts.max(1))
        .map(|_| {
            format!(
                "{:012}",
                rng.random_range(100_000_000_000u64..999_999_999_999)
            )
        })
        .collect();
    let (mut billed, mut effective, mut results) = (0i128, 0i128, 0u64);
    let mut by_time = Vec::new();
    for d in 0..days {
        let day = first + chrono::Duration::days(d);
        let mut groups = Vec::new();
        for account in &accounts {
            for (service, daily) in CE_SERVICES {
                // Units of 10⁻¹⁰: ±30% around the service's typical day.
                let unblended = daily * i128::from(rng.random_range(70..=130u32)) / 100
                    + i128::from(rng.random_range(0..10_000u32));
                // Compute covered by a savings plan costs more amortized than unblended on
                // the days the plan's fee is spread over it.
                let amortized = if service.contains("Compute") {
                    unblended + unblended / 7
                } else {
                    unblended
                };
                billed += unblended;
                effective += amortized;
                results += 1;
                let amount = |v: i128| crate::format_scaled(v, 10);
                groups.push(serde_json::json!({
                    "Keys": [account, service],
                    "Metrics": {
                        "AmortizedCost": {"Amount": amount(amortized), "Unit": "USD"},
                        "NetUnblendedCost": {"Amount": amount(unblended), "Unit": "USD"},
                        "UnblendedCost": {"Amount": amount(unblended), "Unit": "USD"}
                    }
                }));
            }
        }
        by_time.push(serde_json::json!({
            "TimePeriod": {
                "Start": day.format("%Y-%m-%d").to_string(),
                "End": (day + chrono::Duration::days(1)).format("%Y-%m-%d").to_string()
            },
            "Total": {},
            "Groups": groups,
            "Estimated": false
        }));
    }
    let response = serde_json::json!({
        "GroupDefinitions": [
            {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
            {"Type": "DIMENSION", "Key": "SERVICE"}
        ],
        "ResultsByTime": by_time,
        "DimensionValueAttributes": []
    });
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("ce-{year:04}-{month:02}.json"));
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&response).map_err(io::Error::other)?,
    )?;
    Ok(ApiResponses {
        files: vec![path],
        billing_period: format!("{year:04}-{month:02}"),
        results,
        billed: (billed, 10),
        effective: (effective, 10),
    })
}

const OPENAI_LINE_ITEMS: &[(&str, i128)] = &[
    ("gpt-4o-2024-08-06, input", 41_250_000),
    ("gpt-4o-2024-08-06, output", 96_400_000),
    ("gpt-4o-mini, input", 1_830_000),
    ("gpt-4o-mini, output", 4_210_000),
    ("text-embedding-3-small", 120_000),
    ("whisper-1", 2_700_000),
    ("ft-gpt-4o-mini-training", 15),
];

/// Writes a month of OpenAI Costs API pages (one page per 7 daily buckets, as `limit=7`
/// pages them) for `projects` projects into `dir`.
pub fn write_openai_costs(
    dir: &Path,
    seed: u64,
    year: i32,
    month: u32,
    projects: usize,
) -> io::Result<ApiResponses> {
    write_openai_costs_through(dir, seed, year, month, projects, None)
}

/// [`write_openai_costs`] of a month in progress: daily buckets through `through_day`
/// (`None`: the whole month).
pub fn write_openai_costs_through(
    dir: &Path,
    seed: u64,
    year: i32,
    month: u32,
    projects: usize,
    through_day: Option<u32>,
) -> io::Result<ApiResponses> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0A1);
    let (first, days) = month_days(year, month);
    let days = through_day.map_or(days, |d| i64::from(d.max(1)).min(days));
    let projects: Vec<String> = (0..projects.max(1))
        .map(|i| format!("proj_{:016x}", rng.random::<u64>() ^ i as u64))
        .collect();
    std::fs::create_dir_all(dir)?;
    let (mut total, mut results) = (0i128, 0u64);
    let mut files = Vec::new();
    let mut buckets = Vec::new();
    let start_of = |d: i64| {
        (first + chrono::Duration::days(d))
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp()
    };
    for d in 0..days {
        let mut day_results = Vec::new();
        for project in &projects {
            for (item, typical) in OPENAI_LINE_ITEMS {
                // Micro-dollars, to 6 places; some items cost fractions of a cent a day.
                let value = typical * i128::from(rng.random_range(50..=150u32)) / 100;
                total += value;
                results += 1;
                let number: serde_json::Value =
                    serde_json::from_str(&crate::decimal::float_json(value))
                        .map_err(io::Error::other)?;
                day_results.push(serde_json::json!({
                    "object": "organization.costs.result",
                    "amount": {"value": number, "currency": "usd"},
                    "line_item": item,
                    "project_id": project,
                }));
            }
        }
        buckets.push(serde_json::json!({
            "object": "bucket",
            "start_time": start_of(d),
            "end_time": start_of(d + 1),
            "results": day_results,
        }));
        if buckets.len() == 7 || d == days - 1 {
            let more = d != days - 1;
            let page = serde_json::json!({
                "object": "page",
                "data": std::mem::take(&mut buckets),
                "has_more": more,
                "next_page": if more { Some(format!("page_{}", files.len() + 1)) } else { None },
            });
            let path = dir.join(format!(
                "openai-costs-{year:04}-{month:02}-page{}.json",
                files.len() + 1
            ));
            std::fs::write(&path, serde_json::to_vec(&page).map_err(io::Error::other)?)?;
            files.push(path);
        }
    }
    Ok(ApiResponses {
        files,
        billing_period: format!("{year:04}-{month:02}"),
        results,
        billed: (total, 6),
        effective: (total, 6),
    })
}
