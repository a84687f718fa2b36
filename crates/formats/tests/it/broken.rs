//! Every way a CUR delivery really breaks gets an error naming the file, the line (and
//! column), what was expected and what to do.

use std::io::Write;
use std::path::{Path, PathBuf};

use billow_formats::Error;
use billow_formats::aws_cur::discover;
use billow_formats::{ReadEvent, ReadOptions};
use billow_synth::aws_cur::{CurSpec, write_delivery};

fn delivery(dir: &Path) -> billow_synth::aws_cur::Delivery {
    write_delivery(dir, &CurSpec::new(9, 2026, 3).with_rows(300).with_files(2)).unwrap()
}

fn read_all(path: &Path) -> Result<u64, Error> {
    let mut rows = 0;
    for d in discover(path)? {
        for event in d.read(ReadOptions::new("c", "i").with_batch_rows(64)) {
            if let ReadEvent::Batch(b) = event? {
                rows += b.num_rows() as u64;
            }
        }
    }
    Ok(rows)
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

const HEADER: &str = "identity/LineItemId,bill/PayerAccountId,bill/BillingPeriodStartDate,bill/BillingPeriodEndDate,lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,lineItem/UnblendedCost";

fn single(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn message(e: &Error) -> String {
    e.to_string()
}

#[test]
fn good_delivery_reads_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = delivery(dir.path());
    assert_eq!(read_all(&d.report_dir).unwrap(), d.expected.focus_rows);
}

#[test]
fn corrupt_gzip_names_the_file_and_says_to_download_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = delivery(dir.path());
    let mut bytes = std::fs::read(&d.files[1]).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&d.files[1], &bytes).unwrap();
    let e = read_all(&d.report_dir).unwrap_err();
    assert!(
        matches!(e, Error::Corrupt { .. } | Error::Csv { .. }),
        "{e:?}"
    );
    let m = message(&e);
    assert!(m.contains("billow-cur-2.csv.gz"), "{m}");
    assert!(
        m.contains("re-download") || m.contains("Download the file again"),
        "{m}"
    );
}

#[test]
fn truncated_gzip_is_an_error_not_a_short_month() {
    let dir = tempfile::tempdir().unwrap();
    let d = delivery(dir.path());
    let bytes = std::fs::read(&d.files[0]).unwrap();
    std::fs::write(&d.files[0], &bytes[..bytes.len() * 2 / 3]).unwrap();
    let e = read_all(&d.report_dir).unwrap_err();
    let m = message(&e);
    assert!(m.contains("billow-cur-1.csv.gz"), "{m}");
    assert!(
        matches!(
            e,
            Error::Corrupt {
                compression: "gzip",
                ..
            } | Error::Csv { .. }
        ),
        "{e:?}"
    );
}

#[test]
fn truncated_plain_csv_reports_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{HEADER}\nid1,111111111111,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,222222222222,Usage,2026-03-01T00:00:00Z,2026-03-01T01:00:00Z,AmazonEC2,0.5\nid2,111111111111,2026-03-01T00:00:00Z"
    );
    let p = single(dir.path(), "cur.csv", text.as_bytes());
    let e = read_all(&p).unwrap_err();
    // The cut row lacks its required cells: the first one checked is named.
    assert!(
        matches!(&e, Error::BadValue { line: 3, hint, .. } if hint.contains("damaged")),
        "{e:?}"
    );
    assert!(message(&e).contains("cur.csv: line 3"), "{}", message(&e));
}

#[test]
fn row_longer_than_the_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = one_row("1.0", "2026-03-01T00:00:00Z")
        .trim_end()
        .to_string()
        + ",extra\n";
    let p = single(dir.path(), "cur.csv", text.as_bytes());
    let e = read_all(&p).unwrap_err();
    assert!(matches!(e, Error::Csv { line: 2, .. }), "{e:?}");
}

#[test]
fn empty_file_says_a_header_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let p = single(dir.path(), "empty.csv.gz", &gz(""));
    let e = read_all(&p).unwrap_err();
    assert!(matches!(e, Error::Empty { .. }), "{e:?}");
    assert!(message(&e).contains("empty.csv.gz"));
}

#[test]
fn missing_manifest_means_no_delivery_found() {
    let dir = tempfile::tempdir().unwrap();
    let d = delivery(dir.path());
    for entry in std::fs::read_dir(&d.period_dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            std::fs::remove_file(p).unwrap();
        }
    }
    let e = read_all(&d.report_dir).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(message(&e).contains("Manifest.json"), "{}", message(&e));
}

#[test]
fn manifest_naming_a_missing_file_is_an_incomplete_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let d = delivery(dir.path());
    std::fs::remove_file(&d.files[1]).unwrap();
    let e = read_all(&d.report_dir).unwrap_err();
    assert!(matches!(e, Error::MissingReportFile { .. }), "{e:?}");
    let m = message(&e);
    assert!(
        m.contains("billow-cur-2.csv.gz") && m.contains("incomplete"),
        "{m}"
    );
}

#[test]
fn header_without_a_required_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = HEADER.replace(",lineItem/UnblendedCost", "") + "\n";
    let p = single(dir.path(), "cur.csv", text.as_bytes());
    let e = read_all(&p).unwrap_err();
    assert!(
        matches!(&e, Error::MissingColumn { column, .. } if column == "lineItem/UnblendedCost"),
        "{e:?}"
    );
    assert!(message(&e).contains("line 1"));
}

fn one_row(cost: &str, start: &str) -> String {
    format!(
        "{HEADER}\nid1,111111111111,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,222222222222,Usage,{start},2026-03-01T01:00:00Z,AmazonEC2,{cost}\n"
    )
}

#[test]
fn non_numeric_cost_names_line_column_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let p = single(
        dir.path(),
        "cur.csv",
        one_row("12,5x", "2026-03-01T00:00:00Z")
            .replace("12,5x", "\"12,5x\"")
            .as_bytes(),
    );
    let e = read_all(&p).unwrap_err();
    match &e {
        Error::BadValue {
            line,
            column,
            found,
            ..
        } => {
            assert_eq!(
                (*line, column.as_str(), found.as_str()),
                (2, "lineItem/UnblendedCost", "12,5x")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(message(&e).contains("decimal"));
}

#[test]
fn cost_outside_the_summable_range() {
    let dir = tempfile::tempdir().unwrap();
    let p = single(
        dir.path(),
        "cur.csv",
        one_row("1E+30", "2026-03-01T00:00:00Z").as_bytes(),
    );
    let e = read_all(&p).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::BadValue {
                expected: "a value within ±10^15",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn unparsable_date() {
    let dir = tempfile::tempdir().unwrap();
    let p = single(
        dir.path(),
        "cur.csv",
        one_row("1.0", "03/01/2026").as_bytes(),
    );
    let e = read_all(&p).unwrap_err();
    assert!(
        matches!(&e, Error::BadValue { column, line: 2, .. } if column == "lineItem/UsageStartDate"),
        "{e:?}"
    );
}

#[test]
fn duplicate_header_names() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER},lineItem/UnblendedCost\n");
    let p = single(dir.path(), "cur.csv", text.as_bytes());
    let e = read_all(&p).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::DuplicateColumn {
                first: 10,
                second: 11,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn zip_without_a_csv() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    z.start_file("readme.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(b"not a report").unwrap();
    z.finish().unwrap();
    let e = read_all(&path).unwrap_err();
    assert!(
        matches!(&e, Error::NoCsvInZip { found, .. } if found == "readme.txt"),
        "{e:?}"
    );
}

#[test]
fn zip_with_a_csv_reads_like_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    z.start_file("report-1.csv", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(one_row("7.0E-10", "2026-03-01 00:00:00").as_bytes())
        .unwrap();
    z.finish().unwrap();
    assert_eq!(read_all(&path).unwrap(), 1);
}

#[test]
fn rows_of_another_month_inside_a_delivery_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = delivery(dir.path());
    let other = one_row("1.0", "2026-04-01T00:00:00Z").replace(
        "2026-03-01T00:00:00Z,2026-04-01T00:00:00Z",
        "2026-04-01T00:00:00Z,2026-05-01T00:00:00Z",
    );
    // Replace file 2 with a file whose header lacks many columns but is valid CUR.
    std::fs::write(&d.files[1], gz(&other)).unwrap();
    let e = read_all(&d.report_dir).unwrap_err();
    assert!(
        matches!(&e, Error::PeriodMismatch { found, expected, .. } if found == "2026-04" && expected == "2026-03"),
        "{e:?}"
    );
}

#[test]
fn lines_are_counted_through_quoted_line_breaks() {
    // A quoted cell holding a line break, a comma and a doubled quote spans lines 2-4; the
    // rows after it keep their true line numbers in x_SourceLine and in errors.
    let header = format!("{HEADER},lineItem/LineItemDescription");
    let row = |cost: &str, description: &str| {
        format!(
            "id1,111111111111,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,222222222222,Usage,2026-03-01T00:00:00Z,2026-03-01T01:00:00Z,AmazonEC2,{cost},{description}"
        )
    };
    let good = format!(
        "{header}\n{}\n{}\n",
        row("1.5", "\"first line\nsecond, \"\"quoted\"\"\nthird\""),
        row("2.25", "plain")
    );
    let dir = tempfile::tempdir().unwrap();
    let p = single(dir.path(), "cur.csv", good.as_bytes());
    let mut lines = Vec::new();
    let mut descriptions = Vec::new();
    for d in discover(&p).unwrap() {
        for event in d.read(ReadOptions::new("c", "i")) {
            if let ReadEvent::Batch(b) = event.unwrap() {
                let b = billow_focus::schema::plain_text(&b).unwrap();
                let schema = b.schema();
                let line = b.column(schema.index_of("x_SourceLine").unwrap());
                let line = line
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .unwrap();
                lines.extend(line.iter().flatten());
                let text = b.column(schema.index_of("ChargeDescription").unwrap());
                let text = text
                    .as_any()
                    .downcast_ref::<arrow::array::StringArray>()
                    .unwrap();
                descriptions.extend(text.iter().map(|t| t.map(str::to_string)));
            }
        }
    }
    assert_eq!(lines, vec![2, 5]);
    assert_eq!(
        descriptions,
        vec![
            Some("first line\nsecond, \"quoted\"\nthird".to_string()),
            Some("plain".to_string())
        ]
    );

    let bad = good.replace("2.25", "2.2.5");
    let p = single(dir.path(), "bad.csv", bad.as_bytes());
    match read_all(&p).unwrap_err() {
        Error::BadValue { line, column, .. } => {
            assert_eq!((line, column.as_str()), (5, "lineItem/UnblendedCost"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cur2_map_cell_that_is_not_json_names_line_and_column() {
    let header = "bill_payer_account_id,bill_billing_period_start_date,bill_billing_period_end_date,line_item_usage_account_id,line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,line_item_product_code,line_item_unblended_cost,product,resource_tags";
    let row = |product: &str| {
        format!(
            "111111111111,2026-03-01T00:00:00.000Z,2026-04-01T00:00:00.000Z,222222222222,Usage,2026-03-01T00:00:00.000Z,2026-03-01T01:00:00.000Z,AmazonEC2,0.5,{product},\"{{\"\"user_team\"\"=\"\"x\"\"}}\""
        )
    };
    let good_product = "\"{\"\"product_name\"\":\"\"Amazon Elastic Compute Cloud\"\"}\"";
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{header}\n{}\n", row(good_product));
    let p = single(dir.path(), "cur2.csv", text.as_bytes());
    match read_all(&p).unwrap_err() {
        Error::BadValue {
            line,
            column,
            expected,
            ..
        } => {
            assert_eq!((line, column.as_str()), (2, "resource_tags"));
            assert!(expected.contains("JSON"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_quote_never_closed_names_the_record_it_opens_in() {
    // A damaged file whose quoted cell on line 3 never ends: an error naming that line, not
    // the rest of the file read as one cell.
    let header = format!("{HEADER},lineItem/LineItemDescription");
    let row = "id1,111111111111,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,222222222222,Usage,2026-03-01T00:00:00Z,2026-03-01T01:00:00Z,AmazonEC2,1.5";
    let text = format!("{header}\n{row},fine\n{row},\"broken\n{row},after\n{row},after\n");
    let dir = tempfile::tempdir().unwrap();
    let p = single(dir.path(), "cur.csv.gz", &gz(&text));
    let e = read_all(&p).unwrap_err();
    assert!(matches!(e, Error::Csv { line: 3, .. }), "{e:?}");
    let text = message(&e);
    assert!(
        text.contains("cur.csv.gz: line 3") && text.contains("never closed"),
        "{text}"
    );
}
