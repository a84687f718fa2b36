//! Syncs: a connection whose exports arrive in a folder under the server's exports root is
//! read again by `POST /api/v1/connections/{name}/sync` (the dashboard's Refresh) and by the
//! scheduler; a new delivery is published and reconciles exactly, the same one is
//! `unchanged`, a damaged one is an error that names the file and changes nothing. Only a
//! folder under the exports root can be a source.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use billow_store::Role;
use billow_synth::aws_cur::{CurSpec, Delivery, write_delivery};
use serde_json::{Value, json};

use crate::fixture::World;

async fn connection(w: &World, app: &axum::Router, name: &str) -> Value {
    let (status, text) = w
        .call_on(
            app,
            Method::GET,
            &format!("/api/v1/connections/{name}"),
            Some(w.token(Role::Viewer)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// Waits until the connection's sync is no longer running; returns the connection.
async fn finished(w: &World, app: &axum::Router, name: &str) -> Value {
    for _ in 0..600 {
        let c = connection(w, app, name).await;
        if c["sync"]["running"].is_null() && !c["sync"]["last_run"].is_null() {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the sync of {name} did not finish in 60 s");
}

async fn sync(w: &World, role: Role, name: &str) -> (StatusCode, Value) {
    let (status, text) = w
        .call(
            Method::POST,
            &format!("/api/v1/connections/{name}/sync"),
            Some(w.token(role)),
            None,
        )
        .await;
    (status, serde_json::from_str(&text).unwrap())
}

async fn billed(w: &World, month: &str, connection: &str) -> Value {
    let (_, text) = w
        .call(
            Method::GET,
            &format!("/api/v1/costs?month={month}&connection={connection}"),
            Some(w.token(Role::Owner)),
            None,
        )
        .await;
    serde_json::from_str::<Value>(&text).unwrap()["total"].clone()
}

/// The connection test's overall result and its `source` check.
async fn source_check(w: &World, name: &str) -> (bool, Value) {
    let (status, text) = w
        .call(
            Method::POST,
            &format!("/api/v1/connections/{name}/test"),
            Some(w.token(Role::Admin)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let test: Value = serde_json::from_str(&text).unwrap();
    let source = test["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "source")
        .unwrap()
        .clone();
    (test["ok"] == true, source)
}

/// Writes a CUR delivery of `spec` as report `report` into `<exports>/aws/cur/<report>`.
fn deliver(w: &World, spec: CurSpec, report: &str) -> (CurSpec, Delivery) {
    let spec = spec.with_report("cur", report);
    let delivery = write_delivery(&w.lake.root().join("exports/aws"), &spec).unwrap();
    (spec, delivery)
}

#[tokio::test]
async fn a_source_is_synced_on_demand_published_exactly_then_unchanged_and_errors_change_nothing() {
    let w = World::new().await;
    let exports = w.lake.root().join("exports");
    let spec = CurSpec::new(52, 2026, 6).with_rows(3_000).with_files(2);
    let (spec, delivery) = deliver(&w, spec, "prod");

    // An Admin creates the connection with its source, relative to the exports root.
    let (status, text) = w
        .call(
            Method::POST,
            "/api/v1/connections",
            Some(w.token(Role::Admin)),
            Some(json!({"name": "aws-synced", "provider": "aws", "settings": {"source": "aws/cur/prod"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");

    // The connection check finds the export in its source.
    let (_, source) = source_check(&w, "aws-synced").await;
    assert_eq!(source["ok"], true, "{source}");
    assert!(source["detail"].as_str().unwrap().contains("aws-cur"));

    // A Member syncs: the month is published and equals the generator's exact totals.
    let (status, started) = sync(&w, Role::Member, "aws-synced").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["started_by"], "member@acme.example");
    let c = finished(&w, &w.app, "aws-synced").await;
    let run = &c["sync"]["last_run"];
    assert!(run["error"].is_null(), "{run}");
    assert_eq!(run["periods"][0]["billing_period"], "2026-06");
    assert_eq!(run["periods"][0]["outcome"], "published");
    assert_eq!(run["periods"][0]["rows"], delivery.expected.focus_rows);
    assert!(c["sync"]["last_error"].is_null());
    let through = c["data_through"].as_str().unwrap();
    assert!(through.starts_with("2026-06-"), "{through}");
    let version = c["sync"]["last_version"].as_str().unwrap().to_string();
    let total = billed(&w, "2026-06", "aws-synced").await;
    assert_eq!(total["billed_cost"], delivery.expected.total_billed());

    // The same delivery again: unchanged, same version.
    let (status, _) = sync(&w, Role::Member, "aws-synced").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let c = finished(&w, &w.app, "aws-synced").await;
    assert_eq!(c["sync"]["last_run"]["periods"][0]["outcome"], "unchanged");
    assert_eq!(c["sync"]["last_version"], version.as_str());

    // A restatement whose newest file is cut short: the error names the file, the month
    // stays as published, and the last good version is kept.
    let restated = write_delivery(&exports.join("aws"), &spec.clone().with_revision(1)).unwrap();
    let damaged = &restated.files[1];
    let bytes = std::fs::read(damaged).unwrap();
    std::fs::write(damaged, &bytes[..bytes.len() / 2]).unwrap();
    sync(&w, Role::Member, "aws-synced").await;
    let c = finished(&w, &w.app, "aws-synced").await;
    let error = c["sync"]["last_run"]["error"].as_str().unwrap();
    let file = damaged.file_name().unwrap().to_str().unwrap();
    assert!(error.contains(file), "{error}");
    assert_eq!(c["sync"]["last_error"], error);
    assert_eq!(c["sync"]["last_version"], version.as_str());
    assert_eq!(billed(&w, "2026-06", "aws-synced").await, total);

    // Who may: a Viewer may not sync, nor may anyone sync another organization's connection.
    let (status, _) = sync(&w, Role::Viewer, "aws-synced").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = sync(&w, Role::Owner, "globex-aws").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A connection without a source says how to give it one.
    let (status, body) = sync(&w, Role::Member, "acme-aws").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("settings.source")
    );
}

#[tokio::test]
async fn only_folders_under_the_exports_root_can_be_a_source() {
    let w = World::new().await;
    let exports = w.lake.root().join("exports");
    std::fs::create_dir_all(exports.join("azure")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let patch = |settings: Value, role: Role| {
        let w = &w;
        async move {
            let (status, text) = w
                .call(
                    Method::PATCH,
                    "/api/v1/connections/acme-aws",
                    Some(w.token(role)),
                    Some(json!({ "settings": settings })),
                )
                .await;
            (status, serde_json::from_str::<Value>(&text).unwrap())
        }
    };
    for source in [
        json!(outside.path().to_str().unwrap()),
        json!("../.."),
        json!("azure/../../lake"),
        json!("missing-folder"),
        json!("s3://bucket/cur"),
    ] {
        let (status, body) = patch(json!({ "source": source }), Role::Admin).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{source}: {body}");
        assert!(body["error"]["hint"].is_string(), "{body}");
    }
    let (status, _) = patch(json!({"source": 7}), Role::Admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = patch(json!({"source": "azure"}), Role::Member).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Inside the root, absolute or relative, it is kept; the connection check then says the
    // folder holds no export it can read.
    let absolute = exports.join("azure").canonicalize().unwrap();
    let (status, body) = patch(json!({"source": absolute.to_str().unwrap()}), Role::Admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = patch(json!({"source": "azure", "note": "EA"}), Role::Admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["settings"], json!({"source": "azure", "note": "EA"}));
    let (ok, source) = source_check(&w, "acme-aws").await;
    assert!(!ok);
    assert_eq!(source["ok"], false, "{source}");
    assert!(source["fix"].is_string());
    let (_, text) = w
        .call(
            Method::GET,
            "/api/v1/audit",
            Some(w.token(Role::Owner)),
            None,
        )
        .await;
    assert!(text.contains("connection.update"), "{text}");
}

#[tokio::test]
async fn the_scheduler_publishes_a_new_delivery_without_being_asked() {
    let w = World::new().await;
    let exports = w.lake.root().join("exports");
    let spec = CurSpec::new(53, 2026, 7).with_rows(1_000).with_files(1);
    let (spec, delivery) = deliver(&w, spec, "scheduled");
    w.store
        .create_connection(
            &w.local,
            "aws-scheduled",
            "aws",
            json!({"source": "aws/cur/scheduled"}),
        )
        .await
        .unwrap();
    let state = billow_server::AppState::new(w.store.clone(), w.lake.clone());
    let app = billow_server::app(state.clone());
    let scheduler = tokio::spawn(billow_server::schedule(state, Duration::from_millis(300)));
    let published = |expected: String| {
        let w = &w;
        async move {
            for _ in 0..300 {
                let total = billed(w, "2026-07", "aws-scheduled").await;
                if total["billed_cost"] == expected.as_str() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the scheduler did not publish {expected} in 30 s");
        }
    };
    published(delivery.expected.total_billed()).await;
    let c = finished(&w, &app, "aws-scheduled").await;
    assert_eq!(c["sync"]["last_run"]["started_by"], "scheduler");
    assert!(c["sync"]["last_version"].is_string());

    // A restatement arrives: a later round publishes it.
    let restated = write_delivery(&exports.join("aws"), &spec.with_revision(1)).unwrap();
    assert_ne!(
        restated.expected.total_billed(),
        delivery.expected.total_billed()
    );
    published(restated.expected.total_billed()).await;
    scheduler.abort();
}
