//! Prices and costs in the pricing currency: CUR 1 gives them only where the pricing currency
//! is the billing currency (it carries no exchange rate).

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Decimal128Type;
use billow_formats::aws_cur::discover;
use billow_formats::{ReadEvent, ReadOptions};

const HEADER: &str = "identity/LineItemId,bill/PayerAccountId,bill/BillingPeriodStartDate,bill/BillingPeriodEndDate,lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,lineItem/UnblendedCost,lineItem/CurrencyCode,pricing/currency,pricing/publicOnDemandRate,lineItem/UsageAmount";

fn batches(text: &str, batch_rows: usize) -> Vec<RecordBatch> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cur.csv");
    std::fs::write(&path, text).unwrap();
    let mut batches = Vec::new();
    for d in discover(&path).unwrap() {
        for event in d.read(ReadOptions::new("c", "i").with_batch_rows(batch_rows)) {
            if let ReadEvent::Batch(b) = event.unwrap() {
                batches.push(b);
            }
        }
    }
    batches
}

fn decimals(batches: &[RecordBatch], column: &str) -> Vec<Option<i128>> {
    batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name(column).unwrap();
            c.as_primitive::<Decimal128Type>()
                .iter()
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn pricing_currency_columns_hold_values_only_where_it_is_the_billing_currency() {
    let row = |cost: &str, pricing: &str, rate: &str| {
        format!(
            "id,111111111111,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,222222222222,Usage,2026-03-01T00:00:00Z,2026-03-01T01:00:00Z,AmazonEC2,{cost},USD,{pricing},{rate},1\n"
        )
    };
    let text = HEADER.to_string()
        + "\n"
        + &row("1.25", "USD", "0.5")
        + &row("2", "USD", "0.4")
        + &row("3", "USD", "0.2")
        + &row("4", "EUR", "0.3")
        + &row("5", "USD", "0.3");
    let units = |v: &str| (v.parse::<f64>().unwrap() * 1e3) as i128 * 1_000_000_000;
    // In batches of two rows: the second ends with the row in euros, the others are all dollars.
    let read = batches(&text, 2);
    assert_eq!(read.len(), 3);
    let effective = [1.25, 2.0, 3.0, 4.0, 5.0].map(|c| Some(units(&c.to_string())));
    assert_eq!(decimals(&read, "EffectiveCost"), effective);
    let mut in_pricing_currency = effective.to_vec();
    in_pricing_currency[3] = None;
    assert_eq!(
        decimals(&read, "PricingCurrencyEffectiveCost"),
        in_pricing_currency
    );
    let prices = ["0.5", "0.4", "0.2", "0.3", "0.3"].map(|p| Some(units(p)));
    assert_eq!(decimals(&read, "ListUnitPrice"), prices);
    assert_eq!(decimals(&read, "ContractedUnitPrice"), prices);
    let mut in_pricing_currency = prices.to_vec();
    in_pricing_currency[3] = None;
    for column in [
        "PricingCurrencyListUnitPrice",
        "PricingCurrencyContractedUnitPrice",
    ] {
        assert_eq!(decimals(&read, column), in_pricing_currency, "{column}");
    }
    // Where every row is in dollars, the column is the billing currency's, one array.
    for b in [&read[0], &read[2]] {
        let same = |a: &str, b2: &str| {
            std::sync::Arc::ptr_eq(b.column_by_name(a).unwrap(), b.column_by_name(b2).unwrap())
        };
        assert!(same("PricingCurrencyListUnitPrice", "ListUnitPrice"));
    }
    assert_eq!(
        read[1]
            .column_by_name("PricingCurrencyListUnitPrice")
            .unwrap()
            .null_count(),
        1
    );
}
