//! Crash safety: a restatement killed with SIGKILL at any point leaves the lake showing exactly
//! the old version or exactly the new one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use billow_synth::aws_cur::{CurSpec, Expected, write_delivery};

use crate::{billow, text};

type Groups = Vec<(String, String, i128, i128, u64)>;

fn lake_state(data: &Path) -> (Groups, Vec<billow_ingest::ReconcileStatus>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let lake = billow_lake::Lake::open(data).await.unwrap();
        let rows = billow_ingest::reconcile(&lake, None).await.unwrap();
        let groups = lake
            .costs(None, None, &billow_lake::costs::GroupBy::ChargeCategory)
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    String::new(),
                    r.key,
                    r.billed.unwrap(),
                    r.effective.unwrap(),
                    r.rows,
                )
            })
            .collect();
        (groups, rows.iter().map(|r| r.status).collect())
    })
}

fn expected_groups(e: &Expected) -> Groups {
    let mut by_category = std::collections::BTreeMap::<String, (i128, i128)>::new();
    for ((_, c), (b, f)) in &e.by_account_category {
        let g = by_category.entry(c.clone()).or_default();
        g.0 += b * 100;
        g.1 += f * 100;
    }
    let mut out: Groups = by_category
        .into_iter()
        .map(|(c, (b, f))| (String::new(), c, b, f, 0))
        .collect();
    out.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    out
}

fn without_rows(g: &Groups) -> Groups {
    g.iter()
        .map(|(a, c, b, f, _)| (a.clone(), c.clone(), *b, *f, 0))
        .collect()
}

#[test]
fn restatement_killed_at_any_point_shows_exactly_one_version() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let spec = CurSpec::new(77, 2026, 4).with_rows(25_000).with_files(4);
    let v1 = write_delivery(&dir.path().join("v1"), &spec).unwrap();
    let v2 = write_delivery(&dir.path().join("v2"), &spec.clone().with_revision(1)).unwrap();
    let (v1_groups, v2_groups) = (expected_groups(&v1.expected), expected_groups(&v2.expected));
    assert_ne!(v1_groups, v2_groups);
    let ingest = |d: &Path, force: bool| {
        let mut args = vec![
            "ingest",
            "aws-cur",
            d.to_str().unwrap(),
            "--connection",
            "aws",
            "--quiet",
        ];
        if force {
            args.push("--force");
        }
        let out = billow(&data, &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    ingest(&v1.report_dir, false);
    // How long an uninterrupted restatement takes, to spread the kill points over it.
    let start = Instant::now();
    ingest(&v2.report_dir, false);
    let full = start.elapsed();
    ingest(&v1.report_dir, true);
    assert_eq!(without_rows(&lake_state(&data).0), v1_groups);

    // Kill points spread over twice an uninterrupted run: other tests share the two cores, so
    // a run under test can take longer than the one measured.
    let points = 20u32;
    let (mut saw_v1, mut saw_v2) = (0, 0);
    for i in 0..points {
        // From just after start to just past the end, so kills land in reading, writing,
        // recording and committing.
        let at = full.mul_f64(2.0 * f64::from(i) / f64::from(points));
        let mut child = Command::new(env!("CARGO_BIN_EXE_billow"))
            .arg("--data-dir")
            .arg(&data)
            .args([
                "ingest",
                "aws-cur",
                v2.report_dir.to_str().unwrap(),
                "--connection",
                "aws",
                "--quiet",
                "--force",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let (groups, statuses) = lake_state(&data);
        let rows: u64 = groups.iter().map(|g| g.4).sum();
        let groups = without_rows(&groups);
        assert!(
            statuses
                .iter()
                .all(|s| *s == billow_ingest::ReconcileStatus::Exact),
            "kill at {at:?}: {statuses:?}"
        );
        if groups == v1_groups && rows == v1.expected.focus_rows {
            saw_v1 += 1;
        } else if groups == v2_groups && rows == v2.expected.focus_rows {
            saw_v2 += 1;
            ingest(&v1.report_dir, true); // back to v1 for the next point
        } else {
            panic!("kill at {at:?} left a mix:\n{groups:?}\nv1 {v1_groups:?}\nv2 {v2_groups:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        saw_v1 > 0 && saw_v2 > 0,
        "kill points did not cover both outcomes: v1 {saw_v1}, v2 {saw_v2}"
    );
}
