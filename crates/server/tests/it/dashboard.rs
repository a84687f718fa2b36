//! The overview endpoint against the lake's own sums, its scoping and its "no billing data"
//! state; the embedded dashboard's files.

use axum::http::{Method, StatusCode};
use billow_focus::money::format_decimal;
use billow_lake::Scope;
use billow_lake::costs::GroupBy;
use billow_store::Role;
use serde_json::Value;

use crate::fixture::{MONTH, World};

async fn overview(w: &World, role: Role, query: &str) -> (StatusCode, Value) {
    let (status, text) = w
        .call(
            Method::GET,
            &format!("/api/v1/overview?as_of={MONTH}-28&{query}"),
            Some(w.token(role)),
            None,
        )
        .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The overview's card of a provider.
fn card<'a>(o: &'a Value, provider: &str) -> &'a Value {
    o["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["provider"] == provider)
        .unwrap_or_else(|| panic!("no {provider} card in {o}"))
}

#[tokio::test]
async fn overview_cards_match_the_lake_and_say_what_is_missing() {
    let w = World::new().await;
    w.store
        .create_connection(&w.local, "acme-oci", "oci", serde_json::json!({}))
        .await
        .unwrap();
    let acme = w
        .lake
        .costs_in(
            &Scope::connections(["acme-aws"]),
            Some(MONTH),
            None,
            &GroupBy::Service,
        )
        .await
        .unwrap();
    let billed: i128 = acme.iter().map(|r| r.billed.unwrap()).sum();
    let effective: i128 = acme.iter().map(|r| r.effective.unwrap()).sum();

    let (status, o) = overview(&w, Role::Owner, "days=30").await;
    assert_eq!(status, StatusCode::OK, "{o}");
    assert_eq!(o["cost_type"], "billed");
    let aws = card(&o, "aws");
    assert_eq!(aws["month_to_date"], format_decimal(billed));
    assert_eq!(aws["has_data"], true);
    assert!(
        aws["connections"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c != "globex-aws")
    );
    assert_eq!(o["trend"]["days"].as_array().unwrap().len(), 30);
    let oci = card(&o, "oci");
    assert_eq!(oci["has_data"], false);
    let checks = oci["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|k| k["ok"] == false && k["fix"].as_str().unwrap_or("").contains("billow ingest")),
        "{checks:?}"
    );

    let (_, o) = overview(&w, Role::Owner, "cost_type=effective").await;
    let aws = card(&o, "aws");
    assert_eq!(aws["month_to_date"], format_decimal(effective));

    // A customer's overview is its account's, in billed cost; provider cost is refused.
    let (_, o) = overview(&w, Role::Customer, "").await;
    let theirs: i128 = w
        .lake
        .costs_in(
            &Scope::connections(["acme-aws"]).with_accounts([w.customer_account.clone()]),
            Some(MONTH),
            None,
            &GroupBy::Service,
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.billed.unwrap())
        .sum();
    let aws = card(&o, "aws");
    assert_eq!(aws["month_to_date"], format_decimal(theirs));
    assert!(theirs < billed);
    assert_eq!(aws["checks"], serde_json::json!([]));
    let (status, _) = overview(&w, Role::Customer, "cost_type=provider").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = overview(&w, Role::Owner, "days=0").await;
    assert_eq!(status, StatusCode::OK, "days are clamped to 1..400: {body}");
    let (status, _) = overview(&w, Role::Owner, "as_of=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_dashboard_is_served_from_the_binary() {
    let w = World::new().await;
    let request = axum::http::Request::get("/")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(w.app.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let html = String::from_utf8_lossy(&html);
    // Every asset the page names is served, with its type, and nothing comes from elsewhere.
    let mut assets = 0;
    for part in html.split('"').filter(|p| p.starts_with("/assets/")) {
        let (status, body) = w.call(Method::GET, part, None, None).await;
        assert_eq!(status, StatusCode::OK, "{part}");
        assert!(!body.is_empty());
        assets += 1;
    }
    assert!(assets >= 2, "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let (status, _) = w.call(Method::GET, "/assets/nope.js", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
