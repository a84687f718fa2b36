//! The FOCUS specification's commitment-discount scenarios (FOCUS_Spec `specification/data`:
//! purchases, usage, utilization with and without size flexibility), reproduced exactly
//! through the FOCUS reader and through the native readers that carry commitments: AWS CUR
//! reserved instances and savings plans, Azure reservations and savings plans (actual and
//! amortized exports paired), and Google Cloud resource-based committed use discounts.
//!
//! The published files are the expected values. Each scenario is also told once in
//! provider-neutral terms ([`Line`]), and each provider's writer turns that into the rows its
//! bill really has (an RI-covered CUR row costs 0 and carries `reservation/EffectiveCost`; a
//! savings-plan-covered row shows the on-demand cost and a negation row cancels it; Azure's
//! actual export shows covered usage at 0 and its amortized export at the amortized cost, with
//! the unused part only there; Google bills the commitment's fee and shows covered usage at
//! its on-demand cost with a credit cancelling the covered part, all in one row when only part
//! of it was covered). The lake must then hold the scenario's BilledCost and
//! EffectiveCost per (ChargeCategory, ChargeFrequency, PricingCategory,
//! CommitmentDiscountStatus).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use billow_focus::money::{format_decimal, parse_decimal};
use billow_ingest::{
    IngestOptions, NoProgress, ingest_aws_cur, ingest_azure, ingest_focus, ingest_gcp,
};

use super::{lake, sample, text_rows};

/// A commitment's charges in provider-neutral terms.
#[derive(Clone, Copy)]
enum Line {
    /// The commitment paid in advance for its whole term.
    Upfront(&'static str),
    /// A periodic commitment fee.
    Recurring(&'static str),
    /// Usage the commitment covered: its amortized cost, and what it would have cost on demand.
    Covered {
        resource: &'static str,
        effective: &'static str,
        on_demand: &'static str,
    },
    /// The part of the commitment nothing used.
    Unused(&'static str),
    /// Usage outside the commitment, at the on-demand rate.
    OnDemand {
        resource: &'static str,
        cost: &'static str,
    },
}

use Line::*;

/// Every scenario of the spec's data folder, told in [`Line`]s.
const SCENARIOS: [(&str, &[Line]); 11] = [
    (
        "commitment_discount_scenarios/commitment_discount_purchase_scenario_1.csv",
        &[Upfront("8760.00")],
    ),
    (
        "commitment_discount_scenarios/commitment_discount_purchase_scenario_2.csv",
        &[Recurring("1.00"), Recurring("1.00"), Recurring("1.00")],
    ),
    (
        "commitment_discount_scenarios/commitment_discount_purchase_scenario_3.csv",
        &[
            Upfront("4380.00"),
            Recurring("0.50"),
            Recurring("0.50"),
            Recurring("0.50"),
        ],
    ),
    (
        "commitment_discount_scenarios/commitment_discount_usage_scenario_1.csv",
        &[Covered {
            resource: "vm-1",
            effective: "1.00",
            on_demand: "1.40",
        }],
    ),
    (
        "commitment_discount_scenarios/commitment_discount_usage_scenario_2.csv",
        &[Unused("1.00")],
    ),
    (
        "commitment_discount_scenarios/commitment_discount_usage_scenario_3.csv",
        &[
            Covered {
                resource: "vm-1",
                effective: "0.75",
                on_demand: "1.05",
            },
            Unused("0.25"),
        ],
    ),
    (
        "commitment_discount_scenarios/commitment_discount_usage_scenario_4.csv",
        &[
            Covered {
                resource: "vm-1",
                effective: "1.00",
                on_demand: "1.40",
            },
            OnDemand {
                resource: "vm-1",
                cost: "0.50",
            },
        ],
    ),
    (
        "commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv",
        &[
            Recurring("0.50"),
            Covered {
                resource: "vm-large",
                effective: "0.50",
                on_demand: "1.00",
            },
            OnDemand {
                resource: "vm-large",
                cost: "2.25",
            },
        ],
    ),
    (
        "commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv",
        &[
            Recurring("2.00"),
            Covered {
                resource: "vm-medium-1",
                effective: "1.00",
                on_demand: "2.00",
            },
            Covered {
                resource: "vm-medium-2",
                effective: "1.00",
                on_demand: "2.00",
            },
        ],
    ),
    (
        "commitment_discount_flexibility/one_hundred_percent_utilization_without_commitment_discount_flexibility.csv",
        &[
            Recurring("1.50"),
            Covered {
                resource: "vm-large",
                effective: "1.50",
                on_demand: "3.00",
            },
        ],
    ),
    (
        "commitment_discount_flexibility/zero_percent_utilization_without_commitment_discount_flexibility.csv",
        &[
            Recurring("1.50"),
            Unused("1.50"),
            OnDemand {
                resource: "vm-medium",
                cost: "2.00",
            },
        ],
    ),
];

/// (ChargeCategory, ChargeFrequency, PricingCategory, CommitmentDiscountStatus).
type Group = (String, String, String, String);

/// Σ BilledCost and Σ EffectiveCost per [`Group`], exact, as decimal text.
type Sums = BTreeMap<Group, (String, String)>;

fn exact(text: &str) -> i128 {
    parse_decimal(text.as_bytes()).unwrap().value
}

/// A published scenario file: its rows as column → cell maps (the files quote nothing).
fn scenario_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

fn cell(row: &BTreeMap<String, String>, column: &str) -> String {
    match row.get(column).map(String::as_str) {
        None | Some("null") => String::new(),
        Some(v) => v.to_string(),
    }
}

fn add(sums: &mut BTreeMap<Group, (i128, i128)>, group: Group, billed: i128, effective: i128) {
    let entry = sums.entry(group).or_default();
    entry.0 += billed;
    entry.1 += effective;
}

fn as_text(sums: BTreeMap<Group, (i128, i128)>) -> Sums {
    sums.into_iter()
        .map(|(g, (b, e))| (g, (format_decimal(b), format_decimal(e))))
        .collect()
}

fn expected_sums(path: &Path) -> Sums {
    let mut sums = BTreeMap::new();
    for row in scenario_rows(path) {
        let group = (
            cell(&row, "ChargeCategory"),
            cell(&row, "ChargeFrequency"),
            cell(&row, "PricingCategory"),
            cell(&row, "CommitmentDiscountStatus"),
        );
        add(
            &mut sums,
            group,
            exact(&cell(&row, "BilledCost")),
            exact(&cell(&row, "EffectiveCost")),
        );
    }
    as_text(sums)
}

/// The lake's sums for a connection, over the charge categories the scenario shows (a usage
/// scenario leaves out the fee that pays for the commitment; the native bill still has it).
async fn lake_sums(lake: &billow_lake::Lake, connection: &str, categories: &[String]) -> Sums {
    let rows = text_rows(
        lake,
        &format!(
            "SELECT ChargeCategory, ChargeFrequency, COALESCE(PricingCategory, '-'), \
             COALESCE(CommitmentDiscountStatus, '-'), SUM(BilledCost), SUM(EffectiveCost) \
             FROM focus WHERE x_ConnectionId = '{connection}' GROUP BY 1, 2, 3, 4"
        ),
    )
    .await;
    let mut sums = BTreeMap::new();
    for row in rows {
        let cells: Vec<&str> = row.split(' ').collect();
        let [category, frequency, pricing, status, billed, effective] = cells[..] else {
            panic!("unexpected row {row}");
        };
        if !categories.iter().any(|c| c == category) {
            continue;
        }
        let blank = |s: &str| {
            if s == "-" {
                String::new()
            } else {
                s.to_string()
            }
        };
        add(
            &mut sums,
            (
                category.into(),
                frequency.into(),
                blank(pricing),
                blank(status),
            ),
            exact(billed),
            exact(effective),
        );
    }
    as_text(sums)
}

const CUR_HEADER: &str = "identity/LineItemId,bill/PayerAccountId,bill/BillingPeriodStartDate,bill/BillingPeriodEndDate,lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,lineItem/UsageType,lineItem/ResourceId,lineItem/UsageAmount,lineItem/CurrencyCode,lineItem/UnblendedRate,lineItem/UnblendedCost,pricing/unit,pricing/publicOnDemandRate,pricing/publicOnDemandCost,reservation/ReservationARN,reservation/EffectiveCost,reservation/UnusedAmortizedUpfrontFeeForBillingPeriod,reservation/UnusedRecurringFee,savingsPlan/SavingsPlanARN,savingsPlan/SavingsPlanEffectiveCost,savingsPlan/TotalCommitmentToDate,savingsPlan/UsedCommitment";

const RI_ARN: &str = "arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-1";
const SP_ARN: &str = "arn:aws:savingsplans::111122223333:savingsplan/sp-1";

/// One CUR row; `extra` fills the reservation and savings-plan columns in header order.
fn cur_row(
    line: usize,
    kind: &str,
    resource: &str,
    qty: &str,
    cost: &str,
    extra: [&str; 8],
) -> String {
    let od_cost = if kind == "Usage" { cost } else { "" };
    format!(
        "li-{line},111122223333,2023-01-01T00:00:00Z,2023-02-01T00:00:00Z,111122223333,{kind},2023-01-01T00:00:00Z,2023-01-01T01:00:00Z,AmazonEC2,BoxUsage:m5.large,{resource},{qty},USD,,{cost},Hrs,,{od_cost},{}",
        extra.join(",")
    )
}

/// The commitment's periodic fees and its unused part. A usage scenario leaves the fee out;
/// the bill has it: what was used plus what was not.
fn fees(lines: &[Line]) -> (Vec<String>, i128) {
    let (mut recurring, mut unused, mut covered) = (Vec::new(), 0i128, 0i128);
    for line in lines {
        match *line {
            Recurring(cost) => recurring.push(cost.to_string()),
            Covered { effective, .. } => covered += exact(effective),
            Unused(cost) => unused += exact(cost),
            Upfront(_) | OnDemand { .. } => {}
        }
    }
    if recurring.is_empty() && (covered != 0 || unused != 0) {
        recurring.push(format_decimal(covered + unused));
    }
    (recurring, unused)
}

/// An RI's life as CUR 1 writes it: covered usage costs 0 and carries the amortized
/// `reservation/EffectiveCost`; the monthly `RIFee` carries the fee and the unused part; the
/// upfront payment is a `Fee` row with the reservation's ARN.
fn aws_reserved_instance(lines: &[Line]) -> String {
    let mut rows = Vec::new();
    for line in lines {
        match *line {
            Upfront(cost) => rows.push(cur_row(
                rows.len(),
                "Fee",
                "",
                "1",
                cost,
                [RI_ARN, "", "", "", "", "", "", ""],
            )),
            Covered {
                resource,
                effective,
                ..
            } => {
                rows.push(cur_row(
                    rows.len(),
                    "DiscountedUsage",
                    resource,
                    "1",
                    "0",
                    [RI_ARN, effective, "", "", "", "", "", ""],
                ));
            }
            OnDemand { resource, cost } => {
                rows.push(cur_row(rows.len(), "Usage", resource, "1", cost, [""; 8]))
            }
            Recurring(_) | Unused(_) => {}
        }
    }
    let (recurring, unused) = fees(lines);
    let unused_text = format_decimal(unused);
    for (i, cost) in recurring.iter().enumerate() {
        let unused_here = if i == 0 { unused_text.as_str() } else { "0" };
        rows.push(cur_row(
            rows.len(),
            "RIFee",
            "",
            "1",
            cost,
            [RI_ARN, "", "0", unused_here, "", "", "", ""],
        ));
    }
    csv(CUR_HEADER, &rows)
}

/// A savings plan's life as CUR 1 writes it: covered usage at its on-demand cost with the
/// plan's effective cost, a `SavingsPlanNegation` row cancelling the on-demand cost, and the
/// hourly `SavingsPlanRecurringFee` with the commitment and how much of it was used.
fn aws_savings_plan(lines: &[Line]) -> String {
    let mut rows = Vec::new();
    for line in lines {
        match *line {
            Upfront(cost) => rows.push(cur_row(
                rows.len(),
                "SavingsPlanUpfrontFee",
                "",
                "1",
                cost,
                ["", "", "", "", SP_ARN, "", "", ""],
            )),
            Covered {
                resource,
                effective,
                on_demand,
            } => {
                rows.push(cur_row(
                    rows.len(),
                    "SavingsPlanCoveredUsage",
                    resource,
                    "1",
                    on_demand,
                    ["", "", "", "", SP_ARN, effective, "", ""],
                ));
                let negation = format!("-{on_demand}");
                rows.push(cur_row(
                    rows.len(),
                    "SavingsPlanNegation",
                    resource,
                    "1",
                    &negation,
                    ["", "", "", "", SP_ARN, "", "", ""],
                ));
            }
            OnDemand { resource, cost } => {
                rows.push(cur_row(rows.len(), "Usage", resource, "1", cost, [""; 8]))
            }
            Recurring(_) | Unused(_) => {}
        }
    }
    let (recurring, unused) = fees(lines);
    for (i, cost) in recurring.iter().enumerate() {
        // The first fee row of the hour carries the usage; the commitment is its fee.
        let used = if i == 0 {
            exact(cost) - unused
        } else {
            exact(cost)
        };
        let used = format_decimal(used);
        rows.push(cur_row(
            rows.len(),
            "SavingsPlanRecurringFee",
            "",
            "1",
            cost,
            ["", "", "", "", SP_ARN, "", cost, &used],
        ));
    }
    csv(CUR_HEADER, &rows)
}

const AZURE_HEADER: &str = "BillingAccountId,BillingPeriodStartDate,BillingPeriodEndDate,SubscriptionId,Date,MeterId,MeterCategory,Quantity,CostInBillingCurrency,BillingCurrencyCode,ResourceLocation,ConsumedService,ResourceId,ChargeType,PricingModel,Frequency,benefitId,UnitOfMeasure";

fn azure_row(
    resource: &str,
    cost: &str,
    (charge, model, frequency): (&str, &str, &str),
    benefit: &str,
) -> String {
    let subscription = if charge.starts_with("Unused") {
        "00000000-0000-0000-0000-000000000000"
    } else {
        "6f6f0c5e-1111-4a4a-8b8b-123456789abc"
    };
    format!(
        "8611537,01/01/2023,01/31/2023,{subscription},01/01/2023,m-1,Virtual Machines,1,{cost},USD,eastus,Microsoft.Compute,{resource},{charge},{model},{frequency},{benefit},1 Hour"
    )
}

/// A reservation's or savings plan's life as Azure's two exports write it: the actual export
/// has the purchases and shows covered usage at 0; the amortized export has no purchases,
/// shows covered usage at its share of the commitment, and adds the unused part as its own
/// `Unused…` row.
fn azure_commitment(lines: &[Line], savings_plan: bool) -> (String, String) {
    let (model, benefit, unused_type) = if savings_plan {
        (
            "SavingsPlan",
            "/providers/Microsoft.BillingBenefits/savingsPlanOrders/o/savingsPlans/sp-1",
            "UnusedSavingsPlan",
        )
    } else {
        (
            "Reservation",
            "/providers/Microsoft.Capacity/reservationOrders/o/reservations/ri-1",
            "UnusedReservation",
        )
    };
    let (mut actual, mut amortized) = (Vec::new(), Vec::new());
    for line in lines {
        match *line {
            Upfront(cost) => actual.push(azure_row(
                benefit,
                cost,
                ("Purchase", model, "OneTime"),
                benefit,
            )),
            Recurring(cost) => actual.push(azure_row(
                benefit,
                cost,
                ("Purchase", model, "Recurring"),
                benefit,
            )),
            Covered {
                resource,
                effective,
                ..
            } => {
                actual.push(azure_row(
                    resource,
                    "0",
                    ("Usage", model, "UsageBased"),
                    benefit,
                ));
                amortized.push(azure_row(
                    resource,
                    effective,
                    ("Usage", model, "UsageBased"),
                    benefit,
                ));
            }
            Unused(cost) => amortized.push(azure_row(
                benefit,
                cost,
                (unused_type, model, "UsageBased"),
                benefit,
            )),
            OnDemand { resource, cost } => {
                actual.push(azure_row(
                    resource,
                    cost,
                    ("Usage", "OnDemand", "UsageBased"),
                    "",
                ));
                amortized.push(azure_row(
                    resource,
                    cost,
                    ("Usage", "OnDemand", "UsageBased"),
                    "",
                ));
            }
        }
    }
    (csv(AZURE_HEADER, &actual), csv(AZURE_HEADER, &amortized))
}

/// One Cloud Billing export row of Compute Engine in one hour, as newline-delimited JSON.
fn gcp_row(sku: &str, cost: &str, priced: &str, credits: &str, subscription: &str) -> String {
    let sku_id = if sku.starts_with("Commitment") {
        "F61D-7A9E-2B61"
    } else {
        "CF4E-A0C7-E3BF"
    };
    format!(
        r#"{{"billing_account_id":"01A2B3-C4D5E6-F7A8B9","service":{{"id":"6F81-5844-456A","description":"Compute Engine"}},"sku":{{"id":"{sku_id}","description":"{sku}"}},"usage_start_time":"2023-01-01T00:00:00Z","usage_end_time":"2023-01-01T01:00:00Z","project":{{"id":"shop-prod","name":"shop-prod"}},"location":{{"location":"us-central1","region":"us-central1"}},"cost":{cost},"currency":"USD","usage":{{"amount":{priced},"unit":"hour","amount_in_pricing_units":{priced},"pricing_unit":"hour"}},"credits":[{credits}],"invoice":{{"month":"202301"}},"cost_type":"regular"{subscription}}}"#
    )
}

/// A resource-based committed use discount's life as the Cloud Billing export writes it: the
/// commitment's fee (its quantity is what it commits, at 1 unit per dollar of fee here), and
/// each VM's usage at its on-demand cost with a `COMMITTED_USAGE_DISCOUNT` credit for the
/// covered part, covered and on-demand usage of one VM being one row. Google sells these
/// commitments only for monthly fees, so scenarios with an upfront payment have no GCP form.
fn gcp_resource_cud(lines: &[Line]) -> Option<String> {
    if lines.iter().any(|l| matches!(l, Upfront(_))) {
        return None;
    }
    let fee_sku = "Commitment v1: Cpu in Americas for 1 Year";
    let subscription = r#","subscription":{"instance_id":"1234567890123"}"#;
    let (recurring, _) = fees(lines);
    let mut rows: Vec<String> = recurring
        .iter()
        .map(|fee| gcp_row(fee_sku, fee, fee, "", subscription))
        .collect();
    // (covered on-demand cost, covered quantity, on-demand cost) per VM, in order.
    let mut vms: Vec<(&str, i128, i128, i128)> = Vec::new();
    for line in lines {
        let (resource, covered, quantity, on_demand) = match *line {
            Covered {
                resource,
                effective,
                on_demand,
            } => (resource, exact(on_demand), exact(effective), 0),
            OnDemand { resource, cost } => (resource, 0, 0, exact(cost)),
            _ => continue,
        };
        match vms.iter_mut().find(|v| v.0 == resource) {
            Some(vm) => {
                vm.1 += covered;
                vm.2 += quantity;
                vm.3 += on_demand;
            }
            None => vms.push((resource, covered, quantity, on_demand)),
        }
    }
    for (_, covered, quantity, on_demand) in vms {
        let cost = covered + on_demand;
        // The row's quantity is what makes `quantity` its covered part (quantity × cost ÷
        // covered); without coverage, one hour.
        let priced = if covered == 0 {
            billow_focus::money::ONE
        } else {
            billow_focus::money::mul_div(quantity, cost, covered).unwrap()
        };
        let credits = if covered == 0 {
            String::new()
        } else {
            format!(
                r#"{{"name":"Committed use discount: CPU","full_name":"Committed use discount: CPU","id":"CommittedUsageDiscount","type":"COMMITTED_USAGE_DISCOUNT","amount":-{}}}"#,
                format_decimal(covered)
            )
        };
        rows.push(gcp_row(
            "E2 Instance Core running in Americas",
            &format_decimal(cost),
            &format_decimal(priced),
            &credits,
            "",
        ));
    }
    Some(rows.join("\n") + "\n")
}

fn csv(header: &str, rows: &[String]) -> String {
    let mut text = format!("{header}\n");
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    text
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn categories(expected: &Sums) -> Vec<String> {
    let mut c: Vec<String> = expected.keys().map(|g| g.0.clone()).collect();
    c.dedup();
    c
}

#[tokio::test]
async fn native_readers_reproduce_the_spec_commitment_scenarios() {
    if sample(&format!("focus_spec_data/{}", SCENARIOS[0].0)).is_none() {
        eprintln!("shared samples not present; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path()).await;
    let mut gcp_scenarios = 0;
    for (n, (file, lines)) in SCENARIOS.iter().enumerate() {
        let published = sample(&format!("focus_spec_data/{file}")).unwrap();
        let expected = expected_sums(&published);
        let shown = categories(&expected);
        let work = dir.path().join(format!("s{n}"));
        std::fs::create_dir_all(&work).unwrap();

        let cur = write(&work, "ri.csv", &aws_reserved_instance(lines));
        let connection = format!("aws-ri-{n}");
        ingest_aws_cur(&lake, &cur, &IngestOptions::new(&connection), &NoProgress)
            .await
            .unwrap();
        assert_eq!(
            lake_sums(&lake, &connection, &shown).await,
            expected,
            "AWS reserved instance, {file}"
        );

        let cur = write(&work, "sp.csv", &aws_savings_plan(lines));
        let connection = format!("aws-sp-{n}");
        ingest_aws_cur(&lake, &cur, &IngestOptions::new(&connection), &NoProgress)
            .await
            .unwrap();
        assert_eq!(
            lake_sums(&lake, &connection, &shown).await,
            expected,
            "AWS savings plan, {file}"
        );

        if let Some(export) = gcp_resource_cud(lines) {
            let export = write(&work, "gcp.jsonl", &export);
            let connection = format!("gcp-{n}");
            ingest_gcp(
                &lake,
                &export,
                &IngestOptions::new(&connection),
                &NoProgress,
            )
            .await
            .unwrap();
            assert_eq!(
                lake_sums(&lake, &connection, &shown).await,
                expected,
                "GCP resource-based CUD, {file}"
            );
            gcp_scenarios += 1;
        }

        for savings_plan in [false, true] {
            let (actual, amortized) = azure_commitment(lines, savings_plan);
            let actual = write(&work, &format!("actual-{savings_plan}.csv"), &actual);
            let amortized = write(&work, &format!("amortized-{savings_plan}.csv"), &amortized);
            let connection = format!("azure-{savings_plan}-{n}");
            ingest_azure(
                &lake,
                &actual,
                None,
                Some(&amortized),
                &IngestOptions::new(&connection),
                &NoProgress,
            )
            .await
            .unwrap();
            assert_eq!(
                lake_sums(&lake, &connection, &shown).await,
                expected,
                "Azure {}, {file}",
                if savings_plan {
                    "savings plan"
                } else {
                    "reservation"
                }
            );
        }
    }
    // Every scenario without an upfront payment.
    assert_eq!(gcp_scenarios, SCENARIOS.len() - 2);
}

#[tokio::test]
async fn the_focus_reader_reproduces_the_spec_scenarios_row_by_row() {
    if sample(&format!("focus_spec_data/{}", SCENARIOS[0].0)).is_none() {
        eprintln!("shared samples not present; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path()).await;
    for (n, (file, _)) in SCENARIOS.iter().enumerate() {
        let published = sample(&format!("focus_spec_data/{file}")).unwrap();
        // The spec's examples show only the columns their point needs. Billow needs to know
        // whose account and which currency a row is in before it can place it.
        let text = std::fs::read_to_string(&published).unwrap();
        let mut completed = String::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                completed.push('\n');
                continue;
            }
            let extra = if i == 0 {
                "BillingAccountId,BillingCurrency"
            } else {
                "acct-1,USD"
            };
            completed.push_str(&format!("{extra},{line}\n"));
        }
        let work = dir.path().join(format!("f{n}"));
        std::fs::create_dir_all(&work).unwrap();
        let path = write(&work, "scenario.csv", &completed);
        let connection = format!("focus-{n}");
        let result =
            ingest_focus(&lake, &path, &IngestOptions::new(&connection), &NoProgress).await;
        if text.contains("T30:00:00Z") {
            // Purchase scenarios 2 and 3 publish an hour 30 (`2023-02-01T30:00:00Z`): a real
            // file with that cell is refused where it is, and nothing is published.
            let line = 1 + text.lines().position(|l| l.contains("T30:00:00Z")).unwrap();
            let message = result.unwrap_err().to_string();
            assert!(
                message.contains(&format!("line {line},")) && message.contains("ChargePeriodEnd"),
                "{message}"
            );
            let rows = text_rows(
                &lake,
                &format!("SELECT COUNT(*) FROM focus WHERE x_ConnectionId = '{connection}'"),
            )
            .await;
            assert_eq!(rows, ["0"]);
            continue;
        }
        result.unwrap();
        let expected: Vec<String> = scenario_rows(&published)
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    format_decimal(exact(&cell(r, "BilledCost"))),
                    format_decimal(exact(&cell(r, "EffectiveCost")))
                )
            })
            .collect();
        let got: Vec<String> = text_rows(
            &lake,
            &format!("SELECT BilledCost, EffectiveCost FROM focus WHERE x_ConnectionId = '{connection}' ORDER BY x_SourceLine"),
        )
        .await
        .iter()
        .map(|r| {
            let (b, e) = r.split_once(' ').unwrap();
            format!("{} {}", format_decimal(exact(b)), format_decimal(exact(e)))
        })
        .collect();
        assert_eq!(got, expected, "{file}");
        assert_eq!(
            lake_sums(&lake, &connection, &categories(&expected_sums(&published))).await,
            expected_sums(&published),
            "{file}"
        );
    }
}

/// A resource-based commitment's fee in one file of the export and the usage it covered in
/// another, over two hours and two resources: the fees become Purchase rows at EffectiveCost
/// 0, the covered usage takes them by covered on-demand cost as far as it used the
/// commitment, a VM covered only in part splits into its covered and on-demand parts, the rest
/// of the vCPU commitment is one Unused row, and every total still reconciles to the export's
/// own cost and credit cells.
#[tokio::test]
async fn gcp_commitment_fees_are_amortized_across_the_files_of_an_export() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    std::fs::create_dir_all(&export).unwrap();
    let hour = |h: u32, row: String| {
        row.replace(
            "\"usage_start_time\":\"2023-01-01T00:00:00Z\",\"usage_end_time\":\"2023-01-01T01:00:00Z\"",
            &format!(
                "\"usage_start_time\":\"2023-01-01T{h:02}:00:00Z\",\"usage_end_time\":\"2023-01-01T{:02}:00:00Z\"",
                h + 1
            ),
        )
    };
    let cud = |amount: &str| {
        format!(
            r#"{{"name":"Committed use discount: CPU","type":"COMMITTED_USAGE_DISCOUNT","amount":{amount}}}"#
        )
    };
    let subscription = r#","subscription":{"instance_id":"1234567890123"}"#;
    let cpu_fee = "Commitment v1: Cpu in Americas for 1 Year";
    let ram_fee = "Commitment v1: Ram in Americas for 1 Year";
    let fees = [
        hour(0, gcp_row(cpu_fee, "0.70", "10", "", subscription)),
        hour(1, gcp_row(cpu_fee, "0.70", "10", "", subscription)),
        hour(0, gcp_row(ram_fee, "0.30", "40", "", subscription)),
    ];
    std::fs::write(export.join("a.jsonl"), fees.join("\n") + "\n").unwrap();
    let core = "E2 Instance Core running in Americas";
    let usage = [
        hour(0, gcp_row(core, "0.40", "4", &cud("-0.40"), "")),
        hour(0, gcp_row(core, "0.80", "8", &cud("-0.50"), "")),
        hour(1, gcp_row(core, "0.40", "4", &cud("-0.40"), "")),
        hour(
            0,
            gcp_row(
                "E2 Instance Ram running in Americas",
                "0.40",
                "40",
                &cud("-0.40"),
                "",
            ),
        ),
        // A spend-based commitment's credit is not amortized: it stays a credit.
        hour(
            0,
            gcp_row(
                core,
                "0.10",
                "1",
                r#"{"name":"Committed use discount - dollar based","type":"COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE","amount":-0.03}"#,
                "",
            ),
        ),
    ];
    std::fs::write(export.join("b.jsonl"), usage.join("\n") + "\n").unwrap();

    let lake = lake(dir.path()).await;
    ingest_gcp(&lake, &export, &IngestOptions::new("gcp"), &NoProgress)
        .await
        .unwrap();
    let rows = text_rows(
        &lake,
        "SELECT ChargeCategory, COALESCE(PricingCategory, '-'), \
         COALESCE(CommitmentDiscountStatus, '-'), BilledCost, EffectiveCost, \
         COALESCE(CAST(PricingQuantity AS VARCHAR), '-'), \
         COALESCE(CAST(CommitmentDiscountQuantity AS VARCHAR), '-') \
         FROM focus ORDER BY x_SourceFile, x_SourceLine, ChargeCategory DESC, \
         PricingCategory, CommitmentDiscountStatus DESC",
    )
    .await;
    let d = |text: &str| format_decimal(exact(text));
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            r.split(' ')
                .map(|cell| {
                    if cell
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit() || c == '-')
                        && cell != "-"
                    {
                        d(cell)
                    } else {
                        cell.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    // vCPU pool of the day: 20 committed, 13 covered (4 + 5 + 4), so 13/20 of 1.40 is used
    // (0.91: 0.28, 0.35 and 0.28 by covered cost 0.40, 0.50, 0.40) and 0.49 is unused.
    assert_eq!(
        got,
        [
            "Usage Committed Unused 0 0.49 - 7",
            "Purchase Standard - 0.7 0 10 10",
            "Purchase Standard - 0.7 0 10 10",
            "Purchase Standard - 0.3 0 40 40",
            "Usage Committed Used 0 0.28 4 4",
            "Usage Committed Used 0 0.35 5 5",
            "Usage Standard - 0.3 0.3 3 -",
            "Usage Committed Used 0 0.28 4 4",
            "Usage Committed Used 0 0.3 40 40",
            "Usage Standard - 0.1 0.1 1 -",
            "Credit - - -0.03 -0.03 - -",
        ]
    );
    let ids = text_rows(
        &lake,
        "SELECT DISTINCT CommitmentDiscountId FROM focus WHERE CommitmentDiscountId IS NOT NULL \
         ORDER BY 1",
    )
    .await;
    assert_eq!(
        ids,
        [
            "billingAccounts/01A2B3-C4D5E6-F7A8B9/commitments/us-central1/memory",
            "billingAccounts/01A2B3-C4D5E6-F7A8B9/commitments/us-central1/vcpu",
        ]
    );
    // What was paid is what it cost: fees 1.70 plus usage net of its credits 0.37.
    let totals = text_rows(
        &lake,
        "SELECT SUM(BilledCost), SUM(EffectiveCost) FROM focus",
    )
    .await;
    let (billed, effective) = totals[0].split_once(' ').unwrap();
    assert_eq!((d(billed), d(effective)), ("2.07".into(), "2.07".into()));
    let reconciled = billow_ingest::reconcile(&lake, None).await.unwrap();
    assert!(!reconciled.is_empty());
    for r in &reconciled {
        assert_eq!(r.status, billow_ingest::ReconcileStatus::Exact, "{r:?}");
    }
}
