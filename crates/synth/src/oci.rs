//! Oracle Cloud Infrastructure cost reports of one tenancy and month, as OCI writes them to
//! its `bling` bucket: `reports/cost-csv/reports_cost-csv_<n>.csv.gz`, one row per resource,
//! SKU and hour, with OCI's quirks: costs and quantities printed with 18 decimals (tiny costs
//! in scientific notation such as `2.323760000E-9`), interval starts without seconds
//! (`2026-10-13T10:00Z`) next to ends with them, one `tags/<key>` column per tag with the
//! usual gaps, and a few corrections (`lineItem/isCorrection=true`, negative).
//!
//! OCI costs carry more places than the lake's 12, so the expected totals keep both the exact
//! source sum and the sum of the half-even-rounded costs.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::format_scaled;

/// Cost units of the source text: 10⁻¹⁸ (quantity 10⁻⁹ × price 10⁻⁹).
pub const SOURCE_SCALE: u32 = 18;

/// What to generate.
#[derive(Debug, Clone)]
pub struct OciSpec {
    /// RNG seed.
    pub seed: u64,
    /// Billing period year.
    pub year: i32,
    /// Billing period month.
    pub month: u32,
    /// Rows, about.
    pub rows: usize,
    /// Report files the rows are spread over (OCI appends several a day).
    pub files: usize,
    /// Compartments of the tenancy.
    pub compartments: usize,
    /// Usage only through this day (the reports of a month in progress); `None`: the month.
    pub through_day: Option<u32>,
}

impl OciSpec {
    /// A month of 5,000 rows in 4 files over 6 compartments.
    pub fn new(seed: u64, year: i32, month: u32) -> Self {
        OciSpec {
            seed,
            year,
            month,
            rows: 5_000,
            files: 4,
            compartments: 6,
            through_day: None,
        }
    }

    /// Sets the row count.
    pub fn with_rows(mut self, rows: usize) -> Self {
        self.rows = rows.max(1);
        self
    }

    /// Sets the number of report files.
    pub fn with_files(mut self, files: usize) -> Self {
        self.files = files.max(1);
        self
    }

    /// Sets the number of compartments.
    pub fn with_compartments(mut self, compartments: usize) -> Self {
        self.compartments = compartments.max(1);
        self
    }

    /// The reports of a month in progress: usage through `day`.
    pub fn through_day(mut self, day: u32) -> Self {
        self.through_day = Some(day.max(1));
        self
    }

    /// The tenancy OCID, stable for the seed.
    pub fn tenancy(&self) -> String {
        format!("ocid1.tenancy.oc1..aaaaaaaa{}", ocid_tail(self.seed, 52))
    }

    fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    fn days(&self) -> u32 {
        let first = self.first_day();
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(first);
        (next - first).num_days() as u32
    }
}

/// Exact expected totals of the reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OciExpected {
    /// Billing period `YYYY-MM`.
    pub billing_period: String,
    /// Data rows written.
    pub rows: u64,
    /// Σ of the cost cells, exact, in 10⁻¹⁸.
    pub source: i128,
    /// Σ of each cost rounded half-even to 12 places first, in 10⁻¹²: the lake's total.
    pub lake: i128,
    /// Rows that are corrections.
    pub corrections: u64,
}

impl OciExpected {
    /// The exact source total as decimal text.
    pub fn source_total(&self) -> String {
        format_scaled(self.source, SOURCE_SCALE)
    }

    /// The lake's total as decimal text.
    pub fn lake_total(&self) -> String {
        format_scaled(self.lake, 12)
    }
}

/// The written reports.
#[derive(Debug, Clone)]
pub struct OciDelivery {
    /// The folder holding the report files (what `billow ingest oci` is pointed at).
    pub dir: PathBuf,
    /// The report files.
    pub files: Vec<PathBuf>,
    /// Exact expected totals.
    pub expected: OciExpected,
}

const HEADER: &str = "lineItem/referenceNo,lineItem/tenantId,lineItem/intervalUsageStart,lineItem/intervalUsageEnd,product/service,product/compartmentId,product/compartmentName,product/region,product/availabilityDomain,product/resourceId,usage/billedQuantity,usage/billedQuantityOverage,cost/subscriptionId,cost/productSku,product/Description,cost/unitPrice,cost/unitPriceOverage,cost/myCost,cost/myCostOverage,cost/currencyCode,cost/billingUnitReadable,cost/skuUnitDescription,cost/overageFlag,lineItem/isCorrection,lineItem/backreferenceNo,tags/Oracle-Tags.CreatedBy,tags/team,tags/env,tags/cost-center";

/// A SKU: what a resource bills by.
struct Sku {
    service: &'static str,
    part: &'static str,
    description: &'static str,
    /// Price per unit, 10⁻⁹.
    price: i128,
    unit_readable: &'static str,
    unit: &'static str,
    /// Hourly quantity, 10⁻⁹ (varied ±20%).
    hourly: i128,
    resource: &'static str,
    /// Whether the resource sits in an availability domain.
    zonal: bool,
}

const SKUS: &[Sku] = &[
    Sku {
        service: "COMPUTE",
        part: "B93113",
        description: "Compute - Standard - E4 - OCPU",
        price: 25_000_000,
        unit_readable: "1 NONE HOURS OCPUS",
        unit: "OCPU Hours",
        hourly: 2_000_000_000,
        resource: "instance",
        zonal: true,
    },
    Sku {
        service: "COMPUTE",
        part: "B93114",
        description: "Compute - Standard - E4 - Memory",
        price: 1_500_000,
        unit_readable: "1 GiB HOURS MEMORY",
        unit: "Gigabyte Hours",
        hourly: 32_000_000_000,
        resource: "instance",
        zonal: true,
    },
    Sku {
        service: "BLOCK_STORAGE",
        part: "B91961",
        description: "Storage - Block Volume - Storage",
        price: 35_416_667,
        unit_readable: "1 GiB MONTH STORAGE_SIZE",
        unit: "Gigabyte Storage Capacity per Month",
        hourly: 1_388_888_889,
        resource: "volume",
        zonal: true,
    },
    Sku {
        service: "OBJECTSTORE",
        part: "B91628",
        description: "Object Storage - Storage",
        price: 35_500_000,
        unit_readable: "1 GiB MONTH STORAGE_SIZE",
        unit: "Gigabyte Storage Capacity per Month",
        hourly: 2_777_777_778,
        resource: "bucket",
        zonal: false,
    },
    Sku {
        service: "DATABASE",
        part: "B95702",
        description: "Oracle Autonomous Transaction Processing - ECPU",
        price: 336_000_000,
        unit_readable: "1 NONE HOURS ECPUS",
        unit: "ECPU Per Hour",
        hourly: 2_000_000_000,
        resource: "autonomousdatabase",
        zonal: true,
    },
    Sku {
        service: "NETWORK",
        part: "B88327",
        description: "Outbound Data Transfer - Originating in North America",
        price: 8_500_000,
        unit_readable: "1 GiB NONE DATA_TRANSFERRED",
        unit: "Gigabytes",
        hourly: 4_500_000_000,
        resource: "vnic",
        zonal: false,
    },
    Sku {
        service: "LOAD_BALANCER",
        part: "B93030",
        description: "Load Balancer Base",
        price: 11_300_000,
        unit_readable: "1 NONE HOURS INSTANCE",
        unit: "Load Balancer Hour",
        hourly: 1_000_000_000,
        resource: "loadbalancer",
        zonal: false,
    },
    Sku {
        service: "TELEMETRY",
        part: "B90926",
        description: "Monitoring Service - Retrieval",
        price: 1_161_880,
        unit_readable: "1000000 NONE NONE DATAPOINTS",
        unit: "Million Datapoints",
        hourly: 2_000,
        resource: "",
        zonal: false,
    },
    Sku {
        service: "LOGGING",
        part: "B92593",
        description: "Logging - Storage",
        price: 50_000_000,
        unit_readable: "1 GiB MONTH STORAGE_SIZE",
        unit: "Gigabyte Storage Capacity per Month",
        hourly: 41_666_667,
        resource: "loggroup",
        zonal: false,
    },
];

const TEAMS: &[&str] = &["web", "data", "platform", "ml", "payments", "search"];
const ENVS: &[&str] = &["prod", "staging", "dev"];
const REGIONS: &[(&str, &str)] = &[("us-ashburn-1", "iad"), ("eu-frankfurt-1", "fra")];

/// A base32-ish OCID tail of `len` characters, stable for `seed`.
fn ocid_tail(seed: u64, len: usize) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0C1D);
    (0..len)
        .map(|_| b"abcdefghijklmnopqrstuvwxyz234567"[rng.random_range(0..32)] as char)
        .collect()
}

/// Half-even rounding of a 10⁻¹⁸ amount to 10⁻¹².
fn round_to_lake(units: i128) -> i128 {
    crate::decimal::round_half_even(units, 1_000_000)
}

/// A 10⁻¹⁸ amount as OCI prints it: 18 fixed decimals, or scientific notation below 10⁻⁶.
fn oci_number(units: i128) -> String {
    let abs = units.unsigned_abs();
    if abs != 0 && abs < 1_000_000_000_000 {
        let digits = abs.to_string();
        let exponent = SOURCE_SCALE as usize - (digits.len() - 1);
        let (head, tail) = digits.split_at(1);
        let tail = if tail.is_empty() { "0" } else { tail };
        let sign = if units < 0 { "-" } else { "" };
        return format!("{sign}{head}.{tail}E-{exponent}");
    }
    let sign = if units < 0 { "-" } else { "" };
    let ten = 10u128.pow(SOURCE_SCALE);
    format!("{sign}{}.{:018}", abs / ten, abs % ten)
}

struct Resource {
    sku: &'static Sku,
    compartment: usize,
    id: String,
    region: (&'static str, &'static str),
    domain: u32,
    tags: [String; 4],
}

/// Writes the month's cost reports under `out` (`out/reports_cost-csv_*.csv.gz`).
pub fn write_cost_reports(out: &Path, spec: &OciSpec) -> io::Result<OciDelivery> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x0C1_0C1);
    fs::create_dir_all(out)?;
    let tenancy = spec.tenancy();
    let subscription = format!(
        "ocid1.organizationssubscription.oc1.iad.amaaaaaa{}",
        ocid_tail(spec.seed + 1, 52)
    );
    let compartments: Vec<(String, String)> = (0..spec.compartments)
        .map(|i| {
            let team = TEAMS[i % TEAMS.len()];
            let env = ENVS[i % ENVS.len()];
            (
                format!(
                    "ocid1.compartment.oc1..aaaaaaaa{}",
                    ocid_tail(spec.seed * 100 + i as u64, 52)
                ),
                format!("{team}-{env}"),
            )
        })
        .collect();
    let resources: Vec<Resource> = (0..(spec.rows / 40).clamp(8, 4_000))
        .map(|i| {
            let sku = &SKUS[rng.random_range(0..SKUS.len())];
            let compartment = rng.random_range(0..compartments.len());
            let region = REGIONS[rng.random_range(0..REGIONS.len())];
            let (_, name) = &compartments[compartment];
            let (team, env) = name.split_once('-').unwrap_or((name, "prod"));
            // Realistic gaps: a tenth untagged, another tenth with the team only.
            let tags = match rng.random_range(0..10) {
                0 => [String::new(), String::new(), String::new(), String::new()],
                1 => [
                    String::new(),
                    team.to_string(),
                    String::new(),
                    String::new(),
                ],
                _ => [
                    format!("default/{team}-deployer@example.com"),
                    team.to_string(),
                    env.to_string(),
                    format!("CC-{}", 1000 + (compartment % TEAMS.len()) * 10),
                ],
            };
            Resource {
                sku,
                compartment,
                id: if sku.resource.is_empty() {
                    format!("oci_{}", ["compute", "vcn", "blockstore"][i % 3])
                } else {
                    format!(
                        "ocid1.{}.oc1.{}.{}",
                        sku.resource,
                        region.1,
                        ocid_tail(spec.seed * 10_000 + i as u64, 60)
                    )
                },
                region,
                domain: rng.random_range(1..=3),
                tags,
            }
        })
        .collect();
    let days = spec.days();
    let usage_hours = i64::from(spec.through_day.map_or(days, |d| d.min(days))) * 24;
    let first = spec.first_day().and_hms_opt(0, 0, 0).unwrap_or_default();
    let mut expected = OciExpected {
        billing_period: format!("{:04}-{:02}", spec.year, spec.month),
        ..OciExpected::default()
    };
    let per_file = spec.rows.div_ceil(spec.files);
    let mut files = Vec::with_capacity(spec.files);
    let mut line = String::with_capacity(1024);
    let mut written = 0usize;
    for n in 0..spec.files {
        let path = out.join(format!(
            "reports_cost-csv_{:016}.csv.gz",
            30_000_000 + spec.seed % 1_000 * 1_000 + n as u64
        ));
        let mut w = BufWriter::new(GzEncoder::new(File::create(&path)?, Compression::fast()));
        w.write_all(HEADER.as_bytes())?;
        w.write_all(b"\n")?;
        let target = (written + per_file).min(spec.rows);
        while written < target {
            let r = &resources[rng.random_range(0..resources.len())];
            let hour = rng.random_range(0..usage_hours);
            let start = first + Duration::hours(hour);
            let quantity = r.sku.hourly * rng.random_range(80..=120i128) / 100;
            let correction = rng.random_range(0..500) == 0;
            let cost = quantity * r.sku.price * if correction { -1 } else { 1 };
            let (compartment_id, compartment_name) = &compartments[r.compartment];
            line.clear();
            use std::fmt::Write as _;
            let _ = write!(
                line,
                "{reference:032x},{tenancy},{start},{end},{service},{compartment_id},{compartment_name},{region},{domain},{resource},{quantity},,{subscription},{part},{description},{price},,{cost},,USD,{readable},{unit},false,{correction},{back},{created},{team},{env},{cc}",
                reference = rng.random::<u128>(),
                // OCI writes the start without seconds and the end with them.
                start = start.format("%Y-%m-%dT%H:%MZ"),
                end = (start + Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ"),
                service = r.sku.service,
                region = r.region.0,
                domain = if r.sku.zonal {
                    format!("{}-AD-{}", r.region.1.to_uppercase(), r.domain)
                } else {
                    String::new()
                },
                resource = r.id,
                quantity = oci_number(quantity * 1_000_000_000),
                part = r.sku.part,
                description = r.sku.description,
                price = oci_number(r.sku.price * 1_000_000_000),
                cost = oci_number(cost),
                readable = r.sku.unit_readable,
                unit = r.sku.unit,
                back = 17_000 + hour,
                created = r.tags[0],
                team = r.tags[1],
                env = r.tags[2],
                cc = r.tags[3],
            );
            w.write_all(line.as_bytes())?;
            w.write_all(b"\n")?;
            expected.rows += 1;
            expected.source += cost;
            expected.lake += round_to_lake(cost);
            expected.corrections += u64::from(correction);
            written += 1;
        }
        w.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .finish()?;
        files.push(path);
    }
    Ok(OciDelivery {
        dir: out.to_path_buf(),
        files,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_oci_does() {
        assert_eq!(oci_number(2_323_760_000), "2.323760000E-9");
        assert_eq!(oci_number(7), "7.0E-18");
        assert_eq!(oci_number(12_264_277_499_950_943), "0.012264277499950943");
        assert_eq!(
            oci_number(-1_500_000_000_000_000_000),
            "-1.500000000000000000"
        );
        assert_eq!(round_to_lake(1_500_000), 2);
        assert_eq!(round_to_lake(2_500_000), 2);
        assert_eq!(round_to_lake(-2_500_001), -3);
    }
}
