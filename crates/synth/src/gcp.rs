//! Google Cloud Billing detailed usage cost export rows, as BigQuery exports a table to Cloud
//! Storage: newline-delimited JSON (`gzip`), one object per row with nested `service`, `sku`,
//! `project` (with its labels), `labels`, `location`, `resource`, `usage`, `credits` and
//! `invoice`.
//!
//! One billing account with projects whose resources bill hourly. Costs are BigQuery FLOAT64
//! values printed as JSON numbers (up to six decimals, tiny ones in exponent form like
//! `1.2e-05`); credits (sustained use, free tier, promotion) are nested in their usage row;
//! a few rows are taxes and adjustments; and late usage of the previous month's last day lands
//! on this month's invoice, as Google's invoice month (Pacific time) puts it. The first region
//! has resource-based committed use discounts: hourly fee rows for an N2 vCPU commitment (fully
//! used) and an N2 memory commitment (partly idle), with `COMMITTED_USAGE_DISCOUNT` credits on
//! the usage they cover.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Cost units: 10⁻⁶ (BigQuery's costs are micros at most).
const SCALE: u32 = 6;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GcpSpec {
    /// RNG seed.
    pub seed: u64,
    /// Invoice month year.
    pub year: i32,
    /// Invoice month.
    pub month: u32,
    /// Usage rows, about.
    pub rows: usize,
    /// Data files.
    pub files: usize,
    /// Projects.
    pub projects: usize,
    /// Billing account id (`XXXXXX-XXXXXX-XXXXXX`).
    pub billing_account: String,
    /// Usage only through this day of the month, and no invoice-closing taxes and
    /// adjustments yet (the export of a month in progress); `None`: the closed month.
    pub through_day: Option<u32>,
}

impl GcpSpec {
    /// A spec for one invoice month.
    pub fn new(seed: u64, year: i32, month: u32) -> Self {
        let hex = format!("{:018X}", seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 2);
        GcpSpec {
            seed,
            year,
            month,
            rows: 10_000,
            files: 1,
            projects: 6,
            billing_account: format!("{}-{}-{}", &hex[0..6], &hex[6..12], &hex[12..18]),
            through_day: None,
        }
    }

    /// The export of a month in progress: usage through `day`, no taxes or adjustments.
    pub fn through_day(mut self, day: u32) -> Self {
        self.through_day = Some(day.max(1));
        self
    }

    /// Sets the row count.
    pub fn with_rows(mut self, rows: usize) -> Self {
        self.rows = rows.max(1);
        self
    }

    /// Sets the number of data files.
    pub fn with_files(mut self, files: usize) -> Self {
        self.files = files.max(1);
        self
    }

    /// Sets the number of projects.
    pub fn with_projects(mut self, projects: usize) -> Self {
        self.projects = projects.max(1);
        self
    }

    /// Sets the billing account id.
    pub fn with_billing_account(mut self, id: &str) -> Self {
        self.billing_account = id.to_string();
        self
    }
}

/// Exact expected totals per (billing account, FOCUS charge category), in 10⁻⁶.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcpExpected {
    /// Invoice month `YYYY-MM`.
    pub billing_period: String,
    /// Export rows.
    pub rows: u64,
    /// FOCUS rows: each row, plus one per credit other than a committed use discount's (those
    /// are part of the usage they cover), plus each day's Unused commitment row.
    pub focus_rows: u64,
    /// (billing account, category) → (Σ billed, Σ effective): a commitment's fee is billed as
    /// a Purchase and is effective on the usage it paid for (Usage).
    pub by_account_category: BTreeMap<(String, String), (i128, i128)>,
    /// Rows whose usage started before the invoice month.
    pub late_rows: u64,
}

impl GcpExpected {
    /// Net cost (Σ cost + Σ credits) as decimal text.
    pub fn net_total(&self) -> String {
        crate::format_scaled(self.by_account_category.values().map(|v| v.0).sum(), SCALE)
    }
}

/// The written export.
#[derive(Debug, Clone)]
pub struct GcpDelivery {
    /// The folder of the export's files.
    pub dir: PathBuf,
    /// Data files.
    pub files: Vec<PathBuf>,
    /// Exact expected totals.
    pub expected: GcpExpected,
}

struct Sku {
    service_id: &'static str,
    service: &'static str,
    sku_id: &'static str,
    sku: &'static str,
    /// Usage in an hour at the smallest size, in the export's unit.
    usage: i128,
    unit: &'static str,
    /// The same usage in pricing units, 10⁻⁶.
    pricing: i128,
    pricing_unit: &'static str,
    /// List price per pricing unit, 10⁻⁶.
    price: i128,
    resource: &'static str,
    /// Earns sustained use discounts.
    sustained: bool,
}

const GIB: i128 = 1 << 30;

const CORE_SKU: &str = "N2 Instance Core running in Americas";
const RAM_SKU: &str = "N2 Instance Ram running in Americas";
const CPU_FEE_SKU: &str = "Commitment v1: N2 Cpu in Americas for 1 Year";
const RAM_FEE_SKU: &str = "Commitment v1: N2 Ram in Americas for 1 Year";
/// 1-year commitment prices per vCPU-hour and GiB-hour, 10⁻⁶ (37% under on-demand).
const CPU_FEE_PRICE: i128 = 19_915;
const RAM_FEE_PRICE: i128 = 2_669;

const SKUS: &[Sku] = &[
    Sku {
        service_id: "6F81-5844-456A",
        service: "Compute Engine",
        sku_id: "CF4E-A0C7-E3BF",
        sku: "N2 Instance Core running in Americas",
        usage: 3600,
        unit: "seconds",
        pricing: 1_000_000,
        pricing_unit: "hour",
        price: 31_611,
        resource: "instances",
        sustained: true,
    },
    Sku {
        service_id: "6F81-5844-456A",
        service: "Compute Engine",
        sku_id: "F449-33EC-A5EF",
        sku: "N2 Instance Ram running in Americas",
        usage: 4 * GIB * 3600,
        unit: "byte-seconds",
        pricing: 4_000_000,
        pricing_unit: "gibibyte hour",
        price: 4_237,
        resource: "instances",
        sustained: true,
    },
    Sku {
        service_id: "6F81-5844-456A",
        service: "Compute Engine",
        sku_id: "D973-5D65-BAB2",
        sku: "Storage PD Capacity",
        usage: 100 * GIB * 3600,
        unit: "byte-seconds",
        pricing: 136_986,
        pricing_unit: "gibibyte month",
        price: 40_000,
        resource: "disks",
        sustained: false,
    },
    Sku {
        service_id: "95FF-2EF5-5EA1",
        service: "Cloud Storage",
        sku_id: "E5F0-6A5D-7BAD",
        sku: "Standard Storage US Multi-region",
        usage: 500 * GIB * 3600,
        unit: "byte-seconds",
        pricing: 684_931,
        pricing_unit: "gibibyte month",
        price: 26_000,
        resource: "buckets",
        sustained: false,
    },
    Sku {
        service_id: "9662-B51E-5089",
        service: "Cloud SQL",
        sku_id: "8A9D-C6B8-9C05",
        sku: "Cloud SQL for PostgreSQL: Zonal - vCPU in Americas",
        usage: 2 * 3600,
        unit: "seconds",
        pricing: 2_000_000,
        pricing_unit: "hour",
        price: 41_300,
        resource: "instances",
        sustained: false,
    },
    Sku {
        service_id: "CCD8-9BF1-090E",
        service: "Kubernetes Engine",
        sku_id: "B561-BFBD-1264",
        sku: "Regional Kubernetes Clusters",
        usage: 3600,
        unit: "seconds",
        pricing: 1_000_000,
        pricing_unit: "hour",
        price: 100_000,
        resource: "clusters",
        sustained: false,
    },
    Sku {
        service_id: "24E6-581D-38E5",
        service: "BigQuery",
        sku_id: "3362-E469-6BEF",
        sku: "Analysis",
        usage: 10_995_116_278,
        unit: "bytes",
        pricing: 10_000,
        pricing_unit: "tebibyte",
        price: 6_250_000,
        resource: "",
        sustained: false,
    },
    Sku {
        service_id: "E505-1604-58F8",
        service: "Networking",
        sku_id: "9DE9-9092-B3BC",
        sku: "Network Internet Egress from Americas to Americas",
        usage: 2 * GIB,
        unit: "bytes",
        pricing: 2_000_000,
        pricing_unit: "gibibyte",
        price: 120_000,
        resource: "",
        sustained: false,
    },
    Sku {
        service_id: "152E-C115-5142",
        service: "Cloud Run",
        sku_id: "6F2C-9A6E-3C33",
        sku: "CPU Allocation Time",
        usage: 900,
        unit: "seconds",
        pricing: 900_000_000,
        pricing_unit: "vCPU-second",
        price: 24,
        resource: "services",
        sustained: false,
    },
    Sku {
        service_id: "5490-F7B7-8DF6",
        service: "Cloud Logging",
        sku_id: "143F-A1B0-E0BE",
        sku: "Log Volume",
        usage: GIB / 20,
        unit: "bytes",
        pricing: 50_000,
        pricing_unit: "gibibyte",
        price: 500_000,
        resource: "",
        sustained: false,
    },
];

const TEAMS: &[&str] = &["web", "data", "platform", "ml", "payments", "search"];
const ENVS: &[&str] = &["prod", "staging", "dev"];
const REGIONS: &[(&str, &str)] = &[
    ("us-central1", "US"),
    ("us-east1", "US"),
    ("europe-west1", "BE"),
];

struct Project {
    id: String,
    number: String,
    name: String,
    labels: String,
}

struct Resource {
    project: usize,
    sku: usize,
    name: String,
    region: usize,
    labels: String,
    /// Quantity multiplier, percent.
    size: i128,
}

/// Writes one invoice month of export rows under `out`.
pub fn write_export(out: &Path, spec: &GcpSpec) -> io::Result<GcpDelivery> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x6C9);
    let first = NaiveDate::from_ymd_opt(spec.year, spec.month, 1).expect("valid month");
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("valid month");
    let hours = spec.through_day.map_or((next - first).num_hours(), |day| {
        (i64::from(day) * 24).min((next - first).num_hours())
    });
    let projects: Vec<Project> = (0..spec.projects)
        .map(|i| {
            let team = TEAMS[i % TEAMS.len()];
            let env = ENVS[(i / TEAMS.len()) % ENVS.len()];
            Project {
                id: format!("{team}-{env}-{}", 100 + i),
                number: format!("{}", rng.random_range(100_000_000_000u64..999_999_999_999)),
                name: format!("{team} {env}"),
                labels: format!(
                    r#"[{{"key":"team","value":"{team}"}},{{"key":"cost-center","value":"CC-{}"}}]"#,
                    1000 + (i % TEAMS.len()) * 10
                ),
            }
        })
        .collect();
    let late_hours = 8usize;
    let resource_count = (spec.rows / (hours as usize + late_hours)).max(1);
    let resources: Vec<Resource> = (0..resource_count)
        .map(|i| {
            let sku = rng.random_range(0..SKUS.len());
            let env = ENVS[rng.random_range(0..ENVS.len())];
            // Realistic gaps: a tenth of resources carry no labels.
            let labels = if rng.random_range(0..10) == 0 {
                "[]".to_string()
            } else {
                format!(
                    r#"[{{"key":"env","value":"{env}"}},{{"key":"app","value":"app-{}"}}]"#,
                    i % 40
                )
            };
            Resource {
                project: rng.random_range(0..projects.len()),
                sku,
                name: format!("{}-{i}", SKUS[sku].resource.trim_end_matches('s')),
                region: rng.random_range(0..REGIONS.len()),
                labels,
                size: i128::from(rng.random_range(1..=16u32)) * 25,
            }
        })
        .collect();

    // Resource-based committed use discounts in the first region: a vCPU commitment exactly as
    // large as the N2 cores of the first half of that region's core VMs (always fully used),
    // and a memory commitment 8 GiB larger than the memory of the first half of its memory
    // VMs (8 GiB-hours unused every hour).
    let committed = |sku_name: &str| -> Vec<usize> {
        let matching: Vec<usize> = resources
            .iter()
            .enumerate()
            .filter(|(_, r)| r.region == 0 && SKUS[r.sku].sku == sku_name)
            .map(|(i, _)| i)
            .collect();
        matching[..matching.len().div_ceil(2)].to_vec()
    };
    let covered_cores = committed(CORE_SKU);
    let covered_memory = committed(RAM_SKU);
    let units = |covered: &[usize]| -> i128 {
        covered
            .iter()
            .map(|&i| SKUS[resources[i].sku].pricing * (resources[i].size / 25))
            .sum()
    };
    let commitments: Vec<(&str, &str, &str, i128, i128)> = [
        (CPU_FEE_SKU, "hour", units(&covered_cores), CPU_FEE_PRICE),
        (
            RAM_FEE_SKU,
            "gibibyte hour",
            units(&covered_memory) + 8_000_000,
            RAM_FEE_PRICE,
        ),
    ]
    .into_iter()
    .filter(|c| c.2 > 0)
    .enumerate()
    .map(|(i, (sku, unit, quantity, price))| {
        let id = if i == 0 {
            "6192831150123"
        } else {
            "6192831150124"
        };
        (sku, unit, id, quantity, quantity * price / 1_000_000)
    })
    .collect();
    let covered: std::collections::HashSet<usize> = covered_cores
        .iter()
        .chain(&covered_memory)
        .copied()
        .collect();

    let dir = out.to_path_buf();
    fs::create_dir_all(&dir)?;
    let mut expected = GcpExpected {
        billing_period: format!("{:04}-{:02}", spec.year, spec.month),
        ..GcpExpected::default()
    };
    let total_rows = (resource_count + commitments.len()) * (hours as usize + late_hours) + 6;
    let per_file = total_rows.div_ceil(spec.files);
    let mut files = Vec::new();
    let mut out_file: Option<BufWriter<GzEncoder<File>>> = None;
    let mut in_file = 0usize;
    let invoice = format!("{:04}{:02}", spec.year, spec.month);
    let export_time = format!("{}T08:17:42.123456Z", next.format("%Y-%m-%d"));
    let mut line = String::with_capacity(2048);
    let mut write_line = |line: &str,
                          files: &mut Vec<PathBuf>,
                          out_file: &mut Option<BufWriter<GzEncoder<File>>>|
     -> io::Result<()> {
        if out_file.is_none() || in_file >= per_file {
            if let Some(w) = out_file.take() {
                w.into_inner().map_err(|e| e.into_error())?.finish()?;
            }
            let path = dir.join(format!(
                "billing-export-{:04}{:02}-{:06}.json.gz",
                spec.year,
                spec.month,
                files.len()
            ));
            *out_file = Some(BufWriter::with_capacity(
                1 << 20,
                GzEncoder::new(File::create(&path)?, Compression::fast()),
            ));
            files.push(path);
            in_file = 0;
        }
        if let Some(w) = out_file.as_mut() {
            w.write_all(line.as_bytes())?;
            w.write_all(b"\n")?;
        }
        in_file += 1;
        Ok(())
    };
    let account = spec.billing_account.as_str();
    let add_amounts = |expected: &mut GcpExpected, category: &str, billed: i128, effective| {
        let e = expected
            .by_account_category
            .entry((account.to_string(), category.to_string()))
            .or_default();
        e.0 += billed;
        e.1 += effective;
    };
    let add = |expected: &mut GcpExpected, category: &str, cost: i128| {
        add_amounts(expected, category, cost, cost);
        expected.focus_rows += 1;
    };
    let (region0, country0) = REGIONS[0];
    let mut days = std::collections::BTreeSet::new();
    // The previous month's last hours first (late usage on this invoice), then the month.
    let start = NaiveDateTime::from(first) - Duration::hours(late_hours as i64);
    for hour in 0..(hours + late_hours as i64) {
        let from = start + Duration::hours(hour);
        let to = from + Duration::hours(1);
        let late = from < NaiveDateTime::from(first);
        days.insert(from.date());
        for (sku, unit, id, quantity, fee) in &commitments {
            line.clear();
            use std::fmt::Write as _;
            let _ = write!(
                line,
                r#"{{"billing_account_id":"{account}","service":{{"id":"6F81-5844-456A","description":"Compute Engine"}},"sku":{{"id":"{skid}","description":"{sku}"}},"usage_start_time":"{from}","usage_end_time":"{to}","project":null,"labels":[],"system_labels":[],"location":{{"location":"{region0}","country":"{country0}","region":"{region0}","zone":null}},"export_time":"{export_time}","cost":{cost},"currency":"USD","currency_conversion_rate":1,"usage":{{"amount":{q},"unit":"{unit}","amount_in_pricing_units":{q},"pricing_unit":"{unit}"}},"credits":[],"invoice":{{"month":"{invoice}","publisher_type":"GOOGLE"}},"cost_type":"regular","adjustment_info":null,"cost_at_list":{cost},"transaction_type":"GOOGLE","seller_name":"Google","subscription":{{"instance_id":"{id}"}}}}"#,
                skid = if unit == &"hour" {
                    "F61D-7A9E-2B61"
                } else {
                    "2C7C-1C62-04E0"
                },
                from = from.format("%Y-%m-%dT%H:%M:%SZ"),
                to = to.format("%Y-%m-%dT%H:%M:%SZ"),
                cost = crate::decimal::float_json(*fee),
                q = crate::format_scaled(*quantity, 6),
            );
            add_amounts(&mut expected, "Purchase", *fee, 0);
            add_amounts(&mut expected, "Usage", 0, *fee);
            expected.focus_rows += 1;
            expected.rows += 1;
            write_line(&line, &mut files, &mut out_file)?;
        }
        for (index, r) in resources.iter().enumerate() {
            let sku = &SKUS[r.sku];
            let project = &projects[r.project];
            let scale = r.size / 25;
            let (amount, pricing_amount) = (sku.usage * scale, sku.pricing * scale);
            // Micros of cost: list price × pricing units, then a 0–20% contract discount.
            let list = (pricing_amount * sku.price / 1_000_000).max(1);
            let cost = list * i128::from(100 - (r.project as u32 % 5) * 5) / 100;
            let mut credits = Vec::new();
            let cud = covered.contains(&index);
            if cud {
                credits.push(("Committed use discount", "COMMITTED_USAGE_DISCOUNT", -cost));
            } else if sku.sustained && rng.random_range(0..3) == 0 {
                credits.push((
                    "Sustained Usage Discount",
                    "SUSTAINED_USAGE_DISCOUNT",
                    -(cost / 5),
                ));
            }
            if rng.random_range(0..40) == 0 {
                credits.push(("Free Tier", "FREE_TIER", -(cost.min(50))));
            }
            if r.project == 0 && rng.random_range(0..10) == 0 {
                credits.push(("FreeTrial:204F-8FC2-43D1", "PROMOTION", -cost));
            }
            let (region, country) = REGIONS[r.region];
            let resource_name = if sku.resource.is_empty() {
                String::new()
            } else {
                format!(
                    r#","resource":{{"name":"{name}","global_name":"//{svc}.googleapis.com/projects/{p}/{kind}/{name}"}}"#,
                    name = r.name,
                    svc = sku.service.to_ascii_lowercase().replace(' ', ""),
                    p = project.number,
                    kind = sku.resource,
                )
            };
            line.clear();
            use std::fmt::Write as _;
            let _ = write!(
                line,
                r#"{{"billing_account_id":"{account}","service":{{"id":"{sid}","description":"{svc}"}},"sku":{{"id":"{skid}","description":"{sku_name}"}},"usage_start_time":"{from}","usage_end_time":"{to}","project":{{"id":"{pid}","number":"{pnum}","name":"{pname}","labels":{plabels},"ancestry_numbers":"/4512009983/{pnum}/"}},"labels":{labels},"system_labels":[],"location":{{"location":"{region}","country":"{country}","region":"{region}","zone":"{region}-b"}}{resource_name},"export_time":"{export_time}","cost":{cost},"currency":"USD","currency_conversion_rate":1,"usage":{{"amount":{amount},"unit":"{unit}","amount_in_pricing_units":{pamount},"pricing_unit":"{punit}"}},"credits":["#,
                sid = sku.service_id,
                svc = sku.service,
                skid = sku.sku_id,
                sku_name = sku.sku,
                from = from.format("%Y-%m-%dT%H:%M:%SZ"),
                to = to.format("%Y-%m-%dT%H:%M:%SZ"),
                pid = project.id,
                pnum = project.number,
                pname = project.name,
                plabels = project.labels,
                labels = r.labels,
                cost = crate::decimal::float_json(cost),
                amount = amount,
                unit = sku.unit,
                pamount = crate::format_scaled(pricing_amount, 6),
                punit = sku.pricing_unit,
            );
            for (i, (name, kind, amount)) in credits.iter().enumerate() {
                let _ = write!(
                    line,
                    r#"{}{{"name":"{name}","amount":{},"full_name":null,"id":"{kind}-{}","type":"{kind}"}}"#,
                    if i == 0 { "" } else { "," },
                    crate::decimal::float_json(*amount),
                    r.sku
                );
                if *kind == "COMMITTED_USAGE_DISCOUNT" {
                    add_amounts(&mut expected, "Usage", *amount, *amount);
                } else {
                    add(&mut expected, "Credit", *amount);
                }
            }
            let _ = write!(
                line,
                r#"],"invoice":{{"month":"{invoice}","publisher_type":"GOOGLE"}},"cost_type":"regular","adjustment_info":null,"cost_at_list":{},"transaction_type":"GOOGLE","seller_name":"Google"}}"#,
                crate::decimal::float_json(list)
            );
            add(&mut expected, "Usage", cost);
            expected.rows += 1;
            if late {
                expected.late_rows += 1;
            }
            write_line(&line, &mut files, &mut out_file)?;
        }
    }
    // The memory commitment's unused 8 GiB-hours make one Unused row a day.
    if commitments.iter().any(|c| c.0 == RAM_FEE_SKU) {
        expected.focus_rows += days.len() as u64;
    }
    // Taxes and adjustments of the invoice month.
    let last_day = NaiveDateTime::from(next) - Duration::hours(1);
    // Sales taxes on the month's net usage (state and local), then adjustments; a month in
    // progress has none yet.
    let net: i128 = expected.by_account_category.values().map(|v| v.0).sum();
    let closing: &[(&str, i128)] = if spec.through_day.is_some() {
        &[]
    } else {
        &[
            ("tax", net * 625 / 10_000),
            ("tax", net * 100 / 10_000),
            ("adjustment", -12_500_000),
            ("adjustment", 3_000_000),
            ("rounding_error", -3),
            ("rounding_error", 4),
        ]
    };
    for (i, &(cost_type, amount)) in closing.iter().enumerate() {
        line.clear();
        let project = &projects[i % projects.len()];
        use std::fmt::Write as _;
        let _ = write!(
            line,
            r#"{{"billing_account_id":"{account}","service":{{"id":"","description":"{svc}"}},"sku":{{"id":"","description":"{sku}"}},"usage_start_time":"{from}","usage_end_time":"{to}","project":{{"id":"{pid}","number":"{pnum}","name":"{pname}","labels":[]}},"labels":[],"system_labels":[],"location":null,"export_time":"{export_time}","cost":{cost},"currency":"USD","currency_conversion_rate":1,"usage":null,"credits":[],"invoice":{{"month":"{invoice}","publisher_type":"GOOGLE"}},"cost_type":"{cost_type}","adjustment_info":null,"cost_at_list":null,"transaction_type":"GOOGLE","seller_name":"Google"}}"#,
            svc = if cost_type == "tax" {
                "Invoice"
            } else {
                "Support"
            },
            sku = if cost_type == "tax" {
                "Sales tax"
            } else {
                "Billing adjustment"
            },
            from = last_day.format("%Y-%m-%dT%H:%M:%SZ"),
            to = (last_day + Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ"),
            pid = project.id,
            pnum = project.number,
            pname = project.name,
            cost = crate::decimal::float_json(amount),
        );
        let category = if cost_type == "tax" {
            "Tax"
        } else {
            "Adjustment"
        };
        add(&mut expected, category, amount);
        expected.rows += 1;
        write_line(&line, &mut files, &mut out_file)?;
    }
    if let Some(w) = out_file.take() {
        w.into_inner().map_err(|e| e.into_error())?.finish()?;
    }
    Ok(GcpDelivery {
        dir,
        files,
        expected,
    })
}
