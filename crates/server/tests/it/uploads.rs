//! `POST /api/v1/connections/{name}/uploads`: a billing file is recognized, published and
//! reconciled; a bad file is a 422 that names it and changes nothing; a body past the limit
//! is a 413; only members of the connection's organization who may ingest can upload.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use billow_focus::money::format_decimal;
use billow_store::Role;
use billow_synth::aws_cur::{CurSpec, write_delivery};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::fixture::World;

async fn upload(app: &axum::Router, token: &str, uri: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{status}: {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

async fn billed_total(w: &World, month: &str) -> Value {
    let (_, text) = w
        .call(
            Method::GET,
            &format!("/api/v1/costs?month={month}&connection=aws-uploads"),
            Some(w.token(Role::Owner)),
            None,
        )
        .await;
    let body: Value = serde_json::from_str(&text).unwrap();
    body["total"].clone()
}

#[tokio::test]
async fn uploaded_files_are_published_reconciled_and_bounded() {
    let w = World::new().await;
    w.store
        .create_connection(&w.local, "aws-uploads", "aws", json!({}))
        .await
        .unwrap();
    w.store
        .create_connection(&w.local, "gcp-billing", "gcp", json!({}))
        .await
        .unwrap();
    let src = tempfile::tempdir().unwrap();
    let spec = CurSpec::new(41, 2026, 5).with_rows(12_000).with_files(1);
    let delivery = write_delivery(src.path(), &spec).unwrap();
    let file = &delivery.files[0];
    let name = file.file_name().unwrap().to_str().unwrap().to_string();
    let bytes = std::fs::read(file).unwrap();
    assert!(
        bytes.len() > 1 << 20,
        "the file is larger than the JSON body limit: {}",
        bytes.len()
    );
    let uri = format!("/api/v1/connections/aws-uploads/uploads?filename={name}");

    // A Member publishes the file; the lake reconciles exactly to it.
    let (status, body) = upload(&w.app, w.token(Role::Member), &uri, bytes.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["format"], "aws-cur");
    assert_eq!(body["periods"][0]["billing_period"], "2026-05");
    assert_eq!(body["periods"][0]["outcome"], "published");
    let rows = body["periods"][0]["rows"].as_u64().unwrap();
    assert!(rows >= 12_000, "{rows}");
    let total = billed_total(&w, "2026-05").await;
    assert_eq!(total["rows"], rows);
    assert_eq!(total["billed_cost"], delivery.expected.total_billed());
    let (_, text) = w
        .call(
            Method::GET,
            "/api/v1/reconciliation?month=2026-05",
            Some(w.token(Role::Owner)),
            None,
        )
        .await;
    let reconciliation: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(!reconciliation.is_empty());
    assert!(
        reconciliation.iter().all(|r| r["status"] == "exact"),
        "{text}"
    );

    // The same file again changes nothing.
    let (status, body) = upload(&w.app, w.token(Role::Member), &uri, bytes.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["periods"][0]["outcome"], "unchanged");

    // A damaged file: 422 naming the file (not where the server kept it); nothing changes.
    let mut damaged = bytes.clone();
    damaged.truncate(bytes.len() / 2);
    let (status, body) = upload(&w.app, w.token(Role::Member), &uri, damaged).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&name), "{message}");
    assert!(!message.contains(".upload-"), "{message}");
    assert!(
        body["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("unchanged")
    );
    assert_eq!(billed_total(&w, "2026-05").await, total);
    let (_, text) = w
        .call(
            Method::GET,
            "/api/v1/connections/aws-uploads",
            Some(w.token(Role::Owner)),
            None,
        )
        .await;
    let connection: Value = serde_json::from_str(&text).unwrap();
    let last_error = connection["sync"]["last_error"].as_str().unwrap();
    assert!(
        last_error.contains(&name) && !last_error.contains(".upload-"),
        "{last_error}"
    );

    // Another provider's connection, a bad name, an empty body.
    let (status, body) = upload(
        &w.app,
        w.token(Role::Member),
        &format!("/api/v1/connections/gcp-billing/uploads?filename={name}"),
        bytes.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("gcp"));
    for (query, payload) in [
        ("filename=..", bytes.clone()),
        (&*format!("filename={name}"), vec![]),
    ] {
        let (status, body) = upload(
            &w.app,
            w.token(Role::Member),
            &format!("/api/v1/connections/aws-uploads/uploads?{query}"),
            payload,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }

    // Who may: not a Viewer; not into another organization's connection.
    let (status, _) = upload(&w.app, w.token(Role::Viewer), &uri, bytes.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = upload(
        &w.app,
        w.token(Role::Owner),
        &format!("/api/v1/connections/globex-aws/uploads?filename={name}"),
        bytes.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Past the server's limit: 413, whether announced or found while streaming.
    let small = billow_server::app(billow_server::AppState::with_options(
        w.store.clone(),
        w.lake.clone(),
        billow_server::ServerOptions {
            max_upload_bytes: 1 << 20,
            ..billow_server::ServerOptions::for_lake(&w.lake)
        },
    ));
    let (status, body) = upload(&small, w.token(Role::Member), &uri, bytes.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--max-upload-mb")
    );
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let request = Request::builder()
        .method(Method::POST)
        .uri(&uri)
        .header("authorization", format!("Bearer {}", w.token(Role::Member)))
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    let response = small.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(billed_total(&w, "2026-05").await, total);
    assert_eq!(
        total["billed_cost"],
        format_decimal(
            billow_focus::money::parse_decimal(delivery.expected.total_billed().as_bytes())
                .unwrap()
                .value
        )
    );
    // Nothing is left in the staging folder.
    let staging = w.lake.root().join("uploads");
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0);
}
