//! A scoped session shows only its connections' (and accounts') rows and never its hidden
//! columns, whatever the query; scoped cost totals equal the sums of exactly those rows,
//! from rollups and from rows alike.

use billow_ingest::{IngestOptions, NoProgress, ingest_aws_cur};
use billow_lake::Scope;
use billow_lake::costs::GroupBy;
use billow_synth::aws_cur::{CurSpec, write_delivery};

async fn scalar(lake: &billow_lake::Lake, scope: &Scope, query: &str) -> String {
    let ctx = lake.scoped_session(scope).await.unwrap();
    let batches = billow_lake::collect_sql(&ctx, query).await.unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    text.lines()
        .nth(3)
        .unwrap_or_default()
        .trim_matches(|c| c == '|' || c == ' ')
        .to_string()
}

#[tokio::test]
async fn a_scope_shows_only_its_rows_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let lake = billow_lake::Lake::open(dir.path().join("data"))
        .await
        .unwrap();
    for (connection, seed) in [("acme-aws", 21), ("globex-aws", 22)] {
        let spec = CurSpec::new(seed, 2026, 4).with_rows(2_000).with_files(2);
        let d = write_delivery(&dir.path().join(connection), &spec).unwrap();
        ingest_aws_cur(
            &lake,
            &d.report_dir,
            &IngestOptions::new(connection),
            &NoProgress,
        )
        .await
        .unwrap();
    }
    let all = Scope::everything();
    let acme = Scope::connections(["acme-aws"]);

    // Rows: another connection's never appear, however the query is written.
    for query in [
        "SELECT COUNT(*) FROM focus WHERE x_ConnectionId = 'globex-aws'",
        "SELECT COUNT(*) FROM focus WHERE x_ConnectionId <> 'acme-aws' OR TRUE AND x_ConnectionId = 'globex-aws'",
        "SELECT COUNT(*) FROM ingestions WHERE connection_id = 'globex-aws'",
        "SELECT COUNT(*) FROM ingestion_totals WHERE connection_id = 'globex-aws'",
    ] {
        assert_eq!(scalar(&lake, &acme, query).await, "0", "{query}");
        assert_ne!(scalar(&lake, &all, query).await, "0", "{query}");
    }
    let acme_rows = scalar(
        &lake,
        &all,
        "SELECT COUNT(*) FROM focus WHERE x_ConnectionId = 'acme-aws'",
    )
    .await;
    assert_eq!(
        scalar(&lake, &acme, "SELECT COUNT(*) FROM focus").await,
        acme_rows
    );
    let nobody = Scope::connections(Vec::<String>::new());
    assert_eq!(
        scalar(&lake, &nobody, "SELECT COUNT(*) FROM focus").await,
        "0"
    );

    // Accounts: a customer's rows are those of its linked account (or billing account).
    let account = scalar(
        &lake,
        &acme,
        "SELECT SubAccountId FROM focus WHERE SubAccountId IS NOT NULL GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1",
    )
    .await;
    let customer = Scope::connections(["acme-aws", "globex-aws"])
        .with_accounts([account.clone()])
        .hiding([
            "ListCost",
            "ListUnitPrice",
            "EffectiveCost",
            "ContractedCost",
            "ContractedUnitPrice",
            "x_Extensions",
        ]);
    let theirs = scalar(
        &lake,
        &all,
        &format!("SELECT COUNT(*) FROM focus WHERE SubAccountId = '{account}' OR BillingAccountId = '{account}'"),
    )
    .await;
    assert_eq!(
        scalar(&lake, &customer, "SELECT COUNT(*) FROM focus").await,
        theirs
    );
    assert_eq!(
        scalar(&lake, &customer, "SELECT COUNT(*) FROM ingestions").await,
        "0"
    );

    // Columns: hidden ones do not exist for the query.
    let ctx = lake.scoped_session(&customer).await.unwrap();
    for query in [
        "SELECT SUM(ListCost) FROM focus",
        "SELECT EffectiveCost FROM focus",
        "SELECT ContractedUnitPrice FROM focus LIMIT 1",
        "SELECT source_effective FROM ingestion_totals",
    ] {
        let hidden = query.contains("ingestion_totals");
        let scope = if hidden {
            Scope::connections(["acme-aws"]).hiding(["source_effective"])
        } else {
            customer.clone()
        };
        let ctx = lake.scoped_session(&scope).await.unwrap();
        let e = billow_lake::collect_sql(&ctx, query).await.unwrap_err();
        assert!(e.to_string().contains("No field named"), "{query}: {e}");
    }
    let star = billow_lake::collect_sql(&ctx, "SELECT * FROM focus LIMIT 1")
        .await
        .unwrap();
    let names: Vec<String> = star[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert!(names.contains(&"BilledCost".to_string()));
    assert!(
        !names
            .iter()
            .any(|n| n == "ListCost" || n == "EffectiveCost" || n == "x_Extensions")
    );

    // Exports carry the visible columns only.
    let exported = lake
        .read_focus_in(&customer, "2026-04", None)
        .await
        .unwrap();
    assert!(
        exported
            .iter()
            .all(|b| b.schema().field_with_name("ListCost").is_err())
    );
    let exported_rows: usize = exported.iter().map(|b| b.num_rows()).sum();
    assert_eq!(exported_rows.to_string(), theirs);

    // Cost totals: the scoped rows' sums, from the rollup and from the rows; hidden sums
    // are absent.
    for by in [GroupBy::Service, GroupBy::Day, GroupBy::Tag("team".into())] {
        let rows = lake
            .costs_in(&customer, Some("2026-04"), None, &by)
            .await
            .unwrap();
        assert!(
            rows.iter()
                .all(|r| r.list.is_none() && r.effective.is_none())
        );
        let total: i128 = rows.iter().map(|r| r.billed.unwrap()).sum();
        let expected = scalar(
            &lake,
            &customer,
            "SELECT CAST(SUM(BilledCost) AS VARCHAR) FROM focus",
        )
        .await;
        let trimmed = expected.trim_end_matches('0').trim_end_matches('.');
        assert_eq!(
            billow_focus::money::format_decimal(total),
            trimmed,
            "{by:?}"
        );
        let acme_rows = lake
            .costs_in(&acme, Some("2026-04"), None, &by)
            .await
            .unwrap();
        let acme_all = lake
            .costs(Some("2026-04"), Some("acme-aws"), &by)
            .await
            .unwrap();
        assert_eq!(acme_rows, acme_all, "{by:?}");
    }

    // Reconciliation and history need the billed and effective columns.
    let e = billow_ingest::reconcile_in(&lake, &customer, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("EffectiveCost"), "{e}");
    let reconciled = billow_ingest::reconcile_in(&lake, &acme, None)
        .await
        .unwrap();
    assert!(!reconciled.is_empty());
    assert!(reconciled.iter().all(|r| r.connection_id == "acme-aws"));
}
