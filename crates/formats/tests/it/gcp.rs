//! Cloud Billing export rows: what cannot be placed or summed is an error with its line.

use billow_formats::gcp::GcpBillingReader;
use billow_formats::{Error, ReadEvent, ReadOptions};

fn read(text: &str) -> Result<u64, Error> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rows.jsonl");
    std::fs::write(&p, text).unwrap();
    let mut rows = 0;
    for e in GcpBillingReader::open(&p, ReadOptions::new("c", "i"))? {
        if let ReadEvent::Batch(b) = e? {
            rows += b.num_rows() as u64;
        }
    }
    Ok(rows)
}

const GOOD: &str = r#"{"billing_account_id":"A","usage_start_time":"2024-01-01T00:00:00Z","usage_end_time":"2024-01-01T01:00:00Z","cost":1,"invoice":{"month":"202401"}}"#;

#[test]
fn a_row_without_an_invoice_month_cannot_be_placed() {
    let text = format!(
        "{GOOD}\n\n{}\n",
        GOOD.replace(r#","invoice":{"month":"202401"}"#, "")
    );
    match read(&text).unwrap_err() {
        Error::BadValue { line, column, .. } => {
            assert_eq!((line, column.as_str()), (3, "invoice.month"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_line_that_is_not_json_names_its_line() {
    let text = format!("{GOOD}\nbilling_account_id,cost\n");
    match read(&text).unwrap_err() {
        Error::BadValue { line, expected, .. } => {
            assert_eq!(line, 2);
            assert!(expected.contains("JSON"), "{expected}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_cost_that_is_not_a_number_is_refused() {
    let text = GOOD.replace(r#""cost":1"#, r#""cost":"n/a""#);
    match read(&text).unwrap_err() {
        Error::BadValue { column, found, .. } => {
            assert_eq!((column.as_str(), found.as_str()), ("cost", "n/a"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(read(GOOD).unwrap(), 1);
}

#[test]
fn storage_byte_seconds_are_consumed_in_their_pricing_unit() {
    // 500 GiB for an hour: 1.9 × 10¹⁵ byte-seconds, more than the lake sums safely.
    let row = GOOD.replace(
        r#""cost":1"#,
        r#""cost":0.017808,"usage":{"amount":1932735283200000,"unit":"byte-seconds","amount_in_pricing_units":0.684931,"pricing_unit":"gibibyte month"}"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rows.jsonl");
    std::fs::write(&p, &row).unwrap();
    let mut batches = Vec::new();
    for e in GcpBillingReader::open(&p, ReadOptions::new("c", "i")).unwrap() {
        if let ReadEvent::Batch(b) = e.unwrap() {
            batches.push(b);
        }
    }
    let text = arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    let columns = [
        "ConsumedQuantity",
        "ConsumedUnit",
        "PricingQuantity",
        "PricingUnit",
    ];
    let batch = &batches[0];
    let cells: Vec<String> = columns
        .iter()
        .map(|c| {
            let col = batch.column_by_name(c).unwrap();
            arrow::util::display::array_value_to_string(col, 0).unwrap()
        })
        .collect();
    assert_eq!(
        cells,
        [
            "0.684931000000",
            "gibibyte month",
            "0.684931000000",
            "gibibyte month"
        ],
        "{text}"
    );
    // Any other unit out of range is refused, with the range in the message.
    let row = GOOD.replace(
        r#""cost":1"#,
        r#""cost":1,"usage":{"amount":2000000000000000,"unit":"bytes"}"#,
    );
    match read(&row).unwrap_err() {
        Error::BadValue {
            column, expected, ..
        } => {
            assert_eq!(column, "usage.amount");
            assert!(expected.contains("10^15"), "{expected}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_damaged_avro_export_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("000000000000.avro");
    // The container's magic, then bytes that are no Avro header.
    std::fs::write(&p, b"Obj\x01\xff\xff\xff\xffnot an avro header").unwrap();
    let err = match GcpBillingReader::open(&p, ReadOptions::new("c", "i")) {
        Err(e) => e,
        Ok(reader) => reader
            .filter_map(Result::err)
            .next()
            .expect("a damaged file is an error"),
    };
    match &err {
        Error::Corrupt {
            path, compression, ..
        } => {
            assert_eq!((path.as_path(), *compression), (p.as_path(), "avro"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("000000000000.avro"), "{err}");
}
