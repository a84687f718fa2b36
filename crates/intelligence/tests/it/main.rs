//! The overview against independent sums of the `focus` rows.

use std::collections::BTreeMap;

use billow_ingest::{IngestOptions, NoProgress, ingest_aws_cur};
use billow_intelligence::{CostColumn, OverviewRequest, overview};
use billow_lake::costs::{CostRow, GroupBy};
use billow_lake::{Lake, Scope};
use billow_synth::aws_cur::{CurSpec, write_delivery};
use chrono::NaiveDate;

fn billed(rows: &[CostRow]) -> i128 {
    rows.iter().map(|r| r.billed.unwrap_or(0)).sum()
}

#[tokio::test]
async fn cards_trend_and_rankings_equal_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("data")).await.unwrap();
    for (connection, seed, months) in [("payer-1", 1, &[9u32, 10][..]), ("payer-2", 2, &[10][..])] {
        for &month in months {
            let spec = CurSpec::new(seed, 2026, month).with_rows(800);
            let d =
                write_delivery(&dir.path().join(format!("{connection}-{month}")), &spec).unwrap();
            ingest_aws_cur(
                &lake,
                &d.report_dir,
                &IngestOptions::new(connection),
                &NoProgress,
            )
            .await
            .unwrap();
        }
    }
    let providers: BTreeMap<String, String> = [
        ("payer-1", "aws"),
        ("payer-2", "aws"),
        ("oci-tenancy", "oci"),
    ]
    .into_iter()
    .map(|(c, p)| (c.to_string(), p.to_string()))
    .collect();
    let as_of = NaiveDate::from_ymd_opt(2026, 10, 20).unwrap();
    let request = OverviewRequest {
        as_of,
        trend_days: 30,
        column: CostColumn::Billed,
        providers,
        tag_key: Some("team".into()),
        top: 5,
    };
    let scope = Scope::connections(["payer-1", "payer-2", "oci-tenancy"]);
    let o = overview(&lake, &scope, &request).await.unwrap();
    assert_eq!(
        (o.month.as_str(), o.last_month.as_str()),
        ("2026-10", "2026-09")
    );

    // Cards: AWS sums both payers exactly as the rows do; OCI has no data.
    assert_eq!(o.cards.len(), 2);
    let aws = &o.cards[0];
    assert_eq!(aws.provider, "aws");
    assert_eq!(aws.connections, ["payer-1", "payer-2"]);
    let october = lake
        .costs_from_focus(Some("2026-10"), None, &GroupBy::Service)
        .await
        .unwrap();
    let september = lake
        .costs_from_focus(Some("2026-09"), None, &GroupBy::Service)
        .await
        .unwrap();
    assert_eq!(aws.month_to_date, billed(&october));
    assert_eq!(aws.last_month, billed(&september));
    assert!(aws.has_data);
    let oci = &o.cards[1];
    assert_eq!((oci.provider.as_str(), oci.has_data), ("oci", false));
    assert_eq!((oci.month_to_date, oci.projection), (0, None));

    // The projection: month to date plus the last 7 days' average for each day left.
    let days = lake
        .costs_from_focus(None, None, &GroupBy::Day)
        .await
        .unwrap();
    let daily: BTreeMap<NaiveDate, i128> = days
        .iter()
        .map(|r| {
            (
                NaiveDate::parse_from_str(&r.key, "%Y-%m-%d").unwrap(),
                r.billed.unwrap_or(0),
            )
        })
        .collect();
    let last = *daily.range(..=as_of).rfind(|(_, v)| **v != 0).unwrap().0;
    assert_eq!(aws.last_charge_day, Some(last));
    let week: Vec<i128> = daily
        .range(..=last)
        .rev()
        .take(7)
        .map(|(_, v)| *v)
        .collect();
    let average = week.iter().sum::<i128>() / 7;
    assert_eq!(
        aws.projection,
        Some(aws.month_to_date + average * i128::from(31 - 20))
    );
    let september_to_date: i128 = daily
        .range(
            NaiveDate::from_ymd_opt(2026, 9, 1).unwrap()
                ..=NaiveDate::from_ymd_opt(2026, 9, 20).unwrap(),
        )
        .map(|(_, v)| v)
        .sum();
    assert_eq!(aws.last_month_to_date, september_to_date);

    // The trend: 30 days ending with as_of, each the rows' sum of that day.
    assert_eq!(o.trend.days.len(), 30);
    assert_eq!(*o.trend.days.last().unwrap(), as_of);
    let (provider, values) = &o.trend.series[0];
    assert_eq!(provider, "aws");
    for (day, value) in o.trend.days.iter().zip(values) {
        assert_eq!(*value, daily.get(day).copied().unwrap_or(0), "{day}");
    }

    // Rankings: the month's top five by the rows.
    let top: Vec<(String, i128)> = october
        .iter()
        .take(5)
        .map(|r| (r.key.clone(), r.billed.unwrap()))
        .collect();
    let shown: Vec<(String, i128)> = o.services.iter().map(|r| (r.key.clone(), r.cost)).collect();
    assert_eq!(shown, top);
    assert_eq!(o.accounts.len(), 5);
    assert!(!o.regions.is_empty());
    let teams = lake
        .costs_from_focus(Some("2026-10"), None, &GroupBy::Tag("team".into()))
        .await
        .unwrap();
    let tagged: Vec<&CostRow> = teams.iter().filter(|r| r.key != "(untagged)").collect();
    assert_eq!(o.tags.len(), tagged.len().min(5));
    assert_eq!(o.tags[0].cost, tagged[0].billed.unwrap());

    // A scope without payer-2 sees only payer-1's share.
    let narrow = Scope::connections(["payer-1", "oci-tenancy"]);
    let o = overview(&lake, &narrow, &request).await.unwrap();
    let payer_1 = lake
        .costs_from_focus(Some("2026-10"), Some("payer-1"), &GroupBy::Service)
        .await
        .unwrap();
    assert_eq!(o.cards[0].connections, ["payer-1"]);
    assert_eq!(o.cards[0].month_to_date, billed(&payer_1));
}
