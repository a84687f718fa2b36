//! OCI cost reports: what OCI really writes is read, what it never writes is an error.

use billow_formats::oci::OciCostReader;
use billow_formats::{Error, ReadEvent, ReadOptions};

const HEADER: &str = "lineItem/referenceNo,lineItem/tenantId,lineItem/intervalUsageStart,lineItem/intervalUsageEnd,product/service,cost/myCost,cost/currencyCode,tags/Oracle-Tags.CreatedBy";

fn read(text: &str) -> Result<u64, Error> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("reports_cost-csv_1.csv");
    std::fs::write(&p, text).unwrap();
    let mut rows = 0;
    for e in OciCostReader::open(&p, ReadOptions::new("c", "i"))? {
        if let ReadEvent::Batch(b) = e? {
            rows += b.num_rows() as u64;
        }
    }
    Ok(rows)
}

#[test]
fn mixed_time_spellings_and_eighteen_decimals_are_read() {
    let text = format!(
        "{HEADER}\nr1,t1,2023-11-13T10:00Z,2023-11-13T11:00:00Z,COMPUTE,0.012264277499950943,USD,a@b\n"
    );
    assert_eq!(read(&text).unwrap(), 1);
}

#[test]
fn a_usage_report_is_not_a_cost_report() {
    let text = "lineItem/referenceNo,lineItem/tenantId,lineItem/intervalUsageStart,lineItem/intervalUsageEnd,product/service,usage/billedQuantity\nr,t,2023-11-13T10:00Z,2023-11-13T11:00Z,COMPUTE,1\n";
    match read(text).unwrap_err() {
        Error::MissingColumn { column, hint, .. } => {
            assert_eq!(column, "cost/myCost");
            assert!(hint.contains("cost-csv"), "{hint}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unreadable_time_names_line_and_column() {
    let text = format!(
        "{HEADER}\nr1,t1,2023-11-13T10:00Z,2023-11-13T11:00:00Z,COMPUTE,1,USD,\nr2,t1,13/11/2023 10:00,2023-11-13T11:00:00Z,COMPUTE,1,USD,\n"
    );
    match read(&text).unwrap_err() {
        Error::BadValue { line, column, .. } => {
            assert_eq!((line, column.as_str()), (3, "lineItem/intervalUsageStart"))
        }
        other => panic!("{other:?}"),
    }
}
