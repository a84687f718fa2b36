//! `GET /api/v1/costs`: filters, time buckets, ranges, cost types and pages, each checked
//! against the lake's own sums.

use axum::http::{Method, StatusCode};
use billow_focus::money::format_decimal;
use billow_lake::Scope;
use billow_lake::costs::{CostQuery, CostRow, GroupBy, UNTAGGED};
use billow_store::Role;
use serde_json::Value;

use crate::fixture::{MONTH, World};

async fn get(w: &World, role: Role, query: &str) -> (StatusCode, Value) {
    let (status, text) = w
        .call(
            Method::GET,
            &format!("/api/v1/costs?{query}"),
            Some(w.token(role)),
            None,
        )
        .await;
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status} {text}"));
    (status, body)
}

async fn ok(w: &World, role: Role, query: &str) -> Value {
    let (status, body) = get(w, role, query).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

/// The acme organization's groups of a query, straight from the lake.
async fn lake_groups(w: &World, query: CostQuery) -> Vec<CostRow> {
    w.lake
        .query_costs_from_focus(&Scope::connections(["acme-aws"]), &query)
        .await
        .unwrap()
}

fn billed(rows: &[CostRow]) -> String {
    format_decimal(rows.iter().map(|r| r.billed.unwrap()).sum())
}

fn keys(body: &Value) -> Vec<String> {
    body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn cost_queries_filter_bucket_page_and_choose_cost_types() {
    let w = World::new().await;
    let month = Some(MONTH);
    let services = lake_groups(&w, CostQuery::new(month, GroupBy::Service)).await;
    let top = &services[0];

    // One service, per day: every group is that service, the days are in order and add up.
    let body = ok(
        &w,
        Role::Owner,
        &format!(
            "month={MONTH}&by=service&granularity=day&filter=service={}",
            top.key.replace(' ', "%20")
        ),
    )
    .await;
    let groups = body["groups"].as_array().unwrap();
    assert!(groups.len() > 20, "{body}");
    assert!(groups.iter().all(|g| g["key"] == top.key.as_str()));
    let days: Vec<&str> = groups.iter().map(|g| g["time"].as_str().unwrap()).collect();
    assert!(days.windows(2).all(|d| d[0] < d[1]) && days[0].starts_with(MONTH));
    assert_eq!(
        body["total"]["billed_cost"],
        billed(std::slice::from_ref(top))
    );
    assert_eq!(body["granularity"], "day");

    // A repeated filter is a list of alternatives; another dimension narrows it.
    let regions = lake_groups(&w, CostQuery::new(month, GroupBy::Region)).await;
    let (a, b) = (&regions[0].key, &regions[1].key);
    let body = ok(
        &w,
        Role::Owner,
        &format!(
            "month={MONTH}&by=region&filter=region={a}&filter=region={b}&filter=category=Usage"
        ),
    )
    .await;
    let mut shown = keys(&body);
    shown.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(shown, expected);
    let want = lake_groups(
        &w,
        CostQuery::new(month, GroupBy::Region)
            .filter(GroupBy::Region, [a.clone(), b.clone()])
            .filter(GroupBy::ChargeCategory, ["Usage"]),
    )
    .await;
    assert_eq!(body["total"]["billed_cost"], billed(&want));
    assert!(
        billed(&want) != billed(&regions[..2]),
        "the category filter narrowed nothing"
    );

    // A tag filter (read from the rows) and the untagged rows.
    let teams = lake_groups(&w, CostQuery::new(month, GroupBy::Tag("team".into()))).await;
    let team = teams.iter().find(|r| r.key != UNTAGGED).unwrap();
    assert!(teams.iter().any(|r| r.key == UNTAGGED));
    let body = ok(
        &w,
        Role::Owner,
        &format!("month={MONTH}&by=account&filter=tag:team={}", team.key),
    )
    .await;
    assert_eq!(
        body["total"]["billed_cost"],
        billed(std::slice::from_ref(team))
    );
    let untagged = teams.iter().find(|r| r.key == UNTAGGED).unwrap();
    let body = ok(
        &w,
        Role::Owner,
        &format!("month={MONTH}&by=service&filter=tag:team=(untagged)"),
    )
    .await;
    assert_eq!(
        body["total"]["billed_cost"],
        billed(std::slice::from_ref(untagged))
    );

    // The FOCUS export of the same filters holds exactly the rows behind those groups.
    let export_rows = |query: String| {
        let w = &w;
        async move {
            let (status, csv) = w
                .call(
                    Method::GET,
                    &format!("/api/v1/export/focus?{query}"),
                    Some(w.token(Role::Owner)),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{query}: {csv}");
            csv.lines().count() as u64 - 1
        }
    };
    let filtered_rows: u64 = want.iter().map(|r| r.rows).sum();
    assert_eq!(
        export_rows(format!(
            "month={MONTH}&filter=region={a}&filter=region={b}&filter=category=Usage"
        ))
        .await,
        filtered_rows
    );
    assert_eq!(
        export_rows(format!(
            "from=2026-01&to=2026-12&filter=tag:team={}",
            team.key
        ))
        .await,
        team.rows
    );
    let (status, _) = w
        .call(
            Method::GET,
            "/api/v1/export/focus?filter=region=us-east-1",
            Some(w.token(Role::Owner)),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an export names its periods"
    );

    // A range by billing period, grouped by connection: only the caller's connection.
    let body = ok(
        &w,
        Role::Owner,
        "from=2026-01&to=2026-12&by=connection&granularity=month",
    )
    .await;
    assert_eq!(keys(&body), ["acme-aws"]);
    assert_eq!(body["groups"][0]["time"], MONTH);
    assert_eq!(body["total"]["billed_cost"], billed(&services));

    // Pages: the groups from offset, at most limit; the rest summed; the total whole.
    let all = ok(&w, Role::Owner, &format!("month={MONTH}&by=service")).await;
    let page = ok(
        &w,
        Role::Owner,
        &format!("month={MONTH}&by=service&limit=2&offset=1"),
    )
    .await;
    assert_eq!(
        page["groups"].as_array().unwrap()[..],
        all["groups"].as_array().unwrap()[1..3]
    );
    assert_eq!(page["total_groups"], services.len());
    assert_eq!(page["total"], all["total"]);
    assert_eq!(page["rest"]["billed_cost"], billed(&services[3..]));
    assert!(all.get("rest").is_none());

    // Cost types: asked ones only, ordered by the first; Provider is the provider's bill.
    let body = ok(
        &w,
        Role::Owner,
        &format!("month={MONTH}&by=service&cost_type=effective"),
    )
    .await;
    let effective: Vec<i128> = body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert!(
                g.get("billed_cost").is_none() && g.get("list_cost").is_none(),
                "{g}"
            );
            let text = g["effective_cost"].as_str().unwrap();
            billow_focus::money::parse_decimal(text.as_bytes())
                .unwrap()
                .value
        })
        .collect();
    assert!(effective.windows(2).all(|e| e[0] >= e[1]), "{effective:?}");
    assert_eq!(body["cost_types"], serde_json::json!(["effective"]));
    let body = ok(
        &w,
        Role::Owner,
        &format!("month={MONTH}&cost_type=provider,billed"),
    )
    .await;
    assert_eq!(body["total"]["provider_cost"], body["total"]["billed_cost"]);

    // A customer sees Billed, never Provider, and may not ask for it.
    let body = ok(&w, Role::Customer, &format!("month={MONTH}")).await;
    assert_eq!(body["cost_types"], serde_json::json!(["billed"]));
    assert!(body["total"].get("provider_cost").is_none(), "{body}");
    let (status, body) = get(
        &w,
        Role::Customer,
        &format!("month={MONTH}&cost_type=provider"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("cost_type")
    );

    // Another organization's connection is not found; malformed queries say what to send.
    let (status, _) = get(
        &w,
        Role::Owner,
        &format!("month={MONTH}&filter=connection=globex-aws"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for bad in [
        "from=2026-05&to=2026-04",
        "month=2026-04&from=2026-04",
        "filter=service",
        "filter=day=2026-04-01",
        "granularity=week",
        "cost_type=retail",
        "limit=x",
    ] {
        let (status, body) = get(&w, Role::Owner, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"]["hint"].is_string(), "{bad}: {body}");
    }
}
