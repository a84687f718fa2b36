//! OCI cost reports from the generator: 18-decimal costs (some in scientific notation)
//! reconcile to the exact source sum within the stated rounding bound, and the lake holds
//! the half-even rounding of each cost.

use billow_ingest::{IngestOptions, NoProgress, ReconcileStatus, ingest_oci, reconcile};
use billow_synth::oci::{OciSpec, write_cost_reports};

use super::{lake, normalize_decimal, text_rows};

#[tokio::test]
async fn a_generated_tenancy_month_reconciles_to_its_exact_source_and_rounded_totals() {
    let dir = tempfile::tempdir().unwrap();
    let spec = OciSpec::new(21, 2026, 10)
        .with_rows(3_000)
        .with_files(3)
        .with_compartments(5);
    let d = write_cost_reports(&dir.path().join("reports"), &spec).unwrap();
    assert_eq!(d.files.len(), 3);
    assert!(d.expected.corrections > 0, "the month has corrections");
    let lake = lake(dir.path()).await;
    let reports = ingest_oci(&lake, &d.dir, &IngestOptions::new("oci-gen"), &NoProgress)
        .await
        .unwrap();
    assert_eq!(reports.iter().map(|r| r.rows).sum::<u64>(), d.expected.rows);
    let rows = reconcile(&lake, None).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(
        (r.billing_account_id.as_str(), r.charge_category.as_str()),
        (spec.tenancy().as_str(), "Usage")
    );
    assert_eq!(
        normalize_decimal(&r.source_billed),
        d.expected.source_total()
    );
    assert_eq!(normalize_decimal(&r.lake_billed), d.expected.lake_total());
    assert_ne!(r.status, ReconcileStatus::Mismatch, "{r:?}");
    // Corrections keep their sign and their class; compartments are the sub accounts; the
    // free-form tags arrive with their gaps.
    let shape = text_rows(
        &lake,
        "SELECT COUNT(*) FILTER (WHERE ChargeClass = 'Correction'), \
         COUNT(*) FILTER (WHERE ChargeClass = 'Correction' AND BilledCost < 0), \
         COUNT(DISTINCT SubAccountId), COUNT(*) FILTER (WHERE Tags IS NULL) > 0, \
         COUNT(*) FILTER (WHERE Tags LIKE '%\"team\"%') > 0 FROM focus",
    )
    .await;
    assert_eq!(
        shape,
        [format!("{0} {0} 5 true true", d.expected.corrections)]
    );
}
