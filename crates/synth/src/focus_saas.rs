//! FOCUS 1.2 cost files of SaaS vendors that publish their bill in FOCUS: one CSV per month
//! with a row per (workspace, service, day), a monthly platform fee, and the promotional
//! credits vendors hand out. Prices have six decimals and quantities six, so every cost is
//! exact at the lake's 12 places; ListCost and ContractedCost are their unit price times
//! PricingQuantity, as FOCUS requires.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::format_scaled;

/// A vendor's catalogue, as its FOCUS file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaasVendor {
    /// Databricks: DBUs per workspace.
    Databricks,
    /// Confluent Cloud: Kafka clusters, storage, networking and connectors per environment.
    Confluent,
}

struct Offer {
    service: &'static str,
    category: &'static str,
    subcategory: &'static str,
    sku: &'static str,
    unit: &'static str,
    /// List price per unit, 10⁻⁶.
    list_price: i128,
    /// Typical daily quantity, 10⁻⁶.
    daily: i128,
}

impl SaasVendor {
    /// `ProviderName`/`PublisherName`/`InvoiceIssuerName` of its rows.
    pub fn name(self) -> &'static str {
        match self {
            SaasVendor::Databricks => "Databricks",
            SaasVendor::Confluent => "Confluent",
        }
    }

    /// Negotiated discount off list, in percent.
    fn discount_percent(self) -> i128 {
        match self {
            SaasVendor::Databricks => 18,
            SaasVendor::Confluent => 12,
        }
    }

    fn sub_account_type(self) -> &'static str {
        match self {
            SaasVendor::Databricks => "Workspace",
            SaasVendor::Confluent => "Environment",
        }
    }

    fn offers(self) -> &'static [Offer] {
        match self {
            SaasVendor::Databricks => &[
                Offer {
                    service: "Jobs Compute",
                    category: "Analytics",
                    subcategory: "Data Processing",
                    sku: "PREMIUM_JOBS_COMPUTE",
                    unit: "DBU",
                    list_price: 150_000,
                    daily: 900_000_000,
                },
                Offer {
                    service: "All-Purpose Compute",
                    category: "Analytics",
                    subcategory: "Data Processing",
                    sku: "PREMIUM_ALL_PURPOSE_COMPUTE",
                    unit: "DBU",
                    list_price: 550_000,
                    daily: 240_000_000,
                },
                Offer {
                    service: "SQL Warehouse",
                    category: "Analytics",
                    subcategory: "Analytics Platforms",
                    sku: "PREMIUM_SERVERLESS_SQL_COMPUTE",
                    unit: "DBU",
                    list_price: 700_000,
                    daily: 180_000_000,
                },
                Offer {
                    service: "Model Serving",
                    category: "AI and Machine Learning",
                    subcategory: "Generative AI",
                    sku: "PREMIUM_SERVERLESS_REAL_TIME_INFERENCE",
                    unit: "DBU",
                    list_price: 70_000,
                    daily: 600_000_000,
                },
                Offer {
                    service: "Delta Live Tables",
                    category: "Analytics",
                    subcategory: "Data Processing",
                    sku: "PREMIUM_DLT_ADVANCED_COMPUTE",
                    unit: "DBU",
                    list_price: 360_000,
                    daily: 150_000_000,
                },
            ],
            SaasVendor::Confluent => &[
                Offer {
                    service: "Kafka Cluster",
                    category: "Integration",
                    subcategory: "Messaging",
                    sku: "KAFKA_DEDICATED_CKU",
                    unit: "CKU-Hours",
                    list_price: 2_250_000,
                    daily: 48_000_000,
                },
                Offer {
                    service: "Kafka Storage",
                    category: "Storage",
                    subcategory: "Object Storage",
                    sku: "KAFKA_STORAGE",
                    unit: "GB-Hours",
                    list_price: 140,
                    daily: 96_000_000_000,
                },
                Offer {
                    service: "Kafka Networking",
                    category: "Networking",
                    subcategory: "Network Connectivity",
                    sku: "KAFKA_NETWORK_WRITE",
                    unit: "GB",
                    list_price: 50_000,
                    daily: 1_800_000_000,
                },
                Offer {
                    service: "Connectors",
                    category: "Integration",
                    subcategory: "Workflow Orchestration",
                    sku: "CONNECT_CAPACITY",
                    unit: "Task-Hours",
                    list_price: 34_000,
                    daily: 240_000_000,
                },
            ],
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SaasFocusSpec {
    /// The vendor.
    pub vendor: SaasVendor,
    /// RNG seed.
    pub seed: u64,
    /// Billing period year.
    pub year: i32,
    /// Billing period month.
    pub month: u32,
    /// Workspaces or environments.
    pub sub_accounts: usize,
    /// Usage only through this day (a month in progress); `None`: the month.
    pub through_day: Option<u32>,
}

impl SaasFocusSpec {
    /// A month of `vendor` with four workspaces or environments.
    pub fn new(vendor: SaasVendor, seed: u64, year: i32, month: u32) -> Self {
        SaasFocusSpec {
            vendor,
            seed,
            year,
            month,
            sub_accounts: 4,
            through_day: None,
        }
    }

    /// A month in progress: usage through `day`.
    pub fn through_day(mut self, day: u32) -> Self {
        self.through_day = Some(day.max(1));
        self
    }

    /// The vendor account billed.
    pub fn billing_account(&self) -> String {
        match self.vendor {
            SaasVendor::Databricks => format!("acct-{:08x}", self.seed.wrapping_mul(0x9e37)),
            SaasVendor::Confluent => format!("org-{:06}", self.seed % 1_000_000),
        }
    }
}

/// Exact expected totals of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaasFocusExpected {
    /// Billing period `YYYY-MM`.
    pub billing_period: String,
    /// Data rows.
    pub rows: u64,
    /// (billing account, charge category) → (Σ BilledCost, Σ EffectiveCost), in 10⁻¹².
    pub by_account_category: BTreeMap<(String, String), (i128, i128)>,
}

/// The written file.
#[derive(Debug, Clone)]
pub struct SaasFocusFile {
    /// Its path.
    pub path: PathBuf,
    /// Exact expected totals.
    pub expected: SaasFocusExpected,
}

const HEADER: &str = "BilledCost,BillingAccountId,BillingAccountName,BillingAccountType,BillingCurrency,BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargeClass,ChargeDescription,ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,ConsumedQuantity,ConsumedUnit,ContractedCost,ContractedUnitPrice,EffectiveCost,InvoiceIssuerName,ListCost,ListUnitPrice,PricingCategory,PricingQuantity,PricingUnit,ProviderName,PublisherName,RegionId,RegionName,ResourceId,ResourceName,ResourceType,ServiceCategory,ServiceName,ServiceSubcategory,SkuId,SkuPriceId,SubAccountId,SubAccountName,SubAccountType,Tags";

const TEAMS: &[&str] = &["data", "ml", "platform", "search"];
const ENVS: &[&str] = &["prod", "staging", "dev"];

fn csv_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Writes the month's FOCUS file as `<out>/<vendor>-focus-<yyyy-mm>.csv`.
pub fn write_focus_file(out: &Path, spec: &SaasFocusSpec) -> io::Result<SaasFocusFile> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0xF0C5);
    fs::create_dir_all(out)?;
    let vendor = spec.vendor;
    let first = NaiveDate::from_ymd_opt(spec.year, spec.month, 1)
        .ok_or_else(|| io::Error::other("not a month"))?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| io::Error::other("not a month"))?;
    let days = (next - first).num_days() as u32;
    let usage_days = spec.through_day.map_or(days, |d| d.min(days));
    let stamp = |d: NaiveDate| format!("{}T00:00:00Z", d.format("%Y-%m-%d"));
    let account = spec.billing_account();
    let account_name = format!("Contoso on {}", vendor.name());
    let period = (stamp(first), stamp(next));
    let subs: Vec<(String, String, String)> = (0..spec.sub_accounts)
        .map(|i| {
            let team = TEAMS[i % TEAMS.len()];
            let env = ENVS[i % ENVS.len()];
            let id = match vendor {
                SaasVendor::Databricks => {
                    format!("{}", 1_000_000_000_000u64 + spec.seed * 1_000 + i as u64)
                }
                SaasVendor::Confluent => format!("env-{:05x}", spec.seed * 100 + i as u64),
            };
            let tags = if i % 5 == 4 {
                // A workspace someone forgot to tag.
                String::new()
            } else {
                csv_quote(&format!(
                    "{{\"team\":\"{team}\",\"env\":\"{env}\",\"cost-center\":\"CC-{}\"}}",
                    1000 + (i % TEAMS.len()) * 10
                ))
            };
            (id, format!("{team}-{env}"), tags)
        })
        .collect();
    let mut expected = SaasFocusExpected {
        billing_period: format!("{:04}-{:02}", spec.year, spec.month),
        ..SaasFocusExpected::default()
    };
    let mut text = String::with_capacity(256 * 1024);
    text.push_str(HEADER);
    text.push('\n');
    let add = |category: &str, billed: i128, effective: i128, expected: &mut SaasFocusExpected| {
        let g = expected
            .by_account_category
            .entry((account.clone(), category.to_string()))
            .or_default();
        g.0 += billed;
        g.1 += effective;
        expected.rows += 1;
    };
    let region = match vendor {
        SaasVendor::Databricks => ("us-east-1", "US East (N. Virginia)"),
        SaasVendor::Confluent => ("eu-west-1", "EU (Ireland)"),
    };
    for day in 0..usage_days {
        let start = first + Duration::days(i64::from(day));
        let end = start + Duration::days(1);
        for (s, (sub_id, sub_name, tags)) in subs.iter().enumerate() {
            for (o, offer) in vendor.offers().iter().enumerate() {
                // Not every workspace runs every service.
                if (s + o) % 3 == 2 {
                    continue;
                }
                let quantity = offer.daily * rng.random_range(70..=130i128) / 100;
                let contracted_price = offer.list_price * (100 - vendor.discount_percent()) / 100;
                let list_cost = quantity * offer.list_price;
                let cost = quantity * contracted_price;
                let resource = format!("{sub_id}/{}", offer.sku.to_lowercase());
                let _ = writeln!(
                    text,
                    "{cost},{account},{account_name},Organization,USD,{pe},{ps},Usage,,{service} usage,Usage-Based,{ce},{cs},{qty},{unit},{cost},{cprice},{cost},{vendor},{list},{lprice},Committed,{qty},{unit},{vendor},{vendor},{region_id},{region_name},{resource},{resource},{service},{category},{service},{subcategory},{sku},{sku},{sub_id},{sub_name},{stype},{tags}",
                    cost = format_scaled(cost, 12),
                    pe = period.1,
                    ps = period.0,
                    service = offer.service,
                    ce = stamp(end),
                    cs = stamp(start),
                    qty = format_scaled(quantity, 6),
                    unit = offer.unit,
                    cprice = format_scaled(contracted_price, 6),
                    vendor = vendor.name(),
                    list = format_scaled(list_cost, 12),
                    lprice = format_scaled(offer.list_price, 6),
                    region_id = region.0,
                    region_name = region.1,
                    category = offer.category,
                    subcategory = offer.subcategory,
                    sku = offer.sku,
                    stype = vendor.sub_account_type(),
                );
                add("Usage", cost, cost, &mut expected);
            }
        }
    }
    // The platform fee of the month, billed on the first, and a promotional credit.
    let fee: i128 = match vendor {
        SaasVendor::Databricks => 1_500_000_000_000_000,
        SaasVendor::Confluent => 850_000_000_000_000,
    };
    let _ = writeln!(
        text,
        "{fee},{account},{account_name},Organization,USD,{pe},{ps},Purchase,,Platform subscription,Recurring,{pe},{ps},1,Subscription,{fee},{fee},{fee},{vendor},{fee},{fee},Standard,1,Subscription,{vendor},{vendor},,,,,,Other,Platform,Other (Other),PLATFORM_FEE,PLATFORM_FEE,,,,",
        fee = format_scaled(fee, 12),
        pe = period.1,
        ps = period.0,
        vendor = vendor.name(),
    );
    add("Purchase", fee, fee, &mut expected);
    let credit = -(fee / 5 + i128::from(rng.random_range(0..100_000u32)) * 1_000_000_000);
    let _ = writeln!(
        text,
        "{credit},{account},{account_name},Organization,USD,{pe},{ps},Credit,,Promotional credit,One-Time,{pe},{ps},,,0,,{credit},{vendor},0,,,,,{vendor},{vendor},,,,,,Other,Platform,Other (Other),,,,,,",
        credit = format_scaled(credit, 12),
        pe = period.1,
        ps = period.0,
        vendor = vendor.name(),
    );
    add("Credit", credit, credit, &mut expected);
    let path = out.join(format!(
        "{}-focus-{:04}-{:02}.csv",
        vendor.name().to_lowercase(),
        spec.year,
        spec.month
    ));
    fs::write(&path, text)?;
    Ok(SaasFocusFile { path, expected })
}
