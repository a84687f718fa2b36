//! AWS CUR 1 deliveries in the versioned S3 layout.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::decimal::{format_scientific, format_units};
use crate::parquet_out::ParquetOut;

/// What to generate.
#[derive(Debug, Clone)]
pub struct CurSpec {
    /// Seed: same seed, same bytes.
    pub seed: u64,
    /// Billing period year.
    pub year: i32,
    /// Billing period month (1–12).
    pub month: u32,
    /// Data rows in the delivery.
    pub rows: usize,
    /// Data files the rows are spread over.
    pub files: usize,
    /// Payer (management) accounts.
    pub payers: usize,
    /// Linked accounts per payer.
    pub linked_per_payer: usize,
    /// Report name.
    pub report_name: String,
    /// S3 prefix the report sits under.
    pub prefix: String,
    /// Export revision: 0 is the first delivery of the month; higher numbers restate it
    /// (late credits and refunds, re-rated usage), as AWS does with "refresh closed months".
    pub revision: u32,
    /// Write CUR 2.0 (Data Exports) column spelling instead of CUR 1.
    pub cur2: bool,
    /// Write Parquet (CUR 2.0 spelling and types) instead of gzip CSV.
    pub parquet: bool,
    /// Usage only through this day of the month (a month-to-date delivery, as AWS writes
    /// several times a day); `None`: the whole month.
    pub through_day: Option<u32>,
    /// A planted anomaly, if any.
    pub spike: Option<CurSpike>,
}

/// A planted cost anomaly: for a few days, a share of the hourly usage rows becomes GPU
/// instance hours in one linked account (a training job left running, an autoscaling group
/// gone wild), on top of that account's usual spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurSpike {
    /// Index of the linked account (in the first payer's family, 0 is the payer itself).
    pub linked_account: usize,
    /// First day of the month (1-based) with the spike.
    pub first_day: u32,
    /// Days it lasts.
    pub days: u32,
    /// Percent of the window's hourly usage rows that go to the spike.
    pub share_percent: u32,
}

/// What the spike runs: GPU instances.
const SPIKE_SERVICE: Service = Service {
    code: "AmazonEC2",
    name: "Amazon Elastic Compute Cloud",
    usage_type: "BoxUsage:p4d.24xlarge",
    operation: "RunInstances",
    family: "Compute Instance",
    unit: "Hrs",
    rate: 327_726_000_000,
    resource: "i-",
};

impl CurSpec {
    /// A month with 2 payers of 12 linked accounts each, 5,000 rows in 2 files.
    pub fn new(seed: u64, year: i32, month: u32) -> Self {
        CurSpec {
            seed,
            year,
            month,
            rows: 5_000,
            files: 2,
            payers: 2,
            linked_per_payer: 12,
            report_name: "billow-cur".into(),
            prefix: "cur".into(),
            revision: 0,
            cur2: false,
            parquet: false,
            through_day: None,
            spike: None,
        }
    }

    /// Plants an anomaly: from `first_day` for `days` days, `share_percent` % of the hourly
    /// usage rows are GPU instance hours in linked account `linked_account` of the first payer.
    pub fn with_spike(
        mut self,
        linked_account: usize,
        first_day: u32,
        days: u32,
        share_percent: u32,
    ) -> Self {
        self.spike = Some(CurSpike {
            linked_account,
            first_day: first_day.max(1),
            days,
            share_percent: share_percent.min(100),
        });
        self
    }

    /// A month-to-date delivery: usage only through `day` (the rows are spread over those
    /// days; monthly fees and the month's manifest stay as AWS writes them).
    pub fn through_day(mut self, day: u32) -> Self {
        self.through_day = Some(day.max(1));
        self
    }

    /// Writes CUR 2.0 Parquet files (implies [`CurSpec::with_cur2`]): money as `double`,
    /// dates as `timestamp[ms]`, `product` and `resource_tags` as maps, as AWS delivers them.
    pub fn with_parquet(mut self) -> Self {
        self.cur2 = true;
        self.parquet = true;
        self
    }

    /// Writes the same data in CUR 2.0 spelling: snake_case columns, with the product
    /// attributes CUR 2.0 does not keep as columns in a `product` JSON map and the tags in a
    /// `resource_tags` JSON map. The files still sit in the CUR 1 folder layout.
    pub fn with_cur2(mut self) -> Self {
        self.cur2 = true;
        self
    }

    /// Sets the number of rows.
    pub fn with_rows(mut self, rows: usize) -> Self {
        self.rows = rows;
        self
    }

    /// Sets the number of files.
    pub fn with_files(mut self, files: usize) -> Self {
        self.files = files.max(1);
        self
    }

    /// Sets payers and linked accounts per payer.
    pub fn with_accounts(mut self, payers: usize, linked_per_payer: usize) -> Self {
        self.payers = payers.max(1);
        self.linked_per_payer = linked_per_payer.max(1);
        self
    }

    /// Sets the revision (0 = first delivery, 1+ = restatements).
    pub fn with_revision(mut self, revision: u32) -> Self {
        self.revision = revision;
        self
    }

    /// Sets the report name and prefix.
    pub fn with_report(mut self, prefix: &str, report_name: &str) -> Self {
        self.prefix = prefix.into();
        self.report_name = report_name.into();
        self
    }

    fn period_start(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    fn period_end(&self) -> NaiveDate {
        let s = self.period_start();
        if s.month() == 12 {
            NaiveDate::from_ymd_opt(s.year() + 1, 1, 1).unwrap_or_default()
        } else {
            NaiveDate::from_ymd_opt(s.year(), s.month() + 1, 1).unwrap_or_default()
        }
    }

    /// `yyyymmdd-yyyymmdd` folder name of the period.
    pub fn period_folder(&self) -> String {
        format!(
            "{}-{}",
            self.period_start().format("%Y%m%d"),
            self.period_end().format("%Y%m%d")
        )
    }

    /// The assembly id of this revision (deterministic).
    pub fn assembly_id(&self) -> String {
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed ^ 0xA55E_4B1D ^ u64::from(self.revision) << 32);
        let b: [u8; 16] = rng.random();
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_be_bytes([b[4], b[5]]),
            u16::from_be_bytes([b[6], b[7]]) & 0xfff,
            u16::from_be_bytes([b[8], b[9]]) & 0xfff,
            u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
        )
    }
}

/// Exact expected totals, in units of 10⁻¹⁰ (CUR's precision), computed by the generator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Expected {
    /// Billing period `YYYY-MM`.
    pub billing_period: String,
    /// Data rows in the source files.
    pub rows: u64,
    /// FOCUS rows they become: a commitment fee with an unused part becomes two rows (the
    /// purchase, and a Usage row with CommitmentDiscountStatus Unused).
    pub focus_rows: u64,
    /// (payer, FOCUS charge category) → (billed, effective).
    pub by_account_category: BTreeMap<(String, String), (i128, i128)>,
    /// (payer, FOCUS charge category, `YYYY-MM-DD` of the charge period start) → (billed, effective).
    pub by_day: BTreeMap<(String, String, String), (i128, i128)>,
    /// AWS line item type → rows.
    pub line_item_types: BTreeMap<String, u64>,
    /// Linked accounts that appear.
    pub linked_accounts: u64,
}

impl Expected {
    /// Σ billed over everything, as decimal text.
    pub fn total_billed(&self) -> String {
        format_units(self.by_account_category.values().map(|v| v.0).sum())
    }

    /// Σ effective over everything, as decimal text.
    pub fn total_effective(&self) -> String {
        format_units(self.by_account_category.values().map(|v| v.1).sum())
    }

    /// The totals as JSON, with decimal text values.
    pub fn to_json(&self) -> serde_json::Value {
        let groups: Vec<_> = self
            .by_account_category
            .iter()
            .map(|((a, c), (b, e))| serde_json::json!({"billing_account_id": a, "charge_category": c, "billed": format_units(*b), "effective": format_units(*e)}))
            .collect();
        let days: Vec<_> = self
            .by_day
            .iter()
            .map(|((a, c, d), (b, e))| serde_json::json!({"billing_account_id": a, "charge_category": c, "day": d, "billed": format_units(*b), "effective": format_units(*e)}))
            .collect();
        serde_json::json!({
            "billing_period": self.billing_period,
            "rows": self.rows,
            "focus_rows": self.focus_rows,
            "total_billed": self.total_billed(),
            "total_effective": self.total_effective(),
            "by_account_category": groups,
            "by_day": days,
            "line_item_types": self.line_item_types,
        })
    }
}

/// A written delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The report folder (`<out>/<prefix>/<report>`), what a user points Billow at.
    pub report_dir: PathBuf,
    /// The period folder.
    pub period_dir: PathBuf,
    /// The assembly id.
    pub assembly_id: String,
    /// Data files.
    pub files: Vec<PathBuf>,
    /// Exact expected totals.
    pub expected: Expected,
}

const HEADER: &[&str] = &[
    "identity/LineItemId",
    "identity/TimeInterval",
    "bill/InvoiceId",
    "bill/InvoicingEntity",
    "bill/BillingEntity",
    "bill/BillType",
    "bill/PayerAccountId",
    "bill/BillingPeriodStartDate",
    "bill/BillingPeriodEndDate",
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/ProductCode",
    "lineItem/UsageType",
    "lineItem/Operation",
    "lineItem/AvailabilityZone",
    "lineItem/ResourceId",
    "lineItem/UsageAmount",
    "lineItem/NormalizationFactor",
    "lineItem/NormalizedUsageAmount",
    "lineItem/CurrencyCode",
    "lineItem/UnblendedRate",
    "lineItem/UnblendedCost",
    "lineItem/BlendedRate",
    "lineItem/BlendedCost",
    "lineItem/LineItemDescription",
    "lineItem/TaxType",
    "lineItem/LegalEntity",
    "product/ProductName",
    "product/availability",
    "product/capacitystatus",
    "product/clockSpeed",
    "product/currentGeneration",
    "product/databaseEngine",
    "product/dedicatedEbsThroughput",
    "product/deploymentOption",
    "product/description",
    "product/durability",
    "product/ecu",
    "product/enhancedNetworkingSupported",
    "product/feeCode",
    "product/feeDescription",
    "product/fromLocation",
    "product/fromLocationType",
    "product/fromRegionCode",
    "product/group",
    "product/groupDescription",
    "product/instanceFamily",
    "product/instanceType",
    "product/instanceTypeFamily",
    "product/intelAvx2Available",
    "product/intelAvxAvailable",
    "product/intelTurboAvailable",
    "product/licenseModel",
    "product/location",
    "product/locationType",
    "product/marketoption",
    "product/maxIopsvolume",
    "product/maxThroughputvolume",
    "product/maxVolumeSize",
    "product/memory",
    "product/networkPerformance",
    "product/normalizationSizeFactor",
    "product/operatingSystem",
    "product/operation",
    "product/physicalProcessor",
    "product/preInstalledSw",
    "product/processorArchitecture",
    "product/processorFeatures",
    "product/productFamily",
    "product/region",
    "product/regionCode",
    "product/servicecode",
    "product/servicename",
    "product/sku",
    "product/storage",
    "product/storageClass",
    "product/storageMedia",
    "product/tenancy",
    "product/toLocation",
    "product/toLocationType",
    "product/toRegionCode",
    "product/transferType",
    "product/usagetype",
    "product/vcpu",
    "product/version",
    "product/volumeApiName",
    "product/volumeType",
    "pricing/LeaseContractLength",
    "pricing/OfferingClass",
    "pricing/PurchaseOption",
    "pricing/RateCode",
    "pricing/RateId",
    "pricing/currency",
    "pricing/publicOnDemandCost",
    "pricing/publicOnDemandRate",
    "pricing/term",
    "pricing/unit",
    "reservation/AmortizedUpfrontCostForUsage",
    "reservation/AmortizedUpfrontFeeForBillingPeriod",
    "reservation/EffectiveCost",
    "reservation/EndTime",
    "reservation/ModificationStatus",
    "reservation/NormalizedUnitsPerReservation",
    "reservation/NumberOfReservations",
    "reservation/RecurringFeeForUsage",
    "reservation/ReservationARN",
    "reservation/StartTime",
    "reservation/SubscriptionId",
    "reservation/TotalReservedNormalizedUnits",
    "reservation/TotalReservedUnits",
    "reservation/UnitsPerReservation",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedNormalizedUnitQuantity",
    "reservation/UnusedQuantity",
    "reservation/UnusedRecurringFee",
    "reservation/UpfrontValue",
    "savingsPlan/AmortizedUpfrontCommitmentForBillingPeriod",
    "savingsPlan/EndTime",
    "savingsPlan/OfferingType",
    "savingsPlan/PaymentOption",
    "savingsPlan/PurchaseTerm",
    "savingsPlan/RecurringCommitmentForBillingPeriod",
    "savingsPlan/Region",
    "savingsPlan/SavingsPlanARN",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/SavingsPlanRate",
    "savingsPlan/StartTime",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
    "resourceTags/aws:createdBy",
    "resourceTags/user:team",
    "resourceTags/user:env",
    "resourceTags/user:cost-center",
];

struct Service {
    code: &'static str,
    name: &'static str,
    usage_type: &'static str,
    operation: &'static str,
    family: &'static str,
    unit: &'static str,
    /// on-demand rate in 10⁻¹⁰ units
    rate: i128,
    resource: &'static str,
}

const SERVICES: &[Service] = &[
    Service {
        code: "AmazonEC2",
        name: "Amazon Elastic Compute Cloud",
        usage_type: "BoxUsage:m5.large",
        operation: "RunInstances",
        family: "Compute Instance",
        unit: "Hrs",
        rate: 960_000_000,
        resource: "i-",
    },
    Service {
        code: "AmazonEC2",
        name: "Amazon Elastic Compute Cloud",
        usage_type: "EBS:VolumeUsage.gp3",
        operation: "CreateVolume-Gp3",
        family: "Storage",
        unit: "GB-Mo",
        rate: 800_000_000,
        resource: "vol-",
    },
    Service {
        code: "AmazonS3",
        name: "Amazon Simple Storage Service",
        usage_type: "TimedStorage-ByteHrs",
        operation: "StandardStorage",
        family: "Storage",
        unit: "GB-Mo",
        rate: 230_000_000,
        resource: "bucket-",
    },
    Service {
        code: "AmazonRDS",
        name: "Amazon Relational Database Service",
        usage_type: "InstanceUsage:db.r5.large",
        operation: "CreateDBInstance:0014",
        family: "Database Instance",
        unit: "Hrs",
        rate: 2_500_000_000,
        resource: "db-",
    },
    Service {
        code: "AWSLambda",
        name: "AWS Lambda",
        usage_type: "Lambda-GB-Second",
        operation: "Invoke",
        family: "Serverless",
        unit: "Lambda-GB-Second",
        rate: 166_667,
        resource: "fn-",
    },
    Service {
        code: "AmazonCloudFront",
        name: "Amazon CloudFront",
        usage_type: "DataTransfer-Out-Bytes",
        operation: "GET",
        family: "Data Transfer",
        unit: "GB",
        rate: 850_000_000,
        resource: "dist-",
    },
    Service {
        code: "AmazonDynamoDB",
        name: "Amazon DynamoDB",
        usage_type: "ReadCapacityUnit-Hrs",
        operation: "CommittedThroughput",
        family: "Provisioned IOPS",
        unit: "ReadCapacityUnit-Hrs",
        rate: 1_300_000,
        resource: "table-",
    },
    Service {
        code: "AmazonCloudWatch",
        name: "AmazonCloudWatch",
        usage_type: "CW:MetricMonitorUsage",
        operation: "MetricStorage",
        family: "Metric",
        unit: "Metrics",
        rate: 3_000_000_000,
        resource: "",
    },
    Service {
        code: "AmazonEKS",
        name: "Amazon Elastic Container Service for Kubernetes",
        usage_type: "AmazonEKS-Hours:perCluster",
        operation: "CreateOperation",
        family: "Compute",
        unit: "Hours",
        rate: 1_000_000_000,
        resource: "cluster-",
    },
];

const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "US East (N. Virginia)"),
    ("us-west-2", "US West (Oregon)"),
    ("eu-west-1", "EU (Ireland)"),
    ("eu-central-1", "EU (Frankfurt)"),
    ("ap-southeast-2", "Asia Pacific (Sydney)"),
];
const TEAMS: &[&str] = &["checkout", "search", "platform", "data", "ml", "web"];
const ENVS: &[&str] = &["prod", "staging", "dev"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lit {
    Usage,
    DiscountedUsage,
    SpCovered,
    SpNegation,
    SpRecurringFee,
    SpUpfrontFee,
    RiFee,
    RiUpfrontFee,
    SupportFee,
    Tax,
    Credit,
    Refund,
    EdpDiscount,
}

impl Lit {
    fn aws_name(self) -> &'static str {
        match self {
            Lit::Usage => "Usage",
            Lit::DiscountedUsage => "DiscountedUsage",
            Lit::SpCovered => "SavingsPlanCoveredUsage",
            Lit::SpNegation => "SavingsPlanNegation",
            Lit::SpRecurringFee => "SavingsPlanRecurringFee",
            Lit::SpUpfrontFee => "SavingsPlanUpfrontFee",
            Lit::RiFee => "RIFee",
            Lit::RiUpfrontFee | Lit::SupportFee => "Fee",
            Lit::Tax => "Tax",
            Lit::Credit => "Credit",
            Lit::Refund => "Refund",
            Lit::EdpDiscount => "EdpDiscount",
        }
    }

    /// FOCUS ChargeCategory, as the FOCUS 1.2 spec defines it for these charges.
    fn focus_category(self) -> &'static str {
        match self {
            Lit::Usage | Lit::DiscountedUsage | Lit::SpCovered | Lit::SpNegation => "Usage",
            Lit::SpRecurringFee
            | Lit::SpUpfrontFee
            | Lit::RiFee
            | Lit::RiUpfrontFee
            | Lit::SupportFee => "Purchase",
            Lit::Tax => "Tax",
            Lit::Credit | Lit::EdpDiscount => "Credit",
            Lit::Refund => "Adjustment",
        }
    }
}

struct Row {
    cells: Vec<String>,
}

struct Ctx<'a> {
    spec: &'a CurSpec,
    col: BTreeMap<&'static str, usize>,
    payers: Vec<String>,
    linked: Vec<Vec<String>>,
    hours: i64,
    /// Hours that carry usage (the month, or through [`CurSpec::through_day`]).
    usage_hours: i64,
}

/// Writes one delivery of `spec` under `out` in the versioned layout and returns its totals.
/// Later revisions of the same month go into a new assembly folder and rewrite the period
/// manifest, exactly as AWS does.
pub fn write_delivery(out: &Path, spec: &CurSpec) -> io::Result<Delivery> {
    let report_dir = out.join(&spec.prefix).join(&spec.report_name);
    let period_dir = report_dir.join(spec.period_folder());
    let assembly_id = spec.assembly_id();
    let assembly_dir = period_dir.join(&assembly_id);
    fs::create_dir_all(&assembly_dir)?;
    let col: BTreeMap<&'static str, usize> =
        HEADER.iter().enumerate().map(|(i, h)| (*h, i)).collect();
    let mut account_rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let payers: Vec<String> = (0..spec.payers)
        .map(|_| {
            format!(
                "{:012}",
                account_rng.random_range(1_000_000u64..999_999_999_999)
            )
        })
        .collect();
    let linked: Vec<Vec<String>> = payers
        .iter()
        .map(|p| {
            let mut v = vec![p.clone()];
            v.extend((1..spec.linked_per_payer).map(|_| {
                format!(
                    "{:012}",
                    account_rng.random_range(1_000u64..999_999_999_999)
                )
            }));
            v
        })
        .collect();
    let hours = (spec.period_end() - spec.period_start()).num_hours();
    let usage_hours = spec
        .through_day
        .map_or(hours, |day| (i64::from(day) * 24).min(hours));
    let ctx = Ctx {
        spec,
        col,
        payers,
        linked,
        hours,
        usage_hours,
    };
    // The revision changes the data the way restatements do, but keeps most of it.
    let mut rng = ChaCha8Rng::seed_from_u64(
        spec.seed
            .wrapping_mul(31)
            .wrapping_add(u64::from(spec.revision)),
    );
    let mut expected = Expected {
        billing_period: format!("{:04}-{:02}", spec.year, spec.month),
        ..Expected::default()
    };
    let cur2 = spec.cur2.then(Cur2Layout::new);
    let mut files = Vec::with_capacity(spec.files);
    let mut keys = Vec::with_capacity(spec.files);
    let per_file = spec.rows.div_ceil(spec.files);
    let mut written = 0usize;
    let mut seen_accounts = std::collections::BTreeSet::new();
    for n in 1..=spec.files {
        let extension = if spec.parquet {
            "snappy.parquet"
        } else {
            "csv.gz"
        };
        let name = format!("{}-{n}.{extension}", spec.report_name);
        let path = assembly_dir.join(&name);
        let header: Vec<String> = match &cur2 {
            Some(layout) => layout.header.clone(),
            None => HEADER.iter().map(|h| h.to_string()).collect(),
        };
        let mut out = if spec.parquet {
            Out::Parquet(ParquetOut::create(&path, &header)?)
        } else {
            let file = File::create(&path)?;
            let mut w =
                BufWriter::with_capacity(1 << 20, GzEncoder::new(file, Compression::fast()));
            w.write_all(header.join(",").as_bytes())?;
            w.write_all(b"\n")?;
            Out::Csv(w)
        };
        let target = (written + per_file).min(spec.rows);
        let mut line = String::with_capacity(2048);
        while written < target {
            let rows = generate(&ctx, &mut rng, target - written);
            for (lit, row) in rows {
                let c = &ctx.col;
                let payer = row.cells[c["bill/PayerAccountId"]].clone();
                seen_accounts.insert(row.cells[c["lineItem/UsageAccountId"]].clone());
                let day = row.cells[c["lineItem/UsageStartDate"]][..10].to_string();
                let billed = parse_units(&row.cells[c["lineItem/UnblendedCost"]]);
                let amortized = effective_units(lit, &row, c);
                // FOCUS: a purchase that prepays future charges has EffectiveCost 0; the unused
                // part of the commitment is its own Usage row.
                let (effective, unused) = match lit {
                    Lit::RiFee | Lit::SpRecurringFee => (0, amortized),
                    _ => (amortized, 0),
                };
                let mut add = |cat: &str, b: i128, e: i128| {
                    let g = expected
                        .by_account_category
                        .entry((payer.clone(), cat.to_string()))
                        .or_default();
                    g.0 += b;
                    g.1 += e;
                    let d = expected
                        .by_day
                        .entry((payer.clone(), cat.to_string(), day.clone()))
                        .or_default();
                    d.0 += b;
                    d.1 += e;
                };
                add(lit.focus_category(), billed, effective);
                if unused != 0 {
                    add("Usage", 0, unused);
                    expected.focus_rows += 1;
                }
                expected.focus_rows += 1;
                *expected
                    .line_item_types
                    .entry(lit.aws_name().to_string())
                    .or_default() += 1;
                expected.rows += 1;
                written += 1;
                let cur2_cells;
                let cells = match &cur2 {
                    Some(layout) => {
                        cur2_cells = layout.cells(&row.cells);
                        &cur2_cells
                    }
                    None => &row.cells,
                };
                out.write_row(cells, &mut line)?;
            }
        }
        out.finish()?;
        keys.push(format!(
            "{}/{}/{}/{}/{}",
            spec.prefix,
            spec.report_name,
            spec.period_folder(),
            assembly_id,
            name
        ));
        files.push(path);
    }
    expected.linked_accounts = seen_accounts.len() as u64;
    let manifest = manifest_json(spec, &ctx.payers[0], &assembly_id, &keys);
    let manifest_name = format!("{}-Manifest.json", spec.report_name);
    fs::write(assembly_dir.join(&manifest_name), &manifest)?;
    // The period manifest is the commit point AWS writes last.
    fs::write(period_dir.join(&manifest_name), &manifest)?;
    fs::write(
        assembly_dir.join("expected-totals.json"),
        serde_json::to_vec_pretty(&expected.to_json()).map_err(io::Error::other)?,
    )?;
    Ok(Delivery {
        report_dir,
        period_dir,
        assembly_id,
        files,
        expected,
    })
}

/// Where generated rows go.
enum Out {
    Csv(BufWriter<GzEncoder<File>>),
    Parquet(ParquetOut),
}

impl Out {
    fn write_row(&mut self, cells: &[String], line: &mut String) -> io::Result<()> {
        match self {
            Out::Parquet(p) => p.write_row(cells),
            Out::Csv(w) => {
                line.clear();
                for (i, cell) in cells.iter().enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    if cell.contains([',', '"', '\n']) {
                        line.push('"');
                        line.push_str(&cell.replace('"', "\"\""));
                        line.push('"');
                    } else {
                        line.push_str(cell);
                    }
                }
                line.push('\n');
                w.write_all(line.as_bytes())
            }
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Out::Parquet(p) => p.finish(),
            Out::Csv(w) => {
                w.into_inner().map_err(|e| e.into_error())?.finish()?;
                Ok(())
            }
        }
    }
}

/// The product attributes CUR 2.0 keeps as their own columns (AWS table dictionary,
/// "Product columns"); all others live in the `product` map.
const CUR2_PRODUCT_COLUMNS: [&str; 21] = [
    "product/comment",
    "product/feeCode",
    "product/feeDescription",
    "product/fromLocation",
    "product/fromLocationType",
    "product/fromRegionCode",
    "product/instanceFamily",
    "product/instanceType",
    "product/instanceSKU",
    "product/location",
    "product/locationType",
    "product/operation",
    "product/pricingUnit",
    "product/productFamily",
    "product/regionCode",
    "product/servicecode",
    "product/sku",
    "product/toLocation",
    "product/toLocationType",
    "product/toRegionCode",
    "product/usagetype",
];

/// AWS's snake_case spelling of a CUR 1 name: `lineItem/UnblendedCost` →
/// `line_item_unblended_cost`; in tag keys `:` and `-` become `_` (`user:cost-center` →
/// `user_cost_center`).
fn snake(name: &str) -> String {
    let mut out = String::new();
    let mut previous = '_';
    for ch in name.chars() {
        let mapped = match ch {
            '/' | ':' | '-' | '.' | ' ' => '_',
            c if c.is_ascii_uppercase() => {
                if previous != '_' {
                    out.push('_');
                }
                c.to_ascii_lowercase()
            }
            c => c,
        };
        out.push(mapped);
        previous = mapped;
    }
    out
}

/// How CUR 1 columns become CUR 2.0 columns and map entries.
struct Cur2Layout {
    header: Vec<String>,
    /// Per CUR 1 column: where its value goes.
    targets: Vec<Cur2Target>,
}

enum Cur2Target {
    Column(usize),
    Product(String),
    Tag(String),
}

impl Cur2Layout {
    fn new() -> Self {
        let mut header = Vec::new();
        let mut targets = Vec::new();
        for name in HEADER {
            if let Some(tag) = name.strip_prefix("resourceTags/") {
                targets.push(Cur2Target::Tag(snake(tag)));
            } else if name.starts_with("product/") && !CUR2_PRODUCT_COLUMNS.contains(name) {
                let attribute = snake(name);
                let key = attribute.strip_prefix("product_").unwrap_or(&attribute);
                targets.push(Cur2Target::Product(key.to_string()));
            } else {
                targets.push(Cur2Target::Column(header.len()));
                header.push(snake(name));
            }
        }
        header.push("bill_payer_account_name".into());
        header.push("line_item_usage_account_name".into());
        header.push("product".into());
        header.push("resource_tags".into());
        Cur2Layout { header, targets }
    }

    fn cells(&self, cur1: &[String]) -> Vec<String> {
        let mut out = vec![String::new(); self.header.len()];
        let mut product = serde_json::Map::new();
        let mut tags = serde_json::Map::new();
        for (cell, target) in cur1.iter().zip(&self.targets) {
            match target {
                Cur2Target::Column(i) => out[*i].clone_from(cell),
                Cur2Target::Product(key) if !cell.is_empty() => {
                    product.insert(key.clone(), cell.clone().into());
                }
                Cur2Target::Tag(key) if !cell.is_empty() => {
                    tags.insert(key.clone(), cell.clone().into());
                }
                _ => {}
            }
        }
        let n = self.header.len();
        let payer = self
            .header
            .iter()
            .position(|h| h == "bill_payer_account_id");
        let account = self
            .header
            .iter()
            .position(|h| h == "line_item_usage_account_id");
        if let Some(p) = payer {
            out[n - 4] = format!("Payer {}", out[p]);
        }
        if let Some(a) = account {
            out[n - 3] = format!("Account {}", out[a]);
        }
        out[n - 2] = serde_json::Value::Object(product).to_string();
        out[n - 1] = serde_json::Value::Object(tags).to_string();
        out
    }
}

fn manifest_json(spec: &CurSpec, account: &str, assembly_id: &str, keys: &[String]) -> Vec<u8> {
    let columns: Vec<_> = HEADER
        .iter()
        .map(|h| {
            let (category, name) = h.split_once('/').unwrap_or(("", h));
            let ty = if name.ends_with("Cost") || name.ends_with("Amount") || name.ends_with("Fee")
            {
                "OptionalBigDecimal"
            } else {
                "OptionalString"
            };
            serde_json::json!({"category": category, "name": name, "type": ty})
        })
        .collect();
    let m = serde_json::json!({
        "assemblyId": assembly_id,
        "account": account,
        "columns": columns,
        "charset": "UTF-8",
        "compression": if spec.parquet { "Parquet" } else { "GZIP" },
        "contentType": if spec.parquet { "Parquet" } else { "text/csv" },
        "reportId": format!("{:x}", spec.seed),
        "reportName": spec.report_name,
        "bucket": "billow-synth-bucket",
        "billingPeriod": {
            "start": format!("{}T000000.000Z", spec.period_start().format("%Y%m%d")),
            "end": format!("{}T000000.000Z", spec.period_end().format("%Y%m%d")),
        },
        "reportKeys": keys,
        "additionalArtifactKeys": [],
    });
    serde_json::to_vec_pretty(&m).unwrap_or_default()
}

fn parse_units(text: &str) -> i128 {
    // Generator-written text: plain decimal or d.dddE-n; exact at 10⁻¹⁰.
    if let Some((m, e)) = text.split_once('E') {
        let exp: i32 = e.parse().unwrap_or(0);
        let negative = m.starts_with('-');
        let digits: String = m.chars().filter(char::is_ascii_digit).collect();
        let frac_len = m.split_once('.').map(|(_, f)| f.len() as i32).unwrap_or(0);
        let mut v: i128 = digits.parse().unwrap_or(0);
        let shift = 10 + exp - frac_len;
        if shift >= 0 {
            v *= 10i128.pow(shift as u32);
        } else {
            v /= 10i128.pow((-shift) as u32);
        }
        return if negative { -v } else { v };
    }
    let negative = text.starts_with('-');
    let t = text.trim_start_matches('-');
    let (i, f) = t.split_once('.').unwrap_or((t, ""));
    let mut v: i128 = i.parse::<i128>().unwrap_or(0) * 10_000_000_000;
    if !f.is_empty() {
        let f = format!("{f:0<10}");
        v += f[..10].parse::<i128>().unwrap_or(0);
    }
    if negative { -v } else { v }
}

/// The amortized cost AWS documents for each line item type (the CUR query library's CASE).
fn effective_units(lit: Lit, row: &Row, c: &BTreeMap<&'static str, usize>) -> i128 {
    let v = |name: &str| parse_units(&row.cells[c[name]]);
    match lit {
        Lit::SpCovered => v("savingsPlan/SavingsPlanEffectiveCost"),
        Lit::SpRecurringFee => {
            v("savingsPlan/TotalCommitmentToDate") - v("savingsPlan/UsedCommitment")
        }
        Lit::SpNegation | Lit::SpUpfrontFee | Lit::RiUpfrontFee => 0,
        Lit::DiscountedUsage => v("reservation/EffectiveCost"),
        Lit::RiFee => {
            v("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod")
                + v("reservation/UnusedRecurringFee")
        }
        _ => v("lineItem/UnblendedCost"),
    }
}

fn money(units: i128, rng: &mut ChaCha8Rng) -> String {
    // AWS prints very small amounts in scientific notation now and then.
    if units != 0 && units.abs() < 10_000 && rng.random_bool(0.5) {
        format_scientific(units)
    } else {
        format_units(units)
    }
}

fn hour_text(start: NaiveDate, hour: i64) -> String {
    let t = start.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::hours(hour);
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn line_item_id(rng: &mut ChaCha8Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..52)
        .map(|_| ALPHABET[rng.random_range(0..32)] as char)
        .collect()
}

/// Generates one row, or a pair (covered usage + its negation), never more than `room`.
fn generate(ctx: &Ctx<'_>, rng: &mut ChaCha8Rng, room: usize) -> Vec<(Lit, Row)> {
    let roll: f64 = rng.random();
    let lit = match roll {
        r if r < 0.70 => Lit::Usage,
        r if r < 0.76 => Lit::DiscountedUsage,
        r if r < 0.84 && room >= 2 => Lit::SpCovered,
        r if r < 0.85 => Lit::SpRecurringFee,
        r if r < 0.855 => Lit::SpUpfrontFee,
        r if r < 0.865 => Lit::RiFee,
        r if r < 0.87 => Lit::RiUpfrontFee,
        r if r < 0.875 => Lit::SupportFee,
        r if r < 0.91 => Lit::Tax,
        r if r < 0.93 => Lit::Credit,
        r if r < 0.935 + 0.01 * f64::from(ctx.spec.revision.min(3)) => Lit::Refund,
        r if r < 0.96 => Lit::EdpDiscount,
        _ => Lit::Usage,
    };
    let row = build_row(ctx, rng, lit);
    if lit == Lit::SpCovered {
        let mut neg = Row {
            cells: row.cells.clone(),
        };
        let c = &ctx.col;
        neg.cells[c["identity/LineItemId"]] = line_item_id(rng);
        neg.cells[c["lineItem/LineItemType"]] = "SavingsPlanNegation".into();
        let cost = parse_units(&row.cells[c["lineItem/UnblendedCost"]]);
        neg.cells[c["lineItem/UnblendedCost"]] = format_units(-cost);
        neg.cells[c["lineItem/BlendedCost"]] = format_units(-cost);
        neg.cells[c["lineItem/UnblendedRate"]] =
            format_units(-parse_units(&row.cells[c["lineItem/UnblendedRate"]]));
        neg.cells[c["pricing/publicOnDemandCost"]] = "0.0".into();
        neg.cells[c["pricing/publicOnDemandRate"]] = "0.0".into();
        neg.cells[c["savingsPlan/SavingsPlanEffectiveCost"]] = String::new();
        neg.cells[c["lineItem/LineItemDescription"]] =
            "SavingsPlanNegation used by AccountId".into();
        return vec![(lit, row), (Lit::SpNegation, neg)];
    }
    vec![(lit, row)]
}

fn build_row(ctx: &Ctx<'_>, rng: &mut ChaCha8Rng, lit: Lit) -> Row {
    let spec = ctx.spec;
    let c = &ctx.col;
    let mut cells = vec![String::new(); HEADER.len()];
    let mut set = |name: &str, v: String| cells[c[name]] = v;
    let mut p = rng.random_range(0..ctx.payers.len());
    let mut account = &ctx.linked[p][rng.random_range(0..ctx.linked[p].len())];
    let start = spec.period_start();
    let hourly = matches!(
        lit,
        Lit::Usage | Lit::DiscountedUsage | Lit::SpCovered | Lit::SpRecurringFee | Lit::EdpDiscount
    );
    let mut spiking = false;
    let (from, to) = if hourly {
        let h = rng.random_range(0..ctx.usage_hours);
        if let Some(s) = &spec.spike {
            let day = (h / 24) as u32 + 1;
            spiking = lit == Lit::Usage
                && (s.first_day..s.first_day + s.days).contains(&day)
                && rng.random_range(0..100) < s.share_percent;
            if spiking {
                p = 0;
                account = &ctx.linked[0][s.linked_account % ctx.linked[0].len()];
            }
        }
        (hour_text(start, h), hour_text(start, h + 1))
    } else {
        (hour_text(start, 0), hour_text(start, ctx.hours))
    };
    let payer = &ctx.payers[p];
    let service = if spiking {
        &SPIKE_SERVICE
    } else {
        &SERVICES[rng.random_range(0..SERVICES.len())]
    };
    let (region, location) = REGIONS[rng.random_range(0..REGIONS.len())];
    let revision_bump = i128::from(spec.revision) * 7; // restatements re-rate a little
    set("identity/LineItemId", line_item_id(rng));
    set("identity/TimeInterval", format!("{from}/{to}"));
    set(
        "bill/InvoiceId",
        format!("EUINUS{}{:02}{}", spec.year % 100, spec.month, &payer[..6]),
    );
    set("bill/InvoicingEntity", "Amazon Web Services, Inc.".into());
    let marketplace = lit == Lit::SupportFee && rng.random_bool(0.3);
    set(
        "bill/BillingEntity",
        if marketplace {
            "AWS Marketplace"
        } else {
            "AWS"
        }
        .into(),
    );
    set(
        "bill/BillType",
        if matches!(lit, Lit::Refund) {
            "Refund"
        } else {
            "Anniversary"
        }
        .into(),
    );
    set("bill/PayerAccountId", payer.clone());
    set(
        "bill/BillingPeriodStartDate",
        format!("{}T00:00:00Z", start.format("%Y-%m-%d")),
    );
    set(
        "bill/BillingPeriodEndDate",
        format!("{}T00:00:00Z", spec.period_end().format("%Y-%m-%d")),
    );
    set("lineItem/UsageAccountId", account.clone());
    set("lineItem/LineItemType", lit.aws_name().into());
    set("lineItem/UsageStartDate", from);
    set("lineItem/UsageEndDate", to);
    set("lineItem/ProductCode", service.code.into());
    set(
        "lineItem/UsageType",
        format!("{}-{}", region_prefix(region), service.usage_type),
    );
    set("lineItem/Operation", service.operation.into());
    set("lineItem/CurrencyCode", "USD".into());
    set(
        "lineItem/LegalEntity",
        if marketplace {
            "Acme Observability Inc."
        } else {
            "Amazon Web Services, Inc."
        }
        .into(),
    );
    set("product/ProductName", service.name.into());
    set("product/servicecode", service.code.into());
    set("product/servicename", service.name.into());
    set("product/productFamily", service.family.into());
    set("product/region", region.into());
    set("product/regionCode", region.into());
    set("product/location", location.into());
    set("product/locationType", "AWS Region".into());
    set("product/usagetype", service.usage_type.into());
    set("product/operation", service.operation.into());
    // A SKU names one product offering (service, usage type, operation, region), so a month
    // holds a few hundred of them, not one per row: the lake's dictionaries see real data.
    let sku = product_sku(service.code, service.usage_type, service.operation, region);
    set("product/sku", sku.clone());
    if service.code == "AmazonEC2" && service.unit == "Hrs" {
        let (instance, family, vcpu, memory) = if spiking {
            ("p4d.24xlarge", "GPU instance", "96", "1152 GiB")
        } else {
            ("m5.large", "General purpose", "2", "8 GiB")
        };
        set("product/instanceType", instance.into());
        set("product/instanceFamily", family.into());
        set("product/vcpu", vcpu.into());
        set("product/memory", memory.into());
        set("product/operatingSystem", "Linux".into());
        set("product/tenancy", "Shared".into());
        set("product/currentGeneration", "Yes".into());
        set("product/processorArchitecture", "64-bit".into());
        set(
            "product/physicalProcessor",
            "Intel Xeon Platinum 8175".into(),
        );
        set("product/networkPerformance", "Up to 10 Gigabit".into());
    }
    set("pricing/currency", "USD".into());
    set("pricing/unit", service.unit.into());
    set("pricing/RateCode", format!("{sku}.JRTCKXETXF.6YS6EN2CT7"));
    set(
        "pricing/RateId",
        (1_000_000_000 + stable_hash(sku.as_bytes()) % 9_000_000_000).to_string(),
    );
    if rng.random_bool(0.85) {
        set(
            "resourceTags/user:team",
            TEAMS[rng.random_range(0..TEAMS.len())].into(),
        );
    }
    if rng.random_bool(0.8) {
        set(
            "resourceTags/user:env",
            ENVS[rng.random_range(0..ENVS.len())].into(),
        );
    }
    if rng.random_bool(0.6) {
        set(
            "resourceTags/user:cost-center",
            format!("CC-{}", 100 + rng.random_range(0..8)),
        );
    }
    if rng.random_bool(0.2) {
        set(
            "resourceTags/aws:createdBy",
            format!("IAMUser:AIDA{}:deploy", rng.random_range(1000..9999)),
        );
    }
    let az = format!("{region}{}", ["a", "b", "c"][rng.random_range(0..3)]);
    let resource = if service.resource.is_empty() {
        String::new()
    } else {
        format!(
            "arn:aws:{}:{region}:{account}:{}{:08x}",
            service.code.to_lowercase(),
            service.resource,
            rng.random_range(0..4096u32)
        )
    };
    let sp_arn = format!(
        "arn:aws:savingsplans::{payer}:savingsplan/{:08x}-sp",
        p as u32 + 0x5a00
    );
    let ri_arn = format!(
        "arn:aws:ec2:us-east-1:{payer}:reserved-instances/{:08x}-ri",
        p as u32 + 0x7100
    );
    let quantity: i128 = match service.unit {
        "Hrs" | "Hours" => 10_000_000_000,
        _ => rng.random_range(1..5_000_000) * 1_000_000,
    };
    let rate = service.rate + revision_bump;
    let od_cost = quantity * rate / 10_000_000_000;
    let qty_text = format_units(quantity);
    let set_money = |cells: &mut Vec<String>, name: &str, v: i128, rng: &mut ChaCha8Rng| {
        cells[c[name]] = money(v, rng)
    };
    match lit {
        Lit::Usage => {
            cells[c["lineItem/AvailabilityZone"]] = az;
            cells[c["lineItem/ResourceId"]] = resource;
            cells[c["lineItem/UsageAmount"]] = qty_text;
            cells[c["lineItem/UnblendedRate"]] = format_units(rate);
            set_money(&mut cells, "lineItem/UnblendedCost", od_cost, rng);
            cells[c["lineItem/BlendedRate"]] = format_units(rate);
            cells[c["lineItem/BlendedCost"]] = format_units(od_cost);
            cells[c["pricing/publicOnDemandRate"]] = format_units(rate);
            cells[c["pricing/publicOnDemandCost"]] = format_units(od_cost);
            cells[c["pricing/term"]] = if rng.random_bool(0.05) {
                "Spot"
            } else {
                "OnDemand"
            }
            .into();
            cells[c["lineItem/LineItemDescription"]] = format!(
                "${} per {} for {}",
                format_units(rate),
                service.unit,
                service.usage_type
            );
        }
        Lit::DiscountedUsage => {
            cells[c["lineItem/AvailabilityZone"]] = az;
            cells[c["lineItem/ResourceId"]] = resource;
            cells[c["lineItem/UsageAmount"]] = qty_text;
            cells[c["lineItem/UnblendedRate"]] = "0.0".into();
            cells[c["lineItem/UnblendedCost"]] = "0.0".into();
            cells[c["pricing/publicOnDemandRate"]] = format_units(rate);
            cells[c["pricing/publicOnDemandCost"]] = format_units(od_cost);
            cells[c["pricing/term"]] = "Reserved".into();
            cells[c["pricing/LeaseContractLength"]] = "1yr".into();
            cells[c["pricing/OfferingClass"]] = "standard".into();
            cells[c["pricing/PurchaseOption"]] = "Partial Upfront".into();
            cells[c["reservation/ReservationARN"]] = ri_arn;
            let effective = od_cost * 6 / 10;
            set_money(&mut cells, "reservation/EffectiveCost", effective, rng);
            cells[c["reservation/AmortizedUpfrontCostForUsage"]] = format_units(effective / 2);
            cells[c["reservation/RecurringFeeForUsage"]] = format_units(effective - effective / 2);
            cells[c["lineItem/LineItemDescription"]] =
                "USD 0.0 hourly fee per Linux/UNIX (Amazon VPC), m5.large instance".into();
        }
        Lit::SpCovered => {
            cells[c["lineItem/AvailabilityZone"]] = az;
            cells[c["lineItem/ResourceId"]] = resource;
            cells[c["lineItem/UsageAmount"]] = qty_text;
            cells[c["lineItem/UnblendedRate"]] = format_units(rate);
            cells[c["lineItem/UnblendedCost"]] = format_units(od_cost);
            cells[c["pricing/publicOnDemandRate"]] = format_units(rate);
            cells[c["pricing/publicOnDemandCost"]] = format_units(od_cost);
            cells[c["pricing/term"]] = "OnDemand".into();
            cells[c["savingsPlan/SavingsPlanARN"]] = sp_arn;
            cells[c["savingsPlan/SavingsPlanRate"]] = format_units(rate * 7 / 10);
            set_money(
                &mut cells,
                "savingsPlan/SavingsPlanEffectiveCost",
                od_cost * 7 / 10,
                rng,
            );
            cells[c["lineItem/LineItemDescription"]] =
                format!("{} covered by Compute Savings Plan", service.usage_type);
        }
        Lit::SpRecurringFee => {
            let commitment: i128 = 25_000_000_000 + i128::from(p as u32) * 5_000_000_000;
            let used = commitment * rng.random_range(60..101) / 100;
            cells[c["lineItem/UsageAmount"]] = "1.0".into();
            cells[c["lineItem/UnblendedRate"]] = format_units(commitment);
            cells[c["lineItem/UnblendedCost"]] = format_units(commitment);
            cells[c["pricing/unit"]] = "Hrs".into();
            cells[c["savingsPlan/SavingsPlanARN"]] = sp_arn;
            cells[c["savingsPlan/TotalCommitmentToDate"]] = format_units(commitment);
            cells[c["savingsPlan/UsedCommitment"]] = format_units(used);
            cells[c["savingsPlan/RecurringCommitmentForBillingPeriod"]] =
                format_units(commitment * i128::from(ctx.hours as i32));
            cells[c["savingsPlan/OfferingType"]] = "ComputeSavingsPlans".into();
            cells[c["savingsPlan/PaymentOption"]] = "No Upfront".into();
            cells[c["savingsPlan/PurchaseTerm"]] = "1yr".into();
            cells[c["lineItem/ProductCode"]] = "ComputeSavingsPlans".into();
            cells[c["product/ProductName"]] = "Savings Plans for AWS Compute usage".into();
            cells[c["lineItem/LineItemDescription"]] =
                "1 year No Upfront Compute Savings Plan".into();
        }
        Lit::SpUpfrontFee => {
            // Fee rows are drawn per row, so each stands for about a hundred usage rows:
            // their sizes keep purchases to a realistic share of the bill (a day-one bump,
            // not most of the month).
            let upfront: i128 = 1_000_000_000_000;
            cells[c["lineItem/UsageAmount"]] = "1.0".into();
            cells[c["lineItem/UnblendedRate"]] = format_units(upfront);
            cells[c["lineItem/UnblendedCost"]] = format_units(upfront);
            cells[c["savingsPlan/SavingsPlanARN"]] = sp_arn;
            cells[c["lineItem/ProductCode"]] = "ComputeSavingsPlans".into();
            cells[c["product/ProductName"]] = "Savings Plans for AWS Compute usage".into();
            cells[c["lineItem/LineItemDescription"]] =
                "Upfront fee for 1 year All Upfront Compute Savings Plan".into();
        }
        Lit::RiFee => {
            let fee: i128 = 400_000_000_000 + i128::from(p as u32) * 20_000_000_000;
            let unused_upfront = fee * rng.random_range(0..20) / 100;
            let unused_recurring = fee * rng.random_range(0..10) / 100;
            cells[c["lineItem/UsageAmount"]] =
                format_units(i128::from(ctx.hours as i32) * 10_000_000_000);
            cells[c["lineItem/UnblendedRate"]] = format_units(fee / i128::from(ctx.hours as i32));
            cells[c["lineItem/UnblendedCost"]] = format_units(fee);
            cells[c["pricing/unit"]] = "Hrs".into();
            cells[c["reservation/ReservationARN"]] = ri_arn;
            cells[c["reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"]] =
                format_units(unused_upfront);
            cells[c["reservation/UnusedRecurringFee"]] = format_units(unused_recurring);
            cells[c["reservation/AmortizedUpfrontFeeForBillingPeriod"]] = format_units(fee / 2);
            cells[c["reservation/NumberOfReservations"]] = "2".into();
            cells[c["lineItem/LineItemDescription"]] =
                "Sign up charge for subscription: m5.large, 2 instances".into();
        }
        Lit::RiUpfrontFee => {
            let fee: i128 = 600_000_000_000;
            cells[c["lineItem/UsageAmount"]] = "1.0".into();
            cells[c["lineItem/UnblendedRate"]] = format_units(fee);
            cells[c["lineItem/UnblendedCost"]] = format_units(fee);
            cells[c["reservation/ReservationARN"]] = ri_arn;
            cells[c["reservation/UpfrontValue"]] = format_units(fee);
            cells[c["lineItem/LineItemDescription"]] =
                "Sign up charge for subscription: 1yr Partial Upfront".into();
        }
        Lit::SupportFee => {
            let fee: i128 = 400_000_000_000 + rng.random_range(0..50_000_000_000);
            cells[c["lineItem/UsageAmount"]] = "1.0".into();
            cells[c["lineItem/UnblendedRate"]] = format_units(fee);
            cells[c["lineItem/UnblendedCost"]] = format_units(fee);
            cells[c["lineItem/ProductCode"]] = if marketplace {
                "prod-abc123marketplace"
            } else {
                "AWSSupportBusiness"
            }
            .into();
            cells[c["product/ProductName"]] = if marketplace {
                "Acme Observability Platform"
            } else {
                "AWS Support (Business)"
            }
            .into();
            cells[c["lineItem/LineItemDescription"]] = "Monthly subscription fee".into();
        }
        Lit::Tax => {
            let tax: i128 = rng.random_range(1_000_000..90_000_000_000);
            cells[c["lineItem/UsageAmount"]] = "1.0".into();
            set_money(&mut cells, "lineItem/UnblendedCost", tax, rng);
            cells[c["lineItem/TaxType"]] = "Sales Tax".into();
            cells[c["pricing/unit"]] = String::new();
            cells[c["lineItem/LineItemDescription"]] =
                format!("Tax for product code {}", service.code);
        }
        Lit::Credit | Lit::Refund | Lit::EdpDiscount => {
            let amount: i128 = -rng.random_range(1..50_000_000_000);
            set_money(&mut cells, "lineItem/UnblendedCost", amount, rng);
            cells[c["lineItem/LineItemDescription"]] = match lit {
                Lit::Credit => "AWS Activate credit",
                Lit::Refund => "Refund for service outage (SLA)",
                _ => "Enterprise Discount Program discount",
            }
            .into();
        }
        Lit::SpNegation => {}
    }
    Row { cells }
}

/// FNV-1a: a fixed hash, so SKUs stay the same across runs, seeds and platforms.
fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A 16-character SKU in AWS's alphabet (upper-case letters and digits) for one product.
fn product_sku(service: &str, usage_type: &str, operation: &str, region: &str) -> String {
    const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let key = format!("{service}\u{1f}{usage_type}\u{1f}{operation}\u{1f}{region}");
    let mut h = stable_hash(key.as_bytes());
    (0..16)
        .map(|i| {
            if i == 8 {
                h = stable_hash(&h.to_le_bytes());
            }
            let c = ALPHABET[(h % 36) as usize] as char;
            h /= 36;
            c
        })
        .collect()
}

fn region_prefix(region: &str) -> &'static str {
    match region {
        "us-east-1" => "USE1",
        "us-west-2" => "USW2",
        "eu-west-1" => "EU",
        "eu-central-1" => "EUC1",
        _ => "APS2",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_and_restatement_differs() {
        let dir = std::env::temp_dir().join(format!("billow-synth-{}", std::process::id()));
        let spec = CurSpec::new(42, 2026, 2).with_rows(500).with_files(2);
        let a = write_delivery(&dir.join("a"), &spec).unwrap();
        let b = write_delivery(&dir.join("b"), &spec).unwrap();
        assert_eq!(a.expected, b.expected);
        for (x, y) in a.files.iter().zip(&b.files) {
            assert_eq!(fs::read(x).unwrap(), fs::read(y).unwrap());
        }
        assert_eq!(a.expected.rows, 500);
        let r = write_delivery(&dir.join("a"), &spec.clone().with_revision(1)).unwrap();
        assert_ne!(r.assembly_id, a.assembly_id);
        assert_ne!(r.expected.total_billed(), a.expected.total_billed());
        assert!(
            a.expected.line_item_types.len() >= 10,
            "{:?}",
            a.expected.line_item_types
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn parses_what_it_formats() {
        for v in [0i128, 1, -7, 123_456_789_012, -50_000_000_000] {
            assert_eq!(parse_units(&format_units(v)), v);
            if v != 0 {
                assert_eq!(parse_units(&format_scientific(v)), v);
            }
        }
    }
}
