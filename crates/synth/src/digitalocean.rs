//! A DigitalOcean team's invoice CSV for one month, as the control panel downloads it
//! (`product,group_description,description,hours,start,end,USD,project_name,category`):
//! droplets, volumes, Spaces, load balancers, managed databases, Kubernetes node pools,
//! backups and snapshots, then taxes and a promotional credit. Amounts are dollars with a `$`
//! (`-$` for credits) and thousands separators; a resource created mid-month has fewer hours
//! and a later start.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Exact expected totals in cents per FOCUS charge category.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigitalOceanExpected {
    /// Invoice month `YYYY-MM`.
    pub billing_period: String,
    /// Invoice rows.
    pub rows: u64,
    /// FOCUS charge category → Σ cents.
    pub by_category: BTreeMap<String, i128>,
}

/// A written invoice.
#[derive(Debug, Clone)]
pub struct DigitalOceanInvoice {
    /// The CSV file.
    pub path: PathBuf,
    /// Exact expected totals.
    pub expected: DigitalOceanExpected,
}

/// (product, description, hourly price in 1/10000 dollars, monthly cap in cents).
const PRODUCTS: &[(&str, &str, i128, i128)] = &[
    ("Droplets", "s-2vcpu-4gb", 357, 2400),
    ("Droplets", "s-4vcpu-8gb", 714, 4800),
    ("Droplets", "c-8", 2440, 16_400),
    ("Volumes", "Volume (100 GiB)", 149, 1000),
    (
        "Spaces Subscription",
        "Spaces (250 GiB, 1 TiB transfer)",
        74,
        500,
    ),
    ("Load Balancers", "Load Balancer (small)", 179, 1200),
    (
        "Managed Databases",
        "PostgreSQL db-s-2vcpu-4gb (primary)",
        893,
        6000,
    ),
    ("Kubernetes", "Node pool (3 x s-2vcpu-4gb)", 1071, 7200),
    ("Snapshots", "Droplet snapshot (40 GiB)", 30, 200),
];

const PROJECTS: &[&str] = &["Web", "Data", "Platform"];

/// `cents` as DigitalOcean prints dollars: `$1,234.56`, `-$10.00`.
fn dollars(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let text = format!("{sign}${grouped}.{:02}", abs % 100);
    if text.contains(',') {
        format!("\"{text}\"")
    } else {
        text
    }
}

/// Writes the invoice of `year`-`month` for about `resources` resources into `dir`.
pub fn write_invoice(
    dir: &Path,
    seed: u64,
    year: i32,
    month: u32,
    resources: usize,
) -> io::Result<DigitalOceanInvoice> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xD0);
    let first = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("valid month");
    let month_hours = (next - first).num_hours();
    let end = format!(
        "{} 23:59:59 +0000",
        (next - chrono::Duration::days(1)).format("%Y-%m-%d")
    );
    let mut expected = DigitalOceanExpected {
        billing_period: format!("{year:04}-{month:02}"),
        ..DigitalOceanExpected::default()
    };
    let mut text = String::from(
        "product,group_description,description,hours,start,end,USD,project_name,category\n",
    );
    let mut usage = 0i128;
    for i in 0..resources.max(1) {
        let (product, description, hourly, cap) = PRODUCTS[rng.random_range(0..PRODUCTS.len())];
        // A third of resources were created during the month.
        let hours = if rng.random_range(0..3) == 0 {
            rng.random_range(1..month_hours)
        } else {
            month_hours
        };
        let start = first.and_hms_opt(0, 0, 0).expect("midnight")
            + chrono::Duration::hours(month_hours - hours);
        let cents = (i128::from(hours) * hourly / 100).min(cap);
        usage += cents;
        let project = PROJECTS[i % PROJECTS.len()];
        let group = format!("{}-{i}", product.to_ascii_lowercase().replace(' ', "-"));
        let category = if product == "Managed Databases" || product == "Kubernetes" {
            "paas"
        } else {
            "iaas"
        };
        let description = if description.contains(',') {
            format!("\"{description}\"")
        } else {
            description.to_string()
        };
        text.push_str(&format!(
            "{product},{group},{description},{hours},{} +0000,{end},{},{project},{category}\n",
            start.format("%Y-%m-%d %H:%M:%S"),
            dollars(cents)
        ));
        *expected.by_category.entry("Usage".into()).or_default() += cents;
        expected.rows += 1;
        // Weekly backups of a droplet: 20% of its price, no hours.
        if product == "Droplets" && rng.random_range(0..2) == 0 {
            let backup = cents / 5;
            usage += backup;
            text.push_str(&format!(
                "Backups,{group},Droplet backups,,{} +0000,{end},{},{project},{category}\n",
                start.format("%Y-%m-%d %H:%M:%S"),
                dollars(backup)
            ));
            *expected.by_category.entry("Usage".into()).or_default() += backup;
            expected.rows += 1;
        }
    }
    let first_text = format!("{} 00:00:00 +0000", first.format("%Y-%m-%d"));
    let tax = usage * 625 / 10_000;
    text.push_str(&format!(
        "Taxes,,STATE SALES TAX (6.25%),,{first_text},{end},{},,iaas\n",
        dollars(tax)
    ));
    *expected.by_category.entry("Tax".into()).or_default() += tax;
    let credit = -(usage / 10).min(20_000);
    text.push_str(&format!(
        "Credits,,Promotional credit,,{first_text},{end},{},,iaas\n",
        dollars(credit)
    ));
    *expected.by_category.entry("Credit".into()).or_default() += credit;
    expected.rows += 2;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!(
        "DigitalOcean Invoice {year} {} ({:04}-{:04}).csv",
        first.format("%b"),
        seed % 10_000,
        month
    ));
    std::fs::write(&path, text)?;
    Ok(DigitalOceanInvoice { path, expected })
}

#[cfg(test)]
mod tests {
    use super::dollars;

    #[test]
    fn amounts_print_like_the_invoice() {
        assert_eq!(dollars(2400), "$24.00");
        assert_eq!(dollars(123_456), "\"$1,234.56\"");
        assert_eq!(dollars(-1000), "-$10.00");
        assert_eq!(dollars(5), "$0.05");
    }
}
