//! FOCUS files from other tools: what is only spelling is normalized, what is wrong is an
//! error naming the file, line and column.

use std::path::Path;

use billow_formats::focus_file::{FocusFileReader, discover};
use billow_formats::{Error, ReadEvent, ReadOptions};

const HEADER: &str = "BilledCost,BillingAccountId,BillingCurrency,BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,EffectiveCost,Tags";

fn row(category: &str, tags: &str) -> String {
    format!(
        "1.25,acct,USD,2025-02-01T00:00:00Z,2025-01-01T00:00:00Z,{category},usage-based,2025-01-02 00:00:00,2025-01-01 00:00:00,NULL,{tags}"
    )
}

fn read(dir: &Path, text: &str) -> Result<Vec<arrow::array::RecordBatch>, Error> {
    let p = dir.join("vendor.csv");
    std::fs::write(&p, text).unwrap();
    let mut batches = Vec::new();
    for e in FocusFileReader::open(&p, ReadOptions::new("c", "i"))? {
        if let ReadEvent::Batch(b) = e? {
            batches.push(b);
        }
    }
    Ok(batches)
}

#[test]
fn spelling_is_normalized_and_nulls_are_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{HEADER}\n{}\n",
        row("usage", "\"{\"\"team\"\":\"\"a\"\"}\"")
    );
    let e = read(dir.path(), &text).unwrap_err();
    // EffectiveCost is NULL: Billow needs it to reconcile, so the row is refused.
    match e {
        Error::BadValue { line, column, .. } => {
            assert_eq!((line, column.as_str()), (2, "EffectiveCost"))
        }
        other => panic!("{other:?}"),
    }
    let text = text.replace(",NULL,", ",1.25,");
    let batches = read(dir.path(), &text).unwrap();
    let b = &billow_focus::schema::plain_text(&batches[0]).unwrap();
    let text = |name: &str| {
        b.column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap()
            .value(0)
            .to_string()
    };
    assert_eq!(text("ChargeCategory"), "Usage");
    assert_eq!(text("ChargeFrequency"), "Usage-Based");
    assert_eq!(
        text("x_BillingPeriod"),
        "2025-01",
        "from BillingPeriodStart"
    );
    assert_eq!(text("x_SourceFormat"), "focus-1.0");
    let start = b
        .column_by_name("ChargePeriodStart")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
        .unwrap()
        .value(0);
    assert_eq!(start, 1_735_689_600_000_000, "2025-01-01 00:00:00 is UTC");
}

#[test]
fn a_value_focus_does_not_list_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{HEADER}\n{}\n{}\n",
        row("Usage", "").replace(",NULL,", ",1,"),
        row("Consumption", "").replace(",NULL,", ",1,")
    );
    match read(dir.path(), &text).unwrap_err() {
        Error::BadValue {
            line,
            column,
            found,
            ..
        } => assert_eq!(
            (line, column.as_str(), found.as_str()),
            (3, "ChargeCategory", "Consumption")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn tags_that_are_not_a_json_object_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{HEADER}\n{}\n",
        row("Usage", "team=a").replace(",NULL,", ",1,")
    );
    match read(dir.path(), &text).unwrap_err() {
        Error::BadValue { column, .. } => assert_eq!(column, "Tags"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_columns_billow_needs_are_listed_together() {
    let dir = tempfile::tempdir().unwrap();
    let text = "BilledCost,ChargeCategory\n1,Usage\n";
    match read(dir.path(), text).unwrap_err() {
        Error::MissingColumn { column, .. } => {
            for needed in ["BillingAccountId", "BillingPeriodStart", "EffectiveCost"] {
                assert!(column.contains(needed), "{column}");
            }
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_empty_folder_says_what_it_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let e = discover(dir.path()).unwrap_err().to_string();
    assert!(e.contains("FOCUS files"), "{e}");
}

#[test]
fn extension_columns_are_kept_as_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    // Azure's FocusCost x_ columns, OCI's oci_ columns (kept as x_), a FOCUS 1.3 column the
    // 1.2 lake has no place for, OCI's 1.0-preview names, and a column nobody defines.
    let header = format!(
        "{HEADER},x_ResourceGroupName,x_SkuMeterId,oci_CompartmentName,AllocatedResourceId,Region,UsageQuantity,UsageUnit,Provider,Comment"
    );
    let first = format!(
        "{},rg-web,0b8e-11,prod-compartment,pod-7,us-ashburn-1,2.5,Hours,Oracle,hello",
        row("Usage", "").replacen("NULL", "1.25", 1)
    );
    let second = format!(
        "{},,,NULL,,,,,Oracle,",
        row("Usage", "").replacen("NULL", "1.25", 1)
    );
    let batches = read(dir.path(), &format!("{header}\n{first}\n{second}\n")).unwrap();
    let b = &batches[0];
    let text = |name: &str, i: usize| {
        arrow::util::display::array_value_to_string(b.column_by_name(name).unwrap(), i).unwrap()
    };
    assert_eq!(
        text("x_Extensions", 0),
        r#"{"x_ResourceGroupName":"rg-web","x_SkuMeterId":"0b8e-11","x_CompartmentName":"prod-compartment","AllocatedResourceId":"pod-7"}"#
    );
    assert_eq!(text("x_Extensions", 1), "");
    assert_eq!(text("RegionId", 0), "us-ashburn-1");
    assert_eq!(text("ConsumedQuantity", 0), "2.500000000000");
    assert_eq!(text("ConsumedUnit", 0), "Hours");
    assert_eq!(text("ProviderName", 0), "Oracle");
}

#[test]
fn a_billow_export_read_back_keeps_its_extensions_and_drops_its_bookkeeping() {
    let dir = tempfile::tempdir().unwrap();
    let header = format!("{HEADER},x_Extensions,x_ConnectionId,x_SourceLine,x_LineItemType,x_Team");
    let good = format!(
        r#"{},"{{""x_ResourceGroupName"":""rg-web""}}",old-connection,7,Usage,web"#,
        row("Usage", "").replacen("NULL", "1.25", 1)
    );
    let batches = read(dir.path(), &format!("{header}\n{good}\n")).unwrap();
    let b = &batches[0];
    let text = |name: &str| {
        arrow::util::display::array_value_to_string(b.column_by_name(name).unwrap(), 0).unwrap()
    };
    assert_eq!(
        text("x_Extensions"),
        r#"{"x_ResourceGroupName":"rg-web","x_Team":"web"}"#
    );
    assert_eq!(text("x_ConnectionId"), "c");
    assert_eq!(text("x_SourceLine"), "2");
    assert_eq!(text("x_LineItemType"), "Usage");
    // A cell that is no longer a JSON object is refused where it is.
    let bad = good.replace(r#""{""x_ResourceGroupName"":""rg-web""}""#, "rg-web");
    match read(dir.path(), &format!("{header}\n{bad}\n")).unwrap_err() {
        Error::BadValue { line, column, .. } => {
            assert_eq!((line, column.as_str()), (2, "x_Extensions"))
        }
        other => panic!("{other:?}"),
    }
}
