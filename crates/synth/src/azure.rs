//! Azure cost details exports of an Enterprise Agreement enrollment or a Microsoft Customer
//! Agreement billing profile: an actual and an amortized export of one month, each in the
//! exports v2 folder layout (`<export>/<yyyymmdd-yyyymmdd>/<runId>/` with `manifest.json` and
//! `part_0_NNNN.csv` files). EA files use the EA's PascalCase columns; MCA files the MCA's 65
//! camelCase ones (with Azure's odd PascalCase members), billed to the billing profile.
//!
//! The enrollment has departments' subscriptions full of resources that bill daily. Some
//! virtual machines run under a reservation or a savings plan: the actual export shows that
//! usage at 0 and has the commitment's purchase; the amortized export shows the usage at the
//! commitment's rate, adds daily `UnusedReservation`/`UnusedSavingsPlan` rows, and has no
//! purchase. Costs are quantity × effective price printed in full, up to 14 decimal places,
//! as Azure prints them: more than the lake's 12, so the expected totals keep both the exact
//! source sum and the sum of the half-even-rounded values.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::format_scaled;

/// Source cost units: 10⁻¹⁴ (quantity 10⁻⁸ × price 10⁻⁶).
const SOURCE_SCALE: u32 = 14;

/// The month of the year the all-upfront reservation is bought (and renewed) in.
const UPFRONT_PURCHASE_MONTH: u32 = 9;

/// What to generate.
#[derive(Debug, Clone)]
pub struct AzureSpec {
    /// RNG seed.
    pub seed: u64,
    /// Billing period year.
    pub year: i32,
    /// Billing period month.
    pub month: u32,
    /// Rows of the amortized export, about (the actual export has about as many).
    pub rows: usize,
    /// Data files per export.
    pub files: usize,
    /// Subscriptions in the enrollment.
    pub subscriptions: usize,
    /// Enrollment number.
    pub enrollment: String,
    /// Usage only through this day of the month (the exports of a month in progress);
    /// `None`: the closed month.
    pub through_day: Option<u32>,
    /// The agreement whose column set and billing account the exports have.
    pub agreement: Agreement,
    /// A planted anomaly, if any.
    pub spike: Option<Spike>,
}

/// The Azure agreement an export belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// Enterprise Agreement: billed to the enrollment.
    Ea,
    /// Microsoft Customer Agreement: billed to a billing profile of the billing account.
    Mca,
}

/// A planted cost anomaly: the usage of every resource on meters of one category is
/// multiplied for a few days (a runaway log pipeline, a forgotten load test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spike {
    /// `MeterCategory` of the resources that spike, e.g. `Log Analytics`.
    pub meter_category: String,
    /// First day of the month (1-based) with the spike.
    pub first_day: u32,
    /// Days it lasts.
    pub days: u32,
    /// Usage multiplier.
    pub factor: u32,
}

impl AzureSpec {
    /// A spec for one month.
    pub fn new(seed: u64, year: i32, month: u32) -> Self {
        AzureSpec {
            seed,
            year,
            month,
            rows: 10_000,
            files: 1,
            subscriptions: 8,
            enrollment: format!("{}", 8_000_000 + seed % 1_000_000),
            through_day: None,
            agreement: Agreement::Ea,
            spike: None,
        }
    }

    /// Exports of a Microsoft Customer Agreement billing profile instead of an EA enrollment.
    pub fn with_mca(mut self) -> Self {
        self.agreement = Agreement::Mca;
        self
    }

    /// Plants an anomaly: usage on `meter_category` meters × `factor` from `first_day` for
    /// `days` days.
    pub fn with_spike(
        mut self,
        meter_category: &str,
        first_day: u32,
        days: u32,
        factor: u32,
    ) -> Self {
        self.spike = Some(Spike {
            meter_category: meter_category.into(),
            first_day: first_day.max(1),
            days,
            factor: factor.max(1),
        });
        self
    }

    /// The account the exports bill to: the enrollment number (EA) or the billing profile id
    /// (MCA), as FOCUS `BillingAccountId` holds it.
    pub fn billing_account(&self) -> String {
        match self.agreement {
            Agreement::Ea => self.enrollment.clone(),
            Agreement::Mca => self.billing_profile(),
        }
    }

    /// An MCA billing profile id in Azure's `XXXX-XXXX-XXX-PGB` shape, stable for the seed's
    /// enrollment number.
    fn billing_profile(&self) -> String {
        section_id(&self.enrollment)
    }

    /// The MCA billing account: `<guid>:<guid>_<date>`, as Azure names them.
    fn mca_billing_account(&self) -> String {
        let n = self.billing_profile();
        let hex: String = n.bytes().map(|b| format!("{:02x}", b)).collect();
        format!(
            "{}-{}-{}-{}-{}:{}-{}-{}-{}-{}_2019-05-31",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32],
            &hex[2..10],
            &hex[10..14],
            &hex[14..18],
            &hex[18..22],
            &hex[22..34]
        )
    }

    /// The exports of a month in progress: usage through `day`.
    pub fn through_day(mut self, day: u32) -> Self {
        self.through_day = Some(day.max(1));
        self
    }

    /// Sets the amortized export's row count.
    pub fn with_rows(mut self, rows: usize) -> Self {
        self.rows = rows.max(1);
        self
    }

    /// Sets the number of data files per export.
    pub fn with_files(mut self, files: usize) -> Self {
        self.files = files.max(1);
        self
    }

    /// Sets the number of subscriptions.
    pub fn with_subscriptions(mut self, subscriptions: usize) -> Self {
        self.subscriptions = subscriptions.max(1);
        self
    }

    fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month")
    }

    fn days(&self) -> u32 {
        let first = self.first_day();
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .expect("valid month");
        (next - first).num_days() as u32
    }
}

/// Exact expected totals of both exports, per (enrollment, FOCUS charge category).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AzureExpected {
    /// Billing period `YYYY-MM`.
    pub billing_period: String,
    /// Data rows of the actual export.
    pub actual_rows: u64,
    /// Data rows of the amortized export.
    pub amortized_rows: u64,
    /// FOCUS rows the pair becomes: every amortized row, plus the actual rows without a
    /// partner (purchases).
    pub focus_rows: u64,
    /// (billing account, category) → (Σ actual cost, Σ amortized cost), exact, in 10⁻¹⁴.
    pub source: BTreeMap<(String, String), (i128, i128)>,
    /// The same sums of each cost rounded half-even to 12 places first: the lake's totals.
    pub lake: BTreeMap<(String, String), (i128, i128)>,
}

impl AzureExpected {
    /// Σ of the exact source costs (actual, amortized) as decimal text.
    pub fn source_totals(&self) -> (String, String) {
        let (b, e) = self
            .source
            .values()
            .fold((0, 0), |acc, v| (acc.0 + v.0, acc.1 + v.1));
        (
            format_scaled(b, SOURCE_SCALE),
            format_scaled(e, SOURCE_SCALE),
        )
    }

    /// Σ of the lake's rounded costs (billed, effective) as decimal text.
    pub fn lake_totals(&self) -> (String, String) {
        let (b, e) = self
            .lake
            .values()
            .fold((0, 0), |acc, v| (acc.0 + v.0, acc.1 + v.1));
        (format_scaled(b, 12), format_scaled(e, 12))
    }
}

/// The written exports.
#[derive(Debug, Clone)]
pub struct AzureDelivery {
    /// The root a user points Billow at (both exports are below it).
    pub root: PathBuf,
    /// Actual export data files.
    pub actual: Vec<PathBuf>,
    /// Amortized export data files.
    pub amortized: Vec<PathBuf>,
    /// Exact expected totals.
    pub expected: AzureExpected,
}

/// The MCA actual and amortized exports' columns (data version 2023-12-01-preview).
const MCA_HEADER: &str = "invoiceId,previousInvoiceId,billingAccountId,billingAccountName,billingProfileId,billingProfileName,invoiceSectionId,invoiceSectionName,resellerName,resellerMpnId,costCenter,billingPeriodEndDate,billingPeriodStartDate,servicePeriodEndDate,servicePeriodStartDate,date,serviceFamily,productOrderId,productOrderName,consumedService,meterId,meterName,meterCategory,meterSubCategory,meterRegion,ProductId,ProductName,SubscriptionId,subscriptionName,publisherType,publisherId,publisherName,resourceGroupName,ResourceId,resourceLocation,location,effectivePrice,quantity,unitOfMeasure,chargeType,billingCurrency,pricingCurrency,costInBillingCurrency,costInPricingCurrency,costInUsd,paygCostInBillingCurrency,paygCostInUsd,exchangeRatePricingToBilling,exchangeRateDate,isAzureCreditEligible,serviceInfo1,serviceInfo2,additionalInfo,tags,PayGPrice,frequency,term,reservationId,reservationName,pricingModel,unitPrice,costAllocationRuleName,benefitId,benefitName,provider";

/// The EA actual and amortized exports' columns (data version 2021-10-01).
const HEADER: &str = "BillingAccountId,BillingAccountName,BillingPeriodStartDate,BillingPeriodEndDate,BillingProfileId,BillingProfileName,AccountOwnerId,AccountName,SubscriptionId,SubscriptionName,Date,Product,PartNumber,MeterId,ServiceFamily,MeterCategory,MeterSubCategory,MeterRegion,MeterName,Quantity,EffectivePrice,Cost,UnitPrice,BillingCurrency,ResourceLocation,AvailabilityZone,ConsumedService,ResourceId,ResourceName,ServiceInfo1,ServiceInfo2,AdditionalInfo,Tags,InvoiceSectionId,InvoiceSection,CostCenter,UnitOfMeasure,ResourceGroup,ReservationId,ReservationName,ProductOrderId,ProductOrderName,OfferId,IsAzureCreditEligible,Term,PublisherName,PlanName,ChargeType,Frequency,PublisherType,PayGPrice,PricingModel,CostAllocationRuleName,benefitId,benefitName";

/// A meter: what a resource bills by.
struct Meter {
    product: &'static str,
    part: &'static str,
    family: &'static str,
    category: &'static str,
    subcategory: &'static str,
    name: &'static str,
    unit: &'static str,
    /// Pay-as-you-go price, 10⁻⁶.
    price: i128,
    service: &'static str,
    resource_type: &'static str,
    /// Typical daily quantity, 10⁻⁸.
    daily: i128,
    /// Whether a reservation or savings plan can cover it.
    reservable: bool,
}

const METERS: &[Meter] = &[
    Meter {
        product: "Virtual Machines Dsv5 Series - D2s v5 - EU West",
        part: "AAH-12345",
        family: "Compute",
        category: "Virtual Machines",
        subcategory: "Dsv5 Series",
        name: "D2s v5",
        unit: "1 Hour",
        price: 96_000,
        service: "Microsoft.Compute",
        resource_type: "virtualMachines",
        daily: 24_00000000,
        reservable: true,
    },
    Meter {
        product: "Virtual Machines Dsv5 Series - D4s v5 - EU West",
        part: "AAH-12346",
        family: "Compute",
        category: "Virtual Machines",
        subcategory: "Dsv5 Series",
        name: "D4s v5",
        unit: "1 Hour",
        price: 192_000,
        service: "Microsoft.Compute",
        resource_type: "virtualMachines",
        daily: 24_00000000,
        reservable: true,
    },
    Meter {
        product: "Virtual Machines Esv5 Series - E8s v5 - EU West",
        part: "AAH-22311",
        family: "Compute",
        category: "Virtual Machines",
        subcategory: "Esv5 Series",
        name: "E8s v5",
        unit: "1 Hour",
        price: 504_000,
        service: "Microsoft.Compute",
        resource_type: "virtualMachines",
        daily: 24_00000000,
        reservable: true,
    },
    Meter {
        product: "Virtual Machines BS Series - B2s - EU West",
        part: "AAA-68652",
        family: "Compute",
        category: "Virtual Machines",
        subcategory: "BS Series",
        name: "B2s",
        unit: "1 Hour",
        price: 41_600,
        service: "Microsoft.Compute",
        resource_type: "virtualMachines",
        daily: 17_50000000,
        reservable: false,
    },
    Meter {
        product: "Premium SSD Managed Disks - P10 LRS - EU West",
        part: "AAD-11234",
        family: "Storage",
        category: "Storage",
        subcategory: "Premium SSD Managed Disks",
        name: "P10 LRS Disk",
        unit: "1/Month",
        price: 19_710_000,
        service: "Microsoft.Compute",
        resource_type: "disks",
        daily: 3225806,
        reservable: false,
    },
    Meter {
        product: "Blob Storage - Hot LRS - EU West",
        part: "AAG-55123",
        family: "Storage",
        category: "Storage",
        subcategory: "General Block Blob v2",
        name: "Hot LRS Data Stored",
        unit: "1 GB/Month",
        price: 18_400,
        service: "Microsoft.Storage",
        resource_type: "storageAccounts",
        daily: 16_51612903,
        reservable: false,
    },
    Meter {
        product: "Bandwidth - Data Transfer Out - Zone 1",
        part: "AAB-00011",
        family: "Networking",
        category: "Bandwidth",
        subcategory: "",
        name: "Standard Data Transfer Out",
        unit: "1 GB",
        price: 87_000,
        service: "Microsoft.Network",
        resource_type: "networkInterfaces",
        daily: 12_34567890,
        reservable: false,
    },
    Meter {
        product: "SQL Database Single General Purpose - Compute Gen5 - EU West",
        part: "AAS-44120",
        family: "Databases",
        category: "SQL Database",
        subcategory: "Single General Purpose - Compute Gen5",
        name: "vCore",
        unit: "1 Hour",
        price: 504_400,
        service: "Microsoft.Sql",
        resource_type: "servers",
        daily: 48_00000000,
        reservable: false,
    },
    Meter {
        product: "Azure App Service Premium v3 Plan - P1 v3 - EU West",
        part: "AAW-31000",
        family: "Compute",
        category: "Azure App Service",
        subcategory: "Premium v3 Plan",
        name: "P1 v3",
        unit: "1 Hour",
        price: 200_000,
        service: "Microsoft.Web",
        resource_type: "serverFarms",
        daily: 24_00000000,
        reservable: false,
    },
    Meter {
        product: "Log Analytics - Data Ingestion - EU West",
        part: "AAL-90210",
        family: "Management and Governance",
        category: "Log Analytics",
        subcategory: "",
        name: "Pay-as-you-go Data Ingestion",
        unit: "1 GB",
        price: 2_760_000,
        service: "Microsoft.OperationalInsights",
        resource_type: "workspaces",
        daily: 3_21000000,
        reservable: false,
    },
    Meter {
        product: "Key Vault - Operations",
        part: "AAK-10001",
        family: "Security",
        category: "Key Vault",
        subcategory: "",
        name: "Operations",
        unit: "10K",
        price: 30_000,
        service: "Microsoft.KeyVault",
        resource_type: "vaults",
        daily: 4_70000000,
        reservable: false,
    },
    Meter {
        product: "Azure Cosmos DB - RU/s - EU West",
        part: "AAC-77001",
        family: "Databases",
        category: "Azure Cosmos DB",
        subcategory: "",
        name: "100 RU/s",
        unit: "100/Hour",
        price: 8_000,
        service: "Microsoft.DocumentDB",
        resource_type: "databaseAccounts",
        daily: 96_00000000,
        reservable: false,
    },
];

const TEAMS: &[&str] = &["web", "data", "platform", "ml", "payments", "search"];
const ENVS: &[&str] = &["prod", "staging", "dev"];
const REGIONS: &[&str] = &["westeurope", "northeurope", "eastus"];
const EMPTY_GUID: &str = "00000000-0000-0000-0000-000000000000";

struct Subscription {
    id: String,
    name: String,
    account: String,
    owner: String,
    section: String,
    cost_center: String,
}

struct Resource {
    subscription: usize,
    meter: usize,
    group: String,
    name: String,
    region: &'static str,
    tags: String,
    /// Index into the commitments, when one covers it.
    covered_by: Option<usize>,
}

struct Commitment {
    savings_plan: bool,
    order: String,
    id: String,
    name: String,
    /// The rate it charges covered usage, 10⁻⁶ per unit (a share of the meter's price).
    discount_percent: i128,
    /// Monthly fee, 10⁻¹⁴.
    monthly_fee: i128,
    upfront: bool,
    subscription: usize,
}

fn guid(rng: &mut ChaCha8Rng) -> String {
    let a: u128 = rng.random();
    let h = format!("{a:032x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// Half-even rounding of a 10⁻¹⁴ amount to 10⁻¹².
fn round_to_lake(units: i128) -> i128 {
    crate::decimal::round_half_even(units, 100)
}

/// One charge as both exports show it: `actual`/`amortized` are the cost cells, `None` where
/// that export has no such row.
struct Charge<'a> {
    day: u32,
    resource: Option<&'a Resource>,
    subscription: usize,
    meter: &'a Meter,
    quantity: i128,
    effective_price: i128,
    actual: Option<i128>,
    amortized: Option<i128>,
    charge_type: &'static str,
    frequency: &'static str,
    pricing_model: &'static str,
    commitment: Option<&'a Commitment>,
    publisher: Option<(&'static str, &'static str)>,
}

struct Writer {
    header: &'static str,
    files: Vec<PathBuf>,
    rows_per_file: usize,
    dir: PathBuf,
    current: Option<BufWriter<File>>,
    in_file: usize,
    rows: u64,
    bytes: Vec<u64>,
    row_counts: Vec<u64>,
}

impl Writer {
    fn new(dir: PathBuf, rows_per_file: usize, header: &'static str) -> Self {
        Writer {
            header,
            files: Vec::new(),
            rows_per_file: rows_per_file.max(1),
            dir,
            current: None,
            in_file: 0,
            rows: 0,
            bytes: Vec::new(),
            row_counts: Vec::new(),
        }
    }

    fn write(&mut self, line: &str) -> io::Result<()> {
        if self.current.is_none() || self.in_file >= self.rows_per_file {
            self.close()?;
            let path = self
                .dir
                .join(format!("part_0_{:04}.csv", self.files.len() + 1));
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
            // Exports v2 write a UTF-8 BOM before the header.
            w.write_all("\u{feff}".as_bytes())?;
            w.write_all(self.header.as_bytes())?;
            w.write_all(b"\r\n")?;
            self.files.push(path);
            self.current = Some(w);
            self.in_file = 0;
        }
        if let Some(w) = self.current.as_mut() {
            w.write_all(line.as_bytes())?;
            w.write_all(b"\r\n")?;
        }
        self.in_file += 1;
        self.rows += 1;
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        if let Some(mut w) = self.current.take() {
            w.flush()?;
            let path = self.files.last().expect("a file is open");
            self.bytes.push(fs::metadata(path)?.len());
            self.row_counts.push(self.in_file as u64);
        }
        Ok(())
    }
}

/// Writes both exports of the spec's month under `out`.
pub fn write_exports(out: &Path, spec: &AzureSpec) -> io::Result<AzureDelivery> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0xA2u64);
    let days = spec.days();
    let usage_days = spec.through_day.map_or(days, |d| d.min(days));
    let first = spec.first_day();
    let last = first + chrono::Duration::days(i64::from(days) - 1);
    let period_folder = format!("{}-{}", first.format("%Y%m%d"), last.format("%Y%m%d"));
    let subscriptions: Vec<Subscription> = (0..spec.subscriptions)
        .map(|i| {
            let team = TEAMS[i % TEAMS.len()];
            let env = ENVS[i % ENVS.len()];
            Subscription {
                id: guid(&mut rng),
                name: format!("{team}-{env}"),
                account: format!("{team} department"),
                owner: format!("{team}-owner@contoso.example"),
                section: format!("{team} engineering"),
                cost_center: format!("CC-{}", 1000 + (i % TEAMS.len()) * 10),
            }
        })
        .collect();
    // Commitments: reservations and savings plans bought by the first subscription.
    let commitments: Vec<Commitment> = (0..4)
        .map(|i| {
            let savings_plan = i >= 2;
            let order = guid(&mut rng);
            let id = guid(&mut rng);
            Commitment {
                savings_plan,
                id: if savings_plan {
                    format!("/providers/Microsoft.BillingBenefits/savingsPlanOrders/{order}/savingsPlans/{id}")
                } else {
                    format!(
                        "/providers/Microsoft.Capacity/reservationOrders/{order}/reservations/{id}"
                    )
                },
                order,
                name: if savings_plan {
                    format!("compute-savings-plan-{i}")
                } else {
                    format!("vm-reservation-{i}")
                },
                discount_percent: if savings_plan { 65 } else { 58 },
                monthly_fee: 0,
                upfront: i == 1,
                subscription: 0,
            }
        })
        .collect();
    // Fixed charges: purchases on day 1, unused commitment rows every day, a marketplace
    // plan and a refund. The rest of the row budget is daily resource usage.
    let fixed_rows = commitments.len() * usage_days as usize + 8;
    let resources_count = (spec.rows.saturating_sub(fixed_rows) / usage_days as usize).max(1);
    let mut resources = Vec::with_capacity(resources_count);
    for i in 0..resources_count {
        let subscription = rng.random_range(0..spec.subscriptions);
        let meter = rng.random_range(0..METERS.len());
        let team = TEAMS[rng.random_range(0..TEAMS.len())];
        let env = ENVS[rng.random_range(0..ENVS.len())];
        // Realistic gaps: some resources miss a tag or have none.
        let tags = match rng.random_range(0..10) {
            0 => String::new(),
            1 => format!("\"\"team\"\": \"\"{team}\"\""),
            _ => format!(
                "\"\"team\"\": \"\"{team}\"\",\"\"env\"\": \"\"{env}\"\",\"\"cost-center\"\": \"\"CC-{}\"\"",
                1000 + (i % 7) * 10
            ),
        };
        let covered_by = if METERS[meter].reservable && rng.random_range(0..100) < 30 {
            Some(rng.random_range(0..commitments.len()))
        } else {
            None
        };
        resources.push(Resource {
            subscription,
            meter,
            group: format!("rg-{team}-{env}"),
            name: format!("{}-{team}-{i}", METERS[meter].resource_type),
            region: REGIONS[rng.random_range(0..REGIONS.len())],
            tags: if tags.is_empty() {
                tags
            } else {
                format!("\"{tags}\"")
            },
            covered_by,
        });
    }
    // A commitment's fee is what its covered usage costs at its rate, plus an unused part.
    let mut commitments = commitments;
    let mut covered_daily = vec![0i128; commitments.len()];
    for r in &resources {
        if let Some(c) = r.covered_by {
            let m = &METERS[r.meter];
            let rate = m.price * commitments[c].discount_percent / 100;
            covered_daily[c] += m.daily * rate;
        }
    }
    for (c, daily) in commitments.iter_mut().zip(&covered_daily) {
        // Used about 85% of the time; whole cents a day.
        let daily_fee = (daily * 100 / 85).div_euclid(1_000_000_000_000) * 1_000_000_000_000
            + 1_000_000_000_000;
        c.monthly_fee = daily_fee * i128::from(days);
    }

    let root = out.to_path_buf();
    let run_actual = guid(&mut rng);
    let run_amortized = guid(&mut rng);
    let (export_prefix, header, scope) = match spec.agreement {
        Agreement::Ea => ("enrollment", HEADER, spec.enrollment.clone()),
        Agreement::Mca => (
            "billing-profile",
            MCA_HEADER,
            format!(
                "{}/billingProfiles/{}",
                spec.mca_billing_account(),
                spec.billing_profile()
            ),
        ),
    };
    let (actual_export, amortized_export) = (
        format!("{export_prefix}-actual"),
        format!("{export_prefix}-amortized"),
    );
    let actual_dir = root
        .join(&actual_export)
        .join(&period_folder)
        .join(&run_actual);
    let amortized_dir = root
        .join(&amortized_export)
        .join(&period_folder)
        .join(&run_amortized);
    fs::create_dir_all(&actual_dir)?;
    fs::create_dir_all(&amortized_dir)?;
    let per_file = spec.rows.div_ceil(spec.files);
    let mut actual = Writer::new(actual_dir.clone(), per_file, header);
    let mut amortized = Writer::new(amortized_dir.clone(), per_file, header);
    let billing_account = spec.billing_account();
    let mut expected = AzureExpected {
        billing_period: format!("{:04}-{:02}", spec.year, spec.month),
        ..AzureExpected::default()
    };
    let mut line = String::with_capacity(2048);
    let ctx = Context {
        spec,
        first,
        last,
        subscriptions: &subscriptions,
        mca_account: spec.mca_billing_account(),
        mca_profile: spec.billing_profile(),
    };
    let marketplace = Meter {
        product: "Datadog - Pro (Monthly)",
        part: "",
        family: "Compute",
        category: "SaaS",
        subcategory: "",
        name: "Datadog Pro - Per host",
        unit: "1 Month",
        price: 18_500_000,
        service: "",
        resource_type: "",
        daily: 0,
        reservable: false,
    };
    let mut emit = |charge: &Charge,
                    actual_w: &mut Writer,
                    amortized_w: &mut Writer,
                    expected: &mut AzureExpected|
     -> io::Result<()> {
        let category = match charge.charge_type {
            "Purchase" | "Refund" => "Purchase",
            _ => "Usage",
        };
        let key = (billing_account.clone(), category.to_string());
        let source = expected.source.entry(key.clone()).or_default();
        source.0 += charge.actual.unwrap_or(0);
        source.1 += charge.amortized.unwrap_or(0);
        let lake = expected.lake.entry(key).or_default();
        lake.0 += charge.actual.map_or(0, round_to_lake);
        lake.1 += charge.amortized.map_or(0, round_to_lake);
        expected.focus_rows += 1;
        if let Some(cost) = charge.actual {
            ctx.line(&mut line, charge, cost);
            actual_w.write(&line)?;
            expected.actual_rows += 1;
        }
        if let Some(cost) = charge.amortized {
            ctx.line(&mut line, charge, cost);
            amortized_w.write(&line)?;
            expected.amortized_rows += 1;
        }
        Ok(())
    };
    // Day 1: the commitments' purchases (actual only) and the marketplace plan (both). A
    // monthly-billed commitment charges every month; the all-upfront one was paid once, in
    // September, and only amortizes in the other months.
    for c in &commitments {
        if c.upfront && spec.month != UPFRONT_PURCHASE_MONTH {
            continue;
        }
        let fee = if c.upfront {
            c.monthly_fee * 12
        } else {
            c.monthly_fee
        };
        emit(
            &Charge {
                day: 0,
                resource: None,
                subscription: c.subscription,
                meter: &METERS[0],
                quantity: 1_00000000,
                effective_price: fee / 100_000_000,
                actual: Some(fee),
                amortized: None,
                charge_type: "Purchase",
                frequency: if c.upfront { "OneTime" } else { "Recurring" },
                pricing_model: if c.savings_plan {
                    "SavingsPlan"
                } else {
                    "Reservation"
                },
                commitment: Some(c),
                publisher: None,
            },
            &mut actual,
            &mut amortized,
            &mut expected,
        )?;
    }
    // Forty hosts at the plan's list price.
    let plan_cost = 40_00000000 * marketplace.price;
    emit(
        &Charge {
            day: 0,
            resource: None,
            subscription: 1 % spec.subscriptions,
            meter: &marketplace,
            quantity: 40_00000000,
            effective_price: marketplace.price,
            actual: Some(plan_cost),
            amortized: Some(plan_cost),
            charge_type: "Purchase",
            frequency: "Recurring",
            pricing_model: "OnDemand",
            commitment: None,
            publisher: Some(("Datadog", "pro-monthly")),
        },
        &mut actual,
        &mut amortized,
        &mut expected,
    )?;
    let spike_factor = |day: u32, m: &Meter| match &spec.spike {
        Some(s)
            if s.meter_category == m.category
                && (s.first_day..s.first_day + s.days).contains(&(day + 1)) =>
        {
            i128::from(s.factor)
        }
        _ => 1,
    };
    for day in 0..usage_days {
        let mut used = vec![0i128; commitments.len()];
        for r in &resources {
            let m = &METERS[r.meter];
            // Day-to-day variation: ±20% around the typical quantity, to 8 places.
            let quantity = if m.unit == "1 Hour" && m.reservable {
                m.daily
            } else {
                m.daily * i128::from(rng.random_range(80..=120u32)) / 100
            } * spike_factor(day, m);
            let charge = match r.covered_by {
                Some(c) => {
                    let commitment = &commitments[c];
                    let rate = m.price * commitment.discount_percent / 100;
                    let cost = quantity * rate;
                    used[c] += cost;
                    Charge {
                        day,
                        resource: Some(r),
                        subscription: r.subscription,
                        meter: m,
                        quantity,
                        effective_price: rate,
                        actual: Some(0),
                        amortized: Some(cost),
                        charge_type: "Usage",
                        frequency: "UsageBased",
                        pricing_model: if commitment.savings_plan {
                            "SavingsPlan"
                        } else {
                            "Reservation"
                        },
                        commitment: Some(commitment),
                        publisher: None,
                    }
                }
                None => {
                    let cost = quantity * m.price;
                    Charge {
                        day,
                        resource: Some(r),
                        subscription: r.subscription,
                        meter: m,
                        quantity,
                        effective_price: m.price,
                        actual: Some(cost),
                        amortized: Some(cost),
                        charge_type: "Usage",
                        frequency: "UsageBased",
                        pricing_model: "OnDemand",
                        commitment: None,
                        publisher: None,
                    }
                }
            };
            emit(&charge, &mut actual, &mut amortized, &mut expected)?;
        }
        // What the commitments did not use today (amortized only).
        for (c, commitment) in commitments.iter().enumerate() {
            let daily_fee = commitment.monthly_fee / i128::from(days);
            let unused = (daily_fee - used[c]).max(0);
            if unused == 0 {
                continue;
            }
            emit(
                &Charge {
                    day,
                    resource: None,
                    subscription: commitment.subscription,
                    meter: &METERS[0],
                    quantity: 0,
                    effective_price: 0,
                    actual: None,
                    amortized: Some(unused),
                    charge_type: if commitment.savings_plan {
                        "UnusedSavingsPlan"
                    } else {
                        "UnusedReservation"
                    },
                    frequency: "UsageBased",
                    pricing_model: if commitment.savings_plan {
                        "SavingsPlan"
                    } else {
                        "Reservation"
                    },
                    commitment: Some(commitment),
                    publisher: None,
                },
                &mut actual,
                &mut amortized,
                &mut expected,
            )?;
        }
    }
    // A cancelled reservation's refund, in the actual export.
    let refund = -(commitments[0].monthly_fee / 4);
    emit(
        &Charge {
            day: usage_days - 1,
            resource: None,
            subscription: 0,
            meter: &METERS[0],
            quantity: 1_00000000,
            effective_price: refund / 100_000_000,
            actual: Some(refund),
            amortized: None,
            charge_type: "Refund",
            frequency: "OneTime",
            pricing_model: "Reservation",
            commitment: Some(&commitments[0]),
            publisher: None,
        },
        &mut actual,
        &mut amortized,
        &mut expected,
    )?;
    actual.close()?;
    amortized.close()?;
    write_manifest(
        &actual_dir,
        &scope,
        &actual_export,
        "ActualCost",
        &run_actual,
        &period_folder,
        &actual,
        first,
    )?;
    write_manifest(
        &amortized_dir,
        &scope,
        &amortized_export,
        "AmortizedCost",
        &run_amortized,
        &period_folder,
        &amortized,
        first,
    )?;
    Ok(AzureDelivery {
        root,
        actual: actual.files,
        amortized: amortized.files,
        expected,
    })
}

struct Context<'a> {
    spec: &'a AzureSpec,
    first: NaiveDate,
    last: NaiveDate,
    subscriptions: &'a [Subscription],
    /// The MCA billing account and profile ids, formatted once rather than per row.
    mca_account: String,
    mca_profile: String,
}

impl Context<'_> {
    fn line(&self, line: &mut String, c: &Charge, cost: i128) {
        use std::fmt::Write as _;
        line.clear();
        let spec = self.spec;
        let sub = &self.subscriptions[c.subscription];
        let unused = c.charge_type.starts_with("Unused");
        let date = self.first + chrono::Duration::days(i64::from(c.day));
        let m = c.meter;
        let (sub_id, sub_name) = if unused {
            (EMPTY_GUID, "")
        } else {
            (sub.id.as_str(), sub.name.as_str())
        };
        let (resource_id, resource_name, group, region, tags) = match c.resource {
            Some(r) => (
                format!(
                    "/subscriptions/{}/resourceGroups/{}/providers/{}/{}/{}",
                    sub.id, r.group, m.service, m.resource_type, r.name
                ),
                r.name.as_str(),
                r.group.as_str(),
                r.region,
                r.tags.as_str(),
            ),
            None => (
                c.commitment.map(|k| k.id.clone()).unwrap_or_default(),
                "",
                "",
                "",
                "",
            ),
        };
        let (benefit_id, benefit_name, order, reservation_id) = match c.commitment {
            Some(k) => (
                k.id.as_str(),
                k.name.as_str(),
                k.order.as_str(),
                if k.savings_plan {
                    ""
                } else {
                    k.id.rsplit('/').next().unwrap_or("")
                },
            ),
            None => ("", "", "", ""),
        };
        let (publisher, plan, publisher_type) = match c.publisher {
            Some((p, plan)) => (p, plan, "Marketplace"),
            None => ("", "", "Azure"),
        };
        // A commitment's own rows (purchase, refund, unused) carry the reserved meter and the
        // commitment's resource provider; a savings plan covers no single meter.
        let commitment_row = c.resource.is_none() && c.commitment.is_some();
        let savings_plan = c.commitment.is_some_and(|k| k.savings_plan);
        let service = match (commitment_row, savings_plan) {
            (true, true) => "Microsoft.BillingBenefits",
            (true, false) => "Microsoft.Capacity",
            (false, _) => m.service,
        };
        let (meter_fields, unit) = if commitment_row && savings_plan {
            (("", "", "", "", "", "", ""), "")
        } else {
            (
                (
                    m.product,
                    m.part,
                    m.family,
                    m.category,
                    m.subcategory,
                    region,
                    m.name,
                ),
                m.unit,
            )
        };
        let payg_price = if c.commitment.is_some() || unused {
            0
        } else {
            m.price
        };
        let meter_id = if meter_fields.0.is_empty() {
            String::new()
        } else {
            meter_guid(m)
        };
        let order_name = if order.is_empty() { "" } else { benefit_name };
        let term = if c.commitment.is_some() { "12" } else { "" };
        match spec.agreement {
            Agreement::Ea => {
                let _ = write!(
                    line,
                    "{enr},Contoso Enrollment,{ps},{pe},{enr},Contoso Enrollment,{owner},{account},{sub_id},{sub_name},{date},{product},{part},{meter_id},{family},{category},{subcat},{region},{name},{qty},{eprice},{cost},{uprice},USD,{loc},,{service},{rid},{rname},,,,{tags},{section_id},{section},{cc},{unit},{group},{reservation_id},{benefit_name},{order},{order_name},MS-AZR-0017P,True,{term},{publisher},{plan},{charge},{freq},{ptype},{payg},{model},,{benefit_id},{benefit_name}",
                    enr = spec.enrollment,
                    ps = self.first.format("%m/%d/%Y"),
                    pe = self.last.format("%m/%d/%Y"),
                    owner = sub.owner,
                    account = sub.account,
                    date = date.format("%m/%d/%Y"),
                    product = meter_fields.0,
                    part = meter_fields.1,
                    family = meter_fields.2,
                    category = meter_fields.3,
                    subcat = meter_fields.4,
                    region = meter_fields.5,
                    name = meter_fields.6,
                    qty = format_scaled(c.quantity, 8),
                    eprice = format_scaled(c.effective_price, 6),
                    cost = format_scaled(cost, SOURCE_SCALE),
                    uprice = format_scaled(if unused { 0 } else { m.price }, 6),
                    loc = region,
                    rid = resource_id,
                    rname = resource_name,
                    section_id = sub.section.len(),
                    section = sub.section,
                    cc = sub.cost_center,
                    charge = c.charge_type,
                    freq = c.frequency,
                    ptype = publisher_type,
                    payg = format_scaled(payg_price, 6),
                    model = c.pricing_model,
                );
            }
            Agreement::Mca => {
                // MCA prices in the billing currency here (USD), so the three cost columns
                // agree; pay-as-you-go cost is the list price times the quantity.
                let cost_text = format_scaled(cost, SOURCE_SCALE);
                let payg_cost = format_scaled(payg_price * c.quantity, SOURCE_SCALE);
                let _ = write!(
                    line,
                    "{invoice},,{ba},Contoso Ltd,{bp},Contoso US,{section_id},{section},,,{cc},{pe},{ps},{pe},{ps},{date},{family},{order},{order_name},{service},{meter_id},{name},{category},{subcat},{region},{product_id},{product},{sub_id},{sub_name},{ptype},,{publisher},{group},{rid},{loc},{loc},{eprice},{qty},{unit},{charge},USD,USD,{cost},{cost},{cost},{payg_cost},{payg_cost},1,{ps},True,,,,{tags},{payg},{freq},{term},{reservation_id},{reservation_name},{model},{uprice},,{benefit_id},{benefit_name},Azure",
                    invoice = self.invoice_id(),
                    ba = self.mca_account,
                    bp = self.mca_profile,
                    section_id = section_id(&sub.section),
                    section = sub.section,
                    cc = sub.cost_center,
                    ps = self.first.format("%m/%d/%Y"),
                    pe = self.last.format("%m/%d/%Y"),
                    date = date.format("%m/%d/%Y"),
                    family = meter_fields.2,
                    category = meter_fields.3,
                    subcat = meter_fields.4,
                    region = meter_fields.5,
                    name = meter_fields.6,
                    product_id = meter_fields.1,
                    product = meter_fields.0,
                    ptype = publisher_type,
                    loc = region,
                    rid = resource_id,
                    eprice = format_scaled(c.effective_price, 6),
                    qty = format_scaled(c.quantity, 8),
                    charge = c.charge_type,
                    cost = cost_text,
                    payg = format_scaled(payg_price, 6),
                    freq = c.frequency,
                    reservation_name = if reservation_id.is_empty() {
                        ""
                    } else {
                        benefit_name
                    },
                    model = c.pricing_model,
                    uprice = format_scaled(if unused { 0 } else { m.price }, 6),
                );
            }
        }
    }

    /// The MCA invoice of a closed month (`G` and digits); a month in progress has none yet.
    fn invoice_id(&self) -> String {
        match self.spec.through_day {
            Some(_) => String::new(),
            None => format!(
                "G0{:02}{:02}{:05}",
                self.spec.year % 100,
                self.spec.month,
                self.spec.seed % 100_000
            ),
        }
    }
}

/// An MCA billing profile or invoice section id (`XXXX-XXXX-XXX-PGB`), stable for a name.
fn section_id(name: &str) -> String {
    let n = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let letters: String = (0..11)
        .map(|i| (b'A' + ((n >> (i * 5)) % 26) as u8) as char)
        .collect();
    format!(
        "{}-{}-{}-PGB",
        &letters[0..4],
        &letters[4..8],
        &letters[8..11]
    )
}

/// A stable GUID per meter (Azure meter ids are global constants).
fn meter_guid(m: &Meter) -> String {
    let mut h: u128 = 0xcbf2_9ce4_8422_2325;
    for b in m.product.bytes().chain(m.name.bytes()) {
        h = (h ^ u128::from(b)).wrapping_mul(0x0000_0100_0000_0000_0000_0000_0000_013b);
    }
    let h = format!("{h:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[allow(clippy::too_many_arguments)]
fn write_manifest(
    dir: &Path,
    scope: &str,
    export: &str,
    kind: &str,
    run: &str,
    period_folder: &str,
    files: &Writer,
    first: NaiveDate,
) -> io::Result<()> {
    let blobs: Vec<_> = files
        .files
        .iter()
        .zip(files.bytes.iter().zip(&files.row_counts))
        .map(|(path, (bytes, rows))| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            serde_json::json!({
                "blobName": format!("cost/{export}/{period_folder}/{run}/{name}"),
                "byteCount": bytes,
                "dataRowCount": rows,
            })
        })
        .collect();
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .expect("valid month")
        - chrono::Duration::days(1);
    let manifest = serde_json::json!({
        "manifestVersion": "2024-04-01",
        "byteCount": files.bytes.iter().sum::<u64>(),
        "blobCount": files.files.len(),
        "dataRowCount": files.rows,
        "exportConfig": {
            "exportName": export,
            "resourceId": format!("/providers/Microsoft.Billing/billingAccounts/{scope}/providers/Microsoft.CostManagement/exports/{export}"),
            "dataVersion": "2021-10-01",
            "apiVersion": "2023-07-01-preview",
            "type": kind,
            "timeFrame": "TheLastMonth",
            "granularity": "Daily"
        },
        "deliveryConfig": {
            "partitionData": true,
            "dataOverwriteBehavior": "OverwritePreviousReport",
            "fileFormat": "Csv",
            "compressionMode": "None",
            "containerUri": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/billing/providers/Microsoft.Storage/storageAccounts/contosobilling",
            "rootFolderPath": "cost"
        },
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": format!("{}T06:00:00.0000000Z", (last + chrono::Duration::days(1)).format("%Y-%m-%d")),
            "runId": run,
            "startDate": format!("{}T00:00:00", first.format("%Y-%m-%d")),
            "endDate": format!("{}T00:00:00", last.format("%Y-%m-%d")),
        },
        "blobs": blobs,
    });
    fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?,
    )?;
    Ok(())
}
